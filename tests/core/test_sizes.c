// Size arithmetic (issue 11): every product of dimensions is checked. An impossible size is
// TG_ERR_SHAPE (or TG_ERR_INVALID_ARG for a bad argument) with a message naming the call,
// never a tensor without memory, a wrapped shape or a heap overrun.
#include "test_util.h"
#include "tapegrad/data.h"
#include "tapegrad/nn.h"

#define BIG (INT64_C(1) << 61)

static void expect_refused(const void *result, int want, const char *where) {
    cr_expect_null(result, "%s returned a tensor", where);
    cr_expect_eq(tg_last_status(), want, "%s: status %d (%s)", where, tg_last_status(),
                 tg_last_error());
    tu_expect_error(where, NULL);
    tg_clear_error();
}

Test(sizes, persistent_tensors_with_overflowing_shapes) {
    tg_clear_error();
    expect_refused(tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){BIG, 2}), TG_ERR_SHAPE,
                   "tg_tensor_new");
    expect_refused(tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){INT64_MAX}), TG_ERR_SHAPE,
                   "tg_tensor_new");
    int64_t cube[3] = {INT64_C(1) << 31, INT64_C(1) << 31, INT64_C(1) << 31};
    expect_refused(tg_tensor_new(tu_cpu(), TG_F32, 3, cube), TG_ERR_SHAPE, "tg_tensor_new");
    expect_refused(tg_param(tu_cpu(), TG_F32, 2, (int64_t[]){BIG, 4}, NULL), TG_ERR_SHAPE,
                   "tg_tensor_new");
    // an empty tensor with a large (but not overflowing) other dimension is fine
    tg_tensor *e = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){0, INT64_C(1) << 40});
    cr_assert_not_null(e, "%s", tg_last_error());
    cr_expect_eq(tg_numel(e), 0);
    tg_free(e);
    // ... but not when the other dimensions' product overflows (strides would)
    expect_refused(tg_tensor_new(tu_cpu(), TG_F32, 3, (int64_t[]){0, BIG, BIG}), TG_ERR_SHAPE,
                   "tg_tensor_new");
}

Test(sizes, op_results_with_overflowing_shapes) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, (int64_t[]){4}, (double[]){1, 2, 3, 4}, true);
    // 2^62 * 2^62 * 4 wraps to 0 mod 2^64... and [2^32+1, 2^32-1, ...] tricks: any wrap
    expect_refused(tg_reshape(tape, x, 3, (int64_t[]){INT64_C(1) << 62, INT64_C(1) << 62, 4}),
                   TG_ERR_SHAPE, "tg_reshape");
    expect_refused(tg_reshape(tape, x, 3, (int64_t[]){-1, INT64_C(1) << 62, INT64_C(1) << 62}),
                   TG_ERR_SHAPE, "tg_reshape");
    expect_refused(tg_expand(tape, x, 2, (int64_t[]){BIG, 4}), TG_ERR_SHAPE, "tg_expand");
    expect_refused(tg_full(tape, tu_cpu(), TG_F32, 2, (int64_t[]){BIG, BIG}, 1.0), TG_ERR_SHAPE,
                   "tg_full");
    expect_refused(tg_arange(tape, tu_cpu(), TG_F32, INT64_MAX, 0, 1), TG_ERR_SHAPE, "tg_arange");
    tg_tensor *labels = tu_f64(1, (int64_t[]){2}, (double[]){0, 1}, false);
    expect_refused(tg_one_hot(tape, labels, INT64_MAX), TG_ERR_SHAPE, "tg_one_hot");
    // a huge step gives one element, not a negative length
    tg_tensor *s = tg_slice(tape, x, 0, 0, 4, INT64_MAX);
    cr_assert_not_null(s, "%s", tg_last_error());
    cr_expect_eq(tg_numel(s), 1);
    s = tg_slice(tape, x, 0, 1, INT64_MAX, INT64_MAX - 1);
    cr_assert_not_null(s, "%s", tg_last_error());
    cr_expect_eq(tg_numel(s), 1);
    tg_tape_free(tape);
    tg_free(x), tg_free(labels);
}

Test(sizes, window_geometry_that_overflows) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F32, 4, (int64_t[]){1, 1, 4, 4});
    tg_conv_opts o = {.padding = {INT32_MAX / 2, INT32_MAX / 2}};
    // a 1x1 window with 2^30 padding on each side: (2^31)^2 output positions per channel...
    tg_tensor *cols = tg_im2col(tape, x, 1, 1, &o);
    if (cols) {   // ... fits in 2^62 and is refused only by the memory limit
        cr_expect_gt(tg_numel(cols), 0);
    } else {
        cr_expect(tg_last_status() == TG_ERR_SHAPE || tg_last_status() == TG_ERR_OOM,
                  "%s", tg_last_error());
    }
    tg_clear_error();
    tg_tape_free(tape);
    tg_free(x);
}

Test(sizes, modules_and_data_sets_with_impossible_sizes) {
    tg_clear_error();
    tg_rng *rng = tg_rng_new(1);
    cr_expect_null(tg_linear(tu_cpu(), TG_F32, INT64_C(1) << 40, INT64_C(1) << 40, true, rng));
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE, "%s", tg_last_error());
    tg_clear_error();
    tg_tensor *mx = NULL, *my = NULL;
    cr_expect_eq(tg_make_moons(INT64_MAX, 0.1, 1, tu_cpu(), TG_F32, &mx, &my),
                 TG_ERR_INVALID_ARG);
    tu_expect_error("tg_make_moons", "2^31");
    cr_expect_null(mx);
    tg_clear_error();
    tg_rng_free(rng);
}

// Size arithmetic (issue 11): every product or sum of sizes is checked. A shape whose
// non-zero dims multiply to more than TG_MAX_NUMEL (2^59 - 1) is TG_ERR_SHAPE, a size within
// it whose memory cannot be had is TG_ERR_OOM, and a bad window or image argument is
// TG_ERR_INVALID_ARG / TG_ERR_SHAPE, each with a message naming the call: never a tensor
// without memory, a wrapped shape or a heap overrun. (nn/ constructors: tests/nn/test_sizes.c.)
#include <limits.h>

#include "test_util.h"

#define BIG (INT64_C(1) << 61)

#if defined(__SANITIZE_ADDRESS__)
#define SIZES_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIZES_ASAN 1
#endif
#endif

static void expect_refused(const void *result, int want, const char *where, const char *what) {
    cr_expect_null(result, "%s returned a tensor", where);
    cr_expect_eq(tg_last_status(), want, "%s: status %d (%s)", where, tg_last_status(),
                 tg_last_error());
    tu_expect_error(where, what);
    tg_clear_error();
}

static void expect_shape(const tg_tensor *t, int ndim, const int64_t *shape) {
    cr_assert_not_null(t, "%s", tg_last_error());
    cr_assert_eq(tg_ndim(t), ndim);
    for (int i = 0; i < ndim; i++)
        cr_expect_eq(tg_shape(t)[i], shape[i], "dim %d: %lld, want %lld", i,
                     (long long)tg_shape(t)[i], (long long)shape[i]);
}

Test(sizes, persistent_tensors_with_overflowing_shapes) {
    tg_clear_error();
    expect_refused(tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){BIG, 2}), TG_ERR_SHAPE,
                   "tg_tensor_new", "[2305843009213693952,2]");
    expect_refused(tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){INT64_MAX}), TG_ERR_SHAPE,
                   "tg_tensor_new", "too many elements");
    expect_refused(tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){TG_MAX_NUMEL + 1}),
                   TG_ERR_SHAPE, "tg_tensor_new", "too many elements");
    int64_t cube[3] = {INT64_C(1) << 31, INT64_C(1) << 31, INT64_C(1) << 31};
    expect_refused(tg_tensor_new(tu_cpu(), TG_F32, 3, cube), TG_ERR_SHAPE, "tg_tensor_new",
                   NULL);
    expect_refused(tg_param(tu_cpu(), TG_F32, 2, (int64_t[]){BIG, 4}, NULL), TG_ERR_SHAPE,
                   "tg_tensor_new", NULL);
    expect_refused(tg_tensor_from(tu_cpu(), TG_F64, 2, (int64_t[]){BIG, 4}, (double[]){0}),
                   TG_ERR_SHAPE, "tg_tensor_from", NULL);
    // an empty tensor whose other dims multiply to at most the limit is fine: numel 0
    int64_t empties[2][2] = {{0, INT64_C(1) << 58}, {TG_MAX_NUMEL, 0}};
    for (int k = 0; k < 2; k++) {
        tg_tensor *e = tg_tensor_new(tu_cpu(), TG_F32, 2, empties[k]);
        expect_shape(e, 2, empties[k]);
        cr_expect_eq(tg_numel(e), 0);
        tg_free(e);
    }
    // ... but not when they multiply to more (strides are computed from them)
    expect_refused(tg_tensor_new(tu_cpu(), TG_F32, 3, (int64_t[]){0, BIG, BIG}), TG_ERR_SHAPE,
                   "tg_tensor_new", NULL);
}

// Within the limit but beyond any memory: TG_ERR_OOM naming the call (and the shape for
// persistent tensors). AddressSanitizer aborts on such requests instead of returning NULL.
Test(sizes, sizes_at_the_limit_are_out_of_memory) {
#ifdef SIZES_ASAN
    cr_skip_test("AddressSanitizer does not return NULL for a 2^62-byte request");
#endif
    tg_clear_error();
    expect_refused(tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){TG_MAX_NUMEL}), TG_ERR_OOM,
                   "tg_tensor_new", "[576460752303423487]");
    tg_tape *tape = tg_tape_new();
    expect_refused(tg_full(tape, tu_cpu(), TG_F64, 2, (int64_t[]){INT64_C(1) << 29,
                   INT64_C(1) << 29}, 0.0), TG_ERR_OOM, "tg_full", NULL);
    tg_tape_free(tape);
}

Test(sizes, op_results_with_overflowing_shapes) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, (int64_t[]){4}, (double[]){1, 2, 3, 4}, true);
    // 2^62 * 2^62 * 4 wraps to 0 mod 2^64: the product is checked, not compared after wrapping
    expect_refused(tg_reshape(tape, x, 3, (int64_t[]){INT64_C(1) << 62, INT64_C(1) << 62, 4}),
                   TG_ERR_SHAPE, "tg_reshape", NULL);
    expect_refused(tg_reshape(tape, x, 3, (int64_t[]){-1, INT64_C(1) << 62, INT64_C(1) << 62}),
                   TG_ERR_SHAPE, "tg_reshape", NULL);
    expect_refused(tg_expand(tape, x, 2, (int64_t[]){BIG, 4}), TG_ERR_SHAPE, "tg_expand", NULL);
    expect_refused(tg_expand(tape, x, 2, (int64_t[]){-3, 4}), TG_ERR_SHAPE, "tg_expand",
                   "negative");
    expect_refused(tg_full(tape, tu_cpu(), TG_F32, 2, (int64_t[]){BIG, BIG}, 1.0), TG_ERR_SHAPE,
                   "tg_full", NULL);
    expect_refused(tg_arange(tape, tu_cpu(), TG_F32, INT64_MAX, 0, 1), TG_ERR_SHAPE,
                   "tg_arange", NULL);
    tg_tensor *labels = tu_f64(1, (int64_t[]){2}, (double[]){0, 1}, false);
    expect_refused(tg_one_hot(tape, labels, INT64_MAX), TG_ERR_SHAPE, "tg_one_hot", NULL);
    tg_tape_free(tape);
    tg_free(x), tg_free(labels);
}

// Empty operands whose result would have too many elements: broadcasting, batched matmul
// and index_select multiply their sizes and are refused, not wrapped.
Test(sizes, broadcast_results_that_overflow) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    int64_t e40 = INT64_C(1) << 40;
    tg_tensor *a = tg_tensor_new(tu_cpu(), TG_F64, 3, (int64_t[]){e40, 1, 0});
    tg_tensor *b = tg_tensor_new(tu_cpu(), TG_F64, 3, (int64_t[]){1, e40, 0});
    expect_refused(tg_add(tape, a, b), TG_ERR_SHAPE, "tg_add", NULL);
    tg_tensor *ma = tg_tensor_new(tu_cpu(), TG_F64, 4, (int64_t[]){INT64_C(1) << 20, 1, 0, 2});
    tg_tensor *mb = tg_tensor_new(tu_cpu(), TG_F64, 4, (int64_t[]){1, e40, 2, 0});
    expect_refused(tg_matmul(tape, ma, mb), TG_ERR_SHAPE, "tg_matmul", NULL);
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F64, 3, (int64_t[]){1, 0, e40});
    tg_tensor *idx = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){INT64_C(1) << 19});
    cr_assert_not_null(idx, "%s", tg_last_error());
    tg_tensor *r = tg_index_select(tape, x, 0, idx);
    cr_expect_null(r);
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE, "%s", tg_last_error());
    tg_clear_error();
    // the same shapes, one dim smaller, are valid empty results
    tg_tensor *small = tg_tensor_new(tu_cpu(), TG_F64, 3, (int64_t[]){1, INT64_C(1) << 18, 0});
    expect_shape(tg_add(tape, a, small), 3, (int64_t[]){e40, INT64_C(1) << 18, 0});
    tg_tape_free(tape);
    tg_free_many(7, (tg_tensor *[]){a, b, ma, mb, x, idx, small});
}

// addmm and addmm_relu on empty operands whose [M, N] result would have too many elements:
// refused by their shape check, not wrapped (the bias [1] broadcasts to anything).
Test(sizes, addmm_results_that_overflow) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    int64_t e40 = INT64_C(1) << 40;
    tg_tensor *a = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){e40, 0});
    tg_tensor *b = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){0, e40});
    tg_tensor *c = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){1});
    cr_assert(a && b && c, "%s", tg_last_error());
    expect_refused(tg_addmm(tape, c, a, b, false, false), TG_ERR_SHAPE, "tg_addmm", NULL);
    expect_refused(tg_addmm_relu(tape, c, a, b, false, false), TG_ERR_SHAPE, "tg_addmm_relu",
                   NULL);
    tg_tape_free(tape);
    tg_free_many(3, (tg_tensor *[]){a, b, c});
}

// 64 empty [0, 2^58] tensors joined along axis 1: 64 * 2^58 = 2^64 wrapped to a [0, 0] result.
Test(sizes, concat_and_stack_sizes_that_overflow) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *e = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){0, INT64_C(1) << 58});
    cr_assert_not_null(e, "%s", tg_last_error());
    tg_tensor *xs[64];
    for (int i = 0; i < 64; i++) xs[i] = e;
    expect_refused(tg_concat(tape, 64, xs, 1), TG_ERR_SHAPE, "tg_concat", "axis 1");
    expect_refused(tg_concat(tape, 2, xs, 1), TG_ERR_SHAPE, "tg_concat", NULL);
    expect_refused(tg_stack(tape, 64, xs, 1), TG_ERR_SHAPE, "tg_concat", NULL);
    // along the zero axis the sizes stay 0; the result is a valid empty tensor
    expect_shape(tg_concat(tape, 64, xs, 0), 2, (int64_t[]){0, INT64_C(1) << 58});
    expect_shape(tg_stack(tape, 1, xs, 0), 3, (int64_t[]){1, 0, INT64_C(1) << 58});
    tg_tape_free(tape);
    tg_free(e);
}

// A step larger than the axis takes one element; its stop (start + len * step) used to wrap,
// so the backward pass sliced nothing and failed (and the inner view stride overflowed).
Test(sizes, slice_with_a_huge_step_differentiates) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, (int64_t[]){4}, (double[]){1, 2, 3, 4}, true);
    tg_tensor *s = tg_slice(tape, x, 0, 0, 4, INT64_MAX);
    tu_expect_values(s, (double[]){1}, 1, 0);
    s = tg_slice(tape, x, 0, 1, INT64_MAX, INT64_MAX - 1);
    tu_expect_values(s, (double[]){2}, 1, 0);
    s = tg_slice(tape, x, 0, 2, 4, INT64_MAX);
    tu_expect_values(s, (double[]){3}, 1, 0);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, s)), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){0, 0, 1, 0}, 4, 0);
    // a 2-D view: the row stride times the step would overflow
    double v[16];
    for (int i = 0; i < 16; i++) v[i] = i;
    tg_tensor *m = tu_f64(2, (int64_t[]){4, 4}, v, true);
    tg_tensor *r = tg_slice(tape, m, 0, 3, 4, INT64_MAX);
    tu_expect_values(r, (double[]){12, 13, 14, 15}, 4, 0);
    tg_tensor *u = tg_slice_scatter(tape, m, r, 0, 1, INT64_MAX, INT64_MAX);
    cr_assert_not_null(u, "%s", tg_last_error());
    cr_assert_eq(tg_backward(tape, tg_sum(tape, u)), TG_OK, "%s", tg_last_error());
    double g[16] = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int i = 12; i < 16; i++) g[i] = 2;   // through r and through u's base
    tu_expect_values(tg_grad_of(m), g, 16, 0);
    tg_tape_free(tape);
    tg_free(x), tg_free(m);
}

Test(sizes, window_geometry_that_overflows) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F32, 4, (int64_t[]){1, 1, 4, 4});
    tg_conv_opts o = {.padding = {INT32_MAX / 2, INT32_MAX / 2}};
    // a 1x1 window with 2^30 padding on each side: (2^31)^2 output positions per channel
    expect_refused(tg_im2col(tape, x, 1, 1, &o), TG_ERR_SHAPE, "tg_im2col", "too many");
    // the largest kernel and dilation: a span of about 2^62 that fits no input
    tg_conv_opts d = {.dilation = {INT_MAX, INT_MAX}};
    expect_refused(tg_im2col(tape, x, INT_MAX, INT_MAX, &d), TG_ERR_SHAPE, "tg_im2col",
                   "does not fit");
    tg_conv_opts neg = {.stride = {-1, 1}};
    expect_refused(tg_im2col(tape, x, 2, 2, &neg), TG_ERR_INVALID_ARG, "tg_im2col", NULL);
    // pooling padding up to half the kernel: INT_MAX * 2 used to wrap and pass the check
    tg_conv_opts big = {.padding = {INT_MAX, INT_MAX}};
    expect_refused(tg_max_pool2d(tape, x, 3, 3, &big), TG_ERR_INVALID_ARG, "tg_max_pool2d",
                   "padding");
    expect_refused(tg_avg_pool2d(tape, x, 3, 3, &big), TG_ERR_INVALID_ARG, "tg_avg_pool2d",
                   "padding");
    tg_tape_free(tape);
    tg_free(x);
}

// Kernel sizes and image sizes given as int64 were narrowed (to int, to unsigned): a kernel
// of 2^32 + 1 rows convolved as 1 row, an image 2^32 + 4 wide came back 4 wide.
Test(sizes, conv_sizes_beyond_32_bits) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F32, 4, (int64_t[]){1, 1, 4, 4});
    tg_tensor *w = tg_tensor_new(tu_cpu(), TG_F32, 4, (int64_t[]){0, 1, (INT64_C(1) << 32) + 1, 1});
    cr_assert_not_null(w, "%s", tg_last_error());
    expect_refused(tg_conv2d(tape, x, w, NULL, NULL), TG_ERR_SHAPE, "tg_conv2d", "kernel");
    tg_tensor *cols = tg_tensor_new(tu_cpu(), TG_F32, 3, (int64_t[]){1, 1, 4});
    expect_refused(tg_col2im(tape, cols, 1, 1, (INT64_C(1) << 32) + 4, 1, 1, NULL),
                   TG_ERR_SHAPE, "tg_col2im", "4294967300");
    expect_refused(tg_col2im(tape, cols, 1, INT64_MAX, 4, 1, 1, NULL), TG_ERR_SHAPE,
                   "tg_col2im", "too large");
    expect_refused(tg_col2im(tape, cols, INT64_C(1) << 40, INT64_C(1) << 40, 4, 1, 1, NULL),
                   TG_ERR_SHAPE, "tg_col2im", "too large");
    // the same image at its true size works
    expect_shape(tg_col2im(tape, cols, 1, 1, 4, 1, 1, NULL), 4, (int64_t[]){1, 1, 1, 4});
    tg_tape_free(tape);
    tg_free_many(3, (tg_tensor *[]){x, w, cols});
}

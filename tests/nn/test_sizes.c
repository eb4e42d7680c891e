// Size arithmetic in nn/ (issue 11): a module or data set of an impossible size is refused
// before any size is computed from it, with TG_ERR_SHAPE (or TG_ERR_INVALID_ARG for a count
// out of a generator's range) and a message naming the constructor and the shape.
#include "test_util.h"
#include "tapegrad/data.h"
#include "tapegrad/nn.h"

#define E40 (INT64_C(1) << 40)

static void expect_refused(const tg_module *m, const char *where, const char *what) {
    cr_expect_null(m, "%s returned a module", where);
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE, "%s: status %d (%s)", where, tg_last_status(),
                 tg_last_error());
    tu_expect_error(where, what);
    tg_clear_error();
}

Test(sizes, modules_with_impossible_sizes) {
    tg_clear_error();
    tg_backend *cpu = tu_cpu();
    tg_rng *rng = tg_rng_new(1);
    expect_refused(tg_linear(cpu, TG_F32, E40, E40, true, rng), "tg_linear",
                   "[1099511627776,1099511627776]");
    // in_ch * kh * kw (the fan-in of its init) used to overflow before any check
    expect_refused(tg_conv2d_layer(cpu, TG_F32, INT64_MAX / 2, 1, 3, 3, NULL, true, rng),
                   "tg_conv2d_layer", "[1,4611686018427387903,3,3]");
    expect_refused(tg_conv2d_layer(cpu, TG_F32, E40, E40, 1, 1, NULL, false, rng),
                   "tg_conv2d_layer", "too many elements");
    expect_refused(tg_embedding(cpu, TG_F32, E40, E40, rng), "tg_embedding", NULL);
    expect_refused(tg_batchnorm1d(cpu, TG_F32, INT64_MAX, 0.1, 1e-5), "tg_batchnorm1d", NULL);
    expect_refused(tg_batchnorm2d(cpu, TG_F32, TG_MAX_NUMEL + 1, 0.1, 1e-5), "tg_batchnorm2d",
                   NULL);
    expect_refused(tg_layernorm(cpu, TG_F32, INT64_MAX, 1e-5), "tg_layernorm", NULL);
    tg_rng_free(rng);
}

Test(sizes, data_sets_with_impossible_sizes) {
    tg_clear_error();
    tg_tensor *mx = NULL, *my = NULL;
    cr_expect_eq(tg_make_moons(INT64_MAX, 0.1, 1, tu_cpu(), TG_F32, &mx, &my),
                 TG_ERR_INVALID_ARG);
    tu_expect_error("tg_make_moons", "2^31");
    cr_expect_null(mx);
    cr_expect_null(my);
    tg_clear_error();
}

// A batch size far beyond the rows is one partial batch of all of them.
Test(sizes, loader_with_a_huge_batch) {
    tg_clear_error();
    tg_tensor *x = tu_f64(2, (int64_t[]){3, 2}, (double[]){1, 2, 3, 4, 5, 6}, false);
    tg_loader *l = tg_loader_new(x, NULL, INT64_MAX, false, false, 1);
    cr_assert_not_null(l, "%s", tg_last_error());
    cr_expect_eq(tg_loader_n_batches(l), 1);
    tg_tensor *xb;
    cr_assert(tg_loader_next(l, &xb, NULL), "%s", tg_last_error());
    tu_expect_values(xb, (double[]){1, 2, 3, 4, 5, 6}, 6, 0);
    cr_expect(!tg_loader_next(l, &xb, NULL));
    cr_expect_eq(tg_loader_free(l), TG_OK);
    l = tg_loader_new(x, NULL, INT64_MAX, false, true, 1);   // drop_last: no batch at all
    cr_assert_not_null(l, "%s", tg_last_error());
    cr_expect_eq(tg_loader_n_batches(l), 0);
    cr_expect(!tg_loader_next(l, &xb, NULL));
    cr_expect_eq(tg_loader_free(l), TG_OK);
    tg_free(x);
}

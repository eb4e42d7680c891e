// Tests for ops/conv.c: im2col / col2im layouts (padding, stride), conv2d with and without
// bias, max / avg pooling (padding counts as -inf / 0), gradients worked by hand, and bad
// shapes and windows. Expected windows were worked out with a plain Python loop.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

TestSuite(ops_conv, .init = tg_clear_error);

static const double x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // [1,1,3,3]
static double x16[16];                                    // [1,1,4,4] = 1..16

static void fill16(void) {
    for (int i = 0; i < 16; i++) x16[i] = i + 1;
}

// a = {kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, c, h, w}
typedef tg_tensor *(*apply_fn)(tg_tape *, tg_tensor *const *, int n, const int *a);

static tg_conv_opts opts_of(const int *a) {
    tg_conv_opts o = {{a[2], a[3]}, {a[4], a[5]}, {a[6], a[7]}};
    return o;
}
static tg_tensor *ap_im2col(tg_tape *t, tg_tensor *const *in, int n, const int *a) {
    (void)n;
    tg_conv_opts o = opts_of(a);
    return tg_im2col(t, in[0], a[0], a[1], &o);
}
static tg_tensor *ap_col2im(tg_tape *t, tg_tensor *const *in, int n, const int *a) {
    (void)n;
    tg_conv_opts o = opts_of(a);
    return tg_col2im(t, in[0], a[8], a[9], a[10], a[0], a[1], &o);
}
static tg_tensor *ap_conv2d(tg_tape *t, tg_tensor *const *in, int n, const int *a) {
    tg_conv_opts o = opts_of(a);
    return tg_conv2d(t, in[0], in[1], n > 2 ? in[2] : NULL, &o);
}
static tg_tensor *ap_max_pool(tg_tape *t, tg_tensor *const *in, int n, const int *a) {
    (void)n;
    tg_conv_opts o = opts_of(a);
    return tg_max_pool2d(t, in[0], a[0], a[1], &o);
}
static tg_tensor *ap_avg_pool(tg_tape *t, tg_tensor *const *in, int n, const int *a) {
    (void)n;
    tg_conv_opts o = opts_of(a);
    return tg_avg_pool2d(t, in[0], a[0], a[1], &o);
}

static void check(apply_fn apply, const int *a, int n, const tu_arr *xs, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *in[3] = {0};
        for (int i = 0; i < n; i++) in[i] = tu_make(dt, xs[i], false);
        tg_tensor *y = apply(tape, in, n, a);
        cr_assert_not_null(y, "%s: %s", tg_dtype_name(dt), tg_last_error());
        cr_expect_eq(tg_dtype_of(y), dt);
        tu_expect_arr(y, want, dt == TG_F32 ? 1e-5 : 1e-12);
        tg_tape_free(tape);
        for (int i = 0; i < n; i++) tu_free(in[i]);
    }
}

// ---- forward ----

// cols[c*KH*KW + ki*KW + kj][oi*OW + oj] = x[c][oi*s - p + ki][oj*s - p + kj] (0 outside)
Test(ops_conv, im2col_forward) {
    tu_arr x = {4, {1, 1, 3, 3}, x9};
    check(ap_im2col, (int[11]){2, 2}, 1, &x,
          (tu_arr){3, {1, 4, 4}, (double[]){1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9}});
    // 3x3 window, padding 1 over [1,1,2,2] = 1..4 -> 2x2 outputs
    check(ap_im2col, (int[11]){3, 3, 1, 1, 1, 1}, 1,
          &(tu_arr){4, {1, 1, 2, 2}, (double[]){1, 2, 3, 4}},
          (tu_arr){3, {1, 9, 4}, (double[]){0, 0, 0, 1, 0, 0, 1, 2, 0, 0, 2, 0, 0, 1, 0, 3, 1, 2,
                                            3, 4, 2, 0, 4, 0, 0, 3, 0, 0, 3, 4, 0, 0, 4, 0, 0, 0}});
    // stride 2 over 3x3 with a 1x1 window picks the corners
    check(ap_im2col, (int[11]){1, 1, 2, 2}, 1, &x, (tu_arr){3, {1, 1, 4}, (double[]){1, 3, 7, 9}});
    // two channels: channel blocks follow each other
    double x2[18];
    for (int i = 0; i < 9; i++) x2[i] = x9[i], x2[9 + i] = -x9[i];
    check(ap_im2col, (int[11]){3, 3}, 1, &(tu_arr){4, {1, 2, 3, 3}, x2},
          (tu_arr){3, {1, 18, 1}, x2});
}

// col2im sums every window back: with all-ones columns it counts the windows per pixel.
Test(ops_conv, col2im_forward) {
    double ones[16];
    for (int i = 0; i < 16; i++) ones[i] = 1;
    check(ap_col2im, (int[11]){2, 2, 0, 0, 0, 0, 0, 0, 1, 3, 3}, 1, &(tu_arr){3, {1, 4, 4}, ones},
          (tu_arr){4, {1, 1, 3, 3}, (double[]){1, 2, 1, 2, 4, 2, 1, 2, 1}});
    // it inverts im2col where windows do not overlap (2x2 stride 2 over 2x4)
    check(ap_col2im, (int[11]){2, 2, 2, 2, 0, 0, 0, 0, 1, 2, 4}, 1,
          &(tu_arr){3, {1, 4, 2}, (double[]){1, 3, 2, 4, 5, 7, 6, 8}},
          (tu_arr){4, {1, 1, 2, 4}, (double[]){1, 2, 3, 4, 5, 6, 7, 8}});
}

Test(ops_conv, conv2d_forward) {
    fill16();
    tu_arr in[3] = {{4, {1, 1, 3, 3}, x9},
                    {4, {2, 1, 2, 2}, (double[]){1, 0, 0, -1, 1, 1, 1, 1}},
                    {1, {2}, (double[]){0.5, -1}}};
    // channel 0: x[i][j] - x[i+1][j+1] = -4; channel 1: window sums
    check(ap_conv2d, (int[11]){0}, 2, in,
          (tu_arr){4, {1, 2, 2, 2}, (double[]){-4, -4, -4, -4, 12, 16, 24, 28}});
    check(ap_conv2d, (int[11]){0}, 3, in,
          (tu_arr){4, {1, 2, 2, 2}, (double[]){-3.5, -3.5, -3.5, -3.5, 11, 15, 23, 27}});
    // 3x3 ones, stride 2, padding 1 over 1..16
    double ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    tu_arr in2[2] = {{4, {1, 1, 4, 4}, x16}, {4, {1, 1, 3, 3}, ones}};
    check(ap_conv2d, (int[11]){0, 0, 2, 2, 1, 1}, 2, in2,
          (tu_arr){4, {1, 1, 2, 2}, (double[]){14, 30, 57, 99}});
    // batch of 2: the second image is the negated first
    double xb[18];
    for (int i = 0; i < 9; i++) xb[i] = x9[i], xb[9 + i] = -x9[i];
    tu_arr in3[2] = {{4, {2, 1, 3, 3}, xb}, {4, {1, 1, 2, 2}, (double[]){1, 1, 1, 1}}};
    check(ap_conv2d, (int[11]){0}, 2, in3,
          (tu_arr){4, {2, 1, 2, 2}, (double[]){12, 16, 24, 28, -12, -16, -24, -28}});
}

// With a bias, each image's window matrix sits CKK + 1 rows apart (a row of ones under it
// for the bias); a batch of 40 spans several blocks of images and, at 2 threads, splits
// across threads: conv2d(x, w, b) must equal conv2d(x, w) + b exactly in f64 either way.
Test(ops_conv, conv2d_bias_over_blocks_and_threads) {
    tg_rng *rng = tg_rng_new(11);
    tg_tensor *x = tu_rand64(rng, 4, (int64_t[]){40, 3, 16, 16}, -1, 1, false);
    tg_tensor *w = tu_rand64(rng, 4, (int64_t[]){4, 3, 3, 3}, -1, 1, false);
    tg_tensor *b = tu_rand64(rng, 1, (int64_t[]){4}, -1, 1, false);
    for (int threads = 1; threads <= 2; threads++) {
        cr_assert_eq(tg_backend_set_threads(tu_cpu(), threads), TG_OK);
        tg_tape *t = tg_tape_new();
        tg_tensor *y1 = tg_conv2d(t, x, w, b, NULL);
        tg_tensor *y2 = tg_add(t, tg_conv2d(t, x, w, NULL, NULL),
                               tg_reshape(t, b, 3, (int64_t[]){4, 1, 1}));
        cr_assert(y1 && y2, "%s", tg_last_error());
        tg_tensor *d = tg_sum(t, tg_abs(t, tg_sub(t, y1, y2)));
        cr_expect(tg_item(d) < 1e-12, "%d threads: conv2d with bias differs by %g", threads,
                  tg_item(d));
        tg_tape_free(t);
    }
    cr_assert_eq(tg_backend_set_threads(tu_cpu(), 1), TG_OK);
    tu_free(x), tu_free(w), tu_free(b);
    tg_rng_free(rng);
}

Test(ops_conv, pool_forward) {
    fill16();
    tu_arr x = {4, {1, 1, 4, 4}, x16};
    check(ap_max_pool, (int[11]){2, 2}, 1, &x, (tu_arr){4, {1, 1, 2, 2}, (double[]){6, 8, 14, 16}});
    check(ap_avg_pool, (int[11]){2, 2}, 1, &x,
          (tu_arr){4, {1, 1, 2, 2}, (double[]){3.5, 5.5, 11.5, 13.5}});
    // padding: max ignores it (-inf), avg counts it as 0
    tu_arr s = {4, {1, 1, 2, 2}, (double[]){1, 2, 3, 4}};
    check(ap_max_pool, (int[11]){2, 2, 1, 1, 1, 1}, 1, &s,
          (tu_arr){4, {1, 1, 3, 3}, (double[]){1, 2, 2, 3, 4, 4, 3, 4, 4}});
    check(ap_avg_pool, (int[11]){2, 2, 1, 1, 1, 1}, 1, &s,
          (tu_arr){4, {1, 1, 3, 3}, (double[]){0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1}});
    // channels pool separately
    double c2[8] = {1, 5, 2, 3, -1, -5, -2, -3};
    check(ap_max_pool, (int[11]){2, 2}, 1, &(tu_arr){4, {1, 2, 2, 2}, c2},
          (tu_arr){4, {1, 2, 1, 1}, (double[]){5, -1}});
}

static void to_host(const tg_tensor *t, double *v, int64_t n) {
    cr_assert_eq(tg_numel(t), n);
    if (tg_dtype_of(t) == TG_F64) {
        cr_assert_eq(tg_copy_to_host(t, v, (size_t)n * sizeof *v), TG_OK);
        return;
    }
    float f[16];
    cr_assert(n <= 16);
    cr_assert_eq(tg_copy_to_host(t, f, (size_t)n * sizeof *f), TG_OK);
    for (int64_t i = 0; i < n; i++) v[i] = f[i];
}

// A window's winner is its first maximum in row-major order, and a NaN wins and stays (as in
// torch): checked on the 2x2 stride-2 path (its branch-free winner) and on the general
// path (2x2 windows with stride 1), forward (the value) and route (where dy goes), in both
// dtypes. Windows of the 2x2 / 2 pool over x [1,1,2,6]:
//   (1, NaN | 2, 0): NaN at tap 1     (3, 3 | 3, 1): a tie, tap 0     (1, 2 | 0, NaN): tap 3
Test(ops_conv, max_pool_nan_and_ties) {
    const double nan = NAN;
    double xv[12] = {1, nan, 3, 3, 1, 2, 2, 0, 3, 1, 0, nan};
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(dt, (tu_arr){4, {1, 1, 2, 6}, xv}, false);
        tg_tensor *y = tg_max_pool2d(tape, x, 2, 2, NULL);
        tg_tensor *dy = tu_make(dt, (tu_arr){4, {1, 1, 1, 3}, (double[]){10, 20, 30}}, false);
        tg_tensor *dx = tg_max_pool2d_grad(tape, x, dy, 2, 2, NULL);
        tg_conv_opts s1 = {.stride = {1, 1}};
        tg_tensor *y1 = tg_max_pool2d(tape, x, 2, 2, &s1);   // windows at columns 0..4
        cr_assert(y && dx && y1, "%s", tg_last_error());
        double yv[3], dxv[12], y1v[5];
        to_host(y, yv, 3), to_host(dx, dxv, 12), to_host(y1, y1v, 5);
        cr_expect(isnan(yv[0]) && yv[1] == 3 && isnan(yv[2]), "%s: forward %g %g %g",
                  tg_dtype_name(dt), yv[0], yv[1], yv[2]);
        const double want[12] = {0, 10, 20, 0, 0, 0, 0, 0, 0, 0, 0, 30};
        for (int i = 0; i < 12; i++)
            cr_expect_eq(dxv[i], want[i], "%s: route, element %d: %g, want %g",
                         tg_dtype_name(dt), i, dxv[i], want[i]);
        // stride 1: (1,NaN|2,0) (NaN,3|0,3) (3,3|3,1) (3,1|1,0) (1,2|0,NaN)
        cr_expect(isnan(y1v[0]) && isnan(y1v[1]) && y1v[2] == 3 && y1v[3] == 3 &&
                  isnan(y1v[4]), "%s: stride-1 forward %g %g %g %g %g", tg_dtype_name(dt),
                  y1v[0], y1v[1], y1v[2], y1v[3], y1v[4]);
        tg_tape_free(tape);
        tu_free(x), tu_free(dy);
    }
}

// The 2x2 stride-2 path on odd sizes (x [2,3,5,7]: the last row and column belong to no
// window) and rows of windows longer than its 64-window chunks (x [1,1,2,300]), against
// a plain loop (first maximum wins), forward and route, in both dtypes; and the route's
// own gradient, select(x, v) with v other than x (d sum(v * route(x, dy)) / d dy).
static void pool2_vs_loop(int64_t n, int64_t c, int64_t h, int64_t w) {
    int64_t oh = h / 2, ow = w / 2, nx = n * c * h * w, ny = n * c * oh * ow;
    double *xv = malloc((size_t)nx * sizeof *xv), *gv = malloc((size_t)ny * sizeof *gv);
    double *want_y = calloc((size_t)ny, sizeof *want_y);
    double *want_dx = calloc((size_t)nx, sizeof *want_dx);
    double *vv = malloc((size_t)nx * sizeof *vv), *want_sel = calloc((size_t)ny, sizeof *vv);
    cr_assert(xv && gv && want_y && want_dx && vv && want_sel);
    for (int64_t i = 0; i < nx; i++) vv[i] = (double)((i * 3) % 17) - 8;
    for (int64_t i = 0; i < nx; i++) xv[i] = (double)((i * 7919) % 23) - 11;   // with ties
    for (int64_t i = 0; i < ny; i++) gv[i] = (double)(i % 13) + 1;
    for (int64_t p = 0; p < n * c; p++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                int64_t best = p * h * w + 2 * i * w + 2 * j;
                for (int64_t a = 0; a < 2; a++)
                    for (int64_t b = 0; b < 2; b++) {
                        int64_t at = p * h * w + (2 * i + a) * w + 2 * j + b;
                        if (xv[at] > xv[best]) best = at;
                    }
                want_y[(p * oh + i) * ow + j] = xv[best];
                want_sel[(p * oh + i) * ow + j] = vv[best];
                want_dx[best] += gv[(p * oh + i) * ow + j];
            }
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tg_tensor_from(tu_cpu(), TG_F64, 4, (int64_t[]){n, c, h, w}, xv);
        tg_tensor *g = tg_tensor_from(tu_cpu(), TG_F64, 4, (int64_t[]){n, c, oh, ow}, gv);
        tg_tensor *v = tg_tensor_from(tu_cpu(), TG_F64, 4, (int64_t[]){n, c, h, w}, vv);
        tg_tensor *xd = tg_cast(x, dt), *gd = tg_cast(g, dt), *vd = tg_cast(v, dt);
        cr_assert_eq(tg_set_requires_grad(gd, true), TG_OK);
        tg_tensor *y = tg_max_pool2d(tape, xd, 2, 2, NULL);
        tg_tensor *dx = tg_max_pool2d_grad(tape, xd, gd, 2, 2, NULL);
        cr_assert(y && dx, "%s", tg_last_error());
        tu_expect_values(y, want_y, ny, 0);
        tu_expect_values(dx, want_dx, nx, 0);
        cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, dx, vd))), TG_OK, "%s",
                     tg_last_error());
        tu_expect_values(tg_grad_of(gd), want_sel, ny, 0);
        tg_tape_free(tape);
        tu_free(x), tu_free(g), tu_free(v), tu_free(xd), tu_free(gd), tu_free(vd);
    }
    free(xv), free(gv), free(vv), free(want_y), free(want_dx), free(want_sel);
}

Test(ops_conv, max_pool_2x2_odd_sizes_and_long_rows) {
    pool2_vs_loop(2, 3, 5, 7);
    pool2_vs_loop(1, 1, 2, 300);
    pool2_vs_loop(1, 2, 20, 9);   // several rows of windows per 64-window chunk
}

// ---- gradients worked by hand ----

// d/dx sum(conv2d(x, ones 2x2)) counts how many windows cover each pixel;
// d/dw sums the pixels each tap sees; d/dbias counts the outputs.
Test(ops_conv, conv2d_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){4, {1, 1, 3, 3}, x9}, true);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){4, {1, 1, 2, 2}, (double[]){1, 1, 1, 1}}, true);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {1}, (double[]){0}}, true);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_conv2d(tape, x, w, b, NULL))), TG_OK, "%s",
                 tg_last_error());
    tu_expect_grad(x, (double[]){1, 2, 1, 2, 4, 2, 1, 2, 1}, 9, 1e-12);
    tu_expect_grad(w, (double[]){12, 16, 24, 28}, 4, 1e-12);
    tu_expect_grad(b, (double[]){4}, 1, 0);
    tg_tape_free(tape);
    tu_free(x), tu_free(w), tu_free(b);
}

// Max pooling routes the gradient to each window's maximum; avg spreads 1/(kh*kw).
Test(ops_conv, pool_grad) {
    fill16();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){4, {1, 1, 4, 4}, x16}, true);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_max_pool2d(tape, x, 2, 2, NULL))), TG_OK, "%s",
                 tg_last_error());
    double want[16] = {0};
    want[5] = want[7] = want[13] = want[15] = 1;
    tu_expect_grad(x, want, 16, 0);
    tg_tape_free(tape);
    tg_zero_grad(1, &x);
    tape = tg_tape_new();
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_avg_pool2d(tape, x, 2, 2, NULL))), TG_OK, "%s",
                 tg_last_error());
    for (int i = 0; i < 16; i++) want[i] = 0.25;
    tu_expect_grad(x, want, 16, 1e-15);
    tg_tape_free(tape);
    tu_free(x);
}

// ---- bad input ----

Test(ops_conv, bad_conv2d) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){4, {1, 2, 3, 3}, NULL}, false);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){4, {1, 3, 2, 2}, NULL}, false);
    tg_tensor *w2 = tu_make(TG_F64, (tu_arr){4, {4, 2, 2, 2}, NULL}, false);
    tg_tensor *big = tu_make(TG_F64, (tu_arr){4, {1, 2, 4, 4}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    tg_tensor *x3 = tu_make(TG_F64, (tu_arr){3, {2, 3, 3}, NULL}, false);
    tg_tensor *x32 = tu_make(TG_F32, (tu_arr){4, {1, 2, 3, 3}, NULL}, false);
    tu_expect_fail(tg_conv2d(tape, x, w, NULL, NULL), TG_ERR_SHAPE, "tg_conv2d", "[1,2,3,3]",
                   "[1,3,2,2]");
    tg_clear_error();
    tu_expect_fail(tg_conv2d(tape, x, w2, b, NULL), TG_ERR_SHAPE, "tg_conv2d", "bias", NULL);
    tg_clear_error();
    tu_expect_fail(tg_conv2d(tape, x3, w2, NULL, NULL), TG_ERR_SHAPE, "tg_conv2d", "[2,3,3]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_conv2d(tape, x, big, NULL, NULL), TG_ERR_SHAPE, NULL, NULL, NULL);
    tg_clear_error();
    tg_conv_opts bad = {{-1, 1}, {0, 0}, {1, 1}};
    tu_expect_fail(tg_conv2d(tape, x, w2, NULL, &bad), TG_ERR_INVALID_ARG, "tg_conv2d",
                   "bad window", NULL);
    tg_clear_error();
    tu_expect_fail(tg_conv2d(tape, x32, w2, NULL, NULL), TG_ERR_DTYPE, "mixed dtypes", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_conv2d(tape, NULL, w2, NULL, NULL), TG_ERR_INVALID_ARG, "tg_conv2d", "NULL",
                   NULL);
    tg_tape_free(tape);
    tu_free(x), tu_free(w), tu_free(w2), tu_free(big), tu_free(b), tu_free(x3), tu_free(x32);
}

Test(ops_conv, bad_im2col_col2im_pool) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){4, {1, 1, 3, 3}, NULL}, false);
    tg_tensor *x2 = tu_make(TG_F64, (tu_arr){2, {3, 3}, NULL}, false);
    tg_tensor *cols = tu_make(TG_F64, (tu_arr){3, {1, 4, 4}, NULL}, false);
    tu_expect_fail(tg_im2col(tape, x, 4, 4, NULL), TG_ERR_SHAPE, "tg_im2col", "does not fit",
                   "[1,1,3,3]");
    tg_clear_error();
    tu_expect_fail(tg_im2col(tape, x2, 2, 2, NULL), TG_ERR_SHAPE, "tg_im2col", "[3,3]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_im2col(tape, x, 0, 2, NULL), TG_ERR_INVALID_ARG, "tg_im2col", "bad window",
                   NULL);
    tg_clear_error();
    tg_conv_opts neg_pad = {{1, 1}, {-1, 0}, {1, 1}};
    tu_expect_fail(tg_im2col(tape, x, 2, 2, &neg_pad), TG_ERR_INVALID_ARG, "tg_im2col",
                   "padding -1", NULL);
    tg_clear_error();
    tu_expect_fail(tg_col2im(tape, cols, 1, 4, 4, 2, 2, NULL), TG_ERR_SHAPE, "tg_col2im", "[1,4,4]",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_col2im(tape, cols, 0, 3, 3, 2, 2, NULL), TG_ERR_INVALID_ARG, "tg_col2im",
                   "image size", NULL);
    tg_clear_error();
    tg_conv_opts wide_pad = {{0, 0}, {2, 2}, {1, 1}};
    tu_expect_fail(tg_max_pool2d(tape, x, 2, 2, &wide_pad), TG_ERR_INVALID_ARG, "tg_max_pool2d",
                   "bad window", NULL);
    tg_clear_error();
    tu_expect_fail(tg_avg_pool2d(tape, x2, 2, 2, NULL), TG_ERR_SHAPE, "tg_avg_pool2d", "[3,3]",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_max_pool2d(tape, NULL, 2, 2, NULL), TG_ERR_INVALID_ARG, "tg_max_pool2d",
                   "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_im2col(tape, NULL, 2, 2, NULL), TG_ERR_INVALID_ARG, "tg_im2col", "NULL",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_col2im(tape, NULL, 1, 3, 3, 2, 2, NULL), TG_ERR_INVALID_ARG, "tg_col2im",
                   "NULL", NULL);
    tg_tape_free(tape);
    tu_free(x), tu_free(x2), tu_free(cols);
}

// An in-place write to x after recording, which every new rule here reads (conv2d's weight
// gradient, the pool's winners, batch norm's statistics), is refused at backward.
static tg_tensor *ip_conv(tg_tape *t, tg_tensor *x, tg_tensor *aux) {
    return tg_conv2d(t, x, aux, NULL, NULL);
}
static tg_tensor *ip_pool(tg_tape *t, tg_tensor *x, tg_tensor *aux) {
    (void)aux;
    return tg_max_pool2d(t, x, 2, 2, NULL);
}
static tg_tensor *ip_pool_grad(tg_tape *t, tg_tensor *x, tg_tensor *aux) {
    return tg_max_pool2d_grad(t, x, aux, 2, 2, NULL);
}
static tg_tensor *ip_bn(tg_tape *t, tg_tensor *x, tg_tensor *aux) {
    (void)aux;
    return tg_batch_norm(t, x, NULL, NULL, NULL, NULL, 0.1, 1e-5);
}
static tg_tensor *ip_bn_grad(tg_tape *t, tg_tensor *x, tg_tensor *aux) {
    return tg_batch_norm_grad(t, aux, x, NULL, 1e-5);
}

Test(ops_conv, in_place_writes_after_recording) {
    typedef tg_tensor *(*op_fn)(tg_tape *, tg_tensor *, tg_tensor *);
    const op_fn fns[] = {ip_conv, ip_pool, ip_pool_grad, ip_bn, ip_bn_grad};
    double xv[32], dv[32];
    for (int i = 0; i < 32; i++) xv[i] = (double)((i * 7) % 11) - 5, dv[i] = 0.25 * (i % 5) - 0.5;
    for (int k = 0; k < 5; k++) {
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(TG_F64, (tu_arr){4, {2, 1, 4, 4}, xv}, true);
        tu_arr aux = k == 0   ? (tu_arr){4, {1, 1, 2, 2}, dv}    // conv weight
                     : k == 2 ? (tu_arr){4, {2, 1, 2, 2}, dv}    // pooled dy
                              : (tu_arr){4, {2, 1, 4, 4}, dv};   // dy of x's shape
        tg_tensor *a = tu_make(TG_F64, aux, true);
        tg_tensor *y = fns[k](tape, x, a);
        cr_assert_not_null(y, "op %d: %s", k, tg_last_error());
        tu_expect_in_place_refused(tape, tg_sum(tape, tg_mul(tape, y, y)), x, k);
        tg_tape_free(tape);
        tu_free(x);
        tu_free(a);
    }
}

// ---- stride 1: the backend's direct convolution against the window-matrix route ----

// Host copy of t as doubles (caller frees).
static double *host_values(const tg_tensor *t) {
    int64_t n = tg_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    cr_assert_not_null(v);
    if (tg_dtype_of(t) == TG_F64) {
        cr_assert_eq(tg_copy_to_host(t, v, (size_t)n * 8), TG_OK);
    } else {
        float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
        cr_assert_eq(tg_copy_to_host(t, f, (size_t)n * 4), TG_OK);
        for (int64_t i = 0; i < n; i++) v[i] = f[i];
        free(f);
    }
    return v;
}

// got and want agree: both the same infinity, both NaN, or within tol * (1 + |want|).
static void expect_close(const char *what, const tg_tensor *got, const tg_tensor *want,
                         double tol, const char *label) {
    cr_assert(got && want, "%s %s: %s", label, what, tg_last_error());
    int64_t n = tg_numel(want);
    cr_assert_eq(tg_numel(got), n, "%s %s: %lld values, want %lld", label, what,
                 (long long)tg_numel(got), (long long)n);
    double *g = host_values(got), *w = host_values(want);
    int bad = 0;
    for (int64_t i = 0; i < n && bad < 3; i++) {
        bool ok = isnan(w[i]) ? isnan(g[i])
                  : isinf(w[i]) ? g[i] == w[i]
                                : fabs(g[i] - w[i]) <= tol * (1 + fabs(w[i]));
        if (!ok) {
            bad++;
            cr_expect(ok, "%s %s[%lld]: got %.9g, want %.9g", label, what, (long long)i, g[i],
                      w[i]);
        }
    }
    free(g), free(w);
}

// y = conv2d(x, w, b) through the window matrix: reshape(w) @ im2col(x) + b (stride 1,
// o's dilation given).
static tg_tensor *conv_by_im2col(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                                 const tg_conv_opts *o) {
    int64_t n = tg_shape(x)[0], oc = tg_shape(w)[0];
    int64_t ckk = tg_shape(w)[1] * tg_shape(w)[2] * tg_shape(w)[3];
    tg_tensor *cols = tg_im2col(t, x, (int)tg_shape(w)[2], (int)tg_shape(w)[3], o);
    if (!cols) return NULL;
    tg_tensor *y = tg_matmul(t, tg_reshape(t, w, 2, (int64_t[]){oc, ckk}), cols);
    if (b) y = tg_add(t, y, tg_reshape(t, b, 2, (int64_t[]){oc, 1}));
    int64_t p = tg_shape(cols)[2];   // stride 1: oh = h + 2 ph - dh (kh - 1)
    int64_t oh = tg_shape(x)[2] + 2 * o->padding[0] - o->dilation[0] * (tg_shape(w)[2] - 1);
    return tg_reshape(t, y, 4, (int64_t[]){n, oc, oh, p / oh});
}

// Forward, dx, dw and db of sum(conv2d(x, w, b) * g) against the same through
// im2col + matmul, in f32 and f64, on 1 and 2 threads, over shapes that take every path
// of the direct kernel: rows of several vectors and a partial one, positions flat over the
// padded image (short rows), output channels a whole panel plus a tail and fewer than half
// a panel (the one-row panels), dilation, padding beyond the window's span (dx then crops
// dy), 1x1 windows, the gradients of small images through the window matrix, and images of
// 1, 4 and 5 vectors (tiles of 1, 2 + 2 and 3 + 2 vectors) at every vector width.
Test(ops_conv, conv2d_stride1_direct_matches_im2col) {
    // n, c, h, w, o, kh, kw, ph, pw, dh, dw, bias
    static const int cases[][12] = {
        {2, 3, 7, 37, 9, 3, 3, 1, 1, 1, 1, 1}, {3, 2, 6, 20, 1, 3, 2, 0, 2, 1, 1, 1},
        {1, 5, 9, 18, 3, 2, 3, 2, 1, 2, 1, 0}, {4, 1, 5, 5, 16, 5, 5, 2, 2, 1, 1, 1},
        {2, 4, 3, 40, 5, 1, 1, 0, 0, 1, 1, 1}, {1, 2, 4, 4, 2, 3, 3, 3, 3, 1, 1, 0},
        {3, 17, 4, 33, 2, 3, 3, 1, 1, 1, 2, 1}, {2, 6, 7, 7, 10, 3, 3, 1, 1, 1, 1, 1},
        {3, 1, 8, 6, 5, 3, 3, 1, 1, 1, 1, 0}, {3, 4, 2, 2, 12, 3, 3, 1, 1, 1, 1, 1},
        {2, 3, 5, 16, 9, 3, 3, 1, 1, 1, 1, 1}, {2, 3, 1, 2, 6, 1, 3, 0, 1, 1, 1, 1},
        // Winograd (3 x 3, 16 or more channels): rows of 2, 4, 7, 16 and 20 tiles (each
        // vector width, rows of several vectors), odd sizes, padding 0 to 3 (dx crops), and
        // groups of tile rows that cut images (32 x 20 x 64)
        {2, 16, 7, 7, 16, 3, 3, 1, 1, 1, 1, 1}, {3, 17, 9, 12, 18, 3, 3, 0, 2, 1, 1, 1},
        {1, 16, 5, 40, 17, 3, 3, 2, 1, 1, 1, 0}, {2, 20, 6, 33, 16, 3, 3, 3, 0, 1, 1, 1},
        {5, 16, 4, 4, 16, 3, 3, 1, 1, 1, 1, 1}, {2, 32, 20, 64, 32, 3, 3, 1, 1, 1, 1, 1},
    };
    tg_rng *rng = tg_rng_new(5);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int *a = cases[ci];
        tg_conv_opts o = {{1, 1}, {a[7], a[8]}, {a[9], a[10]}};
        for (int k = 0; k < 2; k++) {
            tg_dtype dt = tu_dtype(k);
            double tol = dt == TG_F32 ? 2e-5 : 1e-12;
            tg_tensor *x0 = tu_rand64(rng, 4, (int64_t[]){a[0], a[1], a[2], a[3]}, -1, 1, false);
            tg_tensor *w0 = tu_rand64(rng, 4, (int64_t[]){a[4], a[1], a[5], a[6]}, -1, 1, false);
            tg_tensor *b0 = tu_rand64(rng, 1, (int64_t[]){a[4]}, -1, 1, false);
            tg_tensor *x = tg_cast(x0, dt), *w = tg_cast(w0, dt), *b = tg_cast(b0, dt);
            cr_assert(x && w && b, "%s", tg_last_error());
            tg_set_requires_grad(x, true), tg_set_requires_grad(w, true);
            tg_set_requires_grad(b, true);
            for (int threads = 1; threads <= 2; threads++) {
                char label[96];
                snprintf(label, sizeof label, "case %zu, %s, %d thread(s)", ci,
                         tg_dtype_name(dt), threads);
                cr_assert_eq(tg_backend_set_threads(tu_cpu(), threads), TG_OK);
                tg_tensor *grads[2][4] = {{0}};
                tg_tensor *ys[2] = {0};
                for (int route = 0; route < 2; route++) {
                    tg_tape *t = tg_tape_new();
                    tg_tensor *bb = a[11] ? b : NULL;
                    tg_tensor *y = route ? conv_by_im2col(t, x, w, bb, &o)
                                         : tg_conv2d(t, x, w, bb, &o);
                    cr_assert(y, "%s: %s", label, tg_last_error());
                    tg_rng *gr = tg_rng_new(99);
                    tg_tensor *g = tg_tensor_new(tu_cpu(), dt, 4, tg_shape(y));
                    tg_uniform_(g, gr, -1, 1);
                    tg_rng_free(gr);
                    cr_assert_eq(tg_backward(t, tg_sum(t, tg_mul(t, y, g))), TG_OK, "%s: %s",
                                 label, tg_last_error());
                    ys[route] = tg_cast(y, dt);
                    tg_tensor *leaf[4] = {x, w, b, NULL};
                    for (int i = 0; i < 3; i++) {
                        const tg_tensor *gi = tg_grad_of(leaf[i]);
                        grads[route][i] = gi ? tg_cast(gi, dt) : NULL;
                        tg_grad_clear(leaf[i]);
                    }
                    tg_free(g);
                    tg_tape_free(t);
                }
                expect_close("y", ys[0], ys[1], tol, label);
                expect_close("dx", grads[0][0], grads[1][0], tol, label);
                // dw sums n*oh*ow products per tap: its f32 round-off grows with that count
                // (Winograd's dw of case 17, 2560 of them: 2e-5 on values of 0.03)
                int64_t oh = a[2] + 2 * a[7] - a[9] * (a[5] - 1);
                int64_t ow = a[3] + 2 * a[8] - a[10] * (a[6] - 1);
                double dw_tol = dt == TG_F32 ? tol * (1 + (double)(a[0] * oh * ow) / 1024) : tol;
                expect_close("dw", grads[0][1], grads[1][1], dw_tol, label);
                if (a[11]) expect_close("db", grads[0][2], grads[1][2], tol, label);
                for (int r = 0; r < 2; r++) {
                    tg_free(ys[r]);
                    for (int i = 0; i < 3; i++) tg_free(grads[r][i]);
                }
            }
            tu_free(x0), tu_free(w0), tu_free(b0), tu_free(x), tu_free(w), tu_free(b);
        }
    }
    cr_assert_eq(tg_backend_set_threads(tu_cpu(), 1), TG_OK);
    tg_rng_free(rng);
}

// An infinity in x: the direct kernel's dw reads lanes past a row's end (masked there), by
// rows ([2,2,9,32]: outputs 7 x 30, a partial last vector per row) and flat over the padded
// image ([2,2,9,12]: 7 x 10), so the infinity must reach only the taps that see it, as
// through the window matrix.
Test(ops_conv, conv2d_stride1_dw_with_an_infinity) {
    static const int64_t widths[2] = {32, 12};
    for (int k = 0; k < 4; k++) {
        tg_dtype dt = tu_dtype(k % 2);
        int64_t wd = widths[k / 2], nx = 2 * 2 * 9 * wd;
        double *xv = malloc((size_t)nx * sizeof *xv), wv[54];
        for (int64_t i = 0; i < nx; i++) xv[i] = 0.01 * (double)(i % 17) - 0.05;
        for (int i = 0; i < 54; i++) wv[i] = 0.1 * (i % 7) - 0.3;
        xv[1 * wd + 0] = INFINITY;   // image 0, channel 0, row 1, column 0
        tg_tensor *x = tu_make(dt, (tu_arr){4, {2, 2, 9, wd}, xv}, false);
        tg_tensor *w = tu_make(dt, (tu_arr){4, {3, 2, 3, 3}, wv}, true);
        free(xv);
        char label[64];
        snprintf(label, sizeof label, "%s, x [2,2,9,%lld]", tg_dtype_name(dt), (long long)wd);
        tg_tensor *gw[2];
        for (int route = 0; route < 2; route++) {
            tg_tape *t = tg_tape_new();
            tg_conv_opts o = {{1, 1}, {0, 0}, {1, 1}};
            tg_tensor *y = route ? conv_by_im2col(t, x, w, NULL, &o) : tg_conv2d(t, x, w, NULL, &o);
            cr_assert(y, "%s", tg_last_error());
            tg_tensor *g = tg_full(t, tu_cpu(), dt, 4, tg_shape(y), 0.5);
            cr_assert_eq(tg_backward_ex(t, y, g, NULL), TG_OK, "%s", tg_last_error());
            gw[route] = tg_cast(tg_grad_of(w), dt);
            tg_grad_clear(w);
            tg_tape_free(t);
        }
        expect_close("dw", gw[0], gw[1], dt == TG_F32 ? 1e-5 : 1e-12, label);
        double *v = host_values(gw[0]);
        int finite = 0;
        for (int i = 0; i < 54; i++) finite += isfinite(v[i]);
        cr_expect(finite > 0 && finite < 54, "%s: %d finite taps of 54", label, finite);
        free(v);
        tg_free(gw[0]), tg_free(gw[1]);
        tu_free(x), tu_free(w);
    }
}

// tu_make for any number of values.
static tg_tensor *make_values(tg_dtype dt, int ndim, const int64_t *shape, const double *v,
                              bool grad) {
    tg_tensor *t = tg_tensor_new(tu_cpu(), dt, ndim, shape);
    cr_assert_not_null(t, "%s", tg_last_error());
    int64_t n = tg_numel(t);
    if (dt == TG_F64) {
        cr_assert_eq(tg_copy_from_host(t, v, (size_t)n * 8), TG_OK, "%s", tg_last_error());
    } else {
        float *f = malloc((size_t)n * sizeof *f);
        cr_assert_not_null(f);
        for (int64_t i = 0; i < n; i++) f[i] = (float)v[i];
        cr_assert_eq(tg_copy_from_host(t, f, (size_t)n * 4), TG_OK, "%s", tg_last_error());
        free(f);
    }
    if (grad) cr_assert_eq(tg_set_requires_grad(t, true), TG_OK);
    return t;
}

// Winograd's transforms add and subtract inputs before the products: an infinity there
// gives NaN (inf - inf) where the direct sum gives +inf, and two large finite values give an
// infinity where the direct sum is finite. Its outputs must still be the direct sum's (the
// kernel redoes such a call directly): an infinity, a NaN and values of +-2e38 (f32) in
// images of 32 channels, forward, dx and dw, against the window matrix.
Test(ops_conv, conv2d_winograd_non_finite_and_huge) {
    enum { N = 2, C = 32, H = 7, W = 9, O = 32 };   // 32 channels: dw by Winograd too
    for (int k = 0; k < 4; k++) {
        tg_dtype dt = tu_dtype(k % 2);
        bool huge = k >= 2;
        double *xv = malloc(N * C * H * W * sizeof *xv), *wv = malloc(O * C * 9 * sizeof *wv);
        cr_assert(xv && wv);
        for (int i = 0; i < N * C * H * W; i++) xv[i] = 0.01 * (double)(i % 23) - 0.1;
        for (int i = 0; i < O * C * 9; i++) wv[i] = 0.01 + 0.001 * (i % 11);
        if (huge) {   // columns 2 apart in one row: the input transform's c0 - c2
            double big = dt == TG_F32 ? 2e38 : 1e308;
            xv[(0 * C + 3) * H * W + 2 * W + 2] = big, xv[(0 * C + 3) * H * W + 2 * W + 4] = -big;
        } else {
            xv[(0 * C + 3) * H * W + 2 * W + 4] = INFINITY;
            xv[(1 * C + 5) * H * W + 6 * W + 8] = NAN;
        }
        tg_tensor *x = make_values(dt, 4, (int64_t[]){N, C, H, W}, xv, true);
        tg_tensor *w = make_values(dt, 4, (int64_t[]){O, C, 3, 3}, wv, true);
        free(xv), free(wv);
        char label[64];
        snprintf(label, sizeof label, "%s, %s", tg_dtype_name(dt), huge ? "huge" : "inf, NaN");
        tg_tensor *ys[2], *dxs[2], *dws[2];
        for (int route = 0; route < 2; route++) {
            tg_tape *t = tg_tape_new();
            tg_conv_opts o = {{1, 1}, {1, 1}, {1, 1}};
            tg_tensor *y = route ? conv_by_im2col(t, x, w, NULL, &o) : tg_conv2d(t, x, w, NULL, &o);
            cr_assert(y, "%s", tg_last_error());
            tg_tensor *g = tg_full(t, tu_cpu(), dt, 4, tg_shape(y), 0.5);
            cr_assert_eq(tg_backward_ex(t, y, g, NULL), TG_OK, "%s", tg_last_error());
            ys[route] = tg_cast(y, dt);
            dxs[route] = tg_cast(tg_grad_of(x), dt);
            dws[route] = tg_cast(tg_grad_of(w), dt);
            tg_grad_clear(x), tg_grad_clear(w);
            tg_tape_free(t);
        }
        expect_close("y", ys[0], ys[1], dt == TG_F32 ? 1e-5 : 1e-12, label);
        expect_close("dx", dxs[0], dxs[1], dt == TG_F32 ? 1e-5 : 1e-12, label);
        // dw's sums of +-1e38 terms that cancel keep nothing of the small ones: their order
        // decides the value, so huge values only need a finite dw
        if (!huge) expect_close("dw", dws[0], dws[1], dt == TG_F32 ? 1e-5 : 1e-12, label);
        double *g = host_values(dws[0]);
        int finite_dw = 0;
        for (int i = 0; i < O * C * 9; i++) finite_dw += isfinite(g[i]) != 0;
        if (huge) cr_expect_eq(finite_dw, O * C * 9, "%s: dw not finite", label);
        free(g);
        double *v = host_values(ys[0]);
        int64_t n = tg_numel(ys[0]), nonfinite = 0, inf = 0;
        for (int64_t i = 0; i < n; i++) nonfinite += !isfinite(v[i]), inf += isinf(v[i]);
        // the infinity inside: 3 x 3 outputs of each channel; the NaN in a corner: 2 x 2
        int64_t want_inf = huge ? 0 : O * 9, want = huge ? 0 : O * 9 + O * 4;
        cr_expect(inf == want_inf && nonfinite == want, "%s: %lld infinite, %lld not finite",
                  label, (long long)inf, (long long)nonfinite);
        free(v);
        for (int r = 0; r < 2; r++) tg_free(ys[r]), tg_free(dxs[r]), tg_free(dws[r]);
        tu_free(x), tu_free(w);
    }
}

// f32 batch norm (its kernel sums f32 runs in float vectors, blocks of 1024 added in double)
// against the same values in f64: channels far from zero (mean 1000, spread 1), runs longer
// than a block with a ragged end, forward and all three gradients.
Test(ops_conv, batch_norm_f32_sums_match_f64) {
    tg_rng *rng = tg_rng_new(3);
    int64_t xs[3] = {3, 2, 2500};
    tg_tensor *x64 = tu_rand64(rng, 3, xs, 999, 1001, false);
    tg_tensor *w64 = tu_rand64(rng, 1, (int64_t[]){2}, 0.5, 1.5, false);
    tg_tensor *b64 = tu_rand64(rng, 1, (int64_t[]){2}, -1, 1, false);
    tg_tensor *g64 = tu_rand64(rng, 3, xs, -1, 1, false);
    tg_tensor *out[2][4];
    for (int k = 0; k < 2; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tensor *x = tg_cast(x64, dt), *w = tg_cast(w64, dt), *b = tg_cast(b64, dt);
        tg_tensor *g = tg_cast(g64, dt);
        tg_set_requires_grad(x, true), tg_set_requires_grad(w, true);
        tg_set_requires_grad(b, true);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_batch_norm(t, x, w, b, NULL, NULL, 0.1, 1e-5);
        cr_assert(y, "%s", tg_last_error());
        cr_assert_eq(tg_backward(t, tg_sum(t, tg_mul(t, y, g))), TG_OK, "%s", tg_last_error());
        out[k][0] = tg_cast(y, TG_F64);
        out[k][1] = tg_cast(tg_grad_of(x), TG_F64);
        out[k][2] = tg_cast(tg_grad_of(w), TG_F64);
        out[k][3] = tg_cast(tg_grad_of(b), TG_F64);
        tg_tape_free(t);
        tu_free(x), tu_free(w), tu_free(b), tu_free(g);
    }
    const char *what[4] = {"y", "dx", "dw", "db"};
    for (int i = 0; i < 4; i++) {
        expect_close(what[i], out[0][i], out[1][i], 2e-4, "f32 against f64");
        tg_free(out[0][i]), tg_free(out[1][i]);
    }
    tu_free(x64), tu_free(w64), tu_free(b64), tu_free(g64);
    tg_rng_free(rng);
}

// batch_norm's backward takes dw and db from the sums pass of dx's kernel (one pass over x
// and dy fewer) when x needs a gradient too: they must equal, bit for bit, what the wgrad
// kernel computes on its own (x without a gradient), in f32 and f64, with and without a
// second backward through them (create_graph: the rules stay ops).
Test(ops_conv, batch_norm_wgrad_from_the_dx_pass) {
    tg_rng *rng = tg_rng_new(5);
    int64_t xs[4] = {4, 3, 5, 6};
    tg_tensor *x64 = tu_rand64(rng, 4, xs, -2, 2, false);
    tg_tensor *g64 = tu_rand64(rng, 4, xs, -1, 1, false);
    for (int k = 0; k < 2; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tensor *x = tg_cast(x64, dt), *g = tg_cast(g64, dt);
        tg_tensor *w = tg_cast(tu_rand64(rng, 1, (int64_t[]){3}, 0.5, 1.5, false), dt);
        tg_tensor *b = tg_cast(tu_rand64(rng, 1, (int64_t[]){3}, -1, 1, false), dt);
        tg_set_requires_grad(w, true), tg_set_requires_grad(b, true);
        tg_tensor *dwb[2][2];
        for (int fused = 0; fused < 2; fused++) {
            tg_set_requires_grad(x, fused == 1);
            tg_tape *t = tg_tape_new();
            tg_tensor *y = tg_batch_norm(t, x, w, b, NULL, NULL, 0.1, 1e-5);
            cr_assert(y, "%s", tg_last_error());
            cr_assert_eq(tg_backward(t, tg_sum(t, tg_mul(t, y, g))), TG_OK, "%s",
                         tg_last_error());
            dwb[fused][0] = tg_to(tg_grad_of(w), NULL);
            dwb[fused][1] = tg_to(tg_grad_of(b), NULL);
            cr_assert_eq(tg_zero_grad(2, (tg_tensor *[]){w, b}), TG_OK, "%s", tg_last_error());
            if (fused) cr_assert_not_null(tg_grad_of(x), "dx");
            tg_zero_grad(1, &x);
            tg_tape_free(t);
        }
        for (int i = 0; i < 2; i++) {
            size_t bytes = 3 * (dt == TG_F64 ? 8 : 4);
            char a[24], c[24];
            cr_assert_eq(tg_copy_to_host(dwb[0][i], a, bytes), TG_OK);
            cr_assert_eq(tg_copy_to_host(dwb[1][i], c, bytes), TG_OK);
            cr_expect(memcmp(a, c, bytes) == 0, "%s %s differs", dt == TG_F64 ? "f64" : "f32",
                      i ? "db" : "dw");
            tg_free(dwb[0][i]), tg_free(dwb[1][i]);
        }
        // create_graph: dw's own gradient through the rule (a second backward)
        tg_set_requires_grad(x, true);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_batch_norm(t, x, w, b, NULL, NULL, 0.1, 1e-5);
        tg_tensor *gr[3] = {NULL, NULL, NULL};
        cr_assert_eq(tg_grad(t, tg_sum(t, tg_mul(t, y, g)), NULL, 3, (tg_tensor *[]){x, w, b},
                             gr, &(tg_backward_opts){.create_graph = true}),
                     TG_OK, "%s", tg_last_error());
        cr_assert_eq(tg_backward(t, tg_sum(t, tg_mul(t, gr[1], gr[1]))), TG_OK, "%s",
                     tg_last_error());
        cr_expect_not_null(tg_grad_of(x), "second backward reached x");
        tg_tape_free(t);
        tu_free(x), tu_free(g), tu_free(w), tu_free(b);
    }
    tu_free(x64), tu_free(g64);
    tg_rng_free(rng);
}

// Without the cpu backend's scratch (TG_CPU_SCRATCH_FAIL=1, its test hook: as when memory
// has run out), the direct stride-1 kernel fails with TG_ERR_OOM, named by the op; strided
// convolutions (the window-matrix route) still run. Without the hook both succeed.
Test(ops_conv, scratch_out_of_memory) {
    tg_rng *rng = tg_rng_new(4);
    tg_tensor *x = tu_rand64(rng, 4, (int64_t[]){2, 3, 8, 8}, -1, 1, true);
    tg_tensor *w = tu_rand64(rng, 4, (int64_t[]){4, 3, 3, 3}, -1, 1, true);
    tg_tape *t = tg_tape_new();
    tg_conv_opts s1 = {.padding = {1, 1}}, s2 = {.stride = {2, 2}, .padding = {1, 1}};
    tg_tensor *y = tg_conv2d(t, x, w, NULL, &s1);
    tu_expect_oom_if_starved(y, "tg_conv2d");
    tg_tensor *y2 = tg_conv2d(t, x, w, NULL, &s2);
    cr_assert_not_null(y2, "%s", tg_last_error());
    cr_expect_eq(tg_backward(t, tg_sum(t, y2)), TG_OK, "%s", tg_last_error());
    // 16 channels in and out: Winograd's scratch, then the direct kernel's, refused
    tg_tensor *xw = tu_rand64(rng, 4, (int64_t[]){2, 16, 8, 8}, -1, 1, true);
    tg_tensor *ww = tu_rand64(rng, 4, (int64_t[]){16, 16, 3, 3}, -1, 1, true);
    tg_tensor *yw = tg_conv2d(t, xw, ww, NULL, &s1);
    tu_expect_oom_if_starved(yw, "tg_conv2d");
    if (yw) cr_expect_eq(tg_backward(t, tg_sum(t, yw)), TG_OK, "%s", tg_last_error());
    tg_tape_free(t);
    tu_free(x), tu_free(w), tu_free(xw), tu_free(ww);
    tg_rng_free(rng);
}

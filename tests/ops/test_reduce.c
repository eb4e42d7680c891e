// Tests for ops/reduce.c: sum over all / chosen / negative axes with and without keepdim,
// empty inputs, the composed mean, gradients worked by hand, and bad axes.
#include <stdlib.h>

#include "test_util.h"

TestSuite(ops_reduce, .init = tg_clear_error);

static const double x23[6] = {1, 2, 3, 4, 5, 6};  // [[1,2,3],[4,5,6]]

// sum_axes(x, axes, keepdim) in both dtypes; expects `want`. n_axes < 0: tg_sum.
static void check_sum(tu_arr x, int n_axes, const int *axes, bool keepdim, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *tx = tu_make(dt, x, false);
        tg_tensor *y = n_axes < 0 ? tg_sum(tape, tx) : tg_sum_axes(tape, tx, n_axes, axes, keepdim);
        cr_assert_not_null(y, "%s: %s", tg_dtype_name(dt), tg_last_error());
        cr_expect_eq(tg_dtype_of(y), dt);
        tu_expect_arr(y, want, tu_tol(dt) * 10);
        tg_tape_free(tape);
        tu_free(tx);
    }
}

Test(ops_reduce, sum_all) {
    check_sum((tu_arr){2, {2, 3}, x23}, -1, NULL, false, (tu_arr){0, {0}, (double[]){21}});
    check_sum((tu_arr){0, {0}, (double[]){-4}}, -1, NULL, false, (tu_arr){0, {0}, (double[]){-4}});
    check_sum((tu_arr){2, {2, 3}, x23}, 2, (int[]){0, 1}, false, (tu_arr){0, {0}, (double[]){21}});
    check_sum((tu_arr){2, {2, 3}, x23}, 2, (int[]){1, 0}, true,
              (tu_arr){2, {1, 1}, (double[]){21}});
}

Test(ops_reduce, sum_axes_2d) {
    tu_arr x = {2, {2, 3}, x23};
    check_sum(x, 1, (int[]){0}, false, (tu_arr){1, {3}, (double[]){5, 7, 9}});
    check_sum(x, 1, (int[]){1}, false, (tu_arr){1, {2}, (double[]){6, 15}});
    check_sum(x, 1, (int[]){0}, true, (tu_arr){2, {1, 3}, (double[]){5, 7, 9}});
    check_sum(x, 1, (int[]){1}, true, (tu_arr){2, {2, 1}, (double[]){6, 15}});
    // no axes: nothing reduced, same shape and values
    check_sum(x, 0, NULL, false, (tu_arr){2, {2, 3}, x23});
}

// Column sums (axis 0 of a 2-D tensor, and axes 0 and 1 of it seen as 2 x rows/2 x cols:
// rows even) at the widths where the cpu kernel changes strategy: below 64 columns, runs of
// whole vectors over several rows (every run length it has a case for, and past them; row
// counts with and without a remainder, and too few rows for it) or else register blocks of
// 16/8/4/1 columns; streamed rows from 64, in chunks of 1024 columns beyond. Values k/8 are
// exact in f32, so sums are exact too.
static void check_colsum(int64_t rows, int64_t cols) {
    int64_t n = rows * cols;
    double *x = malloc((size_t)n * sizeof *x), *want = calloc((size_t)cols, sizeof *want);
    cr_assert(x && want);
    for (int64_t i = 0; i < n; i++) {
        x[i] = (double)((i * 7 + 3) % 17 - 8) / 8;
        want[i % cols] += x[i];
    }
    check_sum((tu_arr){2, {rows, cols}, x}, 1, (int[]){0}, false, (tu_arr){1, {cols}, want});
    check_sum((tu_arr){3, {2, rows / 2, cols}, x}, 2, (int[]){0, 1}, false,
              (tu_arr){1, {cols}, want});
    free(x);
    free(want);
}

Test(ops_reduce, column_sums_at_every_width_class) {
    static const int64_t shapes[][2] = {{600, 1}, {200, 3},  {150, 20}, {100, 29}, {60, 63},
                                        {60, 64}, {4, 1024}, {2, 2000}, {98, 2},   {6, 2},
                                        {96, 16}, {98, 32},  {130, 7},  {130, 13}, {258, 5}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_colsum(shapes[i][0], shapes[i][1]);
}

Test(ops_reduce, sum_negative_axes) {
    tu_arr x = {2, {2, 3}, x23};
    check_sum(x, 1, (int[]){-1}, false, (tu_arr){1, {2}, (double[]){6, 15}});
    check_sum(x, 1, (int[]){-2}, true, (tu_arr){2, {1, 3}, (double[]){5, 7, 9}});
    check_sum(x, 2, (int[]){-1, -2}, false, (tu_arr){0, {0}, (double[]){21}});
}

// x[i,j,k] = 12i + 4j + k over [2,3,4].
Test(ops_reduce, sum_axes_3d) {
    double x[24];
    for (int i = 0; i < 24; i++) x[i] = i;
    tu_arr t = {3, {2, 3, 4}, x};
    // over i and k: 4*12 + 8*4j + 2*(0+1+2+3) = 60 + 32j
    check_sum(t, 2, (int[]){0, 2}, false, (tu_arr){1, {3}, (double[]){60, 92, 124}});
    check_sum(t, 2, (int[]){-1, 0}, true, (tu_arr){3, {1, 3, 1}, (double[]){60, 92, 124}});
    // over j: 36i + 12 + 3k
    check_sum(t, 1, (int[]){1}, true,
              (tu_arr){3, {2, 1, 4}, (double[]){12, 15, 18, 21, 48, 51, 54, 57}});
    // over i: x[0,j,k] + x[1,j,k] = 12 + 2*(4j + k)
    double want[12];
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++) want[j * 4 + k] = 12 + 2 * (4 * j + k);
    check_sum(t, 1, (int[]){0}, false, (tu_arr){2, {3, 4}, want});
    check_sum(t, 3, (int[]){0, 1, 2}, false, (tu_arr){0, {0}, (double[]){276}});
}

// Summing over an empty axis gives zeros; keeping it gives an empty result.
Test(ops_reduce, sum_empty) {
    tu_arr x = {2, {0, 3}, NULL};
    check_sum(x, -1, NULL, false, (tu_arr){0, {0}, (double[]){0}});
    check_sum(x, 1, (int[]){0}, false, (tu_arr){1, {3}, (double[]){0, 0, 0}});
    check_sum(x, 1, (int[]){1}, false, (tu_arr){1, {0}, NULL});
}

Test(ops_reduce, mean_forward) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(dt, (tu_arr){2, {2, 3}, x23}, false);
        tu_expect_arr(tg_mean(tape, x), (tu_arr){0, {0}, (double[]){3.5}}, tu_tol(dt));
        tu_expect_arr(tg_mean_axes(tape, x, 1, (int[]){0}, false),
                      (tu_arr){1, {3}, (double[]){2.5, 3.5, 4.5}}, tu_tol(dt));
        tu_expect_arr(tg_mean_axes(tape, x, 1, (int[]){-1}, true),
                      (tu_arr){2, {2, 1}, (double[]){2, 5}}, tu_tol(dt));
        tg_tape_free(tape);
        tu_free(x);
    }
}

// ---- gradients worked by hand ----

// loss = sum(sum_axes(x, {0}) * w): every row of x gets w.
Test(ops_reduce, sum_axes_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, x23}, true);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){1, -2, 3}}, false);
    tg_tensor *s = tg_sum_axes(tape, x, 1, (int[]){0}, false);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, s, w))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){1, -2, 3, 1, -2, 3}, 6, 0);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(w);
}

// keepdim and negative axes: loss = sum(sum_axes(x, {-1}, keepdim) * [[1],[10]]).
Test(ops_reduce, sum_keepdim_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, x23}, true);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){2, {2, 1}, (double[]){1, 10}}, false);
    tg_tensor *s = tg_sum_axes(tape, x, 1, (int[]){-1}, true);
    tu_expect_shape(s, 2, (int64_t[]){2, 1});
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, s, w))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){1, 1, 1, 10, 10, 10}, 6, 0);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(w);
}

Test(ops_reduce, mean_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, x23}, true);
    cr_assert_eq(tg_backward(tape, tg_mean(tape, x)), TG_OK, "%s", tg_last_error());
    double sixth = 1.0 / 6;
    tu_expect_grad(x, (double[]){sixth, sixth, sixth, sixth, sixth, sixth}, 6, 1e-15);
    tg_tape_free(tape);
    tu_free(x);
}

// ---- bad input ----

Test(ops_reduce, bad_axes) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tu_expect_fail(tg_sum_axes(tape, x, 1, (int[]){2}, false), TG_ERR_INVALID_ARG, "tg_sum_axes",
                   "axis 2", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_sum_axes(tape, x, 1, (int[]){-3}, false), TG_ERR_INVALID_ARG, "tg_sum_axes",
                   "axis -3", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_sum_axes(tape, x, 2, (int[]){0, -2}, false), TG_ERR_INVALID_ARG,
                   "tg_sum_axes", "repeated", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_sum_axes(tape, x, -1, (int[]){0}, false), TG_ERR_INVALID_ARG, "tg_sum_axes",
                   "n_axes", NULL);
    tg_clear_error();
    tu_expect_fail(tg_sum_axes(tape, x, 1, NULL, false), TG_ERR_INVALID_ARG, "tg_sum_axes", "axes",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_mean_axes(tape, x, 1, (int[]){5}, true), TG_ERR_INVALID_ARG, "tg_mean_axes",
                   "axis 5", "[2,3]");
    tg_clear_error();
    // a 0-dim tensor has no axis at all
    tg_tensor *s = tu_make(TG_F64, (tu_arr){0, {0}, (double[]){1}}, false);
    tu_expect_fail(tg_sum_axes(tape, s, 1, (int[]){0}, false), TG_ERR_INVALID_ARG, "tg_sum_axes",
                   "axis 0", "[]");
    cr_expect_eq(tg_tape_size(tape), 0);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(s);
}

Test(ops_reduce, null_input) {
    tg_tape *tape = tg_tape_new();
    tu_expect_fail(tg_sum(tape, NULL), TG_ERR_INVALID_ARG, "tg_sum", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_sum_axes(tape, NULL, 1, (int[]){0}, false), TG_ERR_INVALID_ARG, "tg_sum_axes",
                   "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_mean(tape, NULL), TG_ERR_INVALID_ARG, "NULL", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_mean_axes(tape, NULL, 0, NULL, false), TG_ERR_INVALID_ARG, "NULL", NULL,
                   NULL);
    tg_clear_error();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    tu_expect_fail(tg_sum(NULL, x), TG_ERR_INVALID_ARG, "tg_sum", "tape", NULL);
    tg_tape_free(tape);
    tu_free(x);
}

// A failed input keeps its message through the reduction.
Test(ops_reduce, first_error_wins) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {4}, NULL}, false);
    tu_expect_fail(tg_sum_axes(tape, tg_add(tape, a, b), 1, (int[]){7}, false), TG_ERR_SHAPE,
                   "tg_add: ", "[2,3]", "[4]");
    cr_expect_null(strstr(tg_last_error(), "tg_sum"), "overwritten: %s", tg_last_error());
    tu_expect_fail(tg_mean(tape, tg_sub(tape, a, b)), TG_ERR_SHAPE, "tg_add: ", NULL, NULL);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// ---- max / min / argmax / argmin ----

// f(x) in both dtypes against want.
typedef tg_tensor *(*reduce_fn)(tg_tape *, tg_tensor *, const int *arg);

static void check_reduce(reduce_fn f, const int *arg, tu_arr x, tu_arr want, double tol) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *tx = tu_make(dt, x, false);
        tg_tensor *y = f(tape, tx, arg);
        cr_assert_not_null(y, "%s: %s", tg_dtype_name(dt), tg_last_error());
        cr_expect_eq(tg_dtype_of(y), dt);
        tu_expect_arr(y, want, dt == TG_F32 ? tol : 1e-12);
        tg_tape_free(tape);
        tu_free(tx);
    }
}

// arg = {n_axes, axes..., keepdim}
static tg_tensor *r_max(tg_tape *t, tg_tensor *x, const int *a) {
    return a ? tg_max_axes(t, x, a[0], a + 1, a[1 + a[0]]) : tg_max(t, x);
}
static tg_tensor *r_min(tg_tape *t, tg_tensor *x, const int *a) {
    return a ? tg_min_axes(t, x, a[0], a + 1, a[1 + a[0]]) : tg_min(t, x);
}
// arg = {axis, keepdim}
static tg_tensor *r_argmax(tg_tape *t, tg_tensor *x, const int *a) {
    return tg_argmax(t, x, a[0], a[1]);
}
static tg_tensor *r_argmin(tg_tape *t, tg_tensor *x, const int *a) {
    return tg_argmin(t, x, a[0], a[1]);
}
// arg = {n_axes, axes..., correction, keepdim}
static tg_tensor *r_var(tg_tape *t, tg_tensor *x, const int *a) {
    return tg_var(t, x, a[0], a + 1, a[1 + a[0]], a[2 + a[0]]);
}
static tg_tensor *r_std(tg_tape *t, tg_tensor *x, const int *a) {
    return tg_std(t, x, a[0], a + 1, a[1 + a[0]], a[2 + a[0]]);
}
// arg = {n_axes, axes..., keepdim}
static tg_tensor *r_lse(tg_tape *t, tg_tensor *x, const int *a) {
    return tg_logsumexp(t, x, a[0], a + 1, a[1 + a[0]]);
}

Test(ops_reduce, max_min_forward) {
    tu_arr x = {2, {2, 3}, (double[]){1, 6, 3, 4, 2, 5}};
    check_reduce(r_max, NULL, x, (tu_arr){0, {0}, (double[]){6}}, 0);
    check_reduce(r_min, NULL, x, (tu_arr){0, {0}, (double[]){1}}, 0);
    check_reduce(r_max, (int[]){1, 0, 0}, x, (tu_arr){1, {3}, (double[]){4, 6, 5}}, 0);
    check_reduce(r_max, (int[]){1, 1, 1}, x, (tu_arr){2, {2, 1}, (double[]){6, 5}}, 0);
    check_reduce(r_min, (int[]){1, -1, 0}, x, (tu_arr){1, {2}, (double[]){1, 2}}, 0);
    check_reduce(r_min, (int[]){2, 0, 1, 1}, x, (tu_arr){2, {1, 1}, (double[]){1}}, 0);
}

// The index of the first extremum, as a value of x's dtype.
Test(ops_reduce, argmax_argmin_forward) {
    tu_arr x = {2, {2, 3}, (double[]){1, 6, 3, 4, 2, 5}};
    check_reduce(r_argmax, (int[]){1, 0}, x, (tu_arr){1, {2}, (double[]){1, 2}}, 0);
    check_reduce(r_argmax, (int[]){0, 0}, x, (tu_arr){1, {3}, (double[]){1, 0, 1}}, 0);
    check_reduce(r_argmin, (int[]){-1, 1}, x, (tu_arr){2, {2, 1}, (double[]){0, 1}}, 0);
    tu_arr ties = {1, {4}, (double[]){3, 1, 3, 1}};
    check_reduce(r_argmax, (int[]){0, 0}, ties, (tu_arr){0, {0}, (double[]){0}}, 0);
    check_reduce(r_argmin, (int[]){0, 0}, ties, (tu_arr){0, {0}, (double[]){1}}, 0);
}

Test(ops_reduce, argmax_has_no_gradient) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){1, 3, 2}}, true);
    tg_tensor *i = tg_argmax(tape, x, 0, false), *j = tg_argmin(tape, x, 0, false);
    cr_assert(i && j, "%s", tg_last_error());
    cr_expect_not(tg_requires_grad(i));
    cr_expect_not(tg_requires_grad(j));
    cr_expect_eq(tg_tape_size(tape), 0);
    tg_tape_free(tape);
    tu_free(x);
}

// Tied maxima share the gradient evenly (torch.amax).
Test(ops_reduce, max_grad_ties) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, (double[]){1, 3, 3, 7, 2, 7}}, true);
    tg_tensor *m = tg_max_axes(tape, x, 1, (int[]){1}, false);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, m)), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){0, 0.5, 0.5, 0.5, 0, 0.5}, 6, 1e-15);
    tg_tape_free(tape);
    tu_free(x);
    tape = tg_tape_new();
    x = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){2, -1, 4}}, true);
    cr_assert_eq(tg_backward(tape, tg_min(tape, x)), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){0, 1, 0}, 3, 0);
    tg_tape_free(tape);
    tu_free(x);
}

// ---- var / std / logsumexp (composed) ----

Test(ops_reduce, var_std_forward) {
    tu_arr x = {1, {4}, (double[]){1, 2, 3, 4}};
    check_reduce(r_var, (int[]){1, 0, 1, 0}, x, (tu_arr){0, {0}, (double[]){1.6666666666666667}},
                 1e-6);
    check_reduce(r_var, (int[]){1, 0, 0, 0}, x, (tu_arr){0, {0}, (double[]){1.25}}, 1e-6);
    check_reduce(r_std, (int[]){1, -1, 1, 1}, x, (tu_arr){1, {1}, (double[]){1.2909944487358056}},
                 1e-6);
    // per row of [[1,2,3],[4,5,9]]: unbiased variances 1 and 7
    check_reduce(r_var, (int[]){1, 1, 1, 0}, (tu_arr){2, {2, 3}, (double[]){1, 2, 3, 4, 5, 9}},
                 (tu_arr){1, {2}, (double[]){1, 7}}, 1e-5);
}

Test(ops_reduce, logsumexp_forward) {
    tu_arr x = {2, {2, 3}, (double[]){1, 2, 3, 4, 5, 6}};
    check_reduce(r_lse, (int[]){1, 1, 0}, x,
                 (tu_arr){1, {2}, (double[]){3.40760596444438, 6.40760596444438}}, 1e-5);
    check_reduce(r_lse, (int[]){1, -1, 1}, x,
                 (tu_arr){2, {2, 1}, (double[]){3.40760596444438, 6.40760596444438}}, 1e-5);
    // stable for large values (f32 holds 1000.69 to ~1e-4)
    check_reduce(r_lse, (int[]){1, 0, 0}, (tu_arr){1, {2}, (double[]){1000, 1000}},
                 (tu_arr){0, {0}, (double[]){1000.6931471805599}}, 1e-3);
}

// A row of -inf gives -inf, not NaN.
Test(ops_reduce, logsumexp_all_negative_infinity) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){-INFINITY, -INFINITY}}, false);
    double v = tg_item(tg_logsumexp(tape, x, 1, (int[]){0}, false));
    cr_expect(isinf(v) && v < 0, "logsumexp(-inf, -inf) = %g", v);
    tg_tape_free(tape);
    tu_free(x);
}

// d var / dx = 2 (x - mean) / (N - correction)
Test(ops_reduce, var_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {4}, (double[]){1, 2, 3, 4}}, true);
    cr_assert_eq(tg_backward(tape, tg_var(tape, x, 1, (int[]){0}, 1, false)), TG_OK, "%s",
                 tg_last_error());
    tu_expect_grad(x, (double[]){-1, -1.0 / 3, 1.0 / 3, 1}, 4, 1e-12);
    tg_tape_free(tape);
    tu_free(x);
}

Test(ops_reduce, more_bad_axes) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tu_expect_fail(tg_max_axes(tape, x, 1, (int[]){2}, false), TG_ERR_INVALID_ARG, "tg_max_axes",
                   "axis 2", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_min_axes(tape, x, 2, (int[]){1, -1}, false), TG_ERR_INVALID_ARG,
                   "tg_min_axes", "repeated", NULL);
    tg_clear_error();
    tu_expect_fail(tg_argmax(tape, x, 5, false), TG_ERR_INVALID_ARG, "tg_argmax", "axis 5",
                   "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_argmin(tape, x, -3, true), TG_ERR_INVALID_ARG, "tg_argmin", "axis -3", NULL);
    tg_clear_error();
    tu_expect_fail(tg_var(tape, x, 1, (int[]){4}, 1, false), TG_ERR_INVALID_ARG, "tg_var", "axis 4",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_std(tape, x, 1, (int[]){-4}, 1, false), TG_ERR_INVALID_ARG, "axis -4", NULL,
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_logsumexp(tape, x, 1, (int[]){2}, false), TG_ERR_INVALID_ARG, "axis 2", NULL,
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_max(tape, NULL), TG_ERR_INVALID_ARG, "tg_max", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_argmin(tape, NULL, 0, false), TG_ERR_INVALID_ARG, "tg_argmin", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_logsumexp(tape, NULL, 1, (int[]){0}, false), TG_ERR_INVALID_ARG, "NULL", NULL,
                   NULL);
    tg_tape_free(tape);
    tu_free(x);
}

// ---- degenerate spreads and extreme magnitudes (torch 1.13's values) ----

// std at zero spread: torch's gradient is 0 there (std_backward masks std == 0), not
// dy / (2 std) * (x - mean) = inf * 0 = NaN. Row 0 of [[2,2,2],[1,2,4]] is constant; row 1
// has std sqrt(7/3) and gradient (x - 7/3) / (2 std).
Test(ops_reduce, std_zero_spread_gradient_is_zero) {
    const double s1 = sqrt(7.0 / 3);
    const double want_y[] = {0, s1};
    const double want_g[] = {0, 0, 0, (1 - 7.0 / 3) / (2 * s1), (2 - 7.0 / 3) / (2 * s1),
                             (4 - 7.0 / 3) / (2 * s1)};
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(dt, (tu_arr){2, {2, 3}, (double[]){2, 2, 2, 1, 2, 4}}, true);
        tg_tensor *y = tg_std(tape, x, 1, (int[]){1}, 1, false);
        tu_expect_values(y, want_y, 2, tu_tol(dt));
        cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
        tu_expect_grad(x, want_g, 6, tu_tol(dt));
        tg_tape_free(tape);
        tu_free(x);
    }
}

// Over every axis, biased, keepdim; and one value per row with the biased estimator.
Test(ops_reduce, std_zero_spread_all_axes_and_single_values) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 2}, (double[]){0.5, 0.5, 0.5, 0.5}}, true);
    tg_tensor *y = tg_std(tape, x, 2, (int[]){0, 1}, 0, true);
    tu_expect_arr(y, (tu_arr){2, {1, 1}, (double[]){0}}, 0);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){0, 0, 0, 0}, 4, 0);
    tg_tape_free(tape);
    tu_free(x);
    tape = tg_tape_new();
    x = tu_make(TG_F64, (tu_arr){2, {3, 1}, (double[]){3, -1, 2}}, true);
    y = tg_std(tape, x, 1, (int[]){1}, 0, false);
    tu_expect_values(y, (double[]){0, 0, 0}, 3, 0);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){0, 0, 0}, 3, 0);
    tg_tape_free(tape);
    tu_free(x);
}

// One value with the unbiased estimator (N - 1 = 0): NaN value and gradient, as torch.
Test(ops_reduce, std_var_single_value_unbiased_is_nan) {
    for (int is_std = 0; is_std < 2; is_std++) {
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 1}, (double[]){3, -1}}, true);
        tg_tensor *y = is_std ? tg_std(tape, x, 1, (int[]){1}, 1, false)
                              : tg_var(tape, x, 1, (int[]){1}, 1, false);
        cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
        double v[2], g[2];
        cr_assert_eq(tg_copy_to_host(y, v, sizeof v), TG_OK);
        cr_assert_eq(tg_copy_to_host(tg_grad_of(x), g, sizeof g), TG_OK);
        for (int i = 0; i < 2; i++)
            cr_expect(isnan(v[i]) && isnan(g[i]), "%s: value %g, gradient %g",
                      is_std ? "std" : "var", v[i], g[i]);
        tg_tape_free(tape);
        tu_free(x);
    }
}

// N - correction <= 0 divides by zero as torch does: inf, or NaN for a zero sum.
Test(ops_reduce, var_no_degrees_of_freedom_divides_by_zero) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 2}, (double[]){1, 2, 5, 5}}, false);
    for (int corr = 2; corr <= 3; corr++) {
        double v[2];
        cr_assert_eq(tg_copy_to_host(tg_var(tape, x, 1, (int[]){1}, corr, false), v, sizeof v),
                     TG_OK, "%s", tg_last_error());
        cr_expect(isinf(v[0]) && v[0] > 0, "correction %d: var(1, 2) = %g", corr, v[0]);
        cr_expect(isnan(v[1]), "correction %d: var(5, 5) = %g", corr, v[1]);
    }
    tg_tape_free(tape);
    tu_free(x);
}

// The second derivative through the zero-spread mask: the first gradient is built from
// differentiable ops, and both it and its own gradient are 0 on the constant row.
Test(ops_reduce, std_zero_spread_second_derivative) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, (double[]){2, 2, 2, 1, 2, 4}}, true);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){0.5, -1, 2}}, false);
    tg_tensor *y = tg_sum(tape, tg_std(tape, x, 1, (int[]){1}, 1, false));
    tg_backward_opts o = {.create_graph = true};
    tg_tensor *g = NULL;
    cr_assert_eq(tg_grad(tape, y, NULL, 1, &x, &g, &o), TG_OK, "%s", tg_last_error());
    cr_assert(tg_requires_grad(g));
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, g, w))), TG_OK, "%s",
                 tg_last_error());
    double gg[6];
    cr_assert_eq(tg_copy_to_host(tg_grad_of(x), gg, sizeof gg), TG_OK);
    for (int i = 0; i < 6; i++) cr_expect(isfinite(gg[i]), "gg[%d] = %g", i, gg[i]);
    for (int i = 0; i < 3; i++) cr_expect_eq(gg[i], 0.0, "gg[%d] = %g", i, gg[i]);
    tg_tape_free(tape);
    tu_free(x), tu_free(w);
}

// logsumexp's gradient is softmax at any magnitude: rows of equal values at 2^100 (1/3
// each; torch 1.13's backward, exp(x - rounded result), gives 1 there) and logits at 1e15
// offsets (torch's is off by up to 3%; the reference is the softmax of the offsets).
Test(ops_reduce, logsumexp_gradient_at_huge_magnitudes) {
    const double P = ldexp(1, 100), o[3] = {0, 1.25, -0.5};
    double e[3], s = 0;
    for (int i = 0; i < 3; i++) s += (e[i] = exp(o[i]));
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, (double[]){P, P, P, 1e15 + o[0],
                                                                  1e15 + o[1], 1e15 + o[2]}},
                           true);
    tg_tensor *y = tg_logsumexp(tape, x, 1, (int[]){1}, false);
    tu_expect_values(y, (double[]){P, 1e15 + o[0] + log(s)}, 2, 0.125);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){1.0 / 3, 1.0 / 3, 1.0 / 3, e[0] / s, e[1] / s, e[2] / s}, 6,
                   1e-15);
    tg_tape_free(tape);
    tu_free(x);
}

// var at 1e15 offsets: the value carries only the rounded mean's bias N delta^2 / (N - 1),
// |delta| <= half an ulp of 1e15 (torch 1.13's value is the same 2.3541666666666665), and the
// composed gradient (which includes the mean's share) is exactly 2 (x - mean) / (N - 1) with
// the exact mean 1e15 + 1.0625 (torch 1.13's is off by 0.04: it takes x - rounded mean).
Test(ops_reduce, var_at_large_offsets) {
    tg_tape *tape = tg_tape_new();
    const double o[4] = {0.25, 1.5, -0.5, 3}, mean = 1.0625;
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {4}, (double[]){1e15 + o[0], 1e15 + o[1],
                                                              1e15 + o[2], 1e15 + o[3]}}, true);
    tg_tensor *y = tg_var(tape, x, 1, (int[]){0}, 1, false);
    double ss = 0, want_g[4];
    for (int i = 0; i < 4; i++) {
        ss += (o[i] - mean) * (o[i] - mean);
        want_g[i] = 2 * (o[i] - mean) / 3;
    }
    tu_expect_values(y, (double[]){ss / 3}, 1, 4 * 0.0625 * 0.0625 / 3 + 1e-12);
    cr_assert_eq(tg_backward(tape, y), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, want_g, 4, 1e-12);
    tg_tape_free(tape);
    tu_free(x);
}

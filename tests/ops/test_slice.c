// Tests for ops/slice.c: permute, slice (Python semantics), slice_scatter, concat and the
// composed stack, squeeze, unsqueeze and flatten: forward values in f32 and f64, gradients
// worked by hand, and bad arguments.
#include "test_util.h"

TestSuite(ops_slice, .init = tg_clear_error);

typedef tg_tensor *(*apply_fn)(tg_tape *, tg_tensor *const *, const int64_t *arg);

// apply(inputs, arg) in both dtypes against want (inputs built from xs[0..n)).
static void check(apply_fn apply, const int64_t *arg, int n, const tu_arr *xs, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *in[4] = {0};
        for (int i = 0; i < n; i++) in[i] = tu_make(dt, xs[i], false);
        tg_tensor *y = apply(tape, in, arg);
        cr_assert_not_null(y, "%s: %s", tg_dtype_name(dt), tg_last_error());
        cr_expect_eq(tg_dtype_of(y), dt);
        tu_expect_arr(y, want, 0);
        tg_tape_free(tape);
        for (int i = 0; i < n; i++) tu_free(in[i]);
    }
}

// a = {n, perm[0], ..., perm[n-1]}
static tg_tensor *ap_permute(tg_tape *t, tg_tensor *const *in, const int64_t *a) {
    int perm[8];
    for (int i = 0; i < a[0]; i++) perm[i] = (int)a[1 + i];
    return tg_permute(t, in[0], perm);
}
// a = {axis, start, stop, step}
static tg_tensor *ap_slice(tg_tape *t, tg_tensor *const *in, const int64_t *a) {
    return tg_slice(t, in[0], (int)a[0], a[1], a[2], a[3]);
}
static tg_tensor *ap_slice_scatter(tg_tape *t, tg_tensor *const *in, const int64_t *a) {
    return tg_slice_scatter(t, in[0], in[1], (int)a[0], a[1], a[2], a[3]);
}
// a = {n, axis}
static tg_tensor *ap_concat(tg_tape *t, tg_tensor *const *in, const int64_t *a) {
    return tg_concat(t, (int)a[0], in, (int)a[1]);
}
static tg_tensor *ap_stack(tg_tape *t, tg_tensor *const *in, const int64_t *a) {
    return tg_stack(t, (int)a[0], in, (int)a[1]);
}
static tg_tensor *ap_squeeze(tg_tape *t, tg_tensor *const *in, const int64_t *a) {
    return tg_squeeze(t, in[0], (int)a[0]);
}
static tg_tensor *ap_unsqueeze(tg_tape *t, tg_tensor *const *in, const int64_t *a) {
    return tg_unsqueeze(t, in[0], (int)a[0]);
}
static tg_tensor *ap_flatten(tg_tape *t, tg_tensor *const *in, const int64_t *a) {
    return tg_flatten(t, in[0], (int)a[0], (int)a[1]);
}

static const double x23[6] = {1, 2, 3, 4, 5, 6};  // [[1,2,3],[4,5,6]]
static const double r10[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

// ---- forward ----

// x[i,j,k] = 12i + 4j + k over [2,3,4]; permute {2,0,1} gives y[k,i,j] = x[i,j,k].
Test(ops_slice, permute_forward) {
    double x[24], y[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                x[(i * 3 + j) * 4 + k] = 12 * i + 4 * j + k;
                y[(k * 2 + i) * 3 + j] = 12 * i + 4 * j + k;
            }
    cr_assert(y[0] == 0 && y[1] == 4 && y[3] == 12 && y[6] == 1);
    tu_arr tx = {3, {2, 3, 4}, x};
    check(ap_permute, (int64_t[]){3, 2, 0, 1}, 1, &tx, (tu_arr){3, {4, 2, 3}, y});
    check(ap_permute, (int64_t[]){3, -1, 0, -2}, 1, &tx, (tu_arr){3, {4, 2, 3}, y});
    check(ap_permute, (int64_t[]){3, 0, 1, 2}, 1, &tx, tx);
    check(ap_permute, (int64_t[]){2, 1, 0}, 1, &(tu_arr){2, {2, 3}, x23},
          (tu_arr){2, {3, 2}, (double[]){1, 4, 2, 5, 3, 6}});
}

Test(ops_slice, slice_forward) {
    tu_arr r = {1, {10}, r10};
    check(ap_slice, (int64_t[]){0, 2, 8, 2}, 1, &r, (tu_arr){1, {3}, (double[]){2, 4, 6}});
    check(ap_slice, (int64_t[]){0, -3, -1, 1}, 1, &r, (tu_arr){1, {2}, (double[]){7, 8}});
    check(ap_slice, (int64_t[]){-1, 5, 100, 1}, 1, &r, (tu_arr){1, {5}, (double[]){5, 6, 7, 8, 9}});
    check(ap_slice, (int64_t[]){0, -100, 3, 1}, 1, &r, (tu_arr){1, {3}, (double[]){0, 1, 2}});
    check(ap_slice, (int64_t[]){0, 1, 10, 4}, 1, &r, (tu_arr){1, {3}, (double[]){1, 5, 9}});
    check(ap_slice, (int64_t[]){0, 8, 2, 1}, 1, &r, (tu_arr){1, {0}, NULL});  // empty
    tu_arr x = {2, {2, 3}, x23};
    check(ap_slice, (int64_t[]){1, 1, 3, 1}, 1, &x, (tu_arr){2, {2, 2}, (double[]){2, 3, 5, 6}});
    check(ap_slice, (int64_t[]){0, 1, 2, 1}, 1, &x, (tu_arr){2, {1, 3}, (double[]){4, 5, 6}});
}

Test(ops_slice, slice_scatter_forward) {
    tu_arr in[2] = {{2, {3, 3}, (double[]){1, 1, 1, 1, 1, 1, 1, 1, 1}},
                    {2, {1, 3}, (double[]){7, 8, 9}}};
    check(ap_slice_scatter, (int64_t[]){0, 1, 2, 1}, 2, in,
          (tu_arr){2, {3, 3}, (double[]){1, 1, 1, 7, 8, 9, 1, 1, 1}});
    check(ap_slice_scatter, (int64_t[]){0, -1, 3, 1}, 2, in,
          (tu_arr){2, {3, 3}, (double[]){1, 1, 1, 1, 1, 1, 7, 8, 9}});
    tu_arr in2[2] = {{2, {2, 4}, (double[]){0, 0, 0, 0, 0, 0, 0, 0}},
                     {2, {2, 2}, (double[]){1, 2, 3, 4}}};
    check(ap_slice_scatter, (int64_t[]){-1, 0, 4, 2}, 2, in2,
          (tu_arr){2, {2, 4}, (double[]){1, 0, 2, 0, 3, 0, 4, 0}});
}

Test(ops_slice, concat_forward) {
    tu_arr in[3] = {{2, {2, 1}, (double[]){1, 2}},
                    {2, {2, 2}, (double[]){3, 4, 5, 6}},
                    {2, {2, 1}, (double[]){7, 8}}};
    check(ap_concat, (int64_t[]){2, 1}, 2, in, (tu_arr){2, {2, 3}, (double[]){1, 3, 4, 2, 5, 6}});
    check(ap_concat, (int64_t[]){3, -1}, 3, in,
          (tu_arr){2, {2, 4}, (double[]){1, 3, 4, 7, 2, 5, 6, 8}});
    tu_arr rows[2] = {{2, {1, 2}, (double[]){1, 2}}, {2, {2, 2}, (double[]){3, 4, 5, 6}}};
    check(ap_concat, (int64_t[]){2, 0}, 2, rows, (tu_arr){2, {3, 2}, (double[]){1, 2, 3, 4, 5, 6}});
    check(ap_concat, (int64_t[]){1, 0}, 1, rows, rows[0]);
}

Test(ops_slice, stack_forward) {
    tu_arr in[3] = {
        {1, {2}, (double[]){1, 2}}, {1, {2}, (double[]){3, 4}}, {1, {2}, (double[]){5, 6}}};
    check(ap_stack, (int64_t[]){2, 0}, 2, in, (tu_arr){2, {2, 2}, (double[]){1, 2, 3, 4}});
    check(ap_stack, (int64_t[]){3, 1}, 3, in, (tu_arr){2, {2, 3}, (double[]){1, 3, 5, 2, 4, 6}});
    check(ap_stack, (int64_t[]){2, -1}, 2, in, (tu_arr){2, {2, 2}, (double[]){1, 3, 2, 4}});
}

Test(ops_slice, squeeze_unsqueeze_flatten_forward) {
    check(ap_squeeze, (int64_t[]){1}, 1, &(tu_arr){3, {3, 1, 2}, x23}, (tu_arr){2, {3, 2}, x23});
    check(ap_squeeze, (int64_t[]){-100}, 1, &(tu_arr){4, {1, 3, 1, 2}, x23},
          (tu_arr){2, {3, 2}, x23});
    check(ap_squeeze, (int64_t[]){-1}, 1, &(tu_arr){2, {6, 1}, x23}, (tu_arr){1, {6}, x23});
    check(ap_unsqueeze, (int64_t[]){0}, 1, &(tu_arr){2, {2, 3}, x23}, (tu_arr){3, {1, 2, 3}, x23});
    check(ap_unsqueeze, (int64_t[]){-1}, 1, &(tu_arr){2, {2, 3}, x23}, (tu_arr){3, {2, 3, 1}, x23});
    check(ap_unsqueeze, (int64_t[]){1}, 1, &(tu_arr){2, {2, 3}, x23}, (tu_arr){3, {2, 1, 3}, x23});
    double x[24];
    for (int i = 0; i < 24; i++) x[i] = i;
    check(ap_flatten, (int64_t[]){1, 2}, 1, &(tu_arr){3, {2, 3, 4}, x}, (tu_arr){2, {2, 12}, x});
    check(ap_flatten, (int64_t[]){0, -1}, 1, &(tu_arr){3, {2, 3, 4}, x}, (tu_arr){1, {24}, x});
    check(ap_flatten, (int64_t[]){0, 1}, 1, &(tu_arr){3, {2, 3, 4}, x}, (tu_arr){2, {6, 4}, x});
    check(ap_flatten, (int64_t[]){0, 0}, 1, &(tu_arr){0, {0}, (double[]){5}},
          (tu_arr){1, {1}, (double[]){5}});
}

// ---- gradients worked by hand ----

// loss = sum(w * f(x)) for a fixed w; expects d loss / d x.
static void check_grad(apply_fn apply, const int64_t *arg, tu_arr x, tu_arr w, const double *want) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *tx = tu_make(TG_F64, x, true), *tw = tu_make(TG_F64, w, false);
    tg_tensor *y = apply(tape, &tx, arg);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, tw))), TG_OK, "%s",
                 tg_last_error());
    tu_expect_grad(tx, want, tu_numel(x.ndim, x.shape), 0);
    tg_tape_free(tape);
    tu_free(tx);
    tu_free(tw);
}

Test(ops_slice, slice_permute_grad) {
    // slice 1:5:2 of [6] picks 1 and 3: their gradients are w, the rest 0
    check_grad(ap_slice, (int64_t[]){0, 1, 5, 2}, (tu_arr){1, {6}, r10},
               (tu_arr){1, {2}, (double[]){10, 20}}, (double[]){0, 10, 0, 20, 0, 0});
    // permute {1,0} of [2,3]: the gradient is w transposed back
    check_grad(ap_permute, (int64_t[]){2, 1, 0}, (tu_arr){2, {2, 3}, x23},
               (tu_arr){2, {3, 2}, (double[]){1, 2, 3, 4, 5, 6}}, (double[]){1, 3, 5, 2, 4, 6});
}

// concat hands each input its own slice of the gradient; slice_scatter's base loses the
// overwritten part and src gets exactly that part.
Test(ops_slice, concat_slice_scatter_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){1, 2}}, true);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){3, 4, 5}}, true);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){1, {5}, (double[]){1, 2, 3, 4, 5}}, false);
    tg_tensor *y = tg_concat(tape, 2, (tg_tensor *[]){a, b}, 0);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, w))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(a, (double[]){1, 2}, 2, 0);
    tu_expect_grad(b, (double[]){3, 4, 5}, 3, 0);
    tg_tape_free(tape);
    tape = tg_tape_new();
    tg_tensor *src = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){7, 8}}, true);
    tg_zero_grad(1, &b);
    y = tg_slice_scatter(tape, b, src, 0, 0, 3, 2);  // b[0] = 7, b[2] = 8
    tg_tensor *w3 = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){1, 2, 3}}, false);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, w3))), TG_OK, "%s",
                 tg_last_error());
    tu_expect_grad(b, (double[]){0, 2, 0}, 3, 0);
    tu_expect_grad(src, (double[]){1, 3}, 2, 0);
    tg_tape_free(tape);
    tu_free(a), tu_free(b), tu_free(w), tu_free(src), tu_free(w3);
}

// ---- bad input ----

Test(ops_slice, bad_permute_slice) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tu_expect_fail(tg_permute(tape, x, (int[]){0, 0}), TG_ERR_INVALID_ARG, "tg_permute",
                   "permutation", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_permute(tape, x, (int[]){0, 2}), TG_ERR_INVALID_ARG, "tg_permute", "[2,3]",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_permute(tape, x, NULL), TG_ERR_INVALID_ARG, "tg_permute", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_slice(tape, x, 2, 0, 1, 1), TG_ERR_INVALID_ARG, "tg_slice", "axis 2",
                   "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_slice(tape, x, 0, 0, 1, 0), TG_ERR_INVALID_ARG, "tg_slice", "step 0", NULL);
    tg_clear_error();
    tu_expect_fail(tg_slice(tape, x, 0, 1, 0, -1), TG_ERR_INVALID_ARG, "tg_slice", "step -1", NULL);
    tg_clear_error();
    tu_expect_fail(tg_slice(tape, NULL, 0, 0, 1, 1), TG_ERR_INVALID_ARG, "tg_slice", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_permute(tape, NULL, (int[]){0}), TG_ERR_INVALID_ARG, "tg_permute", "NULL",
                   NULL);
    tg_tape_free(tape);
    tu_free(x);
}

Test(ops_slice, bad_slice_scatter) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *base = tu_make(TG_F64, (tu_arr){2, {4, 3}, NULL}, false);
    tg_tensor *src = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *s32 = tu_make(TG_F32, (tu_arr){2, {2, 3}, NULL}, false);
    tu_expect_fail(tg_slice_scatter(tape, base, src, 0, 0, 3, 1), TG_ERR_SHAPE, "tg_slice_scatter",
                   "[2,3]", "[4,3]");
    tg_clear_error();
    tu_expect_fail(tg_slice_scatter(tape, base, src, 1, 0, 2, 1), TG_ERR_SHAPE, "tg_slice_scatter",
                   "[2,3]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_slice_scatter(tape, base, src, 3, 0, 2, 1), TG_ERR_INVALID_ARG,
                   "tg_slice_scatter", "axis 3", NULL);
    tg_clear_error();
    tu_expect_fail(tg_slice_scatter(tape, base, s32, 0, 0, 2, 1), TG_ERR_DTYPE, "tg_slice_scatter",
                   "mixed dtypes", NULL);
    tg_clear_error();
    tu_expect_fail(tg_slice_scatter(tape, base, NULL, 0, 0, 2, 1), TG_ERR_INVALID_ARG,
                   "tg_slice_scatter", "NULL", NULL);
    tg_tape_free(tape);
    tu_free(base), tu_free(src), tu_free(s32);
}

Test(ops_slice, bad_concat_stack) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){2, {3, 2}, NULL}, false);
    tg_tensor *c = tu_make(TG_F32, (tu_arr){2, {2, 3}, NULL}, false);
    tu_expect_fail(tg_concat(tape, 2, (tg_tensor *[]){a, b}, 0), TG_ERR_SHAPE, "tg_concat", "[3,2]",
                   "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_concat(tape, 2, (tg_tensor *[]){a, a}, 2), TG_ERR_INVALID_ARG, "tg_concat",
                   "axis 2", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_concat(tape, 0, (tg_tensor *[]){a}, 0), TG_ERR_INVALID_ARG, "tg_concat",
                   "n >= 1", NULL);
    tg_clear_error();
    tu_expect_fail(tg_concat(tape, 2, (tg_tensor *[]){a, c}, 0), TG_ERR_DTYPE, "tg_concat",
                   "mixed dtypes", NULL);
    tg_clear_error();
    tu_expect_fail(tg_concat(tape, 2, (tg_tensor *[]){a, NULL}, 0), TG_ERR_INVALID_ARG, "tg_concat",
                   "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_stack(tape, 2, (tg_tensor *[]){a, b}, 0), TG_ERR_SHAPE, "tg_stack", "[3,2]",
                   "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_stack(tape, 0, (tg_tensor *[]){a}, 0), TG_ERR_INVALID_ARG, "tg_stack", NULL,
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_stack(tape, 2, (tg_tensor *[]){a, a}, 3), TG_ERR_INVALID_ARG, "tg_stack",
                   "axis 3", NULL);
    tg_tape_free(tape);
    tu_free(a), tu_free(b), tu_free(c);
}

Test(ops_slice, bad_squeeze_unsqueeze_flatten) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){3, {2, 1, 3}, NULL}, false);
    tu_expect_fail(tg_squeeze(tape, x, 0), TG_ERR_INVALID_ARG, "tg_squeeze", "axis 0", "[2,1,3]");
    tg_clear_error();
    tu_expect_fail(tg_squeeze(tape, x, 3), TG_ERR_INVALID_ARG, "tg_squeeze", "axis 3", NULL);
    tg_clear_error();
    tu_expect_fail(tg_unsqueeze(tape, x, 4), TG_ERR_INVALID_ARG, "tg_unsqueeze", "axis 4",
                   "[2,1,3]");
    tg_clear_error();
    tu_expect_fail(tg_unsqueeze(tape, x, -5), TG_ERR_INVALID_ARG, "tg_unsqueeze", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_flatten(tape, x, 2, 1), TG_ERR_INVALID_ARG, "tg_flatten", "[2, 1]",
                   "[2,1,3]");
    tg_clear_error();
    tu_expect_fail(tg_flatten(tape, x, 0, 3), TG_ERR_INVALID_ARG, "tg_flatten", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_squeeze(tape, NULL, 0), TG_ERR_INVALID_ARG, "NULL", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_unsqueeze(tape, NULL, 0), TG_ERR_INVALID_ARG, "NULL", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_flatten(tape, NULL, 0, 1), TG_ERR_INVALID_ARG, "NULL", NULL, NULL);
    tg_tape_free(tape);
    tu_free(x);
}

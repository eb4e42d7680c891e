// Tests for ops/index.c: gather, scatter_add (repeated indices add up), the composed
// index_select and one_hot, the arange / full constants: forward values in f32 and f64,
// gradients worked by hand, and bad indices, shapes and arguments.
#include "test_util.h"

TestSuite(ops_index, .init = tg_clear_error);

static const double x23[6] = {1, 2, 3, 4, 5, 6};  // [[1,2,3],[4,5,6]]

typedef tg_tensor *(*apply_fn)(tg_tape *, tg_tensor *const *, int axis);

static tg_tensor *ap_gather(tg_tape *t, tg_tensor *const *in, int axis) {
    return tg_gather(t, in[0], axis, in[1]);
}
static tg_tensor *ap_scatter_add(tg_tape *t, tg_tensor *const *in, int axis) {
    return tg_scatter_add(t, in[0], axis, in[1], in[2]);
}
static tg_tensor *ap_index_select(tg_tape *t, tg_tensor *const *in, int axis) {
    return tg_index_select(t, in[0], axis, in[1]);
}
static tg_tensor *ap_one_hot(tg_tape *t, tg_tensor *const *in, int n_classes) {
    return tg_one_hot(t, in[0], n_classes);
}

// apply(inputs, axis) in both dtypes against want.
static void check(apply_fn apply, int axis, int n, const tu_arr *xs, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *in[3] = {0};
        for (int i = 0; i < n; i++) in[i] = tu_make(dt, xs[i], false);
        tg_tensor *y = apply(tape, in, axis);
        cr_assert_not_null(y, "%s: %s", tg_dtype_name(dt), tg_last_error());
        cr_expect_eq(tg_dtype_of(y), dt);
        tu_expect_arr(y, want, 0);
        tg_tape_free(tape);
        for (int i = 0; i < n; i++) tu_free(in[i]);
    }
}

// ---- forward ----

Test(ops_index, gather_forward) {
    tu_arr in[2] = {{2, {2, 3}, x23}, {2, {2, 2}, (double[]){2, 0, 1, 1}}};
    check(ap_gather, 1, 2, in, (tu_arr){2, {2, 2}, (double[]){3, 1, 5, 5}});
    check(ap_gather, -1, 2, in, (tu_arr){2, {2, 2}, (double[]){3, 1, 5, 5}});
    tu_arr in0[2] = {{2, {2, 3}, x23}, {2, {1, 3}, (double[]){1, 0, 1}}};
    check(ap_gather, 0, 2, in0, (tu_arr){2, {1, 3}, (double[]){4, 2, 6}});
    // the index may be longer than x along the gather axis (repeats)
    tu_arr rep[2] = {{1, {3}, (double[]){7, 8, 9}}, {1, {5}, (double[]){2, 2, 0, 1, 2}}};
    check(ap_gather, 0, 2, rep, (tu_arr){1, {5}, (double[]){9, 9, 7, 8, 9}});
}

// y = base; y[index[i][j]][j] += src[i][j] (axis 0), repeated targets add up.
Test(ops_index, scatter_add_forward) {
    tu_arr in1[3] = {{2, {2, 3}, (double[]){0, 0, 0, 0, 0, 0}},
                     {2, {2, 2}, (double[]){0, 0, 2, 1}},
                     {2, {2, 2}, (double[]){1, 2, 3, 4}}};
    check(ap_scatter_add, 1, 3, in1, (tu_arr){2, {2, 3}, (double[]){3, 0, 0, 0, 4, 3}});
    tu_arr in0[3] = {{2, {2, 2}, (double[]){1, 1, 1, 1}},
                     {2, {2, 2}, (double[]){1, 0, 1, 1}},
                     {2, {2, 2}, (double[]){5, 6, 7, 8}}};
    check(ap_scatter_add, 0, 3, in0, (tu_arr){2, {2, 2}, (double[]){1, 7, 13, 9}});
}

Test(ops_index, index_select_forward) {
    tu_arr rows[2] = {{2, {2, 3}, x23}, {1, {3}, (double[]){1, 1, 0}}};
    check(ap_index_select, 0, 2, rows, (tu_arr){2, {3, 3}, (double[]){4, 5, 6, 4, 5, 6, 1, 2, 3}});
    tu_arr cols[2] = {{2, {2, 3}, x23}, {1, {2}, (double[]){2, 0}}};
    check(ap_index_select, 1, 2, cols, (tu_arr){2, {2, 2}, (double[]){3, 1, 6, 4}});
    check(ap_index_select, -1, 2, cols, (tu_arr){2, {2, 2}, (double[]){3, 1, 6, 4}});
}

Test(ops_index, one_hot_forward) {
    tu_arr l1 = {1, {3}, (double[]){2, 0, 1}};
    check(ap_one_hot, 3, 1, &l1, (tu_arr){2, {3, 3}, (double[]){0, 0, 1, 1, 0, 0, 0, 1, 0}});
    check(ap_one_hot, 4, 1, &l1,
          (tu_arr){2, {3, 4}, (double[]){0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0}});
    tu_arr l2 = {2, {1, 2}, (double[]){1, 1}};
    check(ap_one_hot, 2, 1, &l2, (tu_arr){3, {1, 2, 2}, (double[]){0, 1, 0, 1}});
}

Test(ops_index, arange_full_forward) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tu_expect_arr(tg_arange(tape, tu_cpu(), dt, 4, 1, 0.5),
                      (tu_arr){1, {4}, (double[]){1, 1.5, 2, 2.5}}, 0);
        tu_expect_arr(tg_arange(tape, tu_cpu(), dt, 3, 0, -2),
                      (tu_arr){1, {3}, (double[]){0, -2, -4}}, 0);
        tu_expect_arr(tg_arange(tape, tu_cpu(), dt, 0, 0, 1), (tu_arr){1, {0}, NULL}, 0);
        tg_tensor *f = tg_full(tape, tu_cpu(), dt, 2, (int64_t[]){2, 2}, 7);
        tu_expect_arr(f, (tu_arr){2, {2, 2}, (double[]){7, 7, 7, 7}}, 0);
        cr_expect_eq(tg_dtype_of(f), dt);
        cr_expect(tg_is_step(f));
        cr_expect_not(tg_requires_grad(f));
        tu_expect_arr(tg_full(tape, tu_cpu(), dt, 0, NULL, -1), (tu_arr){0, {0}, (double[]){-1}},
                      0);
        tg_tape_free(tape);
    }
}

// ---- gradients worked by hand ----

// d/dx sum(w * gather(x, index)): each x[i] collects the w's of the places that read it.
Test(ops_index, gather_grad_repeats) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){7, 8, 9}}, true);
    tg_tensor *idx = tu_make(TG_F64, (tu_arr){1, {4}, (double[]){0, 0, 2, 0}}, false);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){1, {4}, (double[]){1, 2, 3, 4}}, false);
    tg_tensor *y = tg_gather(tape, x, 0, idx);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, w))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){7, 0, 3}, 3, 0);
    tg_tape_free(tape);
    tu_free(x), tu_free(idx), tu_free(w);
}

// dbase = dy, dsrc = gather(dy, index).
Test(ops_index, scatter_add_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *base = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){1, 1, 1}}, true);
    tg_tensor *idx = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){2, 2}}, false);
    tg_tensor *src = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){5, 6}}, true);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){10, 20, 30}}, false);
    tg_tensor *y = tg_scatter_add(tape, base, 0, idx, src);
    tu_expect_values(y, (double[]){1, 1, 12}, 3, 0);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, w))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(base, (double[]){10, 20, 30}, 3, 0);
    tu_expect_grad(src, (double[]){30, 30}, 2, 0);
    tg_tape_free(tape);
    tu_free(base), tu_free(idx), tu_free(src), tu_free(w);
}

// ---- bad input ----

Test(ops_index, bad_gather) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, x23}, false);
    tg_tensor *i1 = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){0, 1, 2}}, false);
    tg_tensor *big = tu_make(TG_F64, (tu_arr){2, {3, 1}, (double[]){0, 1, 0}}, false);
    tg_tensor *oob = tu_make(TG_F64, (tu_arr){2, {2, 1}, (double[]){0, 3}}, false);
    tg_tensor *neg = tu_make(TG_F64, (tu_arr){2, {2, 1}, (double[]){-1, 0}}, false);
    tg_tensor *frac = tu_make(TG_F64, (tu_arr){2, {2, 1}, (double[]){0.5, 0}}, false);
    tg_tensor *i32 = tu_make(TG_F32, (tu_arr){2, {2, 1}, (double[]){0, 0}}, false);
    tu_expect_fail(tg_gather(tape, x, 1, i1), TG_ERR_SHAPE, "tg_gather", "[3]", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_gather(tape, x, 1, big), TG_ERR_SHAPE, "tg_gather", "[3,1]", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_gather(tape, x, 1, oob), TG_ERR_INVALID_ARG, "tg_gather", "out of range",
                   "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_gather(tape, x, 1, neg), TG_ERR_INVALID_ARG, "tg_gather", "out of range",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_gather(tape, x, 1, frac), TG_ERR_INVALID_ARG, "tg_gather", "integral", NULL);
    tg_clear_error();
    tu_expect_fail(tg_gather(tape, x, 2, oob), TG_ERR_INVALID_ARG, "tg_gather", "axis 2", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_gather(tape, x, 1, i32), TG_ERR_DTYPE, "tg_gather", "mixed dtypes", NULL);
    tg_clear_error();
    tu_expect_fail(tg_gather(tape, x, 1, NULL), TG_ERR_INVALID_ARG, "tg_gather", "NULL", NULL);
    tg_tape_free(tape);
    tu_free(x), tu_free(i1), tu_free(big), tu_free(oob), tu_free(neg), tu_free(frac), tu_free(i32);
}

Test(ops_index, bad_scatter_add) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *base = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *idx = tu_make(TG_F64, (tu_arr){2, {2, 1}, (double[]){0, 1}}, false);
    tg_tensor *src = tu_make(TG_F64, (tu_arr){2, {2, 2}, NULL}, false);
    tg_tensor *oob = tu_make(TG_F64, (tu_arr){2, {2, 1}, (double[]){0, 5}}, false);
    tg_tensor *src1 = tu_make(TG_F64, (tu_arr){2, {2, 1}, NULL}, false);
    tu_expect_fail(tg_scatter_add(tape, base, 1, idx, src), TG_ERR_SHAPE, "tg_scatter_add", "[2,1]",
                   "[2,2]");
    tg_clear_error();
    tu_expect_fail(tg_scatter_add(tape, base, 1, oob, src1), TG_ERR_INVALID_ARG, "tg_scatter_add",
                   "out of range", NULL);
    tg_clear_error();
    tu_expect_fail(tg_scatter_add(tape, base, -3, idx, src1), TG_ERR_INVALID_ARG, "tg_scatter_add",
                   "axis -3", NULL);
    tg_clear_error();
    tu_expect_fail(tg_scatter_add(tape, base, 1, idx, NULL), TG_ERR_INVALID_ARG, "tg_scatter_add",
                   "NULL", NULL);
    tg_tape_free(tape);
    tu_free(base), tu_free(idx), tu_free(src), tu_free(oob), tu_free(src1);
}

Test(ops_index, bad_index_select_one_hot_constants) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, x23}, false);
    tg_tensor *i2 = tu_make(TG_F64, (tu_arr){2, {1, 1}, (double[]){0}}, false);
    tg_tensor *lab = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){0, 3}}, false);
    tu_expect_fail(tg_index_select(tape, x, 0, i2), TG_ERR_SHAPE, "tg_index_select", "1-D",
                   "[1,1]");
    tg_clear_error();
    tu_expect_fail(tg_index_select(tape, x, 2, lab), TG_ERR_INVALID_ARG, "tg_index_select",
                   "axis 2", NULL);
    tg_clear_error();
    tu_expect_fail(tg_index_select(tape, NULL, 0, lab), TG_ERR_INVALID_ARG, "tg_index_select",
                   "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_one_hot(tape, lab, 0), TG_ERR_INVALID_ARG, "tg_one_hot", "n_classes", NULL);
    tg_clear_error();
    tu_expect_fail(tg_one_hot(tape, lab, 3), TG_ERR_INVALID_ARG, "out of range", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_one_hot(tape, NULL, 3), TG_ERR_INVALID_ARG, "tg_one_hot", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_arange(tape, tu_cpu(), TG_F64, -1, 0, 1), TG_ERR_INVALID_ARG, "tg_arange",
                   "need n >= 0", NULL);
    tg_clear_error();
    tu_expect_fail(tg_full(NULL, tu_cpu(), TG_F64, 0, NULL, 1), TG_ERR_INVALID_ARG, "tg_full",
                   "tape", NULL);
    tg_clear_error();
    tu_expect_fail(tg_full(tape, NULL, TG_F64, 0, NULL, 1), TG_ERR_INVALID_ARG, "tg_full",
                   "backend", NULL);
    tg_clear_error();
    tu_expect_fail(tg_full(tape, tu_cpu(), TG_F64, 1, (int64_t[]){-2}, 1), TG_ERR_SHAPE, "tg_full",
                   "[-2]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_full(tape, tu_cpu(), (tg_dtype)7, 0, NULL, 1), TG_ERR_DTYPE, "tg_full",
                   "dtype", NULL);
    tg_tape_free(tape);
    tu_free(x), tu_free(i2), tu_free(lab);
}

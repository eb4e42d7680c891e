// Tests for ops/compare.c: comparison masks (tensor and scalar forms, broadcasting, the
// inputs' dtype, no gradient), maximum / minimum (ties split the gradient), where, and bad
// input (shapes, NULLs, mixed dtypes).
#include "test_util.h"

TestSuite(ops_compare, .init = tg_clear_error);

typedef tg_tensor *(*binary_fn)(tg_tape *, tg_tensor *, tg_tensor *);
typedef tg_tensor *(*scalar_fn)(tg_tape *, tg_tensor *, double);

static const struct {
    const char *name;
    binary_fn fn;
    double want[3];  // for a = {1,2,3}, b = {2,2,2}
} cmp_ops[] = {
    {"tg_gt", tg_gt, {0, 0, 1}}, {"tg_lt", tg_lt, {1, 0, 0}}, {"tg_ge", tg_ge, {0, 1, 1}},
    {"tg_le", tg_le, {1, 1, 0}}, {"tg_eq", tg_eq, {0, 1, 0}}, {"tg_ne", tg_ne, {1, 0, 1}},
};
#define N_CMP (sizeof cmp_ops / sizeof cmp_ops[0])

static void check_binary(binary_fn fn, tu_arr a, tu_arr b, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *ta = tu_make(dt, a, true), *tb = tu_make(dt, b, false);
        tg_tensor *y = fn(tape, ta, tb);
        cr_assert_not_null(y, "%s: %s", tg_dtype_name(dt), tg_last_error());
        cr_expect_eq(tg_dtype_of(y), dt);
        tu_expect_arr(y, want, 0);
        tg_tape_free(tape);
        tu_free(ta);
        tu_free(tb);
    }
}

// ---- comparisons ----

Test(ops_compare, compare_forward) {
    tu_arr a = {1, {3}, (double[]){1, 2, 3}}, b = {1, {3}, (double[]){2, 2, 2}};
    for (size_t i = 0; i < N_CMP; i++)
        check_binary(cmp_ops[i].fn, a, b, (tu_arr){1, {3}, cmp_ops[i].want});
    // broadcast [3,1] vs [2]: row i compares a[i] with each b[j]
    tu_arr col = {2, {3, 1}, (double[]){1, 2, 3}}, row = {1, {2}, (double[]){2, 3}};
    check_binary(tg_gt, col, row, (tu_arr){2, {3, 2}, (double[]){0, 0, 0, 0, 1, 0}});
    check_binary(tg_eq, col, row, (tu_arr){2, {3, 2}, (double[]){0, 0, 1, 0, 0, 1}});
    check_binary(tg_le, (tu_arr){0, {0}, (double[]){2}}, a, (tu_arr){1, {3}, (double[]){0, 1, 1}});
}

Test(ops_compare, compare_scalar_forward) {
    static const struct {
        scalar_fn fn;
        double want[3];  // for x = {1,2,3}, s = 2
    } ops[] = {{tg_gt_scalar, {0, 0, 1}}, {tg_lt_scalar, {1, 0, 0}}, {tg_ge_scalar, {0, 1, 1}},
               {tg_le_scalar, {1, 1, 0}}, {tg_eq_scalar, {0, 1, 0}}, {tg_ne_scalar, {1, 0, 1}}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        for (int k = 0; k < TU_N_DTYPES; k++) {
            tg_tape *tape = tg_tape_new();
            tg_tensor *x = tu_make(tu_dtype(k), (tu_arr){1, {3}, (double[]){1, 2, 3}}, true);
            tg_tensor *y = ops[i].fn(tape, x, 2.0);
            tu_expect_arr(y, (tu_arr){1, {3}, ops[i].want}, 0);
            cr_expect_not(tg_requires_grad(y), "op %zu: a mask must not require grad", i);
            cr_expect_eq(tg_tape_size(tape), 0);
            tg_tape_free(tape);
            tu_free(x);
        }
    }
}

// Masks record nothing even when their inputs require grad.
Test(ops_compare, compare_has_no_gradient) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){1, 2, 3}}, true);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){2, 2, 2}}, true);
    for (size_t i = 0; i < N_CMP; i++) {
        tg_tensor *m = cmp_ops[i].fn(tape, a, b);
        cr_assert_not_null(m, "%s: %s", cmp_ops[i].name, tg_last_error());
        cr_expect_not(tg_requires_grad(m), "%s requires grad", cmp_ops[i].name);
    }
    cr_expect_eq(tg_tape_size(tape), 0);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// ---- maximum / minimum ----

Test(ops_compare, maximum_minimum_forward) {
    tu_arr a = {1, {3}, (double[]){1, 5, 3}}, b = {1, {3}, (double[]){4, 2, 3}};
    check_binary(tg_maximum, a, b, (tu_arr){1, {3}, (double[]){4, 5, 3}});
    check_binary(tg_minimum, a, b, (tu_arr){1, {3}, (double[]){1, 2, 3}});
    tu_arr col = {2, {2, 1}, (double[]){0, 10}}, row = {1, {3}, (double[]){-1, 5, 20}};
    check_binary(tg_maximum, col, row, (tu_arr){2, {2, 3}, (double[]){0, 5, 20, 10, 10, 20}});
    check_binary(tg_minimum, col, row, (tu_arr){2, {2, 3}, (double[]){-1, 0, 0, -1, 5, 10}});
}

// The winner takes the gradient; a tie gives each side half (PyTorch).
Test(ops_compare, maximum_minimum_grad_ties) {
    binary_fn fns[2] = {tg_maximum, tg_minimum};
    double want_a[2][3] = {{0, 1, 0.5}, {1, 0, 0.5}}, want_b[2][3] = {{1, 0, 0.5}, {0, 1, 0.5}};
    for (int f = 0; f < 2; f++) {
        tg_tape *tape = tg_tape_new();
        tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){1, 5, 3}}, true);
        tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){4, 2, 3}}, true);
        cr_assert_eq(tg_backward(tape, tg_sum(tape, fns[f](tape, a, b))), TG_OK, "%s",
                     tg_last_error());
        tu_expect_grad(a, want_a[f], 3, 0);
        tu_expect_grad(b, want_b[f], 3, 0);
        tg_tape_free(tape);
        tu_free(a);
        tu_free(b);
    }
}

// ---- where ----

Test(ops_compare, where_forward) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *c = tu_make(dt, (tu_arr){1, {4}, (double[]){1, 0, 2, 0}}, false);
        tg_tensor *a = tu_make(dt, (tu_arr){1, {4}, (double[]){1, 2, 3, 4}}, false);
        tg_tensor *b = tu_make(dt, (tu_arr){1, {4}, (double[]){10, 20, 30, 40}}, false);
        tu_expect_arr(tg_where(tape, c, a, b), (tu_arr){1, {4}, (double[]){1, 20, 3, 40}}, 0);
        // all three broadcast: cond [2,1], a [1,3], b []
        tg_tensor *c2 = tu_make(dt, (tu_arr){2, {2, 1}, (double[]){0, 1}}, false);
        tg_tensor *a2 = tu_make(dt, (tu_arr){2, {1, 3}, (double[]){1, 2, 3}}, false);
        tg_tensor *b2 = tu_make(dt, (tu_arr){0, {0}, (double[]){-1}}, false);
        tu_expect_arr(tg_where(tape, c2, a2, b2),
                      (tu_arr){2, {2, 3}, (double[]){-1, -1, -1, 1, 2, 3}}, 0);
        tg_tape_free(tape);
        tu_free(c), tu_free(a), tu_free(b), tu_free(c2), tu_free(a2), tu_free(b2);
    }
}

// da = dy*cond, db = dy*(1-cond), summed back to broadcast shapes; nothing to cond.
Test(ops_compare, where_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *c = tu_make(TG_F64, (tu_arr){2, {2, 1}, (double[]){0, 1}}, true);
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {1, 3}, (double[]){1, 2, 3}}, true);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){0, {0}, (double[]){-1}}, true);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_where(tape, c, a, b))), TG_OK, "%s",
                 tg_last_error());
    tu_expect_grad(a, (double[]){1, 1, 1}, 3, 0);
    tu_expect_grad(b, (double[]){3}, 1, 0);
    cr_expect_null(tg_grad_of(c), "a gradient reached cond (a selector)");
    tg_tape_free(tape);
    tu_free(c), tu_free(a), tu_free(b);
}

// ---- bad input ----

Test(ops_compare, shape_mismatch) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {4}, NULL}, false);
    for (size_t i = 0; i < N_CMP; i++) {
        tg_clear_error();
        tu_expect_fail(cmp_ops[i].fn(tape, a, b), TG_ERR_SHAPE, cmp_ops[i].name, "[2,3]", "[4]");
    }
    tg_clear_error();
    tu_expect_fail(tg_maximum(tape, a, b), TG_ERR_SHAPE, "tg_maximum", "[2,3]", "[4]");
    tg_clear_error();
    tu_expect_fail(tg_minimum(tape, b, a), TG_ERR_SHAPE, "tg_minimum", "[4]", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_where(tape, a, a, b), TG_ERR_SHAPE, "tg_where", "[2,3]", "[4]");
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

Test(ops_compare, null_and_dtype) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F32, (tu_arr){1, {3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    for (size_t i = 0; i < N_CMP; i++) {
        tg_clear_error();
        tu_expect_fail(cmp_ops[i].fn(tape, NULL, b), TG_ERR_INVALID_ARG, cmp_ops[i].name, "NULL",
                       NULL);
        tg_clear_error();
        tu_expect_fail(cmp_ops[i].fn(tape, a, b), TG_ERR_DTYPE, cmp_ops[i].name, "mixed dtypes",
                       NULL);
    }
    scalar_fn sfns[] = {tg_lt_scalar, tg_ge_scalar, tg_le_scalar, tg_eq_scalar, tg_ne_scalar};
    const char *snames[] = {"tg_lt_scalar", "tg_ge_scalar", "tg_le_scalar", "tg_eq_scalar",
                            "tg_ne_scalar"};
    for (size_t i = 0; i < 5; i++) {
        tg_clear_error();
        tu_expect_fail(sfns[i](tape, NULL, 1), TG_ERR_INVALID_ARG, snames[i], "NULL", NULL);
    }
    tg_clear_error();
    tu_expect_fail(tg_maximum(tape, a, b), TG_ERR_DTYPE, "tg_maximum", "mixed dtypes", NULL);
    tg_clear_error();
    tu_expect_fail(tg_minimum(tape, a, NULL), TG_ERR_INVALID_ARG, "tg_minimum", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_where(tape, b, a, b), TG_ERR_DTYPE, "tg_where", "mixed dtypes", NULL);
    tg_clear_error();
    tu_expect_fail(tg_where(tape, NULL, b, b), TG_ERR_INVALID_ARG, "tg_where", "NULL", NULL);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

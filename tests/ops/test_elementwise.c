// Tests for ops/elementwise.c: forward values (f32 and f64, every broadcast pattern),
// hand-computed gradients where broadcasting or kinks matter, and bad input (shapes,
// NULLs and the first-error rule, mixed dtypes, foreign tapes). Gradchecks run from the
// op case table in test_coverage.c.
#include "test_util.h"

TestSuite(ops_elementwise, .init = tg_clear_error);

typedef tg_tensor *(*binary_fn)(tg_tape *, tg_tensor *, tg_tensor *);
typedef tg_tensor *(*scalar_fn)(tg_tape *, tg_tensor *, double);
typedef tg_tensor *(*unary_fn)(tg_tape *, tg_tensor *);

static const struct {
    const char *name;
    binary_fn fn;
} binary_ops[] = {{"tg_add", tg_add}, {"tg_sub", tg_sub}, {"tg_mul", tg_mul}, {"tg_div", tg_div}};

// Runs fn(a, b) in both dtypes and expects `want` (shape and values).
static void check_binary(binary_fn fn, tu_arr a, tu_arr b, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *ta = tu_make(dt, a, false), *tb = tu_make(dt, b, false);
        tg_tensor *y = fn(tape, ta, tb);
        cr_assert_not_null(y, "%s: %s", tg_dtype_name(dt), tg_last_error());
        cr_expect_eq(tg_dtype_of(y), dt);
        cr_expect(tg_is_step(y));
        tu_expect_arr(y, want, tu_tol(dt));
        tg_tape_free(tape);
        tu_free(ta);
        tu_free(tb);
    }
}

static void check_scalar(scalar_fn fn, double s, tu_arr x, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *tx = tu_make(dt, x, false);
        tu_expect_arr(fn(tape, tx, s), want, tu_tol(dt));
        tg_tape_free(tape);
        tu_free(tx);
    }
}

static void check_unary(unary_fn fn, tu_arr x, tu_arr want, double tol_f32) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *tx = tu_make(dt, x, false);
        tu_expect_arr(fn(tape, tx), want, dt == TG_F32 ? tol_f32 : 1e-12);
        tg_tape_free(tape);
        tu_free(tx);
    }
}

// ---- binary forward ----

static const double a23[6] = {1, 2, 3, 4, 5, 6};
static const double b23[6] = {0.5, -1, 2, 4, -2, 3};

Test(ops_elementwise, add_forward) {
    check_binary(tg_add, (tu_arr){2, {2, 3}, a23}, (tu_arr){2, {2, 3}, b23},
                 (tu_arr){2, {2, 3}, (double[]){1.5, 1, 5, 8, 3, 9}});
    check_binary(tg_add, (tu_arr){2, {3, 1}, (double[]){1, 2, 3}},
                 (tu_arr){2, {1, 4}, (double[]){10, 20, 30, 40}},
                 (tu_arr){2, {3, 4}, (double[]){11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43}});
    check_binary(tg_add, (tu_arr){0, {0}, (double[]){2}}, (tu_arr){2, {2, 3}, a23},
                 (tu_arr){2, {2, 3}, (double[]){3, 4, 5, 6, 7, 8}});
    check_binary(tg_add, (tu_arr){0, {0}, (double[]){2}}, (tu_arr){0, {0}, (double[]){-0.5}},
                 (tu_arr){0, {0}, (double[]){1.5}});
}

Test(ops_elementwise, sub_forward) {
    check_binary(tg_sub, (tu_arr){2, {2, 3}, a23}, (tu_arr){2, {2, 3}, b23},
                 (tu_arr){2, {2, 3}, (double[]){0.5, 3, 1, 0, 7, 3}});
    check_binary(
        tg_sub, (tu_arr){2, {3, 1}, (double[]){1, 2, 3}},
        (tu_arr){2, {1, 4}, (double[]){10, 20, 30, 40}},
        (tu_arr){2, {3, 4}, (double[]){-9, -19, -29, -39, -8, -18, -28, -38, -7, -17, -27, -37}});
    check_binary(tg_sub, (tu_arr){0, {0}, (double[]){2}}, (tu_arr){2, {2, 3}, a23},
                 (tu_arr){2, {2, 3}, (double[]){1, 0, -1, -2, -3, -4}});
    check_binary(tg_sub, (tu_arr){2, {2, 3}, a23}, (tu_arr){0, {0}, (double[]){2}},
                 (tu_arr){2, {2, 3}, (double[]){-1, 0, 1, 2, 3, 4}});
}

Test(ops_elementwise, mul_forward) {
    check_binary(tg_mul, (tu_arr){2, {2, 3}, a23}, (tu_arr){2, {2, 3}, b23},
                 (tu_arr){2, {2, 3}, (double[]){0.5, -2, 6, 16, -10, 18}});
    check_binary(tg_mul, (tu_arr){2, {3, 1}, (double[]){1, 2, 3}},
                 (tu_arr){2, {1, 4}, (double[]){10, 20, 30, 40}},
                 (tu_arr){2, {3, 4}, (double[]){10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120}});
    check_binary(tg_mul, (tu_arr){0, {0}, (double[]){2}}, (tu_arr){2, {2, 3}, a23},
                 (tu_arr){2, {2, 3}, (double[]){2, 4, 6, 8, 10, 12}});
}

Test(ops_elementwise, div_forward) {
    check_binary(tg_div, (tu_arr){2, {2, 3}, a23}, (tu_arr){2, {2, 3}, b23},
                 (tu_arr){2, {2, 3}, (double[]){2, -2, 1.5, 1, -2.5, 2}});
    check_binary(
        tg_div, (tu_arr){2, {3, 1}, (double[]){1, 2, 3}},
        (tu_arr){2, {1, 4}, (double[]){10, 20, 40, 50}},
        (tu_arr){2,
                 {3, 4},
                 (double[]){0.1, 0.05, 0.025, 0.02, 0.2, 0.1, 0.05, 0.04, 0.3, 0.15, 0.075, 0.06}});
    check_binary(tg_div, (tu_arr){0, {0}, (double[]){3}}, (tu_arr){2, {2, 3}, a23},
                 (tu_arr){2, {2, 3}, (double[]){3, 1.5, 1, 0.75, 0.6, 0.5}});
    check_binary(tg_div, (tu_arr){2, {2, 3}, a23}, (tu_arr){0, {0}, (double[]){-4}},
                 (tu_arr){2, {2, 3}, (double[]){-0.25, -0.5, -0.75, -1, -1.25, -1.5}});
}

// [2,3,4] op [4]: the [4] operand repeats along the last axis of every row.
Test(ops_elementwise, binary_trailing_broadcast) {
    double a[24], b[4] = {1, -1, 2, -4}, want[4][24];
    for (int i = 0; i < 24; i++) {
        a[i] = i;
        want[0][i] = i + b[i % 4];
        want[1][i] = i - b[i % 4];
        want[2][i] = i * b[i % 4];
        want[3][i] = i / b[i % 4];
    }
    // spot values worked by hand: element 7 = a[7] op b[3] = 7 op -4
    cr_assert_eq(want[0][7], 3.0);
    cr_assert_eq(want[3][7], -1.75);
    for (int op = 0; op < 4; op++)
        check_binary(binary_ops[op].fn, (tu_arr){3, {2, 3, 4}, a}, (tu_arr){1, {4}, b},
                     (tu_arr){3, {2, 3, 4}, want[op]});
    // and the other way round: [4] op [2,3,4] (only add and mul commute)
    check_binary(tg_add, (tu_arr){1, {4}, b}, (tu_arr){3, {2, 3, 4}, a},
                 (tu_arr){3, {2, 3, 4}, want[0]});
    check_binary(tg_mul, (tu_arr){1, {4}, b}, (tu_arr){3, {2, 3, 4}, a},
                 (tu_arr){3, {2, 3, 4}, want[2]});
}

// Both sides broadcast into a shape neither has: [2,1,3] + [4,1] -> [2,4,3].
Test(ops_elementwise, binary_two_sided_broadcast) {
    double a[6] = {1, 2, 3, 4, 5, 6}, b[4] = {0, 10, 20, 30}, want[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++) want[(i * 4 + j) * 3 + k] = a[i * 3 + k] + b[j];
    cr_assert_eq(want[23], 36.0);  // a[1,0,2] + b[3,0] = 6 + 30
    check_binary(tg_add, (tu_arr){3, {2, 1, 3}, a}, (tu_arr){2, {4, 1}, b},
                 (tu_arr){3, {2, 4, 3}, want});
}

// Zero-size axes broadcast like any other: [0,3] + [3] -> [0,3].
Test(ops_elementwise, binary_empty) {
    check_binary(tg_add, (tu_arr){2, {0, 3}, NULL}, (tu_arr){1, {3}, (double[]){1, 2, 3}},
                 (tu_arr){2, {0, 3}, NULL});
}

// ---- scalar forms ----

static const double xs[6] = {-2, -0.5, 0, 1, 3, 4};

Test(ops_elementwise, scalar_forward) {
    tu_arr x = {2, {2, 3}, xs};
    check_scalar(tg_add_scalar, 1.5, x,
                 (tu_arr){2, {2, 3}, (double[]){-0.5, 1, 1.5, 2.5, 4.5, 5.5}});
    check_scalar(tg_sub_scalar, 1.5, x,
                 (tu_arr){2, {2, 3}, (double[]){-3.5, -2, -1.5, -0.5, 1.5, 2.5}});
    check_scalar(tg_rsub_scalar, 1.5, x,
                 (tu_arr){2, {2, 3}, (double[]){3.5, 2, 1.5, 0.5, -1.5, -2.5}});
    check_scalar(tg_mul_scalar, -2, x, (tu_arr){2, {2, 3}, (double[]){4, 1, 0, -2, -6, -8}});
    check_scalar(tg_div_scalar, 4, x,
                 (tu_arr){2, {2, 3}, (double[]){-0.5, -0.125, 0, 0.25, 0.75, 1}});
    check_scalar(tg_rdiv_scalar, 3, (tu_arr){2, {2, 3}, (double[]){-2, -0.5, 1, 3, 4, 0.25}},
                 (tu_arr){2, {2, 3}, (double[]){-1.5, -6, 3, 1, 0.75, 12}});
    // 0-dim in, 0-dim out
    check_scalar(tg_add_scalar, -3, (tu_arr){0, {0}, (double[]){2}},
                 (tu_arr){0, {0}, (double[]){-1}});
    check_scalar(tg_div_scalar, 3, (tu_arr){1, {1}, (double[]){9}},
                 (tu_arr){1, {1}, (double[]){3}});
}

// Division by zero follows IEEE: x/0 is +-inf, 0/0 is nan (documented, not an error).
Test(ops_elementwise, div_scalar_by_zero) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(tu_dtype(k), (tu_arr){1, {3}, (double[]){1, -1, 0}}, false);
        tg_tensor *y = tg_div_scalar(tape, x, 0.0);
        cr_assert_not_null(y, "%s", tg_last_error());
        tg_tensor *y64 = tg_cast(y, TG_F64);
        double v[3];
        cr_assert_eq(tg_copy_to_host(y64, v, sizeof v), TG_OK);
        cr_expect(isinf(v[0]) && v[0] > 0, "1/0 = %g", v[0]);
        cr_expect(isinf(v[1]) && v[1] < 0, "-1/0 = %g", v[1]);
        cr_expect(isnan(v[2]), "0/0 = %g", v[2]);
        cr_expect_eq(tg_last_status(), TG_OK);
        tu_free(y64);
        tg_tape_free(tape);
        tu_free(x);
    }
}

Test(ops_elementwise, pow_scalar_forward) {
    tu_arr x = {1, {4}, (double[]){1, 4, 9, 0.25}};
    check_scalar(tg_pow_scalar, 2, x, (tu_arr){1, {4}, (double[]){1, 16, 81, 0.0625}});
    check_scalar(tg_pow_scalar, 0.5, x, (tu_arr){1, {4}, (double[]){1, 2, 3, 0.5}});
    check_scalar(tg_pow_scalar, 1.5, x, (tu_arr){1, {4}, (double[]){1, 8, 27, 0.125}});
    check_scalar(tg_pow_scalar, -1, x, (tu_arr){1, {4}, (double[]){1, 0.25, 1.0 / 9, 4}});
    check_scalar(tg_pow_scalar, -0.5, x, (tu_arr){1, {4}, (double[]){1, 0.5, 1.0 / 3, 2}});
    check_scalar(tg_pow_scalar, 0, x, (tu_arr){1, {4}, (double[]){1, 1, 1, 1}});
    check_scalar(tg_pow_scalar, 1, x, (tu_arr){1, {4}, (double[]){1, 4, 9, 0.25}});
    // integer exponents are defined for negative bases
    check_scalar(tg_pow_scalar, 3, (tu_arr){1, {4}, (double[]){-2, -1, 0, 2}},
                 (tu_arr){1, {4}, (double[]){-8, -1, 0, 8}});
}

// ---- unary ----

Test(ops_elementwise, neg_forward) {
    check_unary(tg_neg, (tu_arr){2, {2, 3}, xs},
                (tu_arr){2, {2, 3}, (double[]){2, 0.5, 0, -1, -3, -4}}, 1e-6);
}

Test(ops_elementwise, exp_forward) {
    const double e = 2.718281828459045;
    check_unary(tg_exp, (tu_arr){1, {4}, (double[]){0, 1, -1, 2}},
                (tu_arr){1, {4}, (double[]){1, e, 1 / e, e * e}}, 1e-5);
    check_unary(tg_exp, (tu_arr){0, {0}, (double[]){0}}, (tu_arr){0, {0}, (double[]){1}}, 1e-6);
}

Test(ops_elementwise, log_forward) {
    check_unary(tg_log, (tu_arr){1, {4}, (double[]){1, 2.718281828459045, 0.5, 10}},
                (tu_arr){1, {4}, (double[]){0, 1, -0.6931471805599453, 2.302585092994046}}, 1e-6);
}

Test(ops_elementwise, sqrt_forward) {
    check_unary(tg_sqrt, (tu_arr){2, {2, 2}, (double[]){0, 1, 4, 2.25}},
                (tu_arr){2, {2, 2}, (double[]){0, 1, 2, 1.5}}, 1e-6);
}

Test(ops_elementwise, relu_forward) {
    check_unary(tg_relu, (tu_arr){1, {5}, (double[]){-1, 0, 2, -0.5, 3}},
                (tu_arr){1, {5}, (double[]){0, 0, 2, 0, 3}}, 0);
}

// Stable at large |x|: no exp overflow turning into nan.
Test(ops_elementwise, sigmoid_forward) {
    check_unary(tg_sigmoid, (tu_arr){1, {5}, (double[]){0, 1, -1, 1000, -1000}},
                (tu_arr){1, {5}, (double[]){0.5, 0.7310585786300049, 0.2689414213699951, 1, 0}},
                1e-6);
}

Test(ops_elementwise, tanh_forward) {
    check_unary(tg_tanh, (tu_arr){1, {4}, (double[]){0, 1, -1, 20}},
                (tu_arr){1, {4}, (double[]){0, 0.7615941559557649, -0.7615941559557649, 1}}, 1e-6);
}

// A 0/1 mask of x's dtype; equality is not "greater".
Test(ops_elementwise, gt_scalar_forward) {
    check_scalar(tg_gt_scalar, 0.5, (tu_arr){2, {2, 2}, (double[]){-1, 0.5, 0.6, 2}},
                 (tu_arr){2, {2, 2}, (double[]){0, 0, 1, 1}});
}

// ---- gradients worked by hand ----

// loss = sum(a + b), a [3,1], b [1,4]: each a[i] feeds 4 outputs, each b[j] feeds 3.
Test(ops_elementwise, add_broadcast_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {3, 1}, (double[]){1, 2, 3}}, true);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){2, {1, 4}, (double[]){10, 20, 30, 40}}, true);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_add(tape, a, b))), TG_OK, "%s", tg_last_error());
    tu_expect_shape(tg_grad_of(a), 2, (int64_t[]){3, 1});
    tu_expect_grad(a, (double[]){4, 4, 4}, 3, 0);
    tu_expect_shape(tg_grad_of(b), 2, (int64_t[]){1, 4});
    tu_expect_grad(b, (double[]){3, 3, 3, 3}, 4, 0);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// loss = sum(a * b): da[i] = sum_j b[j] = 100, db[j] = sum_i a[i] = 6.
Test(ops_elementwise, mul_broadcast_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {3, 1}, (double[]){1, 2, 3}}, true);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {4}, (double[]){10, 20, 30, 40}}, true);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, a, b))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(a, (double[]){100, 100, 100}, 3, 1e-12);
    tu_expect_grad(b, (double[]){6, 6, 6, 6}, 4, 1e-12);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// y = a / b with a 0-dim b: da = 1/b, db = -sum(a)/b^2.
Test(ops_elementwise, div_scalar_shaped_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){2, 6}}, true);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){0, {0}, (double[]){4}}, true);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_div(tape, a, b))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(a, (double[]){0.25, 0.25}, 2, 1e-12);
    tu_expect_shape(tg_grad_of(b), 0, NULL);
    tu_expect_grad(b, (double[]){-0.5}, 1, 1e-12);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// At the kink relu's gradient is 0 (PyTorch's subgradient), as are the x < 0 entries.
Test(ops_elementwise, relu_grad_at_kink) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {4}, (double[]){-1, 0, 2, 0.5}}, true);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_relu(tape, x))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){0, 0, 1, 1}, 4, 0);
    tg_tape_free(tape);
    tu_free(x);
}

// x^0 is constant: zero gradient, and the pass still succeeds.
Test(ops_elementwise, pow_zero_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){0.5, 2, 3}}, true);
    tg_tensor *y = tg_add(tape, tg_pow_scalar(tape, x, 0), x);  // so a gradient exists
    cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){1, 1, 1}, 3, 0);
    tg_tape_free(tape);
    tu_free(x);
}

// A mask records nothing and carries no gradient: d/dx sum(x * (x > 0)) = (x > 0).
Test(ops_elementwise, gt_scalar_has_no_gradient) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {4}, (double[]){-1, 0.5, 2, -3}}, true);
    tg_tensor *m = tg_gt_scalar(tape, x, 0);
    cr_assert_not_null(m, "%s", tg_last_error());
    cr_expect_not(tg_requires_grad(m), "a mask must not require grad");
    cr_expect_eq(tg_tape_size(tape), 0, "the mask was recorded");
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, x, m))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){0, 1, 1, 0}, 4, 0);
    tg_tape_free(tape);
    tu_free(x);
}

// ---- bad input ----

Test(ops_elementwise, binary_shape_mismatch) {
    for (int op = 0; op < 4; op++) {
        tg_clear_error();
        tg_tape *tape = tg_tape_new();
        tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
        tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {4}, NULL}, false);
        tu_expect_fail(binary_ops[op].fn(tape, a, b), TG_ERR_SHAPE, binary_ops[op].name, "[2,3]",
                       "[4]");
        tg_clear_error();
        tg_tensor *c = tu_make(TG_F64, (tu_arr){2, {3, 2}, NULL}, false);
        tu_expect_fail(binary_ops[op].fn(tape, a, c), TG_ERR_SHAPE, binary_ops[op].name, "[2,3]",
                       "[3,2]");
        cr_expect_eq(tg_tape_size(tape), 0);
        tg_tape_free(tape);
        tu_free(a);
        tu_free(b);
        tu_free(c);
    }
}

Test(ops_elementwise, binary_null_input) {
    for (int op = 0; op < 4; op++) {
        tg_tape *tape = tg_tape_new();
        tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
        tg_clear_error();
        tu_expect_fail(binary_ops[op].fn(tape, NULL, a), TG_ERR_INVALID_ARG, binary_ops[op].name,
                       "NULL", NULL);
        tg_clear_error();
        tu_expect_fail(binary_ops[op].fn(tape, a, NULL), TG_ERR_INVALID_ARG, binary_ops[op].name,
                       "input 1", NULL);
        tg_clear_error();
        tu_expect_fail(binary_ops[op].fn(NULL, a, a), TG_ERR_INVALID_ARG, binary_ops[op].name,
                       "tape", NULL);
        tg_tape_free(tape);
        tu_free(a);
    }
}

Test(ops_elementwise, unary_null_input) {
    static const struct {
        const char *name;
        unary_fn fn;
    } unary[] = {{"tg_neg", tg_neg},   {"tg_exp", tg_exp},   {"tg_log", tg_log},
                 {"tg_sqrt", tg_sqrt}, {"tg_relu", tg_relu}, {"tg_sigmoid", tg_sigmoid},
                 {"tg_tanh", tg_tanh}};
    static const struct {
        const char *name;
        scalar_fn fn;
    } scalar[] = {{"tg_add_scalar", tg_add_scalar},   {"tg_sub_scalar", tg_sub_scalar},
                  {"tg_rsub_scalar", tg_rsub_scalar}, {"tg_mul_scalar", tg_mul_scalar},
                  {"tg_div_scalar", tg_div_scalar},   {"tg_rdiv_scalar", tg_rdiv_scalar},
                  {"tg_pow_scalar", tg_pow_scalar},   {"tg_gt_scalar", tg_gt_scalar}};
    tg_tape *tape = tg_tape_new();
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) {
        tg_clear_error();
        tu_expect_fail(unary[i].fn(tape, NULL), TG_ERR_INVALID_ARG, unary[i].name, "NULL", NULL);
    }
    for (size_t i = 0; i < sizeof scalar / sizeof scalar[0]; i++) {
        tg_clear_error();
        tu_expect_fail(scalar[i].fn(tape, NULL, 2.0), TG_ERR_INVALID_ARG, scalar[i].name, "NULL",
                       NULL);
    }
    tg_tape_free(tape);
}

// The first error wins: an op fed a failed result returns NULL and keeps the message.
Test(ops_elementwise, first_error_wins) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){2, {4, 5}, NULL}, false);
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 5}, NULL}, false);
    tu_expect_fail(tg_add(tape, tg_matmul(tape, a, b), x), TG_ERR_SHAPE, "tg_matmul: ", "[2,3]",
                   "[4,5]");
    cr_expect_null(strstr(tg_last_error(), "tg_add"), "overwritten: %s", tg_last_error());
    // a whole expression, checked once at the end
    tg_tensor *y = tg_sigmoid(tape, tg_mul_scalar(tape, tg_exp(tape, tg_sub(tape, x, a)), 2));
    tu_expect_fail(y, TG_ERR_SHAPE, "tg_matmul: ", NULL, NULL);
    // after clearing, the next failure reports itself
    tg_clear_error();
    tu_expect_fail(tg_sub(tape, x, a), TG_ERR_SHAPE, "tg_sub: ", "[2,5]", "[2,3]");
    tg_clear_error();
    cr_expect_not_null(tg_add(tape, a, a), "%s", tg_last_error());
    cr_expect_str_eq(tg_last_error(), "");
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
    tu_free(x);
}

Test(ops_elementwise, mixed_dtypes) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F32, (tu_arr){1, {3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    for (int op = 0; op < 4; op++) {
        tg_clear_error();
        tu_expect_fail(binary_ops[op].fn(tape, a, b), TG_ERR_DTYPE, binary_ops[op].name,
                       "mixed dtypes", "f32");
        tu_expect_error("f64", NULL);
        tg_clear_error();
        tu_expect_fail(binary_ops[op].fn(tape, b, a), TG_ERR_DTYPE, binary_ops[op].name,
                       "mixed dtypes", NULL);
    }
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// A step tensor belongs to its tape: feeding it to an op on another tape is refused.
Test(ops_elementwise, foreign_step_tensor) {
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    tg_tensor *s = tg_exp(t1, a);
    cr_assert_not_null(s, "%s", tg_last_error());
    tu_expect_fail(tg_add(t2, s, a), TG_ERR_STATE, "tg_add", "another tape", NULL);
    tg_tape_free(t1);
    tg_tape_free(t2);
    tu_free(a);
}

// tanh's and sigmoid's fused rules: forward values by hand, the rules tg_tanh/tg_sigmoid
// now use (one node each in backward), and bad inputs named with the op and shapes.
Test(ops_elementwise, tanh_and_sigmoid_grad_ops) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *dy = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){2, -1, 0.5}}, false);
    tg_tensor *y = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){0.5, 0, -0.25}}, false);
    tu_expect_arr(tg_tanh_grad(tape, dy, y), (tu_arr){1, {3}, (double[]){1.5, -1, 0.46875}},
                  1e-15);
    tu_expect_arr(tg_sigmoid_grad(tape, dy, y),
                  (tu_arr){1, {3}, (double[]){0.5, 0, -0.15625}}, 1e-15);
    // backward of tanh/sigmoid records exactly one node per rule
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){0.3, -1, 2}}, true);
    tg_tape *t2 = tg_tape_new();
    tg_tensor *out = tg_sum(t2, tg_tanh(t2, tg_sigmoid(t2, x)));
    int64_t before = tg_tape_size(t2);
    tg_backward_opts o = {.create_graph = true, .retain_graph = true};
    tg_tensor *dx = NULL;
    cr_assert_eq(tg_grad(t2, out, NULL, 1, &x, &dx, &o), TG_OK, "%s", tg_last_error());
    cr_expect_leq(tg_tape_size(t2) - before, 4, "backward recorded %lld nodes",
                  (long long)(tg_tape_size(t2) - before));
    // bad inputs
    tg_tensor *bad = tu_make(TG_F64, (tu_arr){1, {4}, NULL}, false);
    tg_tensor *f32 = tu_make(TG_F32, (tu_arr){1, {3}, NULL}, false);
    tu_expect_fail(tg_tanh_grad(tape, dy, bad), TG_ERR_SHAPE, "tg_tanh_grad", "[3]", "[4]");
    tg_clear_error();
    tu_expect_fail(tg_sigmoid_grad(tape, bad, y), TG_ERR_SHAPE, "tg_sigmoid_grad", "[4]", "[3]");
    tg_clear_error();
    tu_expect_fail(tg_tanh_grad(tape, dy, f32), TG_ERR_DTYPE, "tg_tanh_grad", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_sigmoid_grad(tape, NULL, y), TG_ERR_INVALID_ARG, "tg_sigmoid_grad", "NULL",
                   NULL);
    tg_clear_error();
    tg_tape_free(t2);
    tg_tape_free(tape);
    tu_free(dy);
    tu_free(y);
    tu_free(x);
    tu_free(bad);
    tu_free(f32);
}

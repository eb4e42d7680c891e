// Tests for ops/activation.c: forward values (f32 and f64) of abs, sign, clamp, hardtanh,
// leaky_relu, elu, softplus, erf, gelu, gelu_tanh, rsqrt and square; gradients at the
// kinks (the documented subgradients); and bad arguments. Gradchecks run from the op case
// table in test_coverage.c. Expected values were worked out with Python's math module.
#include "test_util.h"

TestSuite(ops_activation, .init = tg_clear_error);

typedef tg_tensor *(*unary_fn)(tg_tape *, tg_tensor *);

// Applies `apply` (which reads `arg`) to x in both dtypes and expects `want`.
typedef tg_tensor *(*apply_fn)(tg_tape *, tg_tensor *, const double *arg);

static void check(apply_fn apply, const double *arg, tu_arr x, tu_arr want, double tol_f32) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *tx = tu_make(dt, x, false);
        tg_tensor *y = apply(tape, tx, arg);
        cr_assert_not_null(y, "%s: %s", tg_dtype_name(dt), tg_last_error());
        cr_expect_eq(tg_dtype_of(y), dt);
        tu_expect_arr(y, want, dt == TG_F32 ? tol_f32 : 1e-12);
        tg_tape_free(tape);
        tu_free(tx);
    }
}

static tg_tensor *ap_abs(tg_tape *t, tg_tensor *x, const double *a) {
    (void)a;
    return tg_abs(t, x);
}
static tg_tensor *ap_sign(tg_tape *t, tg_tensor *x, const double *a) {
    (void)a;
    return tg_sign(t, x);
}
static tg_tensor *ap_clamp(tg_tape *t, tg_tensor *x, const double *a) {
    return tg_clamp(t, x, a[0], a[1]);
}
static tg_tensor *ap_hardtanh(tg_tape *t, tg_tensor *x, const double *a) {
    return tg_hardtanh(t, x, a[0], a[1]);
}
static tg_tensor *ap_leaky(tg_tape *t, tg_tensor *x, const double *a) {
    return tg_leaky_relu(t, x, a[0]);
}
static tg_tensor *ap_elu(tg_tape *t, tg_tensor *x, const double *a) { return tg_elu(t, x, a[0]); }
static tg_tensor *ap_softplus(tg_tape *t, tg_tensor *x, const double *a) {
    return tg_softplus(t, x, a[0], a[1]);
}
static tg_tensor *ap_erf(tg_tape *t, tg_tensor *x, const double *a) {
    (void)a;
    return tg_erf(t, x);
}
static tg_tensor *ap_gelu(tg_tape *t, tg_tensor *x, const double *a) {
    (void)a;
    return tg_gelu(t, x);
}
static tg_tensor *ap_gelu_tanh(tg_tape *t, tg_tensor *x, const double *a) {
    (void)a;
    return tg_gelu_tanh(t, x);
}
static tg_tensor *ap_rsqrt(tg_tape *t, tg_tensor *x, const double *a) {
    (void)a;
    return tg_rsqrt(t, x);
}
static tg_tensor *ap_square(tg_tape *t, tg_tensor *x, const double *a) {
    (void)a;
    return tg_square(t, x);
}

// ---- forward ----

Test(ops_activation, abs_sign_forward) {
    tu_arr x = {2, {2, 2}, (double[]){-2, -0.5, 0, 1.5}};
    check(ap_abs, NULL, x, (tu_arr){2, {2, 2}, (double[]){2, 0.5, 0, 1.5}}, 0);
    check(ap_sign, NULL, x, (tu_arr){2, {2, 2}, (double[]){-1, -1, 0, 1}}, 0);
}

Test(ops_activation, clamp_hardtanh_forward) {
    tu_arr x = {1, {5}, (double[]){-2, -1, -0.5, 0.5, 2}};
    tu_arr want = {1, {5}, (double[]){-1, -1, -0.5, 0.5, 1}};
    check(ap_clamp, (double[]){-1, 1}, x, want, 0);
    check(ap_hardtanh, (double[]){-1, 1}, x, want, 0);
    // lo == hi is allowed: everything becomes that value
    check(ap_clamp, (double[]){0.25, 0.25}, x,
          (tu_arr){1, {5}, (double[]){0.25, 0.25, 0.25, 0.25, 0.25}}, 0);
}

Test(ops_activation, leaky_relu_elu_forward) {
    tu_arr x = {1, {3}, (double[]){-2, 0, 3}};
    check(ap_leaky, (double[]){0.1}, x, (tu_arr){1, {3}, (double[]){-0.2, 0, 3}}, 1e-7);
    check(ap_elu, (double[]){1}, (tu_arr){1, {3}, (double[]){-1, 0, 2}},
          (tu_arr){1, {3}, (double[]){-0.6321205588285577, 0, 2}}, 1e-6);
    check(ap_elu, (double[]){2}, (tu_arr){1, {1}, (double[]){-1}},
          (tu_arr){1, {1}, (double[]){2 * -0.6321205588285577}}, 1e-6);
}

// log(1+exp(beta x))/beta, and x itself above the threshold.
Test(ops_activation, softplus_forward) {
    check(ap_softplus, (double[]){1, 20}, (tu_arr){1, {4}, (double[]){0, 1, -1, 30}},
          (tu_arr){
              1, {4}, (double[]){0.6931471805599453, 1.3132616875182228, 0.31326168751822286, 30}},
          1e-6);
    check(ap_softplus, (double[]){2, 20}, (tu_arr){1, {1}, (double[]){0.5}},
          (tu_arr){1, {1}, (double[]){0.6566308437591114}}, 1e-6);
    // no overflow for large inputs below an infinite threshold
    check(ap_softplus, (double[]){1, INFINITY}, (tu_arr){1, {2}, (double[]){800, -800}},
          (tu_arr){1, {2}, (double[]){800, 0}}, 1e-6);
}

Test(ops_activation, erf_gelu_forward) {
    check(ap_erf, NULL, (tu_arr){1, {3}, (double[]){0, 1, -0.5}},
          (tu_arr){1, {3}, (double[]){0, 0.8427007929497149, -0.5204998778130465}}, 1e-6);
    check(ap_gelu, NULL, (tu_arr){1, {4}, (double[]){0, 1, -1, 2}},
          (tu_arr){
              1, {4}, (double[]){0, 0.8413447460685429, -0.15865525393145707, 1.9544997361036416}},
          1e-6);
    check(ap_gelu_tanh, NULL, (tu_arr){1, {4}, (double[]){0, 1, -1, 2}},
          (tu_arr){
              1, {4}, (double[]){0, 0.8411919906082768, -0.15880800939172324, 1.954597694087775}},
          1e-6);
}

Test(ops_activation, rsqrt_square_forward) {
    check(ap_rsqrt, NULL, (tu_arr){1, {3}, (double[]){4, 0.25, 1}},
          (tu_arr){1, {3}, (double[]){0.5, 2, 1}}, 1e-6);
    check(ap_square, NULL, (tu_arr){1, {3}, (double[]){-3, 2, 0.5}},
          (tu_arr){1, {3}, (double[]){9, 4, 0.25}}, 0);
}

// ---- gradients at the kinks ----

// d/dx sum(f(x)) for x given; expects `want`.
static void check_grad(apply_fn apply, const double *arg, tu_arr x, const double *want) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *tx = tu_make(TG_F64, x, true);
    tg_tensor *y = apply(tape, tx, arg);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
    int64_t n = tu_numel(x.ndim, x.shape);
    if (tg_grad_of(tx)) {
        tu_expect_values(tg_grad_of(tx), want, n, 1e-12);
    } else {  // no contribution reached x: its gradient is zero
        for (int64_t i = 0; i < n; i++) cr_expect_eq(want[i], 0.0, "element %lld", (long long)i);
    }
    tg_tape_free(tape);
    tu_free(tx);
}

Test(ops_activation, grads_at_kinks) {
    tu_arr x = {1, {5}, (double[]){-2, -1, 0, 1, 2}};
    check_grad(ap_abs, NULL, x, (double[]){-1, -1, 0, 1, 1});
    check_grad(ap_sign, NULL, x, (double[]){0, 0, 0, 0, 0});
    // clamp passes the gradient on the boundary (lo <= x <= hi), hardtanh does not
    check_grad(ap_clamp, (double[]){-1, 1}, x, (double[]){0, 1, 1, 1, 0});
    check_grad(ap_hardtanh, (double[]){-1, 1}, x, (double[]){0, 0, 1, 0, 0});
    check_grad(ap_leaky, (double[]){0.1}, x, (double[]){0.1, 0.1, 0.1, 1, 1});
    // elu: alpha*exp(x) below 0, 1 above; exp(0)*alpha at 0
    check_grad(ap_elu, (double[]){0.5}, (tu_arr){1, {3}, (double[]){-1, 0, 1}},
               (double[]){0.5 * 0.36787944117144233, 0.5, 1});
    // softplus: sigmoid(beta x), 1 above the threshold
    check_grad(ap_softplus, (double[]){1, 20}, (tu_arr){1, {2}, (double[]){0, 25}},
               (double[]){0.5, 1});
}

// ---- bad input ----

Test(ops_activation, null_inputs) {
    static const struct {
        const char *name;
        unary_fn fn;
    } ops[] = {{"tg_abs", tg_abs}, {"tg_sign", tg_sign}, {"tg_erf", tg_erf},
               {"tg_gelu_tanh", tg_gelu_tanh}};
    tg_tape *tape = tg_tape_new();
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        tg_clear_error();
        tu_expect_fail(ops[i].fn(tape, NULL), TG_ERR_INVALID_ARG, ops[i].name, "NULL", NULL);
    }
    tg_clear_error();
    tu_expect_fail(tg_clamp(tape, NULL, 0, 1), TG_ERR_INVALID_ARG, "tg_clamp", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_leaky_relu(tape, NULL, 0.1), TG_ERR_INVALID_ARG, "tg_leaky_relu", "NULL",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_elu(tape, NULL, 1), TG_ERR_INVALID_ARG, "tg_elu", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_softplus(tape, NULL, 1, 20), TG_ERR_INVALID_ARG, "tg_softplus", "NULL", NULL);
    // composed ops return NULL too (the message comes from the op that saw the NULL)
    tg_clear_error();
    tu_expect_fail(tg_silu(tape, NULL), TG_ERR_INVALID_ARG, "tg_silu", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_silu_grad(tape, NULL, NULL), TG_ERR_INVALID_ARG, "tg_silu_grad", "NULL",
                   NULL);
    unary_fn composed[] = {tg_gelu, tg_rsqrt, tg_square, tg_log1p};
    for (size_t i = 0; i < sizeof composed / sizeof composed[0]; i++) {
        tg_clear_error();
        tu_expect_fail(composed[i](tape, NULL), TG_ERR_INVALID_ARG, "NULL", NULL, NULL);
    }
    tg_clear_error();
    tu_expect_fail(tg_hardtanh(tape, NULL, -1, 1), TG_ERR_INVALID_ARG, "NULL", NULL, NULL);
    tg_tape_free(tape);
}

Test(ops_activation, bad_arguments) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    tu_expect_fail(tg_clamp(tape, x, 1, -1), TG_ERR_INVALID_ARG, "tg_clamp", "lo 1 > hi -1", NULL);
    tg_clear_error();
    tu_expect_fail(tg_hardtanh(tape, x, 2, 1), TG_ERR_INVALID_ARG, "tg_hardtanh", "lo", NULL);
    tg_clear_error();
    tu_expect_fail(tg_softplus(tape, x, 0, 20), TG_ERR_INVALID_ARG, "tg_softplus", "beta", NULL);
    tg_clear_error();
    tu_expect_fail(tg_softplus(tape, x, -1, 20), TG_ERR_INVALID_ARG, "tg_softplus", "beta", NULL);
    cr_expect_eq(tg_tape_size(tape), 0);
    tg_tape_free(tape);
    tu_free(x);
}

// A failed input keeps its message through an activation.
Test(ops_activation, first_error_wins) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {4}, NULL}, false);
    tg_tensor *y = tg_gelu(tape, tg_clamp(tape, tg_abs(tape, tg_add(tape, a, b)), 0, 1));
    tu_expect_fail(y, TG_ERR_SHAPE, "tg_add: ", "[3]", "[4]");
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// t's n values as doubles (either dtype); TG_OK or the copy's status.
static int to_doubles(const tg_tensor *t, double *out, int n) {
    if (!t) return tg_last_status();
    if (tg_dtype_of(t) == TG_F64) return tg_copy_to_host(t, out, (size_t)n * 8);
    float f[64];
    int st = tg_copy_to_host(t, f, (size_t)n * 4);
    for (int i = 0; i < n && !st; i++) out[i] = f[i];
    return st;
}

// log1p keeps tiny |x| precise where log(1 + x) loses them (1 + x rounds; in f32 already at
// 1e-7), and meets libm's log1p to a few ulps in both dtypes, both branches, and at -1, inf.
Test(ops_activation, log1p_precise) {
    const double xs[] = {-0.75, -1e-5, -3e-8, 1e-7, 1e-12, 1e-30, 0, 0.5, 0.999, 1, 7, 1e6};
    const int n = sizeof xs / sizeof xs[0];
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(dt, (tu_arr){1, {n}, (double *)xs}, false);
        tg_tensor *y = tg_log1p(tape, x);
        cr_assert_not_null(y, "%s", tg_last_error());
        double got[16];
        cr_assert_eq(to_doubles(y, got, n), TG_OK);
        for (int i = 0; i < n; i++) {
            double xi = dt == TG_F32 ? (double)(float)xs[i] : xs[i], want = log1p(xi);
            double rel = want == 0 ? fabs(got[i]) : fabs(got[i] / want - 1);
            cr_expect(rel <= (dt == TG_F32 ? 4e-7 : 1e-15), "%s log1p(%g) = %.17g, want %.17g",
                      tg_dtype_name(dt), xi, got[i], want);
        }
        tu_free(x);
        tg_tape_free(tape);
    }
    tg_tape *tape = tg_tape_new();
    tg_tensor *e = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){-1, INFINITY, -2}}, false);
    double got[3];
    cr_assert_eq(to_doubles(tg_log1p(tape, e), got, 3), TG_OK);
    cr_expect(got[0] == -INFINITY && got[1] == INFINITY && isnan(got[2]), "%g %g %g", got[0],
              got[1], got[2]);
    tu_free(e);
    tg_tape_free(tape);
}

// An in-place write to an input that a rule reads, after recording, is refused at backward
// (silu's rule reads x; log1p's composed ops read their inputs).
Test(ops_activation, silu_log1p_in_place_writes) {
    unary_fn fns[] = {tg_silu, tg_log1p};
    for (int k = 0; k < 2; k++) {
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){0.5, -0.25, 2}}, true);
        tg_tensor *loss = tg_sum(tape, fns[k](tape, x));
        cr_assert_not_null(loss, "%s", tg_last_error());
        tu_expect_in_place_refused(tape, loss, x, k);
        tg_tape_free(tape);
        tu_free(x);
    }
}

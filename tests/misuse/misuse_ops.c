// Misuse scenarios of ops.h, part 1: the elementwise, comparison, reduction and matmul
// families, driven by tables (one row per op), and the op table's introspection.
#include "misuse.h"

typedef tg_tensor *(*binary_fn)(tg_tape *, tg_tensor *, tg_tensor *);
typedef tg_tensor *(*scalar_fn)(tg_tape *, tg_tensor *, double);
typedef tg_tensor *(*unary_fn)(tg_tape *, tg_tensor *);
typedef tg_tensor *(*axes_fn)(tg_tape *, tg_tensor *, int, const int *, bool);

static const struct {
    const char *name;
    binary_fn fn;
    bool same_shape;   // the gradient-rule ops want equal (not broadcast) shapes
} BINARY[] = {
    {"tg_add", tg_add, false},          {"tg_sub", tg_sub, false},
    {"tg_mul", tg_mul, false},          {"tg_div", tg_div, false},
    {"tg_maximum", tg_maximum, false},  {"tg_minimum", tg_minimum, false},
    {"tg_gt", tg_gt, false},            {"tg_lt", tg_lt, false},
    {"tg_ge", tg_ge, false},            {"tg_le", tg_le, false},
    {"tg_eq", tg_eq, false},            {"tg_ne", tg_ne, false},
    {"tg_relu_grad", tg_relu_grad, false}, {"tg_tanh_grad", tg_tanh_grad, false},
    {"tg_sigmoid_grad", tg_sigmoid_grad, false}, {"tg_softmax_grad", tg_softmax_grad, true},
    {"tg_silu_grad", tg_silu_grad, false},
    {"tg_log_softmax_grad", tg_log_softmax_grad, true}, {"tg_matmul", tg_matmul, true},
    {"tg_bmm", tg_bmm, true},
};

static const struct {
    const char *name;
    scalar_fn fn;
} SCALAR[] = {
    {"tg_add_scalar", tg_add_scalar}, {"tg_sub_scalar", tg_sub_scalar},
    {"tg_rsub_scalar", tg_rsub_scalar}, {"tg_mul_scalar", tg_mul_scalar},
    {"tg_div_scalar", tg_div_scalar}, {"tg_rdiv_scalar", tg_rdiv_scalar},
    {"tg_pow_scalar", tg_pow_scalar}, {"tg_gt_scalar", tg_gt_scalar},
    {"tg_lt_scalar", tg_lt_scalar},   {"tg_ge_scalar", tg_ge_scalar},
    {"tg_le_scalar", tg_le_scalar},   {"tg_eq_scalar", tg_eq_scalar},
    {"tg_ne_scalar", tg_ne_scalar},
};

static const struct {
    const char *name;
    unary_fn fn;
} UNARY[] = {
    {"tg_neg", tg_neg},     {"tg_exp", tg_exp},     {"tg_log", tg_log},
    {"tg_sqrt", tg_sqrt},   {"tg_relu", tg_relu},   {"tg_sigmoid", tg_sigmoid},
    {"tg_tanh", tg_tanh},   {"tg_abs", tg_abs},     {"tg_sign", tg_sign},
    {"tg_erf", tg_erf},     {"tg_gelu", tg_gelu},   {"tg_gelu_tanh", tg_gelu_tanh},
    {"tg_rsqrt", tg_rsqrt}, {"tg_square", tg_square}, {"tg_detach", tg_detach},
    {"tg_sum", tg_sum},     {"tg_mean", tg_mean},   {"tg_max", tg_max},
    {"tg_min", tg_min},     {"tg_log1p", tg_log1p},
    {"tg_silu", tg_silu},
};

static const struct {
    const char *name;
    axes_fn fn;
} AXES[] = {
    {"tg_sum_axes", tg_sum_axes}, {"tg_mean_axes", tg_mean_axes},
    {"tg_max_axes", tg_max_axes}, {"tg_min_axes", tg_min_axes},
    {"tg_logsumexp", tg_logsumexp},
};

Test(misuse, binary_ops) {
    tg_tape *tp = mu.tape;
    tg_tensor *v4 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){4});
    for (size_t i = 0; i < sizeof BINARY / sizeof BINARY[0]; i++) {
        const char *fn = BINARY[i].name;
        binary_fn f = BINARY[i].fn;
        mu_null(fn, f(NULL, mu.a, mu.b), "NULL tape");
        mu_null(fn, f(tp, NULL, mu.b), "NULL a");
        mu_null(fn, f(tp, mu.a, NULL), "NULL b");
        mu_null(fn, f(tp, mu.a, mu.d), "f32 with f64");
        mu_null(fn, f(tp, mu.d, mu.a), "f64 with f32");
        mu_null(fn, f(tp, mu.a, v4), "[2,3] with [4]");
        mu_null(fn, f(tp, mu.stale, mu.b), "stale a");
        if (f != tg_softmax_grad && f != tg_log_softmax_grad)   // (misuse_crash.c)
            mu_null(fn, f(tp, mu.a, mu.stale), "stale b");
        if (BINARY[i].same_shape) mu_null(fn, f(tp, mu.s, mu.s), "scalars");
    }
    tg_free(v4);
}

Test(misuse, scalar_and_unary_ops) {
    tg_tape *tp = mu.tape;
    for (size_t i = 0; i < sizeof SCALAR / sizeof SCALAR[0]; i++) {
        mu_null(SCALAR[i].name, SCALAR[i].fn(NULL, mu.a, 1), "NULL tape");
        mu_null(SCALAR[i].name, SCALAR[i].fn(tp, NULL, 1), "NULL x");
        mu_null(SCALAR[i].name, SCALAR[i].fn(tp, mu.stale, 1), "stale x");
    }
    for (size_t i = 0; i < sizeof UNARY / sizeof UNARY[0]; i++) {
        mu_null(UNARY[i].name, UNARY[i].fn(NULL, mu.a), "NULL tape");
        mu_null(UNARY[i].name, UNARY[i].fn(tp, NULL), "NULL x");
        mu_null(UNARY[i].name, UNARY[i].fn(tp, mu.stale), "stale x");
    }
    // max and min of nothing have no value (torch refuses them too)
    tg_tensor *empty = tg_tensor_new(mu.be, TG_F32, 2, (int64_t[]){0, 3});
    mu_null("tg_max", tg_max(tp, empty), "[0,3] tensor");
    mu_null("tg_min", tg_min(tp, empty), "[0,3] tensor");
    tg_free(empty);
}

Test(misuse, parametrised_activations) {
    tg_tape *tp = mu.tape;
    tg_tensor *a = mu.a, *st = mu.stale;
    mu_null("tg_clamp", tg_clamp(NULL, a, 0, 1), "NULL tape");
    mu_null("tg_clamp", tg_clamp(tp, st, 0, 1), "stale x");
    mu_null("tg_leaky_relu", tg_leaky_relu(tp, NULL, 0.1), "NULL x");
    mu_null("tg_leaky_relu", tg_leaky_relu(tp, st, 0.1), "stale x");
    mu_null("tg_elu", tg_elu(tp, NULL, 1), "NULL x");
    mu_null("tg_elu", tg_elu(tp, st, 1), "stale x");
    mu_null("tg_hardtanh", tg_hardtanh(NULL, a, -1, 1), "NULL tape");
    mu_null("tg_hardtanh", tg_hardtanh(tp, st, -1, 1), "stale x");
    mu_null("tg_softplus", tg_softplus(tp, NULL, 1, 20), "NULL x");
    mu_null("tg_softplus", tg_softplus(tp, a, 0, 20), "beta 0 (divides by 0)");
    mu_null("tg_softplus", tg_softplus(tp, a, NAN, 20), "beta NaN");
    mu_null("tg_softplus", tg_softplus(tp, a, 1, NAN), "threshold NaN");
    mu_null("tg_where", tg_where(tp, NULL, a, a), "NULL cond");
    mu_null("tg_where", tg_where(tp, a, a, mu.d), "f32 with f64");
    mu_null("tg_where", tg_where(tp, mu.d, a, a), "f64 cond for f32 values");
    mu_null("tg_where", tg_where(tp, a, mu.m, a), "[3,2] with [2,3]");
    mu_null("tg_where", tg_where(NULL, a, a, a), "NULL tape");
}

Test(misuse, reductions) {
    tg_tape *tp = mu.tape;
    const int ax0[1] = {0}, ax5[1] = {5}, axm3[1] = {-3}, twice[2] = {1, 1};
    const int nine[9] = {0, 1, 0, 1, 0, 1, 0, 1, 0};
    for (size_t i = 0; i < sizeof AXES / sizeof AXES[0]; i++) {
        const char *fn = AXES[i].name;
        axes_fn f = AXES[i].fn;
        mu_null(fn, f(NULL, mu.a, 1, ax0, false), "NULL tape");
        mu_null(fn, f(tp, NULL, 1, ax0, false), "NULL x");
        mu_null(fn, f(tp, mu.a, -1, ax0, false), "n_axes -1");
        mu_null(fn, f(tp, mu.a, 9, nine, false), "n_axes 9");
        mu_null(fn, f(tp, mu.a, 1, NULL, false), "NULL axes");
        mu_null(fn, f(tp, mu.a, 1, ax5, false), "axis 5 of 2");
        mu_null(fn, f(tp, mu.a, 1, axm3, false), "axis -3 of 2");
        mu_null(fn, f(tp, mu.a, 2, twice, false), "axis 1 twice");
        mu_null(fn, f(tp, mu.stale, 1, ax0, false), "stale x");
    }
    const char *vs[2] = {"tg_var", "tg_std"};
    for (int k = 0; k < 2; k++) {
        tg_tensor *(*f)(tg_tape *, tg_tensor *, int, const int *, int, bool) =
            k ? tg_std : tg_var;
        mu_null(vs[k], f(NULL, mu.a, 1, ax0, 1, false), "NULL tape");
        mu_null(vs[k], f(tp, NULL, 1, ax0, 1, false), "NULL x");
        mu_null(vs[k], f(tp, mu.a, 1, ax5, 1, false), "axis 5 of 2");
        mu_null(vs[k], f(tp, mu.a, 2, twice, 1, false), "axis 1 twice");
        mu_null(vs[k], f(tp, mu.a, -2, ax0, 1, false), "n_axes -2");
        mu_null(vs[k], f(tp, mu.stale, 1, ax0, 1, false), "stale x");
    }
    tg_tensor *empty = tg_tensor_new(mu.be, TG_F32, 2, (int64_t[]){2, 0});
    const char *am[2] = {"tg_argmax", "tg_argmin"};
    for (int k = 0; k < 2; k++) {
        tg_tensor *(*f)(tg_tape *, tg_tensor *, int, bool) = k ? tg_argmin : tg_argmax;
        mu_null(am[k], f(NULL, mu.a, 1, false), "NULL tape");
        mu_null(am[k], f(tp, NULL, 1, false), "NULL x");
        mu_null(am[k], f(tp, mu.a, 2, false), "axis 2 of 2");
        mu_null(am[k], f(tp, mu.a, -3, false), "axis -3 of 2");
        mu_null(am[k], f(tp, empty, 1, false), "empty axis");
        mu_null(am[k], f(tp, mu.stale, 0, false), "stale x");
    }
    tg_free(empty);
}

Test(misuse, matmul_family) {
    tg_tape *tp = mu.tape;
    tg_tensor *a = mu.a, *m = mu.m, *v3 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){3});
    tg_tensor *m64 = tg_tensor_new(mu.be, TG_F64, 2, (int64_t[]){3, 2});
    mu_null("tg_matmul", tg_matmul(tp, a, a), "[2,3] @ [2,3]");
    mu_null("tg_matmul", tg_matmul(tp, a, v3), "[2,3] @ [3] (1-D)");
    mu_null("tg_matmul_ex", tg_matmul_ex(NULL, a, m, false, false), "NULL tape");
    mu_null("tg_matmul_ex", tg_matmul_ex(tp, NULL, m, false, false), "NULL a");
    mu_null("tg_matmul_ex", tg_matmul_ex(tp, a, m, true, false), "[2,3]^T @ [3,2]");
    mu_null("tg_matmul_ex", tg_matmul_ex(tp, a, m64, false, false), "f32 @ f64");
    mu_null("tg_matmul_ex", tg_matmul_ex(tp, a, mu.stale, false, true), "stale b");
    mu_null("tg_addmm", tg_addmm(NULL, v3, a, m, false, false), "NULL tape");
    mu_null("tg_addmm", tg_addmm(tp, NULL, a, m, false, false), "NULL bias");
    mu_null("tg_addmm", tg_addmm(tp, v3, a, m, false, false), "bias [3] for [2,2]");
    mu_null("tg_addmm", tg_addmm(tp, mu.s, a, a, false, false), "[2,3] @ [2,3]");
    mu_null("tg_addmm", tg_addmm(tp, mu.s, a, m64, false, false), "f32 @ f64");
    mu_null("tg_addmm", tg_addmm(tp, mu.stale, a, m, false, false), "stale bias");
    mu_null("tg_addmm_relu", tg_addmm_relu(NULL, v3, a, m, false, false), "NULL tape");
    mu_null("tg_addmm_relu", tg_addmm_relu(tp, NULL, a, m, false, false), "NULL bias");
    mu_null("tg_addmm_relu", tg_addmm_relu(tp, v3, a, m, false, false), "bias [3] for [2,2]");
    mu_null("tg_addmm_relu", tg_addmm_relu(tp, mu.s, a, a, false, false), "[2,3] @ [2,3]");
    mu_null("tg_addmm_relu", tg_addmm_relu(tp, mu.s, a, m64, false, false), "f32 @ f64");
    mu_null("tg_addmm_relu", tg_addmm_relu(tp, mu.stale, a, m, false, false), "stale bias");
    mu_null("tg_bmm", tg_bmm(tp, v3, v3), "1-D inputs");
    tg_free(v3);
    tg_free(m64);
}

Test(misuse, op_table) {
    mu_quiet("tg_op_count", tg_op_count() > 1, "no input to get wrong");
    mu_quiet("tg_op_name", tg_op_name(0) == NULL, "id 0 (no op)");
    mu_quiet("tg_op_name", tg_op_name(-1) == NULL, "id -1");
    mu_quiet("tg_op_name", tg_op_name(tg_op_count()) == NULL, "id tg_op_count()");
    mu_quiet("tg_op_name", tg_op_name(INT32_MIN) == NULL, "id INT_MIN");
}

// Activations and elementwise math beyond the basic set: abs, sign, clamp, leaky_relu,
// elu, softplus, erf (registered ops with rules), and hardtanh, gelu, gelu_tanh, rsqrt,
// square (composed from ops: they need no rule of their own).
#include <math.h>

#include "ops/op_table.h"

static int unary_forward(tg_tensor *const *in, const void *params, tg_tensor *out, int kind,
                         const char *name) {
    const tg_unary_params *p = params;
    return tg__forward_unary(in, out, kind, p->a, p->b, name);
}

// ---- abs: y = |x|    dx = dy*sign(x) ----

static int abs_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return unary_forward(in, params, out, TG_UNARY_ABS, "tg_abs");
}
static int abs_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_mul(tape, dout, tg_sign(tape, node->in[0]));
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_abs = {
    .id = TG_OP_ABS, .name = "tg_abs", .arity = 1,
    .infer = tg__infer_same, .forward = abs_forward, .backward = abs_backward,
};
tg_tensor *tg_abs(tg_tape *tape, tg_tensor *x) { return tg__apply1(tape, &tg__op_abs, x, 0, 0); }

// ---- sign: y = sign(x)    dx = 0 ----

static int sign_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return unary_forward(in, params, out, TG_UNARY_SIGN, "tg_sign");
}
static int zero_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    (void)tape, (void)node, (void)dout, (void)din;
    return TG_OK;   // piecewise constant: no contribution
}
const tg_op_def tg__op_sign = {
    .id = TG_OP_SIGN, .name = "tg_sign", .arity = 1,
    .infer = tg__infer_same, .forward = sign_forward, .backward = zero_backward,
};
tg_tensor *tg_sign(tg_tape *tape, tg_tensor *x) {
    return tg__apply1(tape, &tg__op_sign, x, 0, 0);
}

// ---- clamp: y = min(max(x, lo), hi)    dx = dy*(lo <= x <= hi) ----

static int clamp_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return unary_forward(in, params, out, TG_UNARY_CLAMP, "tg_clamp");
}
static int clamp_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                          tg_tensor **din) {
    tg_tensor *x = node->in[0];
    tg_tensor *m = tg_mul(tape, tg_ge_scalar(tape, x, tg__unary_params(node)->a),
                          tg_le_scalar(tape, x, tg__unary_params(node)->b));
    din[0] = tg_mul(tape, dout, m);
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_clamp = {
    .id = TG_OP_CLAMP, .name = "tg_clamp", .arity = 1,
    .infer = tg__infer_same, .forward = clamp_forward, .backward = clamp_backward,
    .params_size = sizeof(tg_unary_params),
};
tg_tensor *tg_clamp(tg_tape *tape, tg_tensor *x, double lo, double hi) {
    if (lo > hi) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_clamp", "lo %g > hi %g", lo, hi);
        return NULL;
    }
    return tg__apply1(tape, &tg__op_clamp, x, lo, hi);
}

// ---- leaky_relu: y = x > 0 ? x : s*x    dx = dy*(x > 0 ? 1 : s) ----

static int leaky_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return unary_forward(in, params, out, TG_UNARY_LEAKY_RELU, "tg_leaky_relu");
}
static int leaky_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                          tg_tensor **din) {
    double s = tg__unary_params(node)->a;
    tg_tensor *slope = tg_add_scalar(tape, tg_mul_scalar(tape, tg_gt_scalar(tape, node->in[0], 0),
                                                         1.0 - s), s);
    din[0] = tg_mul(tape, dout, slope);
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_leaky_relu = {
    .id = TG_OP_LEAKY_RELU, .name = "tg_leaky_relu", .arity = 1,
    .infer = tg__infer_same, .forward = leaky_forward, .backward = leaky_backward,
    .params_size = sizeof(tg_unary_params),
};
tg_tensor *tg_leaky_relu(tg_tape *tape, tg_tensor *x, double slope) {
    return tg__apply1(tape, &tg__op_leaky_relu, x, slope, 0);
}

// ---- elu: y = x > 0 ? x : a*(exp(x)-1)    dx = dy*(x > 0 ? 1 : a*exp(x)) ----

static int elu_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return unary_forward(in, params, out, TG_UNARY_ELU, "tg_elu");
}
static int elu_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    tg_tensor *x = node->in[0];
    tg_tensor *zero = tg__scalar_like(tape, x, 0.0), *one = tg__scalar_like(tape, x, 1.0);
    // a*exp(min(x, 0)): written with x (not y) so it differentiates again, and never inf
    tg_tensor *neg = tg_mul_scalar(tape, tg_exp(tape, tg_minimum(tape, x, zero)),
                                   tg__unary_params(node)->a);
    din[0] = tg_mul(tape, dout, tg_where(tape, tg_gt_scalar(tape, x, 0), one, neg));
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_elu = {
    .id = TG_OP_ELU, .name = "tg_elu", .arity = 1,
    .infer = tg__infer_same, .forward = elu_forward, .backward = elu_backward,
    .params_size = sizeof(tg_unary_params),
};
tg_tensor *tg_elu(tg_tape *tape, tg_tensor *x, double alpha) {
    return tg__apply1(tape, &tg__op_elu, x, alpha, 0);
}

// ---- softplus: y = log(1+exp(b*x))/b    dx = dy*sigmoid(b*x) (dy where b*x > threshold) ----

static int softplus_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return unary_forward(in, params, out, TG_UNARY_SOFTPLUS, "tg_softplus");
}
static int softplus_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                             tg_tensor **din) {
    double beta = tg__unary_params(node)->a, thr = tg__unary_params(node)->b;
    tg_tensor *bx = tg_mul_scalar(tape, node->in[0], beta);
    tg_tensor *lin = tg_gt_scalar(tape, bx, thr);
    tg_tensor *one = tg__scalar_like(tape, bx, 1.0);
    din[0] = tg_mul(tape, dout, tg_where(tape, lin, one, tg_sigmoid(tape, bx)));
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_softplus = {
    .id = TG_OP_SOFTPLUS, .name = "tg_softplus", .arity = 1,
    .infer = tg__infer_same, .forward = softplus_forward, .backward = softplus_backward,
    .params_size = sizeof(tg_unary_params),
};
tg_tensor *tg_softplus(tg_tape *tape, tg_tensor *x, double beta, double threshold) {
    if (!(beta > 0) || isnan(threshold)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_softplus", "need beta > 0 and a threshold, got %g, %g",
                 beta, threshold);
        return NULL;
    }
    return tg__apply1(tape, &tg__op_softplus, x, beta, threshold);
}

// ---- erf: y = erf(x)    dx = dy*2/sqrt(pi)*exp(-x^2) ----

static int erf_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return unary_forward(in, params, out, TG_UNARY_ERF, "tg_erf");
}
static int erf_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    tg_tensor *x = node->in[0];
    tg_tensor *d = tg_mul_scalar(tape, tg_exp(tape, tg_neg(tape, tg_mul(tape, x, x))),
                                 2.0 / sqrt(3.14159265358979323846));
    din[0] = tg_mul(tape, dout, d);
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_erf = {
    .id = TG_OP_ERF, .name = "tg_erf", .arity = 1,
    .infer = tg__infer_same, .forward = erf_forward, .backward = erf_backward,
};
tg_tensor *tg_erf(tg_tape *tape, tg_tensor *x) { return tg__apply1(tape, &tg__op_erf, x, 0, 0); }

// ---- gelu_tanh: y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
//      dx = gelu_tanh_grad(dy, x) = dy * gelu'(x)   (torch's gelu(approximate='tanh')) ----

static int gelu_tanh_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return unary_forward(in, params, out, TG_UNARY_GELU_TANH, "tg_gelu_tanh");
}
static int gelu_tanh_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                              tg_tensor **din) {
    din[0] = tg_gelu_tanh_grad(tape, dout, node->in[0]);
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_gelu_tanh = {
    .id = TG_OP_GELU_TANH, .name = "tg_gelu_tanh", .arity = 1,
    .infer = tg__infer_same, .forward = gelu_tanh_forward, .backward = gelu_tanh_backward,
    .unread = TG_UNREAD_OUT,
};
tg_tensor *tg_gelu_tanh(tg_tape *tape, tg_tensor *x) {
    return tg__apply1(tape, &tg__op_gelu_tanh, x, 0, 0);
}

// ---- gelu_tanh_grad: z = dy * gelu'(x), broadcasting (the rule above as one pass; torch's
//      gelu_backward). With s = sigmoid(2u) and a = d(2u)/dx = 2k (1 + 3c x^2):
//        gelu'(x) = s + x s (1 - s) a,   gelu''(x) = s (1 - s) (2a + x (1 - 2s) a^2 + x a')
//      d(dy) = gelu_tanh_grad(g, x),   dx = g * dy * gelu''(x) ----

static tg_tensor *gelu_tanh_second(tg_tape *tape, tg_tensor *x) {
    const double k2 = 1.5957691216057308, c3 = 0.134145;   // 2 sqrt(2/pi), 3 * 0.044715
    tg_tensor *x2 = tg_mul(tape, x, x);
    tg_tensor *u2 = tg_mul_scalar(tape, tg_add(tape, x, tg_mul_scalar(tape, tg_mul(tape, x2, x),
                                                                      0.044715)), k2);
    tg_tensor *s = tg_sigmoid(tape, u2), *ss = tg_mul(tape, s, tg_rsub_scalar(tape, s, 1.0));
    tg_tensor *a = tg_mul_scalar(tape, tg_add_scalar(tape, tg_mul_scalar(tape, x2, c3), 1.0), k2);
    tg_tensor *t2 = tg_mul(tape, tg_mul(tape, x, tg_rsub_scalar(tape, tg_mul_scalar(tape, s, 2.0),
                                                                 1.0)), tg_mul(tape, a, a));
    tg_tensor *sum = tg_add(tape, tg_add(tape, tg_mul_scalar(tape, a, 2.0), t2),
                            tg_mul_scalar(tape, x2, 2.0 * k2 * c3));
    return tg_mul(tape, ss, sum);
}

static int gelu_tanh_grad_infer(tg_tensor *const *in, int n, const void *params, int *nd,
                                int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_gelu_tanh_grad");
}
static int gelu_tanh_grad_forward(tg_tensor *const *in, int n, const void *params,
                                  tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_GELU_TANH_GRAD, "tg_gelu_tanh_grad");
}
static int gelu_tanh_grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *g,
                                   tg_tensor **din) {
    tg_tensor *dy = node->in[0], *x = node->in[1];
    if (tg__needs_grad(node, 0) && !(din[0] = tg_gelu_tanh_grad(tape, g, x)))
        return tg_last_status();
    if (tg__needs_grad(node, 1) &&
        !(din[1] = tg_mul(tape, tg_mul(tape, g, dy), gelu_tanh_second(tape, x))))
        return tg_last_status();
    return TG_OK;
}
const tg_op_def tg__op_gelu_tanh_grad = {
    .id = TG_OP_GELU_TANH_GRAD, .name = "tg_gelu_tanh_grad", .arity = 2,
    .infer = gelu_tanh_grad_infer,
    .forward = gelu_tanh_grad_forward,
    .backward = gelu_tanh_grad_backward,
};
tg_tensor *tg_gelu_tanh_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x) {
    return tg__apply2(tape, &tg__op_gelu_tanh_grad, dy, x);
}

// ---- silu: y = x * sigmoid(x)    dx = silu_grad(dy, x) = dy * silu'(x) ----

static int silu_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return unary_forward(in, params, out, TG_UNARY_SILU, "tg_silu");
}
static int silu_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_silu_grad(tape, dout, node->in[0]);
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_silu = {
    .id = TG_OP_SILU, .name = "tg_silu", .arity = 1,
    .infer = tg__infer_same, .forward = silu_forward, .backward = silu_backward,
    .unread = TG_UNREAD_OUT,
};
tg_tensor *tg_silu(tg_tape *tape, tg_tensor *x) { return tg__apply1(tape, &tg__op_silu, x, 0, 0); }

// ---- silu_grad: z = dy * silu'(x), broadcasting, one pass. With s = sigmoid(x):
//        silu'(x) = s (1 + x (1 - s)),   silu''(x) = s (1 - s) (2 + x (1 - 2s))
//      d(dy) = silu_grad(g, x),   dx = g * dy * silu''(x) ----

static tg_tensor *silu_second(tg_tape *tape, tg_tensor *x) {
    tg_tensor *s = tg_sigmoid(tape, x), *ss = tg_mul(tape, s, tg_rsub_scalar(tape, s, 1.0));
    tg_tensor *t = tg_mul(tape, x, tg_rsub_scalar(tape, tg_mul_scalar(tape, s, 2.0), 1.0));
    return tg_mul(tape, ss, tg_add_scalar(tape, t, 2.0));
}
static int silu_grad_infer(tg_tensor *const *in, int n, const void *params, int *nd,
                           int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_silu_grad");
}
static int silu_grad_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_SILU_GRAD, "tg_silu_grad");
}
static int silu_grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *g,
                              tg_tensor **din) {
    tg_tensor *dy = node->in[0], *x = node->in[1];
    if (tg__needs_grad(node, 0) && !(din[0] = tg_silu_grad(tape, g, x))) return tg_last_status();
    if (tg__needs_grad(node, 1) &&
        !(din[1] = tg_mul(tape, tg_mul(tape, g, dy), silu_second(tape, x))))
        return tg_last_status();
    return TG_OK;
}
const tg_op_def tg__op_silu_grad = {
    .id = TG_OP_SILU_GRAD, .name = "tg_silu_grad", .arity = 2,
    .infer = silu_grad_infer, .forward = silu_grad_forward, .backward = silu_grad_backward,
    .unread = TG_UNREAD_OUT,
};
tg_tensor *tg_silu_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x) {
    return tg__apply2(tape, &tg__op_silu_grad, dy, x);
}

// ---- composed ----

// hardtanh's value is clamp's; its gradient passes only strictly inside (lo, hi).
tg_tensor *tg_hardtanh(tg_tape *tape, tg_tensor *x, double lo, double hi) {
    if (!(lo <= hi)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_hardtanh", "need lo <= hi, got lo %g, hi %g", lo, hi);
        return NULL;
    }
    unsigned mark = tg_error_mark();
    tg_tensor *inside = tg_mul(tape, tg_gt_scalar(tape, x, lo), tg_lt_scalar(tape, x, hi));
    tg_tensor *y = tg_where(tape, inside, x, tg_clamp(tape, tg_detach(tape, x), lo, hi));
    return tg__named("tg_hardtanh", mark, y);
}

tg_tensor *tg_gelu(tg_tape *tape, tg_tensor *x) {
    unsigned mark = tg_error_mark();
    tg_tensor *phi = tg_add_scalar(tape, tg_erf(tape, tg_mul_scalar(tape, x, 1.0 / sqrt(2.0))), 1.0);
    return tg__named("tg_gelu", mark, tg_mul(tape, tg_mul_scalar(tape, x, 0.5), phi));
}

tg_tensor *tg_rsqrt(tg_tape *tape, tg_tensor *x) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_rsqrt", mark, tg_pow_scalar(tape, x, -0.5));
}

tg_tensor *tg_square(tg_tape *tape, tg_tensor *x) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_square", mark, tg_mul(tape, x, x));
}

// log1p(x) = log(1 + x), precise for tiny |x| (where 1 + x rounds): with u = 1 + x and
// d = u - 1 (both rounded), log(u) * x / d (Goldberg's correction; exactly x when d = 0),
// used for |x| < 1; log(u) elsewhere. Unselected branches see x = 0, so that no NaN or inf
// from them reaches the gradient through tg_where.
tg_tensor *tg_log1p(tg_tape *tape, tg_tensor *x) {
    unsigned mark = tg_error_mark();
    tg_tensor *zero = tg__scalar_like(tape, x, 0.0), *one = tg__scalar_like(tape, x, 1.0);
    tg_tensor *small = tg_lt_scalar(tape, tg_abs(tape, x), 1.0);
    tg_tensor *xs = tg_where(tape, small, x, zero);             // |xs| < 1
    tg_tensor *u = tg_add_scalar(tape, xs, 1.0);
    tg_tensor *d = tg_sub_scalar(tape, u, 1.0);
    tg_tensor *exact = tg_eq_scalar(tape, d, 0.0);               // 1 + x rounded to 1
    tg_tensor *corr = tg_div(tape, tg_mul(tape, tg_log(tape, u), xs), tg_where(tape, exact, one, d));
    tg_tensor *near = tg_where(tape, exact, xs, corr);
    tg_tensor *far = tg_log(tape, tg_add_scalar(tape, tg_where(tape, small, zero, x), 1.0));
    return tg__named("tg_log1p", mark, tg_where(tape, small, near, far));
}

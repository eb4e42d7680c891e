// Layer normalisation over the last axis as one fused op (one kernel pass per row), and its
// gradients as two more fused ops, so that the rule stays ops and differentiates again:
//   y  = xhat * w + b,   xhat = (x - mean) * r,   r = 1/sqrt(var + eps)   (biased var)
//   dx = layer_norm_grad(dy, x, w) = r * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * w
//   [dw; db] = layer_norm_wgrad(dy, x) = [sum(dy * xhat); sum(dy)] over the rows
// Inputs of tg_layer_norm are x, then w and b when given (ln_params say which, and eps).
#include <math.h>
#include <stddef.h>

#include "ops/op_table.h"

// ---- shape checks: x at least 1-D; w and b (when given) [C] with C = x's last dim ----

static int check_affine(const char *name, const tg_tensor *x, const tg_tensor *p,
                        const char *what) {
    if (p->ndim == 1 && p->shape[0] == x->shape[x->ndim - 1]) return TG_OK;
    char s1[160], s2[160];
    tg__fail(TG_ERR_SHAPE, name, "%s %s must be [%lld], the last axis of x %s", what,
             tg__shape_str(s1, sizeof s1, p->ndim, p->shape), (long long)x->shape[x->ndim - 1],
             tg__shape_str(s2, sizeof s2, x->ndim, x->shape));
    return TG_ERR_SHAPE;
}

static int check_x(const char *name, const tg_tensor *x) {
    if (x->ndim >= 1) return TG_OK;
    tg__fail(TG_ERR_SHAPE, name, "x must be at least 1-D (normalised over its last axis), "
             "got a 0-D tensor");
    return TG_ERR_SHAPE;
}

// The parameters of the three layer-norm ops: eps, and which affine inputs follow x (or dy, x).
typedef struct {
    double eps;
    bool has_w, has_b;
    void *wgrad;            // layer_norm_grad: [2, C] data for layer_norm_wgrad's value, or NULL
    const tg_tensor *pre;   // layer_norm_wgrad: its value already computed (by the
                            // layer_norm_grad of the same dy and x), or NULL
} ln_params;

static const ln_params *ln_params_of(const tg_node *node) { return tg__node_params(node); }

static int ln_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    if (check_x("tg_layer_norm", in[0])) return TG_ERR_SHAPE;
    const ln_params *p = params;
    int k = 1;
    if (p->has_w && check_affine("tg_layer_norm", in[0], in[k++], "weight")) return TG_ERR_SHAPE;
    if (p->has_b && check_affine("tg_layer_norm", in[0], in[k], "bias")) return TG_ERR_SHAPE;
    return tg__infer_same(in, n, params, nd, sh);
}

// The weight of a layer_norm(_grad) node (NULL when it has none) and the bias.
static tg_tensor *weight_of(const tg_node *node, int k) {
    return ln_params_of(node)->has_w ? node->in[k] : NULL;
}

// ---- layer_norm ----

static int ln_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const ln_params *p = params;
    const tg_tensor *w = p->has_w ? in[1] : NULL, *b = p->has_b ? in[p->has_w ? 2 : 1] : NULL;
    return tg__k_layer_norm("tg_layer_norm", in[0], w, b, out, p->eps);
}

static tg_tensor *layer_norm_wgrad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, double eps,
                                   const tg_tensor *pre);
static tg_tensor *layer_norm_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                                  double eps, tg_tensor **wgrad);

static int ln_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    tg_tensor *x = node->in[0], *w = weight_of(node, 1);
    double eps = ln_params_of(node)->eps;
    int kb = ln_params_of(node)->has_w ? 2 : 1;
    bool gw = w && tg__needs_grad(node, 1);
    bool gb = ln_params_of(node)->has_b && tg__needs_grad(node, kb);
    tg_tensor *pre = NULL;   // [dw; db] from dx's pass: one pass over x and dy fewer
    if (tg__needs_grad(node, 0) &&
        !(din[0] = layer_norm_grad(tape, dout, x, w, eps, gw || gb ? &pre : NULL)))
        return tg_last_status();
    tg_tensor *wb = gw || gb ? layer_norm_wgrad(tape, dout, x, eps, pre) : NULL;
    if (gw && !(din[1] = tg__row(tape, wb, 0))) return tg_last_status();
    if (gb && !(din[kb] = tg__row(tape, wb, 1))) return tg_last_status();
    return TG_OK;
}

const tg_op_def tg__op_layer_norm = {
    .id = TG_OP_LAYER_NORM, .name = "tg_layer_norm", .arity = -1,
    .infer = ln_infer, .forward = ln_forward, .backward = ln_backward,
    .params_size = sizeof(ln_params),
};

// An optional argument left NULL while an error is pending may be NULL because it failed:
// then the op fails too (NULL propagation), instead of dropping it.
static bool args_ok(const char *name, bool all_given, double eps) {
    if (!all_given && tg__has_error()) return false;
    if (eps >= 0 && isfinite(eps)) return true;
    tg__fail(TG_ERR_INVALID_ARG, name, "eps must be finite and >= 0, got %g", eps);
    return false;
}

tg_tensor *tg_layer_norm(tg_tape *tape, tg_tensor *x, tg_tensor *w, tg_tensor *b, double eps) {
    if (!args_ok("tg_layer_norm", w && b, eps)) return NULL;
    tg_tensor *in[3] = {x, NULL, NULL};
    int n = 1;
    if (w) in[n++] = w;
    if (b) in[n++] = b;
    ln_params p = {.eps = eps, .has_w = w != NULL, .has_b = b != NULL};
    return tg__apply(tape, &tg__op_layer_norm, n, in, &p);
}

// ---- layer_norm_wgrad: inputs dy, x (one shape); output [2, C]. Its rule (G = dL/dout):
//        d(dy) = xhat * G[0] + G[1]        dx = layer_norm_grad(dy, x, G[0])
//      (sum(G[0] * dy * xhat) is layer norm's output against dy with weight G[0]) ----

static int lnw_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    (void)n, (void)params;
    if (check_x("tg_layer_norm_wgrad", in[1]) || !tg__same_shape(in[0], in[1])) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, "tg_layer_norm_wgrad", "dy %s and x %s must have one shape",
                 tg__shape_str(s1, sizeof s1, in[0]->ndim, in[0]->shape),
                 tg__shape_str(s2, sizeof s2, in[1]->ndim, in[1]->shape));
        return TG_ERR_SHAPE;
    }
    *nd = 2;
    sh[0] = 2;
    sh[1] = in[1]->shape[in[1]->ndim - 1];
    return TG_OK;
}

static int lnw_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const ln_params *p = params;
    if (p->pre) {   // the same sums, from layer_norm_grad's pass over this dy and x
        tg_view v = tg__view_of(p->pre);
        return tg__k_unary("tg_layer_norm_wgrad", TG_UNARY_COPY, &v, out, 0, 0);
    }
    return tg__k_layer_norm_wgrad("tg_layer_norm_wgrad", in[0], in[1], out, p->eps);
}

static int lnw_backward(tg_tape *tape, const tg_node *node, tg_tensor *g, tg_tensor **din) {
    tg_tensor *dy = node->in[0], *x = node->in[1], *g0 = tg__row(tape, g, 0);
    double eps = ln_params_of(node)->eps;
    if (tg__needs_grad(node, 0) &&
        !(din[0] = tg_add(tape, tg_mul(tape, tg_layer_norm(tape, x, NULL, NULL, eps), g0),
                          tg__row(tape, g, 1))))
        return tg_last_status();
    if (tg__needs_grad(node, 1) && !(din[1] = tg_layer_norm_grad(tape, dy, x, g0, eps)))
        return tg_last_status();
    return TG_OK;
}

const tg_op_def tg__op_layer_norm_wgrad = {
    .id = TG_OP_LAYER_NORM_WGRAD, .name = "tg_layer_norm_wgrad", .arity = 2,
    .infer = lnw_infer, .forward = lnw_forward, .backward = lnw_backward,
    .params_size = sizeof(ln_params),
};

// pre: [dw; db] computed by the layer_norm_grad of this dy and x (NULL: compute them).
static tg_tensor *layer_norm_wgrad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, double eps,
                                   const tg_tensor *pre) {
    tg_tensor *in[2] = {dy, x};
    ln_params p = {.eps = eps, .pre = pre};
    return tg__apply(tape, &tg__op_layer_norm_wgrad, 2, in, &p);
}

// ---- layer_norm_grad: inputs dy, x, [w]; output dx. Its rule (G = dL/d(dx), r and xhat
//      of x, g = dy * w, P(u) = layer_norm_grad(u, x) = r * (u - mean(u) - xhat*mean(u*xhat))):
//        d(dy) = w * P(G)        dw = dy * P(G)
//        dx'   = P(u) - r * xhat * mean(G * dx),   u = -r * (g * mean(G*xhat) + mean(g*xhat) * G)
//      (P is symmetric, so dx = P(g) is its own adjoint in g; the x terms come from r's and
//      xhat's derivatives.) ----

static int lng_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    const char *name = "tg_layer_norm_grad";
    if (check_x(name, in[1])) return TG_ERR_SHAPE;
    if (!tg__same_shape(in[0], in[1])) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, name, "dy %s and x %s must have one shape",
                 tg__shape_str(s1, sizeof s1, in[0]->ndim, in[0]->shape),
                 tg__shape_str(s2, sizeof s2, in[1]->ndim, in[1]->shape));
        return TG_ERR_SHAPE;
    }
    if (((const ln_params *)params)->has_w && check_affine(name, in[1], in[2], "weight"))
        return TG_ERR_SHAPE;
    return tg__infer_same(in, n, params, nd, sh);
}

static int lng_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const ln_params *p = params;
    return tg__k_layer_norm_grad("tg_layer_norm_grad", in[0], in[1], p->has_w ? in[2] : NULL, out,
                                 p->wgrad, p->eps);
}

static tg_tensor *row_mean(tg_tape *tape, tg_tensor *x) {
    int axis = -1;
    return tg_mean_axes(tape, x, 1, &axis, true);
}

// dx' of the rule above: the part that flows to x.
static tg_tensor *lng_dx(tg_tape *tape, const tg_node *node, tg_tensor *g_out) {
    tg_tensor *dy = node->in[0], *x = node->in[1], *w = weight_of(node, 2);
    double eps = ln_params_of(node)->eps;
    int axis = -1;
    tg_tensor *r = tg_pow_scalar(tape, tg_add_scalar(tape, tg_var(tape, x, 1, &axis, 0, true),
                                                     eps), -0.5);
    tg_tensor *xhat = tg_layer_norm(tape, x, NULL, NULL, eps);
    tg_tensor *g = w ? tg_mul(tape, dy, w) : dy;
    tg_tensor *u = tg_add(tape, tg_mul(tape, g, row_mean(tape, tg_mul(tape, g_out, xhat))),
                          tg_mul(tape, row_mean(tape, tg_mul(tape, g, xhat)), g_out));
    u = tg_neg(tape, tg_mul(tape, r, u));
    tg_tensor *t =
        tg_mul(tape, tg_mul(tape, r, xhat), row_mean(tape, tg_mul(tape, g_out, node->out)));
    return tg_sub(tape, tg_layer_norm_grad(tape, u, x, NULL, eps), t);
}

static int lng_backward(tg_tape *tape, const tg_node *node, tg_tensor *g_out, tg_tensor **din) {
    tg_tensor *dy = node->in[0], *x = node->in[1], *w = weight_of(node, 2);
    double eps = ln_params_of(node)->eps;
    bool gdy = tg__needs_grad(node, 0), gw = w && tg__needs_grad(node, 2);
    tg_tensor *pg = gdy || gw ? tg_layer_norm_grad(tape, g_out, x, NULL, eps) : NULL;
    if (gdy && !(din[0] = w ? tg_mul(tape, w, pg) : pg)) return tg_last_status();
    if (gw && !(din[2] = tg_mul(tape, dy, pg))) return tg_last_status();
    if (tg__needs_grad(node, 1) && !(din[1] = lng_dx(tape, node, g_out))) return tg_last_status();
    return TG_OK;
}

const tg_op_def tg__op_layer_norm_grad = {
    .id = TG_OP_LAYER_NORM_GRAD, .name = "tg_layer_norm_grad", .arity = -1,
    .infer = lng_infer, .forward = lng_forward, .backward = lng_backward,
    .params_size = sizeof(ln_params),
};

// The node; wgrad: where the kernel also writes layer_norm_wgrad's value, or NULL.
static tg_tensor *ln_grad_node(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                               double eps, void *wgrad) {
    tg_tensor *in[3] = {dy, x, w};
    ln_params p = {.eps = eps, .has_w = w != NULL, .wgrad = wgrad};
    return tg__apply(tape, &tg__op_layer_norm_grad, w ? 3 : 2, in, &p);
}

tg_tensor *tg_layer_norm_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                              double eps) {
    if (!args_ok("tg_layer_norm_grad", w != NULL, eps)) return NULL;
    return ln_grad_node(tape, dy, x, w, eps, NULL);
}

// layer_norm's dx for its backward; with wgrad, also [dw; db] = layer_norm_wgrad(dy, x)
// from the same kernel call (tg__norm_grad_with_wgrad).
static tg_tensor *layer_norm_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                                  double eps, tg_tensor **wgrad) {
    if (!wgrad) return tg_layer_norm_grad(tape, dy, x, w, eps);
    return tg__norm_grad_with_wgrad(tape, ln_grad_node, dy, x, w, eps, x->shape[x->ndim - 1],
                                    "tg_layer_norm_grad", wgrad);
}

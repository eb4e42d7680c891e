// Batch normalisation (training mode) as one fused op over x [N, C, ...], by channel, and
// its gradients as two more fused ops, so that the rule stays ops and differentiates again
// (layernorm.c's scheme with the channel, not the last axis, as the normalised group):
//   y  = xhat * w + b,   xhat = (x - mean) * r,   r = 1/sqrt(var + eps)   (biased var, over
//        N and the trailing dims of each channel)
//   dx = batch_norm_grad(dy, x, w) = r * (g - cmean(g) - xhat * cmean(g * xhat)), g = dy * w
//   [dw; db] = batch_norm_wgrad(dy, x) = [csum(dy * xhat); csum(dy)]   ([2, C])
// cmean / csum: over every axis but 1. Backends without the batch_norm kernel get the same
// math composed from elementwise ops and reductions (tg_batch_norm only).
#include <math.h>

#include "ops/op_table.h"

typedef struct {
    double eps;
    bool has_w, has_b;
    void *stats;   // batch_norm's forward: [2, C] data for the batch mean and variance, or NULL;
                   // batch_norm_grad: [2, C] data for batch_norm_wgrad's value, or NULL
    const tg_tensor *pre;   // batch_norm_wgrad: its value already computed (by the
                            // batch_norm_grad of the same dy and x), or NULL
} bn_params;

static const bn_params *bn_params_of(const tg_node *node) { return tg__node_params(node); }

// ---- shapes: x [N, C, ...] (at least 2-D, values in every channel); w, b [C] ----

static int check_x(const char *name, const tg_tensor *x) {
    char s[160];
    if (x->ndim < 2 || x->shape[1] == 0 || x->numel / x->shape[1] < 1) {
        tg__fail(TG_ERR_SHAPE, name, "x must be [N, C, ...] with values in every channel, got %s",
                 tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

static int check_affine(const char *name, const tg_tensor *x, const tg_tensor *p,
                        const char *what) {
    if (p->ndim == 1 && p->shape[0] == x->shape[1]) return TG_OK;
    char s1[160], s2[160];
    tg__fail(TG_ERR_SHAPE, name, "%s %s must be [%lld], the channels (axis 1) of x %s", what,
             tg__shape_str(s1, sizeof s1, p->ndim, p->shape), (long long)x->shape[1],
             tg__shape_str(s2, sizeof s2, x->ndim, x->shape));
    return TG_ERR_SHAPE;
}

static int check_same(const char *name, const tg_tensor *dy, const tg_tensor *x) {
    if (tg__same_shape(dy, x)) return TG_OK;
    char s1[160], s2[160];
    tg__fail(TG_ERR_SHAPE, name, "dy %s and x %s must have one shape",
             tg__shape_str(s1, sizeof s1, dy->ndim, dy->shape),
             tg__shape_str(s2, sizeof s2, x->ndim, x->shape));
    return TG_ERR_SHAPE;
}

static tg_bn_desc desc_of(int mode, const tg_tensor *x, double eps) {
    int64_t inner = 1;
    for (int i = 2; i < x->ndim; i++) inner *= x->shape[i];
    tg_bn_desc d = {.dtype = (int)x->dtype, .mode = mode, .n = x->shape[0], .c = x->shape[1],
                    .inner = inner, .x = x->data, .eps = eps};
    return d;
}

// ---- composed helpers for the rules: over every axis but 1, and [C] broadcast as channels ----

static int chan_axes(const tg_tensor *x, int *axes) {
    int n = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != 1) axes[n++] = i;
    return n;
}

static tg_tensor *cmean(tg_tape *tape, tg_tensor *t) {
    int axes[TG_MAX_DIMS], n = chan_axes(t, axes);
    return tg_mean_axes(tape, t, n, axes, true);
}

static tg_tensor *csum(tg_tape *tape, tg_tensor *t) {   // -> [C]
    int axes[TG_MAX_DIMS], n = chan_axes(t, axes);
    return tg_sum_axes(tape, t, n, axes, false);
}

// v [C] as [1, C, 1, ...] against x.
static tg_tensor *as_channels(tg_tape *tape, tg_tensor *v, const tg_tensor *x) {
    int64_t sh[TG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) sh[i] = i == 1 ? x->shape[1] : 1;
    return tg_reshape(tape, v, x->ndim, sh);
}

static tg_tensor *batch_norm_wgrad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, double eps,
                                   const tg_tensor *pre);
static tg_tensor *batch_norm_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                                  double eps, tg_tensor **wgrad);
static tg_tensor *normalized(tg_tape *tape, tg_tensor *x, double eps);

// ---- batch_norm: inputs x, [w], [b] ----

static int bn_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    const bn_params *p = params;
    if (check_x("tg_batch_norm", in[0])) return TG_ERR_SHAPE;
    int k = 1;
    if (p->has_w && check_affine("tg_batch_norm", in[0], in[k++], "weight")) return TG_ERR_SHAPE;
    if (p->has_b && check_affine("tg_batch_norm", in[0], in[k], "bias")) return TG_ERR_SHAPE;
    return tg__infer_same(in, n, params, nd, sh);
}

static int bn_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const bn_params *p = params;
    tg_bn_desc d = desc_of(TG_BN_FORWARD, in[0], p->eps);
    d.w = p->has_w ? in[1]->data : NULL;
    d.b = p->has_b ? in[p->has_w ? 2 : 1]->data : NULL;
    d.y = out->data;
    d.stats = p->stats;
    return tg__k_batch_norm("tg_batch_norm", out->be, &d);
}

static int bn_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    const bn_params *p = bn_params_of(node);
    tg_tensor *x = node->in[0], *w = p->has_w ? node->in[1] : NULL;
    int kb = p->has_w ? 2 : 1;
    bool gw = w && tg__needs_grad(node, 1), gb = p->has_b && tg__needs_grad(node, kb);
    tg_tensor *pre = NULL;   // [dw; db] from dx's sums pass: one pass over x and dy fewer
    if (tg__needs_grad(node, 0) &&
        !(din[0] = batch_norm_grad(tape, dout, x, w, p->eps, gw || gb ? &pre : NULL)))
        return tg_last_status();
    tg_tensor *wb = gw || gb ? batch_norm_wgrad(tape, dout, x, p->eps, pre) : NULL;
    if (gw && !(din[1] = tg__row(tape, wb, 0))) return tg_last_status();
    if (gb && !(din[kb] = tg__row(tape, wb, 1))) return tg_last_status();
    return TG_OK;
}

const tg_op_def tg__op_batch_norm = {
    .id = TG_OP_BATCH_NORM, .name = "tg_batch_norm", .arity = -1,
    .infer = bn_infer, .forward = bn_forward, .backward = bn_backward,
    .unread = TG_UNREAD_OUT, .params_size = sizeof(bn_params),
};

static tg_tensor *normalized(tg_tape *tape, tg_tensor *x, double eps) {
    bn_params p = {.eps = eps};
    return tg__apply(tape, &tg__op_batch_norm, 1, &x, &p);
}

// The same math from elementwise ops and reductions (backends without the kernel); *stats
// (when asked) = [mean; biased variance] [2, C], detached.
static tg_tensor *composed(tg_tape *tape, tg_tensor *x, tg_tensor *w, tg_tensor *b, double eps,
                           tg_tensor **stats) {
    int axes[TG_MAX_DIMS], n = chan_axes(x, axes);
    tg_tensor *mean = tg_mean_axes(tape, x, n, axes, true);
    tg_tensor *var = tg_var(tape, x, n, axes, 0, true);
    tg_tensor *y = tg_div(tape, tg_sub(tape, x, mean), tg_sqrt(tape, tg_add_scalar(tape, var, eps)));
    if (w) y = tg_mul(tape, y, as_channels(tape, w, x));
    if (b) y = tg_add(tape, y, as_channels(tape, b, x));
    if (stats) {
        int64_t row[2] = {1, x->shape[1]};
        tg_tensor *m = tg_reshape(tape, tg_detach(tape, mean), 2, row);
        tg_tensor *v = tg_reshape(tape, tg_detach(tape, var), 2, row);
        *stats = tg_concat(tape, 2, (tg_tensor *[]){m, v}, 0);
    }
    return y;
}

// running = (1 - momentum) * running + momentum * batch value (the variance unbiased; st
// [2, C] holds the batch mean and biased variance of `count` values per channel), not
// recorded.
static int update_running(tg_tape *tape, tg_tensor *st, int64_t count, tg_tensor *rm,
                          tg_tensor *rv, double momentum) {
    bool mode = tg_tape_set_grad(tape, false);
    int status = TG_OK;
    if (rm) status = tg_axpby_(rm, momentum, tg__row(tape, st, 0), 1.0 - momentum);
    if (!status && rv) {
        double unbias = count > 1 ? (double)count / (double)(count - 1) : 1.0;
        tg_tensor *v = tg_mul_scalar(tape, tg__row(tape, st, 1), unbias);
        status = v ? tg_axpby_(rv, momentum, v, 1.0 - momentum) : tg_last_status();
    }
    tg_tape_set_grad(tape, mode);
    return status;
}

// An optional argument left NULL while an error is pending may be NULL because it failed:
// then the op fails too (NULL propagation), instead of dropping it.
static bool args_ok(const char *name, bool all_given, double eps) {
    if (!all_given && tg__has_error()) return false;
    if (eps > 0 && isfinite(eps)) return true;
    tg__fail(TG_ERR_INVALID_ARG, name, "eps must be finite and > 0, got %g", eps);
    return false;
}

static bool running_ok(const tg_tensor *x, const tg_tensor *r, const char *what) {
    if (!r) return true;
    if (tg__check_live(r, "tg_batch_norm")) return false;
    if (r->ndim == 1 && r->shape[0] == x->shape[1] && r->dtype == x->dtype && r->be == x->be)
        return true;
    char s1[160], s2[160];
    tg__fail(TG_ERR_SHAPE, "tg_batch_norm", "%s %s %s must be [%lld] %s like the channels of "
             "x %s", what, tg_dtype_name(r->dtype), tg__shape_str(s1, sizeof s1, r->ndim, r->shape),
             (long long)x->shape[1], tg_dtype_name(x->dtype),
             tg__shape_str(s2, sizeof s2, x->ndim, x->shape));
    return false;
}

tg_tensor *tg_batch_norm(tg_tape *tape, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                         tg_tensor *running_mean, tg_tensor *running_var, double momentum,
                         double eps) {
    if (!args_ok("tg_batch_norm", w && b && running_mean && running_var, eps)) return NULL;
    if (!(momentum >= 0 && momentum <= 1)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_batch_norm", "momentum must be in [0, 1], got %g",
                 momentum);
        return NULL;
    }
    tg_tensor *in[3] = {x, NULL, NULL};
    int n = 1;
    if (w) in[n++] = w;
    if (b) in[n++] = b;
    if (tg__check_inputs(tape, &tg__op_batch_norm, n, in)) return NULL;
    if (check_x("tg_batch_norm", x) || !running_ok(x, running_mean, "running_mean") ||
        !running_ok(x, running_var, "running_var"))
        return NULL;
    bool want_stats = running_mean || running_var;
    tg_tensor *st = NULL, *y;   // st: the batch's [mean; biased variance], for the running ones
    unsigned mark = tg_error_mark();
    if (tg__has_batch_norm(x->be)) {   // the forward kernel writes st in its statistics pass
        int64_t c = x->shape[1];
        st = want_stats ? tg__step_new(tape, x->be, x->dtype, 2, (int64_t[]){2, c},
                                       "tg_batch_norm")
                        : NULL;
        if (want_stats && !st) return NULL;
        bn_params p = {.eps = eps, .has_w = w != NULL, .has_b = b != NULL,
                       .stats = st ? st->data : NULL};
        y = tg__apply(tape, &tg__op_batch_norm, n, in, &p);
    } else {
        y = tg__named("tg_batch_norm", mark, composed(tape, x, w, b, eps, want_stats ? &st : NULL));
    }
    if (y && want_stats &&
        (!st || update_running(tape, st, x->numel / x->shape[1], running_mean, running_var,
                               momentum)))
        return tg__named("tg_batch_norm", mark, NULL);
    return y;
}

// ---- batch_norm_wgrad: inputs dy, x (one shape); output [2, C]. Its rule (G = dL/dout):
//        d(dy) = xhat * G[0] + G[1]        dx = batch_norm_grad(dy, x, G[0]) ----

static int bnw_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    (void)n, (void)params;
    if (check_x("tg_batch_norm_wgrad", in[1]) || check_same("tg_batch_norm_wgrad", in[0], in[1]))
        return TG_ERR_SHAPE;
    *nd = 2;
    sh[0] = 2;
    sh[1] = in[1]->shape[1];
    return TG_OK;
}

static int bnw_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const bn_params *p = params;
    if (p->pre) {   // the same sums, from batch_norm_grad's pass over this dy and x
        tg_view v = tg__view_of(p->pre);
        return tg__k_unary("tg_batch_norm_wgrad", TG_UNARY_COPY, &v, out, 0, 0);
    }
    tg_bn_desc d = desc_of(TG_BN_WGRAD, in[1], p->eps);
    d.dy = in[0]->data;
    d.y = out->data;
    return tg__k_batch_norm("tg_batch_norm_wgrad", out->be, &d);
}

static int bnw_backward(tg_tape *tape, const tg_node *node, tg_tensor *g, tg_tensor **din) {
    tg_tensor *dy = node->in[0], *x = node->in[1], *g0 = tg__row(tape, g, 0);
    double eps = bn_params_of(node)->eps;
    if (tg__needs_grad(node, 0) &&
        !(din[0] = tg_add(tape, tg_mul(tape, normalized(tape, x, eps), as_channels(tape, g0, x)),
                          as_channels(tape, tg__row(tape, g, 1), x))))
        return tg_last_status();
    if (tg__needs_grad(node, 1) && !(din[1] = tg_batch_norm_grad(tape, dy, x, g0, eps)))
        return tg_last_status();
    return TG_OK;
}

const tg_op_def tg__op_batch_norm_wgrad = {
    .id = TG_OP_BATCH_NORM_WGRAD, .name = "tg_batch_norm_wgrad", .arity = 2,
    .infer = bnw_infer, .forward = bnw_forward, .backward = bnw_backward,
    .unread = TG_UNREAD_OUT, .params_size = sizeof(bn_params),
};

// pre: [dw; db] computed by the batch_norm_grad of this dy and x (NULL: compute them).
static tg_tensor *batch_norm_wgrad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, double eps,
                                   const tg_tensor *pre) {
    tg_tensor *in[2] = {dy, x};
    bn_params p = {.eps = eps, .pre = pre};
    return tg__apply(tape, &tg__op_batch_norm_wgrad, 2, in, &p);
}

// ---- batch_norm_grad: inputs dy, x, [w]; output dx. Its rule (G = dL/d(dx), r and xhat of
//      x, g = dy * w, P(u) = batch_norm_grad(u, x) = r * (u - cmean(u) - xhat*cmean(u*xhat))):
//        d(dy) = w * P(G)        dw = csum(dy * P(G))
//        dx'   = P(u) - r * xhat * cmean(G * dx),   u = -r * (g * cmean(G*xhat) + cmean(g*xhat) * G)
//      (layernorm.c's rule, by channel) ----

static int bng_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    const char *name = "tg_batch_norm_grad";
    if (check_x(name, in[1]) || check_same(name, in[0], in[1])) return TG_ERR_SHAPE;
    if (((const bn_params *)params)->has_w && check_affine(name, in[1], in[2], "weight"))
        return TG_ERR_SHAPE;
    return tg__infer_same(in, n, params, nd, sh);
}

static int bng_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const bn_params *p = params;
    tg_bn_desc d = desc_of(TG_BN_GRAD, in[1], p->eps);
    d.dy = in[0]->data;
    d.w = p->has_w ? in[2]->data : NULL;
    d.y = out->data;
    d.stats = p->stats;
    return tg__k_batch_norm("tg_batch_norm_grad", out->be, &d);
}

static tg_tensor *bng_dx(tg_tape *tape, const tg_node *node, tg_tensor *g_out) {
    tg_tensor *dy = node->in[0], *x = node->in[1];
    tg_tensor *w = bn_params_of(node)->has_w ? as_channels(tape, node->in[2], x) : NULL;
    double eps = bn_params_of(node)->eps;
    int axes[TG_MAX_DIMS], n = chan_axes(x, axes);
    tg_tensor *r = tg_pow_scalar(tape, tg_add_scalar(tape, tg_var(tape, x, n, axes, 0, true), eps),
                                 -0.5);
    tg_tensor *xhat = normalized(tape, x, eps);
    tg_tensor *g = w ? tg_mul(tape, dy, w) : dy;
    tg_tensor *u = tg_add(tape, tg_mul(tape, g, cmean(tape, tg_mul(tape, g_out, xhat))),
                          tg_mul(tape, cmean(tape, tg_mul(tape, g, xhat)), g_out));
    u = tg_neg(tape, tg_mul(tape, r, u));
    tg_tensor *t = tg_mul(tape, tg_mul(tape, r, xhat), cmean(tape, tg_mul(tape, g_out, node->out)));
    return tg_sub(tape, tg_batch_norm_grad(tape, u, x, NULL, eps), t);
}

static int bng_backward(tg_tape *tape, const tg_node *node, tg_tensor *g_out, tg_tensor **din) {
    tg_tensor *dy = node->in[0], *x = node->in[1];
    tg_tensor *w = bn_params_of(node)->has_w ? node->in[2] : NULL;
    double eps = bn_params_of(node)->eps;
    bool gdy = tg__needs_grad(node, 0), gw = w && tg__needs_grad(node, 2);
    tg_tensor *pg = gdy || gw ? tg_batch_norm_grad(tape, g_out, x, NULL, eps) : NULL;
    if (gdy && !(din[0] = w ? tg_mul(tape, as_channels(tape, w, x), pg) : pg))
        return tg_last_status();
    if (gw && !(din[2] = csum(tape, tg_mul(tape, dy, pg)))) return tg_last_status();
    if (tg__needs_grad(node, 1) && !(din[1] = bng_dx(tape, node, g_out))) return tg_last_status();
    return TG_OK;
}

const tg_op_def tg__op_batch_norm_grad = {
    .id = TG_OP_BATCH_NORM_GRAD, .name = "tg_batch_norm_grad", .arity = -1,
    .infer = bng_infer, .forward = bng_forward, .backward = bng_backward,
    .params_size = sizeof(bn_params),
};

// The node (inputs checked); stats: where the kernel also writes batch_norm_wgrad's value.
static tg_tensor *bn_grad_node(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                               double eps, void *stats) {
    tg_tensor *in[3] = {dy, x, w};
    bn_params p = {.eps = eps, .has_w = w != NULL, .stats = stats};
    return tg__apply(tape, &tg__op_batch_norm_grad, w ? 3 : 2, in, &p);
}

tg_tensor *tg_batch_norm_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                              double eps) {
    if (!args_ok("tg_batch_norm_grad", w != NULL, eps)) return NULL;
    tg_tensor *in[3] = {dy, x, w};
    int n = w ? 3 : 2;
    if (tg__check_inputs(tape, &tg__op_batch_norm_grad, n, in)) return NULL;
    if (!tg__has_batch_norm(x->be)) {
        tg__fail(TG_ERR_UNSUPPORTED, "tg_batch_norm_grad",
                 "not supported on backend %s (no batch_norm kernel)", tg_backend_name(x->be));
        return NULL;
    }
    return bn_grad_node(tape, dy, x, w, eps, NULL);
}

// batch_norm's dx for its backward; with wgrad, also [dw; db] = batch_norm_wgrad(dy, x)
// from the same kernel call (tg__norm_grad_with_wgrad).
static tg_tensor *batch_norm_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                                  double eps, tg_tensor **wgrad) {
    if (!wgrad) return tg_batch_norm_grad(tape, dy, x, w, eps);
    return tg__norm_grad_with_wgrad(tape, bn_grad_node, dy, x, w, eps, x->shape[1],
                                    "tg_batch_norm_grad", wgrad);
}

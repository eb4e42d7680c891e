// Scaled dot-product attention as one fused op, and its gradient as another:
//   o = softmax(scale * q k^T + mask) v        (per batch and head; mask: causal, dropout)
//   dq, dk, dv = attention_grad(qkv, o, do)    (one kernel: FlashAttention's recomputation)
// q, k and v travel packed in one tensor, so that the gradient is one tensor too:
//   layout 0: qkv [3, B, H, T, D], o [B, H, T, D]            (tg_attention stacks q, k, v)
//   layout 1: qkv [B, T, 3*H*D], o [B, T, H*D]               (tg_attention_qkv: a fused
//             projection's output, q | k | v on the last axis, heads inside each)
// The parameters (attn_params) give the layout, heads, scale, dropout and the mask's seed.
// The gradient op's own rule (double backward) is
// composed from public ops: matmul, softmax, softmax_grad, where, and the dropout mask
// regenerated from the seed.
#include <math.h>
#include <stddef.h>

#include "ops/op_table.h"

enum { LAYOUT_PACKED = 0, LAYOUT_QKV = 1 };

// Both ops' parameters (attention_grad gets the forward's).
typedef struct {
    int layout;       // LAYOUT_*
    int64_t heads;    // LAYOUT_QKV: heads inside the last axis
    double scale;
    double p;         // dropout probability (0: none)
    uint64_t seed;    // the dropout mask's seed (below 2^53, exact as the kernel's double)
    bool causal;
} attn_params;

// ---- problem geometry ----

typedef struct geom {
    int64_t b, h, t, d;
} geom;

static geom geom_of(const tg_tensor *qkv, const attn_params *at) {
    const int64_t *s = qkv->shape;
    if (at->layout == LAYOUT_PACKED) return (geom){s[1], s[2], s[3], s[4]};
    int64_t h = at->heads;
    return (geom){s[0], h, s[1], s[2] / (3 * h)};
}

// The kernel descriptor for qkv (and o, dout, dqkv when given) under at.
static tg_attn_desc desc_of(const tg_tensor *qkv, const tg_tensor *o, const tg_tensor *dout,
                            const tg_tensor *dqkv, const attn_params *at) {
    geom g = geom_of(qkv, at);
    tg_attn_desc d = {.dtype = (int)qkv->dtype, .b = g.b, .h = g.h, .t = g.t, .d = g.d,
                      .scale = at->scale, .p = at->p, .seed = at->seed,
                      .causal = (int)at->causal};
    int64_t koff;
    if (at->layout == LAYOUT_PACKED) {
        int64_t s[3] = {g.h * g.t * g.d, g.t * g.d, g.d};
        for (int i = 0; i < 3; i++) d.qs[i] = d.os[i] = s[i];
        koff = g.b * g.h * g.t * g.d;
    } else {
        int64_t hd = g.h * g.d;
        d.qs[0] = g.t * 3 * hd, d.qs[1] = g.d, d.qs[2] = 3 * hd;
        d.os[0] = g.t * hd, d.os[1] = g.d, d.os[2] = hd;
        koff = hd;
    }
    size_t es = tg_dtype_size(qkv->dtype);
    d.q = qkv->data;
    d.k = (const char *)qkv->data + (size_t)koff * es;
    d.v = (const char *)qkv->data + (size_t)(2 * koff) * es;
    d.o = o ? o->data : NULL;
    d.dout = dout ? dout->data : NULL;
    if (dqkv) {
        d.dq = dqkv->data;
        d.dk = (char *)dqkv->data + (size_t)koff * es;
        d.dv = (char *)dqkv->data + (size_t)(2 * koff) * es;
    }
    return d;
}

// ---- shape rules ----

static int out_shape(const tg_tensor *qkv, const attn_params *at, int *nd, int64_t *sh) {
    geom g = geom_of(qkv, at);
    if (at->layout == LAYOUT_PACKED) {
        *nd = 4;
        sh[0] = g.b, sh[1] = g.h, sh[2] = g.t, sh[3] = g.d;
    } else {
        *nd = 3;
        sh[0] = g.b, sh[1] = g.t, sh[2] = g.h * g.d;
    }
    return TG_OK;
}

static int attn_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    const attn_params *at = params;
    (void)n;
    return out_shape(in[0], at, nd, sh);
}

// attention_grad: inputs qkv, o, dout; o and dout have the forward's output shape.
static int grad_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    const attn_params *at = params;
    (void)n;
    int ond;
    int64_t osh[TG_MAX_DIMS];
    out_shape(in[0], at, &ond, osh);
    for (int k = 1; k < 3; k++) {
        bool same = in[k]->ndim == ond;
        for (int i = 0; same && i < ond; i++) same = in[k]->shape[i] == osh[i];
        if (!same) {
            char s1[160], s2[160];
            tg__fail(TG_ERR_SHAPE, "tg_attention_grad", "%s %s must have the output's shape %s",
                     k == 1 ? "o" : "dout", tg__shape_str(s1, sizeof s1, in[k]->ndim, in[k]->shape),
                     tg__shape_str(s2, sizeof s2, ond, osh));
            return TG_ERR_SHAPE;
        }
    }
    return tg__infer_same(in, n, NULL, nd, sh);
}

// ---- the fused ops ----

static int attn_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    const attn_params *at = params;
    (void)n;
    tg_attn_desc d = desc_of(in[0], out, NULL, NULL, at);
    return tg__k_attention("tg_attention", out->be, &d);
}

static int grad_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    const attn_params *at = params;
    (void)n;
    tg_attn_desc d = desc_of(in[0], in[1], in[2], out, at);
    return tg__k_attention_grad("tg_attention_grad", out->be, &d);
}

static int grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *g, tg_tensor **din);

const tg_op_def tg__op_attention_grad = {
    .id = TG_OP_ATTENTION_GRAD, .name = "tg_attention_grad", .arity = 3,
    .infer = grad_infer, .forward = grad_forward, .backward = grad_backward,
    .params_size = sizeof(attn_params),
};

static int attn_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    tg_tensor *in[3] = {node->in[0], node->out, dout};
    din[0] = tg__apply(tape, &tg__op_attention_grad, 3, in, tg__node_params(node));
    return tg__rule_status(din[0]);
}

const tg_op_def tg__op_attention = {
    .id = TG_OP_ATTENTION, .name = "tg_attention", .arity = 1,
    .infer = attn_infer, .forward = attn_forward, .backward = attn_backward,
    .params_size = sizeof(attn_params),
};

// ---- the gradient's rule, composed (g = dL/d(dqkv); P the weights, M the dropout factors,
//      Pd = P*M, dP = (dout v^T)*M, Dv = rowsum(dout*o), dS = P*(dP - Dv)):
//        H = scale*(gq k^T + q gk^T)
//        gP = H*(dP - Dv) + (dout gv^T)*M      gS = softmax_grad(gP, P)     gDv = -rowsum(H*P)
//        q' = scale*(dS gk + gS k)     k' = scale*(dS^T gq + gS^T q)     v' = ((H*P*M)^T dout)
//        o' = gDv*dout                 dout' = Pd gv + gDv*o + (H*P*M) v ----

// q, k, v [B,H,T,D] of a qkv-shaped tensor; *out as [B,H,T,D] from an o-shaped one.
static int split_qkv(tg_tape *tape, tg_tensor *x, const attn_params *at, tg_tensor **qkv3) {
    geom g = geom_of(x, at);
    if (at->layout == LAYOUT_QKV)
        x = tg_permute(tape, tg_reshape(tape, x, 5, (int64_t[]){g.b, g.t, 3, g.h, g.d}),
                       (int[]){2, 0, 3, 1, 4});
    int64_t sh[4] = {g.b, g.h, g.t, g.d};
    for (int k = 0; k < 3; k++) qkv3[k] = tg_reshape(tape, tg_slice(tape, x, 0, k, k + 1, 1), 4, sh);
    return qkv3[0] && qkv3[1] && qkv3[2] ? TG_OK : tg_last_status();
}

static tg_tensor *heads_of(tg_tape *tape, tg_tensor *o, geom g, const attn_params *at) {
    if (at->layout == LAYOUT_PACKED) return o;
    o = tg_reshape(tape, o, 4, (int64_t[]){g.b, g.t, g.h, g.d});
    return tg_permute(tape, o, (int[]){0, 2, 1, 3});
}

static tg_tensor *unheads(tg_tape *tape, tg_tensor *o, geom g, const attn_params *at) {
    if (at->layout == LAYOUT_PACKED) return o;
    o = tg_permute(tape, o, (int[]){0, 2, 1, 3});
    return tg_reshape(tape, o, 3, (int64_t[]){g.b, g.t, g.h * g.d});
}

static tg_tensor *pack_qkv(tg_tape *tape, tg_tensor *const *d3, geom g, const attn_params *at) {
    tg_tensor *x = tg_stack(tape, 3, d3, 0);
    if (at->layout == LAYOUT_PACKED) return x;
    x = tg_permute(tape, x, (int[]){1, 3, 0, 2, 4});
    return tg_reshape(tape, x, 3, (int64_t[]){g.b, g.t, 3 * g.h * g.d});
}

static tg_tensor *row_sum(tg_tape *tape, tg_tensor *x) {
    int axis = -1;
    return tg_sum_axes(tape, x, 1, &axis, true);
}

// The dropout factors [B,H,T,T] (the kernels' mask), or NULL without dropout.
static tg_tensor *drop_factors(tg_tape *tape, const tg_tensor *like, geom g, const attn_params *at) {
    if (!(at->p > 0)) return NULL;
    int64_t sh[4] = {g.b, g.h, g.t, g.t};
    tg_tensor *m = tg_full(tape, like->be, like->dtype, 4, sh, 0.0);
    if (!m) return NULL;
    tg_view v = tg__view_of(m);
    return tg__k_unary("tg_attention_grad", TG_UNARY_DROPOUT_MASK, &v, m, (double)at->seed, at->p)
               ? NULL
               : m;
}

// P = softmax(scale q k^T + causal mask), composed.
static tg_tensor *weights(tg_tape *tape, tg_tensor *q, tg_tensor *k, geom g, const attn_params *at) {
    tg_tensor *s = tg_mul_scalar(tape, tg_matmul_ex(tape, q, k, false, true), at->scale);
    if (at->causal) {
        tg_tensor *i = tg_reshape(tape, tg_arange(tape, q->be, q->dtype, g.t, 0, 1), 2,
                                  (int64_t[]){g.t, 1});
        tg_tensor *j = tg_reshape(tape, tg_arange(tape, q->be, q->dtype, g.t, 0, 1), 2,
                                  (int64_t[]){1, g.t});
        s = tg_where(tape, tg_ge(tape, i, j), s, tg__scalar_like(tape, s, -INFINITY));
    }
    return tg_softmax(tape, s, -1);
}

static tg_tensor *times(tg_tape *tape, tg_tensor *x, tg_tensor *m) {
    return m ? tg_mul(tape, x, m) : x;
}

static int grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *g, tg_tensor **din) {
    const attn_params *at = tg__node_params(node);
    geom ge = geom_of(node->in[0], at);
    double sc = at->scale;
    tg_tensor *x[3], *gx[3];
    if (split_qkv(tape, node->in[0], at, x) || split_qkv(tape, g, at, gx)) return tg_last_status();
    tg_tensor *q = x[0], *k = x[1], *v = x[2];
    tg_tensor *o = heads_of(tape, node->in[1], ge, at), *dout = heads_of(tape, node->in[2], ge, at);
    tg_tensor *m = drop_factors(tape, q, ge, at);
    tg_tensor *p = weights(tape, q, k, ge, at), *pd = times(tape, p, m);
    tg_tensor *dp = times(tape, tg_matmul_ex(tape, dout, v, false, true), m);
    tg_tensor *dd = row_sum(tape, tg_mul(tape, dout, o));
    tg_tensor *ds = tg_mul(tape, p, tg_sub(tape, dp, dd));
    tg_tensor *h = tg_mul_scalar(tape, tg_add(tape, tg_matmul_ex(tape, gx[0], k, false, true),
                                              tg_matmul_ex(tape, q, gx[1], false, true)), sc);
    tg_tensor *hp = tg_mul(tape, h, p), *hpm = times(tape, hp, m);
    tg_tensor *gp = tg_add(tape, tg_mul(tape, h, tg_sub(tape, dp, dd)),
                           times(tape, tg_matmul_ex(tape, dout, gx[2], false, true), m));
    tg_tensor *gs = tg_softmax_grad(tape, gp, p), *gdv = tg_neg(tape, row_sum(tape, hp));
    tg_tensor *d3[3] = {
        tg_mul_scalar(tape, tg_add(tape, tg_matmul(tape, ds, gx[1]), tg_matmul(tape, gs, k)), sc),
        tg_mul_scalar(tape, tg_add(tape, tg_matmul_ex(tape, ds, gx[0], true, false),
                                   tg_matmul_ex(tape, gs, q, true, false)), sc),
        tg_matmul_ex(tape, hpm, dout, true, false)};
    tg_tensor *gdout = tg_add(tape, tg_add(tape, tg_matmul(tape, pd, gx[2]), tg_mul(tape, gdv, o)),
                              tg_matmul(tape, hpm, v));
    if (tg__needs_grad(node, 0) && !(din[0] = pack_qkv(tape, d3, ge, at))) return tg_last_status();
    if (tg__needs_grad(node, 1) &&
        !(din[1] = unheads(tape, tg_mul(tape, gdv, dout), ge, at)))
        return tg_last_status();
    if (tg__needs_grad(node, 2) && !(din[2] = unheads(tape, gdout, ge, at)))
        return tg_last_status();
    return TG_OK;
}

// ---- public wrappers ----

// The attributes for opts (NULL: defaults) and head dim d; draws the dropout seed.
static int params_for(const char *name, const tg_attention_opts *opts, int64_t d,
                      attn_params *at) {
    tg_attention_opts o = opts ? *opts : (tg_attention_opts){0};
    if (!isfinite(o.scale) || !(o.dropout_p >= 0 && o.dropout_p <= 1)) {
        tg__fail(TG_ERR_INVALID_ARG, name, "need a finite scale and dropout_p in [0, 1] "
                 "(got scale %g, dropout_p %g)", o.scale, o.dropout_p);
        return TG_ERR_INVALID_ARG;
    }
    bool drop = o.training && o.dropout_p > 0;
    if (drop && !o.rng) {
        tg__fail(TG_ERR_INVALID_ARG, name, "dropout_p %g in training needs an rng", o.dropout_p);
        return TG_ERR_INVALID_ARG;
    }
    at->scale = o.scale != 0 ? o.scale : 1.0 / sqrt((double)(d > 0 ? d : 1));
    at->p = drop ? o.dropout_p : 0.0;
    at->seed = drop ? (uint64_t)floor(tg_rng_uniform(o.rng) * 9007199254740992.0) : 0;
    at->causal = o.causal;
    return TG_OK;
}

static const tg_op_def check_def = {.name = "tg_attention_qkv", .arity = 1};

tg_tensor *tg_attention_qkv(tg_tape *tape, tg_tensor *qkv, int n_heads,
                            const tg_attention_opts *opts) {
    if (tg__check_inputs(tape, &check_def, 1, &qkv)) return NULL;
    if (qkv->ndim != 3 || n_heads < 1 || qkv->shape[2] % (3 * (int64_t)n_heads) != 0) {
        char s[160];
        tg__fail(TG_ERR_SHAPE, "tg_attention_qkv", "qkv %s must be [B, T, 3*H*D] with H = "
                 "n_heads = %d >= 1", tg__shape_str(s, sizeof s, qkv->ndim, qkv->shape), n_heads);
        return NULL;
    }
    attn_params at = {.layout = LAYOUT_QKV, .heads = n_heads};
    if (params_for("tg_attention_qkv", opts, qkv->shape[2] / (3 * n_heads), &at)) return NULL;
    return tg__apply(tape, &tg__op_attention, 1, &qkv, &at);
}

tg_tensor *tg_attention(tg_tape *tape, tg_tensor *q, tg_tensor *k, tg_tensor *v,
                        const tg_attention_opts *opts) {
    static const tg_op_def def = {.name = "tg_attention", .arity = 3};
    tg_tensor *in[3] = {q, k, v};
    if (tg__check_inputs(tape, &def, 3, in)) return NULL;
    if (q->ndim != 4 || !tg__same_shape(q, k) || !tg__same_shape(q, v)) {
        char s[3][160];
        for (int i = 0; i < 3; i++) tg__shape_str(s[i], sizeof s[i], in[i]->ndim, in[i]->shape);
        tg__fail(TG_ERR_SHAPE, "tg_attention", "q %s, k %s and v %s must share one shape "
                 "[B, H, T, D]", s[0], s[1], s[2]);
        return NULL;
    }
    attn_params at = {.layout = LAYOUT_PACKED, .heads = q->shape[1]};
    if (params_for("tg_attention", opts, q->shape[3], &at)) return NULL;
    tg_tensor *packed = tg_stack(tape, 3, in, 0);
    return packed ? tg__apply(tape, &tg__op_attention, 1, &packed, &at) : NULL;
}

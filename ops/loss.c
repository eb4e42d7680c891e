// Losses, composed from ops (numerically stable forms), with none/mean/sum reduction.
// Conventions follow torch.nn.functional: bce clamps its logs at -100, nll's mean divides
// by the summed class weights of the picked labels.
#include <math.h>

#include "ops/op_table.h"

static tg_tensor *reduce(tg_tape *tape, tg_tensor *l, tg_reduction r, const char *name) {
    switch (r) {
    case TG_REDUCE_MEAN: return tg_mean(tape, l);
    case TG_REDUCE_SUM_ALL: return tg_sum(tape, l);
    case TG_REDUCE_NONE: return l;
    default:
        tg__fail(TG_ERR_INVALID_ARG, name, "unknown reduction %d", (int)r);
        return NULL;
    }
}

// pred and target must have one shape (no silent broadcasting in a loss).
static int same_shape(tg_tensor *a, tg_tensor *b, const char *name) {
    if (!a || !b) {
        if (!tg__has_error()) tg__fail(TG_ERR_INVALID_ARG, name, "input is NULL");
        return TG_ERR_INVALID_ARG;
    }
    if (!tg__same_shape(a, b)) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, name, "input %s and target %s differ",
                 tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                 tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

static tg_tensor *mse_loss_impl(tg_tape *tape, tg_tensor *pred, tg_tensor *target, tg_reduction r) {
    if (same_shape(pred, target, "tg_mse_loss")) return NULL;
    tg_tensor *d = tg_sub(tape, pred, target);
    return reduce(tape, tg_mul(tape, d, d), r, "tg_mse_loss");
}

tg_tensor *tg_mse_loss(tg_tape *tape, tg_tensor *pred, tg_tensor *target, tg_reduction r) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_mse_loss", mark, mse_loss_impl(tape, pred, target, r));
}

static tg_tensor *l1_loss_impl(tg_tape *tape, tg_tensor *pred, tg_tensor *target, tg_reduction r) {
    if (same_shape(pred, target, "tg_l1_loss")) return NULL;
    return reduce(tape, tg_abs(tape, tg_sub(tape, pred, target)), r, "tg_l1_loss");
}

tg_tensor *tg_l1_loss(tg_tape *tape, tg_tensor *pred, tg_tensor *target, tg_reduction r) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_l1_loss", mark, l1_loss_impl(tape, pred, target, r));
}

// 0.5 d^2 where |d| < delta, delta (|d| - delta/2) elsewhere
static tg_tensor *huber_loss_impl(tg_tape *tape, tg_tensor *pred, tg_tensor *target, double delta,
                                  tg_reduction r) {
    if (same_shape(pred, target, "tg_huber_loss")) return NULL;
    if (!(delta > 0)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_huber_loss", "delta must be > 0, got %g", delta);
        return NULL;
    }
    tg_tensor *d = tg_sub(tape, pred, target);
    tg_tensor *a = tg_abs(tape, d);
    tg_tensor *quad = tg_mul_scalar(tape, tg_mul(tape, d, d), 0.5);
    tg_tensor *lin = tg_mul_scalar(tape, tg_sub_scalar(tape, a, 0.5 * delta), delta);
    return reduce(tape, tg_where(tape, tg_lt_scalar(tape, a, delta), quad, lin), r,
                  "tg_huber_loss");
}

tg_tensor *tg_huber_loss(tg_tape *tape, tg_tensor *pred, tg_tensor *target, double delta,
                         tg_reduction r) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_huber_loss", mark, huber_loss_impl(tape, pred, target, delta, r));
}

// -(y log p + (1-y) log(1-p)), each log clamped at -100
static tg_tensor *bce_terms(tg_tape *tape, tg_tensor *p, tg_tensor *y) {
    tg_tensor *lp = tg_clamp(tape, tg_log(tape, p), -100.0, INFINITY);
    tg_tensor *lq = tg_clamp(tape, tg_log(tape, tg_rsub_scalar(tape, p, 1.0)), -100.0, INFINITY);
    return tg_neg(tape, tg_add(tape, tg_mul(tape, y, lp),
                               tg_mul(tape, tg_rsub_scalar(tape, y, 1.0), lq)));
}

// bce_terms with torch's gradient dp = (p - y) / max(p(1-p), 1e-12), finite at p = 0 and 1.
// Where p(1-p) < 1e-12 the value comes from the detached p and dp from s - detach(s),
// s = (p^2/2 - y p) / 1e-12 (zero in value); the logs see 0.5 there, so no 0 * inf reaches
// a gradient. dy there is the clamped log ratio (torch: the unclamped one, +-inf at 0 and 1).
static tg_tensor *bce_loss_impl(tg_tape *tape, tg_tensor *p, tg_tensor *target, tg_reduction r) {
    const double eps = 1e-12f;   // torch's EPSILON in binary_cross_entropy_backward (a float)
    if (same_shape(p, target, "tg_bce_loss")) return NULL;
    tg_tensor *pd = tg_detach(tape, p);
    tg_tensor *inner = tg_ge_scalar(tape, tg_mul(tape, pd, tg_rsub_scalar(tape, pd, 1.0)), eps);
    tg_tensor *ps = tg_where(tape, inner, p, tg__scalar_like(tape, p, 0.5));
    tg_tensor *s = tg_mul_scalar(tape, tg_mul(tape, p, tg_sub(tape, tg_mul_scalar(tape, p, 0.5),
                                                              tg_detach(tape, target))), 1.0 / eps);
    tg_tensor *edge = tg_add(tape, bce_terms(tape, pd, target),
                             tg_sub(tape, s, tg_detach(tape, s)));
    return reduce(tape, tg_where(tape, inner, bce_terms(tape, ps, target), edge), r,
                  "tg_bce_loss");
}

tg_tensor *tg_bce_loss(tg_tape *tape, tg_tensor *p, tg_tensor *target, tg_reduction r) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_bce_loss", mark, bce_loss_impl(tape, p, target, r));
}

// softplus(x) - x*y as y*softplus(-x) + (1-y)*softplus(x): for y in [0, 1] two terms >= 0,
// so a confident right answer keeps its tiny loss (the difference form cancels it: 0 at
// x = 36, y = 1; a 3e-7 relative error at x = 20), and so does its gradient
// (1-y)*sigmoid(x) - y*sigmoid(-x). softplus in its overflow-free form (no threshold).
static tg_tensor *bce_with_logits_impl(tg_tape *tape, tg_tensor *logits, tg_tensor *target,
                                       tg_reduction r) {
    if (same_shape(logits, target, "tg_bce_with_logits")) return NULL;
    tg_tensor *pos = tg_mul(tape, target, tg_softplus(tape, tg_neg(tape, logits), 1.0, INFINITY));
    tg_tensor *neg = tg_mul(tape, tg_rsub_scalar(tape, target, 1.0),
                            tg_softplus(tape, logits, 1.0, INFINITY));
    return reduce(tape, tg_add(tape, pos, neg), r, "tg_bce_with_logits");
}

tg_tensor *tg_bce_with_logits(tg_tape *tape, tg_tensor *logits, tg_tensor *target,
                              tg_reduction r) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_bce_with_logits", mark, bce_with_logits_impl(tape, logits, target, r));
}

static tg_tensor *nll_loss_impl(tg_tape *tape, tg_tensor *logp, tg_tensor *labels,
                                tg_tensor *weight, tg_reduction r) {
    char s1[160], s2[160];
    if (!tape || !logp || !labels) {
        if (!tg__has_error()) tg__fail(TG_ERR_INVALID_ARG, "tg_nll_loss", "input is NULL");
        return NULL;
    }
    if (logp->ndim != 2 || labels->ndim != 1 || labels->shape[0] != logp->shape[0] ||
        (weight && (weight->ndim != 1 || weight->shape[0] != logp->shape[1]))) {
        tg__fail(TG_ERR_SHAPE, "tg_nll_loss",
                 "need input [N,C], labels [N] and weight [C]: got %s, labels %s%s", 
                 tg__shape_str(s1, sizeof s1, logp->ndim, logp->shape),
                 tg__shape_str(s2, sizeof s2, labels->ndim, labels->shape),
                 weight ? " and a weight of another shape" : "");
        return NULL;
    }
    int64_t n = logp->shape[0];
    tg_tensor *idx = tg_reshape(tape, labels, 2, (int64_t[]){n, 1});
    tg_tensor *picked = tg_reshape(tape, tg_gather(tape, logp, 1, idx), 1, &n);
    if (!picked) return NULL;
    if (!weight) return reduce(tape, tg_neg(tape, picked), r, "tg_nll_loss");
    tg_tensor *w = tg_index_select(tape, weight, 0, labels);
    tg_tensor *l = tg_neg(tape, tg_mul(tape, w, picked));
    if (r != TG_REDUCE_MEAN) return reduce(tape, l, r, "tg_nll_loss");
    return tg_div(tape, tg_sum(tape, l), tg_sum(tape, w));
}

tg_tensor *tg_nll_loss(tg_tape *tape, tg_tensor *logp, tg_tensor *labels, tg_tensor *weight,
                       tg_reduction r) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_nll_loss", mark, nll_loss_impl(tape, logp, labels, weight, r));
}

// ---- fused softmax cross-entropy (no class weights): per-row loss [N]
//      loss_i = logsumexp(z_i) - z_i[y_i]    dz = (softmax(z) - onehot(y)) * dloss ----

static int xent_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                      int64_t *shape) {
    (void)n, (void)params;
    const tg_tensor *z = in[0], *y = in[1];
    if (z->ndim != 2 || y->ndim != 1 || y->shape[0] != z->shape[0] || z->shape[1] < 1) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, "tg_cross_entropy", "need logits [N,C] and labels [N], got %s "
                 "and %s", tg__shape_str(s1, sizeof s1, z->ndim, z->shape),
                 tg__shape_str(s2, sizeof s2, y->ndim, y->shape));
        return TG_ERR_SHAPE;
    }
    *ndim = 1;
    shape[0] = z->shape[0];
    return TG_OK;
}

// The kernels' TG_ERR_INVALID_ARG: a bad label (the door passes it back unworded).
static int label_error(int st, const tg_tensor *z, const char *name) {
    if (st == TG_ERR_INVALID_ARG && !tg__has_error())
        tg__fail(TG_ERR_INVALID_ARG, name, "a label is not an integer in [0, %lld)",
                 (long long)z->shape[1]);
    return st;
}

static int xent_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    const tg_tensor *z = in[0];
    return label_error(tg__k_xent("tg_cross_entropy", out->be, (int)z->dtype, z->shape[0],
                                  z->shape[1], z->data, in[1]->data, out->data),
                       z, "tg_cross_entropy");
}

static int xent_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_cross_entropy_grad(tape, node->in[0], node->in[1], dout);
    return tg__rule_status(din[0]);
}

const tg_op_def tg__op_xent = {
    .id = TG_OP_XENT, .name = "tg_cross_entropy", .arity = 2,
    .infer = xent_infer, .forward = xent_forward, .backward = xent_backward,
    .unread = TG_UNREAD_OUT,
};

// ---- its gradient as an op: G = (softmax(z) - onehot(y)) * g[:, None]
//      dz = g * (s*V - s*sum(s*V)), dg = sum((s - onehot) * V) over classes (V = dG) ----

static int xent_grad_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                           int64_t *shape) {
    if (xent_infer(in, n, params, ndim, shape)) return TG_ERR_SHAPE;
    if (!tg__same_shape(in[2], in[1])) {
        char s[160];
        tg__fail(TG_ERR_SHAPE, "tg_cross_entropy_grad", "dloss %s must match labels [%lld]",
                 tg__shape_str(s, sizeof s, in[2]->ndim, in[2]->shape),
                 (long long)in[1]->shape[0]);
        return TG_ERR_SHAPE;
    }
    return tg__infer_same(in, n, params, ndim, shape);
}

static int xent_grad_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    const tg_tensor *z = in[0];
    return label_error(tg__k_xent_grad("tg_cross_entropy_grad", out->be, (int)z->dtype,
                                       z->shape[0], z->shape[1], z->data, in[1]->data,
                                       in[2]->data, out->data),
                       z, "tg_cross_entropy_grad");
}

static int xent_grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *v, tg_tensor **din) {
    tg_tensor *z = node->in[0], *y = node->in[1], *g = node->in[2];
    int axis = 1;
    tg_tensor *s = tg_softmax(tape, z, 1);
    if (tg__needs_grad(node, 0)) {
        tg_tensor *sv = tg_mul(tape, s, v);
        tg_tensor *proj = tg_sub(tape, sv, tg_mul(tape, s, tg_sum_axes(tape, sv, 1, &axis, true)));
        din[0] = tg_mul(tape, proj, tg_unsqueeze(tape, g, 1));
        if (!din[0]) return tg_last_status();
    }
    if (tg__needs_grad(node, 2)) {
        tg_tensor *d = tg_sub(tape, s, tg_one_hot(tape, y, z->shape[1]));
        din[2] = tg_sum_axes(tape, tg_mul(tape, d, v), 1, &axis, false);
        if (!din[2]) return tg_last_status();
    }
    return TG_OK;
}

const tg_op_def tg__op_xent_grad = {
    .id = TG_OP_XENT_GRAD, .name = "tg_cross_entropy_grad", .arity = 3,
    .infer = xent_grad_infer, .forward = xent_grad_forward, .backward = xent_grad_backward,
};

static tg_tensor *cross_entropy_grad_impl(tg_tape *tape, tg_tensor *logits, tg_tensor *labels,
                                          tg_tensor *dloss) {
    tg_tensor *in[3] = {logits, labels, dloss};
    return tg__apply(tape, &tg__op_xent_grad, 3, in, NULL);
}

tg_tensor *tg_cross_entropy_grad(tg_tape *tape, tg_tensor *logits, tg_tensor *labels,
                                 tg_tensor *dloss) {
    unsigned mark = tg_error_mark();
    tg_tensor *dx = cross_entropy_grad_impl(tape, logits, labels, dloss);
    return tg__named("tg_cross_entropy_grad", mark, dx);
}

static tg_tensor *cross_entropy_impl(tg_tape *tape, tg_tensor *logits, tg_tensor *labels,
                                     tg_tensor *weight, tg_reduction r) {
    if (logits && logits->ndim != 2) {
        char s[160];
        tg__fail(TG_ERR_SHAPE, "tg_cross_entropy", "need logits [N,C], got %s",
                 tg__shape_str(s, sizeof s, logits->ndim, logits->shape));
        return NULL;
    }
    if (weight)   // class weights: the composed form (nll of log_softmax)
        return tg_nll_loss(tape, tg_log_softmax(tape, logits, 1), labels, weight, r);
    tg_tensor *in[2] = {logits, labels};
    return reduce(tape, tg__apply(tape, &tg__op_xent, 2, in, NULL), r, "tg_cross_entropy");
}

tg_tensor *tg_cross_entropy(tg_tape *tape, tg_tensor *logits, tg_tensor *labels,
                            tg_tensor *weight, tg_reduction r) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_cross_entropy", mark, cross_entropy_impl(tape, logits, labels, weight, r));
}

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

tg_tensor *tg_mse_loss(tg_tape *tape, tg_tensor *pred, tg_tensor *target, tg_reduction r) {
    if (same_shape(pred, target, "tg_mse_loss")) return NULL;
    tg_tensor *d = tg_sub(tape, pred, target);
    return reduce(tape, tg_mul(tape, d, d), r, "tg_mse_loss");
}

tg_tensor *tg_l1_loss(tg_tape *tape, tg_tensor *pred, tg_tensor *target, tg_reduction r) {
    if (same_shape(pred, target, "tg_l1_loss")) return NULL;
    return reduce(tape, tg_abs(tape, tg_sub(tape, pred, target)), r, "tg_l1_loss");
}

// 0.5 d^2 where |d| < delta, delta (|d| - delta/2) elsewhere
tg_tensor *tg_huber_loss(tg_tape *tape, tg_tensor *pred, tg_tensor *target, double delta,
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

// -(y log p + (1-y) log(1-p)), each log clamped at -100
tg_tensor *tg_bce_loss(tg_tape *tape, tg_tensor *p, tg_tensor *target, tg_reduction r) {
    if (same_shape(p, target, "tg_bce_loss")) return NULL;
    tg_tensor *lp = tg_clamp(tape, tg_log(tape, p), -100.0, INFINITY);
    tg_tensor *lq = tg_clamp(tape, tg_log(tape, tg_rsub_scalar(tape, p, 1.0)), -100.0, INFINITY);
    tg_tensor *l = tg_add(tape, tg_mul(tape, target, lp),
                          tg_mul(tape, tg_rsub_scalar(tape, target, 1.0), lq));
    return reduce(tape, tg_neg(tape, l), r, "tg_bce_loss");
}

// softplus(x) - x*y, with softplus in its overflow-free form (no threshold)
tg_tensor *tg_bce_with_logits(tg_tape *tape, tg_tensor *logits, tg_tensor *target,
                              tg_reduction r) {
    if (same_shape(logits, target, "tg_bce_with_logits")) return NULL;
    tg_tensor *l = tg_sub(tape, tg_softplus(tape, logits, 1.0, INFINITY),
                          tg_mul(tape, logits, target));
    return reduce(tape, l, r, "tg_bce_with_logits");
}

tg_tensor *tg_nll_loss(tg_tape *tape, tg_tensor *logp, tg_tensor *labels, tg_tensor *weight,
                       tg_reduction r) {
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

tg_tensor *tg_cross_entropy(tg_tape *tape, tg_tensor *logits, tg_tensor *labels,
                            tg_tensor *weight, tg_reduction r) {
    if (logits && logits->ndim != 2) {
        char s[160];
        tg__fail(TG_ERR_SHAPE, "tg_cross_entropy", "need logits [N,C], got %s",
                 tg__shape_str(s, sizeof s, logits->ndim, logits->shape));
        return NULL;
    }
    return tg_nll_loss(tape, tg_log_softmax(tape, logits, 1), labels, weight, r);
}

// nn ops composed from primitives: softmax, log_softmax (stable: shifted by the max), and
// inverted dropout with a seeded RNG mask.
#include "ops/op_table.h"

tg_tensor *tg_log_softmax(tg_tape *tape, tg_tensor *x, int axis) {
    return tg_sub(tape, x, tg_logsumexp(tape, x, 1, &axis, true));
}

tg_tensor *tg_softmax(tg_tape *tape, tg_tensor *x, int axis) {
    return tg_exp(tape, tg_log_softmax(tape, x, axis));
}

// y = x * (u >= p) / (1 - p), u ~ U[0,1) from rng; identity when !training or p == 0.
tg_tensor *tg_dropout(tg_tape *tape, tg_tensor *x, double p, tg_rng *rng, bool training) {
    static const tg_op_def def = {TG_OP_NONE, "tg_dropout", 1, NULL, NULL, NULL};
    if (tg__check_inputs(tape, &def, 1, &x)) return NULL;
    if (!(p >= 0 && p <= 1)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_dropout", "p must be in [0, 1], got %g", p);
        return NULL;
    }
    if (!training || p == 0) return x;
    if (!rng) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_dropout", "rng is NULL (training mode needs one)");
        return NULL;
    }
    tg_tensor *u = tg_full(tape, x->be, x->dtype, x->ndim, x->shape, 0.0);
    if (!u || tg_uniform_(u, rng, 0.0, 1.0)) return NULL;
    tg_tensor *keep = tg_ge_scalar(tape, u, p);
    return tg_mul(tape, x, p < 1 ? tg_mul_scalar(tape, keep, 1.0 / (1.0 - p)) : keep);
}

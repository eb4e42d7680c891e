// nn ops composed from primitives: softmax, log_softmax (stable: shifted by the max), and
// inverted dropout with a seeded RNG mask.
#include <math.h>

#include "ops/op_table.h"

// x - m with m the (detached) max along axis: the shift that keeps exp finite. Computing
// with z = x - m directly (rather than x - logsumexp) keeps f32 precise at large logits.
static tg_tensor *shifted(tg_tape *tape, tg_tensor *x, int axis, const char *name) {
    static const tg_op_def def_ls = {TG_OP_NONE, "tg_log_softmax", 1, NULL, NULL, NULL};
    static const tg_op_def def_s = {TG_OP_NONE, "tg_softmax", 1, NULL, NULL, NULL};
    if (tg__check_inputs(tape, name[3] == 'l' ? &def_ls : &def_s, 1, &x)) return NULL;
    if (axis < -x->ndim || axis >= x->ndim) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, name, "axis %d out of range for shape %s", axis,
                 tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return NULL;
    }
    tg_tensor *m = tg_detach(tape, tg_max_axes(tape, x, 1, &axis, true));
    if (m) m = tg_where(tape, tg_lt_scalar(tape, tg_abs(tape, m), (double)INFINITY), m,
                        tg__scalar_like(tape, m, 0.0));
    return tg_sub(tape, x, m);
}

// log_softmax = z - log(sum(exp(z))), z = x - max
tg_tensor *tg_log_softmax(tg_tape *tape, tg_tensor *x, int axis) {
    tg_tensor *z = shifted(tape, x, axis, "tg_log_softmax");
    return tg_sub(tape, z, tg_log(tape, tg_sum_axes(tape, tg_exp(tape, z), 1, &axis, true)));
}

// softmax = exp(z) / sum(exp(z)), z = x - max
tg_tensor *tg_softmax(tg_tape *tape, tg_tensor *x, int axis) {
    tg_tensor *e = tg_exp(tape, shifted(tape, x, axis, "tg_softmax"));
    return tg_div(tape, e, tg_sum_axes(tape, e, 1, &axis, true));
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

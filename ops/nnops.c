// nn ops: softmax and log_softmax (a fused op per row when the axis is the last one, else
// composed from primitives; both stable: shifted by the row max), and inverted dropout with a
// seeded RNG mask.
#include <math.h>

#include "ops/op_table.h"

// ---- softmax / log_softmax over the last axis, fused (one kernel, one tape node):
//      softmax:     y = exp(x - lse(x))    dx = softmax_grad(dy, y) = y * (dy - sum(dy*y, -1))
//      log_softmax: y = x - lse(x)         dx = log_softmax_grad(dy, y) = dy - exp(y)*sum(dy, -1)
//      The rules use y (the node's output), so double backward runs through these ops again.
//      The gradients are fused ops too (one pass per row) where the backend has the kernel,
//      else composed from primitives.

static tg_tensor *row_sum(tg_tape *tape, tg_tensor *x) {
    int axis = x->ndim - 1;
    return tg_sum_axes(tape, x, 1, &axis, true);
}

static int softmax_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__k_softmax("tg_softmax", in[0], out, false);
}
static int softmax_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_softmax_grad(tape, dout, node->out);
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_softmax = {
    .id = TG_OP_SOFTMAX, .name = "tg_softmax", .arity = 1,
    .infer = tg__infer_same, .forward = softmax_forward, .backward = softmax_backward,
    .unread = TG_UNREAD_IN(0),
};

static int log_softmax_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__k_softmax("tg_log_softmax", in[0], out, true);
}
static int log_softmax_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                                tg_tensor **din) {
    din[0] = tg_log_softmax_grad(tape, dout, node->out);
    return tg__rule_status(din[0]);
}
const tg_op_def tg__op_log_softmax = {
    .id = TG_OP_LOG_SOFTMAX, .name = "tg_log_softmax", .arity = 1,
    .infer = tg__infer_same, .forward = log_softmax_forward, .backward = log_softmax_backward,
    .unread = TG_UNREAD_IN(0),
};

// ---- the gradients as ops, z = softmax_grad(dy, y) and log_softmax_grad(dy, y): dy and y
//      of one shape, rows along the last axis; composed from primitives on a backend
//      without the kernel. Their own rules (double backward; g = dL/dz, sums along the
//      last axis):
//        softmax_grad:     d(dy) = softmax_grad(g, y)     dy' = g*(dy - sum(dy*y)) - sum(g*y)*dy
//        log_softmax_grad: d(dy) = g - sum(g*exp(y))      dy' = -g*exp(y)*sum(dy)

static int softmax_grad_forward(tg_tensor *const *in, int n, const void *params,
                                tg_tensor *out) {
    (void)n, (void)params;
    return tg__k_softmax_grad("tg_softmax_grad", in[1], in[0], out, false);
}
static int softmax_grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *g,
                                 tg_tensor **din) {
    tg_tensor *dy = node->in[0], *y = node->in[1];
    if (tg__needs_grad(node, 0) && !(din[0] = tg_softmax_grad(tape, g, y)))
        return tg_last_status();
    if (tg__needs_grad(node, 1)) {
        tg_tensor *a = tg_mul(tape, g, tg_sub(tape, dy, row_sum(tape, tg_mul(tape, dy, y))));
        din[1] = tg_sub(tape, a, tg_mul(tape, row_sum(tape, tg_mul(tape, g, y)), dy));
        if (!din[1]) return tg_last_status();
    }
    return TG_OK;
}
static int softmax_grad_infer(tg_tensor *const *in, int n, const void *params, int *nd,
                              int64_t *sh, const char *name) {
    if (in[0]->ndim == 0 || !tg__same_shape(in[0], in[1])) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, name, "dy %s and y %s must have one shape, at least 1-D",
                 tg__shape_str(s1, sizeof s1, in[0]->ndim, in[0]->shape),
                 tg__shape_str(s2, sizeof s2, in[1]->ndim, in[1]->shape));
        return TG_ERR_SHAPE;
    }
    return tg__infer_same(in, n, params, nd, sh);
}
static int sm_grad_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return softmax_grad_infer(in, n, params, nd, sh, "tg_softmax_grad");
}
static int lsm_grad_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return softmax_grad_infer(in, n, params, nd, sh, "tg_log_softmax_grad");
}

const tg_op_def tg__op_softmax_grad = {
    .id = TG_OP_SOFTMAX_GRAD, .name = "tg_softmax_grad", .arity = 2,
    .infer = sm_grad_infer, .forward = softmax_grad_forward, .backward = softmax_grad_backward,
};

static int log_softmax_grad_forward(tg_tensor *const *in, int n, const void *params,
                                    tg_tensor *out) {
    (void)n, (void)params;
    return tg__k_softmax_grad("tg_log_softmax_grad", in[1], in[0], out, true);
}
static int log_softmax_grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *g,
                                     tg_tensor **din) {
    tg_tensor *dy = node->in[0], *y = node->in[1];
    tg_tensor *e = tg__needs_grad(node, 0) || tg__needs_grad(node, 1) ? tg_exp(tape, y) : NULL;
    if (tg__needs_grad(node, 0) &&
        !(din[0] = tg_sub(tape, g, row_sum(tape, tg_mul(tape, g, e)))))
        return tg_last_status();
    if (tg__needs_grad(node, 1) &&
        !(din[1] = tg_neg(tape, tg_mul(tape, tg_mul(tape, g, e), row_sum(tape, dy)))))
        return tg_last_status();
    return TG_OK;
}
const tg_op_def tg__op_log_softmax_grad = {
    .id = TG_OP_LOG_SOFTMAX_GRAD, .name = "tg_log_softmax_grad", .arity = 2,
    .infer = lsm_grad_infer,
    .forward = log_softmax_grad_forward,
    .backward = log_softmax_grad_backward,
};

// Checks the inputs and shapes, then the fused op, or the composed form on a backend
// without the kernel (same rules: the primitives differentiate again).
static tg_tensor *softmax_grad_of(tg_tape *tape, tg_tensor *dy, tg_tensor *y,
                                  const tg_op_def *def, bool take_log) {
    tg_tensor *in[2] = {dy, y};
    if (tg__check_inputs(tape, def, 2, in)) return NULL;   // before reading y's header
    if (tg__has_softmax_grad(y->be)) return tg__apply(tape, def, 2, in, NULL);
    int nd;
    int64_t sh[TG_MAX_DIMS];   // tg__apply infers itself; the composed form here
    if (def->infer(in, 2, NULL, &nd, sh)) return NULL;
    unsigned mark = tg_error_mark();
    tg_tensor *dx = take_log
        ? tg_sub(tape, dy, tg_mul(tape, tg_exp(tape, y), row_sum(tape, dy)))
        : tg_mul(tape, y, tg_sub(tape, dy, row_sum(tape, tg_mul(tape, dy, y))));
    return tg__named(def->name, mark, dx);
}

tg_tensor *tg_softmax_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *y) {
    return softmax_grad_of(tape, dy, y, &tg__op_softmax_grad, false);
}

tg_tensor *tg_log_softmax_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *y) {
    return softmax_grad_of(tape, dy, y, &tg__op_log_softmax_grad, true);
}

// ---- other axes, composed ----

// x - m with m the (detached) max along axis: the shift that keeps exp finite. Computing
// with z = x - m directly (rather than x - logsumexp) keeps f32 precise at large logits.
// As the fused kernels: a +inf max stays (the row is NaN, as torch's), a -inf one is 0.
static tg_tensor *shifted(tg_tape *tape, tg_tensor *x, int axis) {
    tg_tensor *m = tg_detach(tape, tg_max_axes(tape, x, 1, &axis, true));
    if (m) m = tg_where(tape, tg_gt_scalar(tape, m, -(double)INFINITY), m,
                        tg__scalar_like(tape, m, 0.0));
    return tg_sub(tape, x, m);
}

// The checks both public calls share; *fused: the axis is the last one (then the fused op).
static int softmax_args(tg_tape *tape, tg_tensor *x, int axis, const tg_op_def *def, bool *fused) {
    int st = tg__check_inputs(tape, def, 1, &x);
    if (st) return st;
    if (axis < -x->ndim || axis >= x->ndim) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, def->name, "axis %d out of range for shape %s", axis,
                 tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return TG_ERR_INVALID_ARG;
    }
    *fused = axis == x->ndim - 1 || axis == -1;
    return TG_OK;
}

// log_softmax = z - log(sum(exp(z))), z = x - max
tg_tensor *tg_log_softmax(tg_tape *tape, tg_tensor *x, int axis) {
    bool fused;
    if (softmax_args(tape, x, axis, &tg__op_log_softmax, &fused)) return NULL;
    if (fused) return tg__apply(tape, &tg__op_log_softmax, 1, &x, NULL);
    tg_tensor *z = shifted(tape, x, axis);
    return tg_sub(tape, z, tg_log(tape, tg_sum_axes(tape, tg_exp(tape, z), 1, &axis, true)));
}

// softmax = exp(z) / sum(exp(z)), z = x - max
tg_tensor *tg_softmax(tg_tape *tape, tg_tensor *x, int axis) {
    bool fused;
    if (softmax_args(tape, x, axis, &tg__op_softmax, &fused)) return NULL;
    if (fused) return tg__apply(tape, &tg__op_softmax, 1, &x, NULL);
    tg_tensor *e = tg_exp(tape, shifted(tape, x, axis));
    return tg_div(tape, e, tg_sum_axes(tape, e, 1, &axis, true));
}

// y = x * (u >= p) / (1 - p), u ~ U[0,1) from rng; identity when !training or p == 0.
tg_tensor *tg_dropout(tg_tape *tape, tg_tensor *x, double p, tg_rng *rng, bool training) {
    static const tg_op_def def = {.name = "tg_dropout", .arity = 1};
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

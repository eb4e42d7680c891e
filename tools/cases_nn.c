// Op cases for the nn ops (ops/nnops.c) and losses (ops/loss.c): softmax and log_softmax
// (fused ops over the last axis, composed over the others), dropout with a fixed mask, and
// every loss with each reduction. A composed row names the op that carries most of its
// gradient.
#include "tools/op_cases.h"

static const op_attrs *attrs(void *row) { return &((const op_case *)row)->at; }
static tg_reduction red(void *row) { return (tg_reduction)attrs(row)->i[1]; }

// at.i[0]: the axis
static tg_tensor *call_softmax(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_softmax(t, in[0], (int)attrs(row)->i[0]);
}
static tg_tensor *call_log_softmax(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_log_softmax(t, in[0], (int)attrs(row)->i[0]);
}
// The gradient rules as ops: in = dy, y
static tg_tensor *call_softmax_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_softmax_grad(t, in[0], in[1]);
}
static tg_tensor *call_log_softmax_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_log_softmax_grad(t, in[0], in[1]);
}
// d/dx of sum(f(x) * x^2)'s gradient (create_graph): f's rule is the grad op
static tg_tensor *call_grad_of_softmax(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return op_case_grad_of(t, in[0], tg_softmax(t, in[0], -1));
}
static tg_tensor *call_grad_of_log_softmax(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return op_case_grad_of(t, in[0], tg_log_softmax(t, in[0], -1));
}
// The same mask on every call (gradcheck evaluates many times): a fresh rng per call.
static tg_tensor *call_dropout(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_rng *rng = tg_rng_new(17);
    tg_tensor *y = tg_dropout(t, in[0], attrs(row)->s, rng, true);
    tg_rng_free(rng);
    return y;
}

// Losses: in = pred, target; at.i[1]: the reduction.
static tg_tensor *call_mse(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_mse_loss(t, in[0], in[1], red(row));
}
static tg_tensor *call_l1(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_l1_loss(t, in[0], in[1], red(row));
}
// at.s: delta
static tg_tensor *call_huber(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_huber_loss(t, in[0], in[1], attrs(row)->s, red(row));
}
static tg_tensor *call_bce(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_bce_loss(t, in[0], in[1], red(row));
}
static tg_tensor *call_bce_logits(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_bce_with_logits(t, in[0], in[1], red(row));
}
// in = logp or logits [N,C], labels [N], optional weight [C]
static tg_tensor *call_nll(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_tensor *w = ((const op_case *)row)->n_in > 2 ? in[2] : NULL;
    return tg_nll_loss(t, in[0], in[1], w, red(row));
}
static tg_tensor *call_cross_entropy(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_tensor *w = ((const op_case *)row)->n_in > 2 ? in[2] : NULL;
    return tg_cross_entropy(t, in[0], in[1], w, red(row));
}

static tg_tensor *call_xent_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_cross_entropy_grad(t, in[0], in[1], in[2]);
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_cross_entropy", .label = "[3,5] sum (fused)", .n_in = 2, .ndim = {2, 1},
     .shape = {{3, 5}, {3}}, .index_hi = {0, 5}, .lo = -3, .hi = 3,
     .at = {.i = {0, TG_REDUCE_SUM_ALL}}, .call = call_cross_entropy, .differentiable = true},
    {.op = "tg_cross_entropy", .label = "[2,4] none (fused)", .n_in = 2, .ndim = {2, 1},
     .shape = {{2, 4}, {2}}, .index_hi = {0, 4}, .lo = -3, .hi = 3,
     .at = {.i = {0, TG_REDUCE_NONE}}, .call = call_cross_entropy, .differentiable = true},
    {.op = "tg_cross_entropy_grad", .label = "logits [3,4], dloss [3]", .n_in = 3,
     .ndim = {2, 1, 1}, .shape = {{3, 4}, {3}, {3}}, .index_hi = {0, 4}, .lo = -2, .hi = 2,
     .call = call_xent_grad, .differentiable = true},
    {.op = "tg_softmax", .label = "axis 1 of [2,4] (fused: last axis)", .n_in = 1, .ndim = {2},
     .shape = {{2, 4}}, .lo = -3, .hi = 3, .at = {.i = {1}}, .call = call_softmax,
     .differentiable = true, .jitter = OPC_BCAST},
    // logits near +-1000: exp overflows (or underflows to 0) unless shifted by the row max
    {.op = "tg_softmax", .label = "axis -1 of [3,5], logits in [995, 1000) (fused)", .n_in = 1,
     .ndim = {2}, .shape = {{3, 5}}, .lo = 995, .hi = 1000, .at = {.i = {-1}},
     .call = call_softmax, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_exp", .label = "tg_softmax axis 0 of [3,2] (composed)", .n_in = 1, .ndim = {2},
     .shape = {{3, 2}}, .lo = -3, .hi = 3, .at = {.i = {0}}, .call = call_softmax,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_log_softmax", .label = "axis -1 of [2,3,3] (fused: last axis)", .n_in = 1,
     .ndim = {3}, .shape = {{2, 3, 3}}, .lo = -3, .hi = 3, .at = {.i = {-1}},
     .call = call_log_softmax, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_log_softmax", .label = "axis 1 of [3,5], logits in [-1000, -995) (fused)",
     .n_in = 1, .ndim = {2}, .shape = {{3, 5}}, .lo = -1000, .hi = -995, .at = {.i = {1}},
     .call = call_log_softmax, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sub", .label = "tg_log_softmax axis 1 of [2,3,3] (composed)", .n_in = 1,
     .ndim = {3}, .shape = {{2, 3, 3}}, .lo = -3, .hi = 3, .at = {.i = {1}},
     .call = call_log_softmax, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_softmax_grad", .label = "dy [2,4], y [2,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 4}, {2, 4}}, .lo = -1, .hi = 1, .call = call_softmax_grad,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_softmax_grad", .label = "d/dx of softmax's gradient over [3,5] (create_graph)",
     .n_in = 1, .ndim = {2}, .shape = {{3, 5}}, .lo = -2, .hi = 2,
     .call = call_grad_of_softmax, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_log_softmax_grad", .label = "dy [2,3,4], y [2,3,4]", .n_in = 2, .ndim = {3, 3},
     .shape = {{2, 3, 4}, {2, 3, 4}}, .lo = -2, .hi = 0, .call = call_log_softmax_grad,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_log_softmax_grad",
     .label = "d/dx of log_softmax's gradient over [3,5] (create_graph)", .n_in = 1,
     .ndim = {2}, .shape = {{3, 5}}, .lo = -2, .hi = 2, .call = call_grad_of_log_softmax,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_mul", .label = "tg_dropout p 0.3, fixed mask (composed)", .n_in = 1,
     .ndim = {2}, .shape = {{3, 4}}, .lo = -2, .hi = 2, .at = {.s = 0.3},
     .call = call_dropout, .differentiable = true, .jitter = OPC_BCAST},

    {.op = "tg_sub", .label = "tg_mse_loss mean (composed)", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .at = {.i = {0, TG_REDUCE_MEAN}},
     .call = call_mse, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sub", .label = "tg_mse_loss none, target fixed (composed)", .n_in = 2,
     .ndim = {1, 1}, .shape = {{4}, {4}}, .no_grad = {false, true}, .lo = -2, .hi = 2,
     .at = {.i = {0, TG_REDUCE_NONE}}, .call = call_mse, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_abs", .label = "tg_l1_loss sum (composed)", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .at = {.i = {0, TG_REDUCE_SUM_ALL}},
     .call = call_l1, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_where", .label = "tg_huber_loss delta 0.5 mean (composed)", .n_in = 2,
     .ndim = {2, 2}, .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2,
     .at = {.s = 0.5, .i = {0, TG_REDUCE_MEAN}}, .call = call_huber, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_clamp", .label = "tg_bce_loss mean (composed)", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = 0.1, .hi = 0.9, .at = {.i = {0, TG_REDUCE_MEAN}},
     .call = call_bce, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_softplus", .label = "tg_bce_with_logits sum (composed)", .n_in = 2,
     .ndim = {2, 2}, .shape = {{2, 3}, {2, 3}}, .lo = -3, .hi = 3,
     .at = {.i = {0, TG_REDUCE_SUM_ALL}}, .call = call_bce_logits, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_gather", .label = "tg_nll_loss [3,4] mean (composed)", .n_in = 2,
     .ndim = {2, 1}, .shape = {{3, 4}, {3}}, .index_hi = {0, 4}, .lo = -3, .hi = 0,
     .at = {.i = {0, TG_REDUCE_MEAN}}, .call = call_nll, .differentiable = true},
    {.op = "tg_gather", .label = "tg_nll_loss weighted mean (composed)", .n_in = 3,
     .ndim = {2, 1, 1}, .shape = {{3, 4}, {3}, {4}}, .index_hi = {0, 4}, .lo = 0.5, .hi = 2,
     .at = {.i = {0, TG_REDUCE_MEAN}}, .call = call_nll, .differentiable = true},
    {.op = "tg_cross_entropy", .label = "[4,3] mean (fused)", .n_in = 2,
     .ndim = {2, 1}, .shape = {{4, 3}, {4}}, .index_hi = {0, 3}, .lo = -3, .hi = 3,
     .at = {.i = {0, TG_REDUCE_MEAN}}, .call = call_cross_entropy, .differentiable = true},
    {.op = "tg_gather", .label = "tg_cross_entropy weighted none, weight fixed (composed)",
     .n_in = 3, .ndim = {2, 1, 1}, .shape = {{2, 3}, {2}, {3}}, .index_hi = {0, 3},
     .no_grad = {false, false, true}, .lo = 0.5, .hi = 2, .at = {.i = {0, TG_REDUCE_NONE}},
     .call = call_cross_entropy, .differentiable = true},
};
// clang-format on

const op_case_family op_cases_nn = {"nn", rows, sizeof rows / sizeof rows[0]};

// Op cases for the normalisation and transformer ops (ops/layernorm.c, ops/batchnorm.c,
// ops/attention.c): layer_norm and batch_norm with and
// without its affine parameters, its gradient op directly and through create_graph, and
// attention in both layouts (stacked q, k, v and a fused qkv projection), causal or not,
// with dropout from a fixed seed, and its gradient op through create_graph.
#include "tools/op_cases.h"

static const op_attrs *attrs(void *row) { return &((const op_case *)row)->at; }
static int n_in(void *row) { return ((const op_case *)row)->n_in; }

// in = x[, w[, b]]; at.s: eps
static tg_tensor *call_layer_norm(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_layer_norm(t, in[0], n_in(row) > 1 ? in[1] : NULL, n_in(row) > 2 ? in[2] : NULL,
                         attrs(row)->s);
}
// in = dy, x[, w]
static tg_tensor *call_layer_norm_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_layer_norm_grad(t, in[0], in[1], n_in(row) > 2 ? in[2] : NULL, attrs(row)->s);
}
static tg_tensor *call_grad_of_layer_norm(tg_tape *t, tg_tensor *const *in, void *row) {
    return op_case_grad_of(t, in[0], tg_layer_norm(t, in[0], NULL, NULL, attrs(row)->s));
}

// d/d(w, b) of sum(y^2), y = layer_norm(x, w, b), with create_graph, as one [2C] tensor: the
// rule's wgrad op sees dout = 2y, which depends on x, w and b (in = x, w, b)
static tg_tensor *call_wgrad_of_layer_norm(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_tensor *y = tg_layer_norm(t, in[0], in[1], in[2], attrs(row)->s), *g[2] = {NULL, NULL};
    tg_backward_opts o = {.create_graph = true};
    if (tg_grad(t, tg_sum(t, tg_mul(t, y, y)), NULL, 2, in + 1, g, &o)) return NULL;
    return tg_concat(t, 2, g, 0);
}

// in = x[, w[, b]]; at.s: eps (training mode, no running statistics)
static tg_tensor *call_batch_norm(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_batch_norm(t, in[0], n_in(row) > 1 ? in[1] : NULL, n_in(row) > 2 ? in[2] : NULL,
                         NULL, NULL, 0.1, attrs(row)->s);
}
// in = dy, x[, w]
static tg_tensor *call_batch_norm_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_batch_norm_grad(t, in[0], in[1], n_in(row) > 2 ? in[2] : NULL, attrs(row)->s);
}
static tg_tensor *call_grad_of_batch_norm(tg_tape *t, tg_tensor *const *in, void *row) {
    return op_case_grad_of(t, in[0], tg_batch_norm(t, in[0], NULL, NULL, NULL, NULL, 0.1,
                                                   attrs(row)->s));
}
// d/d(w, b) of sum(y^2), y = batch_norm(x, w, b), with create_graph, as one [2C] tensor
static tg_tensor *call_wgrad_of_batch_norm(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_tensor *y = tg_batch_norm(t, in[0], in[1], in[2], NULL, NULL, 0.1, attrs(row)->s);
    tg_tensor *g[2] = {NULL, NULL};
    tg_backward_opts o = {.create_graph = true};
    if (tg_grad(t, tg_sum(t, tg_mul(t, y, y)), NULL, 2, in + 1, g, &o)) return NULL;
    return tg_concat(t, 2, g, 0);
}

// at.i[0]: causal; at.s: dropout p (the mask from a fresh rng per call: the same every call)
static tg_attention_opts opts_of(void *row, tg_rng *rng) {
    return (tg_attention_opts){.causal = attrs(row)->i[0] != 0, .dropout_p = attrs(row)->s,
                               .training = true, .rng = rng};
}

// in = q, k, v [B,H,T,D]
static tg_tensor *call_attention(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_rng *rng = tg_rng_new(17);
    tg_attention_opts o = opts_of(row, rng);
    tg_tensor *y = tg_attention(t, in[0], in[1], in[2], &o);
    tg_rng_free(rng);
    return y;
}
// in = qkv [B,T,3C]; at.i[1]: heads
static tg_tensor *call_attention_qkv(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_rng *rng = tg_rng_new(17);
    tg_attention_opts o = opts_of(row, rng);
    tg_tensor *y = tg_attention_qkv(t, in[0], (int)attrs(row)->i[1], &o);
    tg_rng_free(rng);
    return y;
}

// d/dx of sum(y^2) with create_graph: dout = 2y depends on x, so the gradient op's rule is
// differentiated for all of its inputs (qkv, o, dout).
static tg_tensor *grad_of_square(tg_tape *t, tg_tensor *x, tg_tensor *y) {
    tg_tensor *g = NULL;
    tg_backward_opts o = {.create_graph = true};
    if (tg_grad(t, tg_sum(t, tg_mul(t, y, y)), NULL, 1, &x, &g, &o)) return NULL;
    return g;
}
static tg_tensor *call_grad_of_attention_qkv(tg_tape *t, tg_tensor *const *in, void *row) {
    return grad_of_square(t, in[0], call_attention_qkv(t, in, row));
}
// in = one [3,B,H,T,D] tensor split into q, k, v
static tg_tensor *call_grad_of_attention(tg_tape *t, tg_tensor *const *in, void *row) {
    const int64_t *s = tg_shape(in[0]);
    tg_tensor *qkv[3];
    for (int k = 0; k < 3; k++)
        qkv[k] = tg_reshape(t, tg_slice(t, in[0], 0, k, k + 1, 1), 4, s + 1);
    return grad_of_square(t, in[0], call_attention(t, qkv, row));
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_layer_norm", .label = "x [2,3,5], weight [5], bias [5]", .n_in = 3,
     .ndim = {3, 1, 1}, .shape = {{2, 3, 5}, {5}, {5}}, .lo = -2, .hi = 2, .at = {.s = 1e-5},
     .call = call_layer_norm, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_layer_norm", .label = "x [4,6], no affine, eps 0.1", .n_in = 1, .ndim = {2},
     .shape = {{4, 6}}, .lo = -2, .hi = 2, .at = {.s = 0.1}, .call = call_layer_norm,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_layer_norm", .label = "x [3,4], weight only", .n_in = 2, .ndim = {2, 1},
     .shape = {{3, 4}, {4}}, .lo = -2, .hi = 2, .at = {.s = 1e-5}, .call = call_layer_norm,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_layer_norm_grad", .label = "dy [3,5], x [3,5], weight [5]", .n_in = 3,
     .ndim = {2, 2, 1}, .shape = {{3, 5}, {3, 5}, {5}}, .lo = -2, .hi = 2, .at = {.s = 1e-5},
     .call = call_layer_norm_grad, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_layer_norm_grad", .label = "dy [2,2,4], x [2,2,4], no weight", .n_in = 2,
     .ndim = {3, 3}, .shape = {{2, 2, 4}, {2, 2, 4}}, .lo = -2, .hi = 2, .at = {.s = 0.01},
     .call = call_layer_norm_grad, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_layer_norm_grad", .label = "d/dx of layer_norm's gradient over [3,5] "
     "(create_graph)", .n_in = 1, .ndim = {2}, .shape = {{3, 5}}, .lo = -2, .hi = 2,
     .at = {.s = 1e-5}, .call = call_grad_of_layer_norm, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_layer_norm_wgrad", .label = "d/d(w, b) of sum(y^2) over x [3,4] (create_graph)",
     .n_in = 3, .ndim = {2, 1, 1}, .shape = {{3, 4}, {4}, {4}}, .lo = -2, .hi = 2,
     .at = {.s = 1e-5}, .call = call_wgrad_of_layer_norm, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_batch_norm", .label = "x [3,2,2,3], weight [2], bias [2]", .n_in = 3,
     .ndim = {4, 1, 1}, .shape = {{3, 2, 2, 3}, {2}, {2}}, .lo = -2, .hi = 2, .at = {.s = 1e-5},
     .call = call_batch_norm, .differentiable = true},
    {.op = "tg_batch_norm", .label = "x [5,3], no affine, eps 0.1", .n_in = 1, .ndim = {2},
     .shape = {{5, 3}}, .lo = -2, .hi = 2, .at = {.s = 0.1}, .call = call_batch_norm,
     .differentiable = true},
    {.op = "tg_batch_norm_grad", .label = "dy [2,3,4], x [2,3,4], weight [3]", .n_in = 3,
     .ndim = {3, 3, 1}, .shape = {{2, 3, 4}, {2, 3, 4}, {3}}, .lo = -2, .hi = 2,
     .at = {.s = 1e-5}, .call = call_batch_norm_grad, .differentiable = true},
    {.op = "tg_batch_norm_grad", .label = "dy [4,2], x [4,2], no weight", .n_in = 2,
     .ndim = {2, 2}, .shape = {{4, 2}, {4, 2}}, .lo = -2, .hi = 2, .at = {.s = 0.01},
     .call = call_batch_norm_grad, .differentiable = true},
    {.op = "tg_batch_norm_grad", .label = "d/dx of batch_norm's gradient over [3,2,4] "
     "(create_graph)", .n_in = 1, .ndim = {3}, .shape = {{3, 2, 4}}, .lo = -2, .hi = 2,
     .at = {.s = 1e-5}, .call = call_grad_of_batch_norm, .differentiable = true},
    {.op = "tg_batch_norm_wgrad", .label = "d/d(w, b) of sum(y^2) over x [4,3,2] "
     "(create_graph)", .n_in = 3, .ndim = {3, 1, 1}, .shape = {{4, 3, 2}, {3}, {3}}, .lo = -2,
     .hi = 2, .at = {.s = 1e-5}, .call = call_wgrad_of_batch_norm, .differentiable = true},
    {.op = "tg_attention", .label = "q, k, v [2,2,5,3]", .n_in = 3, .ndim = {4, 4, 4},
     .shape = {{2, 2, 5, 3}, {2, 2, 5, 3}, {2, 2, 5, 3}}, .lo = -1, .hi = 1,
     .call = call_attention, .differentiable = true},
    {.op = "tg_attention", .label = "q, k, v [1,2,6,4], causal", .n_in = 3, .ndim = {4, 4, 4},
     .shape = {{1, 2, 6, 4}, {1, 2, 6, 4}, {1, 2, 6, 4}}, .lo = -1, .hi = 1,
     .at = {.i = {1}}, .call = call_attention, .differentiable = true},
    {.op = "tg_attention", .label = "q, k, v [2,1,5,3], causal, dropout 0.3 (fixed seed)",
     .n_in = 3, .ndim = {4, 4, 4}, .shape = {{2, 1, 5, 3}, {2, 1, 5, 3}, {2, 1, 5, 3}},
     .lo = -1, .hi = 1, .at = {.s = 0.3, .i = {1}}, .call = call_attention,
     .differentiable = true},
    {.op = "tg_attention", .label = "qkv [2,5,12], 2 heads, causal (fused projection)",
     .n_in = 1, .ndim = {3}, .shape = {{2, 5, 12}}, .lo = -1, .hi = 1, .at = {.i = {1, 2}},
     .call = call_attention_qkv, .differentiable = true},
    {.op = "tg_attention_grad", .label = "d/dqkv of sum(y^2), qkv [1,4,12], 2 heads, causal "
     "(create_graph)", .n_in = 1, .ndim = {3}, .shape = {{1, 4, 12}}, .lo = -1, .hi = 1,
     .at = {.i = {1, 2}}, .call = call_grad_of_attention_qkv, .differentiable = true},
    {.op = "tg_attention_grad", .label = "d/dqkv of sum(y^2), q, k, v [1,2,4,3], dropout 0.25 "
     "(create_graph)", .n_in = 1, .ndim = {5}, .shape = {{3, 1, 2, 4, 3}}, .lo = -1, .hi = 1,
     .at = {.s = 0.25}, .call = call_grad_of_attention, .differentiable = true},
};
// clang-format on

const op_case_family op_cases_attention = {"attention", rows, sizeof rows / sizeof rows[0]};

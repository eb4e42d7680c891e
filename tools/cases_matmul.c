// Op cases for ops/matmul.c: every transpose-flag combination of tg_matmul_ex (the stored
// shapes are the transposed ones, so op(a) @ op(b) is always [2,3] @ [3,4]), degenerate
// sizes, one tensor on both sides, and batched products with broadcast batch dims.
#include "tools/op_cases.h"

static tg_tensor *call_matmul(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_matmul(t, in[0], in[1]);
}
static tg_tensor *call_matmul_ex(tg_tape *t, tg_tensor *const *in, void *row) {
    const op_attrs *at = &((const op_case *)row)->at;
    return tg_matmul_ex(t, in[0], in[1], at->trans_a, at->trans_b);
}
// x^T @ x: both gradient contributions land on one input.
static tg_tensor *call_gram(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_matmul_ex(t, in[0], in[0], true, false);
}

static tg_tensor *call_addmm(tg_tape *t, tg_tensor *const *in, void *row) {
    const op_attrs *at = &((const op_case *)row)->at;
    return tg_addmm(t, in[0], in[1], in[2], at->trans_a, at->trans_b);
}

static tg_tensor *call_addmm_relu(tg_tape *t, tg_tensor *const *in, void *row) {
    const op_attrs *at = &((const op_case *)row)->at;
    return tg_addmm_relu(t, in[0], in[1], in[2], at->trans_a, at->trans_b);
}

static tg_tensor *call_bmm(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_bmm(t, in[0], in[1]);
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_matmul", .label = "[2,3] @ [3,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {3, 4}}, .lo = -1, .hi = 1, .call = call_matmul,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "_ex no transposes [2,3] @ [3,4]", .n_in = 2,
     .ndim = {2, 2}, .shape = {{2, 3}, {3, 4}}, .lo = -1, .hi = 1, .call = call_matmul_ex,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "_ex trans_a [3,2]^T @ [3,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 2}, {3, 4}}, .lo = -1, .hi = 1, .at = {.trans_a = true},
     .call = call_matmul_ex, .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "_ex trans_b [2,3] @ [4,3]^T", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {4, 3}}, .lo = -1, .hi = 1, .at = {.trans_b = true},
     .call = call_matmul_ex, .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "_ex trans_a trans_b [3,2]^T @ [4,3]^T", .n_in = 2,
     .ndim = {2, 2}, .shape = {{3, 2}, {4, 3}}, .lo = -1, .hi = 1,
     .at = {.trans_a = true, .trans_b = true}, .call = call_matmul_ex,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "outer product [3,1] @ [1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .lo = -1, .hi = 1, .call = call_matmul,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "inner product [1,5] @ [5,1]", .n_in = 2, .ndim = {2, 2},
     .shape = {{1, 5}, {5, 1}}, .lo = -1, .hi = 1, .call = call_matmul,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "[2,3] @ [3,4], b not differentiated", .n_in = 2,
     .ndim = {2, 2}, .shape = {{2, 3}, {3, 4}}, .no_grad = {false, true}, .lo = -1, .hi = 1,
     .call = call_matmul, .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "_ex trans_b, a not differentiated", .n_in = 2,
     .ndim = {2, 2}, .shape = {{2, 3}, {4, 3}}, .no_grad = {true, false}, .lo = -1, .hi = 1,
     .at = {.trans_b = true}, .call = call_matmul_ex, .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "gram x^T @ x of [4,3]", .n_in = 1, .ndim = {2},
     .shape = {{4, 3}}, .lo = -1, .hi = 1, .call = call_gram, .differentiable = true},

    // batched: [..., M, K] @ [..., K, N], batch dims broadcast
    {.op = "tg_matmul", .label = "batched [2,2,3] @ [2,3,4]", .n_in = 2, .ndim = {3, 3},
     .shape = {{2, 2, 3}, {2, 3, 4}}, .lo = -1, .hi = 1, .call = call_matmul,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "batch broadcast [2,1,2,3] @ [3,3,2]", .n_in = 2,
     .ndim = {4, 3}, .shape = {{2, 1, 2, 3}, {3, 3, 2}}, .lo = -1, .hi = 1,
     .call = call_matmul, .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "batch broadcast [2,2,3] @ [3,4] (shared b)", .n_in = 2,
     .ndim = {3, 2}, .shape = {{2, 2, 3}, {3, 4}}, .lo = -1, .hi = 1, .call = call_matmul,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "batch broadcast [1,2,3] @ [2,3,2]", .n_in = 2,
     .ndim = {3, 3}, .shape = {{1, 2, 3}, {2, 3, 2}}, .lo = -1, .hi = 1, .call = call_matmul,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "_ex batched trans_a trans_b [2,3,2]^T @ [2,4,3]^T",
     .n_in = 2, .ndim = {3, 3}, .shape = {{2, 3, 2}, {2, 4, 3}}, .lo = -1, .hi = 1,
     .at = {.trans_a = true, .trans_b = true}, .call = call_matmul_ex,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "_ex trans_b, broadcast [2,2,3] @ [4,3]^T", .n_in = 2,
     .ndim = {3, 2}, .shape = {{2, 2, 3}, {4, 3}}, .lo = -1, .hi = 1, .at = {.trans_b = true},
     .call = call_matmul_ex, .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_matmul", .label = "tg_bmm [3,2,2] @ [3,2,3]", .n_in = 2, .ndim = {3, 3},
     .shape = {{3, 2, 2}, {3, 2, 3}}, .lo = -1, .hi = 1, .call = call_bmm,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_addmm", .label = "bias [4] + [2,3] @ [3,4]", .n_in = 3, .ndim = {1, 2, 2},
     .shape = {{4}, {2, 3}, {3, 4}}, .lo = -1, .hi = 1, .call = call_addmm,
     .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_addmm", .label = "bias [2,1] + [2,3] @ [4,3]^T", .n_in = 3, .ndim = {2, 2, 2},
     .shape = {{2, 1}, {2, 3}, {4, 3}}, .lo = -1, .hi = 1, .at = {.trans_b = true},
     .call = call_addmm, .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_addmm", .label = "bias [] + [3,2]^T @ [4,3]^T", .n_in = 3, .ndim = {0, 2, 2},
     .shape = {{0}, {3, 2}, {4, 3}}, .lo = -1, .hi = 1,
     .at = {.trans_a = true, .trans_b = true}, .call = call_addmm, .differentiable = true,
     .jitter = OPC_MATMUL},
    {.op = "tg_addmm_relu", .label = "relu(bias [4] + [2,3] @ [3,4])", .n_in = 3,
     .ndim = {1, 2, 2}, .shape = {{4}, {2, 3}, {3, 4}}, .lo = -1, .hi = 1,
     .call = call_addmm_relu, .differentiable = true, .jitter = OPC_MATMUL},
    {.op = "tg_addmm_relu", .label = "relu(bias [2,1] + [2,3] @ [4,3]^T)", .n_in = 3,
     .ndim = {2, 2, 2}, .shape = {{2, 1}, {2, 3}, {4, 3}}, .lo = -1, .hi = 1,
     .at = {.trans_b = true}, .call = call_addmm_relu, .differentiable = true,
     .jitter = OPC_MATMUL},
    {.op = "tg_addmm_relu", .label = "relu(bias [] + [3,2]^T @ [4,3]^T)", .n_in = 3,
     .ndim = {0, 2, 2}, .shape = {{0}, {3, 2}, {4, 3}}, .lo = -1, .hi = 1,
     .at = {.trans_a = true, .trans_b = true}, .call = call_addmm_relu, .differentiable = true,
     .jitter = OPC_MATMUL},
};
// clang-format on

const op_case_family op_cases_matmul = {"matmul", rows, sizeof rows / sizeof rows[0]};

// Op cases for ops/shape.c: reshape (with an inferred -1, to and from 0-dim, of an op
// result), transpose (negative dims, 3-D, a no-op swap) and expand (valid broadcasts).
#include "tools/op_cases.h"

static const op_attrs *attrs(void *row) { return &((const op_case *)row)->at; }

// at.n / at.i: the target shape.
static tg_tensor *call_reshape(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_reshape(t, in[0], attrs(row)->n, attrs(row)->i);
}
// Reshape of a step tensor (a view of an op result, not of a leaf).
static tg_tensor *call_reshape_step(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_reshape(t, tg_mul(t, in[0], in[0]), attrs(row)->n, attrs(row)->i);
}
// at.i[0], at.i[1]: the two dims.
static tg_tensor *call_transpose(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_transpose(t, in[0], (int)attrs(row)->i[0], (int)attrs(row)->i[1]);
}
// at.n / at.i: the target shape.
static tg_tensor *call_expand(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_expand(t, in[0], attrs(row)->n, attrs(row)->i);
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_reshape", .label = "[2,3] -> [3,2]", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.n = 2, .i = {3, 2}}, .call = call_reshape,
     .differentiable = true},
    {.op = "tg_reshape", .label = "[2,3,4] -> [-1,4]", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {-1, 4}},
     .call = call_reshape, .differentiable = true},
    {.op = "tg_reshape", .label = "[2,3] -> [-1]", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.n = 1, .i = {-1}}, .call = call_reshape,
     .differentiable = true},
    {.op = "tg_reshape", .label = "[6] -> [1,2,1,3]", .n_in = 1, .ndim = {1}, .shape = {{6}},
     .lo = -2, .hi = 2, .at = {.n = 4, .i = {1, 2, 1, 3}}, .call = call_reshape,
     .differentiable = true},
    {.op = "tg_reshape", .label = "[1,1] -> []", .n_in = 1, .ndim = {2}, .shape = {{1, 1}},
     .lo = -2, .hi = 2, .at = {.n = 0}, .call = call_reshape, .differentiable = true},
    {.op = "tg_reshape", .label = "[] -> [1]", .n_in = 1, .ndim = {0}, .lo = -2, .hi = 2,
     .at = {.n = 1, .i = {1}}, .call = call_reshape, .differentiable = true},
    {.op = "tg_reshape", .label = "(x*x) [2,3] -> [3,-1]", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {3, -1}},
     .call = call_reshape_step, .differentiable = true},

    {.op = "tg_transpose", .label = "[2,3] dims (0,1)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {0, 1}},
     .call = call_transpose, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_transpose", .label = "[2,3] dims (-1,-2)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {-1, -2}},
     .call = call_transpose, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_transpose", .label = "[2,3,4] dims (0,2)", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {0, 2}},
     .call = call_transpose, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_transpose", .label = "[2,3,4] dims (-1,1)", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {-1, 1}},
     .call = call_transpose, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_transpose", .label = "[2,3,4] dims (1,1), no-op", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {1, 1}},
     .call = call_transpose, .differentiable = true, .jitter = OPC_BCAST},

    {.op = "tg_expand", .label = "[3,1] -> [2,3,4]", .n_in = 1, .ndim = {2},
     .shape = {{3, 1}}, .lo = -2, .hi = 2, .at = {.n = 3, .i = {2, 3, 4}},
     .call = call_expand, .differentiable = true},
    {.op = "tg_expand", .label = "[4] -> [3,4]", .n_in = 1, .ndim = {1}, .shape = {{4}},
     .lo = -2, .hi = 2, .at = {.n = 2, .i = {3, 4}}, .call = call_expand,
     .differentiable = true},
    {.op = "tg_expand", .label = "[] -> [2,3]", .n_in = 1, .ndim = {0}, .lo = -2, .hi = 2,
     .at = {.n = 2, .i = {2, 3}}, .call = call_expand, .differentiable = true},
    {.op = "tg_expand", .label = "[2,1,3] -> [2,4,3]", .n_in = 1, .ndim = {3},
     .shape = {{2, 1, 3}}, .lo = -2, .hi = 2, .at = {.n = 3, .i = {2, 4, 3}},
     .call = call_expand, .differentiable = true},
    {.op = "tg_expand", .label = "[1,1] -> [3,2]", .n_in = 1, .ndim = {2}, .shape = {{1, 1}},
     .lo = -2, .hi = 2, .at = {.n = 2, .i = {3, 2}}, .call = call_expand,
     .differentiable = true},
    {.op = "tg_expand", .label = "[2,3] -> [2,3] (no-op)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {2, 3}}, .call = call_expand,
     .differentiable = true},
};
// clang-format on

const op_case_family op_cases_shape = {"shape", rows, sizeof rows / sizeof rows[0]};

// Op cases for ops/slice.c: permute (negative entries, 3-D), slice (Python semantics:
// negative bounds, steps, clipping), slice_scatter, concat (several inputs, one fixed), and
// the composed stack, squeeze, unsqueeze and flatten (rows name the op behind them).
#include "tools/op_cases.h"

static const op_attrs *attrs(void *row) { return &((const op_case *)row)->at; }

// at.i[0 .. ndim): the permutation
static tg_tensor *call_permute(tg_tape *t, tg_tensor *const *in, void *row) {
    int perm[8];
    for (int k = 0; k < 8; k++) perm[k] = (int)attrs(row)->i[k];
    return tg_permute(t, in[0], perm);
}
// at.i = {axis, start, stop, step}
static tg_tensor *call_slice(tg_tape *t, tg_tensor *const *in, void *row) {
    const int64_t *a = attrs(row)->i;
    return tg_slice(t, in[0], (int)a[0], a[1], a[2], a[3]);
}
static tg_tensor *call_slice_scatter(tg_tape *t, tg_tensor *const *in, void *row) {
    const int64_t *a = attrs(row)->i;
    return tg_slice_scatter(t, in[0], in[1], (int)a[0], a[1], a[2], a[3]);
}
// at.i[0]: the axis; every input of the row is joined
static tg_tensor *call_concat(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_concat(t, ((const op_case *)row)->n_in, in, (int)attrs(row)->i[0]);
}
static tg_tensor *call_stack(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_stack(t, ((const op_case *)row)->n_in, in, (int)attrs(row)->i[0]);
}
static tg_tensor *call_squeeze(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_squeeze(t, in[0], (int)attrs(row)->i[0]);
}
static tg_tensor *call_unsqueeze(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_unsqueeze(t, in[0], (int)attrs(row)->i[0]);
}
// at.i[0], at.i[1]: the first and last axis flattened
static tg_tensor *call_flatten(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_flatten(t, in[0], (int)attrs(row)->i[0], (int)attrs(row)->i[1]);
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_permute", .label = "[2,3] by {1,0}", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.i = {1, 0}}, .call = call_permute, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_permute", .label = "[2,3,4] by {2,0,1}", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.i = {2, 0, 1}}, .call = call_permute,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_permute", .label = "[2,3,4] by {-2,-1,0}", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.i = {-2, -1, 0}}, .call = call_permute,
     .differentiable = true, .jitter = OPC_BCAST},

    {.op = "tg_slice", .label = "[5,3] rows 1:4", .n_in = 1, .ndim = {2}, .shape = {{5, 3}},
     .lo = -2, .hi = 2, .at = {.i = {0, 1, 4, 1}}, .call = call_slice, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_slice", .label = "[3,7] columns ::2 (axis -1)", .n_in = 1, .ndim = {2},
     .shape = {{3, 7}}, .lo = -2, .hi = 2, .at = {.i = {-1, 0, 7, 2}}, .call = call_slice,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_slice", .label = "[6] -4:-1", .n_in = 1, .ndim = {1}, .shape = {{6}}, .lo = -2,
     .hi = 2, .at = {.i = {0, -4, -1, 1}}, .call = call_slice, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_slice", .label = "[2,5,2] axis 1, 1:100:3 (stop clipped)", .n_in = 1,
     .ndim = {3}, .shape = {{2, 5, 2}}, .lo = -2, .hi = 2, .at = {.i = {1, 1, 100, 3}},
     .call = call_slice, .differentiable = true, .jitter = OPC_BCAST},

    {.op = "tg_slice_scatter", .label = "base [4,3], src [2,3] into rows 1:3", .n_in = 2,
     .ndim = {2, 2}, .shape = {{4, 3}, {2, 3}}, .lo = -2, .hi = 2, .at = {.i = {0, 1, 3, 1}},
     .call = call_slice_scatter, .differentiable = true},
    {.op = "tg_slice_scatter", .label = "base [2,5], src [2,3] into ::2 of axis -1",
     .n_in = 2, .ndim = {2, 2}, .shape = {{2, 5}, {2, 3}}, .lo = -2, .hi = 2,
     .at = {.i = {-1, 0, 5, 2}}, .call = call_slice_scatter, .differentiable = true},
    {.op = "tg_slice_scatter", .label = "base fixed, src [1,3] into row -1", .n_in = 2,
     .ndim = {2, 2}, .shape = {{3, 3}, {1, 3}}, .no_grad = {true, false}, .lo = -2, .hi = 2,
     .at = {.i = {0, -1, 3, 1}}, .call = call_slice_scatter, .differentiable = true},

    {.op = "tg_concat", .label = "[2,3] and [1,3] along 0", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {1, 3}}, .lo = -2, .hi = 2, .at = {.i = {0}}, .call = call_concat,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_concat", .label = "[2,1], [2,2], [2,3] along -1", .n_in = 3, .ndim = {2, 2, 2},
     .shape = {{2, 1}, {2, 2}, {2, 3}}, .lo = -2, .hi = 2, .at = {.i = {-1}},
     .call = call_concat, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_concat", .label = "four inputs, the second fixed", .n_in = 4,
     .ndim = {1, 1, 1, 1}, .shape = {{2}, {3}, {1}, {2}}, .no_grad = {false, true},
     .lo = -2, .hi = 2, .at = {.i = {0}}, .call = call_concat, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_concat", .label = "one input", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.i = {1}}, .call = call_concat, .differentiable = true,
     .jitter = OPC_BCAST},

    // composed
    {.op = "tg_concat", .label = "tg_stack of 3 x [2,2] at axis 1 (composed)", .n_in = 3,
     .ndim = {2, 2, 2}, .shape = {{2, 2}, {2, 2}, {2, 2}}, .lo = -2, .hi = 2, .at = {.i = {1}},
     .call = call_stack, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_reshape", .label = "tg_squeeze axis 1 of [3,1,2] (composed)", .n_in = 1,
     .ndim = {3}, .shape = {{3, 1, 2}}, .lo = -2, .hi = 2, .at = {.i = {1}},
     .call = call_squeeze, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_reshape", .label = "tg_squeeze all of [1,3,1] (composed)", .n_in = 1,
     .ndim = {3}, .shape = {{1, 3, 1}}, .lo = -2, .hi = 2, .at = {.i = {-100}},
     .call = call_squeeze, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_reshape", .label = "tg_unsqueeze axis -1 of [2,3] (composed)", .n_in = 1,
     .ndim = {2}, .shape = {{2, 3}}, .lo = -2, .hi = 2, .at = {.i = {-1}},
     .call = call_unsqueeze, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_reshape", .label = "tg_flatten 1..2 of [2,3,2,1] (composed)", .n_in = 1,
     .ndim = {4}, .shape = {{2, 3, 2, 1}}, .lo = -2, .hi = 2, .at = {.i = {1, 2}},
     .call = call_flatten, .differentiable = true, .jitter = OPC_BCAST},
};
// clang-format on

const op_case_family op_cases_slice = {"slice", rows, sizeof rows / sizeof rows[0]};

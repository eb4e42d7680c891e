// Op cases for ops/reduce.c: sum over everything, over chosen axes (negative, several
// in a 3-D shape, keepdim or not); max / min (ties have probability zero); argmax / argmin
// (forward-only); and mean, var, std and logsumexp, which are composed (their rows name
// tg_sum_axes, the op that carries their gradient).
#include "tools/op_cases.h"

// at.i[0 .. at.n) holds the axes.
static int row_axes(const op_case *row, int *axes) {
    for (int k = 0; k < row->at.n; k++) axes[k] = (int)row->at.i[k];
    return row->at.n;
}

static tg_tensor *call_sum(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_sum(t, in[0]);
}
static tg_tensor *call_sum_axes(tg_tape *t, tg_tensor *const *in, void *row) {
    int axes[8];
    int n = row_axes(row, axes);
    return tg_sum_axes(t, in[0], n, axes, ((const op_case *)row)->at.keepdim);
}
static tg_tensor *call_mean(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_mean(t, in[0]);
}
static tg_tensor *call_mean_axes(tg_tape *t, tg_tensor *const *in, void *row) {
    int axes[8];
    int n = row_axes(row, axes);
    return tg_mean_axes(t, in[0], n, axes, ((const op_case *)row)->at.keepdim);
}

static bool attr_keepdim(void *row) { return ((const op_case *)row)->at.keepdim; }

static tg_tensor *call_max(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_max(t, in[0]);
}
static tg_tensor *call_min(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_min(t, in[0]);
}
static tg_tensor *call_max_axes(tg_tape *t, tg_tensor *const *in, void *row) {
    int axes[8];
    int n = row_axes(row, axes);
    return tg_max_axes(t, in[0], n, axes, attr_keepdim(row));
}
static tg_tensor *call_min_axes(tg_tape *t, tg_tensor *const *in, void *row) {
    int axes[8];
    int n = row_axes(row, axes);
    return tg_min_axes(t, in[0], n, axes, attr_keepdim(row));
}
// at.i[0]: the axis
static tg_tensor *call_argmax(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_argmax(t, in[0], (int)((const op_case *)row)->at.i[0], attr_keepdim(row));
}
static tg_tensor *call_argmin(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_argmin(t, in[0], (int)((const op_case *)row)->at.i[0], attr_keepdim(row));
}
// at.s: the correction
static tg_tensor *call_var(tg_tape *t, tg_tensor *const *in, void *row) {
    int axes[8];
    int n = row_axes(row, axes);
    return tg_var(t, in[0], n, axes, (int)((const op_case *)row)->at.s, attr_keepdim(row));
}
static tg_tensor *call_std(tg_tape *t, tg_tensor *const *in, void *row) {
    int axes[8];
    int n = row_axes(row, axes);
    return tg_std(t, in[0], n, axes, (int)((const op_case *)row)->at.s, attr_keepdim(row));
}
static tg_tensor *call_logsumexp(tg_tape *t, tg_tensor *const *in, void *row) {
    int axes[8];
    int n = row_axes(row, axes);
    return tg_logsumexp(t, in[0], n, axes, attr_keepdim(row));
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_sum_axes", .label = "tg_sum of [2,3] -> []", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .call = call_sum, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "tg_sum of [] -> []", .n_in = 1, .ndim = {0}, .lo = -2,
     .hi = 2, .call = call_sum, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "axis 0 of [2,3]", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .at = {.n = 1, .i = {0}}, .call = call_sum_axes,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "axis 1 of [2,3], keepdim", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .at = {.n = 1, .i = {1}, .keepdim = true},
     .call = call_sum_axes, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "axis -1 of [2,3,4]", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.n = 1, .i = {-1}},
     .call = call_sum_axes, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "axes {0,-1} of [2,3,4], keepdim", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {0, -1}, .keepdim = true},
     .call = call_sum_axes, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "axes {-2,0} of [2,3,4]", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {-2, 0}},
     .call = call_sum_axes, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "all axes of [2,3,4] as a list", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.n = 3, .i = {2, 0, 1}},
     .call = call_sum_axes, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "no axes (identity)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .at = {.n = 0}, .call = call_sum_axes,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "size-1 axis 1 of [3,1,2]", .n_in = 1, .ndim = {3},
     .shape = {{3, 1, 2}}, .lo = -2, .hi = 2, .at = {.n = 1, .i = {1}},
     .call = call_sum_axes, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "tg_mean of [2,3] (composed)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .call = call_mean, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "tg_mean_axes {1} of [2,3,4], keepdim (composed)",
     .n_in = 1, .ndim = {3}, .shape = {{2, 3, 4}}, .lo = -2, .hi = 2,
     .at = {.n = 1, .i = {1}, .keepdim = true}, .call = call_mean_axes,
     .differentiable = true, .jitter = OPC_BCAST},

    {.op = "tg_max_axes", .label = "tg_max of [2,3] -> []", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .call = call_max, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_max_axes", .label = "axis 1 of [3,4], keepdim", .n_in = 1, .ndim = {2},
     .shape = {{3, 4}}, .lo = -2, .hi = 2, .at = {.n = 1, .i = {1}, .keepdim = true},
     .call = call_max_axes, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_max_axes", .label = "axes {0,-1} of [2,3,4]", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.n = 2, .i = {0, -1}},
     .call = call_max_axes, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_min_axes", .label = "tg_min of [2,3] -> []", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .call = call_min, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_min_axes", .label = "axis -2 of [3,4]", .n_in = 1, .ndim = {2},
     .shape = {{3, 4}}, .lo = -2, .hi = 2, .at = {.n = 1, .i = {-2}}, .call = call_min_axes,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_argmax", .label = "axis 1 of [3,4]", .n_in = 1, .ndim = {2}, .shape = {{3, 4}},
     .lo = -2, .hi = 2, .at = {.i = {1}}, .call = call_argmax, .jitter = OPC_BCAST},
    {.op = "tg_argmax", .label = "axis -1 of [2,3,4], keepdim", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 4}}, .lo = -2, .hi = 2, .at = {.i = {-1}, .keepdim = true},
     .call = call_argmax, .jitter = OPC_BCAST},
    {.op = "tg_argmin", .label = "axis 0 of [3,4]", .n_in = 1, .ndim = {2}, .shape = {{3, 4}},
     .lo = -2, .hi = 2, .at = {.i = {0}}, .call = call_argmin, .jitter = OPC_BCAST},

    {.op = "tg_sum_axes", .label = "tg_var {1} of [2,4], correction 1 (composed)", .n_in = 1,
     .ndim = {2}, .shape = {{2, 4}}, .lo = -2, .hi = 2, .at = {.n = 1, .i = {1}, .s = 1},
     .call = call_var, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "tg_var {0,1} of [2,3], correction 0, keepdim (composed)",
     .n_in = 1, .ndim = {2}, .shape = {{2, 3}}, .lo = -2, .hi = 2,
     .at = {.n = 2, .i = {0, 1}, .keepdim = true}, .call = call_var, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "tg_std {-1} of [3,4], correction 1 (composed)", .n_in = 1,
     .ndim = {2}, .shape = {{3, 4}}, .lo = -2, .hi = 2, .at = {.n = 1, .i = {-1}, .s = 1},
     .call = call_std, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "tg_std {0,1} of [2,3], correction 0, keepdim (composed)",
     .n_in = 1, .ndim = {2}, .shape = {{2, 3}}, .lo = -2, .hi = 2,
     .at = {.n = 2, .i = {0, 1}, .keepdim = true}, .call = call_std, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "tg_logsumexp {-1} of [3,4] (composed)", .n_in = 1,
     .ndim = {2}, .shape = {{3, 4}}, .lo = -3, .hi = 3, .at = {.n = 1, .i = {-1}},
     .call = call_logsumexp, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sum_axes", .label = "tg_logsumexp {0,2} of [2,3,2], keepdim (composed)",
     .n_in = 1, .ndim = {3}, .shape = {{2, 3, 2}}, .lo = -3, .hi = 3,
     .at = {.n = 2, .i = {0, 2}, .keepdim = true}, .call = call_logsumexp,
     .differentiable = true, .jitter = OPC_BCAST},
};
// clang-format on

const op_case_family op_cases_reduce = {"reduce", rows, sizeof rows / sizeof rows[0]};

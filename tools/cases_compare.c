// Op cases for ops/compare.c: maximum / minimum (ties have probability zero with continuous
// inputs), where with a mask built from a non-differentiated input, and the comparisons,
// which are forward-only (eq/ne draw small integers so that equal pairs occur).
#include "tools/op_cases.h"

static double attr_s(void *row) { return ((const op_case *)row)->at.s; }

static tg_tensor *call_maximum(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_maximum(t, in[0], in[1]);
}
static tg_tensor *call_minimum(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_minimum(t, in[0], in[1]);
}
// cond = (in[0] > 0): a 0/1 mask from the first input, which is not differentiated.
static tg_tensor *call_where(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_where(t, tg_gt_scalar(t, in[0], 0), in[1], in[2]);
}
// The raw first input as cond: any nonzero value selects a.
static tg_tensor *call_where_raw(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_where(t, in[0], in[1], in[2]);
}
static tg_tensor *call_gt(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_gt(t, in[0], in[1]);
}
static tg_tensor *call_lt(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_lt(t, in[0], in[1]);
}
static tg_tensor *call_ge(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_ge(t, in[0], in[1]);
}
static tg_tensor *call_le(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_le(t, in[0], in[1]);
}
static tg_tensor *call_eq(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_eq(t, in[0], in[1]);
}
static tg_tensor *call_ne(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_ne(t, in[0], in[1]);
}
static tg_tensor *call_lt_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_lt_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_ge_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_ge_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_le_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_le_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_eq_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_eq_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_ne_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_ne_scalar(t, in[0], attr_s(row));
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_maximum", .label = "same shape [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .call = call_maximum,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_maximum", .label = "broadcast [3,1] and [1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .lo = -2, .hi = 2, .call = call_maximum,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_maximum", .label = "broadcast [2,3] and [], b not differentiated", .n_in = 2,
     .ndim = {2, 0}, .shape = {{2, 3}}, .no_grad = {false, true}, .lo = -2, .hi = 2,
     .call = call_maximum, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_minimum", .label = "same shape [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .call = call_minimum,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_minimum", .label = "broadcast [2,3,4] and [4]", .n_in = 2, .ndim = {3, 1},
     .shape = {{2, 3, 4}, {4}}, .lo = -2, .hi = 2, .call = call_minimum,
     .differentiable = true, .jitter = OPC_BCAST},

    {.op = "tg_where", .label = "cond, a, b all [2,3]", .n_in = 3, .ndim = {2, 2, 2},
     .shape = {{2, 3}, {2, 3}, {2, 3}}, .no_grad = {true, false, false}, .lo = -2, .hi = 2,
     .call = call_where, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_where", .label = "broadcast cond [3,1], a [1,4], b []", .n_in = 3,
     .ndim = {2, 2, 0}, .shape = {{3, 1}, {1, 4}}, .no_grad = {true, false, false}, .lo = -2,
     .hi = 2, .call = call_where, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_where", .label = "integer cond in {0,1,2} [2,3], a [3], b [2,1]", .n_in = 3,
     .ndim = {2, 1, 2}, .shape = {{2, 3}, {3}, {2, 1}}, .index_hi = {3}, .lo = -2, .hi = 2,
     .call = call_where_raw, .differentiable = true, .jitter = OPC_BCAST},

    {.op = "tg_gt", .label = "same shape [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .call = call_gt, .jitter = OPC_BCAST},
    {.op = "tg_gt", .label = "broadcast [3,1] and [1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .lo = -2, .hi = 2, .call = call_gt, .jitter = OPC_BCAST},
    {.op = "tg_lt", .label = "broadcast [3,1] and [1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .lo = -2, .hi = 2, .call = call_lt, .jitter = OPC_BCAST},
    {.op = "tg_ge", .label = "integers, broadcast [2,3] and [3]", .n_in = 2, .ndim = {2, 1},
     .shape = {{2, 3}, {3}}, .index_hi = {3, 3}, .lo = 0, .hi = 1, .call = call_ge,
     .jitter = OPC_BCAST},
    {.op = "tg_le", .label = "integers, broadcast [2,3] and []", .n_in = 2, .ndim = {2, 0},
     .shape = {{2, 3}}, .index_hi = {3, 3}, .lo = 0, .hi = 1, .call = call_le, .jitter = OPC_BCAST},
    {.op = "tg_eq", .label = "integers, same shape [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .index_hi = {3, 3}, .lo = 0, .hi = 1, .call = call_eq,
     .jitter = OPC_BCAST},
    {.op = "tg_eq", .label = "integers, broadcast [3,1] and [1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .index_hi = {3, 3}, .lo = 0, .hi = 1, .call = call_eq,
     .jitter = OPC_BCAST},
    {.op = "tg_ne", .label = "integers, broadcast [3,1] and [1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .index_hi = {3, 3}, .lo = 0, .hi = 1, .call = call_ne,
     .jitter = OPC_BCAST},

    {.op = "tg_lt_scalar", .label = "[2,3] < 0.5", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.s = 0.5}, .call = call_lt_scalar, .jitter = OPC_BCAST},
    {.op = "tg_ge_scalar", .label = "[2,3] >= 0.5", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.s = 0.5}, .call = call_ge_scalar, .jitter = OPC_BCAST},
    {.op = "tg_le_scalar", .label = "[2,3] <= 1 (integers)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .index_hi = {3}, .lo = 0, .hi = 1, .at = {.s = 1},
     .call = call_le_scalar, .jitter = OPC_BCAST},
    {.op = "tg_eq_scalar", .label = "[2,3] == 1 (integers)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .index_hi = {3}, .lo = 0, .hi = 1, .at = {.s = 1},
     .call = call_eq_scalar, .jitter = OPC_BCAST},
    {.op = "tg_ne_scalar", .label = "[2,3] != 1 (integers)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .index_hi = {3}, .lo = 0, .hi = 1, .at = {.s = 1},
     .call = call_ne_scalar, .jitter = OPC_BCAST},
};
// clang-format on

const op_case_family op_cases_compare = {"compare", rows, sizeof rows / sizeof rows[0]};

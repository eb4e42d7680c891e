// Op cases for ops/index.c: gather and scatter_add along either axis (index inputs hold
// integers and may repeat, which scatter_add must add up), and the composed index_select
// and one_hot (one_hot of labels carries no gradient: forward-only).
#include "tools/op_cases.h"

static int attr_axis(void *row) { return (int)((const op_case *)row)->at.i[0]; }

// in: x, index
static tg_tensor *call_gather(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_gather(t, in[0], attr_axis(row), in[1]);
}
// in: base, index, src
static tg_tensor *call_scatter_add(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_scatter_add(t, in[0], attr_axis(row), in[1], in[2]);
}
// in: x, index
static tg_tensor *call_index_select(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_index_select(t, in[0], attr_axis(row), in[1]);
}
// in: labels; at.i[1]: the number of classes
static tg_tensor *call_one_hot(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_one_hot(t, in[0], ((const op_case *)row)->at.i[1]);
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_gather", .label = "x [3,4], index [3,2] along 1", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 4}, {3, 2}}, .index_hi = {0, 4}, .lo = -2, .hi = 2, .at = {.i = {1}},
     .call = call_gather, .differentiable = true},
    {.op = "tg_gather", .label = "x [3,4], index [5,2] along 0 (repeats)", .n_in = 2,
     .ndim = {2, 2}, .shape = {{3, 4}, {5, 2}}, .index_hi = {0, 3}, .lo = -2, .hi = 2,
     .at = {.i = {0}}, .call = call_gather, .differentiable = true},
    {.op = "tg_gather", .label = "x [2,3,4], index [2,3,1] along -1", .n_in = 2,
     .ndim = {3, 3}, .shape = {{2, 3, 4}, {2, 3, 1}}, .index_hi = {0, 4}, .lo = -2, .hi = 2,
     .at = {.i = {-1}}, .call = call_gather, .differentiable = true},

    {.op = "tg_scatter_add", .label = "base [3,4], index/src [3,2] along 1", .n_in = 3,
     .ndim = {2, 2, 2}, .shape = {{3, 4}, {3, 2}, {3, 2}}, .index_hi = {0, 4, 0}, .lo = -2,
     .hi = 2, .at = {.i = {1}}, .call = call_scatter_add, .differentiable = true},
    {.op = "tg_scatter_add", .label = "base [2,3], index/src [4,3] along 0 (repeats)",
     .n_in = 3, .ndim = {2, 2, 2}, .shape = {{2, 3}, {4, 3}, {4, 3}}, .index_hi = {0, 2, 0},
     .lo = -2, .hi = 2, .at = {.i = {0}}, .call = call_scatter_add, .differentiable = true},
    {.op = "tg_scatter_add", .label = "base fixed, src differentiated", .n_in = 3,
     .ndim = {2, 2, 2}, .shape = {{3, 4}, {2, 4}, {2, 4}}, .index_hi = {0, 3, 0},
     .no_grad = {true}, .lo = -2, .hi = 2, .at = {.i = {-2}}, .call = call_scatter_add,
     .differentiable = true},

    // composed
    {.op = "tg_gather", .label = "tg_index_select rows of [4,3] by [5] (composed)", .n_in = 2,
     .ndim = {2, 1}, .shape = {{4, 3}, {5}}, .index_hi = {0, 4}, .lo = -2, .hi = 2,
     .at = {.i = {0}}, .call = call_index_select, .differentiable = true},
    {.op = "tg_gather", .label = "tg_index_select axis -1 of [2,5] by [3] (composed)",
     .n_in = 2, .ndim = {2, 1}, .shape = {{2, 5}, {3}}, .index_hi = {0, 5}, .lo = -2, .hi = 2,
     .at = {.i = {-1}}, .call = call_index_select, .differentiable = true},
    {.op = "tg_scatter_add", .label = "tg_one_hot of [4] labels, 3 classes (composed)",
     .n_in = 1, .ndim = {1}, .shape = {{4}}, .index_hi = {3}, .lo = 0, .hi = 1,
     .at = {.i = {0, 3}}, .call = call_one_hot},
};
// clang-format on

const op_case_family op_cases_index = {"index", rows, sizeof rows / sizeof rows[0]};

// Op cases for ops/conv.c: im2col and its adjoint col2im with strides, padding and
// dilation; conv2d and its two gradient ops (through create_graph); max_pool2d and its
// gradient op; the composed avg_pool2d (its rows name the op that carries the gradient).
// Windows are small so the full Jacobian stays cheap.
#include "tools/op_cases.h"

// at.i = {kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, c, h, w} (0 = default)
static const int64_t *win(void *row) { return ((const op_case *)row)->at.i; }

static tg_conv_opts opts_of(const int64_t *a) {
    tg_conv_opts o = {{(int)a[2], (int)a[3]}, {(int)a[4], (int)a[5]}, {(int)a[6], (int)a[7]}};
    return o;
}

static tg_tensor *call_im2col(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_conv_opts o = opts_of(win(row));
    return tg_im2col(t, in[0], (int)win(row)[0], (int)win(row)[1], &o);
}
static tg_tensor *call_col2im(tg_tape *t, tg_tensor *const *in, void *row) {
    const int64_t *a = win(row);
    tg_conv_opts o = opts_of(a);
    return tg_col2im(t, in[0], a[8], a[9], a[10], (int)a[0], (int)a[1], &o);
}
// in: x, weight (kh, kw come from its shape), optional bias
static tg_tensor *call_conv2d(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_conv_opts o = opts_of(win(row));
    return tg_conv2d(t, in[0], in[1], ((const op_case *)row)->n_in > 2 ? in[2] : NULL, &o);
}
// d/dx and d/dw of sum(conv2d(x, w)^2) with create_graph: the rule's conv2d_dx and conv2d_dw
// ops see dy = 2y, which depends on x and w (in = x, w; at as for conv2d)
static tg_tensor *call_conv2d_grad(tg_tape *t, tg_tensor *const *in, void *row, int k) {
    tg_conv_opts o = opts_of(win(row));
    tg_tensor *y = tg_conv2d(t, in[0], in[1], NULL, &o), *g = NULL;
    tg_backward_opts bo = {.create_graph = true};
    if (tg_grad(t, tg_sum(t, tg_mul(t, y, y)), NULL, 1, (tg_tensor *[]){in[k]}, &g, &bo))
        return NULL;
    return g;
}
static tg_tensor *call_conv2d_dx(tg_tape *t, tg_tensor *const *in, void *row) {
    return call_conv2d_grad(t, in, row, 0);
}
static tg_tensor *call_conv2d_dw(tg_tape *t, tg_tensor *const *in, void *row) {
    return call_conv2d_grad(t, in, row, 1);
}
static tg_tensor *call_max_pool2d(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_conv_opts o = opts_of(win(row));
    return tg_max_pool2d(t, in[0], (int)win(row)[0], (int)win(row)[1], &o);
}
static tg_tensor *call_max_pool2d_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_conv_opts o = opts_of(win(row));
    return tg_max_pool2d_grad(t, in[0], in[1], (int)win(row)[0], (int)win(row)[1], &o);
}
static tg_tensor *call_avg_pool2d(tg_tape *t, tg_tensor *const *in, void *row) {
    tg_conv_opts o = opts_of(win(row));
    return tg_avg_pool2d(t, in[0], (int)win(row)[0], (int)win(row)[1], &o);
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_im2col", .label = "x [1,2,3,3], 2x2 window", .n_in = 1, .ndim = {4},
     .shape = {{1, 2, 3, 3}}, .lo = -2, .hi = 2, .at = {.i = {2, 2}}, .call = call_im2col,
     .differentiable = true},
    {.op = "tg_im2col", .label = "x [2,1,4,3], 3x2 window, stride 2x1, padding 1",
     .n_in = 1, .ndim = {4}, .shape = {{2, 1, 4, 3}}, .lo = -2, .hi = 2,
     .at = {.i = {3, 2, 2, 1, 1, 1}}, .call = call_im2col, .differentiable = true},
    {.op = "tg_im2col", .label = "x [1,1,5,5], 2x2 window, dilation 2", .n_in = 1,
     .ndim = {4}, .shape = {{1, 1, 5, 5}}, .lo = -2, .hi = 2,
     .at = {.i = {2, 2, 0, 0, 0, 0, 2, 2}}, .call = call_im2col, .differentiable = true},

    {.op = "tg_col2im", .label = "cols [1,4,4] -> [1,1,3,3], 2x2 window", .n_in = 1,
     .ndim = {3}, .shape = {{1, 4, 4}}, .lo = -2, .hi = 2,
     .at = {.i = {2, 2, 0, 0, 0, 0, 0, 0, 1, 3, 3}}, .call = call_col2im,
     .differentiable = true},
    {.op = "tg_col2im", .label = "cols [2,8,4] -> [2,2,3,3], 2x2, stride 2, padding 1",
     .n_in = 1, .ndim = {3}, .shape = {{2, 8, 4}}, .lo = -2, .hi = 2,
     .at = {.i = {2, 2, 2, 2, 1, 1, 0, 0, 2, 3, 3}}, .call = call_col2im,
     .differentiable = true},

    // composed
    {.op = "tg_conv2d", .label = "x [1,2,4,4], w [3,2,2,2], bias [3]",
     .n_in = 3, .ndim = {4, 4, 1}, .shape = {{1, 2, 4, 4}, {3, 2, 2, 2}, {3}}, .lo = -1,
     .hi = 1, .call = call_conv2d, .differentiable = true},
    {.op = "tg_conv2d", .label = "x [3,2,3,3], w [2,2,2,2], bias [2] (several images: the "
     "bias row of each)", .n_in = 3, .ndim = {4, 4, 1}, .shape = {{3, 2, 3, 3}, {2, 2, 2, 2}, {2}},
     .lo = -1, .hi = 1, .call = call_conv2d, .differentiable = true},
    {.op = "tg_conv2d", .label = "x [2,1,4,4], w [2,1,3,3], stride 2, padding 1, no bias",
     .n_in = 2, .ndim = {4, 4}, .shape = {{2, 1, 4, 4}, {2, 1, 3, 3}}, .lo = -1, .hi = 1,
     .at = {.i = {0, 0, 2, 2, 1, 1}}, .call = call_conv2d, .differentiable = true},
    {.op = "tg_conv2d", .label = "x [1,1,5,5] fixed, w [2,1,2,2], bias [2], dilation 2", .n_in = 3,
     .ndim = {4, 4, 1}, .shape = {{1, 1, 5, 5}, {2, 1, 2, 2}, {2}}, .no_grad = {true},
     .lo = -1, .hi = 1, .at = {.i = {0, 0, 0, 0, 0, 0, 2, 2}}, .call = call_conv2d,
     .differentiable = true},
    {.op = "tg_conv2d_dx", .label = "d/dx of sum(conv2d(x, w)^2), x [2,2,4,4], w [3,2,3,3], "
     "padding 1 (create_graph)", .n_in = 2, .ndim = {4, 4}, .shape = {{2, 2, 4, 4}, {3, 2, 3, 3}},
     .lo = -1, .hi = 1, .at = {.i = {0, 0, 1, 1, 1, 1}}, .call = call_conv2d_dx,
     .differentiable = true},
    {.op = "tg_conv2d_dw", .label = "d/dw of sum(conv2d(x, w)^2), x [2,1,5,4], w [2,1,2,3], "
     "stride 2 (create_graph)", .n_in = 2, .ndim = {4, 4}, .shape = {{2, 1, 5, 4}, {2, 1, 2, 3}},
     .lo = -1, .hi = 1, .at = {.i = {0, 0, 2, 2}}, .call = call_conv2d_dw,
     .differentiable = true},
    {.op = "tg_max_pool2d", .label = "x [1,2,4,4], 2x2", .n_in = 1,
     .ndim = {4}, .shape = {{1, 2, 4, 4}}, .lo = -2, .hi = 2, .at = {.i = {2, 2}},
     .call = call_max_pool2d, .differentiable = true},
    {.op = "tg_max_pool2d", .label = "x [1,1,5,5], 3x3, stride 2, padding 1",
     .n_in = 1, .ndim = {4}, .shape = {{1, 1, 5, 5}}, .lo = -2, .hi = 2,
     .at = {.i = {3, 3, 2, 2, 1, 1}}, .call = call_max_pool2d, .differentiable = true},
    {.op = "tg_max_pool2d_grad", .label = "x [1,2,4,4] fixed, dy [1,2,2,2], 2x2", .n_in = 2,
     .ndim = {4, 4}, .shape = {{1, 2, 4, 4}, {1, 2, 2, 2}}, .no_grad = {true}, .lo = -2,
     .hi = 2, .at = {.i = {2, 2}}, .call = call_max_pool2d_grad, .differentiable = true},
    {.op = "tg_max_pool2d_grad", .label = "x [2,1,3,3] fixed, dy [2,1,2,2], 2x2, stride 1 "
     "(overlapping)", .n_in = 2, .ndim = {4, 4}, .shape = {{2, 1, 3, 3}, {2, 1, 2, 2}},
     .no_grad = {true}, .lo = -2, .hi = 2, .at = {.i = {2, 2, 1, 1}},
     .call = call_max_pool2d_grad, .differentiable = true},
    {.op = "tg_im2col", .label = "tg_avg_pool2d 2x2 of [2,1,4,4] (composed)", .n_in = 1,
     .ndim = {4}, .shape = {{2, 1, 4, 4}}, .lo = -2, .hi = 2, .at = {.i = {2, 2}},
     .call = call_avg_pool2d, .differentiable = true},
    {.op = "tg_im2col", .label = "tg_avg_pool2d 3x3, stride 1, padding 1 (composed)",
     .n_in = 1, .ndim = {4}, .shape = {{1, 1, 3, 3}}, .lo = -2, .hi = 2,
     .at = {.i = {3, 3, 1, 1, 1, 1}}, .call = call_avg_pool2d, .differentiable = true},
};
// clang-format on

const op_case_family op_cases_conv = {"conv", rows, sizeof rows / sizeof rows[0]};

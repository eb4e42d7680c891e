// Op cases for ops/elementwise.c: binary ops with every broadcast pattern, the scalar forms,
// pow at several exponents, the unary math ops (inputs inside their domains, away from
// kinks), and gt_scalar as a forward-only row.
#include "tools/op_cases.h"

static double attr_s(void *row) { return ((const op_case *)row)->at.s; }

// ---- calls ----

static tg_tensor *call_add(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_add(t, in[0], in[1]);
}
static tg_tensor *call_sub(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_sub(t, in[0], in[1]);
}
static tg_tensor *call_mul(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_mul(t, in[0], in[1]);
}
static tg_tensor *call_div(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_div(t, in[0], in[1]);
}
// x * x through one tensor used twice: the core must add both contributions.
static tg_tensor *call_mul_self(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_mul(t, in[0], in[0]);
}
static tg_tensor *call_add_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_add_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_sub_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_sub_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_rsub_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_rsub_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_mul_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_mul_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_div_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_div_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_rdiv_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_rdiv_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_pow_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_pow_scalar(t, in[0], attr_s(row));
}
static tg_tensor *call_neg(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_neg(t, in[0]);
}
static tg_tensor *call_exp(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_exp(t, in[0]);
}
static tg_tensor *call_log(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_log(t, in[0]);
}
static tg_tensor *call_sqrt(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_sqrt(t, in[0]);
}
static tg_tensor *call_relu_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_relu_grad(t, in[0], in[1]);
}
// relu twice differentiated: relu's rule is relu_grad, so this exercises its own rule.
static tg_tensor *call_relu_grad_of_relu(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    tg_tensor *y = tg_relu(t, in[0]), *g = NULL;
    tg_backward_opts o = {.create_graph = true};
    tg_tensor *w = tg_mul(t, in[0], in[0]);   // makes dy depend on x
    if (tg_grad(t, tg_sum(t, tg_mul(t, y, w)), NULL, 1, &in[0], &g, &o)) return NULL;
    return g;
}
static tg_tensor *call_relu(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_relu(t, in[0]);
}
static tg_tensor *call_sigmoid(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_sigmoid(t, in[0]);
}
static tg_tensor *call_tanh(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_tanh(t, in[0]);
}
static tg_tensor *call_tanh_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_tanh_grad(t, in[0], in[1]);
}
static tg_tensor *call_sigmoid_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_sigmoid_grad(t, in[0], in[1]);
}
// d/dx of sum(f(x) * x^2)'s gradient (create_graph): f's rule is tanh_grad / sigmoid_grad
static tg_tensor *call_tanh_grad_of_tanh(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return op_case_grad_of(t, in[0], tg_tanh(t, in[0]));
}
static tg_tensor *call_sigmoid_grad_of_sigmoid(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return op_case_grad_of(t, in[0], tg_sigmoid(t, in[0]));
}
static tg_tensor *call_gt_scalar(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_gt_scalar(t, in[0], attr_s(row));
}

// ---- rows ----

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    // binary, broadcasting: same shape, [3,1]+[1,4], trailing [4], 0-dim, one side fixed
    {.op = "tg_add", .label = "same shape [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .call = call_add, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_add", .label = "broadcast [3,1]+[1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .lo = -2, .hi = 2, .call = call_add, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_add", .label = "broadcast [2,3,4]+[4]", .n_in = 2, .ndim = {3, 1},
     .shape = {{2, 3, 4}, {4}}, .lo = -2, .hi = 2, .call = call_add, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_add", .label = "broadcast []+[2,3]", .n_in = 2, .ndim = {0, 2},
     .shape = {{0}, {2, 3}}, .lo = -2, .hi = 2, .call = call_add, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_add", .label = "broadcast [2,1,3]+[4,1], b not differentiated", .n_in = 2,
     .ndim = {3, 2}, .shape = {{2, 1, 3}, {4, 1}}, .no_grad = {false, true}, .lo = -2,
     .hi = 2, .call = call_add, .differentiable = true, .jitter = OPC_BCAST},

    {.op = "tg_sub", .label = "same shape [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .call = call_sub, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_sub", .label = "broadcast [3,1]-[1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .lo = -2, .hi = 2, .call = call_sub, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_sub", .label = "broadcast [2,3,4]-[4]", .n_in = 2, .ndim = {3, 1},
     .shape = {{2, 3, 4}, {4}}, .lo = -2, .hi = 2, .call = call_sub, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_sub", .label = "broadcast []-[2,3]", .n_in = 2, .ndim = {0, 2},
     .shape = {{0}, {2, 3}}, .lo = -2, .hi = 2, .call = call_sub, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_sub", .label = "[2,3]-[3], a not differentiated", .n_in = 2, .ndim = {2, 1},
     .shape = {{2, 3}, {3}}, .no_grad = {true, false}, .lo = -2, .hi = 2, .call = call_sub,
     .differentiable = true, .jitter = OPC_BCAST},

    {.op = "tg_mul", .label = "same shape [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .call = call_mul, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_mul", .label = "broadcast [3,1]*[1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .lo = -2, .hi = 2, .call = call_mul, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_mul", .label = "broadcast [2,3,4]*[4]", .n_in = 2, .ndim = {3, 1},
     .shape = {{2, 3, 4}, {4}}, .lo = -2, .hi = 2, .call = call_mul, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_mul", .label = "broadcast []*[2,3]", .n_in = 2, .ndim = {0, 2},
     .shape = {{0}, {2, 3}}, .lo = -2, .hi = 2, .call = call_mul, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_mul", .label = "[2,3]*[2,3], b not differentiated", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .no_grad = {false, true}, .lo = -2, .hi = 2,
     .call = call_mul, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_mul", .label = "x*x (one input used twice)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .call = call_mul_self, .differentiable = true,
     .jitter = OPC_BCAST},

    {.op = "tg_div", .label = "same shape [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = 0.5, .hi = 2, .call = call_div, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_div", .label = "broadcast [3,1]/[1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .lo = 0.5, .hi = 2, .call = call_div, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_div", .label = "broadcast [2,3,4]/[4]", .n_in = 2, .ndim = {3, 1},
     .shape = {{2, 3, 4}, {4}}, .lo = 0.5, .hi = 2, .call = call_div, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_div", .label = "broadcast []/[2,3]", .n_in = 2, .ndim = {0, 2},
     .shape = {{0}, {2, 3}}, .lo = 0.5, .hi = 2, .call = call_div, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_div", .label = "broadcast [2,3]/[]", .n_in = 2,
     .ndim = {2, 0}, .shape = {{2, 3}, {0}}, .lo = 0.5, .hi = 2, .call = call_div,
     .differentiable = true, .jitter = OPC_BCAST},

    // scalar forms
    {.op = "tg_add_scalar", .label = "[2,3] + 1.5", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.s = 1.5}, .call = call_add_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_add_scalar", .label = "[] + -3", .n_in = 1, .ndim = {0}, .lo = -2, .hi = 2,
     .at = {.s = -3}, .call = call_add_scalar, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sub_scalar", .label = "[2,3] - 0.75", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.s = 0.75}, .call = call_sub_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_rsub_scalar", .label = "2 - [2,3]", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.s = 2}, .call = call_rsub_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_mul_scalar", .label = "[2,3] * -2.5", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.s = -2.5}, .call = call_mul_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_mul_scalar", .label = "[2,3] * 0", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.s = 0}, .call = call_mul_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_div_scalar", .label = "[2,3] / 3", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .at = {.s = 3}, .call = call_div_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_div_scalar", .label = "[3] / -0.5", .n_in = 1, .ndim = {1}, .shape = {{3}},
     .lo = -2, .hi = 2, .at = {.s = -0.5}, .call = call_div_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_rdiv_scalar", .label = "2 / [2,3], positive", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = 0.5, .hi = 2, .at = {.s = 2}, .call = call_rdiv_scalar,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_rdiv_scalar", .label = "-1 / [4], negative", .n_in = 1, .ndim = {1},
     .shape = {{4}}, .lo = -2, .hi = -0.5, .at = {.s = -1}, .call = call_rdiv_scalar,
     .differentiable = true, .jitter = OPC_BCAST},

    // pow at integer, negative, fractional, zero and one exponents (positive inputs)
    {.op = "tg_pow_scalar", .label = "x^2", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = 0.5, .hi = 2, .at = {.s = 2}, .call = call_pow_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_pow_scalar", .label = "x^3, signed inputs", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .at = {.s = 3}, .call = call_pow_scalar,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_pow_scalar", .label = "x^-1", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = 0.5, .hi = 2, .at = {.s = -1}, .call = call_pow_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_pow_scalar", .label = "x^-2.5", .n_in = 1, .ndim = {1}, .shape = {{4}},
     .lo = 0.5, .hi = 2, .at = {.s = -2.5}, .call = call_pow_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_pow_scalar", .label = "x^0.5", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = 0.5, .hi = 2, .at = {.s = 0.5}, .call = call_pow_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_pow_scalar", .label = "x^1.5", .n_in = 1, .ndim = {1}, .shape = {{4}},
     .lo = 0.5, .hi = 2, .at = {.s = 1.5}, .call = call_pow_scalar, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_pow_scalar", .label = "x^1 (identity rule)", .n_in = 1, .ndim = {1},
     .shape = {{4}}, .lo = 0.5, .hi = 2, .at = {.s = 1}, .call = call_pow_scalar,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_pow_scalar", .label = "x^0 (constant, zero gradient)", .n_in = 1, .ndim = {1},
     .shape = {{4}}, .lo = 0.5, .hi = 2, .at = {.s = 0}, .call = call_pow_scalar,
     .differentiable = true, .jitter = OPC_BCAST},

    // unary
    {.op = "tg_neg", .label = "[2,3]", .n_in = 1, .ndim = {2}, .shape = {{2, 3}}, .lo = -2,
     .hi = 2, .call = call_neg, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_exp", .label = "[2,3]", .n_in = 1, .ndim = {2}, .shape = {{2, 3}}, .lo = -2,
     .hi = 2, .call = call_exp, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_exp", .label = "[]", .n_in = 1, .ndim = {0}, .lo = -2, .hi = 2,
     .call = call_exp, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_log", .label = "[2,3], positive", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = 0.5, .hi = 3, .call = call_log, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sqrt", .label = "[2,3], positive", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = 0.5, .hi = 3, .call = call_sqrt, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_relu", .label = "[2,3,2], |x| > 0.1", .n_in = 1, .ndim = {3},
     .shape = {{2, 3, 2}}, .lo = -2, .hi = 2, .band_lo = -0.1, .band_hi = 0.1,
     .call = call_relu, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_relu_grad", .label = "dy [2,3], x [2,3], |x| > 0.1", .n_in = 2,
     .ndim = {2, 2}, .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .band_lo = -0.1,
     .band_hi = 0.1, .call = call_relu_grad, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_relu_grad", .label = "broadcast dy [3,1], x [1,4]", .n_in = 2,
     .ndim = {2, 2}, .shape = {{3, 1}, {1, 4}}, .lo = -2, .hi = 2, .band_lo = -0.1,
     .band_hi = 0.1, .call = call_relu_grad, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_relu_grad", .label = "d/dx of relu's gradient (create_graph)", .n_in = 1,
     .ndim = {2}, .shape = {{2, 3}}, .lo = -2, .hi = 2, .band_lo = -0.1, .band_hi = 0.1,
     .call = call_relu_grad_of_relu, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sigmoid", .label = "[2,3]", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -3, .hi = 3, .call = call_sigmoid, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_tanh", .label = "[2,3]", .n_in = 1, .ndim = {2}, .shape = {{2, 3}}, .lo = -3,
     .hi = 3, .call = call_tanh, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_tanh_grad", .label = "dy [2,3], y [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -1, .hi = 1, .call = call_tanh_grad,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_tanh_grad", .label = "broadcast dy [3,1], y [1,4]", .n_in = 2, .ndim = {2, 2},
     .shape = {{3, 1}, {1, 4}}, .lo = -1, .hi = 1, .call = call_tanh_grad,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_tanh_grad", .label = "d/dx of tanh's gradient (create_graph)", .n_in = 1,
     .ndim = {2}, .shape = {{2, 3}}, .lo = -2, .hi = 2, .call = call_tanh_grad_of_tanh,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sigmoid_grad", .label = "dy [2,3], y [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = 0.05, .hi = 0.95, .call = call_sigmoid_grad,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sigmoid_grad", .label = "broadcast dy [2,1,3], y [4,1]", .n_in = 2,
     .ndim = {3, 2}, .shape = {{2, 1, 3}, {4, 1}}, .lo = 0.05, .hi = 0.95,
     .call = call_sigmoid_grad, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sigmoid_grad", .label = "d/dx of sigmoid's gradient (create_graph)", .n_in = 1,
     .ndim = {2}, .shape = {{2, 3}}, .lo = -2, .hi = 2, .call = call_sigmoid_grad_of_sigmoid,
     .differentiable = true, .jitter = OPC_BCAST},

    // masks: no gradient, forward only
    {.op = "tg_gt_scalar", .label = "[2,3] > 0.5, |x - 0.5| > 0.1", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .band_lo = 0.4, .band_hi = 0.6, .at = {.s = 0.5},
     .call = call_gt_scalar, .differentiable = false, .jitter = OPC_BCAST},
};
// clang-format on

const op_case_family op_cases_elementwise = {"elementwise", rows, sizeof rows / sizeof rows[0]};

// Op cases for ops/activation.c: abs, sign, clamp, leaky_relu, elu, softplus and erf with
// inputs kept away from their kinks (one band per row, so two-kink ops get one kink in range
// per row), gelu_tanh and its gradient op (directly, broadcasting, and through create_graph),
// and the composed hardtanh, gelu, rsqrt and square (rows name the op that carries their
// gradient).
#include "tools/op_cases.h"

static const op_attrs *attrs(void *row) { return &((const op_case *)row)->at; }

static tg_tensor *call_abs(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_abs(t, in[0]);
}
static tg_tensor *call_sign(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_sign(t, in[0]);
}
// at.s, at.s2: lo, hi
static tg_tensor *call_clamp(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_clamp(t, in[0], attrs(row)->s, attrs(row)->s2);
}
static tg_tensor *call_hardtanh(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_hardtanh(t, in[0], attrs(row)->s, attrs(row)->s2);
}
static tg_tensor *call_leaky_relu(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_leaky_relu(t, in[0], attrs(row)->s);
}
static tg_tensor *call_elu(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_elu(t, in[0], attrs(row)->s);
}
// at.s, at.s2: beta, threshold
static tg_tensor *call_softplus(tg_tape *t, tg_tensor *const *in, void *row) {
    return tg_softplus(t, in[0], attrs(row)->s, attrs(row)->s2);
}
static tg_tensor *call_erf(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_erf(t, in[0]);
}
static tg_tensor *call_gelu(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_gelu(t, in[0]);
}
// in = dy, x
static tg_tensor *call_gelu_tanh_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_gelu_tanh_grad(t, in[0], in[1]);
}
static tg_tensor *call_gelu_tanh_grad_of(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return op_case_grad_of(t, in[0], tg_gelu_tanh(t, in[0]));
}
static tg_tensor *call_gelu_tanh(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_gelu_tanh(t, in[0]);
}
static tg_tensor *call_rsqrt(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_rsqrt(t, in[0]);
}
static tg_tensor *call_silu(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_silu(t, in[0]);
}
static tg_tensor *call_silu_grad(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_silu_grad(t, in[0], in[1]);
}
static tg_tensor *call_log1p(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_log1p(t, in[0]);
}
static tg_tensor *call_square(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_square(t, in[0]);
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_abs", .label = "[2,3], |x| > 0.1", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .band_lo = -0.1, .band_hi = 0.1, .call = call_abs,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_sign", .label = "[2,3], |x| > 0.1 (zero gradient)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .band_lo = -0.1, .band_hi = 0.1, .call = call_sign,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_clamp", .label = "clamp(-0.5, 10): lower kink", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .band_lo = -0.6, .band_hi = -0.4,
     .at = {.s = -0.5, .s2 = 10}, .call = call_clamp, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_clamp", .label = "clamp(-10, 0.5): upper kink", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .band_lo = 0.4, .band_hi = 0.6,
     .at = {.s = -10, .s2 = 0.5}, .call = call_clamp, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_leaky_relu", .label = "slope 0.1", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -2, .hi = 2, .band_lo = -0.1, .band_hi = 0.1, .at = {.s = 0.1},
     .call = call_leaky_relu, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_leaky_relu", .label = "slope -0.5", .n_in = 1, .ndim = {1}, .shape = {{6}},
     .lo = -2, .hi = 2, .band_lo = -0.1, .band_hi = 0.1, .at = {.s = -0.5},
     .call = call_leaky_relu, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_elu", .label = "alpha 1", .n_in = 1, .ndim = {2}, .shape = {{2, 3}}, .lo = -3,
     .hi = 2, .band_lo = -0.1, .band_hi = 0.1, .at = {.s = 1}, .call = call_elu,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_elu", .label = "alpha 0.5 (kink at 0)", .n_in = 1, .ndim = {1}, .shape = {{6}},
     .lo = -3, .hi = 2, .band_lo = -0.1, .band_hi = 0.1, .at = {.s = 0.5}, .call = call_elu,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_softplus", .label = "beta 1, threshold 20", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -4, .hi = 4, .at = {.s = 1, .s2 = 20}, .call = call_softplus,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_softplus", .label = "beta 2, threshold 2 (linear above x = 1)", .n_in = 1,
     .ndim = {1}, .shape = {{8}}, .lo = -2, .hi = 3, .band_lo = 0.9, .band_hi = 1.1,
     .at = {.s = 2, .s2 = 2}, .call = call_softplus, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_erf", .label = "[2,3]", .n_in = 1, .ndim = {2}, .shape = {{2, 3}}, .lo = -2,
     .hi = 2, .call = call_erf, .differentiable = true, .jitter = OPC_BCAST},

    // composed
    {.op = "tg_where", .label = "tg_hardtanh(-0.5, 10) (composed)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .band_lo = -0.6, .band_hi = -0.4,
     .at = {.s = -0.5, .s2 = 10}, .call = call_hardtanh, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_erf", .label = "tg_gelu (composed)", .n_in = 1, .ndim = {2}, .shape = {{2, 3}},
     .lo = -3, .hi = 3, .call = call_gelu, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_gelu_tanh", .label = "[2,3]", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -3, .hi = 3, .call = call_gelu_tanh, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_gelu_tanh_grad", .label = "dy [3,1], x [1,4] (broadcast)", .n_in = 2,
     .ndim = {2, 2}, .shape = {{3, 1}, {1, 4}}, .lo = -3, .hi = 3, .call = call_gelu_tanh_grad,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_gelu_tanh_grad", .label = "d/dx of gelu_tanh's gradient over [2,3] "
     "(create_graph)", .n_in = 1, .ndim = {2}, .shape = {{2, 3}}, .lo = -3, .hi = 3,
     .call = call_gelu_tanh_grad_of, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_pow_scalar", .label = "tg_rsqrt (composed)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = 0.5, .hi = 3, .call = call_rsqrt, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_mul", .label = "tg_square (composed)", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -2, .hi = 2, .call = call_square, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_silu", .label = "[2,3]", .n_in = 1, .ndim = {2}, .shape = {{2, 3}}, .lo = -4,
     .hi = 4, .call = call_silu, .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_silu_grad", .label = "broadcast [3,1] x [1,4] (double backward)", .n_in = 2,
     .ndim = {2, 2}, .shape = {{3, 1}, {1, 4}}, .lo = -4, .hi = 4, .call = call_silu_grad,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_log", .label = "tg_log1p (composed), both branches", .n_in = 1, .ndim = {2},
     .shape = {{2, 3}}, .lo = -0.9, .hi = 3, .call = call_log1p, .differentiable = true, .jitter = OPC_BCAST},
};
// clang-format on

const op_case_family op_cases_activation = {"activation", rows, sizeof rows / sizeof rows[0]};

// Op cases for tg_custom (core/custom.c): a user op with a gradient rule (y = x^3 * w,
// written with ops, two inputs), and one without a rule (forward-only).
#include "tools/op_cases.h"

// y = a^3 * b (broadcasting)    da = 3 a^2 b dy, db = a^3 dy
static tg_tensor *cube_mul(tg_tape *t, tg_tensor *a, tg_tensor *b) {
    return tg_mul(t, tg_mul(t, a, tg_mul(t, a, a)), b);
}
static int cube_forward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out, void *user) {
    (void)n_in, (void)user;
    tg_tensor *y = cube_mul(t, in[0], in[1]);
    return y ? tg_copy_(out, y) : tg_last_status();
}
static int cube_backward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out,
                         tg_tensor *dout, tg_tensor **din, void *user) {
    (void)n_in, (void)out, (void)user;
    tg_tensor *a = in[0], *b = in[1];
    din[0] = tg_mul(t, dout, tg_mul_scalar(t, tg_mul(t, tg_mul(t, a, a), b), 3.0));
    din[1] = tg_mul(t, dout, tg_mul(t, a, tg_mul(t, a, a)));
    return din[0] && din[1] ? TG_OK : tg_last_status();
}
static const tg_custom_op cube_op = {"opc_cube_mul", cube_forward, cube_backward};
static const tg_custom_op cube_op_no_rule = {"opc_cube_mul_no_rule", cube_forward, NULL};

// The output shape is the broadcast of the two inputs' shapes.
static tg_tensor *call_custom(tg_tape *t, tg_tensor *const *in, const tg_custom_op *op) {
    int nd = tg_ndim(in[0]) > tg_ndim(in[1]) ? tg_ndim(in[0]) : tg_ndim(in[1]);
    int64_t shape[8];
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - tg_ndim(in[0])), ib = i - (nd - tg_ndim(in[1]));
        int64_t da = ia >= 0 ? tg_shape(in[0])[ia] : 1, db = ib >= 0 ? tg_shape(in[1])[ib] : 1;
        shape[i] = da == 1 ? db : da;
    }
    return tg_custom(t, op, 2, in, nd, shape, NULL);
}
static tg_tensor *call_cube(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return call_custom(t, in, &cube_op);
}
static tg_tensor *call_cube_no_rule(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return call_custom(t, in, &cube_op_no_rule);
}

// One row per case, fields in a fixed order (kept compact by hand).
// clang-format off
static const op_case rows[] = {
    {.op = "tg_custom", .label = "x^3 * w, same shape [2,3]", .n_in = 2, .ndim = {2, 2},
     .shape = {{2, 3}, {2, 3}}, .lo = -2, .hi = 2, .call = call_cube, .differentiable = true,
     .jitter = OPC_BCAST},
    {.op = "tg_custom", .label = "x^3 * w, broadcast [3,1] and [4] (rule's din summed back)",
     .n_in = 2, .ndim = {2, 1}, .shape = {{3, 1}, {4}}, .lo = -2, .hi = 2, .call = call_cube,
     .differentiable = true, .jitter = OPC_BCAST},
    {.op = "tg_custom", .label = "no gradient rule: forward-only", .n_in = 2, .ndim = {1, 1},
     .shape = {{3}, {3}}, .lo = -2, .hi = 2, .call = call_cube_no_rule, .jitter = OPC_BCAST},
};
// clang-format on

const op_case_family op_cases_custom = {"custom", rows, sizeof rows / sizeof rows[0]};

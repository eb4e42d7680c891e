// Elementwise ops: binary with NumPy broadcasting, scalar forms, unary math.
// Each block: math comment, infer, forward, backward (public ops), descriptor, wrapper.
#include "ops/op_table.h"

// ---- add: y = a + b    da = dy, db = dy ----

static int add_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_add");
}
static int add_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_ADD, "tg_add");
}
static int add_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    (void)tape, (void)node;
    din[0] = dout;
    din[1] = dout;
    return TG_OK;
}
const tg_op_def tg__op_add = {
    .id = TG_OP_ADD, .name = "tg_add", .arity = 2,
    .infer = add_infer, .forward = add_forward, .backward = add_backward,
    .unread = TG_UNREAD_ALL,
};
tg_tensor *tg_add(tg_tape *tape, tg_tensor *a, tg_tensor *b) {
    return tg__apply2(tape, &tg__op_add, a, b);
}

// ---- sub: y = a - b    da = dy, db = -dy ----

static int sub_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_sub");
}
static int sub_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_SUB, "tg_sub");
}
static int sub_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = dout;
    din[1] = tg__needs_grad(node, 1) ? tg_neg(tape, dout) : NULL;
    return tg__needs_grad(node, 1) && !din[1] ? tg_last_status() : TG_OK;
}
const tg_op_def tg__op_sub = {
    .id = TG_OP_SUB, .name = "tg_sub", .arity = 2,
    .infer = sub_infer, .forward = sub_forward, .backward = sub_backward,
    .unread = TG_UNREAD_ALL,
};
tg_tensor *tg_sub(tg_tape *tape, tg_tensor *a, tg_tensor *b) {
    return tg__apply2(tape, &tg__op_sub, a, b);
}

// ---- mul: y = a * b    da = dy*b, db = dy*a ----

static int mul_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_mul");
}
static int mul_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_MUL, "tg_mul");
}
static int mul_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    tg_tensor *a = node->in[0], *b = node->in[1];
    if (tg__needs_grad(node, 0) && !(din[0] = tg_mul(tape, dout, b))) return tg_last_status();
    if (tg__needs_grad(node, 1) && !(din[1] = tg_mul(tape, dout, a))) return tg_last_status();
    return TG_OK;
}
const tg_op_def tg__op_mul = {
    .id = TG_OP_MUL, .name = "tg_mul", .arity = 2,
    .infer = mul_infer, .forward = mul_forward, .backward = mul_backward,
    .unread = TG_UNREAD_OUT,
};
tg_tensor *tg_mul(tg_tape *tape, tg_tensor *a, tg_tensor *b) {
    return tg__apply2(tape, &tg__op_mul, a, b);
}

// ---- div: y = a / b    da = dy/b, db = -dy*a/b^2 = -(dy/b)*y ----

static int div_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_div");
}
static int div_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_DIV, "tg_div");
}
static int div_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    tg_tensor *g = tg_div(tape, dout, node->in[1]);
    if (tg__needs_grad(node, 0)) din[0] = g;
    if (tg__needs_grad(node, 1)) din[1] = tg_neg(tape, tg_mul(tape, g, node->out));
    if (!g || (tg__needs_grad(node, 1) && !din[1])) return tg_last_status();
    return TG_OK;
}
const tg_op_def tg__op_div = {
    .id = TG_OP_DIV, .name = "tg_div", .arity = 2,
    .infer = div_infer, .forward = div_forward, .backward = div_backward,
};
tg_tensor *tg_div(tg_tape *tape, tg_tensor *a, tg_tensor *b) {
    return tg__apply2(tape, &tg__op_div, a, b);
}

// ---- affine family: y = s0*x + s1    dx = s0*dy ----
// add/sub/rsub/mul/div by a scalar and neg share one kernel and one rule; the parameters hold
// (s0, s1) as computed by each wrapper.

static int affine_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const tg_unary_params *p = params;
    return tg__forward_unary(in, out, TG_UNARY_AFFINE, p->a, p->b, "tg_affine");
}
static int affine_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    double s0 = tg__unary_params(node)->a;
    din[0] = s0 == 1.0 ? dout : tg_mul_scalar(tape, dout, s0);
    return din[0] ? TG_OK : tg_last_status();
}

const tg_op_def tg__op_add_scalar = {
    .id = TG_OP_ADD_SCALAR, .name = "tg_add_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = affine_forward, .backward = affine_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(tg_unary_params),
};
const tg_op_def tg__op_sub_scalar = {
    .id = TG_OP_SUB_SCALAR, .name = "tg_sub_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = affine_forward, .backward = affine_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(tg_unary_params),
};
const tg_op_def tg__op_rsub_scalar = {
    .id = TG_OP_RSUB_SCALAR, .name = "tg_rsub_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = affine_forward, .backward = affine_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(tg_unary_params),
};
const tg_op_def tg__op_mul_scalar = {
    .id = TG_OP_MUL_SCALAR, .name = "tg_mul_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = affine_forward, .backward = affine_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(tg_unary_params),
};
const tg_op_def tg__op_div_scalar = {
    .id = TG_OP_DIV_SCALAR, .name = "tg_div_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = affine_forward, .backward = affine_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(tg_unary_params),
};
const tg_op_def tg__op_neg = {
    .id = TG_OP_NEG, .name = "tg_neg", .arity = 1,
    .infer = tg__infer_same, .forward = affine_forward, .backward = affine_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(tg_unary_params),
};

tg_tensor *tg_add_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return tg__apply1(tape, &tg__op_add_scalar, x, 1.0, s);
}
tg_tensor *tg_sub_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return tg__apply1(tape, &tg__op_sub_scalar, x, 1.0, -s);
}
tg_tensor *tg_rsub_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return tg__apply1(tape, &tg__op_rsub_scalar, x, -1.0, s);
}
tg_tensor *tg_mul_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return tg__apply1(tape, &tg__op_mul_scalar, x, s, 0.0);
}
tg_tensor *tg_div_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return tg__apply1(tape, &tg__op_div_scalar, x, 1.0 / s, 0.0);
}
tg_tensor *tg_neg(tg_tape *tape, tg_tensor *x) {
    return tg__apply1(tape, &tg__op_neg, x, -1.0, 0.0);
}

// ---- rdiv: y = s / x    dx = -dy*s/x^2 = -dy*y/x ----

static int rdiv_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const tg_unary_params *p = params;
    return tg__forward_unary(in, out, TG_UNARY_RDIV, p->a, 0, "tg_rdiv_scalar");
}
static int rdiv_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_neg(tape, tg_mul(tape, dout, tg_div(tape, node->out, node->in[0])));
    return din[0] ? TG_OK : tg_last_status();
}
const tg_op_def tg__op_rdiv_scalar = {
    .id = TG_OP_RDIV_SCALAR, .name = "tg_rdiv_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = rdiv_forward, .backward = rdiv_backward,
};
tg_tensor *tg_rdiv_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return tg__apply1(tape, &tg__op_rdiv_scalar, x, s, 0.0);
}

// ---- pow: y = x^p    dx = dy * p * x^(p-1) ----

static int pow_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const tg_unary_params *p = params;
    return tg__forward_unary(in, out, TG_UNARY_POW, p->a, 0, "tg_pow_scalar");
}
static int pow_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    double p = tg__unary_params(node)->a;
    if (p == 0.0) return TG_OK;   // constant: no contribution
    tg_tensor *x = node->in[0];
    tg_tensor *dx = p == 1.0 ? x : tg_mul_scalar(tape, tg_pow_scalar(tape, x, p - 1.0), p);
    din[0] = p == 1.0 ? dout : tg_mul(tape, dout, dx);
    return din[0] ? TG_OK : tg_last_status();
}
const tg_op_def tg__op_pow_scalar = {
    .id = TG_OP_POW_SCALAR, .name = "tg_pow_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = pow_forward, .backward = pow_backward,
    .unread = TG_UNREAD_OUT, .params_size = sizeof(tg_unary_params),
};
tg_tensor *tg_pow_scalar(tg_tape *tape, tg_tensor *x, double p) {
    return tg__apply1(tape, &tg__op_pow_scalar, x, p, 0.0);
}

// ---- exp: y = exp(x)    dx = dy*y ----

static int exp_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_unary(in, out, TG_UNARY_EXP, 0, 0, "tg_exp");
}
static int exp_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_mul(tape, dout, node->out);
    return din[0] ? TG_OK : tg_last_status();
}
const tg_op_def tg__op_exp = {
    .id = TG_OP_EXP, .name = "tg_exp", .arity = 1,
    .infer = tg__infer_same, .forward = exp_forward, .backward = exp_backward,
    .unread = TG_UNREAD_IN(0),
};
tg_tensor *tg_exp(tg_tape *tape, tg_tensor *x) { return tg__apply1(tape, &tg__op_exp, x, 0, 0); }

// ---- log: y = log(x)    dx = dy/x ----

static int log_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_unary(in, out, TG_UNARY_LOG, 0, 0, "tg_log");
}
static int log_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_div(tape, dout, node->in[0]);
    return din[0] ? TG_OK : tg_last_status();
}
const tg_op_def tg__op_log = {
    .id = TG_OP_LOG, .name = "tg_log", .arity = 1,
    .infer = tg__infer_same, .forward = log_forward, .backward = log_backward,
    .unread = TG_UNREAD_OUT,
};
tg_tensor *tg_log(tg_tape *tape, tg_tensor *x) { return tg__apply1(tape, &tg__op_log, x, 0, 0); }

// ---- sqrt: y = sqrt(x)    dx = dy/(2y) ----

static int sqrt_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_unary(in, out, TG_UNARY_SQRT, 0, 0, "tg_sqrt");
}
static int sqrt_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_div(tape, tg_mul_scalar(tape, dout, 0.5), node->out);
    return din[0] ? TG_OK : tg_last_status();
}
const tg_op_def tg__op_sqrt = {
    .id = TG_OP_SQRT, .name = "tg_sqrt", .arity = 1,
    .infer = tg__infer_same, .forward = sqrt_forward, .backward = sqrt_backward,
    .unread = TG_UNREAD_IN(0),
};
tg_tensor *tg_sqrt(tg_tape *tape, tg_tensor *x) { return tg__apply1(tape, &tg__op_sqrt, x, 0, 0); }

// ---- relu: y = max(x, 0)    dx = dy*(x>0) ----

static int relu_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_unary(in, out, TG_UNARY_RELU, 0, 0, "tg_relu");
}
static int relu_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_relu_grad(tape, dout, node->in[0]);
    return din[0] ? TG_OK : tg_last_status();
}
const tg_op_def tg__op_relu = {
    .id = TG_OP_RELU, .name = "tg_relu", .arity = 1,
    .infer = tg__infer_same, .forward = relu_forward, .backward = relu_backward,
    .unread = TG_UNREAD_OUT,
};
tg_tensor *tg_relu(tg_tape *tape, tg_tensor *x) { return tg__apply1(tape, &tg__op_relu, x, 0, 0); }

// ---- sigmoid: y = 1/(1+exp(-x))    dx = dy*y*(1-y) ----

static int sigmoid_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_unary(in, out, TG_UNARY_SIGMOID, 0, 0, "tg_sigmoid");
}
static int sigmoid_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                            tg_tensor **din) {
    din[0] = tg_sigmoid_grad(tape, dout, node->out);
    return din[0] ? TG_OK : tg_last_status();
}
const tg_op_def tg__op_sigmoid = {
    .id = TG_OP_SIGMOID, .name = "tg_sigmoid", .arity = 1,
    .infer = tg__infer_same, .forward = sigmoid_forward, .backward = sigmoid_backward,
    .unread = TG_UNREAD_IN(0),
};
tg_tensor *tg_sigmoid(tg_tape *tape, tg_tensor *x) {
    return tg__apply1(tape, &tg__op_sigmoid, x, 0, 0);
}

// ---- tanh: y = tanh(x)    dx = dy*(1-y^2) ----

static int tanh_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_unary(in, out, TG_UNARY_TANH, 0, 0, "tg_tanh");
}
static int tanh_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    din[0] = tg_tanh_grad(tape, dout, node->out);
    return din[0] ? TG_OK : tg_last_status();
}
const tg_op_def tg__op_tanh = {
    .id = TG_OP_TANH, .name = "tg_tanh", .arity = 1,
    .infer = tg__infer_same, .forward = tanh_forward, .backward = tanh_backward,
    .unread = TG_UNREAD_IN(0),
};
tg_tensor *tg_tanh(tg_tape *tape, tg_tensor *x) { return tg__apply1(tape, &tg__op_tanh, x, 0, 0); }

// ---- gt_scalar: y = (x > s)    no gradient (a mask) ----

static int gt_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const tg_unary_params *p = params;
    return tg__forward_unary(in, out, TG_UNARY_GT, p->a, 0, "tg_gt_scalar");
}
const tg_op_def tg__op_gt_scalar = {
    .id = TG_OP_GT_SCALAR, .name = "tg_gt_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = gt_forward,
};
tg_tensor *tg_gt_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return tg__apply1(tape, &tg__op_gt_scalar, x, s, 0);
}

// ---- relu_grad: y = x > 0 ? dy : 0 (relu's rule as one pass)
//      d(dy) = relu_grad(g, x), dx = 0 (piecewise constant in x) ----

static int relu_grad_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_relu_grad");
}
static int relu_grad_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_RELU_GRAD, "tg_relu_grad");
}
static int relu_grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                              tg_tensor **din) {
    if (tg__needs_grad(node, 0) && !(din[0] = tg_relu_grad(tape, dout, node->in[1])))
        return tg_last_status();
    return TG_OK;
}
const tg_op_def tg__op_relu_grad = {
    .id = TG_OP_RELU_GRAD, .name = "tg_relu_grad", .arity = 2,
    .infer = relu_grad_infer, .forward = relu_grad_forward, .backward = relu_grad_backward,
};
tg_tensor *tg_relu_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x) {
    return tg__apply2(tape, &tg__op_relu_grad, dy, x);
}

// ---- tanh_grad: z = dy*(1-y^2), sigmoid_grad: z = dy*y*(1-y) (the rules of tanh and
//      sigmoid as one pass, y = their output; torch's tanh_backward / sigmoid_backward)
//      tanh_grad:    d(dy) = tanh_grad(g, y),    dy' = -2*g*dy*y
//      sigmoid_grad: d(dy) = sigmoid_grad(g, y), dy' = g*dy*(1-2y) ----

static int tanh_grad_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_tanh_grad");
}
static int tanh_grad_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_TANH_GRAD, "tg_tanh_grad");
}
static int tanh_grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                              tg_tensor **din) {
    tg_tensor *dy = node->in[0], *y = node->in[1];
    if (tg__needs_grad(node, 0) && !(din[0] = tg_tanh_grad(tape, dout, y))) return tg_last_status();
    if (tg__needs_grad(node, 1) &&
        !(din[1] = tg_mul_scalar(tape, tg_mul(tape, tg_mul(tape, dout, dy), y), -2.0)))
        return tg_last_status();
    return TG_OK;
}
const tg_op_def tg__op_tanh_grad = {
    .id = TG_OP_TANH_GRAD, .name = "tg_tanh_grad", .arity = 2,
    .infer = tanh_grad_infer, .forward = tanh_grad_forward, .backward = tanh_grad_backward,
};
tg_tensor *tg_tanh_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *y) {
    return tg__apply2(tape, &tg__op_tanh_grad, dy, y);
}

static int sigmoid_grad_infer(tg_tensor *const *in, int n, const void *params, int *nd,
                              int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_sigmoid_grad");
}
static int sigmoid_grad_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_SIGMOID_GRAD, "tg_sigmoid_grad");
}
static int sigmoid_grad_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                                 tg_tensor **din) {
    tg_tensor *dy = node->in[0], *y = node->in[1];
    if (tg__needs_grad(node, 0) && !(din[0] = tg_sigmoid_grad(tape, dout, y)))
        return tg_last_status();
    if (tg__needs_grad(node, 1) &&
        !(din[1] = tg_mul(tape, tg_mul(tape, dout, dy), tg_rsub_scalar(tape, tg_mul_scalar(tape, y, 2.0), 1.0))))
        return tg_last_status();
    return TG_OK;
}
const tg_op_def tg__op_sigmoid_grad = {
    .id = TG_OP_SIGMOID_GRAD, .name = "tg_sigmoid_grad", .arity = 2,
    .infer = sigmoid_grad_infer, .forward = sigmoid_grad_forward, .backward = sigmoid_grad_backward,
};
tg_tensor *tg_sigmoid_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *y) {
    return tg__apply2(tape, &tg__op_sigmoid_grad, dy, y);
}

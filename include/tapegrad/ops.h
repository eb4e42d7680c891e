// Differentiable ops. Every op:
//  - takes the tape first, and returns a step tensor owned by that tape;
//  - returns NULL + tg_last_error() on bad input (message names the op, the shapes and
//    the reason); given a NULL input it returns NULL and keeps the first error;
//  - needs inputs of one dtype and one backend (no implicit promotion);
//  - is recorded on the tape only when grad mode is on and an input requires grad.
// Binary tensor ops broadcast like NumPy; the gradient to a broadcast input is summed
// back to its shape.
#pragma once

#include "tapegrad/defs.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- elementwise, binary (broadcasting) ----

// y = a + b        da = dy, db = dy
TG_API tg_tensor *tg_add(tg_tape *tape, tg_tensor *a, tg_tensor *b);
// y = a - b        da = dy, db = -dy
TG_API tg_tensor *tg_sub(tg_tape *tape, tg_tensor *a, tg_tensor *b);
// y = a * b        da = dy*b, db = dy*a
TG_API tg_tensor *tg_mul(tg_tape *tape, tg_tensor *a, tg_tensor *b);
// y = a / b        da = dy/b, db = -dy*a/b^2
TG_API tg_tensor *tg_div(tg_tape *tape, tg_tensor *a, tg_tensor *b);

// ---- elementwise with a scalar ----

// y = x + s
TG_API tg_tensor *tg_add_scalar(tg_tape *tape, tg_tensor *x, double s);
// y = x - s
TG_API tg_tensor *tg_sub_scalar(tg_tape *tape, tg_tensor *x, double s);
// y = s - x
TG_API tg_tensor *tg_rsub_scalar(tg_tape *tape, tg_tensor *x, double s);
// y = x * s
TG_API tg_tensor *tg_mul_scalar(tg_tape *tape, tg_tensor *x, double s);
// y = x / s        (s == 0 gives inf/nan like IEEE division)
TG_API tg_tensor *tg_div_scalar(tg_tape *tape, tg_tensor *x, double s);
// y = s / x
TG_API tg_tensor *tg_rdiv_scalar(tg_tape *tape, tg_tensor *x, double s);
// y = x^p          dx = dy * p * x^(p-1)
TG_API tg_tensor *tg_pow_scalar(tg_tape *tape, tg_tensor *x, double p);

// ---- elementwise, unary ----

// y = -x
TG_API tg_tensor *tg_neg(tg_tape *tape, tg_tensor *x);
// y = exp(x)       dx = dy*y
TG_API tg_tensor *tg_exp(tg_tape *tape, tg_tensor *x);
// y = log(x)       dx = dy/x
TG_API tg_tensor *tg_log(tg_tape *tape, tg_tensor *x);
// y = sqrt(x)      dx = dy/(2y)
TG_API tg_tensor *tg_sqrt(tg_tape *tape, tg_tensor *x);
// y = max(x, 0)    dx = dy*(x>0)   (subgradient 0 at 0, as PyTorch)
TG_API tg_tensor *tg_relu(tg_tape *tape, tg_tensor *x);
// y = 1/(1+exp(-x))  dx = dy*y*(1-y)
TG_API tg_tensor *tg_sigmoid(tg_tape *tape, tg_tensor *x);
// y = tanh(x)      dx = dy*(1-y^2)
TG_API tg_tensor *tg_tanh(tg_tape *tape, tg_tensor *x);
// y = (x > s) ? 1 : 0, same dtype as x. A mask: no gradient flows through it.
TG_API tg_tensor *tg_gt_scalar(tg_tape *tape, tg_tensor *x, double s);

// ---- reductions ----

// y = sum of all elements, shape []
TG_API tg_tensor *tg_sum(tg_tape *tape, tg_tensor *x);
// y = sum over the given axes (negative axes count from the end). keepdim keeps them as 1.
TG_API tg_tensor *tg_sum_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                              bool keepdim);
// y = mean of all elements, shape []
TG_API tg_tensor *tg_mean(tg_tape *tape, tg_tensor *x);
// y = mean over the given axes.
TG_API tg_tensor *tg_mean_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                               bool keepdim);

// ---- linear algebra ----

// y = a @ b for 2-D a [M,K] and b [K,N] -> [M,N].
TG_API tg_tensor *tg_matmul(tg_tape *tape, tg_tensor *a, tg_tensor *b);
// y = op(a) @ op(b) where op transposes when the flag is set (no copy is made).
// da = dy @ op(b)^T (transposed back if trans_a), db = op(a)^T @ dy (likewise).
TG_API tg_tensor *tg_matmul_ex(tg_tape *tape, tg_tensor *a, tg_tensor *b, bool trans_a,
                               bool trans_b);

// ---- shape ----

// Same elements, new shape (one entry may be -1: inferred). No copy.
TG_API tg_tensor *tg_reshape(tg_tape *tape, tg_tensor *x, int ndim, const int64_t *shape);
// Swaps two axes (negative axes count from the end); the result is contiguous.
TG_API tg_tensor *tg_transpose(tg_tape *tape, tg_tensor *x, int dim0, int dim1);
// Broadcasts x to `shape` (NumPy rules), copying. dx = dy summed back to x's shape.
TG_API tg_tensor *tg_expand(tg_tape *tape, tg_tensor *x, int ndim, const int64_t *shape);
// The same values as a new graph leaf: no gradient flows back through it.
TG_API tg_tensor *tg_detach(tg_tape *tape, tg_tensor *x);

#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
extern "C" {
#endif

// ---- introspection ----

// Number of op ids (ids run 1 .. tg_op_count()-1).
TG_API int tg_op_count(void);
// Public name of op `id` ("tg_add"), NULL for an unknown id.
TG_API const char *tg_op_name(int id);

#ifdef __cplusplus
}
#endif

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

// ---- elementwise math and activations ----

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
// y = x > 0 ? dy : 0   (relu's gradient rule in one pass; differentiable in dy)
TG_API tg_tensor *tg_relu_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x);
// tanh's and sigmoid's gradient rules as one op each, from their output y (torch's
// tanh_backward / sigmoid_backward): dy*(1-y^2) and dy*y*(1-y), broadcasting; both are
// differentiable in dy and y (double backward through tanh and sigmoid).
TG_API tg_tensor *tg_tanh_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *y);
TG_API tg_tensor *tg_sigmoid_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *y);
// y = 1/(1+exp(-x))  dx = dy*y*(1-y)
TG_API tg_tensor *tg_sigmoid(tg_tape *tape, tg_tensor *x);
// y = tanh(x)      dx = dy*(1-y^2)
TG_API tg_tensor *tg_tanh(tg_tape *tape, tg_tensor *x);
// y = (x > s) ? 1 : 0, same dtype as x. A mask: no gradient flows through it.
TG_API tg_tensor *tg_gt_scalar(tg_tape *tape, tg_tensor *x, double s);
// y = |x|          dx = dy*sign(x)   (0 at 0, as PyTorch)
TG_API tg_tensor *tg_abs(tg_tape *tape, tg_tensor *x);
// y = sign(x) in {-1, 0, 1}; gradient 0
TG_API tg_tensor *tg_sign(tg_tape *tape, tg_tensor *x);
// y = min(max(x, lo), hi)    dx = dy*(lo <= x <= hi)
TG_API tg_tensor *tg_clamp(tg_tape *tape, tg_tensor *x, double lo, double hi);
// y = x > 0 ? x : slope*x
TG_API tg_tensor *tg_leaky_relu(tg_tape *tape, tg_tensor *x, double slope);
// y = x > 0 ? x : alpha*(exp(x)-1)
TG_API tg_tensor *tg_elu(tg_tape *tape, tg_tensor *x, double alpha);
// y = min(max(x, lo), hi) with PyTorch's hardtanh gradient dx = dy*(lo < x < hi)
TG_API tg_tensor *tg_hardtanh(tg_tape *tape, tg_tensor *x, double lo, double hi);
// y = log(1+exp(beta*x))/beta, and y = x where beta*x > threshold (torch defaults 1, 20)
TG_API tg_tensor *tg_softplus(tg_tape *tape, tg_tensor *x, double beta, double threshold);
// y = erf(x)       dx = dy*2/sqrt(pi)*exp(-x^2)
TG_API tg_tensor *tg_erf(tg_tape *tape, tg_tensor *x);
// y = x*Phi(x) = 0.5*x*(1+erf(x/sqrt(2)))   (torch gelu, approximate='none')
TG_API tg_tensor *tg_gelu(tg_tape *tape, tg_tensor *x);
// y = 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))   (torch gelu, approximate='tanh'; GPT-2's)
// One op (one pass); its rule is tg_gelu_tanh_grad.
TG_API tg_tensor *tg_gelu_tanh(tg_tape *tape, tg_tensor *x);
// dy * d gelu_tanh(x)/dx in one pass (torch's gelu_backward, approximate='tanh'),
// broadcasting; differentiable in dy and x (double backward through gelu_tanh).
TG_API tg_tensor *tg_gelu_tanh_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x);
// y = x * sigmoid(x) (SiLU, "swish"), elementwise.
TG_API tg_tensor *tg_silu(tg_tape *tape, tg_tensor *x);
// dy * d silu(x)/dx in one pass (torch's silu_backward), broadcasting; differentiable in dy
// and x (double backward through silu).
TG_API tg_tensor *tg_silu_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x);
// y = 1/sqrt(x)
TG_API tg_tensor *tg_rsqrt(tg_tape *tape, tg_tensor *x);
// y = x*x
TG_API tg_tensor *tg_square(tg_tape *tape, tg_tensor *x);
// y = log(1 + x), precise for tiny |x| (composed from ops); NaN below -1, -inf at -1.
TG_API tg_tensor *tg_log1p(tg_tape *tape, tg_tensor *x);
// y = max(a, b) elementwise (broadcasting); ties split the gradient half/half (PyTorch)
TG_API tg_tensor *tg_maximum(tg_tape *tape, tg_tensor *a, tg_tensor *b);
// y = min(a, b) elementwise (broadcasting); ties split the gradient half/half
TG_API tg_tensor *tg_minimum(tg_tape *tape, tg_tensor *a, tg_tensor *b);
// y = cond != 0 ? a : b (all three broadcast); no gradient to cond
TG_API tg_tensor *tg_where(tg_tape *tape, tg_tensor *cond, tg_tensor *a, tg_tensor *b);

// ---- comparisons: masks of 1/0 in the inputs' dtype, no gradient ----

TG_API tg_tensor *tg_gt(tg_tape *tape, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_lt(tg_tape *tape, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_ge(tg_tape *tape, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_le(tg_tape *tape, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_eq(tg_tape *tape, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_ne(tg_tape *tape, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_lt_scalar(tg_tape *tape, tg_tensor *x, double s);
TG_API tg_tensor *tg_ge_scalar(tg_tape *tape, tg_tensor *x, double s);
TG_API tg_tensor *tg_le_scalar(tg_tape *tape, tg_tensor *x, double s);
TG_API tg_tensor *tg_eq_scalar(tg_tape *tape, tg_tensor *x, double s);
TG_API tg_tensor *tg_ne_scalar(tg_tape *tape, tg_tensor *x, double s);

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
// y = max over axes; the gradient is shared evenly among tied maxima (torch.amax)
TG_API tg_tensor *tg_max_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                              bool keepdim);
TG_API tg_tensor *tg_min_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                              bool keepdim);
// max / min of all elements, shape []
TG_API tg_tensor *tg_max(tg_tape *tape, tg_tensor *x);
TG_API tg_tensor *tg_min(tg_tape *tape, tg_tensor *x);
// Index of the first maximum / minimum along `axis`, as integral values in x's dtype.
TG_API tg_tensor *tg_argmax(tg_tape *tape, tg_tensor *x, int axis, bool keepdim);
TG_API tg_tensor *tg_argmin(tg_tape *tape, tg_tensor *x, int axis, bool keepdim);
// Variance over axes with `correction` (1 = unbiased, torch's default; 0 = population).
// N - correction <= 0 divides by zero, as torch: inf, or NaN for one value unbiased.
TG_API tg_tensor *tg_var(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                         int correction, bool keepdim);
// sqrt(tg_var(...)); its gradient is 0 where the result is 0 (torch's rule), not NaN
TG_API tg_tensor *tg_std(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                         int correction, bool keepdim);
// y = log(sum(exp(x))) over axes, computed stably (shifted by the max)
TG_API tg_tensor *tg_logsumexp(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                               bool keepdim);

// ---- linear algebra ----

// y = a @ b for 2-D a [M,K] and b [K,N] -> [M,N].
TG_API tg_tensor *tg_matmul(tg_tape *tape, tg_tensor *a, tg_tensor *b);
// y = op(a) @ op(b) where op transposes when the flag is set (no copy is made).
// da = dy @ op(b)^T (transposed back if trans_a), db = op(a)^T @ dy (likewise).
TG_API tg_tensor *tg_matmul_ex(tg_tape *tape, tg_tensor *a, tg_tensor *b, bool trans_a,
                               bool trans_b);
// y = bias + op(a) @ op(b) for 2-D a, b (torch.addmm); bias broadcasts to [M,N]
// (typically [N]: a linear layer in one gemm). dbias = dy summed to bias's shape.
TG_API tg_tensor *tg_addmm(tg_tape *tape, tg_tensor *bias, tg_tensor *a, tg_tensor *b,
                           bool trans_a, bool trans_b);
// relu(bias + op(a) @ op(b)) as one op (torch's _addmm_activation): on the cpu backend the
// bias and the ReLU are applied in the gemm's store, so the pre-activation never goes to
// memory; the value equals tg_relu(tg_addmm(...)) exactly. Backward: dz = dy * (y > 0), then
// as tg_addmm. Same arguments and errors as tg_addmm. tg_sequential uses it for a Linear
// followed by a ReLU.
TG_API tg_tensor *tg_addmm_relu(tg_tape *tape, tg_tensor *bias, tg_tensor *a, tg_tensor *b,
                                bool trans_a, bool trans_b);
// torch.matmul for >= 2-D inputs: [..., M, K] @ [..., K, N] with broadcast batch dims.
// (tg_matmul / tg_matmul_ex accept these shapes as well.)
TG_API tg_tensor *tg_bmm(tg_tape *tape, tg_tensor *a, tg_tensor *b);

// ---- shape, slicing and indexing ----

// Same elements, new shape (one entry may be -1: inferred). No copy.
TG_API tg_tensor *tg_reshape(tg_tape *tape, tg_tensor *x, int ndim, const int64_t *shape);
// Swaps two axes (negative axes count from the end); the result is contiguous.
TG_API tg_tensor *tg_transpose(tg_tape *tape, tg_tensor *x, int dim0, int dim1);
// Broadcasts x to `shape` (NumPy rules), copying. dx = dy summed back to x's shape.
TG_API tg_tensor *tg_expand(tg_tape *tape, tg_tensor *x, int ndim, const int64_t *shape);
// The same values as a new graph leaf: no gradient flows back through it.
TG_API tg_tensor *tg_detach(tg_tape *tape, tg_tensor *x);
// Reorders axes: y.shape[i] = x.shape[perm[i]] (a contiguous copy).
TG_API tg_tensor *tg_permute(tg_tape *tape, tg_tensor *x, const int *perm);
// Python's x[start:stop:step] along one axis (negative start/stop count from the end;
// step > 0). dx = dy placed back into zeros.
TG_API tg_tensor *tg_slice(tg_tape *tape, tg_tensor *x, int axis, int64_t start, int64_t stop,
                           int64_t step);
// y = base with y[start:stop:step] along axis replaced by src (torch.slice_scatter).
TG_API tg_tensor *tg_slice_scatter(tg_tape *tape, tg_tensor *base, tg_tensor *src, int axis,
                                   int64_t start, int64_t stop, int64_t step);
// Joins tensors of equal shape except along `axis`.
TG_API tg_tensor *tg_concat(tg_tape *tape, int n, tg_tensor *const *xs, int axis);
// Joins equal-shaped tensors along a new axis.
TG_API tg_tensor *tg_stack(tg_tape *tape, int n, tg_tensor *const *xs, int axis);
// tg_squeeze's axis that removes every size-1 axis.
#define TG_SQUEEZE_ALL (-100)
// Removes axis `axis` (size 1), or every size-1 axis when axis is TG_SQUEEZE_ALL.
TG_API tg_tensor *tg_squeeze(tg_tape *tape, tg_tensor *x, int axis);
// Inserts a size-1 axis at `axis`.
TG_API tg_tensor *tg_unsqueeze(tg_tape *tape, tg_tensor *x, int axis);
// Flattens axes [start, end] into one.
TG_API tg_tensor *tg_flatten(tg_tape *tape, tg_tensor *x, int start, int end);
// torch.gather: y[i][j] = x[i][index[i][j]] along `axis` (index holds integral values in
// x's dtype, same ndim as x). dx = scatter_add of dy.
TG_API tg_tensor *tg_gather(tg_tape *tape, tg_tensor *x, int axis, tg_tensor *index);
// y = base with y[..index..] += src along `axis` (torch.scatter_add).
TG_API tg_tensor *tg_scatter_add(tg_tape *tape, tg_tensor *base, int axis, tg_tensor *index,
                                 tg_tensor *src);
// Rows (or slices along axis) of x picked by a 1-D index.
TG_API tg_tensor *tg_index_select(tg_tape *tape, tg_tensor *x, int axis, tg_tensor *index);
// labels [...] of integral values in [0, n_classes) -> [..., n_classes] of 0/1.
TG_API tg_tensor *tg_one_hot(tg_tape *tape, tg_tensor *labels, int64_t n_classes);
// [start, start+step, ...] with n values, as a step tensor (no gradient).
TG_API tg_tensor *tg_arange(tg_tape *tape, tg_backend *backend, tg_dtype dtype, int64_t n,
                            double start, double step);
// A step tensor of `shape` filled with `value` (no gradient).
TG_API tg_tensor *tg_full(tg_tape *tape, tg_backend *backend, tg_dtype dtype, int ndim,
                          const int64_t *shape, double value);

// ---- nn ops ----

// softmax along `axis`, stable for large logits (-inf entries give 0; a +inf entry makes its
// row NaN, as torch's). Over the last axis one fused op (one tape node). Step tensor; NULL +
// error on a bad axis or input.
TG_API tg_tensor *tg_softmax(tg_tape *tape, tg_tensor *x, int axis);
// log_softmax along `axis` = x - logsumexp(x, axis); fused over the last axis, as tg_softmax.
TG_API tg_tensor *tg_log_softmax(tg_tape *tape, tg_tensor *x, int axis);
// Their gradient rules over the last axis as one op each (one pass per row; torch's
// _softmax_backward_data / _log_softmax_backward_data), from the output y and the incoming
// gradient dy of the same shape (at least 1-D): y * (dy - sum(dy*y, -1)) and
// dy - exp(y) * sum(dy, -1). Differentiable in dy and y (double backward through softmax).
TG_API tg_tensor *tg_softmax_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *y);
TG_API tg_tensor *tg_log_softmax_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *y);
// Inverted dropout: zeroes elements with probability p (mask from rng), scales the rest
// by 1/(1-p). Identity when !training or p == 0.
TG_API tg_tensor *tg_dropout(tg_tape *tape, tg_tensor *x, double p, tg_rng *rng, bool training);

// Layer normalisation over the last axis (torch.nn.functional.layer_norm with
// normalized_shape = the last dim): y = (x - mean) / sqrt(var + eps) * w + b, var biased.
// w and b are [C] (C = x's last dim) or NULL (no affine; a NULL argument while an error is
// pending fails instead, NULL propagation). One fused op, one pass per row; its rule is
// tg_layer_norm_grad, itself differentiable. eps must be finite and >= 0.
TG_API tg_tensor *tg_layer_norm(tg_tape *tape, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                                double eps);
// Layer norm's gradient to x as one op (torch's native_layer_norm_backward, the x part):
// dx = r * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w (w may be NULL), xhat and r
// = 1/sqrt(var + eps) recomputed from x; dy and x of one shape. Differentiable in dy, x, w.
TG_API tg_tensor *tg_layer_norm_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                                     double eps);

// Batch normalisation in training mode (torch.nn.functional.batch_norm, training=True):
// x [N, C, ...] (at least 2-D) normalised by channel with the batch's statistics over N
// and the trailing dims (biased variance): y = (x - mean) / sqrt(var + eps) * w + b, w and
// b [C] or NULL (NULL propagation as in tg_layer_norm). running_mean and running_var ([C],
// x's dtype and backend, or NULL) are updated in place and not recorded, as torch does:
// r = (1 - momentum) * r + momentum * batch value, the variance unbiased. momentum in
// [0, 1]; eps finite and > 0. One fused op (a statistics pass and an output pass per
// channel) whose rule is tg_batch_norm_grad plus a fused [dw; db] op, all differentiable;
// composed from elementwise ops and reductions on backends without the kernel.
TG_API tg_tensor *tg_batch_norm(tg_tape *tape, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                                tg_tensor *running_mean, tg_tensor *running_var,
                                double momentum, double eps);
// Batch norm's gradient to x as one op: dx = r * (g - cmean(g) - xhat * cmean(g * xhat)),
// g = dy * w (w [C] or NULL), cmean over every axis but 1, xhat and r recomputed from x;
// dy and x of one shape. Differentiable in dy, x and w.
TG_API tg_tensor *tg_batch_norm_grad(tg_tape *tape, tg_tensor *dy, tg_tensor *x, tg_tensor *w,
                                     double eps);

// Scaled dot-product attention options; NULL or all zero: no mask, no dropout,
// scale 1/sqrt(head_dim).
typedef struct tg_attention_opts {
    bool causal;        // query i sees keys 0..i only (GPT's mask)
    double dropout_p;   // drop probability on the attention weights, in [0, 1]
    bool training;      // dropout applies only in training
    tg_rng *rng;        // draws the mask's seed (needed when dropout applies; borrowed)
    double scale;       // 0: 1/sqrt(head_dim)
} tg_attention_opts;

// softmax(scale * q k^T + mask) v for q, k, v [B, H, T, D] -> [B, H, T, D]
// (torch.nn.functional.scaled_dot_product_attention). One fused op with a fused gradient op
// (q, k, v are stacked into one [3, B, H, T, D] tensor first); on the cpu the kernel keeps no
// [T, T] matrix: it recomputes score blocks in the backward pass (FlashAttention's scheme).
// Dropout masks come from a counter-based hash of a seed drawn from opts->rng, so the backward
// pass (and a cuda run with the same rng state) regenerates the same mask.
TG_API tg_tensor *tg_attention(tg_tape *tape, tg_tensor *q, tg_tensor *k, tg_tensor *v,
                               const tg_attention_opts *opts);
// The same over a fused projection's output: qkv [B, T, 3*C] holding q | k | v on the last
// axis, each [B, T, H, D] with C = H*D (nanoGPT's c_attn output, split and viewed per head)
// -> [B, T, C], the heads side by side (ready for the output projection). No permute copies.
TG_API tg_tensor *tg_attention_qkv(tg_tape *tape, tg_tensor *qkv, int n_heads,
                                   const tg_attention_opts *opts);

// Convolution and pooling options (NCHW). Zero values mean stride 1, padding 0, dilation 1.
typedef struct tg_conv_opts {
    int stride[2], padding[2], dilation[2];
} tg_conv_opts;

// x [N,C,H,W] * weight [O,C,KH,KW] (+ bias [O], may be NULL) -> [N,O,OH,OW]; groups = 1.
// Stride 1 on the cpu backend: a direct convolution (each image padded once, no window
// matrix), and for 3x3 windows without dilation and 16 or more channels in and out, y, dx
// and dw by Winograd's F(2x2, 3x3) (2.25x fewer multiplications). Its rounding differs from
// the direct sum's: y and dx by a few units in the last place of the inputs' scale, dw by an
// amount that grows with the n*OH*OW products it sums; an output that comes out infinite or
// NaN is computed again directly, so the direct sum decides those. Otherwise im2col by
// blocks of images + batched gemm. Its gradient ops differentiate again (any order). On the
// cpu backend, direct convolution needs per-thread scratch of about one padded image
// (Winograd: a few hundred KB): without it, TG_ERR_OOM.
TG_API tg_tensor *tg_conv2d(tg_tape *tape, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                            const tg_conv_opts *opts);
// Max over KHxKW windows (padding counts as -inf). opts NULL: stride = kernel size. Each
// window's gradient goes to its first maximum (row-major); a NaN in a window wins, as in
// torch. One pass each way on backends with a max_pool kernel (im2col + argmax + gather
// elsewhere).
TG_API tg_tensor *tg_max_pool2d(tg_tape *tape, tg_tensor *x, int kh, int kw,
                                const tg_conv_opts *opts);
// max_pool2d's gradient rule as one op: dx [N,C,H,W] with dy [N,C,OH,OW] added at each
// window's winner in x (zero elsewhere); differentiable in dy (x only chooses).
TG_API tg_tensor *tg_max_pool2d_grad(tg_tape *tape, tg_tensor *x, tg_tensor *dy, int kh, int kw,
                                     const tg_conv_opts *opts);
// Mean over KHxKW windows (zero padding counted, torch's count_include_pad=True).
TG_API tg_tensor *tg_avg_pool2d(tg_tape *tape, tg_tensor *x, int kh, int kw,
                                const tg_conv_opts *opts);
// cols [N, C*KH*KW, OH*OW] of the windows of x [N,C,H,W] (the op conv2d is built from).
TG_API tg_tensor *tg_im2col(tg_tape *tape, tg_tensor *x, int kh, int kw,
                            const tg_conv_opts *opts);
// The adjoint of tg_im2col: sums windows back into an image of size [N,C,H,W].
TG_API tg_tensor *tg_col2im(tg_tape *tape, tg_tensor *cols, int64_t c, int64_t h, int64_t w,
                            int kh, int kw, const tg_conv_opts *opts);

// ---- losses ----

typedef enum tg_reduction {
    TG_REDUCE_MEAN = 0,
    TG_REDUCE_SUM_ALL = 1,
    TG_REDUCE_NONE = 2
} tg_reduction;

// mean((pred - target)^2)
TG_API tg_tensor *tg_mse_loss(tg_tape *tape, tg_tensor *pred, tg_tensor *target,
                              tg_reduction reduction);
// mean(|pred - target|)
TG_API tg_tensor *tg_l1_loss(tg_tape *tape, tg_tensor *pred, tg_tensor *target,
                             tg_reduction reduction);
// 0.5 d^2 where |d| < delta, else delta*(|d| - 0.5 delta)
TG_API tg_tensor *tg_huber_loss(tg_tape *tape, tg_tensor *pred, tg_tensor *target, double delta,
                                tg_reduction reduction);
// -(y log p + (1-y) log(1-p)), logs clamped at -100 as PyTorch does
TG_API tg_tensor *tg_bce_loss(tg_tape *tape, tg_tensor *p, tg_tensor *target,
                              tg_reduction reduction);
// The same on logits, stable: y*softplus(-x) + (1-y)*softplus(x) (= softplus(x) - x*y, with
// no cancellation for y in [0, 1]: tiny losses of confident right answers stay exact)
TG_API tg_tensor *tg_bce_with_logits(tg_tape *tape, tg_tensor *logits, tg_tensor *target,
                                     tg_reduction reduction);
// logp [N,C] (log-probabilities), labels [N] (integral values); weight [C] or NULL.
// mean reduction divides by the sum of the picked weights (PyTorch).
TG_API tg_tensor *tg_nll_loss(tg_tape *tape, tg_tensor *logp, tg_tensor *labels,
                              tg_tensor *weight, tg_reduction reduction);
// nll(log_softmax(logits, 1), labels): logits [N,C], labels [N]; weight [C] or NULL.
// Without weights it is one fused op (stable for logits of any size); its rule is
// tg_cross_entropy_grad, itself differentiable (second derivatives work).
TG_API tg_tensor *tg_cross_entropy(tg_tape *tape, tg_tensor *logits, tg_tensor *labels,
                                   tg_tensor *weight, tg_reduction reduction);
// (softmax(logits) - onehot(labels)) * dloss[:, None]: cross-entropy's per-row gradient,
// logits [N,C], labels [N], dloss [N] -> [N,C].
TG_API tg_tensor *tg_cross_entropy_grad(tg_tape *tape, tg_tensor *logits, tg_tensor *labels,
                                        tg_tensor *dloss);

// ---- introspection ----

// Number of op ids (ids run 1 .. tg_op_count()-1).
TG_API int tg_op_count(void);
// Public name of op `id` ("tg_add"), NULL for an unknown id.
TG_API const char *tg_op_name(int id);

#ifdef __cplusplus
}
#endif

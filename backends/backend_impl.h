// The backend interface: a struct of function pointers shared by the core and every
// backend (built-in cpu, dlopen'ed cuda module). Kernels receive plain views, never
// tg_tensor. Every slot returns TG_OK or a negative tg_status; optional slots may be NULL
// and the core turns that into TG_ERR_UNSUPPORTED. Bump TG_BACKEND_ABI_VERSION on change.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

// The public dtype and status enums (TG_F32/TG_F64, TG_OK/TG_ERR_*): header-only values,
// so the cuda module that includes them still links no core symbol.
#include "tapegrad/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_BACKEND_ABI_VERSION 11u
#define TG_VIEW_MAX_DIMS 8

// A strided view: element strides, stride 0 = broadcast along that axis.
typedef struct tg_view {
    void *data;
    int dtype;                          // a tg_dtype: TG_F32, TG_F64
    int ndim;
    int64_t shape[TG_VIEW_MAX_DIMS];
    int64_t stride[TG_VIEW_MAX_DIMS];
} tg_view;

// Elementwise unary kernels: y = f(x; a, b). x and y have the same shape.
// The kinds are one list, expanded into this enum and into both backends' kernel switches
// (cpu/elementwise.c, cuda/elementwise.cu). X(KIND, f32 function, f64 function) names
// elem_math.h's per-element functions `T tg_unary_<name>_<f|d>(T x, T a, T b)`; XI(KIND)
// marks an index-driven kind (x ignored, y contiguous) that each backend writes by hand.
// Append only: the values are the module ABI (fixed numbers are asserted below).
// backends/README.md has the checklist for a new kind.
#define TG_UNARY_KINDS(X, XI)                                                                      \
    /* y = x (x may be strided) */                                                                 \
    X(TG_UNARY_COPY, tg_unary_copy_f, tg_unary_copy_d)                                             \
    /* y = a*x + b */                                                                              \
    X(TG_UNARY_AFFINE, tg_unary_affine_f, tg_unary_affine_d)                                       \
    /* y = x^a */                                                                                  \
    X(TG_UNARY_POW, tg_unary_pow_f, tg_unary_pow_d)                                                \
    X(TG_UNARY_EXP, tg_unary_exp_f, tg_unary_exp_d)                                                \
    X(TG_UNARY_LOG, tg_unary_log_f, tg_unary_log_d)                                                \
    X(TG_UNARY_SQRT, tg_unary_sqrt_f, tg_unary_sqrt_d)                                             \
    X(TG_UNARY_RELU, tg_unary_relu_f, tg_unary_relu_d)                                             \
    X(TG_UNARY_SIGMOID, tg_unary_sigmoid_f, tg_unary_sigmoid_d)                                    \
    X(TG_UNARY_TANH, tg_unary_tanh_f, tg_unary_tanh_d)                                             \
    /* y = x > a ? 1 : 0 */                                                                        \
    X(TG_UNARY_GT, tg_unary_gt_f, tg_unary_gt_d)                                                   \
    /* y = a / x */                                                                                \
    X(TG_UNARY_RDIV, tg_unary_rdiv_f, tg_unary_rdiv_d)                                             \
    X(TG_UNARY_ABS, tg_unary_abs_f, tg_unary_abs_d)                                                \
    /* -1, 0, 1 */                                                                                 \
    X(TG_UNARY_SIGN, tg_unary_sign_f, tg_unary_sign_d)                                             \
    /* y = min(max(x, a), b) */                                                                    \
    X(TG_UNARY_CLAMP, tg_unary_clamp_f, tg_unary_clamp_d)                                          \
    /* x > 0 ? x : a*x */                                                                          \
    X(TG_UNARY_LEAKY_RELU, tg_unary_leaky_relu_f, tg_unary_leaky_relu_d)                           \
    /* x > 0 ? x : a*(exp(x)-1) */                                                                 \
    X(TG_UNARY_ELU, tg_unary_elu_f, tg_unary_elu_d)                                                \
    /* softplus: log(1+exp(a*x))/a, y = x where a*x > b (PyTorch's threshold) */                   \
    X(TG_UNARY_SOFTPLUS, tg_unary_softplus_f, tg_unary_softplus_d)                                 \
    X(TG_UNARY_ERF, tg_unary_erf_f, tg_unary_erf_d)                                                \
    /* y = x < a */                                                                                \
    X(TG_UNARY_LT, tg_unary_lt_f, tg_unary_lt_d)                                                   \
    /* y = x >= a */                                                                               \
    X(TG_UNARY_GE, tg_unary_ge_f, tg_unary_ge_d)                                                   \
    /* y = x <= a */                                                                               \
    X(TG_UNARY_LE, tg_unary_le_f, tg_unary_le_d)                                                   \
    /* y = x == a */                                                                               \
    X(TG_UNARY_EQ, tg_unary_eq_f, tg_unary_eq_d)                                                   \
    /* y = x != a */                                                                               \
    X(TG_UNARY_NE, tg_unary_ne_f, tg_unary_ne_d)                                                   \
    /* y[i] = a + b*i */                                                                           \
    XI(TG_UNARY_ARANGE)                                                                            \
    /* y[i] = tg_dropout_u(a, i) >= b ? 1/(1-b) : 0 (a: a seed below 2^53, b: the drop */          \
    /* probability) */                                                                             \
    XI(TG_UNARY_DROPOUT_MASK)                                                                      \
    /* y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */                                      \
    X(TG_UNARY_GELU_TANH, tg_unary_gelu_tanh_f, tg_unary_gelu_tanh_d)                              \
    /* y = x * sigmoid(x) */                                                                       \
    X(TG_UNARY_SILU, tg_unary_silu_f, tg_unary_silu_d)

// Elementwise binary kernels with broadcast strides: y = f(a, b). The same scheme as the
// unary list: X(KIND, f32 function, f64 function) with
// `T tg_binary_<name>_<f|d>(T a, T b)` from elem_math.h.
#define TG_BINARY_KINDS(X)                                                                         \
    X(TG_BINARY_ADD, tg_binary_add_f, tg_binary_add_d)                                             \
    X(TG_BINARY_SUB, tg_binary_sub_f, tg_binary_sub_d)                                             \
    X(TG_BINARY_MUL, tg_binary_mul_f, tg_binary_mul_d)                                             \
    X(TG_BINARY_DIV, tg_binary_div_f, tg_binary_div_d)                                             \
    /* NaN propagates */                                                                           \
    X(TG_BINARY_MAX, tg_binary_max_f, tg_binary_max_d)                                             \
    X(TG_BINARY_MIN, tg_binary_min_f, tg_binary_min_d)                                             \
    /* comparisons give 1 or 0 */                                                                  \
    X(TG_BINARY_GT, tg_binary_gt_f, tg_binary_gt_d)                                                \
    X(TG_BINARY_LT, tg_binary_lt_f, tg_binary_lt_d)                                                \
    X(TG_BINARY_GE, tg_binary_ge_f, tg_binary_ge_d)                                                \
    X(TG_BINARY_LE, tg_binary_le_f, tg_binary_le_d)                                                \
    X(TG_BINARY_EQ, tg_binary_eq_f, tg_binary_eq_d)                                                \
    X(TG_BINARY_NE, tg_binary_ne_f, tg_binary_ne_d)                                                \
    /* y = b > 0 ? a : 0   (a = incoming gradient, b = relu's input) */                            \
    X(TG_BINARY_RELU_GRAD, tg_binary_relu_grad_f, tg_binary_relu_grad_d)                           \
    /* y = a * (1 - b*b)   (b = tanh's output) */                                                  \
    X(TG_BINARY_TANH_GRAD, tg_binary_tanh_grad_f, tg_binary_tanh_grad_d)                           \
    /* y = a * b * (1 - b) (b = sigmoid's output) */                                               \
    X(TG_BINARY_SIGMOID_GRAD, tg_binary_sigmoid_grad_f, tg_binary_sigmoid_grad_d)                  \
    /* y = a * gelu_tanh'(b) (b = gelu_tanh's input) */                                            \
    X(TG_BINARY_GELU_TANH_GRAD, tg_binary_gelu_tanh_grad_f, tg_binary_gelu_tanh_grad_d)            \
    /* y = a * silu'(b) (b = silu's input) */                                                      \
    X(TG_BINARY_SILU_GRAD, tg_binary_silu_grad_f, tg_binary_silu_grad_d)

#define TG_KIND_ENUMERATOR_(kind, f32_fn, f64_fn) kind,
#define TG_KIND_ENUMERATOR_I_(kind) kind,
enum tg_unary_kind { TG_UNARY_KINDS(TG_KIND_ENUMERATOR_, TG_KIND_ENUMERATOR_I_) TG_UNARY_COUNT };
enum tg_binary_kind { TG_BINARY_KINDS(TG_KIND_ENUMERATOR_) TG_BINARY_COUNT };
#undef TG_KIND_ENUMERATOR_
#undef TG_KIND_ENUMERATOR_I_
#ifdef __cplusplus
#define TG_STATIC_ASSERT_ static_assert
#else
#define TG_STATIC_ASSERT_ _Static_assert
#endif
// Numbers a module of this ABI was built with (a list entry moved or removed breaks them).
TG_STATIC_ASSERT_(TG_UNARY_GELU_TANH == 25 && TG_UNARY_SILU == 26 && TG_UNARY_COUNT == 27,
                  "TG_UNARY_KINDS: append only");
TG_STATIC_ASSERT_(TG_BINARY_GELU_TANH_GRAD == 15 && TG_BINARY_SILU_GRAD == 16 &&
                      TG_BINARY_COUNT == 17,
                  "TG_BINARY_KINDS: append only");
#undef TG_STATIC_ASSERT_

// Reductions: y (x's shape, stride 0 on reduced axes) = reduce over those axes of x.
enum tg_reduce_kind {
    TG_REDUCE_KIND_SUM = 0,
    TG_REDUCE_KIND_MAX,
    TG_REDUCE_KIND_MIN,
    TG_REDUCE_KIND_ARGMAX,    // index along the (single) reduced axis, as a float
    TG_REDUCE_KIND_ARGMIN,
    TG_REDUCE_KIND_COUNT
};

// In-place updates (optimizers): y = f(y, a, b; s0, s1, s2), all of y's shape.
enum tg_update_kind {
    TG_UPDATE_AXPBY = 0,      // y = s0*a + s1*y
    TG_UPDATE_ADDCMUL,        // y = y + s0*a*b
    TG_UPDATE_ADDCDIV,        // y = y + s0*a/b
    TG_UPDATE_ADDCDIV_SQRT,   // y = y + s0*a/(sqrt(b)*s1 + s2)
    TG_UPDATE_MAXIMUM,        // y = max(y, a)
    TG_UPDATE_MAX_ABS,        // y = max(s1*y, |a| + s2)            (Adamax)
    TG_UPDATE_SQRT_RATIO,     // y = y * sqrt(a + s2) / sqrt(b + s2) (Adadelta)
    TG_UPDATE_CLAMP,          // y = min(max(y, s1), s2)
    TG_UPDATE_SCALE,          // y = s1*y
    TG_UPDATE_COUNT
};

// C[batch] = alpha * op(A) op(B) + beta * C; transposes are expressed by strides.
typedef struct tg_gemm_desc {
    int dtype;
    int64_t m, n, k, batch;
    double alpha, beta;
    const void *a; int64_t a_rs, a_cs, a_bs;    // A as an [m,k] view (after op)
    const void *b; int64_t b_rs, b_cs, b_bs;    // B as a [k,n] view (after op)
    void *c;       int64_t c_rs, c_cs, c_bs;    // C [m,n]
} tg_gemm_desc;

// A gemm's epilogue (the optional gemm_ep slot): after C = alpha*op(A)op(B) + beta*C, add
// the bias (NULL: none; contiguous, C's dtype; bias[j] along each row of C, or bias[i]
// along each column when bias_rows; the same for every batch entry), then apply act.
typedef enum { TG_GEMM_ACT_NONE, TG_GEMM_ACT_RELU } tg_gemm_act;   // RELU: x > 0 ? x : 0
typedef struct tg_gemm_ep {
    const void *bias;
    bool bias_rows;
    int act;
} tg_gemm_ep;

// Window extraction for convolution and pooling (NCHW), one image batch at a time:
// cols [N, C*KH*KW, OH*OW] <-> x [N, C, H, W]; out-of-image taps read `pad_value`.
typedef struct tg_im2col_desc {
    int dtype;
    int64_t n, c, h, w, kh, kw, oh, ow;
    int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    double pad_value;
    int64_t cols_bs;   // elements from one image's window matrix to the next in cols; 0:
                       // packed (C*KH*KW*OH*OW). Room between them is left as it is.
                       // (max_pool reads the window's geometry only.)
} tg_im2col_desc;

// Direct convolution with stride 1 (no window matrix), all contiguous, NCHW. The window:
// kh x kw taps, dilation dh, dw; tap (ki, kj) of output (i, j) reads input (i + ki*dh - ph,
// j + kj*dw - pw), zero outside the input (ph, pw may be negative: the input is cropped).
//   TG_CONV_FORWARD: y [n, co, oh, ow] = sum over c, ki, kj of wt[o, c, ki, kj] x[n, c, ..]
//                    (+ b[o]; b NULL: none); x [n, ci, h, w], wt [co, ci, kh, kw]
//   TG_CONV_DX:      the same with the tap wt[c, o, kh-1-ki, kw-1-kj] (wt [ci, co, kh, kw]):
//                    a convolution's dx, from x = its dy and ph = dh*(kh-1) - its ph
//   TG_CONV_DW:      y [co, ci, kh, kw] = sum over n, i, j of dy[n, o, i, j] x[n, c, i + ki*dh
//                    - ph, j + kj*dw - pw]; dy [n, co, oh, ow]
// y is written (not accumulated) and overlaps none of the inputs.
typedef enum { TG_CONV_FORWARD, TG_CONV_DX, TG_CONV_DW } tg_conv_mode;
typedef struct tg_conv_desc {
    int dtype, mode;
    int64_t n, ci, h, w, co, oh, ow;
    int64_t kh, kw, ph, pw, dh, dw;
    const void *x, *wt, *b, *dy;
    void *y;
} tg_conv_desc;

// Batch normalisation over x [n, c, inner] (contiguous), by channel: each channel's
// statistics over its n * inner values (biased variance, accumulated in double), rstd =
// 1/sqrt(var + eps), xhat = (x - mean) * rstd. Modes (tg_bn_mode):
//   TG_BN_FORWARD: y = xhat * w + b (w, b [c] or NULL); stats [2, c] (or NULL) = [mean;
//                  biased variance] per channel, for the running statistics
//   TG_BN_GRAD:    y = dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w (dy
//                  when w is NULL), the means over the channel's values; stats [2, c] (or
//                  NULL) = what TG_BN_WGRAD writes, from the same sums
//   TG_BN_WGRAD:   y [2, c] = [sum(dy * xhat); sum(dy)] per channel
// y overlaps none of the inputs.
typedef enum { TG_BN_FORWARD, TG_BN_GRAD, TG_BN_WGRAD } tg_bn_mode;
typedef struct tg_bn_desc {
    int dtype, mode;
    int64_t n, c, inner;
    const void *x, *w, *b, *dy;
    void *y, *stats;
    double eps;
} tg_bn_desc;

// One fused Adam/AdamW step over n contiguous elements (torch.optim 1.13's rule):
//   p *= 1 - lr*wd (decoupled) | g += wd*p (L2);  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
//   vmax = max(vmax, v) (amsgrad);  p -= lr/bc1 * m / (sqrt(v or vmax)/sqrt(bc2) + eps)
typedef struct tg_adam_desc {
    int dtype;
    int64_t n;
    void *p;
    const void *g;
    void *m, *v, *vmax;         // vmax NULL unless amsgrad
    double lr, beta1, beta2, eps, weight_decay;
    double bc1, bc2_sqrt;       // 1 - beta1^t, sqrt(1 - beta2^t)
    bool decoupled;             // AdamW
} tg_adam_desc;

// Scaled dot-product attention over [b, h, t, d] problems (queries and keys both t long)
// given by element strides over (b, h, t); the head dimension d is contiguous. Forward:
//   o = softmax(scale * q k^T + mask) v
// where the causal mask hides keys j > query i, and dropout (p > 0) keeps weight (i, j) of
// problem (bi, hi) when tg_dropout_u(seed, ((bi*h + hi)*t + i)*t + j) >= p, scaled by
// 1/(1-p) (elem_math.h; the same mask on every backend and in the backward pass).
// Backward (attention_grad) writes dq, dk, dv (q's strides; not added to) from q, k, v, the
// forward's o and its gradient dout (o's strides). Outputs overlap no input.
typedef struct tg_attn_desc {
    int dtype;
    int64_t b, h, t, d;
    double scale, p;
    uint64_t seed;
    int causal;
    const void *q, *k, *v;   // share the strides qs (one packed qkv tensor, or three)
    int64_t qs[3];
    void *o;                 // forward: written; backward: read
    int64_t os[3];
    const void *dout;        // backward: o's strides
    void *dq, *dk, *dv;      // backward: q's strides
} tg_attn_desc;

// Services the core lends a backend module (so modules link no core symbol).
struct tg_host_api {
    uint32_t abi_version;
    void (*fail)(int status, const char *where, const char *msg);
    void (*log)(const char *msg);
};

struct tg_backend_ops {
    uint32_t abi_version;
    uint32_t struct_size;
    const char *name;

    // ---- lifecycle ----
    int (*init)(void **ctx);
    void (*shutdown)(void *ctx);
    int (*synchronize)(void *ctx);
    int (*set_threads)(void *ctx, int n);                                   // (optional)

    // ---- memory (raw; the core caches on top) ----
    int (*alloc)(void *ctx, size_t bytes, void **out);
    void (*free)(void *ctx, void *ptr);
    int (*upload)(void *ctx, void *dst, const void *src, size_t bytes);
    int (*download)(void *ctx, void *dst, const void *src, size_t bytes);
    int (*copy)(void *ctx, void *dst, const void *src, size_t bytes);
    int (*memset0)(void *ctx, void *dst, size_t bytes);

    // ---- kernels ----
    // y's elements = value; y is contiguous (its strides are not read: the cpu kernel
    // fills shape-product elements from y->data).
    int (*fill)(void *ctx, const tg_view *y, double value);
    int (*unary)(void *ctx, int kind, const tg_view *x, const tg_view *y, double a, double b);
    int (*binary)(void *ctx, int kind, const tg_view *a, const tg_view *b, const tg_view *y);
    int (*reduce)(void *ctx, int kind, const tg_view *x, const tg_view *y);
    int (*gemm)(void *ctx, const tg_gemm_desc *d);
    int (*update)(void *ctx, int kind, const tg_view *y, const tg_view *a, const tg_view *b,
                  double s0, double s1, double s2);
    int (*cast)(void *ctx, const tg_view *x, const tg_view *y);
    // y = cond != 0 ? a : b, all views of y's shape (broadcast strides allowed).
    int (*where)(void *ctx, const tg_view *cond, const tg_view *a, const tg_view *b,
                 const tg_view *y);
    // Along `axis`: y[..i..] = x[..index[..i..]..]; index holds integral floats, shape of y;
    // x's other dims equal y's. Out-of-range index -> TG_ERR_INVALID_ARG (nothing written).
    int (*gather)(void *ctx, int axis, const tg_view *x, const tg_view *index,
                  const tg_view *y);
    // Along `axis`: y[..index[..i..]..] += src[..i..] (y pre-filled by the caller).
    int (*scatter_add)(void *ctx, int axis, const tg_view *src, const tg_view *index,
                       const tg_view *y);
    int (*im2col)(void *ctx, const tg_im2col_desc *d, const void *x, void *cols);
    // x += col2im(cols) (x pre-filled by the caller)
    int (*col2im)(void *ctx, const tg_im2col_desc *d, const void *cols, void *x);
    // Softmax cross-entropy by rows, all contiguous: logits [n, c], labels [n] (integral
    // values in [0, c)), loss[i] = logsumexp(logits[i]) - logits[i, labels[i]]. A bad
    // label -> TG_ERR_INVALID_ARG.
    int (*xent)(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                const void *labels, void *loss);
    // dlogits[i] = (softmax(logits[i]) - onehot(labels[i])) * dloss[i]
    int (*xent_grad)(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                     const void *labels, const void *dloss, void *dlogits);
    int (*adam_step)(void *ctx, const tg_adam_desc *d);
    // Softmax by rows, all contiguous: x, y [n, c] (not overlapping); y[i] = softmax(x[i]),
    // or log_softmax(x[i]) when take_log. Each row is shifted by its max (NaN never wins;
    // 0 when the max is +-inf, as in xent) and its sum of exps is accumulated in double.
    int (*softmax)(void *ctx, int dtype, int64_t n, int64_t c, const void *x, void *y,
                   int take_log);
    // Its gradient by rows, all contiguous [n, c] (dx overlapping neither y nor dy): from
    // y = softmax(x), dx = y * (dy - sum(dy * y)); from y = log_softmax(x) (take_log),
    // dx = dy - exp(y) * sum(dy). Row sums accumulated in double.
    int (*softmax_grad)(void *ctx, int dtype, int64_t n, int64_t c, const void *y,
                        const void *dy, void *dx, int take_log);
    // Layer normalisation by rows, all contiguous: x, y [n, c] (not overlapping), w, b [c] or
    // NULL: y = (x - mean) * rstd * w + b, rstd = 1/sqrt(var + eps), var the biased variance;
    // the statistics of f32 rows are accumulated in double.
    int (*layer_norm)(void *ctx, int dtype, int64_t n, int64_t c, const void *x, const void *w,
                      const void *b, void *y, double eps);
    // Its gradient to x by rows, statistics recomputed from x (one pass per row):
    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w (dy when w is NULL),
    // xhat = (x - mean) * rstd. dx overlaps neither x nor dy. wgrad: NULL, or [2, c] that
    // also receives layer_norm_wgrad's value for this x and dy (so that a backward pass that
    // needs both reads x and dy once); the cpu backend takes it from the same pass.
    int (*layer_norm_grad)(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                           const void *w, const void *dy, void *dx, void *wgrad, double eps);
    // The affine parameters' gradients, summed over the rows: out [2, c] (written) holds
    // sum(dy * xhat) and sum(dy), statistics recomputed from x.
    int (*layer_norm_wgrad)(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                            const void *dy, void *out, double eps);
    // Fused attention and its gradient (tg_attn_desc above).
    int (*attention)(void *ctx, const tg_attn_desc *d);
    int (*attention_grad)(void *ctx, const tg_attn_desc *d);
    // Max pooling over the windows of x [N, C, H, W] (d: the window; pad_value unused):
    // each window's winner is its first maximum over the in-image taps in row-major tap
    // order, a NaN winning (it propagates, as in torch). route == 0: out [N, C, OH, OW] =
    // v (x's shape) at each winner; route == 1: out [N, C, H, W] += v [N, C, OH, OW] at
    // each winner (out pre-filled by the caller); route == 2: the same sums written to out
    // (not pre-filled: every element is written, 0 where no window's winner lies). All
    // contiguous; out overlaps neither.
    int (*max_pool)(void *ctx, const tg_im2col_desc *d, int route, const void *x,
                    const void *v, void *out);
    // Batch normalisation and its gradients (tg_bn_desc above).
    int (*batch_norm)(void *ctx, const tg_bn_desc *d);
    // Direct (stride 1) convolution and its gradients (tg_conv_desc above).
    int (*conv)(void *ctx, const tg_conv_desc *d);
    // gemm followed by its epilogue (tg_gemm_ep above), in the store where the kernel can.
    int (*gemm_ep)(void *ctx, const tg_gemm_desc *d, const tg_gemm_ep *e);   // (optional)
};

// The built-in CPU backend.
const struct tg_backend_ops *tg__cpu_backend_ops(void);

#ifdef __cplusplus
}
#endif

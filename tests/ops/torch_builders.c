// The builder table of the torch fixture tests: one entry per case key of
// tests/fixtures/ops_torch.txt, calling the tapegrad function that matches the torch call in
// gen_ops.py. Attributes arrive as doubles, in the order gen_ops.py documents for each key.
#include "torch_fixture.h"

// ---- attribute helpers ----

static int ai(const fx_args *x, int k) { return (int)x->a[k]; }
static double ad(const fx_args *x, int k) { return x->a[k]; }

// The attributes from `from` to the end of the attr line, as ints (axes, a permutation).
static int int_tail(const fx_args *x, int from, int *out) {
    int n = x->n_attr - from;
    for (int k = 0; k < n; k++) out[k] = (int)x->a[from + k];
    return n < 0 ? 0 : n;
}

// The attributes from `from` to the end of the attr line, as a shape.
static int shape_tail(const fx_args *x, int from, int64_t *shape) {
    int n = x->n_attr - from;
    for (int k = 0; k < n; k++) shape[k] = (int64_t)x->a[from + k];
    return n < 0 ? 0 : n;
}

// stride h, w, padding h, w, dilation h, w from a[from ..]
static tg_conv_opts conv_opts(const fx_args *x, int from) {
    tg_conv_opts o = {{ai(x, from), ai(x, from + 1)},
                      {ai(x, from + 2), ai(x, from + 3)},
                      {ai(x, from + 4), ai(x, from + 5)}};
    return o;
}

static tg_tensor *opt_in(const fx_args *x, int k) { return x->n_in > k ? x->in[k] : NULL; }

// ---- elementwise ----

// clang-format off
static tg_tensor *b_add(tg_tape *t, const fx_args *x) { return tg_add(t, x->in[0], x->in[1]); }
static tg_tensor *b_sub(tg_tape *t, const fx_args *x) { return tg_sub(t, x->in[0], x->in[1]); }
static tg_tensor *b_mul(tg_tape *t, const fx_args *x) { return tg_mul(t, x->in[0], x->in[1]); }
static tg_tensor *b_div(tg_tape *t, const fx_args *x) { return tg_div(t, x->in[0], x->in[1]); }
// x * detach(x): only the first factor carries a gradient
static tg_tensor *b_mul_detach(tg_tape *t, const fx_args *x) {
    return tg_mul(t, x->in[0], tg_detach(t, x->in[0]));
}
static tg_tensor *b_maximum(tg_tape *t, const fx_args *x) {
    return tg_maximum(t, x->in[0], x->in[1]);
}
static tg_tensor *b_minimum(tg_tape *t, const fx_args *x) {
    return tg_minimum(t, x->in[0], x->in[1]);
}
// relu's rule as an op: x > 0 ? dy : 0; inputs dy, x
static tg_tensor *b_relu_grad(tg_tape *t, const fx_args *x) {
    return tg_relu_grad(t, x->in[0], x->in[1]);
}
// tanh's / sigmoid's rules as ops; inputs dy, y (the forward output)
static tg_tensor *b_tanh_grad(tg_tape *t, const fx_args *x) {
    return tg_tanh_grad(t, x->in[0], x->in[1]);
}
static tg_tensor *b_sigmoid_grad(tg_tape *t, const fx_args *x) {
    return tg_sigmoid_grad(t, x->in[0], x->in[1]);
}
// softmax's / log_softmax's rules over the last axis as ops; inputs dy, y
static tg_tensor *b_softmax_grad(tg_tape *t, const fx_args *x) {
    return tg_softmax_grad(t, x->in[0], x->in[1]);
}
static tg_tensor *b_log_softmax_grad(tg_tape *t, const fx_args *x) {
    return tg_log_softmax_grad(t, x->in[0], x->in[1]);
}
static tg_tensor *b_where(tg_tape *t, const fx_args *x) {
    return tg_where(t, x->in[0], x->in[1], x->in[2]);
}

// attr = the scalar (slope, alpha)
static tg_tensor *b_add_scalar(tg_tape *t, const fx_args *x) {
    return tg_add_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_sub_scalar(tg_tape *t, const fx_args *x) {
    return tg_sub_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_rsub_scalar(tg_tape *t, const fx_args *x) {
    return tg_rsub_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_mul_scalar(tg_tape *t, const fx_args *x) {
    return tg_mul_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_div_scalar(tg_tape *t, const fx_args *x) {
    return tg_div_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_rdiv_scalar(tg_tape *t, const fx_args *x) {
    return tg_rdiv_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_pow_scalar(tg_tape *t, const fx_args *x) {
    return tg_pow_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_leaky_relu(tg_tape *t, const fx_args *x) {
    return tg_leaky_relu(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_elu(tg_tape *t, const fx_args *x) { return tg_elu(t, x->in[0], ad(x, 0)); }

// no attributes
static tg_tensor *b_neg(tg_tape *t, const fx_args *x) { return tg_neg(t, x->in[0]); }
static tg_tensor *b_exp(tg_tape *t, const fx_args *x) { return tg_exp(t, x->in[0]); }
static tg_tensor *b_log(tg_tape *t, const fx_args *x) { return tg_log(t, x->in[0]); }
static tg_tensor *b_sqrt(tg_tape *t, const fx_args *x) { return tg_sqrt(t, x->in[0]); }
static tg_tensor *b_rsqrt(tg_tape *t, const fx_args *x) { return tg_rsqrt(t, x->in[0]); }
static tg_tensor *b_square(tg_tape *t, const fx_args *x) { return tg_square(t, x->in[0]); }
static tg_tensor *b_relu(tg_tape *t, const fx_args *x) { return tg_relu(t, x->in[0]); }
static tg_tensor *b_sigmoid(tg_tape *t, const fx_args *x) { return tg_sigmoid(t, x->in[0]); }
static tg_tensor *b_tanh(tg_tape *t, const fx_args *x) { return tg_tanh(t, x->in[0]); }
static tg_tensor *b_abs(tg_tape *t, const fx_args *x) { return tg_abs(t, x->in[0]); }
static tg_tensor *b_sign(tg_tape *t, const fx_args *x) { return tg_sign(t, x->in[0]); }
static tg_tensor *b_erf(tg_tape *t, const fx_args *x) { return tg_erf(t, x->in[0]); }
static tg_tensor *b_gelu(tg_tape *t, const fx_args *x) { return tg_gelu(t, x->in[0]); }
static tg_tensor *b_gelu_tanh(tg_tape *t, const fx_args *x) { return tg_gelu_tanh(t, x->in[0]); }
static tg_tensor *b_silu(tg_tape *t, const fx_args *x) { return tg_silu(t, x->in[0]); }
static tg_tensor *b_silu_grad(tg_tape *t, const fx_args *x) {
    return tg_silu_grad(t, x->in[0], x->in[1]);
}
static tg_tensor *b_log1p(tg_tape *t, const fx_args *x) { return tg_log1p(t, x->in[0]); }

// attr = lo, hi / beta, threshold
static tg_tensor *b_clamp(tg_tape *t, const fx_args *x) {
    return tg_clamp(t, x->in[0], ad(x, 0), ad(x, 1));
}
static tg_tensor *b_hardtanh(tg_tape *t, const fx_args *x) {
    return tg_hardtanh(t, x->in[0], ad(x, 0), ad(x, 1));
}
static tg_tensor *b_softplus(tg_tape *t, const fx_args *x) {
    return tg_softplus(t, x->in[0], ad(x, 0), ad(x, 1));
}

// ---- comparisons (masks) ----

static tg_tensor *b_gt(tg_tape *t, const fx_args *x) { return tg_gt(t, x->in[0], x->in[1]); }
static tg_tensor *b_lt(tg_tape *t, const fx_args *x) { return tg_lt(t, x->in[0], x->in[1]); }
static tg_tensor *b_ge(tg_tape *t, const fx_args *x) { return tg_ge(t, x->in[0], x->in[1]); }
static tg_tensor *b_le(tg_tape *t, const fx_args *x) { return tg_le(t, x->in[0], x->in[1]); }
static tg_tensor *b_eq(tg_tape *t, const fx_args *x) { return tg_eq(t, x->in[0], x->in[1]); }
static tg_tensor *b_ne(tg_tape *t, const fx_args *x) { return tg_ne(t, x->in[0], x->in[1]); }
static tg_tensor *b_gt_scalar(tg_tape *t, const fx_args *x) {
    return tg_gt_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_lt_scalar(tg_tape *t, const fx_args *x) {
    return tg_lt_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_ge_scalar(tg_tape *t, const fx_args *x) {
    return tg_ge_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_le_scalar(tg_tape *t, const fx_args *x) {
    return tg_le_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_eq_scalar(tg_tape *t, const fx_args *x) {
    return tg_eq_scalar(t, x->in[0], ad(x, 0));
}
static tg_tensor *b_ne_scalar(tg_tape *t, const fx_args *x) {
    return tg_ne_scalar(t, x->in[0], ad(x, 0));
}
// clang-format on

// ---- reductions ----

static tg_tensor *b_sum(tg_tape *t, const fx_args *x) { return tg_sum(t, x->in[0]); }
static tg_tensor *b_mean(tg_tape *t, const fx_args *x) { return tg_mean(t, x->in[0]); }
static tg_tensor *b_max(tg_tape *t, const fx_args *x) { return tg_max(t, x->in[0]); }
static tg_tensor *b_min(tg_tape *t, const fx_args *x) { return tg_min(t, x->in[0]); }

// attr = keepdim, then the axes
typedef tg_tensor *(*axes_fn)(tg_tape *, tg_tensor *, int, const int *, bool);
static tg_tensor *over_axes(axes_fn f, tg_tape *t, const fx_args *x) {
    int axes[FX_MAX_ATTR];
    int na = int_tail(x, 1, axes);
    return f(t, x->in[0], na, axes, ad(x, 0) != 0);
}
static tg_tensor *b_sum_axes(tg_tape *t, const fx_args *x) { return over_axes(tg_sum_axes, t, x); }
static tg_tensor *b_mean_axes(tg_tape *t, const fx_args *x) {
    return over_axes(tg_mean_axes, t, x);
}
static tg_tensor *b_max_axes(tg_tape *t, const fx_args *x) { return over_axes(tg_max_axes, t, x); }
static tg_tensor *b_min_axes(tg_tape *t, const fx_args *x) { return over_axes(tg_min_axes, t, x); }
static tg_tensor *b_logsumexp(tg_tape *t, const fx_args *x) {
    return over_axes(tg_logsumexp, t, x);
}

// attr = keepdim, axis
static tg_tensor *b_argmax(tg_tape *t, const fx_args *x) {
    return tg_argmax(t, x->in[0], ai(x, 1), ad(x, 0) != 0);
}
static tg_tensor *b_argmin(tg_tape *t, const fx_args *x) {
    return tg_argmin(t, x->in[0], ai(x, 1), ad(x, 0) != 0);
}

// attr = keepdim, correction, then the axes
typedef tg_tensor *(*stat_fn)(tg_tape *, tg_tensor *, int, const int *, int, bool);
static tg_tensor *stat(stat_fn f, tg_tape *t, const fx_args *x) {
    int axes[FX_MAX_ATTR];
    int na = int_tail(x, 2, axes);
    return f(t, x->in[0], na, axes, ai(x, 1), ad(x, 0) != 0);
}
static tg_tensor *b_var(tg_tape *t, const fx_args *x) { return stat(tg_var, t, x); }
static tg_tensor *b_std(tg_tape *t, const fx_args *x) { return stat(tg_std, t, x); }

// ---- matmul ----

static tg_tensor *b_matmul(tg_tape *t, const fx_args *x) {
    return tg_matmul(t, x->in[0], x->in[1]);
}
// attr = trans_a, trans_b
static tg_tensor *b_matmul_ex(tg_tape *t, const fx_args *x) {
    return tg_matmul_ex(t, x->in[0], x->in[1], ad(x, 0) != 0, ad(x, 1) != 0);
}
static tg_tensor *b_bmm(tg_tape *t, const fx_args *x) { return tg_bmm(t, x->in[0], x->in[1]); }
// inputs bias, a, b; attr = trans_a, trans_b
static tg_tensor *b_addmm(tg_tape *t, const fx_args *x) {
    return tg_addmm(t, x->in[0], x->in[1], x->in[2], ad(x, 0) != 0, ad(x, 1) != 0);
}
static tg_tensor *b_addmm_relu(tg_tape *t, const fx_args *x) {
    return tg_addmm_relu(t, x->in[0], x->in[1], x->in[2], ad(x, 0) != 0, ad(x, 1) != 0);
}

// ---- shape and index ----

// attr = the target shape
static tg_tensor *b_reshape(tg_tape *t, const fx_args *x) {
    int64_t shape[FX_MAX_ATTR];
    int nd = shape_tail(x, 0, shape);
    return tg_reshape(t, x->in[0], nd, shape);
}
static tg_tensor *b_expand(tg_tape *t, const fx_args *x) {
    int64_t shape[FX_MAX_ATTR];
    int nd = shape_tail(x, 0, shape);
    return tg_expand(t, x->in[0], nd, shape);
}
// attr = dim0, dim1
static tg_tensor *b_transpose(tg_tape *t, const fx_args *x) {
    return tg_transpose(t, x->in[0], ai(x, 0), ai(x, 1));
}
// attr = the permutation
static tg_tensor *b_permute(tg_tape *t, const fx_args *x) {
    int perm[FX_MAX_ATTR] = {0};
    int_tail(x, 0, perm);
    return tg_permute(t, x->in[0], perm);
}
// attr = axis, start, stop, step
static tg_tensor *b_slice(tg_tape *t, const fx_args *x) {
    return tg_slice(t, x->in[0], ai(x, 0), (int64_t)ad(x, 1), (int64_t)ad(x, 2),
                    (int64_t)ad(x, 3));
}
static tg_tensor *b_slice_scatter(tg_tape *t, const fx_args *x) {
    return tg_slice_scatter(t, x->in[0], x->in[1], ai(x, 0), (int64_t)ad(x, 1),
                            (int64_t)ad(x, 2), (int64_t)ad(x, 3));
}
// attr = axis (every input is joined)
static tg_tensor *b_concat(tg_tape *t, const fx_args *x) {
    return tg_concat(t, x->n_in, x->in, ai(x, 0));
}
static tg_tensor *b_stack(tg_tape *t, const fx_args *x) {
    return tg_stack(t, x->n_in, x->in, ai(x, 0));
}
// attr = axis (-100: every size-1 axis)
static tg_tensor *b_squeeze(tg_tape *t, const fx_args *x) {
    return tg_squeeze(t, x->in[0], ai(x, 0));
}
static tg_tensor *b_unsqueeze(tg_tape *t, const fx_args *x) {
    return tg_unsqueeze(t, x->in[0], ai(x, 0));
}
// attr = start, end
static tg_tensor *b_flatten(tg_tape *t, const fx_args *x) {
    return tg_flatten(t, x->in[0], ai(x, 0), ai(x, 1));
}
// attr = axis; inputs x, index (, src)
static tg_tensor *b_gather(tg_tape *t, const fx_args *x) {
    return tg_gather(t, x->in[0], ai(x, 0), x->in[1]);
}
static tg_tensor *b_scatter_add(tg_tape *t, const fx_args *x) {
    return tg_scatter_add(t, x->in[0], ai(x, 0), x->in[1], x->in[2]);
}
static tg_tensor *b_index_select(tg_tape *t, const fx_args *x) {
    return tg_index_select(t, x->in[0], ai(x, 0), x->in[1]);
}
// attr = number of classes
static tg_tensor *b_one_hot(tg_tape *t, const fx_args *x) {
    return tg_one_hot(t, x->in[0], (int64_t)ad(x, 0));
}

// ---- nn ops ----

// attr = axis
static tg_tensor *b_softmax(tg_tape *t, const fx_args *x) {
    return tg_softmax(t, x->in[0], ai(x, 0));
}
static tg_tensor *b_log_softmax(tg_tape *t, const fx_args *x) {
    return tg_log_softmax(t, x->in[0], ai(x, 0));
}
// attr = stride h, w, padding h, w, dilation h, w; inputs x, weight (, bias)
static tg_tensor *b_conv2d(tg_tape *t, const fx_args *x) {
    tg_conv_opts o = conv_opts(x, 0);
    return tg_conv2d(t, x->in[0], x->in[1], opt_in(x, 2), &o);
}
// d/dx (k = 0) or d/dw (k = 1) of sum(conv2d(x, w) * dy) with create_graph (the conv2d_dx
// and conv2d_dw ops); inputs dy, x, w; attr as for conv2d
static tg_tensor *conv2d_grad(tg_tape *t, const fx_args *x, int k) {
    tg_conv_opts o = conv_opts(x, 0);
    tg_tensor *xw[2] = {x->in[1], x->in[2]}, *g = NULL;
    if (!tg_requires_grad(xw[k]) && tg_set_requires_grad(xw[k], true)) return NULL;
    tg_tensor *y = tg_conv2d(t, xw[0], xw[1], NULL, &o);
    tg_backward_opts bo = {.create_graph = true};
    if (tg_grad(t, tg_sum(t, tg_mul(t, y, x->in[0])), NULL, 1, &xw[k], &g, &bo)) return NULL;
    return g;
}
static tg_tensor *b_conv2d_dx(tg_tape *t, const fx_args *x) { return conv2d_grad(t, x, 0); }
static tg_tensor *b_conv2d_dw(tg_tape *t, const fx_args *x) { return conv2d_grad(t, x, 1); }
// attr = kh, kw, then stride, padding, dilation as for conv2d
static tg_tensor *b_max_pool2d(tg_tape *t, const fx_args *x) {
    tg_conv_opts o = conv_opts(x, 2);
    return tg_max_pool2d(t, x->in[0], ai(x, 0), ai(x, 1), &o);
}
// attr as for max_pool2d; inputs x (chooses), dy
static tg_tensor *b_max_pool2d_grad(tg_tape *t, const fx_args *x) {
    tg_conv_opts o = conv_opts(x, 2);
    return tg_max_pool2d_grad(t, x->in[0], x->in[1], ai(x, 0), ai(x, 1), &o);
}
static tg_tensor *b_avg_pool2d(tg_tape *t, const fx_args *x) {
    tg_conv_opts o = conv_opts(x, 2);
    return tg_avg_pool2d(t, x->in[0], ai(x, 0), ai(x, 1), &o);
}
static tg_tensor *b_im2col(tg_tape *t, const fx_args *x) {
    tg_conv_opts o = conv_opts(x, 2);
    return tg_im2col(t, x->in[0], ai(x, 0), ai(x, 1), &o);
}
// ... then c, h, w of the image
static tg_tensor *b_col2im(tg_tape *t, const fx_args *x) {
    tg_conv_opts o = conv_opts(x, 2);
    return tg_col2im(t, x->in[0], (int64_t)ad(x, 8), (int64_t)ad(x, 9), (int64_t)ad(x, 10),
                     ai(x, 0), ai(x, 1), &o);
}

// ---- losses: attr = reduction (0 mean, 1 sum, 2 none), then huber's delta ----

static tg_reduction red(const fx_args *x) { return (tg_reduction)ai(x, 0); }
static tg_tensor *b_mse_loss(tg_tape *t, const fx_args *x) {
    return tg_mse_loss(t, x->in[0], x->in[1], red(x));
}
static tg_tensor *b_l1_loss(tg_tape *t, const fx_args *x) {
    return tg_l1_loss(t, x->in[0], x->in[1], red(x));
}
static tg_tensor *b_huber_loss(tg_tape *t, const fx_args *x) {
    return tg_huber_loss(t, x->in[0], x->in[1], ad(x, 1), red(x));
}
static tg_tensor *b_bce_loss(tg_tape *t, const fx_args *x) {
    return tg_bce_loss(t, x->in[0], x->in[1], red(x));
}
static tg_tensor *b_bce_with_logits(tg_tape *t, const fx_args *x) {
    return tg_bce_with_logits(t, x->in[0], x->in[1], red(x));
}
// inputs logits / logp, labels (, class weights)
static tg_tensor *b_cross_entropy(tg_tape *t, const fx_args *x) {
    return tg_cross_entropy(t, x->in[0], x->in[1], opt_in(x, 2), red(x));
}
// inputs logits, labels, dloss
static tg_tensor *b_cross_entropy_grad(tg_tape *t, const fx_args *x) {
    return tg_cross_entropy_grad(t, x->in[0], x->in[1], x->in[2]);
}
static tg_tensor *b_nll_loss(tg_tape *t, const fx_args *x) {
    return tg_nll_loss(t, x->in[0], x->in[1], opt_in(x, 2), red(x));
}

// ---- creation (no inputs) ----

// attr = n, start, step
static tg_tensor *b_arange(tg_tape *t, const fx_args *x) {
    return tg_arange(t, tg_backend_get("cpu"), x->dtype, (int64_t)ad(x, 0), ad(x, 1), ad(x, 2));
}
// attr = value, then the shape
static tg_tensor *b_full(tg_tape *t, const fx_args *x) {
    int64_t shape[FX_MAX_ATTR];
    int nd = shape_tail(x, 1, shape);
    return tg_full(t, tg_backend_get("cpu"), x->dtype, nd, shape, ad(x, 0));
}

// ---- the table: key, the registered op it calls (NULL: composed), build, discontinuous ----

// ---- transformer ops ----

// inputs x[, w[, b]]; attr = eps
static tg_tensor *b_layer_norm(tg_tape *t, const fx_args *x) {
    return tg_layer_norm(t, x->in[0], opt_in(x, 1), opt_in(x, 2), ad(x, 0));
}
// inputs dy, x[, w]; attr = eps
static tg_tensor *b_layer_norm_grad(tg_tape *t, const fx_args *x) {
    return tg_layer_norm_grad(t, x->in[0], x->in[1], opt_in(x, 2), ad(x, 0));
}
// inputs q, k, v; attr = causal
static tg_tensor *b_attention(tg_tape *t, const fx_args *x) {
    tg_attention_opts o = {.causal = ai(x, 0) != 0};
    return tg_attention(t, x->in[0], x->in[1], x->in[2], &o);
}
// input qkv [B,T,3C]; attr = heads, causal
static tg_tensor *b_attention_qkv(tg_tape *t, const fx_args *x) {
    tg_attention_opts o = {.causal = ai(x, 1) != 0};
    return tg_attention_qkv(t, x->in[0], ai(x, 0), &o);
}
// [dw; db] of layer_norm(x, w, b) against dy with create_graph (the wgrad op); inputs dy, x,
// w, b (the f32 run's w and b do not require grad yet: the builder asks for it)
static tg_tensor *b_layer_norm_wgrad(tg_tape *t, const fx_args *x) {
    tg_tensor *wb[2] = {x->in[2], x->in[3]}, *g[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        if (!tg_requires_grad(wb[k]) && tg_set_requires_grad(wb[k], true)) return NULL;
    tg_tensor *y = tg_layer_norm(t, x->in[1], wb[0], wb[1], ad(x, 0));
    tg_backward_opts o = {.create_graph = true};
    if (tg_grad(t, tg_sum(t, tg_mul(t, y, x->in[0])), NULL, 2, wb, g, &o)) return NULL;
    return tg_concat(t, 2, g, 0);
}
// batch_norm (training, no running statistics); inputs x[, w, b]; attr = eps
static tg_tensor *b_batch_norm(tg_tape *t, const fx_args *x) {
    return tg_batch_norm(t, x->in[0], opt_in(x, 1), opt_in(x, 2), NULL, NULL, 0.1, ad(x, 0));
}
// inputs dy, x[, w]; attr = eps
static tg_tensor *b_batch_norm_grad(tg_tape *t, const fx_args *x) {
    return tg_batch_norm_grad(t, x->in[0], x->in[1], opt_in(x, 2), ad(x, 0));
}
// [dw; db] of batch_norm(x, w, b) against dy with create_graph (the wgrad op); inputs dy,
// x, w, b
static tg_tensor *b_batch_norm_wgrad(tg_tape *t, const fx_args *x) {
    tg_tensor *wb[2] = {x->in[2], x->in[3]}, *g[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        if (!tg_requires_grad(wb[k]) && tg_set_requires_grad(wb[k], true)) return NULL;
    tg_tensor *y = tg_batch_norm(t, x->in[1], wb[0], wb[1], NULL, NULL, 0.1, ad(x, 0));
    tg_backward_opts o = {.create_graph = true};
    if (tg_grad(t, tg_sum(t, tg_mul(t, y, x->in[0])), NULL, 2, wb, g, &o)) return NULL;
    return tg_concat(t, 2, g, 0);
}
// gelu_tanh's rule as an op; inputs dy, x
static tg_tensor *b_gelu_tanh_grad(tg_tape *t, const fx_args *x) {
    return tg_gelu_tanh_grad(t, x->in[0], x->in[1]);
}
// d sum(y^2) / d qkv with create_graph (the gradient op, differentiable again); the f32
// run's input does not require grad yet, so the builder asks for it
static tg_tensor *b_attention_grad(tg_tape *t, const fx_args *x) {
    tg_tensor *qkv = x->in[0], *g = NULL;
    if (!tg_requires_grad(qkv) && tg_set_requires_grad(qkv, true)) return NULL;
    tg_tensor *y = b_attention_qkv(t, x);
    tg_backward_opts o = {.create_graph = true};
    return tg_grad(t, tg_sum(t, tg_mul(t, y, y)), NULL, 1, &qkv, &g, &o) ? NULL : g;
}

// clang-format off
const fx_builder fx_builders[] = {
    {"add", "tg_add", b_add, false},
    {"sub", "tg_sub", b_sub, false},
    {"mul", "tg_mul", b_mul, false},
    {"div", "tg_div", b_div, false},
    {"mul_detach", "tg_mul", b_mul_detach, false},
    {"add_scalar", "tg_add_scalar", b_add_scalar, false},
    {"sub_scalar", "tg_sub_scalar", b_sub_scalar, false},
    {"rsub_scalar", "tg_rsub_scalar", b_rsub_scalar, false},
    {"mul_scalar", "tg_mul_scalar", b_mul_scalar, false},
    {"div_scalar", "tg_div_scalar", b_div_scalar, false},
    {"rdiv_scalar", "tg_rdiv_scalar", b_rdiv_scalar, false},
    {"pow_scalar", "tg_pow_scalar", b_pow_scalar, false},
    {"neg", "tg_neg", b_neg, false},
    {"exp", "tg_exp", b_exp, false},
    {"log", "tg_log", b_log, false},
    {"sqrt", "tg_sqrt", b_sqrt, false},
    {"rsqrt", NULL, b_rsqrt, false},
    {"square", NULL, b_square, false},
    {"relu", "tg_relu", b_relu, false},
    {"relu_grad", "tg_relu_grad", b_relu_grad, false},
    {"sigmoid", "tg_sigmoid", b_sigmoid, false},
    {"tanh", "tg_tanh", b_tanh, false},
    {"tanh_grad", "tg_tanh_grad", b_tanh_grad, false},
    {"sigmoid_grad", "tg_sigmoid_grad", b_sigmoid_grad, false},
    {"softmax_grad", "tg_softmax_grad", b_softmax_grad, false},
    {"log_softmax_grad", "tg_log_softmax_grad", b_log_softmax_grad, false},
    {"abs", "tg_abs", b_abs, false},
    {"sign", "tg_sign", b_sign, true},
    {"erf", "tg_erf", b_erf, false},
    {"clamp", "tg_clamp", b_clamp, false},
    {"hardtanh", NULL, b_hardtanh, false},
    {"leaky_relu", "tg_leaky_relu", b_leaky_relu, false},
    {"elu", "tg_elu", b_elu, false},
    {"softplus", "tg_softplus", b_softplus, false},
    {"gelu", NULL, b_gelu, false},
    {"gelu_tanh", "tg_gelu_tanh", b_gelu_tanh, false},
    {"log1p", NULL, b_log1p, false},
    {"silu", "tg_silu", b_silu, false},
    {"silu_grad", "tg_silu_grad", b_silu_grad, false},
    {"maximum", "tg_maximum", b_maximum, false},
    {"minimum", "tg_minimum", b_minimum, false},
    {"where", "tg_where", b_where, false},

    {"gt", "tg_gt", b_gt, true},
    {"lt", "tg_lt", b_lt, true},
    {"ge", "tg_ge", b_ge, true},
    {"le", "tg_le", b_le, true},
    {"eq", "tg_eq", b_eq, true},
    {"ne", "tg_ne", b_ne, true},
    {"gt_scalar", "tg_gt_scalar", b_gt_scalar, true},
    {"lt_scalar", "tg_lt_scalar", b_lt_scalar, true},
    {"ge_scalar", "tg_ge_scalar", b_ge_scalar, true},
    {"le_scalar", "tg_le_scalar", b_le_scalar, true},
    {"eq_scalar", "tg_eq_scalar", b_eq_scalar, true},
    {"ne_scalar", "tg_ne_scalar", b_ne_scalar, true},

    {"sum", "tg_sum_axes", b_sum, false},
    {"sum_axes", "tg_sum_axes", b_sum_axes, false},
    {"mean", NULL, b_mean, false},
    {"mean_axes", NULL, b_mean_axes, false},
    {"max", "tg_max_axes", b_max, false},
    {"min", "tg_min_axes", b_min, false},
    {"max_axes", "tg_max_axes", b_max_axes, false},
    {"min_axes", "tg_min_axes", b_min_axes, false},
    {"argmax", "tg_argmax", b_argmax, true},
    {"argmin", "tg_argmin", b_argmin, true},
    {"var", NULL, b_var, false},
    {"std", NULL, b_std, false},
    {"logsumexp", NULL, b_logsumexp, false},

    {"matmul", "tg_matmul", b_matmul, false},
    {"matmul_ex", "tg_matmul", b_matmul_ex, false},
    {"bmm", "tg_matmul", b_bmm, false},
    {"addmm", "tg_addmm", b_addmm, false},
    {"addmm_relu", "tg_addmm_relu", b_addmm_relu, false},

    {"reshape", "tg_reshape", b_reshape, false},
    {"expand", "tg_expand", b_expand, false},
    {"transpose", "tg_transpose", b_transpose, false},
    {"permute", "tg_permute", b_permute, false},
    {"slice", "tg_slice", b_slice, false},
    {"slice_scatter", "tg_slice_scatter", b_slice_scatter, false},
    {"concat", "tg_concat", b_concat, false},
    {"stack", NULL, b_stack, false},
    {"squeeze", NULL, b_squeeze, false},
    {"unsqueeze", NULL, b_unsqueeze, false},
    {"flatten", NULL, b_flatten, false},
    {"gather", "tg_gather", b_gather, false},
    {"scatter_add", "tg_scatter_add", b_scatter_add, false},
    {"index_select", NULL, b_index_select, false},
    {"one_hot", NULL, b_one_hot, false},

    {"softmax", NULL, b_softmax, false},
    {"log_softmax", NULL, b_log_softmax, false},
    {"conv2d", "tg_conv2d", b_conv2d, false},
    {"conv2d_dx", "tg_conv2d_dx", b_conv2d_dx, false},
    {"conv2d_dw", "tg_conv2d_dw", b_conv2d_dw, false},
    {"max_pool2d", "tg_max_pool2d", b_max_pool2d, false},
    {"max_pool2d_grad", "tg_max_pool2d_grad", b_max_pool2d_grad, false},
    {"avg_pool2d", NULL, b_avg_pool2d, false},
    {"im2col", "tg_im2col", b_im2col, false},
    {"col2im", "tg_col2im", b_col2im, false},

    {"mse_loss", NULL, b_mse_loss, false},
    {"l1_loss", NULL, b_l1_loss, false},
    {"huber_loss", NULL, b_huber_loss, false},
    {"bce_loss", NULL, b_bce_loss, false},
    {"bce_with_logits", NULL, b_bce_with_logits, false},
    {"cross_entropy", NULL, b_cross_entropy, false},
    {"cross_entropy_grad", "tg_cross_entropy_grad", b_cross_entropy_grad, false},
    {"nll_loss", NULL, b_nll_loss, false},

    {"arange", NULL, b_arange, false},
    {"full", NULL, b_full, false},

    {"layer_norm", "tg_layer_norm", b_layer_norm, false},
    {"layer_norm_grad", "tg_layer_norm_grad", b_layer_norm_grad, false},
    {"attention", "tg_attention", b_attention, false},
    {"attention_qkv", "tg_attention", b_attention_qkv, false},
    {"attention_grad", "tg_attention_grad", b_attention_grad, false},
    {"gelu_tanh_grad", "tg_gelu_tanh_grad", b_gelu_tanh_grad, false},
    {"layer_norm_wgrad", "tg_layer_norm_wgrad", b_layer_norm_wgrad, false},
    {"batch_norm", "tg_batch_norm", b_batch_norm, false},
    {"batch_norm_grad", "tg_batch_norm_grad", b_batch_norm_grad, false},
    {"batch_norm_wgrad", "tg_batch_norm_wgrad", b_batch_norm_wgrad, false},
};
// clang-format on

const int fx_n_builders = (int)(sizeof fx_builders / sizeof fx_builders[0]);

// nn: modules built only from public ops (they run on any backend).
// A module owns its parameters and buffers (persistent tensors) and its children; free it
// with tg_module_free. Forward results are step tensors on the tape passed in.
#pragma once

#include <stdio.h>
#include "tapegrad/defs.h"
#include "tapegrad/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_module tg_module;

// ---- using modules ----

// y = m(x), recorded on tape. NULL + error on bad input: the message names the layer
// ("Linear(in=3, out=2): ..."; in a container, "Sequential: Linear(in=3, out=2): ...").
TG_API tg_tensor *tg_module_forward(tg_module *m, tg_tape *tape, tg_tensor *x);
// Frees the module, its children, parameters and buffers, all or nothing: TG_ERR_STATE
// (nothing freed) while a live tape still records one of its tensors, or when the module
// is a container's child (free the container). NULL is a no-op.
TG_API int tg_module_free(tg_module *m);
// Training (true) or evaluation (false) mode, recursively (Dropout, BatchNorm).
// The queries below given a NULL module (or an index out of range) set the error and return
// false / "(null)" / 0 / NULL; tg_module_params and tg_module_param_count return the error.
TG_API void tg_module_train(tg_module *m, bool training);
TG_API bool tg_module_is_training(const tg_module *m);
// Short description, e.g. "Linear(in=2, out=20)". Valid while the module lives.
TG_API const char *tg_module_name(const tg_module *m);

// Number of trainable parameters (tensors) reachable from m, in a stable order.
TG_API int tg_module_n_params(const tg_module *m);
// The i-th parameter (borrowed; the module owns it), or NULL.
TG_API tg_tensor *tg_module_param(const tg_module *m, int i);
// Its state-dict name, PyTorch style ("0.weight", "2.bias").
TG_API const char *tg_module_param_name(const tg_module *m, int i);
// Buffers (running statistics): same scheme ("1.running_mean").
TG_API int tg_module_n_buffers(const tg_module *m);
TG_API tg_tensor *tg_module_buffer(const tg_module *m, int i);
TG_API const char *tg_module_buffer_name(const tg_module *m, int i);
// Fills out[] with up to cap parameters; returns how many the module has (or an error).
TG_API int tg_module_params(const tg_module *m, tg_tensor **out, int cap);
// Total number of trainable scalars.
TG_API int64_t tg_module_param_count(const tg_module *m);
// Moves every parameter and buffer to `backend` (keeps requires_grad). TG_OK or error.
TG_API int tg_module_to(tg_module *m, tg_backend *backend);
// Keras-style table: layer, output shape, parameter count, and the total; runs one
// forward pass on zeros of `in_shape` to get the shapes, then flushes f. TG_OK or error
// (TG_ERR_IO when a write fails).
TG_API int tg_module_summary(tg_module *m, int ndim, const int64_t *in_shape, tg_dtype dtype,
                             FILE *f);

// ---- layers (each returns a new module, or NULL + error) ----

// y = x W^T + b, W [out, in]; PyTorch's default init (Kaiming-uniform, a = sqrt(5)).
TG_API tg_module *tg_linear(tg_backend *be, tg_dtype dtype, int64_t in, int64_t out,
                            bool bias, tg_rng *rng);
TG_API tg_module *tg_relu_layer(void);
TG_API tg_module *tg_tanh_layer(void);
TG_API tg_module *tg_sigmoid_layer(void);
TG_API tg_module *tg_gelu_layer(void);
TG_API tg_module *tg_leaky_relu_layer(double slope);
TG_API tg_module *tg_elu_layer(double alpha);
TG_API tg_module *tg_softplus_layer(void);
// Flattens all axes after the first.
TG_API tg_module *tg_flatten_layer(void);
// Inverted dropout with its own reference to rng (not owned); identity in eval mode.
TG_API tg_module *tg_dropout_layer(double p, tg_rng *rng);
// Batch normalisation over [N, C] (1d) or [N, C, H, W] (2d): batch statistics in training
// (running mean/var updated with `momentum`, unbiased var as PyTorch), running ones in eval.
TG_API tg_module *tg_batchnorm1d(tg_backend *be, tg_dtype dtype, int64_t features,
                                 double momentum, double eps);
TG_API tg_module *tg_batchnorm2d(tg_backend *be, tg_dtype dtype, int64_t channels,
                                 double momentum, double eps);
// Layer normalisation over the last axis of size `features`, with affine weight and bias.
TG_API tg_module *tg_layernorm(tg_backend *be, tg_dtype dtype, int64_t features, double eps);
// Lookup table [num, dim] (N(0,1) init); input holds integral indices; output [..., dim].
TG_API tg_module *tg_embedding(tg_backend *be, tg_dtype dtype, int64_t num, int64_t dim,
                               tg_rng *rng);
// 2-D convolution [N,C,H,W] -> [N,O,OH,OW] (PyTorch's default init).
TG_API tg_module *tg_conv2d_layer(tg_backend *be, tg_dtype dtype, int64_t in_ch,
                                  int64_t out_ch, int kh, int kw, const tg_conv_opts *opts,
                                  bool bias, tg_rng *rng);
TG_API tg_module *tg_maxpool2d_layer(int kh, int kw, const tg_conv_opts *opts);
TG_API tg_module *tg_avgpool2d_layer(int kh, int kw, const tg_conv_opts *opts);
// ---- transformers (nanoGPT's modules; parameter names as its state_dict) ----

// Multi-head causal self-attention on x [B, T, n_embd]: one fused qkv projection "c_attn"
// [n_embd -> 3 n_embd], tg_attention_qkv (causal; dropout_p on the weights in training), the
// output projection "c_proj", then dropout. rng initialises the weights and is kept
// (borrowed) for dropout: it must outlive the module.
TG_API tg_module *tg_causal_self_attention(tg_backend *be, tg_dtype dtype, int64_t n_embd,
                                           int64_t n_head, double dropout_p, tg_rng *rng);
// MLP block: "c_fc" [C -> 4C], GELU (tanh approximation, as GPT-2), "c_proj" [4C -> C],
// dropout.
TG_API tg_module *tg_mlp_block(tg_backend *be, tg_dtype dtype, int64_t n_embd, double dropout_p,
                               tg_rng *rng);
// Pre-LayerNorm block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
TG_API tg_module *tg_transformer_block(tg_backend *be, tg_dtype dtype, int64_t n_embd,
                                       int64_t n_head, double dropout_p, tg_rng *rng);

typedef struct tg_gpt_config {
    int64_t vocab_size;   // tokens
    int64_t block_size;   // longest context (rows of the position embedding)
    int64_t n_layer, n_head, n_embd;
    double dropout;       // embeddings, attention weights, residual branches (training)
} tg_gpt_config;

// GPT (nanoGPT): token ids [B, T] (integral values in `dtype`, T <= block_size) -> logits
// [B, T, vocab_size]. Token embedding "transformer.wte" plus position embedding
// "transformer.wpe", dropout, blocks "transformer.h.<i>", final LayerNorm "transformer.ln_f",
// and the output head tied to wte (logits = x wte^T: the embedding gets both gradients; no
// "lm_head.weight" parameter of its own). nanoGPT's init (N(0, 0.02), residual projections
// scaled by 1/sqrt(2 n_layer)) from rng, which is kept (borrowed) for dropout.
TG_API tg_module *tg_gpt(tg_backend *be, tg_dtype dtype, const tg_gpt_config *cfg, tg_rng *rng);

// Runs modules in order; takes ownership of them (also on failure).
TG_API tg_module *tg_sequential(int n, tg_module *const *modules);

// ---- your own modules (PyTorch's nn.Module subclass, in C) ----
// A module of your own has a type name, a forward function, your state, and named parts:
// parameters, buffers and child modules (built-in or your own), which it owns. It is used
// everywhere a built-in module is: tg_module_forward, inside tg_sequential or another
// module, tg_module_params and the named lists (state-dict names, nested as PyTorch's:
// "block.fc1.weight"), tg_module_to, train/eval, tg_module_summary, checkpoints. Example:
// examples/residual.c (a residual MLP whose checkpoint loads in PyTorch, strict=True).

// forward(self, tape, x): your computation from public ops and your parts (tg_module_get
// and tg_module_get_child by name, or pointers kept in your state). Read train/eval mode
// with tg_module_is_training(self).
typedef tg_tensor *(*tg_module_fn)(tg_module *self, tg_tape *tape, tg_tensor *x);
typedef struct tg_module_def {
    const char *type;                  // its name in summaries and errors ("ResidualBlock")
    tg_module_fn forward;              // required
    void *state;                       // yours; tg_module_state(m) returns it
    void (*free_state)(void *state);   // called once when the module is freed (or NULL)
} tg_module_def;
// An empty module of your own; NULL + error (the def is not consumed: its state stays yours).
TG_API tg_module *tg_module_new(const tg_module_def *def);
// Adds a part under `name` (non-empty, no '.', unique among m's parts; copied). The module
// takes ownership on success; on failure nothing changes and the part stays the caller's.
// A parameter is a persistent tensor (requires_grad is set); a buffer is a persistent
// tensor saved in checkpoints but not trained (running statistics); a child is a module not
// inside another one. Parts are added before m is put inside a container (TG_ERR_STATE
// after), and a tensor belongs to one module once.
TG_API int tg_module_add_param(tg_module *m, const char *name, tg_tensor *t);
TG_API int tg_module_add_buffer(tg_module *m, const char *name, tg_tensor *t);
TG_API int tg_module_add_child(tg_module *m, const char *name, tg_module *child);
// The state given to tg_module_new (NULL for built-in modules, with an error).
TG_API void *tg_module_state(const tg_module *m);
// A parameter or buffer of m's tree by its state-dict name ("fc1.weight"); NULL + error.
TG_API tg_tensor *tg_module_get(const tg_module *m, const char *name);
// A child of m by its name ("fc1"; a Sequential's children are "0", "1", ...); NULL + error.
TG_API tg_module *tg_module_get_child(const tg_module *m, const char *name);

// ---- initialisation (in place, seeded) ----

// U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out))
TG_API int tg_init_xavier_uniform(tg_tensor *w, double gain, tg_rng *rng);
// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))
TG_API int tg_init_xavier_normal(tg_tensor *w, double gain, tg_rng *rng);
// U(-bound, bound), bound = sqrt(6 / ((1 + a^2) fan_in))  (fan_in mode, leaky_relu gain)
TG_API int tg_init_kaiming_uniform(tg_tensor *w, double a, tg_rng *rng);
// N(0, std^2), std = sqrt(2 / ((1 + a^2) fan_in))
TG_API int tg_init_kaiming_normal(tg_tensor *w, double a, tg_rng *rng);

// ---- penalties (add to the loss) ----

// lambda * sum over params of sum(p^2)
TG_API tg_tensor *tg_l2_penalty(tg_tape *tape, int n, tg_tensor *const *params, double lambda);
// lambda * sum over params of sum(|p|)
TG_API tg_tensor *tg_l1_penalty(tg_tape *tape, int n, tg_tensor *const *params, double lambda);

#ifdef __cplusplus
}
#endif

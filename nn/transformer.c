// Transformer modules (nanoGPT's model, layer for layer): causal self-attention with a fused
// qkv projection, the MLP block, the pre-LayerNorm block, and the GPT (token and position
// embeddings, blocks, final LayerNorm, output head tied to the token embedding). Children
// carry nanoGPT's names, so parameters are named as its state_dict names them
// ("transformer.h.0.attn.c_attn.weight"), minus "lm_head.weight": the head is the token
// embedding itself (tests/fixtures/gen_gpt.py builds the same model in PyTorch).
// Activations are [B, T, C]; the linear layers run on [B*T, C] views (one gemm with bias).
// Init is nanoGPT's: N(0, 0.02) weights and embeddings, residual projections N(0, 0.02 /
// sqrt(2 n_layer)), zero biases, LayerNorm weight 1.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/module_impl.h"

// ---- building blocks ----

// Adds `child` to m under `name` (copied); on failure frees both and returns NULL.
static tg_module *add_child(tg_module *m, const char *name, tg_module *child) {
    if (!m || !child || tg__module_push_child(m, name, child)) {
        tg_module_free(child);
        tg_module_free(m);
        return NULL;
    }
    child->in_container = true;   // freed with m, never alone
    return m;
}

static tg_module *child(const tg_module *m, int i) { return m->children[i]; }

// A container's forward (nn.ModuleList and GPT's "transformer" dict have none).
static tg_tensor *container_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    (void)tape, (void)x;
    tg_set_error(TG_ERR_INVALID_ARG, m->name, "a container: call its parent's forward");
    return NULL;
}

// Re-initialises every parameter of a Linear: weight N(0, std), bias 0.
static tg_module *init_linear(tg_module *m, double std, tg_rng *rng) {
    if (!m) return NULL;
    if (tg_normal_(m->params[0], rng, 0.0, std) ||
        (m->n_params > 1 && tg_fill_(m->params[1], 0.0))) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

static tg_module *linear(tg_backend *be, tg_dtype dt, int64_t in, int64_t out, bool bias,
                         double std, tg_rng *rng) {
    return init_linear(tg_linear(be, dt, in, out, bias, rng), std, rng);
}

// A Linear applied to x [..., in] as one [rows, in] gemm, reshaped back to [..., out].
static tg_tensor *linear_rows(tg_module *lin, tg_tape *tape, tg_tensor *x) {
    if (!x) return NULL;
    int nd = tg_ndim(x);
    int64_t sh[TG_MAX_DIMS];
    memcpy(sh, tg_shape(x), (size_t)nd * sizeof *sh);
    tg_tensor *x2 = tg_reshape(tape, x, 2, (int64_t[]){-1, sh[nd - 1]});
    sh[nd - 1] = tg_shape(lin->params[0])[0];
    return tg_reshape(tape, tg_module_forward(lin, tape, x2), nd, sh);
}

// LayerNorm with nanoGPT's eps (1e-5).
static tg_module *layernorm(tg_backend *be, tg_dtype dt, int64_t c) {
    return tg_layernorm(be, dt, c, 1e-5);
}

// The dropout of a transformer kind (nanoGPT's attn/resid/embedding dropout), part of its
// configuration.
typedef struct {
    double p;      // in [0, 1)
    tg_rng *rng;   // borrowed: the caller's
} drop_cfg;

// tg_dropout with d's p and rng, while m trains.
static tg_tensor *dropout(const tg_module *m, const drop_cfg *d, tg_tape *tape, tg_tensor *x) {
    return tg_dropout(tape, x, d->p, d->rng, m->training);
}

static bool bad_config(const char *where, int64_t c, int64_t h, double p, tg_rng *rng) {
    if (c > 0 && h > 0 && c % h == 0 && p >= 0 && p < 1 && rng) return false;
    tg_set_error(TG_ERR_INVALID_ARG, where, "need n_embd > 0 divisible by n_head > 0, dropout "
                 "in [0, 1) and an rng (got n_embd %lld, n_head %lld, dropout %g, rng %s)",
                 (long long)c, (long long)h, p, rng ? "given" : "NULL");
    return true;
}

// ---- CausalSelfAttention: y = c_proj(attention(c_attn(x))), dropout on weights and output ----
// children c_attn [C -> 3C], c_proj [C -> C].

typedef struct {
    int64_t n_embd, n_head;   // C, and the heads C is split into
    drop_cfg drop;            // on the attention weights and the output
} attention_cfg;
static const tg__module_cfg_type ATTENTION_CFG = {"attention_cfg", sizeof(attention_cfg)};
static const attention_cfg *attention_of(const tg_module *m) {
    return tg__module_cfg(m, &ATTENTION_CFG);
}

static tg_tensor *attn_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const attention_cfg *c = attention_of(m);
    if (x && (tg_ndim(x) != 3 || tg_shape(x)[2] != c->n_embd)) {
        tg_set_error(TG_ERR_SHAPE, m->name, "input must be [B, T, %lld], got %d dims",
                     (long long)c->n_embd, tg_ndim(x));
        return NULL;
    }
    tg_attention_opts o = {.causal = true, .dropout_p = c->drop.p, .training = m->training,
                           .rng = c->drop.rng};
    tg_tensor *y = tg_attention_qkv(tape, linear_rows(child(m, 0), tape, x), (int)c->n_head, &o);
    return dropout(m, &c->drop, tape, linear_rows(child(m, 1), tape, y));
}

static tg_module *attention_module(tg_backend *be, tg_dtype dt, int64_t c, int64_t h,
                                   int64_t n_layer, double p, bool bias, tg_rng *rng) {
    if (bad_config("tg_causal_self_attention", c, h, p, rng)) return NULL;
    char name[96];
    snprintf(name, sizeof name, "CausalSelfAttention(n_embd=%lld, n_head=%lld)", (long long)c,
             (long long)h);
    attention_cfg cfg = {.n_embd = c, .n_head = h, .drop = {.p = p, .rng = rng}};
    tg_module *m = tg__module_new_cfg(name, attn_forward, &ATTENTION_CFG, &cfg);
    if (!m) return NULL;
    m = add_child(m, "c_attn", linear(be, dt, c, 3 * c, bias, 0.02, rng));
    m = add_child(m, "c_proj", linear(be, dt, c, c, bias, 0.02 / sqrt(2.0 * (double)n_layer), rng));
    return tg__module_finish(m);
}

tg_module *tg_causal_self_attention(tg_backend *be, tg_dtype dtype, int64_t n_embd,
                                    int64_t n_head, double dropout_p, tg_rng *rng) {
    unsigned mark = tg_error_mark();
    tg_module *m = attention_module(be, dtype, n_embd, n_head, 1, dropout_p, true, rng);
    if (!m) tg_error_context(mark, "tg_causal_self_attention");
    return m;
}

// ---- MLP: y = dropout(c_proj(gelu_tanh(c_fc(x)))), c_fc [C -> 4C], c_proj [4C -> C] ----

typedef struct {
    drop_cfg drop;   // on the output
} mlp_cfg;
static const tg__module_cfg_type MLP_CFG = {"mlp_cfg", sizeof(mlp_cfg)};
static const mlp_cfg *mlp_of(const tg_module *m) { return tg__module_cfg(m, &MLP_CFG); }

static tg_tensor *mlp_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    tg_tensor *h = tg_gelu_tanh(tape, linear_rows(child(m, 0), tape, x));
    return dropout(m, &mlp_of(m)->drop, tape, linear_rows(child(m, 1), tape, h));
}

static tg_module *mlp_module(tg_backend *be, tg_dtype dt, int64_t c, int64_t n_layer, double p,
                             bool bias, tg_rng *rng) {
    if (bad_config("tg_mlp_block", c, 1, p, rng)) return NULL;
    char name[96];
    snprintf(name, sizeof name, "MLP(n_embd=%lld)", (long long)c);
    mlp_cfg cfg = {.drop = {.p = p, .rng = rng}};
    tg_module *m = tg__module_new_cfg(name, mlp_forward, &MLP_CFG, &cfg);
    if (!m) return NULL;
    m = add_child(m, "c_fc", linear(be, dt, c, 4 * c, bias, 0.02, rng));
    m = add_child(m, "c_proj", linear(be, dt, 4 * c, c, bias, 0.02 / sqrt(2.0 * (double)n_layer),
                                      rng));
    return tg__module_finish(m);
}

tg_module *tg_mlp_block(tg_backend *be, tg_dtype dtype, int64_t n_embd, double dropout_p,
                        tg_rng *rng) {
    unsigned mark = tg_error_mark();
    tg_module *m = mlp_module(be, dtype, n_embd, 1, dropout_p, true, rng);
    if (!m) tg_error_context(mark, "tg_mlp_block");
    return m;
}

// ---- Block: x + attn(ln_1(x)), then + mlp(ln_2(x)) ----

static tg_tensor *block_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    tg_tensor *a = tg_module_forward(child(m, 1), tape, tg_module_forward(child(m, 0), tape, x));
    x = tg_add(tape, x, a);
    return tg_add(tape, x, tg_module_forward(child(m, 3), tape,
                                             tg_module_forward(child(m, 2), tape, x)));
}

static tg_module *block_module(tg_backend *be, tg_dtype dt, int64_t c, int64_t h, int64_t n_layer,
                               double p, bool bias, tg_rng *rng) {
    if (bad_config("tg_transformer_block", c, h, p, rng)) return NULL;
    char name[96];
    snprintf(name, sizeof name, "Block(n_embd=%lld, n_head=%lld)", (long long)c, (long long)h);
    tg_module *m = tg__module_new(name, block_forward);
    m = add_child(m, "ln_1", layernorm(be, dt, c));
    m = add_child(m, "attn", attention_module(be, dt, c, h, n_layer, p, bias, rng));
    m = add_child(m, "ln_2", layernorm(be, dt, c));
    m = add_child(m, "mlp", mlp_module(be, dt, c, n_layer, p, bias, rng));
    return tg__module_finish(m);
}

tg_module *tg_transformer_block(tg_backend *be, tg_dtype dtype, int64_t n_embd, int64_t n_head,
                                double dropout_p, tg_rng *rng) {
    unsigned mark = tg_error_mark();
    tg_module *m = block_module(be, dtype, n_embd, n_head, 1, dropout_p, true, rng);
    if (!m) tg_error_context(mark, "tg_transformer_block");
    return m;
}

// ---- GPT: idx [B, T] (integral token ids in the model's dtype) -> logits [B, T, vocab] ----
// child 0 "transformer" holds wte, wpe, h (the blocks), ln_f.

typedef struct {
    int64_t block_size;   // the longest sequence (wpe's rows)
    drop_cfg drop;        // on the embeddings
} gpt_cfg;
static const tg__module_cfg_type GPT_CFG = {"gpt_cfg", sizeof(gpt_cfg)};
static const gpt_cfg *gpt_of(const tg_module *m) { return tg__module_cfg(m, &GPT_CFG); }

static tg_tensor *gpt_forward(tg_module *m, tg_tape *tape, tg_tensor *idx) {
    const gpt_cfg *g = gpt_of(m);
    tg_module *tr = child(m, 0), *wte = child(tr, 0), *h = child(tr, 2);
    if (idx && (tg_ndim(idx) != 2 || tg_shape(idx)[1] < 1 || tg_shape(idx)[1] > g->block_size)) {
        tg_set_error(TG_ERR_SHAPE, m->name, "input must be token ids [B, T] with 1 <= T <= "
                     "block_size %lld, got %d dims (T = %lld)", (long long)g->block_size,
                     tg_ndim(idx), tg_ndim(idx) == 2 ? (long long)tg_shape(idx)[1] : -1LL);
        return NULL;
    }
    int64_t t = idx ? tg_shape(idx)[1] : 0;
    tg_tensor *pos = tg_slice(tape, child(tr, 1)->params[0], 0, 0, t, 1);   // wpe[0:T]
    tg_tensor *x = dropout(m, &g->drop, tape,
                           tg_add(tape, tg_module_forward(wte, tape, idx), pos));
    for (int l = 0; l < h->n_children; l++) x = tg_module_forward(child(h, l), tape, x);
    x = tg_module_forward(child(tr, 3), tape, x);
    tg_tensor *w = wte->params[0];   // tied head: logits = x wte^T
    int64_t c = tg_shape(w)[1], v = tg_shape(w)[0];
    tg_tensor *logits = tg_matmul_ex(tape, tg_reshape(tape, x, 2, (int64_t[]){-1, c}), w, false,
                                     true);
    return idx ? tg_reshape(tape, logits, 3, (int64_t[]){tg_shape(idx)[0], t, v}) : NULL;
}

static tg_module *embedding(tg_backend *be, tg_dtype dt, int64_t n, int64_t c, tg_rng *rng) {
    tg_module *e = tg_embedding(be, dt, n, c, rng);
    if (e && tg_normal_(e->params[0], rng, 0.0, 0.02)) {
        tg_module_free(e);
        return NULL;
    }
    return e;
}

static tg_module *container(const char *name) {
    return tg__module_new(name, container_forward);
}

static tg_module *gpt_module(tg_backend *be, tg_dtype dtype, const tg_gpt_config *cfg,
                             tg_rng *rng) {
    if (!cfg || cfg->vocab_size < 1 || cfg->block_size < 1 || cfg->n_layer < 1 ||
        bad_config("tg_gpt", cfg->n_embd, cfg->n_head, cfg->dropout, rng)) {
        if (!cfg || !tg_last_status())
            tg_set_error(TG_ERR_INVALID_ARG, "tg_gpt", "need a config with vocab_size, "
                         "block_size and n_layer >= 1");
        return NULL;
    }
    const tg_gpt_config *k = cfg;
    char name[96];
    snprintf(name, sizeof name, "GPT(layers=%d, heads=%d, embd=%d, vocab=%d, block=%d)",
             (int)k->n_layer, (int)k->n_head, (int)k->n_embd, (int)k->vocab_size,
             (int)k->block_size);
    tg_module *h = container("ModuleList");
    for (int64_t l = 0; l < k->n_layer && h; l++) {
        char idx[24];
        snprintf(idx, sizeof idx, "%lld", (long long)l);
        h = add_child(h, idx, block_module(be, dtype, k->n_embd, k->n_head, k->n_layer,
                                           k->dropout, true, rng));
    }
    h = tg__module_finish(h);
    tg_module *tr = container("transformer");
    tr = add_child(tr, "wte", embedding(be, dtype, k->vocab_size, k->n_embd, rng));
    tr = add_child(tr, "wpe", embedding(be, dtype, k->block_size, k->n_embd, rng));
    tr = add_child(tr, "h", h);
    tr = add_child(tr, "ln_f", layernorm(be, dtype, k->n_embd));
    gpt_cfg gc = {.block_size = k->block_size, .drop = {.p = k->dropout, .rng = rng}};
    tg_module *m = tg__module_new_cfg(name, gpt_forward, &GPT_CFG, &gc);
    return tg__module_finish(add_child(m, "transformer", tg__module_finish(tr)));
}

tg_module *tg_gpt(tg_backend *be, tg_dtype dtype, const tg_gpt_config *cfg, tg_rng *rng) {
    unsigned mark = tg_error_mark();
    tg_module *m = gpt_module(be, dtype, cfg, rng);
    if (!m) tg_error_context(mark, "tg_gpt");
    return m;
}

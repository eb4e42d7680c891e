// The transformer configurations (issue 15): gpt-mini, the character-level GPT of
// examples/gpt.c (4 layers, 4 heads, 128 dimensions, context 64, vocabulary 96) on a fixed
// batch of 32 random sequences, with forward (+ loss), backward, step (AdamW, PyTorch's
// defaults) and gemm: the step's matrix products run by BLIS alone (the four linear layers
// of each block and the tied head, three products each, and per batch and head the six
// products of attention: S = Q K^T, O = P V, dP = dO V^T, dV = P^T dO, dQ = dS K,
// dK = dS^T Q), and gemm-lin: the same without attention's products (the products the
// step itself runs through the gemm: its attention is one fused kernel). And op rows: attention over [B, H, T, D] (causal; T = 64 and 256) and
// layer_norm over [R, C], forward and backward.
#include <blis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { V = 96, T = 64, L = 4, H = 4, C = 128, B = 32 };

const char *const bench_gpt_names[] = {"gpt-mini", "attention", "layer_norm", NULL};

typedef struct gpt_ctx {
    const bench_opts *o;
    tg_tape *tape;
    tg_module *net;
    tg_optim *opt;
    tg_tensor *idx, *tgt;
    void *act[4], *w[L][4], *dw[L][4], *head, *dhead, *att[2];   // gemm-only buffers
    bool with_attention;   // the gemm figure runs attention's products too
    int64_t nodes;
} gpt_ctx;

static tg_tensor *gpt_loss(gpt_ctx *c) {
    tg_tensor *logits = tg_module_forward(c->net, c->tape, c->idx);
    tg_tensor *flat = tg_reshape(c->tape, logits, 2, (int64_t[]){B * T, V});
    return tg_cross_entropy(c->tape, flat, c->tgt, NULL, TG_REDUCE_MEAN);
}

static double gpt_fig_forward(void *ctx) {
    gpt_ctx *c = ctx;
    double t0 = bench_now();
    tg_tensor *loss = gpt_loss(c);
    tg_backend_synchronize(c->o->be);
    double t = bench_now() - t0;
    c->nodes = tg_tape_size(c->tape);
    tg_tape_reset(c->tape);
    return loss ? t : -1;
}

static double gpt_fig_backward(void *ctx) {
    gpt_ctx *c = ctx;
    tg_tensor *loss = gpt_loss(c);
    if (!loss) return -1;
    double t0 = bench_now();
    int st = tg_backward(c->tape, loss);
    tg_backend_synchronize(c->o->be);
    double t = bench_now() - t0;
    st = st ? st : tg_optim_zero_grad(c->opt);
    tg_tape_reset(c->tape);
    return st ? -1 : t;
}

static double gpt_fig_step(void *ctx) {
    gpt_ctx *c = ctx;
    double t0 = bench_now();
    tg_tensor *loss = gpt_loss(c);
    int st = loss ? tg_backward(c->tape, loss) : -1;
    st = st ? st : tg_optim_step(c->opt);
    st = st ? st : tg_optim_zero_grad(c->opt);
    tg_tape_reset(c->tape);
    tg_backend_synchronize(c->o->be);
    double t = bench_now() - t0;
    return st ? -1 : t;
}

// ---- gemm-only: C[m,n] = op(A) op(B) through BLIS's typed API, element strides ----

static void gemm(const gpt_ctx *c, int64_t m, int64_t n, int64_t k, const void *a, int64_t a_rs,
                 int64_t a_cs, const void *b, int64_t b_rs, int64_t b_cs, void *cc, int64_t c_rs) {
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(c->o->threads > 0 ? c->o->threads : 1, &rntm);
    if (c->o->dtype == TG_F64) {
        double one = 1.0, zero = 0.0;
        bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, (double *)a, a_rs, a_cs,
                     (double *)b, b_rs, b_cs, &zero, cc, c_rs, 1, NULL, &rntm);
    } else {
        float one = 1.0f, zero = 0.0f;
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, (float *)a, a_rs, a_cs,
                     (float *)b, b_rs, b_cs, &zero, cc, c_rs, 1, NULL, &rntm);
    }
}

// A linear layer y [M,N] = x [M,K] W^T (W [N,K]) and its backward: dx = dy W, dW = dy^T x.
static void linear3(const gpt_ctx *c, int64_t m, int64_t k, int64_t n, void *x, void *w, void *y,
                    void *dy, void *dx, void *dw) {
    gemm(c, m, n, k, x, k, 1, w, 1, k, y, n);
    gemm(c, m, k, n, dy, n, 1, w, k, 1, dx, k);
    gemm(c, n, k, m, dy, 1, n, x, k, 1, dw, k);
}

static size_t esz(const gpt_ctx *c) { return tg_dtype_size(c->o->dtype); }

// The six attention products of every (batch, head), q, k, v read in place from a [B*T, 3C]
// qkv buffer (as the fused kernel reads them).
static void attention6(const gpt_ctx *c, void *qkv, void *o, void *dout) {
    int64_t d = C / H, rs = 3 * C;
    char *s = c->att[0], *p = c->att[1];
    for (int64_t bh = 0; bh < B * H; bh++) {
        size_t es = esz(c), base = (size_t)((bh / H) * T * 3 * C + (bh % H) * d) * es;
        char *q = (char *)qkv + base, *k = q + (size_t)C * es, *v = q + (size_t)(2 * C) * es;
        char *ob = (char *)o + (size_t)((bh / H) * T * C + (bh % H) * d) * es;
        char *dob = (char *)dout + (size_t)((bh / H) * T * C + (bh % H) * d) * es;
        gemm(c, T, T, d, q, rs, 1, k, 1, rs, s, T);          // S = Q K^T
        gemm(c, T, d, T, p, T, 1, v, rs, 1, ob, C);          // O = P V
        gemm(c, T, T, d, dob, C, 1, v, 1, rs, s, T);         // dP = dO V^T
        gemm(c, T, d, T, p, 1, T, dob, C, 1, v, rs);         // dV = P^T dO (into v's slot)
        gemm(c, T, d, T, s, T, 1, k, rs, 1, q, rs);          // dQ = dS K
        gemm(c, T, d, T, s, 1, T, q, rs, 1, k, rs);          // dK = dS^T Q
    }
}

static double gpt_fig_gemm(void *ctx) {
    gpt_ctx *c = ctx;
    const int64_t n = B * T;
    void *x = c->act[0], *big = c->act[1], *dx = c->act[2], *dbig = c->act[3];
    double t0 = bench_now();
    for (int l = 0; l < L; l++) {
        linear3(c, n, C, 3 * C, x, c->w[l][0], big, dbig, dx, c->dw[l][0]);   // c_attn
        if (c->with_attention) attention6(c, big, x, dx);
        linear3(c, n, C, C, x, c->w[l][1], dx, dx, x, c->dw[l][1]);           // attn c_proj
        linear3(c, n, C, 4 * C, x, c->w[l][2], big, dbig, dx, c->dw[l][2]);   // c_fc
        linear3(c, n, 4 * C, C, big, c->w[l][3], x, dx, dbig, c->dw[l][3]);   // mlp c_proj
    }
    linear3(c, n, C, V, x, c->head, big, dbig, dx, c->dhead);                 // tied head
    return bench_now() - t0;
}

// Nominal FLOPs of a forward pass (x2 backward, x3 step): 2 per multiply-add of the linear
// layers, the head and attention's two products (the full T x T, as the gemm figure runs).
static double gpt_flops(void) {
    double n = (double)B * T, lin = n * 12.0 * C * C, head = n * C * V;
    double att = (double)B * H * 2.0 * T * T * (C / H);
    return 2.0 * (L * (lin + att) + head);
}

// ---- set-up ----

static void *host_randn(const gpt_ctx *c, tg_rng *rng, int64_t n) {
    size_t bytes = ((size_t)n * esz(c) + 256 + 63) & ~(size_t)63;   // BLIS sup reads past
    void *p = aligned_alloc(64, bytes);
    for (int64_t i = 0; p && i < n; i++) {
        double v = 0.1 * tg_rng_normal(rng);
        if (c->o->dtype == TG_F64) ((double *)p)[i] = v;
        else ((float *)p)[i] = (float)v;
    }
    return p;
}

static int gemm_setup(gpt_ctx *c) {
    tg_rng *rng = tg_rng_new(43);
    int64_t n = B * T, sizes[4] = {3 * C * C, C * C, 4 * C * C, 4 * C * C};
    bool ok = rng != NULL;
    for (int i = 0; i < 4; i++) ok &= (c->act[i] = host_randn(c, rng, n * (i % 2 ? 4 * C : C))) != 0;
    for (int l = 0; l < L; l++)
        for (int i = 0; i < 4; i++)
            ok &= (c->w[l][i] = host_randn(c, rng, sizes[i])) && (c->dw[l][i] = host_randn(c, rng, sizes[i]));
    ok &= (c->head = host_randn(c, rng, V * C)) && (c->dhead = host_randn(c, rng, V * C));
    ok &= (c->att[0] = host_randn(c, rng, T * T)) && (c->att[1] = host_randn(c, rng, T * T));
    tg_rng_free(rng);
    if (!ok) fprintf(stderr, "tg-bench: gpt-mini: gemm buffers: out of memory\n");
    return ok ? 0 : -1;
}

static void gpt_free(gpt_ctx *c) {
    tg_optim_free(c->opt);
    tg_tape_free(c->tape);
    tg_module_free(c->net);
    tg_free(c->idx);
    tg_free(c->tgt);
    for (int i = 0; i < 4; i++) free(c->act[i]);
    for (int l = 0; l < L; l++)
        for (int i = 0; i < 4; i++) free(c->w[l][i]), free(c->dw[l][i]);
    free(c->head), free(c->dhead), free(c->att[0]), free(c->att[1]);
}

// n random ids in [0, classes) shaped [rows, n / rows].
static tg_tensor *ids(const bench_opts *o, tg_rng *rng, int64_t rows, int64_t n, int64_t classes) {
    tg_tensor *flat = bench_labels(o, rng, n, classes), *t = NULL;
    size_t bytes = (size_t)n * tg_dtype_size(o->dtype);
    void *host = flat ? malloc(bytes) : NULL;
    if (host && !tg_copy_to_host(flat, host, bytes))
        t = tg_tensor_from(o->be, o->dtype, 2, (int64_t[]){rows, n / rows}, host);
    free(host);
    tg_free(flat);
    return t;
}

static int gpt_setup(gpt_ctx *c, const bench_opts *o, tg_rng *rng) {
    memset(c, 0, sizeof *c);
    c->o = o;
    tg_gpt_config cfg = {.vocab_size = V, .block_size = T, .n_layer = L, .n_head = H, .n_embd = C};
    c->net = tg_gpt(o->be, o->dtype, &cfg, rng);
    tg_tensor *params[64];
    int np = c->net ? tg_module_params(c->net, params, 64) : 0;
    c->opt = c->net ? tg_optim_new(TG_OPTIM_ADAMW, np, params, NULL) : NULL;
    c->tape = tg_tape_new();
    c->idx = ids(o, rng, B, B * T, V);
    c->tgt = bench_labels(o, rng, B * T, V);
    if (c->net && c->opt && c->tape && c->idx && c->tgt) return 0;
    fprintf(stderr, "tg-bench: gpt-mini: set-up failed: %s\n", tg_last_error());
    return -1;
}

static int run_gpt_mini(const bench_opts *o) {
    const char *name = "gpt-mini";
    gpt_ctx c;
    tg_rng *rng = tg_rng_new(42);
    int st = gpt_setup(&c, o, rng);
    double f = gpt_flops();
    st = st ? st : bench_figure(o, name, "forward", gpt_fig_forward, &c, f, &c.nodes, 0);
    st = st ? st : bench_figure(o, name, "backward", gpt_fig_backward, &c, 2 * f, NULL, 0);
    st = st ? st : bench_figure(o, name, "step", gpt_fig_step, &c, 3 * f, NULL, 0);
    if (!st && strcmp(o->backend_name, "cpu") == 0) st = gemm_setup(&c);
    c.with_attention = true;
    if (!st && c.act[0]) st = bench_figure(o, name, "gemm", gpt_fig_gemm, &c, 3 * f, NULL, 0);
    c.with_attention = false;
    double fa = 2.0 * L * B * H * 2.0 * T * T * (C / H);   // attention's share of f
    if (!st && c.act[0])
        st = bench_figure(o, name, "gemm-lin", gpt_fig_gemm, &c, 3 * (f - fa), NULL, 0);
    gpt_free(&c);
    tg_rng_free(rng);
    return st;
}

// ---- op rows: fused attention (q, k, v [B,H,T,D], causal) and layer_norm (x [R,C], affine) ----

typedef struct tf_case {
    const char *name;
    bool attention;
    int64_t d[4];   // attention: B, H, T, D; layer_norm: R, C
} tf_case;

static const tf_case tf_cases[] = {
    {"attention-32x4x64x32", true, {32, 4, 64, 32}},
    {"attention-8x4x256x32", true, {8, 4, 256, 32}},
    {"layer_norm-2048x128", false, {2048, 128}},
    {"layer_norm-2048x512", false, {2048, 512}},
};
#define N_TF ((int)(sizeof tf_cases / sizeof tf_cases[0]))

typedef struct tf_ctx {
    const tf_case *c;
    const bench_opts *o;
    tg_tape *tape;
    tg_tensor *in[3], *seed;
} tf_ctx;

static tg_tensor *tf_forward(tf_ctx *x) {
    if (!x->c->attention) return tg_layer_norm(x->tape, x->in[0], x->in[1], x->in[2], 1e-5);
    tg_attention_opts causal = {.causal = true};
    return tg_attention(x->tape, x->in[0], x->in[1], x->in[2], &causal);
}

static double tf_fig_forward(void *ctx) {
    tf_ctx *x = ctx;
    double t0 = bench_now();
    tg_tensor *y = tf_forward(x);
    tg_backend_synchronize(x->o->be);
    double t = bench_now() - t0;
    tg_tape_reset(x->tape);
    return y ? t : -1;
}

static double tf_fig_backward(void *ctx) {
    tf_ctx *x = ctx;
    tg_tensor *y = tf_forward(x);
    if (!y) return -1;
    double t0 = bench_now();
    int st = tg_backward_ex(x->tape, y, x->seed, NULL);
    tg_backend_synchronize(x->o->be);
    double t = bench_now() - t0;
    st = st ? st : tg_zero_grad(3, x->in);
    tg_tape_reset(x->tape);
    return st ? -1 : t;
}

static int tf_run(const bench_opts *o, const tf_case *c) {
    tf_ctx x = {.c = c, .o = o, .tape = tg_tape_new()};
    tg_rng *rng = tg_rng_new(7);
    const int64_t *d = c->d;
    for (int i = 0; i < 3; i++) {
        bool vec = !c->attention && i > 0;
        x.in[i] = c->attention ? bench_randn(o, rng, 4, d, 1.0, true)
                  : bench_randn(o, rng, vec ? 1 : 2, vec ? d + 1 : d, 1.0, true);
    }
    tg_rng_free(rng);
    tg_tensor *y = x.tape && x.in[0] && x.in[1] && x.in[2] ? tf_forward(&x) : NULL;
    x.seed = y ? tg_tensor_new(o->be, o->dtype, tg_ndim(y), tg_shape(y)) : NULL;
    if (x.seed && tg_fill_(x.seed, 1.0)) x.seed = (tg_free(x.seed), NULL);
    if (x.tape) tg_tape_reset(x.tape);
    int st = x.seed ? 0 : -1;
    if (st) fprintf(stderr, "tg-bench: %s: set-up failed: %s\n", c->name, tg_last_error());
    double f = c->attention ? 4.0 * (double)(d[0] * d[1]) * (double)(d[2] * d[2] * d[3]) : 0;
    st = st ? st : bench_figure(o, c->name, "forward", tf_fig_forward, &x, f, NULL, 0);
    st = st ? st : bench_figure(o, c->name, "backward", tf_fig_backward, &x, 2 * f, NULL, 0);
    tg_tape_free(x.tape);
    for (int i = 0; i < 3; i++) tg_free(x.in[i]);
    tg_free(x.seed);
    return st;
}

// name: gpt-mini, an op case, or its family (attention, layer_norm).
int bench_run_gpt(const bench_opts *o, const char *name) {
    if (strcmp(name, "gpt-mini") == 0) return run_gpt_mini(o);
    bool any = false;
    int st = 0;
    for (int i = 0; i < N_TF && !st; i++) {
        size_t n = strlen(name);
        bool family = strncmp(tf_cases[i].name, name, n) == 0 && tf_cases[i].name[n] == '-';
        if (strcmp(tf_cases[i].name, name) != 0 && !family) continue;
        any = true;
        st = tf_run(o, &tf_cases[i]);
    }
    return any ? st : 1;
}

// The MLP configurations of issue 6 (tiny-sgd ... wide) and chain100. Per MLP: forward
// (+ loss), backward, the full training step (forward, loss, backward, optimizer step,
// zero_grad, tape reset) and "gemm": the step's matrix products run by BLIS alone, with
// the same shapes, strides and thread count as tapegrad's linear layers use
// (y = x W^T; dx = dy W; dW = dy^T x; the first layer's dx is not needed).
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_LAYERS 4

typedef struct mlp_spec {
    const char *name;
    int n_linear;                    // Linear layers; ReLU between them
    int64_t sizes[MAX_LAYERS + 1];   // in, hidden..., out
    int64_t batch;
    tg_optim_kind optim;
    double lr;
    bool mse;                        // MSE against [batch, out] targets, else cross-entropy
} mlp_spec;

static const mlp_spec specs[] = {
    {"tiny-sgd", 4, {2, 20, 40, 20, 2}, 10, TG_OPTIM_SGD, 0.015, false},
    {"seed-diabetes", 3, {8, 20, 20, 2}, 614, TG_OPTIM_ADAM, 0.01, false},
    {"seed-moons", 3, {2, 20, 20, 2}, 8000, TG_OPTIM_ADAM, 0.01, false},
    {"mnist-mlp", 3, {784, 1024, 1024, 10}, 256, TG_OPTIM_ADAM, 0.001, false},
    {"wide", 3, {1024, 4096, 4096, 1024}, 512, TG_OPTIM_ADAM, 0.001, true},
    // issue 16's memory-bound floor: batch 1, 1.1 M parameters; Adam's pass over its state
    // is most of the step (figure "floor": that pass alone, in plain C)
    {"mem-floor", 3, {32, 1024, 1024, 10}, 1, TG_OPTIM_ADAM, 0.001, false},
};
#define N_SPECS ((int)(sizeof specs / sizeof specs[0]))

const char *const bench_mlp_names[] = {"tiny-sgd", "seed-diabetes", "seed-moons", "mnist-mlp",
                                       "wide", "mem-floor", NULL};

typedef struct mlp_ctx {
    const bench_opts *o;
    const mlp_spec *s;
    tg_tape *tape;
    tg_module *net;
    tg_optim *opt;
    tg_tensor *x, *y;   // x [batch, in]; y: labels [batch] or targets [batch, out]
    // gemm-only buffers, per layer l (M = batch, K = sizes[l], N = sizes[l+1]):
    // x [M,K], w [N,K], y [M,N], dy [M,N], dx [M,K], dw [N,K]
    void *gx[MAX_LAYERS], *gw[MAX_LAYERS], *gy[MAX_LAYERS], *gdy[MAX_LAYERS];
    void *gdx[MAX_LAYERS], *gdw[MAX_LAYERS];
    int64_t nodes;
} mlp_ctx;

// ---- the timed pieces ----

static tg_tensor *forward_loss(mlp_ctx *c) {
    tg_tensor *out = tg_module_forward(c->net, c->tape, c->x);
    return c->s->mse ? tg_mse_loss(c->tape, out, c->y, TG_REDUCE_MEAN)
                     : tg_cross_entropy(c->tape, out, c->y, NULL, TG_REDUCE_MEAN);
}

static double fig_forward(void *ctx) {
    mlp_ctx *c = ctx;
    double t0 = bench_now();
    tg_tensor *loss = forward_loss(c);
    tg_backend_synchronize(c->o->be);
    double t = bench_now() - t0;
    c->nodes = tg_tape_size(c->tape);
    tg_tape_reset(c->tape);
    return loss ? t : -1;
}

static double fig_backward(void *ctx) {
    mlp_ctx *c = ctx;
    tg_tensor *loss = forward_loss(c);
    if (!loss) return -1;
    double t0 = bench_now();
    int st = tg_backward(c->tape, loss);
    tg_backend_synchronize(c->o->be);
    double t = bench_now() - t0;
    st = st ? st : tg_optim_zero_grad(c->opt);
    tg_tape_reset(c->tape);
    return st ? -1 : t;
}

static double fig_step(void *ctx) {
    mlp_ctx *c = ctx;
    double t0 = bench_now();
    tg_tensor *loss = forward_loss(c);
    int st = loss ? tg_backward(c->tape, loss) : -1;
    st = st ? st : tg_optim_step(c->opt);
    st = st ? st : tg_optim_zero_grad(c->opt);
    tg_tape_reset(c->tape);
    tg_backend_synchronize(c->o->be);
    double t = bench_now() - t0;
    return st ? -1 : t;
}

// C[m,n] = A @ B with element strides (row stride, column stride), as tapegrad's cpu
// backend calls BLIS: a local rntm_t carries the thread count.
static void gemm(const mlp_ctx *c, int64_t m, int64_t n, int64_t k, const void *a, int64_t a_rs,
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

static double fig_gemm(void *ctx) {
    mlp_ctx *c = ctx;
    const int64_t *sz = c->s->sizes, m = c->s->batch;
    double t0 = bench_now();
    for (int l = 0; l < c->s->n_linear; l++) {   // y = x @ w^T
        int64_t k = sz[l], n = sz[l + 1];
        gemm(c, m, n, k, c->gx[l], k, 1, c->gw[l], 1, k, c->gy[l], n);
    }
    for (int l = c->s->n_linear - 1; l >= 0; l--) {
        int64_t k = sz[l], n = sz[l + 1];
        if (l > 0) gemm(c, m, k, n, c->gdy[l], n, 1, c->gw[l], k, 1, c->gdx[l], k);   // dy @ w
        gemm(c, n, k, m, c->gdy[l], 1, n, c->gx[l], k, 1, c->gdw[l], k);               // dy^T @ x
    }
    return bench_now() - t0;
}

// The least memory traffic an Adam step can have: one pass reading p, g, m, v and writing
// p, m, v for every parameter (plain C, the same element count as the model). Adam's
// division and square root are left out (libm's sqrtf keeps the loop scalar: errno), so
// that the loop vectorises and runs at the memory's speed: the floor is the traffic. The
// step's time over this one is how far it is from that floor.
typedef struct floor_ctx {
    int64_t n;
    float *p, *g, *m, *v;
} floor_ctx;

static double fig_floor(void *ctx) {
    floor_ctx *f = ctx;
    const float b1 = 0.9f, b2 = 0.999f, lr = 1e-3f, eps = 1e-8f;
    double t0 = bench_now();
    float *restrict p = f->p, *restrict m = f->m, *restrict v = f->v;
    const float *restrict g = f->g;
    for (int64_t i = 0; i < f->n; i++) {
        float mi = b1 * m[i] + (1 - b1) * g[i], vi = b2 * v[i] + (1 - b2) * g[i] * g[i];
        m[i] = mi, v[i] = vi;
        p[i] -= lr * mi * (vi + eps);
    }
    return bench_now() - t0;
}

static int run_floor(const bench_opts *o, const mlp_spec *s) {
    floor_ctx f = {0};
    for (int l = 0; l < s->n_linear; l++)
        f.n += s->sizes[l + 1] * (s->sizes[l] + 1);   // weight and bias
    size_t bytes = ((size_t)f.n * sizeof(float) + 63) & ~(size_t)63;
    f.p = aligned_alloc(64, bytes), f.g = aligned_alloc(64, bytes);
    f.m = aligned_alloc(64, bytes), f.v = aligned_alloc(64, bytes);
    int st = f.p && f.g && f.m && f.v ? 0 : -1;
    for (int64_t i = 0; !st && i < f.n; i++) f.p[i] = 0.01f, f.g[i] = 0.001f, f.m[i] = f.v[i] = 0;
    if (!st) st = bench_figure(o, s->name, "floor", fig_floor, &f, 0, NULL, 0);
    free(f.p), free(f.g), free(f.m), free(f.v);
    return st;
}

// ---- set-up ----

// Padded by 256 bytes: BLIS 0.9's small-matrix (sup) kernels read a little past the end
// of an operand (valgrind: 16 bytes after an 848-byte block in tiny-sgd's gemms).
static void *host_randn(const bench_opts *o, tg_rng *rng, int64_t n) {
    size_t es = tg_dtype_size(o->dtype), bytes = ((size_t)n * es + 256 + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    for (int64_t i = 0; p && i < n; i++) {
        double v = 0.1 * tg_rng_normal(rng);
        if (o->dtype == TG_F64) ((double *)p)[i] = v;
        else ((float *)p)[i] = (float)v;
    }
    return p;
}

static void mlp_free(mlp_ctx *c) {
    tg_optim_free(c->opt);
    tg_tape_free(c->tape);
    tg_module_free(c->net);
    tg_free(c->x);
    tg_free(c->y);
    for (int l = 0; l < MAX_LAYERS; l++) {
        free(c->gx[l]), free(c->gw[l]), free(c->gy[l]);
        free(c->gdy[l]), free(c->gdx[l]), free(c->gdw[l]);
    }
}

static int mlp_setup(mlp_ctx *c, const bench_opts *o, const mlp_spec *s) {
    memset(c, 0, sizeof *c);
    c->o = o;
    c->s = s;
    tg_rng *rng = tg_rng_new(42);
    tg_module *layers[2 * MAX_LAYERS];
    int n = 0;
    for (int l = 0; l < s->n_linear; l++) {
        layers[n++] = tg_linear(o->be, o->dtype, s->sizes[l], s->sizes[l + 1], true, rng);
        if (l + 1 < s->n_linear) layers[n++] = tg_relu_layer();
    }
    c->net = tg_sequential(n, layers);
    tg_tensor *params[2 * MAX_LAYERS];
    int np = c->net ? tg_module_params(c->net, params, 2 * MAX_LAYERS) : 0;
    tg_optim_opts oo = tg_optim_opts_default(s->optim);
    oo.lr = s->lr;
    c->opt = c->net ? tg_optim_new(s->optim, np, params, &oo) : NULL;
    c->tape = tg_tape_new();
    int64_t out = s->sizes[s->n_linear];
    c->x = bench_randn(o, rng, 2, (int64_t[]){s->batch, s->sizes[0]}, 1.0, false);
    c->y = s->mse ? bench_randn(o, rng, 2, (int64_t[]){s->batch, out}, 1.0, false)
                  : bench_labels(o, rng, s->batch, out);
    bool ok = c->net && c->opt && c->tape && c->x && c->y;
    tg_rng_free(rng);
    if (!ok) {
        fprintf(stderr, "tg-bench: %s: set-up failed: %s\n", s->name, tg_last_error());
        mlp_free(c);
        return -1;
    }
    return 0;
}

// The gemm-only buffers, allocated after the step figure so that the step's peak RSS is
// not inflated by them. 0, or -1 when out of memory.
static int gemm_setup(mlp_ctx *c) {
    const mlp_spec *s = c->s;
    tg_rng *rng = tg_rng_new(43);
    bool ok = rng != NULL;
    for (int l = 0; ok && l < s->n_linear; l++) {
        int64_t m = s->batch, k = s->sizes[l], n = s->sizes[l + 1];
        c->gx[l] = host_randn(c->o, rng, m * k), c->gw[l] = host_randn(c->o, rng, n * k);
        c->gy[l] = host_randn(c->o, rng, m * n), c->gdy[l] = host_randn(c->o, rng, m * n);
        c->gdx[l] = host_randn(c->o, rng, m * k), c->gdw[l] = host_randn(c->o, rng, n * k);
        ok = c->gx[l] && c->gw[l] && c->gy[l] && c->gdy[l] && c->gdx[l] && c->gdw[l];
    }
    tg_rng_free(rng);
    if (!ok) fprintf(stderr, "tg-bench: %s: gemm buffers: out of memory\n", s->name);
    return ok ? 0 : -1;
}

// FLOPs of the step's products: nominal 6*M*K*N per layer (issue 6's convention, also for
// the first layer whose dx nobody computes); `actual` counts what is really computed.
static double mlp_flops(const mlp_spec *s, int mult, bool actual) {
    double f = 0;
    for (int l = 0; l < s->n_linear; l++) {
        double mkn = (double)s->batch * (double)s->sizes[l] * (double)s->sizes[l + 1];
        f += (actual && l == 0 && mult == 6 ? 4 : mult) * mkn;
    }
    return f;
}

int bench_run_mlp(const bench_opts *o, const char *name) {
    const mlp_spec *s = NULL;
    for (int i = 0; i < N_SPECS; i++)
        if (strcmp(specs[i].name, name) == 0) s = &specs[i];
    if (!s) return 1;
    mlp_ctx c;
    if (mlp_setup(&c, o, s)) return -1;
    const char *n = s->name;
    int st = bench_figure(o, n, "forward", fig_forward, &c, mlp_flops(s, 2, false), &c.nodes, 0);
    st = st ? st : bench_figure(o, n, "backward", fig_backward, &c, mlp_flops(s, 4, false), 0, 0);
    st = st ? st : bench_figure(o, n, "step", fig_step, &c, mlp_flops(s, 6, false), NULL, 0);
    // gemm-only: BLIS on the cpu backend (what tapegrad's cpu gemm calls).
    if (!st && strcmp(o->backend_name, "cpu") == 0) st = gemm_setup(&c);
    if (!st && c.gx[0]) st = bench_figure(o, n, "gemm", fig_gemm, &c, mlp_flops(s, 6, true), 0, 0);
    mlp_free(&c);
    if (!st && s->batch == 1 && o->dtype == TG_F32) st = run_floor(o, s);
    return st;
}

// ---- chain100: 100 scalar ops on a 1-element tensor (pure per-op overhead) ----
// The ops cycle through y*0.99, y+0.01, tanh(y), sigmoid(y).

#define CHAIN_LEN 100

typedef struct chain_ctx {
    const bench_opts *o;
    tg_tape *tape;
    tg_tensor *x;
    int64_t nodes;
} chain_ctx;

static tg_tensor *chain_forward(chain_ctx *c) {
    tg_tensor *y = c->x;
    for (int i = 0; i < CHAIN_LEN; i++) {
        switch (i % 4) {
            case 0: y = tg_mul_scalar(c->tape, y, 0.99); break;
            case 1: y = tg_add_scalar(c->tape, y, 0.01); break;
            case 2: y = tg_tanh(c->tape, y); break;
            default: y = tg_sigmoid(c->tape, y); break;
        }
    }
    return y;
}

static double chain_fig_forward(void *ctx) {
    chain_ctx *c = ctx;
    double t0 = bench_now();
    tg_tensor *y = chain_forward(c);
    double t = bench_now() - t0;
    c->nodes = tg_tape_size(c->tape);
    tg_tape_reset(c->tape);
    return y ? t : -1;
}

static double chain_fig_backward(void *ctx) {
    chain_ctx *c = ctx;
    tg_tensor *y = chain_forward(c);
    if (!y) return -1;
    double t0 = bench_now();
    int st = tg_backward(c->tape, y);
    double t = bench_now() - t0;
    st = st ? st : tg_zero_grad(1, &c->x);
    tg_tape_reset(c->tape);
    return st ? -1 : t;
}

static double chain_fig_step(void *ctx) {
    chain_ctx *c = ctx;
    double t0 = bench_now();
    tg_tensor *y = chain_forward(c);
    int st = y ? tg_backward(c->tape, y) : -1;
    st = st ? st : tg_zero_grad(1, &c->x);
    tg_tape_reset(c->tape);
    double t = bench_now() - t0;
    return st ? -1 : t;
}

int bench_run_chain(const bench_opts *o, const char *name) {
    if (strcmp(name, "chain100") != 0) return 1;
    chain_ctx c = {.o = o, .tape = tg_tape_new()};
    c.x = tg_tensor_new(o->be, o->dtype, 1, (int64_t[]){1});
    if (!c.tape || !c.x || tg_fill_(c.x, 0.5) || tg_set_requires_grad(c.x, true)) {
        fprintf(stderr, "tg-bench: chain100: set-up failed: %s\n", tg_last_error());
        tg_tape_free(c.tape);
        tg_free(c.x);
        return -1;
    }
    int st = bench_figure(o, name, "forward", chain_fig_forward, &c, 0, &c.nodes, CHAIN_LEN);
    st = st ? st : bench_figure(o, name, "backward", chain_fig_backward, &c, 0, 0, CHAIN_LEN);
    st = st ? st : bench_figure(o, name, "step", chain_fig_step, &c, 0, NULL, 0);
    tg_tape_free(c.tape);
    tg_free(c.x);
    return st;
}

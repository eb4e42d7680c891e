// Op microbenchmarks: one op recorded on a tape (forward), and its backward pass from a
// ones seed (backward), at a small shape (per-op overhead) and a large one (kernel speed).
// Every differentiable input requires grad, as in training.
#include <stdio.h>
#include <string.h>

#include "bench.h"

enum op_kind { OP_MATMUL, OP_ADD_BCAST, OP_RELU, OP_SOFTMAX, OP_CROSS_ENTROPY, OP_CONV2D };

typedef struct op_case {
    const char *name;
    enum op_kind kind;
    int64_t d[6];   // matmul: M,K,N; [R,C] ops: R,C; conv2d: N,C,H,W,O,K (padding K/2)
} op_case;

static const op_case cases[] = {
    {"matmul-10x2x20", OP_MATMUL, {10, 2, 20}},
    {"matmul-64", OP_MATMUL, {64, 64, 64}},
    {"matmul-256", OP_MATMUL, {256, 256, 256}},
    {"matmul-1024", OP_MATMUL, {1024, 1024, 1024}},
    {"add-bcast-10x20", OP_ADD_BCAST, {10, 20}},
    {"add-bcast-1000x1000", OP_ADD_BCAST, {1000, 1000}},
    {"relu-10x20", OP_RELU, {10, 20}},
    {"relu-1000x1000", OP_RELU, {1000, 1000}},
    {"softmax-10x20", OP_SOFTMAX, {10, 20}},
    {"softmax-256x1000", OP_SOFTMAX, {256, 1000}},
    {"cross_entropy-10x2", OP_CROSS_ENTROPY, {10, 2}},
    {"cross_entropy-8000x2", OP_CROSS_ENTROPY, {8000, 2}},
    {"cross_entropy-256x1000", OP_CROSS_ENTROPY, {256, 1000}},
    {"conv2d-8x3x32x32-16k3", OP_CONV2D, {8, 3, 32, 32, 16, 3}},
    {"conv2d-64x1x28x28-32k5", OP_CONV2D, {64, 1, 28, 28, 32, 5}},
    {"conv2d-32x16x32x32-32k3", OP_CONV2D, {32, 16, 32, 32, 32, 3}},
    {"conv2d-32x64x7x7-64k3", OP_CONV2D, {32, 64, 7, 7, 64, 3}},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

const char *const bench_op_names[] = {
    "matmul-10x2x20", "matmul-64", "matmul-256", "matmul-1024",
    "add-bcast-10x20", "add-bcast-1000x1000", "relu-10x20", "relu-1000x1000",
    "softmax-10x20", "softmax-256x1000", "cross_entropy-10x2", "cross_entropy-8000x2",
    "cross_entropy-256x1000", "conv2d-8x3x32x32-16k3", "conv2d-64x1x28x28-32k5",
    "conv2d-32x16x32x32-32k3", "conv2d-32x64x7x7-64k3", NULL};

typedef struct op_ctx {
    const op_case *c;
    const bench_opts *o;
    tg_tape *tape;
    tg_tensor *in[3];   // inputs; in[1] of cross_entropy holds labels (no grad)
    int n_grad;         // inputs that require grad (the first n_grad, cross_entropy: 1)
    tg_tensor *seed;    // ones, shaped like the output
    tg_conv_opts conv;
} op_ctx;

static tg_tensor *op_forward(op_ctx *x) {
    tg_tape *t = x->tape;
    switch (x->c->kind) {
        case OP_MATMUL: return tg_matmul(t, x->in[0], x->in[1]);
        case OP_ADD_BCAST: return tg_add(t, x->in[0], x->in[1]);
        case OP_RELU: return tg_relu(t, x->in[0]);
        case OP_SOFTMAX: return tg_softmax(t, x->in[0], 1);
        case OP_CROSS_ENTROPY:
            return tg_cross_entropy(t, x->in[0], x->in[1], NULL, TG_REDUCE_MEAN);
        case OP_CONV2D: return tg_conv2d(t, x->in[0], x->in[1], x->in[2], &x->conv);
    }
    return NULL;
}

static double op_fig_forward(void *ctx) {
    op_ctx *x = ctx;
    double t0 = bench_now();
    tg_tensor *y = op_forward(x);
    tg_backend_synchronize(x->o->be);
    double t = bench_now() - t0;
    tg_tape_reset(x->tape);
    return y ? t : -1;
}

static double op_fig_backward(void *ctx) {
    op_ctx *x = ctx;
    tg_tensor *y = op_forward(x);
    if (!y) return -1;
    double t0 = bench_now();
    int st = tg_backward_ex(x->tape, y, x->seed, NULL);
    tg_backend_synchronize(x->o->be);
    double t = bench_now() - t0;
    st = st ? st : tg_zero_grad(x->n_grad, x->in);
    tg_tape_reset(x->tape);
    return st ? -1 : t;
}

// Forward FLOPs where they are well defined (products); 0 otherwise.
static double op_flops(const op_case *c) {
    const int64_t *d = c->d;
    if (c->kind == OP_MATMUL) return 2.0 * (double)d[0] * (double)d[1] * (double)d[2];
    if (c->kind == OP_CONV2D) {   // stride 1, padding K/2: OH = H + 2*(K/2) - K + 1
        double oh = (double)(d[2] + 2 * (d[5] / 2) - d[5] + 1);
        double ow = (double)(d[3] + 2 * (d[5] / 2) - d[5] + 1);
        return 2.0 * (double)d[0] * (double)d[4] * oh * ow * (double)d[1] * (double)(d[5] * d[5]);
    }
    return 0;
}

static int op_setup(op_ctx *x, const bench_opts *o, const op_case *c) {
    memset(x, 0, sizeof *x);
    x->c = c;
    x->o = o;
    x->tape = tg_tape_new();
    tg_rng *rng = tg_rng_new(7);
    const int64_t *d = c->d;
    switch (c->kind) {
        case OP_MATMUL:
            x->in[0] = bench_randn(o, rng, 2, (int64_t[]){d[0], d[1]}, 1.0, true);
            x->in[1] = bench_randn(o, rng, 2, (int64_t[]){d[1], d[2]}, 1.0, true);
            x->n_grad = 2;
            break;
        case OP_ADD_BCAST:
            x->in[0] = bench_randn(o, rng, 2, (int64_t[]){d[0], d[1]}, 1.0, true);
            x->in[1] = bench_randn(o, rng, 1, &d[1], 1.0, true);
            x->n_grad = 2;
            break;
        case OP_RELU:
        case OP_SOFTMAX:
            x->in[0] = bench_randn(o, rng, 2, (int64_t[]){d[0], d[1]}, 1.0, true);
            x->n_grad = 1;
            break;
        case OP_CROSS_ENTROPY:
            x->in[0] = bench_randn(o, rng, 2, (int64_t[]){d[0], d[1]}, 1.0, true);
            x->in[1] = bench_labels(o, rng, d[0], d[1]);
            x->n_grad = 1;
            break;
        case OP_CONV2D:
            x->in[0] = bench_randn(o, rng, 4, (int64_t[]){d[0], d[1], d[2], d[3]}, 1.0, true);
            x->in[1] = bench_randn(o, rng, 4, (int64_t[]){d[4], d[1], d[5], d[5]}, 0.1, true);
            x->in[2] = bench_randn(o, rng, 1, &d[4], 0.1, true);
            x->n_grad = 3;
            x->conv.padding[0] = x->conv.padding[1] = (int)(d[5] / 2);
            break;
    }
    tg_rng_free(rng);
    // The seed: ones shaped like the output of one trial forward.
    tg_tensor *y = x->tape && x->in[0] ? op_forward(x) : NULL;
    if (y) {
        x->seed = tg_tensor_new(o->be, o->dtype, tg_ndim(y), tg_shape(y));
        if (x->seed && tg_fill_(x->seed, 1.0)) x->seed = (tg_free(x->seed), NULL);
    }
    if (x->tape) tg_tape_reset(x->tape);
    if (!x->seed) {
        fprintf(stderr, "tg-bench: %s: set-up failed: %s\n", c->name, tg_last_error());
        return -1;
    }
    return 0;
}

static void op_free(op_ctx *x) {
    tg_tape_free(x->tape);
    for (int i = 0; i < 3; i++) tg_free(x->in[i]);
    tg_free(x->seed);
}

// name: a case name, its family ("matmul", "conv2d", ...) or "ops" for all of them.
int bench_run_ops(const bench_opts *o, const char *name) {
    bool any = false;
    int st = 0;
    for (int i = 0; i < N_CASES && !st; i++) {
        const op_case *c = &cases[i];
        size_t n = strlen(name);
        bool family = strncmp(c->name, name, n) == 0 && c->name[n] == '-';
        if (strcmp(name, "ops") != 0 && strcmp(c->name, name) != 0 && !family) continue;
        any = true;
        op_ctx x;
        if (op_setup(&x, o, c)) {
            op_free(&x);
            return -1;
        }
        double f = op_flops(c);
        st = bench_figure(o, c->name, "forward", op_fig_forward, &x, f, NULL, 0);
        st = st ? st : bench_figure(o, c->name, "backward", op_fig_backward, &x, 2 * f, NULL, 0);
        op_free(&x);
    }
    return any ? st : 1;
}

// The CNN configuration (issue 16, item 3): fashion-cnn, the convolutional model of
// examples/fashion.c (Conv 1->8 3x3 pad 1, BatchNorm, ReLU, MaxPool 2; Conv 8->16, BatchNorm,
// ReLU, MaxPool 2; Flatten, Dropout 0.25, Linear 784->10) in training mode on a fixed batch
// of 64 random 28 x 28 images, with forward (+ cross-entropy), backward and step (Adam,
// PyTorch's defaults). compare_torch.py builds the same model in PyTorch.
#include <stdio.h>
#include <string.h>

#include "bench.h"

enum { NB = 64, IMG = 28, C1 = 8, C2 = 16, CLASSES = 10 };

const char *const bench_cnn_names[] = {"fashion-cnn", NULL};

typedef struct cnn_ctx {
    const bench_opts *o;
    tg_tape *tape;
    tg_module *net;
    tg_optim *opt;
    tg_tensor *x, *y;
    int64_t nodes;
} cnn_ctx;

static tg_tensor *cnn_loss(cnn_ctx *c) {
    tg_tensor *logits = tg_module_forward(c->net, c->tape, c->x);
    return tg_cross_entropy(c->tape, logits, c->y, NULL, TG_REDUCE_MEAN);
}

static double cnn_fig_forward(void *ctx) {
    cnn_ctx *c = ctx;
    double t0 = bench_now();
    tg_tensor *loss = cnn_loss(c);
    tg_backend_synchronize(c->o->be);
    double t = bench_now() - t0;
    c->nodes = tg_tape_size(c->tape);
    tg_tape_reset(c->tape);
    return loss ? t : -1;
}

static double cnn_fig_backward(void *ctx) {
    cnn_ctx *c = ctx;
    tg_tensor *loss = cnn_loss(c);
    if (!loss) return -1;
    double t0 = bench_now();
    int st = tg_backward(c->tape, loss);
    tg_backend_synchronize(c->o->be);
    double t = bench_now() - t0;
    st = st ? st : tg_optim_zero_grad(c->opt);
    tg_tape_reset(c->tape);
    return st ? -1 : t;
}

static double cnn_fig_step(void *ctx) {
    cnn_ctx *c = ctx;
    double t0 = bench_now();
    tg_tensor *loss = cnn_loss(c);
    int st = loss ? tg_backward(c->tape, loss) : -1;
    st = st ? st : tg_optim_step(c->opt);
    st = st ? st : tg_optim_zero_grad(c->opt);
    tg_tape_reset(c->tape);
    tg_backend_synchronize(c->o->be);
    double t = bench_now() - t0;
    return st ? -1 : t;
}

// Nominal FLOPs of a forward pass (x2 backward, x3 step): 2 per multiply-add of the two
// convolutions and the linear layer.
static double cnn_flops(void) {
    double conv1 = (double)NB * C1 * IMG * IMG * 9, conv2 = (double)NB * C2 * 14 * 14 * C1 * 9;
    double lin = (double)NB * C2 * 7 * 7 * CLASSES;
    return 2.0 * (conv1 + conv2 + lin);
}

static int cnn_setup(cnn_ctx *c, const bench_opts *o, tg_rng *rng) {
    memset(c, 0, sizeof *c);
    c->o = o;
    tg_backend *be = o->be;
    tg_dtype dt = o->dtype;
    tg_conv_opts same = {.padding = {1, 1}};
    tg_module *layers[] = {
        tg_conv2d_layer(be, dt, 1, C1, 3, 3, &same, true, rng),
        tg_batchnorm2d(be, dt, C1, 0.1, 1e-5),
        tg_relu_layer(), tg_maxpool2d_layer(2, 2, NULL),
        tg_conv2d_layer(be, dt, C1, C2, 3, 3, &same, true, rng),
        tg_batchnorm2d(be, dt, C2, 0.1, 1e-5),
        tg_relu_layer(), tg_maxpool2d_layer(2, 2, NULL),
        tg_flatten_layer(), tg_dropout_layer(0.25, rng),
        tg_linear(be, dt, C2 * 7 * 7, CLASSES, true, rng)};
    int n = (int)(sizeof layers / sizeof layers[0]);
    bool all = true;
    for (int i = 0; i < n; i++) all &= layers[i] != NULL;
    c->net = all ? tg_sequential(n, layers) : NULL;
    if (!c->net)
        for (int i = 0; i < n; i++) tg_module_free(layers[i]);
    tg_tensor *params[16];
    int np = c->net ? tg_module_params(c->net, params, 16) : 0;
    c->opt = c->net ? tg_optim_new(TG_OPTIM_ADAM, np, params, NULL) : NULL;
    c->tape = tg_tape_new();
    c->x = bench_randn(o, rng, 4, (int64_t[]){NB, 1, IMG, IMG}, 1.0, false);
    c->y = bench_labels(o, rng, NB, CLASSES);
    if (c->net && c->opt && c->tape && c->x && c->y) return 0;
    fprintf(stderr, "tg-bench: fashion-cnn: set-up failed: %s\n", tg_last_error());
    return -1;
}

static void cnn_free(cnn_ctx *c) {
    tg_optim_free(c->opt);
    tg_tape_free(c->tape);
    tg_module_free(c->net);
    tg_free(c->x);
    tg_free(c->y);
}

int bench_run_cnn(const bench_opts *o, const char *name) {
    if (strcmp(name, "fashion-cnn") != 0) return 1;
    cnn_ctx c;
    tg_rng *rng = tg_rng_new(44);
    int st = rng ? cnn_setup(&c, o, rng) : -1;
    double f = cnn_flops();
    st = st ? st : bench_figure(o, name, "forward", cnn_fig_forward, &c, f, &c.nodes, 0);
    st = st ? st : bench_figure(o, name, "backward", cnn_fig_backward, &c, 2 * f, NULL, 0);
    st = st ? st : bench_figure(o, name, "step", cnn_fig_step, &c, 3 * f, NULL, 0);
    if (rng) cnn_free(&c);
    tg_rng_free(rng);
    return st;
}

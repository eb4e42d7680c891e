// The resume scenario shared by tests/nn/test_resume.c and tests/nn/resume_helper.c: an MLP
// 4-16-16-3 with dropout (which draws from the same rng as the initial weights), Adam with a
// cosine LR schedule driven by the step counter, a fixed data set. Plain C (no Criterion):
// every function returns a status and leaves the library's error set.
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <tapegrad/tapegrad.h>

typedef struct ru_run {
    tg_rng *rng;            // initial weights, then dropout masks
    tg_module *net;
    tg_tensor *params[8];
    int np;
    tg_optim *opt;
    tg_tape *tape;
    tg_tensor *x, *y;       // x [64, 4], labels y [64] in {0, 1, 2}
    int step;               // steps done: the LR schedule's position
} ru_run;

static const tg_lr_schedule RU_SCHED = {.kind = TG_LR_COSINE, .base_lr = 0.01, .t_max = 20,
                                        .warmup = 3};

// The data set comes from its own seed; `seed` draws the initial weights.
static inline int ru_build(ru_run *r, uint64_t seed) {
    tg_backend *cpu = tg_backend_get("cpu");
    float xs[64 * 4], ys[64];
    tg_rng *data = tg_rng_new(1234);
    if (!data) return tg_last_status();
    for (int i = 0; i < 64 * 4; i++) xs[i] = (float)tg_rng_normal(data);
    for (int i = 0; i < 64; i++) ys[i] = (float)(int)(3 * tg_rng_uniform(data));
    tg_rng_free(data);
    r->rng = tg_rng_new(seed);
    r->x = tg_tensor_from(cpu, TG_F32, 2, (int64_t[]){64, 4}, xs);
    r->y = tg_tensor_from(cpu, TG_F32, 1, (int64_t[]){64}, ys);
    if (!r->rng || !r->x || !r->y) return tg_last_status();
    tg_module *layers[] = {tg_linear(cpu, TG_F32, 4, 16, true, r->rng), tg_relu_layer(),
                           tg_dropout_layer(0.25, r->rng),
                           tg_linear(cpu, TG_F32, 16, 16, true, r->rng), tg_relu_layer(),
                           tg_dropout_layer(0.25, r->rng),
                           tg_linear(cpu, TG_F32, 16, 3, true, r->rng)};
    r->net = tg_sequential(7, layers);
    if (!r->net) return tg_last_status();
    r->np = tg_module_params(r->net, r->params, 8);
    r->opt = tg_adam(r->np, r->params, RU_SCHED.base_lr);
    r->tape = tg_tape_new();
    r->step = 0;
    return r->opt && r->tape ? TG_OK : tg_last_status();
}

// Trains until `until` steps are done.
static inline int ru_train(ru_run *r, int until) {
    for (; r->step < until; r->step++) {
        if (tg_optim_set_lr(r->opt, tg_lr_at(&RU_SCHED, r->step))) return tg_last_status();
        tg_tensor *loss = tg_cross_entropy(r->tape, tg_module_forward(r->net, r->tape, r->x),
                                           r->y, NULL, TG_REDUCE_MEAN);
        if (!loss || tg_backward(r->tape, loss) || tg_optim_step(r->opt) ||
            tg_optim_zero_grad(r->opt))
            return tg_last_status();
        tg_tape_reset(r->tape);
    }
    return TG_OK;
}

// Everything a resumed run needs: model, optimizer, rng and the step counter.
static inline int ru_save(const ru_run *r, const char *path) {
    tg_checkpoint *c = tg_checkpoint_new();
    char step[32];
    snprintf(step, sizeof step, "%d", r->step);
    int st = c ? TG_OK : tg_last_status();
    if (!st) st = tg_checkpoint_add_module(c, "model.", r->net);
    if (!st) st = tg_optim_save_state(r->opt, c, "optim.");
    if (!st) st = tg_checkpoint_add_rng(c, "rng", r->rng);
    if (!st) st = tg_checkpoint_set_meta(c, "step", step);
    if (!st) st = tg_checkpoint_save(c, path);
    tg_checkpoint_free(c);
    return st;
}

// restore_rng false: everything but the rng (to show that the test would notice).
static inline int ru_restore(ru_run *r, const char *path, bool restore_rng) {
    tg_checkpoint *c = tg_checkpoint_load(path);
    if (!c) return tg_last_status();
    int st = tg_checkpoint_restore_module(c, "model.", r->net);
    if (!st) st = tg_optim_load_state(r->opt, c, "optim.");
    if (!st && restore_rng) st = tg_checkpoint_restore_rng(c, "rng", r->rng);
    const char *step = st ? NULL : tg_checkpoint_meta(c, "step");
    if (!st && !step) st = tg_last_status();
    if (!st) r->step = atoi(step);
    tg_checkpoint_free(c);
    return st;
}

// The parameters' bytes, one after the other.
static inline int ru_dump(const ru_run *r, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return tg_set_error(TG_ERR_IO, "ru_dump", "cannot open %s", path);
    int st = TG_OK;
    for (int i = 0; !st && i < r->np; i++) {
        size_t n = (size_t)tg_numel(r->params[i]);
        float *v = malloc(n * sizeof *v + 1);
        st = v ? tg_copy_to_host(r->params[i], v, n * sizeof *v) : TG_ERR_OOM;
        if (!st && fwrite(v, sizeof *v, n, f) != n) st = TG_ERR_IO;
        free(v);
    }
    if (fclose(f) && !st) st = TG_ERR_IO;
    return st;
}

static inline void ru_free(ru_run *r) {
    tg_tape_free(r->tape);
    tg_optim_free(r->opt);
    tg_module_free(r->net);
    tg_free(r->x);
    tg_free(r->y);
    tg_rng_free(r->rng);
}

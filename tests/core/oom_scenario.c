// The out-of-memory scenario that tests/core/test_oom_hook.c runs once per allocation,
// with the TG_FAIL_ALLOC_AFTER hook (core/alloc.c) failing it: build an MLP (tg_sequential
// of tg_linear, activations, BatchNorm, LayerNorm, Dropout), move it (tg_module_to), train
// it one step with SGD (momentum) and one with Adam on a batch from a tg_loader, evaluate
// it (tg_accuracy, tg_module_summary), save a checkpoint, free everything. A plain program,
// so that each run is a fresh process and, in a sanitizer build, LeakSanitizer checks at
// its exit that a failed run freed all.
// Usage: oom_scenario DIR   (the checkpoint goes to DIR/net.safetensors)
// Exit: 0 done (no error pending), 10 failed with TG_ERR_OOM, 11 failed with another
// status, 12 failed with no error set, 13 done but an error is pending, 14 freeing what
// exists after the failure was refused, 2 bad usage.
// Prints the library's allocation count (tg_alloc_count) on success.
#include <stdio.h>
#include <tapegrad/tapegrad.h>

enum { EXIT_OOM = 10, EXIT_OTHER = 11, EXIT_SILENT = 12, EXIT_STALE_ERROR = 13, EXIT_CLEANUP = 14 };

typedef struct scenario {
    tg_rng *rng;
    tg_module *net;
    tg_tensor *x, *y, *xb, *yb;   // xb, yb: the loader's batch (owned by the loader)
    tg_loader *loader;
    tg_tape *tape;
    tg_optim *opt;
    const char *failed;   // the call that failed, NULL while all went well
} scenario;

// Names the phase on stderr (unbuffered: the last one shows even after a crash).
static void phase(const char *name) { fprintf(stderr, "phase: %s\n", name); }

// Records the first failing call.
static bool ok(scenario *s, bool good, const char *call) {
    if (!good && !s->failed) s->failed = call;
    return good;
}

// One training step of s->net with optimizer s->opt on a fresh tape.
static bool train_step(scenario *s) {
    phase("train");
    if (!ok(s, (s->tape = tg_tape_new()) != NULL, "tg_tape_new")) return false;
    tg_tensor *logits = tg_module_forward(s->net, s->tape, s->xb);
    tg_tensor *loss = tg_cross_entropy(s->tape, logits, s->yb, NULL, TG_REDUCE_MEAN);
    bool good = ok(s, loss != NULL, "forward and loss") &&
                ok(s, tg_backward(s->tape, loss) == TG_OK, "tg_backward") &&
                ok(s, tg_optim_step(s->opt) == TG_OK, "tg_optim_step") &&
                ok(s, tg_optim_zero_grad(s->opt) == TG_OK, "tg_optim_zero_grad");
    tg_tape_free(s->tape);
    s->tape = NULL;
    return good;
}

// Evaluation mode: accuracy of the whole set, and the summary table (to /dev/null).
static bool evaluate(scenario *s) {
    phase("evaluate");
    tg_module_train(s->net, false);
    if (!ok(s, (s->tape = tg_tape_new()) != NULL, "tg_tape_new")) return false;
    tg_tape_set_grad(s->tape, false);
    double acc = tg_accuracy(tg_module_forward(s->net, s->tape, s->x), s->y);
    tg_tape_free(s->tape);
    s->tape = NULL;
    if (!ok(s, acc == acc, "tg_accuracy")) return false;
    FILE *null = fopen("/dev/null", "w");
    if (!ok(s, null != NULL, "fopen /dev/null")) return false;
    int st = tg_module_summary(s->net, 2, (int64_t[]){1, 2}, TG_F32, null);
    fclose(null);
    return ok(s, st == TG_OK, "tg_module_summary");
}

static bool run(scenario *s, const char *path) {
    phase("build");
    tg_backend *cpu = tg_backend_get("cpu");
    if (!ok(s, cpu != NULL, "tg_backend_get")) return false;
    if (!ok(s, (s->rng = tg_rng_new(7)) != NULL, "tg_rng_new")) return false;
    tg_module *layers[] = {tg_linear(cpu, TG_F32, 2, 8, true, s->rng),
                           tg_batchnorm1d(cpu, TG_F32, 8, 0.1, 1e-5),
                           tg_relu_layer(),
                           tg_dropout_layer(0.25, s->rng),
                           tg_linear(cpu, TG_F32, 8, 8, true, s->rng),
                           tg_layernorm(cpu, TG_F32, 8, 1e-5),
                           tg_tanh_layer(),
                           tg_linear(cpu, TG_F32, 8, 3, true, s->rng)};
    if (!ok(s, (s->net = tg_sequential(8, layers)) != NULL, "building the MLP")) return false;
    if (!ok(s, tg_module_to(s->net, cpu) == TG_OK, "tg_module_to")) return false;
    float xv[12] = {0.5f, -1, 1, 2, -0.5f, 0.25f, 3, -2, 1, 1, -1, 0}, yv[6] = {0, 2, 1, 2, 0, 1};
    s->x = tg_tensor_from(cpu, TG_F32, 2, (int64_t[]){6, 2}, xv);
    s->y = tg_tensor_from(cpu, TG_F32, 1, (int64_t[]){6}, yv);
    if (!ok(s, s->x && s->y, "tg_tensor_from")) return false;
    s->loader = tg_loader_new(s->x, s->y, 4, true, false, 3);
    if (!ok(s, s->loader != NULL, "tg_loader_new")) return false;
    if (!ok(s, tg_loader_next(s->loader, &s->xb, &s->yb), "tg_loader_next")) return false;
    tg_tensor *params[16];
    int n = tg_module_params(s->net, params, 16);
    for (int k = 0; k < 2; k++) {
        s->opt = k == 0 ? tg_sgd(n, params, 0.1, 0.9) : tg_adam(n, params, 0.01);
        if (!ok(s, s->opt != NULL, k == 0 ? "tg_sgd" : "tg_adam") || !train_step(s))
            return false;
        tg_optim_free(s->opt);
        s->opt = NULL;
    }
    if (!evaluate(s)) return false;
    phase("save");
    return ok(s, tg_save_safetensors(s->net, path) == TG_OK, "tg_save_safetensors");
}

// Frees whatever exists; false (with the call named) when a free is refused.
static bool cleanup(scenario *s) {
    tg_optim_free(s->opt);
    tg_tape_free(s->tape);
    bool good = ok(s, tg_module_free(s->net) == TG_OK, "tg_module_free") &&
                ok(s, tg_loader_free(s->loader) == TG_OK, "tg_loader_free") &&
                ok(s, tg_free(s->x) == TG_OK && tg_free(s->y) == TG_OK, "tg_free");
    tg_rng_free(s->rng);
    return good;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: oom_scenario DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/net.safetensors", argv[1]);
    scenario s = {0};
    bool done = run(&s, path);
    tg_status st = tg_last_status();
    char msg[600];
    snprintf(msg, sizeof msg, "%s", tg_last_error());
    const char *failed = s.failed;
    s.failed = NULL;
    tg_clear_error();
    phase("free");
    if (!cleanup(&s)) {
        fprintf(stderr, "after '%s' (%s): %s refused: %s\n", failed ? failed : "success", msg,
                s.failed, tg_last_error());
        return EXIT_CLEANUP;
    }
    if (done) {
        printf("allocations %llu\n", (unsigned long long)tg_alloc_count());
        if (st != TG_OK) fprintf(stderr, "done, but an error is pending: %s\n", msg);
        return st != TG_OK ? EXIT_STALE_ERROR : 0;
    }
    fprintf(stderr, "%s failed: status %d: %s\n", failed, (int)st, msg);
    return st == TG_ERR_OOM ? EXIT_OOM : st == TG_OK ? EXIT_SILENT : EXIT_OTHER;
}

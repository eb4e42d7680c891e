// Helpers shared by the examples: finding data files, a quick mode for CI, and training
// an MLP classifier with full-batch or mini-batch Adam. Only public API.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tapegrad/tapegrad.h>

#ifndef TG_SOURCE_DIR
#define TG_SOURCE_DIR "."
#endif

// Exit status for "data not available": meson counts it as a skipped test.
#define EXIT_NO_DATA 77

// Finds a data file: $TG_DATA_DIR, ./data, <source>/data, <source>/../shared/data.
// Returns a static buffer, or NULL with a hint printed (callers exit EXIT_NO_DATA).
static inline const char *find_data(const char *name) {
    static char path[4096];
    const char *env = getenv("TG_DATA_DIR");
    const char *dirs[] = {env, "data", TG_SOURCE_DIR "/data", TG_SOURCE_DIR "/../shared/data"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i]) continue;
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return path;
        }
    }
    fprintf(stderr, "%s not found: run scripts/fetch_data.sh (or set TG_DATA_DIR)\n", name);
    return NULL;
}

// Quick mode (CI): fewer epochs; set by --quick or TG_QUICK=1.
static inline bool quick_mode(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0) return true;
    const char *q = getenv("TG_QUICK");
    return q && strcmp(q, "1") == 0;
}

// The backend from --backend NAME, else $TG_BACKEND, else cpu. Prints why on failure.
static inline tg_backend *pick_backend(int argc, char **argv) {
    const char *name = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--backend") == 0) name = argv[i + 1];
    tg_backend *be = tg_backend_get(name);
    if (!be) fprintf(stderr, "%s\n", tg_last_error());
    return be;
}

// An MLP: in -> hidden[0] -> ... -> out with ReLU between layers.
static inline tg_module *make_mlp(tg_backend *be, tg_dtype dt, int64_t in, int n_hidden,
                                  const int64_t *hidden, int64_t out, tg_rng *rng) {
    tg_module *layers[32];
    int n = 0;
    int64_t prev = in;
    for (int i = 0; i < n_hidden && n < 30; i++) {
        layers[n++] = tg_linear(be, dt, prev, hidden[i], true, rng);
        layers[n++] = tg_relu_layer();
        prev = hidden[i];
    }
    layers[n++] = tg_linear(be, dt, prev, out, true, rng);
    return tg_sequential(n, layers);
}

// Accuracy of net on (x, y) in eval mode.
static inline double eval_accuracy(tg_tape *tape, tg_module *net, tg_tensor *x, tg_tensor *y) {
    bool mode = tg_tape_set_grad(tape, false);
    tg_module_train(net, false);
    tg_tensor *logits = tg_module_forward(net, tape, x);
    double acc = logits ? tg_accuracy(logits, y) : -1.0;
    tg_module_train(net, true);
    tg_tape_set_grad(tape, mode);
    tg_tape_reset(tape);
    return acc;
}

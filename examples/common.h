// Helpers shared by the examples: the command line (example_args.h), an MLP classifier
// and its accuracy. Only public API.
#pragma once

#include "example_args.h"

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

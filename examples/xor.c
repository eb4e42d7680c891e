// XOR with a 2-8-1 MLP (tanh hidden layer, sigmoid output), MSE loss and a hand-written
// SGD loop using only public ops. Prints the loss falling below 0.01 and the predictions.
#include <stdio.h>
#include <string.h>
#include <tapegrad/tapegrad.h>

static const char *const usage =
    "usage: xor [--backend cpu|cuda] [--quick]\n"
    "  --backend NAME  backend to train on (default: $TG_BACKEND, else cpu)\n"
    "  --quick         accepted like the other examples; xor stops at loss 0.01 anyway\n";

int main(int argc, char **argv) {
    const char *backend = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            backend = argv[++i];
        } else if (strcmp(argv[i], "--quick") != 0) {
            fprintf(stderr, "xor: bad argument '%s'\n", argv[i]);
            fputs(usage, stderr);
            return 2;
        }
    }
    tg_backend *be = tg_backend_get(backend);   // NULL: $TG_BACKEND or cpu
    if (!be) {
        fprintf(stderr, "xor: %s\n", tg_last_error());
        return 1;
    }
    const float xs[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    const float ys[4] = {0, 1, 1, 0};
    tg_tensor *x = tg_tensor_from(be, TG_F32, 2, (int64_t[]){4, 2}, xs);
    tg_tensor *y = tg_tensor_from(be, TG_F32, 2, (int64_t[]){4, 1}, ys);

    tg_rng *rng = tg_rng_new(42);
    tg_tensor *w1 = tg_param(be, TG_F32, 2, (int64_t[]){2, 8}, NULL);
    tg_tensor *b1 = tg_param(be, TG_F32, 1, (int64_t[]){8}, NULL);
    tg_tensor *w2 = tg_param(be, TG_F32, 2, (int64_t[]){8, 1}, NULL);
    tg_tensor *b2 = tg_param(be, TG_F32, 1, (int64_t[]){1}, NULL);
    tg_tensor *params[4] = {w1, b1, w2, b2};
    tg_uniform_(w1, rng, -1.0, 1.0);
    tg_uniform_(w2, rng, -1.0, 1.0);

    tg_tape *tape = tg_tape_new();
    const double lr = 2.0;
    double loss_value = 1.0;
    int status = 0;
    for (int epoch = 0; epoch <= 5000 && loss_value >= 0.01; epoch++) {
        tg_tensor *h = tg_tanh(tape, tg_add(tape, tg_matmul(tape, x, w1), b1));
        tg_tensor *p = tg_sigmoid(tape, tg_add(tape, tg_matmul(tape, h, w2), b2));
        tg_tensor *d = tg_sub(tape, p, y);
        tg_tensor *loss = tg_mean(tape, tg_mul(tape, d, d));
        if (!loss || tg_backward(tape, loss)) {
            fprintf(stderr, "xor: training failed: %s\n", tg_last_error());
            status = 1;
            break;
        }
        loss_value = tg_item(loss);
        if (epoch % 500 == 0 || loss_value < 0.01) printf("epoch %4d  loss %.5f\n", epoch, loss_value);
        for (int i = 0; i < 4; i++) tg_axpby_(params[i], -lr, tg_grad_of(params[i]), 1.0);
        tg_zero_grad(4, params);
        tg_tape_reset(tape);
    }

    if (!status) {
        tg_tape_set_grad(tape, false);   // evaluation: nothing recorded
        tg_tensor *h = tg_tanh(tape, tg_add(tape, tg_matmul(tape, x, w1), b1));
        tg_tensor *p = tg_sigmoid(tape, tg_add(tape, tg_matmul(tape, h, w2), b2));
        float pred[4] = {0};
        if (!p || tg_copy_to_host(p, pred, sizeof pred)) {
            fprintf(stderr, "xor: %s\n", tg_last_error());
            status = 1;
        }
        for (int i = 0; i < 4 && !status; i++)
            printf("%g xor %g -> %.4f (target %g)\n", xs[2 * i], xs[2 * i + 1], pred[i], ys[i]);
        if (!status && loss_value >= 0.01) {
            fprintf(stderr, "xor: loss %.4f did not reach 0.01\n", loss_value);
            status = 1;
        }
    }
    tg_tape_free(tape);
    for (int i = 0; i < 4; i++) tg_free(params[i]);
    tg_free(x);
    tg_free(y);
    tg_rng_free(rng);
    return status;
}

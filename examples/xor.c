// XOR with a 2-8-1 MLP (tanh hidden layer, sigmoid output), MSE loss and a hand-written
// SGD loop using only public ops. Shows the loss falling below 0.01 (progress line) and
// prints the predictions.
#include <stdio.h>
#include <tapegrad/tapegrad.h>

#include "example_args.h"

static const ex_spec spec = {
    .name = "xor",
    .about = "XOR with a 2-8-1 MLP (tanh, sigmoid), MSE and hand-written SGD (lr 2) until the\n"
             "loss is below 0.01.\n",
    .flags = EX_TRAINING, .epochs = 5000, .epochs_what = "most epochs before giving up",
    .seed = 42, .quick_what = "no progress output (xor stops at loss 0.01 anyway)"};

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;   // --help (0) or bad usage (2)
    tg_backend *be = ex_backend(&spec, &a);   // --backend, else $TG_BACKEND, else cpu
    if (!be) return 1;
    const float xs[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    const float ys[4] = {0, 1, 1, 0};
    tg_tensor *x = tg_tensor_from(be, TG_F32, 2, (int64_t[]){4, 2}, xs);
    tg_tensor *y = tg_tensor_from(be, TG_F32, 2, (int64_t[]){4, 1}, ys);

    tg_rng *rng = tg_rng_new(a.seed);
    tg_tensor *w1 = tg_param(be, TG_F32, 2, (int64_t[]){2, 8}, NULL);
    tg_tensor *b1 = tg_param(be, TG_F32, 1, (int64_t[]){8}, NULL);
    tg_tensor *w2 = tg_param(be, TG_F32, 2, (int64_t[]){8, 1}, NULL);
    tg_tensor *b2 = tg_param(be, TG_F32, 1, (int64_t[]){1}, NULL);
    tg_tensor *params[4] = {w1, b1, w2, b2};
    tg_uniform_(w1, rng, -1.0, 1.0);
    tg_uniform_(w2, rng, -1.0, 1.0);

    tg_tape *tape = tg_tape_new();
    tg_progress *bar = ex_progress(&a, "xor", a.epochs, "epochs");
    const double lr = 2.0;
    double loss_value = 1.0;
    int status = tape && bar ? 0 : 1;
    for (int epoch = 0; epoch < a.epochs && loss_value >= 0.01 && !status; epoch++) {
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
        tg_progress_update(bar, epoch + 1, loss_value);
        for (int i = 0; i < 4; i++) tg_axpby_(params[i], -lr, tg_grad_of(params[i]), 1.0);
        tg_zero_grad(4, params);
        tg_tape_reset(tape);
    }

    tg_progress_finish(bar);
    tg_progress_free(bar);
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

// The seed lab's moons classifier: make_moons(10000, noise 0.5, seed 42) generated exactly
// as sklearn does, 80/20 split, MLP 2-20-20-2 with ReLU, cross-entropy, Adam (lr 0.01),
// 700 full-batch epochs. Shows its progress (tg_progress: a live line on a terminal, a
// line every 10 % when piped) and prints the test accuracy; writes the loss curve to
// moons_loss.csv (or the path given as an argument). --help lists the options; run with
// --backend cuda (or TG_BACKEND=cuda) to train on the GPU backend where one is available.
#include <stdio.h>
#include <tapegrad/tapegrad.h>

#include "example_args.h"

static const ex_spec spec = {
    .name = "moons",
    .about = "The seed lab's moons classifier: MLP 2-20-20-2, cross-entropy, Adam 0.01, full\n"
             "batch, on make_moons(10000, noise 0.5, seed 42). Writes the loss curve to\n"
             "CURVE_CSV (default moons_loss.csv).\n",
    .flags = EX_TRAINING, .epochs = 700, .quick_epochs = 300, .seed = 42,
    .operands = "[CURVE_CSV]", .max_operands = 1};

// Fraction of rows whose argmax matches the label, computed with ops (no gradient).
static double accuracy(tg_tape *tape, tg_module *net, tg_tensor *x, tg_tensor *y) {
    bool mode = tg_tape_set_grad(tape, false);
    tg_module_train(net, false);
    tg_tensor *pred = tg_argmax(tape, tg_module_forward(net, tape, x), 1, false);
    double acc = tg_item(tg_mean(tape, tg_eq(tape, pred, y)));
    tg_module_train(net, true);
    tg_tape_set_grad(tape, mode);
    return acc;
}

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;   // --help (0) or bad usage (2)
    const char *curve_path = a.n_operands ? a.operands[0] : "moons_loss.csv";
    tg_backend *be = ex_backend(&spec, &a);   // --backend, else $TG_BACKEND, else cpu
    if (!be) return 1;
    tg_tensor *x = NULL, *y = NULL;
    if (tg_make_moons(10000, 0.5, 42, be, TG_F32, &x, &y)) {
        fprintf(stderr, "moons: %s\n", tg_last_error());
        return 1;
    }
    // make_moons already shuffled the rows: the first 8000 train, the last 2000 test.
    tg_tape *tape = tg_tape_new();
    tg_tensor *x_train = tg_to(tg_slice(tape, x, 0, 0, 8000, 1), NULL);
    tg_tensor *y_train = tg_to(tg_slice(tape, y, 0, 0, 8000, 1), NULL);
    tg_tensor *x_test = tg_to(tg_slice(tape, x, 0, 8000, 10000, 1), NULL);
    tg_tensor *y_test = tg_to(tg_slice(tape, y, 0, 8000, 10000, 1), NULL);
    tg_tape_reset(tape);

    tg_rng *rng = tg_rng_new(a.seed);
    tg_module *layers[] = {tg_linear(be, TG_F32, 2, 20, true, rng), tg_relu_layer(),
                           tg_linear(be, TG_F32, 20, 20, true, rng), tg_relu_layer(),
                           tg_linear(be, TG_F32, 20, 2, true, rng)};
    tg_module *net = tg_sequential(5, layers);
    tg_tensor *params[8];
    int n_params = tg_module_params(net, params, 8);
    tg_optim *opt = net ? tg_adam(n_params, params, 0.01) : NULL;
    FILE *curve = fopen(curve_path, "w");
    tg_progress *bar = ex_progress(&a, "moons", a.epochs, "epochs");
    if (!x_test || !y_test || !x_train || !y_train || !net || !opt || !curve || !bar) {
        fprintf(stderr, "moons: setup failed: %s\n", curve ? tg_last_error() : curve_path);
        return 1;
    }
    tg_module_summary(net, 2, (int64_t[]){1, 2}, TG_F32, stdout);
    fprintf(curve, "epoch,loss\n");

    int status = 0;
    for (int epoch = 0; epoch < a.epochs; epoch++) {
        tg_tensor *logits = tg_module_forward(net, tape, x_train);
        tg_tensor *loss = tg_cross_entropy(tape, logits, y_train, NULL, TG_REDUCE_MEAN);
        if (!loss || tg_backward(tape, loss) || tg_optim_step(opt)) {
            fprintf(stderr, "moons: training failed: %s\n", tg_last_error());
            status = 1;
            break;
        }
        double l = tg_item(loss);
        fprintf(curve, "%d,%.6f\n", epoch, l);
        tg_progress_update(bar, epoch + 1, l);   // a live line on a terminal
        tg_optim_zero_grad(opt);
        tg_tape_reset(tape);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    if (!status) {
        double train_acc = accuracy(tape, net, x_train, y_train);
        tg_tape_reset(tape);
        double test_acc = accuracy(tape, net, x_test, y_test);
        printf("train accuracy %.4f  test accuracy %.4f  (loss curve: %s)\n", train_acc, test_acc,
               curve_path);
        if (!(test_acc >= 0.80)) {
            fprintf(stderr, "moons: test accuracy %.4f below 0.80\n", test_acc);
            status = 1;
        }
    }
    fclose(curve);
    tg_optim_free(opt);
    tg_module_free(net);
    tg_tape_free(tape);
    tg_rng_free(rng);
    tg_free(x);
    tg_free(y);
    tg_free(x_train);
    tg_free(y_train);
    tg_free(x_test);
    tg_free(y_test);
    return status;
}

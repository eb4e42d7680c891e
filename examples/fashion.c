// Fashion-MNIST (60000 + 10000 28x28 images, 10 classes) with an MLP 784-256-10 and a small
// CNN (Conv-BatchNorm-ReLU-MaxPool twice, Dropout, Linear), mini-batch Adam (batch 128).
// Shows progress (images/s, ETA), prints test accuracy and images/second; writes
// fashion_loss.csv.
// --quick trains on 6000 images and tests on 2000. Exits 1 when a model's test accuracy is
// below MIN_ACCURACY (quick mode reaches about 0.74 and 0.78), 77 when the data is missing.
#include <time.h>

#include "common.h"

#define MIN_ACCURACY 0.70

static const ex_spec spec = {
    .name = "fashion",
    .about = "Fashion-MNIST (data/fashion-mnist/*-ubyte): an MLP 784-256-10 and a small CNN,\n"
             "mini-batch Adam (batch 128); prints test accuracies and images/s, writes\n"
             "fashion_loss.csv. Exits 1 below 0.70, 77 (skipped) without the data.\n",
    .flags = EX_TRAINING | EX_DATA, .epochs_what = "epochs per model (default: MLP 3, CNN 2)",
    .seed = 11, .quick_what = "6000 training and 2000 test images, 1 epoch per model, no\n"
                              "                   progress output (the CI run)"};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Images [N,784] -> [N,1,28,28] for the CNN; identity for the MLP.
static tg_tensor *shape_input(tg_tape *tape, tg_tensor *x, bool cnn) {
    return cnn ? tg_reshape(tape, x, 4, (int64_t[]){-1, 1, 28, 28}) : x;
}

static int run(const ex_args *a, const char *label, tg_module *net, bool cnn, tg_tensor *xtr,
               tg_tensor *ytr, tg_tensor *xte, tg_tensor *yte, int epochs, FILE *curve) {
    tg_tensor *params[32];
    tg_optim *opt = tg_adam(tg_module_params(net, params, 32), params, 1e-3);
    tg_loader *loader = tg_loader_new(xtr, ytr, 128, true, false, 5);
    tg_tape *tape = tg_tape_new();
    tg_progress *bar = ex_progress(a, label, epochs * tg_shape(xtr)[0], "img");
    if (!opt || !loader || !tape || !bar) return -1;
    int st = 0;
    int64_t seen = 0, step = 0;
    double t0 = now();
    for (int e = 0; e < epochs && !st; e++) {
        tg_loader_reset(loader);
        tg_tensor *xb, *yb;
        double sum = 0;
        int64_t nb = 0;
        while (!st && tg_loader_next(loader, &xb, &yb)) {
            tg_tensor *logits = tg_module_forward(net, tape, shape_input(tape, xb, cnn));
            tg_tensor *loss = tg_cross_entropy(tape, logits, yb, NULL, TG_REDUCE_MEAN);
            st = !loss || tg_backward(tape, loss) || tg_optim_step(opt);
            if (st) break;
            double l = tg_item(loss);
            sum += l;
            nb++;
            seen += tg_shape(xb)[0];
            fprintf(curve, "%s,%lld,%.6f\n", label, (long long)step++, l);
            tg_progress_update(bar, seen, l);
            tg_optim_zero_grad(opt);
            tg_tape_reset(tape);
        }
        if (!st) tg_progress_log(bar, "%s epoch %d  mean loss %.4f", label, e,
                                 sum / (double)(nb ? nb : 1));
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    double secs = now() - t0, acc = 0;
    if (!st) {
        // evaluate in chunks of 1000 to bound memory
        tg_module_train(net, false);
        tg_tape_set_grad(tape, false);
        int64_t n = tg_shape(xte)[0], correct = 0;
        for (int64_t i = 0; i < n && !st; i += 1000) {
            int64_t end = i + 1000 < n ? i + 1000 : n;
            tg_tensor *xb = tg_slice(tape, xte, 0, i, end, 1);
            tg_tensor *yb = tg_slice(tape, yte, 0, i, end, 1);
            tg_tensor *logits = tg_module_forward(net, tape, shape_input(tape, xb, cnn));
            if (!logits) st = -1;
            else correct += (int64_t)(tg_accuracy(logits, yb) * (double)(end - i) + 0.5);
            tg_tape_reset(tape);
        }
        acc = (double)correct / (double)n;
        if (!st)
            printf("%s: test accuracy %.4f, %.0f training images/s (%lld images in %.1f s)\n",
                   label, acc, (double)seen / secs, (long long)seen, secs);
    }
    if (st) fprintf(stderr, "fashion %s: %s\n", label, tg_last_error());
    if (!st && !(acc >= MIN_ACCURACY)) {
        fprintf(stderr, "fashion %s: test accuracy %.4f below %.2f\n", label, acc, MIN_ACCURACY);
        st = 1;
    }
    tg_tape_free(tape);
    tg_loader_free(loader);
    tg_optim_free(opt);
    return st;
}

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    bool quick = a.quick;
    const char *files[4] = {"fashion-mnist/train-images-idx3-ubyte",
                            "fashion-mnist/train-labels-idx1-ubyte",
                            "fashion-mnist/t10k-images-idx3-ubyte",
                            "fashion-mnist/t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++)
        if (!ex_find_data(&spec, &a, files[i])) return EX_EXIT_SKIP;   // it said why
    tg_backend *be = ex_backend(&spec, &a);
    if (!be) return 1;
    tg_tensor *t[4] = {0};
    for (int i = 0; i < 4; i++) {
        if (!(t[i] = tg_load_idx(ex_find_data(&spec, &a, files[i]), be, TG_F32,
                                 i % 2 ? 1.0 : 1.0 / 255.0))) {
            fprintf(stderr, "fashion: %s\n", tg_last_error());
            for (int k = 0; k < i; k++) tg_free(t[k]);
            return 1;
        }
    }
    if (quick) {   // subsets: the first rows of each file
        tg_tape *tape = tg_tape_new();
        int64_t keep[4] = {6000, 6000, 2000, 2000};
        for (int i = 0; i < 4; i++) {
            tg_tensor *s = tg_to(tg_slice(tape, t[i], 0, 0, keep[i], 1), NULL);
            tg_free(t[i]);
            t[i] = s;
        }
        tg_tape_free(tape);
    }
    FILE *curve = fopen("fashion_loss.csv", "w");
    if (!curve) return 1;
    fprintf(curve, "model,step,loss\n");
    tg_rng *rng = tg_rng_new(a.seed);
    tg_module *mlp = make_mlp(be, TG_F32, 784, 1, (int64_t[]){256}, 10, rng);
    tg_conv_opts same = {.padding = {1, 1}};
    tg_module *layers[] = {
        tg_conv2d_layer(be, TG_F32, 1, 8, 3, 3, &same, true, rng),
        tg_batchnorm2d(be, TG_F32, 8, 0.1, 1e-5),
        tg_relu_layer(), tg_maxpool2d_layer(2, 2, NULL),
        tg_conv2d_layer(be, TG_F32, 8, 16, 3, 3, &same, true, rng),
        tg_batchnorm2d(be, TG_F32, 16, 0.1, 1e-5),
        tg_relu_layer(), tg_maxpool2d_layer(2, 2, NULL),
        tg_flatten_layer(), tg_dropout_layer(0.25, rng),
        tg_linear(be, TG_F32, 16 * 7 * 7, 10, true, rng)};
    tg_module *cnn = tg_sequential((int)(sizeof layers / sizeof layers[0]), layers);
    if (!mlp || !cnn) {
        fprintf(stderr, "fashion: %s\n", tg_last_error());
        return 1;
    }
    tg_module_summary(cnn, 4, (int64_t[]){1, 1, 28, 28}, TG_F32, stdout);
    int mlp_epochs = a.epochs ? a.epochs : quick ? 1 : 3;
    int cnn_epochs = a.epochs ? a.epochs : quick ? 1 : 2;
    int status = run(&a, "mlp", mlp, false, t[0], t[1], t[2], t[3], mlp_epochs, curve) ||
                 run(&a, "cnn", cnn, true, t[0], t[1], t[2], t[3], cnn_epochs, curve);
    fclose(curve);
    tg_module_free(mlp);
    tg_module_free(cnn);
    tg_rng_free(rng);
    for (int i = 0; i < 4; i++) tg_free(t[i]);
    return status ? 1 : 0;
}

// sklearn's 8x8 digits (1797 images, 10 classes): softmax regression and an MLP 64-64-10,
// pixels scaled to [0,1], 80/20 split, Adam, full batch. Prints both test accuracies and the
// MLP's confusion matrix; writes digits_loss.csv (epoch, softmax loss, mlp loss).
#include "common.h"

static const ex_spec spec = {
    .name = "digits",
    .about = "sklearn's 8x8 digits (data/digits.csv): softmax regression and an MLP 64-64-10,\n"
             "Adam, full batch, 80/20 split; prints both test accuracies and the MLP's\n"
             "confusion matrix, writes digits_loss.csv. Exits 1 when the MLP is below 0.95,\n"
             "77 (skipped) without the data.\n",
    .flags = EX_TRAINING | EX_DATA, .epochs = 400, .quick_epochs = 150, .seed = 0};

static int train(const ex_args *a, const char *label, tg_module *net, tg_tensor *x,
                 tg_tensor *y, double lr, double *losses) {
    tg_tensor *params[8];
    tg_optim *opt = tg_adam(tg_module_params(net, params, 8), params, lr);
    tg_tape *tape = tg_tape_new();
    tg_progress *bar = ex_progress(a, label, a->epochs, "epochs");
    int epochs = a->epochs, st = opt && tape && bar ? TG_OK : -1;
    for (int e = 0; e < epochs && !st; e++) {
        tg_tensor *loss = tg_cross_entropy(tape, tg_module_forward(net, tape, x), y, NULL,
                                           TG_REDUCE_MEAN);
        st = !loss || tg_backward(tape, loss) || tg_optim_step(opt);
        if (!st) losses[e] = tg_item(loss);
        if (!st) tg_progress_update(bar, e + 1, losses[e]);
        tg_optim_zero_grad(opt);
        tg_tape_reset(tape);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    tg_tape_free(tape);
    tg_optim_free(opt);
    return st;
}

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    const char *path = ex_find_data(&spec, &a, "digits.csv");
    if (!path) return EX_EXIT_SKIP;
    tg_backend *be = ex_backend(&spec, &a);
    if (!be) return 1;
    int epochs = a.epochs;
    tg_tensor *x = NULL, *y = NULL, *xtr = NULL, *xte = NULL, *ytr = NULL, *yte = NULL;
    if (tg_load_csv(path, be, TG_F32, false, -1, &x, &y) ||
        tg_train_test_split(x, y, 0.2, 42, &xtr, &xte, &ytr, &yte) || tg_scale_(xtr, 1.0 / 16) ||
        tg_scale_(xte, 1.0 / 16)) {
        fprintf(stderr, "digits: %s\n", tg_last_error());
        return 1;
    }
    tg_rng *rng = tg_rng_new(a.seed);
    tg_module *softmax = make_mlp(be, TG_F32, 64, 0, NULL, 10, rng);
    tg_module *mlp = make_mlp(be, TG_F32, 64, 1, (int64_t[]){64}, 10, rng);
    double *l1 = calloc((size_t)epochs, sizeof *l1), *l2 = calloc((size_t)epochs, sizeof *l2);
    if (!softmax || !mlp || !l1 || !l2 || train(&a, "softmax", softmax, xtr, ytr, 0.05, l1) ||
        train(&a, "mlp", mlp, xtr, ytr, 0.01, l2)) {
        fprintf(stderr, "digits: %s\n", tg_last_error());
        return 1;
    }
    FILE *curve = fopen("digits_loss.csv", "w");
    if (curve) {
        fprintf(curve, "epoch,softmax_loss,mlp_loss\n");
        for (int e = 0; e < epochs; e++) fprintf(curve, "%d,%.6f,%.6f\n", e, l1[e], l2[e]);
        fclose(curve);
    }
    for (int e = 0; e < epochs; e += epochs >= 4 ? epochs / 4 : 1)
        printf("epoch %3d  softmax loss %.4f  mlp loss %.4f\n", e, l1[e], l2[e]);
    tg_tape *tape = tg_tape_new();
    double acc_soft = eval_accuracy(tape, softmax, xte, yte);
    double acc_mlp = eval_accuracy(tape, mlp, xte, yte);
    printf("test accuracy: softmax regression %.4f, MLP 64-64-10 %.4f\n", acc_soft, acc_mlp);
    tg_tape_set_grad(tape, false);
    int64_t cm[100];
    if (!tg_confusion_matrix(tg_module_forward(mlp, tape, xte), yte, 10, cm))
        tg_print_confusion(cm, 10, stdout);
    int status = acc_mlp >= 0.95 ? 0 : 1;
    if (status) fprintf(stderr, "digits: MLP accuracy %.4f below 0.95\n", acc_mlp);
    tg_tape_free(tape);
    free(l1);
    free(l2);
    tg_module_free(softmax);
    tg_module_free(mlp);
    tg_rng_free(rng);
    tg_free(x), tg_free(y), tg_free(xtr), tg_free(xte), tg_free(ytr), tg_free(yte);
    return status;
}

// sklearn's diabetes regression set (442 patients, 10 features, disease progression):
// standardised features and target, 80/20 split, MLP 10-32-1, MSE, Adam. Prints the test
// MSE (in the target's units) and R^2; writes regression_loss.csv.
#include "common.h"

static const ex_spec spec = {
    .name = "regression",
    .about = "sklearn's diabetes regression set (data/diabetes_reg.csv): MLP 10-32-1, MSE, Adam\n"
             "0.005 on standardised features and target; prints the test MSE and R^2, writes\n"
             "regression_loss.csv. Exits 1 when R^2 <= 0.3, 77 (skipped) without the data.\n",
    .flags = EX_TRAINING | EX_DATA, .epochs = 120, .quick_epochs = 100, .seed = 3};

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    const char *path = ex_find_data(&spec, &a, "diabetes_reg.csv");
    if (!path) return EX_EXIT_SKIP;
    tg_backend *be = ex_backend(&spec, &a);
    if (!be) return 1;
    int epochs = a.epochs;   // longer runs overfit 353 rows
    tg_tensor *x = NULL, *y = NULL, *xtr = NULL, *xte = NULL, *ytr = NULL, *yte = NULL;
    if (tg_load_csv(path, be, TG_F32, true, -1, &x, &y) ||
        tg_train_test_split(x, y, 0.2, 7, &xtr, &xte, &ytr, &yte)) {
        fprintf(stderr, "regression: %s\n", tg_last_error());
        return 1;
    }
    double mean[10], std[10], ym, ys;
    tg_standardize_fit(xtr, mean, std);
    tg_standardize_apply(xtr, mean, std);
    tg_standardize_apply(xte, mean, std);
    int64_t ntr = tg_shape(ytr)[0], nte = tg_shape(yte)[0];
    tg_tape *tape = tg_tape_new();
    // target as a column, standardised with the training mean/std
    tg_tensor *ytr_col = tg_to(tg_reshape(tape, ytr, 2, (int64_t[]){ntr, 1}), NULL);
    tg_tensor *yte_col = tg_to(tg_reshape(tape, yte, 2, (int64_t[]){nte, 1}), NULL);
    tg_tape_reset(tape);
    tg_standardize_fit(ytr_col, &ym, &ys);
    tg_standardize_apply(ytr_col, &ym, &ys);
    tg_standardize_apply(yte_col, &ym, &ys);

    tg_rng *rng = tg_rng_new(a.seed);
    tg_module *net = make_mlp(be, TG_F32, 10, 1, (int64_t[]){32}, 1, rng);
    tg_tensor *params[8];
    tg_optim *opt = tg_adam(tg_module_params(net, params, 8), params, 0.005);
    FILE *curve = fopen("regression_loss.csv", "w");
    tg_progress *bar = ex_progress(&a, "regression", epochs, "epochs");
    if (!net || !opt || !curve || !ytr_col || !yte_col || !bar) {
        fprintf(stderr, "regression: setup failed: %s\n", tg_last_error());
        return 1;
    }
    fprintf(curve, "epoch,train_mse\n");
    int status = 0;
    for (int e = 0; e < epochs; e++) {
        tg_tensor *loss = tg_mse_loss(tape, tg_module_forward(net, tape, xtr), ytr_col,
                                      TG_REDUCE_MEAN);
        if (!loss || tg_backward(tape, loss) || tg_optim_step(opt)) {
            fprintf(stderr, "regression: %s\n", tg_last_error());
            status = 1;
            break;
        }
        fprintf(curve, "%d,%.6f\n", e, tg_item(loss));
        tg_progress_update(bar, e + 1, tg_item(loss));   // train MSE, standardised
        tg_optim_zero_grad(opt);
        tg_tape_reset(tape);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    if (!status) {
        tg_tape_set_grad(tape, false);
        double mse = tg_item(tg_mse_loss(tape, tg_module_forward(net, tape, xte), yte_col,
                                         TG_REDUCE_MEAN));
        double var = tg_item(tg_var(tape, yte_col, 2, (int[]){0, 1}, 0, false));
        printf("test MSE %.1f (target units), R^2 %.3f\n", mse * ys * ys, 1.0 - mse / var);
        if (!(1.0 - mse / var > 0.3)) {
            fprintf(stderr, "regression: R^2 too low\n");
            status = 1;
        }
    }
    fclose(curve);
    tg_tape_free(tape);
    tg_optim_free(opt);
    tg_module_free(net);
    tg_rng_free(rng);
    tg_free(x), tg_free(y), tg_free(xtr), tg_free(xte), tg_free(ytr), tg_free(yte);
    tg_free(ytr_col), tg_free(yte_col);
    return status;
}

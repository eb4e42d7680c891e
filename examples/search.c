// The seed notes' lesson on hyper-parameter search: random search over the learning rate
// (log-uniform in [1e-4, 1e-1]) and the hidden width ({4, 8, 16, 32, 64}) for the moons MLP,
// each trial trained with Adam and early stopping on a validation split (patience 20).
// Prints a table of the trials and the best one; writes search_trials.csv.
#include <math.h>

#include "common.h"

static const ex_spec spec = {
    .name = "search",
    .about = "Random search over the learning rate (log-uniform in [1e-4, 1e-1]) and the hidden\n"
             "width of the moons MLP, Adam, early stopping on a validation split; prints a\n"
             "table of the trials and the best one, writes search_trials.csv.\n",
    .flags = EX_TRAINING, .epochs = 400, .quick_epochs = 150,
    .epochs_what = "most epochs per trial", .seed = 2024,
    .seed_what = "the search (trial settings)",
    .quick_what = "4 trials instead of 12, 150 epochs each, no progress output"};

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    tg_backend *be = ex_backend(&spec, &a);
    if (!be) return 1;
    int trials = a.quick ? 4 : 12, max_epochs = a.epochs;
    tg_tensor *x = NULL, *y = NULL, *xtr = NULL, *xva = NULL, *ytr = NULL, *yva = NULL;
    if (tg_make_moons(4000, 0.3, 7, be, TG_F32, &x, &y) ||
        tg_train_test_split(x, y, 0.25, 1, &xtr, &xva, &ytr, &yva)) {
        fprintf(stderr, "search: %s\n", tg_last_error());
        return 1;
    }
    const int64_t widths[] = {4, 8, 16, 32, 64};
    tg_rng *search_rng = tg_rng_new(a.seed);
    tg_tape *tape = tg_tape_new();
    FILE *csv = fopen("search_trials.csv", "w");
    tg_progress *bar = ex_progress(&a, "search", trials, "trials");
    if (!search_rng || !tape || !csv || !bar) return 1;
    fprintf(csv, "trial,lr,width,epochs,best_epoch,val_loss,val_accuracy\n");
    printf("%5s %10s %6s %7s %10s %9s %8s\n", "trial", "lr", "width", "epochs", "best_epoch",
           "val_loss", "val_acc");
    double best_acc = -1;
    int best_trial = -1, status = 0;
    for (int t = 0; t < trials && !status; t++) {
        double lr = pow(10.0, -4.0 + 3.0 * tg_rng_uniform(search_rng));
        int64_t w = widths[(int)(tg_rng_uniform(search_rng) * 5)];
        tg_rng *rng = tg_rng_new((uint64_t)t);
        tg_module *net = make_mlp(be, TG_F32, 2, 2, (int64_t[]){w, w}, 2, rng);
        tg_tensor *params[8];
        tg_optim *opt = tg_adam(tg_module_params(net, params, 8), params, lr);
        tg_early_stop es = tg_early_stop_init(20, 1e-4, false);
        int e = 0;
        double val = NAN;
        for (; e < max_epochs && opt; e++) {
            tg_tensor *l = tg_cross_entropy(tape, tg_module_forward(net, tape, xtr), ytr, NULL,
                                            TG_REDUCE_MEAN);
            if (!l || tg_backward(tape, l) || tg_optim_step(opt)) break;
            tg_optim_zero_grad(opt);
            tg_tape_reset(tape);
            tg_tape_set_grad(tape, false);
            val = tg_item(tg_cross_entropy(tape, tg_module_forward(net, tape, xva), yva, NULL,
                                           TG_REDUCE_MEAN));
            tg_tape_set_grad(tape, true);
            tg_tape_reset(tape);
            if (tg_early_stop_update(&es, val, NULL)) {
                e++;
                break;
            }
        }
        if (!opt || tg_last_status()) {
            fprintf(stderr, "search: trial %d: %s\n", t, tg_last_error());
            status = 1;
        } else {
            double acc = eval_accuracy(tape, net, xva, yva);
            tg_progress_log(bar, "%5d %10.2e %6lld %7d %10d %9.4f %8.4f", t, lr, (long long)w, e,
                            es.best_epoch, es.best, acc);   // a table row, above the live line
            tg_progress_update(bar, t + 1, es.best);
            fprintf(csv, "%d,%.6g,%lld,%d,%d,%.6f,%.6f\n", t, lr, (long long)w, e, es.best_epoch,
                    es.best, acc);
            if (acc > best_acc) best_acc = acc, best_trial = t;
        }
        tg_optim_free(opt);
        tg_module_free(net);
        tg_rng_free(rng);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    if (!status) printf("best trial %d: validation accuracy %.4f\n", best_trial, best_acc);
    fclose(csv);
    tg_tape_free(tape);
    tg_rng_free(search_rng);
    tg_free(x), tg_free(y), tg_free(xtr), tg_free(xva), tg_free(ytr), tg_free(yva);
    return status;
}

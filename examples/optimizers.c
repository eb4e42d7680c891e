// The seed notes' optimizer lesson: the same moons MLP (2-20-20-2, same initial weights)
// trained with SGD, SGD+momentum, Nesterov, Adagrad, RMSprop, Adam, Adamax and NAdam;
// prints the training loss every 50 epochs side by side and writes optimizers_loss.csv.
#include <math.h>

#include "common.h"

#define N_OPT 8

static const ex_spec spec = {
    .name = "optimizers",
    .about = "The moons MLP 2-20-20-2 (same initial weights) trained with SGD, momentum,\n"
             "Nesterov, Adagrad, RMSprop, Adam, Adamax and NAdam; prints the loss every 50\n"
             "epochs side by side, writes optimizers_loss.csv.\n",
    .flags = EX_TRAINING, .epochs = 300, .quick_epochs = 100, .seed = 42,
    .seed_what = "the initial weights (shared by all)"};

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    tg_backend *be = ex_backend(&spec, &a);
    if (!be) return 1;
    int epochs = a.epochs;
    tg_tensor *x = NULL, *y = NULL;
    if (tg_make_moons(2000, 0.2, 1, be, TG_F32, &x, &y)) {
        fprintf(stderr, "optimizers: %s\n", tg_last_error());
        return 1;
    }
    const char *names[N_OPT] = {"SGD", "Momentum", "Nesterov", "Adagrad",
                                "RMSprop", "Adam", "Adamax", "NAdam"};
    tg_optim_kind kinds[N_OPT] = {TG_OPTIM_SGD, TG_OPTIM_SGD, TG_OPTIM_SGD, TG_OPTIM_ADAGRAD,
                                  TG_OPTIM_RMSPROP, TG_OPTIM_ADAM, TG_OPTIM_ADAMAX, TG_OPTIM_NADAM};
    double lrs[N_OPT] = {0.1, 0.05, 0.05, 0.05, 0.005, 0.01, 0.02, 0.01};
    double *loss = calloc((size_t)(N_OPT * epochs), sizeof *loss);
    tg_tape *tape = tg_tape_new();
    tg_progress *bar = ex_progress(&a, "optimizers", (int64_t)N_OPT * epochs, "epochs");
    int status = loss && tape && bar ? 0 : 1;
    for (int k = 0; k < N_OPT && !status; k++) {
        tg_rng *rng = tg_rng_new(a.seed);   // same initial weights for every optimizer
        tg_module *net = make_mlp(be, TG_F32, 2, 2, (int64_t[]){20, 20}, 2, rng);
        tg_tensor *params[8];
        int n = tg_module_params(net, params, 8);
        tg_optim_opts o = tg_optim_opts_default(kinds[k]);
        o.lr = lrs[k];
        if (k == 1 || k == 2) o.momentum = 0.9;
        o.nesterov = k == 2;
        tg_optim *opt = tg_optim_new(kinds[k], n, params, &o);
        for (int e = 0; e < epochs && opt; e++) {
            tg_tensor *l = tg_cross_entropy(tape, tg_module_forward(net, tape, x), y, NULL,
                                            TG_REDUCE_MEAN);
            if (!l || tg_backward(tape, l) || tg_optim_step(opt)) break;
            loss[k * epochs + e] = tg_item(l);
            tg_progress_update(bar, (int64_t)k * epochs + e + 1, loss[k * epochs + e]);
            tg_optim_zero_grad(opt);
            tg_tape_reset(tape);
        }
        if (!opt || tg_last_status()) {
            fprintf(stderr, "optimizers: %s: %s\n", names[k], tg_last_error());
            status = 1;
        }
        tg_tape_reset(tape);
        tg_optim_free(opt);
        tg_module_free(net);
        tg_rng_free(rng);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    if (!status) {
        printf("%6s", "epoch");
        for (int k = 0; k < N_OPT; k++) printf(" %9s", names[k]);
        printf("\n");
        for (int e = 0; e < epochs; e++) {
            if (e % 50 && e != epochs - 1) continue;
            printf("%6d", e);
            for (int k = 0; k < N_OPT; k++) printf(" %9.4f", loss[k * epochs + e]);
            printf("\n");
        }
        FILE *curve = fopen("optimizers_loss.csv", "w");
        if (curve) {
            fprintf(curve, "epoch");
            for (int k = 0; k < N_OPT; k++) fprintf(curve, ",%s", names[k]);
            fprintf(curve, "\n");
            for (int e = 0; e < epochs; e++) {
                fprintf(curve, "%d", e);
                for (int k = 0; k < N_OPT; k++) fprintf(curve, ",%.6f", loss[k * epochs + e]);
                fprintf(curve, "\n");
            }
            fclose(curve);
        }
        for (int k = 0; k < N_OPT; k++)   // every optimizer must have made progress
            if (!(loss[k * epochs + epochs - 1] < loss[k * epochs])) {
                fprintf(stderr, "optimizers: %s did not reduce the loss\n", names[k]);
                status = 1;
            }
    }
    free(loss);
    tg_tape_free(tape);
    tg_free(x);
    tg_free(y);
    return status;
}

// The digits MLP on 2 ranks reaches the accuracy band of one process (issue 14): sklearn's
// 8x8 digits, 80/20 split, MLP 64-64-10, Adam. The data-parallel run gives each rank its
// shard of the training set (tg_dist_loader, one batch per rank per epoch) and measures the
// test accuracy over shards of the test set (tg_dist_accuracy); the single-process run
// trains on the whole set. Both must reach 0.95 and differ by at most 0.02. Exits 77
// (skipped) when digits.csv is missing (scripts/fetch_data.sh).
#include <stdlib.h>

#include "dist_test.h"

#ifndef TG_SOURCE_DIR
#define TG_SOURCE_DIR "."
#endif

enum {
    EPOCHS = 150
};

static const char *find_digits(void) {
    static char path[4096];
    const char *dirs[] = {getenv("TG_DATA_DIR"), "data", TG_SOURCE_DIR "/data",
                          TG_SOURCE_DIR "/../shared/data"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i]) continue;
        snprintf(path, sizeof path, "%s/digits.csv", dirs[i]);
        FILE *f = fopen(path, "rb");
        if (f) return fclose(f), path;
    }
    return NULL;
}

static tg_module *mlp(void) {
    tg_backend *cpu = tg_backend_get("cpu");
    tg_rng *rng = tg_rng_new(0);
    tg_module *layers[] = {tg_linear(cpu, TG_F32, 64, 64, true, rng), tg_relu_layer(),
                           tg_linear(cpu, TG_F32, 64, 10, true, rng)};
    tg_rng_free(rng);
    return tg_sequential(3, layers);
}

// Trains on (x, y): with ddp, on this rank's shard through a tg_dist_loader; without, on
// all rows. Returns the status.
static int train(tg_dist *d, tg_ddp *ddp, tg_module *net, tg_tensor *x, tg_tensor *y) {
    tg_tensor *params[4];
    tg_optim *opt = tg_adam(tg_module_params(net, params, 4), params, 0.01);
    tg_tape *tape = tg_tape_new();
    int64_t rows = tg_dist_shard_size(tg_shape(x)[0], tg_dist_size(d), false);
    tg_dist_loader *l = ddp ? tg_dist_loader_new(d, x, y, rows, false, 3) : NULL;
    int st = opt && tape && (!ddp || l) ? TG_OK : tg_last_status();
    for (int e = 0; e < EPOCHS && !st; e++) {
        tg_tensor *xb = x, *yb = y;
        if (l && (tg_dist_loader_set_epoch(l, e) || !tg_dist_loader_next(l, &xb, &yb)))
            st = tg_last_status();
        tg_tensor *loss =
            tg_cross_entropy(tape, tg_module_forward(net, tape, xb), yb, NULL, TG_REDUCE_MEAN);
        if (!st) st = ddp ? tg_ddp_backward(ddp, tape, loss) : !loss || tg_backward(tape, loss);
        if (!st) st = tg_optim_step(opt) || tg_optim_zero_grad(opt);
        tg_tape_reset(tape);
    }
    tg_dist_loader_free(l);
    tg_tape_free(tape);
    tg_optim_free(opt);
    return st;
}

static double accuracy(tg_dist *d, tg_module *net, tg_tensor *x, tg_tensor *y, bool sharded) {
    tg_tape *tape = tg_tape_new();
    tg_tape_set_grad(tape, false);
    int64_t n = tg_shape(x)[0], r = tg_dist_rank(d), s = tg_dist_size(d);
    int64_t lo = sharded ? r * n / s : 0, hi = sharded ? (r + 1) * n / s : n;
    tg_tensor *logits = tg_module_forward(net, tape, tg_slice(tape, x, 0, lo, hi, 1));
    tg_tensor *labels = tg_slice(tape, y, 0, lo, hi, 1);
    double acc = sharded ? tg_dist_accuracy(d, logits, labels) : tg_accuracy(logits, labels);
    tg_tape_free(tape);
    return acc;
}

int main(int argc, char **argv) {
    tg_dist *d = tg_dist_init(&argc, &argv);
    if (!d) return fprintf(stderr, "tg_dist_init: %s\n", tg_last_error()), 1;
    int rank = dist_test_rank = tg_dist_rank(d);
    const char *path = find_digits();
    int64_t missing = path == NULL;
    tg_dist_allreduce_i64(d, &missing, 1, TG_DIST_MAX);
    if (missing) {
        if (rank == 0) printf("skipped: digits.csv not found (run scripts/fetch_data.sh)\n");
        tg_dist_free(d);
        return 77;
    }
    tg_backend *cpu = tg_backend_get("cpu");
    tg_tensor *x = NULL, *y = NULL, *xtr = NULL, *xte = NULL, *ytr = NULL, *yte = NULL;
    int st = tg_load_csv(path, cpu, TG_F32, false, -1, &x, &y) ||
             tg_train_test_split(x, y, 0.2, 42, &xtr, &xte, &ytr, &yte) ||
             tg_scale_(xtr, 1.0 / 16) || tg_scale_(xte, 1.0 / 16);
    CHECK(!st, "loading %s", path);
    tg_module *single = mlp(), *net = mlp();
    tg_ddp *ddp = st ? NULL : tg_ddp_new(d, net, NULL);
    CHECK(ddp, "tg_ddp_new");
    if (ddp) {
        CHECK(train(d, NULL, single, xtr, ytr) == 0, "single-process training");
        CHECK(train(d, ddp, net, xtr, ytr) == 0, "data-parallel training");
        double a1 = accuracy(d, single, xte, yte, false), a2 = accuracy(d, net, xte, yte, true);
        if (rank == 0)
            printf("   test accuracy: one process %.4f, %d ranks %.4f\n", a1, tg_dist_size(d), a2);
        CHECK(a1 >= 0.95 && a2 >= 0.95, "accuracy below 0.95: %.4f / %.4f", a1, a2);
        CHECK(fabs(a1 - a2) <= 0.02, "accuracies differ by %.4f", fabs(a1 - a2));
        tg_ddp_free(ddp);
    }
    int before = 0;
    dist_test_case(d, "digits MLP: data-parallel accuracy in the one-process band", &before);
    tg_module_free(single);
    tg_module_free(net);
    tg_free(x), tg_free(y), tg_free(xtr), tg_free(xte), tg_free(ytr), tg_free(yte);
    return dist_test_end(d);
}

// Data-parallel training (libtapegrad-dist, issue 14): Fashion-MNIST with an MLP
// 784-256-10 and mini-batch Adam on every rank of an MPI job:
//
//     mpirun -np 2 ./build/examples/ddp            (one machine)
//     mpirun -H a,b -np 4 ./build/examples/ddp     (several; same binary and data on each)
//
// Each rank trains on its shard of every epoch's permutation (tg_dist_loader, batch 64 per
// rank); gradients are averaged across ranks during backward (tg_ddp_backward), so all
// ranks keep the same parameters. Loss and test accuracy are averaged over ranks, each
// rank prints its images/s and rank 0 the total, and rank 0 alone writes the checkpoint
// ddp.safetensors. --quick: 6000 training and 2000 test images, one epoch. Exits 77 when
// the data is missing (scripts/fetch_data.sh), 1 below MIN_ACCURACY.
#include <time.h>

#include <tapegrad/dist.h>

#include "common.h"
#include "example_args.h"

#define MIN_ACCURACY 0.70
enum {
    BATCH = 64
};

static const ex_spec spec = {
    .name = "ddp",
    .about = "Data-parallel training of a Fashion-MNIST MLP over MPI (run it with mpirun).\n",
    .flags = EX_QUICK | EX_BACKEND | EX_THREADS | EX_EPOCHS | EX_DATA | EX_QUIET,
    .epochs = 3,
    .quick_epochs = 1,
    .quick_what = "6000 training and 2000 test images, one epoch (the CI run)",
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// The four Fashion-MNIST files (x scaled to [0, 1]); with quick, their first rows.
static int load(const ex_args *a, tg_backend *be, bool quick, tg_tensor **t) {
    const char *files[4] = {
        "fashion-mnist/train-images-idx3-ubyte", "fashion-mnist/train-labels-idx1-ubyte",
        "fashion-mnist/t10k-images-idx3-ubyte", "fashion-mnist/t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        const char *p = ex_find_data(&spec, a, files[i]);
        if (!p) return EX_EXIT_SKIP;
        if (!(t[i] = tg_load_idx(p, be, TG_F32, i % 2 ? 1.0 : 1.0 / 255.0))) return 1;
    }
    int64_t keep[4] = {6000, 6000, 2000, 2000};
    tg_tape *tape = tg_tape_new();
    for (int i = 0; i < 4 && quick; i++) {
        tg_tensor *s = tg_to(tg_slice(tape, t[i], 0, 0, keep[i], 1), NULL);
        tg_free(t[i]);
        t[i] = s;
    }
    tg_tape_free(tape);
    return t[0] && t[1] && t[2] && t[3] ? 0 : 1;
}

// One epoch on this rank's shard; the mean loss over all ranks' batches goes to *loss.
// bar: rank 0's progress over all epochs' batches (silent elsewhere); *done counts them.
static int epoch(tg_ddp *ddp, tg_dist_loader *l, tg_module *net, tg_optim *opt, tg_tape *tape,
                 tg_progress *bar, int64_t *done, int64_t *images, double *loss) {
    tg_tensor *xb, *yb;
    double sum = 0;
    int64_t batches = 0;
    while (tg_dist_loader_next(l, &xb, &yb)) {
        tg_tensor *out =
            tg_cross_entropy(tape, tg_module_forward(net, tape, xb), yb, NULL, TG_REDUCE_MEAN);
        // one call: backward, and the gradients averaged over ranks (collective)
        if (tg_ddp_backward(ddp, tape, out) || tg_optim_step(opt)) return -1;
        sum += tg_item(out);
        batches++;
        tg_progress_update(bar, ++*done, tg_item(out));
        *images += tg_shape(xb)[0];
        tg_optim_zero_grad(opt);
        tg_tape_reset(tape);
    }
    *loss = sum / (double)(batches ? batches : 1);
    return 0;
}

// Test accuracy over all ranks: each rank evaluates its slice of the test set.
static double test_accuracy(tg_dist *d, tg_module *net, tg_tape *tape, tg_tensor *x, tg_tensor *y) {
    int64_t n = tg_shape(x)[0], r = tg_dist_rank(d), s = tg_dist_size(d);
    bool mode = tg_tape_set_grad(tape, false);
    tg_tensor *logits =
        tg_module_forward(net, tape, tg_slice(tape, x, 0, r * n / s, (r + 1) * n / s, 1));
    double acc = tg_dist_accuracy(d, logits, tg_slice(tape, y, 0, r * n / s, (r + 1) * n / s, 1));
    tg_tape_set_grad(tape, mode);
    tg_tape_reset(tape);
    return acc;
}

static int train(const ex_args *a, tg_dist *d, tg_tensor **t, int epochs) {
    int rank = tg_dist_rank(d), size = tg_dist_size(d);
    tg_rng *rng = tg_rng_new(11);
    tg_module *net = make_mlp(tg_backend_of(t[0]), TG_F32, 784, 1, (int64_t[]){256}, 10, rng);
    tg_ddp *ddp = net ? tg_ddp_new(d, net, NULL) : NULL;  // checks models, copies rank 0's
    tg_tensor *params[8];
    tg_optim *opt = ddp ? tg_adam(tg_module_params(net, params, 8), params, 1e-3) : NULL;
    tg_dist_loader *l = opt ? tg_dist_loader_new(d, t[0], t[1], BATCH, false, 5) : NULL;
    tg_tape *tape = tg_tape_new();
    // rank 0 shows the progress over every epoch's batches (a live line on a terminal)
    ex_args quiet = *a;
    quiet.quiet = a->quiet || rank != 0;
    tg_progress *bar = l ? ex_progress(&quiet, "train", epochs * tg_dist_loader_n_batches(l),
                                       "batches") : NULL;
    int st = l && tape && bar ? 0 : -1;
    int64_t images = 0, done = 0;
    double t0 = now();
    for (int e = 0; e < epochs && !st; e++) {
        double loss = 0;
        st = tg_dist_loader_set_epoch(l, e) ||
             epoch(ddp, l, net, opt, tape, bar, &done, &images, &loss);
        double mean = st ? 0 : tg_dist_mean(d, loss, 1.0);  // collective: every rank calls
        if (!st && rank == 0) tg_progress_log(bar, "epoch %d  mean loss %.4f", e, mean);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    double secs = now() - t0, acc = st ? 0 : test_accuracy(d, net, tape, t[2], t[3]);
    double mine = (double)images / secs, total = st ? 0 : tg_dist_mean(d, mine, 1.0) * size;
    if (!st) {
        printf("rank %d: %lld training images in %.1f s, %.0f images/s\n", rank, (long long)images,
               secs, mine);
        fflush(stdout);
        tg_dist_barrier(d);
        if (rank == 0)
            printf("%d ranks: %.0f images/s in total; test accuracy %.4f\n", size, total, acc);
        st = tg_dist_save_safetensors(d, net, "ddp.safetensors");  // rank 0 writes
    }
    if (st) fprintf(stderr, "ddp (rank %d): %s\n", rank, tg_last_error());
    if (!st && !(acc >= MIN_ACCURACY)) {
        if (rank == 0) fprintf(stderr, "ddp: test accuracy %.4f below %.2f\n", acc, MIN_ACCURACY);
        st = 1;
    }
    tg_tape_free(tape);
    tg_dist_loader_free(l);
    tg_optim_free(opt);
    tg_ddp_free(ddp);
    tg_module_free(net);
    tg_rng_free(rng);
    return st;
}

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);   // before MPI: --help needs no mpirun
    if (rc >= 0) return rc;
    tg_dist *d = tg_dist_init(&argc, &argv);  // MPI_Init; a group of one without mpirun
    if (!d) {
        fprintf(stderr, "ddp: %s\n", tg_last_error());
        return 1;
    }
    bool quick = a.quick;
    tg_backend *be = ex_backend(&spec, &a);
    tg_tensor *t[4] = {0};
    int st = be ? load(&a, be, quick, t) : 1;
    int64_t worst = st;  // every rank must agree before anything collective
    tg_dist_allreduce_i64(d, &worst, 1, TG_DIST_MAX);
    if (worst && st == 1)
        fprintf(stderr, "ddp: %s\n", tg_last_error());
    if (!worst) st = train(&a, d, t, a.epochs);
    for (int i = 0; i < 4; i++) tg_free(t[i]);
    tg_dist_free(d);
    return worst ? (int)worst : st ? 1 : 0;
}

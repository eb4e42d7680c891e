// tg-bench-ddp: data-parallel scaling of the mnist-mlp training step (issue 14). Every rank
// trains an MLP 784-1024-1024-10 (f32, Adam 1e-3, cross-entropy) on its own batch of 256
// synthetic images; the gradients (~1.9 M) are averaged over the ranks each step.
//
//     tg-bench-ddp --threads 1                   1 process, 1 thread (no dist at all)
//     tg-bench-ddp --threads 2                   1 process, 2 threads
//     mpirun -np 2 tg-bench-ddp --threads 1      2 ranks, 1 thread each
//
// Prints one JSON line (rank 0): ranks, threads, step time (median over timed steps, the
// slowest rank's), images/s in total and per rank, the part of the step spent in
// tg_ddp_finish after backward (communication not hidden behind the pass), and the
// allocations per steady-state step. bench/compare_ddp.py runs the three configurations
// and PyTorch (DDP over gloo) in the same run.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tapegrad/dist.h>
#include <tapegrad/tapegrad.h>

enum {
    IN = 784,
    HIDDEN = 1024,
    OUT = 10
};

typedef struct opts {
    int threads, steps, warmup;
    int64_t batch;
    size_t bucket_bytes;
    bool plain;           // one process without tg_ddp (the baseline)
    const char *backend;  // NULL: $TG_BACKEND, else cpu
} opts;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int usage(const char *bad) {
    if (bad) fprintf(stderr, "tg-bench-ddp: bad option '%s'\n", bad);
    fprintf(stderr, "usage: [mpirun -np N] tg-bench-ddp [--threads T] [--steps S] "
                    "[--warmup W] [--batch B] [--bucket-bytes N] [--backend NAME] "
                    "[--plain]\n");
    return bad ? 2 : 0;
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){.threads = 1, .steps = 20, .warmup = 3, .batch = 256, .bucket_bytes = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--plain") == 0)
            o->plain = true;
        else if (strcmp(a, "--help") == 0)
            return usage(NULL), 1;
        else if (!v)
            return usage(a);
        else if (strcmp(a, "--threads") == 0)
            o->threads = atoi(v), i++;
        else if (strcmp(a, "--steps") == 0)
            o->steps = atoi(v), i++;
        else if (strcmp(a, "--warmup") == 0)
            o->warmup = atoi(v), i++;
        else if (strcmp(a, "--batch") == 0)
            o->batch = atoll(v), i++;
        else if (strcmp(a, "--bucket-bytes") == 0)
            o->bucket_bytes = (size_t)atoll(v), i++;
        else if (strcmp(a, "--backend") == 0)
            o->backend = v, i++;
        else
            return usage(a);
    }
    if (o->threads < 1 || o->steps < 1 || o->warmup < 0 || o->batch < 1) return usage("(value)");
    return 0;
}

typedef struct bench {
    tg_module *net;
    tg_optim *opt;
    tg_tape *tape;
    tg_tensor *x, *y;
    tg_ddp *ddp;
} bench;

// One training step; *exposed gets the time spent in tg_ddp_finish.
static int step(bench *b, double *exposed) {
    tg_tensor *loss = tg_cross_entropy(b->tape, tg_module_forward(b->net, b->tape, b->x), b->y,
                                       NULL, TG_REDUCE_MEAN);
    int st = !loss || tg_backward(b->tape, loss);
    double t0 = now();
    if (b->ddp) {
        int f = tg_ddp_finish(b->ddp);
        st = st ? st : f;
    }
    *exposed = now() - t0;
    st = st || tg_optim_step(b->opt) || tg_optim_zero_grad(b->opt);
    tg_tape_reset(b->tape);
    return st;
}

static int setup(bench *b, tg_dist *d, const opts *o) {
    tg_backend *cpu = tg_backend_get("cpu");
    tg_backend_set_threads(cpu, o->threads);
    tg_rng *rng = tg_rng_new(1 + (uint64_t)tg_dist_rank(d));
    tg_module *layers[] = {tg_linear(cpu, TG_F32, IN, HIDDEN, true, rng), tg_relu_layer(),
                           tg_linear(cpu, TG_F32, HIDDEN, HIDDEN, true, rng), tg_relu_layer(),
                           tg_linear(cpu, TG_F32, HIDDEN, OUT, true, rng)};
    b->net = tg_sequential(5, layers);
    b->x = tg_tensor_new(cpu, TG_F32, 2, (int64_t[]){o->batch, IN});
    b->y = tg_tensor_new(cpu, TG_F32, 1, (int64_t[]){o->batch});
    if (!b->net || !b->x || !b->y) return -1;
    tg_uniform_(b->x, rng, 0, 1);
    float *y = tg_data_f32(b->y);
    for (int64_t i = 0; i < o->batch; i++) y[i] = (float)(int)(tg_rng_uniform(rng) * OUT);
    tg_mark_dirty(b->y);
    tg_rng_free(rng);
    tg_backend *be = tg_backend_get(o->backend);  // the model and data move there
    if (!be) return -1;
    if (be != cpu) {
        tg_tensor *x = tg_to(b->x, be), *yb = tg_to(b->y, be);
        tg_free(b->x), tg_free(b->y);
        b->x = x, b->y = yb;
        if (!x || !yb || tg_module_to(b->net, be)) return -1;
        tg_backend_set_threads(be, o->threads);
    }
    tg_ddp_opts dopts = tg_ddp_opts_default();
    if (o->bucket_bytes) dopts.bucket_bytes = o->bucket_bytes;
    if (!o->plain && !(b->ddp = tg_ddp_new(d, b->net, &dopts))) return -1;
    tg_tensor *params[8];
    b->opt = tg_adam(tg_module_params(b->net, params, 8), params, 1e-3);
    b->tape = tg_tape_new();
    return b->opt && b->tape ? 0 : -1;
}

// Times o->steps steps after the warm-up; per-step times of the slowest rank.
static int run(bench *b, tg_dist *d, const opts *o, double *times, double *exposed,
               uint64_t *allocs) {
    double e;
    for (int i = 0; i < o->warmup; i++)
        if (step(b, &e)) return -1;
    uint64_t a0 = tg_alloc_count();
    for (int i = 0; i < o->steps; i++) {
        if (!o->plain && tg_dist_barrier(d)) return -1;  // steps start together
        double t0 = now();
        if (step(b, &exposed[i])) return -1;
        times[i] = now() - t0;
    }
    *allocs = tg_alloc_count() - a0;
    if (o->plain) return 0;
    return tg_dist_allreduce_f64(d, times, o->steps, TG_DIST_MAX) ||
           tg_dist_allreduce_f64(d, exposed, o->steps, TG_DIST_MAX);
}

int main(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    tg_dist *d = tg_dist_init(&argc, &argv);
    if (!d) return fprintf(stderr, "tg-bench-ddp: %s\n", tg_last_error()), 1;
    if (o.plain && tg_dist_size(d) > 1) {
        fprintf(stderr, "tg-bench-ddp: --plain is one process; drop it under mpirun\n");
        return tg_dist_free(d), 2;
    }
    bench b = {0};
    double *times = calloc((size_t)o.steps, sizeof *times);
    double *exposed = calloc((size_t)o.steps, sizeof *exposed);
    uint64_t allocs = 0;
    int st = times && exposed ? setup(&b, d, &o) : -1;
    if (!st) st = run(&b, d, &o, times, exposed, &allocs);
    if (st) fprintf(stderr, "tg-bench-ddp (rank %d): %s\n", tg_dist_rank(d), tg_last_error());
    if (!st && tg_dist_rank(d) == 0) {
        int ranks = tg_dist_size(d);
        qsort(times, (size_t)o.steps, sizeof *times, cmp);
        qsort(exposed, (size_t)o.steps, sizeof *exposed, cmp);
        double t = times[o.steps / 2], ex = exposed[o.steps / 2];
        printf("{\"config\": \"mnist-mlp\", \"backend\": \"%s\", \"transport\": \"%s\", "
               "\"ranks\": %d, \"threads\": %d, \"batch_per_rank\": "
               "%lld, \"dist\": %s, \"buckets\": %d, \"step_ms\": %.3f, \"min_step_ms\": %.3f, "
               "\"images_per_s\": %.1f, \"images_per_s_per_rank\": %.1f, \"exposed_comm_ms\": "
               "%.3f, \"allocs_per_step\": %.2f}\n",
               tg_backend_name(tg_backend_of(b.x)),
               b.ddp ? tg_ddp_transport_name(tg_ddp_transport_of(b.ddp)) : "none", ranks, o.threads,
               (long long)o.batch, o.plain ? "false" : "true", tg_ddp_n_buckets(b.ddp), 1e3 * t,
               1e3 * times[0], (double)(ranks * o.batch) / t, (double)o.batch / t, 1e3 * ex,
               (double)allocs / o.steps);
    }
    tg_ddp_free(b.ddp);
    tg_optim_free(b.opt);
    tg_tape_free(b.tape);
    tg_module_free(b.net);
    tg_free(b.x);
    tg_free(b.y);
    free(times);
    free(exposed);
    tg_dist_free(d);
    return st ? 1 : 0;
}

// Data-parallel training equals one process (issue 14): under mpirun -np 2 and -np 3, an
// f64 MLP trained for 20 steps with SGD-momentum and with Adam has, after every step and
// on every rank, the parameters of a single process trained on the concatenated batch, to
// 1e-12 relative. Each rank starts from a different initialisation (tg_ddp_new copies rank
// 0's) and also trains the single-process reference itself. Variants: transports, bucket
// sizes (one bucket, one per parameter), tg_ddp_backward or tg_backward + tg_ddp_finish,
// gradient accumulation with no_sync; steady-state steps allocate nothing.
// Without mpirun it runs as a group of one.
#include "dist_test.h"

enum {
    IN = 5,
    HIDDEN = 16,
    OUT = 3,
    ROWS = 4,
    STEPS = 20,
    MAX_PARAMS = 8
};
#define TOLERANCE 1e-12

typedef struct variant {
    const char *name;
    tg_optim_kind kind;
    tg_ddp_transport transport;
    size_t bucket_bytes;  // 0: the default
    int micro;            // micro-batches per step: no_sync for all but the last
    bool via_backward;    // tg_ddp_backward, else tg_backward + tg_ddp_finish
    int hidden;           // hidden width (0: HIDDEN)
} variant;

static const variant variants[] = {
    {"sgd-momentum, default buckets", TG_OPTIM_SGD, TG_DDP_AUTO, 0, 1, true, 0},
    {"sgd-momentum, 256-byte buckets", TG_OPTIM_SGD, TG_DDP_MPI, 256, 1, false, 0},
    {"adam, default buckets", TG_OPTIM_ADAM, TG_DDP_MPI, 0, 1, false, 0},
    {"adam, a bucket per parameter", TG_OPTIM_ADAM, TG_DDP_MPI, 1, 1, true, 0},
    {"adam, mpi-staged transport", TG_OPTIM_ADAM, TG_DDP_MPI_STAGED, 512, 1, true, 0},
    {"sgd-momentum, 3 micro-batches with no_sync", TG_OPTIM_SGD, TG_DDP_MPI, 0, 3, false, 0},
    {"adam, 2 micro-batches with no_sync", TG_OPTIM_ADAM, TG_DDP_MPI, 700, 2, true, 0},
    // 1700 hidden: a 68 KB first-layer bucket, which Open MPI reduces by the ring
    // (dist/mpi_tuning.c); the smaller ones stay with its own choice
    {"sgd-momentum, a 68 KB bucket (the ring)", TG_OPTIM_SGD, TG_DDP_MPI, 64 << 10, 1, true, 1700},
};

static tg_optim *optimizer(const variant *v, int n, tg_tensor **params) {
    tg_optim_opts o = tg_optim_opts_default(v->kind);
    o.lr = v->kind == TG_OPTIM_SGD ? 0.1 : 0.01;
    o.momentum = v->kind == TG_OPTIM_SGD ? 0.9 : o.momentum;
    return tg_optim_new(v->kind, n, params, &o);
}

// The step's data, the same on every rank: x [rows, IN] normal, y [rows] class labels.
static void make_data(int step, int64_t rows, tg_tensor *x, tg_tensor *y) {
    tg_rng *rng = tg_rng_new(1000 + (uint64_t)step);
    double *xd = tg_data_f64(x), *yd = tg_data_f64(y);
    for (int64_t i = 0; i < rows * IN; i++) xd[i] = tg_rng_normal(rng);
    for (int64_t i = 0; i < rows; i++) yd[i] = (double)(int)(tg_rng_uniform(rng) * OUT);
    tg_mark_dirty(x);
    tg_mark_dirty(y);
    tg_rng_free(rng);
}

// max |a - b| / max |b| over the elements of each parameter pair; the largest over all.
static double max_rel_diff(int n, tg_tensor **a, tg_tensor **b) {
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const double *x = tg_data_f64(a[i]), *y = tg_data_f64(b[i]);
        double diff = 0, scale = 0;
        for (int64_t k = 0; k < tg_numel(a[i]); k++) {
            diff = fmax(diff, fabs(x[k] - y[k]));
            scale = fmax(scale, fabs(y[k]));
        }
        worst = fmax(worst, scale > 0 ? diff / scale : diff);
    }
    return worst;
}

static tg_tensor *mean_loss(tg_tape *tape, tg_module *net, tg_tensor *x, tg_tensor *y,
                            double scale) {
    tg_tensor *loss =
        tg_cross_entropy(tape, tg_module_forward(net, tape, x), y, NULL, TG_REDUCE_MEAN);
    return scale == 1.0 ? loss : tg_mul_scalar(tape, loss, scale);
}

// One data-parallel step: `micro` micro-batches of ROWS rows, no_sync on all but the last.
static int ddp_step(const variant *v, tg_dist *d, tg_ddp *ddp, tg_module *net, tg_optim *opt,
                    tg_tape *tape, tg_tensor *x, tg_tensor *y) {
    int st = TG_OK, size = tg_dist_size(d), rank = tg_dist_rank(d);
    for (int m = 0; m < v->micro && !st; m++) {
        tg_ddp_set_sync(ddp, m == v->micro - 1);
        int64_t first = ((int64_t)m * size + rank) * ROWS;
        tg_tensor *xs = tg_slice(tape, x, 0, first, first + ROWS, 1);
        tg_tensor *ys = tg_slice(tape, y, 0, first, first + ROWS, 1);
        tg_tensor *loss = mean_loss(tape, net, xs, ys, 1.0 / v->micro);
        st = v->via_backward ? tg_ddp_backward(ddp, tape, loss)
                             : tg_backward(tape, loss) || tg_ddp_finish(ddp);
        tg_tape_reset(tape);
    }
    if (!st) st = tg_optim_step(opt) || tg_optim_zero_grad(opt);
    return st;
}

// dist.h's bucketing of the gradients (reverse parameter order, one dtype here): up to
// `cap` bytes together, and a parameter of at least half the cap alone.
static int expected_buckets(int n, tg_tensor *const *params, size_t cap) {
    int buckets = 0;
    size_t have = 0;
    bool last_alone = false;
    for (int i = n - 1; i >= 0; i--) {
        size_t bytes = (size_t)tg_numel(params[i]) * sizeof(double);
        bool alone = bytes >= cap / 2;
        if (!buckets || have + bytes > cap || alone || last_alone) buckets++, have = 0;
        have += bytes;
        last_alone = alone;
    }
    return buckets;
}

static void run_variant(tg_dist *d, const variant *v) {
    int rank = tg_dist_rank(d), size = tg_dist_size(d);
    int64_t rows = (int64_t)size * v->micro * ROWS;
    tg_backend *cpu = tg_backend_get("cpu");
    tg_tensor *x = tg_tensor_new(cpu, TG_F64, 2, (int64_t[]){rows, IN});
    tg_tensor *y = tg_tensor_new(cpu, TG_F64, 1, (int64_t[]){rows});
    int64_t hidden = v->hidden ? v->hidden : HIDDEN;
    tg_module *ref = dist_test_mlp(IN, hidden, OUT, 100);
    tg_module *net = dist_test_mlp(IN, hidden, OUT, 100 + (uint64_t)rank);  // differs per rank
    tg_tensor *pr[MAX_PARAMS], *pn[MAX_PARAMS];
    int n = tg_module_params(ref, pr, MAX_PARAMS);
    tg_module_params(net, pn, MAX_PARAMS);
    tg_ddp_opts o = tg_ddp_opts_default();
    if (v->bucket_bytes) o.bucket_bytes = v->bucket_bytes;
    o.transport = v->transport;
    tg_ddp *ddp = tg_ddp_new(d, net, &o);
    CHECK(ddp, "tg_ddp_new");
    if (!ddp) return;
    CHECK(max_rel_diff(n, pn, pr) == 0, "rank 0's initial parameters were not copied");
    CHECK(v->bucket_bytes != 1 || tg_ddp_n_buckets(ddp) == n, "%d buckets for %d parameters",
          tg_ddp_n_buckets(ddp), n);
    CHECK(tg_ddp_n_buckets(ddp) == expected_buckets(n, pn, o.bucket_bytes),
          "%d buckets, want %d (bucket_bytes %zu)", tg_ddp_n_buckets(ddp),
          expected_buckets(n, pn, o.bucket_bytes), o.bucket_bytes);
    tg_optim *opt_ref = optimizer(v, n, pr), *opt = optimizer(v, n, pn);
    tg_tape *tape = tg_tape_new(), *tape_ref = tg_tape_new();
    double worst = 0;
    uint64_t allocs = 0;
    for (int step = 0; step < STEPS; step++) {
        make_data(step, rows, x, y);
        tg_tensor *loss = mean_loss(tape_ref, ref, x, y, 1.0);
        int st = !loss || tg_backward(tape_ref, loss) || tg_optim_step(opt_ref) ||
                 tg_optim_zero_grad(opt_ref);
        CHECK(!st, "reference step %d", step);
        tg_tape_reset(tape_ref);
        uint64_t before = tg_alloc_count();
        st = ddp_step(v, d, ddp, net, opt, tape, x, y);
        if (step >= 3) allocs += tg_alloc_count() - before;
        CHECK(!st, "data-parallel step %d", step);
        if (st) break;
        CHECK(tg_ddp_overlapped(ddp) == tg_ddp_n_buckets(ddp),
              "step %d: %d of %d buckets started during the backward pass", step,
              tg_ddp_overlapped(ddp), tg_ddp_n_buckets(ddp));
        double diff = max_rel_diff(n, pn, pr);
        worst = fmax(worst, diff);
        CHECK(diff <= TOLERANCE, "step %d: parameters differ from one process by %.3g relative",
              step, diff);
    }
    CHECK(allocs == 0, "%llu allocations in %d steady-state steps", (unsigned long long)allocs,
          STEPS - 3);
    if (rank == 0)
        printf("   %s: transport %s, %d buckets, worst relative difference %.2e\n", v->name,
               tg_ddp_transport_name(tg_ddp_transport_of(ddp)), tg_ddp_n_buckets(ddp), worst);
    CHECK(tg_ddp_free(ddp) == TG_OK, "tg_ddp_free");
    tg_optim_free(opt);
    tg_optim_free(opt_ref);
    tg_tape_free(tape);
    tg_tape_free(tape_ref);
    tg_module_free(net);
    tg_module_free(ref);
    tg_free(x);
    tg_free(y);
}

int main(int argc, char **argv) {
    tg_dist *d = tg_dist_init(&argc, &argv);
    if (!d) {
        fprintf(stderr, "tg_dist_init: %s\n", tg_last_error());
        return 1;
    }
    dist_test_rank = tg_dist_rank(d);
    int before = 0;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        run_variant(d, &variants[i]);
        dist_test_case(d, variants[i].name, &before);
    }
    return dist_test_end(d);
}

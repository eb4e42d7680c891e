// The data-parallel step on the cuda backend (issue 14): where a GPU is lent, a one-rank
// (or, under mpirun, one GPU per rank) run of an f64 MLP with the automatic transport
// (NCCL when its module loads, else MPI through host copies) and with
// each explicit transport must follow one process trained on the concatenated batch on the
// same backend. Exits 77 (skipped) without a cuda backend.
#include "dist_test.h"

enum {
    IN = 6,
    HIDDEN = 32,
    OUT = 4,
    ROWS = 8,
    STEPS = 10,
    MAX_PARAMS = 8
};

static tg_module *mlp(tg_backend *be, uint64_t seed) {
    tg_module *m = dist_test_mlp(IN, HIDDEN, OUT, seed);
    if (m && tg_module_to(m, be)) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

// Steps the data-parallel model and the reference together; the worst relative difference.
static double train_pair(tg_dist *d, tg_backend *be, tg_ddp_transport transport) {
    int rank = tg_dist_rank(d), size = tg_dist_size(d);
    int64_t rows = (int64_t)ROWS * size;
    tg_module *ref = mlp(be, 5), *net = mlp(be, 5 + (uint64_t)rank);
    tg_tensor *pr[MAX_PARAMS], *pn[MAX_PARAMS];
    int n = tg_module_params(ref, pr, MAX_PARAMS);
    tg_module_params(net, pn, MAX_PARAMS);
    tg_ddp_opts o = tg_ddp_opts_default();
    o.transport = transport;
    tg_ddp *ddp = tg_ddp_new(d, net, &o);
    if (!ddp) {
        if (rank == 0)
            printf("   transport %s: %s\n", tg_ddp_transport_name(transport), tg_last_error());
        CHECK(transport == TG_DDP_NCCL && strstr(tg_last_error(), "not available"),
              "tg_ddp_new (%s)", tg_ddp_transport_name(transport));
        tg_clear_error();
        tg_module_free(ref);
        tg_module_free(net);
        return 0;
    }
    tg_optim *oa = tg_adam(n, pr, 0.01), *ob = tg_adam(n, pn, 0.01);
    tg_tape *ta = tg_tape_new(), *tb = tg_tape_new();
    tg_rng *rng = tg_rng_new(3);
    tg_tensor *x = tg_tensor_new(be, TG_F64, 2, (int64_t[]){rows, IN});
    tg_tensor *y = tg_tensor_new(be, TG_F64, 1, (int64_t[]){rows});
    double worst = 0, *ha = malloc(4096 * 8), *hb = malloc(4096 * 8);
    for (int step = 0; step < STEPS; step++) {
        tg_normal_(x, rng, 0, 1);
        double lab[ROWS * 64];
        for (int64_t i = 0; i < rows && i < ROWS * 64; i++)
            lab[i] = (int)(tg_rng_uniform(rng) * OUT);
        tg_copy_from_host(y, lab, (size_t)rows * 8);
        tg_tensor *labels = y;
        tg_tensor *la =
            tg_cross_entropy(ta, tg_module_forward(ref, ta, x), labels, NULL, TG_REDUCE_MEAN);
        CHECK(la && !tg_backward(ta, la) && !tg_optim_step(oa) && !tg_optim_zero_grad(oa),
              "reference");
        tg_tensor *xs = tg_slice(tb, x, 0, (int64_t)rank * ROWS, (int64_t)(rank + 1) * ROWS, 1);
        tg_tensor *ys =
            tg_slice(tb, labels, 0, (int64_t)rank * ROWS, (int64_t)(rank + 1) * ROWS, 1);
        tg_tensor *lb =
            tg_cross_entropy(tb, tg_module_forward(net, tb, xs), ys, NULL, TG_REDUCE_MEAN);
        CHECK(!tg_ddp_backward(ddp, tb, lb) && !tg_optim_step(ob) && !tg_optim_zero_grad(ob),
              "ddp");
        tg_tape_reset(ta);
        tg_tape_reset(tb);
        for (int i = 0; i < n; i++) {
            size_t bytes = (size_t)tg_numel(pr[i]) * 8;
            tg_copy_to_host(pr[i], ha, bytes);
            tg_copy_to_host(pn[i], hb, bytes);
            double diff = 0, scale = 0;
            for (int64_t k = 0; k < tg_numel(pr[i]); k++)
                diff = fmax(diff, fabs(ha[k] - hb[k])), scale = fmax(scale, fabs(ha[k]));
            worst = fmax(worst, diff / scale);
        }
    }
    if (rank == 0)
        printf("   transport %s: worst relative difference %.2e\n",
               tg_ddp_transport_name(tg_ddp_transport_of(ddp)), worst);
    CHECK(worst <= 1e-10, "relative difference %.3g", worst);
    free(ha);
    free(hb);
    tg_ddp_free(ddp);
    tg_optim_free(oa);
    tg_optim_free(ob);
    tg_tape_free(ta);
    tg_tape_free(tb);
    tg_rng_free(rng);
    tg_free(x);
    tg_free(y);
    tg_module_free(ref);
    tg_module_free(net);
    return worst;
}

int main(int argc, char **argv) {
    tg_dist *d = tg_dist_init(&argc, &argv);
    if (!d) return fprintf(stderr, "tg_dist_init: %s\n", tg_last_error()), 1;
    dist_test_rank = tg_dist_rank(d);
    tg_backend *be = tg_backend_get("cuda");
    int64_t missing = be == NULL;
    tg_dist_allreduce_i64(d, &missing, 1, TG_DIST_MAX);
    if (missing) {
        if (dist_test_rank == 0)
            printf("skipped: cuda backend not available: %s\n", tg_last_error());
        tg_dist_free(d);
        return 77;
    }
    int before = 0;
    const tg_ddp_transport ts[] = {TG_DDP_AUTO, TG_DDP_MPI_STAGED, TG_DDP_NCCL};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) train_pair(d, be, ts[i]);
    dist_test_case(d, "cuda: data-parallel steps follow one process", &before);
    return dist_test_end(d);
}

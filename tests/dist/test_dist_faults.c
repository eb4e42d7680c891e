// Bad input and faults across ranks (issue 14), under mpirun -np 2 and 3: models that
// differ on one rank (shape, parameter count, dtype, options), a bad option or a failed
// backward pass on one rank, a gradient finished twice. Each must fail on every rank with
// the same status and message, and never hang (the test has a timeout). Also the
// collectives users call directly: metrics, broadcast, checkpoints written by rank 0.
#include <stdlib.h>
#include <unistd.h>

#include "dist_test.h"

static int rank, size, last;

// Every rank's status and message equal rank 0's, and the message contains `want`.
static void same_error_everywhere(tg_dist *d, int st, const char *want, const char *what) {
    char mine[1100] = {0};
    snprintf(mine, sizeof mine, "%d %s", st, tg_last_error());
    char *all = calloc((size_t)size, sizeof mine);
    MPI_Allgather(mine, (int)sizeof mine, MPI_CHAR, all, (int)sizeof mine, MPI_CHAR,
                  tg_dist_comm(d));
    CHECK(st < 0, "%s: status %d, want an error", what, st);
    for (int r = 1; r < size; r++)
        CHECK(strcmp(all, all + r * sizeof mine) == 0, "%s: rank %d says \"%s\", rank 0 \"%s\"",
              what, r, all + r * sizeof mine, all);
    CHECK(strstr(mine, want), "%s: message \"%s\" lacks \"%s\"", what, mine, want);
    if (rank == 0) printf("   %s -> %s\n", what, tg_last_error());
    free(all);
    tg_clear_error();
}

static tg_module *model(int64_t hidden, bool last_bias, tg_dtype last_dtype, uint64_t seed) {
    tg_backend *cpu = tg_backend_get("cpu");
    tg_rng *rng = tg_rng_new(seed);
    tg_module *layers[] = {tg_linear(cpu, TG_F64, 4, hidden, true, rng), tg_relu_layer(),
                           tg_linear(cpu, last_dtype, hidden, 3, last_bias, rng)};
    tg_rng_free(rng);
    return tg_sequential(3, layers);
}

// tg_ddp_new where the last rank's model (or options) differ.
static void mismatched_models(tg_dist *d) {
    struct {
        const char *what, *want;
        int64_t hidden;
        bool bias;
        tg_dtype dt;
        size_t bucket;
    } cases[] = {
        {"a layer of another shape", "0.weight) is [9,4] f64 on cpu on rank", 9, true, TG_F64, 0},
        {"a missing bias", "tensors, rank 0 has 4", 8, false, TG_F64, 0},
        {"another dtype", "2.weight) is [3,8] f32 on cpu on rank", 8, true, TG_F32, 0},
        {"another bucket size", "options differ: bucket_bytes is 1024 on rank", 8, true, TG_F64,
         1024},
        {"bucket_bytes 0", "bucket_bytes must be at least 1", 8, true, TG_F64, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool odd = rank == last;
        tg_module *m =
            odd ? model(cases[i].hidden, cases[i].bias, cases[i].dt, 1) : model(8, true, TG_F64, 1);
        tg_ddp_opts o = tg_ddp_opts_default();
        if (odd && cases[i].bucket) o.bucket_bytes = cases[i].bucket;
        if (odd && i == 4) o.bucket_bytes = 0;
        tg_ddp *ddp = tg_ddp_new(d, m, &o);
        CHECK(!ddp, "%s: tg_ddp_new succeeded", cases[i].what);
        same_error_everywhere(d, ddp ? 0 : tg_last_status(), cases[i].want, cases[i].what);
        tg_ddp_free(ddp);
        tg_module_free(m);
    }
}

// A pass that fails on one rank fails everywhere; the model stays usable.
static void failed_pass_on_one_rank(tg_dist *d) {
    tg_backend *cpu = tg_backend_get("cpu");
    tg_module *m = model(8, true, TG_F64, 2);
    tg_ddp *ddp = tg_ddp_new(d, m, NULL);
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(cpu, TG_F64, 2, (int64_t[]){5, 4});
    tg_tensor *bad = tg_tensor_new(cpu, TG_F64, 2, (int64_t[]){5, 3});  // wrong width
    CHECK(ddp && tape && x && bad, "setup");
    if (!ddp) return;
    tg_tensor *in = rank == last ? bad : x;
    tg_tensor *loss = tg_sum(tape, tg_module_forward(m, tape, in));
    int st = tg_ddp_backward(ddp, tape, loss);
    same_error_everywhere(d, st, "tg_ddp_backward: on rank", "a failed forward on one rank");
    tg_tape_reset(tape);
    // Two synced backward passes without a finish between them: refused on every rank.
    loss = tg_sum(tape, tg_module_forward(m, tape, x));
    tg_tensor *loss2 = tg_mul_scalar(tape, loss, 2.0);
    tg_backward_opts keep = {.retain_graph = true};
    st = tg_backward_ex(tape, loss, NULL, &keep);
    CHECK(st == TG_OK, "first backward");
    st = tg_ddp_backward(ddp, tape, loss2);
    same_error_everywhere(d, st, "became final twice", "two backward passes in one round");
    tg_tape_reset(tape);
    tg_tensor *params[4];
    tg_module_params(m, params, 4);
    tg_zero_grad(4, params);
    loss = tg_sum(tape, tg_module_forward(m, tape, x));
    CHECK(tg_ddp_backward(ddp, tape, loss) == TG_OK, "a normal step after the failures");
    tg_tape_reset(tape);
    CHECK(tg_ddp_free(ddp) == TG_OK, "free");
    tg_tape_free(tape);
    tg_module_free(m);
    tg_free(x);
    tg_free(bad);
}

static void metrics(tg_dist *d) {
    // rank r has r + 1 rows whose loss is r: the mean over rows is sum r(r+1) / sum (r+1)
    double num = 0, den = 0;
    for (int r = 0; r < size; r++) num += r * (r + 1.0), den += r + 1.0;
    double mean = tg_dist_mean(d, rank, rank + 1.0);
    CHECK(fabs(mean - num / den) < 1e-15, "tg_dist_mean %g, want %g", mean, num / den);
    double v[2] = {rank, -rank};
    CHECK(tg_dist_allreduce_f64(d, v, 2, TG_DIST_MAX) == 0 && v[0] == last && v[1] == 0,
          "max %g %g", v[0], v[1]);
    v[0] = rank;
    CHECK(tg_dist_allreduce_f64(d, v, 1, TG_DIST_MEAN) == 0 && fabs(v[0] - last / 2.0) < 1e-15,
          "mean %g", v[0]);
    int64_t c = 1;
    int st = tg_dist_allreduce_i64(d, &c, 1, TG_DIST_MEAN);
    same_error_everywhere(d, st, "TG_DIST_MEAN of counts", "the mean of counts");
    double w[3] = {0};
    st = tg_dist_allreduce_f64(d, w, rank == last ? 3 : 2, TG_DIST_SUM);
    same_error_everywhere(d, st, "different counts (2 to 3 values)", "different value counts");
    // accuracy and confusion: rank r's logits predict class 0 for its rows, labels r % 2
    tg_backend *cpu = tg_backend_get("cpu");
    double lg[4] = {1, 0, 1, 0}, lb[2] = {rank % 2, rank % 2};
    tg_tensor *logits = tg_tensor_from(cpu, TG_F64, 2, (int64_t[]){2, 2}, lg);
    tg_tensor *labels = tg_tensor_from(cpu, TG_F64, 1, (int64_t[]){2}, lb);
    int evens = (size + 1) / 2;
    double acc = tg_dist_accuracy(d, logits, labels);
    CHECK(fabs(acc - (double)evens / size) < 1e-15, "accuracy %g, want %g", acc,
          (double)evens / size);
    int64_t cm[4];
    CHECK(tg_dist_confusion_matrix(d, logits, labels, 2, cm) == 0, "confusion");
    CHECK(cm[0] == 2 * evens && cm[1] == 0 && cm[2] == 2 * (size - evens) && cm[3] == 0,
          "confusion %lld %lld %lld %lld", (long long)cm[0], (long long)cm[1], (long long)cm[2],
          (long long)cm[3]);
    tg_free(logits);
    tg_free(labels);
}

static void broadcast_and_checkpoints(tg_dist *d) {
    tg_backend *cpu = tg_backend_get("cpu");
    tg_tensor *t = tg_tensor_new(cpu, TG_F32, 1, (int64_t[]){3});
    tg_fill_(t, rank);
    CHECK(tg_dist_broadcast(d, 1, &t, last) == 0 && tg_data_f32(t)[2] == (float)last,
          "broadcast from rank %d", last);
    tg_tensor *u = tg_tensor_new(cpu, TG_F32, 1, (int64_t[]){rank == last ? 4 : 3});
    int st = tg_dist_broadcast(d, 1, &u, 0);
    same_error_everywhere(d, st, "the ranks' tensors differ", "broadcast of unlike tensors");
    tg_free(t);
    tg_free(u);
    // rank 0 writes; every rank loads rank 0's values into a model initialised its own way
    char path[64] = "dist_ckpt_XXXXXX";
    if (rank == 0) close(mkstemp(path));
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, tg_dist_comm(d));
    tg_module *saved = model(8, true, TG_F64, 3), *mine = model(8, true, TG_F64, 10 + rank);
    CHECK(tg_dist_save_safetensors(d, saved, path) == 0, "save");
    CHECK(tg_dist_load_safetensors(d, mine, path) == 0, "load");
    for (int i = 0; i < tg_module_n_params(saved); i++) {
        tg_tensor *a = tg_module_param(saved, i), *b = tg_module_param(mine, i);
        CHECK(memcmp(tg_data_f64(a), tg_data_f64(b), (size_t)tg_numel(a) * 8) == 0,
              "parameter %d after load", i);
    }
    st = tg_dist_load_safetensors(d, mine, "/nonexistent/ckpt.safetensors");
    same_error_everywhere(d, st, "on rank 0", "loading a missing file");
    st = tg_dist_save_safetensors(d, saved, "/nonexistent/dir/ckpt.safetensors");
    same_error_everywhere(d, st, "on rank 0", "saving into a missing directory");
    tg_dist_barrier(d);
    if (rank == 0) unlink(path);
    tg_module_free(saved);
    tg_module_free(mine);
}

// A group over the program's own communicator: the even and the odd ranks apart.
static void user_communicator(void) {
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    tg_dist *h = tg_dist_from_comm(half);
    CHECK(h, "tg_dist_from_comm");
    if (!h) return;
    int n = (size - rank % 2 + 1) / 2;  // ranks of my parity
    CHECK(tg_dist_size(h) == n && tg_dist_rank(h) == rank / 2, "rank %d of %d", tg_dist_rank(h),
          tg_dist_size(h));
    double want = 0;
    for (int r = rank % 2; r < size; r += 2) want += r;
    double got = tg_dist_mean(h, rank, 1.0);
    CHECK(fabs(got - want / n) < 1e-15, "mean %g, want %g", got, want / n);
    CHECK(tg_dist_free(h) == TG_OK, "tg_dist_free leaves MPI running");
    MPI_Comm_free(&half);
}

int main(int argc, char **argv) {
    tg_dist *d = tg_dist_init(&argc, &argv);
    if (!d) return fprintf(stderr, "tg_dist_init: %s\n", tg_last_error()), 1;
    rank = dist_test_rank = tg_dist_rank(d);
    size = tg_dist_size(d);
    last = size - 1;
    if (size < 2) {
        if (rank == 0) printf("skipped: run under mpirun with 2 or more ranks\n");
        tg_dist_free(d);
        return 77;
    }
    int before = 0;
    mismatched_models(d);
    dist_test_case(d, "models that differ on one rank: the same error on every rank", &before);
    failed_pass_on_one_rank(d);
    dist_test_case(d, "a failed pass on one rank fails on every rank", &before);
    metrics(d);
    dist_test_case(d, "metrics over ranks", &before);
    broadcast_and_checkpoints(d);
    dist_test_case(d, "broadcast and rank-0 checkpoints", &before);
    user_communicator();
    dist_test_case(d, "a group over the program's own communicator", &before);
    return dist_test_end(d);
}

// Helpers for the dist tests: plain programs run under mpirun (Criterion's forked workers
// and MPI do not mix). Each check that fails prints its rank and line; the program's exit
// status is non-zero on every rank when any rank failed (dist_test_end).
#pragma once

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <tapegrad/tapegrad.h>
#include <tapegrad/dist_mpi.h>

static int dist_test_failures;
static int dist_test_rank;

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "FAIL rank %d %s:%d: ", dist_test_rank, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                                \
            fprintf(stderr, " (last error: %s)\n", tg_last_error());                     \
            dist_test_failures++;                                                        \
        }                                                                                \
    } while (0)

// Prints "ok NAME" on rank 0 when no rank failed since the previous call; returns the
// number of ranks with failures. Collective.
static inline int dist_test_case(tg_dist *d, const char *name, int *before) {
    int64_t bad = dist_test_failures > *before;
    *before = dist_test_failures;
    tg_clear_error();
    if (tg_dist_allreduce_i64(d, &bad, 1, TG_DIST_SUM)) {
        fprintf(stderr, "rank %d: %s: %s\n", dist_test_rank, name, tg_last_error());
        return 1;
    }
    if (tg_dist_rank(d) == 0)
        printf("%s %s (%d ranks)\n", bad ? "FAIL" : "ok", name, tg_dist_size(d));
    fflush(stdout);
    return (int)bad;
}

// Frees the group; the exit status: 0 when no rank failed.
static inline int dist_test_end(tg_dist *d) {
    int64_t bad = dist_test_failures > 0;
    if (tg_dist_allreduce_i64(d, &bad, 1, TG_DIST_SUM)) bad = 1;
    if (tg_dist_rank(d) == 0)
        printf("%s: %lld rank(s) failed\n", bad ? "FAILED" : "passed", (long long)bad);
    tg_dist_free(d);
    return bad ? 1 : 0;
}

// An MLP in -> hidden -> hidden -> out with tanh, f64, initialised from `seed`.
static inline tg_module *dist_test_mlp(int64_t in, int64_t hidden, int64_t out, uint64_t seed) {
    tg_backend *cpu = tg_backend_get("cpu");
    tg_rng *rng = tg_rng_new(seed);
    tg_module *layers[] = {tg_linear(cpu, TG_F64, in, hidden, true, rng), tg_tanh_layer(),
                           tg_linear(cpu, TG_F64, hidden, hidden, true, rng), tg_tanh_layer(),
                           tg_linear(cpu, TG_F64, hidden, out, true, rng)};
    tg_rng_free(rng);
    return tg_sequential(5, layers);
}

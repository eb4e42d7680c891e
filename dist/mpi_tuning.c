// The algorithm of DDP's bucket all-reduces (Open MPI only; other MPIs are left alone).
//
// Open MPI's non-blocking collectives (its libnbc component) reduce with a binomial tree
// whenever the communicator has fewer than 4 ranks or the call is in place: the data go to
// rank 0 and are broadcast back, every element crossing twice, one step after the other.
// DDP's buckets are multi-megabyte in-place all-reduces, for which the ring (a
// reduce-scatter, then an all-gather) moves half as much and keeps both ranks busy:
// mnist-mlp's 1.86 M gradients (7.4 MB) between 2 ranks took 3.86 ms by the default choice
// and 1.04 ms by the ring (Zen 5, 2 vCPUs, 2026-12-06).
//
// The choice is Open MPI's control variable coll_libnbc_iallreduce_algorithm, reached
// through MPI's standard tool interface (MPI_T), and set only around DDP's own calls on
// large buckets, and only where every rank found it at its default (0: "let libnbc
// decide") when the model was made. So a value the user chose (an MCA parameter, the
// environment) stands, and the user's own collectives keep the default.
#include <stdlib.h>

#include "dist/dist_impl.h"

#define RING 1                                  // libnbc's number for the ring
#define RING_MIN_BYTES ((size_t)64 << 10)       // below this libnbc's own choice is better

struct tg__dist_tuning {
    MPI_T_cvar_handle h;
};

// This rank's handle when the variable exists and holds its default, else NULL.
static tg__dist_tuning *local_handle(void) {
    int provided, idx, count, value = -1;
    if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) return NULL;
    tg__dist_tuning *t = malloc(sizeof *t);
    bool ok = t && MPI_T_cvar_get_index("coll_libnbc_iallreduce_algorithm", &idx) == MPI_SUCCESS &&
              MPI_T_cvar_handle_alloc(idx, NULL, &t->h, &count) == MPI_SUCCESS;
    if (ok && (count != 1 || MPI_T_cvar_read(t->h, &value) != MPI_SUCCESS || value != 0)) {
        MPI_T_cvar_handle_free(&t->h);
        ok = false;
    }
    if (!ok) {
        free(t);
        MPI_T_finalize();
        return NULL;
    }
    return t;
}

tg__dist_tuning *tg__dist_tuning_of(tg_dist *d) {
    if (d->tuning_tried) return d->tuning;
    d->tuning_tried = true;
    tg__dist_tuning *t = local_handle();
    int all = t != NULL;   // every rank must take the same algorithm, or the collective hangs
    if (MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, d->comm) != MPI_SUCCESS || !all) {
        tg__dist_tuning_free(t);
        return NULL;
    }
    return d->tuning = t;
}

bool tg__dist_tuning_wanted(size_t bytes) { return bytes >= RING_MIN_BYTES; }

int tg__dist_iallreduce(tg__dist_tuning *t, void *buf, int count, MPI_Datatype type,
                        size_t bytes, MPI_Comm comm, MPI_Request *req) {
    int old = 0, ring = RING;
    bool set = t && bytes >= RING_MIN_BYTES && MPI_T_cvar_read(t->h, &old) == MPI_SUCCESS &&
               MPI_T_cvar_write(t->h, &ring) == MPI_SUCCESS;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, count, type, MPI_SUM, comm, req);
    if (set) MPI_T_cvar_write(t->h, &old);
    return rc;
}

void tg__dist_tuning_free(tg__dist_tuning *t) {
    if (!t) return;
    MPI_T_cvar_handle_free(&t->h);
    free(t);
    MPI_T_finalize();
}

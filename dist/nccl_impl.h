// The NCCL transport. NCCL and the CUDA runtime live only in the tapegrad-dist-nccl module
// (dist/nccl.c), which libtapegrad-dist loads with dlopen when the gradients are on a GPU
// (dist/nccl_link.c), so the dist library links neither and runs where CUDA is absent.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TG_DIST_NCCL_ABI      1u
#define TG_DIST_NCCL_ID_BYTES 128  // sizeof(ncclUniqueId)

// What the module exports (its one symbol, tg_dist_nccl_entry, returns it). Every call
// returns 0 or a negative tg_status and then writes a message into err[cap].
typedef struct tg_dist_nccl_api {
    uint32_t abi_version;
    // A new unique id (rank 0 makes it; the others receive it over MPI).
    int (*unique_id)(unsigned char *id, char *err, size_t cap);
    // Joins the communicator of `nranks` on the current CUDA device; *comm gets it.
    int (*comm_new)(void **comm, const unsigned char *id, int nranks, int rank, char *err,
                    size_t cap);
    // Averages n device buffers over the ranks, in place (ncclAvg), as one NCCL group on
    // the module's stream; returns once queued. dtype: 0 = f32, 1 = f64.
    int (*allreduce_avg)(void *comm, int n, void *const *ptrs, const int64_t *counts, int dtype,
                         char *err, size_t cap);
    // Waits until everything queued by allreduce_avg is done.
    int (*wait)(void *comm, char *err, size_t cap);
    void (*comm_free)(void *comm);
} tg_dist_nccl_api;

typedef const tg_dist_nccl_api *(*tg_dist_nccl_entry_fn)(uint32_t abi_version);

#ifdef __cplusplus
}
#endif

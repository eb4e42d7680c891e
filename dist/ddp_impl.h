// Internals of the data-parallel model (dist/ddp.c) and its NCCL transport
// (dist/nccl_link.c).
#pragma once

#include "dist/dist_impl.h"

typedef struct tg__dist_nccl tg__dist_nccl;

// Whether this process could use NCCL (its module found and loaded); if not,
// the reason goes to why. Local.
bool tg__dist_nccl_loadable(char *why, size_t cap);
// Loads the module and joins an NCCL communicator over d's ranks (unique id from rank 0
// over MPI). Collective; NULL + the same error on every rank when any rank cannot.
tg__dist_nccl *tg__dist_nccl_new(tg_dist *d, const char *where);
// Queues the averaging of n device buffers (one NCCL group); _wait completes everything
// queued. Local status.
int tg__dist_nccl_allreduce(tg__dist_nccl *c, int n, void *const *ptrs, const int64_t *counts,
                            tg_dtype dt, const char *where);
int tg__dist_nccl_wait(tg__dist_nccl *c, const char *where);
void tg__dist_nccl_free(tg__dist_nccl *c);

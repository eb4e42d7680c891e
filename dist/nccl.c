// The tapegrad-dist-nccl module: gradient averaging with NCCL on device memory, one
// communicator and one non-blocking stream per DDP model. Links NCCL and the CUDA runtime
// (and nothing of tapegrad); exports only tg_dist_nccl_entry (see dist/nccl_impl.h).
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "dist/nccl_impl.h"

#if defined(__GNUC__)
#define EXPORT __attribute__((visibility("default")))
#else
#define EXPORT
#endif

// Status values of tapegrad's error.h (the module includes no tapegrad header).
enum {
    ERR_INVALID_ARG = -1,
    ERR_BACKEND = -4,
    ERR_OOM = -5
};

typedef struct comm {
    ncclComm_t nccl;
    cudaStream_t stream;
} comm;

static int cuda_fail(cudaError_t e, const char *call, char *err, size_t cap) {
    snprintf(err, cap, "%s failed: %s", call, cudaGetErrorString(e));
    return e == cudaErrorMemoryAllocation ? ERR_OOM : ERR_BACKEND;
}

static int nccl_fail(ncclResult_t r, const char *call, char *err, size_t cap) {
    snprintf(err, cap, "%s failed: %s", call, ncclGetErrorString(r));
    return ERR_BACKEND;
}

static int unique_id(unsigned char *id, char *err, size_t cap) {
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    if (r != ncclSuccess) return nccl_fail(r, "ncclGetUniqueId", err, cap);
    _Static_assert(sizeof u == TG_DIST_NCCL_ID_BYTES, "ncclUniqueId size");
    for (size_t i = 0; i < sizeof u; i++) id[i] = (unsigned char)u.internal[i];
    return 0;
}

static int comm_new(void **out, const unsigned char *id, int nranks, int rank, char *err,
                    size_t cap) {
    *out = NULL;
    comm *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, cap, "out of memory");
        return ERR_OOM;
    }
    cudaError_t e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        free(c);
        return cuda_fail(e, "cudaStreamCreateWithFlags", err, cap);
    }
    ncclUniqueId u;
    for (size_t i = 0; i < sizeof u; i++) u.internal[i] = (char)id[i];
    ncclResult_t r = ncclCommInitRank(&c->nccl, nranks, u, rank);
    if (r != ncclSuccess) {
        cudaStreamDestroy(c->stream);
        free(c);
        return nccl_fail(r, "ncclCommInitRank", err, cap);
    }
    *out = c;
    return 0;
}

static int allreduce_avg(void *cv, int n, void *const *ptrs, const int64_t *counts, int dtype,
                         char *err, size_t cap) {
    comm *c = cv;
    if (dtype != 0 && dtype != 1) {
        snprintf(err, cap, "dtype %d is not f32 (0) or f64 (1)", dtype);
        return ERR_INVALID_ARG;
    }
    ncclDataType_t type = dtype == 0 ? ncclFloat32 : ncclFloat64;
    ncclResult_t r = ncclGroupStart();
    for (int i = 0; i < n && r == ncclSuccess; i++)
        r = ncclAllReduce(ptrs[i], ptrs[i], (size_t)counts[i], type, ncclAvg, c->nccl, c->stream);
    ncclResult_t end = ncclGroupEnd();
    if (r != ncclSuccess) return nccl_fail(r, "ncclAllReduce", err, cap);
    return end == ncclSuccess ? 0 : nccl_fail(end, "ncclGroupEnd", err, cap);
}

static int wait_all(void *cv, char *err, size_t cap) {
    comm *c = cv;
    cudaError_t e = cudaStreamSynchronize(c->stream);
    if (e != cudaSuccess) return cuda_fail(e, "cudaStreamSynchronize", err, cap);
    ncclResult_t async = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(c->nccl, &async);
    if (r != ncclSuccess) return nccl_fail(r, "ncclCommGetAsyncError", err, cap);
    return async == ncclSuccess ? 0 : nccl_fail(async, "NCCL (asynchronous error)", err, cap);
}

static void comm_free(void *cv) {
    comm *c = cv;
    if (!c) return;
    ncclCommDestroy(c->nccl);
    cudaStreamDestroy(c->stream);
    free(c);
}

static const tg_dist_nccl_api api = {
    TG_DIST_NCCL_ABI, unique_id, comm_new, allreduce_avg, wait_all, comm_free,
};

EXPORT const tg_dist_nccl_api *tg_dist_nccl_entry(uint32_t abi_version) {
    return abi_version == TG_DIST_NCCL_ABI ? &api : NULL;
}

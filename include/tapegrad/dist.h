// dist: data-parallel training over processes, as PyTorch's DistributedDataParallel, in
// its own library libtapegrad-dist (pkg-config tapegrad-dist; built when MPI is found).
// Every rank runs the same program on its shard of the data. Parameters start as rank 0's;
// each backward pass averages the gradients over the ranks with bucketed all-reduces that
// start while the pass goes on (tg_set_grad_hook), so every rank takes the same step.
//
// Calls marked "collective" must be made by every rank of the group, in the same order.
// Errors are tapegrad's (NULL or a negative status, and the thread-local message); a
// collective that fails on one rank fails on every rank with the same status and message,
// so that no rank is left waiting. MPI itself (mpirun, hosts, transports) is the user's.
#pragma once

#include "tapegrad/defs.h"
#include "tapegrad/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_dist tg_dist;  // a process group: a communicator, its rank and size
typedef struct tg_ddp tg_ddp;    // one model's data-parallel state: buckets and hooks

// ---- process group ----

// Starts MPI (MPI_Init_thread with argc/argv, both may be NULL; MPI_THREAD_SERIALIZED)
// unless it runs already, and returns the group of all processes (over a duplicate of
// MPI_COMM_WORLD, so tapegrad's messages never mix with the program's). A program started
// without mpirun is a group of one. Collective. NULL + error on failure.
TG_API tg_dist *tg_dist_init(int *argc, char ***argv);
// Frees the group (collective); finalizes MPI when tg_dist_init started it. NULL: no-op.
TG_API int tg_dist_free(tg_dist *d);
// Ends every process of the job now (MPI_Abort with `code`): for a failure on one rank
// that the others would otherwise wait for. Does not return.
TG_API void tg_dist_abort(tg_dist *d, int code);
// This process's rank in [0, size) and the group's size; -1 for NULL.
TG_API int tg_dist_rank(const tg_dist *d);
TG_API int tg_dist_size(const tg_dist *d);
// Returns when every rank has called it. Collective.
TG_API int tg_dist_barrier(tg_dist *d);

// ---- collectives on host values ----

typedef enum tg_dist_op {
    TG_DIST_SUM = 0,
    TG_DIST_MEAN,  // the sum divided by the group's size
    TG_DIST_MAX,
    TG_DIST_MIN,
    TG_DIST_OP_COUNT
} tg_dist_op;

// values[0..n) = op over ranks of each rank's values[0..n), in place. Collective.
TG_API int tg_dist_allreduce_f64(tg_dist *d, double *values, int64_t n, tg_dist_op op);
// The same for counts (TG_DIST_MEAN is refused: an average of counts is not a count).
TG_API int tg_dist_allreduce_i64(tg_dist *d, int64_t *values, int64_t n, tg_dist_op op);
// Overwrites n persistent tensors on every rank with root's (any backend; shapes and
// dtypes must agree on all ranks: checked, same error everywhere). Collective.
TG_API int tg_dist_broadcast(tg_dist *d, int n, tg_tensor *const *tensors, int root);

// ---- metrics over all ranks ----

// sum(value * weight) / sum(weight) over ranks: a rank's mean loss or accuracy over its
// rows, weighted by its row count, gives the value over all rows. NAN + error on failure
// (or when the weights sum to 0). Collective.
TG_API double tg_dist_mean(tg_dist *d, double value, double weight);
// tg_accuracy over the rows of every rank (each rank passes its own logits and labels).
// Collective. NAN + error on failure.
TG_API double tg_dist_accuracy(tg_dist *d, const tg_tensor *logits, const tg_tensor *labels);
// tg_confusion_matrix summed over ranks: counts[i * n_classes + j] over all rows.
// Collective.
TG_API int tg_dist_confusion_matrix(tg_dist *d, const tg_tensor *logits, const tg_tensor *labels,
                                    int n_classes, int64_t *counts);

// ---- data: each rank's shard (PyTorch's DistributedSampler) ----

// Rows per rank when n rows are shared by `size` ranks: ceil(n / size), or floor(n / size)
// with drop_last. -1 + error for bad arguments (n < 1, size < 1, more ranks than rows with
// drop_last).
TG_API int64_t tg_dist_shard_size(int64_t n, int size, bool drop_last);
// Rank `rank`'s rows for `epoch`: a permutation of 0..n-1 drawn from (seed, epoch) alone,
// the same on every rank, padded by repeating its first rows to size * shard_size (or cut
// to it, drop_last); the rank takes positions rank, rank + size, ... . So the shards of
// one epoch are disjoint and cover every row (up to the padding). out: shard_size entries.
TG_API int tg_dist_shard(int64_t n, uint64_t seed, int64_t epoch, int rank, int size,
                         bool drop_last, int64_t *out);

typedef struct tg_dist_loader tg_dist_loader;
// Mini-batches of `batch` rows of this rank's shard of x (and y, may be NULL), reshuffled
// every epoch (tg_dist_loader_set_epoch; epoch 0 at first). Like tg_loader: x and y are
// copied at creation, batch tensors are persistent buffers owned by the loader, the last
// partial batch is kept unless drop_last, and no call allocates after creation. Local.
TG_API tg_dist_loader *tg_dist_loader_new(const tg_dist *d, const tg_tensor *x, const tg_tensor *y,
                                          int64_t batch, bool drop_last, uint64_t seed);
// Starts `epoch` (its permutation); the next tg_dist_loader_next gives its first batch.
TG_API int tg_dist_loader_set_epoch(tg_dist_loader *l, int64_t epoch);
// Next batch of the epoch into *xb, *yb (valid until the next call); false at its end.
TG_API bool tg_dist_loader_next(tg_dist_loader *l, tg_tensor **xb, tg_tensor **yb);
// Batches per epoch, the same on every rank; this rank's rows per epoch.
TG_API int64_t tg_dist_loader_n_batches(const tg_dist_loader *l);
TG_API int64_t tg_dist_loader_rows(const tg_dist_loader *l);
// Frees the loader; TG_ERR_STATE (nothing freed) while a live tape records a batch tensor.
TG_API int tg_dist_loader_free(tg_dist_loader *l);

// ---- checkpoints ----

// Rank 0 writes the module (tg_save_safetensors, atomic); every rank returns its status
// once the file is complete. Collective.
TG_API int tg_dist_save_safetensors(tg_dist *d, const tg_module *m, const char *path);
// Rank 0 loads the file (validated first; the path need exist only there) and every rank
// gets its parameters and buffers. Same status everywhere; on error no module changes.
// Collective.
TG_API int tg_dist_load_safetensors(tg_dist *d, tg_module *m, const char *path);

// ---- the data-parallel model ----

typedef enum tg_ddp_transport {
    TG_DDP_AUTO = 0,    // cpu: MPI; other backends: NCCL when available, else MPI staged
    TG_DDP_MPI,         // MPI all-reduce on the gradients' memory (cpu tensors)
    TG_DDP_MPI_STAGED,  // MPI on host copies of the gradients (any backend)
    TG_DDP_NCCL,        // NCCL on device memory (cuda; the tapegrad-dist-nccl module)
    TG_DDP_TRANSPORT_COUNT
} tg_ddp_transport;

typedef struct tg_ddp_opts {
    size_t bucket_bytes;         // gradient bytes per all-reduce (default 4 MiB); a
                                 // parameter of at least half this has a bucket of its
                                 // own (a cpu one is reduced in place, not copied)
    bool broadcast_buffers;      // also give every rank rank 0's buffers at start (default)
    tg_ddp_transport transport;  // default TG_DDP_AUTO
} tg_ddp_opts;

TG_API tg_ddp_opts tg_ddp_opts_default(void);
// Makes m data-parallel over d. Checks that every rank has the same model (parameter and
// buffer count, names, shapes, dtypes, backends) and the same options, else every rank
// fails with the same message naming the first rank and tensor that differ; copies rank
// 0's parameters (and buffers) to every rank; groups the gradients into buckets in reverse
// parameter order (the order backward finishes them) and sets each parameter's grad hook
// (tg_set_grad_hook). Collective. Free the result before the module.
TG_API tg_ddp *tg_ddp_new(tg_dist *d, tg_module *m, const tg_ddp_opts *opts);
// The same over n persistent parameters (forward order; borrowed, must outlive it).
TG_API tg_ddp *tg_ddp_new_params(tg_dist *d, int n, tg_tensor *const *params,
                                 const tg_ddp_opts *opts);
// Clears the hooks and frees the state. TG_ERR_STATE (nothing freed) while a reduction is
// in flight (a pass that tg_ddp_finish has not completed). NULL: no-op. Local.
TG_API int tg_ddp_free(tg_ddp *ddp);
// DDP's no_sync: while sync is false, backward passes only add into each rank's .grad
// (gradient accumulation over micro-batches, no communication) and tg_ddp_finish does
// nothing; the first pass after it is set back to true averages the accumulated sums.
// Must be the same on every rank. Returns the previous value.
TG_API bool tg_ddp_set_sync(tg_ddp *ddp, bool sync);
// Completes the pass's reduction: starts the buckets the pass did not (a parameter the
// pass did not reach contributes its current .grad, or zeros), waits for all, and leaves
// every parameter's .grad equal to the mean over ranks. If any rank failed in its pass
// (tg_ddp_backward) or its reduction, every rank returns the same error and no .grad is
// averaged. Call after the backward pass, before the optimizer step. Collective.
TG_API int tg_ddp_finish(tg_ddp *ddp);
// tg_backward(tape, loss) then tg_ddp_finish: one call per step, and a rank whose
// backward pass fails still takes part, so that every rank reports the failure.
// Collective.
TG_API int tg_ddp_backward(tg_ddp *ddp, tg_tape *tape, tg_tensor *loss);
// How many buckets (all-reduces per step) and which transport was chosen.
TG_API int tg_ddp_n_buckets(const tg_ddp *ddp);
// Of the last completed round's buckets, how many started during the backward pass (from
// the grad hooks) rather than in tg_ddp_finish: the part of the communication that could
// overlap with the pass. All of them, for a model whose every parameter gets a gradient.
TG_API int tg_ddp_overlapped(const tg_ddp *ddp);
TG_API tg_ddp_transport tg_ddp_transport_of(const tg_ddp *ddp);
// "auto", "mpi", "mpi-staged", "nccl" (static string); "?" for an unknown value.
TG_API const char *tg_ddp_transport_name(tg_ddp_transport t);

#ifdef __cplusplus
}
#endif

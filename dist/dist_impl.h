// Internals shared by dist/'s files: the process group and the helpers that turn MPI
// results into tapegrad errors and make a failure on one rank a failure on every rank.
#pragma once

#include <mpi.h>
#include <tapegrad/tapegrad.h>
#include <tapegrad/dist_mpi.h>

// Room for one error message carried between ranks.
#define TG_DIST_MSG 1024

typedef struct tg__dist_tuning tg__dist_tuning;

struct tg_dist {
    MPI_Comm comm;  // our duplicate of the user's (or the world's) communicator
    int rank, size;
    bool owns_mpi;  // tg_dist_init started MPI: tg_dist_free finalizes it
    bool tuning_tried;         // tg__dist_tuning_of ran (its answer is kept)
    tg__dist_tuning *tuning;   // the all-reduce algorithm's handle (mpi_tuning.c), or NULL
};

// d's handle on Open MPI's all-reduce algorithm choice, made at the first call (MPI's tool
// interface takes ~0.2 s to start) and kept until tg_dist_free; NULL unless every rank
// has it at its default (then tg__dist_iallreduce is a plain MPI_Iallreduce). Collective
// at the first call.
tg__dist_tuning *tg__dist_tuning_of(tg_dist *d);
// MPI_Iallreduce(MPI_IN_PLACE, buf, count, type, MPI_SUM, comm, req), by the ring when the
// bucket is `bytes` >= 64 KiB long and t is not NULL.
int tg__dist_iallreduce(tg__dist_tuning *t, void *buf, int count, MPI_Datatype type,
                        size_t bytes, MPI_Comm comm, MPI_Request *req);
// Whether a bucket of `bytes` would take the ring (worth making the handle for).
bool tg__dist_tuning_wanted(size_t bytes);
void tg__dist_tuning_free(tg__dist_tuning *t);

// MPI status `rc` of `call` as a tapegrad error (TG_ERR_BACKEND) from `where`.
int tg__dist_mpi_fail(int rc, const char *where, const char *call);
// Agreement after a collective step: `st` is this rank's status (its error message is the
// thread-local one). If any rank failed, every rank ends with the lowest failing rank's
// status and the message "rank R: <its message>" (set as this thread's error) and returns
// it; else TG_OK. Collective.
int tg__dist_agree(tg_dist *d, int st, const char *where);
// Raw host pointer of a cpu tensor's elements; NULL (and no error) on other backends.
void *tg__dist_cpu_data(tg_tensor *t);
// MPI datatype of a tapegrad dtype.
MPI_Datatype tg__dist_mpi_type(tg_dtype dt);
// In-place all-reduce / broadcast of n elements in chunks whose count fits MPI's int.
int tg__dist_allreduce(tg_dist *d, void *buf, int64_t n, MPI_Datatype type, MPI_Op op,
                       const char *where);
int tg__dist_bcast(tg_dist *d, void *buf, int64_t n, MPI_Datatype type, int root,
                   const char *where);
// Broadcasts the tensors (shapes already known to agree): cpu tensors in place, others
// through one host buffer. Collective; the status of the copies is local (call
// tg__dist_agree after).
int tg__dist_bcast_tensors(tg_dist *d, int n, tg_tensor *const *ts, int root, const char *where);
// Every rank has the same list of tensors: count, and per tensor name, dtype, shape and
// backend, plus `n_extra` (at most 16) option values. On a difference every rank fails
// with the same message, "the ranks' <what> differ: ...", naming the first differing rank
// and tensor or option. Collective.
int tg__dist_check_same(tg_dist *d, int n, tg_tensor *const *ts, const char *const *names,
                        int n_extra, const int64_t *extra, const char *const *extra_names,
                        const char *what, const char *where);

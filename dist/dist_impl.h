// Internals shared by dist/'s files: the process group and the helpers that turn MPI
// results into tapegrad errors and make a failure on one rank a failure on every rank.
#pragma once

#include <mpi.h>
#include <tapegrad/tapegrad.h>
#include <tapegrad/dist_mpi.h>

// Room for one error message carried between ranks.
#define TG_DIST_MSG 1024

struct tg_dist {
    MPI_Comm comm;  // our duplicate of the user's (or the world's) communicator
    int rank, size;
    bool owns_mpi;  // tg_dist_init started MPI: tg_dist_free finalizes it
};

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

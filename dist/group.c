// The process group (tg_dist): start-up from MPI_Init or a user communicator, rank and
// size, and the collective helpers the rest of dist/ builds on. MPI errors on our
// communicator return (MPI_ERRORS_RETURN) and become tapegrad errors; tg__dist_agree makes
// one rank's failure every rank's, with the same message.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_impl.h"

// Elements per MPI call: counts are ints.
#define CHUNK ((int64_t)INT_MAX)

int tg__dist_mpi_fail(int rc, const char *where, const char *call) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "?");
    return tg_set_error(TG_ERR_BACKEND, where, "%s failed: %s (MPI error %d)", call, text, rc);
}

static tg_dist *group_new(MPI_Comm comm, bool owns, const char *where) {
    tg_dist *d = calloc(1, sizeof *d);
    if (!d) {
        tg_set_error(TG_ERR_OOM, where, "out of memory");
        return NULL;
    }
    d->owns_mpi = owns;
    int rc = MPI_Comm_dup(comm, &d->comm);
    if (rc != MPI_SUCCESS) {
        tg__dist_mpi_fail(rc, where, "MPI_Comm_dup");
        free(d);
        return NULL;
    }
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    return d;
}

tg_dist *tg_dist_init(int *argc, char ***argv) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized) {
        tg_set_error(TG_ERR_STATE, "tg_dist_init", "MPI was finalized already; it cannot restart");
        return NULL;
    }
    if (!inited) {
        int provided = 0;
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
        if (rc != MPI_SUCCESS) {
            tg__dist_mpi_fail(rc, "tg_dist_init", "MPI_Init_thread");
            return NULL;
        }
    }
    tg_dist *d = group_new(MPI_COMM_WORLD, !inited, "tg_dist_init");
    if (!d && !inited) MPI_Finalize();
    return d;
}

tg_dist *tg_dist_from_comm(MPI_Comm comm) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized) {
        tg_set_error(TG_ERR_STATE, "tg_dist_from_comm",
                     "MPI is not running (call MPI_Init first, or use tg_dist_init)");
        return NULL;
    }
    if (comm == MPI_COMM_NULL) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_dist_from_comm", "comm is MPI_COMM_NULL");
        return NULL;
    }
    return group_new(comm, false, "tg_dist_from_comm");
}

MPI_Comm tg_dist_comm(const tg_dist *d) { return d ? d->comm : MPI_COMM_NULL; }

int tg_dist_free(tg_dist *d) {
    if (!d) return TG_OK;
    int rc = MPI_Comm_free(&d->comm);
    int st = rc == MPI_SUCCESS ? TG_OK : tg__dist_mpi_fail(rc, "tg_dist_free", "MPI_Comm_free");
    tg__dist_tuning_free(d->tuning);
    if (d->owns_mpi) {
        rc = MPI_Finalize();
        if (rc != MPI_SUCCESS && !st) st = tg__dist_mpi_fail(rc, "tg_dist_free", "MPI_Finalize");
    }
    free(d);
    return st;
}

void tg_dist_abort(tg_dist *d, int code) {
    MPI_Abort(d ? d->comm : MPI_COMM_WORLD, code);
    abort();  // MPI_Abort does not return; if an implementation did, end this process
}

int tg_dist_rank(const tg_dist *d) { return d ? d->rank : -1; }
int tg_dist_size(const tg_dist *d) { return d ? d->size : -1; }

int tg_dist_barrier(tg_dist *d) {
    if (!d) return tg_set_error(TG_ERR_INVALID_ARG, "tg_dist_barrier", "group is NULL");
    int rc = MPI_Barrier(d->comm);
    return rc == MPI_SUCCESS ? TG_OK : tg__dist_mpi_fail(rc, "tg_dist_barrier", "MPI_Barrier");
}

MPI_Datatype tg__dist_mpi_type(tg_dtype dt) { return dt == TG_F32 ? MPI_FLOAT : MPI_DOUBLE; }

// "where: msg" -> "msg" (an error that already names the function is not named twice).
static const char *strip_where(const char *msg, const char *where) {
    size_t n = strlen(where);
    return strncmp(msg, where, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ' ? msg + n + 2 : msg;
}

int tg__dist_agree(tg_dist *d, int st, const char *where) {
    int mine = st ? d->rank : d->size, first = d->size;
    int rc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm);
    if (rc != MPI_SUCCESS) return tg__dist_mpi_fail(rc, where, "MPI_Allreduce");
    if (first == d->size) return TG_OK;
    struct {
        int status;
        char msg[TG_DIST_MSG];
    } box = {TG_ERR_BACKEND, ""};
    if (d->rank == first) {
        box.status = st < 0 && st >= TG_ERR_STATUS_MIN ? st : TG_ERR_BACKEND;
        snprintf(box.msg, sizeof box.msg, "%s",
                 tg_last_status() ? strip_where(tg_last_error(), where) : "failed (no message)");
    }
    rc = MPI_Bcast(&box, (int)sizeof box, MPI_BYTE, first, d->comm);
    if (rc != MPI_SUCCESS) return tg__dist_mpi_fail(rc, where, "MPI_Bcast");
    box.msg[TG_DIST_MSG - 1] = '\0';
    tg_clear_error();
    if (strncmp(box.msg, "on rank ", 8) == 0)  // agreed already (a nested step)
        return tg_set_error(box.status, where, "%s", box.msg);
    return tg_set_error(box.status, where, "on rank %d: %s", first, box.msg);
}

int tg__dist_allreduce(tg_dist *d, void *buf, int64_t n, MPI_Datatype type, MPI_Op op,
                       const char *where) {
    int size = 0;
    MPI_Type_size(type, &size);
    for (int64_t i = 0; i < n; i += CHUNK) {
        int count = (int)(n - i < CHUNK ? n - i : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * size, count, type, op, d->comm);
        if (rc != MPI_SUCCESS) return tg__dist_mpi_fail(rc, where, "MPI_Allreduce");
    }
    return TG_OK;
}

int tg__dist_bcast(tg_dist *d, void *buf, int64_t n, MPI_Datatype type, int root,
                   const char *where) {
    int size = 0;
    MPI_Type_size(type, &size);
    for (int64_t i = 0; i < n; i += CHUNK) {
        int count = (int)(n - i < CHUNK ? n - i : CHUNK);
        int rc = MPI_Bcast((char *)buf + i * size, count, type, root, d->comm);
        if (rc != MPI_SUCCESS) return tg__dist_mpi_fail(rc, where, "MPI_Bcast");
    }
    return TG_OK;
}

void *tg__dist_cpu_data(tg_tensor *t) {
    if (strcmp(tg_backend_name(tg_backend_of(t)), "cpu") != 0) return NULL;
    return tg_dtype_of(t) == TG_F32 ? (void *)tg_data_f32(t) : (void *)tg_data_f64(t);
}

int tg__dist_bcast_tensors(tg_dist *d, int n, tg_tensor *const *ts, int root, const char *where) {
    size_t most = 0;  // the largest non-cpu tensor: one host buffer serves them all
    for (int i = 0; i < n; i++)
        if (!tg__dist_cpu_data(ts[i])) {
            size_t b = (size_t)tg_numel(ts[i]) * tg_dtype_size(tg_dtype_of(ts[i]));
            most = b > most ? b : most;
        }
    void *host = most ? malloc(most) : NULL;
    int st =
        most && !host ? tg_set_error(TG_ERR_OOM, where, "out of memory (%zu bytes)", most) : TG_OK;
    st = tg__dist_agree(d, st, where);  // no rank goes on to broadcasts another skips
    if (st) {
        free(host);
        return st;
    }
    for (int i = 0; i < n; i++) {
        tg_tensor *t = ts[i];
        int64_t numel = tg_numel(t);
        size_t bytes = (size_t)numel * tg_dtype_size(tg_dtype_of(t));
        void *data = tg__dist_cpu_data(t), *buf = data ? data : host;
        if (!st && !data && d->rank == root) st = tg_copy_to_host(t, buf, bytes);
        // Every rank takes part in every broadcast, whatever failed locally before it.
        int rc = tg__dist_bcast(d, buf, numel, tg__dist_mpi_type(tg_dtype_of(t)), root, where);
        if (rc) {
            free(host);
            return rc;
        }
        if (!st && d->rank != root) st = data ? tg_mark_dirty(t) : tg_copy_from_host(t, buf, bytes);
    }
    free(host);
    return st;
}

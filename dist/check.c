// Start-up agreement: every rank must hold the same list of tensors (a model's parameters
// and buffers) and the same options, or the collectives that follow would pair unrelated
// buffers (a wrong answer) or wait forever. Rank 0's description is broadcast, each rank
// compares its own, and the lowest rank that differs words the one message every rank
// reports.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_impl.h"

#define NAME_LEN    96
#define BACKEND_LEN 16
#define DIMS        (2 + TG_MAX_DIMS)  // dtype, ndim, shape

// One tensor's description, broadcast as bytes.
typedef struct desc {
    int64_t dims[DIMS];
    uint64_t name_hash;  // of the whole name (the text below may be cut)
    char name[NAME_LEN];
    char backend[BACKEND_LEN];
} desc;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void describe(desc *out, tg_tensor *t, const char *name) {
    memset(out, 0, sizeof *out);
    out->dims[0] = tg_dtype_of(t);
    out->dims[1] = tg_ndim(t);
    for (int k = 0; k < tg_ndim(t); k++) out->dims[2 + k] = tg_shape(t)[k];
    out->name_hash = fnv1a(name ? name : "");
    snprintf(out->name, sizeof out->name, "%s", name ? name : "");
    snprintf(out->backend, sizeof out->backend, "%s", tg_backend_name(tg_backend_of(t)));
}

static void shape_str(char *buf, size_t cap, const desc *e) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int64_t k = 0; k < e->dims[1] && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, k ? "," : "", e->dims[2 + k]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

// How tensor i of this rank (mine) differs from rank 0's (ref): a message and a status,
// or TG_OK when it does not.
static int compare(const desc *mine, const desc *ref, int i, int rank, char *msg, size_t cap) {
    bool same_dims = memcmp(mine->dims, ref->dims, sizeof mine->dims) == 0;
    bool same_be = strcmp(mine->backend, ref->backend) == 0;
    bool same_name = mine->name_hash == ref->name_hash;
    if (same_dims && same_be && same_name) return TG_OK;
    char a[112], b[112];
    shape_str(a, sizeof a, mine);
    shape_str(b, sizeof b, ref);
    const char *dta = tg_dtype_name((tg_dtype)mine->dims[0]);
    const char *dtb = tg_dtype_name((tg_dtype)ref->dims[0]);
    if (same_name)
        snprintf(msg, cap, "tensor %d (%s) is %s %s on %s on rank %d but %s %s on %s on rank 0", i,
                 mine->name[0] ? mine->name : "unnamed", a, dta, mine->backend, rank, b, dtb,
                 ref->backend);
    else
        snprintf(msg, cap,
                 "tensor %d is \"%s\" %s %s on %s on rank %d but \"%s\" %s %s on %s on "
                 "rank 0",
                 i, mine->name, a, dta, mine->backend, rank, ref->name, b, dtb, ref->backend);
    if (mine->dims[0] != ref->dims[0]) return TG_ERR_DTYPE;
    if (!same_be) return TG_ERR_BACKEND;
    return same_dims ? TG_ERR_INVALID_ARG : TG_ERR_SHAPE;
}

// The lowest rank with a non-zero `st` broadcasts its message; every rank sets it.
static int report(tg_dist *d, int st, const char *msg, const char *where) {
    int mine = st ? d->rank : d->size, first = d->size;
    int rc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm);
    if (rc != MPI_SUCCESS) return tg__dist_mpi_fail(rc, where, "MPI_Allreduce");
    if (first == d->size) return TG_OK;
    struct {
        int status;
        char msg[TG_DIST_MSG];
    } box = {st, ""};
    if (d->rank == first) snprintf(box.msg, sizeof box.msg, "%s", msg);
    rc = MPI_Bcast(&box, (int)sizeof box, MPI_BYTE, first, d->comm);
    if (rc != MPI_SUCCESS) return tg__dist_mpi_fail(rc, where, "MPI_Bcast");
    box.msg[TG_DIST_MSG - 1] = '\0';
    tg_clear_error();
    return tg_set_error(box.status, where, "%s", box.msg);
}

// Header: the tensor count and the options. 0 when equal to rank 0's.
static int check_header(tg_dist *d, int n, int n_extra, const int64_t *extra,
                        const char *const *extra_names, const char *what, const char *where) {
    int64_t head[1 + 16] = {n};
    int64_t ref[1 + 16];
    if (n_extra > 16) return tg_set_error(TG_ERR_INVALID_ARG, where, "too many options");
    for (int k = 0; k < n_extra; k++) head[1 + k] = extra[k];
    memcpy(ref, head, sizeof head);
    int st = tg__dist_bcast(d, ref, 1 + n_extra, MPI_INT64_T, 0, where);
    if (st) return st;
    char msg[TG_DIST_MSG] = "";
    int bad = TG_OK;
    if (head[0] != ref[0]) {
        snprintf(msg, sizeof msg,
                 "the ranks' %s differ: rank %d has %" PRId64 " tensors, rank 0 "
                 "has %" PRId64,
                 what, d->rank, head[0], ref[0]);
        bad = TG_ERR_SHAPE;
    }
    for (int k = 0; k < n_extra && !bad; k++)
        if (head[1 + k] != ref[1 + k]) {
            snprintf(msg, sizeof msg,
                     "the ranks' options differ: %s is %" PRId64 " on rank %d "
                     "but %" PRId64 " on rank 0",
                     extra_names[k], head[1 + k], d->rank, ref[1 + k]);
            bad = TG_ERR_INVALID_ARG;
        }
    return report(d, bad, msg, where);
}

int tg__dist_check_same(tg_dist *d, int n, tg_tensor *const *ts, const char *const *names,
                        int n_extra, const int64_t *extra, const char *const *extra_names,
                        const char *what, const char *where) {
    int st = check_header(d, n, n_extra, extra, extra_names, what, where);
    if (st || n == 0) return st;
    desc *mine = malloc((size_t)n * sizeof *mine), *ref = malloc((size_t)n * sizeof *ref);
    st = mine && ref ? TG_OK : tg_set_error(TG_ERR_OOM, where, "out of memory");
    st = tg__dist_agree(d, st, where);
    for (int i = 0; i < n && !st; i++) describe(&mine[i], ts[i], names ? names[i] : NULL);
    if (!st) {
        memcpy(ref, mine, (size_t)n * sizeof *ref);
        st = tg__dist_bcast(d, ref, (int64_t)n * (int64_t)sizeof *ref, MPI_BYTE, 0, where);
    }
    if (!st) {
        char msg[TG_DIST_MSG] = "", how[TG_DIST_MSG - 64] = "";
        int bad = TG_OK;
        for (int i = 0; i < n && !bad; i++)
            bad = compare(&mine[i], &ref[i], i, d->rank, how, sizeof how);
        snprintf(msg, sizeof msg, "the ranks' %s differ: %s", what, how);
        st = report(d, bad, msg, where);
    }
    free(mine);
    free(ref);
    return st;
}

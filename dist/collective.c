// Collectives on host values and tensors for users: all-reduce of doubles and counts,
// broadcast of tensors, metrics over every rank's rows (loss, accuracy, confusion counts),
// and checkpoints that rank 0 alone writes or reads. Argument errors are agreed on first,
// so a rank with bad arguments never leaves the others waiting.
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_impl.h"

static int no_group(const char *where) {
    return tg_set_error(TG_ERR_INVALID_ARG, where, "group is NULL");
}

// MPI's operation for a tg_dist_op (MEAN sums, then divides).
static MPI_Op mpi_op(tg_dist_op op) {
    return op == TG_DIST_MAX ? MPI_MAX : op == TG_DIST_MIN ? MPI_MIN : MPI_SUM;
}

static int check_values(const void *values, int64_t n, tg_dist_op op, bool integral,
                        const char *where) {
    if (n < 0 || (n > 0 && !values))
        return tg_set_error(TG_ERR_INVALID_ARG, where, "need n >= 0 values (n = %lld)",
                            (long long)n);
    if ((unsigned)op >= TG_DIST_OP_COUNT)
        return tg_set_error(TG_ERR_INVALID_ARG, where, "unknown op %d", (int)op);
    if (integral && op == TG_DIST_MEAN)
        return tg_set_error(TG_ERR_INVALID_ARG, where,
                            "TG_DIST_MEAN of counts is not a count; sum them, or use doubles");
    return TG_OK;
}

static int allreduce(tg_dist *d, void *values, int64_t n, tg_dist_op op, bool integral,
                     const char *where) {
    if (!d) return no_group(where);
    int st = tg__dist_agree(d, check_values(values, n, op, integral, where), where);
    if (!st) {  // every rank must pass the same n: max of (n, -n) gives the largest and smallest
        int64_t span[2] = {n, -n};
        st = tg__dist_allreduce(d, span, 2, MPI_INT64_T, MPI_MAX, where);
        if (!st && span[0] != -span[1])
            st = tg_set_error(TG_ERR_SHAPE, where,
                              "the ranks pass different counts (%lld to "
                              "%lld values)",
                              (long long)-span[1], (long long)span[0]);
    }
    if (st) return st;
    st = tg__dist_allreduce(d, values, n, integral ? MPI_INT64_T : MPI_DOUBLE, mpi_op(op), where);
    if (!st && op == TG_DIST_MEAN)
        for (int64_t i = 0; i < n; i++) ((double *)values)[i] /= (double)d->size;
    return st;
}

int tg_dist_allreduce_f64(tg_dist *d, double *values, int64_t n, tg_dist_op op) {
    return allreduce(d, values, n, op, false, "tg_dist_allreduce_f64");
}

int tg_dist_allreduce_i64(tg_dist *d, int64_t *values, int64_t n, tg_dist_op op) {
    return allreduce(d, values, n, op, true, "tg_dist_allreduce_i64");
}

int tg_dist_broadcast(tg_dist *d, int n, tg_tensor *const *tensors, int root) {
    const char *where = "tg_dist_broadcast";
    if (!d) return no_group(where);
    int st = TG_OK;
    if (n < 0 || (n > 0 && !tensors))
        st = tg_set_error(TG_ERR_INVALID_ARG, where, "need n >= 0 tensors (n = %d)", n);
    else if (root < 0 || root >= d->size)
        st = tg_set_error(TG_ERR_INVALID_ARG, where, "root %d is not a rank of a group of %d", root,
                          d->size);
    for (int i = 0; i < n && !st; i++)
        if (!tensors[i] || tg_is_step(tensors[i]))
            st = tg_set_error(TG_ERR_INVALID_ARG, where, "tensor %d is %s", i,
                              tensors[i] ? "a step tensor (need persistent ones)" : "NULL");
    st = tg__dist_agree(d, st, where);
    const char *const extra_names[1] = {"root"};
    if (!st)
        st = tg__dist_check_same(d, n, tensors, NULL, 1, (int64_t[]){root}, extra_names, "tensors",
                                 where);
    if (!st) st = tg__dist_agree(d, tg__dist_bcast_tensors(d, n, tensors, root, where), where);
    return st;
}

// ---- metrics ----

double tg_dist_mean(tg_dist *d, double value, double weight) {
    const char *where = "tg_dist_mean";
    if (!d) return no_group(where), NAN;
    double v[2] = {value * weight, weight};
    if (tg_dist_allreduce_f64(d, v, 2, TG_DIST_SUM)) return NAN;
    if (!(v[1] != 0)) {
        tg_set_error(TG_ERR_INVALID_ARG, where, "the weights sum to %g over the ranks", v[1]);
        return NAN;
    }
    return v[0] / v[1];
}

double tg_dist_accuracy(tg_dist *d, const tg_tensor *logits, const tg_tensor *labels) {
    const char *where = "tg_dist_accuracy";
    if (!d) return no_group(where), NAN;
    double acc = tg_accuracy(logits, labels);
    int st = tg__dist_agree(
        d, isnan(acc) ? tg_last_status() ? tg_last_status() : TG_ERR_INVALID_ARG : TG_OK, where);
    if (st) return NAN;
    double rows = (double)tg_shape(labels)[0];
    return tg_dist_mean(d, acc, rows);
}

int tg_dist_confusion_matrix(tg_dist *d, const tg_tensor *logits, const tg_tensor *labels,
                             int n_classes, int64_t *counts) {
    const char *where = "tg_dist_confusion_matrix";
    if (!d) return no_group(where);
    int st = tg_confusion_matrix(logits, labels, n_classes, counts);
    st = tg__dist_agree(d, st, where);
    if (st) return st;
    return tg_dist_allreduce_i64(d, counts, (int64_t)n_classes * n_classes, TG_DIST_SUM);
}

// ---- checkpoints ----

int tg_dist_save_safetensors(tg_dist *d, const tg_module *m, const char *path) {
    const char *where = "tg_dist_save_safetensors";
    if (!d) return no_group(where);
    int st = d->rank == 0 ? tg_save_safetensors(m, path) : TG_OK;
    return tg__dist_agree(d, st, where);
}

// The module's parameters then buffers, and their names. Count, or -1 (out of memory).
static int module_tensors(tg_module *m, tg_tensor ***ts, const char ***names) {
    int np = tg_module_n_params(m), nb = tg_module_n_buffers(m);
    *ts = calloc((size_t)(np + nb) + 1, sizeof **ts);
    *names = calloc((size_t)(np + nb) + 1, sizeof **names);
    if (!*ts || !*names) return -1;
    for (int i = 0; i < np + nb; i++) {
        (*ts)[i] = i < np ? tg_module_param(m, i) : tg_module_buffer(m, i - np);
        (*names)[i] = i < np ? tg_module_param_name(m, i) : tg_module_buffer_name(m, i - np);
    }
    return np + nb;
}

int tg_dist_load_safetensors(tg_dist *d, tg_module *m, const char *path) {
    const char *where = "tg_dist_load_safetensors";
    if (!d) return no_group(where);
    tg_tensor **ts = NULL;
    const char **names = NULL;
    int n = m ? module_tensors(m, &ts, &names) : 0;
    int st = !m      ? tg_set_error(TG_ERR_INVALID_ARG, where, "module is NULL")
             : n < 0 ? tg_set_error(TG_ERR_OOM, where, "out of memory")
                     : TG_OK;
    st = tg__dist_agree(d, st, where);
    if (!st) st = tg__dist_check_same(d, n, ts, names, 0, NULL, NULL, "models", where);
    if (!st) st = tg__dist_agree(d, d->rank == 0 ? tg_load_safetensors(m, path) : TG_OK, where);
    if (!st) st = tg__dist_agree(d, tg__dist_bcast_tensors(d, n, ts, 0, where), where);
    free(ts);
    free(names);
    return st;
}

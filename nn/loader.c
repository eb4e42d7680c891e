// Mini-batch loader. tg_loader_new snapshots x and y to host memory (later changes to x/y
// are not seen, and x/y may be freed) and allocates everything it will ever use: the
// permutation, one host staging row block, the full-batch tensors and, when the row count
// is not a multiple of the batch, the smaller last-batch tensors. tg_loader_next and
// tg_loader_reset then never allocate: they gather rows and upload with tg_copy_from_host.
//
// Epochs: the first tg_loader_next of an epoch shuffles (when `shuffle`) with the loader's
// own RNG; after the last batch tg_loader_next returns false once and the next call starts
// a new epoch. tg_loader_reset abandons the current epoch. So `new; next...` and
// `new; reset; next...` give the same order, and an epoch loop needs no reset.
#include <stdlib.h>
#include <string.h>

#include "nn/data_impl.h"

struct tg_loader {
    int64_t n;          // rows
    int64_t batch;      // rows per full batch
    int64_t n_batches;  // per epoch
    int64_t pos;        // next batch of this epoch
    bool shuffle, started;
    tg_rng *rng;             // owned; only used when shuffle
    int64_t *perm;           // [n] row order of this epoch
    unsigned char *xh, *yh;  // host snapshots [n, xrow] / [n, yrow] bytes
    size_t xrow, yrow;       // bytes per row (yrow 0: no labels)
    unsigned char *xs, *ys;  // staging [batch, xrow] / [batch, yrow] bytes
    tg_tensor *xb, *yb;      // full batches [batch, ...]  (NULL if none)
    tg_tensor *xl, *yl;      // last partial batch [n % batch, ...] (NULL if none)
};

static const char *const FN = "tg_loader_new";

// Host snapshot of t; *row gets bytes per row.
static unsigned char *snapshot(const tg_tensor *t, size_t *row) {
    size_t bytes = (size_t)tg_numel(t) * tg_dtype_size(tg_dtype_of(t));
    *row = bytes / (size_t)tg_shape(t)[0];
    unsigned char *h = tg_mem_alloc(bytes + 1);
    if (!h) {
        tg_set_error(TG_ERR_OOM, FN, "out of memory for a %zu-byte copy", bytes);
        return NULL;
    }
    if (tg_copy_to_host(t, h, bytes)) {
        tg_mem_free(h);
        return NULL;
    }
    return h;
}

// A persistent tensor shaped like t with `rows` rows.
static tg_tensor *like(const tg_tensor *t, int64_t rows) {
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, tg_shape(t), (size_t)tg_ndim(t) * sizeof *shape);
    shape[0] = rows;
    return tg_tensor_new(tg_backend_of(t), tg_dtype_of(t), tg_ndim(t), shape);
}

static int check_args(const tg_tensor *x, const tg_tensor *y, int64_t batch) {
    if (!x) return tg_set_error(TG_ERR_INVALID_ARG, FN, "x is NULL");
    if (batch < 1)
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "batch size %lld must be >= 1",
                            (long long)batch);
    if (tg_ndim(x) < 1 || tg_shape(x)[0] < 1)
        return tg_set_error(TG_ERR_SHAPE, FN, "x needs at least one row");
    if (y && (tg_ndim(y) < 1 || tg_shape(y)[0] != tg_shape(x)[0]))
        return tg_set_error(TG_ERR_SHAPE, FN, "x has %lld rows but y has %lld",
                            (long long)tg_shape(x)[0],
                            tg_ndim(y) < 1 ? 0LL : (long long)tg_shape(y)[0]);
    return TG_OK;
}

tg_loader *tg_loader_new(const tg_tensor *x, const tg_tensor *y, int64_t batch, bool shuffle,
                         bool drop_last, uint64_t seed) {
    unsigned mark = tg_error_mark();   // errors of the calls below name tg_loader_new
    if (check_args(x, y, batch)) {
        tg_error_context(mark, FN);
        return NULL;
    }
    tg_loader *l = tg_mem_calloc(1, sizeof *l);
    if (!l) {
        tg_set_error(TG_ERR_OOM, FN, "out of memory");
        return NULL;
    }
    l->n = tg_shape(x)[0];
    l->batch = batch;
    l->shuffle = shuffle;
    int64_t full = l->n / batch, rest = l->n % batch;
    if (drop_last) rest = 0;
    l->n_batches = full + (rest ? 1 : 0);
    int64_t stage_rows = full ? batch : rest;
    bool ok = (l->perm = tg_mem_alloc((size_t)l->n * sizeof *l->perm)) != NULL &&
              (!shuffle || (l->rng = tg_rng_new(seed)) != NULL);
    if (!ok && !tg_last_status()) tg_set_error(TG_ERR_OOM, FN, "out of memory");
    ok = ok && (l->xh = snapshot(x, &l->xrow)) != NULL;
    ok = ok && (!y || (l->yh = snapshot(y, &l->yrow)) != NULL);
    if (ok && stage_rows) {
        l->xs = tg_mem_alloc((size_t)stage_rows * l->xrow + 1);
        l->ys = tg_mem_alloc((size_t)stage_rows * l->yrow + 1);
        if (!l->xs || !l->ys) {
            tg_set_error(TG_ERR_OOM, FN, "out of memory");
            ok = false;
        }
    }
    ok = ok && (!full || (l->xb = like(x, batch)) != NULL);
    ok = ok && (!full || !y || (l->yb = like(y, batch)) != NULL);
    ok = ok && (!rest || (l->xl = like(x, rest)) != NULL);
    ok = ok && (!rest || !y || (l->yl = like(y, rest)) != NULL);
    if (!ok) {
        tg_error_context(mark, FN);
        tg_loader_free(l);
        return NULL;
    }
    for (int64_t i = 0; i < l->n; i++) l->perm[i] = i;
    return l;
}

int tg_loader_free(tg_loader *l) {
    if (!l) return TG_OK;
    // The batch tensors may still be recorded on a live tape: then nothing is freed.
    unsigned mark = tg_error_mark();
    int st = tg_free_many(4, (tg_tensor *[]){l->xb, l->yb, l->xl, l->yl});
    if (st) return tg_error_context(mark, "tg_loader_free");
    tg_rng_free(l->rng);
    tg_mem_free(l->perm);
    tg_mem_free(l->xh);
    tg_mem_free(l->yh);
    tg_mem_free(l->xs);
    tg_mem_free(l->ys);
    tg_mem_free(l);
    return TG_OK;
}

void tg_loader_reset(tg_loader *l) {
    if (!l) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_loader_reset", "loader is NULL");
        return;
    }
    l->started = false;
}

int64_t tg_loader_n_batches(const tg_loader *l) {
    if (!l) return tg_set_error(TG_ERR_INVALID_ARG, "tg_loader_n_batches", "loader is NULL");
    return l->n_batches;
}

// Fisher–Yates over the identity, so an epoch's order depends only on the RNG state.
static void start_epoch(tg_loader *l) {
    for (int64_t i = 0; i < l->n; i++) l->perm[i] = i;
    if (l->shuffle) {
        for (int64_t i = l->n - 1; i > 0; i--) {
            int64_t j = (int64_t)(tg_rng_uniform(l->rng) * (double)(i + 1));
            if (j > i) j = i;
            int64_t t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    l->pos = 0;
    l->started = true;
}

// Gathers rows perm[first, first + rows) of host (row bytes each) into stage and uploads.
static int fill(tg_tensor *t, unsigned char *stage, const unsigned char *host, size_t row,
                const int64_t *perm, int64_t rows) {
    for (int64_t i = 0; i < rows; i++)
        memcpy(stage + (size_t)i * row, host + (size_t)perm[i] * row, row);
    return tg_copy_from_host(t, stage, (size_t)rows * row);
}

bool tg_loader_next(tg_loader *l, tg_tensor **xb, tg_tensor **yb) {
    if (xb) *xb = NULL;
    if (yb) *yb = NULL;
    if (!l || !xb) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_loader_next", "loader or xb is NULL");
        return false;
    }
    if (!l->started) start_epoch(l);
    if (l->pos >= l->n_batches) {
        l->started = false;  // the next call begins a new epoch
        return false;
    }
    int64_t first = l->pos * l->batch;
    int64_t rows = l->n - first < l->batch ? l->n - first : l->batch;
    tg_tensor *tx = rows == l->batch ? l->xb : l->xl;
    tg_tensor *ty = rows == l->batch ? l->yb : l->yl;
    if (fill(tx, l->xs, l->xh, l->xrow, l->perm + first, rows) ||
        (l->yh && fill(ty, l->ys, l->yh, l->yrow, l->perm + first, rows)))
        return false;
    l->pos++;
    *xb = tx;
    if (yb) *yb = l->yh ? ty : NULL;
    return true;
}

// Each rank's shard of the data (PyTorch's DistributedSampler) and a mini-batch loader over
// it. An epoch's permutation comes from (seed, epoch) alone (splitmix64, Fisher-Yates with
// unbiased draws), so every rank computes the same one without talking; every rank gets the
// same number of rows, hence of batches, which data-parallel steps need.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_impl.h"

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform in [0, bound), without modulo bias.
static uint64_t below(uint64_t *state, uint64_t bound) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound, r;
    do r = splitmix64(state);
    while (r >= limit);
    return r % bound;
}

// perm[0..n) = epoch's permutation of 0..n-1.
static void permutation(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch) {
    uint64_t state = seed;
    state ^= splitmix64(&(uint64_t){(uint64_t)epoch ^ 0x5DEECE66Dull});
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)below(&state, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static int check_shard(int64_t n, int size, bool drop_last, const char *where) {
    if (n < 1)
        return tg_set_error(TG_ERR_INVALID_ARG, where, "need at least 1 row (n = %lld)",
                            (long long)n);
    if (size < 1)
        return tg_set_error(TG_ERR_INVALID_ARG, where, "need at least 1 rank (size = %d)", size);
    if (drop_last && size > n)
        return tg_set_error(TG_ERR_INVALID_ARG, where,
                            "%d ranks but only %lld rows: with drop_last "
                            "every rank would get none",
                            size, (long long)n);
    return TG_OK;
}

static int64_t shard_size(int64_t n, int size, bool drop_last) {
    return drop_last ? n / size : n / size + (n % size ? 1 : 0);
}

int64_t tg_dist_shard_size(int64_t n, int size, bool drop_last) {
    return check_shard(n, size, drop_last, "tg_dist_shard_size") ? -1
                                                                 : shard_size(n, size, drop_last);
}

// out[j] = perm[(rank + j * size) mod n]: positions past n repeat the permutation's head.
static void take(int64_t *out, const int64_t *perm, int64_t n, int rank, int size, int64_t rows) {
    for (int64_t j = 0; j < rows; j++) out[j] = perm[(rank + j * (int64_t)size) % n];
}

int tg_dist_shard(int64_t n, uint64_t seed, int64_t epoch, int rank, int size, bool drop_last,
                  int64_t *out) {
    const char *where = "tg_dist_shard";
    int st = check_shard(n, size, drop_last, where);
    if (st) return st;
    if (rank < 0 || rank >= size)
        return tg_set_error(TG_ERR_INVALID_ARG, where, "rank %d is not in [0, %d)", rank, size);
    if (!out) return tg_set_error(TG_ERR_INVALID_ARG, where, "out is NULL");
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    if (!perm) return tg_set_error(TG_ERR_OOM, where, "out of memory for %lld rows", (long long)n);
    permutation(perm, n, seed, epoch);
    take(out, perm, n, rank, size, shard_size(n, size, drop_last));
    free(perm);
    return TG_OK;
}

// ---- the loader ----

struct tg_dist_loader {
    int rank, size;
    uint64_t seed;
    int64_t n, rows, batch, n_batches, pos;
    int64_t *perm, *shard;   // [n] the epoch's permutation, [rows] this rank's rows
    unsigned char *xh, *yh;  // host copies of x, y
    size_t xrow, yrow;       // bytes per row (yrow 0: no labels)
    unsigned char *xs, *ys;  // staging for one batch
    tg_tensor *xb, *yb;      // full batches (NULL if none)
    tg_tensor *xl, *yl;      // the last partial batch (NULL if none)
};

static unsigned char *snapshot(const tg_tensor *t, size_t *row, const char *where) {
    size_t bytes = (size_t)tg_numel(t) * tg_dtype_size(tg_dtype_of(t));
    *row = bytes / (size_t)tg_shape(t)[0];
    unsigned char *h = malloc(bytes + 1);
    if (!h)
        tg_set_error(TG_ERR_OOM, where, "out of memory for a %zu-byte copy", bytes);
    else if (tg_copy_to_host(t, h, bytes)) {
        free(h);
        h = NULL;
    }
    return h;
}

static tg_tensor *like(const tg_tensor *t, int64_t rows) {
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, tg_shape(t), (size_t)tg_ndim(t) * sizeof *shape);
    shape[0] = rows;
    return tg_tensor_new(tg_backend_of(t), tg_dtype_of(t), tg_ndim(t), shape);
}

static int check_loader(const tg_dist *d, const tg_tensor *x, const tg_tensor *y, int64_t batch,
                        const char *where) {
    if (!d || !x) return tg_set_error(TG_ERR_INVALID_ARG, where, "%s is NULL", d ? "x" : "group");
    if (batch < 1)
        return tg_set_error(TG_ERR_INVALID_ARG, where, "batch size %lld must be >= 1",
                            (long long)batch);
    if (tg_ndim(x) < 1 || tg_shape(x)[0] < 1)
        return tg_set_error(TG_ERR_SHAPE, where, "x needs at least one row");
    if (y && (tg_ndim(y) < 1 || tg_shape(y)[0] != tg_shape(x)[0]))
        return tg_set_error(TG_ERR_SHAPE, where, "x has %lld rows but y has %lld",
                            (long long)tg_shape(x)[0],
                            tg_ndim(y) < 1 ? 0LL : (long long)tg_shape(y)[0]);
    return TG_OK;
}

tg_dist_loader *tg_dist_loader_new(const tg_dist *d, const tg_tensor *x, const tg_tensor *y,
                                   int64_t batch, bool drop_last, uint64_t seed) {
    const char *where = "tg_dist_loader_new";
    if (check_loader(d, x, y, batch, where)) return NULL;
    int64_t n = tg_shape(x)[0];
    if (check_shard(n, d->size, drop_last, where)) return NULL;
    tg_dist_loader *l = calloc(1, sizeof *l);
    if (!l) {
        tg_set_error(TG_ERR_OOM, where, "out of memory");
        return NULL;
    }
    *l = (tg_dist_loader){.rank = d->rank, .size = d->size, .seed = seed, .n = n, .batch = batch};
    l->rows = shard_size(n, d->size, drop_last);
    int64_t full = l->rows / batch, rest = drop_last ? 0 : l->rows % batch;
    l->n_batches = full + (rest ? 1 : 0);
    bool ok = (l->perm = malloc((size_t)n * sizeof *l->perm)) != NULL &&
              (l->shard = malloc((size_t)l->rows * sizeof *l->shard + 1)) != NULL;
    if (!ok) tg_set_error(TG_ERR_OOM, where, "out of memory");
    ok = ok && (l->xh = snapshot(x, &l->xrow, where)) != NULL;
    ok = ok && (!y || (l->yh = snapshot(y, &l->yrow, where)) != NULL);
    int64_t stage = full ? batch : rest;
    ok = ok && (l->xs = malloc((size_t)stage * l->xrow + 1)) != NULL &&
         (l->ys = malloc((size_t)stage * l->yrow + 1)) != NULL;
    if (!ok && !tg_last_status()) tg_set_error(TG_ERR_OOM, where, "out of memory");
    ok = ok && (!full || (l->xb = like(x, batch)) != NULL);
    ok = ok && (!full || !y || (l->yb = like(y, batch)) != NULL);
    ok = ok && (!rest || (l->xl = like(x, rest)) != NULL);
    ok = ok && (!rest || !y || (l->yl = like(y, rest)) != NULL);
    if (ok) ok = tg_dist_loader_set_epoch(l, 0) == TG_OK;
    if (!ok) {
        tg_dist_loader_free(l);
        return NULL;
    }
    return l;
}

int tg_dist_loader_set_epoch(tg_dist_loader *l, int64_t epoch) {
    if (!l) return tg_set_error(TG_ERR_INVALID_ARG, "tg_dist_loader_set_epoch", "loader is NULL");
    permutation(l->perm, l->n, l->seed, epoch);
    take(l->shard, l->perm, l->n, l->rank, l->size, l->rows);
    l->pos = 0;
    return TG_OK;
}

static int fill(tg_tensor *t, unsigned char *stage, const unsigned char *host, size_t row,
                const int64_t *rows, int64_t count) {
    for (int64_t i = 0; i < count; i++)
        memcpy(stage + (size_t)i * row, host + (size_t)rows[i] * row, row);
    return tg_copy_from_host(t, stage, (size_t)count * row);
}

bool tg_dist_loader_next(tg_dist_loader *l, tg_tensor **xb, tg_tensor **yb) {
    if (xb) *xb = NULL;
    if (yb) *yb = NULL;
    if (!l || !xb) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_dist_loader_next", "loader or xb is NULL");
        return false;
    }
    if (l->pos >= l->n_batches) return false;
    int64_t first = l->pos * l->batch;
    int64_t count = l->rows - first < l->batch ? l->rows - first : l->batch;
    tg_tensor *tx = count == l->batch ? l->xb : l->xl, *ty = count == l->batch ? l->yb : l->yl;
    if (fill(tx, l->xs, l->xh, l->xrow, l->shard + first, count) ||
        (l->yh && fill(ty, l->ys, l->yh, l->yrow, l->shard + first, count)))
        return false;
    l->pos++;
    *xb = tx;
    if (yb) *yb = l->yh ? ty : NULL;
    return true;
}

int64_t tg_dist_loader_n_batches(const tg_dist_loader *l) { return l ? l->n_batches : 0; }
int64_t tg_dist_loader_rows(const tg_dist_loader *l) { return l ? l->rows : 0; }

int tg_dist_loader_free(tg_dist_loader *l) {
    if (!l) return TG_OK;
    int st = tg_free_many(4, (tg_tensor *[]){l->xb, l->yb, l->xl, l->yl});
    if (st) return st;
    free(l->perm);
    free(l->shard);
    free(l->xh);
    free(l->yh);
    free(l->xs);
    free(l->ys);
    free(l);
    return TG_OK;
}

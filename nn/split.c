// Preparing data: a seeded train/test split (Fisher–Yates with tg_rng, sklearn's layout:
// the first round(f * rows) shuffled rows are the test set) and per-column
// standardisation (population std, computed in double with two passes).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/data_impl.h"

// ---- split ----

// Rows of t as host bytes (tg_mem_alloc'd); *row_bytes gets the size of one row.
static unsigned char *host_copy(const tg_tensor *t, size_t *row_bytes, const char *where) {
    int64_t rows = tg_shape(t)[0];
    size_t bytes = (size_t)tg_numel(t) * tg_dtype_size(tg_dtype_of(t));
    *row_bytes = rows ? bytes / (size_t)rows : 0;
    unsigned char *h = tg_mem_alloc(bytes + 1);
    if (!h) {
        tg_set_error(TG_ERR_OOM, where, "out of memory");
        return NULL;
    }
    if (tg_copy_to_host(t, h, bytes)) {
        tg_mem_free(h);
        return NULL;
    }
    return h;
}

// New tensor like t (same dtype, backend, trailing dims) holding rows idx[0..n) of host.
static tg_tensor *gather(const tg_tensor *t, const unsigned char *host, size_t row_bytes,
                         const int64_t *idx, int64_t n, const char *where) {
    unsigned char *buf = tg_mem_alloc((size_t)n * row_bytes + 1);
    if (!buf) {
        tg_set_error(TG_ERR_OOM, where, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++)
        memcpy(buf + (size_t)i * row_bytes, host + (size_t)idx[i] * row_bytes, row_bytes);
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, tg_shape(t), (size_t)tg_ndim(t) * sizeof *shape);
    shape[0] = n;
    tg_tensor *out = tg_tensor_from(tg_backend_of(t), tg_dtype_of(t), tg_ndim(t), shape, buf);
    tg_mem_free(buf);
    return out;
}

// Splits t's rows: test = perm[0, n_test), train = perm[n_test, rows).
static int split_one(const tg_tensor *t, const int64_t *perm, int64_t n_test, tg_tensor **train,
                     tg_tensor **test, const char *where) {
    size_t rb;
    unsigned char *h = host_copy(t, &rb, where);
    if (!h) return tg_last_status() ? (int)tg_last_status() : TG_ERR_OOM;
    int64_t rows = tg_shape(t)[0];
    *test = gather(t, h, rb, perm, n_test, where);
    *train = *test ? gather(t, h, rb, perm + n_test, rows - n_test, where) : NULL;
    tg_mem_free(h);
    if (*train) return TG_OK;
    tg_free(*test);
    *test = NULL;
    return tg_last_status() ? (int)tg_last_status() : TG_ERR_OOM;
}

static const char *const FN = "tg_train_test_split";

static int split(const tg_tensor *x, const tg_tensor *y, double test_fraction, uint64_t seed,
                 tg_tensor **x_train, tg_tensor **x_test, tg_tensor **y_train,
                 tg_tensor **y_test) {
    if (x_train) *x_train = NULL;
    if (x_test) *x_test = NULL;
    if (y_train) *y_train = NULL;
    if (y_test) *y_test = NULL;
    if (!x || !x_train || !x_test)
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "x, x_train or x_test is NULL");
    if (y && (!y_train || !y_test))
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "y is given but y_train or y_test is NULL");
    if (tg_ndim(x) < 1) return tg_set_error(TG_ERR_SHAPE, FN, "x is a scalar; need rows");
    int64_t rows = tg_shape(x)[0];
    if (y && (tg_ndim(y) < 1 || tg_shape(y)[0] != rows))
        return tg_set_error(TG_ERR_SHAPE, FN, "x has %lld rows but y has %lld", (long long)rows,
                            tg_ndim(y) < 1 ? 0LL : (long long)tg_shape(y)[0]);
    if (!(test_fraction > 0.0 && test_fraction < 1.0))
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "test_fraction %g is not in (0, 1)",
                            test_fraction);
    int64_t n_test = (int64_t)llround(test_fraction * (double)rows);
    if (n_test < 1 || n_test >= rows)
        return tg_set_error(TG_ERR_INVALID_ARG, FN,
                            "test_fraction %g of %lld rows leaves an empty train or test set",
                            test_fraction, (long long)rows);
    int64_t *perm = tg_mem_alloc((size_t)rows * sizeof *perm);
    tg_rng *rng = perm ? tg_rng_new(seed) : NULL;
    if (!rng) {
        tg_mem_free(perm);
        return tg_set_error(TG_ERR_OOM, FN, "out of memory for %lld rows", (long long)rows);
    }
    for (int64_t i = 0; i < rows; i++) perm[i] = i;
    for (int64_t i = rows - 1; i > 0; i--) {  // Fisher–Yates
        int64_t j = (int64_t)(tg_rng_uniform(rng) * (double)(i + 1));
        if (j > i) j = i;
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    tg_rng_free(rng);
    int st = split_one(x, perm, n_test, x_train, x_test, FN);
    if (!st && y) st = split_one(y, perm, n_test, y_train, y_test, FN);
    tg_mem_free(perm);
    if (st) {
        tg_free(*x_train);
        tg_free(*x_test);
        *x_train = *x_test = NULL;
    }
    return st;
}

int tg_train_test_split(const tg_tensor *x, const tg_tensor *y, double test_fraction, uint64_t seed,
                        tg_tensor **x_train, tg_tensor **x_test, tg_tensor **y_train,
                        tg_tensor **y_test) {
    unsigned mark = tg_error_mark();   // errors of the calls inside (a stale x) name us
    int st = split(x, y, test_fraction, seed, x_train, x_test, y_train, y_test);
    return st ? tg_error_context(mark, FN) : TG_OK;
}

// ---- standardisation ----

// x as doubles [rows, cols] (tg_mem_alloc'd); 1-D x counts as one column.
static double *copy_f64(const tg_tensor *x, int64_t *rows, int64_t *cols, const char *where) {
    if (!x) {
        tg_set_error(TG_ERR_INVALID_ARG, where, "x is NULL");
        return NULL;
    }
    int nd = tg_ndim(x);
    if (nd != 1 && nd != 2) {
        tg_set_error(TG_ERR_SHAPE, where, "x must be [rows, cols] (or [rows]), got %d dims", nd);
        return NULL;
    }
    *rows = tg_shape(x)[0];
    *cols = nd == 2 ? tg_shape(x)[1] : 1;
    size_t n = (size_t)tg_numel(x);
    double *d = tg_mem_alloc(n * sizeof *d + 1);
    if (!d) {
        tg_set_error(TG_ERR_OOM, where, "out of memory");
        return NULL;
    }
    int st;
    if (tg_dtype_of(x) == TG_F64) {
        st = tg_copy_to_host(x, d, n * sizeof *d);
    } else {
        float *f = tg_mem_alloc(n * sizeof *f + 1);
        st = f ? tg_copy_to_host(x, f, n * sizeof *f)
               : tg_set_error(TG_ERR_OOM, where, "out of memory");
        for (size_t i = 0; !st && i < n; i++) d[i] = (double)f[i];
        tg_mem_free(f);
    }
    if (st) {
        tg_mem_free(d);
        return NULL;
    }
    return d;
}

// copy_f64; NULL and the error (named where, also a query's on a stale x) on failure.
static double *host_f64(const tg_tensor *x, int64_t *rows, int64_t *cols, const char *where) {
    unsigned mark = tg_error_mark();
    double *d = copy_f64(x, rows, cols, where);
    if (!d) tg_error_context(mark, where);
    return d;
}

int tg_standardize_fit(const tg_tensor *x, double *mean, double *std) {
    const char *FN = "tg_standardize_fit";
    if (!mean || !std) return tg_set_error(TG_ERR_INVALID_ARG, FN, "mean or std is NULL");
    int64_t rows, cols;
    double *d = host_f64(x, &rows, &cols, FN);
    if (!d) return tg_last_status() ? (int)tg_last_status() : TG_ERR_INVALID_ARG;
    if (rows < 1) {
        tg_mem_free(d);
        return tg_set_error(TG_ERR_SHAPE, FN, "x has no rows");
    }
    for (int64_t j = 0; j < cols; j++) {
        double s = 0, ss = 0;
        for (int64_t i = 0; i < rows; i++) s += d[i * cols + j];
        double m = s / (double)rows;
        for (int64_t i = 0; i < rows; i++) {
            double e = d[i * cols + j] - m;
            ss += e * e;
        }
        double sd = sqrt(ss / (double)rows);
        mean[j] = m;
        std[j] = sd > 0 ? sd : 1.0;
    }
    tg_mem_free(d);
    return TG_OK;
}

int tg_standardize_apply(tg_tensor *x, const double *mean, const double *std) {
    const char *FN = "tg_standardize_apply";
    if (!mean || !std) return tg_set_error(TG_ERR_INVALID_ARG, FN, "mean or std is NULL");
    int64_t rows, cols;
    double *d = host_f64(x, &rows, &cols, FN);
    if (!d) return tg_last_status() ? (int)tg_last_status() : TG_ERR_INVALID_ARG;
    for (int64_t j = 0; j < cols; j++) {
        if (!(std[j] != 0) || !isfinite(std[j]) || !isfinite(mean[j])) {
            tg_mem_free(d);
            return tg_set_error(TG_ERR_INVALID_ARG, FN,
                                "column %lld: mean %g, std %g (std must "
                                "be finite and non-zero)",
                                (long long)j, mean[j], std[j]);
        }
    }
    size_t n = (size_t)(rows * cols);
    for (size_t i = 0; i < n; i++) d[i] = (d[i] - mean[i % (size_t)cols]) / std[i % (size_t)cols];
    int st;
    if (tg_dtype_of(x) == TG_F64) {
        st = tg_copy_from_host(x, d, n * sizeof *d);
    } else {
        float *f = tg_mem_alloc(n * sizeof *f + 1);
        for (size_t i = 0; f && i < n; i++) f[i] = (float)d[i];
        st = f ? tg_copy_from_host(x, f, n * sizeof *f)
               : tg_set_error(TG_ERR_OOM, FN, "out of memory");
        tg_mem_free(f);
    }
    tg_mem_free(d);
    return st;
}

// Classification metrics on any backend (values are copied to the host): accuracy and the
// confusion matrix. Predictions: argmax over C >= 2 columns of logits [N, C] (first maximum
// wins, as numpy), or score > 0.5 for [N] / [N, 1] scores. Labels: [N] or [N, 1] class
// numbers, or one-hot [N, C] like the logits.
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/data_impl.h"

// t's values as doubles (tg_mem_alloc'd).
static double *to_f64(const tg_tensor *t, const char *where) {
    size_t n = (size_t)tg_numel(t);
    double *d = tg_mem_alloc(n * sizeof *d + 1);
    float *f = tg_dtype_of(t) == TG_F32 ? tg_mem_alloc(n * sizeof *f + 1) : NULL;
    if (!d || (tg_dtype_of(t) == TG_F32 && !f)) {
        tg_mem_free(d);
        tg_mem_free(f);
        tg_set_error(TG_ERR_OOM, where, "out of memory");
        return NULL;
    }
    int st = f ? tg_copy_to_host(t, f, n * sizeof *f) : tg_copy_to_host(t, d, n * sizeof *d);
    for (size_t i = 0; f && !st && i < n; i++) d[i] = f[i];
    tg_mem_free(f);
    if (st) {
        tg_mem_free(d);
        return NULL;
    }
    return d;
}

static int64_t argmax_row(const double *v, int64_t c) {
    int64_t best = 0;
    for (int64_t j = 1; j < c; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

typedef struct {
    char s[128];
} shape_buf;

// "[2, 0]" for error messages.
static shape_buf shape_str(int nd, const int64_t *s) {
    shape_buf b = {"["};
    size_t n = 1;
    for (int i = 0; i < nd && n < sizeof b.s; i++)
        n += (size_t)snprintf(b.s + n, sizeof b.s - n, i ? ", %lld" : "%lld", (long long)s[i]);
    if (n < sizeof b.s) snprintf(b.s + n, sizeof b.s - n, "]");
    return b;
}

// Rows as (predicted class, true label value) pairs: pred[n], truth[n] (tg_mem_alloc'd).
static int collect(const tg_tensor *logits, const tg_tensor *labels, const char *where,
                       int64_t *n_out, int64_t *c_out, int64_t **pred, double **truth) {
    *pred = NULL;
    *truth = NULL;
    if (!logits || !labels) {
        // a NULL from a failed forward pass keeps its own (first) error
        return tg_set_error(TG_ERR_INVALID_ARG, where, "logits or labels is NULL");
    }
    int nd = tg_ndim(logits);   // -1 and its error for a stale tensor
    const int64_t *s = tg_shape(logits);
    if (nd < 1 || nd > 2 || s[0] < 1 || (nd == 2 && s[1] < 1))
        return tg_set_error(TG_ERR_SHAPE, where,
                            "logits must be [N, C] or [N] with N >= 1 and C >= 1, got %s",
                            shape_str(nd, s).s);
    int64_t n = s[0], c = nd == 2 ? s[1] : 1;
    int ld = tg_ndim(labels);
    const int64_t *ls = tg_shape(labels);
    bool one_hot = c >= 2 && ld == 2 && ls[0] == n && ls[1] == c;
    bool plain = (ld == 1 && ls[0] == n) || (ld == 2 && ls[0] == n && ls[1] == 1);
    if (!one_hot && !plain)
        return tg_set_error(TG_ERR_SHAPE, where,
                            "labels must be [%lld] (or [%lld, 1], or one-hot [%lld, %lld]) for "
                            "logits with %lld rows",
                            (long long)n, (long long)n, (long long)n, (long long)c, (long long)n);
    tg_dtype dl = tg_dtype_of(logits), dy = tg_dtype_of(labels);
    if (dl != dy)   // as the losses: one dtype (labels are class numbers in logits' dtype)
        return tg_set_error(TG_ERR_DTYPE, where, "labels are %s but logits %s", tg_dtype_name(dy),
                            tg_dtype_name(dl));
    double *lv = to_f64(logits, where), *yv = lv ? to_f64(labels, where) : NULL;
    int64_t *p = yv ? tg_mem_alloc((size_t)n * sizeof *p) : NULL;
    double *t = p ? tg_mem_alloc((size_t)n * sizeof *t) : NULL;
    if (!t) {
        tg_mem_free(lv);
        tg_mem_free(yv);
        tg_mem_free(p);
        return tg_last_status() ? (int)tg_last_status()
                                : tg_set_error(TG_ERR_OOM, where, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        p[i] = c >= 2 ? argmax_row(lv + i * c, c) : (lv[i] > 0.5 ? 1 : 0);
        t[i] = one_hot ? (double)argmax_row(yv + i * c, c) : yv[i];
    }
    tg_mem_free(lv);
    tg_mem_free(yv);
    *n_out = n;
    *c_out = c;
    *pred = p;
    *truth = t;
    return TG_OK;
}

// collect(), its errors (also those of the queries it calls) named `where`.
static int predictions(const tg_tensor *logits, const tg_tensor *labels, const char *where,
                       int64_t *n_out, int64_t *c_out, int64_t **pred, double **truth) {
    unsigned mark = tg_error_mark();
    int st = collect(logits, labels, where, n_out, c_out, pred, truth);
    return st ? tg_error_context(mark, where) : TG_OK;
}

double tg_accuracy(const tg_tensor *logits, const tg_tensor *labels) {
    int64_t n, c, *pred;
    double *truth;
    if (predictions(logits, labels, "tg_accuracy", &n, &c, &pred, &truth)) return NAN;
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) ok += (double)pred[i] == truth[i];
    tg_mem_free(pred);
    tg_mem_free(truth);
    return (double)ok / (double)n;
}

int tg_confusion_matrix(const tg_tensor *logits, const tg_tensor *labels, int n_classes,
                        int64_t *counts) {
    const char *FN = "tg_confusion_matrix";
    if (!counts) return tg_set_error(TG_ERR_INVALID_ARG, FN, "counts is NULL");
    if (n_classes < 2) return tg_set_error(TG_ERR_INVALID_ARG, FN, "n_classes %d < 2", n_classes);
    if ((uint64_t)n_classes * (uint64_t)n_classes > SIZE_MAX / sizeof *counts)
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "n_classes %d: the matrix does not fit",
                            n_classes);
    int64_t n, c, *pred;
    double *truth;
    int st = predictions(logits, labels, FN, &n, &c, &pred, &truth);
    if (st) return st;
    if (c > n_classes) {
        st = tg_set_error(TG_ERR_SHAPE, FN, "logits have %lld classes but n_classes is %d",
                          (long long)c, n_classes);
    }
    for (int64_t i = 0; !st && i < n; i++) {
        double y = truth[i];
        if (!(y >= 0 && y < n_classes && y == floor(y)))
            st = tg_set_error(TG_ERR_INVALID_ARG, FN, "row %lld: label %g is not a class in 0..%d",
                              (long long)i, y, n_classes - 1);
    }
    if (!st) {
        memset(counts, 0, (size_t)n_classes * (size_t)n_classes * sizeof *counts);
        for (int64_t i = 0; i < n; i++) counts[(int64_t)truth[i] * n_classes + pred[i]]++;
    }
    tg_mem_free(pred);
    tg_mem_free(truth);
    return st;
}

static int digits(int64_t v) {
    int d = 1;
    for (; v >= 10; v /= 10) d++;
    return d;
}

int tg_print_confusion(const int64_t *counts, int n_classes, FILE *f) {
    const char *FN = "tg_print_confusion";
    if (!counts) return tg_set_error(TG_ERR_INVALID_ARG, FN, "counts is NULL");
    if (n_classes < 1) return tg_set_error(TG_ERR_INVALID_ARG, FN, "n_classes %d < 1", n_classes);
    if (!f) f = stdout;
    int64_t most = n_classes - 1;
    for (int64_t i = 0; i < (int64_t)n_classes * n_classes; i++)
        if (counts[i] > most) most = counts[i];
    int w = digits(most) + 2, lw = 10;  // "true\pred" column, then one per class
    bool ok = fprintf(f, "%*s", lw, "true\\pred") >= 0;
    for (int j = 0; ok && j < n_classes; j++) ok = fprintf(f, "%*d", w, j) >= 0;
    ok = ok && fputc('\n', f) != EOF;
    for (int i = 0; ok && i < n_classes; i++) {
        ok = fprintf(f, "%*d", lw, i) >= 0;
        for (int j = 0; ok && j < n_classes; j++)
            ok = fprintf(f, "%*lld", w, (long long)counts[(int64_t)i * n_classes + j]) >= 0;
        ok = ok && fputc('\n', f) != EOF;
    }
    if (!ok || fflush(f) != 0)
        return tg_set_error(TG_ERR_IO, FN, "%d classes: write error: %s", n_classes,
                            strerror(errno ? errno : EIO));
    return TG_OK;
}

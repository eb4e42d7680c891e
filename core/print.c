// tg_print: a NumPy/PyTorch-style repr. Values are formatted with one shared width;
// tensors over 1000 elements show the first and last 3 entries of each axis with "...".
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

#define EDGE 3
#define ELIDE_OVER 1000

typedef struct {
    FILE *f;
    const double *v;
    const tg_tensor *t;
    bool elide;
    int width;
    char fmt[16];
    int write_errno;   // first failed write (0: none)
} printer;

// Writes to p->f, remembering the first failure (a full disk, a closed pipe).
static void put(printer *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(p->f, fmt, ap);
    va_end(ap);
    if (n < 0 && !p->write_errno) p->write_errno = errno ? errno : EIO;
}

static void put_value(printer *p, double x) {
    char buf[64];
    if (isnan(x)) snprintf(buf, sizeof buf, "nan");
    else if (isinf(x)) snprintf(buf, sizeof buf, x > 0 ? "inf" : "-inf");
    else snprintf(buf, sizeof buf, p->fmt, x);
    put(p, "%*s", p->width, buf);
}

static void put_dim(printer *p, int d, int64_t offset, int indent) {
    const tg_tensor *t = p->t;
    int64_t n = t->shape[d], stride = 1;
    for (int i = d + 1; i < t->ndim; i++) stride *= t->shape[i];
    put(p, "[");
    for (int64_t i = 0; i < n; i++) {
        if (p->elide && n > 2 * EDGE && i == EDGE) {
            if (d == t->ndim - 1) put(p, "..., ");
            else put(p, "...,\n%*s", indent + 1, "");
            i = n - EDGE - 1;
            continue;
        }
        if (d == t->ndim - 1) put_value(p, p->v[offset + i]);
        else put_dim(p, d + 1, offset + i * stride, indent + 1);
        if (i + 1 < n) {
            if (d == t->ndim - 1) put(p, ", ");
            else {
                put(p, ",");
                for (int k = d; k < t->ndim - 1; k++) put(p, "\n");
                put(p, "%*s", indent + 1, "");
            }
        }
    }
    put(p, "]");
}

int tg_print(const tg_tensor *t, FILE *f) {
    if (!f) f = stdout;
    int live = tg__check_live(t, "tg_print");   // NULL, freed or stale: before the header
    if (live) return live;
    double *v = tg__malloc((size_t)(t->numel ? t->numel : 1) * sizeof *v);
    if (!v) {
        tg__fail(TG_ERR_OOM, "tg_print", "out of memory");
        return TG_ERR_OOM;
    }
    int st = TG_OK;
    if (t->dtype == TG_F64) {
        st = tg_copy_to_host(t, v, t->nbytes);
    } else {
        float *tmp = tg__malloc(t->nbytes ? t->nbytes : 1);
        st = tmp ? tg_copy_to_host(t, tmp, t->nbytes) : TG_ERR_OOM;
        for (int64_t i = 0; !st && i < t->numel; i++) v[i] = tmp[i];
        tg__free(tmp);
    }
    if (st) {
        tg__free(v);
        return st;
    }
    printer p = {.f = f, .v = v, .t = t, .elide = t->numel > ELIDE_OVER};
    double maxabs = 0, minabs = INFINITY;
    bool ints = true;
    for (int64_t i = 0; i < t->numel; i++) {
        double a = fabs(v[i]);
        if (!isfinite(a)) continue;
        if (a > maxabs) maxabs = a;
        if (a > 0 && a < minabs) minabs = a;
        if (a != floor(a)) ints = false;
    }
    if (ints && maxabs < 1e8) strcpy(p.fmt, "%.0f.");
    else if (maxabs < 1e5 && (minabs >= 1e-4 || minabs == INFINITY)) strcpy(p.fmt, "%.4f");
    else strcpy(p.fmt, "%.4e");
    char buf[64];
    for (int64_t i = 0; i < t->numel; i++) {
        int w = isfinite(v[i]) ? snprintf(buf, sizeof buf, p.fmt, v[i]) : 4;
        if (w > p.width) p.width = w;
    }
    put(&p, "tensor(");
    if (t->ndim == 0) put_value(&p, v[0]);
    else put_dim(&p, 0, 0, 7);
    char s[160];
    put(&p, ", shape=%s, dtype=%s%s)\n", tg__shape_str(s, sizeof s, t->ndim, t->shape),
        tg_dtype_name(t->dtype), t->requires_grad ? ", requires_grad" : "");
    tg__free(v);
    if (fflush(f) != 0 && !p.write_errno) p.write_errno = errno ? errno : EIO;
    if (p.write_errno) {
        tg__fail(TG_ERR_IO, "tg_print", "%s %s: write error: %s", s, tg_dtype_name(t->dtype),
                 strerror(p.write_errno));
        return TG_ERR_IO;
    }
    return TG_OK;
}

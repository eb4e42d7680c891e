// cpu layer normalisation by rows (the layer_norm and layer_norm_grad slots): each row is
// read from memory once (the statistics pass and the output pass run while it sits in
// cache). f32 rows accumulate their sums in double, in OpenMP simd reductions (vector lanes
// of partial sums) so that the loops vectorise without reassociation flags; rows are split
// across threads when the call is large.
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/cpu_internal.h"

enum { PAR_MIN = 1 << 15 };

// sum of x[k] - shift and of (x[k] - shift)^2 over one row, in double: an OpenMP simd
// reduction (vector lanes of partial sums, a fixed order per build), which GCC turns into
// full-width double FMAs; written as nested lanes it emitted scalar adds (perf: 74 % of a
// layer_norm backward in this loop).
static void moments_f32(const float *x, int64_t c, double shift, double *s1, double *s2) {
    double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (int64_t k = 0; k < c; k++) {
        double d = (double)x[k] - shift;
        a += d;
        b += d * d;
    }
    *s1 = a;
    *s2 = b;
}

// mean and rstd of one f32 row in one pass: the sums are taken about the row's first element
// (a shift within the data's spread, so the variance does not cancel away) and in double,
// whose 29 extra bits hold s2 - s1^2/c exactly enough for an f32 result.
static void stats_f32(const float *x, int64_t c, double eps, float *mean, float *rstd) {
    double shift = x[0], s1, s2;
    moments_f32(x, c, shift, &s1, &s2);
    double var = (s2 - s1 * s1 / (double)c) / (double)c;
    *mean = (float)(shift + s1 / (double)c);
    *rstd = (float)(1.0 / sqrt((var > 0 ? var : 0) + eps));
}

static void stats_f64(const double *x, int64_t c, double eps, double *mean, double *rstd) {
    double s = 0;
    for (int64_t k = 0; k < c; k++) s += x[k];
    double m = s / (double)c, v = 0;
    for (int64_t k = 0; k < c; k++) v += (x[k] - m) * (x[k] - m);
    *mean = m;
    *rstd = 1.0 / sqrt(v / (double)c + eps);
}

typedef struct ln_job {
    int dtype;
    int64_t c;
    const void *x, *w, *b, *dy;
    void *y;
    double eps;
} ln_job;

// ---- forward: y = (x - mean) * rstd * w + b ----

static void ln_rows(int64_t lo, int64_t hi, void *arg) {
    const ln_job *j = arg;
    int64_t c = j->c;
    for (int64_t r = lo; r < hi; r++) {
        if (j->dtype == TG_F64) {
            const double *x = (const double *)j->x + r * c, *w = j->w, *b = j->b;
            double *y = (double *)j->y + r * c, m, rs;
            stats_f64(x, c, j->eps, &m, &rs);
            for (int64_t k = 0; k < c; k++) {
                double v = (x[k] - m) * rs;
                if (w) v *= w[k];
                y[k] = b ? v + b[k] : v;
            }
        } else {
            const float *x = (const float *)j->x + r * c, *w = j->w, *b = j->b;
            float *y = (float *)j->y + r * c, m, rs;
            stats_f32(x, c, j->eps, &m, &rs);
            if (w && b)
                for (int64_t k = 0; k < c; k++) y[k] = (x[k] - m) * rs * w[k] + b[k];
            else
                for (int64_t k = 0; k < c; k++) {
                    float v = (x[k] - m) * rs;
                    if (w) v *= w[k];
                    y[k] = b ? v + b[k] : v;
                }
        }
    }
}

// ---- backward: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w ----

static void ln_grad_row_f64(const double *x, const double *w, const double *dy, double *dx,
                            int64_t c, double eps) {
    double m, rs, sg = 0, sgx = 0;
    stats_f64(x, c, eps, &m, &rs);
    for (int64_t k = 0; k < c; k++) {
        double g = w ? dy[k] * w[k] : dy[k];
        sg += g;
        sgx += g * (x[k] - m) * rs;
    }
    double a = sg / (double)c, cc = sgx / (double)c;
    for (int64_t k = 0; k < c; k++) {
        double g = w ? dy[k] * w[k] : dy[k];
        dx[k] = rs * (g - a - (x[k] - m) * rs * cc);
    }
}

static void ln_grad_row_f32(const float *x, const float *w, const float *dy, float *dx,
                            int64_t c, double eps) {
    float m, rs;
    stats_f32(x, c, eps, &m, &rs);
    double tg = 0, tgx = 0;
    if (w) {
#pragma omp simd reduction(+ : tg, tgx)
        for (int64_t k = 0; k < c; k++) {
            float g = dy[k] * w[k];
            tg += (double)g;
            tgx += (double)g * (double)((x[k] - m) * rs);
        }
    } else {
#pragma omp simd reduction(+ : tg, tgx)
        for (int64_t k = 0; k < c; k++) {
            tg += (double)dy[k];
            tgx += (double)dy[k] * (double)((x[k] - m) * rs);
        }
    }
    float a = (float)(tg / (double)c), cc = (float)(tgx / (double)c);
    if (w)
        for (int64_t k = 0; k < c; k++) dx[k] = rs * (dy[k] * w[k] - a - (x[k] - m) * rs * cc);
    else
        for (int64_t k = 0; k < c; k++) dx[k] = rs * (dy[k] - a - (x[k] - m) * rs * cc);
}

static void ln_grad_rows(int64_t lo, int64_t hi, void *arg) {
    const ln_job *j = arg;
    int64_t c = j->c;
    for (int64_t r = lo; r < hi; r++) {
        if (j->dtype == TG_F64)
            ln_grad_row_f64((const double *)j->x + r * c, j->w, (const double *)j->dy + r * c,
                            (double *)j->y + r * c, c, j->eps);
        else
            ln_grad_row_f32((const float *)j->x + r * c, j->w, (const float *)j->dy + r * c,
                            (float *)j->y + r * c, c, j->eps);
    }
}

// Rows in contiguous pieces, one per thread, when the call is large enough to pay for it.
static void run_rows(void *ctx, int64_t n, int64_t c, tg_cpu_range_fn fn, ln_job *j) {
    int nt = tg_cpu_threads(ctx);
#ifdef _OPENMP
    if (nt > 1 && n > 1 && n * c >= PAR_MIN) {
#pragma omp parallel num_threads(nt)
        {
            int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
            int64_t lo = n * t / k, hi = n * (t + 1) / k;
            if (hi > lo) fn(lo, hi, j);
        }
        return;
    }
#else
    (void)nt, (void)c;
#endif
    fn(0, n, j);
}

static int tg_cpu_layer_norm(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                             const void *w, const void *b, void *y, double eps) {
    if (c <= 0) return TG_OK;
    ln_job j = {.dtype = dtype, .c = c, .x = x, .w = w, .b = b, .y = y, .eps = eps};
    run_rows(ctx, n, c, ln_rows, &j);
    return TG_OK;
}

// out [2, c]: the column sums of dy * xhat and of dy, row by row (one pass per row after its
// statistics; serial, so the sums are deterministic).
static int tg_cpu_layer_norm_wgrad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                            const void *dy, void *out, double eps) {
    (void)ctx;
    if (dtype == TG_F64) {
        double *dw = out, *db = dw + c;
        for (int64_t k = 0; k < 2 * c; k++) dw[k] = 0;
        for (int64_t r = 0; r < n; r++) {
            const double *xr = (const double *)x + r * c, *g = (const double *)dy + r * c;
            double m, rs;
            stats_f64(xr, c, eps, &m, &rs);
            for (int64_t k = 0; k < c; k++) {
                dw[k] += g[k] * (xr[k] - m) * rs;
                db[k] += g[k];
            }
        }
        return TG_OK;
    }
    float *dw = out, *db = dw + c;
    for (int64_t k = 0; k < 2 * c; k++) dw[k] = 0;
    for (int64_t r = 0; r < n; r++) {
        const float *xr = (const float *)x + r * c, *g = (const float *)dy + r * c;
        float m, rs;
        stats_f32(xr, c, eps, &m, &rs);
        for (int64_t k = 0; k < c; k++) {
            dw[k] += g[k] * ((xr[k] - m) * rs);
            db[k] += g[k];
        }
    }
    return TG_OK;
}

static int tg_cpu_layer_norm_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                           const void *w, const void *dy, void *dx, double eps) {
    if (c <= 0) return TG_OK;
    ln_job j = {.dtype = dtype, .c = c, .x = x, .w = w, .dy = dy, .y = dx, .eps = eps};
    run_rows(ctx, n, c, ln_grad_rows, &j);
    return TG_OK;
}

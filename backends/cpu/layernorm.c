// cpu layer normalisation by rows (the layer_norm and layer_norm_grad slots): each row is
// read from memory once (the statistics pass and the output pass run while it sits in
// cache). f32 rows take their sums in one pass about the row's first value (sums.c: float
// vectors folded into double), dx's four sums in the same pass; f64 rows in two exact
// passes. Rows are split across threads when the call is large.
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/cpu_internal.h"

enum { PAR_MIN = 1 << 15 };

// A row's mean and rstd in double from its sums about shift (inv_c = 1/c): the sums are taken
// in double about a value within the data's spread, so s2/c - (s1/c)^2 keeps enough digits
// for an f32 result. *m1 = mean - shift.
static void row_stats(const tg_cpu_sums *s, double shift, double inv_c, double eps,
                      double *mean, double *rstd, double *m1) {
    *m1 = s->s1 * inv_c;
    double var = s->s2 * inv_c - *m1 * *m1;
    *mean = shift + *m1;
    *rstd = 1.0 / sqrt((var < 0 ? 0 : var) + eps);   // a NaN (an inf in the row) stays one
}

// The coefficients of f32 rows [0, n) of x (n <= LN_GROUP, row length c): mean and rstd,
// and with dy those of dx = rstd * (g - a - xhat * cc), g = dy * w: a = mean(g) and
// cc = mean(g * xhat) = rstd * (sum(g*(x - shift)) - (mean - shift) * sum(g)) / c. All the
// group's sums come first, then their square roots and divisions, so that one row's
// latency overlaps the next row's rather than follow it (layer_norm-2048x128 against groups
// of one: forward 63 -> 47 us, backward ~155 -> 144 us; Zen 5, 1 thread).
enum { LN_GROUP = 8 };

typedef struct ln_coef {
    float mean, rstd, a, cc;
} ln_coef;

static void coefs_f32(const float *x, const float *dy, const float *w, int64_t c, int64_t n,
                      double eps, ln_coef *out) {
    tg_cpu_sums s[LN_GROUP];
    for (int64_t i = 0; i < n; i++) {
        s[i] = (tg_cpu_sums){0, 0, 0, 0};
        tg_cpu_sums_f32(x + i * c, dy ? dy + i * c : NULL, w, c, x[i * c], &s[i]);
    }
    double inv_c = 1.0 / (double)c;
    for (int64_t i = 0; i < n; i++) {
        double m, rs, m1;
        row_stats(&s[i], x[i * c], inv_c, eps, &m, &rs, &m1);
        out[i] = (ln_coef){(float)m, (float)rs, (float)(s[i].sg * inv_c),
                           (float)(rs * (s[i].sgd - m1 * s[i].sg) * inv_c)};
    }
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

static void ln_rows_f64(const ln_job *j, int64_t lo, int64_t hi) {
    int64_t c = j->c;
    const double *w = j->w, *b = j->b;
    for (int64_t r = lo; r < hi; r++) {
        const double *x = (const double *)j->x + r * c;
        double *y = (double *)j->y + r * c, m, rs;
        stats_f64(x, c, j->eps, &m, &rs);
        for (int64_t k = 0; k < c; k++) {
            double v = (x[k] - m) * rs;
            if (w) v *= w[k];
            y[k] = b ? v + b[k] : v;
        }
    }
}

static void ln_rows_f32(const ln_job *j, int64_t lo, int64_t hi) {
    int64_t c = j->c;
    const float *w = j->w, *b = j->b;
    for (int64_t r0 = lo; r0 < hi; r0 += LN_GROUP) {
        int64_t n = hi - r0 < LN_GROUP ? hi - r0 : LN_GROUP;
        ln_coef co[LN_GROUP];
        coefs_f32((const float *)j->x + r0 * c, NULL, NULL, c, n, j->eps, co);
        for (int64_t i = 0; i < n; i++) {
            const float *x = (const float *)j->x + (r0 + i) * c;
            float *y = (float *)j->y + (r0 + i) * c, m = co[i].mean, rs = co[i].rstd;
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

static void ln_rows(int64_t lo, int64_t hi, void *arg) {
    const ln_job *j = arg;
    if (j->dtype == TG_F64)
        ln_rows_f64(j, lo, hi);
    else
        ln_rows_f32(j, lo, hi);
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

// dw += sum over the group's rows of dy * xhat, db += sum of dy: a vector of columns at a
// time with the rows inside, so dw and db are loaded and stored once per group rather than
// once per row (the sums keep their row order, so the result is the row-by-row one).
static void wgrad_group_f32(const float *x, const float *dy, int64_t c, int64_t m,
                            const ln_coef *co, float *dw, float *db) {
    int64_t k = 0;
    for (; k + SUMS_L <= c; k += SUMS_L) {
        sums_vf sw = sums_ld(dw + k), sb = sums_ld(db + k);
        for (int64_t i = 0; i < m; i++) {
            sums_vf g = sums_ld(dy + i * c + k);
            sw += g * ((sums_ld(x + i * c + k) - co[i].mean) * co[i].rstd);
            sb += g;
        }
        memcpy(dw + k, &sw, sizeof sw);
        memcpy(db + k, &sb, sizeof sb);
    }
    for (; k < c; k++)
        for (int64_t i = 0; i < m; i++) {
            float g = dy[i * c + k];
            dw[k] += g * ((x[i * c + k] - co[i].mean) * co[i].rstd);
            db[k] += g;
        }
}

// dx of f32 rows [lo, hi); with wg, also dw and db of those rows added into wg [2, c] (the
// group's coefficients serve both).
static void ln_grad_rows_f32(const ln_job *j, int64_t lo, int64_t hi, float *wg) {
    int64_t c = j->c;
    const float *w = j->w;
    for (int64_t r0 = lo; r0 < hi; r0 += LN_GROUP) {
        int64_t n = hi - r0 < LN_GROUP ? hi - r0 : LN_GROUP;
        const float *xg = (const float *)j->x + r0 * c, *dyg = (const float *)j->dy + r0 * c;
        ln_coef co[LN_GROUP];
        coefs_f32(xg, dyg, w, c, n, j->eps, co);
        for (int64_t i = 0; i < n; i++) {
            const float *x = xg + i * c, *dy = dyg + i * c;
            float *dx = (float *)j->y + (r0 + i) * c;
            float m = co[i].mean, rs = co[i].rstd, a = co[i].a, cc = co[i].cc;
            if (w)
                for (int64_t k = 0; k < c; k++)
                    dx[k] = rs * (dy[k] * w[k] - a - (x[k] - m) * rs * cc);
            else
                for (int64_t k = 0; k < c; k++) dx[k] = rs * (dy[k] - a - (x[k] - m) * rs * cc);
        }
        if (wg) wgrad_group_f32(xg, dyg, c, n, co, wg, wg + c);
    }
}

static void ln_grad_rows(int64_t lo, int64_t hi, void *arg) {
    const ln_job *j = arg;
    if (j->dtype != TG_F64) {
        ln_grad_rows_f32(j, lo, hi, NULL);
        return;
    }
    for (int64_t r = lo; r < hi; r++)
        ln_grad_row_f64((const double *)j->x + r * j->c, j->w, (const double *)j->dy + r * j->c,
                        (double *)j->y + r * j->c, j->c, j->eps);
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
    for (int64_t r0 = 0; r0 < n; r0 += LN_GROUP) {
        int64_t m = n - r0 < LN_GROUP ? n - r0 : LN_GROUP;
        ln_coef co[LN_GROUP];
        coefs_f32((const float *)x + r0 * c, NULL, NULL, c, m, eps, co);
        wgrad_group_f32((const float *)x + r0 * c, (const float *)dy + r0 * c, c, m, co, dw, db);
    }
    return TG_OK;
}

// dx and, in the same pass, [dw; db] of f32 rows: each thread's rows add into their own
// [2, c] (thread 0 into wgrad, the others into scratch), added in thread order afterwards, so
// the sums are deterministic for a given thread count (on one thread, layer_norm_wgrad's
// own, unless a row's float sums overflowed: sums.c then redoes that row's in double).
// false when the scratch cannot be had (the caller then takes two passes).
static bool grad_wgrad_f32(void *ctx, const ln_job *j, int64_t n, float *wgrad) {
    int64_t c = j->c;
    int nt = tg_cpu_threads(ctx);
    for (int64_t k = 0; k < 2 * c; k++) wgrad[k] = 0;
#ifdef _OPENMP
    if (nt > 1 && n > 1 && n * c >= PAR_MIN) {
        float *part = tg__cpu_scratch((size_t)(nt - 1) * (size_t)(2 * c) * sizeof(float));
        if (!part) return false;
        int used = 1;
#pragma omp parallel num_threads(nt)
        {
            int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
            int64_t lo = n * t / k, hi = n * (t + 1) / k;
            float *wg = t == 0 ? wgrad : part + (t - 1) * 2 * c;
            if (t > 0)
                for (int64_t e = 0; e < 2 * c; e++) wg[e] = 0;
            if (hi > lo) ln_grad_rows_f32(j, lo, hi, wg);
#pragma omp single
            used = (int)k;
        }
        for (int t = 1; t < used; t++)
            for (int64_t e = 0; e < 2 * c; e++) wgrad[e] += part[(t - 1) * 2 * c + e];
        return true;
    }
#else
    (void)nt;
#endif
    ln_grad_rows_f32(j, 0, n, wgrad);
    return true;
}

static int tg_cpu_layer_norm_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                                  const void *w, const void *dy, void *dx, void *wgrad,
                                  double eps) {
    if (c <= 0) return TG_OK;
    ln_job j = {.dtype = dtype, .c = c, .x = x, .w = w, .dy = dy, .y = dx, .eps = eps};
    if (wgrad && dtype == TG_F32 && grad_wgrad_f32(ctx, &j, n, wgrad)) return TG_OK;
    run_rows(ctx, n, c, ln_grad_rows, &j);
    return wgrad ? tg_cpu_layer_norm_wgrad(ctx, dtype, n, c, x, dy, wgrad, eps) : TG_OK;
}

// cpu softmax by rows (the softmax and softmax_grad slots) and softmax cross-entropy (xent,
// xent_grad): one pass for the max, one for the exps, one summing them in double (so large
// logits stay exact enough), then the output pass. Passes are kept apart so that each loop
// vectorises. Rows are shifted by their max (torch's order: a row holding +inf is NaN, as
// inf - inf), by 0 when the max is -inf; the shift m and the log of the sum never meet
// before z - m is formed (log(s) + m would round log(s) away at |m| >> 1).
#include <math.h>

#include "backends/cpu/cpu_internal.h"
#include "backends/vmath.h"

enum { XCHUNK = 256, LANES = 8 };

// The row's max (rows are shifted by it, or by 0 when it is -inf). `x > m ? x : m` lets no
// NaN win.
// A max is exact in any order, so the simd reduction (-fopenmp-simd) gives the serial result;
// without the pragma the compiler must keep the chain in order and the loop stays scalar.
// Short rows (two-class losses) take the plain loop: the simd reduction's set-up (partial
// maxima spilled and reloaded as one vector) costs more than the row there.
static float row_max_f32(const float *x, int64_t c) {
    float m = -INFINITY;
    if (c < 16) {
        for (int64_t k = 0; k < c; k++) m = x[k] > m ? x[k] : m;
    } else {
#pragma omp simd reduction(max : m)
        for (int64_t k = 0; k < c; k++) m = x[k] > m ? x[k] : m;
    }
    return m;
}

// The shift of a row whose max is m: m itself (a +inf max makes the row NaN, as in torch),
// or 0 for a row of -inf (NaN too, through log(0) - -inf).
static inline double shift_of(double m) { return m == -INFINITY ? 0 : m; }
static inline float shift_of_f32(float m) { return m == -INFINITY ? 0.0f : m; }

static double shift_f64(const double *x, int64_t c) {
    double m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t k = 0; k < c; k++) m = x[k] > m ? x[k] : m;
    return shift_of(m);
}

// The sum of e[0, n) in double, as LANES independent partial sums: they vectorise without
// -ffast-math (one running sum is a serial chain) and round alike in every variant.
static double sum_f32(const float *e, int64_t n) {
    double sv[LANES] = {0};
    int64_t k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int l = 0; l < LANES; l++) sv[l] += (double)e[k + l];
    for (; k < n; k++) sv[0] += (double)e[k];
    double s = 0;
    for (int l = 0; l < LANES; l++) s += sv[l];
    return s;
}

static double sum_f64(const double *e, int64_t n) {
    double sv[LANES] = {0};
    int64_t k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int l = 0; l < LANES; l++) sv[l] += e[k + l];
    for (; k < n; k++) sv[0] += e[k];
    double s = 0;
    for (int l = 0; l < LANES; l++) s += sv[l];
    return s;
}

// sum of a[k] * b[k] in double, partial sums as above
static double dot_f32(const float *a, const float *b, int64_t n) {
    double sv[LANES] = {0};
    int64_t k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int l = 0; l < LANES; l++) sv[l] += (double)a[k + l] * (double)b[k + l];
    for (; k < n; k++) sv[0] += (double)a[k] * (double)b[k];
    double s = 0;
    for (int l = 0; l < LANES; l++) s += sv[l];
    return s;
}

static double dot_f64(const double *a, const double *b, int64_t n) {
    double sv[LANES] = {0};
    int64_t k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int l = 0; l < LANES; l++) sv[l] += a[k + l] * b[k + l];
    for (; k < n; k++) sv[0] += a[k] * b[k];
    double s = 0;
    for (int l = 0; l < LANES; l++) s += sv[l];
    return s;
}

// f32 row: m = the row's shift, e[k] = exp(z[k] - m) via the vectorising tg_vexpf, returns
// the sum of e in double. e may be the caller's output row or a scratch chunk.
static double exp_row_f32(const float *z, int64_t c, float *m_out, float *e, bool keep) {
    float m = shift_of_f32(row_max_f32(z, c));
    *m_out = m;
    double s = 0;
    if (c < LANES) {   // short rows (two-class losses): no vector loops to set up
        for (int64_t k = 0; k < c; k++) {
            float ek = tg_vexpf(z[k] - m);
            if (keep) e[k] = ek;
            s += ek;
        }
        return s;
    }
    // every z - m is <= 0 (or NaN, -inf): the max or +inf is subtracted, or the row is -inf
    for (int64_t k0 = 0; k0 < c; k0 += XCHUNK) {
        int64_t kn = c - k0 < XCHUNK ? c - k0 : XCHUNK;
        float *ek = keep ? e + k0 : e;
        for (int64_t k = 0; k < kn; k++) ek[k] = tg_vexpf_nonpos(z[k0 + k] - m);
        s += sum_f32(ek, kn);
    }
    return s;
}

// Short f32 rows (c < SHORT_C, e.g. two-class losses), SROWS rows at a time: the rows of a
// block are contiguous, so each pass (row maxima, shifted logits, their exps, row sums,
// logs) is one loop over the block that vectorises across rows, instead of a handful of
// scalar calls per row. The loss (dlogits NULL) or the gradient into dlogits. Inlined with
// c = 2 (binary classification) so those loops have constant trip counts.
enum { SHORT_C = 16, SROWS = 64 };

static inline __attribute__((always_inline)) void
xent_short_block_f32(int64_t nb, int64_t c, const float *zb, const float *lab, const float *dl,
                     float *loss, float *e) {
    float m[SROWS], ls[SROWS];
    double s[SROWS];
    for (int64_t r = 0; r < nb; r++) m[r] = shift_of_f32(row_max_f32(zb + r * c, c));
    for (int64_t r = 0; r < nb; r++)
        for (int64_t k = 0; k < c; k++) e[r * c + k] = zb[r * c + k] - m[r];
    for (int64_t i = 0; i < nb * c; i++) e[i] = tg_vexpf(e[i]);
    for (int64_t r = 0; r < nb; r++) {
        double t = 0;
        for (int64_t k = 0; k < c; k++) t += (double)e[r * c + k];
        s[r] = t;
    }
    if (loss) {
        for (int64_t r = 0; r < nb; r++) ls[r] = tg_vlogf((float)s[r]);
        for (int64_t r = 0; r < nb; r++) {   // (the label's logit by selects: no gather)
            float zy = 0;
            for (int64_t k = 0; k < c; k++) {
                float zk = zb[r * c + k];   // (loaded whatever the label: if-converted)
                zy = (float)k == lab[r] ? zk : zy;
            }
            loss[r] = (float)((double)ls[r] + ((double)m[r] - (double)zy));
        }
        return;
    }
    for (int64_t r = 0; r < nb; r++) {
        float inv = (float)(dl[r] / s[r]);
        for (int64_t k = 0; k < c; k++) e[r * c + k] *= inv;
    }
    // dl off the label's entry, 0 off the others (exact: x - 0 is x), in a loop of its own
    // so that it is not contracted with the product above into one rounding
    for (int64_t r = 0; r < nb; r++)
        for (int64_t k = 0; k < c; k++) e[r * c + k] -= (float)k == lab[r] ? dl[r] : 0.0f;
}

static void xent_short_f32(int64_t n, int64_t c, const float *z, const float *labels,
                           const float *dloss, float *loss, float *dlogits) {
    float scratch[SROWS * SHORT_C];
    for (int64_t r0 = 0; r0 < n; r0 += SROWS) {
        int64_t nb = n - r0 < SROWS ? n - r0 : SROWS;
        const float *zb = z + r0 * c, *lab = labels + r0, *dl = dloss ? dloss + r0 : NULL;
        float *lo = loss ? loss + r0 : NULL, *e = dlogits ? dlogits + r0 * c : scratch;
        if (c == 2) xent_short_block_f32(nb, 2, zb, lab, dl, lo, e);
        else xent_short_block_f32(nb, c, zb, lab, dl, lo, e);
    }
}

static bool bad_label(double l, int64_t c) { return !(l >= 0 && l < (double)c) || l != floor(l); }

// f32 labels in one vectorising pass: ordered compares (false for NaN) and a bitwise and.
static bool bad_labels_f32(const float *l, int64_t n, int64_t c) {
    float fc = (float)c;
    int ok = 1;
    for (int64_t i = 0; i < n; i++) {
        float v = l[i];
        ok &= (v >= 0) & (v < fc) & (v == truncf(v));
    }
    return !ok;
}

static bool bad_labels(int dtype, const void *labels, int64_t n, int64_t c) {
    if (dtype != TG_F64) return bad_labels_f32(labels, n, c);
    for (int64_t i = 0; i < n; i++)
        if (bad_label(((const double *)labels)[i], c)) return true;
    return false;
}

static int tg_cpu_xent(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                       const void *labels, void *loss) {
    (void)ctx;
    if (bad_labels(dtype, labels, n, c)) return TG_ERR_INVALID_ARG;
    if (dtype != TG_F64 && c < SHORT_C) {
        xent_short_f32(n, c, logits, labels, NULL, loss, NULL);
        return TG_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        if (dtype == TG_F64) {
            const double *z = (const double *)logits + i * c;
            double m = shift_f64(z, c), s = 0;
            for (int64_t k = 0; k < c; k++) s += exp(z[k] - m);
            int64_t y = (int64_t)((const double *)labels)[i];
            ((double *)loss)[i] = (m - z[y]) + log(s);   // not log(s) + m: see the top
        } else {
            const float *z = (const float *)logits + i * c;
            float m, scratch[XCHUNK];
            double s = exp_row_f32(z, c, &m, scratch, false);
            int64_t y = (int64_t)((const float *)labels)[i];
            ((float *)loss)[i] = (float)(log(s) + ((double)m - (double)z[y]));
        }
    }
    return TG_OK;
}

static int tg_cpu_xent_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                     const void *labels, const void *dloss, void *dlogits) {
    (void)ctx;
    if (bad_labels(dtype, labels, n, c)) return TG_ERR_INVALID_ARG;
    if (dtype != TG_F64 && c < SHORT_C) {
        xent_short_f32(n, c, logits, labels, dloss, NULL, dlogits);
        return TG_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        if (dtype == TG_F64) {
            const double *z = (const double *)logits + i * c;
            double *g = (double *)dlogits + i * c, m = shift_f64(z, c), s = 0;
            double d = ((const double *)dloss)[i];
            for (int64_t k = 0; k < c; k++) s += (g[k] = exp(z[k] - m));
            double inv = d / s;
            for (int64_t k = 0; k < c; k++) g[k] *= inv;
            g[(int64_t)((const double *)labels)[i]] -= d;
        } else {
            const float *z = (const float *)logits + i * c;
            float *g = (float *)dlogits + i * c, m;
            float d = ((const float *)dloss)[i];
            double s = exp_row_f32(z, c, &m, g, true);
            float inv = (float)(d / s);
            for (int64_t k = 0; k < c; k++) g[k] *= inv;
            g[(int64_t)((const float *)labels)[i]] -= d;
        }
    }
    return TG_OK;
}

// ---- softmax / log_softmax rows ----

// y = softmax(x) or log_softmax(x) of one f32 row; y doubles as the exp buffer.
static void softmax_row_f32(const float *x, float *y, int64_t c, int take_log) {
    float m;
    double s = exp_row_f32(x, c, &m, y, true);
    if (take_log) {
        float ls = (float)log(s);
        for (int64_t k = 0; k < c; k++) y[k] = (x[k] - m) - ls;
    } else {
        float inv = (float)(1.0 / s);
        for (int64_t k = 0; k < c; k++) y[k] *= inv;
    }
}

static void softmax_row_f64(const double *x, double *y, int64_t c, int take_log) {
    double m = shift_f64(x, c);
    for (int64_t k = 0; k < c; k++) y[k] = exp(x[k] - m);
    double s = sum_f64(y, c);
    if (take_log) {
        double ls = log(s);
        for (int64_t k = 0; k < c; k++) y[k] = (x[k] - m) - ls;
    } else {
        double inv = 1.0 / s;
        for (int64_t k = 0; k < c; k++) y[k] *= inv;
    }
}

// y [n, c] = softmax or log_softmax of each row of x [n, c]
static int tg_cpu_softmax(void *ctx, int dtype, int64_t n, int64_t c, const void *x, void *y,
                   int take_log) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) {
        if (dtype == TG_F64)
            softmax_row_f64((const double *)x + i * c, (double *)y + i * c, c, take_log);
        else
            softmax_row_f32((const float *)x + i * c, (float *)y + i * c, c, take_log);
    }
    return TG_OK;
}

// ---- softmax / log_softmax gradient rows: one pass for the row sum (sum_/dot_, in
// double), one for dx ----

static void softmax_grad_row_f32(const float *y, const float *dy, float *dx, int64_t c,
                                 int take_log) {
    float s = (float)(take_log ? sum_f32(dy, c) : dot_f32(dy, y, c));
    if (take_log)
        for (int64_t k = 0; k < c; k++) dx[k] = dy[k] - tg_vexpf(y[k]) * s;
    else
        for (int64_t k = 0; k < c; k++) dx[k] = y[k] * (dy[k] - s);
}

static void softmax_grad_row_f64(const double *y, const double *dy, double *dx, int64_t c,
                                 int take_log) {
    double s = take_log ? sum_f64(dy, c) : dot_f64(dy, y, c);
    if (take_log)
        for (int64_t k = 0; k < c; k++) dx[k] = dy[k] - exp(y[k]) * s;
    else
        for (int64_t k = 0; k < c; k++) dx[k] = y[k] * (dy[k] - s);
}

static int tg_cpu_softmax_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *y,
                               const void *dy, void *dx, int take_log) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) {
        if (dtype == TG_F64)
            softmax_grad_row_f64((const double *)y + i * c, (const double *)dy + i * c,
                                 (double *)dx + i * c, c, take_log);
        else
            softmax_grad_row_f32((const float *)y + i * c, (const float *)dy + i * c,
                                 (float *)dx + i * c, c, take_log);
    }
    return TG_OK;
}

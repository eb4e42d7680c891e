// cpu softmax cross-entropy by rows: one pass for the max, one for the sum of exps (and the
// gradient's pass), in double for the sum so large logits stay exact enough.
#include <math.h>

#include "backends/cpu/cpu_internal.h"
#include "backends/cpu/vmath.h"

enum { XCHUNK = 256 };

// f32 row: m = max (0 if not finite), e[k] = exp(z[k] - m) via the vectorising tg_vexpf,
// returns the sum of e in double. e may be the caller's output row or a scratch chunk.
static double exp_row_f32(const float *z, int64_t c, float *m_out, float *e, bool keep) {
    float m = -INFINITY;
    for (int64_t k = 0; k < c; k++) m = z[k] > m ? z[k] : m;
    if (!isfinite(m)) m = 0;
    *m_out = m;
    double s = 0;
    for (int64_t k0 = 0; k0 < c; k0 += XCHUNK) {
        int64_t kn = c - k0 < XCHUNK ? c - k0 : XCHUNK;
        float *ek = keep ? e + k0 : e;
        for (int64_t k = 0; k < kn; k++) ek[k] = tg_vexpf(z[k0 + k] - m);
        for (int64_t k = 0; k < kn; k++) s += ek[k];
    }
    return s;
}

static bool bad_label(double l, int64_t c) { return !(l >= 0 && l < (double)c) || l != floor(l); }

int tg_cpu_xent(void *ctx, int dtype, int64_t n, int64_t c, const void *logits, const void *labels,
                void *loss) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) {
        double l = dtype == 1 ? ((const double *)labels)[i] : ((const float *)labels)[i];
        if (bad_label(l, c)) return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        if (dtype == 1) {
            const double *z = (const double *)logits + i * c;
            double m = -INFINITY, s = 0;
            for (int64_t k = 0; k < c; k++) m = z[k] > m ? z[k] : m;
            if (!isfinite(m)) m = 0;
            for (int64_t k = 0; k < c; k++) s += exp(z[k] - m);
            int64_t y = (int64_t)((const double *)labels)[i];
            ((double *)loss)[i] = log(s) + m - z[y];
        } else {
            const float *z = (const float *)logits + i * c;
            float m, scratch[XCHUNK];
            double s = exp_row_f32(z, c, &m, scratch, false);
            int64_t y = (int64_t)((const float *)labels)[i];
            ((float *)loss)[i] = (float)(log(s) + ((double)m - (double)z[y]));
        }
    }
    return 0;
}

int tg_cpu_xent_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                     const void *labels, const void *dloss, void *dlogits) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) {
        double l = dtype == 1 ? ((const double *)labels)[i] : ((const float *)labels)[i];
        if (bad_label(l, c)) return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        if (dtype == 1) {
            const double *z = (const double *)logits + i * c;
            double *g = (double *)dlogits + i * c, m = -INFINITY, s = 0;
            double d = ((const double *)dloss)[i];
            for (int64_t k = 0; k < c; k++) m = z[k] > m ? z[k] : m;
            if (!isfinite(m)) m = 0;
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
    return 0;
}

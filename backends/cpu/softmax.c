// cpu softmax cross-entropy by rows: one pass for the max, one for the sum of exps (and the
// gradient's pass), in double for the sum so large logits stay exact enough.
#include <math.h>

#include "backends/cpu/cpu_internal.h"

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
            float m = -INFINITY;
            double s = 0;
            for (int64_t k = 0; k < c; k++) m = z[k] > m ? z[k] : m;
            if (!isfinite(m)) m = 0;
            for (int64_t k = 0; k < c; k++) s += expf(z[k] - m);
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
            float *g = (float *)dlogits + i * c, m = -INFINITY;
            double s = 0;
            float d = ((const float *)dloss)[i];
            for (int64_t k = 0; k < c; k++) m = z[k] > m ? z[k] : m;
            if (!isfinite(m)) m = 0;
            for (int64_t k = 0; k < c; k++) s += (g[k] = expf(z[k] - m));
            float inv = (float)(d / s);
            for (int64_t k = 0; k < c; k++) g[k] *= inv;
            g[(int64_t)((const float *)labels)[i]] -= d;
        }
    }
    return 0;
}

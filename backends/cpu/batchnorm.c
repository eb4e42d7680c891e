// cpu batch normalisation by channel (the batch_norm slot; tg_bn_desc in backend_impl.h):
// x [n, c, inner], channel ch holds the n runs of `inner` contiguous values at
// x + (i*c + ch)*inner. Each mode reads the channel once for its sums and, where it writes
// a same-shaped output, once more: y, dx = A*(x or dy) + B*x + C with per-channel constants.
// Sums are taken about the channel's first value (so that the variance does not cancel
// away; sums.c's tg_cpu_sums): f64 in OpenMP simd reductions that vectorise without
// reassociation flags; f32 in float vectors folded into double (sums.c). Channels are split
// across threads when the call is large.

#define BN_RUN_SUMS(T)                                                                        \
    static void run_sums_##T(const T *x, const T *dy, int64_t len, double s,                  \
                             tg_cpu_sums *acc) {                                              \
        double a = 0, b = 0, c = 0, e = 0;                                                    \
        if (dy) {                                                                             \
            _Pragma("omp simd reduction(+ : a, b, c, e)")                                     \
            for (int64_t k = 0; k < len; k++) {                                               \
                double d = (double)x[k] - s, g = (double)dy[k];                               \
                a += d;                                                                       \
                b += d * d;                                                                   \
                c += g;                                                                       \
                e += g * d;                                                                   \
            }                                                                                 \
        } else {                                                                              \
            _Pragma("omp simd reduction(+ : a, b)")                                           \
            for (int64_t k = 0; k < len; k++) {                                               \
                double d = (double)x[k] - s;                                                  \
                a += d;                                                                       \
                b += d * d;                                                                   \
            }                                                                                 \
        }                                                                                     \
        acc->s1 += a, acc->s2 += b, acc->sg += c, acc->sgd += e;                              \
    }
BN_RUN_SUMS(double)

// f32 runs: sums.c's float vectors folded into double (14 % of fashion-cnn's forward +
// backward in the OpenMP simd loop above, Zen 5, 1 thread).
static void run_sums_float(const float *x, const float *dy, int64_t len, double s,
                           tg_cpu_sums *acc) {
    tg_cpu_sums_f32(x, dy, NULL, len, s, acc);
}

// y = a*u + b*((x - m)*r) + c over one run (no u: a = 0), r = rstd. Centred on the
// channel's mean, so that a channel far from zero keeps its digits without an FMA (the
// baseline build): x*b + (c - m*b) loses them to the product's rounding. (x - m)*r is of
// order 1 whatever x's scale, so no constant holds rstd^2, which f32 cannot (a channel of
// spread 1e22 has rstd^2 ~ 1e-44, a denormal: dx was 3 % off).
#define BN_RUN_AFFINE(T)                                                                      \
    static void run_affine_##T(const T *x, const T *u, T *y, int64_t len, T a, T b, T c, T m, \
                               T r) {                                                         \
        if (u)                                                                                \
            for (int64_t k = 0; k < len; k++) y[k] = a * u[k] + b * ((x[k] - m) * r) + c;     \
        else                                                                                  \
            for (int64_t k = 0; k < len; k++) y[k] = b * ((x[k] - m) * r) + c;                \
    }
BN_RUN_AFFINE(float)
BN_RUN_AFFINE(double)

#define BN_CHANNELS(T)                                                                        \
    static void bn_channels_##T(int64_t lo, int64_t hi, void *arg) {                          \
        const tg_bn_desc *d = arg;                                                            \
        const T *x = d->x, *dy = d->dy, *w = d->w, *bias = d->b;                              \
        T *y = d->y;                                                                          \
        bool with_dy = d->mode == TG_BN_GRAD || d->mode == TG_BN_WGRAD;                       \
        double m = (double)(d->n * d->inner);                                                 \
        for (int64_t ch = lo; ch < hi; ch++) {                                                \
            double s = (double)x[ch * d->inner];                                              \
            tg_cpu_sums acc = {0, 0, 0, 0};                                                       \
            for (int64_t i = 0; i < d->n; i++) {                                              \
                int64_t at = (i * d->c + ch) * d->inner;                                      \
                run_sums_##T(x + at, with_dy ? dy + at : NULL, d->inner, s, &acc);            \
            }                                                                                 \
            double mean = s + acc.s1 / m, var = (acc.s2 - acc.s1 * acc.s1 / m) / m;           \
            var = var < 0 ? 0 : var; /* a NaN (an inf in the channel) stays one */           \
            double rstd = 1.0 / sqrt(var + d->eps), wc = w ? (double)w[ch] : 1.0;             \
            /* mean(dy * (x - mean)) = (sum(dy*(x-s)) - sum(dy)*(mean - s)) / m */            \
            double cov = (acc.sgd - acc.sg * (mean - s)) / m, mdy = acc.sg / m;            \
            if (d->mode != TG_BN_FORWARD && (d->mode == TG_BN_WGRAD || d->stats)) {          \
                T *wg = d->mode == TG_BN_WGRAD ? y : (T *)d->stats;                           \
                wg[ch] = (T)(rstd * cov * m);                                                 \
                wg[d->c + ch] = (T)acc.sg;                                                   \
                if (d->mode == TG_BN_WGRAD) continue;                                         \
            }                                                                                 \
            if (d->mode == TG_BN_FORWARD && d->stats) {                                       \
                ((T *)d->stats)[ch] = (T)mean;                                                \
                ((T *)d->stats)[d->c + ch] = (T)var;                                          \
            }                                                                                 \
            double a, b, c;                                                                   \
            if (d->mode == TG_BN_FORWARD) {   /* y = (x - mean)*rstd*w + b */                 \
                a = 0, b = wc, c = bias ? (double)bias[ch] : 0.0;                             \
            } else { /* dx = rstd*w*(dy - mdy - (x - mean)*rstd^2*cov) */                     \
                a = rstd * wc, b = -a * rstd * cov, c = -a * mdy;                             \
            }                                                                                 \
            for (int64_t i = 0; i < d->n; i++) {                                              \
                int64_t at = (i * d->c + ch) * d->inner;                                      \
                run_affine_##T(x + at, d->mode == TG_BN_GRAD ? dy + at : NULL, y + at,        \
                               d->inner, (T)a, (T)b, (T)c, (T)mean, (T)rstd);                 \
            }                                                                                 \
        }                                                                                     \
    }
BN_CHANNELS(float)
BN_CHANNELS(double)

static int tg_cpu_batch_norm(void *ctx, const tg_bn_desc *d) {
    if (d->n <= 0 || d->inner <= 0) return TG_OK;   // no values: nothing to write (op checks)
    int nt = ((tg_cpu_ctx *)ctx)->n_threads;
    bool big = d->n * d->c * d->inner >= (int64_t)1 << 16 && d->c > 1;
    tg_cpu_range_fn fn = d->dtype == TG_F64 ? bn_channels_double : bn_channels_float;
#ifdef _OPENMP
    if (big && nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int64_t ch = 0; ch < d->c; ch++) fn(ch, ch + 1, (void *)d);
        return TG_OK;
    }
#else
    (void)nt, (void)big;
#endif
    fn(0, d->c, (void *)d);
    return TG_OK;
}

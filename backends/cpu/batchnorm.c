// cpu batch normalisation by channel (the batch_norm slot; tg_bn_desc in backend_impl.h):
// x [n, c, inner], channel ch holds the n runs of `inner` contiguous values at
// x + (i*c + ch)*inner. Each mode reads the channel once for its sums and, where it writes
// a same-shaped output, once more: y, dx = A*(x or dy) + B*x + C with per-channel constants.
// Sums are taken about the channel's first value (so that the variance does not cancel
// away): f64 in OpenMP simd reductions that vectorise without reassociation flags, as in
// layernorm.c; f32 in float vectors over blocks of 1024 values, added in double. Channels are split across threads when the call is large.

typedef struct bn_sums {
    double s1, s2, sdy, sdyx;   // sum(x-s), sum((x-s)^2), sum(dy), sum(dy*(x-s))
} bn_sums;

#define BN_RUN_SUMS(T)                                                                        \
    static void run_sums_##T(const T *x, const T *dy, int64_t len, double s, bn_sums *acc) { \
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
        acc->s1 += a, acc->s2 += b, acc->sdy += c, acc->sdyx += e;                            \
    }
BN_RUN_SUMS(double)

// f32 runs: the same sums in float vectors over blocks of BN_BLOCK values (at most
// BN_BLOCK / lanes terms per lane, about x's first value), each block's lanes then added
// in double. A vector holds twice as many floats as doubles and needs no conversion; this
// loop was 14 % of fashion-cnn's forward + backward (Zen 5, 1 thread, A/B with pool.c's
// vectorised route: backward 2.29 -> 2.11 ms, forward 0.97 -> 0.90 ms).
#if defined(__AVX512F__)
#define BN_VBYTES 64
#elif defined(__AVX__)
#define BN_VBYTES 32
#else
#define BN_VBYTES 16
#endif
typedef float bnv __attribute__((vector_size(BN_VBYTES)));
enum { BN_L = BN_VBYTES / 4, BN_BLOCK = 1024 };

static double bn_lanes(bnv v) {
    double s = 0;
    for (int e = 0; e < BN_L; e++) s += v[e];
    return s;
}

static void run_sums_float(const float *x, const float *dy, int64_t len, double s,
                           bn_sums *acc) {
    float sf = (float)s;
    for (int64_t k0 = 0; k0 < len; k0 += BN_BLOCK) {
        int64_t n = len - k0 < BN_BLOCK ? len - k0 : BN_BLOCK, k = 0;
        bnv a = {0}, b = {0}, c = {0}, e = {0};
        const float *xr = x + k0, *gr = dy ? dy + k0 : NULL;
        if (gr)
            for (; k + BN_L <= n; k += BN_L) {
                bnv xv, gv;
                memcpy(&xv, xr + k, sizeof xv);
                memcpy(&gv, gr + k, sizeof gv);
                xv -= sf;
                a += xv, b += xv * xv, c += gv, e += gv * xv;
            }
        else
            for (; k + BN_L <= n; k += BN_L) {
                bnv xv;
                memcpy(&xv, xr + k, sizeof xv);
                xv -= sf;
                a += xv, b += xv * xv;
            }
        double a2 = bn_lanes(a), b2 = bn_lanes(b), c2 = bn_lanes(c), e2 = bn_lanes(e);
        for (; k < n; k++) {   // the block's last values, in double
            double d = (double)xr[k] - s, g = gr ? (double)gr[k] : 0;
            a2 += d, b2 += d * d, c2 += g, e2 += g * d;
        }
        acc->s1 += a2, acc->s2 += b2, acc->sdy += c2, acc->sdyx += e2;
    }
}

// y = a*u + b*(x - m) + c over one run (no u: a = 0). Centred on the channel's mean, so
// that a channel far from zero keeps its digits without an FMA (the baseline build):
// x*b + (c - m*b) loses them to the product's rounding.
#define BN_RUN_AFFINE(T)                                                                      \
    static void run_affine_##T(const T *x, const T *u, T *y, int64_t len, T a, T b, T c,     \
                               T m) {                                                         \
        if (u)                                                                                \
            for (int64_t k = 0; k < len; k++) y[k] = a * u[k] + b * (x[k] - m) + c;           \
        else                                                                                  \
            for (int64_t k = 0; k < len; k++) y[k] = b * (x[k] - m) + c;                      \
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
            bn_sums acc = {0, 0, 0, 0};                                                       \
            for (int64_t i = 0; i < d->n; i++) {                                              \
                int64_t at = (i * d->c + ch) * d->inner;                                      \
                run_sums_##T(x + at, with_dy ? dy + at : NULL, d->inner, s, &acc);            \
            }                                                                                 \
            double mean = s + acc.s1 / m, var = (acc.s2 - acc.s1 * acc.s1 / m) / m;           \
            var = var > 0 ? var : 0;                                                          \
            double rstd = 1.0 / sqrt(var + d->eps), wc = w ? (double)w[ch] : 1.0;             \
            /* mean(dy * (x - mean)) = (sum(dy*(x-s)) - sum(dy)*(mean - s)) / m */            \
            double cov = (acc.sdyx - acc.sdy * (mean - s)) / m, mdy = acc.sdy / m;            \
            if (d->mode != TG_BN_FORWARD && (d->mode == TG_BN_WGRAD || d->stats)) {          \
                T *wg = d->mode == TG_BN_WGRAD ? y : (T *)d->stats;                           \
                wg[ch] = (T)(rstd * cov * m);                                                 \
                wg[d->c + ch] = (T)acc.sdy;                                                   \
                if (d->mode == TG_BN_WGRAD) continue;                                         \
            }                                                                                 \
            if (d->mode == TG_BN_FORWARD && d->stats) {                                       \
                ((T *)d->stats)[ch] = (T)mean;                                                \
                ((T *)d->stats)[d->c + ch] = (T)var;                                          \
            }                                                                                 \
            double a, b, c;                                                                   \
            if (d->mode == TG_BN_FORWARD) {   /* y = (x - mean)*rstd*w + b */                 \
                a = 0, b = rstd * wc, c = bias ? (double)bias[ch] : 0.0;                      \
            } else { /* dx = rstd*w*(dy - mdy - (x - mean)*rstd^2*cov) */                     \
                a = rstd * wc, b = -a * rstd * rstd * cov, c = -a * mdy;                      \
            }                                                                                 \
            for (int64_t i = 0; i < d->n; i++) {                                              \
                int64_t at = (i * d->c + ch) * d->inner;                                      \
                run_affine_##T(x + at, d->mode == TG_BN_GRAD ? dy + at : NULL, y + at,        \
                               d->inner, (T)a, (T)b, (T)c, (T)mean);                          \
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

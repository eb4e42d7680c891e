// Sums about a shift over a run of f32 values, for the normalisation kernels (layernorm.c,
// batchnorm.c): with d = x - s and g = dy (times w, per value, when w is given),
//   s1 = sum(d),  s2 = sum(d^2),  sg = sum(g),  sgd = sum(g * d).
// Taken about a value inside the data (the caller's shift) so that the variance
// s2/n - (s1/n)^2 does not cancel away. The values are summed in float vectors of the build's
// widest width, and every SUMS_FOLD vectors each lane is added into double vectors: a float
// lane holds at most SUMS_FOLD terms (8; 16 values with AVX-512 go in per step), and the
// loop carries no double add's latency. The OpenMP simd reductions in double this replaces
// were bound by that latency and by their scalar horizontal sums: tg-bench's
// layer_norm-2048x128 went 231 -> 144 us backward and 63 -> 46 us forward with this and
// layernorm.c's row groups, fashion-cnn's backward (batch norm) ~5 % faster (Zen 5, 1 thread,
// interleaved A/B, 2026-12-06).

#if defined(__AVX512F__)
#define SUMS_VBYTES 64
#elif defined(__AVX__)
#define SUMS_VBYTES 32
#else
#define SUMS_VBYTES 16
#endif
typedef float sums_vf __attribute__((vector_size(SUMS_VBYTES)));
typedef float sums_hf __attribute__((vector_size(SUMS_VBYTES / 2)));
typedef double sums_vd __attribute__((vector_size(SUMS_VBYTES)));
enum { SUMS_L = SUMS_VBYTES / 4, SUMS_FOLD = 8 };
#define SUMS_INLINE static inline __attribute__((always_inline))

typedef struct tg_cpu_sums {
    double s1, s2, sg, sgd;
} tg_cpu_sums;

SUMS_INLINE sums_vf sums_ld(const float *p) {
    sums_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

// acc[0..1] += v's lanes, converted to double (low half, high half).
SUMS_INLINE void sums_fold(sums_vd *acc, sums_vf v) {
    sums_hf h[2];
    memcpy(h, &v, sizeof v);
    acc[0] += __builtin_convertvector(h[0], sums_vd);
    acc[1] += __builtin_convertvector(h[1], sums_vd);
}

// The lanes of acc[0] + acc[1], added pairwise (the first halving in vectors).
typedef double sums_hd __attribute__((vector_size(SUMS_VBYTES / 2)));
SUMS_INLINE double sums_lanes(const sums_vd *acc) {
    sums_vd v = acc[0] + acc[1];
    sums_hd h[2];
    memcpy(h, &v, sizeof v);
    h[0] += h[1];
    double l[SUMS_L / 4];
    memcpy(l, &h[0], sizeof l);
    for (int n = SUMS_L / 8; n >= 1; n /= 2)
        for (int e = 0; e < n; e++) l[e] += l[e + n];
    return l[0];
}

// acc += the sums over x[0, len) about s; dy NULL: only s1 and s2. with_g and with_w are
// constants where this is inlined, so each case gets its own loop.
SUMS_INLINE void sums_run(const float *x, const float *dy, const float *w, int64_t len, double s,
                          tg_cpu_sums *acc, bool with_g, bool with_w) {
    float sf = (float)s;
    sums_vd v[4][2] = {{{0}}};
    int64_t k = 0;
    while (len - k >= SUMS_L) {
        sums_vf a = {0}, b = {0}, c = {0}, e = {0};
        int64_t n = (len - k) / SUMS_L;
        n = n < SUMS_FOLD ? n : SUMS_FOLD;
        for (int64_t i = 0; i < n; i++, k += SUMS_L) {
            sums_vf d = sums_ld(x + k) - sf;
            a += d, b += d * d;
            if (with_g) {
                sums_vf g = sums_ld(dy + k);
                if (with_w) g *= sums_ld(w + k);
                c += g, e += g * d;
            }
        }
        sums_fold(v[0], a), sums_fold(v[1], b);
        if (with_g) sums_fold(v[2], c), sums_fold(v[3], e);
    }
    double s1 = sums_lanes(v[0]), s2 = sums_lanes(v[1]);
    double sg = with_g ? sums_lanes(v[2]) : 0, sgd = with_g ? sums_lanes(v[3]) : 0;
    for (; k < len; k++) {   // the last values, fewer than a vector, in double
        double d = (double)x[k] - s;
        s1 += d, s2 += d * d;
        if (with_g) {
            double g = with_w ? (double)(dy[k] * w[k]) : (double)dy[k];
            sg += g, sgd += g * d;
        }
    }
    acc->s1 += s1, acc->s2 += s2, acc->sg += sg, acc->sgd += sgd;
}

// The same sums in double, value by value: for a run whose float sums are not finite. That
// happens to finite data too (|x - s| past ~1.8e19 squares past FLT_MAX), whose statistics
// double still holds; an inf or NaN in the run stays one in the sums.
static __attribute__((cold, noinline)) void sums_double(const float *x, const float *dy,
                                                        const float *w, int64_t len, double s,
                        tg_cpu_sums *acc) {
    for (int64_t k = 0; k < len; k++) {
        double d = (double)x[k] - s;
        acc->s1 += d, acc->s2 += d * d;
        if (dy) {
            double g = w ? (double)dy[k] * (double)w[k] : (double)dy[k];
            acc->sg += g, acc->sgd += g * d;
        }
    }
}

static void tg_cpu_sums_f32(const float *x, const float *dy, const float *w, int64_t len,
                            double s, tg_cpu_sums *acc) {
    tg_cpu_sums before = *acc;
    if (!dy)
        sums_run(x, NULL, NULL, len, s, acc, false, false);
    else if (!w)
        sums_run(x, dy, NULL, len, s, acc, true, false);
    else
        sums_run(x, dy, w, len, s, acc, true, true);
    if (!isfinite(acc->s1 + acc->s2 + acc->sg + acc->sgd) &&
        isfinite(before.s1 + before.s2 + before.sg + before.sgd)) {
        *acc = before;
        sums_double(x, dy, w, len, s, acc);
    }
}

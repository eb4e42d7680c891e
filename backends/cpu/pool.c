// Max pooling in one pass per direction (tg_max_pool2d and its gradient, ops/conv.c): each
// window's winner is found in x directly, with no window matrix (im2col), argmax or gather
// in between. route 0 selects v at the winners ([N,C,OH,OW]); route 1 adds v into out at
// the winners ([N,C,H,W], pre-filled by the caller). Planes run in order, windows in
// row-major order, so overlapping windows add in a fixed order. With threads, planes split
// into contiguous ranges (a plane's windows write only that plane).
//
// A window's winner is its first maximum over the in-image taps in row-major order, a NaN
// winning and staying: a tap replaces the best so far when the best is not NaN and the tap
// is not <= it. Pool windows always hold an in-image tap (padding <= kernel / 2). Windows
// wholly inside the image (all of them without padding) skip the bounds checks.
#define POOL_PLANES(T)                                                                        \
    do {                                                                                      \
        const T *xs = j->x, *vs = j->v;                                                       \
        T *os = j->out;                                                                       \
        const tg_im2col_desc *d = j->d;                                                       \
        const int route = j->route;                                                           \
        const int64_t h = d->h, w = d->w, hw = h * w, ohw = d->oh * d->ow;                    \
        const int64_t kh = d->kh, kw = d->kw, dh = d->dil_h * w, dw = d->dil_w;               \
        const int64_t span_h = d->dil_h * (kh - 1), span_w = d->dil_w * (kw - 1);             \
        for (int64_t pl = lo; pl < hi; pl++) {                                                \
            const T *xp = xs + pl * hw;                                                       \
            for (int64_t oh = 0; oh < d->oh; oh++) {                                          \
                int64_t ih0 = oh * d->stride_h - d->pad_h;                                    \
                bool rows_in = ih0 >= 0 && ih0 + span_h < h;                                  \
                for (int64_t ow = 0; ow < d->ow; ow++) {                                      \
                    int64_t iw0 = ow * d->stride_w - d->pad_w, best = -1;                     \
                    T bv = 0;                                                                 \
                    if (rows_in && iw0 >= 0 && iw0 + span_w < w) {                            \
                        const T *p = xp + ih0 * w + iw0;                                      \
                        best = 0, bv = p[0];                                                  \
                        for (int64_t ki = 0; ki < kh; ki++)                                   \
                            for (int64_t kj = 0; kj < kw; kj++) {                             \
                                int64_t off = ki * dh + kj * dw;                              \
                                T t = p[off];                                                 \
                                if (bv == bv && !(t <= bv)) best = off, bv = t;               \
                            }                                                                 \
                        best += ih0 * w + iw0;                                                \
                    } else {                                                                  \
                        for (int64_t ki = 0; ki < kh; ki++) {                                 \
                            int64_t ih = ih0 + ki * d->dil_h;                                 \
                            if (ih < 0 || ih >= h) continue;                                  \
                            for (int64_t kj = 0; kj < kw; kj++) {                             \
                                int64_t iw = iw0 + kj * d->dil_w;                             \
                                if (iw < 0 || iw >= w) continue;                              \
                                T t = xp[ih * w + iw];                                        \
                                if (best < 0 || (bv == bv && !(t <= bv)))                     \
                                    best = ih * w + iw, bv = t;                               \
                            }                                                                 \
                        }                                                                     \
                    }                                                                         \
                    int64_t o = pl * ohw + oh * d->ow + ow;                                   \
                    if (route) os[pl * hw + best] += vs[o];                                   \
                    else os[o] = vs[pl * hw + best];                                          \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    } while (0)

typedef struct pool_job {
    const tg_im2col_desc *d;
    int route;
    const void *x, *v;
    void *out;
} pool_job;

// Planes lo..hi-1 (each writes only its own plane of out).
static void pool_planes(int64_t lo, int64_t hi, void *arg) {
    const pool_job *j = arg;
    if (j->d->dtype == TG_F64) POOL_PLANES(double);
    else POOL_PLANES(float);
}

static int tg_cpu_max_pool(void *ctx, const tg_im2col_desc *d, int route, const void *x,
                           const void *v, void *out) {
    pool_job j = {d, route, x, v, out};
    int64_t planes = d->n * d->c;
    int nt = tg_cpu_threads(ctx);
#ifdef _OPENMP
    if (nt > 1 && planes > 1 && planes * d->h * d->w >= TG_CPU_PAR_MIN) {
#pragma omp parallel num_threads(nt)
        {
            int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
            int64_t lo = planes * t / k, hi = planes * (t + 1) / k;
            if (hi > lo) pool_planes(lo, hi, &j);
        }
        return TG_OK;
    }
#else
    (void)nt;
#endif
    pool_planes(0, planes, &j);
    return TG_OK;
}

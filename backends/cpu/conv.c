// Direct convolution with stride 1 (tg_conv2d and its gradients, ops/conv.c): no window
// matrix. Each image is first copied, padded, into this thread's scratch: xp [ci, hp, wp]
// with hp = oh + dh*(kh-1) and wp = ow + dw*(kw-1), so that tap (c, ki, kj) of the outputs
// (i, j..j+L) is the L consecutive values at xp + offs[tap] + i*wp + j (offs[tap] = c*hp*wp
// + ki*dh*wp + kj*dw): every operand of the product is a plain vector load, with no copy
// of the taps (im2col wrote and read back k = ci*kh*kw copies of each value).
//   forward, dx: a register tile of MR output channels x NV vectors of positions (a row
//   cut into vectors of L; the lanes past a row's end computed and not stored), summed
//   over the k taps: per tap NV loads, MR weights (packed once per call), MR*NV FMAs.
//   dx is the forward convolution of dy with the transposed, flipped kernel.
//   dw: a tile of MW output channels x NK taps, each a vector of partial sums over
//   positions (dy's rows padded to whole vectors with zeros, x's masked there), summed
//   over the images and reduced across lanes and threads at the end.
// Threads take contiguous ranges of images (dw: each its own sums, added at the end).
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/cpu_internal.h"

// 24 accumulators of 16 with AVX-512's 32 registers; 12 of 16 otherwise. dw's 6 x 4 (6 dy
// rows, aligned loads; 4 taps) against 4 x 6: conv2d-32x16x32x32-32k3 backward 5.26 -> 4.42
// ms (Zen 5, 1 thread, A/B; 8 x 3 gave 4.57).
#if defined(__AVX512F__)
#define CV_VBYTES 64
enum { CV_MR = 8, CV_NV = 3, CV_NV1 = 12, CV_MW = 6, CV_NK = 4 };
#elif defined(__AVX__)
#define CV_VBYTES 32
enum { CV_MR = 4, CV_NV = 3, CV_NV1 = 8, CV_MW = 3, CV_NK = 4 };
#else
#define CV_VBYTES 16
enum { CV_MR = 4, CV_NV = 3, CV_NV1 = 8, CV_MW = 3, CV_NK = 4 };
#endif

enum { CV_NVMAX = CV_NV1 > CV_NV ? CV_NV1 : CV_NV };

// Output channels per weight panel: CV_MR, or 1 (with CV_NV1 vectors of positions per tile)
// when fewer than CV_MR / 2 of them, as in the dx of a one-channel image, where CV_MR-row
// panels would compute mostly zeros (conv2d-64x1x28x28-32k5's backward 2.6 -> 5.8 ms).
static int64_t cv_panel_rows(const tg_conv_desc *d) {
    return d->co * 2 < CV_MR ? 1 : CV_MR;
}

// Vectors of positions in the next tile, `left` of them left, nvt a full tile: the last ones
// go in tiles of 2 and 1 rather than in a full tile that repeats a vector (7 x 7 images fill
// 4 vectors each: 2 + 2, not 3 + 3 with two repeated; conv2d-32x64x7x7-64k3 forward 1.24 ->
// 0.90 ms, backward 2.79 -> 2.44 ms, Zen 5, 1 thread). Full tiles are CV_NV wide (3).
static int64_t cv_tile_vectors(int64_t left, int64_t nvt) {
    if (nvt != CV_NV || left == nvt || left >= nvt + 2) return left < nvt ? left : nvt;
    return left > 2 ? 2 : left;   // nvt + 1 = 4 left: 2 + 2; 2 or 1 left: as they are
}

#define T float
#define V cvf
#define VI cvi
#define L (CV_VBYTES / 4)
#define SUF _f32
typedef float cvf __attribute__((vector_size(CV_VBYTES)));
typedef int32_t cvi __attribute__((vector_size(CV_VBYTES)));
#include "backends/cpu/conv_impl.h"
#undef T
#undef V
#undef VI
#undef L
#undef SUF

#define T double
#define V cvd
#define VI cvl
#define L (CV_VBYTES / 8)
#define SUF _f64
typedef double cvd __attribute__((vector_size(CV_VBYTES)));
typedef int64_t cvl __attribute__((vector_size(CV_VBYTES)));
#include "backends/cpu/conv_impl.h"
#undef T
#undef V
#undef VI
#undef L
#undef SUF

enum { CV_MAX_THREADS = 64 };
// dw's group of images whose padded copies are made before its tiles run over them: enough
// for CV_DW_STEPS vectors of positions per tile (a tile loads and stores its sums once per
// group), no more than keeps a tile's dy rows in L1 (CV_DW_TILE_BYTES: they are read again
// by each tile of taps; fashion-cnn's backward was 4-6 % slower with groups of 384 KB) and
// at most CV_DW_GROUP_BYTES of copies. conv2d-32x64x7x7-64k3 backward: 4.97 -> 4.4 ms.
enum { CV_DW_STEPS = 64, CV_DW_TILE_BYTES = 16 * 1024 };
#define CV_DW_GROUP_BYTES ((size_t)384 * 1024)

// Bytes rounded up to a cache line; false when a size overflows.
static bool cv_add(size_t *total, size_t a, size_t b, size_t es) {
    size_t bytes;
    if (__builtin_mul_overflow(a, b, &bytes) || __builtin_mul_overflow(bytes, es, &bytes) ||
        bytes > SIZE_MAX - 64 || __builtin_add_overflow(*total, (bytes + 63) & ~(size_t)63,
                                                        total))
        return false;
    return true;
}

typedef struct cv_plan {
    int64_t k, hp, wpitch, nseg;
    size_t es, lanes, shared, priv;   // bytes: the packed weights and offsets; per thread
    size_t wp_off, xp_off, dyp_off, g_off, mask_off, qx_off;   // in the scratch (shared
                                                               // first in thread 0's)
    int64_t ng, xs, ds;   // dw: images per group, elements from one image's copies to the next
    int64_t nflat;        // dw: vectors over the flat padded grid, when it goes flat (else 0)
} cv_plan;

static bool cv_make_plan(const tg_conv_desc *d, cv_plan *p) {
    *p = (cv_plan){0};   // the offsets a mode does not use stay 0
    p->es = d->dtype == TG_F64 ? 8 : 4;
    p->lanes = CV_VBYTES / p->es;
    p->k = d->ci * d->kh * d->kw;
    p->hp = d->oh + d->dh * (d->kh - 1);
    p->wpitch = d->ow + d->dw * (d->kw - 1);
    p->nseg = (d->ow + (int64_t)p->lanes - 1) / (int64_t)p->lanes;
    size_t k = (size_t)p->k, sh = 0, pr = 0;
    bool ok = cv_add(&sh, k, 1, sizeof(int64_t));   // offs
    p->wp_off = sh;
    if (d->mode != TG_CONV_DW)
        ok = ok && cv_add(&sh, (size_t)((d->co + CV_MR - 1) / CV_MR) * CV_MR, k, p->es);
    size_t plane, xb = 0, db = 0;   // one image's padded copy of x; of dy (dw)
    ok = ok && !__builtin_mul_overflow((size_t)p->hp, (size_t)p->wpitch, &plane);
    ok = ok && cv_add(&xb, (size_t)d->ci, plane, p->es) &&
         cv_add(&xb, p->lanes + (size_t)(d->dw * (d->kw - 1)), 1, p->es);
    // dw goes flat over the padded grid as the forward tiles do (an eighth fewer vectors)
    int64_t nflat = (d->oh * p->wpitch + (int64_t)p->lanes - 1) / (int64_t)p->lanes;
    int64_t dvec = d->oh * p->nseg;   // vectors per dy plane
    p->nflat = d->mode == TG_CONV_DW && nflat * 8 < dvec * 7 ? nflat : 0;
    if (p->nflat) dvec = nflat;
    if (d->mode == TG_CONV_DW)
        ok = ok && cv_add(&db, (size_t)d->co, (size_t)dvec * p->lanes, p->es);
    p->ng = 1;
    if (d->mode == TG_CONV_DW && ok) {   // CV_DW_STEPS vectors, within CV_DW_GROUP_BYTES
        size_t per = xb + db, tile = (size_t)(CV_MW * dvec) * CV_VBYTES;
        int64_t rows = dvec, fit = (int64_t)(CV_DW_GROUP_BYTES / per);
        if (fit > (int64_t)(CV_DW_TILE_BYTES / tile)) fit = (int64_t)(CV_DW_TILE_BYTES / tile);
        p->ng = rows > 0 ? (CV_DW_STEPS + rows - 1) / rows : 1;
        if (p->ng > fit) p->ng = fit;
        if (p->ng > d->n) p->ng = d->n;
        if (p->ng < 1) p->ng = 1;
    }
    p->xs = (int64_t)(xb / p->es), p->ds = (int64_t)(db / p->es);
    ok = ok && cv_add(&pr, (size_t)p->ng, xb, 1);
    p->dyp_off = pr;
    if (d->mode == TG_CONV_DW) {
        ok = ok && cv_add(&pr, (size_t)p->ng, db, 1);
        p->g_off = pr;
        size_t tiles = (size_t)((d->co + CV_MW - 1) / CV_MW) * (size_t)((p->k + CV_NK - 1) / CV_NK);
        ok = ok && cv_add(&pr, tiles * CV_MW * CV_NK, CV_VBYTES, 1);
        p->mask_off = pr;   // a lane mask and an x offset per vector of a dy plane
        ok = ok && cv_add(&pr, (size_t)dvec, CV_VBYTES, 1);
        p->qx_off = pr;
        ok = ok && cv_add(&pr, (size_t)dvec, sizeof(int64_t), 1);
    }
    p->xp_off = 0;
    p->shared = sh;
    p->priv = pr;
    return ok && !__builtin_add_overflow(sh, pr, &sh);
}

// Thread t's share of the images [i0, i1) and its scratch (thread 0's after the shared part).
static int cv_run_thread(const tg_conv_desc *d, const cv_plan *p, char *shared, int t, int nt,
                         void **g_out) {
    char *buf = t == 0 ? shared + p->shared : tg__cpu_scratch(p->priv);
    if (!buf) return TG_ERR_OOM;
    int64_t i0 = d->n * t / nt, i1 = d->n * (t + 1) / nt;
    const int64_t *offs = (const int64_t *)shared;
    const void *wp = shared + p->wp_off;
    void *xp = buf + p->xp_off;
    if (d->mode == TG_CONV_DW) {
        void *dyp = buf + p->dyp_off, *g = buf + p->g_off, *masks = buf + p->mask_off;
        int64_t *qx = (int64_t *)(buf + p->qx_off);
        memset(g, 0, p->mask_off - p->g_off);
        *g_out = g;
        if (d->dtype == TG_F64)
            dw_images_f64(d, offs, i0, i1, p->ng, xp, p->xs, dyp, p->ds, p->nflat, qx, masks, g);
        else
            dw_images_f32(d, offs, i0, i1, p->ng, xp, p->xs, dyp, p->ds, p->nflat, qx, masks, g);
    } else if (d->dtype == TG_F64) {
        fwd_images_f64(d, wp, offs, i0, i1, xp);
    } else {
        fwd_images_f32(d, wp, offs, i0, i1, xp);
    }
    return TG_OK;
}

static int tg_cpu_conv(void *ctx, const tg_conv_desc *d) {
    cv_plan p;
    if (!cv_make_plan(d, &p)) return TG_ERR_OOM;
    char *shared = tg__cpu_scratch(p.shared + p.priv);
    if (!shared) return TG_ERR_OOM;
    int64_t *offs = (int64_t *)shared;
    for (int64_t c = 0, t = 0; c < d->ci; c++)
        for (int64_t ki = 0; ki < d->kh; ki++)
            for (int64_t kj = 0; kj < d->kw; kj++)
                offs[t++] = (c * p.hp + ki * d->dh) * p.wpitch + kj * d->dw;
    if (d->mode != TG_CONV_DW) {
        int64_t mr = cv_panel_rows(d);
        if (d->dtype == TG_F64) pack_weights_f64(d, mr, (double *)(shared + p.wp_off));
        else pack_weights_f32(d, mr, (float *)(shared + p.wp_off));
    }
    void *gs[CV_MAX_THREADS] = {0};
    int nt = tg_cpu_threads(ctx), status = TG_OK;
    if (nt > d->n) nt = d->n > 0 ? (int)d->n : 1;
    if (nt > CV_MAX_THREADS) nt = CV_MAX_THREADS;
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), n = omp_get_num_threads();
            int st = cv_run_thread(d, &p, shared, t, n, &gs[t]);
            if (st) {
#pragma omp atomic write
                status = st;
            }
#pragma omp single
            nt = n;
        }
    } else
#endif
    {
        nt = 1;
        status = cv_run_thread(d, &p, shared, 0, 1, &gs[0]);
    }
    if (status || d->mode != TG_CONV_DW) return status;
    if (d->dtype == TG_F64) dw_reduce_f64(d, (cvd *const *)gs, nt);
    else dw_reduce_f32(d, (cvf *const *)gs, nt);
    return TG_OK;
}

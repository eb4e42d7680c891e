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
//
// Winograd F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
// 2016) for forward, dx and dw of 3x3 windows without dilation and WG_MIN_C or more channels
// in and out: each 2x2 block of outputs (a tile) from its 4x4 input patch d as A^T [(G g G^T) .
// (B^T d B)] A, 16 multiplications per tile and channel pair instead of 36 (winograd_impl.h).
// The 16 elements of the transformed kernels u and input tiles v make 16 products m[xi] =
// u[xi] (co x ci) v[xi] (ci x tiles), tiles in the vector lanes, in the direct kernel's
// register tile. A group of tile rows (of one or several images) at a time: its padded rows
// (split by column parity, so that a tile's columns 2tj.. are plain vector loads), v, m
// and the outputs, about WG_GROUP_BYTES. conv2d-32x64x7x7-64k3 forward: 0.88 -> 0.48-0.52
// ms (Zen 5, 1 thread), where im2col + gemm at 84 % of the FMA peak took 0.60 ms. dw is
// G^T [sum over tiles of (A dy A^T) . (B^T x B)] G: the same input tiles, dy's transformed
// with the output channels along a row, one product per element with the tiles as k, each
// thread its own sums (added in thread order).
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

// Winograd F(2x2, 3x3): the direct kernel's register tile (WG_MR channels x WG_NV vectors of
// tiles), over groups of tile rows whose v and m take about WG_GROUP_BYTES.
enum { WG_MR = CV_MR, WG_NV = CV_NV, WG_MIN_C = 16, WG_MIN_W = 4 };
#define WG_GROUP_BYTES ((size_t)512 * 1024)

typedef struct wg_plan {
    int64_t nth, ntw, ne;   // tile rows and columns of an image; columns of a padded half-row
    int64_t nob, gr, tp;    // channel panels; tile rows per group; v's and m's row pitch
    int64_t us, vs, ms;     // elements from one of the 16 planes of u, v, m to the next
                            // (dw: of its sums acc, v, z)
    size_t u_bytes, priv, m_off, pad_off, acc_off, dt_off;   // shared u; per thread v (at
                                                             // 0), m (dw: z), pad (, dw: acc,
                                                             // dt)
    int64_t dt_rows;   // dw: dt's rows (dy's positions of a group's rows in one image, and 1)
} wg_plan;

// The tile rows of one image from row r of a group ending at g1 (row r: tile row r % nth of
// image r / nth): how many, and that image and first tile row.
static inline int64_t wg_segment(int64_t nth, int64_t r, int64_t g1, int64_t *img,
                                 int64_t *ti0) {
    *img = r / nth, *ti0 = r % nth;
    return g1 - r < nth - *ti0 ? g1 - r : nth - *ti0;
}

enum { WG_NOT_FINITE = 1 };   // wg_conv: an output is not finite (the direct kernel redoes it)

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
#include "backends/cpu/winograd_impl.h"
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
#include "backends/cpu/winograd_impl.h"
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

// Runs run(arg, t, n) on t = 0 .. n-1, n = the backend's threads but at most one per image
// (and CV_MAX_THREADS); *nt = n. The status of a failing thread, else TG_OK.
static int cv_parallel(void *ctx, int64_t images, int (*run)(void *, int, int), void *arg,
                       int *nt_out) {
    int nt = tg_cpu_threads(ctx), status = TG_OK;
    if (nt > images) nt = images > 0 ? (int)images : 1;
    if (nt > CV_MAX_THREADS) nt = CV_MAX_THREADS;
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), n = omp_get_num_threads();
            int st = run(arg, t, n);
            if (st) {
#pragma omp atomic write
                status = st;
            }
#pragma omp single
            nt = n;
        }
        *nt_out = nt;
        return status;
    }
#endif
    *nt_out = 1;
    return run(arg, 0, 1);
}

typedef struct cv_job {
    const tg_conv_desc *d;
    const cv_plan *p;
    char *shared;
    void *gs[CV_MAX_THREADS];   // dw: each thread's sums
} cv_job;

// Thread t's share of the images [i0, i1) and its scratch (thread 0's after the shared part).
static int cv_run_thread(void *arg, int t, int nt) {
    cv_job *job = arg;
    const tg_conv_desc *d = job->d;
    const cv_plan *p = job->p;
    char *shared = job->shared;
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
        job->gs[t] = g;
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

// The direct kernel, every mode.
static int cv_direct(void *ctx, const tg_conv_desc *d) {
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
    cv_job job = {.d = d, .p = &p, .shared = shared};
    int nt, status = cv_parallel(ctx, d->n, cv_run_thread, &job, &nt);
    if (status || d->mode != TG_CONV_DW) return status;
    if (d->dtype == TG_F64) dw_reduce_f64(d, (cvd *const *)job.gs, nt);
    else dw_reduce_f32(d, (cvf *const *)job.gs, nt);
    return TG_OK;
}

// ---- Winograd F(2x2, 3x3) ----

static bool wg_fits(const tg_conv_desc *d) {
    return d->kh == 3 && d->kw == 3 && d->dh == 1 && d->dw == 1 && d->ci >= WG_MIN_C &&
           d->co >= WG_MIN_C && d->oh >= 2 && d->ow >= WG_MIN_W;
}

// dw: v's rows (input channels, whole panels of WG_MR) and z's output channels (whole vectors).
static int64_t wg_cip(const tg_conv_desc *d) {
    return (d->ci + WG_MR - 1) / WG_MR * WG_MR;
}
static int64_t wg_cov(const tg_conv_desc *d) {
    int64_t lanes = CV_VBYTES / (d->dtype == TG_F64 ? 8 : 4);
    return (d->co + lanes - 1) / lanes * lanes;
}

// Elements of a plane of n: an odd number of cache lines, so that the 16 planes' rows fall in
// 16 cache sets, not one (planes 4 KB apart evicted each other: conv2d-32x64x7x7-64k3's
// input transform ran ~8x slower).
static int64_t wg_plane(int64_t n, size_t es) {
    int64_t per = 64 / (int64_t)es, lines = (n + per - 1) / per;
    return (lines | 1) * per;
}

static bool wg_make_plan(const tg_conv_desc *d, wg_plan *p) {
    size_t es = d->dtype == TG_F64 ? 8 : 4, lanes = CV_VBYTES / es, row, pad;
    bool dw = d->mode == TG_CONV_DW;
    p->nth = (d->oh + 1) / 2, p->ntw = (d->ow + 1) / 2, p->ne = p->ntw + 1;
    p->nob = (d->co + WG_MR - 1) / WG_MR;
    int64_t cop = p->nob * WG_MR, rows = d->n * p->nth;   // rows: at most n * oh
    int64_t cip = wg_cip(d), cov = wg_cov(d);   // dw: v's rows, z's channels
    int64_t vr = dw ? cip : d->ci, mr = dw ? cov : cop;
    if (__builtin_mul_overflow((size_t)(16 * (vr + mr)), (size_t)p->ntw * es, &row))
        return false;   // bytes of v and m (z) per tile row
    p->gr = (int64_t)(WG_GROUP_BYTES / row);
    if (p->gr > rows) p->gr = rows;
    if (p->gr < 1) p->gr = 1;
    int64_t nvec = (p->gr * p->ntw + (int64_t)lanes - 1) / (int64_t)lanes;
    p->tp = (nvec + 1) * (int64_t)lanes;   // room for a row's last vector past the tiles
    int64_t nr = 2 * (p->gr < p->nth ? p->gr : p->nth) + 2;
    p->us = wg_plane(dw ? cip * cov : cop * d->ci, es), p->vs = wg_plane(vr * p->tp, es);
    p->ms = wg_plane(dw ? p->gr * p->ntw * cov : cop * p->tp, es);
    size_t u = 0, pr = 0;
    bool ok = dw || cv_add(&u, 16, (size_t)p->us, es);
    ok = ok && cv_add(&pr, 16, (size_t)p->vs, es);
    p->m_off = pr;
    ok = ok && cv_add(&pr, 16, (size_t)p->ms, es);
    p->acc_off = pr;
    ok = ok && (!dw || cv_add(&pr, 16, (size_t)p->us, es));
    p->dt_off = pr;
    p->dt_rows = dw ? (nr - 2) * d->ow + 1 : 0;   // nr - 2 = 2 * min(gr, nth) output rows
    ok = ok && cv_add(&pr, (size_t)p->dt_rows, (size_t)cov, es);
    p->pad_off = pr;
    ok = ok && !__builtin_mul_overflow((size_t)d->ci, (size_t)(nr * 2 * p->ne), &pad) &&
         cv_add(&pr, pad + lanes + 1, 1, es);
    p->u_bytes = u, p->priv = pr;
    return ok && !__builtin_add_overflow(u, pr, &u);
}

typedef struct wg_job {
    const tg_conv_desc *d;
    const wg_plan *p;
    char *shared;   // u, then thread 0's buffers
    bool finite[CV_MAX_THREADS];
    void *accs[CV_MAX_THREADS];   // dw: each thread's sums
} wg_job;

static int wg_run_thread(void *arg, int t, int nt) {
    wg_job *job = arg;
    const tg_conv_desc *d = job->d;
    const wg_plan *p = job->p;
    // this thread's panels of the transformed kernels, then every thread waits for all of
    // them (before anything that can fail: each thread must reach the barrier)
    // (dw: no kernels to transform)
    int64_t o0 = p->nob * t / nt * WG_MR, o1 = p->nob * (t + 1) / nt * WG_MR;
    if (d->mode != TG_CONV_DW && d->dtype == TG_F64)
        wg_weights_f64(d, o0, o1, p->us, (double *)job->shared);
    else if (d->mode != TG_CONV_DW)
        wg_weights_f32(d, o0, o1, p->us, (float *)job->shared);
#ifdef _OPENMP
#pragma omp barrier
#endif
    char *buf = t == 0 ? job->shared + p->u_bytes : tg__cpu_scratch(p->priv);
    if (!buf) return TG_ERR_OOM;
    int64_t r0 = d->n * t / nt * p->nth, r1 = d->n * (t + 1) / nt * p->nth;
    if (d->mode == TG_CONV_DW) {
        job->accs[t] = buf + p->acc_off;
        if (d->dtype == TG_F64)
            wg_dw_rows_f64(d, p, wg_cip(d), wg_cov(d), (double *)buf, (double *)(buf + p->m_off),
                           (double *)(buf + p->pad_off), job->accs[t],
                           (double *)(buf + p->dt_off), r0, r1);
        else
            wg_dw_rows_f32(d, p, wg_cip(d), wg_cov(d), (float *)buf, (float *)(buf + p->m_off),
                           (float *)(buf + p->pad_off), job->accs[t],
                           (float *)(buf + p->dt_off), r0, r1);
        return TG_OK;
    }
    if (d->dtype == TG_F64)
        job->finite[t] = wg_rows_f64(d, p, (const double *)job->shared, (double *)buf,
                                     (double *)(buf + p->m_off), (double *)(buf + p->pad_off),
                                     r0, r1);
    else
        job->finite[t] = wg_rows_f32(d, p, (const float *)job->shared, (float *)buf,
                                     (float *)(buf + p->m_off), (float *)(buf + p->pad_off),
                                     r0, r1);
    return TG_OK;
}

// TG_OK, or why the direct kernel must do it: TG_ERR_OOM, or WG_NOT_FINITE, as
// the transforms' sums can turn an infinity into a NaN or overflow where the direct sum
// does not: the direct kernel then gives every value (rare inputs; twice the time).
static int wg_conv(void *ctx, const tg_conv_desc *d) {
    wg_plan p;
    if (!wg_make_plan(d, &p)) return TG_ERR_OOM;
    char *shared = tg__cpu_scratch(p.u_bytes + p.priv);
    if (!shared) return TG_ERR_OOM;
    wg_job job = {.d = d, .p = &p, .shared = shared};
    int nt, status = cv_parallel(ctx, d->n, wg_run_thread, &job, &nt);
    if (status) return status;
    if (d->mode == TG_CONV_DW)
        return (d->dtype == TG_F64 ? wg_dw_out_f64(d, &p, wg_cov(d), (double *const *)job.accs, nt)
                                   : wg_dw_out_f32(d, &p, wg_cov(d), (float *const *)job.accs, nt))
                   ? TG_OK
                   : WG_NOT_FINITE;
    for (int t = 0; t < nt; t++)
        if (!job.finite[t]) return WG_NOT_FINITE;
    return TG_OK;
}

static int tg_cpu_conv(void *ctx, const tg_conv_desc *d) {
    if (wg_fits(d) && wg_conv(ctx, d) == TG_OK) return TG_OK;
    return cv_direct(ctx, d);
}

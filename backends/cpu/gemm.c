// cpu gemm through BLIS's typed expert API: row and column strides express transposes
// (no copies); a local rntm_t carries the thread count and the context of the kernel set
// cpu_select.c chose is passed explicitly (no global BLIS state is touched).
#include <blis.h>
#ifdef __AVX__
#include <immintrin.h>
#endif

#include "backends/cpu/cpu_internal.h"

// Products below this many multiply-adds run on one thread: BLIS's team start and barriers
// cost more than a second core saves there (mem-floor's batch-1 products, 1 x 1024 x 1024,
// took twice as long on 2 threads as on 1).
#define PAR_MIN_MACS (4.0 * 1024 * 1024)

// B stored transposed (b_rs == 1) under a row-major C: BLIS packs B in panels that run along
// C's rows, so it reads B one strided element at a time, and with a leading dimension of a
// multiple of 1 KiB floats the 32 rows a panel column touches share one L1 set. perf on
// Zen 5 (2026-12-06): the gather was 33 % of conv2d-32x16x32x32-32k3's backward (dW = dY
// cols^T) and 10 % of the mnist-mlp step (Linear's x W^T). Products on BLIS's packed path
// copy such a B once into row-major scratch by 16 x 16 blocks instead (k*n reads and writes,
// against m*n*k multiply-adds), and BLIS then packs with contiguous copies (f64, and
// builds without AVX-512). In AVX-512 builds, float products skip that copy and BLIS's
// packing both: tapegrad packs the two operands itself for BLIS's microkernel (gemm_own.c;
// x W^T first: mnist-mlp's forward 5.53 -> 5.19 ms on 1 thread, wide's 85.1 -> 77.1 ms on
// 2, Zen 5, 2026-12-06; then every layout: its 2-thread backward 5.25 -> 4.88 ms, 12-07).
enum { TRANSPOSE_MIN = 32 };   // m, n at least this (smaller ones take BLIS's sup path)

// The scratch's leading dimension: n rounded up to whole lines, and never a multiple of 1 KiB,
// whose rows would share L1 sets: a 1024 x 784 transpose took 760 us with rows 4 KiB apart
// and 76 us with 4160 bytes (Zen 5, 2026-12-06).
static int64_t transpose_ld(int64_t n, size_t esize) {
    int64_t line = 64 / (int64_t)esize, ld = (n + line - 1) / line * line;
    return (ld * (int64_t)esize) % 1024 == 0 ? ld + line : ld;
}

static bool wants_transpose(const tg_gemm_desc *d) {
    return d->c_cs == 1 && d->b_rs == 1 && d->b_cs != 1 && d->m >= TRANSPOSE_MIN &&
           d->n >= TRANSPOSE_MIN && d->k >= 8;
}

#ifdef __AVX512F__
// The narrow kernel (gemm_narrow.c, AVX-512 builds) is single-threaded: with more threads
// it keeps only products BLIS would run on one.
static bool use_narrow(const tg_cpu_ctx *c, const tg_gemm_desc *d) {
    return tg_cpu_gemm_is_narrow(d) &&
           (c->n_threads <= 1 || (double)d->m * (double)d->n * (double)d->k < PAR_MIN_MACS);
}
#endif

// The epilogue on the block [m0, m1) x [n0, n1) of batch entry b's C: seed (C = bias,
// before a gemm with beta 1), or the bias (add_bias) and ReLU after the gemm. Rows of a
// row-major C are unit-stride loops with the case chosen outside them (they vectorise).
#define EP_LOOP(T)                                                                        \
    do {                                                                                  \
        T *cb = (T *)d->c + b * d->c_bs;                                                  \
        const T *bias = add_bias ? (const T *)e->bias : NULL;                             \
        const T *cbias = bias && !e->bias_rows ? bias + n0 : NULL;                        \
        int64_t cs = d->c_cs, w = n1 - n0;                                                \
        for (int64_t i = m0; i < m1; i++) {                                               \
            T *restrict cr = cb + i * d->c_rs + n0 * cs;                                  \
            T rb = bias && e->bias_rows ? bias[i] : 0;                                    \
            if (cs != 1) {                                                                \
                for (int64_t j = 0; j < w; j++) {                                         \
                    T v = (seed ? 0 : cr[j * cs]) + rb + (cbias ? cbias[j] : 0);          \
                    cr[j * cs] = relu ? (v > 0 ? v : 0) : v;                              \
                }                                                                         \
            } else if (seed && cbias) {                                                   \
                for (int64_t j = 0; j < w; j++) cr[j] = cbias[j] + rb;                    \
            } else if (seed) {                                                            \
                for (int64_t j = 0; j < w; j++) cr[j] = rb;                               \
            } else if (cbias) {                                                           \
                for (int64_t j = 0; j < w; j++) {                                         \
                    T v = cr[j] + rb + cbias[j];                                          \
                    cr[j] = relu ? (v > 0 ? v : 0) : v;                                   \
                }                                                                         \
            } else if (relu) {                                                            \
                for (int64_t j = 0; j < w; j++) {                                         \
                    T v = cr[j] + rb;                                                     \
                    cr[j] = v > 0 ? v : 0;                                                \
                }                                                                         \
            } else {                                                                      \
                for (int64_t j = 0; j < w; j++) cr[j] += rb;                              \
            }                                                                             \
        }                                                                                 \
    } while (0)

static void ep_block(const tg_gemm_desc *d, const tg_gemm_ep *e, int64_t b, int64_t m0,
                     int64_t m1, int64_t n0, int64_t n1, bool seed, bool add_bias, bool relu) {
    if (d->dtype == TG_F64) EP_LOOP(double);
    else EP_LOOP(float);
}
#undef EP_LOOP

// e's epilogue around a gemm on a block of C that does not do it in its store: with a bias
// and beta 0 the bias seeds C and the gemm adds to it (one pass fewer; ep_gemm_desc gives
// beta 1), else the bias is added after the gemm, as ReLU is.
static bool ep_seeds(const tg_gemm_desc *d, const tg_gemm_ep *e) {
    return e && e->bias && d->beta == 0;
}

static tg_gemm_desc ep_gemm_desc(const tg_gemm_desc *d, const tg_gemm_ep *e) {
    tg_gemm_desc g = *d;
    if (ep_seeds(d, e)) g.beta = 1;
    return g;
}

static void ep_before(const tg_gemm_desc *d, const tg_gemm_ep *e, int64_t b, int64_t m0,
                      int64_t m1, int64_t n0, int64_t n1) {
    if (ep_seeds(d, e)) ep_block(d, e, b, m0, m1, n0, n1, true, true, false);
}

static void ep_after(const tg_gemm_desc *d, const tg_gemm_ep *e, int64_t b, int64_t m0,
                     int64_t m1, int64_t n0, int64_t n1) {
    bool relu = e && e->act == TG_GEMM_ACT_RELU, bias = e && e->bias && !ep_seeds(d, e);
    if (bias || relu) ep_block(d, e, b, m0, m1, n0, n1, false, bias, relu);
}

// The block [m0, m1) x [n0, n1) of batch entry b's C through BLIS, B (its columns from 0)
// read at bp with the strides given.
static void blis_only(const tg_gemm_desc *d, int64_t b, const char *bp, inc_t b_rs, inc_t b_cs,
                      int64_t m0, int64_t m1, int64_t n0, int64_t n1, cntx_t *cntx,
                      rntm_t *rntm) {
    int64_t ao = b * d->a_bs + m0 * d->a_rs, co = b * d->c_bs + m0 * d->c_rs + n0 * d->c_cs;
    if (d->dtype == TG_F64) {
        double alpha = d->alpha, beta = d->beta;
        bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m1 - m0, n1 - n0, d->k, &alpha,
                     (double *)d->a + ao, d->a_rs, d->a_cs, (double *)bp + n0 * b_cs, b_rs,
                     b_cs, &beta, (double *)d->c + co, d->c_rs, d->c_cs, cntx, rntm);
    } else {
        float alpha = (float)d->alpha, beta = (float)d->beta;
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m1 - m0, n1 - n0, d->k, &alpha,
                     (float *)d->a + ao, d->a_rs, d->a_cs, (float *)bp + n0 * b_cs, b_rs, b_cs,
                     &beta, (float *)d->c + co, d->c_rs, d->c_cs, cntx, rntm);
    }
}

// The same with e's epilogue (NULL: none) around it.
static void blis_block(const tg_gemm_desc *d, const tg_gemm_ep *e, int64_t b, const char *bp,
                       inc_t b_rs, inc_t b_cs, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                       cntx_t *cntx, rntm_t *rntm) {
    if (m1 <= m0 || n1 <= n0) return;
    tg_gemm_desc g = ep_gemm_desc(d, e);
    ep_before(d, e, b, m0, m1, n0, n1);
    blis_only(&g, b, bp, b_rs, b_cs, m0, m1, n0, n1, cntx, rntm);
    ep_after(d, e, b, m0, m1, n0, n1);
}

#ifdef __AVX512F__
// A short C of a few columns, from a long k: a weight gradient dW = dy^T x of a layer with
// two inputs, or of a two-class output layer (seed-moons' 20 x 8000 x 2). The narrow
// kernel holds C's columns in its lanes, 2 of 16 here; C^T = B^T A^T holds C's rows, 20 of
// 32: that product into a scratch block, then C from it with beta, the bias and ReLU as
// around a BLIS block (33-40 against 23 us for that one, Zen 5, 1 thread).
enum { FLIP_MAX_M = 64, FLIP_MAX_N = 4, FLIP_MIN_K = 64 };

static bool narrow_flips(const tg_gemm_desc *d) {
    int64_t wide = d->dtype == TG_F64 ? FLIP_MAX_M / 2 : FLIP_MAX_M;   // (C^T: four vectors)
    return d->n <= FLIP_MAX_N && d->m > d->n && d->m <= wide && d->k >= FLIP_MIN_K;
}

// C = t^T + beta C for one batch entry, t (C^T) row-major at buf.
#define FLIP_STORE(T)                                                                      \
    do {                                                                                   \
        const T *tt = (const T *)buf;                                                      \
        T *cb = (T *)d->c + bi * d->c_bs, beta = (T)g.beta;                                \
        for (int64_t i = 0; i < d->m; i++)                                                 \
            for (int64_t j = 0; j < d->n; j++) {                                           \
                T *cij = cb + i * d->c_rs + j * d->c_cs;                                   \
                *cij = tt[j * d->m + i] + (beta != 0 ? beta * *cij : 0);                   \
            }                                                                              \
    } while (0)

// The bias and ReLU go around it as around a BLIS block (ep_before, ep_after).
static void narrow_flipped(const tg_gemm_desc *d, const tg_gemm_ep *e) {
    _Alignas(64) double buf[FLIP_MAX_M * FLIP_MAX_N];   // C^T, row-major (floats or doubles)
    size_t es = d->dtype == TG_F64 ? sizeof(double) : sizeof(float);
    tg_gemm_desc g = ep_gemm_desc(d, e);
    for (int64_t bi = 0; bi < d->batch; bi++) {
        tg_gemm_desc t = {.dtype = d->dtype, .m = d->n, .n = d->m, .k = d->k, .batch = 1,
                          .alpha = d->alpha, .beta = 0,
                          .a = (const char *)d->b + (size_t)(bi * d->b_bs) * es,
                          .a_rs = d->b_cs, .a_cs = d->b_rs,
                          .b = (const char *)d->a + (size_t)(bi * d->a_bs) * es,
                          .b_rs = d->a_cs, .b_cs = d->a_rs, .c = buf, .c_rs = d->m, .c_cs = 1};
        tg_cpu_gemm_narrow(&t, NULL);
        ep_before(d, e, bi, 0, d->m, 0, d->n);
        if (d->dtype == TG_F64) FLIP_STORE(double);
        else FLIP_STORE(float);
        ep_after(d, e, bi, 0, d->m, 0, d->n);
    }
}
#undef FLIP_STORE

// Float products past the small and narrow kernels: tapegrad packs them and runs BLIS's
// microkernel (gemm_own.c). Also those with only a few rows of C (at least 8), which
// BLIS's small-matrix path took: a weight gradient with 10 classes, 10 x 1024 x 256, in
// 57 against 71 us, and one allocation of libgomp's one-thread team less (Zen 5, 1 thread).
static bool use_own(const tg_gemm_desc *d) {
    return own_takes(d) && d->m >= 8 && d->n >= TRANSPOSE_MIN && d->k >= 8;
}

typedef struct own_ep_arg {
    const tg_gemm_desc *d;
    const tg_gemm_ep *e;
    int64_t b;
    cntx_t *cntx;
    rntm_t *rntm;
} own_ep_arg;

// e's bias and activation on one tile of C that own_gemm_f32 has just finished.
static void own_tile_ep(void *arg, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const own_ep_arg *a = arg;
    ep_block(a->d, a->e, a->b, i0, i1, j0, j1, false, a->e->bias != NULL,
             a->e->act == TG_GEMM_ACT_RELU);
}

// own_gemm_f32's way out where its scratch is not to be had: BLIS, C's block [i0, i1) x
// [j0, j1), with the epilogue around it.
static void own_fallback(void *arg, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const own_ep_arg *a = arg;
    const tg_gemm_desc *d = a->d;
    tg_gemm_desc g = ep_gemm_desc(d, a->e);
    ep_before(d, a->e, a->b, i0, i1, j0, j1);
    blis_only(&g, a->b, (const char *)d->b + (size_t)(a->b * d->b_bs) * sizeof(float), d->b_rs,
              d->b_cs, i0, i1, j0, j1, a->cntx, a->rntm);
    ep_after(d, a->e, a->b, i0, i1, j0, j1);
}

// blis_block for those: own_gemm_f32 with e's epilogue applied tile by tile while the tile
// is in L1 (no pass over C before or after); with q, the threads of the product share the
// block (gemm_own.c's own_queue).
static void own_block(const tg_gemm_desc *d, const tg_gemm_ep *e, int64_t b, int64_t m0,
                      int64_t m1, int64_t n0, int64_t n1, cntx_t *cntx, rntm_t *rntm,
                      own_queue *q, int nt) {
    if (m1 <= m0 || n1 <= n0) return;
    own_ep_arg arg = {d, e, b, cntx, rntm};
    own_gemm_f32(d, b, m0, m1, n0, n1, cntx, e ? own_tile_ep : NULL, own_fallback, &arg, q, nt);
}
#endif

// B's columns [n0, n1) of one batch entry (rows of the stored B^T at bp) transposed into bt.
static void transpose_part(const tg_gemm_desc *d, const char *bp, void *bt, int64_t ldt,
                           int64_t n0, int64_t n1) {
    if (n1 <= n0) return;
    if (d->dtype == TG_F64)
        transpose_f64((const double *)bp + n0 * d->b_cs, d->b_cs, n1 - n0, d->k,
                      (double *)bt + n0, ldt);
    else
        transpose_f32((const float *)bp + n0 * d->b_cs, d->b_cs, n1 - n0, d->k,
                      (float *)bt + n0, ldt);
}

// With several threads, large products are split between them by us, each thread running
// BLIS on one thread over its block of C: BLIS's own 2-thread split of mnist-mlp's forward
// (256 x 1024 x 784) ran at 53 % of the 2-core FMA peak, behind its barriers and our serial
// transpose of B. The longer of C's sides is split, so that the operand both threads pack
// whole is the smaller one; split by columns, each thread transposes only its own columns
// of B. Blocks are multiples of 32 (whole register tiles and cache lines).
enum { SPLIT_UNIT = 32 };

#ifdef _OPENMP
static void gemm_split(const tg_gemm_desc *d, const tg_gemm_ep *e, int nt, bool own_pack,
                       void *bt, int64_t ldt, cntx_t *cntx) {
    size_t esize = d->dtype == TG_F64 ? sizeof(double) : sizeof(float);
    bool by_rows = d->m >= d->n;
    // Own packing shares the side of the microkernel's rows by chunks handed out as the
    // threads come for them (gemm_own.c's own_queue), the other side in fixed shares.
#ifdef __AVX512F__
    bool shared = own_pack && by_rows == own_a_rows(d, cntx);
#endif
    int64_t len = by_rows ? d->m : d->n, units = (len + SPLIT_UNIT - 1) / SPLIT_UNIT;
    for (int64_t b = 0; b < d->batch; b++) {
        const char *bp = (const char *)d->b + (size_t)(b * d->b_bs) * esize;
        bool fresh = bt && (b == 0 || d->b_bs != 0);
#ifdef __AVX512F__
        own_queue q = {0};
#endif
#pragma omp parallel num_threads(nt)
        {
            int64_t t = omp_get_thread_num(), tn = omp_get_num_threads();
            int64_t lo = units * t / tn * SPLIT_UNIT, hi = units * (t + 1) / tn * SPLIT_UNIT;
            hi = hi < len ? hi : len;
            rntm_t one = BLIS_RNTM_INITIALIZER;
            bli_rntm_set_num_threads(1, &one);
            if (own_pack) {   // (only in AVX-512 builds)
#ifdef __AVX512F__
                bool queue = shared;
                if (shared) {   // every thread's scratch first, or no queue (a chunk claimed
                    // by a thread without would be lost)
                    own_plan pl = own_make_plan(d, d->m, d->n, cntx, true, (int)tn);
                    if (!own_scratch(&pl)) atomic_store(&q.lacking, 1);
#pragma omp barrier
                    queue = !atomic_load(&q.lacking);
                }
                if (queue) own_block(d, e, b, 0, d->m, 0, d->n, cntx, &one, &q, (int)tn);
                else if (by_rows) own_block(d, e, b, lo, hi, 0, d->n, cntx, &one, NULL, 1);
                else own_block(d, e, b, 0, d->m, lo, hi, cntx, &one, NULL, 1);
#endif
            } else {
                if (fresh && by_rows) {   // every thread reads all of B: transpose it together
                    transpose_part(d, bp, bt, ldt, d->n * t / tn, d->n * (t + 1) / tn);
#pragma omp barrier
                } else if (fresh) {
                    transpose_part(d, bp, bt, ldt, lo, hi);
                }
                const char *src = bt ? bt : bp;
                inc_t rs = bt ? ldt : d->b_rs, cs = bt ? 1 : d->b_cs;
                if (by_rows) blis_block(d, e, b, src, rs, cs, lo, hi, 0, d->n, cntx, &one);
                else blis_block(d, e, b, src, rs, cs, 0, d->m, lo, hi, cntx, &one);
            }
        }
    }
}
#endif

// Thin products (gemm_thin.c): C's block of the canonical product t (d itself, or d with C
// transposed) between e's epilogue, which is applied in d's coordinates.
static void thin_part(const tg_gemm_desc *d, const tg_gemm_ep *e, const tg_gemm_desc *t,
                      bool tr, int64_t b, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    int64_t m0 = tr ? j0 : i0, m1 = tr ? j1 : i1, n0 = tr ? i0 : j0, n1 = tr ? i1 : j1;
    ep_before(d, e, b, m0, m1, n0, n1);
    thin_block(t, b, i0, i1, j0, j1);
    ep_after(d, e, b, m0, m1, n0, n1);
}

// On several threads the longer side the kernel allows (columns, or the rows of an outer
// product) is cut into about four pieces a thread, handed out as threads come for them:
// these products are bound by memory, and this machine's two vCPUs read it at different
// speeds (see gemm_own.c's own_queue for the same with compute).
static void thin_gemm(int nt, const tg_gemm_desc *d, const tg_gemm_ep *e) {
    tg_gemm_desc g = ep_gemm_desc(d, e), t = thin_canonical(&g);
    int64_t least;
    bool tr = thin_transposes(d), by_rows = thin_split(&t, nt, &least);
    int64_t len = by_rows ? t.m : t.n, piece = len / (4 * (int64_t)nt);
    piece = piece < least ? least : (piece + 3) / 4 * 4;
    int64_t pieces = (len + piece - 1) / piece;
    for (int64_t b = 0; b < d->batch; b++) {
        if (nt <= 1 || pieces < 2) {
            thin_part(d, e, &t, tr, b, 0, t.m, 0, t.n);
            continue;
        }
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
#endif
        for (int64_t u = 0; u < pieces; u++) {
            int64_t lo = u * piece, hi = lo + piece < len ? lo + piece : len;
            if (by_rows) thin_part(d, e, &t, tr, b, lo, hi, 0, t.n);
            else thin_part(d, e, &t, tr, b, 0, t.m, lo, hi);
        }
    }
}

// C = alpha A B + beta C, then e's epilogue (NULL: none): the narrow kernel (with the
// epilogue in its store), the small one, or BLIS, split between threads by us or run by it.
static int gemm_run(tg_cpu_ctx *c, const tg_gemm_desc *d, const tg_gemm_ep *e) {
    if (e && !e->bias && e->act == TG_GEMM_ACT_NONE) e = NULL;
#ifdef __AVX512F__
    if (use_narrow(c, d)) {   // (two columns or so of C: the tall kernel, rows in lanes)
        if (tg_cpu_gemm_is_tall(d)) tg_cpu_gemm_tall(d, e);
        else if (narrow_flips(d)) narrow_flipped(d, e);
        else tg_cpu_gemm_narrow(d, e);
        return TG_OK;
    }
#endif
    if (tg_cpu_gemm_is_small(d)) {
        tg_gemm_desc g = ep_gemm_desc(d, e);
        for (int64_t b = 0; e && b < d->batch; b++) ep_before(d, e, b, 0, d->m, 0, d->n);
        tg_cpu_gemm_small(&g);
        for (int64_t b = 0; e && b < d->batch; b++) ep_after(d, e, b, 0, d->m, 0, d->n);
        return TG_OK;
    }
    bool small = (double)d->m * (double)d->n * (double)d->k < PAR_MIN_MACS;
    int nt = c->n_threads > 1 && !small ? c->n_threads : 1;
    if (tg_cpu_gemm_is_thin(d)) {
        thin_gemm(nt, d, e);
        return TG_OK;
    }
    cntx_t *cntx = c->blis_cntx;
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    size_t esize = d->dtype == TG_F64 ? sizeof(double) : sizeof(float);
    int64_t ldt = transpose_ld(d->n, esize);
#ifdef __AVX512F__
    bool own_pack = use_own(d);
#else
    bool own_pack = false;
#endif
    void *bt = !own_pack && wants_transpose(d) ? tg__cpu_scratch((size_t)(d->k * ldt) * esize)
                                               : NULL;
#ifdef _OPENMP
    // (a side of at least one SPLIT_UNIT a thread: the private BLIS is Debian's serial
    // build where installed, so a product not split here runs on one thread)
    if (nt > 1 && (d->m >= d->n ? d->m : d->n) >= SPLIT_UNIT * nt) {
        gemm_split(d, e, nt, own_pack, bt, ldt, cntx);
        return TG_OK;
    }
#endif
#ifdef __AVX512F__
    if (own_pack && nt == 1) {
        for (int64_t b = 0; b < d->batch; b++)
            own_block(d, e, b, 0, d->m, 0, d->n, cntx, &rntm, NULL, 1);
        return TG_OK;
    }
#endif
    bli_rntm_set_num_threads(nt, &rntm);
    for (int64_t b = 0; b < d->batch; b++) {
        const char *bp = (const char *)d->b + (size_t)(b * d->b_bs) * esize;
        if (bt && (b == 0 || d->b_bs != 0)) transpose_part(d, bp, bt, ldt, 0, d->n);
        blis_block(d, e, b, bt ? bt : bp, bt ? ldt : d->b_rs, bt ? 1 : d->b_cs, 0, d->m, 0,
                   d->n, cntx, &rntm);
    }
    return TG_OK;
}

static int tg_cpu_gemm(void *ctx, const tg_gemm_desc *d) { return gemm_run(ctx, d, NULL); }

// gemm with an epilogue (backend_impl.h's gemm_ep).
static int tg_cpu_gemm_ep(void *ctx, const tg_gemm_desc *d, const tg_gemm_ep *e) {
    return gemm_run(ctx, d, e);
}

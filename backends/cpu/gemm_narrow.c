// Narrow gemm for AVX-512 builds: C [m, n] with n at most four vectors (64 floats, 32
// doubles), any m and k. The skinny products of small MLPs at large batch: a linear
// layer's y = x W^T (n = its width), dx = dy W, and dW = dy^T x with k = the batch (seed-
// moons: 8000 x 20 x 20 and 20 x 20 x 8000; tiny-sgd's 10 x 20 x 40). A row of C is one to
// four zmm accumulators (the last masked), 12 rows a tile (8 for three vectors, 6 for
// four), so A is read once, in place, B is one packed panel per 256-deep block (128 for
// three or four vectors), and no tile has an edge path: masked loads and stores take the
// tail. The store also applies the epilogue of gemm_ep (a bias along C's rows or columns,
// ReLU).
#ifdef __AVX512F__
#include <immintrin.h>

enum { NW_KC = 256 };

// A B stored transposed (a linear layer's W in x W^T: row j of W is column j of B) into
// the panel's rows of w = nv*L, zero past n. Floats: transpose.c's 16 x 16 register blocks
// (with scalar tails this was 18 % of tiny-sgd's step, Zen 5, 2026-12-06).
static void nw_pack_t_f32(int64_t kc, int64_t n, int nv, const float *b, int64_t b_cs,
                          float *restrict bp) {
    pack_t_f32(b, b_cs, n, kc, (int64_t)nv * 16, bp);
}

// Doubles (not a speed target): transpose.c's blocked copy, then the padding.
static void nw_pack_t_f64(int64_t kc, int64_t n, int nv, const double *b, int64_t b_cs,
                          double *restrict bp) {
    int64_t w = (int64_t)nv * 8, tail = n - (int64_t)(nv - 1) * 8;
    transpose_f64(b, b_cs, n, kc, bp, w);
    __mmask8 m = (__mmask8)(tail >= 8 ? 0xFF : (1u << tail) - 1);
    for (int64_t k = 0; k < kc; k++) {
        double *o = bp + k * w + (nv - 1) * 8;
        _mm512_storeu_pd(o, _mm512_maskz_loadu_pd(m, o));
    }
}

// e as the tile from row i sees it: a row bias starts at the tile's row (in shifted).
static inline const tg_gemm_ep *nw_tile_ep(const tg_gemm_ep *e, int64_t i, size_t es,
                                           tg_gemm_ep *shifted) {
    if (!e || !e->bias || !e->bias_rows) return e;
    *shifted = *e;
    shifted->bias = (const char *)e->bias + i * (int64_t)es;
    return shifted;
}

#define T float
#define VT __m512
#define L 16
#define SUF _f32
#define NW_MASK(cnt) ((__mmask16)((cnt) >= 16 ? 0xFFFF : (1u << (cnt)) - 1))
#define VLD(p) _mm512_loadu_ps(p)
#define VLDM(m, p) _mm512_maskz_loadu_ps(m, p)
#define VST(p, v) _mm512_storeu_ps(p, v)
#define VSTM(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VZERO() _mm512_setzero_ps()
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VMAX(a, b) _mm512_max_ps(a, b)
#include "backends/cpu/gemm_narrow_impl.h"   // (it undefines these)

#define T double
#define VT __m512d
#define L 8
#define SUF _f64
#define NW_MASK(cnt) ((__mmask8)((cnt) >= 8 ? 0xFF : (1u << (cnt)) - 1))
#define VLD(p) _mm512_loadu_pd(p)
#define VLDM(m, p) _mm512_maskz_loadu_pd(m, p)
#define VST(p, v) _mm512_storeu_pd(p, v)
#define VSTM(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define VSET1(x) _mm512_set1_pd(x)
#define VZERO() _mm512_setzero_pd()
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VMUL(a, b) _mm512_mul_pd(a, b)
#define VADD(a, b) _mm512_add_pd(a, b)
#define VMAX(a, b) _mm512_max_pd(a, b)
#include "backends/cpu/gemm_narrow_impl.h"   // (it undefines these)

// Floats, 16 < n <= 20 (seed-moons' and tiny-sgd's 20-wide layers): as two vectors a row, the
// second used 4 lanes of 16, and each row's multiply-add into it cost as much as a whole
// vector's. Here columns 16..19 of four rows share one vector (lane 4j + c: row j, column
// 16 + c): the packed B's second vector a row is B[k, 16..19] four times, and A's four
// broadcasts are blended into one. A tile of 4G rows (G = 1..3) takes 4G + G multiply-adds a
// k instead of 8G, and 3G blends.
static inline __attribute__((always_inline)) __m512 n20_quad(__m512 x0, __m512 x1, __m512 x2,
                                                             __m512 x3) {
    __m512 v = _mm512_mask_blend_ps(0x00F0, x0, x1);
    v = _mm512_mask_blend_ps(0x0F00, v, x2);
    return _mm512_mask_blend_ps(0xF000, v, x3);
}

// The 4G x n tile at c, as nw_tile (rows past mr re-read row mr-1 of A, their sums dropped).
static inline __attribute__((always_inline)) void
n20_tile(const int G, int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
         const float *restrict bp, int64_t mr, int64_t n, float alpha, float beta, bool first,
         bool last, const tg_gemm_ep *e, float *c, int64_t c_rs) {
    __m512 acc[12], acq[3], x[12];
    int64_t ro[12];
#pragma GCC unroll 12
    for (int r = 0; r < 4 * G; r++) ro[r] = (r < mr ? r : mr - 1) * a_rs;
#pragma GCC unroll 12
    for (int r = 0; r < 4 * G; r++) acc[r] = _mm512_setzero_ps();
#pragma GCC unroll 3
    for (int g = 0; g < G; g++) acq[g] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const float *ak = a + k * a_cs;
        __m512 b0 = _mm512_load_ps(bp + k * 32), b1 = _mm512_load_ps(bp + k * 32 + 16);
#pragma GCC unroll 12
        for (int r = 0; r < 4 * G; r++) {
            x[r] = _mm512_set1_ps(a_rs == 1 ? ak[r < mr ? r : mr - 1] : ak[ro[r]]);
            acc[r] = _mm512_fmadd_ps(x[r], b0, acc[r]);
        }
#pragma GCC unroll 3
        for (int g = 0; g < G; g++)
            acq[g] = _mm512_fmadd_ps(n20_quad(x[4 * g], x[4 * g + 1], x[4 * g + 2], x[4 * g + 3]),
                                     b1, acq[g]);
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta), zero = _mm512_setzero_ps();
    const __mmask16 tail = (__mmask16)((1u << (n - 16)) - 1);   // columns 16.. of a row
    __m512 cb0 = zero, cb1 = zero;
    if (first && e && e->bias && !e->bias_rows) {   // a bias along C's columns
        const float *bias = e->bias;
        cb0 = _mm512_loadu_ps(bias);
        cb1 = _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(tail, bias + 16));
    }
    bool relu = last && e && e->act == TG_GEMM_ACT_RELU, row_bias = first && e && e->bias &&
                                                                    e->bias_rows;
    const float *rbias = row_bias ? e->bias : NULL;
    // every read of C before the first store (see nw_tile)
#pragma GCC unroll 12
    for (int r = 0; r < 4 * G; r++) {
        if (r >= mr) break;
        __m512 v = _mm512_mul_ps(va, acc[r]);
        if (!first || beta != 0) {
            __m512 o = _mm512_loadu_ps(c + r * c_rs);
            v = first ? _mm512_fmadd_ps(vb, o, v) : _mm512_add_ps(v, o);
        }
        if (first)
            v = _mm512_add_ps(v, _mm512_add_ps(cb0, rbias ? _mm512_set1_ps(rbias[r]) : zero));
        if (relu) v = _mm512_max_ps(v, zero);
        acc[r] = v;
    }
#pragma GCC unroll 3
    for (int g = 0; g < G; g++) {
        __m512 v = _mm512_mul_ps(va, acq[g]);
        if (!first || beta != 0) {   // lanes 4j..4j+3 from row 4g + j's columns 16..
            __m512 o = zero;
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                if (4 * g + j < mr)
                    o = _mm512_mask_loadu_ps(o, (__mmask16)(tail << (4 * j)),
                                             c + (4 * g + j) * c_rs + 16 - 4 * j);
            v = first ? _mm512_fmadd_ps(vb, o, v) : _mm512_add_ps(v, o);
        }
        if (first) {
            __m512 rb = zero;
            if (rbias) {
                int64_t r0 = 4 * g, l = mr - 1;
                rb = n20_quad(_mm512_set1_ps(rbias[r0 < l ? r0 : l]),
                              _mm512_set1_ps(rbias[r0 + 1 < l ? r0 + 1 : l]),
                              _mm512_set1_ps(rbias[r0 + 2 < l ? r0 + 2 : l]),
                              _mm512_set1_ps(rbias[r0 + 3 < l ? r0 + 3 : l]));
            }
            v = _mm512_add_ps(v, _mm512_add_ps(cb1, rb));
        }
        if (relu) v = _mm512_max_ps(v, zero);
        acq[g] = v;
    }
#pragma GCC unroll 12
    for (int r = 0; r < 4 * G; r++) {
        if (r >= mr) break;
        _mm512_storeu_ps(c + r * c_rs, acc[r]);
        _mm512_mask_storeu_ps(c + r * c_rs + 16 - 4 * (r % 4), (__mmask16)(tail << (4 * (r % 4))),
                              acq[r / 4]);
    }
}

// C [m, n] = alpha A B + beta C (+ e's epilogue) for floats with 16 < n <= 20, in 256-deep k
// blocks (a 32 KiB panel) and tiles of 12 rows (4 or 8 for the last few).
static void gemm_narrow20_f32(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                              int64_t a_rs, int64_t a_cs, const float *b, int64_t b_rs,
                              int64_t b_cs, float beta, float *c, int64_t c_rs,
                              const tg_gemm_ep *e) {
    _Alignas(64) float bp[NW_KC * 32];
    int64_t p = 0;
    do {   // k == 0 still takes one (empty) block: C = beta*C + bias, activation
        int64_t kc = k - p < NW_KC ? k - p : NW_KC;
        bool first = p == 0, last = p + kc >= k;
        nw_pack_f32(kc, n, 2, b + p * b_rs, b_rs, b_cs, bp);
        for (int64_t q = 0; q < kc; q++)   // columns 16..19 (zero past n) four times
            _mm512_store_ps(bp + q * 32 + 16,
                            _mm512_broadcast_f32x4(_mm_load_ps(bp + q * 32 + 16)));
        const float *ap = a + p * a_cs;
        for (int64_t i = 0; i < m; i += 12) {
            int64_t mr = m - i < 12 ? m - i : 12;
            tg_gemm_ep shifted;
            const tg_gemm_ep *er = nw_tile_ep(e, i, sizeof(float), &shifted);
            const float *at = ap + i * a_rs;
            float *ct = c + i * c_rs;
            if (mr > 8)
                n20_tile(3, kc, at, a_rs, a_cs, bp, mr, n, alpha, beta, first, last, er, ct, c_rs);
            else if (mr > 4)
                n20_tile(2, kc, at, a_rs, a_cs, bp, mr, n, alpha, beta, first, last, er, ct, c_rs);
            else
                n20_tile(1, kc, at, a_rs, a_cs, bp, mr, n, alpha, beta, first, last, er, ct, c_rs);
        }
        p += kc;
    } while (p < k);
}

// Below this many elements of A, gemm_narrow20_f32's blends and extra code cost more than
// they save (tiny-sgd's 10 x 40 x 20 and 40 x 10 x 20: its step 4.58 -> 4.70 us with them,
// Zen 5, 1 thread, interleaved).
enum { N20_MIN_MK = 2048 };

// The shapes it takes: a row-major C at most four vectors wide.
static bool tg_cpu_gemm_is_narrow(const tg_gemm_desc *d) {
    int64_t lanes = d->dtype == TG_F64 ? 8 : 16;
    return d->c_cs == 1 && d->n >= 1 && d->n <= 4 * lanes && d->m >= 1;
}

static void tg_cpu_gemm_narrow(const tg_gemm_desc *d, const tg_gemm_ep *e) {
    size_t es = d->dtype == TG_F64 ? sizeof(double) : sizeof(float);
    for (int64_t bi = 0; bi < d->batch; bi++) {
        const char *a = (const char *)d->a + bi * d->a_bs * (int64_t)es;
        const char *b = (const char *)d->b + bi * d->b_bs * (int64_t)es;
        char *c = (char *)d->c + bi * d->c_bs * (int64_t)es;
        if (d->dtype == TG_F64)
            gemm_narrow_f64(d->m, d->n, d->k, d->alpha, (const double *)a, d->a_rs, d->a_cs,
                            (const double *)b, d->b_rs, d->b_cs, d->beta, (double *)c, d->c_rs,
                            e);
        else if (d->n > 16 && d->n <= 20 && d->m * d->k >= N20_MIN_MK)
            gemm_narrow20_f32(d->m, d->n, d->k, (float)d->alpha, (const float *)a, d->a_rs,
                              d->a_cs, (const float *)b, d->b_rs, d->b_cs, (float)d->beta,
                              (float *)c, d->c_rs, e);
        else
            gemm_narrow_f32(d->m, d->n, d->k, (float)d->alpha, (const float *)a, d->a_rs,
                            d->a_cs, (const float *)b, d->b_rs, d->b_cs, (float)d->beta,
                            (float *)c, d->c_rs, e);
    }
}
#endif

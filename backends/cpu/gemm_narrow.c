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

// NW_KC: k block of the packed B panel. NW_DIRECT_MIN_K: from this k, at most 4 rows of C
// read a row-major B in place (nw_tile_direct).
enum { NW_KC = 256, NW_DIRECT_MIN_K = 64 };

// Whether C [m, nv vectors] is one tile reading B in place (nw_tile_direct: 2 or 4 rows, at
// most 8 accumulators a set).
static inline bool nw_direct(int64_t m, int64_t nv, int64_t k, int64_t b_cs) {
    return m <= 4 && b_cs == 1 && k >= NW_DIRECT_MIN_K && (m <= 2 || nv <= 2);
}

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

// Floats, 16 < n <= 20 (seed-moons' and tiny-sgd's 20-wide layers). As two vectors a row,
// the second would use 4 lanes of 16 and cost a whole multiply-add. Here columns 16..19 of
// four rows share one vector, two ways:
//  - n20k_tile, A row-major (a layer's y = x W^T and dx = dy W): four k at a time, lane
//    4j + t sums A[r, k+t] B[k+t, 16+j] over the k = t mod 4 of row r: A's four columns are
//    one 128-bit broadcast, B's are packed so, and the four partial sums of a column are
//    added at the end. 5 multiply-adds per row per four k instead of 8.
//  - n20x_tile, A's columns contiguous (dW = dy^T x, or a packed copy): lane 4j + c is row
//    c of four, column 16 + j: A's four rows are one 128-bit broadcast, B's column 16 + j
//    four times. 5 multiply-adds per four rows per k.
// Both read A in place and need no shuffles in the k loop. (They replace blends of four
// broadcasts into one vector, 3 a group a k: on Zen 4, whose 512-bit ops take both halves
// of the FP pipes, the blends made 8000 x 20 x 20 83 us against 68 us now, 20 x 8000 x 20
// 100 us against 77, 1 thread, 2026-12-07.)

// Lane 4a + b to lane 4b + a (a 4 x 4 transpose of the lanes; its own inverse): a quad of
// rows 4g..4g+3 (lane 4j + c: row 4g + c, column 16 + j) into a row's lanes (4c + j), and
// n20k_pack_b's four k of columns 16..19 (lane 4t + j) into lane 4j + t.
static inline __m512 n20_tr4(__m512 q) {
    const __m512i tr4 = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    return _mm512_permutexvar_ps(tr4, q);
}

static inline __attribute__((always_inline)) __m512 n20_quad(__m512 x0, __m512 x1, __m512 x2,
                                                             __m512 x3) {
    __m512 v = _mm512_mask_blend_ps(0x00F0, x0, x1);
    v = _mm512_mask_blend_ps(0x0F00, v, x2);
    return _mm512_mask_blend_ps(0xF000, v, x3);
}

// The 4G x n tile's epilogue at c (as nw_tile's, every read of C before the first store):
// acc[r] = row r's columns 0..15 of the sums, quad[g] = rows 4g..4g+3's columns 16.. in
// n20_tr4's lanes (4c + j: row 4g + c, column 16 + j). Rows past mr are not stored.
static inline __attribute__((always_inline)) void
n20_store(const int G, __m512 *acc, __m512 *quad, int64_t mr, int64_t n, float alpha, float beta,
          bool first, bool last, const tg_gemm_ep *e, float *c, int64_t c_rs) {
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
#pragma GCC unroll 20
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
#pragma GCC unroll 5
    for (int g = 0; g < G; g++) {
        __m512 v = _mm512_mul_ps(va, n20_tr4(quad[g]));
        if (!first || beta != 0) {   // lanes 4c..4c+3 from row 4g + c's columns 16..
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
        quad[g] = v;
    }
#pragma GCC unroll 20
    for (int r = 0; r < 4 * G; r++) {
        if (r >= mr) break;
        _mm512_storeu_ps(c + r * c_rs, acc[r]);
        _mm512_mask_storeu_ps(c + r * c_rs + 16 - 4 * (r % 4), (__mmask16)(tail << (4 * (r % 4))),
                              quad[r / 4]);
    }
}

// Row-major A's 4G x n tile at c (G <= 3) over kc of k, B packed by n20k_pack_b. A's rows
// are reached by one pointer stepping a_rs (rows past mr re-read row mr-1, their sums
// dropped): 12 row pointers held at once did not fit the registers.
static inline __attribute__((always_inline)) void
n20k_tile(const int G, int64_t kc, const float *a, int64_t a_rs, const float *restrict bp,
          int64_t mr, int64_t n, float alpha, float beta, bool first, bool last,
          const tg_gemm_ep *e, float *c, int64_t c_rs) {
    __m512 acc[12], acq[12], quad[3];
#pragma GCC unroll 12
    for (int r = 0; r < 4 * G; r++) acc[r] = acq[r] = _mm512_setzero_ps();
    int64_t q0 = 0;
    for (; q0 + 4 <= kc; q0 += 4) {
        const float *bq = bp + q0 * 20, *x = a + q0;
        __m512 b0 = _mm512_load_ps(bq), b1 = _mm512_load_ps(bq + 16),
               b2 = _mm512_load_ps(bq + 32), b3 = _mm512_load_ps(bq + 48),
               bt = _mm512_load_ps(bq + 64);
#pragma GCC unroll 12
        for (int r = 0; r < 4 * G; r++) {
            __m512 v = _mm512_fmadd_ps(_mm512_set1_ps(x[0]), b0, acc[r]);
            v = _mm512_fmadd_ps(_mm512_set1_ps(x[1]), b1, v);
            v = _mm512_fmadd_ps(_mm512_set1_ps(x[2]), b2, v);
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[3]), b3, v);
            acq[r] = _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(x)), bt, acq[r]);
            x += r + 1 < mr ? a_rs : 0;
        }
    }
    if (q0 < kc) {   // the last 1..3 k: B's group is zero past them, A's loads masked
        const float *bq = bp + q0 * 20, *x = a + q0;
        int64_t tc = kc - q0;
        __mmask8 lm = (__mmask8)((1u << tc) - 1);
        __m512 bt = _mm512_load_ps(bq + 64);
#pragma GCC unroll 12
        for (int r = 0; r < 4 * G; r++) {
            __m512 v = acc[r];
            for (int64_t t = 0; t < tc; t++)
                v = _mm512_fmadd_ps(_mm512_set1_ps(x[t]), _mm512_load_ps(bq + t * 16), v);
            acc[r] = v;
            acq[r] = _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_maskz_loadu_ps(lm, x)), bt, acq[r]);
            x += r + 1 < mr ? a_rs : 0;
        }
    }
#pragma GCC unroll 3
    for (int g = 0; g < G; g++) {   // lane 4j + c: row 4g + c's four sums of column 16 + j
        __m512 *v = acq + 4 * g;
        __m512 s0 = _mm512_add_ps(_mm512_shuffle_ps(v[0], v[1], 0x44),
                                  _mm512_shuffle_ps(v[0], v[1], 0xEE));
        __m512 s1 = _mm512_add_ps(_mm512_shuffle_ps(v[2], v[3], 0x44),
                                  _mm512_shuffle_ps(v[2], v[3], 0xEE));
        quad[g] = _mm512_add_ps(_mm512_shuffle_ps(s0, s1, 0x88), _mm512_shuffle_ps(s0, s1, 0xDD));
    }
    n20_store(G, acc, quad, mr, n, alpha, beta, first, last, e, c, c_rs);
}

// Row-major A's 4G x n tile (G <= 3) for k under 4, where n20k_tile's groups of four would
// be mostly padding: row r's broadcasts x[r] go into acc[r] and, blended four rows to a
// vector (lane 4c + j: row 4g + c), into the quads against B[k, 16..19] four times (lane 4c
// + j: column 16 + j). 8000 x 2 x 20: 23.7 us against 31.5 by n20k_tile and 28 by two
// vectors a row (Zen 4, 1 thread, 2026-12-07).
static inline __attribute__((always_inline)) void
n20b_tile(const int G, int64_t kc, const float *a, int64_t a_rs, const float *restrict bp,
          int64_t mr, int64_t n, float alpha, float beta, bool first, bool last,
          const tg_gemm_ep *e, float *c, int64_t c_rs) {
    __m512 acc[12], quad[3], x[12];
#pragma GCC unroll 12
    for (int r = 0; r < 4 * G; r++) acc[r] = _mm512_setzero_ps();
#pragma GCC unroll 3
    for (int g = 0; g < G; g++) quad[g] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const float *xk = a + k;
        __m512 b0 = _mm512_load_ps(bp + k * 32), b1 = _mm512_load_ps(bp + k * 32 + 16);
#pragma GCC unroll 12
        for (int r = 0; r < 4 * G; r++) {
            x[r] = _mm512_set1_ps(*xk);
            acc[r] = _mm512_fmadd_ps(x[r], b0, acc[r]);
            xk += r + 1 < mr ? a_rs : 0;
        }
#pragma GCC unroll 3
        for (int g = 0; g < G; g++)
            quad[g] = _mm512_fmadd_ps(
                n20_quad(x[4 * g], x[4 * g + 1], x[4 * g + 2], x[4 * g + 3]), b1, quad[g]);
    }
#pragma GCC unroll 3
    for (int g = 0; g < G; g++) quad[g] = n20_tr4(quad[g]);   // (its own inverse)
    n20_store(G, acc, quad, mr, n, alpha, beta, first, last, e, c, c_rs);
}

// A's 4G x n tile (G <= 5) whose column k is 4G contiguous floats at ap + k*ap_cs, over kc
// of k, B packed by n20x_pack_b.
static inline __attribute__((always_inline)) void
n20x_tile(const int G, int64_t kc, const float *ap, int64_t ap_cs, const float *restrict bp,
          int64_t mr, int64_t n, float alpha, float beta, bool first, bool last,
          const tg_gemm_ep *e, float *c, int64_t c_rs) {
    __m512 acc[20], quad[5];
#pragma GCC unroll 20
    for (int r = 0; r < 4 * G; r++) acc[r] = _mm512_setzero_ps();
#pragma GCC unroll 5
    for (int g = 0; g < G; g++) quad[g] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const float *ak = ap + k * ap_cs;
        __m512 b0 = _mm512_load_ps(bp + k * 32), b1 = _mm512_load_ps(bp + k * 32 + 16);
#pragma GCC unroll 20
        for (int r = 0; r < 4 * G; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ak[r]), b0, acc[r]);
#pragma GCC unroll 5
        for (int g = 0; g < G; g++)
            quad[g] =
                _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(ak + 4 * g)), b1, quad[g]);
    }
    n20_store(G, acc, quad, mr, n, alpha, beta, first, last, e, c, c_rs);
}

enum { N20_KC = 128 };   // k block: B's panel 16 KiB, n20x_tile's packed A 10 KiB

// B's kc x n block for n20k_tile: per four k, their rows' columns 0..15, then lane 4j + t =
// B[k + t, 16 + j] (zero past kc and n). tmp: N20_KC rows of 32.
static void n20k_pack_b(int64_t kc, int64_t n, const float *b, int64_t b_rs, int64_t b_cs,
                        float *restrict bp, float *restrict tmp) {
    nw_pack_f32(kc, n, 2, b, b_rs, b_cs, tmp);   // rows of 32, zero past n
    for (int64_t q0 = 0; q0 < kc; q0 += 4) {
        float *o = bp + q0 * 20;
        __m512 t = _mm512_setzero_ps();
        for (int64_t u = 0; u < 4; u++) {
            __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
            if (q0 + u < kc) {
                lo = _mm512_load_ps(tmp + (q0 + u) * 32);
                hi = _mm512_load_ps(tmp + (q0 + u) * 32 + 16);   // columns 16..19: lanes 0..3
            }
            _mm512_store_ps(o + u * 16, lo);
            t = _mm512_mask_expand_ps(t, (__mmask16)(0xF << (4 * u)), hi);   // to lanes 4u + j
        }
        _mm512_store_ps(o + 64, n20_tr4(t));   // to lanes 4j + u
    }
}

// B's kc x n block for n20x_tile: rows of 32, columns 0..15 then B[k, 16 + j] at lanes
// 4j..4j+3 (zero past n).
static void n20x_pack_b(int64_t kc, int64_t n, const float *b, int64_t b_rs, int64_t b_cs,
                        float *restrict bp) {
    const __m512i rep4 = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    nw_pack_f32(kc, n, 2, b, b_rs, b_cs, bp);
    for (int64_t q = 0; q < kc; q++)
        _mm512_store_ps(bp + q * 32 + 16,
                        _mm512_permutexvar_ps(rep4, _mm512_load_ps(bp + q * 32 + 16)));
}

// C [m, n] = alpha A B + beta C (+ e's epilogue) for floats with 16 < n <= 20, in N20_KC-deep
// k blocks: row-major A by n20k_tile in tiles of 12 rows (4 or 8 for the last), any other A
// by n20x_tile in tiles of 20 (4, 8, 12 or 16 for the last) read in place when its columns
// are contiguous and the tile a whole number of four rows, else from a zero-padded copy.
static void gemm_narrow20_f32(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                              int64_t a_rs, int64_t a_cs, const float *b, int64_t b_rs,
                              int64_t b_cs, float beta, float *c, int64_t c_rs,
                              const tg_gemm_ep *e) {
    // panel: B's rows of 32 (n20x), or n20k_pack_b's scratch; aux: n20k's packed B, or
    // n20x's copy of A
    _Alignas(64) float panel[N20_KC * 32], aux[N20_KC * 20];
    int64_t p = 0;
    do {   // k == 0 still takes one (empty) block: C = beta*C + bias, activation
        int64_t kc = k - p < N20_KC ? k - p : N20_KC;
        bool first = p == 0, last = p + kc >= k;
        const float *ap = a + p * a_cs;
        tg_gemm_ep shifted;
        // Row-major A in tiles of 12 rows: n20b_tile for k < 4 (one block), else n20k_tile.
        // (Two loops: one loop choosing the tile per tile made seed-moons' step 3.5 % slower,
        // 430 -> 446 us, Zen 4.)
        if (a_cs == 1 && k < 4) {
            nw_pack_f32(kc, n, 2, b, b_rs, b_cs, panel);
            for (int64_t q = 0; q < kc; q++)   // columns 16..19 (zero past n) four times
                _mm512_store_ps(panel + q * 32 + 16,
                                _mm512_broadcast_f32x4(_mm_load_ps(panel + q * 32 + 16)));
            for (int64_t i = 0; i < m; i += 12) {
                int64_t mr = m - i < 12 ? m - i : 12;
                const tg_gemm_ep *er = nw_tile_ep(e, i, sizeof(float), &shifted);
                const float *at = a + i * a_rs;
                float *ct = c + i * c_rs;
#define N20B(G) n20b_tile(G, k, at, a_rs, panel, mr, n, alpha, beta, first, last, er, ct, c_rs)
                if (mr > 8) N20B(3);
                else if (mr > 4) N20B(2);
                else N20B(1);
#undef N20B
            }
            break;
        }
        if (a_cs == 1) {
            n20k_pack_b(kc, n, b + p * b_rs, b_rs, b_cs, aux, panel);
            for (int64_t i = 0; i < m; i += 12) {
                int64_t mr = m - i < 12 ? m - i : 12;
                const tg_gemm_ep *er = nw_tile_ep(e, i, sizeof(float), &shifted);
                const float *at = ap + i * a_rs;
                float *ct = c + i * c_rs;
#define N20K(G) n20k_tile(G, kc, at, a_rs, aux, mr, n, alpha, beta, first, last, er, ct, c_rs)
                if (mr > 8) N20K(3);
                else if (mr > 4) N20K(2);
                else N20K(1);
#undef N20K
            }
            p += kc;
            continue;
        }
        n20x_pack_b(kc, n, b + p * b_rs, b_rs, b_cs, panel);
        for (int64_t i = 0; i < m; i += 20) {
            int64_t mr = m - i < 20 ? m - i : 20, G = (mr + 3) / 4, ap_cs = a_cs;
            const tg_gemm_ep *er = nw_tile_ep(e, i, sizeof(float), &shifted);
            const float *at = ap + i * a_rs, *tile = at;
            if (a_rs != 1 || mr != 4 * G) {   // a copy: column q at aux + 20q, zero past mr
                for (int64_t q = 0; q < kc; q++)
                    if (a_rs == 1)
                        _mm512_storeu_ps(aux + q * 20,
                                         _mm512_maskz_loadu_ps(mask16(mr), at + q * a_cs));
                    else
                        for (int64_t r = 0; r < 16; r++)
                            aux[q * 20 + r] = r < mr ? at[r * a_rs + q * a_cs] : 0.0f;
                for (int64_t q = 0; G == 5 && q < kc; q++)   // rows 16..19
                    for (int64_t r = 16; r < 20; r++)
                        aux[q * 20 + r] = r < mr ? at[r * a_rs + q * a_cs] : 0.0f;
                tile = aux;
                ap_cs = 20;
            }
            float *ct = c + i * c_rs;
#define N20X(G) n20x_tile(G, kc, tile, ap_cs, panel, mr, n, alpha, beta, first, last, er, ct, c_rs)
            switch (G) {
            case 5: N20X(5); break;
            case 4: N20X(4); break;
            case 3: N20X(3); break;
            case 2: N20X(2); break;
            default: N20X(1); break;
            }
#undef N20X
        }
        p += kc;
    } while (p < k);
}

// Below this many elements of A, gemm_narrow20_f32's extra code costs more than it saves
// (with the blends it replaced: tiny-sgd's 10 x 40 x 20 and 40 x 10 x 20 made its step 4.58
// -> 4.70 us, Zen 5, 1 thread, interleaved); so do fewer than 4 rows, a tile's one group of
// four part empty (2 x 8000 x 20: 37 us against 32-35 as two vectors a row, Zen 4). Up to 4
// rows with a long k read B in place instead (nw_direct: 4 x 8000 x 20 in 18 us against
// 27).
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
        else if (d->n > 16 && d->n <= 20 && d->m >= 4 && d->m * d->k >= N20_MIN_MK &&
                 !nw_direct(d->m, 2, d->k, d->b_cs))
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

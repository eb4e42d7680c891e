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
        else
            gemm_narrow_f32(d->m, d->n, d->k, (float)d->alpha, (const float *)a, d->a_rs,
                            d->a_cs, (const float *)b, d->b_rs, d->b_cs, (float)d->beta,
                            (float *)c, d->c_rs, e);
    }
}
#endif

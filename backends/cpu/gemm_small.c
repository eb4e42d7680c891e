// Small gemm without BLIS. BLIS costs about a microsecond per call whatever the size, which
// dominates products of a few thousand multiply-adds (tiny MLPs). This kernel packs
// only B (one KC x NR panel at a time, on the stack), reads A in place through its strides,
// and computes C^T = B^T A^T instead when that puts the longer dimension in the vector lanes.
#include <stdbool.h>
#include <string.h>

#include "backends/cpu/cpu_internal.h"

enum { MR = 6, MR1 = 12, KC = 256 };

// Two vectors per accumulator row: 256-bit ones where the build targets AVX, else 128-bit
// (wider GCC vectors than the target has are split into slow sequences). The AVX-512 build
// keeps 256-bit ones: 512-bit tiles (NR = 32 floats) were slower on the seed shapes, whose
// n = 20 leaves 12 of 32 lanes idle (Zen 5, 1 thread: seed-diabetes step 118 us against
// 108, seed-moons 1.24 ms against 1.13; bench/RESULTS.md, 2026-12-05).
#ifdef __AVX__
#define VBYTES 32
#else
#define VBYTES 16
#endif

#define T float
#define V vf
#define NR (2 * VBYTES / 4)
#define SUF _f32
typedef float vf __attribute__((vector_size(VBYTES)));
#include "backends/cpu/gemm_small_impl.h"
#undef T
#undef V
#undef NR
#undef SUF

#define T double
#define V vd
#define NR (2 * VBYTES / 8)
#define SUF _f64
typedef double vd __attribute__((vector_size(VBYTES)));
#include "backends/cpu/gemm_small_impl.h"
#undef T
#undef V
#undef NR
#undef SUF

static bool tg_cpu_gemm_is_small(const tg_gemm_desc *d) {
    // Measured against Debian's BLIS 0.9 on the development machine (its AVX2 kernels and
    // its "sup" path for skinny shapes): with AVX2 ours won below about 2^14 multiply-adds
    // (6x at 10x2x20, 2.5x at 10x20x40, level at 614x2x20) in isolation. BLIS's skinny path
    // is slow when B is column-major, as in a linear layer's y = x W^T: there ours wins by
    // 1.2-5x for any m once n >= 8 and k <= 128 (8000x20x20: 150 us against 360; B
    // row-major, BLIS is level or ahead, so it keeps those). The baseline SSE2 build
    // competes with BLIS's AVX2 kernels, so it takes only the tiniest products.
    // Re-measured on Zen 5 (2026-12-06, interleaved A/B, CPU clock, min of 3-5 rounds) with
    // the bar at 2^18: matmul-64 forward 10.5 -> 7.0 us, backward 17.1 -> 13.4 us;
    // seed-diabetes (614 rows; dW = dy^T x with k = 614, dx = dy W) step 69.2 -> 64.8 us,
    // and the same with AVX2 kernels and BLIS's haswell set (9.1 -> 7.0 us, 70.3 -> 64.1 us):
    // below 2^18 BLIS's per-call cost (its thread info, memory pool and a one-thread OpenMP
    // team) outweighs its faster inner kernel. matmul-256 (2^24) is unchanged.
#if VBYTES == 32
    if (d->b_rs == 1 && d->b_cs != 1 && d->n >= 8 && d->k <= 128) return true;
    return d->m * d->n * d->k <= (int64_t)1 << 18;
#else
    return d->m * d->n * d->k <= (int64_t)1 << 11;
#endif
}

static void tg_cpu_gemm_small(const tg_gemm_desc *d) {
    for (int64_t bi = 0; bi < d->batch; bi++) {
        int64_t m = d->m, n = d->n;
        int64_t a_rs = d->a_rs, a_cs = d->a_cs, b_rs = d->b_rs, b_cs = d->b_cs;
        int64_t c_rs = d->c_rs, c_cs = d->c_cs;
        size_t es = d->dtype == TG_F64 ? sizeof(double) : sizeof(float);
        const char *a = (const char *)d->a + bi * d->a_bs * (int64_t)es;
        const char *b = (const char *)d->b + bi * d->b_bs * (int64_t)es;
        char *c = (char *)d->c + bi * d->c_bs * (int64_t)es;
        int64_t nr = 2 * VBYTES / (int64_t)es;
        // C^T = B^T A^T: put the longer side of C in the vector lanes when n is short.
        if (n < nr && m > n) {
            const char *t = a;
            a = b;
            b = t;
            int64_t s = m;
            m = n;
            n = s;
            int64_t ars = b_cs, acs = b_rs, brs = a_cs, bcs = a_rs;
            a_rs = ars, a_cs = acs, b_rs = brs, b_cs = bcs;
            s = c_rs;
            c_rs = c_cs;
            c_cs = s;
        }
        if (d->dtype == TG_F64)
            gemm_small_f64(m, n, d->k, d->alpha, (const double *)a, a_rs, a_cs,
                           (const double *)b, b_rs, b_cs, d->beta, (double *)c, c_rs, c_cs);
        else
            gemm_small_f32(m, n, d->k, (float)d->alpha, (const float *)a, a_rs, a_cs,
                           (const float *)b, b_rs, b_cs, (float)d->beta, (float *)c, c_rs, c_cs);
    }
}

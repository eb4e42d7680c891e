// Thin gemm: products past the small kernel's size with at most THIN_MAX rows of C (a layer
// at batch 1: y = x W^T, dx = dy W) or at most THIN_MAX of k (dW = dy^T x at batch 1, an
// outer product). They do 1-7 multiply-adds per element of the large operand they read or
// write, so they are bound by memory, and the kernels below are arranged to stream that
// operand once, in order:
// - few rows, B row-major (dx = dy W): B's rows are read in order, four at a time, into
//   accumulator rows of C kept in L1 (a block of columns at a time);
// - few rows, B column-major (x W^T): each column of B is a contiguous run along k, read as
//   dot products with the rows of A, two columns at a time, every row of A at once;
// - few k (outer products): each row of C is written once, from the k rows of B (in L1).
// BLIS took these before: its gemv-like path read a row-major B down its columns (dy W,
// 1 x 1024 x 1024: 117 us, against 61 us for x W^T), and every call allocated its one-thread
// OpenMP team (mem-floor's step: 4704 bytes of malloc). Plain loops: the compiler vectorises
// them for each build (baseline, AVX2, AVX-512) with its vector width.
#include <string.h>

#include "backends/cpu/cpu_internal.h"

enum {
    THIN_MAX = 7,                // rows of C, or k, at most this
    THIN_ACC_BYTES = 16384,      // the accumulator rows of the few-rows kernel (L1)
    THIN_COPY_BYTES = 4096,      // a row of A copied for the dot products (per row)
    THIN_OUTER_BYTES = 4096,     // a row of B's copy in the outer-product kernel
};

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#define T float
#define SUF _f32
#include "backends/cpu/gemm_thin_impl.h"
#undef T
#undef SUF

#define T double
#define SUF _f64
#include "backends/cpu/gemm_thin_impl.h"
#undef T
#undef SUF

// d with C transposed, C^T = B^T A^T (A and B trade places, each transposed).
static tg_gemm_desc thin_transposed(const tg_gemm_desc *d) {
    tg_gemm_desc g = *d;
    g.m = d->n, g.n = d->m;
    g.a = d->b, g.a_rs = d->b_cs, g.a_cs = d->b_rs, g.a_bs = d->b_bs;
    g.b = d->a, g.b_rs = d->a_cs, g.b_cs = d->a_rs, g.b_bs = d->a_bs;
    g.c_rs = d->c_cs, g.c_cs = d->c_rs;
    return g;
}

// Whether the kernels take d with C transposed: a column-major C.
static bool thin_transposes(const tg_gemm_desc *d) {
    return d->c_cs != 1 && d->c_rs == 1;
}

// d as the kernels take it: C row-major.
static tg_gemm_desc thin_canonical(const tg_gemm_desc *d) {
    return thin_transposes(d) ? thin_transposed(d) : *d;
}

// The products thin kernels take: a row-major C (after thin_canonical) with at most THIN_MAX
// rows or k.
static bool tg_cpu_gemm_is_thin(const tg_gemm_desc *d) {
    tg_gemm_desc g = thin_canonical(d);
    return g.c_cs == 1 && g.m >= 1 && g.n >= 1 && (g.m <= THIN_MAX || g.k <= THIN_MAX);
}

// How threads split C: by rows for outer products with rows to spare (each piece then
// writes whole rows, in order; by columns, 2048 x 2 x 2048 took 867 us on 2 threads against
// 411 on one), else by columns; least: the smallest piece, in rows or columns. Pieces of a
// row-major B (read along its rows) are at least 2048 columns wide: 4 x 1024 x 1024 on 2
// threads took 2.3x as long in pieces of 128 and was still slower than one thread in
// pieces of 512 (Zen 5, 2026-12-07).
static bool thin_split(const tg_gemm_desc *g, int nt, int64_t *least) {
    bool by_rows = g->k <= THIN_MAX && g->m >= 16 * (int64_t)nt;
    *least = by_rows ? 4 : g->k > THIN_MAX && g->b_cs == 1 ? 2048 : 64;
    return by_rows;
}

// C's block [i0, i1) x [j0, j1) of batch entry b of a canonical product g.
static void thin_block(const tg_gemm_desc *g, int64_t b, int64_t i0, int64_t i1, int64_t j0,
                       int64_t j1) {
    if (g->dtype == TG_F64) thin_run_f64(g, b, i0, i1, j0, j1);
    else thin_run_f32(g, b, i0, i1, j0, j1);
}

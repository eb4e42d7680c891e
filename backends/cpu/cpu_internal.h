// Internals of the cpu backend's kernels: the entry points shared between its kernel files.
//
// The kernel files (every file here but cpu_backend.c, cpu_select.c and cpu_features.c) are
// one translation unit per instruction-set variant: kernels_<isa>.c includes kernels.c,
// which includes them all, and meson compiles each kernels_<isa>.c with its variant's flags
// (baseline x86-64 and, on x86-64, AVX2+FMA and AVX-512) into a static library. So every
// function here is static, the variants link side by side without renaming, and each
// exports one thing: its table of compute slots, tg_cpu_kernels_<isa> (cpu_kernels.h).
#pragma once

#include "backends/cpu/cpu_kernels.h"

static int tg_cpu_fill(void *ctx, const tg_view *y, double value);
static int tg_cpu_unary(void *ctx, int kind, const tg_view *x, const tg_view *y, double a,
                        double b);
static int tg_cpu_binary(void *ctx, int kind, const tg_view *a, const tg_view *b, const tg_view *y);
static int tg_cpu_update(void *ctx, int kind, const tg_view *y, const tg_view *a, const tg_view *b,
                         double s0, double s1, double s2);
static int tg_cpu_cast(void *ctx, const tg_view *x, const tg_view *y);
static int tg_cpu_reduce(void *ctx, int kind, const tg_view *x, const tg_view *y);
static int tg_cpu_gemm(void *ctx, const tg_gemm_desc *d);
// The small/skinny-matrix gemm (gemm_small.c) and the shapes it takes instead of BLIS.
static bool tg_cpu_gemm_is_small(const tg_gemm_desc *d);
static void tg_cpu_gemm_small(const tg_gemm_desc *d);
static int tg_cpu_where(void *ctx, const tg_view *cond, const tg_view *a, const tg_view *b,
                        const tg_view *y);
static int tg_cpu_gather(void *ctx, int axis, const tg_view *x, const tg_view *index,
                         const tg_view *y);
static int tg_cpu_scatter_add(void *ctx, int axis, const tg_view *src, const tg_view *index,
                              const tg_view *y);
static int tg_cpu_im2col(void *ctx, const tg_im2col_desc *d, const void *x, void *cols);
static int tg_cpu_col2im(void *ctx, const tg_im2col_desc *d, const void *cols, void *x);
static int tg_cpu_batch_norm(void *ctx, const tg_bn_desc *d);
static int tg_cpu_conv(void *ctx, const tg_conv_desc *d);
static int tg_cpu_max_pool(void *ctx, const tg_im2col_desc *d, int route, const void *x,
                           const void *v, void *out);
static int tg_cpu_xent(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                       const void *labels, void *loss);
static int tg_cpu_xent_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                            const void *labels, const void *dloss, void *dlogits);
static int tg_cpu_adam_step(void *ctx, const tg_adam_desc *d);
static int tg_cpu_softmax(void *ctx, int dtype, int64_t n, int64_t c, const void *x, void *y,
                          int take_log);
static int tg_cpu_softmax_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *y,
                               const void *dy, void *dx, int take_log);
static int tg_cpu_layer_norm(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                             const void *w, const void *b, void *y, double eps);
static int tg_cpu_layer_norm_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                                  const void *w, const void *dy, void *dx, void *wgrad,
                                  double eps);
static int tg_cpu_layer_norm_wgrad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                                   const void *dy, void *out, double eps);
static int tg_cpu_attention(void *ctx, const tg_attn_desc *d);
static int tg_cpu_attention_grad(void *ctx, const tg_attn_desc *d);
static int tg_cpu_argreduce(const tg_view *x, const tg_view *y, bool is_max);

// Iterates a view set (n_ops <= 4 views sharing v[0]'s shape): calls `row` once per 2-D
// block of n_outer rows of n elements; operand k's row r starts at off[k] + r*outer[k]
// and steps by inner[k].
typedef void (*tg_cpu_row_fn)(void *user, const int64_t *off, int64_t n_outer, const int64_t *outer,
                              int64_t n, const int64_t *inner);
static void tg_cpu_for_rows(int n_ops, const tg_view *const *v, tg_cpu_row_fn row, void *user);
// The same, split across up to n_threads OpenMP threads when the views coalesce into one
// 2-D block of at least TG_CPU_PAR_MIN elements (row callbacks must then write disjoint
// outputs: elementwise kernels, not reductions); otherwise serial.
enum {
    TG_CPU_PAR_MIN = 1 << 16
};
static void tg_cpu_for_rows_par(int n_threads, int n_ops, const tg_view *const *v,
                                tg_cpu_row_fn row, void *user);
// fn over [0, n): when n >= TG_CPU_PAR_MIN, in contiguous pieces handed out to up to
// n_threads threads as they finish (fn must not depend on where the pieces start), else once.
typedef void (*tg_cpu_range_fn)(int64_t lo, int64_t hi, void *arg);
static void tg_cpu_for_range(int n_threads, int64_t n, tg_cpu_range_fn fn, void *arg);
// Threads for a kernel call from the backend context (at least 1).
static inline int tg_cpu_threads(const void *ctx) {
    int n = ((const tg_cpu_ctx *)ctx)->n_threads;
    return n > 1 ? n : 1;
}

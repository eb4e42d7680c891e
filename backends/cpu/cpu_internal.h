// Internals of the cpu backend: kernel entry points shared between its files.
//
// Every file here but cpu_backend.c, cpu_select.c and cpu_features.c is compiled once per
// instruction-set variant (meson builds a static library per variant: baseline x86-64 and,
// on x86-64, AVX2+FMA and AVX-512), with TG_CPU_ISA set to the variant's suffix. The defines
// below give each variant's symbols that suffix, so the variants link side by side; each
// exports its compute slots as one table, tg_cpu_kernels<suffix>, and cpu_backend.c runs the
// one cpu_select.c chose (cpuid; TG_CPU_ISA=base|avx2|avx512 overrides).
#pragma once

#include "backends/backend_impl.h"

typedef struct tg_cpu_ctx {
    int n_threads;     // 0 = BLIS/OpenMP default (1 unless the environment says more)
    void *blis_cntx;   // BLIS context of the chosen kernel set (cpu_select.c); NULL = BLIS's
} tg_cpu_ctx;

#ifdef TG_CPU_ISA
#define TG_CPU_CAT_(a, b) a##b
#define TG_CPU_CAT(a, b) TG_CPU_CAT_(a, b)
#define TG_CPU_NAME(n) TG_CPU_CAT(n, TG_CPU_ISA)
#define tg_cpu_kernels TG_CPU_NAME(tg_cpu_kernels)
#define tg_cpu_fill TG_CPU_NAME(tg_cpu_fill)
#define tg_cpu_unary TG_CPU_NAME(tg_cpu_unary)
#define tg_cpu_binary TG_CPU_NAME(tg_cpu_binary)
#define tg_cpu_update TG_CPU_NAME(tg_cpu_update)
#define tg_cpu_cast TG_CPU_NAME(tg_cpu_cast)
#define tg_cpu_reduce TG_CPU_NAME(tg_cpu_reduce)
#define tg_cpu_gemm TG_CPU_NAME(tg_cpu_gemm)
#define tg_cpu_gemm_is_small TG_CPU_NAME(tg_cpu_gemm_is_small)
#define tg_cpu_gemm_small TG_CPU_NAME(tg_cpu_gemm_small)
#define tg_cpu_where TG_CPU_NAME(tg_cpu_where)
#define tg_cpu_gather TG_CPU_NAME(tg_cpu_gather)
#define tg_cpu_scatter_add TG_CPU_NAME(tg_cpu_scatter_add)
#define tg_cpu_im2col TG_CPU_NAME(tg_cpu_im2col)
#define tg_cpu_col2im TG_CPU_NAME(tg_cpu_col2im)
#define tg_cpu_xent TG_CPU_NAME(tg_cpu_xent)
#define tg_cpu_xent_grad TG_CPU_NAME(tg_cpu_xent_grad)
#define tg_cpu_adam_step TG_CPU_NAME(tg_cpu_adam_step)
#define tg_cpu_softmax TG_CPU_NAME(tg_cpu_softmax)
#define tg_cpu_softmax_grad TG_CPU_NAME(tg_cpu_softmax_grad)
#define tg_cpu_layer_norm TG_CPU_NAME(tg_cpu_layer_norm)
#define tg_cpu_layer_norm_grad TG_CPU_NAME(tg_cpu_layer_norm_grad)
#define tg_cpu_layer_norm_wgrad TG_CPU_NAME(tg_cpu_layer_norm_wgrad)
#define tg_cpu_attention TG_CPU_NAME(tg_cpu_attention)
#define tg_cpu_attention_grad TG_CPU_NAME(tg_cpu_attention_grad)
#define tg_cpu_argreduce TG_CPU_NAME(tg_cpu_argreduce)
#define tg_cpu_for_rows TG_CPU_NAME(tg_cpu_for_rows)
#define tg_cpu_for_rows_par TG_CPU_NAME(tg_cpu_for_rows_par)
#define tg_cpu_for_range TG_CPU_NAME(tg_cpu_for_range)
#endif

// One variant's compute slots (memory slots are zero; cpu_backend.c adds them).
extern const struct tg_backend_ops tg_cpu_kernels_base;
extern const struct tg_backend_ops tg_cpu_kernels_avx2;
extern const struct tg_backend_ops tg_cpu_kernels_avx512;
#ifdef TG_CPU_ISA
extern const struct tg_backend_ops tg_cpu_kernels;
#endif

int tg_cpu_fill(void *ctx, const tg_view *y, double value);
int tg_cpu_unary(void *ctx, int kind, const tg_view *x, const tg_view *y, double a, double b);
int tg_cpu_binary(void *ctx, int kind, const tg_view *a, const tg_view *b, const tg_view *y);
int tg_cpu_update(void *ctx, int kind, const tg_view *y, const tg_view *a, const tg_view *b,
                  double s0, double s1, double s2);
int tg_cpu_cast(void *ctx, const tg_view *x, const tg_view *y);
int tg_cpu_reduce(void *ctx, int kind, const tg_view *x, const tg_view *y);
int tg_cpu_gemm(void *ctx, const tg_gemm_desc *d);
// The small/skinny-matrix gemm (gemm_small.c) and the shapes it takes instead of BLIS.
bool tg_cpu_gemm_is_small(const tg_gemm_desc *d);
void tg_cpu_gemm_small(const tg_gemm_desc *d);
int tg_cpu_where(void *ctx, const tg_view *cond, const tg_view *a, const tg_view *b,
                 const tg_view *y);
int tg_cpu_gather(void *ctx, int axis, const tg_view *x, const tg_view *index, const tg_view *y);
int tg_cpu_scatter_add(void *ctx, int axis, const tg_view *src, const tg_view *index,
                       const tg_view *y);
int tg_cpu_im2col(void *ctx, const tg_im2col_desc *d, const void *x, void *cols);
int tg_cpu_col2im(void *ctx, const tg_im2col_desc *d, const void *cols, void *x);
int tg_cpu_xent(void *ctx, int dtype, int64_t n, int64_t c, const void *logits, const void *labels,
                void *loss);
int tg_cpu_xent_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                     const void *labels, const void *dloss, void *dlogits);
int tg_cpu_adam_step(void *ctx, const tg_adam_desc *d);
int tg_cpu_softmax(void *ctx, int dtype, int64_t n, int64_t c, const void *x, void *y,
                   int take_log);
int tg_cpu_softmax_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *y, const void *dy,
                        void *dx, int take_log);
int tg_cpu_layer_norm(void *ctx, int dtype, int64_t n, int64_t c, const void *x, const void *w,
                      const void *b, void *y, double eps);
int tg_cpu_layer_norm_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                           const void *w, const void *dy, void *dx, double eps);
int tg_cpu_layer_norm_wgrad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                            const void *dy, void *out, double eps);
int tg_cpu_attention(void *ctx, const tg_attn_desc *d);
int tg_cpu_attention_grad(void *ctx, const tg_attn_desc *d);
int tg_cpu_argreduce(const tg_view *x, const tg_view *y, bool is_max);

// Iterates a view set (n_ops <= 4 views sharing v[0]'s shape): calls `row` once per 2-D
// block of n_outer rows of n elements; operand k's row r starts at off[k] + r*outer[k]
// and steps by inner[k].
typedef void (*tg_cpu_row_fn)(void *user, const int64_t *off, int64_t n_outer,
                              const int64_t *outer, int64_t n, const int64_t *inner);
void tg_cpu_for_rows(int n_ops, const tg_view *const *v, tg_cpu_row_fn row, void *user);
// The same, split across up to n_threads OpenMP threads when the views coalesce into one
// 2-D block of at least TG_CPU_PAR_MIN elements (row callbacks must then write disjoint
// outputs: elementwise kernels, not reductions); otherwise serial.
enum { TG_CPU_PAR_MIN = 1 << 16 };
void tg_cpu_for_rows_par(int n_threads, int n_ops, const tg_view *const *v, tg_cpu_row_fn row,
                         void *user);
// fn over [0, n) in up to n_threads contiguous pieces when n >= TG_CPU_PAR_MIN, else once.
typedef void (*tg_cpu_range_fn)(int64_t lo, int64_t hi, void *arg);
void tg_cpu_for_range(int n_threads, int64_t n, tg_cpu_range_fn fn, void *arg);
// Threads for a kernel call from the backend context (at least 1).
static inline int tg_cpu_threads(const void *ctx) {
    int n = ((const tg_cpu_ctx *)ctx)->n_threads;
    return n > 1 ? n : 1;
}

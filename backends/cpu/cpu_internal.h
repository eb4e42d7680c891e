// Internals of the cpu backend: kernel entry points shared between its files.
#pragma once

#include "backends/backend_impl.h"

typedef struct tg_cpu_ctx {
    int n_threads;   // 0 = BLIS/OpenMP default (1 unless the environment says more)
} tg_cpu_ctx;

int tg_cpu_fill(void *ctx, const tg_view *y, double value);
int tg_cpu_unary(void *ctx, int kind, const tg_view *x, const tg_view *y, double a, double b);
int tg_cpu_binary(void *ctx, int kind, const tg_view *a, const tg_view *b, const tg_view *y);
int tg_cpu_update(void *ctx, int kind, const tg_view *y, const tg_view *a, const tg_view *b,
                  double s0, double s1, double s2);
int tg_cpu_cast(void *ctx, const tg_view *x, const tg_view *y);
int tg_cpu_reduce(void *ctx, int kind, const tg_view *x, const tg_view *y);
int tg_cpu_gemm(void *ctx, const tg_gemm_desc *d);
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
int tg_cpu_argreduce(const tg_view *x, const tg_view *y, bool is_max);

// Iterates a view set (n_ops <= 4 views sharing v[0]'s shape): calls `row` once per 2-D
// block of n_outer rows of n elements; operand k's row r starts at off[k] + r*outer[k]
// and steps by inner[k].
typedef void (*tg_cpu_row_fn)(void *user, const int64_t *off, int64_t n_outer,
                              const int64_t *outer, int64_t n, const int64_t *inner);
void tg_cpu_for_rows(int n_ops, const tg_view *const *v, tg_cpu_row_fn row, void *user);

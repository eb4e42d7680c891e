// Internals of the cuda backend module shared between its .cu files: the per-instance
// context (one stream, one cuBLAS handle), error reporting through the host API (never an
// abort), the strided index walker every elementwise/reduce kernel uses, and the kernel
// entry points the vtable in cuda_backend.cu points at. Everything here is hidden: the
// module exports only tg_backend_module_entry.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <pthread.h>
#include <stdint.h>

#include "backends/backend_impl.h"
#include "backends/elem_math.h"

// Statuses (TG_OK, TG_ERR_*) and dtypes (TG_F32, TG_F64) are the public enums, which
// backend_impl.h includes (values only: the module still links no core symbol).

typedef struct tg_cuda_ctx {
    int device;
    int n_sm;             // multiprocessors: sizes the grids of the split reductions
    cudaStream_t stream;  // every kernel, copy and cuBLAS call of this instance
    cublasHandle_t blas;  // bound to `stream`
    void *scratch;        // device scratch for partial reductions (grown on demand)
    size_t scratch_bytes;
    int *flag_dev;   // device-side error flag (index validation)
    int *flag_host;  // pinned host copy of it
    // Held across every sequence that uses scratch or the flag (host threads share the
    // instance and its stream; such sequences must not interleave).
    pthread_mutex_t lock;
} tg_cuda_ctx;

// ---- errors ----

// Reports a failure through the host's thread-local error ("cuda: <what>: <msg>") and
// returns `status`. Safe before the host is known (then it only returns).
int tg_cuda_fail(int status, const char *what, const char *msg);
// TG_OK for cudaSuccess, else the failure reported with CUDA's message
// (TG_ERR_OOM for cudaErrorMemoryAllocation).
int tg_cuda_check(cudaError_t err, const char *what);
int tg_cuda_check_blas(cublasStatus_t st, const char *what);
// Checks the launch just queued (cudaGetLastError).
int tg_cuda_check_launch(const char *what);

// ---- launch geometry ----

enum {
    TG_CU_THREADS = 256
};
static const int64_t TG_CU_MAX_BLOCKS = 65535;

// Blocks for a grid-stride loop over n items (at least 1).
static inline unsigned tg_cuda_blocks(int64_t n) {
    int64_t b = (n + TG_CU_THREADS - 1) / TG_CU_THREADS;
    if (b < 1) b = 1;
    if (b > TG_CU_MAX_BLOCKS) b = TG_CU_MAX_BLOCKS;
    return (unsigned)b;
}

static inline int64_t tg_cuda_numel(const tg_view *v) {
    int64_t n = 1;
    for (int i = 0; i < v->ndim; i++) n *= v->shape[i];
    return n;
}

static inline size_t tg_cuda_dtype_size(int dtype) { return dtype == TG_F64 ? 8 : 4; }

// ---- strided walker ----

// Up to 4 operands walked over one shape (y's), after coalescing: size-1 dims dropped and
// a dim merged into the previous one when every operand is contiguous across them (the
// cpu backend's tg_cpu_for_rows rule). Passed to kernels by value.
enum {
    TG_CU_MAX_OPS = 4
};
typedef struct tg_cu_walk {
    int nd;     // 0: a single element
    int64_t n;  // elements walked
    int64_t shape[TG_VIEW_MAX_DIMS];
    int64_t stride[TG_CU_MAX_OPS][TG_VIEW_MAX_DIMS];  // element strides per operand
} tg_cu_walk;

// Builds the walk of n_ops views that share v[0]'s shape.
void tg_cuda_walk_make(tg_cu_walk *w, int n_ops, const tg_view *const *v);

// Element offsets of linear element i (row-major over the walk's shape) for n_ops operands.
// The outermost dim needs no division (i < n).
template <int NOPS>
__device__ __forceinline__ void tg_cu_walk_offsets(const tg_cu_walk &w, int64_t i, int64_t *off) {
    for (int k = 0; k < NOPS; k++) off[k] = 0;
    for (int d = w.nd - 1; d > 0; d--) {
        int64_t s = w.shape[d];
        int64_t q = i / s, r = i - q * s;
        for (int k = 0; k < NOPS; k++) off[k] += r * w.stride[k][d];
        i = q;
    }
    if (w.nd > 0)
        for (int k = 0; k < NOPS; k++) off[k] += i * w.stride[k][0];
}

// Loads/stores through a runtime dtype (index tensors may differ from the data's dtype).
__device__ __forceinline__ double tg_cu_load(const void *p, int dtype, int64_t off) {
    return dtype == TG_F64 ? ((const double *)p)[off] : (double)((const float *)p)[off];
}

// ---- kernel entry points (vtable slots) ----

int tg_cuda_fill(void *ctx, const tg_view *y, double value);
int tg_cuda_unary(void *ctx, int kind, const tg_view *x, const tg_view *y, double a, double b);
int tg_cuda_binary(void *ctx, int kind, const tg_view *a, const tg_view *b, const tg_view *y);
int tg_cuda_update(void *ctx, int kind, const tg_view *y, const tg_view *a, const tg_view *b,
                   double s0, double s1, double s2);
int tg_cuda_cast(void *ctx, const tg_view *x, const tg_view *y);
int tg_cuda_where(void *ctx, const tg_view *cond, const tg_view *a, const tg_view *b,
                  const tg_view *y);
int tg_cuda_reduce(void *ctx, int kind, const tg_view *x, const tg_view *y);
int tg_cuda_gemm(void *ctx, const tg_gemm_desc *d);
int tg_cuda_gather(void *ctx, int axis, const tg_view *x, const tg_view *index, const tg_view *y);
int tg_cuda_scatter_add(void *ctx, int axis, const tg_view *src, const tg_view *index,
                        const tg_view *y);
int tg_cuda_im2col(void *ctx, const tg_im2col_desc *d, const void *x, void *cols);
int tg_cuda_col2im(void *ctx, const tg_im2col_desc *d, const void *cols, void *x);
int tg_cuda_batch_norm(void *ctx, const tg_bn_desc *d);
int tg_cuda_max_pool(void *ctx, const tg_im2col_desc *d, int route, const void *x,
                     const void *v, void *out);
int tg_cuda_xent(void *ctx, int dtype, int64_t n, int64_t c, const void *logits, const void *labels,
                 void *loss);
int tg_cuda_xent_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                      const void *labels, const void *dloss, void *dlogits);
int tg_cuda_adam_step(void *ctx, const tg_adam_desc *d);
int tg_cuda_softmax(void *ctx, int dtype, int64_t n, int64_t c, const void *x, void *y,
                    int take_log);
int tg_cuda_softmax_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *y, const void *dy,
                         void *dx, int take_log);
int tg_cuda_layer_norm(void *ctx, int dtype, int64_t n, int64_t c, const void *x, const void *w,
                       const void *b, void *y, double eps);
int tg_cuda_layer_norm_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                            const void *w, const void *dy, void *dx, void *wgrad, double eps);
int tg_cuda_layer_norm_wgrad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                             const void *dy, void *out, double eps);
int tg_cuda_attention(void *ctx, const tg_attn_desc *d);
int tg_cuda_attention_grad(void *ctx, const tg_attn_desc *d);

// The instance's device error flag, for kernels that validate their input (indices,
// labels): reset it, queue the kernels that may set it, then read it (waits for the
// stream). *bad = whether some kernel set it. Call both with c->lock held.
int tg_cuda_flag_reset(tg_cuda_ctx *c, const char *what);
int tg_cuda_flag_read(tg_cuda_ctx *c, const char *what, bool *bad);

// Device scratch of at least `bytes` for this instance (grown on demand; the old buffer
// is released only after the stream drained). NULL + error on failure. Call with c->lock
// held, and keep it until the kernels using the scratch are queued.
void *tg_cuda_scratch(tg_cuda_ctx *c, size_t bytes);

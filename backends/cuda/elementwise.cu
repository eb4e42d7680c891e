// cuda elementwise kernels: fill, unary, binary (broadcast strides), in-place updates,
// cast, where and the fused Adam step. One thread per output element (grid-stride loops);
// views are walked with tg_cu_walk, which covers transposed and broadcast (stride 0)
// operands. Per-element math comes from backends/elem_math.h, as on the cpu backend, with
// the same float/double split (f32 work is done in float, like the cpu's f32 rows).
#include "backends/cuda/cuda_internal.cuh"

// ---- the walk (host side) ----

void tg_cuda_walk_make(tg_cu_walk *w, int n_ops, const tg_view *const *v) {
    const tg_view *y = v[0];
    int nd = 0;
    w->n = 1;
    for (int i = 0; i < y->ndim; i++) w->n *= y->shape[i];
    for (int i = 0; i < y->ndim; i++) {
        if (y->shape[i] == 1) continue;
        bool merge = nd > 0;
        for (int k = 0; k < n_ops && merge; k++)
            merge = w->stride[k][nd - 1] == v[k]->stride[i] * y->shape[i];
        if (merge) {
            w->shape[nd - 1] *= y->shape[i];
            for (int k = 0; k < n_ops; k++) w->stride[k][nd - 1] = v[k]->stride[i];
        } else {
            w->shape[nd] = y->shape[i];
            for (int k = 0; k < n_ops; k++) w->stride[k][nd] = v[k]->stride[i];
            nd++;
        }
    }
    for (int k = n_ops; k < TG_CU_MAX_OPS; k++)
        for (int d = 0; d < nd; d++) w->stride[k][d] = 0;
    w->nd = nd;
}

// ---- unary ----

// The kind switches, one case per TG_UNARY_KINDS / TG_BINARY_KINDS entry calling its
// elem_math.h function (index-driven unary kinds never get here).
#define UNARY_CASE_F32(kind, f32_fn, f64_fn) \
    case kind: return f32_fn(x, a, b);
#define UNARY_CASE_F64(kind, f32_fn, f64_fn) \
    case kind: return f64_fn(x, a, b);
#define UNARY_NO_CASE(kind)

__device__ __forceinline__ double unary_val(int kind, double x, double a, double b) {
    switch (kind) {
        TG_UNARY_KINDS(UNARY_CASE_F64, UNARY_NO_CASE)
        default: return x;
    }
}

__device__ __forceinline__ float unary_val(int kind, float x, float a, float b) {
    switch (kind) {
        TG_UNARY_KINDS(UNARY_CASE_F32, UNARY_NO_CASE)
        default: return x;
    }
}

// y = f(x; a, b): y [walk], x [walk]
template <typename T>
__global__ void unary_kernel(int kind, tg_cu_walk w, const T *x, T *y, T a, T b) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < w.n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        tg_cu_walk_offsets<2>(w, i, off);
        y[off[0]] = unary_val(kind, x[off[1]], a, b);
    }
}

// y[i] = a + b*i, computed in double like the cpu backend: y [n] contiguous
template <typename T> __global__ void arange_kernel(int64_t n, T *y, double a, double b) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = (T)(a + b * (double)i);
}

// y[i] = tg_dropout_u(seed, i) >= p ? 1/(1-p) : 0 (the cpu backend's mask): y [n] contiguous
template <typename T>
__global__ void dropout_mask_kernel(int64_t n, T *y, uint64_t seed, double p) {
    double keep = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = (T)(tg_dropout_u(seed, (uint64_t)i) >= p ? keep : 0.0);
}

// y = value: y [n] contiguous
template <typename T> __global__ void fill_kernel(int64_t n, T *y, T value) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = value;
}

int tg_cuda_fill(void *ctx, const tg_view *y, double value) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    int64_t n = tg_cuda_numel(y);
    if (n == 0) return TG_OK;
    if (y->dtype == TG_F64)
        fill_kernel<double>
            <<<tg_cuda_blocks(n), TG_CU_THREADS, 0, c->stream>>>(n, (double *)y->data, value);
    else
        fill_kernel<float>
            <<<tg_cuda_blocks(n), TG_CU_THREADS, 0, c->stream>>>(n, (float *)y->data, (float)value);
    return tg_cuda_check_launch("fill");
}

int tg_cuda_unary(void *ctx, int kind, const tg_view *x, const tg_view *y, double a, double b) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (kind < 0 || kind >= TG_UNARY_COUNT) return TG_ERR_UNSUPPORTED;
    if (kind == TG_UNARY_ARANGE) {  // y contiguous; x unused
        int64_t n = tg_cuda_numel(y);
        if (n == 0) return TG_OK;
        if (y->dtype == TG_F64)
            arange_kernel<double>
                <<<tg_cuda_blocks(n), TG_CU_THREADS, 0, c->stream>>>(n, (double *)y->data, a, b);
        else
            arange_kernel<float>
                <<<tg_cuda_blocks(n), TG_CU_THREADS, 0, c->stream>>>(n, (float *)y->data, a, b);
        return tg_cuda_check_launch("unary");
    }
    if (kind == TG_UNARY_DROPOUT_MASK) {  // y contiguous; x unused; a: seed, b: p
        int64_t n = tg_cuda_numel(y);
        if (n == 0) return TG_OK;
        if (y->dtype == TG_F64)
            dropout_mask_kernel<double><<<tg_cuda_blocks(n), TG_CU_THREADS, 0, c->stream>>>(
                n, (double *)y->data, (uint64_t)a, b);
        else
            dropout_mask_kernel<float><<<tg_cuda_blocks(n), TG_CU_THREADS, 0, c->stream>>>(
                n, (float *)y->data, (uint64_t)a, b);
        return tg_cuda_check_launch("unary");
    }
    tg_cu_walk w;
    const tg_view *v[2] = {y, x};
    tg_cuda_walk_make(&w, 2, v);
    if (w.n == 0) return TG_OK;
    unsigned blocks = tg_cuda_blocks(w.n);
    if (y->dtype == TG_F64)
        unary_kernel<double><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            kind, w, (const double *)x->data, (double *)y->data, a, b);
    else
        unary_kernel<float><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            kind, w, (const float *)x->data, (float *)y->data, (float)a, (float)b);
    return tg_cuda_check_launch("unary");
}

// ---- binary ----

#define BINARY_CASE_F32(kind, f32_fn, f64_fn) \
    case kind: return f32_fn(a, b);
#define BINARY_CASE_F64(kind, f32_fn, f64_fn) \
    case kind: return f64_fn(a, b);

__device__ __forceinline__ double binary_val(int kind, double a, double b) {
    switch (kind) {
        TG_BINARY_KINDS(BINARY_CASE_F64)
        default: return a;
    }
}

__device__ __forceinline__ float binary_val(int kind, float a, float b) {
    switch (kind) {
        TG_BINARY_KINDS(BINARY_CASE_F32)
        default: return a;
    }
}

// y = f(a, b): y, a, b [walk] (a and b broadcast through stride 0)
template <typename T>
__global__ void binary_kernel(int kind, tg_cu_walk w, const T *a, const T *b, T *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < w.n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[3];
        tg_cu_walk_offsets<3>(w, i, off);
        y[off[0]] = binary_val(kind, a[off[1]], b[off[2]]);
    }
}

int tg_cuda_binary(void *ctx, int kind, const tg_view *a, const tg_view *b, const tg_view *y) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (kind < 0 || kind >= TG_BINARY_COUNT) return TG_ERR_UNSUPPORTED;
    tg_cu_walk w;
    const tg_view *v[3] = {y, a, b};
    tg_cuda_walk_make(&w, 3, v);
    if (w.n == 0) return TG_OK;
    unsigned blocks = tg_cuda_blocks(w.n);
    if (y->dtype == TG_F64)
        binary_kernel<double><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            kind, w, (const double *)a->data, (const double *)b->data, (double *)y->data);
    else
        binary_kernel<float><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            kind, w, (const float *)a->data, (const float *)b->data, (float *)y->data);
    return tg_cuda_check_launch("binary");
}

// ---- in-place updates: y = f(y, a, b) ----

__device__ __forceinline__ double update_val(int kind, double y, double a, double b, double s0,
                                             double s1, double s2) {
    switch (kind) {
        case TG_UPDATE_AXPBY: return s0 * a + s1 * y;
        case TG_UPDATE_ADDCMUL: return y + s0 * a * b;
        case TG_UPDATE_ADDCDIV: return y + s0 * a / b;
        case TG_UPDATE_ADDCDIV_SQRT: return y + s0 * tg_adam_ratio_d(a, b, s1, s2);
        case TG_UPDATE_MAXIMUM: return tg_max_d(y, a);
        case TG_UPDATE_MAX_ABS: return tg_adamax_norm_d(y, a, s1, s2);
        case TG_UPDATE_SQRT_RATIO: return tg_adadelta_step_d(y, a, b, s2);
        case TG_UPDATE_CLAMP: return tg_clamp_d(y, s1, s2);
        case TG_UPDATE_SCALE: return y * s1;
        default: return y;
    }
}

__device__ __forceinline__ float update_val(int kind, float y, float a, float b, float s0, float s1,
                                            float s2) {
    switch (kind) {
        case TG_UPDATE_AXPBY: return s0 * a + s1 * y;
        case TG_UPDATE_ADDCMUL: return y + s0 * a * b;
        case TG_UPDATE_ADDCDIV: return y + s0 * a / b;
        case TG_UPDATE_ADDCDIV_SQRT: return y + s0 * tg_adam_ratio_f(a, b, s1, s2);
        case TG_UPDATE_MAXIMUM: return tg_max_f(y, a);
        case TG_UPDATE_MAX_ABS: return tg_adamax_norm_f(y, a, s1, s2);
        case TG_UPDATE_SQRT_RATIO: return tg_adadelta_step_f(y, a, b, s2);
        case TG_UPDATE_CLAMP: return tg_clamp_f(y, s1, s2);
        case TG_UPDATE_SCALE: return y * s1;
        default: return y;
    }
}

// y, a, b [n] contiguous (checked by the core); b may alias a when the kind has no b
template <typename T>
__global__ void update_kernel(int kind, int64_t n, T *y, const T *a, const T *b, T s0, T s1, T s2) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = update_val(kind, y[i], a[i], b[i], s0, s1, s2);
}

int tg_cuda_update(void *ctx, int kind, const tg_view *y, const tg_view *a, const tg_view *b,
                   double s0, double s1, double s2) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (kind < 0 || kind >= TG_UPDATE_COUNT) return TG_ERR_UNSUPPORTED;
    int64_t n = tg_cuda_numel(y);
    if (n == 0) return TG_OK;
    const tg_view *aa = a ? a : y, *bb = b ? b : aa;
    unsigned blocks = tg_cuda_blocks(n);
    if (y->dtype == TG_F64)
        update_kernel<double><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            kind, n, (double *)y->data, (const double *)aa->data, (const double *)bb->data, s0, s1,
            s2);
    else
        update_kernel<float><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            kind, n, (float *)y->data, (const float *)aa->data, (const float *)bb->data, (float)s0,
            (float)s1, (float)s2);
    return tg_cuda_check_launch("update");
}

// ---- cast ----

// y = (Ty)x: y, x [walk]
template <typename Tx, typename Ty> __global__ void cast_kernel(tg_cu_walk w, const Tx *x, Ty *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < w.n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        tg_cu_walk_offsets<2>(w, i, off);
        y[off[0]] = (Ty)x[off[1]];
    }
}

int tg_cuda_cast(void *ctx, const tg_view *x, const tg_view *y) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (x->dtype == y->dtype) return tg_cuda_unary(ctx, TG_UNARY_COPY, x, y, 0, 0);
    tg_cu_walk w;
    const tg_view *v[2] = {y, x};
    tg_cuda_walk_make(&w, 2, v);
    if (w.n == 0) return TG_OK;
    unsigned blocks = tg_cuda_blocks(w.n);
    if (y->dtype == TG_F64)
        cast_kernel<float, double>
            <<<blocks, TG_CU_THREADS, 0, c->stream>>>(w, (const float *)x->data, (double *)y->data);
    else
        cast_kernel<double, float>
            <<<blocks, TG_CU_THREADS, 0, c->stream>>>(w, (const double *)x->data, (float *)y->data);
    return tg_cuda_check_launch("cast");
}

// ---- where: y = cond != 0 ? a : b ----

// y, cond, a, b [walk]; cond has y's dtype (as on the cpu backend)
template <typename T>
__global__ void where_kernel(tg_cu_walk w, const T *cond, const T *a, const T *b, T *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < w.n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[4];
        tg_cu_walk_offsets<4>(w, i, off);
        y[off[0]] = cond[off[1]] != T(0) ? a[off[2]] : b[off[3]];
    }
}

int tg_cuda_where(void *ctx, const tg_view *cond, const tg_view *a, const tg_view *b,
                  const tg_view *y) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    tg_cu_walk w;
    const tg_view *v[4] = {y, cond, a, b};
    tg_cuda_walk_make(&w, 4, v);
    if (w.n == 0) return TG_OK;
    unsigned blocks = tg_cuda_blocks(w.n);
    if (y->dtype == TG_F64)
        where_kernel<double><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            w, (const double *)cond->data, (const double *)a->data, (const double *)b->data,
            (double *)y->data);
    else
        where_kernel<float><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            w, (const float *)cond->data, (const float *)a->data, (const float *)b->data,
            (float *)y->data);
    return tg_cuda_check_launch("where");
}

// ---- fused Adam/AdamW step (elem_math.h's tg_adam_elem_*, torch's operation order) ----

// p, g, m, v [n] (and vmax [n] with amsgrad, else NULL), contiguous
__global__ void adam_kernel_d(tg_adam_desc d) {
    double *p = (double *)d.p, *m = (double *)d.m, *v = (double *)d.v, *vm = (double *)d.vmax;
    const double *g = (const double *)d.g;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < d.n;
         i += (int64_t)gridDim.x * blockDim.x)
        tg_adam_elem_d(p + i, g[i], m + i, v + i, vm ? vm + i : NULL, d.lr, d.beta1, d.beta2, d.eps,
                       d.weight_decay, d.bc1, d.bc2_sqrt, d.decoupled);
}

__global__ void adam_kernel_f(tg_adam_desc d) {
    float *p = (float *)d.p, *m = (float *)d.m, *v = (float *)d.v, *vm = (float *)d.vmax;
    const float *g = (const float *)d.g;
    float lr = (float)d.lr, b1 = (float)d.beta1, b2 = (float)d.beta2, eps = (float)d.eps;
    float wd = (float)d.weight_decay, bc1 = (float)d.bc1, bc2 = (float)d.bc2_sqrt;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < d.n;
         i += (int64_t)gridDim.x * blockDim.x)
        tg_adam_elem_f(p + i, g[i], m + i, v + i, vm ? vm + i : NULL, lr, b1, b2, eps, wd, bc1, bc2,
                       d.decoupled);
}

int tg_cuda_adam_step(void *ctx, const tg_adam_desc *d) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (d->n <= 0) return TG_OK;
    if (d->dtype == TG_F64)
        adam_kernel_d<<<tg_cuda_blocks(d->n), TG_CU_THREADS, 0, c->stream>>>(*d);
    else
        adam_kernel_f<<<tg_cuda_blocks(d->n), TG_CU_THREADS, 0, c->stream>>>(*d);
    return tg_cuda_check_launch("adam_step");
}

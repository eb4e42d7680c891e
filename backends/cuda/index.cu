// cuda index kernels: gather / scatter_add along an axis and im2col / col2im for
// convolution and pooling (NCHW). Indices are validated on the device before anything is
// written; a bad one (out of range or not integral) makes the call return
// TG_ERR_INVALID_ARG with the output untouched, as on the cpu backend (this costs one
// stream synchronisation per call). col2im gathers per image element in a fixed tap
// order: deterministic, no atomics, and the same sums as the cpu loop.
#include <math.h>

#include "backends/cuda/cuda_internal.cuh"

// ---- gather / scatter_add ----

// The views of one gather/scatter call, by value (index shape = the walked shape).
typedef struct idx_job {
    int ndim, axis;
    int64_t n, limit;
    int64_t shape[TG_VIEW_MAX_DIMS];
    int64_t s_small[TG_VIEW_MAX_DIMS];  // the operand of the walked shape (gather: y; scatter: src)
    int64_t s_index[TG_VIEW_MAX_DIMS];
    int64_t s_big[TG_VIEW_MAX_DIMS];  // the operand indexed along axis (gather: x; scatter: y)
    int index_dtype;
} idx_job;

// Offsets of element t of the walked shape in the small operand, in the index, and in the
// big operand without its `axis` term.
__device__ __forceinline__ void idx_offsets(const idx_job &j, int64_t t, int64_t *o_small,
                                            int64_t *o_index, int64_t *o_big_rest) {
    int64_t a = 0, b = 0, c = 0;
    for (int d = j.ndim - 1; d >= 0; d--) {
        int64_t s = j.shape[d];
        int64_t q = t / s, r = t - q * s;
        a += r * j.s_small[d];
        b += r * j.s_index[d];
        if (d != j.axis) c += r * j.s_big[d];
        t = q;
    }
    *o_small = a;
    *o_index = b;
    *o_big_rest = c;
}

// flag = 1 when some index is not an integral value in [0, limit)
__global__ void idx_check_kernel(idx_job j, const void *index, int *flag) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < j.n;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t os, oi, ob;
        idx_offsets(j, t, &os, &oi, &ob);
        double fi = tg_cu_load(index, j.index_dtype, oi);
        if (!(fi >= 0 && fi < (double)j.limit && fi == floor(fi))) *flag = 1;
    }
}

// y [shape] = x [.., index, ..]   (small = y, big = x)
template <typename T>
__global__ void gather_kernel(idx_job j, const T *x, const void *index, T *y) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < j.n;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t os, oi, ob;
        idx_offsets(j, t, &os, &oi, &ob);
        int64_t at = (int64_t)tg_cu_load(index, j.index_dtype, oi);
        y[os] = x[ob + at * j.s_big[j.axis]];
    }
}

__device__ __forceinline__ void atomic_add(float *p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double *p, double v) { atomicAdd(p, v); }

// y [.., index, ..] += src [shape]   (small = src, big = y)
template <typename T>
__global__ void scatter_add_kernel(idx_job j, const T *src, const void *index, T *y) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < j.n;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t os, oi, ob;
        idx_offsets(j, t, &os, &oi, &ob);
        int64_t at = (int64_t)tg_cu_load(index, j.index_dtype, oi);
        atomic_add(&y[ob + at * j.s_big[j.axis]], src[os]);
    }
}

static void idx_job_make(idx_job *j, int axis, const tg_view *small, const tg_view *index,
                         const tg_view *big) {
    j->ndim = index->ndim;
    j->axis = axis;
    j->limit = big->shape[axis];
    j->index_dtype = index->dtype;
    j->n = 1;
    for (int d = 0; d < index->ndim; d++) {
        j->shape[d] = index->shape[d];
        j->n *= index->shape[d];
        j->s_small[d] = small->stride[d];
        j->s_index[d] = index->stride[d];
        j->s_big[d] = big->stride[d];
    }
}

// Runs the index check and waits for its verdict: TG_OK, TG_ERR_INVALID_ARG (bad
// index, nothing reported: the core names the op) or a CUDA failure.
static int idx_validate(tg_cuda_ctx *c, const idx_job *j, const void *index, const char *what) {
    pthread_mutex_lock(&c->lock);  // one flag per instance
    int st = tg_cuda_flag_reset(c, what);
    if (!st) {
        idx_check_kernel<<<tg_cuda_blocks(j->n), TG_CU_THREADS, 0, c->stream>>>(*j, index,
                                                                                c->flag_dev);
        st = tg_cuda_check_launch(what);
    }
    bool bad = false;
    if (!st) st = tg_cuda_flag_read(c, what, &bad);
    pthread_mutex_unlock(&c->lock);
    return st ? st : (bad ? TG_ERR_INVALID_ARG : TG_OK);
}

static bool idx_args_ok(int axis, const tg_view *small, const tg_view *index, const tg_view *big) {
    if (axis < 0 || axis >= big->ndim || index->ndim != small->ndim || index->ndim != big->ndim ||
        small->dtype != big->dtype)
        return false;
    for (int d = 0; d < index->ndim; d++)
        if (index->shape[d] != small->shape[d]) return false;
    return true;
}

int tg_cuda_gather(void *ctx, int axis, const tg_view *x, const tg_view *index, const tg_view *y) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!idx_args_ok(axis, y, index, x)) return TG_ERR_INVALID_ARG;
    idx_job j;
    idx_job_make(&j, axis, y, index, x);
    if (j.n == 0) return TG_OK;
    int st = idx_validate(c, &j, index->data, "gather");
    if (st) return st;
    if (y->dtype == TG_F64)
        gather_kernel<double><<<tg_cuda_blocks(j.n), TG_CU_THREADS, 0, c->stream>>>(
            j, (const double *)x->data, index->data, (double *)y->data);
    else
        gather_kernel<float><<<tg_cuda_blocks(j.n), TG_CU_THREADS, 0, c->stream>>>(
            j, (const float *)x->data, index->data, (float *)y->data);
    return tg_cuda_check_launch("gather");
}

int tg_cuda_scatter_add(void *ctx, int axis, const tg_view *src, const tg_view *index,
                        const tg_view *y) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!idx_args_ok(axis, src, index, y)) return TG_ERR_INVALID_ARG;
    idx_job j;
    idx_job_make(&j, axis, src, index, y);
    if (j.n == 0) return TG_OK;
    int st = idx_validate(c, &j, index->data, "scatter_add");
    if (st) return st;
    if (y->dtype == TG_F64)
        scatter_add_kernel<double><<<tg_cuda_blocks(j.n), TG_CU_THREADS, 0, c->stream>>>(
            j, (const double *)src->data, index->data, (double *)y->data);
    else
        scatter_add_kernel<float><<<tg_cuda_blocks(j.n), TG_CU_THREADS, 0, c->stream>>>(
            j, (const float *)src->data, index->data, (float *)y->data);
    return tg_cuda_check_launch("scatter_add");
}

// ---- im2col / col2im ----

// cols [N, C*KH*KW, OH*OW] (images cols_bs apart) = windows of x [N, C, H, W];
// out-of-image taps read pad_value
template <typename T> __global__ void im2col_kernel(tg_im2col_desc d, const T *x, T *cols, T pad) {
    int64_t L = d.oh * d.ow, rows = d.c * d.kh * d.kw, total = d.n * rows * L;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t l = t % L, r = (t / L) % rows, n = t / (L * rows);
        int64_t kj = r % d.kw, ki = (r / d.kw) % d.kh, ch = r / (d.kw * d.kh);
        int64_t oh = l / d.ow, ow = l % d.ow;
        int64_t ih = oh * d.stride_h - d.pad_h + ki * d.dil_h;
        int64_t iw = ow * d.stride_w - d.pad_w + kj * d.dil_w;
        bool in = ih >= 0 && ih < d.h && iw >= 0 && iw < d.w;
        int64_t bs = d.cols_bs ? d.cols_bs : rows * L;
        cols[n * bs + r * L + l] = in ? x[((n * d.c + ch) * d.h + ih) * d.w + iw] : pad;
    }
}

// x [N, C, H, W] += col2im(cols): each image element sums the taps that read it, in
// (ki, kj) order, one addition at a time (the cpu loop's order)
template <typename T> __global__ void col2im_kernel(tg_im2col_desc d, const T *cols, T *x) {
    int64_t L = d.oh * d.ow, rows = d.c * d.kh * d.kw, total = d.n * d.c * d.h * d.w;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t iw = t % d.w, ih = (t / d.w) % d.h, ch = (t / (d.w * d.h)) % d.c;
        int64_t n = t / (d.w * d.h * d.c);
        T acc = x[t];
        for (int64_t ki = 0; ki < d.kh; ki++) {
            int64_t th = ih + d.pad_h - ki * d.dil_h;
            if (th < 0 || th % d.stride_h) continue;
            int64_t oh = th / d.stride_h;
            if (oh >= d.oh) continue;
            for (int64_t kj = 0; kj < d.kw; kj++) {
                int64_t tw = iw + d.pad_w - kj * d.dil_w;
                if (tw < 0 || tw % d.stride_w) continue;
                int64_t ow = tw / d.stride_w;
                if (ow >= d.ow) continue;
                int64_t r = (ch * d.kh + ki) * d.kw + kj;
                acc += cols[n * (d.cols_bs ? d.cols_bs : rows * L) + r * L + oh * d.ow + ow];
            }
        }
        x[t] = acc;
    }
}

static bool im2col_ok(const tg_im2col_desc *d) {
    return d->n >= 0 && d->c >= 0 && d->h >= 0 && d->w >= 0 && d->kh >= 0 && d->kw >= 0 &&
           d->oh >= 0 && d->ow >= 0 && d->stride_h > 0 && d->stride_w > 0;
}

int tg_cuda_im2col(void *ctx, const tg_im2col_desc *d, const void *x, void *cols) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!im2col_ok(d)) return TG_ERR_INVALID_ARG;
    int64_t total = d->n * d->c * d->kh * d->kw * d->oh * d->ow;
    if (total == 0) return TG_OK;
    if (d->dtype == TG_F64)
        im2col_kernel<double><<<tg_cuda_blocks(total), TG_CU_THREADS, 0, c->stream>>>(
            *d, (const double *)x, (double *)cols, d->pad_value);
    else
        im2col_kernel<float><<<tg_cuda_blocks(total), TG_CU_THREADS, 0, c->stream>>>(
            *d, (const float *)x, (float *)cols, (float)d->pad_value);
    return tg_cuda_check_launch("im2col");
}

int tg_cuda_col2im(void *ctx, const tg_im2col_desc *d, const void *cols, void *x) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!im2col_ok(d)) return TG_ERR_INVALID_ARG;
    int64_t total = d->n * d->c * d->h * d->w;
    if (total == 0 || d->oh * d->ow == 0) return TG_OK;
    if (d->dtype == TG_F64)
        col2im_kernel<double><<<tg_cuda_blocks(total), TG_CU_THREADS, 0, c->stream>>>(
            *d, (const double *)cols, (double *)x);
    else
        col2im_kernel<float><<<tg_cuda_blocks(total), TG_CU_THREADS, 0, c->stream>>>(
            *d, (const float *)cols, (float *)x);
    return tg_cuda_check_launch("col2im");
}

// ---- max pooling (the cpu loop's rule: first maximum in row-major tap order, NaN wins) ----

template <typename T>
__device__ int64_t pool_winner(const tg_im2col_desc &d, const T *x, int64_t oh, int64_t ow) {
    int64_t best = -1;
    T bv = 0;
    for (int64_t ki = 0; ki < d.kh; ki++) {
        int64_t ih = oh * d.stride_h - d.pad_h + ki * d.dil_h;
        if (ih < 0 || ih >= d.h) continue;
        for (int64_t kj = 0; kj < d.kw; kj++) {
            int64_t iw = ow * d.stride_w - d.pad_w + kj * d.dil_w;
            if (iw < 0 || iw >= d.w) continue;
            T v = x[ih * d.w + iw];
            if (best < 0 || v > bv || (isnan(v) && !isnan(bv))) best = ih * d.w + iw, bv = v;
        }
    }
    return best;
}

// out [N, C, OH, OW] = v at each window's winner in x (one thread per output)
template <typename T>
__global__ void pool_select_kernel(tg_im2col_desc d, const T *x, const T *v, T *out) {
    int64_t ohw = d.oh * d.ow, hw = d.h * d.w, total = d.n * d.c * ohw;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t pl = t / ohw, o = t % ohw;
        int64_t at = pool_winner(d, x + pl * hw, o / d.ow, o % d.ow);
        out[t] = v[pl * hw + at];
    }
}

// out [N, C, H, W] += v at the winners (overwrite: out = those sums): each image element
// sums the windows it wins, in window order (one thread per element: no atomics, the same
// sums every run)
template <typename T>
__global__ void pool_route_kernel(tg_im2col_desc d, const T *x, const T *v, T *out,
                                  bool overwrite) {
    int64_t ohw = d.oh * d.ow, hw = d.h * d.w, total = d.n * d.c * hw;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t pl = t / hw, e = t % hw, ih = e / d.w, iw = e % d.w;
        T acc = overwrite ? (T)0 : out[t];
        for (int64_t ki = 0; ki < d.kh; ki++) {
            int64_t th = ih + d.pad_h - ki * d.dil_h;
            if (th < 0 || th % d.stride_h) continue;
            int64_t oh = th / d.stride_h;
            if (oh >= d.oh) continue;
            for (int64_t kj = 0; kj < d.kw; kj++) {
                int64_t tw = iw + d.pad_w - kj * d.dil_w;
                if (tw < 0 || tw % d.stride_w) continue;
                int64_t ow = tw / d.stride_w;
                if (ow >= d.ow) continue;
                if (pool_winner(d, x + pl * hw, oh, ow) == e) acc += v[pl * ohw + oh * d.ow + ow];
            }
        }
        out[t] = acc;
    }
}

int tg_cuda_max_pool(void *ctx, const tg_im2col_desc *d, int route, const void *x,
                     const void *v, void *out) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!im2col_ok(d)) return TG_ERR_INVALID_ARG;
    int64_t total = d->n * d->c * (route ? d->h * d->w : d->oh * d->ow);
    if (total == 0 || d->oh * d->ow == 0) return TG_OK;
    unsigned blocks = tg_cuda_blocks(total);
    if (d->dtype == TG_F64) {
        if (route)
            pool_route_kernel<double><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
                *d, (const double *)x, (const double *)v, (double *)out, route == 2);
        else
            pool_select_kernel<double><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
                *d, (const double *)x, (const double *)v, (double *)out);
    } else {
        if (route)
            pool_route_kernel<float><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
                *d, (const float *)x, (const float *)v, (float *)out, route == 2);
        else
            pool_select_kernel<float><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
                *d, (const float *)x, (const float *)v, (float *)out);
    }
    return tg_cuda_check_launch("max_pool");
}

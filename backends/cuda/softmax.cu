// cuda softmax by rows (the softmax slot) and softmax cross-entropy (xent / xent_grad): one
// warp per row, with lanes striding over the classes and shuffle reductions for the max and
// the sum of exps. The arithmetic follows backends/cpu/softmax.c: the max ignores NaN (the
// shift is 0 when it is -inf; a +inf max makes the row NaN, as torch's), the sum of exps is
// accumulated in double, f32 losses are finished in double, and a loss is (m - z[label]) +
// log(s), never log(s) + m (which rounds log(s) away at |m| >> 1). A label that is not an
// integer in [0, c) sets the instance's flag: the call then returns TG_ERR_INVALID_ARG (the
// output is a fresh tensor the failed op discards).
#include <math.h>

#include "backends/cuda/cuda_internal.cuh"

static const int WARP = 32;

__device__ __forceinline__ float exp_t(float x) { return expf(x); }
__device__ __forceinline__ double exp_t(double x) { return exp(x); }

template <typename T> __device__ __forceinline__ T warp_max(T v) {
    for (int o = WARP / 2; o > 0; o >>= 1) {
        T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

__device__ __forceinline__ double warp_sum(double v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The row's shift: its max (NaN never wins), 0 if that is -inf.
template <typename T> __device__ __forceinline__ T row_max(const T *z, int64_t c, int lane) {
    T m = -INFINITY;
    for (int64_t k = lane; k < c; k += WARP) m = z[k] > m ? z[k] : m;
    m = warp_max(m);
    return m == T(-INFINITY) ? T(0) : m;
}

template <typename T>
__device__ __forceinline__ double row_sum_exp(const T *z, int64_t c, int lane, T m) {
    double s = 0;
    for (int64_t k = lane; k < c; k += WARP) s += (double)exp_t(z[k] - m);
    return warp_sum(s);
}

// loss = logsumexp - z[label], in the cpu backend's operation order for each dtype.
__device__ __forceinline__ double xent_loss(double s, double m, double zy) {
    return (m - zy) + log(s);
}
__device__ __forceinline__ float xent_loss(double s, float m, float zy) {
    return (float)(log(s) + ((double)m - (double)zy));
}

__device__ __forceinline__ bool bad_label(double l, int64_t c) {
    return !(l >= 0 && l < (double)c) || l != floor(l);
}

// loss [n] = logsumexp(z [n, c] row) - z[row, label]
template <typename T>
__global__ void xent_kernel(int64_t n, int64_t c, const T *z, const T *labels, T *loss, int *flag) {
    int lane = threadIdx.x % WARP;
    int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / WARP;
    int64_t n_warps = (int64_t)gridDim.x * blockDim.x / WARP;
    for (int64_t i = warp; i < n; i += n_warps) {  // warp-uniform: shuffles stay converged
        const T *zi = z + i * c;
        T m = row_max(zi, c, lane);
        double s = row_sum_exp(zi, c, lane, m);
        if (lane != 0) continue;
        double l = (double)labels[i];
        if (bad_label(l, c)) {
            *flag = 1;
            continue;
        }
        loss[i] = xent_loss(s, m, zi[(int64_t)l]);
    }
}

// dz [n, c] = (softmax(z row) - onehot(label)) * dloss[row]
template <typename T>
__global__ void xent_grad_kernel(int64_t n, int64_t c, const T *z, const T *labels, const T *dloss,
                                 T *dz, int *flag) {
    int lane = threadIdx.x % WARP;
    int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / WARP;
    int64_t n_warps = (int64_t)gridDim.x * blockDim.x / WARP;
    for (int64_t i = warp; i < n; i += n_warps) {
        const T *zi = z + i * c;
        T *gi = dz + i * c;
        T m = row_max(zi, c, lane);
        double s = row_sum_exp(zi, c, lane, m);
        double l = (double)labels[i];
        if (bad_label(l, c)) {
            if (lane == 0) *flag = 1;
            continue;
        }
        T d = dloss[i];
        T inv = (T)((double)d / s);
        int64_t y = (int64_t)l;
        for (int64_t k = lane; k < c; k += WARP) {
            T g = exp_t(zi[k] - m) * inv;
            gi[k] = k == y ? g - d : g;
        }
    }
}

// y [n, c] = softmax (or log_softmax when take_log) of each row of x [n, c]
template <typename T>
__global__ void softmax_kernel(int64_t n, int64_t c, const T *x, T *y, bool take_log) {
    int lane = threadIdx.x % WARP;
    int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / WARP;
    int64_t n_warps = (int64_t)gridDim.x * blockDim.x / WARP;
    for (int64_t i = warp; i < n; i += n_warps) {  // warp-uniform: shuffles stay converged
        const T *xi = x + i * c;
        T *yi = y + i * c;
        T m = row_max(xi, c, lane);
        double s = row_sum_exp(xi, c, lane, m);
        if (take_log) {
            T ls = (T)log(s);
            for (int64_t k = lane; k < c; k += WARP) yi[k] = (xi[k] - m) - ls;
        } else {
            T inv = (T)(1.0 / s);
            for (int64_t k = lane; k < c; k += WARP) yi[k] = exp_t(xi[k] - m) * inv;
        }
    }
}

// dx [n, c] from y = softmax (dx = y * (dy - sum(dy*y))) or log_softmax (take_log:
// dx = dy - exp(y) * sum(dy)) of each row, the row sum in double
template <typename T>
__global__ void softmax_grad_kernel(int64_t n, int64_t c, const T *y, const T *dy, T *dx,
                                    bool take_log) {
    int lane = threadIdx.x % WARP;
    int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / WARP;
    int64_t n_warps = (int64_t)gridDim.x * blockDim.x / WARP;
    for (int64_t i = warp; i < n; i += n_warps) {  // warp-uniform: shuffles stay converged
        const T *yi = y + i * c, *gi = dy + i * c;
        T *xi = dx + i * c;
        double s = 0;
        for (int64_t k = lane; k < c; k += WARP)
            s += take_log ? (double)gi[k] : (double)gi[k] * (double)yi[k];
        T st = (T)warp_sum(s);
        if (take_log)
            for (int64_t k = lane; k < c; k += WARP) xi[k] = gi[k] - exp_t(yi[k]) * st;
        else
            for (int64_t k = lane; k < c; k += WARP) xi[k] = yi[k] * (gi[k] - st);
    }
}

static unsigned row_blocks(int64_t n) {
    int64_t rows_per_block = TG_CU_THREADS / WARP;
    int64_t b = (n + rows_per_block - 1) / rows_per_block;
    if (b < 1) b = 1;
    return (unsigned)(b < TG_CU_MAX_BLOCKS ? b : TG_CU_MAX_BLOCKS);
}

int tg_cuda_xent(void *ctx, int dtype, int64_t n, int64_t c, const void *logits, const void *labels,
                 void *loss) {
    tg_cuda_ctx *c_ = (tg_cuda_ctx *)ctx;
    if (n <= 0) return TG_OK;
    if (c <= 0) return TG_ERR_INVALID_ARG;  // no label can be valid
    pthread_mutex_lock(&c_->lock);
    int st = tg_cuda_flag_reset(c_, "xent");
    if (!st) {
        if (dtype == TG_F64)
            xent_kernel<double><<<row_blocks(n), TG_CU_THREADS, 0, c_->stream>>>(
                n, c, (const double *)logits, (const double *)labels, (double *)loss, c_->flag_dev);
        else
            xent_kernel<float><<<row_blocks(n), TG_CU_THREADS, 0, c_->stream>>>(
                n, c, (const float *)logits, (const float *)labels, (float *)loss, c_->flag_dev);
        st = tg_cuda_check_launch("xent");
    }
    bool bad = false;
    if (!st) st = tg_cuda_flag_read(c_, "xent", &bad);
    pthread_mutex_unlock(&c_->lock);
    return st ? st : (bad ? TG_ERR_INVALID_ARG : TG_OK);
}

int tg_cuda_xent_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *logits,
                      const void *labels, const void *dloss, void *dlogits) {
    tg_cuda_ctx *c_ = (tg_cuda_ctx *)ctx;
    if (n <= 0) return TG_OK;
    if (c <= 0) return TG_ERR_INVALID_ARG;
    pthread_mutex_lock(&c_->lock);
    int st = tg_cuda_flag_reset(c_, "xent_grad");
    if (!st) {
        if (dtype == TG_F64)
            xent_grad_kernel<double><<<row_blocks(n), TG_CU_THREADS, 0, c_->stream>>>(
                n, c, (const double *)logits, (const double *)labels, (const double *)dloss,
                (double *)dlogits, c_->flag_dev);
        else
            xent_grad_kernel<float><<<row_blocks(n), TG_CU_THREADS, 0, c_->stream>>>(
                n, c, (const float *)logits, (const float *)labels, (const float *)dloss,
                (float *)dlogits, c_->flag_dev);
        st = tg_cuda_check_launch("xent_grad");
    }
    bool bad = false;
    if (!st) st = tg_cuda_flag_read(c_, "xent_grad", &bad);
    pthread_mutex_unlock(&c_->lock);
    return st ? st : (bad ? TG_ERR_INVALID_ARG : TG_OK);
}

int tg_cuda_softmax(void *ctx, int dtype, int64_t n, int64_t c, const void *x, void *y,
                    int take_log) {
    tg_cuda_ctx *c_ = (tg_cuda_ctx *)ctx;
    if (n <= 0 || c <= 0) return TG_OK;
    if (dtype == TG_F64)
        softmax_kernel<double><<<row_blocks(n), TG_CU_THREADS, 0, c_->stream>>>(
            n, c, (const double *)x, (double *)y, take_log != 0);
    else
        softmax_kernel<float><<<row_blocks(n), TG_CU_THREADS, 0, c_->stream>>>(
            n, c, (const float *)x, (float *)y, take_log != 0);
    return tg_cuda_check_launch("softmax");
}

int tg_cuda_softmax_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *y, const void *dy,
                         void *dx, int take_log) {
    tg_cuda_ctx *c_ = (tg_cuda_ctx *)ctx;
    if (n <= 0 || c <= 0) return TG_OK;
    if (dtype == TG_F64)
        softmax_grad_kernel<double><<<row_blocks(n), TG_CU_THREADS, 0, c_->stream>>>(
            n, c, (const double *)y, (const double *)dy, (double *)dx, take_log != 0);
    else
        softmax_grad_kernel<float><<<row_blocks(n), TG_CU_THREADS, 0, c_->stream>>>(
            n, c, (const float *)y, (const float *)dy, (float *)dx, take_log != 0);
    return tg_cuda_check_launch("softmax_grad");
}

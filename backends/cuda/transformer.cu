// cuda layer normalisation (layer_norm, layer_norm_grad) and fused attention (attention,
// attention_grad), following the cpu backend's formulas (backends/cpu/layernorm.c,
// backends/cpu/attention.c): one warp per row, lanes striding over the row, shuffle
// reductions in double. Attention takes one warp per query row (forward: a pass for the
// log-sum-exp, a pass accumulating the output into its lane-owned elements); its backward
// runs a warp per query row (log-sum-exp, D_i = dout_i . o_i, dq) and then a warp per key
// row (dk, dv), each lane writing only its own elements, so nothing needs atomics. The two
// backward kernels hand the per-row statistics over in the instance's scratch.
#include <math.h>

#include "backends/cuda/cuda_internal.cuh"

static const int WARP = 32;

__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static unsigned warp_blocks(int64_t rows) {
    int64_t per = TG_CU_THREADS / WARP, b = (rows + per - 1) / per;
    if (b < 1) b = 1;
    return (unsigned)(b < TG_CU_MAX_BLOCKS ? b : TG_CU_MAX_BLOCKS);
}

// This thread's warp and the number of warps in the grid (rows are warp-uniform, so the
// shuffles stay converged).
__device__ __forceinline__ int64_t warp_id() {
    return (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / WARP;
}
__device__ __forceinline__ int64_t n_warps() { return (int64_t)gridDim.x * blockDim.x / WARP; }

// ---- layer norm ----

// mean and rstd of one row (the variance about the mean, in double)
template <typename T>
__device__ void row_stats(const T *x, int64_t c, int lane, double eps, double *m, double *r) {
    double s = 0;
    for (int64_t k = lane; k < c; k += WARP) s += (double)x[k];
    double mean = warp_sum_d(s) / (double)c, v = 0;
    for (int64_t k = lane; k < c; k += WARP) v += ((double)x[k] - mean) * ((double)x[k] - mean);
    *m = mean;
    *r = 1.0 / sqrt(warp_sum_d(v) / (double)c + eps);
}

template <typename T>
__global__ void layer_norm_kernel(int64_t n, int64_t c, const T *x, const T *w, const T *b, T *y,
                                  double eps) {
    int lane = threadIdx.x % WARP;
    for (int64_t i = warp_id(); i < n; i += n_warps()) {
        const T *xi = x + i * c;
        double m, r;
        row_stats(xi, c, lane, eps, &m, &r);
        for (int64_t k = lane; k < c; k += WARP) {
            T v = (T)(((double)xi[k] - m) * r);
            if (w) v *= w[k];
            y[i * c + k] = b ? v + b[k] : v;
        }
    }
}

template <typename T>
__global__ void layer_norm_grad_kernel(int64_t n, int64_t c, const T *x, const T *w, const T *dy,
                                       T *dx, double eps) {
    int lane = threadIdx.x % WARP;
    for (int64_t i = warp_id(); i < n; i += n_warps()) {
        const T *xi = x + i * c, *dyi = dy + i * c;
        double m, r, sg = 0, sgx = 0;
        row_stats(xi, c, lane, eps, &m, &r);
        for (int64_t k = lane; k < c; k += WARP) {
            double g = w ? (double)dyi[k] * (double)w[k] : (double)dyi[k];
            sg += g;
            sgx += g * ((double)xi[k] - m) * r;
        }
        double a = warp_sum_d(sg) / (double)c, cc = warp_sum_d(sgx) / (double)c;
        for (int64_t k = lane; k < c; k += WARP) {
            double g = w ? (double)dyi[k] * (double)w[k] : (double)dyi[k];
            dx[i * c + k] = (T)(r * (g - a - ((double)xi[k] - m) * r * cc));
        }
    }
}

// out [2, c]: column sums of dy * xhat and dy; one thread per column walks the rows (the
// statistics of each row come from stats [2n], written by a warp per row first).
template <typename T>
__global__ void row_stats_kernel(int64_t n, int64_t c, const T *x, double eps, double *stats) {
    int lane = threadIdx.x % WARP;
    for (int64_t i = warp_id(); i < n; i += n_warps()) {
        double m, r;
        row_stats(x + i * c, c, lane, eps, &m, &r);
        if (lane == 0) stats[2 * i] = m, stats[2 * i + 1] = r;
    }
}

template <typename T>
__global__ void layer_norm_wgrad_kernel(int64_t n, int64_t c, const T *x, const T *dy,
                                        const double *stats, T *out) {
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < c;
         k += (int64_t)gridDim.x * blockDim.x) {
        double sw = 0, sb = 0;
        for (int64_t i = 0; i < n; i++) {
            double g = (double)dy[i * c + k];
            sw += g * ((double)x[i * c + k] - stats[2 * i]) * stats[2 * i + 1];
            sb += g;
        }
        out[k] = (T)sw;
        out[c + k] = (T)sb;
    }
}

int tg_cuda_layer_norm_wgrad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                             const void *dy, void *out, double eps) {
    tg_cuda_ctx *cx = (tg_cuda_ctx *)ctx;
    if (c <= 0) return TG_OK;
    if (n <= 0) return tg_cuda_check(cudaMemsetAsync(out, 0, (size_t)(2 * c) *
                                                     tg_cuda_dtype_size(dtype), cx->stream),
                                     "layer_norm_wgrad");
    pthread_mutex_lock(&cx->lock);   // the row statistics live in the instance's scratch
    double *stats = (double *)tg_cuda_scratch(cx, (size_t)(2 * n) * sizeof(double));
    int st = stats ? TG_OK : TG_ERR_OOM;
    if (!st && dtype == TG_F64) {
        row_stats_kernel<double><<<warp_blocks(n), TG_CU_THREADS, 0, cx->stream>>>(
            n, c, (const double *)x, eps, stats);
        layer_norm_wgrad_kernel<double><<<tg_cuda_blocks(c), TG_CU_THREADS, 0, cx->stream>>>(
            n, c, (const double *)x, (const double *)dy, stats, (double *)out);
    } else if (!st) {
        row_stats_kernel<float><<<warp_blocks(n), TG_CU_THREADS, 0, cx->stream>>>(
            n, c, (const float *)x, eps, stats);
        layer_norm_wgrad_kernel<float><<<tg_cuda_blocks(c), TG_CU_THREADS, 0, cx->stream>>>(
            n, c, (const float *)x, (const float *)dy, stats, (float *)out);
    }
    if (!st) st = tg_cuda_check_launch("layer_norm_wgrad");
    pthread_mutex_unlock(&cx->lock);
    return st;
}

int tg_cuda_layer_norm(void *ctx, int dtype, int64_t n, int64_t c, const void *x, const void *w,
                       const void *b, void *y, double eps) {
    tg_cuda_ctx *cx = (tg_cuda_ctx *)ctx;
    if (n <= 0 || c <= 0) return TG_OK;
    if (dtype == TG_F64)
        layer_norm_kernel<double><<<warp_blocks(n), TG_CU_THREADS, 0, cx->stream>>>(
            n, c, (const double *)x, (const double *)w, (const double *)b, (double *)y, eps);
    else
        layer_norm_kernel<float><<<warp_blocks(n), TG_CU_THREADS, 0, cx->stream>>>(
            n, c, (const float *)x, (const float *)w, (const float *)b, (float *)y, eps);
    return tg_cuda_check_launch("layer_norm");
}

// wgrad (NULL or [2, c]): layer_norm_wgrad's value too, by its own kernels after dx's.
int tg_cuda_layer_norm_grad(void *ctx, int dtype, int64_t n, int64_t c, const void *x,
                            const void *w, const void *dy, void *dx, void *wgrad, double eps) {
    tg_cuda_ctx *cx = (tg_cuda_ctx *)ctx;
    if (wgrad) {
        int st = tg_cuda_layer_norm_wgrad(ctx, dtype, n, c, x, dy, wgrad, eps);
        if (st) return st;
    }
    if (n <= 0 || c <= 0) return TG_OK;
    if (dtype == TG_F64)
        layer_norm_grad_kernel<double><<<warp_blocks(n), TG_CU_THREADS, 0, cx->stream>>>(
            n, c, (const double *)x, (const double *)w, (const double *)dy, (double *)dx, eps);
    else
        layer_norm_grad_kernel<float><<<warp_blocks(n), TG_CU_THREADS, 0, cx->stream>>>(
            n, c, (const float *)x, (const float *)w, (const float *)dy, (float *)dx, eps);
    return tg_cuda_check_launch("layer_norm_grad");
}

// ---- attention ----

// Row `row` = (bi, hi, i) of a [b, h, t, d] problem: the offset of its first element.
__device__ __forceinline__ int64_t row_off(const tg_attn_desc &d, const int64_t *s, int64_t row,
                                           int64_t *i) {
    *i = row % d.t;
    int64_t bh = row / d.t;
    return (bh / d.h) * s[0] + (bh % d.h) * s[1] + *i * s[2];
}

template <typename T>
__device__ __forceinline__ double warp_dot(const T *a, const T *b, int64_t n, int lane) {
    double s = 0;
    for (int64_t e = lane; e < n; e += WARP) s += (double)a[e] * (double)b[e];
    return warp_sum_d(s);
}

// The dropout factor of weight (i, j) of the problem holding query row `row`.
__device__ __forceinline__ double keep_factor(const tg_attn_desc &d, int64_t row, int64_t j) {
    if (!(d.p > 0)) return 1.0;
    if (tg_dropout_u(d.seed, (uint64_t)(row * d.t + j)) < d.p) return 0.0;
    return d.p < 1 ? 1.0 / (1.0 - d.p) : 0.0;
}

// log-sum-exp of query row i's scores; k0: the problem's first key row.
template <typename T>
__device__ double row_lse(const tg_attn_desc &d, const T *qi, const T *k0, int64_t i, int lane) {
    int64_t jn = d.causal ? i + 1 : d.t;
    double m = -INFINITY, l = 0;
    for (int64_t j = 0; j < jn; j++) {
        double s = d.scale * warp_dot(qi, k0 + j * d.qs[2], d.d, lane);
        double mn = s > m ? s : m;
        l = l * exp(m - mn) + exp(s - mn);
        m = mn;
    }
    return m + log(l);
}

template <typename T> __global__ void attention_kernel(tg_attn_desc d) {
    int lane = threadIdx.x % WARP;
    for (int64_t row = warp_id(); row < d.b * d.h * d.t; row += n_warps()) {
        int64_t i, qo = row_off(d, d.qs, row, &i), oo = row_off(d, d.os, row, &i);
        const T *qi = (const T *)d.q + qo, *k0 = (const T *)d.k + qo - i * d.qs[2];
        const T *v0 = (const T *)d.v + qo - i * d.qs[2];
        T *o = (T *)d.o + oo;
        double lse = row_lse(d, qi, k0, i, lane);
        for (int64_t e = lane; e < d.d; e += WARP) o[e] = 0;
        int64_t jn = d.causal ? i + 1 : d.t;
        for (int64_t j = 0; j < jn; j++) {
            double w = exp(d.scale * warp_dot(qi, k0 + j * d.qs[2], d.d, lane) - lse) *
                       keep_factor(d, row, j);
            for (int64_t e = lane; e < d.d; e += WARP) o[e] += (T)(w * (double)v0[j * d.qs[2] + e]);
        }
    }
}

// Per query row: lse and D = dout . o into stats[2*row, 2*row+1], and dq.
template <typename T> __global__ void attention_dq_kernel(tg_attn_desc d, double *stats) {
    int lane = threadIdx.x % WARP;
    for (int64_t row = warp_id(); row < d.b * d.h * d.t; row += n_warps()) {
        int64_t i, qo = row_off(d, d.qs, row, &i), oo = row_off(d, d.os, row, &i);
        const T *qi = (const T *)d.q + qo, *k0 = (const T *)d.k + qo - i * d.qs[2];
        const T *v0 = (const T *)d.v + qo - i * d.qs[2], *doi = (const T *)d.dout + oo;
        T *dq = (T *)d.dq + qo;
        double lse = row_lse(d, qi, k0, i, lane);
        double dd = warp_dot(doi, (const T *)d.o + oo, d.d, lane);
        if (lane == 0) {
            stats[2 * row] = lse;
            stats[2 * row + 1] = dd;
        }
        for (int64_t e = lane; e < d.d; e += WARP) dq[e] = 0;
        int64_t jn = d.causal ? i + 1 : d.t;
        for (int64_t j = 0; j < jn; j++) {
            const T *kj = k0 + j * d.qs[2];
            double p = exp(d.scale * warp_dot(qi, kj, d.d, lane) - lse);
            double dp = warp_dot(doi, v0 + j * d.qs[2], d.d, lane) * keep_factor(d, row, j);
            double ds = d.scale * p * (dp - dd);
            for (int64_t e = lane; e < d.d; e += WARP) dq[e] += (T)(ds * (double)kj[e]);
        }
    }
}

// Per key row j: dk and dv from the query rows that see it.
template <typename T> __global__ void attention_dkv_kernel(tg_attn_desc d, const double *stats) {
    int lane = threadIdx.x % WARP;
    for (int64_t row = warp_id(); row < d.b * d.h * d.t; row += n_warps()) {
        int64_t j, ko = row_off(d, d.qs, row, &j);
        int64_t ob = row_off(d, d.os, row, &j) - j * d.os[2], first = row - j;
        const T *q0 = (const T *)d.q + ko - j * d.qs[2], *kj = (const T *)d.k + ko;
        const T *vj = (const T *)d.v + ko, *do0 = (const T *)d.dout + ob;
        T *dk = (T *)d.dk + ko, *dv = (T *)d.dv + ko;
        for (int64_t e = lane; e < d.d; e += WARP) dk[e] = dv[e] = 0;
        for (int64_t i = d.causal ? j : 0; i < d.t; i++) {
            const T *qi = q0 + i * d.qs[2], *doi = do0 + i * d.os[2];
            double lse = stats[2 * (first + i)], dd = stats[2 * (first + i) + 1];
            double p = exp(d.scale * warp_dot(qi, kj, d.d, lane) - lse);
            double kf = keep_factor(d, first + i, j);
            double ds = d.scale * p * (warp_dot(doi, vj, d.d, lane) * kf - dd);
            for (int64_t e = lane; e < d.d; e += WARP) {
                dv[e] += (T)(p * kf * (double)doi[e]);
                dk[e] += (T)(ds * (double)qi[e]);
            }
        }
    }
}

int tg_cuda_attention(void *ctx, const tg_attn_desc *d) {
    tg_cuda_ctx *cx = (tg_cuda_ctx *)ctx;
    int64_t rows = d->b * d->h * d->t;
    if (rows <= 0 || d->d <= 0) return TG_OK;
    if (d->dtype == TG_F64)
        attention_kernel<double><<<warp_blocks(rows), TG_CU_THREADS, 0, cx->stream>>>(*d);
    else
        attention_kernel<float><<<warp_blocks(rows), TG_CU_THREADS, 0, cx->stream>>>(*d);
    return tg_cuda_check_launch("attention");
}

int tg_cuda_attention_grad(void *ctx, const tg_attn_desc *d) {
    tg_cuda_ctx *cx = (tg_cuda_ctx *)ctx;
    int64_t rows = d->b * d->h * d->t;
    if (rows <= 0 || d->d <= 0) return TG_OK;
    pthread_mutex_lock(&cx->lock);   // the statistics live in the instance's scratch
    double *stats = (double *)tg_cuda_scratch(cx, (size_t)(2 * rows) * sizeof(double));
    int st = stats ? TG_OK : TG_ERR_OOM;
    if (!st && d->dtype == TG_F64) {
        attention_dq_kernel<double><<<warp_blocks(rows), TG_CU_THREADS, 0, cx->stream>>>(*d, stats);
        attention_dkv_kernel<double><<<warp_blocks(rows), TG_CU_THREADS, 0, cx->stream>>>(*d, stats);
    } else if (!st) {
        attention_dq_kernel<float><<<warp_blocks(rows), TG_CU_THREADS, 0, cx->stream>>>(*d, stats);
        attention_dkv_kernel<float><<<warp_blocks(rows), TG_CU_THREADS, 0, cx->stream>>>(*d, stats);
    }
    if (!st) st = tg_cuda_check_launch("attention_grad");
    pthread_mutex_unlock(&cx->lock);
    return st;
}

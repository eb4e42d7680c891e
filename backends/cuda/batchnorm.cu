// cuda batch normalisation by channel (the batch_norm slot; tg_bn_desc in backend_impl.h):
// one block per channel; the block sums the channel's values in double about its first
// value (as the cpu kernel), then, for the forward and the gradient, writes
// y = a*(dy or 0) + b*x + c with the per-channel constants of backends/cpu/batchnorm.c.
#include "backends/cuda/cuda_internal.cuh"

namespace {

const int BN_THREADS = 256;

// The block's sum of v (every thread gets it); sh: BN_THREADS doubles of shared memory.
__device__ double block_sum(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int o = BN_THREADS / 2; o > 0; o >>= 1) {
        if ((int)threadIdx.x < o) sh[threadIdx.x] += sh[threadIdx.x + o];
        __syncthreads();
    }
    double s = sh[0];
    __syncthreads();
    return s;
}

template <typename T> __global__ void batch_norm_kernel(tg_bn_desc d) {
    __shared__ double sh[BN_THREADS];
    const T *x = (const T *)d.x, *dy = (const T *)d.dy, *w = (const T *)d.w,
            *bias = (const T *)d.b;
    T *y = (T *)d.y;
    bool with_dy = d.mode == TG_BN_GRAD || d.mode == TG_BN_WGRAD;
    int64_t len = d.n * d.inner;
    double m = (double)len;
    for (int64_t ch = blockIdx.x; ch < d.c; ch += gridDim.x) {
        double s = (double)x[ch * d.inner], a1 = 0, a2 = 0, a3 = 0, a4 = 0;
        for (int64_t t = threadIdx.x; t < len; t += BN_THREADS) {
            int64_t at = ((t / d.inner) * d.c + ch) * d.inner + t % d.inner;
            double v = (double)x[at] - s;
            a1 += v;
            a2 += v * v;
            if (with_dy) {
                double g = (double)dy[at];
                a3 += g;
                a4 += g * v;
            }
        }
        a1 = block_sum(a1, sh);
        a2 = block_sum(a2, sh);
        if (with_dy) {
            a3 = block_sum(a3, sh);
            a4 = block_sum(a4, sh);
        }
        double mean = s + a1 / m, var = (a2 - a1 * a1 / m) / m;
        var = var < 0 ? 0 : var;   // a NaN (an inf in the channel) stays one
        double rstd = 1.0 / sqrt(var + d.eps), wc = w ? (double)w[ch] : 1.0;
        double cov = (a4 - a3 * (mean - s)) / m, mdy = a3 / m;
        if (d.mode != TG_BN_FORWARD && (d.mode == TG_BN_WGRAD || d.stats)) {
            T *wg = d.mode == TG_BN_WGRAD ? y : (T *)d.stats;
            if (threadIdx.x == 0) {
                wg[ch] = (T)(rstd * cov * m);
                wg[d.c + ch] = (T)a3;
            }
            if (d.mode == TG_BN_WGRAD) continue;
        }
        if (d.mode == TG_BN_FORWARD && d.stats && threadIdx.x == 0) {
            ((T *)d.stats)[ch] = (T)mean;
            ((T *)d.stats)[d.c + ch] = (T)var;
        }
        double a, b, c;
        if (d.mode == TG_BN_FORWARD) {
            a = 0, b = rstd * wc, c = (bias ? (double)bias[ch] : 0.0) - mean * b;
        } else {
            a = rstd * wc, b = -a * rstd * rstd * cov, c = -a * mdy - b * mean;
        }
        for (int64_t t = threadIdx.x; t < len; t += BN_THREADS) {
            int64_t at = ((t / d.inner) * d.c + ch) * d.inner + t % d.inner;
            double u = d.mode == TG_BN_GRAD ? (double)dy[at] : 0.0;
            y[at] = (T)(a * u + b * (double)x[at] + c);
        }
    }
}

}  // namespace

int tg_cuda_batch_norm(void *ctx, const tg_bn_desc *d) {
    tg_cuda_ctx *cx = (tg_cuda_ctx *)ctx;
    if (d->n <= 0 || d->inner <= 0 || d->c <= 0) return TG_OK;
    unsigned blocks = (unsigned)(d->c < 65535 ? d->c : 65535);
    if (d->dtype == TG_F64)
        batch_norm_kernel<double><<<blocks, BN_THREADS, 0, cx->stream>>>(*d);
    else
        batch_norm_kernel<float><<<blocks, BN_THREADS, 0, cx->stream>>>(*d);
    return tg_cuda_check_launch("batch_norm");
}

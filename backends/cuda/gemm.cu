// cuda gemm: C[batch] = alpha * A B + beta * C through one cuBLAS strided-batched call
// (column-major, so a row-major C is computed as C^T = B^T A^T; gemm_plan.h says how the
// strides become ops and leading dimensions, with no copies). Views contiguous in neither
// direction take a simple strided kernel. cuBLAS runs in pedantic math (no TF32).
#include "backends/cuda/cuda_internal.cuh"
#include "backends/cuda/gemm_plan.h"

// ---- fallback: one thread per element of C ----

// C [batch, m, n] (strided) = alpha * A [batch, m, k] B [batch, k, n] + beta * C
template <typename T>
__global__ void gemm_strided_kernel(tg_gemm_desc d, const T *a, const T *b, T *c, T alpha, T beta) {
    int64_t total = d.batch * d.m * d.n;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t j = t % d.n, i = (t / d.n) % d.m, bt = t / (d.n * d.m);
        const T *pa = a + bt * d.a_bs + i * d.a_rs;
        const T *pb = b + bt * d.b_bs + j * d.b_cs;
        T acc = 0;
        for (int64_t l = 0; l < d.k; l++) acc += pa[l * d.a_cs] * pb[l * d.b_rs];
        T *pc = c + bt * d.c_bs + i * d.c_rs + j * d.c_cs;
        // beta == 0 never reads C (it may hold NaN), as in BLAS
        *pc = beta == T(0) ? alpha * acc : alpha * acc + beta * *pc;
    }
}

static int gemm_fallback(tg_cuda_ctx *c, const tg_gemm_desc *d) {
    unsigned blocks = tg_cuda_blocks(d->batch * d->m * d->n);
    if (d->dtype == TG_F64)
        gemm_strided_kernel<double><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            *d, (const double *)d->a, (const double *)d->b, (double *)d->c, d->alpha, d->beta);
    else
        gemm_strided_kernel<float><<<blocks, TG_CU_THREADS, 0, c->stream>>>(
            *d, (const float *)d->a, (const float *)d->b, (float *)d->c, (float)d->alpha,
            (float)d->beta);
    return tg_cuda_check_launch("gemm");
}

// ---- cuBLAS ----

static cublasOperation_t blas_op(const tg_gemm_operand *o) {
    return o->trans ? CUBLAS_OP_T : CUBLAS_OP_N;
}

static int gemm_blas(tg_cuda_ctx *c, const tg_gemm_desc *d, const tg_gemm_plan *pl) {
    const void *p = pl->swap ? d->b : d->a, *q = pl->swap ? d->a : d->b;
    int64_t sp = pl->swap ? d->b_bs : d->a_bs, sq = pl->swap ? d->a_bs : d->b_bs;
    int64_t batch = d->batch;
    cublasStatus_t st;
    if (d->dtype == TG_F64) {
        double alpha = d->alpha, beta = d->beta;
        st = cublasDgemmStridedBatched_64(c->blas, blas_op(&pl->op_p), blas_op(&pl->op_q), pl->p,
                                          pl->q, d->k, &alpha, (const double *)p, pl->op_p.ld, sp,
                                          (const double *)q, pl->op_q.ld, sq, &beta, (double *)d->c,
                                          pl->ldr, d->c_bs, batch);
    } else {
        float alpha = (float)d->alpha, beta = (float)d->beta;
        st = cublasSgemmStridedBatched_64(c->blas, blas_op(&pl->op_p), blas_op(&pl->op_q), pl->p,
                                          pl->q, d->k, &alpha, (const float *)p, pl->op_p.ld, sp,
                                          (const float *)q, pl->op_q.ld, sq, &beta, (float *)d->c,
                                          pl->ldr, d->c_bs, batch);
    }
    return tg_cuda_check_blas(st, "gemm (cuBLAS)");
}

// C = beta * C when there is nothing to multiply (k == 0): alpha * A B is empty.
template <typename T> __global__ void gemm_scale_kernel(tg_gemm_desc d, T *c, T beta) {
    int64_t total = d.batch * d.m * d.n;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t j = t % d.n, i = (t / d.n) % d.m, bt = t / (d.n * d.m);
        T *pc = c + bt * d.c_bs + i * d.c_rs + j * d.c_cs;
        *pc = beta == T(0) ? T(0) : beta * *pc;
    }
}

int tg_cuda_gemm(void *ctx, const tg_gemm_desc *d) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (d->m <= 0 || d->n <= 0 || d->batch <= 0) return TG_OK;
    if (d->k <= 0) {
        unsigned blocks = tg_cuda_blocks(d->batch * d->m * d->n);
        if (d->dtype == TG_F64)
            gemm_scale_kernel<double>
                <<<blocks, TG_CU_THREADS, 0, c->stream>>>(*d, (double *)d->c, d->beta);
        else
            gemm_scale_kernel<float>
                <<<blocks, TG_CU_THREADS, 0, c->stream>>>(*d, (float *)d->c, (float)d->beta);
        return tg_cuda_check_launch("gemm");
    }
    tg_gemm_plan pl;
    if (!tg_gemm_plan_make(d, &pl)) return gemm_fallback(c, d);
    return gemm_blas(c, d, &pl);
}

// cpu gemm through BLIS's typed expert API: row and column strides express transposes
// (no copies); a local rntm_t carries the thread count and the context of the kernel set
// cpu_select.c chose is passed explicitly (no global BLIS state is touched).
#include <blis.h>

#include "backends/cpu/cpu_internal.h"

// Products below this many multiply-adds run on one thread: BLIS's team start and barriers
// cost more than a second core saves there (mem-floor's batch-1 products, 1 x 1024 x 1024,
// took twice as long on 2 threads as on 1).
#define PAR_MIN_MACS (4.0 * 1024 * 1024)

static int tg_cpu_gemm(void *ctx, const tg_gemm_desc *d) {
    tg_cpu_ctx *c = ctx;
    if (tg_cpu_gemm_is_small(d)) {
        tg_cpu_gemm_small(d);
        return TG_OK;
    }
    cntx_t *cntx = c->blis_cntx;
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bool small = (double)d->m * (double)d->n * (double)d->k < PAR_MIN_MACS;
    bli_rntm_set_num_threads(c->n_threads > 1 && !small ? c->n_threads : 1, &rntm);
    for (int64_t b = 0; b < d->batch; b++) {
        if (d->dtype == TG_F64) {
            double alpha = d->alpha, beta = d->beta;
            bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, d->m, d->n, d->k, &alpha,
                         (double *)d->a + b * d->a_bs, d->a_rs, d->a_cs,
                         (double *)d->b + b * d->b_bs, d->b_rs, d->b_cs, &beta,
                         (double *)d->c + b * d->c_bs, d->c_rs, d->c_cs, cntx, &rntm);
        } else {
            float alpha = (float)d->alpha, beta = (float)d->beta;
            bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, d->m, d->n, d->k, &alpha,
                         (float *)d->a + b * d->a_bs, d->a_rs, d->a_cs,
                         (float *)d->b + b * d->b_bs, d->b_rs, d->b_cs, &beta,
                         (float *)d->c + b * d->c_bs, d->c_rs, d->c_cs, cntx, &rntm);
        }
    }
    return TG_OK;
}

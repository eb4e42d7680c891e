// How a strided row-major gemm (tg_gemm_desc) maps onto one column-major cuBLAS call.
// Pure host code in the common subset of C11 and C++, so that the cpu-only test suite can
// check the mapping (tests/backends/test_gemm_plan.c emulates cuBLAS on the host).
//
// cuBLAS computes R = op(P) op(Q) on column-major matrices. A row-major C [m,n] is the
// column-major C^T [n,m], so when C's rows are contiguous we compute C^T = B^T A^T (P from
// B, Q from A); when C's columns are contiguous we compute C = A B directly. A view whose
// row stride is 1 is a transposed row-major matrix (op T on the other side); a view
// contiguous in neither direction (or broadcast inside a matrix) has no plan and takes
// the fallback kernel.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backends/backend_impl.h"

typedef struct tg_gemm_operand {
    bool trans;  // op T on the stored column-major matrix
    int64_t ld;  // its leading dimension
} tg_gemm_operand;

typedef struct tg_gemm_plan {
    bool swap;     // true: R = C^T, P = B, Q = A; false: R = C, P = A, Q = B
    int64_t p, q;  // R is [p, q] column-major (p = rows)
    int64_t ldr;
    tg_gemm_operand op_p, op_q;
} tg_gemm_plan;

// The column-major description of the r x c matrix M with M(i,j) at i*rs + j*cs: op N when
// its columns are contiguous (ld = cs), op T when its rows are (the stored c x r matrix,
// ld = rs). Strides of size-1 dims are free. False when neither fits cuBLAS (ld >= rows).
static inline bool tg_gemm_colmajor(int64_t r, int64_t c, int64_t rs, int64_t cs,
                                    tg_gemm_operand *out) {
    int64_t rmax = r > 1 ? r : 1, cmax = c > 1 ? c : 1;
    if (rs == 1 || r == 1) {
        int64_t ld = c == 1 ? rmax : cs;
        if (ld >= rmax) {
            out->trans = false;
            out->ld = ld;
            return true;
        }
    }
    if (cs == 1 || c == 1) {
        int64_t ld = r == 1 ? cmax : rs;
        if (ld >= cmax) {
            out->trans = true;
            out->ld = ld;
            return true;
        }
    }
    return false;
}

// Fills a plan for d, or returns false (use the fallback kernel). m, n, k > 0.
static inline bool tg_gemm_plan_make(const tg_gemm_desc *d, tg_gemm_plan *pl) {
    tg_gemm_operand oc;
    // C^T [n, m] = B^T [n, k] A^T [k, m]: needs C^T column-major without a transpose.
    if (tg_gemm_colmajor(d->n, d->m, d->c_cs, d->c_rs, &oc) && !oc.trans &&
        tg_gemm_colmajor(d->n, d->k, d->b_cs, d->b_rs, &pl->op_p) &&
        tg_gemm_colmajor(d->k, d->m, d->a_cs, d->a_rs, &pl->op_q)) {
        pl->swap = true;
        pl->p = d->n;
        pl->q = d->m;
        pl->ldr = oc.ld;
        return true;
    }
    // C [m, n] = A [m, k] B [k, n] with C column-major.
    if (tg_gemm_colmajor(d->m, d->n, d->c_rs, d->c_cs, &oc) && !oc.trans &&
        tg_gemm_colmajor(d->m, d->k, d->a_rs, d->a_cs, &pl->op_p) &&
        tg_gemm_colmajor(d->k, d->n, d->b_rs, d->b_cs, &pl->op_q)) {
        pl->swap = false;
        pl->p = d->m;
        pl->q = d->n;
        pl->ldr = oc.ld;
        return true;
    }
    return false;
}

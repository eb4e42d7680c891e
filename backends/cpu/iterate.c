// Strided iteration for cpu kernels: coalesces contiguous dims, then walks the outer
// dims with an index counter and hands each 2-D block (the two innermost dims) to a
// callback, so that per-call dispatch is paid once per block, not once per short row.
#include "backends/cpu/cpu_internal.h"

void tg_cpu_for_rows(int n_ops, const tg_view *const *v, tg_cpu_row_fn row, void *user) {
    int64_t shape[TG_VIEW_MAX_DIMS], stride[4][TG_VIEW_MAX_DIMS];
    int nd = 0;
    const tg_view *y = v[0];
    // Coalesce: drop size-1 dims, merge i into the previous kept dim when every operand
    // is contiguous across the boundary.
    for (int i = 0; i < y->ndim; i++) {
        if (y->shape[i] == 0) return;
        if (y->shape[i] == 1) continue;
        bool merge = nd > 0;
        for (int k = 0; k < n_ops && merge; k++)
            merge = stride[k][nd - 1] == v[k]->stride[i] * y->shape[i];
        if (merge) {
            shape[nd - 1] *= y->shape[i];
            for (int k = 0; k < n_ops; k++) stride[k][nd - 1] = v[k]->stride[i];
        } else {
            shape[nd] = y->shape[i];
            for (int k = 0; k < n_ops; k++) stride[k][nd] = v[k]->stride[i];
            nd++;
        }
    }
    int64_t off[4] = {0, 0, 0, 0}, inner[4] = {0, 0, 0, 0}, outer[4] = {0, 0, 0, 0};
    if (nd == 0) {
        row(user, off, 1, outer, 1, inner);
        return;
    }
    int64_t n = shape[nd - 1], n_outer = nd >= 2 ? shape[nd - 2] : 1;
    for (int k = 0; k < n_ops; k++) {
        inner[k] = stride[k][nd - 1];
        outer[k] = nd >= 2 ? stride[k][nd - 2] : 0;
    }
    int64_t idx[TG_VIEW_MAX_DIMS] = {0};
    for (;;) {
        row(user, off, n_outer, outer, n, inner);
        int d = nd - 3;
        for (; d >= 0; d--) {
            for (int k = 0; k < n_ops; k++) off[k] += stride[k][d];
            if (++idx[d] < shape[d]) break;
            for (int k = 0; k < n_ops; k++) off[k] -= stride[k][d] * shape[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

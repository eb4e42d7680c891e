// Strided iteration for cpu kernels: coalesces contiguous dims, then walks the outer
// dims with an index counter and hands each 2-D block (the two innermost dims) to a
// callback, so that per-call dispatch is paid once per block, not once per short row.
// With more than one thread, large single-block work is split across OpenMP threads.
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/cpu_internal.h"

// Drops size-1 dims and merges a dim into the previous kept one when every operand is
// contiguous across the boundary. Returns the number of dims left, or -1 if y is empty.
static int coalesce(int n_ops, const tg_view *const *v, int64_t *shape,
                    int64_t (*stride)[TG_VIEW_MAX_DIMS]) {
    int nd = 0;
    const tg_view *y = v[0];
    for (int i = 0; i < y->ndim; i++) {
        if (y->shape[i] == 0) return -1;
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
    return nd;
}

static void tg_cpu_for_rows(int n_ops, const tg_view *const *v, tg_cpu_row_fn row, void *user) {
    tg_cpu_for_rows_par(1, n_ops, v, row, user);
}

#ifdef _OPENMP
// One 2-D block [n_outer, n] split into n_threads pieces: by rows when there are enough,
// else along the row.
static void split_block(int n_threads, int n_ops, int64_t n_outer, int64_t n,
                        const int64_t *outer, const int64_t *inner, tg_cpu_row_fn row,
                        void *user) {
#pragma omp parallel num_threads(n_threads)
    {
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t off[4] = {0, 0, 0, 0};
        if (n_outer >= nt) {
            int64_t r0 = n_outer * t / nt, r1 = n_outer * (t + 1) / nt;
            for (int k = 0; k < n_ops; k++) off[k] = r0 * outer[k];
            if (r1 > r0) row(user, off, r1 - r0, outer, n, inner);
        } else {
            int64_t i0 = n * t / nt, i1 = n * (t + 1) / nt;
            for (int k = 0; k < n_ops; k++) off[k] = i0 * inner[k];
            if (i1 > i0) row(user, off, n_outer, outer, i1 - i0, inner);
        }
    }
}
#endif

static void tg_cpu_for_rows_par(int n_threads, int n_ops, const tg_view *const *v,
                                tg_cpu_row_fn row, void *user) {
    // One short row (the core's flat views of small same-shape tensors): nothing to
    // coalesce or split; per-op overhead is what chain100 measures.
    if (v[0]->ndim == 1 && v[0]->shape[0] > 0 && v[0]->shape[0] < TG_CPU_PAR_MIN) {
        int64_t off[4] = {0, 0, 0, 0}, inner[4] = {0, 0, 0, 0}, outer[4] = {0, 0, 0, 0};
        for (int k = 0; k < n_ops; k++) inner[k] = v[k]->stride[0];
        row(user, off, 1, outer, v[0]->shape[0], inner);
        return;
    }
    int64_t shape[TG_VIEW_MAX_DIMS], stride[4][TG_VIEW_MAX_DIMS];
    int nd = coalesce(n_ops, v, shape, stride);
    if (nd < 0) return;
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
#ifdef _OPENMP
    if (n_threads > 1 && nd <= 2 && n * n_outer >= TG_CPU_PAR_MIN) {
        split_block(n_threads, n_ops, n_outer, n, outer, inner, row, user);
        return;
    }
#else
    (void)n_threads;
#endif
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

// Pieces of at least this many elements, handed out dynamically: a thread on a slower CPU
// (a busy or remote vCPU: on this project's VM one of the two vCPUs streams memory 1.4-1.8x
// slower than the other) takes fewer pieces instead of holding the others at the barrier.
// (The elementwise split_block above keeps its static halves: dynamic pieces measured
// slower there, relu-1000x1000 at 2 threads 49 -> 58 us.)
enum { RANGE_PIECE = 1 << 15 };

static void tg_cpu_for_range(int n_threads, int64_t n, tg_cpu_range_fn fn, void *arg) {
#ifdef _OPENMP
    if (n_threads > 1 && n >= TG_CPU_PAR_MIN) {
        int64_t piece = n / (8 * (int64_t)n_threads);
        piece = piece < RANGE_PIECE ? RANGE_PIECE : piece;
        int64_t n_pieces = (n + piece - 1) / piece;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1)
        for (int64_t k = 0; k < n_pieces; k++) {
            int64_t lo = k * piece, hi = lo + piece < n ? lo + piece : n;
            fn(lo, hi, arg);
        }
        return;
    }
#else
    (void)n_threads;
#endif
    fn(0, n, arg);
}

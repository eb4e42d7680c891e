// cuda reductions: y (x's shape, stride 0 on the reduced axes) = sum / max / min over those
// axes, and argmax / argmin along the one reduced axis. Every reduction accumulates in
// double (exact for max/min; at least as accurate as the cpu's row sums) in a fixed order,
// so results are deterministic. Max/min propagate NaN; arg-extrema keep the first index
// and let the first NaN win, as on the cpu backend.
#include <math.h>

#include "backends/cuda/cuda_internal.cuh"

// ---- the reduction plan (host side) ----

// Kept dims (y stride != 0) index the outputs; reduced dims (y stride 0) are summed over.
// Each group is coalesced on its own (size-1 dims dropped, contiguous neighbours merged).
typedef struct red_plan {
    int nk, nr;
    int64_t n_out, n_red;
    int64_t kshape[TG_VIEW_MAX_DIMS], kx[TG_VIEW_MAX_DIMS], ky[TG_VIEW_MAX_DIMS];
    int64_t rshape[TG_VIEW_MAX_DIMS], rx[TG_VIEW_MAX_DIMS];
} red_plan;

// Appends dim (shape s, strides sx, sy) to a group, merging it into the group's last dim
// when both operands are contiguous across them.
static void group_push(int *nd, int64_t *shape, int64_t *gx, int64_t *gy, int64_t s, int64_t sx,
                       int64_t sy) {
    int n = *nd;
    if (n > 0 && gx[n - 1] == sx * s && (!gy || gy[n - 1] == sy * s)) {
        shape[n - 1] *= s;
        gx[n - 1] = sx;
        if (gy) gy[n - 1] = sy;
        return;
    }
    shape[n] = s;
    gx[n] = sx;
    if (gy) gy[n] = sy;
    *nd = n + 1;
}

static void red_plan_make(red_plan *p, const tg_view *x, const tg_view *y, int only_axis) {
    p->nk = p->nr = 0;
    p->n_out = p->n_red = 1;
    for (int i = 0; i < x->ndim; i++) {
        bool reduced = only_axis >= 0 ? i == only_axis : y->stride[i] == 0;
        if (reduced)
            p->n_red *= x->shape[i];
        else
            p->n_out *= x->shape[i];
        if (x->shape[i] == 1) continue;
        if (reduced)
            group_push(&p->nr, p->rshape, p->rx, NULL, x->shape[i], x->stride[i], 0);
        else
            group_push(&p->nk, p->kshape, p->kx, p->ky, x->shape[i], x->stride[i], y->stride[i]);
    }
}

// ---- device helpers ----

// x and y offsets of output o (row-major over the kept dims).
__device__ __forceinline__ void out_offsets(const red_plan &p, int64_t o, int64_t *xo,
                                            int64_t *yo) {
    int64_t a = 0, b = 0;
    for (int d = p.nk - 1; d >= 0; d--) {
        int64_t s = p.kshape[d];
        int64_t q = d > 0 ? o / s : 0, r = o - q * s;
        a += r * p.kx[d];
        b += r * p.ky[d];
        o = q;
    }
    *xo = a;
    *yo = b;
}

// x offset of reduced element r (row-major over the reduced dims).
__device__ __forceinline__ int64_t red_offset(const red_plan &p, int64_t r) {
    int64_t a = 0;
    for (int d = p.nr - 1; d >= 0; d--) {
        int64_t s = p.rshape[d];
        int64_t q = d > 0 ? r / s : 0;
        a += (r - q * s) * p.rx[d];
        r = q;
    }
    return a;
}

__device__ __forceinline__ double combine(int kind, double acc, double v) {
    if (kind == TG_REDUCE_KIND_SUM) return acc + v;
    return kind == TG_REDUCE_KIND_MAX ? tg_max_d(v, acc) : tg_min_d(v, acc);
}

// Tree reduction of one value per thread (blockDim.x == TG_CU_THREADS); thread 0 gets it.
__device__ double block_combine(int kind, double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = TG_CU_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            sh[threadIdx.x] = combine(kind, sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();  // sh is reused by the next output of this block
    return r;
}

// ---- sum / max / min ----

// One thread per output: y [outputs] = reduce x [outputs, reduced]
template <typename T>
__global__ void red_thread_kernel(int kind, red_plan p, double init, const T *x, T *y) {
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < p.n_out;
         o += (int64_t)gridDim.x * blockDim.x) {
        int64_t xo, yo;
        out_offsets(p, o, &xo, &yo);
        double acc = init;
        for (int64_t r = 0; r < p.n_red; r++)
            acc = combine(kind, acc, (double)x[xo + red_offset(p, r)]);
        y[yo] = (T)acc;
    }
}

// One block per (output, chunk of the reduced range): with chunks == 1 it writes y, else
// partial [outputs, chunks] (double) for red_finish_kernel.
template <typename T>
__global__ void red_block_kernel(int kind, red_plan p, double init, const T *x, T *y,
                                 double *partial, int64_t chunks, int64_t chunk_len) {
    __shared__ double sh[TG_CU_THREADS];
    int64_t chunk = blockIdx.y;
    int64_t r0 = chunk * chunk_len;
    int64_t r1 = r0 + chunk_len < p.n_red ? r0 + chunk_len : p.n_red;
    for (int64_t o = blockIdx.x; o < p.n_out; o += gridDim.x) {
        int64_t xo, yo;
        out_offsets(p, o, &xo, &yo);
        double acc = init;
        for (int64_t r = r0 + threadIdx.x; r < r1; r += blockDim.x)
            acc = combine(kind, acc, (double)x[xo + red_offset(p, r)]);
        acc = block_combine(kind, acc, sh);
        if (threadIdx.x == 0) {
            if (chunks == 1)
                y[yo] = (T)acc;
            else
                partial[o * chunks + chunk] = acc;
        }
    }
}

// y [outputs] = reduce partial [outputs, chunks], in chunk order
template <typename T>
__global__ void red_finish_kernel(int kind, red_plan p, double init, const double *partial,
                                  int64_t chunks, T *y) {
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < p.n_out;
         o += (int64_t)gridDim.x * blockDim.x) {
        int64_t xo, yo;
        out_offsets(p, o, &xo, &yo);
        double acc = init;
        for (int64_t k = 0; k < chunks; k++) acc = combine(kind, acc, partial[o * chunks + k]);
        y[yo] = (T)acc;
    }
}

template <typename T>
static int reduce_typed(tg_cuda_ctx *c, int kind, const red_plan *p, const void *xv, void *yv) {
    const T *x = (const T *)xv;
    T *y = (T *)yv;
    double init =
        kind == TG_REDUCE_KIND_SUM ? 0.0 : (kind == TG_REDUCE_KIND_MAX ? -INFINITY : INFINITY);
    // Reducing over outer axes with contiguous outputs: a thread per output reads
    // coalesced rows. Short reductions: a thread per output too.
    bool coalesced = p->nk > 0 && p->kx[p->nk - 1] == 1 && p->n_out >= 4096;
    if (p->n_red <= 32 || coalesced) {
        red_thread_kernel<T>
            <<<tg_cuda_blocks(p->n_out), TG_CU_THREADS, 0, c->stream>>>(kind, *p, init, x, y);
        return tg_cuda_check_launch("reduce");
    }
    // Few outputs over a long range: split the range so that the whole GPU works.
    int64_t per_block = (int64_t)TG_CU_THREADS * 16;
    int64_t chunks = (p->n_red + per_block - 1) / per_block;
    int64_t room = 4 * (int64_t)c->n_sm / p->n_out;
    if (chunks > room) chunks = room;
    if (chunks > 1024) chunks = 1024;
    if (chunks < 1) chunks = 1;
    int64_t chunk_len = (p->n_red + chunks - 1) / chunks;
    int64_t gx = p->n_out < TG_CU_MAX_BLOCKS ? p->n_out : TG_CU_MAX_BLOCKS;
    dim3 grid((unsigned)gx, (unsigned)chunks);
    if (chunks == 1) {
        red_block_kernel<T>
            <<<grid, TG_CU_THREADS, 0, c->stream>>>(kind, *p, init, x, y, NULL, 1, chunk_len);
        return tg_cuda_check_launch("reduce");
    }
    pthread_mutex_lock(&c->lock);  // the partials live in the instance's scratch
    double *partial = (double *)tg_cuda_scratch(c, (size_t)(p->n_out * chunks) * sizeof(double));
    int st = partial ? TG_OK : TG_ERR_BACKEND;
    if (!st) {
        red_block_kernel<T><<<grid, TG_CU_THREADS, 0, c->stream>>>(kind, *p, init, x, y, partial,
                                                                   chunks, chunk_len);
        st = tg_cuda_check_launch("reduce");
    }
    if (!st) {
        red_finish_kernel<T><<<tg_cuda_blocks(p->n_out), TG_CU_THREADS, 0, c->stream>>>(
            kind, *p, init, partial, chunks, y);
        st = tg_cuda_check_launch("reduce");
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

// ---- argmax / argmin ----

// Whether (nv, ni) replaces (cv, ci) as the extremum: the first NaN wins, then the larger
// (smaller) value, then the lower index. Index -1 marks "nothing yet".
__device__ __forceinline__ bool arg_better(bool is_max, double cv, int64_t ci, double nv,
                                           int64_t ni) {
    if (ni < 0) return false;
    if (ci < 0) return true;
    bool cn = cv != cv, nn = nv != nv;
    if (cn) return nn && ni < ci;
    if (nn) return true;
    if (is_max ? nv > cv : nv < cv) return true;
    return nv == cv && ni < ci;
}

// One thread per output, scanning the axis in order: y [outputs] = arg x [outputs, n]
template <typename T>
__global__ void arg_thread_kernel(bool is_max, red_plan p, int64_t sa, const T *x, T *y) {
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < p.n_out;
         o += (int64_t)gridDim.x * blockDim.x) {
        int64_t xo, yo;
        out_offsets(p, o, &xo, &yo);
        int64_t best = 0;
        double bv = (double)x[xo];
        for (int64_t i = 1; i < p.n_red && bv == bv; i++) {
            double v = (double)x[xo + i * sa];
            if (v != v || (is_max ? v > bv : v < bv)) {
                bv = v;
                best = i;
            }
        }
        y[yo] = (T)best;
    }
}

// One block per output for long axes: (value, index) pairs reduced in shared memory.
template <typename T>
__global__ void arg_block_kernel(bool is_max, red_plan p, int64_t sa, const T *x, T *y) {
    __shared__ double sv[TG_CU_THREADS];
    __shared__ int64_t si[TG_CU_THREADS];
    for (int64_t o = blockIdx.x; o < p.n_out; o += gridDim.x) {
        int64_t xo, yo;
        out_offsets(p, o, &xo, &yo);
        double bv = 0;
        int64_t bi = -1;
        for (int64_t i = threadIdx.x; i < p.n_red; i += blockDim.x) {
            double v = (double)x[xo + i * sa];
            if (arg_better(is_max, bv, bi, v, i)) {
                bv = v;
                bi = i;
            }
        }
        sv[threadIdx.x] = bv;
        si[threadIdx.x] = bi;
        __syncthreads();
        for (int s = TG_CU_THREADS / 2; s > 0; s >>= 1) {
            int t = threadIdx.x;
            if (t < s && arg_better(is_max, sv[t], si[t], sv[t + s], si[t + s])) {
                sv[t] = sv[t + s];
                si[t] = si[t + s];
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) y[yo] = (T)(si[0] < 0 ? 0 : si[0]);
        __syncthreads();
    }
}

template <typename T>
static int argreduce_typed(tg_cuda_ctx *c, bool is_max, const red_plan *p, int64_t sa,
                           const void *xv, void *yv) {
    const T *x = (const T *)xv;
    T *y = (T *)yv;
    if (p->n_red <= 1024 || p->n_out >= 1024) {
        arg_thread_kernel<T>
            <<<tg_cuda_blocks(p->n_out), TG_CU_THREADS, 0, c->stream>>>(is_max, *p, sa, x, y);
    } else {
        int64_t gx = p->n_out < TG_CU_MAX_BLOCKS ? p->n_out : TG_CU_MAX_BLOCKS;
        arg_block_kernel<T><<<(unsigned)gx, TG_CU_THREADS, 0, c->stream>>>(is_max, *p, sa, x, y);
    }
    return tg_cuda_check_launch("reduce (arg)");
}

// The axis is the last one where y has stride 0 and x more than one element (the cpu
// backend's choice); none: every index is 0.
static int argreduce(tg_cuda_ctx *c, bool is_max, const tg_view *x, const tg_view *y) {
    int axis = -1;
    for (int i = 0; i < x->ndim; i++)
        if (y->stride[i] == 0 && x->shape[i] > 1) axis = i;
    red_plan p;
    red_plan_make(&p, x, y, axis >= 0 ? axis : TG_VIEW_MAX_DIMS);
    int64_t sa = axis >= 0 ? x->stride[axis] : 0;
    if (axis < 0) p.n_red = 1;
    if (p.n_out == 0) return TG_OK;
    if (x->dtype == TG_F64) return argreduce_typed<double>(c, is_max, &p, sa, x->data, y->data);
    return argreduce_typed<float>(c, is_max, &p, sa, x->data, y->data);
}

int tg_cuda_reduce(void *ctx, int kind, const tg_view *x, const tg_view *y) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (kind == TG_REDUCE_KIND_ARGMAX || kind == TG_REDUCE_KIND_ARGMIN)
        return argreduce(c, kind == TG_REDUCE_KIND_ARGMAX, x, y);
    if (kind < 0 || kind >= TG_REDUCE_KIND_COUNT) return TG_ERR_UNSUPPORTED;
    if (x->dtype != y->dtype) return TG_ERR_DTYPE;
    red_plan p;
    red_plan_make(&p, x, y, -1);
    if (p.n_out == 0) return TG_OK;
    if (x->dtype == TG_F64) return reduce_typed<double>(c, kind, &p, x->data, y->data);
    return reduce_typed<float>(c, kind, &p, x->data, y->data);
}

// cpu index kernels: gather / scatter_add along an axis, im2col / col2im for convolution
// and pooling, and the arg-extremum reductions (they need the axis, not just rows).
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/cpu_internal.h"

static double get(const tg_view *v, int64_t off) {
    return v->dtype == TG_F64 ? ((const double *)v->data)[off] : (double)((const float *)v->data)[off];
}

static void set(const tg_view *v, int64_t off, double x) {
    if (v->dtype == TG_F64) ((double *)v->data)[off] = x;
    else ((float *)v->data)[off] = (float)x;
}

static void add_at(const tg_view *v, int64_t off, double x) {
    if (v->dtype == TG_F64) ((double *)v->data)[off] += x;
    else ((float *)v->data)[off] += (float)x;
}

// Calls fn for every element of `shape` with its multi-index (row-major order).
// Returns the first non-zero status of fn.
typedef int (*elem_fn)(void *user, const int64_t *idx);
static int for_each_index(int ndim, const int64_t *shape, elem_fn fn, void *user) {
    int64_t idx[TG_VIEW_MAX_DIMS] = {0};
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) return TG_OK;
    for (;;) {
        int st = fn(user, idx);
        if (st) return st;
        int d = ndim - 1;
        for (; d >= 0; d--) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
        if (d < 0) return TG_OK;
    }
}

static int64_t offset(const tg_view *v, const int64_t *idx) {
    int64_t o = 0;
    for (int i = 0; i < v->ndim; i++) o += idx[i] * v->stride[i];
    return o;
}

typedef struct {
    int axis;
    const tg_view *x, *index, *y;
    int64_t limit;
} gjob;

static int64_t index_at(const gjob *j, const int64_t *idx) {
    return (int64_t)get(j->index, offset(j->index, idx));
}

// Every index must be an integral value in [0, limit): checked before anything is written.
static int check_elem(void *user, const int64_t *idx) {
    const gjob *j = user;
    double fi = get(j->index, offset(j->index, idx));
    return (fi >= 0 && fi < (double)j->limit && fi == floor(fi)) ? TG_OK : TG_ERR_INVALID_ARG;
}

static int64_t big_offset(const tg_view *big, int axis, int64_t at, const int64_t *idx) {
    int64_t o = 0;
    for (int i = 0; i < big->ndim; i++) o += (i == axis ? at : idx[i]) * big->stride[i];
    return o;
}

static int gather_elem(void *user, const int64_t *idx) {
    const gjob *j = user;
    set(j->y, offset(j->y, idx), get(j->x, big_offset(j->x, j->axis, index_at(j, idx), idx)));
    return TG_OK;
}

static int scatter_elem(void *user, const int64_t *idx) {
    const gjob *j = user;
    add_at(j->y, big_offset(j->y, j->axis, index_at(j, idx), idx), get(j->x, offset(j->x, idx)));
    return TG_OK;
}

static int tg_cpu_gather(void *ctx, int axis, const tg_view *x, const tg_view *index,
                         const tg_view *y) {
    (void)ctx;
    gjob j = {.axis = axis, .x = x, .index = index, .y = y, .limit = x->shape[axis]};
    if (for_each_index(index->ndim, index->shape, check_elem, &j)) return TG_ERR_INVALID_ARG;
    return for_each_index(y->ndim, y->shape, gather_elem, &j);
}

static int tg_cpu_scatter_add(void *ctx, int axis, const tg_view *src, const tg_view *index,
                       const tg_view *y) {
    (void)ctx;
    gjob j = {.axis = axis, .x = src, .index = index, .y = y, .limit = y->shape[axis]};
    if (for_each_index(index->ndim, index->shape, check_elem, &j)) return TG_ERR_INVALID_ARG;
    return for_each_index(src->ndim, src->shape, scatter_elem, &j);
}

// ---- arg-extremum along the one axis where y has stride 0 (x contiguous) ----

static int tg_cpu_argreduce(const tg_view *x, const tg_view *y, bool is_max) {
    int axis = -1;
    for (int i = 0; i < x->ndim; i++)
        if (y->stride[i] == 0 && x->shape[i] > 1) axis = i;
    int64_t outer = 1, n = axis >= 0 ? x->shape[axis] : 1, inner = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (axis < 0 || i < axis) outer *= x->shape[i];
        else if (i > axis) inner *= x->shape[i];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            int64_t best = 0;
            double bv = get(x, o * n * inner + k);
            for (int64_t i = 1; i < n && bv == bv; i++) {   // NaN wins, first one kept
                double v = get(x, (o * n + i) * inner + k);
                if (v != v || (is_max ? v > bv : v < bv)) {
                    bv = v;
                    best = i;
                }
            }
            set(y, o * inner + k, (double)best);
        }
    return TG_OK;
}

// ---- im2col / col2im ----

// The output columns ow whose input column iw = ow*stride + off lies in [0, w): [*lo, *hi).
static void valid_cols(int64_t w, int64_t ow_n, int64_t stride, int64_t off, int64_t *lo,
                       int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = w - 1 - off < 0 ? 0 : (w - 1 - off) / stride + 1;
    h = h < ow_n ? h : ow_n;
    *lo = l < h ? l : h;
    *hi = h;
}

// One image's windows, rows r = (c, ki, kj) of cols [C*KH*KW, OH*OW]. Per output row the
// in-image span is found once, so the copy (stride 1: contiguous) has no per-element test.
#define IM2COL_IMAGE(T)                                                                    \
    for (int64_t c = 0; c < d->c; c++)                                                     \
        for (int64_t ki = 0; ki < d->kh; ki++)                                             \
            for (int64_t kj = 0; kj < d->kw; kj++) {                                       \
                int64_t r = (c * d->kh + ki) * d->kw + kj, off = kj * d->dil_w - d->pad_w;  \
                int64_t lo, hi;                                                            \
                valid_cols(d->w, d->ow, d->stride_w, off, &lo, &hi);                       \
                const T *xc = x + c * d->h * d->w;                                         \
                for (int64_t oh = 0; oh < d->oh; oh++) {                                   \
                    int64_t ih = oh * d->stride_h - d->pad_h + ki * d->dil_h;              \
                    T *row = col + (r * d->oh + oh) * d->ow;                               \
                    if (ih < 0 || ih >= d->h) {                                            \
                        for (int64_t ow = 0; ow < d->ow; ow++) row[ow] = pad;              \
                        continue;                                                          \
                    }                                                                      \
                    const T *xr = xc + ih * d->w + off;                                    \
                    for (int64_t ow = 0; ow < lo; ow++) row[ow] = pad;                     \
                    if (d->stride_w == 1)                                                  \
                        for (int64_t ow = lo; ow < hi; ow++) row[ow] = xr[ow];             \
                    else                                                                   \
                        for (int64_t ow = lo; ow < hi; ow++) row[ow] = xr[ow * d->stride_w]; \
                    for (int64_t ow = hi; ow < d->ow; ow++) row[ow] = pad;                 \
                }                                                                          \
            }

// x[image] += the windows' columns (x zeroed by the caller); the same spans as im2col.
#define COL2IM_IMAGE(T)                                                                    \
    for (int64_t c = 0; c < d->c; c++)                                                     \
        for (int64_t ki = 0; ki < d->kh; ki++)                                             \
            for (int64_t kj = 0; kj < d->kw; kj++) {                                       \
                int64_t r = (c * d->kh + ki) * d->kw + kj, off = kj * d->dil_w - d->pad_w;  \
                int64_t lo, hi;                                                            \
                valid_cols(d->w, d->ow, d->stride_w, off, &lo, &hi);                       \
                T *xc = x + c * d->h * d->w;                                               \
                for (int64_t oh = 0; oh < d->oh; oh++) {                                   \
                    int64_t ih = oh * d->stride_h - d->pad_h + ki * d->dil_h;              \
                    if (ih < 0 || ih >= d->h) continue;                                    \
                    const T *row = col + (r * d->oh + oh) * d->ow;                         \
                    T *xr = xc + ih * d->w + off;                                          \
                    if (d->stride_w == 1)                                                  \
                        for (int64_t ow = lo; ow < hi; ow++) xr[ow] += row[ow];            \
                    else                                                                   \
                        for (int64_t ow = lo; ow < hi; ow++) xr[ow * d->stride_w] += row[ow]; \
                }                                                                          \
            }

typedef struct {
    const tg_im2col_desc *d;
    const void *src;
    void *dst;
} window_job;

// Elements from one image's window matrix to the next.
static int64_t cols_stride(const tg_im2col_desc *d) {
    return d->cols_bs ? d->cols_bs : d->c * d->kh * d->kw * d->oh * d->ow;
}

static void im2col_images(int64_t lo, int64_t hi, void *arg) {
    const window_job *j = arg;
    const tg_im2col_desc *d = j->d;
    int64_t img = d->c * d->h * d->w, colsz = cols_stride(d);
    for (int64_t n = lo; n < hi; n++) {
        if (d->dtype == TG_F64) {
            const double *x = (const double *)j->src + n * img;
            double *col = (double *)j->dst + n * colsz, pad = d->pad_value;
            IM2COL_IMAGE(double)
        } else {
            const float *x = (const float *)j->src + n * img;
            float *col = (float *)j->dst + n * colsz, pad = (float)d->pad_value;
            IM2COL_IMAGE(float)
        }
    }
}

static void col2im_images(int64_t lo, int64_t hi, void *arg) {
    const window_job *j = arg;
    const tg_im2col_desc *d = j->d;
    int64_t img = d->c * d->h * d->w, colsz = cols_stride(d);
    for (int64_t n = lo; n < hi; n++) {
        if (d->dtype == TG_F64) {
            const double *col = (const double *)j->src + n * colsz;
            double *x = (double *)j->dst + n * img;
            COL2IM_IMAGE(double)
        } else {
            const float *col = (const float *)j->src + n * colsz;
            float *x = (float *)j->dst + n * img;
            COL2IM_IMAGE(float)
        }
    }
}

// Images are independent (each writes its own slice): with threads and enough work they
// split across OpenMP threads, a contiguous range of images each.
static void for_images(void *ctx, const tg_im2col_desc *d, tg_cpu_range_fn fn, window_job *j) {
    int64_t per = d->c * d->kh * d->kw * d->oh * d->ow;
    int nt = tg_cpu_threads(ctx);
#ifdef _OPENMP
    if (nt > 1 && d->n > 1 && d->n * per >= TG_CPU_PAR_MIN) {
#pragma omp parallel num_threads(nt)
        {
            int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
            int64_t lo = d->n * t / k, hi = d->n * (t + 1) / k;
            if (hi > lo) fn(lo, hi, j);
        }
        return;
    }
#else
    (void)nt, (void)per;
#endif
    fn(0, d->n, j);
}

static int tg_cpu_im2col(void *ctx, const tg_im2col_desc *d, const void *x, void *cols) {
    window_job j = {d, x, cols};
    for_images(ctx, d, im2col_images, &j);
    return TG_OK;
}

static int tg_cpu_col2im(void *ctx, const tg_im2col_desc *d, const void *cols, void *x) {
    window_job j = {d, cols, x};
    for_images(ctx, d, col2im_images, &j);
    return TG_OK;
}

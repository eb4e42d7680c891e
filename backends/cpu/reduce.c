// cpu reductions: y (x's shape with stride 0 on reduced axes) = sum over those axes.
// Rows along a reduced axis, and columns of a block summed into one row, are summed in
// double, then added once.
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu_internal.h"
#include "backends/elem_math.h"

typedef struct {
    const tg_view *x, *y;
    bool is_max;
} rjob;

// max / min rows: NaN propagates (PyTorch semantics).
static void extreme_row1(const rjob *j, const int64_t *off, int64_t n, const int64_t *inner) {
    int64_t sx = inner[0], sy = inner[1];
    for (int64_t i = 0; i < n; i++) {
        double v = j->x->dtype == TG_F64 ? ((const double *)j->x->data)[off[0] + i * sx]
                                    : ((const float *)j->x->data)[off[0] + i * sx];
        if (j->y->dtype == TG_F64) {
            double *y = (double *)j->y->data + off[1] + i * sy;
            *y = j->is_max ? tg_max_d(v, *y) : tg_min_d(v, *y);
        } else {
            float *y = (float *)j->y->data + off[1] + i * sy;
            *y = j->is_max ? tg_max_f((float)v, *y) : tg_min_f((float)v, *y);
        }
    }
}

// The sum of x[0, n) in double, as ROW_LANES independent partial sums added at the end:
// one running sum is a serial chain of dependent adds (4 cycles each), which kept a conv
// bias gradient's per-channel sums (rows of 196 and 784 in fashion-cnn) at about one
// element per cycle; the partial sums vectorise and round alike in every variant.
enum { ROW_LANES = 8 };
#define ROW_SUM(T)                                                                         \
    static double row_sum_##T(const T *x, int64_t n) {                                     \
        double acc[ROW_LANES] = {0}, s = 0;                                                \
        int64_t i = 0;                                                                     \
        for (; i + ROW_LANES <= n; i += ROW_LANES)                                         \
            for (int q = 0; q < ROW_LANES; q++) acc[q] += x[i + q];                        \
        for (; i < n; i++) acc[0] += x[i];                                                 \
        for (int q = 0; q < ROW_LANES; q++) s += acc[q];                                   \
        return s;                                                                          \
    }
ROW_SUM(float)
ROW_SUM(double)

// Sums of a 2-D block of rows: each row into one output (reduced axis innermost, summed in
// double) or accumulated element-wise into y (kept axis innermost: column sums such as a
// bias gradient). The dispatch sits outside the row loop; the unit-stride loops vectorise.
#define SUM_BLOCK(T)                                                                       \
    for (int64_t r = 0; r < n_outer; r++) {                                                \
        const T *x = x0 + r * ox;                                                          \
        T *y = y0 + r * oy;                                                                \
        if (sy == 0) {                                                                     \
            double s = 0;                                                                  \
            if (sx == 1) {                                                                 \
                s = row_sum_##T(x, n);                                                     \
            } else {                                                                       \
                for (int64_t i = 0; i < n; i++) s += x[i * sx];                            \
            }                                                                              \
            *y += (T)s;                                                                    \
        } else if (sx == 1 && sy == 1) {                                                   \
            for (int64_t i = 0; i < n; i++) y[i] += x[i];                                  \
        } else {                                                                           \
            for (int64_t i = 0; i < n; i++) y[i * sy] += x[i * sx];                        \
        }                                                                                  \
    }

// Column sums (every row of the block added into the same y: a bias gradient), in double.
// Narrow blocks: W columns at a time in accumulators that stay in registers, so y is
// touched once per block instead of once per row. Wide ones (rows of 64 and more): rows
// streamed in order into a double scratch row of up to COLS_CHUNK columns, since walking a
// column block down rows thousands of bytes apart defeats the cache and the prefetcher.
enum { COLS_CHUNK = 1024 };

#define COLSUM(W)                                                         \
    for (; j + (W) <= n; j += (W)) {                                      \
        double acc[W] = {0};                                              \
        for (int64_t r = 0; r < n_outer; r++)                             \
            for (int q = 0; q < (W); q++) acc[q] += x0[r * ox + j + q];   \
        for (int q = 0; q < (W); q++) y[j + q] += (__typeof__(*y))acc[q]; \
    }

#define COLSUM_WIDE(T)                                                                     \
    for (int64_t j0 = 0; j0 < n; j0 += COLS_CHUNK) {                                       \
        int64_t w = n - j0 < COLS_CHUNK ? n - j0 : COLS_CHUNK;                             \
        double acc[COLS_CHUNK];                                                            \
        for (int64_t q = 0; q < w; q++) acc[q] = 0;                                        \
        for (int64_t r = 0; r < n_outer; r++) {                                            \
            const T *x = x0 + r * ox + j0;                                                 \
            for (int64_t q = 0; q < w; q++) acc[q] += x[q];                                \
        }                                                                                  \
        for (int64_t q = 0; q < w; q++) y[j0 + q] += (T)acc[q];                            \
    }

// Narrow blocks of contiguous rows (ox == n: a narrow layer's bias gradient at a large batch):
// g rows at a time are one run of P = g n values, a whole number of 64-byte vectors, summed
// lane by lane into P doubles (two sets, alternate runs), which are folded into the n
// columns at the end. COLSUM's accumulators are each one chain of dependent adds down all
// the rows: seed-moons' 8000 x 2 and 8000 x 20 bias gradients took 11 and 14 us that way,
// 0.9 and 7.6 this way (Zen 5, 1 thread; the second is bound by the conversions to double).
enum { COLS_FLAT_MAX = 128 };

// The run for n_outer rows of n columns ox apart, in vectors of lanes elements: its length
// P, or 0 where the rows are not contiguous, n is 64 or more, P would be over COLS_FLAT_MAX
// or the rows are fewer than 8 runs' worth.
static int64_t colsum_run(int64_t n_outer, int64_t n, int64_t ox, int64_t lanes) {
    if (ox != n || n >= 64) return 0;
    int64_t p = n;
    while (p % lanes) p += n;
    return p <= COLS_FLAT_MAX && n_outer >= 8 * (p / n) ? p : 0;
}

// One P (a constant after inlining, so that the accumulators can stay in registers).
#define COLSUM_FLAT(T, SUF)                                                                \
    static inline __attribute__((always_inline)) void colsum_flat_##SUF(                  \
        const int64_t P, int64_t n_outer, int64_t n, const T *x0, T *y) {                  \
        int64_t g = P / n, r = 0;                                                          \
        double a0[COLS_FLAT_MAX], a1[COLS_FLAT_MAX];                                       \
        for (int64_t q = 0; q < P; q++) a0[q] = a1[q] = 0;                                 \
        for (; r + 2 * g <= n_outer; r += 2 * g) {                                         \
            const T *x = x0 + r * n;                                                       \
            for (int64_t q = 0; q < P; q++) a0[q] += x[q];                                 \
            for (int64_t q = 0; q < P; q++) a1[q] += x[P + q];                             \
        }                                                                                  \
        for (int64_t q = 0; q < P; q++) a0[q] += a1[q];                                    \
        for (int64_t q = n; q < P; q++) a0[q % n] += a0[q];                                \
        for (; r < n_outer; r++)                                                           \
            for (int64_t q = 0; q < n; q++) a0[q] += x0[r * n + q];                        \
        for (int64_t q = 0; q < n; q++) y[q] += (T)a0[q];                                  \
    }                                                                                      \
    static void colsum_flat_any_##SUF(int64_t P, int64_t n_outer, int64_t n, const T *x0,  \
                                      T *y) {                                              \
        switch (P / (64 / (int64_t)sizeof(T))) {                                           \
        case 1: colsum_flat_##SUF(64 / sizeof(T), n_outer, n, x0, y); break;              \
        case 2: colsum_flat_##SUF(128 / sizeof(T), n_outer, n, x0, y); break;             \
        case 3: colsum_flat_##SUF(192 / sizeof(T), n_outer, n, x0, y); break;             \
        case 4: colsum_flat_##SUF(256 / sizeof(T), n_outer, n, x0, y); break;             \
        case 5: colsum_flat_##SUF(320 / sizeof(T), n_outer, n, x0, y); break;             \
        default: colsum_flat_##SUF(P, n_outer, n, x0, y); break;                          \
        }                                                                                  \
    }
COLSUM_FLAT(float, f32)
COLSUM_FLAT(double, f64)

static void colsum_f64(int64_t n_outer, int64_t n, const double *x0, int64_t ox, double *y) {
    int64_t P = colsum_run(n_outer, n, ox, 8);
    if (P) {
        colsum_flat_any_f64(P, n_outer, n, x0, y);
        return;
    }
    if (n >= 64) {
        COLSUM_WIDE(double)
        return;
    }
    int64_t j = 0;
    COLSUM(8) COLSUM(4) COLSUM(1)
}

static void colsum_f32(int64_t n_outer, int64_t n, const float *x0, int64_t ox, float *y) {
    int64_t P = colsum_run(n_outer, n, ox, 16);
    if (P) {
        colsum_flat_any_f32(P, n_outer, n, x0, y);
        return;
    }
    if (n >= 64) {
        COLSUM_WIDE(float)
        return;
    }
    int64_t j = 0;
    COLSUM(16) COLSUM(8) COLSUM(4) COLSUM(1)
}

static void sum_block_f64(int64_t n_outer, int64_t n, const double *x0, int64_t ox, int64_t sx,
                          double *y0, int64_t oy, int64_t sy) {
    SUM_BLOCK(double)
}

static void sum_block_f32(int64_t n_outer, int64_t n, const float *x0, int64_t ox, int64_t sx,
                          float *y0, int64_t oy, int64_t sy) {
    SUM_BLOCK(float)
}

static void sum_row(void *user, const int64_t *off, int64_t n_outer, const int64_t *outer,
                    int64_t n, const int64_t *inner) {
    const rjob *j = user;
    if (outer[1] == 0 && inner[0] == 1 && inner[1] == 1 && n_outer > 1) {
        if (j->x->dtype == TG_F64)
            colsum_f64(n_outer, n, (const double *)j->x->data + off[0], outer[0],
                       (double *)j->y->data + off[1]);
        else
            colsum_f32(n_outer, n, (const float *)j->x->data + off[0], outer[0],
                       (float *)j->y->data + off[1]);
        return;
    }
    if (j->x->dtype == TG_F64)
        sum_block_f64(n_outer, n, (const double *)j->x->data + off[0], outer[0], inner[0],
                      (double *)j->y->data + off[1], outer[1], inner[1]);
    else
        sum_block_f32(n_outer, n, (const float *)j->x->data + off[0], outer[0], inner[0],
                      (float *)j->y->data + off[1], outer[1], inner[1]);
}

static void extreme_row(void *user, const int64_t *off, int64_t n_outer, const int64_t *outer,
                        int64_t n, const int64_t *inner) {
    int64_t o[2] = {off[0], off[1]};
    for (int64_t r = 0; r < n_outer; r++, o[0] += outer[0], o[1] += outer[1])
        extreme_row1(user, o, n, inner);
}

static int tg_cpu_reduce(void *ctx, int kind, const tg_view *x, const tg_view *y) {
    (void)ctx;
    if (kind == TG_REDUCE_KIND_ARGMAX || kind == TG_REDUCE_KIND_ARGMIN)
        return tg_cpu_argreduce(x, y, kind == TG_REDUCE_KIND_ARGMAX);
    if (kind < 0 || kind >= TG_REDUCE_KIND_COUNT) return TG_ERR_UNSUPPORTED;
    int64_t ny = 1;
    for (int i = 0; i < y->ndim; i++)
        if (y->stride[i] != 0) ny *= y->shape[i];
    rjob j = {.x = x, .y = y, .is_max = kind == TG_REDUCE_KIND_MAX};
    const tg_view *v[2] = {x, y};
    if (kind == TG_REDUCE_KIND_SUM) {
        memset(y->data, 0, (size_t)ny * (y->dtype == TG_F64 ? 8 : 4));
        tg_cpu_for_rows(2, v, sum_row, &j);
    } else {
        double init = kind == TG_REDUCE_KIND_MAX ? -INFINITY : INFINITY;
        for (int64_t i = 0; i < ny; i++) {
            if (y->dtype == TG_F64) ((double *)y->data)[i] = init;
            else ((float *)y->data)[i] = (float)init;
        }
        tg_cpu_for_rows(2, v, extreme_row, &j);
    }
    return TG_OK;
}

// cpu elementwise kernels: fill, unary, binary (broadcast strides), in-place updates and
// cast. One row function per dtype; the kind switch sits outside the loops so they
// vectorise. Per-element math comes from backends/elem_math.h.
#include <math.h>
#include <stdbool.h>

#include "backends/cpu/cpu_internal.h"
#include "backends/elem_math.h"

typedef struct {
    int kind;
    const tg_view *x, *y, *a, *b;
    double s0, s1, s2;
} job;

// ---- unary ----

// The row loops take the element function as a parameter and are always inlined into the
// kind switches below, each with a constant function: GCC then inlines the element
// function and vectorises the loop as it did the former macro bodies. The kind switch sits
// outside every loop so per-row cost is a pointer step (broadcast copies such as addmm's
// bias are thousands of 20-element rows).

typedef float (*unary_f32_fn)(float x, float a, float b);
typedef double (*unary_f64_fn)(double x, double a, double b);

// One 2-D block: y [n_outer, n] (row step oy, element step sy) = f(x [n_outer, n]; a, b).
static inline __attribute__((always_inline)) void
unary_rows_f32(unary_f32_fn f, int64_t n_outer, int64_t n, const float *x0, int64_t ox, int64_t sx,
               float *y0, int64_t oy, int64_t sy, float a, float b) {
    for (int64_t r = 0; r < n_outer; r++) {
        const float *x = x0 + r * ox;
        float *y = y0 + r * oy;
        if (sx == 1 && sy == 1)
            for (int64_t i = 0; i < n; i++) y[i] = f(x[i], a, b);
        else
            for (int64_t i = 0; i < n; i++) y[i * sy] = f(x[i * sx], a, b);
    }
}

static inline __attribute__((always_inline)) void
unary_rows_f64(unary_f64_fn f, int64_t n_outer, int64_t n, const double *x0, int64_t ox, int64_t sx,
               double *y0, int64_t oy, int64_t sy, double a, double b) {
    for (int64_t r = 0; r < n_outer; r++) {
        const double *x = x0 + r * ox;
        double *y = y0 + r * oy;
        if (sx == 1 && sy == 1)
            for (int64_t i = 0; i < n; i++) y[i] = f(x[i], a, b);
        else
            for (int64_t i = 0; i < n; i++) y[i * sy] = f(x[i * sx], a, b);
    }
}

// The kind switches, one case per TG_UNARY_KINDS entry (index-driven kinds never get here).
#define UNARY_CASE_F32(kind, f32_fn, f64_fn)                                                   \
    case kind: unary_rows_f32(f32_fn, n_outer, n, x0, ox, sx, y0, oy, sy, a, b); break;
#define UNARY_CASE_F64(kind, f32_fn, f64_fn)                                                   \
    case kind: unary_rows_f64(f64_fn, n_outer, n, x0, ox, sx, y0, oy, sy, a, b); break;
#define UNARY_NO_CASE(kind)

static void unary_block_f32(int kind, int64_t n_outer, int64_t n, const float *x0, int64_t ox,
                            int64_t sx, float *y0, int64_t oy, int64_t sy, float a, float b) {
    switch (kind) {
        TG_UNARY_KINDS(UNARY_CASE_F32, UNARY_NO_CASE)
    default: break;
    }
}

static void unary_block_f64(int kind, int64_t n_outer, int64_t n, const double *x0, int64_t ox,
                            int64_t sx, double *y0, int64_t oy, int64_t sy, double a, double b) {
    switch (kind) {
        TG_UNARY_KINDS(UNARY_CASE_F64, UNARY_NO_CASE)
    default: break;
    }
}

static void unary_row(void *user, const int64_t *off, int64_t n_outer, const int64_t *outer,
                      int64_t n, const int64_t *inner) {
    const job *j = user;
    if (j->y->dtype == TG_F64)
        unary_block_f64(j->kind, n_outer, n, (const double *)j->x->data + off[1], outer[1],
                        inner[1], (double *)j->y->data + off[0], outer[0], inner[0], j->s0,
                        j->s1);
    else
        unary_block_f32(j->kind, n_outer, n, (const float *)j->x->data + off[1], outer[1],
                        inner[1], (float *)j->y->data + off[0], outer[0], inner[0],
                        (float)j->s0, (float)j->s1);
}

static int tg_cpu_unary(void *ctx, int kind, const tg_view *x, const tg_view *y, double a,
                        double b) {
    if (kind < 0 || kind >= TG_UNARY_COUNT) return TG_ERR_UNSUPPORTED;
    if (kind == TG_UNARY_ARANGE) {   // y contiguous; x unused
        int64_t n = 1;
        for (int i = 0; i < y->ndim; i++) n *= y->shape[i];
        for (int64_t i = 0; i < n; i++) {
            if (y->dtype == TG_F64) ((double *)y->data)[i] = a + b * (double)i;
            else ((float *)y->data)[i] = (float)(a + b * (double)i);
        }
        return TG_OK;
    }
    if (kind == TG_UNARY_DROPOUT_MASK) {   // y contiguous; x unused
        int64_t n = 1;
        for (int i = 0; i < y->ndim; i++) n *= y->shape[i];
        double keep = b < 1 ? 1.0 / (1.0 - b) : 0.0;
        for (int64_t i = 0; i < n; i++) {
            double v = tg_dropout_u((uint64_t)a, (uint64_t)i) >= b ? keep : 0.0;
            if (y->dtype == TG_F64) ((double *)y->data)[i] = v;
            else ((float *)y->data)[i] = (float)v;
        }
        return TG_OK;
    }
    job j = {.kind = kind, .x = x, .y = y, .s0 = a, .s1 = b};
    const tg_view *v[2] = {y, x};
    tg_cpu_for_rows_par(tg_cpu_threads(ctx), 2, v, unary_row, &j);
    return TG_OK;
}

// y is contiguous (a whole tensor).
static int tg_cpu_fill(void *ctx, const tg_view *y, double value) {
    (void)ctx;
    int64_t n = 1;
    for (int i = 0; i < y->ndim; i++) n *= y->shape[i];
    if (y->dtype == TG_F64) {
        double *p = y->data;
        for (int64_t i = 0; i < n; i++) p[i] = value;
    } else {
        float *p = y->data;
        for (int64_t i = 0; i < n; i++) p[i] = (float)value;
    }
    return TG_OK;
}

// ---- binary ----

typedef float (*binary_f32_fn)(float a, float b);
typedef double (*binary_f64_fn)(double a, double b);

// As unary_rows, with the constant-stride cases (both contiguous, or one side broadcast
// along the row) spelled out so each vectorises; y is contiguous along the row.
static inline __attribute__((always_inline)) void
binary_row_f32(binary_f32_fn f, int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
               float *y) {
    if (sa == 1 && sb == 1)
        for (int64_t i = 0; i < n; i++) y[i] = f(a[i], b[i]);
    else if (sa == 1 && sb == 0)
        for (int64_t i = 0; i < n; i++) y[i] = f(a[i], b[0]);
    else if (sa == 0 && sb == 1)
        for (int64_t i = 0; i < n; i++) y[i] = f(a[0], b[i]);
    else
        for (int64_t i = 0; i < n; i++) y[i] = f(a[i * sa], b[i * sb]);
}

static inline __attribute__((always_inline)) void
binary_row_f64(binary_f64_fn f, int64_t n, const double *a, int64_t sa, const double *b, int64_t sb,
               double *y) {
    if (sa == 1 && sb == 1)
        for (int64_t i = 0; i < n; i++) y[i] = f(a[i], b[i]);
    else if (sa == 1 && sb == 0)
        for (int64_t i = 0; i < n; i++) y[i] = f(a[i], b[0]);
    else if (sa == 0 && sb == 1)
        for (int64_t i = 0; i < n; i++) y[i] = f(a[0], b[i]);
    else
        for (int64_t i = 0; i < n; i++) y[i] = f(a[i * sa], b[i * sb]);
}

static inline __attribute__((always_inline)) void
binary_rows_f32(binary_f32_fn f, int64_t n_outer, int64_t n, const float *a0, int64_t oa,
                int64_t sa, const float *b0, int64_t ob, int64_t sb, float *y0, int64_t oy) {
    for (int64_t r = 0; r < n_outer; r++)
        binary_row_f32(f, n, a0 + r * oa, sa, b0 + r * ob, sb, y0 + r * oy);
}

static inline __attribute__((always_inline)) void
binary_rows_f64(binary_f64_fn f, int64_t n_outer, int64_t n, const double *a0, int64_t oa,
                int64_t sa, const double *b0, int64_t ob, int64_t sb, double *y0, int64_t oy) {
    for (int64_t r = 0; r < n_outer; r++)
        binary_row_f64(f, n, a0 + r * oa, sa, b0 + r * ob, sb, y0 + r * oy);
}

// One case per TG_BINARY_KINDS entry.
#define BINARY_CASE_F32(kind, f32_fn, f64_fn)                                                  \
    case kind: binary_rows_f32(f32_fn, n_outer, n, a0, oa, sa, b0, ob, sb, y0, oy); break;
#define BINARY_CASE_F64(kind, f32_fn, f64_fn)                                                  \
    case kind: binary_rows_f64(f64_fn, n_outer, n, a0, oa, sa, b0, ob, sb, y0, oy); break;

static void binary_block_f32(int kind, int64_t n_outer, int64_t n, const float *a0, int64_t oa,
                             int64_t sa, const float *b0, int64_t ob, int64_t sb, float *y0,
                             int64_t oy) {
    switch (kind) {
        TG_BINARY_KINDS(BINARY_CASE_F32)
    default: break;
    }
}

static void binary_block_f64(int kind, int64_t n_outer, int64_t n, const double *a0,
                             int64_t oa, int64_t sa, const double *b0, int64_t ob, int64_t sb,
                             double *y0, int64_t oy) {
    switch (kind) {
        TG_BINARY_KINDS(BINARY_CASE_F64)
    default: break;
    }
}

// y is always a fresh contiguous output here, so its inner stride is 1.
static void binary_row(void *user, const int64_t *off, int64_t n_outer, const int64_t *outer,
                       int64_t n, const int64_t *inner) {
    const job *j = user;
    if (j->y->dtype == TG_F64)
        binary_block_f64(j->kind, n_outer, n, (const double *)j->a->data + off[1], outer[1],
                         inner[1], (const double *)j->b->data + off[2], outer[2], inner[2],
                         (double *)j->y->data + off[0], outer[0]);
    else
        binary_block_f32(j->kind, n_outer, n, (const float *)j->a->data + off[1], outer[1],
                         inner[1], (const float *)j->b->data + off[2], outer[2], inner[2],
                         (float *)j->y->data + off[0], outer[0]);
}

static int tg_cpu_binary(void *ctx, int kind, const tg_view *a, const tg_view *b,
                         const tg_view *y) {
    if (kind < 0 || kind >= TG_BINARY_COUNT) return TG_ERR_UNSUPPORTED;
    job j = {.kind = kind, .a = a, .b = b, .y = y};
    const tg_view *v[3] = {y, a, b};
    tg_cpu_for_rows_par(tg_cpu_threads(ctx), 3, v, binary_row, &j);
    return TG_OK;
}

// ---- in-place updates: y = f(y, a, b) ----

static void update_row_f64(int kind, int64_t n, double *y, const double *a, const double *b,
                           double s0, double s1, double s2) {
    switch (kind) {
    case TG_UPDATE_AXPBY: for (int64_t i = 0; i < n; i++) y[i] = s0 * a[i] + s1 * y[i]; break;
    case TG_UPDATE_ADDCMUL: for (int64_t i = 0; i < n; i++) y[i] += s0 * a[i] * b[i]; break;
    case TG_UPDATE_ADDCDIV: for (int64_t i = 0; i < n; i++) y[i] += s0 * a[i] / b[i]; break;
    case TG_UPDATE_ADDCDIV_SQRT:
        for (int64_t i = 0; i < n; i++) y[i] += s0 * tg_adam_ratio_d(a[i], b[i], s1, s2);
        break;
    case TG_UPDATE_MAXIMUM: for (int64_t i = 0; i < n; i++) y[i] = tg_max_d(y[i], a[i]); break;
    case TG_UPDATE_MAX_ABS:
        for (int64_t i = 0; i < n; i++) y[i] = tg_adamax_norm_d(y[i], a[i], s1, s2);
        break;
    case TG_UPDATE_SQRT_RATIO:
        for (int64_t i = 0; i < n; i++) y[i] = tg_adadelta_step_d(y[i], a[i], b[i], s2);
        break;
    case TG_UPDATE_CLAMP: for (int64_t i = 0; i < n; i++) y[i] = tg_clamp_d(y[i], s1, s2); break;
    case TG_UPDATE_SCALE: for (int64_t i = 0; i < n; i++) y[i] *= s1; break;
    default: break;
    }
}

static void update_row_f32(int kind, int64_t n, float *y, const float *a, const float *b,
                           float s0, float s1, float s2) {
    switch (kind) {
    case TG_UPDATE_AXPBY: for (int64_t i = 0; i < n; i++) y[i] = s0 * a[i] + s1 * y[i]; break;
    case TG_UPDATE_ADDCMUL: for (int64_t i = 0; i < n; i++) y[i] += s0 * a[i] * b[i]; break;
    case TG_UPDATE_ADDCDIV: for (int64_t i = 0; i < n; i++) y[i] += s0 * a[i] / b[i]; break;
    case TG_UPDATE_ADDCDIV_SQRT:
        for (int64_t i = 0; i < n; i++) y[i] += s0 * tg_adam_ratio_f(a[i], b[i], s1, s2);
        break;
    case TG_UPDATE_MAXIMUM: for (int64_t i = 0; i < n; i++) y[i] = tg_max_f(y[i], a[i]); break;
    case TG_UPDATE_MAX_ABS:
        for (int64_t i = 0; i < n; i++) y[i] = tg_adamax_norm_f(y[i], a[i], s1, s2);
        break;
    case TG_UPDATE_SQRT_RATIO:
        for (int64_t i = 0; i < n; i++) y[i] = tg_adadelta_step_f(y[i], a[i], b[i], s2);
        break;
    case TG_UPDATE_CLAMP: for (int64_t i = 0; i < n; i++) y[i] = tg_clamp_f(y[i], s1, s2); break;
    case TG_UPDATE_SCALE: for (int64_t i = 0; i < n; i++) y[i] *= s1; break;
    default: break;
    }
}

typedef struct {
    int kind;
    const tg_view *y, *a, *b;
    double s0, s1, s2;
} update_job;

static void update_range(int64_t lo, int64_t hi, void *arg) {
    const update_job *u = arg;
    if (u->y->dtype == TG_F64)
        update_row_f64(u->kind, hi - lo, (double *)u->y->data + lo, (const double *)u->a->data + lo,
                       (const double *)u->b->data + lo, u->s0, u->s1, u->s2);
    else
        update_row_f32(u->kind, hi - lo, (float *)u->y->data + lo, (const float *)u->a->data + lo,
                       (const float *)u->b->data + lo, (float)u->s0, (float)u->s1, (float)u->s2);
}

static int tg_cpu_update(void *ctx, int kind, const tg_view *y, const tg_view *a, const tg_view *b,
                  double s0, double s1, double s2) {
    if (kind < 0 || kind >= TG_UPDATE_COUNT) return TG_ERR_UNSUPPORTED;
    int64_t n = 1;
    for (int i = 0; i < y->ndim; i++) n *= y->shape[i];
    // contiguous, same shape: checked by the core
    update_job u = {.kind = kind, .y = y, .a = a, .b = b ? b : a, .s0 = s0, .s1 = s1, .s2 = s2};
    tg_cpu_for_range(tg_cpu_threads(ctx), n, update_range, &u);
    return TG_OK;
}

// ---- cast ----

static void cast_row1(const job *j, const int64_t *off, int64_t n, const int64_t *inner) {
    if (j->y->dtype == TG_F64) {
        double *y = (double *)j->y->data + off[0];
        const float *x = (const float *)j->x->data + off[1];
        for (int64_t i = 0; i < n; i++) y[i] = x[i * inner[1]];
    } else {
        float *y = (float *)j->y->data + off[0];
        const double *x = (const double *)j->x->data + off[1];
        for (int64_t i = 0; i < n; i++) y[i] = (float)x[i * inner[1]];
    }
}

static void cast_row(void *user, const int64_t *off, int64_t n_outer, const int64_t *outer,
                     int64_t n, const int64_t *inner) {
    int64_t o[2] = {off[0], off[1]};
    for (int64_t r = 0; r < n_outer; r++, o[0] += outer[0], o[1] += outer[1])
        cast_row1(user, o, n, inner);
}

static int tg_cpu_cast(void *ctx, const tg_view *x, const tg_view *y) {
    if (x->dtype == y->dtype) return tg_cpu_unary(ctx, TG_UNARY_COPY, x, y, 0, 0);
    job j = {.x = x, .y = y};
    const tg_view *v[2] = {y, x};
    tg_cpu_for_rows(2, v, cast_row, &j);
    return TG_OK;
}

// ---- where: y = cond != 0 ? a : b ----

static void where_row1(const job *j, const int64_t *off, int64_t n, const int64_t *inner) {
    if (j->y->dtype == TG_F64) {
        double *y = (double *)j->y->data + off[0];
        const double *c = (const double *)j->x->data + off[1];
        const double *a = (const double *)j->a->data + off[2];
        const double *b = (const double *)j->b->data + off[3];
        for (int64_t i = 0; i < n; i++)
            y[i] = c[i * inner[1]] != 0 ? a[i * inner[2]] : b[i * inner[3]];
    } else {
        float *y = (float *)j->y->data + off[0];
        const float *c = (const float *)j->x->data + off[1];
        const float *a = (const float *)j->a->data + off[2];
        const float *b = (const float *)j->b->data + off[3];
        for (int64_t i = 0; i < n; i++)
            y[i] = c[i * inner[1]] != 0 ? a[i * inner[2]] : b[i * inner[3]];
    }
}

static void where_row(void *user, const int64_t *off, int64_t n_outer, const int64_t *outer,
                      int64_t n, const int64_t *inner) {
    int64_t o[4] = {off[0], off[1], off[2], off[3]};
    for (int64_t r = 0; r < n_outer; r++) {
        where_row1(user, o, n, inner);
        for (int k = 0; k < 4; k++) o[k] += outer[k];
    }
}

static int tg_cpu_where(void *ctx, const tg_view *cond, const tg_view *a, const tg_view *b,
                 const tg_view *y) {
    job j = {.x = cond, .a = a, .b = b, .y = y};
    const tg_view *v[4] = {y, cond, a, b};
    tg_cpu_for_rows_par(tg_cpu_threads(ctx), 4, v, where_row, &j);
    return TG_OK;
}

// ---- fused Adam step ----

// The shared per-element formula on local copies through restrict pointers, one loop per
// (dtype, amsgrad): with_vmax is a constant at each always-inlined call, so the flags are
// loop-invariant and the loops vectorise.
static inline __attribute__((always_inline)) void
adam_loop_f64(bool with_vmax, int64_t n, double *restrict p, const double *restrict g,
              double *restrict m, double *restrict v, double *restrict vm, double lr, double b1,
              double b2, double eps, double wd, double bc1, double bc2, int decoupled) {
    for (int64_t i = 0; i < n; i++) {
        double pi = p[i], mi = m[i], vi = v[i], vmi = with_vmax ? vm[i] : 0;
        tg_adam_elem_d(&pi, g[i], &mi, &vi, with_vmax ? &vmi : NULL, lr, b1, b2, eps, wd, bc1,
                       bc2, decoupled);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
        if (with_vmax) vm[i] = vmi;
    }
}

static inline __attribute__((always_inline)) void
adam_loop_f32(bool with_vmax, int64_t n, float *restrict p, const float *restrict g,
              float *restrict m, float *restrict v, float *restrict vm, float lr, float b1,
              float b2, float eps, float wd, float bc1, float bc2, int decoupled) {
    for (int64_t i = 0; i < n; i++) {
        float pi = p[i], mi = m[i], vi = v[i], vmi = with_vmax ? vm[i] : 0;
        tg_adam_elem_f(&pi, g[i], &mi, &vi, with_vmax ? &vmi : NULL, lr, b1, b2, eps, wd, bc1,
                       bc2, decoupled);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
        if (with_vmax) vm[i] = vmi;
    }
}

static void adam_f64(int64_t n, double *restrict p, const double *restrict g,
                     double *restrict m, double *restrict v, double *restrict vm, double lr,
                     double b1, double b2, double eps, double wd, double bc1, double bc2,
                     int decoupled) {
    if (vm) adam_loop_f64(true, n, p, g, m, v, vm, lr, b1, b2, eps, wd, bc1, bc2, decoupled);
    else adam_loop_f64(false, n, p, g, m, v, vm, lr, b1, b2, eps, wd, bc1, bc2, decoupled);
}

static void adam_f32(int64_t n, float *restrict p, const float *restrict g, float *restrict m,
                     float *restrict v, float *restrict vm, float lr, float b1, float b2,
                     float eps, float wd, float bc1, float bc2, int decoupled) {
    if (vm) adam_loop_f32(true, n, p, g, m, v, vm, lr, b1, b2, eps, wd, bc1, bc2, decoupled);
    else adam_loop_f32(false, n, p, g, m, v, vm, lr, b1, b2, eps, wd, bc1, bc2, decoupled);
}

static void adam_range(int64_t lo, int64_t hi, void *arg) {
    const tg_adam_desc *d = arg;
    if (d->dtype == TG_F64)
        adam_f64(hi - lo, (double *)d->p + lo, (const double *)d->g + lo, (double *)d->m + lo,
                 (double *)d->v + lo, d->vmax ? (double *)d->vmax + lo : NULL, d->lr, d->beta1,
                 d->beta2, d->eps, d->weight_decay, d->bc1, d->bc2_sqrt, d->decoupled);
    else
        adam_f32(hi - lo, (float *)d->p + lo, (const float *)d->g + lo, (float *)d->m + lo,
                 (float *)d->v + lo, d->vmax ? (float *)d->vmax + lo : NULL, (float)d->lr,
                 (float)d->beta1, (float)d->beta2, (float)d->eps, (float)d->weight_decay,
                 (float)d->bc1, (float)d->bc2_sqrt, d->decoupled);
}

static int tg_cpu_adam_step(void *ctx, const tg_adam_desc *d) {
    tg_cpu_for_range(tg_cpu_threads(ctx), d->n, adam_range, (void *)d);
    return TG_OK;
}

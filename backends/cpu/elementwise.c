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

static inline void unary_row_f64(int kind, int64_t n, const double *x, int64_t sx, double *y, int64_t sy,
                          double a, double b) {
    switch (kind) {
    case TG_UNARY_COPY: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx]; break;
    case TG_UNARY_AFFINE: for (int64_t i = 0; i < n; i++) y[i * sy] = a * x[i * sx] + b; break;
    case TG_UNARY_POW: for (int64_t i = 0; i < n; i++) y[i * sy] = pow(x[i * sx], a); break;
    case TG_UNARY_EXP: for (int64_t i = 0; i < n; i++) y[i * sy] = exp(x[i * sx]); break;
    case TG_UNARY_LOG: for (int64_t i = 0; i < n; i++) y[i * sy] = log(x[i * sx]); break;
    case TG_UNARY_SQRT: for (int64_t i = 0; i < n; i++) y[i * sy] = sqrt(x[i * sx]); break;
    case TG_UNARY_RELU: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_relu_d(x[i * sx]); break;
    case TG_UNARY_SIGMOID: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_sigmoid_d(x[i * sx]); break;
    case TG_UNARY_TANH: for (int64_t i = 0; i < n; i++) y[i * sy] = tanh(x[i * sx]); break;
    case TG_UNARY_GT: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] > a ? 1.0 : 0.0; break;
    case TG_UNARY_ABS: for (int64_t i = 0; i < n; i++) y[i * sy] = fabs(x[i * sx]); break;
    case TG_UNARY_SIGN: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_sign_d(x[i * sx]); break;
    case TG_UNARY_CLAMP: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_clamp_d(x[i * sx], a, b); break;
    case TG_UNARY_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) y[i * sy] = tg_leaky_relu_d(x[i * sx], a);
        break;
    case TG_UNARY_ELU: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_elu_d(x[i * sx], a); break;
    case TG_UNARY_SOFTPLUS:
        for (int64_t i = 0; i < n; i++) y[i * sy] = tg_softplus_d(x[i * sx], a, b);
        break;
    case TG_UNARY_ERF: for (int64_t i = 0; i < n; i++) y[i * sy] = erf(x[i * sx]); break;
    case TG_UNARY_LT: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] < a ? 1.0 : 0.0; break;
    case TG_UNARY_GE: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] >= a ? 1.0 : 0.0; break;
    case TG_UNARY_LE: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] <= a ? 1.0 : 0.0; break;
    case TG_UNARY_EQ: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] == a ? 1.0 : 0.0; break;
    case TG_UNARY_NE: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] != a ? 1.0 : 0.0; break;
    case TG_UNARY_RDIV: for (int64_t i = 0; i < n; i++) y[i * sy] = a / x[i * sx]; break;
    default: break;
    }
}

static inline void unary_row_f32(int kind, int64_t n, const float *x, int64_t sx, float *y, int64_t sy, float a,
                          float b) {
    switch (kind) {
    case TG_UNARY_COPY: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx]; break;
    case TG_UNARY_AFFINE: for (int64_t i = 0; i < n; i++) y[i * sy] = a * x[i * sx] + b; break;
    case TG_UNARY_POW: for (int64_t i = 0; i < n; i++) y[i * sy] = powf(x[i * sx], a); break;
    case TG_UNARY_EXP: for (int64_t i = 0; i < n; i++) y[i * sy] = expf(x[i * sx]); break;
    case TG_UNARY_LOG: for (int64_t i = 0; i < n; i++) y[i * sy] = logf(x[i * sx]); break;
    case TG_UNARY_SQRT: for (int64_t i = 0; i < n; i++) y[i * sy] = sqrtf(x[i * sx]); break;
    case TG_UNARY_RELU: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_relu_f(x[i * sx]); break;
    case TG_UNARY_SIGMOID: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_sigmoid_f(x[i * sx]); break;
    case TG_UNARY_TANH: for (int64_t i = 0; i < n; i++) y[i * sy] = tanhf(x[i * sx]); break;
    case TG_UNARY_GT: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] > a ? 1.0f : 0.0f; break;
    case TG_UNARY_ABS: for (int64_t i = 0; i < n; i++) y[i * sy] = fabsf(x[i * sx]); break;
    case TG_UNARY_SIGN: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_sign_f(x[i * sx]); break;
    case TG_UNARY_CLAMP: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_clamp_f(x[i * sx], a, b); break;
    case TG_UNARY_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) y[i * sy] = tg_leaky_relu_f(x[i * sx], a);
        break;
    case TG_UNARY_ELU: for (int64_t i = 0; i < n; i++) y[i * sy] = tg_elu_f(x[i * sx], a); break;
    case TG_UNARY_SOFTPLUS:
        for (int64_t i = 0; i < n; i++) y[i * sy] = tg_softplus_f(x[i * sx], a, b);
        break;
    case TG_UNARY_ERF: for (int64_t i = 0; i < n; i++) y[i * sy] = erff(x[i * sx]); break;
    case TG_UNARY_LT: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] < a ? 1.0f : 0.0f; break;
    case TG_UNARY_GE: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] >= a ? 1.0f : 0.0f; break;
    case TG_UNARY_LE: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] <= a ? 1.0f : 0.0f; break;
    case TG_UNARY_EQ: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] == a ? 1.0f : 0.0f; break;
    case TG_UNARY_NE: for (int64_t i = 0; i < n; i++) y[i * sy] = x[i * sx] != a ? 1.0f : 0.0f; break;
    case TG_UNARY_RDIV: for (int64_t i = 0; i < n; i++) y[i * sy] = a / x[i * sx]; break;
    default: break;
    }
}

static void unary_row(void *user, const int64_t *off, int64_t n_outer, const int64_t *outer,
                      int64_t n, const int64_t *inner) {
    const job *j = user;
    // The unit-stride call lets the compiler specialise (and vectorise) the common case.
    bool unit = inner[0] == 1 && inner[1] == 1;
    if (j->y->dtype == 1) {
        for (int64_t r = 0; r < n_outer; r++) {
            const double *x = (const double *)j->x->data + off[1] + r * outer[1];
            double *y = (double *)j->y->data + off[0] + r * outer[0];
            if (unit) unary_row_f64(j->kind, n, x, 1, y, 1, j->s0, j->s1);
            else unary_row_f64(j->kind, n, x, inner[1], y, inner[0], j->s0, j->s1);
        }
    } else {
        float a = (float)j->s0, b = (float)j->s1;
        for (int64_t r = 0; r < n_outer; r++) {
            const float *x = (const float *)j->x->data + off[1] + r * outer[1];
            float *y = (float *)j->y->data + off[0] + r * outer[0];
            if (unit) unary_row_f32(j->kind, n, x, 1, y, 1, a, b);
            else unary_row_f32(j->kind, n, x, inner[1], y, inner[0], a, b);
        }
    }
}

int tg_cpu_unary(void *ctx, int kind, const tg_view *x, const tg_view *y, double a, double b) {
    (void)ctx;
    if (kind < 0 || kind >= TG_UNARY_COUNT) return -6;
    if (kind == TG_UNARY_ARANGE) {   // y contiguous; x unused
        int64_t n = 1;
        for (int i = 0; i < y->ndim; i++) n *= y->shape[i];
        for (int64_t i = 0; i < n; i++) {
            if (y->dtype == 1) ((double *)y->data)[i] = a + b * (double)i;
            else ((float *)y->data)[i] = (float)(a + b * (double)i);
        }
        return 0;
    }
    job j = {.kind = kind, .x = x, .y = y, .s0 = a, .s1 = b};
    const tg_view *v[2] = {y, x};
    tg_cpu_for_rows(2, v, unary_row, &j);
    return 0;
}

// y is contiguous (a whole tensor).
int tg_cpu_fill(void *ctx, const tg_view *y, double value) {
    (void)ctx;
    int64_t n = 1;
    for (int i = 0; i < y->ndim; i++) n *= y->shape[i];
    if (y->dtype == 1) {
        double *p = y->data;
        for (int64_t i = 0; i < n; i++) p[i] = value;
    } else {
        float *p = y->data;
        for (int64_t i = 0; i < n; i++) p[i] = (float)value;
    }
    return 0;
}

// ---- binary ----

static inline void binary_row_f64(int kind, int64_t n, const double *a, int64_t sa, const double *b,
                           int64_t sb, double *y) {
    switch (kind) {
    case TG_BINARY_ADD: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] + b[i * sb]; break;
    case TG_BINARY_SUB: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] - b[i * sb]; break;
    case TG_BINARY_MUL: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] * b[i * sb]; break;
    case TG_BINARY_DIV: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] / b[i * sb]; break;
    case TG_BINARY_MAX: for (int64_t i = 0; i < n; i++) y[i] = tg_max_d(a[i * sa], b[i * sb]); break;
    case TG_BINARY_MIN: for (int64_t i = 0; i < n; i++) y[i] = tg_min_d(a[i * sa], b[i * sb]); break;
    case TG_BINARY_GT: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] > b[i * sb] ? 1.0 : 0.0; break;
    case TG_BINARY_LT: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] < b[i * sb] ? 1.0 : 0.0; break;
    case TG_BINARY_GE: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] >= b[i * sb] ? 1.0 : 0.0; break;
    case TG_BINARY_LE: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] <= b[i * sb] ? 1.0 : 0.0; break;
    case TG_BINARY_EQ: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] == b[i * sb] ? 1.0 : 0.0; break;
    case TG_BINARY_NE: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] != b[i * sb] ? 1.0 : 0.0; break;
    case TG_BINARY_RELU_GRAD:
        for (int64_t i = 0; i < n; i++) y[i] = b[i * sb] > 0 ? a[i * sa] : 0.0;
        break;
    default: break;
    }
}

static inline void binary_row_f32(int kind, int64_t n, const float *a, int64_t sa, const float *b,
                           int64_t sb, float *y) {
    switch (kind) {
    case TG_BINARY_ADD: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] + b[i * sb]; break;
    case TG_BINARY_SUB: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] - b[i * sb]; break;
    case TG_BINARY_MUL: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] * b[i * sb]; break;
    case TG_BINARY_DIV: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] / b[i * sb]; break;
    case TG_BINARY_MAX: for (int64_t i = 0; i < n; i++) y[i] = tg_max_f(a[i * sa], b[i * sb]); break;
    case TG_BINARY_MIN: for (int64_t i = 0; i < n; i++) y[i] = tg_min_f(a[i * sa], b[i * sb]); break;
    case TG_BINARY_GT: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] > b[i * sb] ? 1.0f : 0.0f; break;
    case TG_BINARY_LT: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] < b[i * sb] ? 1.0f : 0.0f; break;
    case TG_BINARY_GE: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] >= b[i * sb] ? 1.0f : 0.0f; break;
    case TG_BINARY_LE: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] <= b[i * sb] ? 1.0f : 0.0f; break;
    case TG_BINARY_EQ: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] == b[i * sb] ? 1.0f : 0.0f; break;
    case TG_BINARY_NE: for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] != b[i * sb] ? 1.0f : 0.0f; break;
    case TG_BINARY_RELU_GRAD:
        for (int64_t i = 0; i < n; i++) y[i] = b[i * sb] > 0 ? a[i * sa] : 0.0f;
        break;
    default: break;
    }
}

static inline void binary_row1(const job *j, const int64_t *off, int64_t n, const int64_t *inner) {
    int64_t sa = inner[1], sb = inner[2];
    // Constant-stride calls let the compiler specialise (and vectorise) the common cases:
    // both contiguous, or one side broadcast along the row.
    if (j->y->dtype == 1) {
        const double *a = (const double *)j->a->data + off[1];
        const double *b = (const double *)j->b->data + off[2];
        double *y = (double *)j->y->data + off[0];
        if (sa == 1 && sb == 1) binary_row_f64(j->kind, n, a, 1, b, 1, y);
        else if (sa == 1 && sb == 0) binary_row_f64(j->kind, n, a, 1, b, 0, y);
        else if (sa == 0 && sb == 1) binary_row_f64(j->kind, n, a, 0, b, 1, y);
        else binary_row_f64(j->kind, n, a, sa, b, sb, y);
    } else {
        const float *a = (const float *)j->a->data + off[1];
        const float *b = (const float *)j->b->data + off[2];
        float *y = (float *)j->y->data + off[0];
        if (sa == 1 && sb == 1) binary_row_f32(j->kind, n, a, 1, b, 1, y);
        else if (sa == 1 && sb == 0) binary_row_f32(j->kind, n, a, 1, b, 0, y);
        else if (sa == 0 && sb == 1) binary_row_f32(j->kind, n, a, 0, b, 1, y);
        else binary_row_f32(j->kind, n, a, sa, b, sb, y);
    }
}

static void binary_row(void *user, const int64_t *off, int64_t n_outer, const int64_t *outer,
                       int64_t n, const int64_t *inner) {
    const job *j = user;
    int64_t o[3] = {off[0], off[1], off[2]};
    for (int64_t r = 0; r < n_outer; r++) {
        binary_row1(j, o, n, inner);
        for (int k = 0; k < 3; k++) o[k] += outer[k];
    }
}

int tg_cpu_binary(void *ctx, int kind, const tg_view *a, const tg_view *b, const tg_view *y) {
    (void)ctx;
    if (kind < 0 || kind >= TG_BINARY_COUNT) return -6;
    job j = {.kind = kind, .a = a, .b = b, .y = y};
    const tg_view *v[3] = {y, a, b};
    tg_cpu_for_rows(3, v, binary_row, &j);
    return 0;
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

int tg_cpu_update(void *ctx, int kind, const tg_view *y, const tg_view *a, const tg_view *b,
                  double s0, double s1, double s2) {
    (void)ctx;
    if (kind < 0 || kind >= TG_UPDATE_COUNT) return -6;
    int64_t n = 1;
    for (int i = 0; i < y->ndim; i++) n *= y->shape[i];
    const tg_view *bb = b ? b : a;   // contiguous, same shape: checked by the core
    if (y->dtype == 1)
        update_row_f64(kind, n, y->data, a->data, bb->data, s0, s1, s2);
    else
        update_row_f32(kind, n, y->data, a->data, bb->data, (float)s0, (float)s1, (float)s2);
    return 0;
}

// ---- cast ----

static void cast_row1(const job *j, const int64_t *off, int64_t n, const int64_t *inner) {
    if (j->y->dtype == 1) {
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

int tg_cpu_cast(void *ctx, const tg_view *x, const tg_view *y) {
    if (x->dtype == y->dtype) return tg_cpu_unary(ctx, TG_UNARY_COPY, x, y, 0, 0);
    job j = {.x = x, .y = y};
    const tg_view *v[2] = {y, x};
    tg_cpu_for_rows(2, v, cast_row, &j);
    return 0;
}

// ---- where: y = cond != 0 ? a : b ----

static void where_row1(const job *j, const int64_t *off, int64_t n, const int64_t *inner) {
    if (j->y->dtype == 1) {
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

int tg_cpu_where(void *ctx, const tg_view *cond, const tg_view *a, const tg_view *b,
                 const tg_view *y) {
    (void)ctx;
    job j = {.x = cond, .a = a, .b = b, .y = y};
    const tg_view *v[4] = {y, cond, a, b};
    tg_cpu_for_rows(4, v, where_row, &j);
    return 0;
}

// ---- fused Adam step ----

int tg_cpu_adam_step(void *ctx, const tg_adam_desc *d) {
    (void)ctx;
    if (d->dtype == 1) {
        double *p = d->p, *m = d->m, *v = d->v, *vm = d->vmax;
        const double *g = d->g;
        for (int64_t i = 0; i < d->n; i++)
            tg_adam_elem_d(p + i, g[i], m + i, v + i, vm ? vm + i : NULL, d->lr, d->beta1,
                           d->beta2, d->eps, d->weight_decay, d->bc1, d->bc2_sqrt, d->decoupled);
    } else {
        float *p = d->p, *m = d->m, *v = d->v, *vm = d->vmax;
        const float *g = d->g;
        float lr = (float)d->lr, b1 = (float)d->beta1, b2 = (float)d->beta2, eps = (float)d->eps;
        float wd = (float)d->weight_decay, bc1 = (float)d->bc1, bc2 = (float)d->bc2_sqrt;
        for (int64_t i = 0; i < d->n; i++)
            tg_adam_elem_f(p + i, g[i], m + i, v + i, vm ? vm + i : NULL, lr, b1, b2, eps, wd,
                           bc1, bc2, d->decoupled);
    }
    return 0;
}

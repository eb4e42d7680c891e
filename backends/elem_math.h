// Per-element math shared by every backend (host and device): activations, their
// derivatives and optimizer update formulas, and at the end the elementwise kernels' element
// functions that backend_impl.h's TG_UNARY_KINDS / TG_BINARY_KINDS lists name. C11/CUDA
// common subset: no compound literals, no VLAs, no _Generic. CPU tests of these functions
// test what the GPU runs.
#pragma once

#include <math.h>
#include <stdint.h>

#ifndef __CUDACC__
#include "backends/vmath.h"
#endif

#ifdef __CUDACC__
#define TG_HD __host__ __device__
#else
#define TG_HD
#endif

#if defined(__cplusplus)
#define TG_RESTRICT __restrict__
#else
#define TG_RESTRICT restrict
#endif

// f32 exp for elementwise kernels: the cpu's vectorising tg_vexpf (vmath.h, within 2 ulp;
// libm's expf is a call per element), CUDA's expf on the device.
static inline TG_HD float tg_exp_f(float x) {
#ifdef __CUDACC__
    return expf(x);
#else
    return tg_vexpf(x);
#endif
}

// Numerically stable logistic: never evaluates exp of a large positive number.
static inline TG_HD double tg_sigmoid_d(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static inline TG_HD float tg_sigmoid_f(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static inline TG_HD double tg_relu_d(double x) { return x > 0 ? x : 0.0; }
static inline TG_HD float tg_relu_f(float x) { return x > 0 ? x : 0.0f; }

// d relu / dx: 0 at 0 (PyTorch's subgradient).
static inline TG_HD double tg_relu_grad_d(double x) { return x > 0 ? 1.0 : 0.0; }
static inline TG_HD float tg_relu_grad_f(float x) { return x > 0 ? 1.0f : 0.0f; }

// tanh's and sigmoid's rules from their outputs y, times the incoming gradient g (torch's
// tanh_backward / sigmoid_backward).
static inline TG_HD double tg_tanh_grad_d(double g, double y) { return g * (1.0 - y * y); }
static inline TG_HD float tg_tanh_grad_f(float g, float y) { return g * (1.0f - y * y); }
static inline TG_HD double tg_sigmoid_grad_d(double g, double y) { return g * y * (1.0 - y); }
static inline TG_HD float tg_sigmoid_grad_f(float g, float y) { return g * y * (1.0f - y); }

// Adam-style step: a / (sqrt(b)*scale + eps) (scale = 1/sqrt(bias correction 2)).
static inline TG_HD double tg_adam_ratio_d(double a, double b, double scale, double eps) {
    return a / (sqrt(b) * scale + eps);
}
static inline TG_HD float tg_adam_ratio_f(float a, float b, float scale, float eps) {
    return a / (sqrtf(b) * scale + eps);
}

// Adamax's infinity norm: max(beta2*u, |g| + eps).
static inline TG_HD double tg_adamax_norm_d(double u, double g, double beta2, double eps) {
    double b = fabs(g) + eps, a = beta2 * u;
    return a > b ? a : b;
}
static inline TG_HD float tg_adamax_norm_f(float u, float g, float beta2, float eps) {
    float b = fabsf(g) + eps, a = beta2 * u;
    return a > b ? a : b;
}

// Adadelta's step: sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g (torch's order).
static inline TG_HD double tg_adadelta_step_d(double g, double acc, double sq, double eps) {
    return sqrt(acc + eps) / sqrt(sq + eps) * g;
}
static inline TG_HD float tg_adadelta_step_f(float g, float acc, float sq, float eps) {
    return sqrtf(acc + eps) / sqrtf(sq + eps) * g;
}

// softplus with PyTorch's beta and threshold: linear where beta*x > threshold; otherwise
// log1p(exp(beta*x))/beta computed without overflow.
static inline TG_HD double tg_softplus_d(double x, double beta, double threshold) {
    double z = beta * x;
    if (z > threshold) return x;
    return (fmax(z, 0.0) + log1p(exp(-fabs(z)))) / beta;
}
static inline TG_HD float tg_softplus_f(float x, float beta, float threshold) {
    float z = beta * x;
    if (z > threshold) return x;
    return (fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z)))) / beta;
}

static inline TG_HD double tg_elu_d(double x, double alpha) {
    return x > 0 ? x : alpha * expm1(x);
}
static inline TG_HD float tg_elu_f(float x, float alpha) { return x > 0 ? x : alpha * expm1f(x); }

static inline TG_HD double tg_leaky_relu_d(double x, double slope) { return x > 0 ? x : slope * x; }
static inline TG_HD float tg_leaky_relu_f(float x, float slope) { return x > 0 ? x : slope * x; }

static inline TG_HD double tg_sign_d(double x) { return (double)((x > 0) - (x < 0)); }
static inline TG_HD float tg_sign_f(float x) { return (float)((x > 0) - (x < 0)); }

// clamp: NaN propagates, as in PyTorch.
static inline TG_HD double tg_clamp_d(double x, double lo, double hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}
static inline TG_HD float tg_clamp_f(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

// maximum/minimum propagate NaN (torch.maximum semantics).
static inline TG_HD double tg_max_d(double a, double b) { return (a != a || a > b) ? a : b; }
static inline TG_HD float tg_max_f(float a, float b) { return (a != a || a > b) ? a : b; }
static inline TG_HD double tg_min_d(double a, double b) { return (a != a || a < b) ? a : b; }
static inline TG_HD float tg_min_f(float a, float b) { return (a != a || a < b) ? a : b; }

// One Adam/AdamW element update (see tg_adam_desc); the operation order is torch's.
static inline TG_HD void tg_adam_elem_d(double *p, double g, double *m, double *v, double *vmax,
                                       double lr, double b1, double b2, double eps, double wd,
                                       double bc1, double bc2_sqrt, int decoupled) {
    if (decoupled) *p *= 1.0 - lr * wd;
    else if (wd != 0) g = wd * *p + g;
    *m = (1.0 - b1) * g + b1 * *m;
    *v = b2 * *v;
    *v += (1.0 - b2) * g * g;
    double d = *v;
    if (vmax) {
        *vmax = (*vmax != *vmax || *vmax > d) ? *vmax : d;
        d = *vmax;
    }
    *p += (-lr / bc1) * tg_adam_ratio_d(*m, d, 1.0 / bc2_sqrt, eps);
}
static inline TG_HD void tg_adam_elem_f(float *p, float g, float *m, float *v, float *vmax,
                                       float lr, float b1, float b2, float eps, float wd,
                                       float bc1, float bc2_sqrt, int decoupled) {
    if (decoupled) *p *= 1.0f - lr * wd;
    else if (wd != 0) g = wd * *p + g;
    *m = (1.0f - b1) * g + b1 * *m;
    *v = b2 * *v;
    *v += (1.0f - b2) * g * g;
    float d = *v;
    if (vmax) {
        *vmax = (*vmax != *vmax || *vmax > d) ? *vmax : d;
        d = *vmax;
    }
    *p += (-lr / bc1) * tg_adam_ratio_f(*m, d, 1.0f / bc2_sqrt, eps);
}

// GELU, tanh form: 0.5 x (1 + tanh(u)) = x * sigmoid(2u) = x / (1 + e), e = exp(-2u),
// u = sqrt(2/pi) (x + 0.044715 x^3). Each backend supplies e with its own exp (the cpu's
// vectorising one for f32), so the formulas below stay one: tg_gelu_tanh_2u gives 2u,
// tg_gelu_tanh_from the value and tg_gelu_tanh_grad_from g * d/dx, with s = 1/(1 + e):
//   d/dx = s + x s (1 - s) 2u',   2u' = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2).
// e = inf (x far below 0) gives y = -0 and gradient 0; e = 0 gives y = x and gradient g.
static inline TG_HD double tg_gelu_tanh_2u_d(double x) {
    return 1.5957691216057308 * (x + 0.044715 * x * x * x);
}
static inline TG_HD float tg_gelu_tanh_2u_f(float x) {
    return 1.5957691216057308f * (x + 0.044715f * x * x * x);
}
static inline TG_HD double tg_gelu_tanh_from_d(double x, double e) { return x / (1.0 + e); }
static inline TG_HD float tg_gelu_tanh_from_f(float x, float e) { return x / (1.0f + e); }
static inline TG_HD double tg_gelu_tanh_grad_from_d(double g, double x, double e) {
    double s = 1.0 / (1.0 + e);
    return g * (s + x * s * (1.0 - s) * 1.5957691216057308 * (1.0 + 0.134145 * x * x));
}
static inline TG_HD float tg_gelu_tanh_grad_from_f(float g, float x, float e) {
    float s = 1.0f / (1.0f + e);
    return g * (s + x * s * (1.0f - s) * 1.5957691216057308f * (1.0f + 0.134145f * x * x));
}

// Counter-based uniform in [0, 1) for dropout masks that the backward pass regenerates
// instead of storing: splitmix64's finaliser over seed + (i + 1) * golden ratio, top 53
// bits. Integer arithmetic only, so every backend draws the same mask.
static inline TG_HD double tg_dropout_u(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

// SiLU (swish): y = x * s, s = sigmoid(x) = 1 / (1 + e), e = exp(-x). Written as x / (1 + e)
// without a branch so that cpu loops vectorise: e overflows to inf for x far below 0 and
// gives -0 (x finite), e = 0 far above 0 gives x. Its derivative times g:
//   g * silu'(x) = g * s * (1 + x * (1 - s)),  1 - s = e * s for x > 0 (no cancellation),
// 1 - s directly for x <= 0 (s <= 1/2; e * s would be inf * 0 where e overflowed).
static inline TG_HD double tg_silu_d(double x) { return x / (1.0 + exp(-x)); }
static inline TG_HD float tg_silu_f(float x) { return x / (1.0f + tg_exp_f(-x)); }
static inline TG_HD double tg_silu_grad_d(double g, double x) {
    double e = exp(-x), s = 1.0 / (1.0 + e);
    double oms = x > 0 ? e * s : 1.0 - s;
    return g * (s * (1.0 + x * oms));
}
static inline TG_HD float tg_silu_grad_f(float g, float x) {
    float e = tg_exp_f(-x), s = 1.0f / (1.0f + e);
    float oms = x > 0 ? e * s : 1.0f - s;
    return g * (s * (1.0f + x * oms));
}

// ---- element functions of the elementwise kernel kinds ----
// One per kind of backend_impl.h's TG_UNARY_KINDS (T f(T x, T a, T b)) and TG_BINARY_KINDS
// (T f(T a, T b)), in f32 and f64: the cpu's row loops and the cuda kernels both call them
// through the lists. f32 work stays in float (the cpu's f32 loops vectorise in float).

static inline TG_HD float tg_unary_copy_f(float x, float a, float b) {
    return (void)a, (void)b, x;
}
static inline TG_HD double tg_unary_copy_d(double x, double a, double b) {
    return (void)a, (void)b, x;
}
static inline TG_HD float tg_unary_affine_f(float x, float a, float b) { return a * x + b; }
static inline TG_HD double tg_unary_affine_d(double x, double a, double b) { return a * x + b; }
static inline TG_HD float tg_unary_pow_f(float x, float a, float b) { return (void)b, powf(x, a); }
static inline TG_HD double tg_unary_pow_d(double x, double a, double b) {
    return (void)b, pow(x, a);
}
static inline TG_HD float tg_unary_exp_f(float x, float a, float b) {
    return (void)a, (void)b, tg_exp_f(x);
}
static inline TG_HD double tg_unary_exp_d(double x, double a, double b) {
    return (void)a, (void)b, exp(x);
}
static inline TG_HD float tg_unary_log_f(float x, float a, float b) {
    return (void)a, (void)b, logf(x);
}
static inline TG_HD double tg_unary_log_d(double x, double a, double b) {
    return (void)a, (void)b, log(x);
}
static inline TG_HD float tg_unary_sqrt_f(float x, float a, float b) {
    return (void)a, (void)b, sqrtf(x);
}
static inline TG_HD double tg_unary_sqrt_d(double x, double a, double b) {
    return (void)a, (void)b, sqrt(x);
}
static inline TG_HD float tg_unary_relu_f(float x, float a, float b) {
    return (void)a, (void)b, tg_relu_f(x);
}
static inline TG_HD double tg_unary_relu_d(double x, double a, double b) {
    return (void)a, (void)b, tg_relu_d(x);
}
static inline TG_HD float tg_unary_sigmoid_f(float x, float a, float b) {
    return (void)a, (void)b, tg_sigmoid_f(x);
}
static inline TG_HD double tg_unary_sigmoid_d(double x, double a, double b) {
    return (void)a, (void)b, tg_sigmoid_d(x);
}
static inline TG_HD float tg_unary_tanh_f(float x, float a, float b) {
    return (void)a, (void)b, tanhf(x);
}
static inline TG_HD double tg_unary_tanh_d(double x, double a, double b) {
    return (void)a, (void)b, tanh(x);
}
static inline TG_HD float tg_unary_gt_f(float x, float a, float b) {
    return (void)b, x > a ? 1.0f : 0.0f;
}
static inline TG_HD double tg_unary_gt_d(double x, double a, double b) {
    return (void)b, x > a ? 1.0 : 0.0;
}
static inline TG_HD float tg_unary_rdiv_f(float x, float a, float b) { return (void)b, a / x; }
static inline TG_HD double tg_unary_rdiv_d(double x, double a, double b) { return (void)b, a / x; }
static inline TG_HD float tg_unary_abs_f(float x, float a, float b) {
    return (void)a, (void)b, fabsf(x);
}
static inline TG_HD double tg_unary_abs_d(double x, double a, double b) {
    return (void)a, (void)b, fabs(x);
}
static inline TG_HD float tg_unary_sign_f(float x, float a, float b) {
    return (void)a, (void)b, tg_sign_f(x);
}
static inline TG_HD double tg_unary_sign_d(double x, double a, double b) {
    return (void)a, (void)b, tg_sign_d(x);
}
static inline TG_HD float tg_unary_clamp_f(float x, float a, float b) { return tg_clamp_f(x, a, b); }
static inline TG_HD double tg_unary_clamp_d(double x, double a, double b) {
    return tg_clamp_d(x, a, b);
}
static inline TG_HD float tg_unary_leaky_relu_f(float x, float a, float b) {
    return (void)b, tg_leaky_relu_f(x, a);
}
static inline TG_HD double tg_unary_leaky_relu_d(double x, double a, double b) {
    return (void)b, tg_leaky_relu_d(x, a);
}
static inline TG_HD float tg_unary_elu_f(float x, float a, float b) {
    return (void)b, tg_elu_f(x, a);
}
static inline TG_HD double tg_unary_elu_d(double x, double a, double b) {
    return (void)b, tg_elu_d(x, a);
}
static inline TG_HD float tg_unary_softplus_f(float x, float a, float b) {
    return tg_softplus_f(x, a, b);
}
static inline TG_HD double tg_unary_softplus_d(double x, double a, double b) {
    return tg_softplus_d(x, a, b);
}
static inline TG_HD float tg_unary_erf_f(float x, float a, float b) {
    return (void)a, (void)b, erff(x);
}
static inline TG_HD double tg_unary_erf_d(double x, double a, double b) {
    return (void)a, (void)b, erf(x);
}
static inline TG_HD float tg_unary_lt_f(float x, float a, float b) {
    return (void)b, x < a ? 1.0f : 0.0f;
}
static inline TG_HD double tg_unary_lt_d(double x, double a, double b) {
    return (void)b, x < a ? 1.0 : 0.0;
}
static inline TG_HD float tg_unary_ge_f(float x, float a, float b) {
    return (void)b, x >= a ? 1.0f : 0.0f;
}
static inline TG_HD double tg_unary_ge_d(double x, double a, double b) {
    return (void)b, x >= a ? 1.0 : 0.0;
}
static inline TG_HD float tg_unary_le_f(float x, float a, float b) {
    return (void)b, x <= a ? 1.0f : 0.0f;
}
static inline TG_HD double tg_unary_le_d(double x, double a, double b) {
    return (void)b, x <= a ? 1.0 : 0.0;
}
static inline TG_HD float tg_unary_eq_f(float x, float a, float b) {
    return (void)b, x == a ? 1.0f : 0.0f;
}
static inline TG_HD double tg_unary_eq_d(double x, double a, double b) {
    return (void)b, x == a ? 1.0 : 0.0;
}
static inline TG_HD float tg_unary_ne_f(float x, float a, float b) {
    return (void)b, x != a ? 1.0f : 0.0f;
}
static inline TG_HD double tg_unary_ne_d(double x, double a, double b) {
    return (void)b, x != a ? 1.0 : 0.0;
}
static inline TG_HD float tg_unary_gelu_tanh_f(float x, float a, float b) {
    return (void)a, (void)b, tg_gelu_tanh_from_f(x, tg_exp_f(-tg_gelu_tanh_2u_f(x)));
}
static inline TG_HD double tg_unary_gelu_tanh_d(double x, double a, double b) {
    return (void)a, (void)b, tg_gelu_tanh_from_d(x, exp(-tg_gelu_tanh_2u_d(x)));
}
static inline TG_HD float tg_unary_silu_f(float x, float a, float b) {
    return (void)a, (void)b, tg_silu_f(x);
}
static inline TG_HD double tg_unary_silu_d(double x, double a, double b) {
    return (void)a, (void)b, tg_silu_d(x);
}

static inline TG_HD float tg_binary_add_f(float a, float b) { return a + b; }
static inline TG_HD double tg_binary_add_d(double a, double b) { return a + b; }
static inline TG_HD float tg_binary_sub_f(float a, float b) { return a - b; }
static inline TG_HD double tg_binary_sub_d(double a, double b) { return a - b; }
static inline TG_HD float tg_binary_mul_f(float a, float b) { return a * b; }
static inline TG_HD double tg_binary_mul_d(double a, double b) { return a * b; }
static inline TG_HD float tg_binary_div_f(float a, float b) { return a / b; }
static inline TG_HD double tg_binary_div_d(double a, double b) { return a / b; }
static inline TG_HD float tg_binary_max_f(float a, float b) { return tg_max_f(a, b); }
static inline TG_HD double tg_binary_max_d(double a, double b) { return tg_max_d(a, b); }
static inline TG_HD float tg_binary_min_f(float a, float b) { return tg_min_f(a, b); }
static inline TG_HD double tg_binary_min_d(double a, double b) { return tg_min_d(a, b); }
static inline TG_HD float tg_binary_gt_f(float a, float b) { return a > b ? 1.0f : 0.0f; }
static inline TG_HD double tg_binary_gt_d(double a, double b) { return a > b ? 1.0 : 0.0; }
static inline TG_HD float tg_binary_lt_f(float a, float b) { return a < b ? 1.0f : 0.0f; }
static inline TG_HD double tg_binary_lt_d(double a, double b) { return a < b ? 1.0 : 0.0; }
static inline TG_HD float tg_binary_ge_f(float a, float b) { return a >= b ? 1.0f : 0.0f; }
static inline TG_HD double tg_binary_ge_d(double a, double b) { return a >= b ? 1.0 : 0.0; }
static inline TG_HD float tg_binary_le_f(float a, float b) { return a <= b ? 1.0f : 0.0f; }
static inline TG_HD double tg_binary_le_d(double a, double b) { return a <= b ? 1.0 : 0.0; }
static inline TG_HD float tg_binary_eq_f(float a, float b) { return a == b ? 1.0f : 0.0f; }
static inline TG_HD double tg_binary_eq_d(double a, double b) { return a == b ? 1.0 : 0.0; }
static inline TG_HD float tg_binary_ne_f(float a, float b) { return a != b ? 1.0f : 0.0f; }
static inline TG_HD double tg_binary_ne_d(double a, double b) { return a != b ? 1.0 : 0.0; }
// a loaded unconditionally, so the select vectorises (no branch per element)
static inline TG_HD float tg_binary_relu_grad_f(float a, float b) { return b > 0 ? a : 0.0f; }
static inline TG_HD double tg_binary_relu_grad_d(double a, double b) { return b > 0 ? a : 0.0; }
static inline TG_HD float tg_binary_tanh_grad_f(float a, float b) { return tg_tanh_grad_f(a, b); }
static inline TG_HD double tg_binary_tanh_grad_d(double a, double b) {
    return tg_tanh_grad_d(a, b);
}
static inline TG_HD float tg_binary_sigmoid_grad_f(float a, float b) {
    return tg_sigmoid_grad_f(a, b);
}
static inline TG_HD double tg_binary_sigmoid_grad_d(double a, double b) {
    return tg_sigmoid_grad_d(a, b);
}
static inline TG_HD float tg_binary_gelu_tanh_grad_f(float a, float b) {
    return tg_gelu_tanh_grad_from_f(a, b, tg_exp_f(-tg_gelu_tanh_2u_f(b)));
}
static inline TG_HD double tg_binary_gelu_tanh_grad_d(double a, double b) {
    return tg_gelu_tanh_grad_from_d(a, b, exp(-tg_gelu_tanh_2u_d(b)));
}
static inline TG_HD float tg_binary_silu_grad_f(float a, float b) { return tg_silu_grad_f(a, b); }
static inline TG_HD double tg_binary_silu_grad_d(double a, double b) {
    return tg_silu_grad_d(a, b);
}

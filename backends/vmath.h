// Branch-free float exp and log for cpu kernel loops: written with selects and integer
// exponent arithmetic so that loops calling them vectorise (libm's expf and logf are a call
// per element). tg_vexpf: Cephes' range reduction and degree-6 polynomial, within 2 ulp of
// the exact value for finite x (checked against double exp over a sweep in tests/ops), 0
// below -87.3, inf above 88.72, NaN propagates. tg_vlogf: below.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

// exp(xc) / 2^n for a clamped xc, with n = round(xc / ln 2) in *n (shared by both exps):
// the 1.5*2^23 trick rounds without a call, r = xc - n ln 2, Cephes' polynomial in r.
static inline float tg_vexpf_reduced(float xc, float *n) {
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float k = t - 12582912.0f;
    float r = xc - k * 0.693359375f - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    *n = k;
    return p * r * r + r + 1.0f;
}

// 2^n for an integral n in [-126, 127], from its float bits.
static inline float tg_vexp2i(float n) {
    uint32_t e = (uint32_t)((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return s;
}

static inline float tg_vexpf(float x) {
    // clamp so that n below stays in [-126, 128]; NaN compares false and lands on -87.33
    // (the result is replaced by x at the end), so the int conversion is always defined
    float xc = x > -87.33f ? x : -87.33f;
    xc = xc < 88.72f ? xc : 88.72f;
    float n, y = tg_vexpf_reduced(xc, &n);
    // n reaches 128 just below ln(FLT_MAX), so 2^127 * 2 there
    y *= tg_vexp2i(n > 127.0f ? 127.0f : n);
    y *= n > 127.0f ? 2.0f : 1.0f;
    y = x < -87.33f ? 0.0f : y;
    y = x > 88.72f ? (float)INFINITY : y;
    return x != x ? x : y;
}

// tg_vexpf for x <= 0 (NaN and -inf included): a row's entries shifted by its finite max,
// as softmax and cross-entropy use it. Without the overflow end, 2 of tg_vexpf's 7 selects
// remain; the same reduction and polynomial, so the same values. x > 0 is outside its domain.
static inline float tg_vexpf_nonpos(float x) {
    float xc = x > -87.33f ? x : -87.33f;   // NaN lands on -87.33 (replaced at the end)
    float n, y = tg_vexpf_reduced(xc, &n);
    y *= tg_vexp2i(n);   // n in [-126, 0]
    y = x < -87.33f ? 0.0f : y;
    return x != x ? x : y;
}

// log x = e ln 2 + log(1 + f) with x = 2^e (1 + f), 1 + f in [sqrt(1/2), sqrt(2)), and
// Cephes' degree-9 polynomial for log(1 + f); subnormals are scaled by 2^23 first. Within 1
// ulp of the exact value for every positive float (0.82 worst over the sweep in tests/ops);
// log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN propagates.
static inline float tg_vlogf(float x) {
    const float tiny = 1.17549435e-38f;   // FLT_MIN
    float xs = x < tiny ? x * 8388608.0f : x;
    float e = x < tiny ? -23.0f : 0.0f;
    uint32_t u;
    memcpy(&u, &xs, sizeof u);
    e += (float)((int32_t)((u >> 23) & 0xff) - 126);
    u = (u & 0x007fffffu) | 0x3f000000u;   // the mantissa as a float in [0.5, 1)
    float f;
    memcpy(&f, &u, sizeof f);
    float lo = f < 0.707106781186547524f ? 1.0f : 0.0f;
    e -= lo;
    f = f + lo * f - 1.0f;   // 2f - 1 below sqrt(1/2), else f - 1
    float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float y = p * f * z - 2.12194440e-4f * e - 0.5f * z;
    float r = (f + y) + 0.693359375f * e;
    r = x == 0 ? -(float)INFINITY : r;
    r = x < 0 ? (float)NAN : r;
    r = x == (float)INFINITY ? x : r;
    return x != x ? x : r;
}

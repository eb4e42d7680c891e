// Branch-free float exp for cpu kernel loops: written with selects and integer exponent
// arithmetic so that loops calling it vectorise (libm's expf is a call per element). Cephes'
// range reduction and degree-6 polynomial: within 2 ulp of the exact value for finite x
// (checked against libm over a sweep in tests/ops), 0 below -87.3, inf above 88.72, NaN
// propagates.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float tg_vexpf(float x) {
    // clamp so that n below stays in [-126, 128]; NaN compares false and lands on -87.33
    // (the result is replaced by x at the end), so the int conversion is always defined
    float xc = x > -87.33f ? x : -87.33f;
    xc = xc < 88.72f ? xc : 88.72f;
    // n = round(x / ln 2) with the 1.5*2^23 trick (no rounding call), r = x - n ln 2
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    // 2^n from its float bits; n reaches 128 just below ln(FLT_MAX), so 2^127 * 2 there
    float n1 = n > 127.0f ? 127.0f : n;
    uint32_t e = (uint32_t)((int32_t)n1 + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    y *= s;
    y *= n > 127.0f ? 2.0f : 1.0f;
    y = x < -87.33f ? 0.0f : y;
    y = x > 88.72f ? (float)INFINITY : y;
    return x != x ? x : y;
}

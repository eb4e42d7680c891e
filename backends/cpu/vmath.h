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
    float xc = x < -87.33f ? -87.33f : (x > 88.72f ? 88.72f : x);
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
    int32_t e = ((int32_t)n1 + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    y *= s;
    y *= n > 127.0f ? 2.0f : 1.0f;
    y = x < -87.33f ? 0.0f : y;
    y = x > 88.72f ? (float)INFINITY : y;
    return x != x ? x : y;
}

// Max of a float row (NaNs skipped, as `z > m ? z : m` does; -inf for n = 0), with eight
// independent lanes so the loop vectorises instead of waiting on one compare chain.
static inline float tg_vmaxf_row(const float *z, int64_t n) {
    float m8[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                   -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++) m8[j] = z[k + j] > m8[j] ? z[k + j] : m8[j];
    float m = -INFINITY;
    for (int j = 0; j < 8; j++) m = m8[j] > m ? m8[j] : m;
    for (; k < n; k++) m = z[k] > m ? z[k] : m;
    return m;
}

// Sum of a float row in double, four independent accumulators (vectorises; the order of
// additions differs from a sequential sum only in double-precision rounding).
static inline double tg_vsum_row_d(const float *e, int64_t n) {
    double s4[4] = {0, 0, 0, 0};
    int64_t k = 0;
    for (; k + 4 <= n; k += 4)
        for (int j = 0; j < 4; j++) s4[j] += e[k + j];
    double s = (s4[0] + s4[1]) + (s4[2] + s4[3]);
    for (; k < n; k++) s += e[k];
    return s;
}

// Synthetic data sets reproduced exactly: make_moons as sklearn 1.2.1 / numpy's legacy
// RandomState compute it (MT19937, Fisher–Yates shuffle with masked rejection sampling,
// Marsaglia polar normals). See ../shared/data/MOONS.md for the algorithm's statement.
#include <math.h>
#include <stdlib.h>

#include "nn/datasets.h"

// ---- MT19937 (numpy's RandomState) ----

typedef struct {
    uint32_t mt[624];
    int i;
    bool has_gauss;
    double gauss;
} mt19937;

static void mt_seed(mt19937 *r, uint32_t seed) {
    r->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->i = 624;
    r->has_gauss = false;
}

static uint32_t mt_next(mt19937 *r) {
    if (r->i >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[(k + 1) % 624] & 0x7fffffffu);
            r->mt[k] = r->mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        r->i = 0;
    }
    uint32_t y = r->mt[r->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

static double mt_double(mt19937 *r) {
    uint32_t a = mt_next(r) >> 5, b = mt_next(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

// numpy's legacy_gauss: returns f*x2 and caches f*x1.
static double mt_gauss(mt19937 *r) {
    if (r->has_gauss) {
        r->has_gauss = false;
        return r->gauss;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * mt_double(r) - 1.0;
        x2 = 2.0 * mt_double(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    r->gauss = f * x1;
    r->has_gauss = true;
    return f * x2;
}

// numpy's random_interval: uniform integer in [0, max] by masked rejection.
static uint32_t mt_interval(mt19937 *r, uint32_t max) {
    if (max == 0) return 0;
    uint32_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    uint32_t v;
    while ((v = (mt_next(r) & mask)) > max) {
    }
    return v;
}

// sklearn's shuffle draws 32-bit indices: n is at most 2^31 (and its buffers then fit).
#define MOONS_MAX_N (INT64_C(1) << 31)

int tg_make_moons_host(int64_t n, double noise, uint32_t seed, double *x, double *y) {
    if (n < 2 || n > MOONS_MAX_N || !x || !y || !(noise >= 0))
        return tg_set_error(TG_ERR_INVALID_ARG, "tg_make_moons",
                            "need 2 <= n <= 2^31 (got %lld) and noise >= 0", (long long)n);
    const double pi = 3.14159265358979323846;
    int64_t n_out = n / 2, n_in = n - n_out;
    double *bx = tg_mem_alloc((size_t)n * 2 * sizeof *bx);
    int64_t *idx = tg_mem_alloc((size_t)n * sizeof *idx);
    mt19937 *r = tg_mem_alloc(sizeof *r);
    if (!bx || !idx || !r) {
        tg_mem_free(bx);
        tg_mem_free(idx);
        tg_mem_free(r);
        return tg_set_error(TG_ERR_OOM, "tg_make_moons", "out of memory for %lld samples",
                            (long long)n);
    }
    for (int64_t i = 0; i < n_out; i++) {   // numpy linspace: i * step, last exactly pi
        double t = i == n_out - 1 ? pi : (double)i * (pi / (double)(n_out - 1)) + 0.0;
        bx[2 * i] = cos(t);
        bx[2 * i + 1] = sin(t);
    }
    for (int64_t i = 0; i < n_in; i++) {
        double t = i == n_in - 1 ? pi : (double)i * (pi / (double)(n_in - 1)) + 0.0;
        bx[2 * (n_out + i)] = 1.0 - cos(t);
        bx[2 * (n_out + i) + 1] = (1.0 - sin(t)) - 0.5;
    }
    mt_seed(r, seed);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)mt_interval(r, (uint32_t)i), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = bx[2 * idx[i]];
        x[2 * i + 1] = bx[2 * idx[i] + 1];
        y[i] = idx[i] < n_out ? 0.0 : 1.0;
    }
    for (int64_t i = 0; i < 2 * n; i++) x[i] += 0.0 + noise * mt_gauss(r);
    tg_mem_free(bx);
    tg_mem_free(idx);
    tg_mem_free(r);
    return TG_OK;
}

int tg_make_moons(int64_t n, double noise, uint32_t seed, tg_backend *be, tg_dtype dtype,
                  tg_tensor **x, tg_tensor **y) {
    if (!x || !y) return tg_set_error(TG_ERR_INVALID_ARG, "tg_make_moons", "x or y is NULL");
    *x = *y = NULL;
    if (n < 2 || n > MOONS_MAX_N)
        return tg_set_error(TG_ERR_INVALID_ARG, "tg_make_moons", "need 2 <= n <= 2^31, got %lld",
                            (long long)n);
    if (dtype != TG_F32 && dtype != TG_F64)
        return tg_set_error(TG_ERR_DTYPE, "tg_make_moons", "dtype %d is not f32 or f64",
                            (int)dtype);
    unsigned mark = tg_error_mark();
    double *hx = tg_mem_alloc((size_t)n * 2 * sizeof *hx);
    double *hy = tg_mem_alloc((size_t)n * sizeof *hy);
    int st = (hx && hy) ? tg_make_moons_host(n, noise, seed, hx, hy)
                        : tg_set_error(TG_ERR_OOM, "tg_make_moons", "out of memory");
    if (!st && dtype == TG_F32) {   // narrow in place: the f32 array fits in the f64 one
        float *fx = (float *)hx, *fy = (float *)hy;
        for (int64_t i = 0; i < 2 * n; i++) fx[i] = (float)hx[i];
        for (int64_t i = 0; i < n; i++) fy[i] = (float)hy[i];
    }
    if (!st) {
        *x = tg_tensor_from(be, dtype, 2, (int64_t[]){n, 2}, hx);
        *y = tg_tensor_from(be, dtype, 1, &n, hy);
        if (!*x || !*y) {
            tg_free(*x);
            tg_free(*y);
            *x = *y = NULL;
            st = tg_error_context(mark, "tg_make_moons");
        }
    }
    tg_mem_free(hx);
    tg_mem_free(hy);
    return st;
}

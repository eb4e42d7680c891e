// Seeded random streams: xoshiro256** seeded through splitmix64. No global RNG: every
// random call takes a tg_rng. Values are drawn on the host, in order, then uploaded, so a
// seed gives the same numbers on every backend.
#include <math.h>
#include <string.h>

#include "core/internal.h"

struct tg_rng {
    uint64_t s[4];
    bool has_spare;
    double spare;
};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(tg_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

tg_rng *tg_rng_new(uint64_t seed) {
    tg_rng *r = tg__calloc(1, sizeof *r);
    if (!r) {
        tg__fail(TG_ERR_OOM, "tg_rng_new", "out of memory");
        return NULL;
    }
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
    return r;
}

void tg_rng_free(tg_rng *rng) { tg__free(rng); }

double tg_rng_uniform(tg_rng *rng) {
    if (!rng) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_rng_uniform", "rng is NULL");
        return NAN;
    }
    return (double)(next_u64(rng) >> 11) * 0x1.0p-53;
}

// Marsaglia's polar method; the second value is kept for the next call.
double tg_rng_normal(tg_rng *rng) {
    if (!rng) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_rng_normal", "rng is NULL");
        return NAN;
    }
    if (rng->has_spare) {
        rng->has_spare = false;
        return rng->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * tg_rng_uniform(rng) - 1.0;
        v = 2.0 * tg_rng_uniform(rng) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    rng->spare = v * f;
    rng->has_spare = true;
    return u * f;
}

int tg_rng_get_state(const tg_rng *rng, uint64_t out[TG_RNG_STATE_WORDS]) {
    if (!rng || !out) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_rng_get_state", "%s is NULL", rng ? "out" : "rng");
        return TG_ERR_INVALID_ARG;
    }
    memcpy(out, rng->s, sizeof rng->s);
    out[4] = rng->has_spare;
    out[5] = 0;
    if (rng->has_spare) memcpy(&out[5], &rng->spare, sizeof rng->spare);
    return TG_OK;
}

int tg_rng_set_state(tg_rng *rng, const uint64_t state[TG_RNG_STATE_WORDS]) {
    const char *fn = "tg_rng_set_state";
    if (!rng || !state) {
        tg__fail(TG_ERR_INVALID_ARG, fn, "%s is NULL", rng ? "state" : "rng");
        return TG_ERR_INVALID_ARG;
    }
    double spare;
    memcpy(&spare, &state[5], sizeof spare);
    const char *bad = NULL;
    if (!(state[0] | state[1] | state[2] | state[3]))
        bad = "the xoshiro256** words are all zero (a stream of zeros)";
    else if (state[4] > 1)
        bad = "the spare flag (word 4) is not 0 or 1";
    else if (state[4] && !isfinite(spare))
        bad = "the cached spare normal is not finite";
    else if (!state[4] && state[5])
        bad = "spare bits (word 5) without a spare";
    if (bad) {
        tg__fail(TG_ERR_INVALID_ARG, fn, "not a tg_rng state: %s", bad);
        return TG_ERR_INVALID_ARG;
    }
    memcpy(rng->s, state, sizeof rng->s);
    rng->has_spare = state[4] == 1;
    rng->spare = rng->has_spare ? spare : 0.0;
    return TG_OK;
}

static int fill_random(tg_tensor *y, tg_rng *rng, double p0, double p1, bool normal,
                       const char *where) {
    if (!y || !rng) {
        tg__fail(TG_ERR_INVALID_ARG, where, "%s is NULL", y ? "rng" : "tensor");
        return TG_ERR_INVALID_ARG;
    }
    int st0 = tg__check_live(y, where);
    if (st0) return st0;
    if (y->is_step && y->node >= 0) {
        tg__fail(TG_ERR_STATE, where, "cannot overwrite a tensor recorded in the graph");
        return TG_ERR_STATE;
    }
    if (!y->numel) return TG_OK;
    tg__bump_version(y);
    void *host = y->be == tg_backend_get("cpu") ? y->data : tg__malloc(y->nbytes);
    if (!host) {
        tg__fail(TG_ERR_OOM, where, "out of memory");
        return TG_ERR_OOM;
    }
    for (int64_t i = 0; i < y->numel; i++) {
        double v = normal ? p0 + p1 * tg_rng_normal(rng) : p0 + (p1 - p0) * tg_rng_uniform(rng);
        if (y->dtype == TG_F32) {
            float f = (float)v;
            // rounding to f32 may reach hi itself; keep the interval half-open
            if (!normal && p1 > p0 && f >= (float)p1) f = nextafterf((float)p1, (float)p0);
            ((float *)host)[i] = f;
        }
        else ((double *)host)[i] = v;
    }
    int st = TG_OK;
    if (host != y->data) {
        st = tg__be_upload(y->be, y->data, host, y->nbytes);
        tg__free(host);
    }
    return st;
}

int tg_uniform_(tg_tensor *y, tg_rng *rng, double lo, double hi) {
    if (!(isfinite(lo) && isfinite(hi) && lo <= hi)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_uniform_", "need finite lo <= hi, got [%g, %g)", lo, hi);
        return TG_ERR_INVALID_ARG;
    }
    return fill_random(y, rng, lo, hi, false, "tg_uniform_");
}

int tg_normal_(tg_tensor *y, tg_rng *rng, double mean, double std) {
    if (!(isfinite(mean) && isfinite(std) && std >= 0)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_normal_", "need a finite mean and std >= 0, got %g, %g",
                 mean, std);
        return TG_ERR_INVALID_ARG;
    }
    return fill_random(y, rng, mean, std, true, "tg_normal_");
}

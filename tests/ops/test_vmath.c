// backends/vmath.h: the vectorising expf and logf used by the cpu cross-entropy and
// elementwise kernels, against double-precision exp and log over dense sweeps of their
// ranges, and their special values.
#include <float.h>

#include "backends/vmath.h"
#include "test_util.h"

TestSuite(cpu_vmath);

Test(cpu_vmath, vexpf_within_2_ulp) {
    double worst = 0;
    float at = 0;
    for (float x = -87.3f; x < 88.72f;
         x = nextafterf(x, 100) + (fabsf(x) > 1e-3f ? fabsf(x) * 3e-6f : 1e-9f)) {
        double ref = exp((double)x);
        float ulp = nextafterf((float)ref, INFINITY) - (float)ref;
        double err = fabs((double)tg_vexpf(x) - ref) / ulp;
        if (err > worst) worst = err, at = x;
    }
    cr_expect_leq(worst, 2.0, "worst error %.3f ulp at x = %.9g", worst, (double)at);
}

Test(cpu_vmath, vexpf_special_values) {
    cr_expect_eq(tg_vexpf(0.0f), 1.0f);
    cr_expect_eq(tg_vexpf(-INFINITY), 0.0f);
    cr_expect_eq(tg_vexpf(-200.0f), 0.0f);
    cr_expect(isinf(tg_vexpf(INFINITY)) && tg_vexpf(INFINITY) > 0);
    cr_expect(isinf(tg_vexpf(100.0f)));
    cr_expect(isnan(tg_vexpf(NAN)));
    float big = tg_vexpf(88.7f);   // just below ln(FLT_MAX): finite
    cr_expect(isfinite(big) && big > 3.3e38f, "exp(88.7) = %g", (double)big);
    cr_expect(tg_vexpf(-87.0f) >= FLT_MIN);
}

// every positive float from the smallest subnormal up, stepping a few ulp at a time
Test(cpu_vmath, vlogf_within_1_ulp) {
    double worst = 0;
    float at = 0;
    for (float x = 1e-45f; x < FLT_MAX;
         x = nextafterf(x, INFINITY) + (x > 1e-30f ? x * 3e-6f : 0)) {
        double ref = log((double)x);
        float rf = (float)ref;
        float ulp = nextafterf(fabsf(rf), INFINITY) - fabsf(rf);
        double err = fabs((double)tg_vlogf(x) - ref) / ulp;
        if (err > worst) worst = err, at = x;
        if (x < 1e-30f) x *= 1.001f;   // subnormal and tiny range: geometric steps
    }
    cr_expect_leq(worst, 1.0, "worst error %.3f ulp at x = %.9g", worst, (double)at);
}

Test(cpu_vmath, vlogf_special_values) {
    cr_expect_eq(tg_vlogf(1.0f), 0.0f);
    cr_expect(isinf(tg_vlogf(0.0f)) && tg_vlogf(0.0f) < 0);
    cr_expect(isinf(tg_vlogf(-0.0f)) && tg_vlogf(-0.0f) < 0);
    cr_expect(isnan(tg_vlogf(-1.0f)));
    cr_expect(isnan(tg_vlogf(-INFINITY)));
    cr_expect(isinf(tg_vlogf(INFINITY)) && tg_vlogf(INFINITY) > 0);
    cr_expect(isnan(tg_vlogf(NAN)));
    cr_expect_float_eq(tg_vlogf(FLT_MAX), 88.7228391f, 1e-6f);
    cr_expect_float_eq(tg_vlogf(1e-45f), -103.278929f, 1e-5f);
}

// The x <= 0 variant gives tg_vexpf's values on its whole domain.
Test(cpu_vmath, vexpf_nonpos_matches_vexpf) {
    int64_t differ = 0;
    float at = 0;
    for (float x = -100.0f; x <= 0; x = nextafterf(x, 1) + fabsf(x) * 1e-6f) {
        float a = tg_vexpf_nonpos(x), b = tg_vexpf(x);
        if (a != b) differ++, at = x;
    }
    cr_expect_eq(differ, 0, "%lld values differ, e.g. at x = %.9g", (long long)differ,
                 (double)at);
    cr_expect_eq(tg_vexpf_nonpos(0.0f), 1.0f);
    cr_expect_eq(tg_vexpf_nonpos(-0.0f), 1.0f);
    cr_expect_eq(tg_vexpf_nonpos(-INFINITY), 0.0f);
    cr_expect_eq(tg_vexpf_nonpos(-87.5f), 0.0f);
    cr_expect(isnan(tg_vexpf_nonpos(NAN)));
}

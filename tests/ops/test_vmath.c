// backends/cpu/vmath.h: the vectorising expf used by the cpu cross-entropy kernels, against
// double-precision exp over a dense sweep of its finite range, and its special values.
#include <float.h>

#include "backends/cpu/vmath.h"
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

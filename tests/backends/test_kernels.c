// The cpu backend's elementwise kernels, every kernel variant this CPU runs (base, AVX2,
// AVX-512) called through its table directly, in f32 and f64:
//   - every kind of TG_UNARY_KINDS / TG_BINARY_KINDS (the lists themselves, so a new kind
//     is covered when it is added) gives its elem_math.h f64 function's value in f64, over
//     contiguous, strided and broadcast operands (the kind switch and the row loops);
//   - SiLU and its gradient against a long-double reference, f32 and f64, including large
//     |x| (no overflow to NaN) and the vectorised f32 exp.
// Linked with the static library: the tables are internal symbols.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend_impl.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/cpu_select.h"
#include "backends/elem_math.h"

// Weak: a variant the build left out (non-x86, old compiler) is NULL.
extern const struct tg_backend_ops *const tg_cpu_kernels_avx2 __attribute__((weak));
extern const struct tg_backend_ops *const tg_cpu_kernels_avx512 __attribute__((weak));

enum {
    N = 67
};  // not a multiple of any vector width: the loops' tails run too

// The variants built and runnable here; returns how many (base always).
static int variants(const struct tg_backend_ops **out, const char **names) {
    tg_cpu_info ci;
    tg__cpu_detect(&ci);
    int runs = tg__cpu_isa_supported(&ci), n = 0;
    out[n] = tg_cpu_kernels_base, names[n++] = "base";
    if (&tg_cpu_kernels_avx2 && tg_cpu_kernels_avx2 && runs >= TG_ISA_AVX2)
        out[n] = tg_cpu_kernels_avx2, names[n++] = "avx2";
    if (&tg_cpu_kernels_avx512 && tg_cpu_kernels_avx512 && runs >= TG_ISA_AVX512)
        out[n] = tg_cpu_kernels_avx512, names[n++] = "avx512";
    return n;
}

static tg_view view(void *data, int dtype, int64_t n, int64_t stride) {
    tg_view v;
    memset(&v, 0, sizeof v);
    v.data = data;
    v.dtype = dtype;
    v.ndim = 1;
    v.shape[0] = n;
    v.stride[0] = stride;
    return v;
}

// x: a sweep over [-6, 6] with the kinks (0, 1) on it, positive where log/sqrt/pow need it.
static double input(int kind, int i) {
    double x = -6.0 + 12.0 * i / (N - 1);
    if (i == 10) x = 0.0;
    if (i == 20) x = 1.0;
    if (kind == TG_UNARY_LOG || kind == TG_UNARY_SQRT || kind == TG_UNARY_POW) x = fabs(x) + 0.5;
    return x;
}

static bool close_d(double got, double want, double rtol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= rtol * fabs(want) + 1e-300;
}

typedef double (*unary_ref_fn)(double x, double a, double b);
typedef double (*binary_ref_fn)(double a, double b);

Test(kernels, every_unary_kind_f64) {
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    static const struct {
        int kind;
        unary_ref_fn f;
        const char *name;
    } kinds[] = {
#define ROW(kind, f32_fn, f64_fn) {kind, f64_fn, #kind},
#define NO_ROW(kind)
        TG_UNARY_KINDS(ROW, NO_ROW)
#undef ROW
#undef NO_ROW
    };
    double a = 0.75, b = 2.5;
    for (int k = 0; k < nv; k++)
        for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++) {
            double x[2 * N], y[2 * N];
            for (int i = 0; i < N; i++) x[2 * i] = x[2 * i + 1] = input(kinds[c].kind, i);
            for (int stride = 1; stride <= 2; stride++) {  // contiguous, then strided x and y
                tg_view vx = view(x, TG_F64, N, stride), vy = view(y, TG_F64, N, stride);
                cr_assert_eq(v[k]->unary(&(tg_cpu_ctx){0}, kinds[c].kind, &vx, &vy, a, b), TG_OK);
                for (int i = 0; i < N; i++) {
                    double want = kinds[c].f(x[i * stride], a, b);
                    cr_expect(close_d(y[i * stride], want, 1e-13),
                              "%s %s stride %d x %g: %g, want %g", names[k], kinds[c].name, stride,
                              x[i * stride], y[i * stride], want);
                }
            }
        }
}

Test(kernels, every_binary_kind_f64) {
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    static const struct {
        int kind;
        binary_ref_fn f;
        const char *name;
    } kinds[] = {
#define ROW(kind, f32_fn, f64_fn) {kind, f64_fn, #kind},
        TG_BINARY_KINDS(ROW)
#undef ROW
    };
    double a[N], b[N], y[N];
    for (int i = 0; i < N; i++) a[i] = input(-1, i), b[i] = input(-1, (i * 7) % N);
    b[3] = a[3];  // equal operands for the comparisons
    // strides of (a, b): contiguous, b broadcast, a broadcast, both strided (b reversed)
    const int64_t sa[4] = {1, 1, 0, 1}, sb[4] = {1, 0, 1, -1};
    for (int k = 0; k < nv; k++)
        for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++)
            for (int s = 0; s < 4; s++) {
                const double *b0 = sb[s] < 0 ? b + N - 1 : b;
                tg_view va = view(a, TG_F64, N, sa[s]), vb = view((void *)b0, TG_F64, N, sb[s]);
                tg_view vy = view(y, TG_F64, N, 1);
                cr_assert_eq(v[k]->binary(&(tg_cpu_ctx){0}, kinds[c].kind, &va, &vb, &vy), TG_OK);
                for (int i = 0; i < N; i++) {
                    double want = kinds[c].f(a[i * sa[s]], b0[i * sb[s]]);
                    cr_expect(close_d(y[i], want, 1e-13),
                              "%s %s strides (%d, %d) i %d: %g, want %g", names[k], kinds[c].name,
                              (int)sa[s], (int)sb[s], i, y[i], want);
                }
            }
}

// ---- SiLU against long double ----

static long double silu_ref(long double x) { return x / (1.0L + expl(-x)); }
static long double silu_grad_ref(long double g, long double x) {
    long double s = 1.0L / (1.0L + expl(-x));
    return g * s * (1.0L + x * (1.0L - s));
}

// A sweep over [-40, 40] plus large |x|, where exp(-x) overflows (f32 below -88.7, f64 below
// -709): y and the gradient must be -0 / 0, not NaN.
static const double big[] = {-1e30, -800.0, -100.0, -89.0, 88.0, 100.0, 800.0, 1e30};
enum {
    NB = sizeof big / sizeof big[0],
    NS = N + NB
};
static double silu_x(int i) { return i < N ? -40.0 + 80.0 * i / (N - 1) : big[i - N]; }

Test(kernels, silu_f32_and_f64) {
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    for (int k = 0; k < nv; k++) {
        double xd[NS], yd[NS], gd[NS], dd[NS];
        float xf[NS], yf[NS], gf[NS], df[NS];
        for (int i = 0; i < NS; i++) {
            xd[i] = silu_x(i), xf[i] = (float)xd[i];
            gd[i] = 0.5 + i % 3, gf[i] = (float)gd[i];
        }
        tg_cpu_ctx ctx = {0};
        tg_view vx = view(xd, TG_F64, NS, 1), vy = view(yd, TG_F64, NS, 1);
        tg_view vg = view(gd, TG_F64, NS, 1), vd = view(dd, TG_F64, NS, 1);
        cr_assert_eq(v[k]->unary(&ctx, TG_UNARY_SILU, &vx, &vy, 0, 0), TG_OK);
        cr_assert_eq(v[k]->binary(&ctx, TG_BINARY_SILU_GRAD, &vg, &vx, &vd), TG_OK);
        tg_view wx = view(xf, TG_F32, NS, 1), wy = view(yf, TG_F32, NS, 1);
        tg_view wg = view(gf, TG_F32, NS, 1), wd = view(df, TG_F32, NS, 1);
        cr_assert_eq(v[k]->unary(&ctx, TG_UNARY_SILU, &wx, &wy, 0, 0), TG_OK);
        cr_assert_eq(v[k]->binary(&ctx, TG_BINARY_SILU_GRAD, &wg, &wx, &wd), TG_OK);
        for (int i = 0; i < NS; i++) {
            long double y = silu_ref(xd[i]), d = silu_grad_ref(gd[i], xd[i]);
            long double yf_ref = silu_ref(xf[i]), df_ref = silu_grad_ref(gf[i], xf[i]);
            cr_expect(!isnan(yd[i]) && !isnan(dd[i]) && !isnan(yf[i]) && !isnan(df[i]),
                      "%s x %g: NaN (%g %g %g %g)", names[k], xd[i], yd[i], dd[i], yf[i], df[i]);
            // f64: a few ulp; f32: tg_vexpf's 2 ulp through the division and the products, and
            // an absolute 1e-36 where tg_vexpf(-x) saturates to inf (x < -88.72: 0 for ~2e-37)
            cr_expect(fabsl(yd[i] - y) <= 4e-16L * fabsl(y) + 1e-300L,
                      "%s f64 silu(%g) = %.17g, want %.17Lg", names[k], xd[i], yd[i], y);
            cr_expect(fabsl(dd[i] - d) <= 1e-15L * fabsl(d) + 1e-300L,
                      "%s f64 silu'(%g) = %.17g, want %.17Lg", names[k], xd[i], dd[i], d);
            cr_expect(fabsl(yf[i] - yf_ref) <= 5e-7L * fabsl(yf_ref) + 1e-36L,
                      "%s f32 silu(%g) = %.9g, want %.9Lg", names[k], xd[i], yf[i], yf_ref);
            cr_expect(fabsl(df[i] - df_ref) <= 2e-6L * fabsl(df_ref) + 1e-36L,
                      "%s f32 silu'(%g) = %.9g, want %.9Lg", names[k], xd[i], df[i], df_ref);
        }
    }
}

// ---- gemm_ep: a gemm with its bias and ReLU in the store ----

// C [batch, m, n] against a naive loop in double, for one variant, dtype and setting; C
// stored row-major, or column-major (tc). Values are multiples of 1/8 with small sums and
// alpha, beta powers of two or halves, so f32 is exact too; negative products make ReLU
// bite.
static void check_gemm_tc(const struct tg_backend_ops *ops, const char *name, int threads,
                          int dtype, int64_t m, int64_t k, int64_t n, bool ta, bool tb, bool tc,
                          int bias_mode, int act, double alpha, double beta) {
    const int64_t batch = 2, na = batch * m * k, nb = batch * k * n, nc = batch * m * n;
    int64_t nbias = m > n ? m : n;
    // one buffer for all, kept between calls (page faults cost more than the products here)
    static double *buf;
    static size_t cap;
    size_t need = (size_t)(3 * (na + nb + nc + nbias) + nc);
    if (need > cap) {
        free(buf);
        buf = malloc(sizeof(double) * need), cap = buf ? need : 0;
        cr_assert(buf);
    }
    double *a = buf, *b = a + na, *c0 = b + nb, *want = c0 + nc, *bias = want + nc;
    double *ad = bias + nbias, *bd = ad + na, *cd = bd + nb, *biasd = cd + nc;
    float *af = (float *)(biasd + nbias), *bf = af + na, *cf = bf + nb, *biasf = cf + nc;
    for (int64_t i = 0; i < na; i++) a[i] = (double)((i * 7 + 3) % 9 - 4) / 8;
    for (int64_t i = 0; i < nb; i++) b[i] = (double)((i * 5 + 1) % 7 - 3) / 8;
    for (int64_t i = 0; i < nc; i++) c0[i] = (double)(i % 5) - 2;
    // (a row bias not 4-periodic: rows four apart mixed up would not show)
    for (int64_t i = 0; i < nbias; i++) bias[i] = (double)(i % 7) - 2.5;
    // C's element (i, j) of batch entry bi is at co(bi, i, j)
#define co(bi, i, j) ((bi) * m * n + (tc ? (j) * m + (i) : (i) * n + (j)))
    for (int64_t bi = 0; bi < batch; bi++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++)   // a stored [m, k], or [k, m] when ta
                    s += a[bi * m * k + (ta ? p * m + i : i * k + p)] *
                         b[bi * k * n + (tb ? j * k + p : p * n + j)];   // b: [k, n] or [n, k]
                int64_t o = co(bi, i, j);
                double v = alpha * s + (beta != 0 ? beta * c0[o] : 0);
                if (bias_mode) v += bias[bias_mode == 2 ? i : j];
                if (act == TG_GEMM_ACT_RELU) v = v > 0 ? v : 0;
                want[o] = v;
            }
    bool f64 = dtype == TG_F64;
    for (int64_t i = 0; i < na; i++) ad[i] = a[i], af[i] = (float)a[i];
    for (int64_t i = 0; i < nb; i++) bd[i] = b[i], bf[i] = (float)b[i];
    for (int64_t i = 0; i < nc; i++) cd[i] = c0[i], cf[i] = (float)c0[i];
    for (int64_t i = 0; i < nbias; i++) biasd[i] = bias[i], biasf[i] = (float)bias[i];
    tg_gemm_desc d = {
        .dtype = dtype, .m = m, .n = n, .k = k, .batch = batch, .alpha = alpha, .beta = beta,
        .a = f64 ? (void *)ad : (void *)af, .a_rs = ta ? 1 : k, .a_cs = ta ? m : 1, .a_bs = m * k,
        .b = f64 ? (void *)bd : (void *)bf, .b_rs = tb ? 1 : n, .b_cs = tb ? k : 1, .b_bs = k * n,
        .c = f64 ? (void *)cd : (void *)cf, .c_rs = tc ? 1 : n, .c_cs = tc ? m : 1,
        .c_bs = m * n,
    };
#undef co
    tg_gemm_ep e = {.bias = !bias_mode ? NULL : f64 ? (void *)biasd : (void *)biasf,
                    .bias_rows = bias_mode == 2, .act = act};
    cr_assert_eq(ops->gemm_ep(&(tg_cpu_ctx){.n_threads = threads}, &d, &e), TG_OK);
    int64_t i = 0;   // the first difference, if any (one assertion: they are not free)
    while (i < nc && (f64 ? cd[i] : cf[i]) == want[i]) i++;
    if (i < nc) {
        double got = f64 ? cd[i] : cf[i];
        cr_assert_eq(got, want[i],
                     "%s %d threads %s %lldx%lldx%lld ta %d tb %d tc %d bias %d act %d alpha %g "
                     "beta %g: C[%lld] = %g, want %g", name, threads, f64 ? "f64" : "f32",
                     (long long)m, (long long)k, (long long)n, ta, tb, tc, bias_mode, act, alpha,
                     beta, (long long)i, got, want[i]);
    }
}

static void check_gemm_ep(const struct tg_backend_ops *ops, const char *name, int threads,
                          int dtype, int64_t m, int64_t k, int64_t n, bool ta, bool tb,
                          int bias_mode, int act, double alpha, double beta) {
    check_gemm_tc(ops, name, threads, dtype, m, k, n, ta, tb, false, bias_mode, act, alpha,
                  beta);
}

// Every kernel the cpu gemm routes to (the narrow one's 3/4/6/8/12-row tiles with one to
// four vectors and masked tails, its 256- and 128-deep k blocks, the small one, BLIS above
// both, and on 2 threads BLIS on blocks of rows or columns of C split by us) with no, row
// and column bias, with and without ReLU, alpha and beta, A and B in place and transposed,
// k = 0 too.
Test(kernels, gemm_ep_bias_relu) {
    static const int64_t shapes[][3] = {
        {1, 1, 1}, {13, 5, 20}, {25, 9, 32}, {7, 3, 33}, {30, 30, 16}, {9, 4, 2},
        {5, 0, 20}, {96, 96, 96}, {70, 40, 90}, {20, 96, 8}, {13, 600, 20}, {5, 300, 9},
        {200, 128, 200}, {96, 128, 400}, {17, 130, 40}, {11, 140, 64}, {9, 3, 48},
        {4, 7, 50}, {25, 9, 20}, {3, 300, 60},
    };
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    for (int q = 0; q < nv; q++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int threads = 1; threads <= 2; threads++)
                for (int dt = 0; dt < 2; dt++)
                    for (int mode = 0; mode < 3; mode++)
                        for (int act = 0; act < 2; act++)
                            for (int ta = 0; ta < 2; ta++) {
                                int dtype = dt ? TG_F64 : TG_F32;
                                const int64_t *sh = shapes[s];
                                for (int tb = 0; tb < 2; tb++)
                                    check_gemm_ep(v[q], names[q], threads, dtype, sh[0], sh[1],
                                                  sh[2], ta, tb, mode, act, 1.0, 0.0);
                                check_gemm_ep(v[q], names[q], threads, dtype, sh[0], sh[1], sh[2],
                                              ta, false, mode, act, 0.5, 1.5);
                            }
}

// Each shape on every kernel variant, 1 and 2 threads, f32 and f64, with no, row and column
// bias, A and B in place and transposed, with and without ReLU, and with alpha 1, beta 0
// and alpha 0.5, beta 1.5.
static void sweep_gemm_ep(const int64_t (*shapes)[3], size_t n_shapes) {
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    for (int q = 0; q < nv; q++)
        for (size_t s = 0; s < n_shapes; s++)
            for (int threads = 1; threads <= 2; threads++)
                for (int dt = 0; dt < 2; dt++)
                    for (int mode = 0; mode < 3; mode++)
                        for (int t = 0; t < 8; t++) {
                            const int64_t *sh = shapes[s];
                            int dtype = dt ? TG_F64 : TG_F32, act = t & 4 ? TG_GEMM_ACT_RELU : 0;
                            for (int ab = 0; ab < 2; ab++)
                                check_gemm_ep(v[q], names[q], threads, dtype, sh[0], sh[1],
                                              sh[2], t & 1, t & 2, mode, act, ab ? 0.5 : 1.0,
                                              ab ? 1.5 : 0.0);
                        }
}

// C's rows further apart than its width (a block of a wider matrix), floats on the best
// variant, 1 thread: C = A B + 0.5 C, with ep (NULL: none; else a column bias and its act).
// A is allocated to its size (so ASan sees a read past it) and laid out by a_step: 1
// row-major, 2 every other column of a wider matrix (neither of A's strides 1), 0 stored
// transposed ([k, m]).
static void check_strided_c(const struct tg_backend_ops *ops, const char *name, int64_t m,
                            int64_t k, int64_t n, int64_t ldc, int64_t a_step,
                            const tg_gemm_ep *ep) {
    int64_t a_rs = a_step ? k * a_step : 1, a_cs = a_step ? a_step : m;
    int64_t na = m * k * (a_step ? a_step : 1);
    float *a = malloc(sizeof(float) * (size_t)na);
    float *b = malloc(sizeof(float) * (size_t)(k * n));
    float *c = malloc(sizeof(float) * (size_t)(m * ldc));
    float *want = malloc(sizeof(float) * (size_t)(m * ldc));
    cr_assert(a && b && c && want);
    const float *bias = ep ? ep->bias : NULL;
    for (int64_t i = 0; i < na; i++) a[i] = (float)((i * 7 + 3) % 9 - 4) / 8;
    for (int64_t i = 0; i < k * n; i++) b[i] = (float)((i * 5 + 1) % 7 - 3) / 8;
    for (int64_t i = 0; i < m * ldc; i++) c[i] = want[i] = (float)(i % 5) - 2;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++) acc += (double)a[i * a_rs + p * a_cs] * b[p * n + j];
            double y = acc + 0.5 * want[i * ldc + j] + (bias ? bias[j] : 0);
            want[i * ldc + j] = (float)(ep && ep->act == TG_GEMM_ACT_RELU && y < 0 ? 0 : y);
        }
    tg_gemm_desc d = {.dtype = TG_F32, .m = m, .n = n, .k = k, .batch = 1, .alpha = 1,
                      .beta = 0.5, .a = a, .a_rs = a_rs, .a_cs = a_cs, .b = b, .b_rs = n, .b_cs = 1,
                      .c = c, .c_rs = ldc, .c_cs = 1};
    tg_cpu_ctx ctx = {.n_threads = 1};
    cr_assert_eq(ep ? ops->gemm_ep(&ctx, &d, ep) : ops->gemm(&ctx, &d), TG_OK);
    for (int64_t i = 0; i < m * ldc; i++)
        cr_assert_eq(c[i], want[i], "%s strided C: C[%lld] = %g, want %g", name,
                     (long long)i, c[i], want[i]);
    free(a);
    free(b);
    free(c);
    free(want);
}

// The tall kernel (gemm_tall.c: a row-major C of one to four columns and at least 64 rows,
// A's rows along a k of at most 256, floats; rows of C in the vector lanes): row counts that
// leave a partial block of 16, k with and without a tail of the 16 x 16 transposes and of
// the four partial sums, every bias, ReLU, alpha and beta, B in place and transposed, on 1
// and 2 threads (it runs where the narrow kernel would, on one), and the neighbours that
// must stay on the narrow kernel (A transposed, f64, k past 256, fewer rows, five columns).
Test(kernels, gemm_tall) {
    static const int64_t shapes[][3] = {
        {64, 20, 2}, {8000, 20, 2}, {100, 17, 1}, {300, 33, 4}, {77, 256, 3}, {65, 1, 2},
        {129, 5, 4}, {200, 40, 2}, {70, 300, 2}, {79, 20, 2}, {95, 7, 3}, {63, 20, 2},
        {90, 20, 5},
    };
    sweep_gemm_ep(shapes, sizeof shapes / sizeof shapes[0]);
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    // C's rows further apart than its width: the lanes' stride
    check_strided_c(v[nv - 1], names[nv - 1], 150, 20, 2, 7, 1, NULL);
}

// Floats 17 to 20 columns wide with at least 2048 elements of A (gemm_narrow.c's
// gemm_narrow20_f32: columns 16.. of four rows in one vector): every column count; A in
// place (row-major: n20k_tile's tiles of 4, 8 and 12 rows whole and partial, k in groups of
// four with a tail of 0 to 3; n20b_tile's for k 1 to 3) and transposed (n20x_tile: tiles of
// 20 rows, a last one of 4 to 16 read in place, and partial ones copied); k 1, one and
// several 128-deep blocks;
// every bias, ReLU, alpha and beta, B in place and transposed, 1 and 2 threads, and
// neighbours left to the narrow kernel. Then C's rows further apart than its width, with
// beta, a column bias and ReLU over three k blocks, A row-major, with neither stride 1
// (n20x_tile's copy element by element) and transposed with a last tile of 9 rows (copied:
// read in place, its 12 rows would run past A's end).
Test(kernels, gemm_narrow20) {
    static const int64_t shapes[][3] = {
        {25, 302, 19}, {614, 20, 20}, {20, 300, 20}, {7, 400, 17}, {4, 600, 18},
        {13, 203, 20}, {9, 256, 19},  {100, 21, 20}, {2100, 1, 20}, {700, 3, 18},
        {1000, 2, 19}, {28, 99, 20},  {32, 70, 18},  {36, 130, 20},
        // (the narrow kernel's: under 2048 of A, or under 4 rows)
        {10, 40, 20},  {2, 600, 20},  {7, 0, 20},   {1, 2048, 17}, {3, 700, 19},
    };
    sweep_gemm_ep(shapes, sizeof shapes / sizeof shapes[0]);
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    float bias[19];
    for (int64_t j = 0; j < 19; j++) bias[j] = (float)(j % 4) - 1.5f;
    for (int64_t step = 0; step <= 2; step++)
        check_strided_c(v[nv - 1], names[nv - 1], 29, 300, 19, 23, step,
                        &(tg_gemm_ep){.bias = bias, .act = TG_GEMM_ACT_RELU});
}

// At most 4 rows of C from a long k with B row-major (gemm_narrow_impl.h's nw_tile_direct:
// B read in place, even and odd k in two sets of sums): 1 to 4 vectors for 1 and 2 rows, 1
// and 2 for 3 and 4 rows, an odd k, floats 17 to 20 wide (taken from the 17-20-column
// kernel), every bias, ReLU, alpha and beta, f32 and f64; and the neighbours that keep the
// packed panel (k 63, 3 rows of three vectors, B transposed in the sweep). Then B allocated
// to its size (ASan: a load of its last row past n) and C's rows further apart than n.
Test(kernels, gemm_narrow_direct) {
    static const int64_t shapes[][3] = {
        {2, 100, 20}, {1, 64, 7},  {2, 301, 64}, {2, 90, 40}, {3, 200, 32}, {4, 77, 17},
        {4, 64, 30},  {1, 65, 16}, {3, 90, 40},  {2, 63, 20}, {4, 2000, 20},
    };
    sweep_gemm_ep(shapes, sizeof shapes / sizeof shapes[0]);
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    check_strided_c(v[nv - 1], names[nv - 1], 2, 101, 20, 23, 1, NULL);
    check_strided_c(v[nv - 1], names[nv - 1], 4, 70, 9, 11, 0, NULL);
}

// Short products of a few columns from a long k (gemm.c's narrow_flipped: the narrow kernel
// on C^T into a scratch block, then C with beta and the epilogue): one to four columns, up
// to 64 rows, k from 64, both dtypes and every transpose, bias, ReLU, alpha and beta, on 1
// and 2 threads; and the neighbours left to the narrow kernel (k 63, as many rows as
// columns, 65 rows; 33 to 64 rows of doubles, which C^T's four vectors cannot hold).
Test(kernels, gemm_narrow_flipped) {
    static const int64_t shapes[][3] = {
        {20, 8000, 2}, {5, 64, 4}, {64, 100, 1}, {33, 200, 3}, {3, 70, 2}, {17, 300, 4},
        {20, 63, 2}, {2, 100, 2}, {65, 100, 2},
    };
    sweep_gemm_ep(shapes, sizeof shapes / sizeof shapes[0]);
}

// Float products past the small kernels' reach, packed by tapegrad for BLIS's microkernel
// (gemm_own.c in AVX-512 builds): every transpose (panels by register transposes and by
// copies, whole and partial), k past the kernel sets' KC (384, 512; shared, a last block
// under KC/8 spread over the others: k 400), partial MR x NR tiles
// on both sides, 8 to 31 rows of C, several row chunks; on 1 thread, and on 2 and 3 sharing
// the chunks; with and without the epilogue, alpha and beta. Shared, most of these pack the
// other operand whole and run each chunk over all of k (own_plan's whole_k); C stored by
// columns too (the microkernel's rows are then C's rows), and a k of 11000 against 40 rows
// of C, whose operand is past whole_k's bytes: chunks step through the k blocks in order on
// whichever thread claims them; so too a k of 7688 (20 KC and 8, as 19 blocks of 385 and
// one of 373 on 2 threads).
Test(kernels, gemm_own_packing) {
    static const int64_t shapes[][3] = {
        {40, 520, 90}, {33, 300, 45}, {100, 400, 160}, {500, 20, 130},
        {10, 200, 300}, {24, 400, 100},   // (few rows of C: once BLIS's small-matrix path)
        {70, 1160, 50},
    };
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    for (int q = 0; q < nv; q++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int threads = 1; threads <= (q == nv - 1 ? 3 : 1); threads++)   // (the
                // threads share chunks in the best variant; the others run BLIS, split in
                // halves, which kernels/gemm_ep_bias_relu covers on 2 threads)
                for (int t = 0; t < 4; t++)
                    for (int mode = 0; mode < 3; mode += 2) {
                        const int64_t *sh = shapes[s];
                        bool ta = t & 1, tb = t & 2;
                        check_gemm_ep(v[q], names[q], threads, TG_F32, sh[0], sh[1], sh[2], ta,
                                      tb, mode, mode ? TG_GEMM_ACT_RELU : 0, 1.0, 0.0);
                        check_gemm_ep(v[q], names[q], threads, TG_F32, sh[0], sh[1], sh[2], ta,
                                      tb, mode, 0, 0.5, 1.5);
                    }
    static const int64_t shared[][3] = {{90, 520, 40}, {40, 11000, 66}};
    for (size_t s = 0; s < sizeof shared / sizeof shared[0]; s++)
        for (int threads = 2; threads <= 3; threads++)
            for (int t = 0; t < 8; t += 3) {
                const int64_t *sh = shared[s];
                check_gemm_tc(v[nv - 1], names[nv - 1], threads, TG_F32, sh[0], sh[1], sh[2],
                              t & 1, t & 2, t & 4, 2, TG_GEMM_ACT_RELU, 0.5, 1.5);
            }
    for (int t = 0; t < 4; t += 3)
        check_gemm_tc(v[nv - 1], names[nv - 1], 2, TG_F32, 66, 7688, 90, t & 1, t & 2, false, 2,
                      TG_GEMM_ACT_RELU, 0.5, 1.5);
}

// Products with at most 7 rows of C or 7 of k, past the small kernel's size (gemm_thin.c):
// a few rows against B row-major (rows streamed into C) and column-major (dot products, A's
// rows in place or copied in blocks of k: k past 1024 floats and 512 doubles), outer
// products (k 1-7, B's rows copied when strided, C's columns in blocks), C stored either way
// (column-major: solved as C^T); every variant, f32 and f64, with the epilogue, alpha and
// beta; on 2 and 3 threads those large enough to split (pieces handed out).
Test(kernels, gemm_thin) {
    static const int64_t shapes[][3] = {
        {1, 700, 400}, {3, 300, 333}, {5, 530, 130}, {2, 1500, 100}, {7, 300, 260},
        {700, 1, 400}, {300, 5, 210}, {130, 7, 300}, {4, 7, 10000}, {400, 3, 700},
    };
    static const int64_t big[][3] = {{3, 1500, 1000}, {1100, 4, 1000}};
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    for (int q = 0; q < nv; q++)
        for (int dt = 0; dt < 2; dt++) {
            int dtype = dt ? TG_F64 : TG_F32;
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (int t = 0; t < 8; t++) {
                    const int64_t *sh = shapes[s];
                    bool ta = t & 1, tb = t & 2, tc = t & 4;
                    check_gemm_tc(v[q], names[q], 1, dtype, sh[0], sh[1], sh[2], ta, tb, tc, 1,
                                  TG_GEMM_ACT_RELU, 1.0, 0.0);
                    check_gemm_tc(v[q], names[q], 1, dtype, sh[0], sh[1], sh[2], ta, tb, tc, 2,
                                  t & 1 ? TG_GEMM_ACT_RELU : 0, 0.5, 1.5);
                }
            for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
                for (int t = 0; t < 8; t += 3) {
                    const int64_t *sh = big[s];
                    check_gemm_tc(v[q], names[q], 2 + (t == 3), dtype, sh[0], sh[1], sh[2],
                                  t & 1, t & 2, t & 4, 2, TG_GEMM_ACT_RELU, 0.5, 1.5);
                }
        }
}

// The thin gemm with a B strided both ways (every other element of every other row: the
// backend contract allows it, though the ops never pass one), C row-major: plain loops.
Test(kernels, gemm_thin_strided_b) {
    enum { M = 2, K = 300, N = 500 };
    static double a[M * K], b[4 * K * N], c[M * N];
    static float af[M * K], bf[4 * K * N], cf[M * N];
    for (int i = 0; i < M * K; i++) a[i] = (double)((i * 3) % 7 - 3) / 4, af[i] = (float)a[i];
    for (int i = 0; i < 4 * K * N; i++) b[i] = (double)((i * 5) % 9 - 4) / 8, bf[i] = (float)b[i];
    const struct tg_backend_ops *v[3];
    const char *names[3];
    int nv = variants(v, names);
    for (int q = 0; q < nv; q++)
        for (int dt = 0; dt < 2; dt++) {
            bool f64 = dt == 1;
            for (int i = 0; i < M * N; i++) c[i] = 1, cf[i] = 1;
            tg_gemm_desc d = {.dtype = f64 ? TG_F64 : TG_F32, .m = M, .n = N, .k = K,
                              .batch = 1, .alpha = 0.5, .beta = 2,
                              .a = f64 ? (void *)a : (void *)af, .a_rs = K, .a_cs = 1,
                              .b = f64 ? (void *)b : (void *)bf, .b_rs = 4 * N, .b_cs = 2,
                              .c = f64 ? (void *)c : (void *)cf, .c_rs = N, .c_cs = 1};
            cr_assert_eq(v[q]->gemm(&(tg_cpu_ctx){.n_threads = 1}, &d), TG_OK);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int p = 0; p < K; p++) s += a[i * K + p] * b[p * 4 * N + 2 * j];
                    double want = 0.5 * s + 2, got = f64 ? c[i * N + j] : cf[i * N + j];
                    cr_assert_eq(got, want, "%s %s C[%d][%d] = %g, want %g", names[q],
                                 f64 ? "f64" : "f32", i, j, got, want);
                }
        }
}

// The max_pool slot's 2x2 stride-2 path in every variant, each route, against a loop:
// route 0 selects v at the winners, route 1 adds dy into out at them (out pre-filled with
// 0.5 here: through the public API it only ever adds into zeros), route 2 writes. Planes of
// 6 x 36 and 6 x 37 (18 windows a row: a whole vector and a masked tail; with 37 the last
// column is in no window, so route 2 zeroes and adds), NaNs and ties among the taps.
static void check_max_pool_routes(const struct tg_backend_ops *ops, const char *name, int W) {
    enum { N = 2, C = 3, H = 6, OH = 3, OW = 18, NY = N * C * OH * OW, CAP = N * C * H * 37 };
    static float x[CAP], v[CAP], dy[NY], out[CAP];
    static double want[CAP];
    const int NX = N * C * H * W;
    for (int i = 0; i < NX; i++) x[i] = (float)((i * 7919) % 23) - 11, v[i] = (float)(i % 17);
    x[5] = x[100] = NAN;
    for (int i = 0; i < NY; i++) dy[i] = (float)(i % 13) + 1;
    tg_im2col_desc d = {.dtype = TG_F32, .n = N, .c = C, .h = H, .w = W, .kh = 2, .kw = 2,
                        .oh = OH, .ow = OW, .stride_h = 2, .stride_w = 2, .dil_h = 1,
                        .dil_w = 1};
    for (int route = 0; route < 3; route++) {
        int64_t n_out = route ? NX : NY;
        for (int64_t i = 0; i < n_out; i++) want[i] = route == 1 ? 0.5 : 0;
        for (int64_t i = 0; i < NX; i++) out[i] = route == 1 ? 0.5f : -7.0f;
        for (int p = 0; p < N * C; p++)
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++) {
                    int at0 = p * H * W + 2 * i * W + 2 * j, best = at0;
                    for (int t = 1; t < 4; t++) {   // first maximum; a NaN wins and stays
                        int at = at0 + (t / 2) * W + t % 2;
                        if (x[best] == x[best] && !(x[at] <= x[best])) best = at;
                    }
                    int o = (p * OH + i) * OW + j;
                    if (route) want[best] += dy[o];
                    else want[o] = v[best];
                }
        cr_assert_eq(ops->max_pool(&(tg_cpu_ctx){.n_threads = 1}, &d, route, x,
                                   route ? (const void *)dy : (const void *)v, out),
                     TG_OK);
        for (int64_t i = 0; i < n_out; i++)
            cr_assert_eq((double)out[i], want[i], "%s W %d route %d: out[%lld] = %g, want %g",
                         name, W, route, (long long)i, (double)out[i], want[i]);
    }
}

Test(kernels, max_pool_2x2_routes) {
    const struct tg_backend_ops *vs[3];
    const char *names[3];
    int nv = variants(vs, names);
    for (int q = 0; q < nv; q++) {
        check_max_pool_routes(vs[q], names[q], 36);
        check_max_pool_routes(vs[q], names[q], 37);
    }
}

// Helpers shared by the Criterion test programs (header-only, static inline).
#pragma once

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <tapegrad/tapegrad.h>

static inline tg_backend *tu_cpu(void) { return tg_backend_get("cpu"); }

// Tests run with TG_CHECKED=1 (tests/meson.build: retired step memory is poisoned, never
// reused soon, so stale tensors are always caught). Tests that count allocations turn it
// off for the tapes they create next (checked mode allocates per step by design).
static inline void tu_unchecked(void) { setenv("TG_CHECKED", "0", 1); }

// Persistent f64 tensor from values; requires_grad when `grad`.
static inline tg_tensor *tu_f64(int ndim, const int64_t *shape, const double *v, bool grad) {
    tg_tensor *t = tg_tensor_from(tu_cpu(), TG_F64, ndim, shape, v);
    if (t && grad) tg_set_requires_grad(t, true);
    return t;
}

// Persistent f64 tensor of uniform values in [lo, hi), requires_grad when `grad`.
static inline tg_tensor *tu_rand64(tg_rng *rng, int ndim, const int64_t *shape, double lo,
                                   double hi, bool grad) {
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F64, ndim, shape);
    if (t) tg_uniform_(t, rng, lo, hi);
    if (t && grad) tg_set_requires_grad(t, true);
    return t;
}

// Asserts that every element of t (f32 or f64, any backend) is within tol of want[].
static inline void tu_expect_values(const tg_tensor *t, const double *want, int64_t n,
                                    double tol) {
    cr_assert_not_null(t, "tensor is NULL: %s", tg_last_error());
    cr_assert_eq(tg_numel(t), n, "numel %lld, expected %lld", (long long)tg_numel(t),
                 (long long)n);
    double got[4096];
    cr_assert(n <= 4096);
    if (tg_dtype_of(t) == TG_F64) {
        cr_assert_eq(tg_copy_to_host(t, got, (size_t)n * 8), TG_OK);
    } else {
        float f[4096];
        cr_assert_eq(tg_copy_to_host(t, f, (size_t)n * 4), TG_OK);
        for (int64_t i = 0; i < n; i++) got[i] = f[i];
    }
    for (int64_t i = 0; i < n; i++)
        cr_expect(fabs(got[i] - want[i]) <= tol, "element %lld: got %.10g, want %.10g",
                  (long long)i, got[i], want[i]);
}

// Asserts that the last error mentions every needle (e.g. the op name and a shape).
static inline void tu_expect_error(const char *n1, const char *n2) {
    const char *e = tg_last_error();
    cr_expect(e[0] != '\0', "expected an error");
    if (n1) cr_expect(strstr(e, n1) != NULL, "error '%s' lacks '%s'", e, n1);
    if (n2) cr_expect(strstr(e, n2) != NULL, "error '%s' lacks '%s'", e, n2);
}

// Writes x in place (fill 0.1) after `loss` was recorded from it, and expects backward to
// refuse the graph: TG_ERR_STATE, "modified in place" (op k of a table, for the message).
// Leaves the error state clear.
static inline void tu_expect_in_place_refused(tg_tape *tape, tg_tensor *loss, tg_tensor *x,
                                              int k) {
    cr_assert_eq(tg_fill_(x, 0.1), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_backward(tape, loss), TG_ERR_STATE, "op %d", k);
    tu_expect_error("modified in place", NULL);
    tg_clear_error();
}

// ---- more helpers (ops tests) ----

// The dtypes every forward test runs in (k = 0 .. TU_N_DTYPES-1), and a value tolerance
// for each.
enum { TU_N_DTYPES = 2 };
static inline tg_dtype tu_dtype(int k) { return k == 0 ? TG_F32 : TG_F64; }
static inline double tu_tol(tg_dtype dt) { return dt == TG_F32 ? 1e-5 : 1e-12; }

// A host array with its shape: tu_make(dt, (tu_arr){2, {2, 3}, v}, false).
typedef struct tu_arr {
    int ndim;
    int64_t shape[8];
    const double *v;      // numel values (row-major); NULL = zeros
} tu_arr;

static inline int64_t tu_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

// Persistent tensor of dtype dt holding a's values; requires_grad when `grad`.
static inline tg_tensor *tu_make(tg_dtype dt, tu_arr a, bool grad) {
    tg_tensor *t = tg_tensor_new(tu_cpu(), dt, a.ndim, a.shape);
    cr_assert_not_null(t, "tg_tensor_new: %s", tg_last_error());
    int64_t n = tu_numel(a.ndim, a.shape);
    cr_assert(n <= 4096);
    if (a.v && dt == TG_F64) {
        cr_assert_eq(tg_copy_from_host(t, a.v, (size_t)n * 8), TG_OK, "%s", tg_last_error());
    } else if (a.v) {
        float f[4096];
        for (int64_t i = 0; i < n; i++) f[i] = (float)a.v[i];
        cr_assert_eq(tg_copy_from_host(t, f, (size_t)n * 4), TG_OK, "%s", tg_last_error());
    }
    if (grad) cr_assert_eq(tg_set_requires_grad(t, true), TG_OK);
    return t;
}

// Asserts t's shape.
static inline void tu_expect_shape(const tg_tensor *t, int ndim, const int64_t *shape) {
    cr_assert_not_null(t, "tensor is NULL: %s", tg_last_error());
    cr_assert_eq(tg_ndim(t), ndim, "ndim %d, expected %d", tg_ndim(t), ndim);
    for (int i = 0; i < ndim; i++)
        cr_expect_eq(tg_shape(t)[i], shape[i], "dim %d is %lld, expected %lld", i,
                     (long long)tg_shape(t)[i], (long long)shape[i]);
}

// Asserts shape and values of t against a (a.v holds the expected values).
static inline void tu_expect_arr(const tg_tensor *t, tu_arr want, double tol) {
    tu_expect_shape(t, want.ndim, want.shape);
    tu_expect_values(t, want.v, tu_numel(want.ndim, want.shape), tol);
}

// The gradient accumulated in leaf x equals want[0..n).
static inline void tu_expect_grad(const tg_tensor *x, const double *want, int64_t n,
                                  double tol) {
    const tg_tensor *g = tg_grad_of(x);
    cr_assert_not_null(g, "no gradient reached the leaf");
    tu_expect_values(g, want, n, tol);
}

// Frees a persistent tensor and expects success (its tapes must be freed or reset first).
static inline void tu_free(tg_tensor *t) {
    cr_expect_eq(tg_free(t), TG_OK, "tg_free: %s", tg_last_error());
}

// Asserts that a call failed: NULL result, the given status, and an error mentioning the
// needles (NULL needles are skipped).
static inline void tu_expect_fail(const tg_tensor *t, int status, const char *n1,
                                  const char *n2, const char *n3) {
    cr_expect_null(t, "expected NULL, got a tensor");
    cr_expect_eq(tg_last_status(), status, "status %d (%s), expected %d; error '%s'",
                 (int)tg_last_status(), tg_status_str(tg_last_status()), status,
                 tg_last_error());
    tu_expect_error(n1, n2);
    if (n3) tu_expect_error(n3, NULL);
}

// The cpu scratch test hook (TG_CPU_SCRATCH_FAIL=1) is on: kernels that need scratch fail.
static inline bool tu_scratch_starved(void) {
    const char *hook = getenv("TG_CPU_SCRATCH_FAIL");
    return hook && *hook && hook[0] != '0';
}

// y, made by op `name`, failed with TG_ERR_OOM when the scratch is starved, else exists.
static inline void tu_expect_oom_if_starved(const tg_tensor *y, const char *name) {
    if (tu_scratch_starved()) {
        cr_expect_null(y, "%s without scratch succeeded", name);
        cr_expect_eq(tg_last_status(), TG_ERR_OOM, "status %d: %s", tg_last_status(),
                     tg_last_error());
        tu_expect_error(name, "out of memory");
    } else {
        cr_expect_not_null(y, "%s", tg_last_error());
    }
    tg_clear_error();
}

// Cases per run of a parameterized test: 1 (each case its own Criterion test, in its own
// process), or $TG_TEST_CASES_PER_RUN. CI's sanitizer step sets it: there starting a test
// process costs ~0.2 s (the loader's relocations and LeakSanitizer's scan of the
// instrumented library at exit), and the same cases run grouped, each failure still naming
// its case. The runner (making the parameters) and the workers read the same variable.
static inline size_t tu_cases_per_run(void) {
    const char *v = getenv("TG_TEST_CASES_PER_RUN");
    long k = v ? strtol(v, NULL, 10) : 1;
    return k >= 1 && k <= 4096 ? (size_t)k : 1;
}

// The first case of each run over n cases: 0, k, 2k, ... (cr_malloc'ed: hand
// tu_free_run_starts to cr_make_param_array as the cleanup); *runs gets their count.
static inline size_t *tu_run_starts(size_t n, size_t *runs) {
    size_t k = tu_cases_per_run();
    *runs = (n + k - 1) / k;
    size_t *idx = cr_malloc((*runs ? *runs : 1) * sizeof *idx);
    for (size_t r = 0; r < *runs; r++) idx[r] = r * k;
    return idx;
}

static inline void tu_free_run_starts(struct criterion_test_params *p) { cr_free(p->params); }

// The end of the run of cases starting at `first`, out of n.
static inline size_t tu_run_end(size_t first, size_t n) {
    size_t k = tu_cases_per_run();
    return n - first < k ? n : first + k;
}

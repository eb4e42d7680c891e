// Helpers shared by the nn module tests (header-only, static inline; every helper asserts):
// host copies, shape/parameter checks, and tests/fixtures/nn_torch.txt (torch 1.13 reference
// values written by gen_nn.py): named f64 tensors, one "tensor NAME NDIM D0 .. V0 ..." a line.
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

#ifndef TG_FIXTURES
#error "TG_FIXTURES (the tests/fixtures directory) must be defined by the build"
#endif
#define NN_FIXTURE TG_FIXTURES "/nn_torch.txt"

// ---- checks ----

// Host copy of an f64 tensor (malloc'd).
static inline double *nnu_host(const tg_tensor *t) {
    cr_assert_not_null(t, "tensor is NULL: %s", tg_last_error());
    double *v = malloc((size_t)tg_numel(t) * sizeof *v);
    cr_assert_eq(tg_copy_to_host(t, v, (size_t)tg_numel(t) * sizeof *v), TG_OK, "%s",
                 tg_last_error());
    return v;
}

// Forward of a fresh zero tensor of `shape` (f64) through m; the output must have `want`.
static inline void nnu_expect_forward_shape(tg_module *m, int ndim, const int64_t *shape, int wdim,
                                            const int64_t *want) {
    cr_assert_not_null(m, "constructor failed: %s", tg_last_error());
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F64, ndim, shape);
    tg_tape *tape = tg_tape_new();
    tu_expect_shape(tg_module_forward(m, tape, x), wdim, want);
    tg_tape_free(tape);
    tu_free(x);
}

// Parameter i of m is called `name` and has `shape`.
static inline void nnu_expect_param(const tg_module *m, int i, const char *name, int ndim,
                                    const int64_t *shape) {
    cr_assert_not_null(tg_module_param_name(m, i), "parameter %d missing", i);
    cr_expect_str_eq(tg_module_param_name(m, i), name);
    tu_expect_shape(tg_module_param(m, i), ndim, shape);
    cr_expect(tg_requires_grad(tg_module_param(m, i)), "%s must require grad", name);
}

// Empirical mean and standard deviation of an f64 tensor, and its largest |value|.
static inline void nnu_moments(const tg_tensor *t, double *mean, double *std, double *maxabs) {
    double *v = nnu_host(t), s = 0, sq = 0, mx = 0;
    int64_t n = tg_numel(t);
    for (int64_t i = 0; i < n; i++) s += v[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) {
        sq += (v[i] - *mean) * (v[i] - *mean);
        mx = fmax(mx, fabs(v[i]));
    }
    *std = sqrt(sq / (double)n);
    *maxabs = mx;
    free(v);
}

// ---- the torch fixture ----

// Parity tolerance in f64: |got - want| <= NN_TORCH_TOL * max(1, |want|).
static const double NN_TORCH_TOL = 1e-10;

// Values of record `name` (malloc'd, caller frees); its shape goes to ndim/shape[8].
static inline double *nnfx_read(const char *name, int *ndim, int64_t *shape) {
    FILE *f = fopen(NN_FIXTURE, "r");
    cr_assert_not_null(f, "cannot read %s: %s (run tests/fixtures/gen_nn.py)", NN_FIXTURE,
                       strerror(errno));
    char *line = NULL, prefix[128];
    size_t cap = 0;
    int plen = snprintf(prefix, sizeof prefix, "tensor %s ", name);
    double *v = NULL;
    while (!v && getline(&line, &cap, f) > 0) {
        if (strncmp(line, prefix, (size_t)plen) != 0) continue;
        char *p = line + plen, *end;
        *ndim = (int)strtol(p, &end, 10);
        int64_t n = 1;
        for (int i = 0; i < *ndim; i++) n *= shape[i] = strtoll(p = end, &end, 10);
        v = malloc((size_t)(n ? n : 1) * sizeof *v);
        for (int64_t i = 0; v && i < n; i++) {
            v[i] = strtod(p = end, &end);
            cr_assert(end != p, "record %s: value %lld missing", name, (long long)i);
        }
    }
    free(line);
    fclose(f);
    cr_assert_not_null(v, "no record 'tensor %s' in %s", name, NN_FIXTURE);
    return v;
}

// Record `name` as a new persistent f64 cpu tensor (caller frees).
static inline tg_tensor *nnfx_tensor(const char *name, bool grad) {
    int ndim;
    int64_t shape[8];
    double *v = nnfx_read(name, &ndim, shape);
    tg_tensor *t = tu_f64(ndim, shape, v, grad);
    free(v);
    cr_assert_not_null(t, "%s: %s", name, tg_last_error());
    return t;
}

// Overwrites a tensor (e.g. a module's parameter) with record `name`; shapes must agree.
static inline void nnfx_load_into(tg_tensor *t, const char *name) {
    int ndim;
    int64_t shape[8];
    double *v = nnfx_read(name, &ndim, shape);
    tu_expect_shape(t, ndim, shape);
    cr_assert_eq(tg_copy_from_host(t, v, (size_t)tg_numel(t) * sizeof(double)), TG_OK, "%s: %s",
                 name, tg_last_error());
    free(v);
}

// t (f64) has record `name`'s shape and values to NN_TORCH_TOL (relative above 1).
static inline void nnfx_expect(const tg_tensor *t, const char *name) {
    int ndim;
    int64_t shape[8];
    double *want = nnfx_read(name, &ndim, shape);
    cr_assert_not_null(t, "%s: tensor is NULL: %s", name, tg_last_error());
    tu_expect_shape(t, ndim, shape);
    int64_t n = tg_numel(t);
    double *got = malloc((size_t)n * sizeof *got);
    cr_assert_eq(tg_copy_to_host(t, got, (size_t)n * sizeof *got), TG_OK, "%s", tg_last_error());
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double tol = NN_TORCH_TOL * fmax(1.0, fabs(want[i]));
        if (!(fabs(got[i] - want[i]) <= tol) && bad++ < 5)
            cr_expect(false, "%s[%lld]: got %.17g, torch %.17g (diff %.3g)", name, (long long)i,
                      got[i], want[i], got[i] - want[i]);
    }
    cr_expect_eq(bad, 0, "%s: %lld of %lld values differ from torch", name, (long long)bad,
                 (long long)n);
    free(got);
    free(want);
}

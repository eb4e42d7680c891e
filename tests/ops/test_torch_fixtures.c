// Forward values and gradients against PyTorch: every case of tests/fixtures/ops_torch.txt
// (written by tests/fixtures/gen_ops.py with torch 1.13 in f64) is rebuilt with the tapegrad
// call its key names (torch_builders.c) and compared in f64 (outputs and the gradients of
// sum(out * weight)), and its forward again in f32. Kink cases pin the subgradient
// conventions. Coverage: every case has a builder, every builder a case, and every registered
// op is recorded by some case or listed below as having no torch counterpart.
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"
#include "torch_fixture.h"

#include <criterion/parameterized.h>

TestSuite(torch_fixtures, .init = tg_clear_error);

// Relative and absolute (times the largest |value| of the array, at least 1) tolerances.
static const double F64_RTOL = 1e-10, F64_ATOL = 1e-12;
static const double F32_RTOL = 2e-5, F32_ATOL = 2e-6;

// Registered ops that no fixture case can cover, with the reason.
static const struct {
    const char *op, *why;
} no_torch_counterpart[] = {
    {"tg_custom", "a user-defined op: its math is the user's, torch has nothing to compare"},
};

// ---- fixture access ----

static const fx_case *all_cases(int *n) {
    const char *why = NULL;
    const fx_case *cases = fx_cases(n, &why);
    cr_assert_not_null(cases, "%s", why ? why : "fixture not loaded");
    return cases;
}

// The runner process counts the cases (0 when unreadable: fixture_loads then fails); each
// parameter is the first of a run of tu_cases_per_run() cases (one by default).
static struct criterion_test_params case_params(void) {
    int n = 0;
    fx_cases(&n, NULL);
    size_t runs, *starts = tu_run_starts((size_t)n, &runs);
    return cr_make_param_array(size_t, starts, runs, tu_free_run_starts);
}

// ---- tensors from fixture arrays ----

static tg_tensor *tensor_of(const fx_arr *a, tg_dtype dt, bool grad) {
    tg_tensor *t = tg_tensor_new(tu_cpu(), dt, a->ndim, a->shape);
    cr_assert_not_null(t, "tg_tensor_new: %s", tg_last_error());
    if (dt == TG_F64) {
        cr_assert_eq(tg_copy_from_host(t, a->v, (size_t)a->n * sizeof(double)), TG_OK);
    } else {
        float *f = malloc((size_t)(a->n ? a->n : 1) * sizeof *f);
        cr_assert_not_null(f);
        for (int64_t i = 0; i < a->n; i++) f[i] = (float)a->v[i];
        cr_assert_eq(tg_copy_from_host(t, f, (size_t)a->n * sizeof *f), TG_OK);
        free(f);
    }
    if (grad) cr_assert_eq(tg_set_requires_grad(t, true), TG_OK);
    return t;
}

// A host copy of t's values as doubles (caller frees).
static double *values_of(const tg_tensor *t) {
    int64_t n = tg_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    cr_assert_not_null(v);
    if (tg_dtype_of(t) == TG_F64) {
        cr_assert_eq(tg_copy_to_host(t, v, (size_t)n * sizeof *v), TG_OK, "%s", tg_last_error());
        return v;
    }
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    cr_assert_not_null(f);
    cr_assert_eq(tg_copy_to_host(t, f, (size_t)n * sizeof *f), TG_OK, "%s", tg_last_error());
    for (int64_t i = 0; i < n; i++) v[i] = f[i];
    free(f);
    return v;
}

// Expects t (shape and values) to match want; `what` names it in messages.
static void expect_matches(const fx_case *c, const char *what, const tg_tensor *t,
                           const fx_arr *want, double rtol, double atol) {
    cr_assert_not_null(t, "%s: %s is NULL: %s", c->name, what, tg_last_error());
    bool same = tg_ndim(t) == want->ndim;
    for (int d = 0; same && d < want->ndim; d++) same = tg_shape(t)[d] == want->shape[d];
    cr_assert(same, "%s: %s has ndim %d [%lld, ...], torch's has ndim %d [%lld, ...]", c->name,
              what, tg_ndim(t), tg_ndim(t) ? (long long)tg_shape(t)[0] : 0LL, want->ndim,
              want->ndim ? (long long)want->shape[0] : 0LL);
    double scale = 1.0;
    for (int64_t i = 0; i < want->n; i++)
        if (isfinite(want->v[i]) && fabs(want->v[i]) > scale) scale = fabs(want->v[i]);
    double *got = values_of(t);
    int bad = 0;
    for (int64_t i = 0; i < want->n && bad < 4; i++) {
        double g = got[i], w = want->v[i];
        bool ok = isfinite(w) ? fabs(g - w) <= rtol * fabs(w) + atol * scale
                              : (isnan(w) ? isnan(g) : g == w);
        if (!ok) bad++;
        cr_expect(ok, "%s: %s[%lld] = %.17g, torch %.17g (diff %.3g)", c->name, what,
                  (long long)i, g, w, g - w);
    }
    free(got);
}

// ---- running a case ----

typedef struct run {
    tg_tape *tape;
    tg_tensor *in[FX_MAX_IN];
    tg_tensor *out;
} run;

// Builds case c in dtype dt (inputs marked 'g' require grad when `grad`).
static run build(const fx_case *c, tg_dtype dt, bool grad) {
    const fx_builder *b = fx_builder_for(c->key);
    cr_assert_not_null(b, "%s: no builder for key '%s' in torch_builders.c", c->name, c->key);
    run r = {.tape = tg_tape_new()};
    for (int k = 0; k < c->n_in; k++)
        r.in[k] = tensor_of(&c->in[k], dt, grad && c->kind[k] == 'g');
    fx_args args = {r.in, c->n_in, c->attr, c->n_attr, dt};
    r.out = b->build(r.tape, &args);
    cr_assert_not_null(r.out, "%s: %s", c->name, tg_last_error());
    return r;
}

static void finish(run *r, const fx_case *c) {
    tg_tape_free(r->tape);
    for (int k = 0; k < c->n_in; k++) tu_free(r->in[k]);
}

ParameterizedTestParameters(torch_fixtures, f64_values_and_gradients) { return case_params(); }

static void f64_case(const fx_case *c) {
    run r = build(c, TG_F64, true);
    expect_matches(c, "output", r.out, &c->out, F64_RTOL, F64_ATOL);
    if (c->has_weight) {
        tg_tensor *w = tensor_of(&c->weight, TG_F64, false);
        tg_tensor *loss = tg_sum(r.tape, tg_mul(r.tape, r.out, w));
        cr_assert_eq(tg_backward(r.tape, loss), TG_OK, "%s: backward: %s", c->name,
                     tg_last_error());
        for (int k = 0; k < c->n_in; k++) {
            if (!c->has_grad[k]) continue;
            char what[32];
            snprintf(what, sizeof what, "grad of input %d", k);
            const tg_tensor *g = tg_grad_of(r.in[k]);
            if (g) {
                expect_matches(c, what, g, &c->grad[k], F64_RTOL, F64_ATOL);
            } else {   // no gradient reached it: torch must say zeros
                for (int64_t i = 0; i < c->grad[k].n; i++)
                    cr_expect_eq(c->grad[k].v[i], 0.0, "%s: %s: none reached the input, torch "
                                 "has %.17g at %lld", c->name, what, c->grad[k].v[i],
                                 (long long)i);
            }
        }
        tg_tape_reset(r.tape);
        tu_free(w);
    } else {
        cr_expect(!tg_requires_grad(r.out), "%s: torch's output has no gradient, ours does",
                  c->name);
    }
    finish(&r, c);
}

ParameterizedTest(size_t *idx, torch_fixtures, f64_values_and_gradients) {
    int n;
    const fx_case *cases = all_cases(&n);
    for (size_t i = *idx; i < tu_run_end(*idx, (size_t)n); i++) f64_case(&cases[i]);
}

// An input value that f32 cannot hold moves a discontinuous op's output; such cases keep
// their f64 comparison only.
static bool f32_exact(const fx_case *c) {
    for (int k = 0; k < c->n_in; k++)
        for (int64_t i = 0; i < c->in[k].n; i++)
            if ((double)(float)c->in[k].v[i] != c->in[k].v[i]) return false;
    return true;
}

// Cases tagged f64_* (KEY/f64_...) hold inputs f32 cannot (offsets at 1e15, values past
// f32's range): f64 comparison only.
static bool f64_only(const fx_case *c) { return !strncmp(c->name + strlen(c->key), "/f64_", 5); }

ParameterizedTestParameters(torch_fixtures, f32_values) { return case_params(); }

// One case in f32; a case with no f32 comparison is skipped (reported as skipped when it
// runs alone).
static void f32_case(const fx_case *c, bool alone) {
    const fx_builder *b = fx_builder_for(c->key);
    cr_assert_not_null(b, "%s: no builder for key '%s'", c->name, c->key);
    const char *skip = f64_only(c) ? "an f64-only case"
                       : b->discontinuous && !f32_exact(c)
                           ? "inputs not exact in f32 (a discontinuous op)"
                           : NULL;
    if (skip && alone) cr_skip_test("%s: %s", c->name, skip);
    if (skip) return;
    run r = build(c, TG_F32, false);
    cr_expect_eq(tg_dtype_of(r.out), TG_F32, "%s: output dtype", c->name);
    expect_matches(c, "f32 output", r.out, &c->out, F32_RTOL, F32_ATOL);
    finish(&r, c);
}

ParameterizedTest(size_t *idx, torch_fixtures, f32_values) {
    int n;
    const fx_case *cases = all_cases(&n);
    size_t end = tu_run_end(*idx, (size_t)n);
    for (size_t i = *idx; i < end; i++) f32_case(&cases[i], end - *idx == 1);
}

// ---- coverage ----

Test(torch_fixtures, fixture_loads) {
    int n;
    all_cases(&n);
    cr_expect_gt(n, 100, "only %d cases in the fixture", n);
}

Test(torch_fixtures, every_case_has_a_builder_and_every_builder_a_case) {
    int n;
    const fx_case *cases = all_cases(&n);
    for (int i = 0; i < n; i++)
        cr_expect_not_null(fx_builder_for(cases[i].key), "case %s: no builder for key '%s'",
                           cases[i].name, cases[i].key);
    for (int b = 0; b < fx_n_builders; b++) {
        bool used = false;
        for (int i = 0; i < n && !used; i++) used = !strcmp(cases[i].key, fx_builders[b].key);
        cr_expect(used, "builder '%s' has no case in the fixture", fx_builders[b].key);
        for (int j = 0; j < b; j++)
            cr_expect_str_neq(fx_builders[j].key, fx_builders[b].key, "key listed twice");
    }
}

// Marks in covered[] every op named in the DOT text of a recorded graph ("#12 tg_add\n").
static void mark_recorded(const char *dot, bool *covered) {
    for (const char *p = strstr(dot, "label=\"#"); p; p = strstr(p + 1, "label=\"#")) {
        const char *s = p + 8;
        while (*s >= '0' && *s <= '9') s++;
        if (*s++ != ' ') continue;
        size_t len = strcspn(s, "\\\"");
        for (int id = 1; id < tg_op_count(); id++) {
            const char *name = tg_op_name(id);
            if (name && strlen(name) == len && !strncmp(name, s, len)) covered[id] = true;
        }
    }
}

// An op counts as covered when a builder declares it (forward-only ops are never recorded)
// or when it shows up in the graph some case records in f64.
Test(torch_fixtures, every_op_has_a_torch_case) {
    int n, n_ops = tg_op_count();
    const fx_case *cases = all_cases(&n);
    bool *covered = calloc((size_t)n_ops, sizeof *covered);
    cr_assert_not_null(covered);
    for (int i = 0; i < n; i++) {
        const fx_builder *b = fx_builder_for(cases[i].key);
        if (!b) continue;   // reported by the test above
        for (int id = 1; b->op && id < n_ops; id++)
            if (tg_op_name(id) && !strcmp(tg_op_name(id), b->op)) covered[id] = true;
        run r = build(&cases[i], TG_F64, true);
        char *dot = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&dot, &len);
        cr_assert_not_null(f);
        cr_assert_eq(tg_tape_dot(r.tape, f), TG_OK, "%s", tg_last_error());
        fclose(f);
        mark_recorded(dot, covered);
        free(dot);
        finish(&r, &cases[i]);
    }
    size_t n_skip = sizeof no_torch_counterpart / sizeof no_torch_counterpart[0];
    for (int id = 1; id < n_ops; id++) {
        const char *name = tg_op_name(id);
        bool listed = false;
        for (size_t k = 0; k < n_skip && name; k++)
            listed |= !strcmp(no_torch_counterpart[k].op, name);
        cr_expect(covered[id] || listed, "op %s (id %d) has no case in ops_torch.txt and is not "
                  "listed as having no torch counterpart", name ? name : "?", id);
        cr_expect(!(covered[id] && listed), "op %s is listed as uncovered but a case covers it",
                  name ? name : "?");
    }
    free(covered);
}

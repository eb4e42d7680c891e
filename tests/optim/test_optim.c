// Tests for optim/optim.c and optim/schedule.c. Every optimizer variant in
// tests/fixtures/optim_parity.txt (written by gen_optim.py with torch 1.13) is replayed in
// f64 for 20 steps and compared with torch after each step; the fixture also carries the
// hyper-parameters, torch's defaults and clip_grad_norm_/clip_grad_value_ results, so it is
// the one source of truth. Schedules and early stopping are checked against hand values.
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

#include <criterion/parameterized.h>

#ifndef TG_FIXTURES
#error "TG_FIXTURES (the tests/fixtures directory) must be defined by the build"
#endif
#define FIXTURE TG_FIXTURES "/optim_parity.txt"

enum { N_STEPS = 20, MAX_VARIANTS = 64, MAX_VALUES = 64 };
static const double PARITY_RTOL = 1e-10;

// Every test here counts allocations of its training steps: checked mode off.
static void optim_init(void) {
    tg_clear_error();
    tu_unchecked();
}
TestSuite(optim, .init = optim_init);

// ---- fixture file ----

// The fixture's lines, loaded once per process (also in the runner, to count variants, so
// no Criterion assertion here); NULL when unreadable (errno says why). Lines are short.
static char **fx_lines(int *n_lines) {
    static char **lines;
    static int n;
    if (!lines) {
        FILE *f = fopen(FIXTURE, "r");
        if (!f) return NULL;
        char buf[16384];
        int cap = 0;
        while (fgets(buf, sizeof buf, f)) {
            size_t len = strcspn(buf, "\n");
            buf[len] = '\0';
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                char **grown = realloc(lines, (size_t)cap * sizeof *lines);
                if (!grown) break;
                lines = grown;
            }
            if (!(lines[n] = malloc(len + 1))) break;
            memcpy(lines[n++], buf, len + 1);
        }
        fclose(f);
    }
    *n_lines = n;
    return lines;
}

static char **fx_lines_or_fail(int *n) {
    char **lines = fx_lines(n);
    cr_assert_not_null(lines, "cannot read %s: %s (run tests/fixtures/gen_optim.py)", FIXTURE,
                       strerror(errno));
    return lines;
}

// The rest of the line that starts with the formatted prefix (plus a space), or NULL.
static const char *fx_find(const char *fmt, ...) {
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t len = strlen(prefix);
    int n;
    char **lines = fx_lines_or_fail(&n);
    for (int i = 0; i < n; i++)
        if (!strncmp(lines[i], prefix, len) && lines[i][len] == ' ') return lines[i] + len + 1;
    return NULL;
}

// Parses whitespace-separated numbers into out[]; returns how many.
static int fx_numbers(const char *s, double *out, int cap) {
    int k = 0;
    char *end;
    for (double v = strtod(s, &end); end != s; v = strtod(s, &end)) {
        cr_assert_lt(k, cap, "too many numbers in fixture line");
        out[k++] = v;
        s = end;
    }
    return k;
}

// Values of a record found by prefix; asserts the record exists and has `want` numbers.
static void fx_values(double *out, int want, const char *fmt, const char *a, const char *b) {
    char prefix[256];
    snprintf(prefix, sizeof prefix, fmt, a, b);
    const char *rest = fx_find("%s", prefix);
    cr_assert_not_null(rest, "fixture has no record '%s'", prefix);
    int k = fx_numbers(rest, out, MAX_VALUES);
    cr_assert_eq(k, want, "record '%s' has %d values, expected %d", prefix, k, want);
}

// "tensor NAME NDIM D.. V.." as a persistent f64 tensor (requires_grad when `grad`).
static tg_tensor *fx_tensor(const char *name, bool grad) {
    const char *rest = fx_find("tensor %s", name);
    cr_assert_not_null(rest, "fixture has no tensor %s", name);
    double v[MAX_VALUES + 9];
    int k = fx_numbers(rest, v, MAX_VALUES + 9);
    int ndim = (int)v[0];
    int64_t shape[8], numel = 1;
    cr_assert(ndim >= 1 && ndim <= 8 && k > ndim);
    for (int i = 0; i < ndim; i++) numel *= shape[i] = (int64_t)v[1 + i];
    cr_assert_eq(k, 1 + ndim + numel, "tensor %s: bad value count", name);
    return tu_f64(ndim, shape, v + 1 + ndim, grad);
}

// Name and kind of the idx-th "variant" record, and the rest of its line (key=value ...).
static const char *fx_variant(int idx, char *name, size_t name_cap, tg_optim_kind *kind) {
    int n, seen = 0;
    char **lines = fx_lines_or_fail(&n);
    for (int i = 0; i < n; i++) {
        if (strncmp(lines[i], "variant ", 8) || seen++ != idx) continue;
        char nm[64], kn[32];
        int used = 0;
        cr_assert_eq(sscanf(lines[i] + 8, "%63s %31s %n", nm, kn, &used), 2);
        snprintf(name, name_cap, "%s", nm);
        *kind = TG_OPTIM_KIND_COUNT;
        for (int k = 0; k < TG_OPTIM_KIND_COUNT; k++)
            if (!strcmp(kn, tg_optim_kind_name((tg_optim_kind)k))) *kind = (tg_optim_kind)k;
        cr_assert_neq(*kind, TG_OPTIM_KIND_COUNT, "variant %s: unknown kind %s", nm, kn);
        return lines[i] + 8 + used;
    }
    cr_assert_fail("fixture has no variant #%d", idx);
    return NULL;
}

static int fx_count(const char *kind) {
    int n, c = 0;
    char **lines = fx_lines(&n);
    for (int i = 0; lines && i < n; i++) c += !strncmp(lines[i], kind, strlen(kind));
    return c;
}

// The tg_optim_opts field a torch hyper-parameter name maps to: a double (returned) or a
// bool (*flag); NULL and no flag for an unknown name.
static double *opts_field(tg_optim_opts *o, const char *key, bool **flag) {
    static const struct { const char *key; size_t off; } doubles[] = {
        {"lr", offsetof(tg_optim_opts, lr)},
        {"weight_decay", offsetof(tg_optim_opts, weight_decay)},
        {"momentum", offsetof(tg_optim_opts, momentum)},
        {"dampening", offsetof(tg_optim_opts, dampening)},
        {"beta1", offsetof(tg_optim_opts, beta1)},
        {"beta2", offsetof(tg_optim_opts, beta2)},
        {"eps", offsetof(tg_optim_opts, eps)},
        {"alpha", offsetof(tg_optim_opts, alpha)},
        {"rho", offsetof(tg_optim_opts, rho)},
        {"lr_decay", offsetof(tg_optim_opts, lr_decay)},
        {"initial_accumulator_value", offsetof(tg_optim_opts, initial_accumulator_value)},
        {"momentum_decay", offsetof(tg_optim_opts, momentum_decay)},
    };
    *flag = !strcmp(key, "nesterov") ? &o->nesterov
          : !strcmp(key, "amsgrad")  ? &o->amsgrad
          : !strcmp(key, "centered") ? &o->centered
                                     : NULL;
    for (size_t i = 0; !*flag && i < sizeof doubles / sizeof doubles[0]; i++)
        if (!strcmp(key, doubles[i].key)) return (double *)((char *)o + doubles[i].off);
    return NULL;
}

// Applies "key=value ..." to *o. With `check`, compares instead of assigning (defaults test).
static void apply_hyper(tg_optim_opts *o, const char *s, bool check, const char *who) {
    char key[64];
    double v;
    int used;
    while (sscanf(s, " %63[^=]=%lf%n", key, &v, &used) == 2) {
        s += used;
        bool *flag;
        double *field = opts_field(o, key, &flag);
        cr_assert(field || flag, "%s: unknown hyper-parameter '%s'", who, key);
        if (check && field)
            cr_expect_eq(*field, v, "%s: default %s is %.17g, torch has %.17g", who, key, *field, v);
        else if (check)
            cr_expect_eq(*flag, v != 0, "%s: default %s differs from torch", who, key);
        else if (field)
            *field = v;
        else
            *flag = v != 0;
    }
    cr_assert_eq(s[strspn(s, " ")], '\0', "%s: cannot parse hyper-parameters at '%s'", who, s);
}

// ---- the problem: Y = X W^T + b, loss = mean((Y-T)^2) + 0.1 mean(tanh Y) + 0.01 sum(W^4) ----

typedef struct problem {
    tg_tensor *X, *T;     // X: [5, 4]   T: [5, 3]
    tg_tensor *p[2];      // W: [3, 4]   b: [3]   (parameters, initial values)
    tg_tape *tape;
} problem;

static const char *const PNAMES[2] = {"W", "b"};

static problem problem_new(void) {
    problem pb = {.X = fx_tensor("X", false), .T = fx_tensor("T", false),
                  .p = {fx_tensor("W", true), fx_tensor("b", true)}, .tape = tg_tape_new()};
    cr_assert(pb.X && pb.T && pb.p[0] && pb.p[1] && pb.tape, "%s", tg_last_error());
    return pb;
}

static void problem_free(problem *pb) {
    tg_tape_free(pb->tape);
    tu_free(pb->X);
    tu_free(pb->T);
    tu_free(pb->p[0]);
    tu_free(pb->p[1]);
}

// One forward + backward pass (grads accumulate into W and b).
static void problem_backward(problem *pb) {
    tg_tape *t = pb->tape;
    tg_tensor *W = pb->p[0];
    tg_tensor *Y = tg_add(t, tg_matmul_ex(t, pb->X, W, false, true), pb->p[1]);   // [5, 3]
    tg_tensor *d = tg_sub(t, Y, pb->T);
    tg_tensor *mse = tg_mean(t, tg_mul(t, d, d));
    tg_tensor *th = tg_mul_scalar(t, tg_mean(t, tg_tanh(t, Y)), 0.1);
    tg_tensor *w4 = tg_mul_scalar(t, tg_sum(t, tg_pow_scalar(t, W, 4.0)), 0.01);
    tg_tensor *loss = tg_add(t, tg_add(t, mse, th), w4);
    cr_assert_not_null(loss, "loss: %s", tg_last_error());
    cr_assert_eq(tg_backward(t, loss), TG_OK, "tg_backward: %s", tg_last_error());
}

// max|a - b| / max|b| over n values (the per-tensor relative error).
static double rel_err(const double *a, const double *b, int n) {
    double num = 0, den = 1e-300;
    for (int i = 0; i < n; i++) {
        num = fmax(num, fabs(a[i] - b[i]));
        den = fmax(den, fabs(b[i]));
    }
    return num / den;
}

// Relative error of tensor t against the record "<fmt a b>". With `base` (n values), both
// sides are taken relative to it first (an update's error, not the parameter's).
static double tensor_err_ex(const tg_tensor *t, const double *base, const char *fmt,
                            const char *a, const char *b) {
    int n = (int)tg_numel(t);
    double got[MAX_VALUES], want[MAX_VALUES];
    cr_assert(n <= MAX_VALUES);
    cr_assert_eq(tg_copy_to_host(t, got, (size_t)n * sizeof(double)), TG_OK);
    fx_values(want, n, fmt, a, b);
    for (int i = 0; base && i < n; i++) {
        got[i] -= base[i];
        want[i] -= base[i];
    }
    return rel_err(got, want, n);
}

static double tensor_err(const tg_tensor *t, const char *fmt, const char *a, const char *b) {
    return tensor_err_ex(t, NULL, fmt, a, b);
}

// Worst relative errors of a replay: of the parameters, and of their displacement from the
// initial values (which sees a wrong update even when the step is small next to |p|).
typedef struct errs {
    double param, update;
} errs;

// Runs `opt` over the problem for N_STEPS and compares with the fixture's trajectory of
// variant `name` after every step (both errors <= PARITY_RTOL); also checks that no step
// after the first allocates.
static errs replay(problem *pb, tg_optim *opt, const char *name) {
    cr_assert_not_null(opt, "%s: tg_optim_new failed: %s", name, tg_last_error());
    errs worst = {0, 0};
    double p0[2][MAX_VALUES];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(tg_copy_to_host(pb->p[i], p0[i], (size_t)tg_numel(pb->p[i]) * 8), TG_OK);
    uint64_t steady = 0;
    for (int s = 1; s <= N_STEPS; s++) {
        cr_assert_eq(tg_optim_zero_grad(opt), TG_OK, "%s", tg_last_error());
        problem_backward(pb);
        uint64_t before = tg_alloc_count();
        cr_assert_eq(tg_optim_step(opt), TG_OK, "%s step %d: %s", name, s, tg_last_error());
        uint64_t after = tg_alloc_count();
        tg_tape_reset(pb->tape);
        if (s == 1) {
            steady = tg_alloc_count();
        } else {
            cr_expect_eq(after, before, "%s step %d: tg_optim_step made %llu allocations", name,
                         s, (unsigned long long)(after - before));
            cr_expect_eq(tg_alloc_count(), steady, "%s step %d: the training step allocated",
                         name, s);
        }
        char step[16];
        snprintf(step, sizeof step, "%d", s);
        for (int i = 0; i < 2; i++) {
            char fmt[96];
            snprintf(fmt, sizeof fmt, "param %%s %%s %s", PNAMES[i]);
            double e = tensor_err(pb->p[i], fmt, name, step);
            double u = tensor_err_ex(pb->p[i], p0[i], fmt, name, step);
            cr_expect_leq(e, PARITY_RTOL, "%s step %d param %s: relative error %.3g vs torch",
                          name, s, PNAMES[i], e);
            cr_expect_leq(u, PARITY_RTOL, "%s step %d param %s: relative error of the update "
                          "%.3g vs torch", name, s, PNAMES[i], u);
            worst.param = fmax(worst.param, e);
            worst.update = fmax(worst.update, u);
        }
    }
    return worst;
}

// ---- parity with torch.optim, one test per fixture variant ----

ParameterizedTestParameters(optim, torch_parity) {
    static size_t idx[MAX_VARIANTS];
    size_t n = (size_t)fx_count("variant ");
    if (n > MAX_VARIANTS) n = MAX_VARIANTS;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    return cr_make_param_array(size_t, idx, n);
}

ParameterizedTest(size_t *idx, optim, torch_parity) {
    char name[64];
    tg_optim_kind kind;
    const char *hyper = fx_variant((int)*idx, name, sizeof name, &kind);
    tg_optim_opts o = tg_optim_opts_default(kind);
    apply_hyper(&o, hyper, false, name);
    problem pb = problem_new();
    tg_optim *opt = tg_optim_new(kind, 2, pb.p, &o);
    errs worst = replay(&pb, opt, name);
    cr_log_info("%-26s max relative error over %d steps: parameters %.3g, updates %.3g", name,
                N_STEPS, worst.param, worst.update);
    tg_optim_free(opt);
    problem_free(&pb);
}

Test(optim, fixture_covers_every_kind) {
    int n;
    fx_lines_or_fail(&n);
    cr_expect_geq(fx_count("variant "), 25);
    cr_expect_leq(fx_count("variant "), MAX_VARIANTS);
    for (int k = 0; k < TG_OPTIM_KIND_COUNT; k++) {
        bool found = false;
        char nm[64];
        tg_optim_kind kind;
        for (int i = 0; i < fx_count("variant "); i++) {
            fx_variant(i, nm, sizeof nm, &kind);
            found |= kind == (tg_optim_kind)k;
        }
        cr_expect(found, "no fixture variant for %s", tg_optim_kind_name((tg_optim_kind)k));
        cr_expect_not_null(fx_find("defaults %s", tg_optim_kind_name((tg_optim_kind)k)));
    }
}

Test(optim, defaults_match_torch) {
    for (int k = 0; k < TG_OPTIM_KIND_COUNT; k++) {
        const char *kn = tg_optim_kind_name((tg_optim_kind)k);
        const char *rest = fx_find("defaults %s", kn);
        cr_assert_not_null(rest, "no defaults for %s", kn);
        tg_optim_opts o = tg_optim_opts_default((tg_optim_kind)k);
        apply_hyper(&o, rest, true, kn);
    }
}

Test(optim, shorthands_match_torch) {
    problem pb = problem_new();
    tg_optim *opt = tg_adam(2, pb.p, 0.05);
    replay(&pb, opt, "adam");
    tg_optim_free(opt);
    problem_free(&pb);
    pb = problem_new();
    opt = tg_sgd(2, pb.p, 0.05, 0.9);
    replay(&pb, opt, "sgd_momentum");
    tg_optim_free(opt);
    problem_free(&pb);
}

// A parameter that never gets a grad is skipped (left as it is); the others still follow
// torch exactly.
Test(optim, params_without_grad_are_skipped) {
    problem pb = problem_new();
    tg_tensor *unused = fx_tensor("b", true);
    tg_tensor *ps[3] = {pb.p[0], unused, pb.p[1]};
    tg_optim_opts o = tg_optim_opts_default(TG_OPTIM_ADAM);
    o.lr = 0.05;
    tg_optim *opt = tg_optim_new(TG_OPTIM_ADAM, 3, ps, &o);
    replay(&pb, opt, "adam");
    cr_expect_null(tg_grad_of(unused));
    cr_expect_leq(tensor_err(unused, "tensor %s %s", "b", "1 3"), 0.0);
    tg_optim_free(opt);
    tu_free(unused);
    problem_free(&pb);
}

Test(optim, backward_gradient_matches_torch) {
    problem pb = problem_new();
    problem_backward(&pb);
    for (int i = 0; i < 2; i++) {
        double e = tensor_err(tg_grad_of(pb.p[i]), "grad0 %s%s", PNAMES[i], "");
        cr_expect_leq(e, 1e-13, "grad of %s: relative error %.3g", PNAMES[i], e);
    }
    tg_tape_reset(pb.tape);
    problem_free(&pb);
}

Test(optim, set_lr_and_accessors) {
    problem pb = problem_new();
    tg_optim *opt = tg_sgd(2, pb.p, 0.5, 0.0);
    cr_assert_not_null(opt, "%s", tg_last_error());
    cr_expect_eq(tg_optim_lr(opt), 0.5);
    cr_expect_eq(tg_optim_set_lr(opt, 0.05), TG_OK);
    cr_expect_eq(tg_optim_lr(opt), 0.05);
    replay(&pb, opt, "sgd");   // the new lr is the one used
    tg_clear_error();
    cr_expect_eq(tg_optim_set_lr(opt, -1.0), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_optim_set_lr", NULL);
    tg_clear_error();
    cr_expect_eq(tg_optim_set_lr(opt, NAN), TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_optim_lr(opt), 0.05);
    tg_clear_error();
    cr_expect(isnan(tg_optim_lr(NULL)));
    cr_expect_eq(tg_optim_step(NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_optim_zero_grad(NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_optim_free(NULL);
    for (int k = 0; k < TG_OPTIM_KIND_COUNT; k++)
        cr_expect_str_neq(tg_optim_kind_name((tg_optim_kind)k), "?");
    cr_expect_str_eq(tg_optim_kind_name(TG_OPTIM_KIND_COUNT), "?");
    cr_expect_str_eq(tg_optim_kind_name((tg_optim_kind)-1), "?");
    tg_optim_free(opt);
    problem_free(&pb);
}

// ---- bad arguments to tg_optim_new ----

static void expect_refused(tg_optim_kind kind, int n, tg_tensor *const *ps, const tg_optim_opts *o,
                           const char *needle) {
    tg_clear_error();
    tg_optim *opt = tg_optim_new(kind, n, ps, o);
    cr_expect_null(opt, "tg_optim_new accepted bad arguments (%s)", needle);
    tg_optim_free(opt);
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG, "status %d: %s", tg_last_status(),
                 tg_last_error());
    tu_expect_error("tg_optim_new", needle);
    tg_clear_error();
}

Test(optim, new_refuses_bad_arguments) {
    problem pb = problem_new();
    tg_tensor *with_null[2] = {pb.p[0], NULL};
    expect_refused(TG_OPTIM_ADAM, 0, pb.p, NULL, "n > 0");
    expect_refused(TG_OPTIM_ADAM, -3, pb.p, NULL, "n > 0");
    expect_refused(TG_OPTIM_ADAM, 2, NULL, NULL, NULL);
    expect_refused((tg_optim_kind)-1, 2, pb.p, NULL, "kind");
    expect_refused(TG_OPTIM_KIND_COUNT, 2, pb.p, NULL, "kind");
    expect_refused(TG_OPTIM_SGD, 2, with_null, NULL, "parameter 1 is NULL");
    tg_tensor *step = tg_add(pb.tape, pb.p[1], pb.p[1]);
    tg_tensor *with_step[2] = {pb.p[0], step};
    expect_refused(TG_OPTIM_SGD, 2, with_step, NULL, "step tensor");
    tg_tape_reset(pb.tape);
    tg_tensor *twice[3] = {pb.p[0], pb.p[1], pb.p[0]};   // would be updated twice a step
    expect_refused(TG_OPTIM_ADAM, 3, twice, NULL, "parameter 2 is parameter 0 again");

    static const struct { tg_optim_kind kind; const char *field; double value; } bad[] = {
        {TG_OPTIM_SGD, "lr", -0.1},           {TG_OPTIM_ADAM, "lr", NAN},
        {TG_OPTIM_ADAM, "eps", -1e-8},        {TG_OPTIM_ADAM, "beta1", 1.0},
        {TG_OPTIM_ADAM, "beta1", -0.1},       {TG_OPTIM_NADAM, "beta2", 1.5},
        {TG_OPTIM_ADAMAX, "beta2", -0.5},     {TG_OPTIM_SGD, "weight_decay", -0.01},
        {TG_OPTIM_ADAMW, "weight_decay", -1}, {TG_OPTIM_SGD, "momentum", -0.9},
        {TG_OPTIM_RMSPROP, "momentum", -0.9}, {TG_OPTIM_RMSPROP, "alpha", -0.5},
        {TG_OPTIM_ADADELTA, "rho", 1.5},      {TG_OPTIM_ADADELTA, "rho", -0.1},
        {TG_OPTIM_ADAGRAD, "lr_decay", -0.1}, {TG_OPTIM_ADAGRAD, "initial_accumulator_value", -1},
        {TG_OPTIM_NADAM, "momentum_decay", -4e-3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_optim_opts o = tg_optim_opts_default(bad[i].kind);
        bool *flag;
        *opts_field(&o, bad[i].field, &flag) = bad[i].value;
        expect_refused(bad[i].kind, 2, pb.p, &o, bad[i].field);
    }
    tg_optim_opts o = tg_optim_opts_default(TG_OPTIM_SGD);
    o.nesterov = true;   // needs momentum > 0
    expect_refused(TG_OPTIM_SGD, 2, pb.p, &o, "nesterov");
    o.momentum = 0.9;
    o.dampening = 0.1;   // and dampening 0
    expect_refused(TG_OPTIM_SGD, 2, pb.p, &o, "nesterov");
    o.dampening = 0;
    tg_optim *ok = tg_optim_new(TG_OPTIM_SGD, 2, pb.p, &o);
    cr_expect_not_null(ok, "%s", tg_last_error());
    tg_optim_free(ok);
    problem_free(&pb);
}

// ---- gradient clipping ----

Test(optim, clip_grad_norm_matches_torch) {
    const double max_norms[3] = {0.1, 1.0, 1000.0};
    const char *labels[3] = {"0.10000000000000001", "1", "1000"};
    for (int k = 0; k < 3; k++) {
        problem pb = problem_new();
        problem_backward(&pb);
        tg_tape_reset(pb.tape);
        double total = -1, want;
        cr_assert_eq(tg_clip_grad_norm(pb.tape, 2, pb.p, max_norms[k], &total), TG_OK, "%s",
                     tg_last_error());
        fx_values(&want, 1, "clip_norm %s%s", labels[k], "");
        cr_expect_leq(fabs(total - want) / want, 1e-13, "total norm %.17g, torch %.17g", total,
                      want);
        for (int i = 0; i < 2; i++) {
            double e = tensor_err(tg_grad_of(pb.p[i]), "clip_norm_grad %s %s", labels[k],
                                  PNAMES[i]);
            cr_expect_leq(e, 1e-13, "max_norm %g, grad %s: relative error %.3g", max_norms[k],
                          PNAMES[i], e);
        }
        uint64_t before = tg_alloc_count();   // the reduction reuses the tape's memory
        tg_tape_reset(pb.tape);
        cr_expect_eq(tg_clip_grad_norm(pb.tape, 2, pb.p, max_norms[k], NULL), TG_OK);
        tg_tape_reset(pb.tape);
        cr_expect_eq(tg_alloc_count(), before, "tg_clip_grad_norm allocated in steady state");
        problem_free(&pb);
    }
}

Test(optim, clip_grad_norm_skips_missing_grads_and_checks_args) {
    problem pb = problem_new();
    tg_tensor *lone = fx_tensor("b", true);   // never gets a grad
    tg_tensor *ps[3] = {lone, pb.p[0], pb.p[1]};
    problem_backward(&pb);
    tg_tape_reset(pb.tape);
    double total, want;
    cr_assert_eq(tg_clip_grad_norm(pb.tape, 3, ps, 0.1, &total), TG_OK, "%s", tg_last_error());
    fx_values(&want, 1, "clip_norm %s%s", "0.10000000000000001", "");
    cr_expect_leq(fabs(total - want) / want, 1e-13);
    cr_expect_null(tg_grad_of(lone));
    cr_expect_eq(tg_clip_grad_norm(NULL, 2, pb.p, 1.0, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_clip_grad_norm", NULL);
    tg_clear_error();
    cr_expect_eq(tg_clip_grad_norm(pb.tape, 0, pb.p, 1.0, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_clip_grad_norm(pb.tape, 2, NULL, 1.0, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_clip_grad_norm(pb.tape, 2, pb.p, 0.0, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_clip_grad_norm(pb.tape, 2, pb.p, NAN, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_tape_reset(pb.tape);
    tu_free(lone);
    problem_free(&pb);
}

Test(optim, clip_grad_value_matches_torch) {
    const double clips[2] = {0.05, 10.0};
    const char *labels[2] = {"0.050000000000000003", "10"};
    for (int k = 0; k < 2; k++) {
        problem pb = problem_new();
        problem_backward(&pb);
        tg_tape_reset(pb.tape);
        uint64_t before = tg_alloc_count();
        cr_assert_eq(tg_clip_grad_value(2, pb.p, clips[k]), TG_OK, "%s", tg_last_error());
        cr_expect_eq(tg_alloc_count(), before);
        for (int i = 0; i < 2; i++) {
            double e = tensor_err(tg_grad_of(pb.p[i]), "clip_value %s %s", labels[k], PNAMES[i]);
            cr_expect_leq(e, 1e-13, "clip %g, grad %s: relative error %.3g", clips[k],
                          PNAMES[i], e);
        }
        problem_free(&pb);
    }
    tg_clear_error();
    cr_expect_eq(tg_clip_grad_value(0, NULL, 1.0), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_clip_grad_value", NULL);
    tg_clear_error();
    tg_tensor *x = fx_tensor("b", true);   // no grad yet: skipped
    cr_expect_eq(tg_clip_grad_value(1, &x, -1.0), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_clip_grad_value(1, &x, 1.0), TG_OK);
    tu_free(x);
}

// ---- learning-rate schedules ----

static void expect_lr(const tg_lr_schedule *s, int epoch, double want) {
    double got = tg_lr_at(s, epoch);
    cr_expect(fabs(got - want) <= 1e-15 * fabs(want), "kind %d, epoch %d: lr %.17g, want %.17g",
              (int)s->kind, epoch, got, want);
}

Test(optim, lr_schedules) {
    tg_lr_schedule c = {.kind = TG_LR_CONSTANT, .base_lr = 0.1};
    expect_lr(&c, 0, 0.1);
    expect_lr(&c, 1000, 0.1);

    tg_lr_schedule st = {.kind = TG_LR_STEP, .base_lr = 0.1, .gamma = 0.5, .step_size = 3};
    const double step_want[8] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025};
    for (int e = 0; e < 8; e++) expect_lr(&st, e, step_want[e]);

    tg_lr_schedule ex = {.kind = TG_LR_EXPONENTIAL, .base_lr = 0.1, .gamma = 0.9};
    expect_lr(&ex, 0, 0.1);
    expect_lr(&ex, 1, 0.09);
    expect_lr(&ex, 2, 0.081);
    expect_lr(&ex, 3, 0.0729);

    tg_lr_schedule is = {.kind = TG_LR_INV_SQRT, .base_lr = 0.1};
    expect_lr(&is, 0, 0.1);   // max(epoch, 1)
    expect_lr(&is, 1, 0.1);
    expect_lr(&is, 4, 0.05);
    expect_lr(&is, 16, 0.025);

    tg_lr_schedule it = {.kind = TG_LR_INV_TIME, .base_lr = 0.1, .decay = 0.5};
    expect_lr(&it, 0, 0.1);
    expect_lr(&it, 2, 0.05);
    expect_lr(&it, 6, 0.025);

    // eta_min + (lr - eta_min)(1 + cos(pi e / T)) / 2, periodic past t_max like torch's
    // closed form
    tg_lr_schedule co = {.kind = TG_LR_COSINE, .base_lr = 0.1, .t_max = 10, .eta_min = 0.01};
    expect_lr(&co, 0, 0.1);
    expect_lr(&co, 5, 0.055);
    expect_lr(&co, 10, 0.01);
    expect_lr(&co, 20, 0.1);
    tg_lr_schedule co4 = co;
    co4.t_max = 4;
    expect_lr(&co4, 1, 0.01 + 0.09 * (1 + sqrt(0.5)) / 2);   // cos(pi / 4)

    // Warm-up: lr (e + 1) / w for e < w, then the schedule at e - w.
    tg_lr_schedule wu = st;
    wu.step_size = 2;
    wu.warmup = 4;
    const double wu_want[9] = {0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025};
    for (int e = 0; e < 9; e++) expect_lr(&wu, e, wu_want[e]);
    tg_lr_schedule wc = co;
    wc.warmup = 2;
    expect_lr(&wc, 0, 0.05);
    expect_lr(&wc, 1, 0.1);
    expect_lr(&wc, 2, 0.1);
    expect_lr(&wc, 7, 0.055);
    expect_lr(&wc, 12, 0.01);
}

// Issue 11: the NaN used to come without an error; now each sets one naming tg_lr_at.
static void expect_lr_error(const tg_lr_schedule *s, int epoch, const char *why) {
    tg_clear_error();
    cr_expect(isnan(tg_lr_at(s, epoch)), "%s", why);
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG, "%s", why);
    cr_expect(strstr(tg_last_error(), "tg_lr_at: ") == tg_last_error() &&
                  strstr(tg_last_error(), why),
              "'%s' lacks '%s'", tg_last_error(), why);
    tg_clear_error();
}

Test(optim, lr_schedule_bad_arguments_give_nan) {
    expect_lr_error(NULL, 0, "schedule is NULL");
    tg_lr_schedule c = {.kind = TG_LR_CONSTANT, .base_lr = 0.1};
    expect_lr_error(&c, -1, "epoch -1");
    tg_lr_schedule st = {.kind = TG_LR_STEP, .base_lr = 0.1, .gamma = 0.5, .step_size = 0};
    expect_lr_error(&st, 3, "step_size > 0");
    tg_lr_schedule co = {.kind = TG_LR_COSINE, .base_lr = 0.1, .t_max = 0};
    expect_lr_error(&co, 3, "t_max > 0");
    tg_lr_schedule bad = {.kind = TG_LR_KIND_COUNT, .base_lr = 0.1};
    expect_lr_error(&bad, 0, "not a tg_lr_kind");
}

Test(optim, early_stop_bad_arguments_set_an_error) {
    tg_clear_error();
    tg_early_stop es = tg_early_stop_init(-1, 0.0, false);
    cr_expect_eq(es.patience, -1);
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG, "%s", tg_last_error());
    tg_clear_error();
    (void)tg_early_stop_init(1, NAN, false);
    cr_expect(strstr(tg_last_error(), "tg_early_stop_init: ") != NULL, "%s", tg_last_error());
    tg_clear_error();
    cr_expect(tg_early_stop_update(NULL, 1.0, NULL));
    cr_expect(strstr(tg_last_error(), "tg_early_stop_update: ") != NULL, "%s", tg_last_error());
    tg_clear_error();
}

// ---- early stopping ----

// Feeds metrics[0..n) and checks the stop flag and `improved` after each epoch.
static void feed(tg_early_stop *es, int n, const double *metrics, const bool *stop,
                 const bool *improved) {
    for (int i = 0; i < n; i++) {
        bool imp = !improved[i];
        bool s = tg_early_stop_update(es, metrics[i], &imp);
        cr_expect_eq(s, stop[i], "epoch %d (metric %g): stop %d, want %d", i, metrics[i], s,
                     stop[i]);
        cr_expect_eq(imp, improved[i], "epoch %d (metric %g): improved %d, want %d", i,
                     metrics[i], imp, improved[i]);
    }
}

Test(optim, early_stop_patience) {
    // patience 2: two epochs without improvement are tolerated, the third stops
    tg_early_stop es = tg_early_stop_init(2, 0.0, false);
    cr_expect(isinf(es.best) && es.best > 0);
    const double m[6] = {1.0, 0.9, 0.95, 0.9, 0.92, 0.5};
    const bool stop[6] = {false, false, false, false, true, false};
    const bool imp[6] = {true, true, false, false, false, true};
    feed(&es, 6, m, stop, imp);
    cr_expect_eq(es.best, 0.5);
    cr_expect_eq(es.best_epoch, 5);
    cr_expect_eq(es.bad_epochs, 0);
    cr_expect_eq(es.epoch, 6);

    tg_early_stop z = tg_early_stop_init(0, 0.0, false);   // patience 0: first miss stops
    const double m0[2] = {1.0, 1.0};
    const bool s0[2] = {false, true}, i0[2] = {true, false};
    feed(&z, 2, m0, s0, i0);
    cr_expect(tg_early_stop_update(&z, 2.0, NULL));   // improved may be NULL
}

Test(optim, early_stop_min_delta_and_maximize) {
    tg_early_stop es = tg_early_stop_init(1, 0.1, false);
    const double m[5] = {1.0, 0.95, 0.85, 0.8, 0.76};
    const bool stop[5] = {false, false, false, false, true};
    const bool imp[5] = {true, false, true, false, false};   // < best - 0.1 counts
    feed(&es, 5, m, stop, imp);
    cr_expect_eq(es.best, 0.85);
    cr_expect_eq(es.best_epoch, 2);

    tg_early_stop mx = tg_early_stop_init(1, 0.01, true);
    cr_expect(isinf(mx.best) && mx.best < 0);
    const double a[6] = {0.5, 0.6, 0.605, 0.62, 0.61, 0.625};   // > best + 0.01 counts
    const bool sa[6] = {false, false, false, false, false, true};
    const bool ia[6] = {true, true, false, true, false, false};
    feed(&mx, 6, a, sa, ia);
    cr_expect_eq(mx.best, 0.62);
    cr_expect_eq(mx.best_epoch, 3);

    tg_early_stop nan_es = tg_early_stop_init(0, 0.0, false);   // NaN never improves
    bool imp_nan = true;
    cr_expect(tg_early_stop_update(&nan_es, NAN, &imp_nan));
    cr_expect_not(imp_nan);
}

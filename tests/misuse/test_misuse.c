// The misuse suite's harness (misuse.h): fixture, checks and the tally, plus the scenarios
// of error.h, defs.h and the tape (tape.h). Criterion runs each test in a worker process, so
// the checks append one line per scenario to a file named in $TG_MISUSE_TALLY that the
// runner creates before the tests and sums afterwards: "misuse: N scenarios, N clean errors".
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "misuse.h"

mu_fixture mu;

// ---- fixture ----

void mu_setup(void) {
    tg_clear_error();
    const float v[6] = {0.5f, 1, 1.5f, 2, 2.5f, 3};
    const double w[6] = {1, 2, 3, 4, 5, 6};
    const float lab[2] = {0, 1};
    mu.be = tg_backend_get("cpu");
    mu.tape = tg_tape_new();
    mu.rng = tg_rng_new(7);
    mu.a = tg_param(mu.be, TG_F32, 2, (int64_t[]){2, 3}, v);
    mu.b = tg_param(mu.be, TG_F32, 2, (int64_t[]){2, 3}, v);
    mu.d = tg_tensor_from(mu.be, TG_F64, 2, (int64_t[]){2, 3}, w);
    mu.s = tg_scalar(mu.be, TG_F32, 2);
    mu.lab = tg_tensor_from(mu.be, TG_F32, 1, (int64_t[]){2}, lab);
    mu.m = tg_tensor_from(mu.be, TG_F32, 2, (int64_t[]){3, 2}, v);
    mu.img = tg_tensor_new(mu.be, TG_F32, 4, (int64_t[]){1, 1, 4, 4});
    mu.stale = tg_add(mu.tape, mu.a, mu.b);
    cr_assert(mu.tape && mu.rng && mu.a && mu.b && mu.d && mu.s && mu.lab && mu.m && mu.img &&
                  mu.stale,
              "fixture: %s", tg_last_error());
    tg_tape_reset(mu.tape);
    cr_assert_eq(tg_last_status(), TG_OK, "fixture: %s", tg_last_error());
}

void mu_teardown(void) {
    tg_clear_error();
    tg_tape_free(mu.tape);
    tg_tensor *ts[] = {mu.a, mu.b, mu.d, mu.s, mu.lab, mu.m, mu.img};
    tg_free_many(7, ts);
    tg_rng_free(mu.rng);
    tg_clear_error();
}

TestSuite(misuse, .init = mu_setup, .fini = mu_teardown);

// ---- tally ----

// One tally line per scenario: 'c' clean, 'k' a known bug (known_bugs.c), 'x' a failure.
static void record(char kind) {
    const char *path = getenv("TG_MISUSE_TALLY");
    if (!path) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return;
    const char line[2] = {kind, '\n'};
    if (write(fd, line, 2) != 2) cr_log_warn("misuse: tally write failed");
    close(fd);
}

static char tally_path[64];

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
    (void)set;
    snprintf(tally_path, sizeof tally_path, "/tmp/tg_misuse_XXXXXX");
    int fd = mkstemp(tally_path);
    if (fd < 0) return;
    close(fd);
    setenv("TG_MISUSE_TALLY", tally_path, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
    (void)stats;
    FILE *f = tally_path[0] ? fopen(tally_path, "r") : NULL;
    if (!f) return;
    long n[3] = {0, 0, 0};   // clean, known bugs, failures
    int c;
    while ((c = fgetc(f)) != EOF)
        if (c == 'c' || c == 'k' || c == 'x') n[c == 'c' ? 0 : c == 'k' ? 1 : 2]++;
    fclose(f);
    unlink(tally_path);
    printf("misuse: %ld scenarios, %ld clean errors", n[0] + n[1] + n[2], n[0]);
    if (n[1] || n[2])
        printf(" (%ld known bugs of other areas, tests/misuse/known_bugs.c; %ld failures)", n[1],
               n[2]);
    printf("\n");
    fflush(stdout);
}

// ---- checks ----

// msg reads "<name>: ..."
static bool named(const char *msg, const char *name) {
    size_t k = name ? strlen(name) : 0;
    return name && strncmp(msg, name, k) == 0 && msg[k] == ':';
}

static void check(const char *fn, const char *alt, bool failed, const char *what) {
    const char *msg = tg_last_error();
    bool ok_name = named(msg, fn) || named(msg, alt);
    bool clean = failed && tg_last_status() < 0 && ok_name;
    if (mu_known_bug(fn, what)) {
        cr_expect(!clean, "%s (%s): fails cleanly now: delete its row in known_bugs.c", fn, what);
        record(clean ? 'c' : 'k');
        tg_clear_error();
        return;
    }
    cr_expect(failed, "%s (%s): did not fail; error '%s'", fn, what, msg);
    cr_expect(!failed || tg_last_status() < 0, "%s (%s): failed without setting an error", fn,
              what);
    cr_expect(!failed || !msg[0] || ok_name, "%s (%s): error does not start with '%s:': '%s'",
              fn, what, fn, msg);
    record(clean ? 'c' : 'x');
    tg_clear_error();
}

void mu_err(const char *fn, bool failed, const char *what) { check(fn, NULL, failed, what); }

void mu_null_or(const char *fn, const char *alt, const void *ret, const char *what) {
    check(fn, alt, ret == NULL, what);
}

void mu_null(const char *fn, const void *ret, const char *what) { mu_err(fn, ret == NULL, what); }

void mu_fail(const char *fn, int status, const char *what) {
    cr_expect(status >= 0 || status == (int)tg_last_status() || mu_known_bug(fn, what),
              "%s (%s): returned %d, the error's status is %d", fn, what, status,
              (int)tg_last_status());
    mu_err(fn, status < 0 && status == (int)tg_last_status(), what);
}

void mu_nan(const char *fn, double value, const char *what) { mu_err(fn, isnan(value), what); }

void mu_quiet(const char *fn, bool ok, const char *what) {
    bool clean = ok && tg_last_status() == TG_OK;
    cr_expect(ok, "%s (%s): unexpected result", fn, what);
    cr_expect(tg_last_status() == TG_OK, "%s (%s): unexpected error '%s'", fn, what,
              tg_last_error());
    record(clean ? 'c' : 'x');
    tg_clear_error();
}

// ---- defs.h, error.h ----

static void log_sink(const char *msg, void *user) {
    (void)msg;
    (void)user;
}

Test(misuse, defs_and_errors) {
    mu_quiet("tg_dtype_name", strcmp(tg_dtype_name((tg_dtype)99), "?") == 0, "dtype 99");
    mu_quiet("tg_dtype_name", strcmp(tg_dtype_name((tg_dtype)-1), "?") == 0, "dtype -1");
    mu_quiet("tg_dtype_size", tg_dtype_size(TG_DTYPE_COUNT) == 0, "dtype COUNT");
    mu_quiet("tg_dtype_size", tg_dtype_size((tg_dtype)-7) == 0, "dtype -7");
    mu_quiet("tg_version", tg_version() && tg_version()[0], "no input to get wrong");
    mu_quiet("tg_status_str", strcmp(tg_status_str(12345), "unknown status") == 0, "12345");
    mu_quiet("tg_status_str", strcmp(tg_status_str(INT32_MIN), "unknown status") == 0, "INT_MIN");
    mu_quiet("tg_last_error", tg_last_error()[0] == '\0', "nothing pending");
    mu_quiet("tg_last_status", tg_last_status() == TG_OK, "nothing pending");
    tg_clear_error();
    mu_quiet("tg_clear_error", tg_last_status() == TG_OK, "twice in a row");
    tg_log_set(NULL, NULL);
    mu_quiet("tg_log_set", true, "NULL callback disables logging");
    tg_log_set(log_sink, NULL);
    tg_log_set(NULL, NULL);
    mu_quiet("tg_log_set", true, "set and reset");
    // tg_set_error is how users report their own errors: a non-error status is stored as
    // TG_ERR_INVALID_ARG, NULL where / fmt give a message anyway
    int st = tg_set_error(TG_OK, "tg_set_error", "ok is not an error");
    mu_fail("tg_set_error", st, "status TG_OK");
    st = tg_set_error(5, "tg_set_error", "%s", "positive");
    mu_fail("tg_set_error", st, "status 5");
    st = tg_set_error(TG_ERR_IO, "tg_set_error", NULL);
    mu_fail("tg_set_error", st, "NULL fmt");
    st = tg_set_error(INT32_MIN, "tg_set_error", "x");
    mu_fail("tg_set_error", st, "status INT_MIN");
    st = tg_set_error(TG_ERR_IO, NULL, "no where");
    mu_err("tapegrad", st == TG_ERR_IO, "NULL where: named 'tapegrad'");
}

// ---- tape.h ----
// (a custom op's errors are documented to start with its name: mu_null_or)

static int fwd_copy(tg_tape *tape, tg_tensor *const *in, int n_in, tg_tensor *out, void *user) {
    (void)tape, (void)n_in, (void)user;
    return tg_copy_(out, in[0]);
}

static int bwd_none(tg_tape *tape, tg_tensor *const *in, int n_in, tg_tensor *out,
                    tg_tensor *dout, tg_tensor **din, void *user) {
    (void)tape, (void)in, (void)n_in, (void)out, (void)dout, (void)user;
    din[0] = NULL;
    return TG_OK;
}

static int hook(tg_tensor *p, void *user) {
    (void)p, (void)user;
    return 0;
}

Test(misuse, tape_objects) {
    tg_tape *t = tg_tape_new();
    mu_quiet("tg_tape_new", t != NULL, "no input to get wrong");
    tg_tape_free(t);
    tg_tape_free(NULL);
    mu_quiet("tg_tape_free", true, "NULL is a no-op");
    tg_tape_reset(NULL);
    mu_err("tg_tape_reset", true, "NULL tape");
    mu_err("tg_tape_set_grad", !tg_tape_set_grad(NULL, true), "NULL tape");
    mu_err("tg_tape_grad_enabled", !tg_tape_grad_enabled(NULL), "NULL tape");
    mu_err("tg_tape_size", tg_tape_size(NULL) < 0, "NULL tape");
    mu_err("tg_tape_set_anomaly", !tg_tape_set_anomaly(NULL, true), "NULL tape");
    mu_err("tg_tape_set_anomaly_mode", tg_tape_set_anomaly_mode(NULL, TG_ANOMALY_NAN) ==
                                           TG_ANOMALY_OFF, "NULL tape");
    tg_tape_set_anomaly_mode(mu.tape, (tg_anomaly_mode)99);
    mu_err("tg_tape_set_anomaly_mode", true, "mode 99");
    tg_tape_set_anomaly_mode(mu.tape, (tg_anomaly_mode)-1);
    mu_err("tg_tape_set_anomaly_mode", true, "mode -1");
    mu_fail("tg_tape_dot", tg_tape_dot(NULL, stdout), "NULL tape");
    mu_fail("tg_tape_dot", tg_tape_dot(mu.tape, NULL), "NULL file");
    mu_fail("tg_tape_push_scope", tg_tape_push_scope(NULL, "x"), "NULL tape");
    mu_fail("tg_tape_push_scope", tg_tape_push_scope(mu.tape, NULL), "NULL name");
    mu_fail("tg_tape_pop_scope", tg_tape_pop_scope(NULL), "NULL tape");
    mu_fail("tg_tape_pop_scope", tg_tape_pop_scope(mu.tape), "no scope open");
    mu_quiet("tg_backward_opts_default", !tg_backward_opts_default().retain_graph,
             "no input to get wrong");
}

Test(misuse, custom_ops) {
    tg_custom_op op = {"my_op", fwd_copy, bwd_none}, nofwd = {"nofwd", NULL, bwd_none};
    tg_custom_op noname = {NULL, fwd_copy, bwd_none};
    tg_tensor *in[2] = {mu.a, mu.b}, *mixed[2] = {mu.a, mu.d}, *holes[2] = {mu.a, NULL};
    tg_tensor *stale[1] = {mu.stale};
    const int64_t sh[2] = {2, 3}, neg[2] = {2, -3}, huge[2] = {(int64_t)1 << 61, 2};
    const int64_t max[1] = {INT64_MAX};
    tg_tape *tp = mu.tape;
    const char *fn = "tg_custom", *me = "my_op";
    mu_null(fn, tg_custom(tp, NULL, 1, in, 2, sh, NULL), "NULL op");
    mu_null(fn, tg_custom(tp, &noname, 1, in, 2, sh, NULL), "NULL name");
    mu_null_or(fn, "nofwd", tg_custom(tp, &nofwd, 1, in, 2, sh, NULL), "NULL forward");
    mu_null_or(fn, me, tg_custom(NULL, &op, 1, in, 2, sh, NULL), "NULL tape");
    mu_null_or(fn, me, tg_custom(tp, &op, -1, in, 2, sh, NULL), "n_in -1");
    mu_null_or(fn, me, tg_custom(tp, &op, 0, in, 2, sh, NULL), "n_in 0");
    mu_null_or(fn, me, tg_custom(tp, &op, 1, NULL, 2, sh, NULL), "NULL inputs");
    mu_null_or(fn, me, tg_custom(tp, &op, 2, holes, 2, sh, NULL), "NULL input 1");
    mu_null_or(fn, me, tg_custom(tp, &op, 2, mixed, 2, sh, NULL), "f32 with f64");
    mu_null_or(fn, me, tg_custom(tp, &op, 1, stale, 2, sh, NULL), "stale input");
    mu_null_or(fn, me, tg_custom(tp, &op, 1, in, -1, sh, NULL), "ndim -1");
    mu_null_or(fn, me, tg_custom(tp, &op, 1, in, 9, sh, NULL), "ndim 9");
    mu_null_or(fn, me, tg_custom(tp, &op, 1, in, 2, NULL, NULL), "NULL shape");
    mu_null_or(fn, me, tg_custom(tp, &op, 1, in, 2, neg, NULL), "dim -3");
    mu_null_or(fn, me, tg_custom(tp, &op, 1, in, 2, huge, NULL), "[2^61, 2]");
    mu_null_or(fn, me, tg_custom(tp, &op, 1, in, 1, max, NULL), "[INT64_MAX]");
}

Test(misuse, backward_and_grad) {
    tg_tape *tp = mu.tape;
    tg_tensor *y = tg_mul(tp, mu.a, mu.b), *loss = tg_sum(tp, y);
    cr_assert(y && loss, "%s", tg_last_error());
    tg_tensor *seed64 = tg_full(tp, mu.be, TG_F64, 2, (int64_t[]){2, 3}, 1.0);
    tg_tensor *seed_bad = tg_full(tp, mu.be, TG_F32, 1, (int64_t[]){5}, 1.0);
    tg_tensor *g[2] = {NULL, NULL}, *ins[2] = {mu.a, mu.b}, *holes[2] = {mu.a, NULL};
    tg_backward_opts cg = {.create_graph = true};
    mu_fail("tg_backward", tg_backward(NULL, loss), "NULL tape");
    mu_fail("tg_backward", tg_backward(tp, NULL), "NULL loss");
    mu_fail("tg_backward", tg_backward(tp, y), "[2,3] loss without a seed");
    mu_fail("tg_backward", tg_backward(tp, mu.stale), "stale loss");
    mu_fail("tg_backward_ex", tg_backward_ex(NULL, y, NULL, NULL), "NULL tape");
    mu_fail("tg_backward_ex", tg_backward_ex(tp, NULL, NULL, NULL), "NULL out");
    mu_fail("tg_backward_ex", tg_backward_ex(tp, y, seed64, NULL), "f64 seed for f32 out");
    mu_fail("tg_backward_ex", tg_backward_ex(tp, y, seed_bad, NULL), "seed [5] for [2,3]");
    mu_fail("tg_backward_ex", tg_backward_ex(tp, y, mu.stale, NULL), "stale seed");
    mu_fail("tg_backward_ex", tg_backward_ex(tp, loss, NULL, &cg), "create_graph");
    mu_fail("tg_grad", tg_grad(NULL, loss, NULL, 1, ins, g, NULL), "NULL tape");
    mu_fail("tg_grad", tg_grad(tp, NULL, NULL, 1, ins, g, NULL), "NULL out");
    mu_fail("tg_grad", tg_grad(tp, loss, NULL, -1, ins, g, NULL), "n_inputs -1");
    mu_fail("tg_grad", tg_grad(tp, loss, NULL, 1, NULL, g, NULL), "NULL inputs");
    mu_fail("tg_grad", tg_grad(tp, loss, NULL, 1, ins, NULL, NULL), "NULL grads");
    mu_fail("tg_grad", tg_grad(tp, loss, NULL, 2, holes, g, NULL), "NULL input 1");
    mu_fail("tg_grad", tg_grad(tp, y, NULL, 1, ins, g, NULL), "[2,3] out without a seed");
    mu_fail("tg_grad", tg_grad(tp, y, seed64, 1, ins, g, NULL), "f64 seed for f32 out");
    mu_fail("tg_grad", tg_grad(tp, loss, NULL, 1, (tg_tensor *[]){mu.stale}, g, NULL),
            "stale input");
    mu_fail("tg_set_grad_hook", tg_set_grad_hook(NULL, hook, NULL), "NULL param");
    mu_fail("tg_set_grad_hook", tg_set_grad_hook(y, hook, NULL), "step tensor");
    mu_fail("tg_set_grad_hook", tg_set_grad_hook(mu.stale, hook, NULL), "stale tensor");
}

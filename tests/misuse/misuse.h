// The misuse suite (issue 11): every public function of include/tapegrad/*.h called with bad
// input (NULL pointers, zero and negative sizes, shapes that overflow, mixed dtypes, NaN
// hyper-parameters, stale step tensors). Each scenario is one call followed by one check;
// the checks record it in the run's tally (test_misuse.c prints the totals at the end).
// tests/misuse/coverage.sh fails when a public function has no scenario here.
#pragma once

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <tapegrad/tapegrad.h>

// Fresh objects for every test (suite misuse's .init and .fini).
typedef struct mu_fixture {
    tg_backend *be;
    tg_tape *tape;
    tg_rng *rng;
    tg_tensor *a, *b;     // f32 [2,3] parameters (requires_grad), values 0.5 .. 3
    tg_tensor *d;         // f64 [2,3]
    tg_tensor *s;         // f32 scalar 2
    tg_tensor *lab;       // f32 [2] labels {0, 1}
    tg_tensor *m;         // f32 [3,2]
    tg_tensor *stale;     // a step tensor of `tape` after tg_tape_reset (TG_CHECKED=1)
    tg_tensor *img;       // f32 [1,1,4,4]
} mu_fixture;

extern mu_fixture mu;

void mu_setup(void);
void mu_teardown(void);

// ---- checks: call them right after the call under test; each clears the error ----

// A clean error: `failed` (the caller's test of the failure value: NULL, negative, NaN...)
// holds, tg_last_status() < 0 and tg_last_error() reads "<fn>: ...".
void mu_err(const char *fn, bool failed, const char *what);
// The same for the usual return types.
void mu_null(const char *fn, const void *ret, const char *what);
// mu_null where the message may also start with `alt` (documented: a custom op's name, a
// module's description).
void mu_null_or(const char *fn, const char *alt, const void *ret, const char *what);
void mu_fail(const char *fn, int status, const char *what);
void mu_nan(const char *fn, double value, const char *what);
// Documented behaviour that is not an error (a NULL no-op, a "?" name): `ok` holds and no
// error is pending.
void mu_quiet(const char *fn, bool ok, const char *what);

// The bug note ("file: what is wrong") when scenario `what` of `fn` is a known bug of
// another area (known_bugs.c), else NULL.
const char *mu_known_bug(const char *fn, const char *what);

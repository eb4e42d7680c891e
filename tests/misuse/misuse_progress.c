// Misuse scenarios of progress.h (progress lines) and tensor.h's counted heap (tg_mem_*; the
// allocations it must refuse, SIZE_MAX, abort under ASan: misuse_crash.c has them).
#include <stdio.h>

#include "misuse.h"

// A silent progress (it writes nothing) on /dev/null, or NULL.
static tg_progress *silent(FILE *f, int64_t total) {
    tg_progress_opts o = tg_progress_opts_default();
    o.mode = TG_PROGRESS_SILENT;
    return tg_progress_new(f, "x", total, &o);
}

Test(misuse, progress_new) {
    const char *fn = "tg_progress_new";
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_not_null(devnull);
    mu_quiet("tg_progress_opts_default", tg_progress_opts_default().percent > 0, "no input");
    mu_null(fn, tg_progress_new(devnull, "x", -1, NULL), "total -1");
    mu_null(fn, tg_progress_new(devnull, "x", INT64_MIN, NULL), "total INT64_MIN");
    tg_progress_opts o = tg_progress_opts_default(), bad[6];
    for (int k = 0; k < 6; k++) bad[k] = o;
    bad[0].mode = (tg_progress_mode)99;
    bad[1].percent = NAN;
    bad[2].percent = 101;
    bad[3].interval_s = -1;
    bad[4].refresh_s = NAN;
    bad[5].width = -1;
    const char *what[6] = {"mode 99", "percent NaN", "percent 101", "interval_s -1",
                           "refresh_s NaN", "width -1"};
    for (int k = 0; k < 6; k++) mu_null(fn, tg_progress_new(devnull, "x", 10, &bad[k]), what[k]);
    // documented defaults, not errors: NULL out is stdout, NULL label none, total 0 unknown
    tg_progress *p = silent(NULL, 10);
    mu_quiet(fn, p != NULL, "NULL out (stdout)");
    tg_progress_free(p);
    p = tg_progress_new(devnull, NULL, 0, NULL);
    mu_quiet(fn, p != NULL, "NULL label, total 0 (unknown), NULL opts");
    tg_progress_free(p);
    tg_progress_free(NULL);
    mu_quiet("tg_progress_free", true, "NULL is a no-op");
    fclose(devnull);
}

Test(misuse, progress_use) {
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_not_null(devnull);
    tg_progress *p = silent(devnull, 10);
    cr_assert_not_null(p, "%s", tg_last_error());
    const char *fn = "tg_progress_update";
    mu_fail(fn, tg_progress_update(NULL, 1, 0.5), "NULL progress");
    mu_fail(fn, tg_progress_update(p, -1, 0.5), "done -1");
    mu_fail(fn, tg_progress_update(p, INT64_MIN, 0.5), "done INT64_MIN");
    mu_quiet(fn, tg_progress_update(p, 3, NAN) == TG_OK, "metric NaN (shown as nan)");
    fn = "tg_progress_log";
    mu_fail(fn, tg_progress_log(NULL, "%d", 1), "NULL progress");
    mu_fail(fn, tg_progress_log(p, NULL), "NULL fmt");
    fn = "tg_progress_finish";
    mu_fail(fn, tg_progress_finish(NULL), "NULL progress");
    mu_quiet(fn, tg_progress_finish(p) == TG_OK, "once");
    mu_quiet(fn, tg_progress_finish(p) == TG_OK, "twice (does nothing)");
    mu_fail("tg_progress_update", tg_progress_update(p, 4, 0.5), "after finish");
    tg_progress_free(p);
    fclose(devnull);
}

Test(misuse, mem) {
    mu_quiet("tg_mem_free", (tg_mem_free(NULL), true), "NULL is a no-op");
    void *a = tg_mem_alloc(0);
    mu_quiet("tg_mem_alloc", a != NULL, "0 bytes (a unique block)");
    void *c = tg_mem_calloc(0, 8);
    mu_quiet("tg_mem_calloc", c != NULL, "0 elements (a unique block)");
    void *r = tg_mem_realloc(NULL, 16);
    mu_quiet("tg_mem_realloc", r != NULL, "NULL block (an allocation)");
    r = tg_mem_realloc(r, 0);
    mu_quiet("tg_mem_realloc", r != NULL, "to 0 bytes (a unique block)");
    tg_mem_free(a);
    tg_mem_free(c);
    tg_mem_free(r);
}

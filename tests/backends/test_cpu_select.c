// The cpu backend's kernel choice (backends/cpu/cpu_select.c, issue 16) as tg_cpu_describe
// reports it: every key present, the choice runnable on the CPU it names and the best one
// without overrides, overrides honoured or refused with a reason. Built twice: into
// test_backends (libtapegrad.so and its private BLIS) and, with TG_TEST_SHARED_BLIS, into
// test_cpu_select_shared (libtapegrad.a with the process's shared BLIS), where the shared
// BLIS must run the chosen set, the environment must be left as it was, and a host that
// initialised BLIS first (TG_TEST_BLIS_FIRST=1) must be reported.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tapegrad/tapegrad.h>

#ifdef TG_TEST_SHARED_BLIS
#include <blis.h>
#endif

#ifndef TG_TEST_BEST_ISA
#define TG_TEST_BEST_ISA "base"   // the best variant built (tests/meson.build passes it)
#endif

static char desc[4096];

static void describe(void) {
    int n = tg_cpu_describe(desc, sizeof desc);
    cr_assert(n > 0 && (size_t)n < sizeof desc, "description length %d", n);
}

// The value of "key: value" in the description into out ("" when absent).
static void value_of(const char *key, char *out, size_t size) {
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s: ", key);
    const char *p = strncmp(desc, pat + 1, strlen(pat + 1)) == 0 ? desc - 1 : strstr(desc, pat);
    out[0] = 0;
    if (!p) return;
    p += strlen(pat);
    int n = (int)strcspn(p, "\n");
    snprintf(out, size, "%.*s", n, p);
}

// value_of into one of 4 rotating buffers: the last 4 results stay valid.
static const char *field(const char *key) {
    static char bufs[4][256];
    static int next;
    char *out = bufs[next++ % 4];
    value_of(key, out, sizeof bufs[0]);
    return out;
}

static bool has_flag(const char *name) {
    char flags[256], *save = NULL;
    value_of("cpu_flags", flags, sizeof flags);
    for (char *t = strtok_r(flags, " ", &save); t; t = strtok_r(NULL, " ", &save))
        if (strcmp(t, name) == 0) return true;
    return false;
}

static bool cpu_avx2(void) { return has_flag("avx2") && has_flag("fma"); }
static bool cpu_avx512(void) {
    return cpu_avx2() && has_flag("avx512f") && has_flag("avx512dq") && has_flag("avx512bw") &&
           has_flag("avx512vl");
}

static int isa_rank(const char *isa) {
    return strcmp(isa, "avx512") == 0 ? 2 : strcmp(isa, "avx2") == 0 ? 1 : 0;
}

// Whether the CPU runs a variant / BLIS set (the same needs as cpu_select.c, restated).
static bool runs_isa(const char *isa) {
    int r = isa_rank(isa);
    return r == 0 || (r == 1 && cpu_avx2()) || (r == 2 && cpu_avx512());
}

static bool runs_blis(const char *set) {
    if (strcmp(set, "skx") == 0) return cpu_avx512();
    if (strcmp(set, "haswell") == 0 || strncmp(set, "zen", 3) == 0) return cpu_avx2();
    if (strcmp(set, "sandybridge") == 0) return has_flag("avx");
    if (strcmp(set, "penryn") == 0) return has_flag("ssse3");
    return strcmp(set, "generic") == 0;
}

Test(cpu_select, describe_has_every_key) {
    int n = tg_cpu_describe(NULL, 0);
    describe();
    cr_expect_eq((int)strlen(desc), n);
    static const char *const keys[] = {
        "cpu_vendor",  "cpu_family",    "cpu_model",   "cpu_stepping",  "cpu_model_name",
        "cpu_flags",   "kernels",       "kernels_reason", "blis_kernels", "blis_arch_id",
        "blis_sup_kernels",
        "blis_reason", "blis_detected", "blis_mechanism", "blis_version"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "%s: ", keys[i]);
        cr_expect(strstr(desc, pat) != NULL, "no '%s' in:\n%s", keys[i], desc);
    }
    char small[16];
    memset(small, 'x', sizeof small);
    cr_expect_eq(tg_cpu_describe(small, sizeof small), n);
    cr_expect_eq(strlen(small), sizeof small - 1, "truncated output not terminated");
}

Test(cpu_select, choice_runs_on_this_cpu) {
    describe();
    cr_expect(runs_isa(field("kernels")), "kernels %s on flags %s", field("kernels"),
              field("cpu_flags"));
    const char *why = field("blis_reason");
    if (strstr(why, "BLIS_ARCH_TYPE set by the user") || strstr(why, "TG_BLIS_ARCH=auto"))
        return;   // BLIS's own choice (or the user's), not checked against the flags
    cr_expect(runs_blis(field("blis_kernels")), "blis %s on flags %s", field("blis_kernels"),
              field("cpu_flags"));
}

// Without overrides: the best of what the CPU runs and what was built; for BLIS, AVX-512
// takes skx whatever BLIS detects itself (issue 16: Zen 5 was "generic").
Test(cpu_select, best_choice_without_overrides) {
    if (getenv("TG_CPU_ISA") || getenv("TG_BLIS_ARCH") || getenv("BLIS_ARCH_TYPE"))
        cr_skip_test("overrides set");
    describe();
    int want = cpu_avx512() ? 2 : cpu_avx2() ? 1 : 0;
    if (want > isa_rank(TG_TEST_BEST_ISA)) want = isa_rank(TG_TEST_BEST_ISA);
    cr_expect_eq(isa_rank(field("kernels")), want, "kernels %s, flags %s", field("kernels"),
                 field("cpu_flags"));
    cr_expect_str_eq(field("kernels_reason"), "cpuid");
    const char *blis = field("blis_kernels");
    if (strstr(field("blis_reason"), "initialised before tapegrad")) return;   // see below
    if (cpu_avx512()) {
        cr_expect_str_eq(blis, "skx", "%s", desc);
        // skx has no small-matrix kernels in BLIS 0.9: the private copy borrows haswell's
        if (strstr(field("blis_mechanism"), "private"))
            cr_expect(strncmp(field("blis_sup_kernels"), "haswell", 7) == 0, "%s", desc);
    }
    else if (cpu_avx2())
        cr_expect(strcmp(blis, "haswell") == 0 || strncmp(blis, "zen", 3) == 0, "%s", desc);
}

// tests/meson.build runs this with each TG_BLIS_ARCH / TG_CPU_ISA of interest.
Test(cpu_select, overrides_honoured_or_refused) {
    describe();
    const char *isa = getenv("TG_CPU_ISA"), *blis = getenv("TG_BLIS_ARCH");
    if (isa && *isa && strcmp(isa, "auto") != 0) {
        bool ok = runs_isa(isa) && isa_rank(isa) <= isa_rank(TG_TEST_BEST_ISA) &&
                  (strcmp(isa, "base") == 0 || strcmp(isa, "avx2") == 0 ||
                   strcmp(isa, "avx512") == 0);
        if (ok) {
            cr_expect_str_eq(field("kernels"), isa);
            cr_expect_str_eq(field("kernels_reason"), "TG_CPU_ISA");
        } else {
            cr_expect(strstr(field("kernels_reason"), "refused") != NULL, "%s", desc);
        }
    }
    if (!blis || !*blis || strcmp(blis, "auto") == 0) return;
    const char *why = field("blis_reason");
    if (!runs_blis(blis)) {
        cr_expect(strstr(why, "refused") != NULL, "%s", desc);
        return;
    }
    if (strstr(why, "not in this BLIS") || strstr(why, "initialised before tapegrad"))
        return;   // a set this BLIS lacks; a host that chose first (tested below)
    cr_expect_str_eq(field("blis_kernels"), blis);
    cr_expect_str_eq(why, "TG_BLIS_ARCH");
}

#ifdef TG_TEST_SHARED_BLIS
// Runs before libtapegrad.a's constructor (priority 101 < the default): records the
// environment, and with TG_TEST_BLIS_FIRST=1 plays a host that used BLIS before tapegrad.
static bool had_arch_type;
static arch_t host_arch = (arch_t)-1;
__attribute__((constructor(101))) static void host_first(void) {
    had_arch_type = getenv("BLIS_ARCH_TYPE") != NULL;
    const char *first = getenv("TG_TEST_BLIS_FIRST");
    if (first && strcmp(first, "1") == 0) {
        bli_init();
        host_arch = bli_arch_query_id();
    }
}

Test(cpu_select, shared_blis_runs_the_choice) {
    describe();
    cr_expect(strstr(field("blis_mechanism"), "shared BLIS") != NULL, "%s", desc);
    cr_expect_eq(atoi(field("blis_arch_id")), (int)bli_arch_query_id(), "%s", desc);
    cr_expect_eq(getenv("BLIS_ARCH_TYPE") != NULL, had_arch_type, "environment changed");
}

// BLIS initialised before tapegrad keeps its kernels; the description says so when they
// are not the ones tapegrad wanted (on an AVX-512 CPU: anything but skx).
Test(cpu_select, blis_initialised_first_is_reported) {
    if (host_arch == (arch_t)-1) cr_skip_test("TG_TEST_BLIS_FIRST not set");
    describe();
    cr_expect_eq(atoi(field("blis_arch_id")), (int)host_arch, "%s", desc);
    if (cpu_avx512() && host_arch != BLIS_ARCH_SKX && !getenv("TG_BLIS_ARCH"))
        cr_expect(strstr(field("blis_reason"), "initialised before tapegrad") != NULL, "%s",
                  desc);
}
#endif

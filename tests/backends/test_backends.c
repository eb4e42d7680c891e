// Backend loading and the cuda module's contract, all without a GPU: a missing module gives
// NULL and a clear message; the module's entry returns a vtable with every slot filled and
// refuses another ABI; a module that is present but finds no device fails cleanly. The
// gemm mapping onto column-major cuBLAS (backends/cuda/gemm_plan.h) is checked here by
// emulating cuBLAS on the host. Parity with the cpu backend is in test_parity.c.
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tapegrad/tapegrad.h>

#include "backends/backend_impl.h"
#include "backends/cuda/gemm_plan.h"

// ---- the registry ----

Test(loader, missing_module_is_a_clean_error) {
    setenv("TG_BACKEND_PATH", "/nonexistent", 1);
    tg_clear_error();
    tg_backend *be = tg_backend_get("cuda");
    cr_assert_null(be, "a backend from /nonexistent");
    cr_expect_eq(tg_last_status(), TG_ERR_BACKEND, "status %d", (int)tg_last_status());
    cr_expect(strstr(tg_last_error(), "cuda backend not available") != NULL, "error '%s'",
              tg_last_error());
    cr_expect(strstr(tg_last_error(), "/nonexistent") != NULL, "error '%s' lacks the path",
              tg_last_error());
    // Still usable afterwards, and cpu is unaffected.
    tg_clear_error();
    cr_expect_null(tg_backend_get("cuda"));
    cr_expect_not_null(tg_backend_get("cpu"), "%s", tg_last_error());
}

Test(loader, unknown_backend_is_named) {
    tg_clear_error();
    cr_assert_null(tg_backend_get("tpu"));
    cr_expect(strstr(tg_last_error(), "tpu") != NULL, "error '%s'", tg_last_error());
}

// With the real module (meson passes its path): a backend where a device exists, else
// NULL and a message naming the cause, never a crash.
Test(loader, module_without_device_fails_cleanly) {
    const char *path = getenv("TG_BACKEND_PATH");
    if (!path || !*path) cr_skip_test("TG_BACKEND_PATH not set (built without cuda)");
    tg_clear_error();
    tg_backend *be = tg_backend_get("cuda");
    if (be) {
        cr_expect_str_eq(tg_backend_name(be), "cuda");
        cr_expect_eq(tg_backend_synchronize(be), TG_OK, "%s", tg_last_error());
        return;
    }
    cr_expect_eq(tg_last_status(), TG_ERR_BACKEND, "status %d", (int)tg_last_status());
    cr_expect(strstr(tg_last_error(), "cuda backend not available: ") != NULL, "error '%s'",
              tg_last_error());
    // The message carries the cause, not just the headline.
    cr_expect(strlen(tg_last_error()) > strlen("tg_backend_get: cuda backend not available: "),
              "error '%s' has no cause", tg_last_error());
    // Asking again gives the same answer (the module stays loaded; init is retried).
    tg_clear_error();
    cr_expect_null(tg_backend_get("cuda"));
    cr_expect(strstr(tg_last_error(), "cuda backend not available: ") != NULL, "error '%s'",
              tg_last_error());
}

// ---- the module's entry and vtable ----

static int fake_fails;
static char fake_msg[512];
static void fake_fail(int status, const char *where, const char *msg) {
    (void)status;
    fake_fails++;
    snprintf(fake_msg, sizeof fake_msg, "%s: %s", where, msg);
}
static void fake_log(const char *msg) { (void)msg; }
static const struct tg_host_api fake_host = {
    .abi_version = TG_BACKEND_ABI_VERSION, .fail = fake_fail, .log = fake_log};

typedef const struct tg_backend_ops *(*entry_fn)(uint32_t, const struct tg_host_api *);

static entry_fn module_entry(void) {
    const char *path = getenv("TG_BACKEND_PATH");
    if (!path || !*path) cr_skip_test("TG_BACKEND_PATH not set (built without cuda)");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "dlopen %s: %s", path, dlerror());
    void *sym = dlsym(h, "tg_backend_module_entry");
    cr_assert_not_null(sym, "no tg_backend_module_entry in %s", path);
    entry_fn f;
    memcpy(&f, &sym, sizeof f);
    return f;
}

// Every slot of struct tg_backend_ops, in declaration order.
static const struct {
    const char *name;
    size_t off;
} slots[] = {
    {"init", offsetof(struct tg_backend_ops, init)},
    {"shutdown", offsetof(struct tg_backend_ops, shutdown)},
    {"synchronize", offsetof(struct tg_backend_ops, synchronize)},
    {"set_threads", offsetof(struct tg_backend_ops, set_threads)},
    {"alloc", offsetof(struct tg_backend_ops, alloc)},
    {"free", offsetof(struct tg_backend_ops, free)},
    {"upload", offsetof(struct tg_backend_ops, upload)},
    {"download", offsetof(struct tg_backend_ops, download)},
    {"copy", offsetof(struct tg_backend_ops, copy)},
    {"memset0", offsetof(struct tg_backend_ops, memset0)},
    {"fill", offsetof(struct tg_backend_ops, fill)},
    {"unary", offsetof(struct tg_backend_ops, unary)},
    {"binary", offsetof(struct tg_backend_ops, binary)},
    {"reduce", offsetof(struct tg_backend_ops, reduce)},
    {"gemm", offsetof(struct tg_backend_ops, gemm)},
    {"update", offsetof(struct tg_backend_ops, update)},
    {"cast", offsetof(struct tg_backend_ops, cast)},
    {"where", offsetof(struct tg_backend_ops, where)},
    {"gather", offsetof(struct tg_backend_ops, gather)},
    {"scatter_add", offsetof(struct tg_backend_ops, scatter_add)},
    {"im2col", offsetof(struct tg_backend_ops, im2col)},
    {"col2im", offsetof(struct tg_backend_ops, col2im)},
    {"xent", offsetof(struct tg_backend_ops, xent)},
    {"xent_grad", offsetof(struct tg_backend_ops, xent_grad)},
    {"adam_step", offsetof(struct tg_backend_ops, adam_step)},
    {"softmax", offsetof(struct tg_backend_ops, softmax)},
    {"softmax_grad", offsetof(struct tg_backend_ops, softmax_grad)},
    {"layer_norm", offsetof(struct tg_backend_ops, layer_norm)},
    {"layer_norm_grad", offsetof(struct tg_backend_ops, layer_norm_grad)},
    {"layer_norm_wgrad", offsetof(struct tg_backend_ops, layer_norm_wgrad)},
    {"attention", offsetof(struct tg_backend_ops, attention)},
    {"attention_grad", offsetof(struct tg_backend_ops, attention_grad)},
    {"max_pool", offsetof(struct tg_backend_ops, max_pool)},
    {"batch_norm", offsetof(struct tg_backend_ops, batch_norm)},
    {"conv", offsetof(struct tg_backend_ops, conv)},
    {"gemm_ep", offsetof(struct tg_backend_ops, gemm_ep)},
};
// Slots a backend may leave NULL, the op then taking another route: conv (the direct
// stride-1 convolution; without it conv2d is im2col + the backend's gemm, cuBLAS on cuda) and
// gemm_ep (a gemm with its bias and ReLU in the store; without it addmm seeds C with the
// bias and ReLU is its own op).
static bool optional_slot(const char *name) {
    return !strcmp(name, "conv") || !strcmp(name, "gemm_ep");
}
// A slot added to the interface must be added above: the last one listed ends the struct.
_Static_assert(offsetof(struct tg_backend_ops, gemm_ep) + sizeof(void (*)(void)) ==
                   sizeof(struct tg_backend_ops),
               "tests/backends: list every tg_backend_ops slot in slots[]");

Test(module, vtable_is_complete) {
    entry_fn entry = module_entry();
    fake_fails = 0;
    const struct tg_backend_ops *ops = entry(TG_BACKEND_ABI_VERSION, &fake_host);
    cr_assert_not_null(ops, "entry returned NULL: %s", fake_msg);
    cr_expect_eq(fake_fails, 0, "entry reported: %s", fake_msg);
    cr_expect_eq(ops->abi_version, TG_BACKEND_ABI_VERSION);
    cr_expect_eq(ops->struct_size, sizeof(struct tg_backend_ops));
    cr_expect_str_eq(ops->name, "cuda");
    char missing[512] = "";
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        void (*fp)(void);
        memcpy(&fp, (const char *)ops + slots[i].off, sizeof fp);
        if (!fp && !optional_slot(slots[i].name)) {
            strncat(missing, " ", sizeof missing - strlen(missing) - 1);
            strncat(missing, slots[i].name, sizeof missing - strlen(missing) - 1);
        }
    }
    cr_expect_str_eq(missing, "", "cuda slots left NULL:%s", missing);
}

Test(module, refuses_another_abi) {
    entry_fn entry = module_entry();
    fake_fails = 0;
    fake_msg[0] = '\0';
    cr_expect_null(entry(TG_BACKEND_ABI_VERSION + 1, &fake_host));
    cr_expect_eq(fake_fails, 1, "no error reported");
    char want[32];
    snprintf(want, sizeof want, "ABI %u", TG_BACKEND_ABI_VERSION + 1);
    cr_expect(strstr(fake_msg, want) != NULL, "'%s' lacks '%s'", fake_msg, want);
    cr_expect_null(entry(TG_BACKEND_ABI_VERSION + 1, NULL), "NULL host must not crash");
}

// Without a device, init fails through host->fail and hands back no context; with one it
// works and shuts down.
Test(module, init_reports_through_the_host) {
    entry_fn entry = module_entry();
    const struct tg_backend_ops *ops = entry(TG_BACKEND_ABI_VERSION, &fake_host);
    cr_assert_not_null(ops);
    fake_fails = 0;
    fake_msg[0] = '\0';
    void *ctx = (void *)&fake_fails;
    int st = ops->init(&ctx);
    if (st == 0) {
        cr_expect_not_null(ctx);
        cr_expect_eq(ops->synchronize(ctx), 0);
        ops->shutdown(ctx);
        return;
    }
    cr_expect(st < 0, "init returned %d", st);
    cr_expect_null(ctx, "a context from a failed init");
    cr_expect_eq(fake_fails, 1, "init failed without a message");
    cr_expect(strstr(fake_msg, "cuda backend not available: ") != NULL, "'%s'", fake_msg);
}

// ---- gemm_plan.h: the cuBLAS mapping, emulated on the host ----

// C [m,n] = A [m,k] B [k,n] with arbitrary strides (the reference).
static void gemm_ref(int64_t m, int64_t n, int64_t k, const double *a, int64_t ars, int64_t acs,
                     const double *b, int64_t brs, int64_t bcs, double *c, int64_t crs,
                     int64_t ccs) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t l = 0; l < k; l++) s += a[i * ars + l * acs] * b[l * brs + j * bcs];
            c[i * crs + j * ccs] = s;
        }
}

// What column-major cuBLAS computes: R [p,q] = op(P) [p,k] op(Q) [k,q], checking the
// leading-dimension rules cuBLAS enforces.
static void blas_emulate(int64_t p, int64_t q, int64_t k, const double *P, tg_gemm_operand op,
                         const double *Q, tg_gemm_operand oq, double *R, int64_t ldr) {
    cr_assert_geq(op.ld, op.trans ? (k > 1 ? k : 1) : (p > 1 ? p : 1), "lda too small");
    cr_assert_geq(oq.ld, oq.trans ? (q > 1 ? q : 1) : (k > 1 ? k : 1), "ldb too small");
    cr_assert_geq(ldr, p > 1 ? p : 1, "ldc too small");
    for (int64_t i = 0; i < p; i++)
        for (int64_t j = 0; j < q; j++) {
            double s = 0;
            for (int64_t l = 0; l < k; l++) {
                double x = op.trans ? P[l + i * op.ld] : P[i + l * op.ld];
                double y = oq.trans ? Q[j + l * oq.ld] : Q[l + j * oq.ld];
                s += x * y;
            }
            R[i + j * ldr] = s;
        }
}

// Strides of an r x c matrix stored in a buffer: row-major (pad extra elements per row),
// column-major (transposed storage), or neither (every element 2 apart in a row, rows
// padded: not contiguous in either direction).
enum {
    LAY_ROW,
    LAY_COL,
    LAY_ROW_PAD,
    LAY_COL_PAD,
    LAY_NONE,
    LAY_COUNT
};
static void layout(int lay, int64_t r, int64_t c, int64_t *rs, int64_t *cs) {
    switch (lay) {
        case LAY_ROW: *rs = c, *cs = 1; break;
        case LAY_COL: *rs = 1, *cs = r; break;
        case LAY_ROW_PAD: *rs = c + 3, *cs = 1; break;
        case LAY_COL_PAD: *rs = 1, *cs = r + 2; break;
        default: *rs = 2 * c + 1, *cs = 2; break;
    }
}

// Checks one (m, n, k, layouts) combination; returns 1 when it mapped onto cuBLAS, 0 when
// it took the fallback.
static int check_plan(int64_t m, int64_t n, int64_t k, int la, int lb, int lc) {
    double a[256], b[256], c[256], want[256];
    tg_gemm_desc d = {.dtype = 1, .m = m, .n = n, .k = k, .batch = 1, .alpha = 1, .beta = 0};
    layout(la, m, k, &d.a_rs, &d.a_cs);
    layout(lb, k, n, &d.b_rs, &d.b_cs);
    layout(lc, m, n, &d.c_rs, &d.c_cs);
    for (int i = 0; i < 256; i++) {
        a[i] = (double)((i * 7 + 3) % 11) - 5;
        b[i] = (double)((i * 5 + 1) % 13) - 6;
        c[i] = want[i] = -999;
    }
    gemm_ref(m, n, k, a, d.a_rs, d.a_cs, b, d.b_rs, d.b_cs, want, d.c_rs, d.c_cs);
    tg_gemm_plan pl;
    if (!tg_gemm_plan_make(&d, &pl)) {
        // Only views contiguous in neither direction may fall back.
        cr_expect(la == LAY_NONE || lb == LAY_NONE || lc == LAY_NONE,
                  "no plan: m %lld n %lld k %lld, layouts %d %d %d", (long long)m, (long long)n,
                  (long long)k, la, lb, lc);
        return 0;
    }
    const double *P = pl.swap ? b : a, *Q = pl.swap ? a : b;
    blas_emulate(pl.p, pl.q, k, P, pl.op_p, Q, pl.op_q, c, pl.ldr);
    for (int i = 0; i < 256; i++)
        cr_assert_eq(c[i], want[i], "element %d: m %lld n %lld k %lld, layouts %d %d %d", i,
                     (long long)m, (long long)n, (long long)k, la, lb, lc);
    return 1;
}

Test(gemm_plan, every_layout_maps_or_falls_back) {
    static const int64_t dims[] = {1, 2, 3, 5};
    int planned = 0, total = 0;
    for (int im = 0; im < 4; im++)
        for (int in = 0; in < 4; in++)
            for (int ik = 0; ik < 4; ik++)
                for (int la = 0; la < LAY_COUNT; la++)
                    for (int lb = 0; lb < LAY_COUNT; lb++)
                        for (int lc = 0; lc < LAY_COUNT; lc++, total++)
                            planned += check_plan(dims[im], dims[in], dims[ik], la, lb, lc);
    cr_expect_gt(planned, 0);
    cr_expect_lt(planned, total, "some layouts must need the fallback");
}

// The shapes tg_matmul_ex sends (row-major C, operands transposed through strides) all map
// onto cuBLAS without the fallback.
Test(gemm_plan, matmul_transposes_use_cublas) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int64_t m = 4, n = 6, k = 5;
            tg_gemm_desc d = {.dtype = 0,
                              .m = m,
                              .n = n,
                              .k = k,
                              .batch = 3,
                              .alpha = 1,
                              .a_rs = ta ? 1 : k,
                              .a_cs = ta ? m : 1,
                              .b_rs = tb ? 1 : n,
                              .b_cs = tb ? k : 1,
                              .c_rs = n,
                              .c_cs = 1,
                              .a_bs = m * k,
                              .b_bs = 0,
                              .c_bs = m * n};
            tg_gemm_plan pl = {0};
            cr_assert(tg_gemm_plan_make(&d, &pl), "ta %d tb %d fell back", ta, tb);
            cr_expect(pl.swap, "row-major C computes C^T");
            cr_expect_eq(pl.op_p.trans, (bool)tb, "op on B");
            cr_expect_eq(pl.op_q.trans, (bool)ta, "op on A");
        }
}

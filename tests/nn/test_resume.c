// Tests for nn/checkpoint.c, optim/state.c and the RNG state (core/rng.c): tensors and
// metadata round trips, strict restores that leave things untouched on error, optimizer
// state for every kind, and the acceptance test: a run interrupted at step 10 and resumed
// in a fresh process ends bit for bit where the uninterrupted run ends.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/resume_util.h"
#include "test_util.h"

#ifndef TG_RESUME_HELPER
#error "TG_RESUME_HELPER (the resume_helper program) must be defined by the build"
#endif

static char dir[64];

static void mk_tmp(void) {
    snprintf(dir, sizeof dir, "/tmp/tg_resume_XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
    tg_clear_error();
}

static void rm_tmp(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static const char *tpath(const char *name) {
    static char bufs[8][256];
    static int k;
    char *p = bufs[k++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

// The whole file (malloc'd), its size in *len.
static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

static void put(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

// Runs argv (argv[0] the program) in a child process; its exit status.
static int run(char *const argv[]) {
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork failed");
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static bool same_file(const char *a, const char *b) {
    size_t la, lb;
    unsigned char *x = slurp(a, &la), *y = slurp(b, &lb);
    bool same = la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

// ---- the acceptance test ----

Test(resume, fresh_process_continues_bit_for_bit, .init = mk_tmp, .fini = rm_tmp,
     .timeout = 120) {
    char *helper = TG_RESUME_HELPER;
    const char *full = tpath("full.bin"), *ck = tpath("step10.safetensors");
    const char *resumed = tpath("resumed.bin"), *norng = tpath("norng.bin");
    cr_assert_eq(run((char *[]){helper, "full", (char *)full, NULL}), 0);
    cr_assert_eq(run((char *[]){helper, "first", (char *)ck, NULL}), 0);
    cr_assert_eq(run((char *[]){helper, "resume", (char *)ck, (char *)resumed, NULL}), 0);
    cr_assert_eq(run((char *[]){helper, "resume-norng", (char *)ck, (char *)norng, NULL}), 0);
    size_t n;
    free(slurp(full, &n));
    cr_assert_eq(n, (4 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3) * sizeof(float));
    cr_expect(same_file(full, resumed),
              "the resumed run's parameters differ from the uninterrupted run's");
    // the test can see the RNG: without it the dropout masks, hence the weights, differ
    cr_expect(!same_file(full, norng), "resuming without the rng state gave the same weights");
}

Test(resume, in_process_matches_too, .init = mk_tmp, .fini = rm_tmp) {
    ru_run a = {0}, b = {0};
    cr_assert_eq(ru_build(&a, 7), TG_OK, "%s", tg_last_error());
    cr_assert_eq(ru_train(&a, 10), TG_OK, "%s", tg_last_error());
    cr_assert_eq(ru_save(&a, tpath("c.safetensors")), TG_OK, "%s", tg_last_error());
    cr_assert_eq(ru_train(&a, 20), TG_OK, "%s", tg_last_error());
    cr_assert_eq(ru_build(&b, 999), TG_OK, "%s", tg_last_error());
    cr_assert_eq(ru_restore(&b, tpath("c.safetensors"), true), TG_OK, "%s", tg_last_error());
    cr_assert_eq(b.step, 10);
    cr_assert_eq(ru_train(&b, 20), TG_OK, "%s", tg_last_error());
    for (int i = 0; i < a.np; i++) {
        size_t bytes = (size_t)tg_numel(a.params[i]) * sizeof(float);
        cr_expect(memcmp(tg_data_f32(a.params[i]), tg_data_f32(b.params[i]), bytes) == 0,
                  "parameter %d differs", i);
    }
    ru_free(&a);
    ru_free(&b);
}

// The rename is followed by an fsync of the directory (strace shows the order).
Test(resume, directory_fsynced_after_the_rename, .init = mk_tmp, .fini = rm_tmp,
     .timeout = 60) {
    if (access("/usr/bin/strace", X_OK) != 0) cr_skip_test("strace not installed");
    char *argv[] = {"/usr/bin/strace", "-f", "-qq", "-o", (char *)tpath("trace.txt"), "-e",
                    "trace=openat,rename,renameat,renameat2,fsync", TG_RESUME_HELPER, "first",
                    (char *)tpath("c.safetensors"), NULL};
    int rc = run(argv);
    if (rc != 0) cr_skip_test("strace cannot trace here (exit %d)", rc);
    size_t n;
    char *log = (char *)slurp(tpath("trace.txt"), &n);
    char *ren = strstr(log, "rename");
    cr_assert_not_null(ren, "no rename in the trace:\n%s", log);
    cr_assert(strstr(ren, "c.safetensors\"") != NULL, "the rename is not to the checkpoint");
    char *open_dir = strstr(ren, "O_DIRECTORY");
    cr_assert_not_null(open_dir, "no directory opened after the rename:\n%s", ren);
    char *eq = strstr(open_dir, "= ");
    cr_assert_not_null(eq);
    int fd = atoi(eq + 2);
    char want[32];
    snprintf(want, sizeof want, "fsync(%d)", fd);
    cr_expect(strstr(eq, want) != NULL, "no %s after the rename:\n%s", want, ren);
    free(log);
}

// ---- tensors and metadata ----

Test(checkpoint_api, tensors_and_metadata_round_trip, .init = mk_tmp, .fini = rm_tmp) {
    tg_backend *cpu = tu_cpu();
    tg_tensor *a = tg_tensor_from(cpu, TG_F32, 2, (int64_t[]){2, 3},
                                  (float[]){1, 2, 3, 4, 5, 6.5f});
    tg_tensor *b = tg_tensor_from(cpu, TG_F64, 0, NULL, (double[]){0.1});
    tg_tensor *e = tg_tensor_new(cpu, TG_F64, 2, (int64_t[]){0, 4});
    tg_checkpoint *c = tg_checkpoint_new();
    cr_assert_eq(tg_checkpoint_add(c, "a", a), TG_OK, "%s", tg_last_error());
    cr_assert_eq(tg_checkpoint_add(c, "weights/b \"q\"", b), TG_OK);
    cr_assert_eq(tg_checkpoint_add(c, "empty", e), TG_OK);
    cr_assert_eq(tg_checkpoint_set_meta(c, "epoch", "3"), TG_OK);
    cr_assert_eq(tg_checkpoint_set_meta(c, "note", "tab\there, quote \" and é"), TG_OK);
    cr_assert_eq(tg_checkpoint_set_meta(c, "epoch", "4"), TG_OK);   // replaced
    cr_assert_eq(tg_checkpoint_set_meta(c, "blank", ""), TG_OK);
    cr_assert_eq(tg_checkpoint_save(c, tpath("t.safetensors")), TG_OK, "%s", tg_last_error());
    tg_checkpoint_free(c);
    // the header is the format's: metadata (with format "pt") first, strings escaped
    size_t n;
    unsigned char *raw = slurp(tpath("t.safetensors"), &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    cr_assert(hl % 8 == 0 && 8 + hl <= n);
    cr_expect(strncmp((char *)raw + 8,
                      "{\"__metadata__\":{\"format\":\"pt\",\"epoch\":\"4\",\"note\":\"tab\\u0009here, "
                      "quote \\\" and é\",\"blank\":\"\"}",
                      80) == 0, "header: %.200s", raw + 8);
    free(raw);
    tg_checkpoint *l = tg_checkpoint_load(tpath("t.safetensors"));
    cr_assert_not_null(l, "%s", tg_last_error());
    cr_expect_str_eq(tg_checkpoint_meta(l, "epoch"), "4");
    cr_expect_str_eq(tg_checkpoint_meta(l, "note"), "tab\there, quote \" and é");
    cr_expect_str_eq(tg_checkpoint_meta(l, "blank"), "");
    cr_expect_str_eq(tg_checkpoint_meta(l, "format"), "pt");
    tg_tensor *la = tg_checkpoint_get(l, "a"), *lb = tg_checkpoint_get(l, "weights/b \"q\"");
    cr_assert(la && lb, "%s", tg_last_error());
    cr_expect_eq(tg_dtype_of(la), TG_F32);
    cr_expect_eq(memcmp(tg_data_f32(la), tg_data_f32(a), 6 * sizeof(float)), 0);
    cr_expect_eq(tg_ndim(lb), 0);
    cr_expect_eq(*tg_data_f64(lb), 0.1);
    cr_expect_eq(tg_numel(tg_checkpoint_get(l, "empty")), 0);
    cr_expect_null(tg_checkpoint_get(l, "nope"));
    tu_expect_error("tg_checkpoint_get", "'nope'");
    tg_clear_error();
    cr_expect_null(tg_checkpoint_meta(l, "nope"));
    tu_expect_error("tg_checkpoint_meta", "'nope'");
    tg_clear_error();
    // restore one tensor: dtype and shape must match, else the target is unchanged
    tg_tensor *t = tg_tensor_new(cpu, TG_F32, 2, (int64_t[]){2, 3});
    tg_tensor *wrong = tg_tensor_new(cpu, TG_F32, 2, (int64_t[]){3, 2});
    cr_assert_eq(tg_checkpoint_restore(l, "a", t), TG_OK);
    cr_expect_eq(tg_data_f32(t)[5], 6.5f);
    cr_expect_eq(tg_checkpoint_restore(l, "a", wrong), TG_ERR_SHAPE);
    tu_expect_error("tg_checkpoint_restore", "[2,3]");
    tg_clear_error();
    cr_expect_eq(tg_checkpoint_restore(l, "weights/b \"q\"", t), TG_ERR_DTYPE);
    tg_clear_error();
    tg_checkpoint_free(l);
    tu_free(t);
    tu_free(wrong);
    tu_free(a);
    tu_free(b);
    tu_free(e);
}

Test(checkpoint_api, module_restore_is_strict_and_all_or_nothing, .init = mk_tmp,
     .fini = rm_tmp) {
    tg_backend *cpu = tu_cpu();
    tg_rng *rng = tg_rng_new(3);
    tg_module *l1[] = {tg_linear(cpu, TG_F32, 2, 3, true, rng), tg_relu_layer(),
                       tg_linear(cpu, TG_F32, 3, 2, true, rng)};
    tg_module *src = tg_sequential(3, l1);
    tg_module *l2[] = {tg_linear(cpu, TG_F32, 2, 3, true, rng), tg_relu_layer(),
                       tg_linear(cpu, TG_F32, 3, 4, true, rng)};
    tg_module *other = tg_sequential(3, l2);   // 2.weight [4,3]: a shape mismatch
    tg_checkpoint *c = tg_checkpoint_new();
    cr_assert_eq(tg_checkpoint_add_module(c, "model.", src), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_checkpoint_add_module(c, "model.", src), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_checkpoint_add_module", "model.0.weight");
    tg_clear_error();
    cr_assert_eq(tg_checkpoint_save(c, tpath("m.safetensors")), TG_OK);
    tg_checkpoint_free(c);
    c = tg_checkpoint_load(tpath("m.safetensors"));
    cr_assert_not_null(c, "%s", tg_last_error());
    float before[6], after[6];
    cr_assert_eq(tg_copy_to_host(tg_module_param(other, 0), before, sizeof before), TG_OK);
    cr_expect_eq(tg_checkpoint_restore_module(c, "model.", other), TG_ERR_SHAPE);
    tu_expect_error("tg_checkpoint_restore_module", "model.2.weight");
    tg_clear_error();
    cr_assert_eq(tg_copy_to_host(tg_module_param(other, 0), after, sizeof after), TG_OK);
    cr_expect_eq(memcmp(before, after, sizeof before), 0, "a failed restore wrote 0.weight");
    cr_expect_eq(tg_checkpoint_restore_module(c, "", other), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_checkpoint_restore_module", "'0.weight'");
    tg_clear_error();
    // the same architecture restores exactly
    tg_module *l3[] = {tg_linear(cpu, TG_F32, 2, 3, true, rng), tg_relu_layer(),
                       tg_linear(cpu, TG_F32, 3, 2, true, rng)};
    tg_module *dst = tg_sequential(3, l3);
    cr_assert_eq(tg_checkpoint_restore_module(c, "model.", dst), TG_OK, "%s", tg_last_error());
    for (int i = 0; i < tg_module_n_params(src); i++) {
        tg_tensor *p = tg_module_param(src, i), *q = tg_module_param(dst, i);
        cr_expect_eq(memcmp(tg_data_f32(p), tg_data_f32(q), (size_t)tg_numel(p) * 4), 0);
    }
    tg_checkpoint_free(c);
    tg_module_free(src);
    tg_module_free(other);
    tg_module_free(dst);
    tg_rng_free(rng);
}

Test(checkpoint_api, bad_files_and_metadata, .init = mk_tmp, .fini = rm_tmp) {
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"{\"__metadata__\":{\"a\":1}}", "strings to strings"},
        {"{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "appears twice"},
        {"{\"__metadata__\":[]}", "expected '{'"},
        {"{\"__metadata__\":{\"a\":\"x\\u0000\"}}", "NUL"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "span 4 bytes"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t hl = strlen(cases[k].json);
        unsigned char buf[256] = {(unsigned char)hl};
        memcpy(buf + 8, cases[k].json, hl);
        put(tpath("bad.safetensors"), buf, 8 + hl + 4);
        cr_expect_null(tg_checkpoint_load(tpath("bad.safetensors")), "case %zu loaded", k);
        tu_expect_error("tg_checkpoint_load", cases[k].needle);
        tg_clear_error();
    }
    // a PyTorch-style I64 entry is listed, not converted
    const char *j = "{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}";
    unsigned char buf[256] = {(unsigned char)strlen(j)};
    memcpy(buf + 8, j, strlen(j));
    put(tpath("i64.safetensors"), buf, 8 + strlen(j) + 8);
    tg_checkpoint *c = tg_checkpoint_load(tpath("i64.safetensors"));
    cr_assert_not_null(c, "%s", tg_last_error());
    cr_expect_null(tg_checkpoint_get(c, "n"));
    tu_expect_error("tg_checkpoint_get", "I64");
    tg_clear_error();
    cr_expect_eq(tg_checkpoint_save(c, tpath("again.safetensors")), TG_ERR_DTYPE);
    tg_clear_error();
    tg_checkpoint_free(c);
    // metadata past the format's 100 MB header limit is refused before anything is written
    size_t big = 100000001;
    char *v = malloc(big + 1);
    memset(v, 'x', big);
    v[big] = 0;
    c = tg_checkpoint_new();
    cr_assert_eq(tg_checkpoint_set_meta(c, "huge", v), TG_OK);
    free(v);
    cr_expect_eq(tg_checkpoint_save(c, tpath("huge.safetensors")), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_checkpoint_save", "metadata too large");
    tg_clear_error();
    cr_expect_eq(access(tpath("huge.safetensors"), F_OK), -1);
    tg_checkpoint_free(c);
}

// ---- RNG state ----

Test(rng_state, get_set_continue_the_stream, .init = mk_tmp, .fini = rm_tmp) {
    tg_rng *a = tg_rng_new(5), *b = tg_rng_new(6);
    for (int i = 0; i < 3; i++) tg_rng_normal(a);   // odd: a spare normal is cached
    uint64_t s[TG_RNG_STATE_WORDS];
    cr_assert_eq(tg_rng_get_state(a, s), TG_OK);
    cr_expect_eq(s[4], 1u);
    cr_assert_eq(tg_rng_set_state(b, s), TG_OK);
    for (int i = 0; i < 5; i++) {
        double x = tg_rng_normal(a), y = tg_rng_normal(b);
        cr_expect(memcmp(&x, &y, sizeof x) == 0, "draw %d: %.17g vs %.17g", i, x, y);
        cr_expect_eq(tg_rng_uniform(a), tg_rng_uniform(b));
    }
    // through a checkpoint file
    tg_checkpoint *c = tg_checkpoint_new();
    cr_assert_eq(tg_checkpoint_add_rng(c, "rng", a), TG_OK);
    cr_assert_eq(tg_checkpoint_save(c, tpath("r.safetensors")), TG_OK);
    tg_checkpoint_free(c);
    double want = tg_rng_normal(a);
    c = tg_checkpoint_load(tpath("r.safetensors"));
    cr_assert_not_null(c, "%s", tg_last_error());
    tg_rng *d = tg_rng_new(77);
    cr_assert_eq(tg_checkpoint_restore_rng(c, "rng", d), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_rng_normal(d), want);
    // malformed values leave the stream alone
    tg_checkpoint_set_meta(c, "bad", "0123 nope");
    tg_checkpoint_set_meta(c, "zero", "0000000000000000 0000000000000000 0000000000000000 "
                                      "0000000000000000 0000000000000000 0000000000000000");
    uint64_t before[TG_RNG_STATE_WORDS], after[TG_RNG_STATE_WORDS];
    tg_rng_get_state(d, before);
    cr_expect_eq(tg_checkpoint_restore_rng(c, "bad", d), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_checkpoint_restore_rng", "six 16-digit hex words");
    tg_clear_error();
    cr_expect_eq(tg_checkpoint_restore_rng(c, "zero", d), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_checkpoint_restore_rng", "all zero");
    tg_clear_error();
    tg_rng_get_state(d, after);
    cr_expect_eq(memcmp(before, after, sizeof before), 0);
    tg_checkpoint_free(c);
    tg_rng_free(a);
    tg_rng_free(b);
    tg_rng_free(d);
}

// ---- optimizer state ----

typedef struct {
    tg_optim_kind kind;
    const char *what;
    double momentum;
    bool nesterov, amsgrad, centered;
    double weight_decay;
} optim_case;

static const optim_case OPTIM_CASES[] = {
    {TG_OPTIM_SGD, "SGD momentum", 0.9, false, false, false, 0},
    {TG_OPTIM_SGD, "SGD nesterov + wd", 0.9, true, false, false, 0.01},
    {TG_OPTIM_ADAM, "Adam", 0, false, false, false, 0},
    {TG_OPTIM_ADAMW, "AdamW amsgrad", 0, false, true, false, 0.05},
    {TG_OPTIM_NADAM, "NAdam", 0, false, false, false, 0.01},
    {TG_OPTIM_ADAGRAD, "Adagrad", 0, false, false, false, 0},
    {TG_OPTIM_ADADELTA, "Adadelta", 0, false, false, false, 0},
    {TG_OPTIM_RMSPROP, "RMSprop centered momentum", 0.5, false, false, true, 0},
    {TG_OPTIM_ADAMAX, "Adamax", 0, false, false, false, 0},
};

typedef struct {
    tg_tensor *p[2], *w[2];
    tg_optim *opt;
} toy;

// Parameters p0 [3,4], p1 [5] (f64) from seed 11; loss sum(w * p * p * p) / 10.
static toy toy_new(const optim_case *oc) {
    toy t;
    tg_rng *rng = tg_rng_new(11);
    int64_t s0[2] = {3, 4}, s1[1] = {5};
    t.p[0] = tu_rand64(rng, 2, s0, -1, 1, true);
    t.p[1] = tu_rand64(rng, 1, s1, -1, 1, true);
    t.w[0] = tu_rand64(rng, 2, s0, 0.5, 1.5, false);
    t.w[1] = tu_rand64(rng, 1, s1, 0.5, 1.5, false);
    tg_rng_free(rng);
    tg_optim_opts o = tg_optim_opts_default(oc->kind);
    o.lr = 0.05;
    o.momentum = oc->momentum;
    o.nesterov = oc->nesterov;
    o.amsgrad = oc->amsgrad;
    o.centered = oc->centered;
    o.weight_decay = oc->weight_decay;
    t.opt = tg_optim_new(oc->kind, 2, t.p, &o);
    cr_assert_not_null(t.opt, "%s", tg_last_error());
    return t;
}

static void toy_steps(toy *t, int n) {
    tg_tape *tape = tg_tape_new();
    for (int s = 0; s < n; s++) {
        tg_tensor *l = NULL;
        for (int i = 0; i < 2; i++) {
            tg_tensor *c = tg_mul(tape, tg_mul(tape, t->p[i], t->p[i]), t->p[i]);
            tg_tensor *li = tg_sum(tape, tg_mul(tape, t->w[i], c));
            l = l ? tg_add(tape, l, li) : li;
        }
        cr_assert(l && !tg_backward(tape, tg_mul_scalar(tape, l, 0.1)), "%s", tg_last_error());
        cr_assert_eq(tg_optim_step(t->opt), TG_OK, "%s", tg_last_error());
        tg_optim_zero_grad(t->opt);
        tg_tape_reset(tape);
    }
    tg_tape_free(tape);
}

static void toy_free(toy *t) {
    tg_optim_free(t->opt);
    for (int i = 0; i < 2; i++) {
        tu_free(t->p[i]);
        tu_free(t->w[i]);
    }
}

// a: 5 steps, saved (params too), 5 more. b: fresh, restored, 5 steps. Same bits.
static void check_kind(const optim_case *oc) {
    toy a = toy_new(oc), b = toy_new(oc);
    toy_steps(&a, 5);
    tg_checkpoint *c = tg_checkpoint_new();
    cr_assert_eq(tg_checkpoint_add(c, "p0", a.p[0]), TG_OK);
    cr_assert_eq(tg_checkpoint_add(c, "p1", a.p[1]), TG_OK);
    cr_assert_eq(tg_optim_save_state(a.opt, c, "optim."), TG_OK, "%s", tg_last_error());
    cr_assert_eq(tg_checkpoint_save(c, tpath("o.safetensors")), TG_OK, "%s", tg_last_error());
    tg_checkpoint_free(c);
    toy_steps(&a, 5);
    c = tg_checkpoint_load(tpath("o.safetensors"));
    cr_assert_not_null(c, "%s: %s", oc->what, tg_last_error());
    cr_assert_eq(tg_checkpoint_restore(c, "p0", b.p[0]), TG_OK);
    cr_assert_eq(tg_checkpoint_restore(c, "p1", b.p[1]), TG_OK);
    cr_assert_eq(tg_optim_load_state(b.opt, c, "optim."), TG_OK, "%s: %s", oc->what,
                 tg_last_error());
    tg_checkpoint_free(c);
    toy_steps(&b, 5);
    for (int i = 0; i < 2; i++)
        cr_expect_eq(memcmp(tg_data_f64(a.p[i]), tg_data_f64(b.p[i]),
                            (size_t)tg_numel(a.p[i]) * sizeof(double)), 0,
                     "%s: parameter %d differs after the resume", oc->what, i);
    toy_free(&a);
    toy_free(&b);
}

Test(optim_state, every_kind_resumes_exactly, .init = mk_tmp, .fini = rm_tmp) {
    for (size_t k = 0; k < sizeof OPTIM_CASES / sizeof OPTIM_CASES[0]; k++)
        check_kind(&OPTIM_CASES[k]);
}

Test(optim_state, mismatches_leave_the_optimizer_unchanged, .init = mk_tmp, .fini = rm_tmp) {
    toy a = toy_new(&OPTIM_CASES[2]), b = toy_new(&OPTIM_CASES[2]);   // Adam
    toy s = toy_new(&OPTIM_CASES[0]);                                    // SGD
    toy_steps(&a, 3);
    toy_steps(&b, 3);
    tg_checkpoint *c = tg_checkpoint_new();
    cr_assert_eq(tg_optim_save_state(a.opt, c, "o."), TG_OK);
    cr_expect_eq(tg_optim_load_state(s.opt, c, "o."), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_optim_load_state", "'Adam' state, this optimizer is SGD");
    tg_clear_error();
    cr_expect_eq(tg_optim_load_state(b.opt, c, "other."), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_optim_load_state", "other.kind");
    tg_clear_error();
    // only the first parameter's state, over a different moment shape
    tg_optim *one = tg_adam(1, a.p, 0.1);
    cr_expect_eq(tg_optim_load_state(one, c, "o."), TG_ERR_SHAPE);
    tu_expect_error("tg_optim_load_state", "parameters");
    tg_clear_error();
    tg_optim_free(one);
    tg_checkpoint_set_meta(c, "o.steps", "3,x");
    cr_expect_eq(tg_optim_load_state(b.opt, c, "o."), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_optim_load_state", "o.steps");
    tg_clear_error();
    tg_checkpoint_set_meta(c, "o.steps", "3,3");
    tg_checkpoint_set_meta(c, "o.beta1", "1");
    cr_expect_eq(tg_optim_load_state(b.opt, c, "o."), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_optim_load_state", "beta1");
    tg_clear_error();
    tg_checkpoint_set_meta(c, "o.beta1", "0.9");
    tg_tensor *wrong = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){4});
    tg_checkpoint *e = tg_checkpoint_new();   // o.state.1.exp_avg_sq of the wrong shape
    for (int i = 0; i < 2; i++) {
        char key[64];
        snprintf(key, sizeof key, "o.state.%d.exp_avg", i);
        cr_assert_eq(tg_checkpoint_add(e, key, tg_checkpoint_get(c, key)), TG_OK);
    }
    cr_assert_eq(tg_checkpoint_add(e, "o.state.0.exp_avg_sq",
                                   tg_checkpoint_get(c, "o.state.0.exp_avg_sq")), TG_OK);
    cr_assert_eq(tg_checkpoint_add(e, "o.state.1.exp_avg_sq", wrong), TG_OK);
    const char *keys[] = {"o.kind", "o.n_params", "o.lr", "o.weight_decay", "o.momentum",
                          "o.dampening", "o.nesterov", "o.beta1", "o.beta2", "o.eps",
                          "o.amsgrad", "o.alpha", "o.centered", "o.rho", "o.lr_decay",
                          "o.initial_accumulator_value", "o.momentum_decay", "o.steps"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        cr_assert_eq(tg_checkpoint_set_meta(e, keys[k], tg_checkpoint_meta(c, keys[k])), TG_OK,
                     "%s: %s", keys[k], tg_last_error());
    cr_expect_eq(tg_optim_load_state(b.opt, e, "o."), TG_ERR_SHAPE);
    tu_expect_error("tg_optim_load_state", "o.state.1.exp_avg_sq");
    tg_clear_error();
    // after all those failures b still steps exactly like a
    toy_steps(&a, 2);
    toy_steps(&b, 2);
    for (int i = 0; i < 2; i++)
        cr_expect_eq(memcmp(tg_data_f64(a.p[i]), tg_data_f64(b.p[i]),
                            (size_t)tg_numel(a.p[i]) * sizeof(double)), 0,
                     "a failed load changed parameter %d's optimizer state", i);
    tg_checkpoint_free(e);
    tg_checkpoint_free(c);
    tu_free(wrong);
    toy_free(&a);
    toy_free(&b);
    toy_free(&s);
}

// Tests for nn/safetensors.c: round trips, a fixture written by an independent Python
// writer (tests/fixtures/gen_safetensors.py), files of ours read by its checker, and
// corrupt files, each of which must fail with a clear error and leave the module untouched.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#ifndef TG_FIXTURES
#define TG_FIXTURES "tests/fixtures"
#endif

static char dir[64];

static void mk_tmp(void) {
    snprintf(dir, sizeof dir, "/tmp/tg_ckpt_XXXXXX");
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

static const char *put(const char *name, const void *data, size_t len) {
    const char *p = tpath(name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    static unsigned char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

// Linear(3, h) + BatchNorm1d(h) + ReLU + Linear(h, 2), initialised from `seed`, with
// random running statistics.
static tg_module *make_net(tg_dtype dt, uint64_t seed, int64_t h) {
    tg_rng *rng = tg_rng_new(seed);
    tg_module *layers[] = {tg_linear(tu_cpu(), dt, 3, h, true, rng),
                           tg_batchnorm1d(tu_cpu(), dt, h, 0.1, 1e-5), tg_relu_layer(),
                           tg_linear(tu_cpu(), dt, h, 2, true, rng)};
    tg_module *m = tg_sequential(4, layers);
    cr_assert_not_null(m, "%s", tg_last_error());
    for (int i = 0; i < tg_module_n_buffers(m); i++)
        tg_uniform_(tg_module_buffer(m, i), rng, 0.5, 2.0);
    tg_uniform_(tg_module_param(m, 2), rng, 0.5, 2.0);  // BatchNorm's weight
    tg_rng_free(rng);
    return m;
}

// All parameter and buffer values as doubles; returns how many.
static int snap(const tg_module *m, double *out, int cap) {
    int k = 0;
    int np = tg_module_n_params(m), nb = tg_module_n_buffers(m);
    for (int i = 0; i < np + nb; i++) {
        tg_tensor *t = i < np ? tg_module_param(m, i) : tg_module_buffer(m, i - np);
        int64_t n = tg_numel(t);
        cr_assert(k + n <= cap);
        if (tg_dtype_of(t) == TG_F64) {
            memcpy(out + k, tg_data_f64(t), (size_t)n * sizeof(double));
        } else {
            const float *f = tg_data_f32(t);
            for (int64_t j = 0; j < n; j++) out[k + j] = f[j];
        }
        k += (int)n;
    }
    return k;
}

static void expect_same(const tg_module *a, const tg_module *b) {
    double va[512], vb[512];
    int na = snap(a, va, 512), nb = snap(b, vb, 512);
    cr_assert_eq(na, nb);
    for (int i = 0; i < na; i++) cr_expect_eq(va[i], vb[i], "value %d: %g vs %g", i, va[i], vb[i]);
}

TestSuite(checkpoint, .init = mk_tmp, .fini = rm_tmp);

Test(checkpoint, round_trip_f32_and_f64) {
    for (int k = 0; k < 2; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_module *a = make_net(dt, 1, 4), *b = make_net(dt, 2, 4);
        cr_assert_eq(tg_module_n_buffers(a), 2);
        cr_assert_str_eq(tg_module_buffer_name(a, 0), "1.running_mean");
        double va[512], vb[512];
        int n = snap(a, va, 512);
        snap(b, vb, 512);
        cr_assert(memcmp(va, vb, (size_t)n * sizeof(double)) != 0, "seeds give equal nets");
        const char *p = tpath("net.safetensors");
        cr_assert_eq(tg_save_safetensors(a, p), TG_OK, "%s", tg_last_error());
        cr_assert_eq(tg_save_safetensors(a, p), TG_OK, "overwrite: %s", tg_last_error());
        cr_assert_eq(tg_load_safetensors(b, p), TG_OK, "%s", tg_last_error());
        expect_same(a, b);
        tg_module_free(a);
        tg_module_free(b);
    }
    // the atomic write left no temporary file behind
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') {
            files++;
            cr_expect_str_eq(e->d_name, "net.safetensors");
        }
    closedir(d);
    cr_expect_eq(files, 1);
}

Test(checkpoint, header_layout) {
    tg_module *a = make_net(TG_F32, 1, 4);
    const char *p = tpath("h.safetensors");
    cr_assert_eq(tg_save_safetensors(a, p), TG_OK, "%s", tg_last_error());
    size_t len;
    unsigned char *b = slurp(p, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    cr_expect_eq(n % 8, 0, "header size %llu is not a multiple of 8", (unsigned long long)n);
    // params: 12+4 + 4+4 + 8+2 floats, buffers 4+4 floats
    cr_expect_eq(len, 8 + n + 4 * (16 + 8 + 10 + 8));
    char head[2048];
    cr_assert(n < sizeof head);
    memcpy(head, b + 8, n);
    head[n] = '\0';
    cr_expect(strstr(head, "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4,3],"
                           "\"data_offsets\":[0,48]}") != NULL,
              "%s", head);
    cr_expect(strstr(head, "\"1.running_var\":{\"dtype\":\"F32\",\"shape\":[4]") != NULL);
    cr_expect(strstr(head, "\"__metadata__\":{\"format\":\"pt\"}") != NULL);
    tg_module_free(a);
}

// ---- interop with the independent Python reader/writer ----

Test(checkpoint, loads_python_fixture) {
    tg_rng *rng = tg_rng_new(0);
    tg_module *lin = tg_linear(tu_cpu(), TG_F32, 2, 3, true, rng);
    tg_rng_free(rng);
    cr_assert_eq(tg_load_safetensors(lin, TG_FIXTURES "/linear_2_3.safetensors"), TG_OK, "%s",
                 tg_last_error());
    tu_expect_arr(tg_module_param(lin, 0),
                  (tu_arr){2, {3, 2}, (double[]){0.5, -0.25, 1.5, 2.0, -3.125, 0.0625}}, 0);
    tu_expect_arr(tg_module_param(lin, 1), (tu_arr){1, {3}, (double[]){0.75, -1.0, 4.5}}, 0);
    tg_module_free(lin);
}

Test(checkpoint, python_checker_reads_ours) {
    tg_module *a = make_net(TG_F64, 5, 3);
    const char *p = tpath("py.safetensors");
    cr_assert_eq(tg_save_safetensors(a, p), TG_OK, "%s", tg_last_error());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/gen_safetensors.py --check %s 2>&1", TG_FIXTURES,
             p);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    static char out[1 << 16];
    size_t len = fread(out, 1, sizeof out - 1, f);
    out[len] = '\0';
    int st = pclose(f);
    if (WIFEXITED(st) && (WEXITSTATUS(st) == 77 || WEXITSTATUS(st) == 127))
        cr_skip_test("python3 with numpy is not available: %s", out);
    cr_assert_eq(st, 0, "checker failed:\n%s", out);
    int np = tg_module_n_params(a), nb = tg_module_n_buffers(a), found = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64], dtype[8], shape[32];
        int used;
        cr_assert_eq(sscanf(line, "%63s %7s %31s%n", name, dtype, shape, &used), 3, "%s", line);
        cr_expect_str_eq(dtype, "F64");
        tg_tensor *t = NULL;
        for (int i = 0; i < np + nb; i++) {
            const char *nm = i < np ? tg_module_param_name(a, i) : tg_module_buffer_name(a, i - np);
            if (strcmp(nm, name) == 0)
                t = i < np ? tg_module_param(a, i) : tg_module_buffer(a, i - np);
        }
        cr_assert_not_null(t, "python saw an unknown tensor '%s'", name);
        const double *v = tg_data_f64(t);
        char *s = line + used;
        for (int64_t j = 0; j < tg_numel(t); j++) {
            char *end;
            double d = strtod(s, &end);
            cr_assert(end != s, "%s: too few values", name);
            cr_expect_eq(d, v[j], "%s[%lld]: python %.17g, C %.17g", name, (long long)j, d, v[j]);
            s = end;
        }
        found++;
    }
    cr_expect_eq(found, np + nb, "python listed %d of %d tensors", found, np + nb);
    tg_module_free(a);
}

// ---- corrupt files ----

// Attempts to load `path` into m; expects failure with `status` and the needles in the
// message (plus the path), and m's values unchanged.
static void expect_rejected(tg_module *m, const char *path, int status, const char *n1,
                            const char *n2) {
    double before[512], after[512];
    int n = snap(m, before, 512);
    tg_clear_error();
    int st = tg_load_safetensors(m, path);
    cr_expect_eq(st, status, "%s: status %d, want %d: %s", path, st, status, tg_last_error());
    tu_expect_error("tg_load_safetensors", path);
    tu_expect_error(n1, n2);
    snap(m, after, 512);
    cr_expect(memcmp(before, after, (size_t)n * sizeof(double)) == 0, "%s changed the module",
              path);
    tg_clear_error();
}

Test(checkpoint, damaged_files_leave_module_untouched) {
    tg_module *a = make_net(TG_F32, 1, 4), *b = make_net(TG_F32, 2, 4);
    const char *good = tpath("good.safetensors");
    cr_assert_eq(tg_save_safetensors(a, good), TG_OK, "%s", tg_last_error());
    size_t len;
    unsigned char *g = slurp(good, &len);
    static unsigned char buf[1 << 16];
    memcpy(buf, g, len);
    expect_rejected(b, put("trunc.st", buf, len - 10), TG_ERR_IO, "out of range", NULL);
    expect_rejected(b, put("tiny.st", buf, 5), TG_ERR_IO, "too short", NULL);
    expect_rejected(b, put("half.st", buf, 8 + 40), TG_ERR_IO, "header size", "not sane");
    buf[len] = 0;
    expect_rejected(b, put("extra.st", buf, len + 1), TG_ERR_IO, "belong to no tensor", NULL);
    memset(buf, 0xff, 8);
    expect_rejected(b, put("hlen.st", buf, len), TG_ERR_IO, "header size 18446744073709551615",
                    "not sane");
    memcpy(buf, g, len);
    buf[8] = '[';
    expect_rejected(b, put("notobj.st", buf, len), TG_ERR_IO, "does not start with '{'", NULL);
    expect_rejected(b, tpath("absent.st"), TG_ERR_IO, "cannot open", NULL);

    // whole modules of another shape or dtype, or lacking a tensor
    tg_module *wide = make_net(TG_F32, 3, 5), *f64 = make_net(TG_F64, 3, 4);
    tg_rng *rng = tg_rng_new(1);
    tg_module *lin =
        tg_sequential(1, (tg_module *[]){tg_linear(tu_cpu(), TG_F32, 3, 4, true, rng)});
    tg_rng_free(rng);
    cr_assert_eq(tg_save_safetensors(wide, tpath("wide.st")), TG_OK);
    cr_assert_eq(tg_save_safetensors(f64, tpath("f64.st")), TG_OK);
    cr_assert_eq(tg_save_safetensors(lin, tpath("lin.st")), TG_OK);
    expect_rejected(b, tpath("wide.st"), TG_ERR_SHAPE, "'0.weight' has shape [5,3] in the file",
                    "module has [4,3]");
    expect_rejected(b, tpath("f64.st"), TG_ERR_DTYPE, "'0.weight' is F64 in the file",
                    "module has F32");
    expect_rejected(b, tpath("lin.st"), TG_ERR_IO, "tensor '1.weight' is missing", NULL);
    tg_module_free(wide), tg_module_free(f64), tg_module_free(lin);
    tg_module_free(a), tg_module_free(b);
}

// A file with a hand-written header (padded to 8) and `data_len` bytes of data 1.0f...
static const char *craft(const char *name, const char *json, size_t data_len) {
    static unsigned char buf[4096];
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    cr_assert(8 + padded + data_len <= sizeof buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, json, n);
    memset(buf + 8 + n, ' ', padded - n);
    float one = 1.0f;
    for (size_t i = 0; i + 4 <= data_len; i += 4) memcpy(buf + 8 + padded + i, &one, 4);
    memset(buf + 8 + padded + data_len / 4 * 4, 0, data_len % 4);
    return put(name, buf, 8 + padded + data_len);
}

#define W "\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}"
#define B "\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}"

Test(checkpoint, bad_headers_leave_module_untouched) {
    tg_rng *rng = tg_rng_new(3);
    tg_module *m = tg_linear(tu_cpu(), TG_F32, 2, 1, true, rng);  // weight [1,2], bias [1]
    tg_rng_free(rng);
    struct {
        const char *json;
        size_t data;
        int status;
        const char *n1, *n2;
    } cases[] = {
        {"{" W "," B ",}", 12, TG_ERR_IO, "bad JSON header", "expected a string"},
        {"{" W "," B, 12, TG_ERR_IO, "bad JSON header", "expected '}'"},
        {"{" W " " B "}", 12, TG_ERR_IO, "bad JSON header", "expected '}'"},
        {"{\"weight\" {}}", 12, TG_ERR_IO, "expected ':'", NULL},
        {"{\"weight:{}}", 12, TG_ERR_IO, "unterminated string", NULL},
        {"{" W "," B "} x", 12, TG_ERR_IO, "unexpected characters after", NULL},
        {"{" W "," B "," W "}", 12, TG_ERR_IO, "'weight' appears twice", NULL},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8],\"x\":1}," B "}",
         12, TG_ERR_IO, "unexpected key 'x'", NULL},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2]}," B "}", 12, TG_ERR_IO,
         "'weight' lacks 'data_offsets'", NULL},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[1,-2],\"data_offsets\":[0,8]}," B "}", 12,
         TG_ERR_IO, "non-negative integer", NULL},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2.0],\"data_offsets\":[0,8]}," B "}", 12,
         TG_ERR_IO, "non-negative integer", NULL},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[01,2],\"data_offsets\":[0,8]}," B "}", 12,
         TG_ERR_IO, "non-negative integer", NULL},
        {"{\"weight\":{\"dtype\":\"F33\",\"shape\":[1,2],\"data_offsets\":[0,8]}," B "}", 12,
         TG_ERR_IO, "unknown dtype 'F33'", NULL},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0]}," B "}", 12,
         TG_ERR_IO, "data_offsets needs 2 numbers", NULL},
        {"{\"__metadata__\":{\"a\":1}," W "," B "}", 12, TG_ERR_IO, "strings to strings", NULL},
        {"{\"w\\qeight\":{}}", 12, TG_ERR_IO, "bad escape", NULL},
        {"{\"\xff\":{}}", 12, TG_ERR_IO, "not valid UTF-8", NULL},
        {"{\"\\ud800\":{}}", 12, TG_ERR_IO, "unpaired surrogate", NULL},
        // the layout
        {"{" W "," B "}", 8, TG_ERR_IO, "'bias': data_offsets [8, 12] out of range", "8 bytes"},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,4]}," B "}", 12,
         TG_ERR_IO, "span 4 bytes", "needs 8"},
        {"{" W ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, TG_ERR_IO,
         "overlap", NULL},
        {"{" W ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16,
         TG_ERR_IO, "data bytes [8, 12) belong to no tensor", NULL},
        {"{" W ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,8]}}", 12,
         TG_ERR_IO, "out of range", NULL},
        // sizes that do not fit (issue 11): offsets, dimensions, shape products
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":"
         "[0,18446744073709551615]}," B "}", 12, TG_ERR_IO, "out of range", NULL},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":"
         "[0,18446744073709551616]}," B "}", 12, TG_ERR_IO, "integer too large", NULL},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[1,9223372036854775808],\"data_offsets\":"
         "[0,8]}," B "}", 12, TG_ERR_IO, "dimension too large", NULL},
        {"{\"x\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":"
         "[12,20]}," W "," B "}", 20, TG_ERR_IO, "tensor 'x' is too large", NULL},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2,4611686018427387904],\"data_offsets\":"
         "[12,12]}," W "," B "}", 12, TG_ERR_IO, "tensor 'x' is too large", NULL},
        // names, dtypes, shapes
        {"{" W "}", 8, TG_ERR_IO, "tensor 'bias' is missing from the file", NULL},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}," B "}", 12,
         TG_ERR_SHAPE, "'weight' has shape [2,1] in the file", "module has [1,2]"},
        {"{\"weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," B "}", 12,
         TG_ERR_SHAPE, "shape [2] in the file", NULL},
        {"{\"weight\":{\"dtype\":\"I32\",\"shape\":[1,2],\"data_offsets\":[0,8]}," B "}", 12,
         TG_ERR_DTYPE, "'weight' is I32 in the file", NULL},
        {"{\"weight\":{\"dtype\":\"F64\",\"shape\":[1,2],\"data_offsets\":[0,16]},"
         "\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]}}",
         20, TG_ERR_DTYPE, "'weight' is F64 in the file", "module has F32"},
    };
    char name[32];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(name, sizeof name, "case%zu.st", c);
        expect_rejected(m, craft(name, cases[c].json, cases[c].data), cases[c].status, cases[c].n1,
                        cases[c].n2);
    }
    tg_module_free(m);
}

Test(checkpoint, extra_tensors_and_escapes_are_fine) {
    tg_rng *rng = tg_rng_new(3);
    tg_module *m = tg_linear(tu_cpu(), TG_F32, 2, 1, true, rng);
    tg_rng_free(rng);
    // an escaped name, metadata, whitespace, and PyTorch's int64 num_batches_tracked extra
    const char *p =
        craft("ok.st",
              "{ \"__metadata__\" : {\"format\": \"pt\", \"k\\u00e9\": \"\\\"v\\\"\"},\n"
              "  \"w\\u0065ight\": {\"dtype\": \"F32\", \"shape\": [1, 2], "
              "\"data_offsets\": [0, 8]},\n  " B ",\n"
              "  \"num_batches_tracked\": {\"dtype\":\"I64\",\"shape\":[],"
              "\"data_offsets\":[12,20]} }",
              20);
    cr_assert_eq(tg_load_safetensors(m, p), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_module_param(m, 0), (double[]){1, 1}, 2, 0);
    tu_expect_values(tg_module_param(m, 1), (double[]){1}, 1, 0);
    tg_module_free(m);
}

Test(checkpoint, bad_arguments) {
    tg_module *a = make_net(TG_F32, 1, 2);
    cr_expect_eq(tg_save_safetensors(NULL, tpath("x.st")), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_save_safetensors", "NULL");
    tg_clear_error();
    cr_expect_eq(tg_load_safetensors(a, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_save_safetensors(a, "/nonexistent-dir/x.safetensors"), TG_ERR_IO);
    tu_expect_error("tg_save_safetensors", "/nonexistent-dir/x.safetensors");
    tg_clear_error();
    tg_module_free(a);
}

Test(checkpoint, modules_without_tensors) {
    tg_module *relu = tg_relu_layer();
    const char *p = tpath("empty.st");
    cr_assert_eq(tg_save_safetensors(relu, p), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_load_safetensors(relu, p), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_load_safetensors(relu, craft("brace.st", "{}", 0)), TG_OK, "%s",
                 tg_last_error());
    tg_module_free(relu);
    tg_rng *rng = tg_rng_new(3);
    tg_module *m = tg_linear(tu_cpu(), TG_F32, 2, 1, true, rng);
    tg_rng_free(rng);
    expect_rejected(m, craft("none.st", "{}", 0), TG_ERR_IO, "tensor 'weight' is missing", NULL);
    tg_module_free(m);
}

// New .npy files and checkpoints get 0666 minus the user's umask (mkstemp made them 0600);
// a replaced file keeps its mode.
Test(checkpoint, saved_files_get_the_users_umask) {
    tg_module *a = make_net(TG_F32, 1, 2);
    const mode_t masks[2] = {022, 077}, want[2] = {0644, 0600};
    struct stat st;
    for (int kind = 0; kind < 2; kind++) {
        const char *p = tpath(kind ? "mode.safetensors" : "mode.npy");
        for (int i = 0; i < 3; i++) {
            mode_t old = umask(masks[i % 2]);
            if (i < 2) unlink(p);
            else cr_assert_eq(chmod(p, 0640), 0);
            int rc = kind ? tg_save_safetensors(a, p) : tg_save_npy(p, tg_module_param(a, 0));
            umask(old);
            cr_assert_eq(rc, TG_OK, "%s", tg_last_error());
            cr_assert_eq(stat(p, &st), 0);
            mode_t w = i < 2 ? want[i] : 0640;
            cr_expect_eq(st.st_mode & 0777, w, "%s: umask %03o (step %d) gave mode %03o, want %03o",
                         p, masks[i % 2], i, st.st_mode & 0777, w);
        }
    }
    tg_module_free(a);
}

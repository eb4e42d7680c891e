// Tests for the data files of nn/: csv.c, npy.c, idx.c, split.c, loader.c, metrics.c.
// Every file is written to a fresh mkdtemp directory that the suite's .fini removes.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_util.h"

// ---- temp files ----

static char dir[64];

static void mk_tmp(void) {
    snprintf(dir, sizeof dir, "/tmp/tg_data_XXXXXX");
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

// "<dir>/<name>" in one of 8 rotating buffers.
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

static const char *put_str(const char *name, const char *text) {
    return put(name, text, strlen(text));
}

// True when needle occurs in b[0, n).
static bool has(const unsigned char *b, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(b + i, needle, k) == 0) return true;
    return false;
}

// A failed call: its status, the thread's error status, and needles in the message.
static void expect_fail(int st, int want, const char *n1, const char *n2) {
    cr_expect_eq(st, want, "status %d, want %d: %s", st, want, tg_last_error());
    cr_expect_eq(tg_last_status(), want, "error status %d: %s", tg_last_status(), tg_last_error());
    tu_expect_error(n1, n2);
    tg_clear_error();
}

// ---- CSV ----

TestSuite(csv, .init = mk_tmp, .fini = rm_tmp);

Test(csv, header_and_last_label_column) {
    const char *p = put_str("a.csv", "a,b,label\n1,2,0\n3.5,-4e1,1");  // no final newline
    tg_tensor *x, *y;
    cr_assert_eq(tg_load_csv(p, tu_cpu(), TG_F32, true, -1, &x, &y), TG_OK, "%s", tg_last_error());
    tu_expect_arr(x, (tu_arr){2, {2, 2}, (double[]){1, 2, 3.5, -40}}, 0);
    tu_expect_arr(y, (tu_arr){1, {2}, (double[]){0, 1}}, 0);
    cr_expect_eq(tg_dtype_of(x), TG_F32);
    tu_free(x);
    tu_free(y);
}

Test(csv, crlf_spaces_blank_lines_first_label_f64) {
    const char *p = put_str("b.csv", " 1, 2 ,3\r\n\r\n4,\t5,6\r\n\n");
    tg_tensor *x, *y;
    cr_assert_eq(tg_load_csv(p, tu_cpu(), TG_F64, false, 0, &x, &y), TG_OK, "%s", tg_last_error());
    tu_expect_arr(x, (tu_arr){2, {2, 2}, (double[]){2, 3, 5, 6}}, 0);
    tu_expect_arr(y, (tu_arr){1, {2}, (double[]){1, 4}}, 0);
    cr_expect_eq(tg_dtype_of(y), TG_F64);
    tu_free(x);
    tu_free(y);
}

Test(csv, no_label_and_exact_doubles) {
    const char *p = put_str("c.csv", "0.1,-2.5e-3,1e300\n7,8,9\n");
    tg_tensor *x;
    cr_assert_eq(tg_load_csv(p, tu_cpu(), TG_F64, false, TG_NO_LABEL, &x, NULL), TG_OK, "%s",
                 tg_last_error());
    tu_expect_arr(x, (tu_arr){2, {2, 3}, (double[]){0.1, -2.5e-3, 1e300, 7, 8, 9}}, 0);
    tu_free(x);
}

Test(csv, ragged_rows) {
    tg_tensor *x = (tg_tensor *)1, *y = (tg_tensor *)1;
    const char *p = put_str("r.csv", "a,b,c\n1,2,3\n4,5\n");
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, true, -1, &x, &y), TG_ERR_IO, "r.csv",
                "line 3 has 2 columns, expected 3");
    cr_expect_null(x);
    cr_expect_null(y);
    p = put_str("r2.csv", "1,2\n3,4,5\n");
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, false, -1, &x, &y), TG_ERR_IO, "tg_load_csv",
                "line 2 has more than 2 columns");
}

Test(csv, non_numbers_and_empty_cells) {
    tg_tensor *x, *y;
    const char *p = put_str("n.csv", "h1,h2\n1,2\n3,abc\n");
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, true, -1, &x, &y), TG_ERR_IO,
                "n.csv: line 3, column 2", "'abc' is not a number");
    p = put_str("n2.csv", "1,2x,3\n");
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, false, -1, &x, &y), TG_ERR_IO, "column 2", "'2x'");
    p = put_str("n3.csv", "1,,3\n");
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, false, -1, &x, &y), TG_ERR_IO, "line 1, column 2",
                "empty cell");
    p = put_str("n4.csv", "1,2,\n3,4,5\n");  // a trailing comma must not swallow line 2
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, false, -1, &x, &y), TG_ERR_IO, "line 1, column 3",
                "empty cell");
    p = put_str("n5.csv", "1,1e999\n");
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, false, -1, &x, &y), TG_ERR_IO, "'1e999'", NULL);
}

Test(csv, empty_missing_and_bad_arguments) {
    tg_tensor *x, *y;
    expect_fail(tg_load_csv(put_str("e.csv", ""), tu_cpu(), TG_F32, true, -1, &x, &y), TG_ERR_IO,
                "e.csv", "empty");
    expect_fail(tg_load_csv(put_str("h.csv", "a,b\n\n"), tu_cpu(), TG_F32, true, -1, &x, &y),
                TG_ERR_IO, "h.csv", "no data lines after the header");
    expect_fail(tg_load_csv(tpath("none.csv"), tu_cpu(), TG_F32, true, -1, &x, &y), TG_ERR_IO,
                "cannot open", "none.csv");
    const char *p = put_str("ok.csv", "1,2\n");
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, false, 2, &x, &y), TG_ERR_INVALID_ARG,
                "label_col 2 is out of range", "2 columns");
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, false, -1, &x, NULL), TG_ERR_INVALID_ARG,
                "y is NULL", NULL);
    expect_fail(tg_load_csv(NULL, tu_cpu(), TG_F32, false, -1, &x, &y), TG_ERR_INVALID_ARG,
                "tg_load_csv", NULL);
}

// ---- .npy ----

// A hand-made .npy: preamble of version major.0, dict padded to 64 bytes, then data.
static const char *npy_file(const char *name, int major, const char *dict, const void *data,
                            size_t len) {
    unsigned char buf[1024];
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
    cr_assert(total + len <= sizeof buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hlen - dl - 1);
    buf[total - 1] = '\n';
    if (len) memcpy(buf + total, data, len);
    return put(name, buf, total + len);
}

TestSuite(npy, .init = mk_tmp, .fini = rm_tmp);

Test(npy, round_trip_f32_f64_and_shapes) {
    const int64_t shapes[4][3] = {{2, 3}, {5}, {0}, {0, 2}};
    const int ndims[4] = {2, 1, 0, 2};
    const double v64[6] = {1.5, -2.25, 1e-300, 3.0e100, 0.1, -0.0};
    const double v32[6] = {1.5, -2.25, 0.125, 1024.5, -3e-5f, 7};  // exact in f32
    for (int dt = 0; dt < 2; dt++) {
        for (int s = 0; s < 4; s++) {
            tg_dtype dtype = dt ? TG_F64 : TG_F32;
            const double *w = dt ? v64 : v32;
            tg_tensor *t =
                tu_make(dtype, (tu_arr){ndims[s], {shapes[s][0], shapes[s][1]}, w}, false);
            const char *p = tpath("rt.npy");
            cr_assert_eq(tg_save_npy(p, t), TG_OK, "%s", tg_last_error());
            tg_tensor *u = tg_load_npy(p, tu_cpu(), dtype);
            tu_expect_arr(u, (tu_arr){ndims[s], {shapes[s][0], shapes[s][1]}, w}, 0);
            tu_free(u);
            // the other dtype converts
            u = tg_load_npy(p, tu_cpu(), dt ? TG_F32 : TG_F64);
            cr_assert_not_null(u, "%s", tg_last_error());
            cr_expect_eq(tg_numel(u), tg_numel(t));
            tu_free(u);
            tu_free(t);
        }
    }
}

Test(npy, saved_header_is_numpy_v1) {
    tg_tensor *t = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    const char *p = tpath("h.npy");
    cr_assert_eq(tg_save_npy(p, t), TG_OK, "%s", tg_last_error());
    tu_free(t);
    FILE *f = fopen(p, "rb");
    unsigned char b[256];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    cr_assert_eq(n, 128 + 48);
    cr_expect(memcmp(b, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hlen = (size_t)b[8] | (size_t)b[9] << 8;
    cr_expect_eq((10 + hlen) % 64, 0);
    cr_expect_eq(b[10 + hlen - 1], '\n');
    cr_expect(has(b, 10 + hlen, "'descr': '<f8'"));
    cr_expect(has(b, 10 + hlen, "'fortran_order': False"));
    cr_expect(has(b, 10 + hlen, "'shape': (2, 3)"));
    t = tu_make(TG_F32, (tu_arr){1, {4}, NULL}, false);
    cr_assert_eq(tg_save_npy(p, t), TG_OK);
    tu_free(t);
    f = fopen(p, "rb");
    n = fread(b, 1, sizeof b, f);
    fclose(f);
    cr_expect(has(b, n, "'shape': (4,)"), "1-tuple needs its comma");
    cr_expect(has(b, n, "'<f4'"));
}

Test(npy, integer_and_bool_files) {
    struct {
        const char *descr;
        unsigned char bytes[32];
        size_t len;
        double want[4];
    } cases[] = {
        {"|i1", {0x80, 0xff, 0x7f, 0x00}, 4, {-128, -1, 127, 0}},
        {"|u1", {0x00, 0xff, 0x10, 0x01}, 4, {0, 255, 16, 1}},
        {"|b1", {0, 1, 1, 0}, 4, {0, 1, 1, 0}},
        {"<i2", {0x00, 0x80, 0xff, 0xff, 0x34, 0x12, 0, 0}, 8, {-32768, -1, 0x1234, 0}},
        {"<u2", {0xff, 0xff, 0, 1, 2, 0, 0, 0}, 8, {65535, 256, 2, 0}},
        {">i2", {0x80, 0x00, 0xff, 0xfe, 0x12, 0x34, 0, 5}, 8, {-32768, -2, 0x1234, 5}},
        {"<i4",
         {0xff, 0xff, 0xff, 0xff, 0xe0, 0x93, 0x04, 0, 0, 0, 0, 0x80, 7, 0, 0, 0},
         16,
         {-1, 300000, -2147483648.0, 7}},
        {"<u4",
         {0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0},
         16,
         {4294967295.0, 1, 0, 9}},
        {"<i8",
         {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 0, 0,
          3,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0},
         32,
         {-2, 4294967296.0, 3, 0}},
        {"<u8",
         {0, 0, 0, 0, 0, 0, 0, 0x80, 1, 0, 0, 0, 0, 0, 0, 0,
          0, 0, 0, 0, 0, 0, 0, 0,    2, 0, 0, 0, 0, 0, 0, 0},
         32,
         {9223372036854775808.0, 1, 0, 2}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2, 2), }",
                 cases[c].descr);
        const char *p = npy_file("i.npy", 1 + (int)(c % 3), dict, cases[c].bytes, cases[c].len);
        tg_tensor *t = tg_load_npy(p, tu_cpu(), TG_F64);
        cr_assert_not_null(t, "%s: %s", cases[c].descr, tg_last_error());
        tu_expect_arr(t, (tu_arr){2, {2, 2}, cases[c].want}, 0);
        tu_free(t);
    }
    // "()" scalar, "(3)" style without the comma is not a tuple
    double d = 2.5;
    const char *p =
        npy_file("s.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': ()}", &d, 8);
    tg_tensor *t = tg_load_npy(p, tu_cpu(), TG_F32);
    tu_expect_arr(t, (tu_arr){0, {0}, (double[]){2.5}}, 0);
    tu_free(t);
    // keys in another order, double quotes, no trailing comma
    float f[3] = {1, 2, 3};
    p = npy_file("o.npy", 1, "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}", f,
                 12);
    t = tg_load_npy(p, tu_cpu(), TG_F32);
    tu_expect_arr(t, (tu_arr){1, {3}, (double[]){1, 2, 3}}, 0);
    tu_free(t);
}

Test(npy, malformed_files) {
    float f[8] = {0};  // 32 bytes: the "extra" case writes 28
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    struct {
        const char *name, *dict;
        int major;
        size_t len;
        int status;
        const char *n1, *n2;
    } cases[] = {
        {"fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 1, 24,
         TG_ERR_UNSUPPORTED, "fortran_order is True", "C-order"},
        {"trunc.npy", ok, 1, 20, TG_ERR_IO, "truncated data", "20 bytes"},
        {"extra.npy", ok, 1, 28, TG_ERR_IO, "4 unexpected bytes", NULL},
        {"dtype.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }", 1, 24,
         TG_ERR_IO, "unsupported dtype '<c8'", NULL},
        {"descr.npy", "{'descr': '', 'fortran_order': False, 'shape': (2, 3), }", 1, 24, TG_ERR_IO,
         "unsupported dtype ''", NULL},
        {"key.npy", "{'descr': '<f4', 'fortran_order': False}", 1, 24, TG_ERR_IO,
         "lacks the 'shape' key", NULL},
        {"key2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", 1, 24,
         TG_ERR_IO, "unexpected key 'x'", NULL},
        {"tuple.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3 }", 1, 24, TG_ERR_IO,
         "bad shape tuple", NULL},
        {"tuple1.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6) }", 1, 24, TG_ERR_IO,
         "needs a comma", NULL},
        {"neg.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,) }", 1, 24, TG_ERR_IO,
         "bad shape tuple", NULL},
        {"bool.npy", "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,) }", 1, 24, TG_ERR_IO,
         "True or False", NULL},
        {"v4.npy", ok, 4, 24, TG_ERR_IO, "unsupported .npy version 4.0", NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *p = npy_file(cases[c].name, cases[c].major, cases[c].dict, f, cases[c].len);
        tg_clear_error();
        cr_expect_null(tg_load_npy(p, tu_cpu(), TG_F32), "%s loaded", cases[c].name);
        tu_expect_error(cases[c].name, "tg_load_npy");
        expect_fail(tg_last_status(), cases[c].status, cases[c].n1, cases[c].n2);
    }
    const char *p = put_str("magic.npy", "\x93NUMPZ\x01\x00\x10\x00{}");
    cr_expect_null(tg_load_npy(p, tu_cpu(), TG_F32));
    expect_fail(tg_last_status(), TG_ERR_IO, "magic.npy", "bad magic");
    p = put("short.npy", "\x93NUMPY\x01\x00\xff\x00{'descr'", 17);
    cr_expect_null(tg_load_npy(p, tu_cpu(), TG_F32));
    expect_fail(tg_last_status(), TG_ERR_IO, "truncated header", NULL);
    p = put("tiny.npy", "\x93NU", 3);
    cr_expect_null(tg_load_npy(p, tu_cpu(), TG_F32));
    expect_fail(tg_last_status(), TG_ERR_IO, "bad magic", NULL);
    cr_expect_null(tg_load_npy(tpath("missing.npy"), tu_cpu(), TG_F32));
    expect_fail(tg_last_status(), TG_ERR_IO, "cannot open", "missing.npy");
}

// Shapes whose non-zero dimensions' product does not fit: the file loader names itself
// (a zero dimension hid the product from the check and tg_tensor_from refused it).
Test(npy, shapes_that_do_not_fit) {
    const char *dicts[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807, 0), }",
    };
    for (int i = 0; i < 3; i++) {
        const char *p = npy_file("big.npy", 1, dicts[i], NULL, 0);
        tg_clear_error();
        cr_expect_null(tg_load_npy(p, tu_cpu(), TG_F32), "%s loaded", dicts[i]);
        expect_fail(tg_last_status(), TG_ERR_IO, "tg_load_npy: ", "too large");
    }
}

// Saving a stale step tensor: the error names tg_save_npy (it named tg_dtype_of).
Test(npy, saving_a_stale_tensor) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_f64(1, (int64_t[]){2}, (double[]){1, 2}, true), *y = tg_add(tape, a, a);
    tg_tape_reset(tape);
    expect_fail(tg_save_npy(tpath("stale.npy"), y), TG_ERR_STATE, "tg_save_npy: ",
                "step tensor used after tg_tape_reset");
    cr_expect_neq(access(tpath("stale.npy"), F_OK), 0, "a file was written");
    tg_tape_free(tape), tg_free(a);
}

// numpy itself writes the files (skipped when python3 or numpy is missing).
Test(npy, files_written_by_numpy) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np, sys; d=sys.argv[1]; "
             "np.save(d+'/a.npy', np.arange(6, dtype='<i8').reshape(2, 3) - 2); "
             "np.save(d+'/b.npy', np.array([[0.5, 1.25]], dtype='>f8')); "
             "np.save(d+'/c.npy', np.array([True, False])); "
             "np.save(d+'/d.npy', np.float32(3.5))\" %s 2>/dev/null",
             dir);
    if (system(cmd) != 0) cr_skip_test("python3 with numpy is not available");
    tg_tensor *a = tg_load_npy(tpath("a.npy"), tu_cpu(), TG_F32);
    tu_expect_arr(a, (tu_arr){2, {2, 3}, (double[]){-2, -1, 0, 1, 2, 3}}, 0);
    tg_tensor *b = tg_load_npy(tpath("b.npy"), tu_cpu(), TG_F64);
    tu_expect_arr(b, (tu_arr){2, {1, 2}, (double[]){0.5, 1.25}}, 0);
    tg_tensor *c = tg_load_npy(tpath("c.npy"), tu_cpu(), TG_F32);
    tu_expect_arr(c, (tu_arr){1, {2}, (double[]){1, 0}}, 0);
    tg_tensor *d = tg_load_npy(tpath("d.npy"), tu_cpu(), TG_F32);
    tu_expect_arr(d, (tu_arr){0, {0}, (double[]){3.5}}, 0);
    tu_free(a), tu_free(b), tu_free(c), tu_free(d);
    // and numpy reads ours
    tg_tensor *t = tu_make(TG_F32, (tu_arr){2, {2, 2}, (double[]){1, 2, 3, 4.5}}, false);
    cr_assert_eq(tg_save_npy(tpath("ours.npy"), t), TG_OK, "%s", tg_last_error());
    tu_free(t);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np, sys; a=np.load(sys.argv[1]); "
             "sys.exit(0 if a.dtype == np.float32 and a.shape == (2, 2) and a.sum() == 10.5 "
             "else 1)\" %s",
             tpath("ours.npy"));
    cr_expect_eq(system(cmd), 0, "numpy did not read our file back");
}

// ---- IDX ----

TestSuite(idx, .init = mk_tmp, .fini = rm_tmp);

Test(idx, labels_and_images) {
    unsigned char lab[] = {0, 0, 8, 1, 0, 0, 0, 5, 3, 0, 9, 1, 255};
    tg_tensor *y = tg_load_idx(put("l.idx", lab, sizeof lab), tu_cpu(), TG_F32, 1.0 / 255);
    tu_expect_arr(y, (tu_arr){1, {5}, (double[]){3, 0, 9, 1, 255}}, 0);  // labels unscaled
    tu_free(y);
    unsigned char img[16 + 12] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    for (int i = 0; i < 12; i++) img[16 + i] = (unsigned char)(i * 20);
    tg_tensor *x = tg_load_idx(put("i.idx", img, sizeof img), tu_cpu(), TG_F64, 0.5);
    double want[12];
    for (int i = 0; i < 12; i++) want[i] = i * 10;
    tu_expect_arr(x, (tu_arr){2, {2, 6}, want}, 0);
    tu_free(x);
}

Test(idx, bad_files) {
    struct {
        const char *name;
        unsigned char b[20];
        size_t len;
        int status;
        const char *n1;
    } cases[] = {
        {"float.idx",
         {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0},
         12,
         TG_ERR_UNSUPPORTED,
         "element type 0x0d (float)"},
        {"magic.idx", {1, 2, 8, 1, 0, 0, 0, 1, 7}, 9, TG_ERR_IO, "not an IDX file"},
        {"dims.idx",
         {0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7},
         13,
         TG_ERR_UNSUPPORTED,
         "2 dimensions"},
        {"trunc.idx", {0, 0, 8, 1, 0, 0, 0, 4, 1, 2}, 10, TG_ERR_IO, "truncated: 2 data bytes"},
        {"extra.idx", {0, 0, 8, 1, 0, 0, 0, 1, 1, 2}, 10, TG_ERR_IO, "trailing bytes"},
        {"head.idx", {0, 0, 8, 3, 0, 0, 0, 1, 0, 0}, 10, TG_ERR_IO, "truncated header"},
        {"gz.idx", {0x1f, 0x8b, 8, 0}, 4, TG_ERR_UNSUPPORTED, "gunzip"},
        {"short.idx", {0, 0}, 2, TG_ERR_IO, "truncated"},
        // zero images of 2^32-1 x 2^32-1 pixels: rows * cols overflowed int64 (UB) before
        // the product of the non-zero dimensions was checked (found by tests/fuzz/fuzz_idx)
        {"zero.idx", {0, 0, 8, 3, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255}, 16,
         TG_ERR_IO, "dimensions too large"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *p = put(cases[c].name, cases[c].b, cases[c].len);
        cr_expect_null(tg_load_idx(p, tu_cpu(), TG_F32, 1.0), "%s loaded", cases[c].name);
        tu_expect_error(cases[c].name, "tg_load_idx");
        expect_fail(tg_last_status(), cases[c].status, cases[c].n1, NULL);
    }
}

// 0 x 2^16 x 2^16 images fit: an empty [0, 2^32] tensor. A NaN or infinite scale is
// refused (every image value would be NaN).
Test(idx, empty_images_and_non_finite_scale) {
    unsigned char wide[16] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0};
    tg_tensor *t = tg_load_idx(put("wide.idx", wide, sizeof wide), tu_cpu(), TG_F32, 1.0);
    cr_assert_not_null(t, "%s", tg_last_error());
    cr_expect(tg_shape(t)[0] == 0 && tg_shape(t)[1] == (int64_t)1 << 32);
    tu_free(t);
    unsigned char lab[9] = {0, 0, 8, 1, 0, 0, 0, 1, 7};
    const char *p = put("s.idx", lab, sizeof lab);
    cr_expect_null(tg_load_idx(p, tu_cpu(), TG_F32, NAN));
    expect_fail(tg_last_status(), TG_ERR_INVALID_ARG, "tg_load_idx: ", "scale nan is not finite");
    cr_expect_null(tg_load_idx(p, tu_cpu(), TG_F32, INFINITY));
    expect_fail(tg_last_status(), TG_ERR_INVALID_ARG, "scale inf", NULL);
}

// ---- split and standardise ----

// x [n, 2] with row i = (i, -i), y [n] = i.
static void make_xy(int64_t n, tg_tensor **x, tg_tensor **y) {
    double xv[200], yv[100];
    cr_assert(n <= 100);
    for (int64_t i = 0; i < n; i++)
        xv[2 * i] = (double)i, xv[2 * i + 1] = (double)-i, yv[i] = (double)i;
    *x = tu_make(TG_F64, (tu_arr){2, {n, 2}, xv}, false);
    *y = tu_make(TG_F64, (tu_arr){1, {n}, yv}, false);
}

TestSuite(split);

Test(split, sizes_pairing_and_determinism) {
    tg_tensor *x, *y, *xtr, *xte, *ytr, *yte;
    make_xy(10, &x, &y);
    cr_assert_eq(tg_train_test_split(x, y, 0.25, 7, &xtr, &xte, &ytr, &yte), TG_OK, "%s",
                 tg_last_error());
    tu_expect_shape(xtr, 2, (int64_t[]){7, 2});  // round(2.5) = 3 test rows
    tu_expect_shape(xte, 2, (int64_t[]){3, 2});
    tu_expect_shape(ytr, 1, (int64_t[]){7});
    tu_expect_shape(yte, 1, (int64_t[]){3});
    int seen[10] = {0};
    double *a = tg_data_f64(xtr), *b = tg_data_f64(ytr), *c = tg_data_f64(xte),
           *d = tg_data_f64(yte);
    for (int i = 0; i < 7; i++) {
        cr_expect_eq(a[2 * i], b[i]);
        cr_expect_eq(a[2 * i + 1], -b[i]);
        seen[(int)b[i]]++;
    }
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(c[2 * i], d[i]);
        seen[(int)d[i]]++;
    }
    for (int i = 0; i < 10; i++) cr_expect_eq(seen[i], 1, "row %d appears %d times", i, seen[i]);
    // same seed, same split; another seed, another split
    tg_tensor *xtr2, *xte2, *ytr2, *yte2;
    cr_assert_eq(tg_train_test_split(x, y, 0.25, 7, &xtr2, &xte2, &ytr2, &yte2), TG_OK);
    cr_expect(memcmp(tg_data_f64(ytr2), b, 7 * sizeof(double)) == 0);
    tu_free(xtr2), tu_free(xte2), tu_free(ytr2), tu_free(yte2);
    bool differs = false;
    for (uint64_t seed = 8; seed < 12 && !differs; seed++) {
        cr_assert_eq(tg_train_test_split(x, y, 0.25, seed, &xtr2, &xte2, &ytr2, &yte2), TG_OK);
        differs = memcmp(tg_data_f64(ytr2), b, 7 * sizeof(double)) != 0;
        tu_free(xtr2), tu_free(xte2), tu_free(ytr2), tu_free(yte2);
    }
    cr_expect(differs, "the seed does not change the split");
    tu_free(xtr), tu_free(xte), tu_free(ytr), tu_free(yte), tu_free(x), tu_free(y);
}

Test(split, without_labels_and_errors) {
    tg_tensor *x, *y, *xtr, *xte, *ytr = NULL, *yte = NULL;
    make_xy(5, &x, &y);
    cr_assert_eq(tg_train_test_split(x, NULL, 0.4, 1, &xtr, &xte, NULL, NULL), TG_OK, "%s",
                 tg_last_error());
    tu_expect_shape(xte, 2, (int64_t[]){2, 2});
    tu_free(xtr), tu_free(xte);
    expect_fail(tg_train_test_split(x, y, 1.0, 1, &xtr, &xte, &ytr, &yte), TG_ERR_INVALID_ARG,
                "tg_train_test_split", "not in (0, 1)");
    expect_fail(tg_train_test_split(x, y, 0.05, 1, &xtr, &xte, &ytr, &yte), TG_ERR_INVALID_ARG,
                "empty train or test set", NULL);
    cr_expect_null(xtr);
    cr_expect_null(ytr);
    tg_tensor *y4 = tu_make(TG_F64, (tu_arr){1, {4}, NULL}, false);
    expect_fail(tg_train_test_split(x, y4, 0.5, 1, &xtr, &xte, &ytr, &yte), TG_ERR_SHAPE, "5 rows",
                "y has 4");
    expect_fail(tg_train_test_split(x, y, 0.5, 1, &xtr, &xte, NULL, NULL), TG_ERR_INVALID_ARG,
                "y_train", NULL);
    tu_free(y4), tu_free(x), tu_free(y);
}

Test(split, standardize_fit_and_apply) {
    for (int k = 0; k < 2; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tensor *x = tu_make(dt, (tu_arr){2, {3, 2}, (double[]){1, 10, 3, 10, 5, 10}}, false);
        double mean[2], std[2];
        cr_assert_eq(tg_standardize_fit(x, mean, std), TG_OK, "%s", tg_last_error());
        cr_expect_float_eq(mean[0], 3.0, 1e-12);
        cr_expect_float_eq(mean[1], 10.0, 1e-12);
        cr_expect_float_eq(std[0], sqrt(8.0 / 3), 1e-12);
        cr_expect_eq(std[1], 1.0, "zero std becomes 1");
        cr_assert_eq(tg_standardize_apply(x, mean, std), TG_OK, "%s", tg_last_error());
        double s = sqrt(8.0 / 3);
        tu_expect_arr(x, (tu_arr){2, {3, 2}, (double[]){-2 / s, 0, 0, 0, 2 / s, 0}}, tu_tol(dt));
        double zero[2] = {1, 0};
        expect_fail(tg_standardize_apply(x, mean, zero), TG_ERR_INVALID_ARG, "column 1",
                    "non-zero");
        tu_free(x);
    }
    tg_tensor *t3 = tu_make(TG_F32, (tu_arr){3, {1, 1, 1}, NULL}, false);
    double m, sd;
    expect_fail(tg_standardize_fit(t3, &m, &sd), TG_ERR_SHAPE, "tg_standardize_fit", "3 dims");
    expect_fail(tg_standardize_fit(t3, NULL, &sd), TG_ERR_INVALID_ARG, "NULL", NULL);
    tu_free(t3);
}

// ---- loader ----

TestSuite(loader);

// Row ids of one epoch (x row i holds (i, -i)); checks each batch's shape and pairing.
static int64_t epoch_rows(tg_loader *l, int64_t *ids, int64_t batch, int64_t n) {
    tg_tensor *xb, *yb;
    int64_t k = 0, nb = 0;
    while (tg_loader_next(l, &xb, &yb)) {
        int64_t rows = tg_shape(xb)[0];
        cr_assert(rows == batch || (nb == tg_loader_n_batches(l) - 1 && rows == n % batch),
                  "batch %lld has %lld rows", (long long)nb, (long long)rows);
        cr_assert_eq(tg_shape(yb)[0], rows);
        const double *xv = tg_data_f64(xb), *yv = tg_data_f64(yb);
        for (int64_t i = 0; i < rows; i++) {
            cr_assert_eq(xv[2 * i], yv[i]);
            cr_assert_eq(xv[2 * i + 1], -yv[i]);
            ids[k++] = (int64_t)yv[i];
        }
        nb++;
    }
    cr_expect_eq(nb, tg_loader_n_batches(l));
    return k;
}

Test(loader, batches_partial_last_and_every_row_once) {
    tg_tensor *x, *y;
    make_xy(10, &x, &y);
    tg_loader *l = tg_loader_new(x, y, 4, true, false, 3);
    cr_assert_not_null(l, "%s", tg_last_error());
    cr_expect_eq(tg_loader_n_batches(l), 3);
    int64_t prev[10], ids[10];
    bool changed = false;
    for (int e = 0; e < 4; e++) {
        cr_assert_eq(epoch_rows(l, ids, 4, 10), 10);
        int seen[10] = {0};
        for (int i = 0; i < 10; i++) seen[ids[i]]++;
        for (int i = 0; i < 10; i++)
            cr_expect_eq(seen[i], 1, "epoch %d row %d seen %d", e, i, seen[i]);
        if (e && memcmp(prev, ids, sizeof ids) != 0) changed = true;
        memcpy(prev, ids, sizeof ids);
        if (e % 2) tg_loader_reset(l);  // with or without reset, a new epoch begins
    }
    cr_expect(changed, "epochs are not reshuffled");
    tg_loader_free(l);
    l = tg_loader_new(x, y, 4, false, true, 3);
    cr_expect_eq(tg_loader_n_batches(l), 2);
    cr_expect_eq(epoch_rows(l, ids, 4, 10), 8);
    for (int i = 0; i < 8; i++) cr_expect_eq(ids[i], i, "no shuffle keeps the order");
    tg_loader_free(l);
    tu_free(x), tu_free(y);
}

Test(loader, seeded_determinism) {
    tg_tensor *x, *y;
    make_xy(9, &x, &y);
    tg_loader *a = tg_loader_new(x, y, 2, true, false, 42),
              *b = tg_loader_new(x, y, 2, true, false, 42);
    tg_loader *c = tg_loader_new(x, y, 2, true, false, 43);
    tg_loader_reset(b);  // a reset before the first epoch changes nothing
    int64_t ia[9], ib[9], ic[9];
    bool differ = false;
    for (int e = 0; e < 3; e++) {
        epoch_rows(a, ia, 2, 9);
        epoch_rows(b, ib, 2, 9);
        epoch_rows(c, ic, 2, 9);
        cr_expect(memcmp(ia, ib, sizeof ia) == 0, "epoch %d differs under one seed", e);
        differ = differ || memcmp(ia, ic, sizeof ia) != 0;
    }
    cr_expect(differ, "another seed gives the same order");
    tg_loader_free(a), tg_loader_free(b), tg_loader_free(c);
    tu_free(x), tu_free(y);
}

Test(loader, steady_state_makes_no_allocation) {
    tg_tensor *x, *y;
    make_xy(10, &x, &y);
    tg_loader *l = tg_loader_new(x, y, 3, true, false, 1);  // 3+3+3+1: a partial batch
    cr_assert_not_null(l);
    tg_tensor *xb, *yb;
    while (tg_loader_next(l, &xb, &yb)) {
    }
    uint64_t before = tg_alloc_count();
    for (int e = 0; e < 5; e++) {
        tg_loader_reset(l);
        int nb = 0;
        while (tg_loader_next(l, &xb, &yb)) nb++;
        cr_expect_eq(nb, 4);
    }
    cr_expect_eq(tg_alloc_count(), before, "loader allocated %llu times",
                 (unsigned long long)(tg_alloc_count() - before));
    tg_loader_free(l);
    tu_free(x), tu_free(y);
}

Test(loader, shapes_labels_optional_and_errors) {
    // x [5, 2, 2] and one-hot y [5, 3]; batch larger than the data
    tg_tensor *x = tu_make(TG_F32, (tu_arr){3, {5, 2, 2}, NULL}, false);
    tg_tensor *y = tu_make(TG_F32, (tu_arr){2, {5, 3}, NULL}, false);
    tg_loader *l = tg_loader_new(x, y, 8, true, false, 1);
    tg_tensor *xb, *yb;
    cr_assert(tg_loader_next(l, &xb, &yb), "%s", tg_last_error());
    tu_expect_shape(xb, 3, (int64_t[]){5, 2, 2});
    tu_expect_shape(yb, 2, (int64_t[]){5, 3});
    cr_expect_not(tg_loader_next(l, &xb, &yb));
    tg_loader_free(l);
    l = tg_loader_new(x, y, 8, true, true, 1);
    cr_expect_eq(tg_loader_n_batches(l), 0);
    cr_expect_not(tg_loader_next(l, &xb, &yb));
    tg_loader_free(l);
    l = tg_loader_new(x, NULL, 2, false, false, 1);
    cr_assert(tg_loader_next(l, &xb, &yb));
    cr_expect_null(yb);
    tu_expect_shape(xb, 3, (int64_t[]){2, 2, 2});
    tg_loader_free(l);
    tg_loader_free(NULL);
    cr_expect_null(tg_loader_new(x, y, 0, true, false, 1));
    expect_fail(tg_last_status(), TG_ERR_INVALID_ARG, "tg_loader_new", "batch size 0");
    tg_tensor *y4 = tu_make(TG_F32, (tu_arr){1, {4}, NULL}, false);
    cr_expect_null(tg_loader_new(x, y4, 2, true, false, 1));
    expect_fail(tg_last_status(), TG_ERR_SHAPE, "5 rows", "y has 4");
    tu_free(x), tu_free(y), tu_free(y4);
}

// ---- metrics ----

TestSuite(metrics);

Test(metrics, accuracy_forms) {
    static const double lv[12] = {
        0.1, 0.7, 0.2,   // predicts 1
        2,   2,   1,     // 0 (the first maximum wins)
        -1,  -2,  -0.5,  // 2
        0,   1,   0,     // 1
    };
    tg_tensor *logits = tu_make(TG_F32, (tu_arr){2, {4, 3}, lv}, false);
    tg_tensor *labels = tu_make(TG_F32, (tu_arr){1, {4}, (double[]){1, 0, 0, 2}}, false);
    cr_expect_float_eq(tg_accuracy(logits, labels), 0.5, 1e-12);
    tg_tensor *onehot =
        tu_make(TG_F32, (tu_arr){2, {4, 3}, (double[]){0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0}}, false);
    cr_expect_float_eq(tg_accuracy(logits, onehot), 1.0, 1e-12);
    tg_tensor *scores = tu_make(TG_F32, (tu_arr){2, {4, 1}, (double[]){0.9, 0.2, 0.6, 0.5}}, false);
    tg_tensor *bin = tu_make(TG_F32, (tu_arr){1, {4}, (double[]){1, 0, 0, 1}}, false);
    cr_expect_float_eq(tg_accuracy(scores, bin), 0.5, 1e-12);  // 0.5 is not > 0.5
    tg_tensor *short_labels = tu_make(TG_F32, (tu_arr){1, {3}, NULL}, false);
    cr_expect(isnan(tg_accuracy(logits, short_labels)));
    expect_fail(tg_last_status(), TG_ERR_SHAPE, "tg_accuracy", "labels must be [4]");
    // a NULL from a failed forward pass keeps the first error
    tg_set_error(TG_ERR_SHAPE, "tg_matmul", "inner dimensions differ");
    cr_expect(isnan(tg_accuracy(NULL, labels)));
    tu_expect_error("tg_matmul", NULL);
    tg_clear_error();
    tu_free(logits), tu_free(labels), tu_free(onehot), tu_free(scores), tu_free(bin),
        tu_free(short_labels);
}

Test(metrics, confusion_matrix_and_print) {
    tg_tensor *logits = tu_make(
        TG_F64, (tu_arr){2, {5, 3}, (double[]){1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0}},
        false);  // predictions 0 1 2 1 0
    tg_tensor *labels = tu_make(TG_F64, (tu_arr){1, {5}, (double[]){0, 1, 1, 2, 0}}, false);
    int64_t cm[9];
    cr_assert_eq(tg_confusion_matrix(logits, labels, 3, cm), TG_OK, "%s", tg_last_error());
    int64_t want[9] = {2, 0, 0, 0, 1, 1, 0, 1, 0};
    for (int i = 0; i < 9; i++) cr_expect_eq(cm[i], want[i], "cell %d: %lld", i, (long long)cm[i]);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(tg_print_confusion(cm, 3, f), TG_OK);
    fclose(f);
    cr_expect(strstr(text, "true\\pred  0  1  2\n") != NULL, "got:\n%s", text);
    cr_expect(strstr(text, "         0  2  0  0\n") != NULL, "got:\n%s", text);
    cr_expect(strstr(text, "         2  0  1  0\n") != NULL, "got:\n%s", text);
    free(text);
    tg_tensor *bad = tu_make(TG_F64, (tu_arr){1, {5}, (double[]){0, 1, 3, 2, 0}}, false);
    for (int i = 0; i < 9; i++) cm[i] = -7;
    expect_fail(tg_confusion_matrix(logits, bad, 3, cm), TG_ERR_INVALID_ARG, "row 2",
                "label 3 is not a class in 0..2");
    cr_expect_eq(cm[0], -7, "counts written on failure");
    expect_fail(tg_confusion_matrix(logits, labels, 2, cm), TG_ERR_SHAPE, "3 classes",
                "n_classes is 2");
    expect_fail(tg_print_confusion(NULL, 3, NULL), TG_ERR_INVALID_ARG, "tg_print_confusion", NULL);
    tu_free(logits), tu_free(labels), tu_free(bad);
}

// ---- file boundaries (issue 11) ----

// (saved files and the umask: tests/nn/test_checkpoint.c, saved_files_get_the_users_umask)

Test(data, endless_streams_are_refused_not_read_forever, .timeout = 60) {
    tg_clear_error();
    tg_tensor *x = NULL, *y = NULL;
    int st = tg_load_csv("/dev/zero", tu_cpu(), TG_F32, false, -1, &x, &y);
    cr_expect_lt(st, 0);
    tu_expect_error("tg_load_csv", NULL);
    cr_expect_null(x);
}

// Lines are capped at 64 MiB (a file without newlines is an error, not an endless line)
// and a NUL byte says "not a text file" (it printed a cut message).
Test(csv, long_lines_and_binary_data) {
    size_t n = ((size_t)64 << 20) + 2;
    char *big = malloc(n);
    cr_assert_not_null(big);
    memset(big, '1', n);
    tg_tensor *x = NULL;
    const char *p = put("long.csv", big, n);
    free(big);
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, false, TG_NO_LABEL, &x, NULL), TG_ERR_IO,
                "tg_load_csv: ", "line 1 is longer than 64 MiB");
    p = put("nul.csv", "1,2\n3,\0" "4\n", 8);
    expect_fail(tg_load_csv(p, tu_cpu(), TG_F32, false, TG_NO_LABEL, &x, NULL), TG_ERR_IO,
                "nul.csv: line 2 holds a NUL byte", NULL);
    cr_expect_null(x);
}

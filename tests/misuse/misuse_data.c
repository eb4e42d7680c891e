// Misuse scenarios of data.h: the file loaders and savers, synthetic data, splitting,
// standardising, mini-batches, metrics and checkpoints.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "misuse.h"

static char dir[64];

// "<dir>/<name>" in a static buffer (one at a time).
static const char *at(const char *name) {
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

// (the suite's .init and .fini run as well: mu_setup, mu_teardown)
static void mk_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/tg_misuse_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_dir(void) {
    const char *names[4] = {"a.csv", "t.npy", "m.st", "l.idx"};
    for (int i = 0; i < 4; i++) unlink(at(names[i]));
    rmdir(dir);
}

Test(misuse, load_csv, .init = mk_dir, .fini = rm_dir) {
    tg_tensor *x = NULL, *y = NULL;
    tg_backend *be = mu.be;
    FILE *f = fopen(at("a.csv"), "w");
    cr_assert_not_null(f);
    fputs("1,2\n3,4\n", f);
    fclose(f);
    const char *ok = at("a.csv"), *fn = "tg_load_csv";
    mu_fail(fn, tg_load_csv(NULL, be, TG_F32, false, -1, &x, &y), "NULL path");
    mu_fail(fn, tg_load_csv(ok, NULL, TG_F32, false, -1, &x, &y), "NULL backend");
    mu_fail(fn, tg_load_csv(ok, be, (tg_dtype)2, false, -1, &x, &y), "dtype 2");
    mu_fail(fn, tg_load_csv(ok, be, TG_F32, false, -1, NULL, &y), "NULL x");
    mu_fail(fn, tg_load_csv(ok, be, TG_F32, false, -1, &x, NULL), "NULL y with a label");
    mu_fail(fn, tg_load_csv(ok, be, TG_F32, false, 2, &x, &y), "label_col 2 of 2");
    mu_fail(fn, tg_load_csv(ok, be, TG_F32, false, -3, &x, &y), "label_col -3 of 2");
    mu_fail(fn, tg_load_csv(ok, be, TG_F32, false, INT32_MIN, &x, &y), "label_col INT_MIN");
    mu_fail(fn, tg_load_csv(at("none.csv"), be, TG_F32, false, -1, &x, &y), "missing file");
    mu_fail(fn, tg_load_csv(dir, be, TG_F32, false, -1, &x, &y), "a directory");
    mu_fail(fn, tg_load_csv("/dev/null", be, TG_F32, false, -1, &x, &y), "/dev/null");
    mu_quiet(fn, x == NULL && y == NULL, "outputs NULL after the failures");
}

Test(misuse, npy_and_idx_files, .init = mk_dir, .fini = rm_dir) {
    tg_backend *be = mu.be;
    const char *fn = "tg_load_npy";
    cr_assert_eq(tg_save_npy(at("t.npy"), mu.a), TG_OK, "%s", tg_last_error());
    mu_null(fn, tg_load_npy(NULL, be, TG_F32), "NULL path");
    mu_null(fn, tg_load_npy(at("t.npy"), NULL, TG_F32), "NULL backend");
    mu_null(fn, tg_load_npy(at("t.npy"), be, (tg_dtype)-1), "dtype -1");
    mu_null(fn, tg_load_npy(at("none.npy"), be, TG_F32), "missing file");
    mu_null(fn, tg_load_npy(dir, be, TG_F32), "a directory");
    mu_null(fn, tg_load_npy("/dev/null", be, TG_F32), "/dev/null");
    fn = "tg_save_npy";
    mu_fail(fn, tg_save_npy(NULL, mu.a), "NULL path");
    mu_fail(fn, tg_save_npy(at("t.npy"), NULL), "NULL tensor");
    mu_fail(fn, tg_save_npy(at("t.npy"), mu.stale), "stale tensor");
    mu_fail(fn, tg_save_npy("/nonexistent-dir/t.npy", mu.a), "missing directory");
    mu_fail(fn, tg_save_npy(dir, mu.a), "a directory");
    mu_fail(fn, tg_save_npy("", mu.a), "empty path");
    fn = "tg_load_idx";
    mu_null(fn, tg_load_idx(NULL, be, TG_F32, 1), "NULL path");
    mu_null(fn, tg_load_idx(at("t.npy"), NULL, TG_F32, 1), "NULL backend");
    mu_null(fn, tg_load_idx(at("t.npy"), be, TG_DTYPE_COUNT, 1), "dtype COUNT");
    mu_null(fn, tg_load_idx(at("none.idx"), be, TG_F32, 1), "missing file");
    mu_null(fn, tg_load_idx(dir, be, TG_F32, 1), "a directory");
    mu_null(fn, tg_load_idx(at("t.npy"), be, TG_F32, 1), "an .npy file");
    unsigned char lab[9] = {0, 0, 8, 1, 0, 0, 0, 1, 7};
    FILE *f = fopen(at("l.idx"), "wb");
    cr_assert(f && fwrite(lab, 1, 9, f) == 9);
    fclose(f);
    mu_null(fn, tg_load_idx(at("l.idx"), be, TG_F32, NAN), "scale NaN");
    mu_null(fn, tg_load_idx(at("l.idx"), be, TG_F32, -INFINITY), "scale -inf");
}

Test(misuse, checkpoint_files, .init = mk_dir, .fini = rm_dir) {
    tg_module *m = tg_linear(mu.be, TG_F32, 2, 3, true, mu.rng);
    cr_assert_not_null(m);
    cr_assert_eq(tg_save_safetensors(m, at("m.st")), TG_OK, "%s", tg_last_error());
    const char *fn = "tg_save_safetensors";
    mu_fail(fn, tg_save_safetensors(NULL, at("m.st")), "NULL module");
    mu_fail(fn, tg_save_safetensors(m, NULL), "NULL path");
    mu_fail(fn, tg_save_safetensors(m, "/nonexistent-dir/m.st"), "missing directory");
    mu_fail(fn, tg_save_safetensors(m, dir), "a directory");
    fn = "tg_load_safetensors";
    mu_fail(fn, tg_load_safetensors(NULL, at("m.st")), "NULL module");
    mu_fail(fn, tg_load_safetensors(m, NULL), "NULL path");
    mu_fail(fn, tg_load_safetensors(m, at("none.st")), "missing file");
    mu_fail(fn, tg_load_safetensors(m, dir), "a directory");
    mu_fail(fn, tg_load_safetensors(m, "/dev/null"), "/dev/null");
    tg_module *other = tg_linear(mu.be, TG_F64, 2, 3, true, mu.rng);
    mu_fail(fn, tg_load_safetensors(other, at("m.st")), "f32 file into an f64 module");
    tg_module_free(other);
    tg_module_free(m);
}

Test(misuse, synthetic_and_split) {
    tg_tensor *x = NULL, *y = NULL, *xtr, *xte, *ytr, *yte;
    tg_backend *be = mu.be;
    const char *fn = "tg_make_moons";
    mu_fail(fn, tg_make_moons(-1, 0.1, 1, be, TG_F32, &x, &y), "n -1");
    mu_fail(fn, tg_make_moons(INT64_MAX, 0.1, 1, be, TG_F32, &x, &y), "n INT64_MAX");
    mu_fail(fn, tg_make_moons(100, NAN, 1, be, TG_F32, &x, &y), "noise NaN");
    mu_fail(fn, tg_make_moons(100, -1, 1, be, TG_F32, &x, &y), "noise -1");
    mu_fail(fn, tg_make_moons(100, 0.1, 1, be, (tg_dtype)2, &x, &y), "dtype 2");
    mu_fail(fn, tg_make_moons(100, 0.1, 1, be, TG_F32, NULL, &y), "NULL x");
    fn = "tg_train_test_split";
    tg_tensor *a = mu.a, *lab3 = tg_tensor_new(be, TG_F32, 1, (int64_t[]){3});
    mu_fail(fn, tg_train_test_split(NULL, NULL, 0.5, 1, &xtr, &xte, NULL, NULL), "NULL x");
    mu_fail(fn, tg_train_test_split(a, NULL, NAN, 1, &xtr, &xte, NULL, NULL), "fraction NaN");
    mu_fail(fn, tg_train_test_split(a, NULL, -0.1, 1, &xtr, &xte, NULL, NULL), "fraction -0.1");
    mu_fail(fn, tg_train_test_split(a, NULL, 1.5, 1, &xtr, &xte, NULL, NULL), "fraction 1.5");
    mu_fail(fn, tg_train_test_split(a, NULL, 0.5, 1, NULL, &xte, NULL, NULL), "NULL x_train");
    mu_fail(fn, tg_train_test_split(a, mu.lab, 0.5, 1, &xtr, &xte, NULL, &yte), "NULL y_train");
    mu_fail(fn, tg_train_test_split(a, lab3, 0.5, 1, &xtr, &xte, &ytr, &yte), "3 labels, 2 rows");
    mu_fail(fn, tg_train_test_split(mu.s, NULL, 0.5, 1, &xtr, &xte, NULL, NULL), "scalar x");
    mu_fail(fn, tg_train_test_split(mu.stale, NULL, 0.5, 1, &xtr, &xte, NULL, NULL), "stale x");
    tg_free(lab3);
}

Test(misuse, standardize) {
    double mean[3] = {0, 0, 0}, std[3] = {1, 1, 1}, zero[3] = {1, 0, 1}, nan[3] = {1, NAN, 1};
    const char *fn = "tg_standardize_fit";
    tg_tensor *empty = tg_tensor_new(mu.be, TG_F32, 2, (int64_t[]){0, 3});
    mu_fail(fn, tg_standardize_fit(NULL, mean, std), "NULL x");
    mu_fail(fn, tg_standardize_fit(mu.a, NULL, std), "NULL mean");
    mu_fail(fn, tg_standardize_fit(empty, mean, std), "no rows");
    mu_fail(fn, tg_standardize_fit(mu.stale, mean, std), "stale x");
    fn = "tg_standardize_apply";
    mu_fail(fn, tg_standardize_apply(NULL, mean, std), "NULL x");
    mu_fail(fn, tg_standardize_apply(mu.a, mean, NULL), "NULL std");
    mu_fail(fn, tg_standardize_apply(mu.a, mean, zero), "std 0");
    mu_fail(fn, tg_standardize_apply(mu.a, mean, nan), "std NaN");
    mu_fail(fn, tg_standardize_apply(mu.a, nan, std), "mean NaN");
    mu_fail(fn, tg_standardize_apply(mu.stale, mean, std), "stale x");
    tg_free(empty);
}

Test(misuse, loaders) {
    const char *fn = "tg_loader_new";
    tg_tensor *lab3 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){3});
    mu_null(fn, tg_loader_new(NULL, NULL, 2, false, false, 1), "NULL x");
    mu_null(fn, tg_loader_new(mu.a, NULL, 0, false, false, 1), "batch 0");
    mu_null(fn, tg_loader_new(mu.a, NULL, -2, false, false, 1), "batch -2");
    mu_null(fn, tg_loader_new(mu.a, lab3, 2, false, false, 1), "3 labels, 2 rows");
    mu_null(fn, tg_loader_new(mu.s, NULL, 1, false, false, 1), "scalar x");
    mu_null(fn, tg_loader_new(mu.stale, NULL, 1, false, false, 1), "stale x");
    tg_free(lab3);
    mu_quiet("tg_loader_free", tg_loader_free(NULL) == TG_OK, "NULL is a no-op");
    tg_loader_reset(NULL);
    mu_err("tg_loader_reset", true, "NULL loader");
    tg_tensor *xb, *yb;
    mu_err("tg_loader_next", !tg_loader_next(NULL, &xb, &yb), "NULL loader");
    mu_err("tg_loader_n_batches", tg_loader_n_batches(NULL) <= 0, "NULL loader");
    tg_loader *l = tg_loader_new(mu.a, mu.lab, 1, true, false, 1);
    cr_assert_not_null(l, "%s", tg_last_error());
    mu_err("tg_loader_next", !tg_loader_next(l, NULL, &yb), "NULL xb");
    cr_assert(tg_loader_next(l, &xb, &yb), "%s", tg_last_error());
    cr_assert_not_null(tg_mul(mu.tape, xb, mu.a), "%s", tg_last_error());   // recorded
    int st = tg_loader_free(l);
    mu_fail("tg_loader_free", st, "batch recorded by a live tape");
    tg_tape_reset(mu.tape);
    if (st < 0) tg_loader_free(l);
}

Test(misuse, metrics) {
    tg_tensor *x = mu.a, *lab = mu.lab, *lab3 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){3});
    tg_tensor *lab64 = tg_cast(lab, TG_F64);
    int64_t counts[9];
    mu_nan("tg_accuracy", tg_accuracy(NULL, lab), "NULL logits");
    mu_nan("tg_accuracy", tg_accuracy(x, NULL), "NULL labels");
    mu_nan("tg_accuracy", tg_accuracy(x, lab3), "3 labels, 2 rows");
    mu_nan("tg_accuracy", tg_accuracy(x, lab64), "f64 labels for f32 logits");
    mu_nan("tg_accuracy", tg_accuracy(mu.stale, lab), "stale logits");
    const char *fn = "tg_confusion_matrix";
    mu_fail(fn, tg_confusion_matrix(NULL, lab, 3, counts), "NULL logits");
    mu_fail(fn, tg_confusion_matrix(x, lab, 3, NULL), "NULL counts");
    mu_fail(fn, tg_confusion_matrix(x, lab, 0, counts), "0 classes");
    mu_fail(fn, tg_confusion_matrix(x, lab, -3, counts), "-3 classes");
    mu_fail(fn, tg_confusion_matrix(x, lab3, 3, counts), "3 labels, 2 rows");
    mu_fail(fn, tg_confusion_matrix(x, mu.stale, 3, counts), "stale labels");
    fn = "tg_print_confusion";
    mu_fail(fn, tg_print_confusion(NULL, 3, stdout), "NULL counts");
    mu_fail(fn, tg_print_confusion(counts, 0, stdout), "0 classes");
    mu_fail(fn, tg_print_confusion(counts, INT32_MIN, stdout), "INT_MIN classes");
    tg_free(lab3);
    tg_free(lab64);
}

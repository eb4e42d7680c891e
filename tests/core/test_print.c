// Tests for core/print.c: the repr of scalars, vectors and matrices, elision of large
// tensors, special values, and errors.
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

// Prints t into a memory stream; returns the malloc'd text (caller frees) and the status.
static char *print_to_string(const tg_tensor *t, int *status) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    *status = tg_print(t, f);
    fclose(f);
    return buf;
}

static void expect_has(const char *s, const char *needle) {
    cr_expect_not_null(strstr(s, needle), "output lacks '%s':\n%s", needle, s);
}

Test(print, scalar) {
    tg_clear_error();
    tg_tensor *t = tg_scalar(tu_cpu(), TG_F32, 3.5);
    int st;
    char *s = print_to_string(t, &st);
    cr_expect_eq(st, TG_OK, "%s", tg_last_error());
    cr_expect_str_eq(s, "tensor(3.5000, shape=[], dtype=f32)\n");
    free(s);
    tg_free(t);
}

Test(print, vector_f64) {
    tg_clear_error();
    tg_tensor *t = tu_f64(1, (int64_t[]){3}, (double[]){1, -2, 30}, false);
    int st;
    char *s = print_to_string(t, &st);
    cr_expect_eq(st, TG_OK);
    expect_has(s, "tensor([");
    expect_has(s, "1.");
    expect_has(s, "-2.");
    expect_has(s, "30.");
    expect_has(s, "shape=[3]");
    expect_has(s, "dtype=f64");
    cr_expect_null(strstr(s, "requires_grad"), "%s", s);
    free(s);
    tg_free(t);
}

Test(print, matrix_f32) {
    tg_clear_error();
    const float v[6] = {0.5f, 1.25f, -2.75f, 3.0f, 4.5f, -0.125f};
    tg_tensor *t = tg_tensor_from(tu_cpu(), TG_F32, 2, (int64_t[]){2, 3}, v);
    int st;
    char *s = print_to_string(t, &st);
    cr_expect_eq(st, TG_OK);
    const char *want[] = {"0.5000", "1.2500", "-2.7500", "3.0000", "4.5000", "-0.1250"};
    for (int i = 0; i < 6; i++) expect_has(s, want[i]);
    expect_has(s, "shape=[2,3]");
    expect_has(s, "dtype=f32");
    expect_has(s, "[[");
    expect_has(s, "]]");
    // values keep their row-major order
    cr_expect(strstr(s, "1.2500") < strstr(s, "-2.7500") &&
              strstr(s, "-2.7500") < strstr(s, "3.0000"));
    // two rows: a line break between them
    cr_expect_not_null(strchr(s, '\n'));
    cr_expect(strchr(s, '\n') < s + strlen(s) - 1, "rows on separate lines:\n%s", s);
    free(s);
    tg_free(t);
}

Test(print, requires_grad_is_shown) {
    tg_clear_error();
    tg_tensor *p = tg_param(tu_cpu(), TG_F64, 1, (int64_t[]){2}, (double[]){1, 2});
    int st;
    char *s = print_to_string(p, &st);
    expect_has(s, "requires_grad");
    free(s);
    tg_free(p);
}

Test(print, three_dims) {
    tg_clear_error();
    double v[8];
    for (int i = 0; i < 8; i++) v[i] = i;
    tg_tensor *t = tu_f64(3, (int64_t[]){2, 2, 2}, v, false);
    int st;
    char *s = print_to_string(t, &st);
    cr_expect_eq(st, TG_OK);
    expect_has(s, "[[[");
    expect_has(s, "]]]");
    expect_has(s, "7.");
    expect_has(s, "shape=[2,2,2]");
    free(s);
    tg_free(t);
}

Test(print, large_vector_is_elided) {
    tg_clear_error();
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){10000});
    double *d = tg_data_f64(t);
    for (int i = 0; i < 10000; i++) d[i] = i;
    int st;
    char *s = print_to_string(t, &st);
    cr_expect_eq(st, TG_OK);
    expect_has(s, "...");
    expect_has(s, "0.");
    expect_has(s, "9999.");
    expect_has(s, "shape=[10000]");
    cr_expect_null(strstr(s, "5000."), "middle values are elided:\n%s", s);
    cr_expect(strlen(s) < 200, "output is %zu bytes", strlen(s));
    free(s);
    tg_free(t);
}

Test(print, large_matrix_is_elided) {
    tg_clear_error();
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){100, 100});
    float *d = tg_data_f32(t);
    for (int i = 0; i < 10000; i++) d[i] = (float)i * 0.5f;
    int st;
    char *s = print_to_string(t, &st);
    cr_expect_eq(st, TG_OK);
    expect_has(s, "...");
    expect_has(s, "shape=[100,100]");
    expect_has(s, "dtype=f32");
    expect_has(s, "4999.5000");  // the last element
    cr_expect(strlen(s) < 1000, "output is %zu bytes", strlen(s));
    int lines = 0;
    for (const char *c = s; *c; c++) lines += *c == '\n';
    cr_expect(lines <= 10, "%d lines", lines);
    free(s);
    tg_free(t);
}

Test(print, small_tensors_are_not_elided) {
    tg_clear_error();
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){20});
    double *d = tg_data_f64(t);
    for (int i = 0; i < 20; i++) d[i] = i;
    int st;
    char *s = print_to_string(t, &st);
    cr_expect_null(strstr(s, "..."), "%s", s);
    expect_has(s, "10.");
    free(s);
    tg_free(t);
}

Test(print, special_values_and_empty) {
    tg_clear_error();
    tg_tensor *t = tu_f64(1, (int64_t[]){4}, (double[]){NAN, INFINITY, -INFINITY, 1.5}, false);
    int st;
    char *s = print_to_string(t, &st);
    cr_expect_eq(st, TG_OK);
    expect_has(s, "nan");
    expect_has(s, "inf");
    expect_has(s, "-inf");
    expect_has(s, "1.5000");
    free(s);
    tg_free(t);

    tg_tensor *big = tu_f64(1, (int64_t[]){2}, (double[]){1e-7, 2e6}, false);
    s = print_to_string(big, &st);
    expect_has(s, "e-07");
    expect_has(s, "e+06");
    free(s);
    tg_free(big);

    tg_tensor *e = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){0});
    s = print_to_string(e, &st);
    cr_expect_eq(st, TG_OK);
    expect_has(s, "[]");
    expect_has(s, "shape=[0]");
    free(s);
    tg_free(e);
}

Test(print, step_tensor) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p = tg_param(tu_cpu(), TG_F64, 1, (int64_t[]){2}, (double[]){1, 2});
    tg_tensor *y = tg_mul_scalar(tape, p, 3.0);
    int st;
    char *s = print_to_string(y, &st);
    cr_expect_eq(st, TG_OK);
    expect_has(s, "3.");
    expect_has(s, "6.");
    free(s);
    tg_tape_free(tape);
    tg_free(p);
}

Test(print, null_tensor_is_an_error) {
    tg_clear_error();
    int st;
    char *s = print_to_string(NULL, &st);
    cr_expect_eq(st, TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_print", "NULL");
    cr_expect_str_eq(s, "", "nothing is printed");
    free(s);
}

// A write that fails (a full disk: /dev/full) is TG_ERR_IO, small tensor or large.
Test(print, write_errors_are_reported) {
    for (int k = 0; k < 2; k++) {
        tg_clear_error();
        FILE *f = fopen("/dev/full", "w");
        cr_assert_not_null(f);
        int64_t n = k ? 5000 : 3;
        tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F32, 1, &n);
        cr_assert_not_null(t);
        cr_expect_eq(tg_print(t, f), TG_ERR_IO, "numel %lld", (long long)n);
        tu_expect_error("tg_print", "write error");
        fclose(f);
        tg_free(t);
    }
}

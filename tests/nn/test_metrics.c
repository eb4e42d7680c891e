// Tests for nn/metrics.c's contracts: logits without classes ([N, 0] read past a buffer),
// confusion-matrix label ranges and sizes, and write errors of tg_print_confusion.
#include "test_util.h"

TestSuite(metrics_contracts, .init = tg_clear_error);

Test(metrics_contracts, logits_without_classes_are_refused) {
    tg_tensor *logits = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){3, 0});
    tg_tensor *labels = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){0, 1, 1}}, false);
    cr_assert_not_null(logits);
    cr_expect(isnan(tg_accuracy(logits, labels)));
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE);
    tu_expect_error("tg_accuracy", "[3, 0]");
    tg_clear_error();
    int64_t cm[4] = {-7, -7, -7, -7};
    cr_expect_eq(tg_confusion_matrix(logits, labels, 2, cm), TG_ERR_SHAPE);
    tu_expect_error("tg_confusion_matrix", "C >= 1");
    cr_expect_eq(cm[0], -7, "counts written on failure");
    tu_free(logits), tu_free(labels);
}

// Issue 11: labels of another dtype than the logits were accepted (the losses refuse them).
Test(metrics_contracts, labels_of_another_dtype_are_refused) {
    tg_tensor *logits = tu_make(TG_F32, (tu_arr){2, {2, 2}, (double[]){1, 0, 0, 1}}, false);
    tg_tensor *labels = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){0, 1}}, false);
    cr_expect(isnan(tg_accuracy(logits, labels)));
    cr_expect_eq(tg_last_status(), TG_ERR_DTYPE);
    tu_expect_error("tg_accuracy", "labels are f64 but logits f32");
    tg_clear_error();
    int64_t cm[4] = {-7, -7, -7, -7};
    cr_expect_eq(tg_confusion_matrix(logits, labels, 2, cm), TG_ERR_DTYPE);
    tu_expect_error("tg_confusion_matrix", "f64");
    cr_expect_eq(cm[0], -7, "counts written on failure");
    tg_clear_error();
    tu_free(logits), tu_free(labels);
}

Test(metrics_contracts, confusion_labels_outside_the_classes_are_refused) {
    tg_tensor *logits = tu_make(TG_F64, (tu_arr){2, {2, 2}, (double[]){1, 0, 0, 1}}, false);
    const double bad[][2] = {{0, -1}, {0, 1.5}, {NAN, 0}, {2, 0}, {0, 1e300}};
    for (int k = 0; k < 5; k++) {
        tg_clear_error();
        tg_tensor *labels = tu_make(TG_F64, (tu_arr){1, {2}, bad[k]}, false);
        int64_t cm[4] = {-7, -7, -7, -7};
        cr_expect_eq(tg_confusion_matrix(logits, labels, 2, cm), TG_ERR_INVALID_ARG, "case %d",
                     k);
        tu_expect_error("tg_confusion_matrix", "is not a class in 0..1");
        for (int i = 0; i < 4; i++) cr_expect_eq(cm[i], -7, "case %d: counts written", k);
        tu_free(labels);
    }
    tg_clear_error();
    tg_tensor *labels = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){0, 1}}, false);
    int64_t cm[4];
    cr_expect_eq(tg_confusion_matrix(logits, labels, 2147483647, cm), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_confusion_matrix", "does not fit");
    tu_free(logits), tu_free(labels);
}

Test(metrics_contracts, print_confusion_write_errors_are_reported) {
    FILE *f = fopen("/dev/full", "w");
    cr_assert_not_null(f);
    int64_t cm[4] = {1, 2, 3, 4};
    cr_expect_eq(tg_print_confusion(cm, 2, f), TG_ERR_IO);
    tu_expect_error("tg_print_confusion", "write error");
    fclose(f);
}

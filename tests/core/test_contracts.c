// Contracts at the library's boundaries (issue 11): each call below crashed, stored a bad
// status or ignored a failure before.
#include <stdio.h>

#include "test_util.h"
#include "tapegrad/data.h"
#include "tapegrad/nn.h"

Test(contracts, thread_counts_out_of_range) {
    tg_clear_error();
    cr_expect_eq(tg_backend_set_threads(tu_cpu(), 100000), TG_ERR_INVALID_ARG);   // BLIS crashed
    tu_expect_error("tg_backend_set_threads", "1024");
    tg_clear_error();
    cr_expect_eq(tg_backend_set_threads(tu_cpu(), -1), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_backend_set_threads(tu_cpu(), 0), TG_OK);
}

Test(contracts, set_error_never_stores_a_non_negative_status) {
    tg_clear_error();
    cr_expect_eq(tg_set_error(5, "my_op", "positive"), TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_set_error(TG_OK, "my_op", "zero"), TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tu_expect_error("my_op: zero", NULL);
    tg_clear_error();
}

Test(contracts, adam_with_missing_state) {
    tg_clear_error();
    tg_tensor *p = tu_f64(1, (int64_t[]){2}, (double[]){1, 2}, true);
    tg_tensor *g = tu_f64(1, (int64_t[]){2}, (double[]){1, 1}, false);
    cr_expect_eq(tg_adam_step_(p, g, NULL, g, NULL, 1, 0.1, 0.9, 0.999, 1e-8, 0, false),
                 TG_ERR_INVALID_ARG);
    tu_expect_error("tg_adam_step_", "m is NULL");
    tg_clear_error();
    tg_free(p), tg_free(g);
}

Test(contracts, accuracy_of_logits_without_classes) {
    tg_clear_error();
    tg_tensor *logits = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){4, 0});
    tg_tensor *labels = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){4});
    cr_expect(isnan(tg_accuracy(logits, labels)));
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE);
    tu_expect_error("tg_accuracy", "C >= 1");
    tg_clear_error();
    tg_free(logits), tg_free(labels);
}

Test(contracts, write_errors_are_reported) {
    tg_clear_error();
    FILE *full = fopen("/dev/full", "w");
    cr_assert_not_null(full);
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){3});
    cr_expect_eq(tg_print(t, full), TG_ERR_IO);
    tu_expect_error("tg_print", "write error");
    tg_clear_error();
    tg_rng *rng = tg_rng_new(1);
    tg_module *m = tg_linear(tu_cpu(), TG_F32, 2, 2, true, rng);
    cr_expect_eq(tg_module_summary(m, 2, (int64_t[]){1, 2}, TG_F32, full), TG_ERR_IO);
    tu_expect_error("tg_module_summary", "write error");
    tg_clear_error();
    cr_expect_eq(tg_print_confusion((int64_t[]){1, 2, 3, 4}, 2, full), TG_ERR_IO);
    tg_clear_error();
    fclose(full);
    tg_module_free(m);
    tg_rng_free(rng);
    tg_free(t);
}

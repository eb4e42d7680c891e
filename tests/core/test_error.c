// Tests for core/error.c: what can be stored as an error. TG_OK or a positive status passed
// to tg_set_error (or returned by a custom op) is stored and returned as TG_ERR_INVALID_ARG,
// so a failed call never reads as success (test_contracts.c has the plain cases).
#include "test_util.h"

TestSuite(error, .init = tg_clear_error);

Test(error, positive_statuses_become_invalid_arg) {
    cr_expect_eq(tg_set_error(7, "my_layer", "code %d", 7), TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG, "stored %d", tg_last_status());
    // with an error pending, the return value is normalised too (the first error is kept)
    cr_expect_eq(tg_set_error(3, "other", "later"), TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_set_error(TG_ERR_SHAPE, "other", "later"), TG_ERR_SHAPE);
    tu_expect_error("my_layer", "code 7");
}

Test(error, negative_statuses_are_kept) {
    cr_expect_eq(tg_set_error(TG_ERR_IO, NULL, NULL), TG_ERR_IO);
    cr_expect_eq(tg_last_status(), TG_ERR_IO);
    tu_expect_error("tapegrad", NULL);
}

// A custom op whose forward or rule returns a positive code fails with a negative one.
static int positive_forward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out,
                            void *user) {
    (void)t, (void)in, (void)n_in, (void)out, (void)user;
    return 1;
}
static int copy_forward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out, void *user) {
    (void)t, (void)n_in, (void)user;
    return tg_copy_(out, in[0]);
}
static int positive_backward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out,
                             tg_tensor *dout, tg_tensor **din, void *user) {
    (void)t, (void)in, (void)n_in, (void)out, (void)dout, (void)din, (void)user;
    return 2;
}

Test(error, custom_op_positive_status_is_an_error) {
    static const tg_custom_op fwd = {"my_positive_fwd", positive_forward, NULL};
    static const tg_custom_op bwd = {"my_positive_bwd", copy_forward, positive_backward};
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tg_param(tu_cpu(), TG_F64, 1, (int64_t[]){2}, (double[]){1, 2});
    cr_expect_null(tg_custom(tape, &fwd, 1, &a, 1, (int64_t[]){2}, NULL));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tu_expect_error("my_positive_fwd", "status 1");
    tg_clear_error();
    tg_tensor *y = tg_custom(tape, &bwd, 1, &a, 1, (int64_t[]){2}, NULL);
    cr_assert_not_null(y, "%s", tg_last_error());
    int st = tg_backward(tape, tg_sum(tape, y));
    cr_expect_eq(st, TG_ERR_INVALID_ARG, "tg_backward returned %d", st);
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tu_expect_error("my_positive_bwd", "status 2");
    tg_tape_free(tape);
    tg_free(a);
}

// tg_error_context names the outer call of an error raised since the mark, once.
Test(error, context_names_the_outer_call) {
    unsigned mark = tg_error_mark();
    cr_expect_eq(tg_error_context(mark, "my_layer"), TG_OK, "no error: nothing to name");
    tg_set_error(TG_ERR_SHAPE, "tg_add", "shapes [2] and [3]");
    cr_expect_eq(tg_error_context(mark, "my_layer"), TG_ERR_SHAPE);
    cr_expect_str_eq(tg_last_error(), "my_layer: tg_add: shapes [2] and [3]");
    tg_error_context(mark, "my_layer");
    cr_expect_str_eq(tg_last_error(), "my_layer: tg_add: shapes [2] and [3]", "named once");
}

// An error pending before the mark belongs to an earlier call: it is left alone.
Test(error, context_leaves_an_earlier_error) {
    tg_set_error(TG_ERR_IO, "tg_load_npy", "short read");
    unsigned mark = tg_error_mark();
    tg_set_error(TG_ERR_SHAPE, "tg_add", "ignored: first error wins");
    cr_expect_eq(tg_error_context(mark, "my_layer"), TG_ERR_IO);
    cr_expect_str_eq(tg_last_error(), "tg_load_npy: short read");
    tg_clear_error();
    tg_set_error(TG_ERR_SHAPE, "tg_add", "after a clear");
    tg_error_context(mark, "my_layer");
    cr_expect_str_eq(tg_last_error(), "my_layer: tg_add: after a clear");
}

// A message already starting with the outer name is not prefixed again.
Test(error, context_keeps_a_message_that_names_it) {
    unsigned mark = tg_error_mark();
    tg_set_error(TG_ERR_SHAPE, "tg_std", "axis 5 of 2");
    tg_error_context(mark, "tg_std");
    cr_expect_str_eq(tg_last_error(), "tg_std: axis 5 of 2");
}

// Tests for tg_custom (core/custom.c, op id TG_OP_CUSTOM): a user op's forward values in
// f32 and f64, its gradient rule (contributions summed back to broadcast inputs), an op
// without a rule, failing forwards and rules, and bad arguments (errors name the user op).
#include "test_util.h"

TestSuite(ops_custom, .init = tg_clear_error);

// y = a*a + b (broadcasting)    da = 2a dy, db = dy
static int sq_forward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out, void *user) {
    (void)n_in, (void)user;
    tg_tensor *y = tg_add(t, tg_mul(t, in[0], in[0]), in[1]);
    return y ? tg_copy_(out, y) : tg_last_status();
}
static int sq_backward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out, tg_tensor *dout,
                       tg_tensor **din, void *user) {
    (void)n_in, (void)out, (void)user;
    din[0] = tg_mul(t, dout, tg_mul_scalar(t, in[0], 2.0));
    din[1] = dout;
    return din[0] ? TG_OK : tg_last_status();
}
static int fail_forward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out, void *user) {
    (void)t, (void)in, (void)n_in, (void)out, (void)user;
    return tg_set_error(TG_ERR_NUMERIC, "my_failing_op", "forward refused on purpose");
}
static int silent_fail_forward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out,
                               void *user) {
    (void)t, (void)in, (void)n_in, (void)out, (void)user;
    return TG_ERR_NUMERIC;
}
static int fail_backward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out,
                         tg_tensor *dout, tg_tensor **din, void *user) {
    (void)t, (void)in, (void)n_in, (void)out, (void)dout, (void)din, (void)user;
    return TG_ERR_NUMERIC;
}

static const tg_custom_op sq_op = {"my_square_add", sq_forward, sq_backward};
static const tg_custom_op sq_no_rule = {"my_square_add_fwd", sq_forward, NULL};
static const tg_custom_op failing = {"my_failing_op", fail_forward, sq_backward};
static const tg_custom_op silent = {"my_silent_op", silent_fail_forward, sq_backward};
static const tg_custom_op bad_rule = {"my_bad_rule", sq_forward, fail_backward};

Test(ops_custom, forward) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *a = tu_make(dt, (tu_arr){2, {2, 1}, (double[]){1, -2}}, false);
        tg_tensor *b = tu_make(dt, (tu_arr){1, {3}, (double[]){0, 10, 0.5}}, false);
        tg_tensor *y =
            tg_custom(tape, &sq_op, 2, (tg_tensor *[]){a, b}, 2, (int64_t[]){2, 3}, NULL);
        cr_assert_not_null(y, "%s", tg_last_error());
        cr_expect(tg_is_step(y));
        cr_expect_eq(tg_dtype_of(y), dt);
        tu_expect_arr(y, (tu_arr){2, {2, 3}, (double[]){1, 11, 1.5, 4, 14, 4.5}}, 0);
        tg_tape_free(tape);
        tu_free(a), tu_free(b);
    }
}

// The rule's contributions are summed back to each input's (broadcast) shape.
Test(ops_custom, gradient_rule) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {2, 1}, (double[]){1, -2}}, true);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){0, 10, 0.5}}, true);
    tg_tensor *y = tg_custom(tape, &sq_op, 2, (tg_tensor *[]){a, b}, 2, (int64_t[]){2, 3}, NULL);
    cr_assert(tg_requires_grad(y));
    cr_expect_eq(tg_tape_size(tape), 1, "the forward's own ops were recorded");
    cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
    tu_expect_grad(a, (double[]){6, -12}, 2, 0);   // 2a summed over 3 columns
    tu_expect_grad(b, (double[]){2, 2, 2}, 3, 0);  // summed over 2 rows
    tg_tape_free(tape);
    tu_free(a), tu_free(b);
}

// Without a rule the op is a constant: nothing is recorded, no gradient flows.
Test(ops_custom, no_rule_is_not_differentiable) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){1, 2}}, true);
    tg_tensor *y = tg_custom(tape, &sq_no_rule, 2, (tg_tensor *[]){a, a}, 1, (int64_t[]){2}, NULL);
    tu_expect_arr(y, (tu_arr){1, {2}, (double[]){2, 6}}, 0);
    cr_expect_not(tg_requires_grad(y));
    cr_expect_eq(tg_tape_size(tape), 0);
    tg_tape_free(tape);
    tu_free(a);
}

Test(ops_custom, failing_forward_and_rule) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){1, 2}}, true);
    tg_tensor *in[2] = {a, a};
    tu_expect_fail(tg_custom(tape, &failing, 2, in, 1, (int64_t[]){2}, NULL), TG_ERR_NUMERIC,
                   "my_failing_op", "on purpose", NULL);
    tg_clear_error();
    tu_expect_fail(tg_custom(tape, &silent, 2, in, 1, (int64_t[]){2}, NULL), TG_ERR_NUMERIC,
                   "my_silent_op", "forward failed", NULL);
    tg_clear_error();
    tg_tensor *y = tg_custom(tape, &bad_rule, 2, in, 1, (int64_t[]){2}, NULL);
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_backward(tape, tg_sum(tape, y)), TG_ERR_NUMERIC);
    tu_expect_error("my_bad_rule", "rule");
    tg_tape_free(tape);
    tu_free(a);
}

Test(ops_custom, bad_arguments) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {2}, NULL}, false);
    tg_tensor *f = tu_make(TG_F32, (tu_arr){1, {2}, NULL}, false);
    int64_t sh[1] = {2};
    static const tg_custom_op no_name = {NULL, sq_forward, sq_backward};
    static const tg_custom_op no_fwd = {"my_no_forward", NULL, sq_backward};
    tu_expect_fail(tg_custom(tape, NULL, 2, (tg_tensor *[]){a, a}, 1, sh, NULL), TG_ERR_INVALID_ARG,
                   "tg_custom", "name", NULL);
    tg_clear_error();
    tu_expect_fail(tg_custom(tape, &no_name, 2, (tg_tensor *[]){a, a}, 1, sh, NULL),
                   TG_ERR_INVALID_ARG, "tg_custom", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_custom(tape, &no_fwd, 2, (tg_tensor *[]){a, a}, 1, sh, NULL),
                   TG_ERR_INVALID_ARG, "my_no_forward", "forward", NULL);
    tg_clear_error();
    tu_expect_fail(tg_custom(tape, &sq_op, 0, (tg_tensor *[]){a}, 1, sh, NULL), TG_ERR_INVALID_ARG,
                   "my_square_add", "input", NULL);
    tg_clear_error();
    tu_expect_fail(tg_custom(tape, &sq_op, 2, (tg_tensor *[]){a, NULL}, 1, sh, NULL),
                   TG_ERR_INVALID_ARG, "my_square_add", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_custom(tape, &sq_op, 2, (tg_tensor *[]){a, f}, 1, sh, NULL), TG_ERR_DTYPE,
                   "my_square_add", "mixed dtypes", NULL);
    tg_clear_error();
    tu_expect_fail(tg_custom(tape, &sq_op, 2, (tg_tensor *[]){a, a}, 1, (int64_t[]){-1}, NULL),
                   TG_ERR_SHAPE, "my_square_add", "[-1]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_custom(NULL, &sq_op, 2, (tg_tensor *[]){a, a}, 1, sh, NULL),
                   TG_ERR_INVALID_ARG, "my_square_add", "tape", NULL);
    // a declared shape the forward cannot fill: the forward's copy fails
    tg_clear_error();
    tu_expect_fail(tg_custom(tape, &sq_op, 2, (tg_tensor *[]){a, a}, 1, (int64_t[]){3}, NULL),
                   TG_ERR_SHAPE, NULL, NULL, NULL);
    tg_tape_free(tape);
    tu_free(a), tu_free(f);
}

// Rules that return the wrong thing: the kind of gradient each user rule gives (via user).
enum { BAD_DTYPE, BAD_SHAPE, BAD_OTHER_TAPE, BAD_STALE };
static tg_tape *other_tape;
static int wrong_backward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out,
                          tg_tensor *dout, tg_tensor **din, void *user) {
    (void)n_in, (void)out, (void)dout;
    int kind = *(const int *)user;
    int64_t big[1] = {4096};
    if (kind == BAD_DTYPE)   // f64 for an f32 input: 8 bytes per element into a 4-byte .grad
        din[0] = tg_full(t, tg_backend_of(in[0]), TG_F64, tg_ndim(in[0]), tg_shape(in[0]), 1.0);
    else if (kind == BAD_SHAPE)
        din[0] = tg_full(t, tg_backend_of(in[0]), TG_F32, 1, big, 1.0);
    else
        din[0] = tg_full(other_tape, tg_backend_of(in[0]), TG_F32, tg_ndim(in[0]),
                         tg_shape(in[0]), 1.0);
    if (kind == BAD_STALE) tg_tape_reset(other_tape);
    return TG_OK;
}

Test(ops_custom, wrong_gradients_from_a_rule_are_refused) {
    static const tg_custom_op op = {"my_wrong_rule", sq_forward, wrong_backward};
    const char *want[] = {"f64", "[4096]", "another tape", "freed or stale"};
    const int status[] = {TG_ERR_DTYPE, TG_ERR_SHAPE, TG_ERR_STATE, TG_ERR_STATE};
    for (int kind = 0; kind < 4; kind++) {
        tg_clear_error();
        tg_tape *tape = tg_tape_new();
        other_tape = tg_tape_new();
        tg_tensor *a = tg_param(tu_cpu(), TG_F32, 1, (int64_t[]){3}, (float[]){1, 2, 3});
        tg_tensor *b = tg_tensor_from(tu_cpu(), TG_F32, 1, (int64_t[]){3}, (float[]){0, 0, 0});
        tg_tensor *y = tg_custom(tape, &op, 2, (tg_tensor *[]){a, b}, 1, (int64_t[]){3}, &kind);
        cr_assert_not_null(y, "%s", tg_last_error());
        cr_expect_eq(tg_backward(tape, tg_sum(tape, y)), status[kind], "kind %d: %s", kind,
                     tg_last_error());
        tu_expect_error("my_wrong_rule", want[kind]);
        cr_expect_null(tg_grad_of(a), "no gradient is written");
        tg_tape_free(tape);
        tg_tape_free(other_tape);
        tg_free(a), tg_free(b);
    }
}

// Forwards that return TG_OK without doing their job (the tests run in checked mode).
enum { FWD_NOTHING, FWD_HALF, FWD_DROPPED_ERROR };
static int lazy_forward(tg_tape *t, tg_tensor *const *in, int n_in, tg_tensor *out, void *user) {
    (void)n_in;
    int kind = *(const int *)user;
    if (kind == FWD_HALF) {
        double *y = tg_data_f64(out);
        if (!y) return tg_last_status();
        y[0] = 1.0;   // element 1 is forgotten
    } else if (kind == FWD_DROPPED_ERROR) {
        tg_tensor *y = tg_reshape(t, in[0], 1, (int64_t[]){3});   // [2] -> [3] fails
        if (y) tg_copy_(out, y);
    }
    return TG_OK;
}

Test(ops_custom, forward_that_returns_ok_without_an_output_is_refused) {
    static const tg_custom_op op = {"my_lazy_op", lazy_forward, sq_backward};
    const char *want[] = {"element 0 of 2 unset", "element 1 of 2 unset", "tg_reshape"};
    for (int kind = 0; kind < 3; kind++) {
        tg_clear_error();
        tg_tape *tape = tg_tape_new();
        tg_tensor *a = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){1, 2}}, true);
        tg_tensor *y = tg_custom(tape, &op, 2, (tg_tensor *[]){a, a}, 1, (int64_t[]){2}, &kind);
        cr_expect_null(y, "kind %d: the op succeeded", kind);
        cr_expect_lt(tg_last_status(), 0);
        tu_expect_error(kind == FWD_DROPPED_ERROR ? NULL : "my_lazy_op", want[kind]);
        cr_expect_eq(tg_tape_size(tape), 0);
        tg_tape_free(tape);
        tu_free(a);
    }
}

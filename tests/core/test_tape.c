// Tests for core/tape.c: what gets recorded (grad mode, requires_grad inputs), reset and
// memory reuse, step tensors crossing tapes, tg_detach.
#include "test_util.h"

static const int64_t S3[1] = {3};

Test(tape, new_tape_defaults) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    cr_assert_not_null(tape, "%s", tg_last_error());
    cr_expect(tg_tape_grad_enabled(tape));
    cr_expect_eq(tg_tape_size(tape), 0);
    tg_tape_reset(tape);  // reset of an empty tape is fine
    tg_tape_free(tape);
    tg_tape_free(NULL);
    cr_expect_eq(tg_last_status(), TG_OK, "%s", tg_last_error());
    tg_tape_reset(NULL);
    cr_expect_str_eq(tg_last_error(), "tg_tape_reset: tape is NULL");
    tg_clear_error();
    cr_expect_eq(tg_tape_size(NULL), -1);
    tg_clear_error();
    cr_expect_not(tg_tape_grad_enabled(NULL));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tg_clear_error();
}

Test(tape, records_ops_on_requires_grad_path) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *y = tg_sum(tape, tg_exp(tape, tg_mul(tape, w, w)));
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), 3);
    cr_expect(tg_requires_grad(y));
    cr_expect(tg_is_step(y));
    tg_tape_free(tape);
    tg_free(w);
}

Test(tape, no_grad_mode_records_nothing) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    cr_expect(tg_tape_set_grad(tape, false));  // returns the previous mode
    cr_expect_not(tg_tape_grad_enabled(tape));
    tg_tensor *y = tg_sum(tape, tg_mul(tape, tg_add_scalar(tape, w, 1.0), w));
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), 0);
    cr_expect_not(tg_requires_grad(y));
    cr_expect_eq(tg_item(y), 2.0 + 6.0 + 12.0);  // the ops still compute
    cr_expect(tg_is_step(y));
    // nothing to backpropagate, and w is not pinned by the tape
    cr_expect_eq(tg_backward(tape, y), TG_ERR_STATE);
    tu_expect_error("does not require grad", NULL);
    tg_clear_error();
    cr_expect_not(tg_tape_set_grad(tape, true));
    cr_expect(tg_tape_grad_enabled(tape));
    cr_expect_eq(tg_free(w), TG_OK, "%s", tg_last_error());
    tg_tape_free(tape);
}

Test(tape, grad_mode_switches_per_op) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *a = tg_mul_scalar(tape, w, 2.0);  // recorded
    tg_tape_set_grad(tape, false);
    tg_tensor *b = tg_mul_scalar(tape, w, 3.0);  // not recorded: a constant
    tg_tape_set_grad(tape, true);
    tg_tensor *loss = tg_sum(tape, tg_mul(tape, a, b));  // sum(6 w^2) -> dw = 6w... via a only
    cr_assert_not_null(loss, "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), 3);
    cr_expect_not(tg_requires_grad(b));
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    // d/dw sum(2w * const(3w)) = 2 * 3w = 6w: b contributes no path
    tu_expect_values(tg_grad_of(w), (double[]){6, 12, 18}, 3, 1e-12);
    tg_tape_free(tape);
    tg_free(w);
}

Test(tape, ops_on_constants_are_not_recorded) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_f64(1, S3, (double[]){1, 2, 3}, false);
    tg_tensor *b = tu_f64(1, S3, (double[]){4, 5, 6}, false);
    tg_tensor *p = tu_f64(1, S3, (double[]){1, 1, 1}, true);
    tg_tensor *c = tg_mul(tape, a, b);
    tg_tensor *d = tg_exp(tape, tg_neg(tape, c));
    cr_assert_not_null(d, "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), 0);
    cr_expect_not(tg_requires_grad(c));
    cr_expect_not(tg_requires_grad(d));
    tg_tensor *e = tg_add(tape, c, p);  // one requires_grad input: recorded
    cr_assert_not_null(e, "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), 1);
    cr_expect(tg_requires_grad(e));
    tg_tensor *f = tg_mul(tape, d, c);  // still constants
    cr_assert_not_null(f);
    cr_expect_eq(tg_tape_size(tape), 1);
    // constants were not pinned: they can be freed while the tape is live
    cr_expect_eq(tg_free(a), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_free(b), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_free(p), TG_ERR_STATE);
    tg_clear_error();
    tg_tape_free(tape);
    cr_expect_eq(tg_free(p), TG_OK, "%s", tg_last_error());
}

Test(tape, gt_scalar_mask_is_not_recorded) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tu_f64(1, S3, (double[]){-1, 0.5, 2}, true);
    tg_tensor *m = tg_gt_scalar(tape, w, 0.0);
    cr_assert_not_null(m, "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), 0);
    cr_expect_not(tg_requires_grad(m));
    tu_expect_values(m, (double[]){0, 1, 1}, 3, 0);
    tg_tape_free(tape);
    tg_free(w);
}

// A fixed little program; stores the data pointers of its step tensors in creation order.
static void run_program(tg_tape *tape, tg_tensor *w, tg_tensor *x, const void **ptrs,
                        bool backward) {
    tg_tensor *t[5];
    t[0] = tg_matmul(tape, x, w);
    t[1] = tg_tanh(tape, t[0]);
    t[2] = tg_mul(tape, t[1], t[1]);
    t[3] = tg_sum_axes(tape, t[2], 1, (int[]){0}, false);
    t[4] = tg_sum(tape, t[3]);
    for (int i = 0; i < 5; i++) {
        cr_assert_not_null(t[i], "%s", tg_last_error());
        ptrs[i] = tg_data_f64(t[i]);
    }
    if (backward) cr_assert_eq(tg_backward(tape, t[4]), TG_OK, "%s", tg_last_error());
}

static bool contains(const void **set, int n, const void *p) {
    for (int i = 0; i < n; i++)
        if (set[i] == p) return true;
    return false;
}

Test(tape, reset_frees_step_tensors_and_reuses_memory) {
    tg_clear_error();
    tu_unchecked();
    tg_tape *tape = tg_tape_new();
    tg_rng *rng = tg_rng_new(3);
    tg_tensor *w = tu_rand64(rng, 2, (int64_t[]){8, 16}, -1, 1, true);
    tg_tensor *x = tu_rand64(rng, 2, (int64_t[]){32, 8}, -1, 1, false);
    const void *first[5], *second[5];
    run_program(tape, w, x, first, false);
    int64_t n_nodes = tg_tape_size(tape);
    cr_expect_eq(n_nodes, 5);
    tg_tape_reset(tape);
    cr_expect_eq(tg_tape_size(tape), 0);
    uint64_t before = tg_alloc_count();
    run_program(tape, w, x, second, false);
    cr_expect_eq(tg_alloc_count(), before, "the second pass allocated %llu times",
                 (unsigned long long)(tg_alloc_count() - before));
    cr_expect_eq(tg_tape_size(tape), n_nodes);
    for (int i = 0; i < 5; i++)
        cr_expect(contains(first, 5, second[i]), "step %d got fresh memory after reset", i);
    tg_tape_reset(tape);
    // with backward passes too: the reset returns everything to the cache
    run_program(tape, w, x, first, true);
    tg_tape_reset(tape);
    before = tg_alloc_count();
    run_program(tape, w, x, second, true);
    cr_expect_eq(tg_alloc_count(), before, "the step with backward allocated %llu times",
                 (unsigned long long)(tg_alloc_count() - before));
    tg_tape_reset(tape);
    // the reset released the pins, so the persistent inputs can go
    cr_expect_eq(tg_free(w), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_free(x), TG_OK, "%s", tg_last_error());
    tg_tape_free(tape);
    tg_rng_free(rng);
}

Test(tape, reset_allows_backward_again) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    for (int step = 0; step < 3; step++) {
        tg_tensor *loss = tg_sum(tape, tg_mul(tape, w, w));
        cr_assert_eq(tg_backward(tape, loss), TG_OK, "step %d: %s", step, tg_last_error());
        tg_tape_reset(tape);
    }
    tu_expect_values(tg_grad_of(w), (double[]){6, 12, 18}, 3, 1e-12);
    tg_tape_free(tape);
    tg_free(w);
}

Test(tape, step_tensor_of_another_tape_is_an_error) {
    tg_clear_error();
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_tensor *w = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *y1 = tg_mul(t1, w, w);
    cr_assert_not_null(y1, "%s", tg_last_error());
    cr_expect_null(tg_add(t2, w, y1));
    cr_expect_eq(tg_last_status(), TG_ERR_STATE);
    tu_expect_error("tg_add", "input 1 is a step tensor of another tape");
    cr_expect_eq(tg_tape_size(t2), 0);
    tg_clear_error();
    // also when the foreign step tensor does not require grad
    tg_tape_set_grad(t1, false);
    tg_tensor *c = tg_mul_scalar(t1, w, 2.0);
    cr_expect_null(tg_exp(t2, c));
    tu_expect_error("tg_exp", "another tape");
    tg_clear_error();
    tg_tape_set_grad(t1, true);
    // and backward from a foreign output
    cr_expect_eq(tg_backward(t2, tg_sum(t1, y1)), TG_ERR_STATE);
    tu_expect_error("another tape", NULL);
    tg_clear_error();
    // tg_to copies it out as a persistent tensor that any tape may use
    tg_tensor *copy = tg_to(y1, NULL);
    tg_tensor *z = tg_add(t2, copy, w);
    tu_expect_values(z, (double[]){2, 6, 12}, 3, 0);
    tg_tape_free(t1);
    tg_tape_free(t2);
    tg_free(copy);
    tg_free(w);
}

Test(tape, null_tape_is_an_error) {
    tg_clear_error();
    tg_tensor *w = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    cr_expect_null(tg_mul(NULL, w, w));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_mul", "tape is NULL");
    tg_free(w);
}

Test(tape, detach_stops_gradients) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *y = tg_mul(tape, x, x);
    tg_tensor *d = tg_detach(tape, y);
    cr_assert_not_null(d, "%s", tg_last_error());
    cr_expect_not(tg_requires_grad(d));
    cr_expect(tg_is_step(d));
    tu_expect_values(d, (double[]){1, 4, 9}, 3, 0);
    // z = detach(x^2) * x: dz/dx = x^2, not 3x^2
    tg_tensor *loss = tg_sum(tape, tg_mul(tape, d, x));
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){1, 4, 9}, 3, 1e-12);
    tg_tape_free(tape);
    tg_free(x);
}

Test(tape, detach_of_a_leaf) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *d = tg_detach(tape, x);
    cr_assert_not_null(d, "%s", tg_last_error());
    cr_expect_not(tg_requires_grad(d));
    cr_expect_eq(tg_tape_size(tape), 0);
    tg_tensor *loss = tg_sum(tape, tg_mul(tape, d, x));  // d/dx = x
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){1, 2, 3}, 3, 1e-12);
    // a loss built only from detached values has nothing to backpropagate
    tg_tape_reset(tape);
    tg_tensor *only = tg_sum(tape, tg_detach(tape, tg_mul(tape, x, x)));
    cr_expect_not(tg_requires_grad(only));
    cr_expect_eq(tg_backward(tape, only), TG_ERR_STATE);
    tg_clear_error();
    tg_tape_free(tape);
    tg_free(x);
}

Test(tape, many_recorded_ops_grow_the_tape) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tu_f64(2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4}, true);
    tg_tensor *y = w;
    for (int i = 0; i < 1000; i++) y = tg_add(tape, y, w);  // crosses several capacities
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), 1000);
    tu_expect_values(y, (double[]){1001, 2002, 3003, 4004}, 4, 0);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(w), (double[]){1001, 1001, 1001, 1001}, 4, 0);
    tg_tape_free(tape);
    tg_free(w);
}

// ---- anomaly mode ----

Test(tape, anomaly_mode_names_the_op_and_says_nan_or_inf) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, (int64_t[]){2}, (double[]){-1, 0}, true);
    cr_expect_eq(tg_tape_set_anomaly_mode(tape, TG_ANOMALY_NAN_INF), TG_ANOMALY_OFF);
    cr_expect_null(tg_log(tape, x));            // log(-1) = NaN, log(0) = -Inf: NaN first
    tu_expect_error("tg_log", "output has NaN");
    tg_clear_error();
    tg_tensor *z = tu_f64(1, (int64_t[]){2}, (double[]){0, 1}, true);
    cr_expect_null(tg_log(tape, z));             // -Inf only
    tu_expect_error("tg_log", "output has Inf");
    tg_clear_error();
    // PyTorch's setting: Inf passes, NaN fails
    cr_expect_eq(tg_tape_set_anomaly_mode(tape, TG_ANOMALY_NAN), TG_ANOMALY_NAN_INF);
    cr_expect_not_null(tg_log(tape, z), "%s", tg_last_error());
    cr_expect_null(tg_log(tape, x));
    tu_expect_error("tg_log", "NaN");
    tg_clear_error();
    // backward: sqrt's rule at 0 gives Inf; the message names the forward op
    tg_tape_reset(tape);
    cr_expect_eq(tg_tape_set_anomaly_mode(tape, TG_ANOMALY_NAN_INF), TG_ANOMALY_NAN);
    tg_tensor *y = tg_sum(tape, tg_sqrt(tape, z));
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_backward(tape, y), TG_ERR_NUMERIC);
    tu_expect_error("gradient rule of tg_sqrt", "produced Inf");
    tg_clear_error();
    cr_expect(tg_tape_set_anomaly(tape, false));
    tg_tape_free(tape);
    tg_free(x), tg_free(z);
}

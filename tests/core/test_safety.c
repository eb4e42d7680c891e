// Tests for the tape's safety contract (issue 11): storage versions checked by the backward
// pass, stale and freed tensors refused, per-graph "already backpropagated" state, and
// tg_grad results that never alias. Each scenario gave a wrong answer with status OK (or a
// use-after-free) before these checks existed.
#include <stdlib.h>

#include "test_util.h"
#include "tapegrad/data.h"

// p = [1, 2, 3] (f64, requires_grad); y = sum(p * p) recorded on tape.
static tg_tensor *square_sum(tg_tape *tape, tg_tensor **p) {
    *p = tu_f64(1, (int64_t[]){3}, (double[]){1, 2, 3}, true);
    return tg_sum(tape, tg_mul(tape, *p, *p));
}

static void expect_refused(tg_tape *tape, tg_tensor *y, tg_tensor *p, const char *what) {
    cr_expect_eq(tg_backward(tape, y), TG_ERR_STATE, "%s: backward must be refused", what);
    tu_expect_error("tg_backward", "tg_mul");
    tu_expect_error("modified in place", "version");
    cr_expect_null(tg_grad_of(p), "%s: no gradient may be written", what);
}

// ---- mutation between forward and backward ----

Test(safety, fill_between_forward_and_backward_is_refused) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p;
    tg_tensor *y = square_sum(tape, &p);
    uint64_t v0 = tg_tensor_version(p);
    cr_assert_eq(tg_fill_(p, 10), TG_OK);
    cr_expect_eq(tg_tensor_version(p), v0 + 1);
    expect_refused(tape, y, p, "tg_fill_");
    tu_expect_error("node 0", "input 0 [3] f64");
    tg_tape_free(tape);
    tg_free(p);
}

Test(safety, optimizer_step_between_forward_and_backward_is_refused) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p;
    tg_tensor *y = square_sum(tape, &p);
    tg_tensor *d = tu_f64(1, (int64_t[]){3}, (double[]){1, 1, 1}, false);
    cr_assert_eq(tg_axpby_(p, -0.1, d, 1.0), TG_OK);
    expect_refused(tape, y, p, "tg_axpby_");
    tg_tape_free(tape);
    tg_free(p);
    tg_free(d);
}

Test(safety, host_copy_rng_fill_and_adam_are_writes) {
    double h[3] = {4, 5, 6};
    for (int k = 0; k < 3; k++) {
        tg_clear_error();
        tg_tape *tape = tg_tape_new();
        tg_tensor *p;
        tg_tensor *y = square_sum(tape, &p);
        tg_rng *rng = tg_rng_new(1);
        tg_tensor *m = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){3});
        tg_tensor *v = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){3});
        int st = k == 0   ? tg_copy_from_host(p, h, sizeof h)
                 : k == 1 ? tg_uniform_(p, rng, -1, 1)
                          : tg_adam_step_(p, m, m, v, NULL, 1, 0.1, 0.9, 0.999, 1e-8, 0, false);
        cr_assert_eq(st, TG_OK, "%s", tg_last_error());
        expect_refused(tape, y, p, k == 0 ? "copy_from_host" : k == 1 ? "uniform_" : "adam");
        tg_tape_free(tape);
        tg_free(p), tg_free(m), tg_free(v);
        tg_rng_free(rng);
    }
}

Test(safety, standardize_apply_between_forward_and_backward_is_refused) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 5}, false);
    tg_tensor *w = tu_f64(2, (int64_t[]){2, 1}, (double[]){1, -1}, true);
    tg_tensor *y = tg_sum(tape, tg_matmul(tape, x, w));   // the rule for w reads x
    double mean[2], std[2];
    cr_assert_eq(tg_standardize_fit(x, mean, std), TG_OK);
    cr_assert_eq(tg_standardize_apply(x, mean, std), TG_OK);
    cr_expect_eq(tg_backward(tape, y), TG_ERR_STATE);
    tu_expect_error("tg_matmul", "input 0 [2,2]");
    tg_tape_free(tape);
    tg_free(x), tg_free(w);
}

Test(safety, write_through_a_detached_view_is_seen) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p = tu_f64(1, (int64_t[]){3}, (double[]){1, 2, 3}, true);
    tg_tensor *e = tg_exp(tape, p);   // exp's rule reads its output
    tg_tensor *y = tg_sum(tape, e);
    tg_tensor *view = tg_detach(tape, e);
    cr_assert_eq(tg_fill_(view, 0), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_backward(tape, y), TG_ERR_STATE);
    tu_expect_error("tg_exp", "its output");
    tg_tape_free(tape);
    tg_free(p);
}

// tg_addmm_relu's rule reads its output (the ReLU mask): an in-place write to that output
// while it is recorded is refused, and the backward pass then gives the true gradients.
Test(safety, addmm_relu_output_cannot_be_written_before_backward) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tu_f64(2, (int64_t[]){2, 2}, (double[]){1, -1, 2, 0.5}, true);
    tg_tensor *x = tu_f64(2, (int64_t[]){1, 2}, (double[]){1, 2}, false);
    tg_tensor *b = tu_f64(1, (int64_t[]){2}, (double[]){0.5, -0.5}, true);
    tg_tensor *y = tg_addmm_relu(tape, b, x, w, false, true);   // relu([-0.5, 2.5])
    cr_assert_not_null(y, "%s", tg_last_error());
    tg_tensor *loss = tg_sum(tape, y);
    cr_expect_neq(tg_fill_(y, 3), TG_OK, "the write must be refused");
    tu_expect_error("tg_fill_", "recorded in the graph");
    tg_clear_error();
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    tu_expect_grad(b, (double[]){0, 1}, 2, 0);
    tu_expect_grad(w, (double[]){0, 0, 1, 2}, 4, 0);
    tg_tape_free(tape);
    tg_free_many(3, (tg_tensor *[]){w, x, b});
}

Test(safety, writes_a_rule_never_reads_are_allowed) {
    // y = sum(p + q): add's rule reads no values, so changing p afterwards is harmless
    // (PyTorch allows it too); the normal loop (backward, step, zero_grad, reset) works.
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p = tu_f64(1, (int64_t[]){3}, (double[]){1, 2, 3}, true);
    tg_tensor *q = tu_f64(1, (int64_t[]){3}, (double[]){1, 1, 1}, true);
    for (int step = 0; step < 3; step++) {
        tg_tensor *y = tg_sum(tape, tg_add(tape, p, q));
        cr_assert_eq(tg_fill_(p, 7), TG_OK);
        cr_assert_eq(tg_backward(tape, y), TG_OK, "%s", tg_last_error());
        tu_expect_values(tg_grad_of(p), (double[]){1, 1, 1}, 3, 0);
        cr_assert_eq(tg_axpby_(p, -0.1, tg_grad_of(p), 1.0), TG_OK);
        cr_assert_eq(tg_zero_grad(2, (tg_tensor *[]){p, q}), TG_OK);
        tg_tape_reset(tape);
    }
    tg_tape_free(tape);
    tg_free(p), tg_free(q);
}

// ---- lifetimes ----

// A step tensor kept across a reset, with new tensors made over its memory.
static void stale_after_one_reset(void) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p;
    tg_tensor *old = square_sum(tape, &p);
    cr_assert_eq(tg_item(old), 14);
    tg_tape_reset(tape);
    tg_tensor *p2 = tu_f64(1, (int64_t[]){3}, (double[]){5, 5, 5}, true);
    tg_tensor *fresh = tg_sum(tape, tg_mul(tape, p2, p2));
    cr_assert_not_null(fresh);
    cr_expect(isnan(tg_item(old)), "the stale tensor read a value");
    cr_expect_eq(tg_last_status(), TG_ERR_STATE);
    tu_expect_error("tg_item", "tg_tape_reset");
    tg_clear_error();
    cr_expect_eq(tg_backward(tape, old), TG_ERR_STATE);
    tu_expect_error("tg_backward", "tg_tape_reset");
    cr_expect_null(tg_grad_of(p2));
    tg_clear_error();
    cr_expect_null(tg_add(tape, old, fresh));
    tu_expect_error("tg_add", "earlier tape epoch");
    tg_clear_error();
    cr_expect_eq(tg_ndim(old), -1);
    cr_expect_eq(tg_fill_(old, 1), TG_ERR_STATE);
    tg_clear_error();
    cr_expect_eq(tg_item(fresh), 75);
    tg_tape_free(tape);
    tg_free(p), tg_free(p2);
}

Test(safety, step_tensor_after_reset_is_an_error_not_an_alias) {
    setenv("TG_CHECKED", "0", 1);   // the default mode: shifted slots
    stale_after_one_reset();
}

Test(safety, step_tensor_after_reset_is_an_error_in_checked_mode) {
    setenv("TG_CHECKED", "1", 1);   // poisoned, quarantined slots
    stale_after_one_reset();
}

Test(safety, stale_tensor_after_many_resets_in_checked_mode) {
    setenv("TG_CHECKED", "1", 1);
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p;
    tg_tensor *old = square_sum(tape, &p);
    for (int i = 0; i < 5; i++) {
        tg_tape_reset(tape);
        cr_assert_not_null(tg_sum(tape, tg_mul(tape, p, p)));
    }
    cr_expect(isnan(tg_item(old)));
    cr_expect_eq(tg_last_status(), TG_ERR_STATE);
    tu_expect_error("tg_item", NULL);
    tg_tape_free(tape);
    tg_free(p);
}

Test(safety, freeing_a_gradient_is_refused) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p;
    cr_assert_eq(tg_backward(tape, square_sum(tape, &p)), TG_OK);
    tg_tensor *g = tg_grad_of(p);
    cr_assert_not_null(g);
    cr_expect_eq(tg_free(g), TG_ERR_STATE);
    tu_expect_error("tg_free", ".grad");
    tg_clear_error();
    tg_tape_reset(tape);
    // the gradient is intact and the next pass accumulates into it
    cr_assert_eq(tg_backward(tape, square_sum(tape, &(tg_tensor *){NULL})), TG_OK);
    tg_tape_reset(tape);
    tg_tensor *y = tg_sum(tape, tg_mul(tape, p, p));
    cr_assert_eq(tg_backward(tape, y), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(p), (double[]){4, 8, 12}, 3, 0);
    // set-to-none: the grad is dropped, the next pass makes a new one
    tg_tape_reset(tape);
    cr_assert_eq(tg_grad_clear(p), TG_OK);
    cr_expect_null(tg_grad_of(p));
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, p, p))), TG_OK);
    tu_expect_values(tg_grad_of(p), (double[]){2, 4, 6}, 3, 0);
    tg_tape_free(tape);
    tg_free(p);
}

// ---- graphs and tg_grad ----

Test(safety, a_new_graph_after_backward_works) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p;
    tg_tensor *loss1 = square_sum(tape, &p);
    cr_assert_eq(tg_backward(tape, loss1), TG_OK);
    tg_tensor *loss2 = tg_sum(tape, tg_mul_scalar(tape, p, 3.0));
    cr_assert_eq(tg_backward(tape, loss2), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(p), (double[]){5, 7, 9}, 3, 0);
    // the spent graph is still spent
    cr_expect_eq(tg_backward(tape, loss1), TG_ERR_STATE);
    tu_expect_error("retain_graph", "tg_sum_axes");
    tg_clear_error();
    // a new loss that reaches into the spent graph is refused too (PyTorch: same)
    tg_tensor *h = tg_mul(tape, p, p);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, h)), TG_OK);
    cr_expect_eq(tg_backward(tape, tg_sum(tape, tg_mul_scalar(tape, h, 2.0))), TG_ERR_STATE);
    tu_expect_error("tg_mul", "already backpropagated");
    tg_tape_free(tape);
    tg_free(p);
}

Test(safety, create_graph_in_backward_is_refused_with_a_pointer_to_tg_grad) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p;
    tg_tensor *y = square_sum(tape, &p);
    tg_backward_opts o = {.create_graph = true};
    cr_expect_eq(tg_backward_ex(tape, y, NULL, &o), TG_ERR_UNSUPPORTED);
    tu_expect_error("tg_backward", "tg_grad");
    cr_expect_null(tg_grad_of(p));
    tg_clear_error();
    tg_tensor *g = NULL;
    cr_assert_eq(tg_grad(tape, y, NULL, 1, &p, &g, &o), TG_OK);
    cr_expect(tg_requires_grad(g), "tg_grad's result is differentiable");
    tg_tape_free(tape);
    tg_free(p);
}

Test(safety, tg_grad_results_never_alias) {
    for (int cg = 0; cg < 2; cg++) {
        tg_clear_error();
        tg_tape *tape = tg_tape_new();
        tg_tensor *a = tu_f64(1, (int64_t[]){2}, (double[]){1, 2}, true);
        tg_tensor *b = tu_f64(1, (int64_t[]){2}, (double[]){3, 4}, true);
        tg_tensor *seed = tu_f64(1, (int64_t[]){2}, (double[]){1, 1}, false);
        tg_tensor *g[2] = {0};
        tg_backward_opts o = {.create_graph = cg == 1};
        cr_assert_eq(tg_grad(tape, tg_add(tape, a, b), seed, 2, (tg_tensor *[]){a, b}, g, &o),
                     TG_OK, "%s", tg_last_error());
        cr_expect_neq(g[0], g[1], "both inputs got the same tensor");
        if (!cg) {
            cr_assert_eq(tg_scale_(g[0], 5.0), TG_OK, "%s", tg_last_error());
            tu_expect_values(g[1], (double[]){1, 1}, 2, 0);
            tu_expect_values(seed, (double[]){1, 1}, 2, 0);
        }
        tg_tape_free(tape);
        tg_free(a), tg_free(b), tg_free(seed);
    }
}

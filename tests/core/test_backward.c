// Tests for core/backward.c: accumulation across calls, zero_grad, retain_graph, fan-out,
// long chains, seeds, error cases, tg_grad (first and higher order), broadcast sum-back.
#include "test_util.h"

static const int64_t S3[1] = {3};

// loss = sum(x * x)   dx = 2x
static tg_tensor *sum_sq(tg_tape *tape, tg_tensor *x) { return tg_sum(tape, tg_mul(tape, x, x)); }

Test(backward, simple_gradient) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, -2, 3}, true);
    tg_tensor *loss = sum_sq(tape, x);
    cr_expect_eq(tg_item(loss), 14.0);
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    tg_tensor *g = tg_grad_of(x);
    cr_assert_not_null(g);
    cr_expect_not(tg_is_step(g));
    cr_expect_not(tg_requires_grad(g));
    tu_expect_values(g, (double[]){2, -4, 6}, 3, 1e-12);
    tg_tape_free(tape);  // the grad belongs to x, not to the tape
    tu_expect_values(tg_grad_of(x), (double[]){2, -4, 6}, 3, 1e-12);
    tg_free(x);
}

Test(backward, gradients_accumulate_across_calls) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, -2, 3}, true);
    cr_assert_eq(tg_backward(tape, sum_sq(tape, x)), TG_OK, "%s", tg_last_error());
    tg_tensor *g = tg_grad_of(x);
    tg_tape_reset(tape);
    tg_tensor *l2 = tg_sum(tape, tg_mul_scalar(tape, x, 10.0));
    cr_assert_eq(tg_backward(tape, l2), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_grad_of(x), g, "the grad buffer is kept");
    tu_expect_values(g, (double[]){12, 6, 16}, 3, 1e-12);
    cr_expect_eq(tg_zero_grad(1, &x), TG_OK);
    cr_expect_eq(tg_grad_of(x), g);
    tu_expect_values(g, (double[]){0, 0, 0}, 3, 0);
    tg_tape_reset(tape);
    cr_assert_eq(tg_backward(tape, sum_sq(tape, x)), TG_OK, "%s", tg_last_error());
    tu_expect_values(g, (double[]){2, -4, 6}, 3, 1e-12);
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, zero_grad_edge_cases) {
    tg_clear_error();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *ts[3] = {x, NULL, x};
    cr_expect_eq(tg_zero_grad(3, ts), TG_OK);  // no grad yet, NULL entries: no-ops
    cr_expect_null(tg_grad_of(x));
    cr_expect_eq(tg_zero_grad(0, NULL), TG_OK);
    cr_expect_eq(tg_zero_grad(-1, ts), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_zero_grad(2, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_free(x);
}

Test(backward, second_backward_needs_retain_graph) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, -2, 3}, true);
    tg_tensor *loss = sum_sq(tape, x);
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_backward(tape, loss), TG_ERR_STATE);
    cr_expect_eq(tg_last_status(), TG_ERR_STATE);
    tu_expect_error("tg_backward", "retain_graph");
    tu_expect_values(tg_grad_of(x), (double[]){2, -4, 6}, 3, 1e-12);  // unchanged
    tg_clear_error();
    // every pass over that tape is refused until reset, tg_grad included
    tg_tensor *g = NULL;
    cr_expect_eq(tg_grad(tape, loss, NULL, 1, &x, &g, NULL), TG_ERR_STATE);
    tu_expect_error("tg_grad", "retain_graph");
    tg_clear_error();
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, retain_graph_allows_repeats_and_accumulates) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, -2, 3}, true);
    tg_tensor *loss = sum_sq(tape, x);
    tg_backward_opts keep = tg_backward_opts_default();
    cr_expect_not(keep.retain_graph);
    cr_expect_not(keep.create_graph);
    keep.retain_graph = true;
    cr_assert_eq(tg_backward_ex(tape, loss, NULL, &keep), TG_OK, "%s", tg_last_error());
    cr_assert_eq(tg_backward_ex(tape, loss, NULL, &keep), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){4, -8, 12}, 3, 1e-12);
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());  // last one frees
    tu_expect_values(tg_grad_of(x), (double[]){6, -12, 18}, 3, 1e-12);
    cr_expect_eq(tg_backward(tape, loss), TG_ERR_STATE);
    tu_expect_error("retain_graph", NULL);
    tg_clear_error();
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, fan_out_sums_gradients) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, -2, 0.5}, true);
    // y = x*x + x   dy/dx = 2x + 1
    tg_tensor *y = tg_sum(tape, tg_add(tape, tg_mul(tape, x, x), x));
    cr_assert_eq(tg_backward(tape, y), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){3, -3, 2}, 3, 1e-12);
    tg_tape_reset(tape);
    tg_zero_grad(1, &x);
    // an intermediate used three times: h = exp(x); z = h*h + h  ->  dz/dx = 2h^2 + h
    tg_tensor *h = tg_exp(tape, x);
    tg_tensor *z = tg_sum(tape, tg_add(tape, tg_mul(tape, h, h), h));
    cr_assert_eq(tg_backward(tape, z), TG_OK, "%s", tg_last_error());
    double want[3];
    const double xv[3] = {1, -2, 0.5};
    for (int i = 0; i < 3; i++) want[i] = 2 * exp(2 * xv[i]) + exp(xv[i]);
    tu_expect_values(tg_grad_of(x), want, 3, 1e-12);
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, long_chain_has_no_recursion) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(0, NULL, (double[]){0.5}, true);
    const int n = 10000;  // ops: 5000 add_scalar + 5000 mul_scalar
    const double c = 1.0001;
    tg_tensor *y = x;
    double ref = 0.5;
    for (int i = 0; i < n / 2; i++) {
        y = tg_mul_scalar(tape, tg_add_scalar(tape, y, 0.25), c);
        ref = (ref + 0.25) * c;
    }
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), n);
    cr_expect(fabs(tg_item(y) - ref) <= 1e-9 * fabs(ref), "%g vs %g", tg_item(y), ref);
    cr_assert_eq(tg_backward(tape, y), TG_OK, "%s", tg_last_error());
    double want = pow(c, n / 2);  // ~1.6487
    tu_expect_values(tg_grad_of(x), &want, 1, 1e-9);
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, non_scalar_output_needs_a_seed) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *y = tg_mul_scalar(tape, x, 2.0);
    cr_expect_eq(tg_backward(tape, y), TG_ERR_SHAPE);
    tu_expect_error("tg_backward", "[3] has 3 elements; pass a seed");
    cr_expect_null(tg_grad_of(x));
    tg_clear_error();
    // a one-element non-scalar shape is fine without a seed
    tg_tensor *one =
        tg_sum_axes(tape, tg_reshape(tape, y, 2, (int64_t[]){1, 3}), 1, (int[]){1}, true);
    cr_assert_not_null(one, "%s", tg_last_error());
    cr_expect_eq(tg_ndim(one), 2);
    cr_assert_eq(tg_backward(tape, one), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){2, 2, 2}, 3, 0);
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, seed_gradient) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *seed = tu_f64(1, S3, (double[]){1, 10, 100}, false);
    tg_tensor *y = tg_mul(tape, x, x);  // dy_i/dx_i = 2 x_i
    cr_assert_eq(tg_backward_ex(tape, y, seed, NULL), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){2, 40, 600}, 3, 1e-12);
    tg_tape_free(tape);
    tg_free(seed);
    tg_free(x);
}

Test(backward, seed_must_match_the_output) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *y = tg_mul(tape, x, x);
    tg_tensor *bad = tu_f64(1, (int64_t[]){2}, (double[]){1, 1}, false);
    tg_tensor *badf = tg_tensor_new(tu_cpu(), TG_F32, 1, S3);
    cr_expect_eq(tg_backward_ex(tape, y, bad, NULL), TG_ERR_SHAPE);
    tu_expect_error("seed [2] f64 does not match output [3] f64", NULL);
    tg_clear_error();
    cr_expect_eq(tg_backward_ex(tape, y, badf, NULL), TG_ERR_SHAPE);
    tu_expect_error("f32", NULL);
    tg_clear_error();
    cr_expect_null(tg_grad_of(x));
    // the failed calls did not consume the graph
    tg_tensor *ok = tu_f64(1, S3, (double[]){1, 1, 1}, false);
    cr_assert_eq(tg_backward_ex(tape, y, ok, NULL), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){2, 4, 6}, 3, 0);
    tg_tape_free(tape);
    tg_free(ok);
    tg_free(badf);
    tg_free(bad);
    tg_free(x);
}

Test(backward, output_without_grad_is_a_clear_error) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_f64(1, S3, (double[]){1, 2, 3}, false);
    tg_tensor *y = tg_sum(tape, tg_mul(tape, a, a));
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_backward(tape, y), TG_ERR_STATE);
    tu_expect_error("tg_backward", "does not require grad");
    tg_clear_error();
    cr_expect_eq(tg_backward(tape, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("output is NULL", NULL);
    tg_clear_error();
    cr_expect_eq(tg_backward(NULL, y), TG_ERR_INVALID_ARG);
    tu_expect_error("tape is NULL", NULL);
    tg_clear_error();
    tg_tape_free(tape);
    tg_free(a);
}

Test(backward, from_a_persistent_leaf) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(0, NULL, (double[]){4}, true);
    cr_assert_eq(tg_backward(tape, x), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){1}, 1, 0);
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, only_requires_grad_leaves_get_grads) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *c = tu_f64(1, S3, (double[]){4, 5, 6}, false);
    tg_tensor *loss = tg_sum(tape, tg_mul(tape, x, c));
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){4, 5, 6}, 3, 0);
    cr_expect_null(tg_grad_of(c));
    tg_tape_free(tape);
    tg_free(c);
    tg_free(x);
}

Test(backward, tg_grad_returns_step_tensors_and_leaves_grad_alone) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, -2, 3}, true);
    tg_tensor *u = tu_f64(1, (int64_t[]){2}, (double[]){7, 8}, true);  // unused
    tg_tensor *loss = sum_sq(tape, x);
    tg_tensor *in[2] = {x, u}, *g[2] = {NULL, NULL};
    cr_assert_eq(tg_grad(tape, loss, NULL, 2, in, g, NULL), TG_OK, "%s", tg_last_error());
    cr_assert(g[0] && g[1]);
    cr_expect(tg_is_step(g[0]));
    cr_expect(tg_is_step(g[1]));
    cr_expect_not(tg_requires_grad(g[0]));
    tu_expect_values(g[0], (double[]){2, -4, 6}, 3, 1e-12);
    tu_expect_values(g[1], (double[]){0, 0}, 2, 0);  // independent input: zeros
    cr_expect_null(tg_grad_of(x));
    cr_expect_null(tg_grad_of(u));
    cr_expect_eq(tg_free(g[0]), TG_ERR_STATE);  // owned by the tape
    tg_clear_error();
    tg_tape_reset(tape);

    // with an existing .grad, tg_grad still leaves it untouched
    cr_assert_eq(tg_backward(tape, sum_sq(tape, x)), TG_OK, "%s", tg_last_error());
    tg_tape_reset(tape);
    tg_tensor *l2 = tg_sum(tape, tg_mul_scalar(tape, x, 5.0));
    cr_assert_eq(tg_grad(tape, l2, NULL, 1, &x, g, NULL), TG_OK, "%s", tg_last_error());
    tu_expect_values(g[0], (double[]){5, 5, 5}, 3, 0);
    tu_expect_values(tg_grad_of(x), (double[]){2, -4, 6}, 3, 1e-12);
    tg_tape_free(tape);
    tg_free(u);
    tg_free(x);
}

Test(backward, tg_grad_of_intermediate_and_with_seed) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *h = tg_mul_scalar(tape, x, 3.0);
    tg_tensor *y = tg_mul(tape, h, h);  // dy/dh = 2h
    tg_tensor *seed = tu_f64(1, S3, (double[]){1, 0, -1}, false);
    tg_tensor *g = NULL;
    cr_assert_eq(tg_grad(tape, y, seed, 1, &h, &g, NULL), TG_OK, "%s", tg_last_error());
    tu_expect_values(g, (double[]){6, 0, -18}, 3, 1e-12);
    cr_expect_null(tg_grad_of(x));
    tg_tape_free(tape);
    tg_free(seed);
    tg_free(x);
}

Test(backward, tg_grad_bad_arguments) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, true);
    tg_tensor *loss = sum_sq(tape, x);
    tg_tensor *g[1];
    cr_expect_eq(tg_grad(tape, loss, NULL, 1, &x, NULL, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_grad", NULL);
    tg_clear_error();
    tg_tensor *none[1] = {NULL};
    cr_expect_eq(tg_grad(tape, loss, NULL, 1, none, g, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_grad", "input 0 is NULL");
    tg_clear_error();
    cr_expect_eq(tg_grad(tape, loss, NULL, -1, &x, g, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, create_graph_gives_second_derivatives) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    const double xv[3] = {0.5, 2, -1};
    tg_tensor *x = tu_f64(1, S3, xv, true);
    // y = sum(x^3)   dy/dx = 3x^2   d/dx sum(3x^2) = 6x
    tg_tensor *y = tg_sum(tape, tg_mul(tape, tg_mul(tape, x, x), x));
    tg_backward_opts o = {.create_graph = true};
    tg_tensor *g = NULL;
    cr_assert_eq(tg_grad(tape, y, NULL, 1, &x, &g, &o), TG_OK, "%s", tg_last_error());
    cr_assert_not_null(g);
    cr_expect(tg_requires_grad(g), "the gradient must be differentiable");
    tu_expect_values(g, (double[]){0.75, 12, 3}, 3, 1e-12);
    cr_expect_null(tg_grad_of(x));
    cr_assert_eq(tg_backward(tape, tg_sum(tape, g)), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){3, 12, -6}, 3, 1e-12);
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, create_graph_with_pow_and_mixed_terms) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, (int64_t[]){2}, (double[]){1.5, 0.5}, true);
    tg_tensor *w = tu_f64(1, (int64_t[]){2}, (double[]){2, -3}, true);
    // y = sum(w * x^3)  g = dy/dx = 3 w x^2 ; sum(g) -> d/dx = 6 w x, d/dw = 3 x^2
    tg_tensor *y = tg_sum(tape, tg_mul(tape, w, tg_pow_scalar(tape, x, 3.0)));
    tg_backward_opts o = {.create_graph = true};
    tg_tensor *g = NULL;
    cr_assert_eq(tg_grad(tape, y, NULL, 1, &x, &g, &o), TG_OK, "%s", tg_last_error());
    tu_expect_values(g, (double[]){3 * 2 * 2.25, 3 * -3 * 0.25}, 2, 1e-12);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, g)), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), (double[]){6 * 2 * 1.5, 6 * -3 * 0.5}, 2, 1e-12);
    tu_expect_values(tg_grad_of(w), (double[]){3 * 2.25, 3 * 0.25}, 2, 1e-12);
    tg_tape_free(tape);
    tg_free(w);
    tg_free(x);
}

Test(backward, create_graph_on_a_graph_that_outgrows_the_node_array) {
    // The recorded backward appends nodes while the sweep walks the node array, so the
    // array must be allowed to move (regression test for a use-after-free).
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    const double x0 = 1.001;
    const int n = 200;
    tg_tensor *x = tu_f64(0, NULL, &x0, true);
    tg_tensor *y = x;  // y = x^(n+1)
    for (int i = 0; i < n; i++) y = tg_mul(tape, y, x);
    cr_assert_not_null(y, "%s", tg_last_error());
    tg_backward_opts o = {.create_graph = true};
    tg_tensor *g = NULL;
    cr_assert_eq(tg_grad(tape, y, NULL, 1, &x, &g, &o), TG_OK, "%s", tg_last_error());
    cr_expect(tg_tape_size(tape) > 256, "the backward recorded %lld nodes",
              (long long)tg_tape_size(tape));
    double d1 = (n + 1) * pow(x0, n), d2 = (double)(n + 1) * n * pow(x0, n - 1);
    tu_expect_values(g, &d1, 1, 1e-9 * d1);
    cr_assert_eq(tg_backward(tape, g), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(x), &d2, 1, 1e-9 * d2);
    tg_tape_free(tape);
    tg_free(x);
}

Test(backward, broadcast_gradient_is_summed_back) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    double cv[12];
    for (int i = 0; i < 12; i++) cv[i] = i + 1;  // [[1..4],[5..8],[9..12]]
    tg_tensor *x = tu_f64(2, (int64_t[]){3, 4}, cv, true);
    tg_tensor *b = tu_f64(1, (int64_t[]){4}, (double[]){0.1, 0.2, 0.3, 0.4}, true);
    tg_tensor *r = tu_f64(2, (int64_t[]){3, 1}, (double[]){1, 2, 3}, true);
    tg_tensor *c = tu_f64(2, (int64_t[]){3, 4}, cv, false);
    // loss = sum((x + b + r) * c): db = column sums of c, dr = row sums, dx = c
    tg_tensor *loss = tg_sum(tape, tg_mul(tape, tg_add(tape, tg_add(tape, x, b), r), c));
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    tu_expect_values(tg_grad_of(b), (double[]){15, 18, 21, 24}, 4, 1e-12);
    tu_expect_values(tg_grad_of(r), (double[]){10, 26, 42}, 3, 1e-12);
    tu_expect_values(tg_grad_of(x), cv, 12, 0);
    cr_expect_eq(tg_ndim(tg_grad_of(b)), 1);
    cr_expect_eq(tg_ndim(tg_grad_of(r)), 2);
    tg_tape_free(tape);
    tg_free(c);
    tg_free(r);
    tg_free(b);
    tg_free(x);
}

Test(backward, scalar_broadcast_gradient) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *s = tu_f64(0, NULL, (double[]){2}, true);
    tg_tensor *x = tu_f64(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}, false);
    tg_tensor *loss = tg_sum(tape, tg_mul(tape, x, s));  // ds = sum(x)
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_ndim(tg_grad_of(s)), 0);
    tu_expect_values(tg_grad_of(s), (double[]){21}, 1, 1e-12);
    tg_tape_free(tape);
    tg_free(x);
    tg_free(s);
}

// A weight with a .grad takes its matmul gradient straight into .grad (tg__grad_accumulate): the
// sums must match the step-tensor path (tg_grad) over repeated backwards, a weight used
// twice, both layouts, and fall back where writing early would be wrong.
// x [2,3], W [4,3] (y = x W^T) or Wt [3,4] (y = x Wt); loss = sum(y * c).
static const double XV[6] = {1, -2, 0.5, 3, 1, -1};
static const double WV[12] = {0.5, -1, 2, 1, 0, -0.5, 0.25, 3, -2, 1.5, 1, -1};
static const double CV[8] = {1, 2, -1, 0.5, -2, 1, 3, -0.5};

static tg_tensor *weighted_sum(tg_tape *tape, tg_tensor *x, tg_tensor *w, bool wt_layout,
                               tg_tensor *c) {
    tg_tensor *y = wt_layout ? tg_matmul(tape, x, w) : tg_matmul_ex(tape, x, w, false, true);
    return tg_sum(tape, tg_mul(tape, y, c));
}

static void check_direct_grad(bool wt_layout) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, XV}, false);
    double wt[12];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) wt[j * 4 + i] = WV[i * 3 + j];
    tg_tensor *w = wt_layout ? tu_make(TG_F64, (tu_arr){2, {3, 4}, wt}, true)
                             : tu_make(TG_F64, (tu_arr){2, {4, 3}, WV}, true);
    tg_tensor *c = tu_make(TG_F64, (tu_arr){2, {2, 4}, CV}, false);
    // reference: the step-tensor path
    tg_tensor *ref = NULL;
    cr_assert_eq(tg_grad(tape, weighted_sum(tape, x, w, wt_layout, c), NULL, 1, &w, &ref, NULL),
                 TG_OK, "%s", tg_last_error());
    double want[12];
    cr_assert_eq(tg_copy_to_host(ref, want, sizeof want), TG_OK);
    tg_tape_reset(tape);
    for (int pass = 1; pass <= 3; pass++) {   // pass 1 creates .grad; 2, 3 add into it
        cr_assert_eq(tg_backward(tape, weighted_sum(tape, x, w, wt_layout, c)), TG_OK, "%s",
                     tg_last_error());
        tg_tape_reset(tape);
        double got[12];
        cr_assert_eq(tg_copy_to_host(tg_grad_of(w), got, sizeof got), TG_OK);
        for (int i = 0; i < 12; i++)
            cr_expect_float_eq(got[i], pass * want[i], 1e-12, "pass %d [%d]", pass, i);
    }
    // used twice in one graph: both contributions land
    cr_assert_eq(tg_zero_grad(1, &w), TG_OK);
    tg_tensor *l1 = weighted_sum(tape, x, w, wt_layout, c);
    tg_tensor *l2 = tg_add(tape, l1, weighted_sum(tape, x, w, wt_layout, c));
    cr_assert_eq(tg_backward(tape, l2), TG_OK, "%s", tg_last_error());
    tg_tape_reset(tape);
    double got[12];
    cr_assert_eq(tg_copy_to_host(tg_grad_of(w), got, sizeof got), TG_OK);
    for (int i = 0; i < 12; i++) cr_expect_float_eq(got[i], 2 * want[i], 1e-12, "[%d]", i);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(w);
    tu_free(c);
}

Test(backward, weight_gradient_added_into_grad) { check_direct_grad(false); }
Test(backward, transposed_weight_gradient_added_into_grad) { check_direct_grad(true); }

// The loss also reads w's .grad: the gemm must not add into it while the sweep may still
// read it, so the gradient goes the step-tensor way and reads the old value. Read directly
// (grad(w) is recorded, so pinned) or through a view (reshape(grad(w)) is a step tensor
// sharing its data: the view pins grad(w) on the tape). The mul is recorded before the
// matmul, so its rule runs after the matmul's (the order that would expose an early write).
static void check_grad_read_not_written_early(bool through_view) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, XV}, false);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){2, {4, 3}, WV}, true);
    tg_tensor *c = tu_make(TG_F64, (tu_arr){2, {2, 4}, CV}, false);
    cr_assert_eq(tg_backward(tape, weighted_sum(tape, x, w, false, c)), TG_OK, "%s",
                 tg_last_error());
    tg_tape_reset(tape);
    double g1[12];
    cr_assert_eq(tg_copy_to_host(tg_grad_of(w), g1, sizeof g1), TG_OK);
    tg_tensor *gw = tg_grad_of(w);
    if (through_view) {
        bool mode = tg_tape_set_grad(tape, false);   // the view itself is not recorded
        gw = tg_reshape(tape, gw, 2, (int64_t[]){4, 3});
        tg_tape_set_grad(tape, mode);
    }
    // loss = sum(w * grad(w)) + weighted_sum: d/dw of the first term is grad(w) as recorded
    tg_tensor *first = tg_sum(tape, tg_mul(tape, w, gw));   // recorded before the matmul
    tg_tensor *l = tg_add(tape, first, weighted_sum(tape, x, w, false, c));
    cr_assert_eq(tg_backward(tape, l), TG_OK, "%s", tg_last_error());
    tg_tape_reset(tape);
    double got[12];
    cr_assert_eq(tg_copy_to_host(tg_grad_of(w), got, sizeof got), TG_OK);
    for (int i = 0; i < 12; i++)   // old g1 + (g1 + g1)
        cr_expect_float_eq(got[i], 3 * g1[i], 1e-12, "[%d]", i);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(w);
    tu_free(c);
}

Test(backward, grad_read_by_the_graph_is_not_written_early) {
    check_grad_read_not_written_early(false);
}
Test(backward, grad_read_through_a_view_is_not_written_early) {
    check_grad_read_not_written_early(true);
}

Test(backward, persistent_tensor_with_a_live_view_cannot_be_freed) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(1, S3, (double[]){1, 2, 3}, false);
    tg_tensor *v = tg_reshape(tape, x, 2, (int64_t[]){3, 1});
    cr_assert_not_null(v, "%s", tg_last_error());
    cr_expect_eq(tg_free(x), TG_ERR_STATE);
    tg_clear_error();
    tg_tape_reset(tape);
    cr_expect_eq(tg_free(x), TG_OK);
    tg_tape_free(tape);
}

// A seed passed to tg_backward is read in place, never written; one that is a leaf's grad
// (which a rule may add into) is copied first.
Test(backward, seed_is_read_not_written) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, XV}, false);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){2, {4, 3}, WV}, true);
    tg_tensor *seed = tu_make(TG_F64, (tu_arr){2, {2, 4}, CV}, false);
    // d/dW sum(seed * (x W^T)) = seed^T x
    double want[12];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            want[i * 3 + j] = CV[0 * 4 + i] * XV[0 * 3 + j] + CV[1 * 4 + i] * XV[1 * 3 + j];
    tg_tensor *y = tg_matmul_ex(tape, x, w, false, true);
    cr_assert_eq(tg_backward_ex(tape, y, seed, NULL), TG_OK, "%s", tg_last_error());
    tg_tape_reset(tape);
    tu_expect_arr(seed, (tu_arr){2, {2, 4}, CV}, 0);
    tu_expect_arr(tg_grad_of(w), (tu_arr){2, {4, 3}, want}, 1e-12);
    // y = w * 1 (shape [4,3]) seeded with w's own grad: the product rule is not a gemm,
    // but the seed must still come through unchanged: grad becomes 2 * want
    tg_tensor *y2 = tg_mul_scalar(tape, w, 1.0);
    cr_assert_eq(tg_backward_ex(tape, y2, tg_grad_of(w), NULL), TG_OK, "%s", tg_last_error());
    tg_tape_reset(tape);
    double two[12];
    for (int i = 0; i < 12; i++) two[i] = 2 * want[i];
    tu_expect_arr(tg_grad_of(w), (tu_arr){2, {4, 3}, two}, 1e-12);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(w);
    tu_free(seed);
}

// ---- grad hooks (the leaf's gradient is final) ----

typedef struct {
    tg_tensor *order[8];
    double seen[8];   // grad[0] when the hook ran
    int n;
    int fail_at;      // 1-based call that fails, 0: none
} hook_log;

static int log_hook(tg_tensor *p, void *user) {
    hook_log *h = user;
    h->order[h->n] = p;
    h->seen[h->n] = tg_data_f64(tg_grad_of(p))[0];
    return ++h->n == h->fail_at ? -42 : TG_OK;
}

Test(backward, grad_hooks_fire_once_per_pass_when_the_grad_is_final) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    // y = sum(tanh(x @ w1) @ w2) + sum(w1): w1 is used first (node 0) and again later,
    // w2 only at the end; the hook of w2 runs first, w1's once its last use is done.
    tg_rng *rng = tg_rng_new(5);
    tg_tensor *x = tu_rand64(rng, 2, (int64_t[]){4, 3}, -1, 1, false);
    tg_tensor *w1 = tu_rand64(rng, 2, (int64_t[]){3, 5}, -1, 1, true);
    tg_tensor *w2 = tu_rand64(rng, 2, (int64_t[]){5, 2}, -1, 1, true);
    hook_log h = {.n = 0};
    cr_assert_eq(tg_set_grad_hook(w1, log_hook, &h), TG_OK);
    cr_assert_eq(tg_set_grad_hook(w2, log_hook, &h), TG_OK);
    for (int pass = 0; pass < 2; pass++) {
        h.n = 0;
        tg_tensor *y = tg_add(tape, tg_sum(tape, tg_matmul(tape, tg_tanh(tape, tg_matmul(tape, x, w1)), w2)),
                              tg_sum(tape, w1));
        cr_assert_eq(tg_backward(tape, y), TG_OK, "%s", tg_last_error());
        cr_assert_eq(h.n, 2, "each hook runs once per pass");
        cr_expect_eq(h.order[0], w2);
        cr_expect_eq(h.order[1], w1);
        cr_expect_eq(h.seen[0], tg_data_f64(tg_grad_of(w2))[0], "w2's grad was final");
        cr_expect_eq(h.seen[1], tg_data_f64(tg_grad_of(w1))[0], "w1's grad was final");
        tg_tape_reset(tape);
    }
    // a failing hook fails the pass with its status and a message naming the tensor
    h = (hook_log){.fail_at = 1};
    tg_tensor *y = tg_sum(tape, tg_matmul(tape, x, w1));
    cr_expect_eq(tg_backward(tape, y), -42);
    tu_expect_error("tg_backward", "grad hook of [3,5] f64");
    tg_clear_error();
    tg_tape_reset(tape);
    // cleared: no call
    cr_assert_eq(tg_set_grad_hook(w1, NULL, NULL), TG_OK);
    h = (hook_log){.n = 0};
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_matmul(tape, x, w1))), TG_OK);
    cr_expect_eq(h.n, 0);
    // step tensors have no .grad
    cr_expect_eq(tg_set_grad_hook(tg_tanh(tape, w1), log_hook, &h), TG_ERR_STATE);
    tg_tape_free(tape);
    tg_free(x), tg_free(w1), tg_free(w2);
    tg_rng_free(rng);
}

Test(backward, lazy_zero_grad_reads_as_zero_everywhere) {
    // tg_zero_grad only marks the parameter; backward then writes instead of adding (a
    // matmul weight through the gemm with beta 0, a vector through a copy); tg_grad_of and
    // views a tape already holds read zeros.
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4}, false);
    tg_tensor *w = tu_f64(2, (int64_t[]){2, 2}, (double[]){1, 0, 0, 1}, true);
    tg_tensor *b = tu_f64(1, (int64_t[]){2}, (double[]){0, 0}, true);
    tg_tensor *both[2] = {w, b};
    for (int step = 0; step < 3; step++) {
        tg_tensor *y = tg_sum(tape, tg_add(tape, tg_matmul(tape, x, w), b));
        cr_assert_eq(tg_backward(tape, y), TG_OK, "%s", tg_last_error());
        tu_expect_values(tg_grad_of(w), (double[]){4, 4, 6, 6}, 4, 0);
        tu_expect_values(tg_grad_of(b), (double[]){2, 2}, 2, 0);
        tg_tape_reset(tape);
        cr_assert_eq(tg_zero_grad(2, both), TG_OK);
    }
    tu_expect_values(tg_grad_of(w), (double[]){0, 0, 0, 0}, 4, 0);
    // a view a tape holds: zeroed at once
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_matmul(tape, x, w))), TG_OK);
    tg_tensor *view = tg_detach(tape, tg_grad_of(w));
    cr_assert_eq(tg_zero_grad(1, &w), TG_OK);
    tu_expect_values(view, (double[]){0, 0, 0, 0}, 4, 0);
    tg_tape_free(tape);
    tg_free(x), tg_free(w), tg_free(b);
}

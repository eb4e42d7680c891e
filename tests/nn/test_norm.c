// Tests for nn/norm.c: BatchNorm1d/2d (batch statistics in training, running statistics
// with momentum and unbiased variance, eval mode), LayerNorm and Embedding. Parity rows
// replay tests/fixtures/nn_torch.txt (torch 1.13, gen_nn.py) in f64 to 1e-10.
#include <stdio.h>
#include <stdlib.h>

#include "nn/nn_util.h"
#include "test_util.h"

TestSuite(batchnorm, .init = tg_clear_error);
TestSuite(layernorm, .init = tg_clear_error);
TestSuite(embedding, .init = tg_clear_error);

// ---- helpers ----

// Per-channel mean and population variance of v laid out [N, C, S] (S = H*W, 1 for 1d).
static void channel_stats(const double *v, int64_t n, int64_t c, int64_t s, int64_t ch,
                          double *mean, double *var) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k++) sum += v[(i * c + ch) * s + k];
    *mean = sum / (double)(n * s);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < s; k++) {
            double d = v[(i * c + ch) * s + k] - *mean;
            sq += d * d;
        }
    *var = sq / (double)(n * s);
}

// x [n, c, s...] with channel ch drawn from U(-1,1) * (ch + 1) + 2 ch - 1.
static tg_tensor *channel_data(tg_rng *rng, int ndim, const int64_t *shape) {
    tg_tensor *x = tu_rand64(rng, ndim, shape, -1, 1, false);
    double *v = tg_data_f64(x);
    int64_t c = shape[1], s = tg_numel(x) / (shape[0] * c);
    for (int64_t i = 0; i < tg_numel(x); i++) {
        int64_t ch = (i / s) % c;
        v[i] = v[i] * (double)(ch + 1) + 2.0 * (double)ch - 1.0;
    }
    return x;
}

// ---- BatchNorm: structure ----

Test(batchnorm, params_buffers_and_initial_values) {
    tg_module *bn = tg_batchnorm1d(tu_cpu(), TG_F64, 4, 0.1, 1e-5);
    cr_assert_not_null(bn, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(bn), "BatchNorm1d(4)");
    cr_assert_eq(tg_module_n_params(bn), 2);
    cr_assert_eq(tg_module_n_buffers(bn), 2);
    cr_expect_str_eq(tg_module_param_name(bn, 0), "weight");
    cr_expect_str_eq(tg_module_param_name(bn, 1), "bias");
    cr_expect_str_eq(tg_module_buffer_name(bn, 0), "running_mean");
    cr_expect_str_eq(tg_module_buffer_name(bn, 1), "running_var");
    cr_expect_eq(tg_module_param_count(bn), 8);
    cr_expect(tg_requires_grad(tg_module_param(bn, 0)));
    cr_expect(!tg_requires_grad(tg_module_buffer(bn, 0)), "buffers are not trainable");
    tu_expect_values(tg_module_param(bn, 0), (double[]){1, 1, 1, 1}, 4, 0);
    tu_expect_values(tg_module_param(bn, 1), (double[]){0, 0, 0, 0}, 4, 0);
    tu_expect_values(tg_module_buffer(bn, 0), (double[]){0, 0, 0, 0}, 4, 0);
    tu_expect_values(tg_module_buffer(bn, 1), (double[]){1, 1, 1, 1}, 4, 0);
    tg_module_free(bn);

    tg_module *bn2 = tg_batchnorm2d(tu_cpu(), TG_F32, 3, 0.1, 1e-5);
    cr_assert_not_null(bn2, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(bn2), "BatchNorm2d(3)");
    cr_expect_eq(tg_module_param_count(bn2), 6);
    tu_expect_shape(tg_module_buffer(bn2, 1), 1, (int64_t[]){3});
    cr_expect_eq(tg_dtype_of(tg_module_buffer(bn2, 1)), TG_F32);
    tg_module_free(bn2);
}

// ---- BatchNorm: training mode ----

// Trains one step on channel-shifted data of `shape` and checks the output statistics
// and the running statistics against host computations.
static void check_batch_stats(int dims, int ndim, const int64_t *shape, double momentum) {
    const double eps = 1e-5;
    int64_t n = shape[0], c = shape[1], s = ndim == 4 ? shape[2] * shape[3] : 1;
    tg_rng *rng = tg_rng_new(3);
    tg_tensor *x = channel_data(rng, ndim, shape);
    tg_module *bn = dims == 1 ? tg_batchnorm1d(tu_cpu(), TG_F64, c, momentum, eps)
                              : tg_batchnorm2d(tu_cpu(), TG_F64, c, momentum, eps);
    cr_assert_not_null(bn, "%s", tg_last_error());
    cr_assert(tg_module_is_training(bn), "modules start in training mode");
    tg_tape *tape = tg_tape_new();
    tg_tensor *y = tg_module_forward(bn, tape, x);
    tu_expect_shape(y, ndim, shape);
    double *xv = nnu_host(x), *yv = nnu_host(y);
    double *rm = nnu_host(tg_module_buffer(bn, 0)), *rv = nnu_host(tg_module_buffer(bn, 1));
    for (int64_t ch = 0; ch < c; ch++) {
        double xm, xvar, ym, yvar;
        channel_stats(xv, n, c, s, ch, &xm, &xvar);
        channel_stats(yv, n, c, s, ch, &ym, &yvar);
        cr_expect(fabs(ym) < 1e-12, "channel %lld: output mean %g", (long long)ch, ym);
        cr_expect(fabs(yvar - xvar / (xvar + eps)) < 1e-12, "channel %lld: output var %.15g",
                  (long long)ch, yvar);
        cr_expect(fabs(yvar - 1.0) < 1e-4, "channel %lld: output var %g", (long long)ch, yvar);
        double count = (double)(n * s), unbiased = xvar * count / (count - 1.0);
        double want_m = momentum * xm, want_v = (1 - momentum) + momentum * unbiased;
        cr_expect(fabs(rm[ch] - want_m) < 1e-13, "running_mean[%lld] %.15g, want %.15g",
                  (long long)ch, rm[ch], want_m);
        cr_expect(fabs(rv[ch] - want_v) < 1e-13, "running_var[%lld] %.15g, want %.15g",
                  (long long)ch, rv[ch], want_v);
    }
    free(xv), free(yv), free(rm), free(rv);
    tg_tape_free(tape);
    tg_module_free(bn);
    tu_free(x);
    tg_rng_free(rng);
}

Test(batchnorm, bn1d_training_normalises_and_updates_running_stats) {
    check_batch_stats(1, 2, (int64_t[]){64, 3}, 0.1);
}

Test(batchnorm, bn2d_training_normalises_and_updates_running_stats) {
    check_batch_stats(2, 4, (int64_t[]){4, 3, 5, 6}, 0.1);
}

Test(batchnorm, momentum_zero_and_one) {
    check_batch_stats(1, 2, (int64_t[]){16, 2}, 0.0);       // running stats stay at 0 / 1
    check_batch_stats(2, 4, (int64_t[]){2, 2, 3, 3}, 1.0);  // running stats = batch stats
}

// ---- BatchNorm: eval mode ----

Test(batchnorm, eval_uses_running_stats_and_leaves_them) {
    const double eps = 1e-3, rm[2] = {0.5, -1.0}, rv[2] = {4.0, 0.25};
    const double w[2] = {2.0, -1.0}, b[2] = {0.1, 0.2};
    tg_module *bn = tg_batchnorm2d(tu_cpu(), TG_F64, 2, 0.1, eps);
    cr_assert_not_null(bn, "%s", tg_last_error());
    cr_assert_eq(tg_copy_from_host(tg_module_buffer(bn, 0), rm, sizeof rm), TG_OK);
    cr_assert_eq(tg_copy_from_host(tg_module_buffer(bn, 1), rv, sizeof rv), TG_OK);
    cr_assert_eq(tg_copy_from_host(tg_module_param(bn, 0), w, sizeof w), TG_OK);
    cr_assert_eq(tg_copy_from_host(tg_module_param(bn, 1), b, sizeof b), TG_OK);
    tg_module_train(bn, false);
    cr_expect(!tg_module_is_training(bn));
    tg_rng *rng = tg_rng_new(5);
    int64_t shape[4] = {3, 2, 2, 2};
    tg_tensor *x = tu_rand64(rng, 4, shape, -2, 2, false);
    tg_tape *tape = tg_tape_new();
    for (int rep = 0; rep < 2; rep++) {  // twice: nothing may drift between calls
        tg_tensor *y = tg_module_forward(bn, tape, x);
        tu_expect_shape(y, 4, shape);
        double *xv = nnu_host(x), want[24];
        for (int i = 0; i < 24; i++) {
            int ch = (i / 4) % 2;
            want[i] = (xv[i] - rm[ch]) / sqrt(rv[ch] + eps) * w[ch] + b[ch];
        }
        tu_expect_values(y, want, 24, 1e-13);
        tu_expect_values(tg_module_buffer(bn, 0), rm, 2, 0);
        tu_expect_values(tg_module_buffer(bn, 1), rv, 2, 0);
        free(xv);
        tg_tape_reset(tape);
    }
    // eval mode needs no batch: a single sample works
    tg_tensor *one = tg_to(tg_slice(tape, x, 0, 0, 1, 1), NULL);
    tu_expect_shape(tg_module_forward(bn, tape, one), 4, (int64_t[]){1, 2, 2, 2});
    tg_tape_free(tape);
    tu_free(one);
    tu_free(x);
    tg_module_free(bn);
    tg_rng_free(rng);
}

// ---- BatchNorm: torch parity ----

// "case.what" in one of 4 rotating buffers.
static const char *nm(const char *cs, const char *what) {
    static char bufs[4][64];
    static int k;
    char *p = bufs[k++ % 4];
    snprintf(p, 64, "%s.%s", cs, what);
    return p;
}

// One fixture case (hyper-parameters as in gen_nn.py): two training steps, then eval.
static void bn_parity(const char *cs, int dims, int64_t c, double momentum, double eps) {
    tg_module *bn = dims == 1 ? tg_batchnorm1d(tu_cpu(), TG_F64, c, momentum, eps)
                              : tg_batchnorm2d(tu_cpu(), TG_F64, c, momentum, eps);
    cr_assert_not_null(bn, "%s", tg_last_error());
    nnfx_load_into(tg_module_param(bn, 0), nm(cs, "weight"));
    nnfx_load_into(tg_module_param(bn, 1), nm(cs, "bias"));
    tg_tensor *x1 = nnfx_tensor(nm(cs, "x1"), true), *x2 = nnfx_tensor(nm(cs, "x2"), false);
    tg_tensor *x3 = nnfx_tensor(nm(cs, "x3"), true), *g = nnfx_tensor(nm(cs, "g"), false);
    tg_tape *tape = tg_tape_new();

    tg_tensor *y1 = tg_module_forward(bn, tape, x1);  // training step 1, with gradients
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y1, g))), TG_OK, "%s",
                 tg_last_error());
    nnfx_expect(y1, nm(cs, "y1"));
    nnfx_expect(tg_grad_of(x1), nm(cs, "dx1"));
    nnfx_expect(tg_grad_of(tg_module_param(bn, 0)), nm(cs, "dweight"));
    nnfx_expect(tg_grad_of(tg_module_param(bn, 1)), nm(cs, "dbias"));
    nnfx_expect(tg_module_buffer(bn, 0), nm(cs, "rm1"));
    nnfx_expect(tg_module_buffer(bn, 1), nm(cs, "rv1"));
    tg_tape_reset(tape);

    bool mode = tg_tape_set_grad(tape, false);  // training step 2, no grad (torch.no_grad)
    cr_assert_not_null(tg_module_forward(bn, tape, x2), "%s", tg_last_error());
    tg_tape_set_grad(tape, mode);
    nnfx_expect(tg_module_buffer(bn, 0), nm(cs, "rm2"));
    nnfx_expect(tg_module_buffer(bn, 1), nm(cs, "rv2"));
    tg_tape_reset(tape);

    tg_module_train(bn, false);  // eval: running statistics, not updated
    tg_tensor *y3 = tg_module_forward(bn, tape, x3);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y3, g))), TG_OK, "%s",
                 tg_last_error());
    nnfx_expect(y3, nm(cs, "y3"));
    nnfx_expect(tg_grad_of(x3), nm(cs, "dx3"));
    nnfx_expect(tg_module_buffer(bn, 0), nm(cs, "rm2"));
    nnfx_expect(tg_module_buffer(bn, 1), nm(cs, "rv2"));
    tg_tape_free(tape);
    tu_free(x1), tu_free(x2), tu_free(x3), tu_free(g);
    tg_module_free(bn);
}

Test(batchnorm, bn1d_matches_torch) { bn_parity("bn1d", 1, 4, 0.1, 1e-5); }
Test(batchnorm, bn2d_matches_torch) { bn_parity("bn2d", 2, 3, 0.3, 1e-3); }

// ---- BatchNorm: errors ----

Test(batchnorm, bad_constructor_arguments) {
    cr_expect_null(tg_batchnorm1d(tu_cpu(), TG_F64, 0, 0.1, 1e-5));
    tu_expect_error("tg_batchnorm1d", "features > 0");
    tg_clear_error();
    cr_expect_null(tg_batchnorm2d(tu_cpu(), TG_F64, -3, 0.1, 1e-5));
    tu_expect_error("tg_batchnorm2d", NULL);
    tg_clear_error();
    cr_expect_null(tg_batchnorm1d(tu_cpu(), TG_F64, 4, 1.5, 1e-5));
    tu_expect_error("tg_batchnorm1d", "momentum");
    tg_clear_error();
    cr_expect_null(tg_batchnorm2d(tu_cpu(), TG_F64, 4, -0.1, 1e-5));
    tu_expect_error("tg_batchnorm2d", "momentum");
    tg_clear_error();
    cr_expect_null(tg_batchnorm1d(tu_cpu(), TG_F64, 4, 0.1, 0.0));
    tu_expect_error("tg_batchnorm1d", "eps");
    tg_clear_error();
    cr_expect_null(tg_batchnorm1d(tu_cpu(), TG_F64, 4, NAN, 1e-5));
    tu_expect_error("tg_batchnorm1d", NULL);
}

Test(batchnorm, wrong_input_shapes_name_the_layer) {
    tg_module *bn1 = tg_batchnorm1d(tu_cpu(), TG_F64, 4, 0.1, 1e-5);
    tg_module *bn2 = tg_batchnorm2d(tu_cpu(), TG_F64, 3, 0.1, 1e-5);
    cr_assert(bn1 && bn2, "%s", tg_last_error());
    tg_tape *tape = tg_tape_new();
    tg_tensor *x5 = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){6, 5});
    tg_tensor *x4d = tg_tensor_new(tu_cpu(), TG_F64, 4, (int64_t[]){2, 4, 3, 3});
    tg_tensor *x1 = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){4});
    tg_tensor *single = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){1, 4});

    tu_expect_fail(tg_module_forward(bn1, tape, x5), TG_ERR_SHAPE, "BatchNorm1d(4)", "5", NULL);
    tg_clear_error();
    tu_expect_fail(tg_module_forward(bn1, tape, x1), TG_ERR_SHAPE, "BatchNorm1d(4)", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_module_forward(bn1, tape, x4d), TG_ERR_SHAPE, "BatchNorm1d(4)", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_module_forward(bn2, tape, x5), TG_ERR_SHAPE, "BatchNorm2d(3)", "H,W", NULL);
    tg_clear_error();
    tu_expect_fail(tg_module_forward(bn2, tape, x4d), TG_ERR_SHAPE, "BatchNorm2d(3)", "4", NULL);
    tg_clear_error();
    // one value per channel has no variance: refused in training (torch raises too)
    tu_expect_fail(tg_module_forward(bn1, tape, single), TG_ERR_SHAPE, "BatchNorm1d(4)",
                   "more than 1 value", NULL);
    tg_clear_error();
    tu_expect_values(tg_module_buffer(bn1, 0), (double[]){0, 0, 0, 0}, 4, 0);
    cr_expect_null(tg_module_forward(bn1, tape, NULL), "NULL input propagates");
    cr_expect_eq(tg_last_status(), TG_OK, "a NULL input keeps the (empty) first error");
    tg_tape_free(tape);
    tu_free(x5), tu_free(x4d), tu_free(x1), tu_free(single);
    tg_module_free(bn1);
    tg_module_free(bn2);
}

// ---- LayerNorm ----

Test(layernorm, shapes_params_and_normalisation) {
    tg_module *ln = tg_layernorm(tu_cpu(), TG_F64, 7, 1e-5);
    cr_assert_not_null(ln, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(ln), "LayerNorm(7)");
    cr_assert_eq(tg_module_n_params(ln), 2);
    cr_expect_eq(tg_module_n_buffers(ln), 0);
    cr_expect_str_eq(tg_module_param_name(ln, 0), "weight");
    cr_expect_str_eq(tg_module_param_name(ln, 1), "bias");
    cr_expect_eq(tg_module_param_count(ln), 14);
    tg_rng *rng = tg_rng_new(9);
    tg_tensor *x = tu_rand64(rng, 3, (int64_t[]){2, 3, 7}, -3, 5, false);
    tg_tape *tape = tg_tape_new();
    tg_tensor *y = tg_module_forward(ln, tape, x);
    tu_expect_shape(y, 3, (int64_t[]){2, 3, 7});
    double *v = nnu_host(y);
    for (int r = 0; r < 6; r++) {
        double m = 0, var = 0;
        for (int k = 0; k < 7; k++) m += v[r * 7 + k] / 7;
        for (int k = 0; k < 7; k++) var += (v[r * 7 + k] - m) * (v[r * 7 + k] - m) / 7;
        cr_expect(fabs(m) < 1e-12 && fabs(var - 1) < 1e-4, "row %d: mean %g var %g", r, m, var);
    }
    free(v);
    tg_tape_free(tape);
    tu_free(x);
    tg_module_free(ln);
    tg_rng_free(rng);
}

Test(layernorm, matches_torch) {
    tg_module *ln = tg_layernorm(tu_cpu(), TG_F64, 5, 1e-5);
    cr_assert_not_null(ln, "%s", tg_last_error());
    nnfx_load_into(tg_module_param(ln, 0), "ln.weight");
    nnfx_load_into(tg_module_param(ln, 1), "ln.bias");
    tg_tensor *x = nnfx_tensor("ln.x", true), *g = nnfx_tensor("ln.g", false);
    tg_tape *tape = tg_tape_new();
    tg_tensor *y = tg_module_forward(ln, tape, x);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, g))), TG_OK, "%s", tg_last_error());
    nnfx_expect(y, "ln.y");
    nnfx_expect(tg_grad_of(x), "ln.dx");
    nnfx_expect(tg_grad_of(tg_module_param(ln, 0)), "ln.dweight");
    nnfx_expect(tg_grad_of(tg_module_param(ln, 1)), "ln.dbias");
    tg_tape_free(tape);
    tu_free(x), tu_free(g);
    tg_module_free(ln);
}

Test(layernorm, errors) {
    cr_expect_null(tg_layernorm(tu_cpu(), TG_F64, 0, 1e-5));
    tu_expect_error("tg_layernorm", "features > 0");
    tg_clear_error();
    cr_expect_null(tg_layernorm(tu_cpu(), TG_F64, 4, -1.0));
    tu_expect_error("tg_layernorm", "eps");
    tg_clear_error();
    tg_module *ln = tg_layernorm(tu_cpu(), TG_F64, 5, 1e-5);
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){3, 4});
    tg_tape *tape = tg_tape_new();
    tu_expect_fail(tg_module_forward(ln, tape, x), TG_ERR_SHAPE, "LayerNorm(5)", "5", NULL);
    tg_tape_free(tape);
    tu_free(x);
    tg_module_free(ln);
}

// ---- Embedding ----

Test(embedding, shapes_params_and_lookup) {
    tg_rng *rng = tg_rng_new(1);
    tg_module *e = tg_embedding(tu_cpu(), TG_F64, 10, 4, rng);
    cr_assert_not_null(e, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(e), "Embedding(10, 4)");
    cr_assert_eq(tg_module_n_params(e), 1);
    cr_expect_str_eq(tg_module_param_name(e, 0), "weight");
    tu_expect_shape(tg_module_param(e, 0), 2, (int64_t[]){10, 4});
    cr_expect_eq(tg_module_param_count(e), 40);
    tg_tensor *idx = tu_f64(2, (int64_t[]){2, 3}, (double[]){0, 9, 2, 2, 5, 0}, false);
    tg_tensor *idx1 = tu_f64(1, (int64_t[]){5}, (double[]){1, 2, 3, 4, 5}, false);
    tg_tape *tape = tg_tape_new();
    tg_tensor *y = tg_module_forward(e, tape, idx);
    tu_expect_shape(y, 3, (int64_t[]){2, 3, 4});
    tu_expect_shape(tg_module_forward(e, tape, idx1), 2, (int64_t[]){5, 4});
    double *w = nnu_host(tg_module_param(e, 0)), *yv = nnu_host(y);
    const int rows[6] = {0, 9, 2, 2, 5, 0};
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 4; k++)
            cr_expect_eq(yv[i * 4 + k], w[rows[i] * 4 + k], "lookup %d, column %d", i, k);
    free(w), free(yv);
    tg_tape_free(tape);
    tu_free(idx), tu_free(idx1);
    tg_module_free(e);
    tg_rng_free(rng);
}

Test(embedding, init_is_standard_normal) {
    tg_rng *rng = tg_rng_new(2);
    tg_module *e = tg_embedding(tu_cpu(), TG_F64, 1000, 100, rng);
    cr_assert_not_null(e, "%s", tg_last_error());
    double *w = nnu_host(tg_module_param(e, 0)), m = 0, var = 0;
    for (int i = 0; i < 100000; i++) m += w[i] / 100000;
    for (int i = 0; i < 100000; i++) var += (w[i] - m) * (w[i] - m) / 100000;
    cr_expect(fabs(m) < 0.01 && fabs(sqrt(var) - 1) < 0.01, "mean %g std %g", m, sqrt(var));
    free(w);
    tg_module_free(e);
    tg_rng_free(rng);
}

Test(embedding, matches_torch) {
    tg_rng *rng = tg_rng_new(1);
    tg_module *e = tg_embedding(tu_cpu(), TG_F64, 7, 3, rng);
    cr_assert_not_null(e, "%s", tg_last_error());
    nnfx_load_into(tg_module_param(e, 0), "emb.weight");
    tg_tensor *idx = nnfx_tensor("emb.idx", false), *g = nnfx_tensor("emb.g", false);
    tg_tape *tape = tg_tape_new();
    tg_tensor *y = tg_module_forward(e, tape, idx);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, g))), TG_OK, "%s", tg_last_error());
    nnfx_expect(y, "emb.y");
    nnfx_expect(tg_grad_of(tg_module_param(e, 0)), "emb.dweight");  // repeats accumulate
    tg_tape_free(tape);
    tu_free(idx), tu_free(g);
    tg_module_free(e);
    tg_rng_free(rng);
}

Test(embedding, errors) {
    tg_rng *rng = tg_rng_new(1);
    cr_expect_null(tg_embedding(tu_cpu(), TG_F64, 0, 4, rng));
    tu_expect_error("tg_embedding", "num > 0");
    tg_clear_error();
    cr_expect_null(tg_embedding(tu_cpu(), TG_F64, 10, 0, rng));
    tu_expect_error("tg_embedding", NULL);
    tg_clear_error();
    cr_expect_null(tg_embedding(tu_cpu(), TG_F64, 10, 4, NULL));
    tu_expect_error("tg_embedding", "rng");
    tg_clear_error();

    tg_module *e = tg_embedding(tu_cpu(), TG_F64, 10, 4, rng);
    tg_tape *tape = tg_tape_new();
    const double bad[3][3] = {{0, 10, 1}, {0, -1, 1}, {0, 1.5, 1}};  // too big, negative, fraction
    for (int k = 0; k < 3; k++) {
        tg_tensor *idx = tu_f64(1, (int64_t[]){3}, bad[k], false);
        tu_expect_fail(tg_module_forward(e, tape, idx), TG_ERR_INVALID_ARG, "Embedding(10, 4)",
                       "out of range", NULL);
        tg_clear_error();
        tg_tape_reset(tape);
        tu_free(idx);
    }
    tg_tape_free(tape);
    tg_module_free(e);
    tg_rng_free(rng);
}

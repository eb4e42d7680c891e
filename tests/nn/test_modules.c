// Tests for nn/module.c and nn/layers.c: output shapes, parameter names/counts/shapes
// (PyTorch state-dict names through nested Sequentials), Linear against a hand computation,
// activations, Flatten, Dropout train/eval, train/eval recursion, tg_module_to, the summary
// table, and the errors of bad constructor arguments and bad input shapes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_util.h"
#include "test_util.h"

TestSuite(modules, .init = tg_clear_error);
TestSuite(linear, .init = tg_clear_error);
TestSuite(dropout, .init = tg_clear_error);
TestSuite(summary, .init = tg_clear_error);

// ---- Linear ----

Test(linear, shapes_params_and_names) {
    tg_rng *rng = tg_rng_new(1);
    tg_module *m = tg_linear(tu_cpu(), TG_F64, 3, 5, true, rng);
    cr_assert_not_null(m, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(m), "Linear(in=3, out=5)");
    cr_assert_eq(tg_module_n_params(m), 2);
    cr_expect_eq(tg_module_n_buffers(m), 0);
    nnu_expect_param(m, 0, "weight", 2, (int64_t[]){5, 3});
    nnu_expect_param(m, 1, "bias", 1, (int64_t[]){5});
    cr_expect_eq(tg_module_param_count(m), 20);
    nnu_expect_forward_shape(m, 2, (int64_t[]){4, 3}, 2, (int64_t[]){4, 5});
    nnu_expect_forward_shape(m, 1, (int64_t[]){3}, 1, (int64_t[]){5});
    nnu_expect_forward_shape(m, 3, (int64_t[]){2, 4, 3}, 3, (int64_t[]){2, 4, 5});
    tg_module_free(m);

    tg_module *nb = tg_linear(tu_cpu(), TG_F32, 3, 5, false, rng);
    cr_assert_not_null(nb, "%s", tg_last_error());
    cr_assert_eq(tg_module_n_params(nb), 1);
    nnu_expect_param(nb, 0, "weight", 2, (int64_t[]){5, 3});
    cr_expect_eq(tg_dtype_of(tg_module_param(nb, 0)), TG_F32);
    cr_expect_eq(tg_module_param_count(nb), 15);
    cr_expect_null(tg_module_param(nb, 1));
    cr_expect_null(tg_module_param_name(nb, -1));
    tg_module_free(nb);
    tg_rng_free(rng);
}

// y = x W^T + b and its gradients dW = g^T x, db = sum_rows g, dx = g W, by hand.
Test(linear, forward_and_gradients_by_hand) {
    tg_rng *rng = tg_rng_new(2);
    tg_module *m = tg_linear(tu_cpu(), TG_F64, 3, 4, true, rng);
    cr_assert_not_null(m, "%s", tg_last_error());
    tg_tensor *x = tu_rand64(rng, 2, (int64_t[]){5, 3}, -2, 2, true);
    tg_tensor *g = tu_rand64(rng, 2, (int64_t[]){5, 4}, -1, 1, false);
    tg_tape *tape = tg_tape_new();
    tg_tensor *y = tg_module_forward(m, tape, x);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, g))), TG_OK, "%s", tg_last_error());
    double *w = nnu_host(tg_module_param(m, 0)), *b = nnu_host(tg_module_param(m, 1));
    double *xv = nnu_host(x), *gv = nnu_host(g), want[20], dw[12] = {0}, db[4] = {0}, dx[15] = {0};
    for (int r = 0; r < 5; r++)
        for (int o = 0; o < 4; o++) {
            want[r * 4 + o] = b[o];
            db[o] += gv[r * 4 + o];
            for (int k = 0; k < 3; k++) {
                want[r * 4 + o] += xv[r * 3 + k] * w[o * 3 + k];
                dw[o * 3 + k] += gv[r * 4 + o] * xv[r * 3 + k];
                dx[r * 3 + k] += gv[r * 4 + o] * w[o * 3 + k];
            }
        }
    tu_expect_values(y, want, 20, 1e-13);
    tu_expect_grad(tg_module_param(m, 0), dw, 12, 1e-13);
    tu_expect_grad(tg_module_param(m, 1), db, 4, 1e-13);
    tu_expect_grad(x, dx, 15, 1e-13);
    free(w), free(b), free(xv), free(gv);
    tg_tape_free(tape);
    tu_free(x), tu_free(g);
    tg_module_free(m);
    tg_rng_free(rng);
}

// t's elements as bytes (f32 or f64), malloc'ed.
static void *host_bytes(const tg_tensor *t) {
    cr_assert_not_null(t, "%s", tg_last_error());
    size_t n = (size_t)tg_numel(t) * (tg_dtype_of(t) == TG_F64 ? 8 : 4);
    void *v = malloc(n);
    cr_assert_eq(tg_copy_to_host(t, v, n), TG_OK, "%s", tg_last_error());
    return v;
}

// A Linear followed by a ReLU inside a Sequential runs as one tg_addmm_relu (bias and ReLU
// in the gemm's store): the output and every gradient equal, bit for bit, the same model
// written as tg_addmm and tg_relu, in f32 and f64, for a batch in one register tile and one
// over several (the narrow kernel's masked tails on AVX-512), with ReLU cutting about half.
Test(sequential, linear_relu_fused_equals_unfused) {
    for (int dt = 0; dt < 2; dt++)
        for (int64_t batch = 5; batch <= 40; batch += 35) {
            tg_dtype dtype = dt ? TG_F64 : TG_F32;
            size_t es = dt ? 8 : 4;
            tg_rng *rng = tg_rng_new(7);
            tg_module *l1 = tg_linear(tu_cpu(), dtype, 3, 20, true, rng);
            tg_module *l2 = tg_linear(tu_cpu(), dtype, 20, 2, true, rng);
            tg_module *net = tg_sequential(3, (tg_module *[]){l1, tg_relu_layer(), l2});
            cr_assert_not_null(net, "%s", tg_last_error());
            tg_tensor *x = tg_tensor_new(tu_cpu(), dtype, 2, (int64_t[]){batch, 3});
            tg_tensor *g = tg_tensor_new(tu_cpu(), dtype, 2, (int64_t[]){batch, 2});
            tg_uniform_(x, rng, -2, 2);
            tg_uniform_(g, rng, -1, 1);
            tg_set_requires_grad(x, true);
            tg_tensor *ts[5] = {x, tg_module_param(l1, 0), tg_module_param(l1, 1),
                                tg_module_param(l2, 0), tg_module_param(l2, 1)};
            void *got[6], *want[6];
            for (int pass = 0; pass < 2; pass++) {
                tg_tape *tape = tg_tape_new();
                tg_tensor *y;
                if (pass == 0) {
                    y = tg_module_forward(net, tape, x);
                } else {
                    tg_tensor *h = tg_relu(tape, tg_addmm(tape, ts[2], x, ts[1], false, true));
                    y = tg_addmm(tape, ts[4], h, ts[3], false, true);
                }
                cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, g))), TG_OK, "%s",
                             tg_last_error());
                void **out = pass ? want : got;
                out[5] = host_bytes(y);
                for (int i = 0; i < 5; i++) out[i] = host_bytes(tg_grad_of(ts[i]));
                cr_assert_eq(tg_zero_grad(5, ts), TG_OK, "%s", tg_last_error());
                tg_tape_free(tape);
            }
            for (int i = 0; i < 6; i++) {
                int64_t n = tg_numel(i == 5 ? g : ts[i]);
                cr_expect(memcmp(got[i], want[i], (size_t)n * es) == 0,
                          "%s batch %lld: %s differs", dt ? "f64" : "f32", (long long)batch,
                          i == 5 ? "the output" : "a gradient");
                free(got[i]), free(want[i]);
            }
            tu_free(x), tu_free(g);
            tg_module_free(net);
            tg_rng_free(rng);
        }
}

// PyTorch's default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a = sqrt(5)).
Test(linear, default_init_bound) {
    tg_rng *rng = tg_rng_new(3);
    tg_module *m = tg_linear(tu_cpu(), TG_F64, 50, 400, true, rng);
    cr_assert_not_null(m, "%s", tg_last_error());
    double bound = 1.0 / sqrt(50.0), mean, std, mx;
    nnu_moments(tg_module_param(m, 0), &mean, &std, &mx);
    cr_expect(mx <= bound && mx > 0.99 * bound, "max |w| %g, bound %g", mx, bound);
    cr_expect(fabs(std / (bound / sqrt(3.0)) - 1) < 0.03, "std %g, want %g", std,
              bound / sqrt(3.0));
    cr_expect(fabs(mean) < 0.01 * bound * 10, "mean %g", mean);
    nnu_moments(tg_module_param(m, 1), &mean, &std, &mx);
    cr_expect(mx <= bound && mx > 0.9 * bound, "max |b| %g, bound %g", mx, bound);
    tg_module_free(m);
    tg_rng_free(rng);
}

Test(linear, errors) {
    tg_rng *rng = tg_rng_new(1);
    cr_expect_null(tg_linear(tu_cpu(), TG_F64, 3, 4, true, NULL));
    tu_expect_error("tg_linear", "NULL");
    tg_clear_error();
    cr_expect_null(tg_linear(tu_cpu(), TG_F64, 0, 4, true, rng));
    tu_expect_error("tg_linear", "in > 0");
    tg_clear_error();
    cr_expect_null(tg_linear(tu_cpu(), TG_F64, 3, -1, true, rng));
    tu_expect_error("tg_linear", "out > 0");
    tg_clear_error();

    tg_module *m = tg_linear(tu_cpu(), TG_F64, 2, 5, true, rng);
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){4, 3});
    tg_tensor *s = tg_scalar(tu_cpu(), TG_F64, 1.0);
    tg_tape *tape = tg_tape_new();
    tu_expect_fail(tg_module_forward(m, tape, x), TG_ERR_SHAPE, "Linear(in=2, out=5)", "[4,3]",
                   "2 features");
    tg_clear_error();
    tu_expect_fail(tg_module_forward(m, tape, s), TG_ERR_SHAPE, "Linear(in=2, out=5)", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_module_forward(NULL, tape, x), TG_ERR_INVALID_ARG, "tg_module_forward", NULL,
                   NULL);
    tg_tape_free(tape);
    tu_free(x), tu_free(s);
    tg_module_free(m);
    tg_rng_free(rng);
}

// Issue 11: an op failing inside a layer (here tg_addmm on a NULL tape) used to name the op
// only; inside a Sequential the message now names the container and the child that failed
// (there the Linear and the ReLU after it run as one tg_addmm_relu).
Test(linear, op_errors_name_the_layer) {
    tg_clear_error();
    tg_rng *rng = tg_rng_new(1);
    tg_module *lin = tg_linear(tu_cpu(), TG_F64, 3, 2, true, rng);
    tg_module *net = tg_sequential(2, (tg_module *[]){lin, tg_relu_layer()});
    cr_assert_not_null(net, "%s", tg_last_error());
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){4, 3});
    const char *want[2] = {"Linear(in=3, out=2): tg_addmm: ",
                           "Sequential: Linear(in=3, out=2): tg_addmm_relu: "};
    for (int k = 0; k < 2; k++) {
        cr_expect_null(tg_module_forward(k ? net : lin, NULL, x));
        cr_expect(strncmp(tg_last_error(), want[k], strlen(want[k])) == 0, "%s",
                  tg_last_error());
        tg_clear_error();
    }
    tu_free(x);
    tg_module_free(net);
    tg_rng_free(rng);
}

// ---- activations and Flatten ----

static tg_module *activation(int k) {
    switch (k) {
        case 0: return tg_relu_layer();
        case 1: return tg_tanh_layer();
        case 2: return tg_sigmoid_layer();
        case 3: return tg_gelu_layer();
        case 4: return tg_leaky_relu_layer(0.1);
        case 5: return tg_elu_layer(1.5);
        default: return tg_softplus_layer();
    }
}

static double activation_ref(int k, double x) {
    switch (k) {
        case 0: return x > 0 ? x : 0;
        case 1: return tanh(x);
        case 2: return 1 / (1 + exp(-x));
        case 3: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
        case 4: return x > 0 ? x : 0.1 * x;
        case 5: return x > 0 ? x : 1.5 * (exp(x) - 1);
        default: return log1p(exp(x));
    }
}

Test(modules, activation_layers) {
    const char *names[7] = {"ReLU",           "Tanh",     "Sigmoid", "GELU",
                            "LeakyReLU(0.1)", "ELU(1.5)", "Softplus"};
    const double xv[6] = {-2.5, -1.0, -0.25, 0.3, 1.0, 3.0};
    tg_tensor *x = tu_f64(2, (int64_t[]){2, 3}, xv, false);
    tg_tape *tape = tg_tape_new();
    for (int k = 0; k < 7; k++) {
        tg_module *m = activation(k);
        cr_assert_not_null(m, "%s", tg_last_error());
        cr_expect_str_eq(tg_module_name(m), names[k]);
        cr_expect_eq(tg_module_n_params(m), 0);
        cr_expect_eq(tg_module_n_buffers(m), 0);
        cr_expect_eq(tg_module_param_count(m), 0);
        double want[6];
        for (int i = 0; i < 6; i++) want[i] = activation_ref(k, xv[i]);
        tg_tensor *y = tg_module_forward(m, tape, x);
        tu_expect_shape(y, 2, (int64_t[]){2, 3});
        tu_expect_values(y, want, 6, 1e-14);
        tg_module_free(m);
    }
    tg_tape_free(tape);
    tu_free(x);
}

Test(modules, flatten) {
    tg_module *f = tg_flatten_layer();
    cr_assert_not_null(f, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(f), "Flatten");
    nnu_expect_forward_shape(f, 4, (int64_t[]){2, 3, 4, 5}, 2, (int64_t[]){2, 60});
    nnu_expect_forward_shape(f, 3, (int64_t[]){7, 1, 9}, 2, (int64_t[]){7, 9});
    nnu_expect_forward_shape(f, 2, (int64_t[]){2, 3}, 2, (int64_t[]){2, 3});
    tg_module_free(f);
}

// ---- Dropout ----

Test(dropout, train_zeroes_about_p_and_scales_the_rest) {
    const int64_t n = 200000;
    const double p = 0.3;
    tg_rng *rng = tg_rng_new(11);
    tg_module *d = tg_dropout_layer(p, rng);
    cr_assert_not_null(d, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(d), "Dropout(p=0.3)");
    cr_expect_eq(tg_module_n_params(d), 0);
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F64, 1, &n);
    tg_fill_(x, 1.0);
    tg_set_requires_grad(x, true);
    tg_tape *tape = tg_tape_new();
    tg_tensor *y = tg_module_forward(d, tape, x);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, y)), TG_OK, "%s", tg_last_error());
    double *v = nnu_host(y), *dx = nnu_host(tg_grad_of(x));
    int64_t zeros = 0, other = 0;
    for (int64_t i = 0; i < n; i++) {
        if (v[i] == 0)
            zeros++;
        else if (v[i] != 1.0 / (1.0 - p))
            other++;
        if (dx[i] != v[i]) other++;  // dx = mask / (1 - p) = y for x = 1
    }
    double frac = (double)zeros / (double)n;  // std of frac: sqrt(.21 / n) ~ 0.001
    cr_expect(fabs(frac - p) < 0.005, "zeroed fraction %g, p %g", frac, p);
    cr_expect_eq(other, 0, "%lld values neither 0 nor 1/(1-p) (or gradient differs)",
                 (long long)other);
    free(v), free(dx);

    tg_tape_reset(tape);
    tg_module_train(d, false);  // eval: identity
    tg_tensor *ye = tg_module_forward(d, tape, x);
    cr_assert_not_null(ye, "%s", tg_last_error());
    double *ve = nnu_host(ye);
    int64_t changed = 0;
    for (int64_t i = 0; i < n; i++) changed += ve[i] != 1.0;
    cr_expect_eq(changed, 0, "eval mode changed %lld values", (long long)changed);
    free(ve);
    tg_tape_free(tape);
    tu_free(x);
    tg_module_free(d);
    tg_rng_free(rng);
}

// Dropout output on ones [1000] with a fresh rng of `seed` (malloc'd).
static double *dropout_once(uint64_t seed, double p) {
    tg_rng *rng = tg_rng_new(seed);
    tg_module *d = tg_dropout_layer(p, rng);
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){1000});
    tg_fill_(x, 1.0);
    tg_tape *tape = tg_tape_new();
    double *v = nnu_host(tg_module_forward(d, tape, x));
    tg_tape_free(tape);
    tu_free(x);
    tg_module_free(d);
    tg_rng_free(rng);
    return v;
}

Test(dropout, same_seed_same_mask) {
    double *a = dropout_once(5, 0.5), *b = dropout_once(5, 0.5), *c = dropout_once(6, 0.5);
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < 1000; i++) same_ab += a[i] == b[i], same_ac += a[i] == c[i];
    cr_expect_eq(same_ab, 1000, "same seed: masks differ in %d places", 1000 - same_ab);
    cr_expect_lt(same_ac, 900, "different seeds gave nearly the same mask");
    free(a), free(b), free(c);
}

Test(dropout, p_zero_and_one) {
    double *keep = dropout_once(1, 0.0), *drop = dropout_once(1, 1.0);
    for (int i = 0; i < 1000; i++) {
        cr_expect_eq(keep[i], 1.0, "p = 0 changed element %d", i);
        cr_expect_eq(drop[i], 0.0, "p = 1 kept element %d", i);
    }
    free(keep), free(drop);
}

Test(dropout, errors) {
    tg_rng *rng = tg_rng_new(1);
    const double bad[3] = {-0.1, 1.5, NAN};
    for (int k = 0; k < 3; k++) {
        cr_expect_null(tg_dropout_layer(bad[k], rng));
        tu_expect_error("tg_dropout_layer", "0 <= p <= 1");
        tg_clear_error();
    }
    cr_expect_null(tg_dropout_layer(0.5, NULL));
    tu_expect_error("tg_dropout_layer", "rng");
    tg_rng_free(rng);
}

// ---- Sequential: names, counts, nesting ----

Test(modules, sequential_state_dict_names) {
    tg_rng *rng = tg_rng_new(4);
    tg_module *net = tg_sequential(
        4, (tg_module *[]){tg_linear(tu_cpu(), TG_F64, 2, 3, true, rng), tg_relu_layer(),
                           tg_batchnorm1d(tu_cpu(), TG_F64, 3, 0.1, 1e-5),
                           tg_linear(tu_cpu(), TG_F64, 3, 1, true, rng)});
    cr_assert_not_null(net, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(net), "Sequential");
    cr_assert_eq(tg_module_n_params(net), 6);
    nnu_expect_param(net, 0, "0.weight", 2, (int64_t[]){3, 2});
    nnu_expect_param(net, 1, "0.bias", 1, (int64_t[]){3});
    nnu_expect_param(net, 2, "2.weight", 1, (int64_t[]){3});
    nnu_expect_param(net, 3, "2.bias", 1, (int64_t[]){3});
    nnu_expect_param(net, 4, "3.weight", 2, (int64_t[]){1, 3});
    nnu_expect_param(net, 5, "3.bias", 1, (int64_t[]){1});
    cr_assert_eq(tg_module_n_buffers(net), 2);
    cr_expect_str_eq(tg_module_buffer_name(net, 0), "2.running_mean");
    cr_expect_str_eq(tg_module_buffer_name(net, 1), "2.running_var");
    tu_expect_shape(tg_module_buffer(net, 1), 1, (int64_t[]){3});
    cr_expect_null(tg_module_buffer(net, 2));
    cr_expect_eq(tg_module_param_count(net), 6 + 3 + 3 + 3 + 3 + 1);

    // tg_module_params: fills up to cap, returns the full count
    tg_tensor *out[3] = {NULL, NULL, (tg_tensor *)&out};
    cr_expect_eq(tg_module_params(net, out, 2), 6);
    cr_expect_eq(out[0], tg_module_param(net, 0));
    cr_expect_eq(out[1], tg_module_param(net, 1));
    cr_expect_eq(out[2], (tg_tensor *)&out, "wrote past cap");
    cr_expect_eq(tg_module_params(net, NULL, 0), 6);

    nnu_expect_forward_shape(net, 2, (int64_t[]){5, 2}, 2, (int64_t[]){5, 1});
    tg_module_free(net);
    tg_rng_free(rng);
}

Test(modules, nested_sequential_names) {
    tg_rng *rng = tg_rng_new(4);
    tg_module *a = tg_sequential(
        2, (tg_module *[]){tg_linear(tu_cpu(), TG_F64, 4, 8, true, rng), tg_relu_layer()});
    tg_module *b =
        tg_sequential(2, (tg_module *[]){tg_linear(tu_cpu(), TG_F64, 8, 8, false, rng),
                                         tg_batchnorm1d(tu_cpu(), TG_F64, 8, 0.1, 1e-5)});
    tg_module *net =
        tg_sequential(3, (tg_module *[]){a, b, tg_linear(tu_cpu(), TG_F64, 8, 2, true, rng)});
    cr_assert_not_null(net, "%s", tg_last_error());
    const char *want[7] = {"0.0.weight", "0.0.bias", "1.0.weight", "1.1.weight",
                           "1.1.bias",   "2.weight", "2.bias"};
    cr_assert_eq(tg_module_n_params(net), 7);
    for (int i = 0; i < 7; i++) cr_expect_str_eq(tg_module_param_name(net, i), want[i]);
    tu_expect_shape(tg_module_param(net, 2), 2, (int64_t[]){8, 8});
    cr_assert_eq(tg_module_n_buffers(net), 2);
    cr_expect_str_eq(tg_module_buffer_name(net, 0), "1.1.running_mean");
    cr_expect_str_eq(tg_module_buffer_name(net, 1), "1.1.running_var");
    cr_expect_eq(tg_module_param_count(net), (32 + 8) + 64 + (8 + 8) + (16 + 2));
    // children keep their own (unprefixed) view
    cr_expect_str_eq(tg_module_param_name(b, 0), "0.weight");
    cr_expect_eq(tg_module_param(b, 0), tg_module_param(net, 2));
    nnu_expect_forward_shape(net, 2, (int64_t[]){6, 4}, 2, (int64_t[]){6, 2});
    tg_module_free(net);
    tg_rng_free(rng);
}

Test(modules, sequential_errors_free_what_they_were_given) {
    tg_rng *rng = tg_rng_new(1);
    cr_expect_null(tg_sequential(0, NULL));
    tu_expect_error("tg_sequential", "n > 0");
    tg_clear_error();
    // a NULL entry (a failed constructor): the others are freed (ASan checks the leak)
    tg_module *parts[3] = {tg_linear(tu_cpu(), TG_F64, 2, 2, true, rng), NULL, tg_relu_layer()};
    cr_expect_null(tg_sequential(3, parts));
    tu_expect_error("tg_sequential", NULL);
    tg_rng_free(rng);
}

Test(modules, train_eval_recurses) {
    tg_rng *rng = tg_rng_new(1);
    tg_module *drop = tg_dropout_layer(0.5, rng);
    tg_module *bn = tg_batchnorm1d(tu_cpu(), TG_F64, 3, 0.1, 1e-5);
    tg_module *inner = tg_sequential(2, (tg_module *[]){drop, bn});
    tg_module *lin = tg_linear(tu_cpu(), TG_F64, 3, 2, true, rng);
    tg_module *net = tg_sequential(2, (tg_module *[]){inner, lin});
    cr_assert_not_null(net, "%s", tg_last_error());
    tg_module *all[5] = {net, inner, drop, bn, lin};
    for (int i = 0; i < 5; i++) cr_expect(tg_module_is_training(all[i]), "module %d", i);
    tg_module_train(net, false);
    for (int i = 0; i < 5; i++) cr_expect(!tg_module_is_training(all[i]), "module %d", i);
    // eval: dropout is the identity and the running statistics stay put
    tg_tensor *x = tu_rand64(rng, 2, (int64_t[]){8, 3}, -1, 1, false);
    tg_tape *tape = tg_tape_new();
    double *y1 = nnu_host(tg_module_forward(net, tape, x)),
           *y2 = nnu_host(tg_module_forward(net, tape, x));
    for (int i = 0; i < 16; i++) cr_expect_eq(y1[i], y2[i], "eval output %d differs", i);
    tu_expect_values(tg_module_buffer(net, 0), (double[]){0, 0, 0}, 3, 0);
    free(y1), free(y2);
    tg_module_train(inner, true);  // a subtree alone
    cr_expect(!tg_module_is_training(net) && tg_module_is_training(drop) &&
              !tg_module_is_training(lin));
    tg_module_train(NULL, true);  // no-op
    cr_expect(!tg_module_is_training(NULL));
    cr_expect_str_eq(tg_module_name(NULL), "(null)");
    tg_tape_free(tape);
    tu_free(x);
    tg_module_free(net);
    tg_rng_free(rng);
}

// ---- tg_module_to ----

Test(modules, to_cpu_keeps_values_and_requires_grad) {
    tg_rng *rng = tg_rng_new(8);
    tg_module *net =
        tg_sequential(2, (tg_module *[]){tg_linear(tu_cpu(), TG_F64, 3, 4, true, rng),
                                         tg_batchnorm1d(tu_cpu(), TG_F64, 4, 0.1, 1e-5)});
    cr_assert_not_null(net, "%s", tg_last_error());
    tg_tensor *x = tu_rand64(rng, 2, (int64_t[]){6, 3}, -1, 1, false);
    tg_tape *tape = tg_tape_new();
    cr_assert_not_null(tg_module_forward(net, tape, x), "%s", tg_last_error());  // moves stats
    // recorded tensors are pinned by the tape: moving fails cleanly until it is reset
    cr_expect_neq(tg_module_to(net, tu_cpu()), TG_OK);
    tu_expect_error(NULL, NULL);
    tg_clear_error();
    tg_tape_reset(tape);
    tg_module_train(net, false);
    double *before = nnu_host(tg_module_forward(net, tape, x));
    tg_tape_reset(tape);
    double *p[4], *bf[2];
    tg_tensor *old = tg_module_param(net, 0);
    for (int i = 0; i < 4; i++) p[i] = nnu_host(tg_module_param(net, i));
    for (int i = 0; i < 2; i++) bf[i] = nnu_host(tg_module_buffer(net, i));

    cr_assert_eq(tg_module_to(net, tu_cpu()), TG_OK, "%s", tg_last_error());
    cr_assert_eq(tg_module_n_params(net), 4);
    cr_assert_eq(tg_module_n_buffers(net), 2);
    cr_expect_neq(tg_module_param(net, 0), old, "tg_module_to makes new tensors");
    cr_expect_str_eq(tg_module_param_name(net, 2), "1.weight");
    cr_expect_str_eq(tg_module_buffer_name(net, 1), "1.running_var");
    for (int i = 0; i < 4; i++) {
        tg_tensor *t = tg_module_param(net, i);
        cr_expect(tg_requires_grad(t), "param %d lost requires_grad", i);
        cr_expect_eq(tg_backend_of(t), tu_cpu());
        tu_expect_values(t, p[i], tg_numel(t), 0);
        free(p[i]);
    }
    for (int i = 0; i < 2; i++) {
        cr_expect(!tg_requires_grad(tg_module_buffer(net, i)));
        tu_expect_values(tg_module_buffer(net, i), bf[i], 4, 0);
        free(bf[i]);
    }
    tu_expect_values(tg_module_forward(net, tape, x), before, 24, 0);
    free(before);
    cr_expect_eq(tg_module_to(NULL, tu_cpu()), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_module_to", NULL);
    tg_clear_error();
    cr_expect_eq(tg_module_to(net, NULL), TG_ERR_INVALID_ARG);
    tg_tape_free(tape);
    tu_free(x);
    tg_module_free(net);
    tg_rng_free(rng);
}

// ---- summary ----

// Runs tg_module_summary into memory; returns the text (malloc'd) and the status.
static char *summary_text(tg_module *m, int ndim, const int64_t *shape, int *status) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    *status = tg_module_summary(m, ndim, shape, TG_F64, f);
    fclose(f);
    return buf;
}

// Some line of `text` contains all of name, shape and params.
static void expect_row(const char *text, const char *name, const char *shape, const char *params) {
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char row[256];
        snprintf(row, sizeof row, "%.*s", (int)n, line);
        const char *at = strstr(row, name);
        if (at && strstr(at + strlen(name), shape) && strstr(row, params)) return;
        line = end ? end + 1 : NULL;
    }
    cr_expect(false, "no row '%s  %s  %s' in:\n%s", name, shape, params, text);
}

Test(summary, mlp_table) {
    tg_rng *rng = tg_rng_new(1);
    tg_module *net = tg_sequential(
        5, (tg_module *[]){tg_linear(tu_cpu(), TG_F64, 2, 20, true, rng), tg_relu_layer(),
                           tg_linear(tu_cpu(), TG_F64, 20, 20, true, rng), tg_tanh_layer(),
                           tg_linear(tu_cpu(), TG_F64, 20, 2, true, rng)});
    cr_assert_not_null(net, "%s", tg_last_error());
    int st;
    char *text = summary_text(net, 2, (int64_t[]){1, 2}, &st);
    cr_expect_eq(st, TG_OK, "%s", tg_last_error());
    cr_expect(strstr(text, "Layer") && strstr(text, "Output Shape") && strstr(text, "Param #"),
              "no header in:\n%s", text);
    expect_row(text, "Linear(in=2, out=20)", "[1, 20]", "60");
    expect_row(text, "ReLU", "[1, 20]", "0");
    expect_row(text, "Linear(in=20, out=20)", "[1, 20]", "420");
    expect_row(text, "Tanh", "[1, 20]", "0");
    expect_row(text, "Linear(in=20, out=2)", "[1, 2]", "42");
    cr_expect(strstr(text, "Total params: 522\n") != NULL, "no total in:\n%s", text);
    cr_expect_eq(tg_module_param_count(net), 522);
    cr_expect(tg_module_is_training(net), "summary must restore training mode");
    free(text);
    tg_module_free(net);
    tg_rng_free(rng);
}

// A write that fails (a full disk: /dev/full) is TG_ERR_IO, and the mode is restored.
Test(summary, write_errors_are_reported) {
    tg_rng *rng = tg_rng_new(1);
    tg_module *net = tg_sequential(
        2, (tg_module *[]){tg_linear(tu_cpu(), TG_F64, 2, 3, true, rng), tg_relu_layer()});
    cr_assert_not_null(net, "%s", tg_last_error());
    FILE *f = fopen("/dev/full", "w");
    cr_assert_not_null(f);
    cr_expect_eq(tg_module_summary(net, 2, (int64_t[]){1, 2}, TG_F64, f), TG_ERR_IO);
    tu_expect_error("tg_module_summary", "write error");
    cr_expect(tg_module_is_training(net));
    fclose(f);
    tg_module_free(net);
    tg_rng_free(rng);
}

Test(summary, cnn_table_leaves_running_stats) {
    tg_rng *rng = tg_rng_new(1);
    tg_conv_opts same = {.padding = {1, 1}};
    tg_module *net = tg_sequential(
        7, (tg_module *[]){tg_conv2d_layer(tu_cpu(), TG_F64, 1, 4, 3, 3, &same, true, rng),
                           tg_batchnorm2d(tu_cpu(), TG_F64, 4, 0.1, 1e-5), tg_relu_layer(),
                           tg_maxpool2d_layer(2, 2, NULL), tg_flatten_layer(),
                           tg_dropout_layer(0.5, rng),
                           tg_linear(tu_cpu(), TG_F64, 64, 10, true, rng)});
    cr_assert_not_null(net, "%s", tg_last_error());
    int st;
    char *text = summary_text(net, 4, (int64_t[]){1, 1, 8, 8}, &st);
    cr_expect_eq(st, TG_OK, "%s", tg_last_error());
    expect_row(text, "Conv2d(1, 4, 3x3)", "[1, 4, 8, 8]", "40");
    expect_row(text, "BatchNorm2d(4)", "[1, 4, 8, 8]", "8");
    expect_row(text, "ReLU", "[1, 4, 8, 8]", "0");
    expect_row(text, "MaxPool2d(2x2)", "[1, 4, 4, 4]", "0");
    expect_row(text, "Flatten", "[1, 64]", "0");
    expect_row(text, "Dropout(p=0.5)", "[1, 64]", "0");
    expect_row(text, "Linear(in=64, out=10)", "[1, 10]", "650");
    cr_expect(strstr(text, "Total params: 698\n") != NULL, "no total in:\n%s", text);
    tu_expect_values(tg_module_buffer(net, 0), (double[]){0, 0, 0, 0}, 4, 0);
    tu_expect_values(tg_module_buffer(net, 1), (double[]){1, 1, 1, 1}, 4, 0);
    cr_expect(tg_module_is_training(net));
    free(text);
    tg_module_free(net);
    tg_rng_free(rng);
}

Test(summary, single_layer_and_errors) {
    tg_rng *rng = tg_rng_new(1);
    tg_module *lin = tg_linear(tu_cpu(), TG_F64, 3, 4, true, rng);
    int st;
    char *text = summary_text(lin, 2, (int64_t[]){2, 3}, &st);
    cr_expect_eq(st, TG_OK, "%s", tg_last_error());
    expect_row(text, "Linear(in=3, out=4)", "[2, 4]", "16");
    cr_expect(strstr(text, "Total params: 16\n") != NULL, "no total in:\n%s", text);
    free(text);

    tg_module *net = tg_sequential(2, (tg_module *[]){lin, tg_relu_layer()});
    text = summary_text(net, 2, (int64_t[]){2, 5}, &st);  // wrong input width
    cr_expect_eq(st, TG_ERR_SHAPE);
    tu_expect_error("Linear(in=3, out=4)", NULL);
    cr_expect(tg_module_is_training(net));
    free(text);
    tg_clear_error();
    cr_expect_eq(tg_module_summary(NULL, 2, (int64_t[]){2, 3}, TG_F64, stdout), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_module_summary", NULL);
    tg_clear_error();
    cr_expect_eq(tg_module_summary(net, 2, (int64_t[]){2, 3}, TG_F64, NULL), TG_ERR_INVALID_ARG);
    tg_module_free(net);
    tg_rng_free(rng);
}

// ---- ownership (issue 11) ----

Test(modules, a_module_is_a_child_once) {
    tg_clear_error();
    tg_rng *rng = tg_rng_new(1);
    tg_module *lin = tg_linear(tu_cpu(), TG_F32, 2, 2, true, rng);
    // twice in one container: refused (it used to be freed twice), and consumed once
    cr_expect_null(tg_sequential(2, (tg_module *[]){lin, lin}));
    tu_expect_error("tg_sequential", "module 1 (");
    tg_clear_error();
    // in two containers: refused, the first container keeps it
    tg_module *a = tg_linear(tu_cpu(), TG_F32, 2, 2, true, rng);
    tg_module *first = tg_sequential(1, (tg_module *[]){a});
    cr_assert_not_null(first);
    cr_expect_null(tg_sequential(1, (tg_module *[]){a}));
    tu_expect_error("tg_sequential", "already belongs to another container");
    tg_clear_error();
    cr_expect_eq(tg_module_free(a), TG_ERR_STATE, "a child is freed by its container");
    tg_clear_error();
    cr_expect_eq(tg_module_free(first), TG_OK);
    tg_rng_free(rng);
}

Test(modules, freeing_a_module_a_live_tape_records_changes_nothing) {
    tg_clear_error();
    tg_rng *rng = tg_rng_new(1);
    tg_module *net = tg_sequential(2, (tg_module *[]){tg_linear(tu_cpu(), TG_F32, 2, 3, true, rng),
                                                      tg_linear(tu_cpu(), TG_F32, 3, 1, true, rng)});
    cr_assert_not_null(net);
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){4, 2});
    tg_tensor *y = tg_module_forward(net, tape, x);
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_module_free(net), TG_ERR_STATE);
    tu_expect_error("nothing was freed", NULL);
    tg_clear_error();
    // intact: it still runs, and frees once the tape is reset
    cr_expect_not_null(tg_module_forward(net, tape, x), "%s", tg_last_error());
    tg_tape_reset(tape);
    cr_expect_eq(tg_module_free(net), TG_OK, "%s", tg_last_error());
    // tg_free_many: all or nothing
    tg_tensor *p = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){2});
    cr_assert_not_null(tg_detach(tape, x));   // a view: the tape holds x
    cr_expect_eq(tg_free_many(2, (tg_tensor *[]){p, x}), TG_ERR_STATE);
    tu_expect_error("tg_free_many", "tensor 1 [4,2]");
    tg_clear_error();
    cr_expect_eq(tg_numel(p), 2, "p was not freed");
    tg_tape_free(tape);
    cr_expect_eq(tg_free_many(3, (tg_tensor *[]){p, x, p}), TG_OK);
    tg_rng_free(rng);
}

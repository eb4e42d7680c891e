// Misuse scenarios of nn.h: modules, layer constructors, initialisation and penalties.
#include <stdio.h>

#include "misuse.h"

static tg_module *linear(int64_t in, int64_t out) {
    tg_module *m = tg_linear(mu.be, TG_F32, in, out, true, mu.rng);
    cr_assert_not_null(m, "%s", tg_last_error());
    return m;
}

Test(misuse, module_use) {
    tg_module *m = linear(3, 2);   // x [2,3] -> [2,2]
    tg_tape *tp = mu.tape;
    mu_null("tg_module_forward", tg_module_forward(NULL, tp, mu.a), "NULL module");
    mu_null_or("tg_module_forward", tg_module_name(m), tg_module_forward(m, NULL, mu.a),
               "NULL tape");
    mu_null_or("tg_module_forward", tg_module_name(m), tg_module_forward(m, tp, NULL), "NULL x");
    // errors are documented to name the layer ("Linear(in=3, out=2): ...")
    const char *me = tg_module_name(m);
    mu_null_or("tg_module_forward", me, tg_module_forward(m, tp, mu.m), "x [3,2] into Linear");
    mu_null_or("tg_module_forward", me, tg_module_forward(m, tp, mu.d), "f64 x, f32 layer");
    mu_null_or("tg_module_forward", me, tg_module_forward(m, tp, mu.stale), "stale x");
    tg_module_train(NULL, true);
    mu_err("tg_module_train", true, "NULL module");
    mu_err("tg_module_is_training", !tg_module_is_training(NULL), "NULL module");
    mu_err("tg_module_name", tg_module_name(NULL) != NULL, "NULL module (a printable name)");
    mu_err("tg_module_n_params", tg_module_n_params(NULL) <= 0, "NULL module");
    mu_err("tg_module_n_buffers", tg_module_n_buffers(NULL) <= 0, "NULL module");
    mu_null("tg_module_param", tg_module_param(NULL, 0), "NULL module");
    mu_null("tg_module_param", tg_module_param(m, -1), "index -1");
    mu_null("tg_module_param", tg_module_param(m, 2), "index 2 of 2");
    mu_null("tg_module_param_name", tg_module_param_name(NULL, 0), "NULL module");
    mu_null("tg_module_param_name", tg_module_param_name(m, 5), "index 5 of 2");
    mu_null("tg_module_buffer", tg_module_buffer(NULL, 0), "NULL module");
    mu_null("tg_module_buffer", tg_module_buffer(m, 0), "index 0 of 0");
    mu_null("tg_module_buffer_name", tg_module_buffer_name(NULL, 0), "NULL module");
    mu_null("tg_module_buffer_name", tg_module_buffer_name(m, -1), "index -1");
    tg_tensor *out[4];
    mu_err("tg_module_params", tg_module_params(NULL, out, 4) < 0, "NULL module");
    mu_err("tg_module_param_count", tg_module_param_count(NULL) < 0, "NULL module");
    mu_fail("tg_module_to", tg_module_to(NULL, mu.be), "NULL module");
    mu_fail("tg_module_to", tg_module_to(m, NULL), "NULL backend");
    FILE *devnull = fopen("/dev/null", "w");
    const int64_t in[2] = {2, 3};
    mu_fail("tg_module_summary", tg_module_summary(NULL, 2, in, TG_F32, devnull), "NULL module");
    mu_fail("tg_module_summary", tg_module_summary(m, -1, in, TG_F32, devnull), "ndim -1");
    mu_fail("tg_module_summary", tg_module_summary(m, 2, NULL, TG_F32, devnull), "NULL shape");
    mu_fail("tg_module_summary", tg_module_summary(m, 2, (int64_t[]){2, 5}, TG_F32, devnull),
            "input [2,5] into Linear(3, 2)");
    mu_fail("tg_module_summary", tg_module_summary(m, 2, (int64_t[]){(int64_t)1 << 61, 3},
                                                   TG_F32, devnull), "[2^61, 3]");
    mu_fail("tg_module_summary", tg_module_summary(m, 2, in, (tg_dtype)7, devnull), "dtype 7");
    fclose(devnull);
    mu_quiet("tg_module_free", tg_module_free(NULL) == TG_OK, "NULL is a no-op");
    cr_assert_not_null(tg_module_forward(m, tp, mu.a), "%s", tg_last_error());
    int st = tg_module_free(m);
    mu_fail("tg_module_free", st, "recorded by a live tape");
    tg_tape_reset(tp);
    if (st < 0) tg_module_free(m);
}

Test(misuse, sequential) {
    tg_module *l1 = linear(3, 2), *l2 = linear(2, 2);
    tg_module *holes[2] = {l1, NULL};
    mu_null("tg_sequential", tg_sequential(-1, holes), "n -1");
    mu_null("tg_sequential", tg_sequential(2, NULL), "NULL list");
    mu_null("tg_sequential", tg_sequential(2, holes), "NULL entry (takes l1 over)");
    mu_null("tg_sequential", tg_sequential(2, (tg_module *[]){l2, l2}), "l2 twice");
    tg_module *seq = tg_sequential(1, (tg_module *[]){linear(2, 2)});
    cr_assert_not_null(seq, "%s", tg_last_error());
    tg_module *child = linear(2, 2);
    tg_module *seq2 = tg_sequential(1, (tg_module *[]){child});
    cr_assert_not_null(seq2, "%s", tg_last_error());
    mu_fail("tg_module_free", tg_module_free(child), "a container's child");
    mu_null("tg_sequential", tg_sequential(1, (tg_module *[]){child}),
            "a child of another container");
    tg_module_free(seq);
    tg_module_free(seq2);
}

// (a NULL backend means the default one, as for tg_tensor_new)
Test(misuse, layer_constructors) {
    tg_backend *be = mu.be;
    tg_rng *r = mu.rng;
    const int64_t big = (int64_t)1 << 40;
    mu_null("tg_linear", tg_linear(be, (tg_dtype)3, 2, 3, true, r), "dtype 3");
    mu_null("tg_linear", tg_linear(be, TG_F32, -2, 3, true, r), "in -2");
    mu_null("tg_linear", tg_linear(be, TG_F32, 2, 0, true, r), "out 0");
    mu_null("tg_linear", tg_linear(be, TG_F32, big, big, true, r), "2^40 x 2^40 weights");
    mu_null("tg_linear", tg_linear(be, TG_F32, 2, 3, true, NULL), "NULL rng");
    mu_quiet("tg_relu_layer", tg_module_free(tg_relu_layer()) == TG_OK, "no input");
    mu_quiet("tg_tanh_layer", tg_module_free(tg_tanh_layer()) == TG_OK, "no input");
    mu_quiet("tg_sigmoid_layer", tg_module_free(tg_sigmoid_layer()) == TG_OK, "no input");
    mu_quiet("tg_gelu_layer", tg_module_free(tg_gelu_layer()) == TG_OK, "no input");
    mu_quiet("tg_softplus_layer", tg_module_free(tg_softplus_layer()) == TG_OK, "no input");
    mu_quiet("tg_flatten_layer", tg_module_free(tg_flatten_layer()) == TG_OK, "no input");
    mu_null("tg_leaky_relu_layer", tg_leaky_relu_layer(NAN), "slope NaN");
    mu_null("tg_elu_layer", tg_elu_layer(NAN), "alpha NaN");
    mu_null("tg_dropout_layer", tg_dropout_layer(NAN, r), "p NaN");
    mu_null("tg_dropout_layer", tg_dropout_layer(1.5, r), "p 1.5");
    mu_null("tg_dropout_layer", tg_dropout_layer(0.5, NULL), "NULL rng");
    const char *bn[2] = {"tg_batchnorm1d", "tg_batchnorm2d"};
    for (int k = 0; k < 2; k++) {
        tg_module *(*f)(tg_backend *, tg_dtype, int64_t, double, double) =
            k ? tg_batchnorm2d : tg_batchnorm1d;
        mu_null(bn[k], f(be, (tg_dtype)2, 4, 0.1, 1e-5), "dtype 2");
        mu_null(bn[k], f(be, TG_F32, 0, 0.1, 1e-5), "0 features");
        mu_null(bn[k], f(be, TG_F32, -4, 0.1, 1e-5), "-4 features");
        mu_null(bn[k], f(be, TG_F32, INT64_MAX, 0.1, 1e-5), "INT64_MAX features");
        mu_null(bn[k], f(be, TG_F32, 4, NAN, 1e-5), "momentum NaN");
        mu_null(bn[k], f(be, TG_F32, 4, 0.1, NAN), "eps NaN");
        mu_null(bn[k], f(be, TG_F32, 4, 0.1, -1), "eps -1");
    }
    mu_null("tg_layernorm", tg_layernorm(be, TG_F32, 0, 1e-5), "0 features");
    mu_null("tg_layernorm", tg_layernorm(be, TG_F32, (int64_t)1 << 61, 1e-5), "2^61 features");
    mu_null("tg_layernorm", tg_layernorm(be, TG_F32, 4, NAN), "eps NaN");
    mu_null("tg_layernorm", tg_layernorm(be, TG_F32, 4, -1e-5), "eps -1e-5");
    mu_null("tg_embedding", tg_embedding(be, TG_F32, -4, 2, r), "num -4");
    mu_null("tg_embedding", tg_embedding(be, TG_F32, 4, 0, r), "dim 0");
    mu_null("tg_embedding", tg_embedding(be, TG_F32, big, big, r), "2^40 x 2^40 table");
    mu_null("tg_embedding", tg_embedding(be, TG_F32, 4, 2, NULL), "NULL rng");
}

Test(misuse, conv_pool_layers) {
    tg_backend *be = mu.be;
    tg_rng *r = mu.rng;
    tg_conv_opts s0 = {.stride = {-1, 1}}, pneg = {.padding = {-1, 0}};
    const char *fn = "tg_conv2d_layer";
    mu_null(fn, tg_conv2d_layer(be, (tg_dtype)4, 1, 2, 3, 3, NULL, true, r), "dtype 4");
    mu_null(fn, tg_conv2d_layer(be, TG_F32, 0, 2, 3, 3, NULL, true, r), "0 in channels");
    mu_null(fn, tg_conv2d_layer(be, TG_F32, 1, -2, 3, 3, NULL, true, r), "-2 out channels");
    mu_null(fn, tg_conv2d_layer(be, TG_F32, 1, 2, 0, 3, NULL, true, r), "kh 0");
    mu_null(fn, tg_conv2d_layer(be, TG_F32, 1, 2, 3, -3, NULL, true, r), "kw -3");
    mu_null(fn, tg_conv2d_layer(be, TG_F32, 1, 2, 3, 3, &s0, true, r), "stride -1");
    mu_null(fn, tg_conv2d_layer(be, TG_F32, 1, 2, 3, 3, &pneg, true, r), "padding -1");
    mu_null(fn, tg_conv2d_layer(be, TG_F32, (int64_t)1 << 40, (int64_t)1 << 40, 3, 3, NULL,
                                true, r), "2^40 x 2^40 channels");
    mu_null(fn, tg_conv2d_layer(be, TG_F32, 1, 2, 3, 3, NULL, true, NULL), "NULL rng");
    const char *names[2] = {"tg_maxpool2d_layer", "tg_avgpool2d_layer"};
    for (int k = 0; k < 2; k++) {
        tg_module *(*f)(int, int, const tg_conv_opts *) =
            k ? tg_avgpool2d_layer : tg_maxpool2d_layer;
        mu_null(names[k], f(0, 2, NULL), "kh 0");
        mu_null(names[k], f(2, -1, NULL), "kw -1");
        mu_null(names[k], f(2, 2, &s0), "stride -1");
        mu_null(names[k], f(2, 2, &pneg), "padding -1");
    }
}

Test(misuse, init_and_penalties) {
    tg_tensor *w = mu.a, *v = mu.lab;   // [2,3] and the 1-D [2]
    const char *names[4] = {"tg_init_xavier_uniform", "tg_init_xavier_normal",
                            "tg_init_kaiming_uniform", "tg_init_kaiming_normal"};
    int (*fns[4])(tg_tensor *, double, tg_rng *) = {
        tg_init_xavier_uniform, tg_init_xavier_normal, tg_init_kaiming_uniform,
        tg_init_kaiming_normal};
    for (int k = 0; k < 4; k++) {
        mu_fail(names[k], fns[k](NULL, 1, mu.rng), "NULL w");
        mu_fail(names[k], fns[k](w, 1, NULL), "NULL rng");
        mu_fail(names[k], fns[k](w, NAN, mu.rng), "gain / a NaN");
        mu_fail(names[k], fns[k](v, 1, mu.rng), "1-D w (no fan in and out)");
        mu_fail(names[k], fns[k](mu.stale, 1, mu.rng), "stale w");
    }
    tg_tape *tp = mu.tape;
    tg_tensor *ps[2] = {mu.a, mu.b}, *mixed[2] = {mu.a, mu.d}, *holes[2] = {mu.a, NULL};
    tg_tensor *stale[2] = {mu.a, mu.stale};
    const char *pn[2] = {"tg_l2_penalty", "tg_l1_penalty"};
    for (int k = 0; k < 2; k++) {
        tg_tensor *(*f)(tg_tape *, int, tg_tensor *const *, double) =
            k ? tg_l1_penalty : tg_l2_penalty;
        mu_null(pn[k], f(NULL, 2, ps, 0.1), "NULL tape");
        mu_null(pn[k], f(tp, -1, ps, 0.1), "n -1");
        mu_null(pn[k], f(tp, 2, NULL, 0.1), "NULL list");
        mu_null(pn[k], f(tp, 2, holes, 0.1), "NULL entry");
        mu_null(pn[k], f(tp, 2, mixed, 0.1), "f32 with f64");
        mu_null(pn[k], f(tp, 2, ps, NAN), "lambda NaN");
        mu_null(pn[k], f(tp, 2, stale, 0.1), "stale entry");
    }
}

// Tests for nn/conv.c: Conv2d/MaxPool2d/AvgPool2d shapes, parameters and errors, Conv2d
// parity with torch 1.13 (tests/fixtures/nn_torch.txt, f64 to 1e-10), the Xavier/Kaiming
// initialisers (bounds and empirical std on large tensors) and the L1/L2 penalties.
#include <stdio.h>
#include <stdlib.h>

#include "nn/nn_util.h"
#include "test_util.h"

TestSuite(conv, .init = tg_clear_error);
TestSuite(init, .init = tg_clear_error);
TestSuite(penalty, .init = tg_clear_error);

// ---- Conv2d and pooling ----

Test(conv, conv2d_shapes_params_and_init) {
    tg_rng *rng = tg_rng_new(6);
    tg_conv_opts same = {.padding = {1, 1}}, half = {.stride = {2, 2}, .padding = {1, 1}};
    tg_module *c = tg_conv2d_layer(tu_cpu(), TG_F64, 3, 8, 3, 3, &same, true, rng);
    cr_assert_not_null(c, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(c), "Conv2d(3, 8, 3x3)");
    cr_assert_eq(tg_module_n_params(c), 2);
    nnu_expect_param(c, 0, "weight", 4, (int64_t[]){8, 3, 3, 3});
    nnu_expect_param(c, 1, "bias", 1, (int64_t[]){8});
    cr_expect_eq(tg_module_param_count(c), 8 * 27 + 8);
    nnu_expect_forward_shape(c, 4, (int64_t[]){2, 3, 8, 8}, 4, (int64_t[]){2, 8, 8, 8});
    double bound = 1 / sqrt(27.0), mean, std, mx;
    nnu_moments(tg_module_param(c, 0), &mean, &std, &mx);
    cr_expect(mx <= bound && mx > 0.95 * bound, "max |w| %g, bound %g", mx, bound);
    tg_module_free(c);

    c = tg_conv2d_layer(tu_cpu(), TG_F64, 3, 4, 3, 3, &half, false, rng);
    cr_assert_not_null(c, "%s", tg_last_error());
    cr_expect_eq(tg_module_n_params(c), 1);
    cr_expect_eq(tg_module_param_count(c), 4 * 27);
    nnu_expect_forward_shape(c, 4, (int64_t[]){2, 3, 8, 8}, 4, (int64_t[]){2, 4, 4, 4});
    tg_module_free(c);
    c = tg_conv2d_layer(tu_cpu(), TG_F64, 2, 5, 2, 3, NULL, true, rng);  // no opts, 2x3
    nnu_expect_forward_shape(c, 4, (int64_t[]){1, 2, 6, 7}, 4, (int64_t[]){1, 5, 5, 5});
    tg_module_free(c);
    tg_rng_free(rng);
}

// torch.nn.Conv2d with the fixture's weights (configs as in gen_nn.py).
static void conv_parity(const char *cs, int64_t cin, int64_t cout, int kh, int kw,
                        tg_conv_opts opts) {
    char k[8][48];
    const char *what[8] = {"weight", "bias", "x", "g", "y", "dx", "dweight", "dbias"};
    for (int i = 0; i < 8; i++) snprintf(k[i], sizeof k[i], "%s.%s", cs, what[i]);
    tg_rng *rng = tg_rng_new(1);
    tg_module *c = tg_conv2d_layer(tu_cpu(), TG_F64, cin, cout, kh, kw, &opts, true, rng);
    cr_assert_not_null(c, "%s", tg_last_error());
    nnfx_load_into(tg_module_param(c, 0), k[0]);
    nnfx_load_into(tg_module_param(c, 1), k[1]);
    tg_tensor *x = nnfx_tensor(k[2], true), *g = nnfx_tensor(k[3], false);
    tg_tape *tape = tg_tape_new();
    tg_tensor *y = tg_module_forward(c, tape, x);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, g))), TG_OK, "%s", tg_last_error());
    nnfx_expect(y, k[4]);
    nnfx_expect(tg_grad_of(x), k[5]);
    nnfx_expect(tg_grad_of(tg_module_param(c, 0)), k[6]);
    nnfx_expect(tg_grad_of(tg_module_param(c, 1)), k[7]);
    tg_tape_free(tape);
    tu_free(x), tu_free(g);
    tg_module_free(c);
    tg_rng_free(rng);
}

Test(conv, conv2d_matches_torch) {
    conv_parity("conv_a", 2, 3, 3, 3, (tg_conv_opts){{1, 1}, {0, 0}, {1, 1}});
    conv_parity("conv_b", 2, 4, 2, 3, (tg_conv_opts){{2, 1}, {1, 2}, {1, 2}});
}

Test(conv, pool_shapes_and_values) {
    tg_conv_opts s1 = {.stride = {1, 1}}, pad = {.stride = {2, 2}, .padding = {1, 1}};
    tg_module *mp = tg_maxpool2d_layer(2, 2, NULL), *ap = tg_avgpool2d_layer(2, 2, NULL);
    cr_assert(mp && ap, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_name(mp), "MaxPool2d(2x2)");
    cr_expect_str_eq(tg_module_name(ap), "AvgPool2d(2x2)");
    cr_expect_eq(tg_module_n_params(mp) + tg_module_n_params(ap), 0);
    nnu_expect_forward_shape(mp, 4, (int64_t[]){2, 3, 8, 8}, 4, (int64_t[]){2, 3, 4, 4});
    nnu_expect_forward_shape(ap, 4, (int64_t[]){2, 3, 9, 7}, 4, (int64_t[]){2, 3, 4, 3});
    tg_tensor *x = tu_f64(4, (int64_t[]){1, 1, 2, 4}, (double[]){1, 5, 2, 3, 4, 0, 8, 7}, false);
    tg_tape *tape = tg_tape_new();
    tu_expect_values(tg_module_forward(mp, tape, x), (double[]){5, 8}, 2, 0);
    tu_expect_values(tg_module_forward(ap, tape, x), (double[]){2.5, 5}, 2, 1e-15);
    tg_tape_free(tape);
    tu_free(x);
    tg_module_free(mp), tg_module_free(ap);

    mp = tg_maxpool2d_layer(2, 2, &s1);
    ap = tg_avgpool2d_layer(3, 3, &pad);
    nnu_expect_forward_shape(mp, 4, (int64_t[]){2, 3, 8, 8}, 4, (int64_t[]){2, 3, 7, 7});
    nnu_expect_forward_shape(ap, 4, (int64_t[]){2, 3, 8, 8}, 4, (int64_t[]){2, 3, 4, 4});
    tg_module_free(mp), tg_module_free(ap);
}

Test(conv, errors) {
    tg_rng *rng = tg_rng_new(1);
    cr_expect_null(tg_conv2d_layer(tu_cpu(), TG_F64, 0, 4, 3, 3, NULL, true, rng));
    tu_expect_error("tg_conv2d_layer", NULL);
    tg_clear_error();
    cr_expect_null(tg_conv2d_layer(tu_cpu(), TG_F64, 3, 0, 3, 3, NULL, true, rng));
    tu_expect_error("tg_conv2d_layer", NULL);
    tg_clear_error();
    cr_expect_null(tg_conv2d_layer(tu_cpu(), TG_F64, 3, 4, 0, 3, NULL, true, rng));
    tu_expect_error("tg_conv2d_layer", "kernel");
    tg_clear_error();
    cr_expect_null(tg_conv2d_layer(tu_cpu(), TG_F64, 3, 4, 3, 3, NULL, true, NULL));
    tu_expect_error("tg_conv2d_layer", "rng");
    tg_clear_error();
    cr_expect_null(tg_maxpool2d_layer(0, 2, NULL));
    tu_expect_error("tg_maxpool2d_layer", "0x2");
    tg_clear_error();
    cr_expect_null(tg_avgpool2d_layer(2, -1, NULL));
    tu_expect_error("tg_avgpool2d_layer", NULL);
    tg_clear_error();

    tg_module *c = tg_conv2d_layer(tu_cpu(), TG_F64, 3, 4, 3, 3, NULL, true, rng);
    tg_module *mp = tg_maxpool2d_layer(2, 2, NULL), *ap = tg_avgpool2d_layer(2, 2, NULL);
    tg_tensor *x2 = tg_tensor_new(tu_cpu(), TG_F64, 4, (int64_t[]){1, 2, 8, 8});
    tg_tensor *x3 = tg_tensor_new(tu_cpu(), TG_F64, 3, (int64_t[]){3, 8, 8});
    tg_tape *tape = tg_tape_new();
    tu_expect_fail(tg_module_forward(c, tape, x2), TG_ERR_SHAPE, "Conv2d(3, 4, 3x3)", "[1,2,8,8]",
                   "[N,3,H,W]");
    tg_clear_error();
    tu_expect_fail(tg_module_forward(c, tape, x3), TG_ERR_SHAPE, "Conv2d(3, 4, 3x3)", "[3,8,8]",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_module_forward(mp, tape, x3), TG_ERR_SHAPE, "MaxPool2d(2x2)", "[3,8,8]",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_module_forward(ap, tape, x3), TG_ERR_SHAPE, "AvgPool2d(2x2)", NULL, NULL);
    tg_clear_error();
    tg_tensor *tiny = tg_tensor_new(tu_cpu(), TG_F64, 4, (int64_t[]){1, 3, 2, 2});
    cr_expect_null(tg_module_forward(c, tape, tiny), "a 3x3 window does not fit 2x2");
    tu_expect_error(NULL, NULL);
    tg_tape_free(tape);
    tu_free(x2), tu_free(x3), tu_free(tiny);
    tg_module_free(c), tg_module_free(mp), tg_module_free(ap);
    tg_rng_free(rng);
}

// ---- initialisation ----

// w [rows, cols(, 3, 3)] filled by init k; checks the bound (uniform) or the std (normal).
static void check_init(int k, double arg, int ndim, const int64_t *shape, double fan_in,
                       double fan_out) {
    tg_tensor *w = tg_tensor_new(tu_cpu(), TG_F64, ndim, shape);
    tg_rng *rng = tg_rng_new(100 + (uint64_t)k);
    int st = k == 0   ? tg_init_xavier_uniform(w, arg, rng)
             : k == 1 ? tg_init_xavier_normal(w, arg, rng)
             : k == 2 ? tg_init_kaiming_uniform(w, arg, rng)
                      : tg_init_kaiming_normal(w, arg, rng);
    cr_assert_eq(st, TG_OK, "%s", tg_last_error());
    double want_std = k == 0   ? arg * sqrt(6.0 / (fan_in + fan_out)) / sqrt(3.0)
                      : k == 1 ? arg * sqrt(2.0 / (fan_in + fan_out))
                      : k == 2 ? sqrt(6.0 / ((1 + arg * arg) * fan_in)) / sqrt(3.0)
                               : sqrt(2.0 / ((1 + arg * arg) * fan_in));
    double mean, std, mx;
    nnu_moments(w, &mean, &std, &mx);
    double tol = tg_numel(w) >= 100000 ? 0.01 : 0.05;
    cr_expect(fabs(std / want_std - 1) < tol, "init %d: std %g, want %g", k, std, want_std);
    cr_expect(fabs(mean) < 5 * want_std / sqrt((double)tg_numel(w)), "init %d: mean %g", k, mean);
    if (k == 0 || k == 2) {
        double bound = want_std * sqrt(3.0);
        cr_expect(mx <= bound && mx > 0.99 * bound, "init %d: max %g, bound %g", k, mx, bound);
    }
    tu_free(w);
    tg_rng_free(rng);
}

Test(init, bounds_and_std_on_large_tensors) {
    const int64_t lin[2] = {400, 500};  // fan_in 500, fan_out 400
    check_init(0, 1.0, 2, lin, 500, 400);
    check_init(0, 2.0, 2, lin, 500, 400);
    check_init(1, 1.0, 2, lin, 500, 400);
    check_init(1, 0.5, 2, lin, 500, 400);
    check_init(2, 0.0, 2, lin, 500, 400);
    check_init(2, sqrt(5.0), 2, lin, 500, 400);  // torch's Linear default: bound 1/sqrt(in)
    check_init(3, 0.0, 2, lin, 500, 400);
    check_init(3, 0.2, 2, lin, 500, 400);
    const int64_t conv[4] = {64, 32, 3, 3};  // fan_in 32*9, fan_out 64*9 (receptive field)
    for (int k = 0; k < 4; k++) check_init(k, 1.0, 4, conv, 288, 576);
}

Test(init, seeded_and_errors) {
    tg_tensor *a = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){8, 8});
    tg_tensor *b = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){8, 8});
    tg_rng *r1 = tg_rng_new(9), *r2 = tg_rng_new(9);
    cr_assert_eq(tg_init_kaiming_normal(a, 0, r1), TG_OK);
    cr_assert_eq(tg_init_kaiming_normal(b, 0, r2), TG_OK);
    double *va = nnu_host(a);
    tu_expect_values(b, va, 64, 0);
    free(va);

    tg_tensor *v = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){10});
    const char *names[4] = {"tg_init_xavier_uniform", "tg_init_xavier_normal",
                            "tg_init_kaiming_uniform", "tg_init_kaiming_normal"};
    for (int k = 0; k < 4; k++) {
        int st = k == 0   ? tg_init_xavier_uniform(v, 1, r1)
                 : k == 1 ? tg_init_xavier_normal(v, 1, r1)
                 : k == 2 ? tg_init_kaiming_uniform(v, 0, r1)
                          : tg_init_kaiming_normal(NULL, 0, r1);
        int want = k == 3 ? TG_ERR_INVALID_ARG : TG_ERR_SHAPE;
        cr_expect_eq(st, want, "%s on a 1-D tensor / NULL: %d", names[k], st);
        tu_expect_error(names[k], k == 3 ? "w is NULL" : "2 dims");
        tg_clear_error();
    }
    cr_expect_neq(tg_init_xavier_uniform(a, 1, NULL), TG_OK, "NULL rng must fail");
    tu_expect_error(NULL, NULL);
    tu_free(a), tu_free(b), tu_free(v);
    tg_rng_free(r1), tg_rng_free(r2);
}

// ---- penalties ----

Test(penalty, values_and_gradients) {
    const double v1[4] = {1, -2, 0.5, -0.25}, v2[3] = {3, 0, -1};
    tg_tensor *p1 = tu_f64(2, (int64_t[]){2, 2}, v1, true),
              *p2 = tu_f64(1, (int64_t[]){3}, v2, true);
    tg_tensor *ps[2] = {p1, p2};
    tg_tape *tape = tg_tape_new();
    tg_tensor *l2 = tg_l2_penalty(tape, 2, ps, 0.1);  // 0.1 * 15.3125
    cr_assert_not_null(l2, "%s", tg_last_error());
    cr_expect(fabs(tg_item(l2) - 1.53125) < 1e-14, "l2 %.17g", tg_item(l2));
    cr_assert_eq(tg_backward(tape, l2), TG_OK, "%s", tg_last_error());
    tu_expect_grad(p1, (double[]){0.2, -0.4, 0.1, -0.05}, 4, 1e-15);  // 2 lambda p
    tu_expect_grad(p2, (double[]){0.6, 0, -0.2}, 3, 1e-15);
    tg_tape_reset(tape);
    cr_assert_eq(tg_zero_grad(2, ps), TG_OK);

    tg_tensor *l1 = tg_l1_penalty(tape, 2, ps, 0.5);  // 0.5 * 7.75
    cr_assert_not_null(l1, "%s", tg_last_error());
    cr_expect(fabs(tg_item(l1) - 3.875) < 1e-14, "l1 %.17g", tg_item(l1));
    cr_assert_eq(tg_backward(tape, l1), TG_OK, "%s", tg_last_error());
    tu_expect_grad(p1, (double[]){0.5, -0.5, 0.5, -0.5}, 4, 0);  // lambda sign(p)
    tu_expect_grad(p2, (double[]){0.5, 0, -0.5}, 3, 0);          // 0 at 0, as torch
    tg_tape_reset(tape);

    tu_expect_fail(tg_l2_penalty(tape, 0, ps, 0.1), TG_ERR_INVALID_ARG, "tg_l2_penalty", NULL,
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_l1_penalty(tape, 2, NULL, 0.1), TG_ERR_INVALID_ARG, "tg_l1_penalty", NULL,
                   NULL);
    tg_clear_error();
    cr_expect_null(tg_l2_penalty(tape, 2, (tg_tensor *[]){p1, NULL}, 0.1), "NULL propagates");
    tg_tape_free(tape);
    tu_free(p1), tu_free(p2);
}

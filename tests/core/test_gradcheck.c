// Tests for core/gradcheck.c: a correct composite passes with a filled report; functions
// whose analytic gradient truly differs from the numeric one fail with TG_ERR_NUMERIC and a
// message naming input, element, analytic and numeric; bad inputs are refused; inputs are
// restored bit for bit.
#include "test_util.h"

// out = tanh(z) * (sigmoid(z) + 0.5), z = a @ w + bias: a [2,3] output, bias broadcast.
static tg_tensor *composite(tg_tape *t, tg_tensor *const *in, void *user) {
    (void)user;
    tg_tensor *z = tg_add(t, tg_matmul(t, in[0], in[1]), in[2]);  // [2,4]@[4,3] + [3]
    tg_tensor *s = tg_sigmoid(t, z);
    return tg_mul(t, tg_tanh(t, z), tg_add_scalar(t, s, 0.5));
}

// A scalar loss that uses an input twice and divides.
static tg_tensor *scalar_loss(tg_tape *t, tg_tensor *const *in, void *user) {
    (void)user;
    tg_tensor *x = in[0];
    tg_tensor *q = tg_div(t, tg_mul(t, x, x), tg_add_scalar(t, tg_exp(t, x), 1.0));
    return tg_mean(t, tg_sub(t, q, tg_log(t, tg_add_scalar(t, tg_mul(t, x, x), 1.0))));
}

// f(x) = x * detach(x): the numeric derivative is 2x, the analytic one only x.
static tg_tensor *half_detached(tg_tape *t, tg_tensor *const *in, void *user) {
    (void)user;
    return tg_mul(t, in[0], tg_detach(t, in[0]));
}

// f(a, b) = a * detach(b) + b: correct for a, wrong for b (analytic 1, numeric a + 1).
static tg_tensor *wrong_for_second(tg_tape *t, tg_tensor *const *in, void *user) {
    (void)user;
    return tg_add(t, tg_mul(t, in[0], tg_detach(t, in[1])), in[1]);
}

static tg_tensor *relu_fn(tg_tape *t, tg_tensor *const *in, void *user) {
    (void)user;
    return tg_relu(t, in[0]);
}

static tg_tensor *null_fn(tg_tape *t, tg_tensor *const *in, void *user) {
    (void)t, (void)in, (void)user;
    return NULL;
}

// out = a * c where c does not require grad
static tg_tensor *times_const(tg_tape *t, tg_tensor *const *in, void *user) {
    (void)user;
    return tg_mul(t, in[0], in[1]);
}

static void snapshot(tg_tensor *t, double *buf) {
    cr_assert_eq(tg_copy_to_host(t, buf, (size_t)tg_numel(t) * sizeof(double)), TG_OK);
}

static void expect_unchanged(tg_tensor *t, const double *buf) {
    const double *now = tg_data_f64(t);
    cr_assert_not_null(now);
    cr_expect_eq(memcmp(now, buf, (size_t)tg_numel(t) * sizeof(double)), 0,
                 "gradcheck did not restore its input");
}

Test(gradcheck, default_options) {
    tg_clear_error();
    tg_gradcheck_opts o = tg_gradcheck_opts_default();
    cr_expect_eq(o.eps, 1e-6);
    cr_expect_eq(o.atol, 1e-5);
    cr_expect_eq(o.rtol, 1e-3);
}

Test(gradcheck, passes_on_a_correct_composite) {
    tg_clear_error();
    tg_rng *rng = tg_rng_new(17);
    tg_tensor *in[3] = {
        tu_rand64(rng, 2, (int64_t[]){2, 4}, -1, 1, true),
        tu_rand64(rng, 2, (int64_t[]){4, 3}, -1, 1, true),
        tu_rand64(rng, 1, (int64_t[]){3}, -1, 1, true),
    };
    double saved[3][12];
    for (int i = 0; i < 3; i++) snapshot(in[i], saved[i]);
    tg_gradcheck_report r;
    memset(&r, 0xff, sizeof r);
    int st = tg_gradcheck(composite, NULL, 3, in, NULL, &r);
    cr_expect_eq(st, TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_last_status(), TG_OK, "%s", tg_last_error());
    cr_expect_eq(r.fail_input, -1);
    cr_expect_eq(r.fail_element, -1);
    cr_expect_eq(r.fail_output, -1);
    cr_expect_eq(r.n_checked, 6 * (8 + 12 + 3));  // output elements x input elements
    cr_expect(r.max_abs_err >= 0 && r.max_abs_err < 1e-7, "max_abs_err %g", r.max_abs_err);
    cr_expect(r.max_rel_err >= 0 && r.max_rel_err < 1e-3, "max_rel_err %g", r.max_rel_err);
    for (int i = 0; i < 3; i++) expect_unchanged(in[i], saved[i]);
    for (int i = 0; i < 3; i++) cr_expect_null(tg_grad_of(in[i]), "leaf grads untouched");
    // report may be NULL
    cr_expect_eq(tg_gradcheck(composite, NULL, 3, in, NULL, NULL), TG_OK, "%s", tg_last_error());
    for (int i = 0; i < 3; i++) tg_free(in[i]);
    tg_rng_free(rng);
}

Test(gradcheck, passes_on_a_scalar_loss) {
    tg_clear_error();
    tg_rng *rng = tg_rng_new(4);
    tg_tensor *x = tu_rand64(rng, 2, (int64_t[]){3, 3}, -2, 2, true);
    tg_gradcheck_report r;
    cr_expect_eq(tg_gradcheck(scalar_loss, NULL, 1, &x, NULL, &r), TG_OK, "%s", tg_last_error());
    cr_expect_eq(r.n_checked, 9);
    tg_free(x);
    tg_rng_free(rng);
}

Test(gradcheck, detects_a_missing_gradient_path) {
    tg_clear_error();
    const double xv[3] = {0.5, -1.25, 2.0};
    tg_tensor *x = tu_f64(1, (int64_t[]){3}, xv, true);
    tg_gradcheck_report r;
    int st = tg_gradcheck(half_detached, NULL, 1, &x, NULL, &r);
    cr_expect_eq(st, TG_ERR_NUMERIC);
    cr_expect_eq(tg_last_status(), TG_ERR_NUMERIC);
    tu_expect_error("tg_gradcheck", "input 0 element [0], output [0]");
    tu_expect_error("in 3 of 9 entries", NULL);
    cr_expect_eq(r.n_failed, 3);
    cr_expect_eq(r.n_worst, 3);
    // worst first: |diff| 2 at element 2, 1.25 at 1, 0.5 at 0
    cr_expect_eq(r.worst[0].index[0], 2);
    cr_expect_eq(r.worst[1].index[0], 1);
    cr_expect_eq(r.worst[2].index[0], 0);
    tu_expect_error("analytic 0.5 vs numeric", NULL);
    cr_expect_eq(r.fail_input, 0);
    cr_expect_eq(r.fail_element, 0);
    cr_expect_eq(r.fail_output, 0);
    cr_expect(fabs(r.fail_analytic - 0.5) < 1e-12, "analytic %g", r.fail_analytic);
    cr_expect(fabs(r.fail_numeric - 1.0) < 1e-6, "numeric %g", r.fail_numeric);
    cr_expect_eq(r.n_checked, 9);  // the whole Jacobian is still compared
    cr_expect(fabs(r.max_abs_err - 2.0) < 1e-6, "max_abs_err %g (|x| max is 2)", r.max_abs_err);
    cr_expect(r.max_rel_err > 0.4, "max_rel_err %g", r.max_rel_err);
    expect_unchanged(x, xv);
    tg_free(x);
}

Test(gradcheck, names_the_failing_input) {
    tg_clear_error();
    const double av[2] = {3, 4}, bv[2] = {-1, 2};
    tg_tensor *in[2] = {tu_f64(1, (int64_t[]){2}, av, true), tu_f64(1, (int64_t[]){2}, bv, true)};
    tg_gradcheck_report r;
    cr_expect_eq(tg_gradcheck(wrong_for_second, NULL, 2, in, NULL, &r), TG_ERR_NUMERIC);
    tu_expect_error("input 1 element [0], output [0]", "analytic 1 vs numeric");
    cr_expect_eq(r.fail_analytic, 1.0);
    cr_expect(fabs(r.fail_numeric - 4.0) < 1e-6, "numeric %g", r.fail_numeric);
    cr_expect_eq(r.fail_input, 1);
    cr_expect_eq(r.fail_element, 0);
    cr_expect_eq(r.fail_output, 0);
    cr_expect_eq(r.n_checked, 8);
    expect_unchanged(in[0], av);
    expect_unchanged(in[1], bv);
    tg_free(in[0]);
    tg_free(in[1]);
}

Test(gradcheck, kink_gives_a_true_mismatch) {
    // At x = 0 relu's analytic (sub)gradient is 0 while the central difference is 1/2.
    tg_clear_error();
    const double xv[3] = {1.0, 0.0, -1.0};
    tg_tensor *x = tu_f64(1, (int64_t[]){3}, xv, true);
    tg_gradcheck_report r;
    cr_expect_eq(tg_gradcheck(relu_fn, NULL, 1, &x, NULL, &r), TG_ERR_NUMERIC);
    cr_expect_eq(r.fail_element, 1);
    cr_expect_eq(r.fail_output, 1);
    cr_expect_eq(r.fail_analytic, 0.0);
    cr_expect(fabs(r.fail_numeric - 0.5) < 1e-9, "numeric %g", r.fail_numeric);
    tu_expect_error("element [1]", "numeric 0.5");
    expect_unchanged(x, xv);
    tg_free(x);
}

Test(gradcheck, loose_tolerance_accepts_what_the_default_rejects) {
    tg_clear_error();
    const double xv[2] = {0.01, -0.02};
    tg_tensor *x = tu_f64(1, (int64_t[]){2}, xv, true);
    // |analytic - numeric| = |x| <= 0.02: rejected by default, accepted with atol 0.05
    cr_expect_eq(tg_gradcheck(half_detached, NULL, 1, &x, NULL, NULL), TG_ERR_NUMERIC);
    tg_clear_error();
    tg_gradcheck_opts o = tg_gradcheck_opts_default();
    o.atol = 0.05;
    tg_gradcheck_report r;
    cr_expect_eq(tg_gradcheck(half_detached, NULL, 1, &x, &o, &r), TG_OK, "%s", tg_last_error());
    cr_expect_eq(r.fail_input, -1);
    cr_expect(fabs(r.max_abs_err - 0.02) < 1e-6, "max_abs_err %g", r.max_abs_err);
    tg_free(x);
}

Test(gradcheck, skips_inputs_without_requires_grad) {
    tg_clear_error();
    tg_tensor *in[2] = {tu_f64(1, (int64_t[]){3}, (double[]){1, 2, 3}, true),
                        tu_f64(1, (int64_t[]){3}, (double[]){4, 5, 6}, false)};
    tg_gradcheck_report r;
    cr_expect_eq(tg_gradcheck(times_const, NULL, 2, in, NULL, &r), TG_OK, "%s", tg_last_error());
    cr_expect_eq(r.n_checked, 9);  // only input 0's Jacobian
    tg_free(in[0]);
    tg_free(in[1]);
}

Test(gradcheck, rejects_f32_inputs) {
    tg_clear_error();
    tg_tensor *x = tg_param(tu_cpu(), TG_F32, 1, (int64_t[]){2}, (float[]){1, 2});
    tg_gradcheck_report r;
    cr_expect_eq(tg_gradcheck(relu_fn, NULL, 1, &x, NULL, &r), TG_ERR_DTYPE);
    tu_expect_error("tg_gradcheck", "input 0 is f32; gradcheck runs in f64");
    cr_expect_eq(r.fail_input, -1);
    cr_expect_eq(r.n_checked, 0);
    tg_free(x);
}

Test(gradcheck, rejects_step_tensor_inputs) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p = tu_f64(1, (int64_t[]){2}, (double[]){1, 2}, true);
    tg_tensor *in[2] = {p, tg_mul_scalar(tape, p, 2.0)};
    cr_assert_not_null(in[1]);
    cr_expect_eq(tg_gradcheck(times_const, NULL, 2, in, NULL, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("input 1 is a step tensor", "persistent");
    tg_tape_free(tape);
    tg_free(p);
}

Test(gradcheck, other_bad_arguments) {
    tg_clear_error();
    tg_tensor *c = tu_f64(1, (int64_t[]){2}, (double[]){1, 2}, false);
    cr_expect_eq(tg_gradcheck(relu_fn, NULL, 1, &c, NULL, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("no input requires grad", NULL);
    tg_clear_error();
    cr_expect_eq(tg_gradcheck(NULL, NULL, 1, &c, NULL, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("function is NULL", NULL);
    tg_clear_error();
    cr_expect_eq(tg_gradcheck(relu_fn, NULL, 0, &c, NULL, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_tensor *none[1] = {NULL};
    cr_expect_eq(tg_gradcheck(relu_fn, NULL, 1, none, NULL, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("input 0 is NULL", NULL);
    tg_clear_error();
    tg_set_requires_grad(c, true);
    cr_expect_eq(tg_gradcheck(null_fn, NULL, 1, &c, NULL, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("returned NULL", NULL);
    tg_clear_error();
    tg_free(c);
}

static tg_tensor *fails_on_perturbation(tg_tape *t, tg_tensor *const *in, void *user) {
    int *calls = user;
    if (++*calls > 2) {  // first eval and analytic pass succeed, then a shape error
        tg_tensor *bad = tg_reshape(t, in[0], 1, (int64_t[]){7});
        return bad;
    }
    return tg_mul(t, in[0], in[0]);
}

Test(gradcheck, function_errors_propagate_and_inputs_are_restored) {
    tg_clear_error();
    const double xv[3] = {1, 2, 3};
    tg_tensor *x = tu_f64(1, (int64_t[]){3}, xv, true);
    int calls = 0;
    cr_expect_eq(tg_gradcheck(fails_on_perturbation, &calls, 1, &x, NULL, NULL), TG_ERR_SHAPE);
    tu_expect_error("tg_reshape", NULL);
    expect_unchanged(x, xv);
    tg_free(x);
}

// ---- second order ----

// out = tanh(z) * sigmoid(z), z = a @ w: [2,3]
static tg_tensor *smooth2(tg_tape *t, tg_tensor *const *in, void *user) {
    (void)user;
    tg_tensor *z = tg_matmul(t, in[0], in[1]);
    return tg_mul(t, tg_tanh(t, z), tg_sigmoid(t, z));
}

Test(gradgradcheck, passes_on_a_smooth_composite) {
    tg_clear_error();
    tg_rng *rng = tg_rng_new(23);
    tg_tensor *in[2] = {tu_rand64(rng, 2, (int64_t[]){2, 3}, -1, 1, true),
                        tu_rand64(rng, 2, (int64_t[]){3, 3}, -1, 1, true)};
    double saved[2][9];
    for (int i = 0; i < 2; i++) snapshot(in[i], saved[i]);
    tg_gradcheck_opts o = tg_gradcheck_opts_default();
    o.seed = 5;
    tg_gradcheck_report r;
    cr_expect_eq(tg_gradgradcheck(smooth2, NULL, 2, in, &o, &r), TG_OK, "%s", tg_last_error());
    cr_expect_eq(r.fail_input, -1);
    cr_expect_eq(r.n_checked, (6 + 9) * (6 + 9));  // Jacobian of the flattened gradients
    for (int i = 0; i < 2; i++) expect_unchanged(in[i], saved[i]);
    for (int i = 0; i < 2; i++) tg_free(in[i]);
    tg_rng_free(rng);
}

Test(gradgradcheck, detects_a_wrong_second_derivative) {
    // x * detach(x) has the analytic gradient v * detach(x): constant in x to the tape, while
    // its numeric derivative is v.
    tg_clear_error();
    tg_tensor *x = tu_f64(1, (int64_t[]){3}, (double[]){0.5, -1, 2}, true);
    tg_gradcheck_report r;
    cr_expect_eq(tg_gradgradcheck(half_detached, NULL, 1, &x, NULL, &r), TG_ERR_NUMERIC);
    tu_expect_error("analytic 0 vs numeric", NULL);
    cr_expect_eq(r.fail_input, 0);
    cr_expect_eq(r.fail_analytic, 0.0);
    cr_expect(fabs(r.fail_numeric) > 1e-3, "numeric %g", r.fail_numeric);
    tg_free(x);
}

Test(gradgradcheck, rejects_bad_inputs) {
    tg_clear_error();
    tg_tensor *f = tg_param(tu_cpu(), TG_F32, 1, (int64_t[]){2}, (float[]){1, 2});
    cr_expect_eq(tg_gradgradcheck(relu_fn, NULL, 1, &f, NULL, NULL), TG_ERR_DTYPE);
    tu_expect_error("f32", NULL);
    tg_clear_error();
    cr_expect_eq(tg_gradgradcheck(NULL, NULL, 1, &f, NULL, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_gradgradcheck", "function is NULL");
    tg_clear_error();
    tg_free(f);
}

// f(W) = sum over rows of (W x)^2 with the analytic gradient of row 1 missing: the report
// gives multi-dimensional indices, the count, and the Jacobian dump has both tables.
static tg_tensor *matrix_half_detached(tg_tape *tape, tg_tensor *const *in, void *user) {
    (void)user;
    tg_tensor *w = in[0];
    tg_tensor *top = tg_slice(tape, w, 0, 0, 1, 1);
    tg_tensor *bottom = tg_detach(tape, tg_slice(tape, w, 0, 1, 2, 1));
    return tg_mul_scalar(tape, tg_concat(tape, 2, (tg_tensor *[]){top, bottom}, 0), 2.0);
}

static tg_tensor *square_half_detached(tg_tape *tape, tg_tensor *const *in, void *user) {
    (void)user;
    tg_tensor *d = tg_detach(tape, in[0]);
    // value w^2 / 2 + w^2 / 2, first derivative w (correct), second derivative 1/2 (wrong: 1)
    return tg_add(tape, tg_mul_scalar(tape, tg_mul(tape, in[0], in[0]), 0.25),
                  tg_mul_scalar(tape, tg_mul(tape, in[0], d), 0.5));
}

Test(gradcheck, reports_multi_dimensional_indices_count_and_dump) {
    tg_clear_error();
    tg_tensor *w = tu_f64(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}, true);
    char *dump = NULL;
    size_t len = 0;
    tg_gradcheck_opts o = tg_gradcheck_opts_default();
    o.dump = open_memstream(&dump, &len);
    tg_gradcheck_report r;
    cr_expect_eq(tg_gradcheck(matrix_half_detached, NULL, 1, &w, &o, &r), TG_ERR_NUMERIC);
    fclose(o.dump);
    cr_expect_eq(r.n_failed, 3, "row 1's three entries");
    cr_expect_eq(r.n_worst, 3);
    cr_expect_eq(r.worst[0].ndim, 2);
    cr_expect_eq(r.worst[0].index[0], 1);
    cr_expect_eq(r.worst[0].out_ndim, 2);
    cr_expect_eq(r.worst[0].out_index[0], 1);
    tu_expect_error("element [1,0], output [1,0]", "in 3 of 36 entries");
    cr_expect(strstr(dump, "input 0: analytic Jacobian [6 outputs x 6 elements]") != NULL, "%s", dump);
    cr_expect(strstr(dump, "input 0: numeric Jacobian") != NULL);
    free(dump);
    tg_clear_error();
    // gradgradcheck names itself: x -> x * detach(x) has a wrong second derivative
    cr_expect_eq(tg_gradgradcheck(square_half_detached, NULL, 1, &w, NULL, NULL), TG_ERR_NUMERIC);
    tu_expect_error("tg_gradgradcheck: Jacobian mismatch", NULL);
    tg_free(w);
}

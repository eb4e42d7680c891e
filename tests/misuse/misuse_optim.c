// Misuse scenarios of optim.h and gradcheck.h: optimizers and their hyper-parameters
// (NaN included), clipping, LR schedules, early stopping and gradient checks.
#include "misuse.h"

Test(misuse, optimizers) {
    tg_tensor *ps[2] = {mu.a, mu.b}, *holes[2] = {mu.a, NULL};
    tg_tensor *y = tg_add(mu.tape, mu.a, mu.b), *steps[1] = {y};
    const char *fn = "tg_optim_new";
    tg_optim_opts o = tg_optim_opts_default(TG_OPTIM_ADAM);
    mu_null(fn, tg_optim_new((tg_optim_kind)99, 2, ps, NULL), "kind 99");
    mu_null(fn, tg_optim_new(TG_OPTIM_ADAM, -1, ps, NULL), "n -1");
    mu_null(fn, tg_optim_new(TG_OPTIM_ADAM, 2, NULL, NULL), "NULL params");
    mu_null(fn, tg_optim_new(TG_OPTIM_ADAM, 2, holes, NULL), "NULL entry");
    mu_null(fn, tg_optim_new(TG_OPTIM_ADAM, 1, steps, NULL), "a step tensor");
    mu_null(fn, tg_optim_new(TG_OPTIM_ADAM, 1, (tg_tensor *[]){mu.stale}, NULL), "stale");
    const char *what[5] = {"lr NaN", "eps NaN", "beta1 1", "beta2 NaN", "weight_decay -1"};
    for (int k = 0; k < 5; k++) {
        tg_optim_opts bad = o;
        if (k == 0) bad.lr = NAN;
        if (k == 1) bad.eps = NAN;
        if (k == 2) bad.beta1 = 1;
        if (k == 3) bad.beta2 = NAN;
        if (k == 4) bad.weight_decay = -1;
        mu_null(fn, tg_optim_new(TG_OPTIM_ADAM, 2, ps, &bad), what[k]);
    }
    tg_optim_opts sgd = tg_optim_opts_default(TG_OPTIM_SGD);
    sgd.nesterov = true;
    mu_null(fn, tg_optim_new(TG_OPTIM_SGD, 2, ps, &sgd), "nesterov without momentum");
    (void)tg_optim_opts_default((tg_optim_kind)99);
    mu_err("tg_optim_opts_default", true, "kind 99");
    mu_null("tg_sgd", tg_sgd(2, ps, NAN, 0), "lr NaN");
    mu_null("tg_sgd", tg_sgd(2, ps, 0.1, -0.5), "momentum -0.5");
    mu_null("tg_sgd", tg_sgd(0, ps, 0.1, 0), "n 0");
    mu_null("tg_adam", tg_adam(2, ps, -1), "lr -1");
    mu_null("tg_adam", tg_adam(2, NULL, 0.1), "NULL params");
    mu_quiet("tg_optim_kind_name", tg_optim_kind_name((tg_optim_kind)99)[0] == '?', "kind 99");
    mu_quiet("tg_optim_kind_name", tg_optim_kind_name((tg_optim_kind)-1)[0] == '?', "kind -1");
    tg_optim_free(NULL);
    mu_quiet("tg_optim_free", true, "NULL is a no-op");
    mu_fail("tg_optim_step", tg_optim_step(NULL), "NULL optimizer");
    mu_fail("tg_optim_zero_grad", tg_optim_zero_grad(NULL), "NULL optimizer");
    mu_nan("tg_optim_lr", tg_optim_lr(NULL), "NULL optimizer");
    mu_fail("tg_optim_set_lr", tg_optim_set_lr(NULL, 0.1), "NULL optimizer");
    tg_optim *opt = tg_adam(2, ps, 0.1);
    cr_assert_not_null(opt, "%s", tg_last_error());
    mu_fail("tg_optim_set_lr", tg_optim_set_lr(opt, NAN), "lr NaN");
    mu_fail("tg_optim_set_lr", tg_optim_set_lr(opt, -1), "lr -1");
    tg_optim_free(opt);
}

Test(misuse, clipping_schedules_early_stop) {
    tg_tensor *ps[2] = {mu.a, mu.b}, *holes[2] = {mu.a, NULL};
    double norm;
    const char *fn = "tg_clip_grad_norm";
    mu_fail(fn, tg_clip_grad_norm(NULL, 2, ps, 1, &norm), "NULL tape");
    mu_fail(fn, tg_clip_grad_norm(mu.tape, -1, ps, 1, &norm), "n -1");
    mu_fail(fn, tg_clip_grad_norm(mu.tape, 2, NULL, 1, &norm), "NULL params");
    mu_fail(fn, tg_clip_grad_norm(mu.tape, 2, holes, 1, &norm), "NULL entry");
    mu_fail(fn, tg_clip_grad_norm(mu.tape, 2, ps, NAN, &norm), "max_norm NaN");
    mu_fail(fn, tg_clip_grad_norm(mu.tape, 2, ps, -1, &norm), "max_norm -1");
    mu_fail(fn, tg_clip_grad_norm(mu.tape, 1, (tg_tensor *[]){mu.stale}, 1, &norm), "stale");
    fn = "tg_clip_grad_value";
    mu_fail(fn, tg_clip_grad_value(-1, ps, 1), "n -1");
    mu_fail(fn, tg_clip_grad_value(2, NULL, 1), "NULL params");
    mu_fail(fn, tg_clip_grad_value(2, holes, 1), "NULL entry");
    mu_fail(fn, tg_clip_grad_value(2, ps, NAN), "clip NaN");
    mu_fail(fn, tg_clip_grad_value(2, ps, -1), "clip -1");
    mu_fail(fn, tg_clip_grad_value(1, (tg_tensor *[]){mu.stale}, 1), "stale");
    tg_lr_schedule ok = {.kind = TG_LR_STEP, .base_lr = 0.1, .gamma = 0.5, .step_size = 2};
    tg_lr_schedule s0 = ok, bad_kind = ok, cos0 = {.kind = TG_LR_COSINE, .base_lr = 0.1};
    s0.step_size = 0;
    bad_kind.kind = (tg_lr_kind)42;
    mu_nan("tg_lr_at", tg_lr_at(NULL, 0), "NULL schedule");
    mu_nan("tg_lr_at", tg_lr_at(&ok, -1), "epoch -1");
    mu_nan("tg_lr_at", tg_lr_at(&s0, 3), "STEP with step_size 0");
    mu_nan("tg_lr_at", tg_lr_at(&cos0, 3), "COSINE with t_max 0");
    mu_nan("tg_lr_at", tg_lr_at(&bad_kind, 3), "kind 42");
    tg_early_stop es = tg_early_stop_init(-1, 0, false);
    mu_err("tg_early_stop_init", es.patience == -1, "patience -1");
    es = tg_early_stop_init(3, NAN, false);
    mu_err("tg_early_stop_init", true, "min_delta NaN");
    bool improved;
    mu_err("tg_early_stop_update", tg_early_stop_update(NULL, 1.0, &improved), "NULL state");
}

static tg_tensor *sum_sq(tg_tape *tape, tg_tensor *const *in, void *user) {
    (void)user;
    return tg_sum(tape, tg_mul(tape, in[0], in[0]));
}

static tg_tensor *returns_null(tg_tape *tape, tg_tensor *const *in, void *user) {
    (void)tape, (void)in, (void)user;
    return NULL;
}

Test(misuse, gradchecks) {
    tg_tensor *x = tg_param(mu.be, TG_F64, 1, (int64_t[]){2}, (double[]){1, 2});
    tg_tensor *in[1] = {x}, *f32[1] = {mu.a}, *holes[1] = {NULL};   // stale: misuse_crash.c
    cr_assert_not_null(x);
    mu_quiet("tg_gradcheck_opts_default", tg_gradcheck_opts_default().eps > 0, "no input");
    tg_gradcheck_opts e0 = tg_gradcheck_opts_default(), enan = e0, tneg = e0;
    e0.eps = 0;
    enan.eps = NAN;
    tneg.atol = -1;
    const char *names[2] = {"tg_gradcheck", "tg_gradgradcheck"};
    for (int k = 0; k < 2; k++) {
        int (*f)(tg_gradcheck_fn, void *, int, tg_tensor *const *, const tg_gradcheck_opts *,
                 tg_gradcheck_report *) = k ? tg_gradgradcheck : tg_gradcheck;
        const char *fn = names[k];
        mu_fail(fn, f(NULL, NULL, 1, in, NULL, NULL), "NULL fn");
        mu_fail(fn, f(sum_sq, NULL, -1, in, NULL, NULL), "n_inputs -1");
        mu_fail(fn, f(sum_sq, NULL, 1, NULL, NULL, NULL), "NULL inputs");
        mu_fail(fn, f(sum_sq, NULL, 1, holes, NULL, NULL), "NULL input");
        mu_fail(fn, f(sum_sq, NULL, 1, f32, NULL, NULL), "f32 input");
        mu_fail(fn, f(sum_sq, NULL, 1, in, &e0, NULL), "eps 0");
        mu_fail(fn, f(sum_sq, NULL, 1, in, &enan, NULL), "eps NaN");
        mu_fail(fn, f(sum_sq, NULL, 1, in, &tneg, NULL), "atol -1");
        mu_fail(fn, f(returns_null, NULL, 1, in, NULL, NULL), "fn returns NULL");
    }
    tg_free(x);
}

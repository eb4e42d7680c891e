// Misuse scenarios of tensor.h: backends, persistent tensors, accessors, in-place updates
// and the RNG (misuse.h).
#include <stdio.h>
#include <string.h>

#include "misuse.h"

static const int64_t HUGE1[2] = {(int64_t)1 << 61, 2}, HUGE2[1] = {INT64_MAX};
static const int64_t HUGE3[2] = {INT64_MAX, 0};

Test(misuse, backends) {
    mu_null("tg_backend_get", tg_backend_get("no-such-backend"), "unknown name");
    mu_null("tg_backend_get", tg_backend_get(""), "empty name");
    mu_err("tg_backend_name", strcmp(tg_backend_name(NULL), "(null)") == 0, "NULL backend");
    mu_fail("tg_backend_set_threads", tg_backend_set_threads(NULL, 1), "NULL backend");
    mu_fail("tg_backend_set_threads", tg_backend_set_threads(mu.be, -1), "-1 threads");
    mu_fail("tg_backend_set_threads", tg_backend_set_threads(mu.be, TG_MAX_THREADS + 1),
            "TG_MAX_THREADS + 1");
    mu_fail("tg_backend_synchronize", tg_backend_synchronize(NULL), "NULL backend");
    // documented never to fail: snprintf's contract, a NULL buffer counts as size 0
    char one[1] = {'x'};
    mu_quiet("tg_cpu_describe", tg_cpu_describe(NULL, 0) > 0, "NULL buffer, size 0");
    mu_quiet("tg_cpu_describe", tg_cpu_describe(NULL, 64) > 0, "NULL buffer, size 64");
    mu_quiet("tg_cpu_describe", tg_cpu_describe(one, 1) > 0 && !one[0], "1-byte buffer");
}

// The constructors that take a shape, each with the same bad shapes.
static tg_tensor *make(int k, tg_backend *be, tg_dtype dt, int ndim, const int64_t *shape,
                       const void *data) {
    switch (k) {
    case 0: return tg_tensor_new(be, dt, ndim, shape);
    case 1: return tg_tensor_from(be, dt, ndim, shape, data);
    default: return tg_param(be, dt, ndim, shape, data);
    }
}

// (a NULL backend means the default one, and tg_param without data makes zeros: not misuse)
Test(misuse, constructors) {
    const char *names[3] = {"tg_tensor_new", "tg_tensor_from", "tg_param"};
    static float data[64];
    const int64_t sh[2] = {2, 3};
    for (int k = 0; k < 3; k++) {
        const char *fn = names[k];
        mu_null(fn, make(k, mu.be, TG_DTYPE_COUNT, 2, sh, data), "dtype COUNT");
        mu_null(fn, make(k, mu.be, (tg_dtype)-1, 2, sh, data), "dtype -1");
        mu_null(fn, make(k, mu.be, TG_F32, -1, sh, data), "ndim -1");
        mu_null(fn, make(k, mu.be, TG_F32, 9, sh, data), "ndim 9");
        mu_null(fn, make(k, mu.be, TG_F32, 2, NULL, data), "NULL shape");
        mu_null(fn, make(k, mu.be, TG_F32, 2, (int64_t[]){2, -3}, data), "dim -3");
        mu_null(fn, make(k, mu.be, TG_F32, 1, (int64_t[]){INT64_MIN}, data), "dim INT64_MIN");
        mu_null(fn, make(k, mu.be, TG_F32, 2, HUGE1, data), "[2^61, 2]");
        mu_null(fn, make(k, mu.be, TG_F64, 1, HUGE2, data), "[INT64_MAX]");
        mu_null(fn, make(k, mu.be, TG_F32, 2, HUGE3, data), "[INT64_MAX, 0]");
        if (k == 1) mu_null(fn, make(k, mu.be, TG_F32, 2, sh, NULL), "NULL data");
    }
    mu_null("tg_scalar", tg_scalar(mu.be, (tg_dtype)5, 1), "dtype 5");
    mu_null("tg_to", tg_to(NULL, mu.be), "NULL tensor");
    mu_null("tg_to", tg_to(mu.stale, NULL), "stale tensor");
    mu_null("tg_cast", tg_cast(NULL, TG_F64), "NULL tensor");
    mu_null("tg_cast", tg_cast(mu.a, TG_DTYPE_COUNT), "dtype COUNT");
    mu_null("tg_cast", tg_cast(mu.stale, TG_F64), "stale tensor");
}

Test(misuse, freeing) {
    tg_tensor *y = tg_add(mu.tape, mu.a, mu.b);
    cr_assert_not_null(y, "%s", tg_last_error());
    mu_fail("tg_free_check", tg_free_check(y), "step tensor");
    mu_fail("tg_free_check", tg_free_check(mu.stale), "stale step tensor");
    mu_fail("tg_free_check", tg_free_check(mu.a), "recorded by a live tape");
    mu_fail("tg_free", tg_free(y), "step tensor");
    mu_fail("tg_free", tg_free(mu.stale), "stale step tensor");
    mu_fail("tg_free", tg_free(mu.a), "recorded by a live tape");
    tg_tensor *loss = tg_sum(mu.tape, y);
    cr_assert_eq(tg_backward(mu.tape, loss), TG_OK, "%s", tg_last_error());
    tg_tape_reset(mu.tape);
    mu_fail("tg_free", tg_free(tg_grad_of(mu.a)), "a parameter's .grad");
    mu_fail("tg_free_check", tg_free_check(tg_grad_of(mu.a)), "a parameter's .grad");
    cr_assert_not_null(tg_add(mu.tape, tg_grad_of(mu.a), mu.b));
    mu_fail("tg_grad_clear", tg_grad_clear(mu.a), "its .grad recorded by a live tape");
    tg_tape_reset(mu.tape);
    tg_tensor *list[3] = {mu.d, y, NULL};
    mu_fail("tg_free_many", tg_free_many(-1, list), "n -1");
    mu_fail("tg_free_many", tg_free_many(2, NULL), "NULL list");
    mu_fail("tg_free_many", tg_free_many(2, list), "a stale step tensor in the list");
    mu_quiet("tg_ndim", tg_ndim(mu.d) == 2, "nothing freed by the refused tg_free_many");
}

Test(misuse, accessors) {
    const tg_tensor *bad[2] = {NULL, mu.stale};
    const char *what[2] = {"NULL tensor", "stale tensor"};
    for (int k = 0; k < 2; k++) {
        const tg_tensor *t = bad[k];
        mu_err("tg_ndim", tg_ndim(t) < 0, what[k]);
        mu_null("tg_shape", tg_shape(t), what[k]);
        mu_err("tg_numel", tg_numel(t) <= 0, what[k]);
        mu_err("tg_dtype_of", tg_dtype_of(t) == TG_DTYPE_COUNT, what[k]);
        mu_null("tg_backend_of", tg_backend_of(t), what[k]);
        mu_err("tg_requires_grad", !tg_requires_grad(t), what[k]);
        mu_err("tg_is_step", !tg_is_step(t), what[k]);
        mu_null("tg_grad_of", tg_grad_of(t), what[k]);
        mu_null("tg_tensor_name", tg_tensor_name(t), what[k]);
        mu_err("tg_tensor_version", tg_tensor_version(t) == 0, what[k]);
        mu_nan("tg_item", tg_item(t), what[k]);
        if (!k) mu_fail("tg_print", tg_print(t, stdout), what[k]);   // stale: misuse_crash.c
        mu_fail("tg_set_requires_grad", tg_set_requires_grad((tg_tensor *)t, true), what[k]);
        mu_fail("tg_tensor_set_name", tg_tensor_set_name((tg_tensor *)t, "x"), what[k]);
        mu_fail("tg_grad_clear", tg_grad_clear((tg_tensor *)t), what[k]);
        mu_fail("tg_mark_dirty", tg_mark_dirty((tg_tensor *)t), what[k]);
        mu_null("tg_data_f32", tg_data_f32((tg_tensor *)t), what[k]);
        mu_null("tg_data_f64", tg_data_f64((tg_tensor *)t), what[k]);
        mu_null("tg_data_ptr", tg_data_ptr((tg_tensor *)t), what[k]);
    }
    tg_tensor *y = tg_add(mu.tape, mu.a, mu.b);
    mu_fail("tg_set_requires_grad", tg_set_requires_grad(y, true), "step tensor");
    mu_fail("tg_tensor_set_name", tg_tensor_set_name(y, "y"), "step tensor");
    mu_nan("tg_item", tg_item(mu.a), "[2,3] tensor");
    mu_null("tg_data_f32", tg_data_f32(mu.d), "f64 tensor");
    mu_null("tg_data_f64", tg_data_f64(mu.a), "f32 tensor");
    tg_tensor *none[2] = {mu.a, NULL};
    mu_fail("tg_zero_grad", tg_zero_grad(-1, none), "n -1");
    mu_fail("tg_zero_grad", tg_zero_grad(2, NULL), "NULL list");
    mu_fail("tg_zero_grad", tg_zero_grad(1, (tg_tensor *[]){mu.stale}), "stale tensor");
}

Test(misuse, host_copies) {
    float buf[8];
    mu_fail("tg_copy_to_host", tg_copy_to_host(NULL, buf, 24), "NULL tensor");
    mu_fail("tg_copy_to_host", tg_copy_to_host(mu.a, NULL, 24), "NULL dst");
    mu_fail("tg_copy_to_host", tg_copy_to_host(mu.a, buf, 20), "20 bytes for 24");
    mu_fail("tg_copy_to_host", tg_copy_to_host(mu.a, buf, 32), "32 bytes for 24");
    mu_fail("tg_copy_to_host", tg_copy_to_host(mu.a, buf, SIZE_MAX), "SIZE_MAX bytes");
    mu_fail("tg_copy_to_host", tg_copy_to_host(mu.stale, buf, 24), "stale tensor");
    mu_fail("tg_copy_from_host", tg_copy_from_host(NULL, buf, 24), "NULL tensor");
    mu_fail("tg_copy_from_host", tg_copy_from_host(mu.a, NULL, 24), "NULL src");
    mu_fail("tg_copy_from_host", tg_copy_from_host(mu.a, buf, 12), "12 bytes for 24");
    mu_fail("tg_copy_from_host", tg_copy_from_host(mu.stale, buf, 24), "stale tensor");
}

Test(misuse, inplace_updates) {
    tg_tensor *a = mu.a, *d = mu.d, *st = mu.stale, *m = mu.m;
    mu_fail("tg_fill_", tg_fill_(NULL, 1), "NULL y");
    mu_fail("tg_fill_", tg_fill_(st, 1), "stale y");
    mu_fail("tg_copy_", tg_copy_(a, NULL), "NULL src");
    mu_fail("tg_copy_", tg_copy_(a, d), "f32 with f64");
    mu_fail("tg_copy_", tg_copy_(a, m), "[2,3] from [3,2]");
    mu_fail("tg_copy_", tg_copy_(a, st), "stale src");
    mu_fail("tg_axpby_", tg_axpby_(NULL, 1, a, 1), "NULL y");
    mu_fail("tg_axpby_", tg_axpby_(a, 1, d, 1), "f32 with f64");
    mu_fail("tg_axpby_", tg_axpby_(a, 1, m, 1), "[2,3] with [3,2]");
    mu_fail("tg_addcmul_", tg_addcmul_(a, 1, a, NULL), "NULL b");
    mu_fail("tg_addcmul_", tg_addcmul_(a, 1, a, d), "f32 with f64");
    mu_fail("tg_addcdiv_sqrt_", tg_addcdiv_sqrt_(a, 1, NULL, a, 1, 1e-8), "NULL a");
    mu_fail("tg_addcdiv_sqrt_", tg_addcdiv_sqrt_(a, 1, d, a, 1, 1e-8), "f32 with f64");
    mu_fail("tg_addcdiv_", tg_addcdiv_(a, 1, a, NULL), "NULL b");
    mu_fail("tg_addcdiv_", tg_addcdiv_(d, 1, a, a), "f64 with f32");
    mu_fail("tg_maximum_", tg_maximum_(NULL, a), "NULL y");
    mu_fail("tg_maximum_", tg_maximum_(a, d), "f32 with f64");
    mu_fail("tg_max_abs_", tg_max_abs_(a, 0.9, NULL, 0), "NULL x");
    mu_fail("tg_max_abs_", tg_max_abs_(a, 0.9, m, 0), "[2,3] with [3,2]");
    mu_fail("tg_mul_sqrt_ratio_", tg_mul_sqrt_ratio_(a, a, NULL, 1e-6), "NULL b");
    mu_fail("tg_mul_sqrt_ratio_", tg_mul_sqrt_ratio_(a, d, a, 1e-6), "f32 with f64");
    mu_fail("tg_clamp_", tg_clamp_(NULL, 0, 1), "NULL y");
    mu_fail("tg_clamp_", tg_clamp_(st, 0, 1), "stale y");
    mu_fail("tg_scale_", tg_scale_(NULL, 2), "NULL y");
    mu_fail("tg_scale_", tg_scale_(st, 2), "stale y");
}

Test(misuse, adam_step) {
    tg_tensor *p = mu.a, *g = mu.b, *st = mu.stale;
    tg_tensor *mm = tg_tensor_new(mu.be, TG_F32, 2, (int64_t[]){2, 3});
    tg_tensor *v = tg_tensor_new(mu.be, TG_F32, 2, (int64_t[]){2, 3});
    cr_assert(mm && v);
    const double b1 = 0.9, b2 = 0.999, e = 1e-8;
    mu_fail("tg_adam_step_", tg_adam_step_(NULL, g, mm, v, NULL, 1, 1e-3, b1, b2, e, 0, false),
            "NULL p");
    mu_fail("tg_adam_step_", tg_adam_step_(p, g, NULL, v, NULL, 1, 1e-3, b1, b2, e, 0, false),
            "NULL m");
    mu_fail("tg_adam_step_", tg_adam_step_(p, mu.d, mm, v, NULL, 1, 1e-3, b1, b2, e, 0, false),
            "f64 gradient for f32 p");
    mu_fail("tg_adam_step_", tg_adam_step_(p, mu.m, mm, v, NULL, 1, 1e-3, b1, b2, e, 0, false),
            "[3,2] gradient for [2,3] p");
    mu_fail("tg_adam_step_", tg_adam_step_(p, g, mm, v, NULL, 0, 1e-3, b1, b2, e, 0, false),
            "step 0 (1-based)");
    mu_fail("tg_adam_step_", tg_adam_step_(p, g, mm, v, NULL, -5, 1e-3, b1, b2, e, 0, false),
            "step -5");
    mu_fail("tg_adam_step_", tg_adam_step_(p, g, mm, v, NULL, 1, NAN, b1, b2, e, 0, false),
            "lr NaN");
    mu_fail("tg_adam_step_", tg_adam_step_(p, g, mm, v, NULL, 1, 1e-3, 1.0, b2, e, 0, false),
            "beta1 1 (bias correction divides by 0)");
    mu_fail("tg_adam_step_", tg_adam_step_(p, g, st, v, NULL, 1, 1e-3, b1, b2, e, 0, false),
            "stale m");
    tg_free(mm);
    tg_free(v);
}

Test(misuse, random_numbers) {
    tg_rng *r = tg_rng_new(0);
    mu_quiet("tg_rng_new", r != NULL, "any seed is valid (0 included)");
    tg_rng_free(r);
    tg_rng_free(NULL);
    mu_quiet("tg_rng_free", true, "NULL is a no-op");
    mu_nan("tg_rng_uniform", tg_rng_uniform(NULL), "NULL rng");
    mu_nan("tg_rng_normal", tg_rng_normal(NULL), "NULL rng");
    mu_fail("tg_uniform_", tg_uniform_(NULL, mu.rng, 0, 1), "NULL y");
    mu_fail("tg_uniform_", tg_uniform_(mu.a, NULL, 0, 1), "NULL rng");
    mu_fail("tg_uniform_", tg_uniform_(mu.a, mu.rng, NAN, 1), "lo NaN");
    mu_fail("tg_uniform_", tg_uniform_(mu.a, mu.rng, 0, INFINITY), "hi inf");
    mu_fail("tg_uniform_", tg_uniform_(mu.a, mu.rng, 2, 1), "lo > hi");
    mu_fail("tg_uniform_", tg_uniform_(mu.stale, mu.rng, 0, 1), "stale y");
    mu_fail("tg_normal_", tg_normal_(NULL, mu.rng, 0, 1), "NULL y");
    mu_fail("tg_normal_", tg_normal_(mu.a, NULL, 0, 1), "NULL rng");
    mu_fail("tg_normal_", tg_normal_(mu.a, mu.rng, 0, -1), "std -1");
    mu_fail("tg_normal_", tg_normal_(mu.a, mu.rng, 0, NAN), "std NaN");
    mu_fail("tg_normal_", tg_normal_(mu.a, mu.rng, NAN, 1), "mean NaN");
    mu_quiet("tg_alloc_count", tg_alloc_count() > 0, "no input to get wrong");
}

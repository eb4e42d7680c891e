// Tests for core/tensor.c, core/update.c, core/rng.c, core/error.c and the backend
// registry: creation and shape checks, accessors, host copies, lifetimes (step vs.
// persistent, pinning by a live tape), in-place updates, the seeded RNG, the error API.
#include <stdlib.h>

#include "test_util.h"

static const int64_t S23[2] = {2, 3};
static const double V23[6] = {1, 2, 3, 4, 5, 6};

// ---- creation ----

Test(tensor, new_is_zero_filled_with_accessors) {
    tg_clear_error();
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F32, 2, S23);
    cr_assert_not_null(t, "%s", tg_last_error());
    cr_expect_eq(tg_ndim(t), 2);
    cr_expect_eq(tg_shape(t)[0], 2);
    cr_expect_eq(tg_shape(t)[1], 3);
    cr_expect_eq(tg_numel(t), 6);
    cr_expect_eq(tg_dtype_of(t), TG_F32);
    cr_expect_eq(tg_backend_of(t), tu_cpu());
    cr_expect_str_eq(tg_backend_name(tg_backend_of(t)), "cpu");
    cr_expect_not(tg_requires_grad(t));
    cr_expect_not(tg_is_step(t));
    cr_expect_null(tg_grad_of(t));
    tu_expect_values(t, (double[]){0, 0, 0, 0, 0, 0}, 6, 0);
    cr_expect_eq(tg_free(t), TG_OK);
    cr_expect_eq(tg_last_status(), TG_OK, "%s", tg_last_error());
}

Test(tensor, from_copies_host_data) {
    tg_clear_error();
    double host[6];
    memcpy(host, V23, sizeof host);
    tg_tensor *t = tg_tensor_from(tu_cpu(), TG_F64, 2, S23, host);
    cr_assert_not_null(t, "%s", tg_last_error());
    host[0] = 100;  // the tensor owns a copy
    tu_expect_values(t, V23, 6, 0);
    tg_free(t);

    float hf[3] = {0.5f, -1.5f, 2.25f};
    tg_tensor *f = tg_tensor_from(tu_cpu(), TG_F32, 1, (int64_t[]){3}, hf);
    tu_expect_values(f, (double[]){0.5, -1.5, 2.25}, 3, 0);
    tg_free(f);
}

Test(tensor, from_null_data_is_an_error) {
    tg_clear_error();
    cr_expect_null(tg_tensor_from(tu_cpu(), TG_F64, 2, S23, NULL));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_tensor_from", "host_data");
}

Test(tensor, param_requires_grad) {
    tg_clear_error();
    tg_tensor *p = tg_param(tu_cpu(), TG_F64, 2, S23, V23);
    cr_assert_not_null(p, "%s", tg_last_error());
    cr_expect(tg_requires_grad(p));
    cr_expect_not(tg_is_step(p));
    cr_expect_null(tg_grad_of(p));
    tu_expect_values(p, V23, 6, 0);
    tg_free(p);

    tg_tensor *z = tg_param(tu_cpu(), TG_F32, 1, (int64_t[]){3}, NULL);  // zeros
    cr_assert_not_null(z, "%s", tg_last_error());
    cr_expect(tg_requires_grad(z));
    tu_expect_values(z, (double[]){0, 0, 0}, 3, 0);
    cr_expect_eq(tg_set_requires_grad(z, false), TG_OK);
    cr_expect_not(tg_requires_grad(z));
    tg_free(z);
}

Test(tensor, scalar_is_zero_dim) {
    tg_clear_error();
    tg_tensor *a = tg_scalar(tu_cpu(), TG_F32, 2.5);
    tg_tensor *b = tg_scalar(tu_cpu(), TG_F64, -0.125);
    cr_assert(a && b, "%s", tg_last_error());
    cr_expect_eq(tg_ndim(a), 0);
    cr_expect_eq(tg_numel(a), 1);
    cr_expect_eq(tg_dtype_of(a), TG_F32);
    cr_expect_eq(tg_item(a), 2.5);
    cr_expect_eq(tg_ndim(b), 0);
    cr_expect_eq(tg_dtype_of(b), TG_F64);
    cr_expect_eq(tg_item(b), -0.125);
    tg_free(a);
    tg_free(b);
}

Test(tensor, ndim_zero_to_eight) {
    tg_clear_error();
    int64_t shape[TG_MAX_DIMS] = {2, 1, 3, 1, 2, 1, 2, 1};
    int64_t numel = 1;
    for (int nd = 0; nd <= TG_MAX_DIMS; nd++) {
        if (nd > 0) numel *= shape[nd - 1];
        tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F64, nd, nd ? shape : NULL);
        cr_assert_not_null(t, "ndim %d: %s", nd, tg_last_error());
        cr_expect_eq(tg_ndim(t), nd);
        cr_expect_eq(tg_numel(t), numel, "ndim %d", nd);
        for (int i = 0; i < nd; i++) cr_expect_eq(tg_shape(t)[i], shape[i]);
        tg_free(t);
    }
    cr_expect_eq(tg_last_status(), TG_OK, "%s", tg_last_error());
}

Test(tensor, empty_dimension_is_allowed) {
    tg_clear_error();
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){0, 3});
    cr_assert_not_null(t, "%s", tg_last_error());
    cr_expect_eq(tg_numel(t), 0);
    cr_expect_eq(tg_copy_to_host(t, (float[1]){0}, 0), TG_OK);
    cr_expect_eq(tg_fill_(t, 1.0), TG_OK);
    tg_free(t);
}

Test(tensor, ndim_nine_rejected) {
    tg_clear_error();
    int64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    cr_expect_null(tg_tensor_new(tu_cpu(), TG_F32, 9, shape));
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE);
    tu_expect_error("tg_tensor_new", "ndim 9 outside 0..8");
    tg_clear_error();
    cr_expect_null(tg_tensor_from(tu_cpu(), TG_F32, -1, shape, (float[1]){0}));
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE);
    tu_expect_error("tg_tensor_from", "ndim -1");
}

Test(tensor, negative_dim_rejected) {
    tg_clear_error();
    cr_expect_null(tg_tensor_new(tu_cpu(), TG_F64, 3, (int64_t[]){2, -1, 4}));
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE);
    tu_expect_error("negative dimension", "[2,-1,4]");
    tg_clear_error();
    cr_expect_null(tg_param(tu_cpu(), TG_F64, 1, (int64_t[]){-3}, NULL));
    tu_expect_error("tg_tensor_new", "[-3]");
}

Test(tensor, null_shape_rejected) {
    tg_clear_error();
    cr_expect_null(tg_tensor_new(tu_cpu(), TG_F64, 2, NULL));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_tensor_new", "shape is NULL");
}

Test(tensor, bad_dtype_rejected) {
    tg_clear_error();
    cr_expect_null(tg_tensor_new(tu_cpu(), (tg_dtype)7, 2, S23));
    cr_expect_eq(tg_last_status(), TG_ERR_DTYPE);
    tu_expect_error("tg_tensor_new", "unknown dtype 7");
    tg_clear_error();
    cr_expect_null(tg_scalar(tu_cpu(), TG_DTYPE_COUNT, 1.0));
    cr_expect_eq(tg_last_status(), TG_ERR_DTYPE);
}

Test(tensor, dtype_helpers_and_accessors_on_null) {
    tg_clear_error();
    cr_expect_str_eq(tg_dtype_name(TG_F32), "f32");
    cr_expect_str_eq(tg_dtype_name(TG_F64), "f64");
    cr_expect_str_eq(tg_dtype_name((tg_dtype)42), "?");
    cr_expect_eq(tg_dtype_size(TG_F32), 4);
    cr_expect_eq(tg_dtype_size(TG_F64), 8);
    cr_expect_eq(tg_dtype_size((tg_dtype)42), 0);
    cr_expect_str_eq(tg_version(), "0.1.0");

    cr_expect_eq(tg_ndim(NULL), -1);
    cr_expect_null(tg_shape(NULL));
    cr_expect_eq(tg_numel(NULL), 0);
    cr_expect_eq(tg_dtype_of(NULL), TG_DTYPE_COUNT);
    cr_expect_null(tg_backend_of(NULL));
    cr_expect_not(tg_requires_grad(NULL));
    cr_expect_not(tg_is_step(NULL));
    cr_expect_null(tg_grad_of(NULL));
    cr_expect_eq(tg_free(NULL), TG_OK);
    cr_expect_eq(tg_set_requires_grad(NULL, true), TG_ERR_INVALID_ARG);
}

// ---- reading values ----

Test(tensor, item_on_non_scalar_is_nan_and_error) {
    tg_clear_error();
    tg_tensor *t = tg_tensor_from(tu_cpu(), TG_F64, 2, S23, V23);
    cr_expect(isnan(tg_item(t)));
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE);
    tu_expect_error("tg_item", "[2,3] has 6 elements");
    tg_free(t);
    tg_clear_error();
    t = tg_tensor_from(tu_cpu(), TG_F64, 2, (int64_t[]){1, 1}, (double[]){7.25});
    cr_expect_eq(tg_item(t), 7.25);  // one element, any shape
    cr_expect_eq(tg_last_status(), TG_OK, "%s", tg_last_error());
    tg_free(t);
    cr_expect(isnan(tg_item(NULL)));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
}

Test(tensor, copy_to_and_from_host) {
    tg_clear_error();
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F64, 2, S23);
    cr_assert_eq(tg_copy_from_host(t, V23, sizeof V23), TG_OK, "%s", tg_last_error());
    double back[6] = {0};
    cr_assert_eq(tg_copy_to_host(t, back, sizeof back), TG_OK, "%s", tg_last_error());
    for (int i = 0; i < 6; i++) cr_expect_eq(back[i], V23[i]);
    tg_free(t);
}

Test(tensor, copy_host_size_checks) {
    tg_clear_error();
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F64, 2, S23);
    double buf[8] = {0};
    cr_expect_eq(tg_copy_to_host(t, buf, 6 * sizeof(float)), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_copy_to_host", "buffer has 24 bytes, tensor [2,3] f64 needs 48");
    tg_clear_error();
    cr_expect_eq(tg_copy_from_host(t, buf, sizeof buf), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_copy_from_host", "needs 48");
    tg_clear_error();
    cr_expect_eq(tg_copy_to_host(t, NULL, 48), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_copy_from_host(NULL, buf, 48), TG_ERR_INVALID_ARG);
    tu_expect_values(t, (double[]){0, 0, 0, 0, 0, 0}, 6, 0);  // nothing was written
    tg_free(t);
}

Test(tensor, data_pointers_check_dtype) {
    tg_clear_error();
    tg_tensor *t = tg_tensor_from(tu_cpu(), TG_F64, 2, S23, V23);
    cr_expect_null(tg_data_f32(t));
    cr_expect_eq(tg_last_status(), TG_ERR_DTYPE);
    tu_expect_error("tg_data_f32", "f64");
    tg_clear_error();
    double *d = tg_data_f64(t);
    cr_assert_not_null(d, "%s", tg_last_error());
    cr_expect_eq(d[5], 6.0);
    d[5] = -6.0;  // the pointer aliases the tensor's storage
    tu_expect_values(t, (double[]){1, 2, 3, 4, 5, -6}, 6, 0);
    tg_free(t);

    tg_tensor *f = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){2});
    cr_expect_not_null(tg_data_f32(f));
    cr_expect_null(tg_data_f64(f));
    tu_expect_error("tg_data_f64", "f32");
    tg_free(f);
    tg_clear_error();
    cr_expect_null(tg_data_f32(NULL));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
}

// tg_data_ptr: the storage itself for any dtype, shared by views, NULL for a NULL tensor.
Test(tensor, data_ptr_is_the_storage) {
    tg_tensor *t = tg_tensor_from(tu_cpu(), TG_F64, 2, S23, V23);
    double *d = tg_data_ptr(t);
    cr_assert_not_null(d, "%s", tg_last_error());
    cr_expect_eq((void *)d, (void *)tg_data_f64(t));
    cr_expect_eq(d[4], 5.0);
    tg_tape *tape = tg_tape_new();
    tg_tensor *v = tg_reshape(tape, t, 1, (int64_t[]){6});   // a view shares the storage
    cr_expect_eq(tg_data_ptr(v), (void *)d);
    tg_tensor *y = tg_mul_scalar(tape, t, 2.0);             // a step tensor has its own
    float *f = NULL;
    double *yd = tg_data_ptr(y);
    cr_assert_not_null(yd);
    cr_expect_neq((void *)yd, (void *)d);
    cr_expect_eq(yd[5], 12.0);
    tg_tape_reset(tape);
    tg_clear_error();
    cr_expect_null(tg_data_ptr(y), "a stale step tensor has no storage");
    cr_expect_eq(tg_last_status(), TG_ERR_STATE);
    tg_clear_error();
    cr_expect_null(tg_data_ptr(NULL));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_data_ptr", "NULL");
    tg_tensor *g = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){3});
    f = tg_data_ptr(g);
    cr_assert_not_null(f);
    cr_expect_eq((void *)f, (void *)tg_data_f32(g));
    tg_free(g);
    tg_tape_free(tape);
    tg_free(t);
}

// ---- detached copies ----

// A write through tg_data_ptr is invisible to tapegrad until tg_mark_dirty: after it, a
// recorded graph that read the old values refuses to backward.
Test(tensor, data_ptr_write_then_mark_dirty) {
    tg_tensor *p = tg_param(tu_cpu(), TG_F64, 2, S23, V23);
    tg_tape *tape = tg_tape_new();
    tg_tensor *loss = tg_sum(tape, tg_mul(tape, p, p));
    cr_assert_not_null(loss, "%s", tg_last_error());
    double *d = tg_data_ptr(p);
    cr_assert_not_null(d, "%s", tg_last_error());
    d[0] = 10.0;
    cr_assert_eq(tg_mark_dirty(p), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_backward(tape, loss), TG_ERR_STATE);
    tu_expect_error("modified in place", NULL);
    tg_clear_error();
    tg_tape_free(tape);
    tg_free(p);
}

Test(tensor, to_makes_an_independent_detached_copy) {
    tg_clear_error();
    tg_tensor *p = tg_param(tu_cpu(), TG_F64, 2, S23, V23);
    tg_tensor *c = tg_to(p, NULL);
    cr_assert_not_null(c, "%s", tg_last_error());
    cr_expect_not(tg_requires_grad(c));
    cr_expect_not(tg_is_step(c));
    cr_expect_eq(tg_backend_of(c), tu_cpu());
    cr_expect_eq(tg_ndim(c), 2);
    tg_fill_(p, 0.0);  // the copy does not alias the source
    tu_expect_values(c, V23, 6, 0);
    tg_tensor *c2 = tg_to(c, tu_cpu());
    tu_expect_values(c2, V23, 6, 0);
    tg_free(c2);
    tg_free(c);
    tg_free(p);
}

Test(tensor, to_copies_a_step_tensor_out_of_its_tape) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *p = tg_param(tu_cpu(), TG_F64, 2, S23, V23);
    tg_tensor *y = tg_mul_scalar(tape, p, 2.0);
    tg_tensor *c = tg_to(y, NULL);
    cr_assert_not_null(c, "%s", tg_last_error());
    cr_expect_not(tg_is_step(c));
    cr_expect_not(tg_requires_grad(c));
    tg_tape_free(tape);  // the copy outlives the tape
    tu_expect_values(c, (double[]){2, 4, 6, 8, 10, 12}, 6, 0);
    tg_free(c);
    tg_free(p);
}

Test(tensor, cast_converts_and_copies) {
    tg_clear_error();
    tg_tensor *d = tg_param(tu_cpu(), TG_F64, 2, S23, (double[]){0.1, -2.5, 3, 1e-3, 5, 1e10});
    tg_tensor *f = tg_cast(d, TG_F32);
    cr_assert_not_null(f, "%s", tg_last_error());
    cr_expect_eq(tg_dtype_of(f), TG_F32);
    cr_expect_not(tg_requires_grad(f));
    cr_expect_eq(tg_ndim(f), 2);
    float fv[6];
    cr_assert_eq(tg_copy_to_host(f, fv, sizeof fv), TG_OK);
    cr_expect_eq(fv[0], 0.1f);
    cr_expect_eq(fv[1], -2.5f);
    cr_expect_eq(fv[5], 1e10f);
    tg_tensor *back = tg_cast(f, TG_F64);
    cr_assert_not_null(back, "%s", tg_last_error());
    cr_expect_eq(tg_dtype_of(back), TG_F64);
    tu_expect_values(back, (double[]){0.1f, -2.5, 3, 1e-3f, 5, 1e10f}, 6, 0);
    tg_tensor *same = tg_cast(d, TG_F64);  // a plain copy
    tg_fill_(d, 0.0);
    tu_expect_values(same, (double[]){0.1, -2.5, 3, 1e-3, 5, 1e10}, 6, 0);
    tg_free(same);
    tg_free(back);
    tg_free(f);
    tg_free(d);
}

Test(tensor, to_and_cast_on_null_and_bad_dtype) {
    tg_clear_error();
    cr_expect_null(tg_to(NULL, NULL));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_null(tg_cast(NULL, TG_F32));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){2});
    cr_expect_null(tg_cast(t, (tg_dtype)9));
    cr_expect_eq(tg_last_status(), TG_ERR_DTYPE);
    tu_expect_error("tg_cast", "unknown dtype");
    tg_free(t);
}

// ---- lifetimes ----

Test(tensor, free_of_step_tensor_is_a_state_error) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tg_tensor_from(tu_cpu(), TG_F32, 1, (int64_t[]){3}, (float[]){1, 2, 3});
    tg_tensor *y = tg_add(tape, a, a);
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect(tg_is_step(y));
    cr_expect_eq(tg_free(y), TG_ERR_STATE);
    cr_expect_eq(tg_last_status(), TG_ERR_STATE);
    tu_expect_error("tg_free", "step tensor");
    tu_expect_values(y, (double[]){2, 4, 6}, 3, 0);  // still alive and intact
    cr_expect_eq(tg_set_requires_grad(y, true), TG_ERR_STATE);
    tg_tape_free(tape);
    tg_free(a);
}

Test(tensor, free_of_recorded_persistent_waits_for_reset) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tg_param(tu_cpu(), TG_F64, 2, S23, V23);
    tg_tensor *y = tg_sum(tape, tg_mul(tape, w, w));
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_free(w), TG_ERR_STATE);
    tu_expect_error("tg_free", "still recorded on 1 tape");
    cr_expect_eq(tg_item(y), 91.0);  // w is intact
    tg_clear_error();
    tg_tape_reset(tape);
    cr_expect_eq(tg_free(w), TG_OK, "%s", tg_last_error());
    tg_tape_free(tape);
}

Test(tensor, free_of_recorded_persistent_on_two_tapes) {
    tg_clear_error();
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    tg_tensor *w = tg_param(tu_cpu(), TG_F64, 1, (int64_t[]){2}, (double[]){1, 2});
    cr_assert_not_null(tg_add(t1, w, w));
    cr_assert_not_null(tg_mul(t2, w, w));
    cr_assert_not_null(tg_neg(t1, w));  // recorded twice on t1: pinned once per tape
    cr_expect_eq(tg_free(w), TG_ERR_STATE);
    tu_expect_error("tg_free", "still recorded on");
    tg_clear_error();
    tg_tape_reset(t1);
    cr_expect_eq(tg_free(w), TG_ERR_STATE);  // t2 still holds it
    tu_expect_error("1 tape(s)", NULL);
    tg_clear_error();
    tg_tape_free(t2);  // freeing a tape releases its pins too
    cr_expect_eq(tg_free(w), TG_OK, "%s", tg_last_error());
    tg_tape_free(t1);
}

Test(tensor, unrecorded_use_does_not_pin) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tg_tensor_from(tu_cpu(), TG_F64, 1, (int64_t[]){2}, (double[]){1, 2});
    tg_tensor *y = tg_add(tape, a, a);  // no input requires grad: nothing recorded
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_free(a), TG_OK, "%s", tg_last_error());
    tg_tape_free(tape);
}

// ---- in-place updates ----

static tg_tensor *vec64(double a, double b, double c) {
    return tg_tensor_from(tu_cpu(), TG_F64, 1, (int64_t[]){3}, (double[]){a, b, c});
}

Test(update, fill_and_copy) {
    tg_clear_error();
    tg_tensor *y = vec64(1, 2, 3), *x = vec64(4, 5, 6);
    cr_expect_eq(tg_fill_(y, -0.5), TG_OK);
    tu_expect_values(y, (double[]){-0.5, -0.5, -0.5}, 3, 0);
    cr_expect_eq(tg_copy_(y, x), TG_OK);
    tu_expect_values(y, (double[]){4, 5, 6}, 3, 0);
    tg_fill_(x, 0);
    tu_expect_values(y, (double[]){4, 5, 6}, 3, 0);  // a copy, not an alias

    tg_tensor *f = tg_tensor_new(tu_cpu(), TG_F32, 2, S23);
    cr_expect_eq(tg_fill_(f, 1.25), TG_OK);
    tu_expect_values(f, (double[]){1.25, 1.25, 1.25, 1.25, 1.25, 1.25}, 6, 0);
    tg_free(f);
    tg_free(x);
    tg_free(y);
}

Test(update, axpby) {
    tg_clear_error();
    tg_tensor *y = vec64(1, 2, 3), *x = vec64(10, 20, 30);
    cr_expect_eq(tg_axpby_(y, 0.5, x, -2.0), TG_OK, "%s", tg_last_error());
    tu_expect_values(y, (double[]){3, 6, 9}, 3, 1e-15);
    tg_free(x);
    tg_free(y);
    float yf[4] = {1, -1, 2, 0}, xf[4] = {2, 2, 2, 2};
    tg_tensor *a = tg_tensor_from(tu_cpu(), TG_F32, 1, (int64_t[]){4}, yf);
    tg_tensor *b = tg_tensor_from(tu_cpu(), TG_F32, 1, (int64_t[]){4}, xf);
    cr_expect_eq(tg_axpby_(a, -0.25, b, 1.0), TG_OK);
    tu_expect_values(a, (double[]){0.5, -1.5, 1.5, -0.5}, 4, 1e-7);
    tg_free(a);
    tg_free(b);
}

Test(update, addcmul_addcdiv) {
    tg_clear_error();
    tg_tensor *y = vec64(1, 2, 3), *a = vec64(2, 4, 6), *b = vec64(0.5, 2, -3);
    cr_expect_eq(tg_addcmul_(y, 2.0, a, b), TG_OK, "%s", tg_last_error());
    tu_expect_values(y, (double[]){1 + 2 * 2 * 0.5, 2 + 2 * 4 * 2, 3 + 2 * 6 * -3.0}, 3, 1e-14);
    tg_fill_(y, 1.0);
    cr_expect_eq(tg_addcdiv_(y, -0.5, a, b), TG_OK, "%s", tg_last_error());
    tu_expect_values(y, (double[]){1 - 0.5 * 4, 1 - 0.5 * 2, 1 - 0.5 * -2}, 3, 1e-14);
    tg_free(b);
    tg_free(a);
    tg_free(y);
}

Test(update, addcdiv_sqrt) {
    tg_clear_error();
    tg_tensor *y = vec64(1, 2, 3), *a = vec64(2, -4, 6), *b = vec64(4, 16, 0);
    const double eps = 1e-3;
    cr_expect_eq(tg_addcdiv_sqrt_(y, -0.1, a, b, 1.0, eps), TG_OK, "%s", tg_last_error());
    double want[3] = {1 - 0.1 * 2 / (2 + eps), 2 - 0.1 * -4 / (4 + eps), 3 - 0.1 * 6 / eps};
    tu_expect_values(y, want, 3, 1e-12);
    // b_scale multiplies sqrt(b) (Adam's bias correction): y += value * a / (sqrt(b) * s + eps)
    tg_fill_(y, 0.0);
    cr_expect_eq(tg_addcdiv_sqrt_(y, 1.0, a, b, 0.5, eps), TG_OK, "%s", tg_last_error());
    double want2[3] = {2 / (1 + eps), -4 / (2 + eps), 6 / eps};
    tu_expect_values(y, want2, 3, 1e-9);
    tg_free(b);
    tg_free(a);
    tg_free(y);

    tg_tensor *yf = tg_tensor_from(tu_cpu(), TG_F32, 1, (int64_t[]){2}, (float[]){0, 0});
    tg_tensor *af = tg_tensor_from(tu_cpu(), TG_F32, 1, (int64_t[]){2}, (float[]){1, 3});
    tg_tensor *bf = tg_tensor_from(tu_cpu(), TG_F32, 1, (int64_t[]){2}, (float[]){9, 1});
    cr_expect_eq(tg_addcdiv_sqrt_(yf, 1.0, af, bf, 1.0, 1e-8), TG_OK);
    tu_expect_values(yf, (double[]){1.0 / 3.0, 3.0}, 2, 1e-6);
    tg_free(bf);
    tg_free(af);
    tg_free(yf);
}

Test(update, maximum_max_abs_clamp_scale) {
    tg_clear_error();
    tg_tensor *y = vec64(1, -2, 3), *x = vec64(0, 5, NAN);
    cr_expect_eq(tg_maximum_(y, x), TG_OK, "%s", tg_last_error());
    const double *v = tg_data_f64(y);
    cr_expect(v[0] == 1 && v[1] == 5 && isnan(v[2]), "maximum_ (NaN propagates): %g %g %g", v[0],
              v[1], v[2]);
    tg_tensor *m = vec64(1, 4, 0), *g = vec64(-3, 1, 0);
    cr_expect_eq(tg_max_abs_(m, 0.5, g, 1e-3), TG_OK, "%s", tg_last_error());
    tu_expect_values(m, (double[]){3 + 1e-3, 2, 1e-3}, 3, 1e-15);  // max(0.5 m, |g| + eps)
    tg_tensor *c = vec64(-5, 0.25, 7);
    cr_expect_eq(tg_clamp_(c, -1, 1), TG_OK, "%s", tg_last_error());
    tu_expect_values(c, (double[]){-1, 0.25, 1}, 3, 0);
    cr_expect_eq(tg_clamp_(c, 1, -1), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_clamp_", "lo 1 > hi -1");
    tg_clear_error();
    cr_expect_eq(tg_scale_(c, -2.0), TG_OK, "%s", tg_last_error());
    tu_expect_values(c, (double[]){2, -0.5, -2}, 3, 0);
    tg_free(c);
    tg_free(g);
    tg_free(m);
    tg_free(x);
    tg_free(y);
}

Test(update, mul_sqrt_ratio) {
    tg_clear_error();
    tg_tensor *y = vec64(2, -1, 3), *a = vec64(4, 9, 0), *b = vec64(1, 4, 16);
    const double eps = 1e-6;
    cr_expect_eq(tg_mul_sqrt_ratio_(y, a, b, eps), TG_OK, "%s", tg_last_error());
    double want[3] = {2 * sqrt(4 + eps) / sqrt(1 + eps), -sqrt(9 + eps) / sqrt(4 + eps),
                      3 * sqrt(eps) / sqrt(16 + eps)};
    tu_expect_values(y, want, 3, 1e-12);
    cr_expect_eq(tg_mul_sqrt_ratio_(y, a, NULL, eps), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_free(b);
    tg_free(a);
    tg_free(y);
}

Test(update, shape_and_dtype_mismatch) {
    tg_clear_error();
    tg_tensor *y = vec64(1, 2, 3);
    tg_tensor *x4 = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){4});
    tg_tensor *x2d = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){1, 3});
    tg_tensor *xf = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){3});
    tg_tensor *ok = vec64(1, 1, 1);

    cr_expect_eq(tg_axpby_(y, 1, x4, 1), TG_ERR_SHAPE);
    tu_expect_error("tg_axpby_", "[3] vs [4]");
    tg_clear_error();
    cr_expect_eq(tg_copy_(y, x2d), TG_ERR_SHAPE);  // same numel is not enough
    tu_expect_error("tg_copy_", "[3] vs [1,3]");
    tg_clear_error();
    cr_expect_eq(tg_addcmul_(y, 1, ok, x4), TG_ERR_SHAPE);
    tu_expect_error("tg_addcmul_", "[4]");
    tg_clear_error();
    cr_expect_eq(tg_addcdiv_(y, 1, x4, ok), TG_ERR_SHAPE);
    tu_expect_error("tg_addcdiv_", NULL);
    tg_clear_error();
    cr_expect_eq(tg_addcdiv_sqrt_(y, 1, ok, x2d, 1.0, 1e-8), TG_ERR_SHAPE);
    tu_expect_error("tg_addcdiv_sqrt_", NULL);
    tg_clear_error();
    cr_expect_eq(tg_axpby_(y, 1, xf, 1), TG_ERR_DTYPE);
    tu_expect_error("tg_axpby_", "f64 vs f32");
    tg_clear_error();
    cr_expect_eq(tg_copy_(y, xf), TG_ERR_DTYPE);
    tg_clear_error();
    cr_expect_eq(tg_addcdiv_sqrt_(y, 1, ok, xf, 1.0, 1e-8), TG_ERR_DTYPE);
    tg_clear_error();
    cr_expect_eq(tg_addcmul_(y, 1, ok, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_fill_(NULL, 1), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_axpby_(NULL, 1, ok, 1), TG_ERR_INVALID_ARG);
    tu_expect_values(y, (double[]){1, 2, 3}, 3, 0);  // failed updates write nothing
    tg_free(ok);
    tg_free(xf);
    tg_free(x2d);
    tg_free(x4);
    tg_free(y);
}

Test(update, recorded_step_tensor_refuses_updates) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tg_param(tu_cpu(), TG_F64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    tg_tensor *y = tg_mul(tape, w, w);
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_fill_(y, 0), TG_ERR_STATE);
    tu_expect_error("tg_fill_", "recorded in the graph");
    tg_clear_error();
    cr_expect_eq(tg_axpby_(y, 1, w, 1), TG_ERR_STATE);
    tu_expect_values(y, (double[]){1, 4, 9}, 3, 0);
    tg_tape_free(tape);
    tg_free(w);
}

// ---- random numbers ----

Test(rng, same_seed_same_numbers) {
    tg_clear_error();
    tg_rng *a = tg_rng_new(1234), *b = tg_rng_new(1234);
    for (int i = 0; i < 100; i++) cr_expect_eq(tg_rng_uniform(a), tg_rng_uniform(b));
    for (int i = 0; i < 101; i++) cr_expect_eq(tg_rng_normal(a), tg_rng_normal(b));
    tg_rng_free(a);
    tg_rng_free(b);

    a = tg_rng_new(7);
    b = tg_rng_new(7);
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){4, 5});
    tg_tensor *y = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){4, 5});
    cr_expect_eq(tg_normal_(x, a, 0, 1), TG_OK);
    cr_expect_eq(tg_normal_(y, b, 0, 1), TG_OK);
    cr_expect_eq(memcmp(tg_data_f64(x), tg_data_f64(y), 20 * sizeof(double)), 0);
    tg_free(x);
    tg_free(y);
    tg_rng_free(a);
    tg_rng_free(b);
}

Test(rng, different_seeds_differ) {
    tg_clear_error();
    tg_rng *a = tg_rng_new(1), *b = tg_rng_new(2);
    int same = 0;
    for (int i = 0; i < 100; i++) same += tg_rng_uniform(a) == tg_rng_uniform(b);
    cr_expect_eq(same, 0);
    tg_rng_free(a);
    tg_rng_free(b);
}

Test(rng, uniform_in_range) {
    tg_clear_error();
    tg_rng *r = tg_rng_new(99);
    double lo = 1.0, hi = 0.0, sum = 0;
    for (int i = 0; i < 10000; i++) {
        double u = tg_rng_uniform(r);
        cr_assert(u >= 0.0 && u < 1.0, "u = %.17g", u);
        if (u < lo) lo = u;
        if (u > hi) hi = u;
        sum += u;
    }
    cr_expect(lo < 0.01 && hi > 0.99, "range [%g, %g]", lo, hi);
    cr_expect(fabs(sum / 10000 - 0.5) < 0.02, "mean %g", sum / 10000);

    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){10000});
    cr_assert_eq(tg_uniform_(t, r, -3.0, 5.0), TG_OK, "%s", tg_last_error());
    const double *v = tg_data_f64(t);
    double mn = 1e9, mx = -1e9;
    for (int i = 0; i < 10000; i++) {
        cr_assert(v[i] >= -3.0 && v[i] < 5.0, "v[%d] = %.17g", i, v[i]);
        mn = fmin(mn, v[i]);
        mx = fmax(mx, v[i]);
    }
    cr_expect(mn < -2.9 && mx > 4.9, "range [%g, %g]", mn, mx);
    tg_free(t);
    tg_rng_free(r);
}

Test(rng, uniform_f32_stays_below_hi) {
    // [1, nextafter(1)) holds one f32 value; rounding the double draw to f32 must not
    // produce hi itself (about half the draws would round up to it).
    tg_clear_error();
    tg_rng *r = tg_rng_new(5);
    const float hi = nextafterf(1.0f, 2.0f);
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){1000});
    cr_assert_eq(tg_uniform_(t, r, 1.0, hi), TG_OK, "%s", tg_last_error());
    const float *v = tg_data_f32(t);
    for (int i = 0; i < 1000; i++) cr_assert(v[i] >= 1.0f && v[i] < hi, "v[%d] = %.9g", i, v[i]);
    cr_assert_eq(tg_uniform_(t, r, -1.0, 1.0), TG_OK);
    for (int i = 0; i < 1000; i++) cr_assert(v[i] >= -1.0f && v[i] < 1.0f, "v[%d]", i);
    tg_free(t);
    tg_rng_free(r);
}

Test(rng, normal_mean_and_std) {
    tg_clear_error();
    tg_rng *r = tg_rng_new(2024);
    const int n = 10000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double z = tg_rng_normal(r);
        s += z;
        s2 += z * z;
    }
    double mean = s / n, sd = sqrt(s2 / n - mean * mean);
    cr_expect(fabs(mean) < 0.05, "mean %g", mean);
    cr_expect(fabs(sd - 1.0) < 0.05, "std %g", sd);

    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){100, 100});
    cr_assert_eq(tg_normal_(t, r, 3.0, 0.5), TG_OK, "%s", tg_last_error());
    const float *v = tg_data_f32(t);
    s = s2 = 0;
    for (int i = 0; i < n; i++) {
        s += v[i];
        s2 += (double)v[i] * v[i];
    }
    mean = s / n;
    sd = sqrt(s2 / n - mean * mean);
    cr_expect(fabs(mean - 3.0) < 0.03, "mean %g", mean);
    cr_expect(fabs(sd - 0.5) < 0.03, "std %g", sd);
    tg_free(t);
    tg_rng_free(r);
}

Test(rng, bad_arguments) {
    tg_clear_error();
    cr_expect(isnan(tg_rng_uniform(NULL)));
    tu_expect_error("tg_rng_uniform", "rng is NULL");
    tg_clear_error();
    cr_expect(isnan(tg_rng_normal(NULL)));
    tu_expect_error("tg_rng_normal", "rng is NULL");
    tg_clear_error();
    tg_rng_free(NULL);
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){3});
    cr_expect_eq(tg_uniform_(t, NULL, 0, 1), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_uniform_", "rng is NULL");
    tg_clear_error();
    tg_rng *r = tg_rng_new(1);
    cr_expect_eq(tg_normal_(NULL, r, 0, 1), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_normal_", "tensor is NULL");
    tg_clear_error();
    tg_tensor *u = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){3});
    cr_expect_eq(tg_uniform_(u, r, 2, 1), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_uniform_", "need finite lo <= hi, got [2, 1)");
    tg_clear_error();
    cr_expect_eq(tg_normal_(u, r, 0, -1), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_normal_", "std >= 0");
    tg_clear_error();
    cr_expect_eq(tg_uniform_(u, r, 1, 1), TG_OK, "lo == hi fills lo");
    cr_expect_eq(tg_data_f64(u)[2], 1.0);
    tg_free(u);
    tg_rng_free(r);
    tg_free(t);
}

// ---- the error API ----

Test(error, status_strings) {
    tg_clear_error();
    cr_expect_str_eq(tg_status_str(TG_OK), "ok");
    cr_expect_str_eq(tg_status_str(TG_ERR_SHAPE), "shape mismatch");
    cr_expect_str_eq(tg_status_str(TG_ERR_STATE), "invalid state");
    for (int s = TG_ERR_STATUS_MIN; s <= TG_OK; s++) {
        cr_expect_not_null(tg_status_str(s));
        cr_expect(strlen(tg_status_str(s)) > 0);
        cr_expect_str_neq(tg_status_str(s), "unknown status", "status %d", s);
    }
    cr_expect_str_eq(tg_status_str(TG_ERR_STATUS_MIN - 1), "unknown status");
    cr_expect_str_eq(tg_status_str(1), "unknown status");
}

Test(error, first_error_wins_until_cleared) {
    tg_clear_error();
    cr_expect_eq(tg_last_status(), TG_OK);
    cr_expect_str_eq(tg_last_error(), "");
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F32, 9, NULL);
    cr_expect_null(t);
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE);
    char first[512];
    snprintf(first, sizeof first, "%s", tg_last_error());
    cr_expect_null(tg_tensor_new(tu_cpu(), (tg_dtype)5, 1, (int64_t[]){1}));  // second
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE);
    cr_expect_str_eq(tg_last_error(), first);
    tg_clear_error();
    cr_expect_eq(tg_last_status(), TG_OK);
    cr_expect_str_eq(tg_last_error(), "");
    cr_expect_null(tg_tensor_new(tu_cpu(), (tg_dtype)5, 1, (int64_t[]){1}));
    cr_expect_eq(tg_last_status(), TG_ERR_DTYPE);
    tu_expect_error("unknown dtype 5", NULL);
}

Test(error, null_input_propagation_keeps_first_message) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){3, 4});
    tg_tensor *b = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){5, 2});
    // One expression, one check at the end: the matmul's message survives.
    tg_tensor *y = tg_sum(tape, tg_relu(tape, tg_add(tape, tg_matmul(tape, a, b), a)));
    cr_expect_null(y);
    cr_expect_eq(tg_last_status(), TG_ERR_SHAPE);
    tu_expect_error("tg_matmul", "[3,4]");
    tu_expect_error("[5,2]", NULL);
    cr_expect(isnan(tg_item(y)));
    cr_expect_eq(tg_copy_to_host(y, (double[1]){0}, 8), TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_backward(tape, y), TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_print(y, NULL), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_matmul", NULL);
    cr_expect_null(strstr(tg_last_error(), "NULL"), "%s", tg_last_error());
    tg_tape_free(tape);
    tg_free(a);
    tg_free(b);
}

static void count_log(const char *msg, void *user) {
    (void)msg;
    ++*(int *)user;
}

Test(error, log_callback_sees_first_error) {
    tg_clear_error();
    int n = 0;
    tg_log_set(count_log, &n);
    cr_expect_null(tg_tensor_new(tu_cpu(), TG_F32, -2, NULL));
    cr_expect_null(tg_tensor_new(tu_cpu(), TG_F32, -2, NULL));  // not a new error
    tg_log_set(NULL, NULL);
    cr_expect_eq(n, 1);
}

// ---- backends ----

Test(backend, cpu_and_default) {
    tg_clear_error();
    unsetenv("TG_BACKEND");
    tg_backend *cpu = tg_backend_get("cpu");
    cr_assert_not_null(cpu, "%s", tg_last_error());
    cr_expect_eq(tg_backend_get(NULL), cpu);
    cr_expect_str_eq(tg_backend_name(cpu), "cpu");
    cr_expect_str_eq(tg_backend_name(NULL), "(null)");
    cr_expect_eq(tg_backend_synchronize(cpu), TG_OK);
    cr_expect_eq(tg_backend_set_threads(cpu, 0), TG_OK);
    cr_expect_eq(tg_backend_set_threads(cpu, -1), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_backend_synchronize(NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    setenv("TG_BACKEND", "cpu", 1);
    cr_expect_eq(tg_backend_get(NULL), cpu);
    tg_tensor *t = tg_tensor_new(NULL, TG_F64, 1, (int64_t[]){4});  // NULL: the default
    cr_assert_not_null(t, "%s", tg_last_error());
    cr_expect_eq(tg_backend_of(t), cpu);
    tg_free(t);
}

Test(backend, unknown_name_is_null_with_message) {
    tg_clear_error();
    cr_expect_null(tg_backend_get("nope"));
    cr_expect_eq(tg_last_status(), TG_ERR_BACKEND);
    tu_expect_error("tg_backend_get", "unknown backend 'nope'");
}

Test(backend, cuda_missing_module_is_null_with_message) {
    tg_clear_error();
    setenv("TG_BACKEND_PATH", "/nonexistent", 1);
    cr_expect_null(tg_backend_get("cuda"));
    cr_expect_eq(tg_last_status(), TG_ERR_BACKEND);
    tu_expect_error("cuda backend not available", "/nonexistent");
    // The failure is not sticky for other backends.
    tg_clear_error();
    cr_expect_not_null(tg_backend_get("cpu"));
    tg_clear_error();
    cr_expect_null(tg_backend_get("cuda"));
    tu_expect_error("cuda backend not available", NULL);
}

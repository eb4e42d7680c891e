// Tests for ops/shape.c: reshape (inferred -1, 0-dim, views), transpose (negative dims,
// 3-D), expand (NumPy broadcasts), detach, hand-computed gradients, and bad shapes / dims.
#include "test_util.h"

TestSuite(ops_shape, .init = tg_clear_error);

static const double x23[6] = {1, 2, 3, 4, 5, 6};  // [[1,2,3],[4,5,6]]

// ---- reshape ----

static void check_reshape(tu_arr x, int ndim, const int64_t *shape, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *t = tu_make(dt, x, false);
        tg_tensor *y = tg_reshape(tape, t, ndim, shape);
        cr_assert_not_null(y, "%s: %s", tg_dtype_name(dt), tg_last_error());
        cr_expect(tg_is_step(y));
        cr_expect_eq(tg_dtype_of(y), dt);
        tu_expect_arr(y, want, 0);
        tg_tape_free(tape);
        tu_free(t);
    }
}

Test(ops_shape, reshape_forward) {
    tu_arr x = {2, {2, 3}, x23};
    check_reshape(x, 2, (int64_t[]){3, 2}, (tu_arr){2, {3, 2}, x23});
    check_reshape(x, 1, (int64_t[]){-1}, (tu_arr){1, {6}, x23});
    check_reshape(x, 2, (int64_t[]){-1, 2}, (tu_arr){2, {3, 2}, x23});
    check_reshape(x, 3, (int64_t[]){1, -1, 1}, (tu_arr){3, {1, 6, 1}, x23});
    check_reshape(x, 4, (int64_t[]){3, 1, 2, 1}, (tu_arr){4, {3, 1, 2, 1}, x23});
    check_reshape((tu_arr){2, {1, 1}, (double[]){7}}, 0, NULL, (tu_arr){0, {0}, (double[]){7}});
    check_reshape((tu_arr){0, {0}, (double[]){7}}, 3, (int64_t[]){1, -1, 1},
                  (tu_arr){3, {1, 1, 1}, (double[]){7}});
    // empty: -1 is inferred from the known dims
    check_reshape((tu_arr){2, {0, 3}, NULL}, 2, (int64_t[]){3, -1}, (tu_arr){2, {3, 0}, NULL});
}

Test(ops_shape, reshape_3d_inferred) {
    double x[24];
    for (int i = 0; i < 24; i++) x[i] = i;
    check_reshape((tu_arr){3, {2, 3, 4}, x}, 2, (int64_t[]){-1, 4}, (tu_arr){2, {6, 4}, x});
    check_reshape((tu_arr){3, {2, 3, 4}, x}, 2, (int64_t[]){2, -1}, (tu_arr){2, {2, 12}, x});
}

// loss = sum(reshape(x, [3,2]) * w): the gradient is w laid back out as [2,3].
Test(ops_shape, reshape_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, x23}, true);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){2, {3, 2}, (double[]){1, 2, 3, 4, 5, 6}}, false);
    tg_tensor *y = tg_reshape(tape, x, 2, (int64_t[]){3, -1});
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, w))), TG_OK, "%s", tg_last_error());
    tu_expect_shape(tg_grad_of(x), 2, (int64_t[]){2, 3});
    tu_expect_grad(x, (double[]){1, 2, 3, 4, 5, 6}, 6, 0);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(w);
}

Test(ops_shape, reshape_bad_sizes) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tu_expect_fail(tg_reshape(tape, x, 1, (int64_t[]){4}), TG_ERR_SHAPE, "tg_reshape", "[2,3]",
                   "[4]");
    tg_clear_error();
    tu_expect_fail(tg_reshape(tape, x, 2, (int64_t[]){4, 2}), TG_ERR_SHAPE, "tg_reshape", "[2,3]",
                   "[4,2]");
    tg_clear_error();
    tu_expect_fail(tg_reshape(tape, x, 2, (int64_t[]){-1, 4}), TG_ERR_SHAPE, "tg_reshape", "[2,3]",
                   "[-1,4]");
    tg_clear_error();
    tu_expect_fail(tg_reshape(tape, x, 2, (int64_t[]){-1, -1}), TG_ERR_SHAPE, "tg_reshape",
                   "[-1,-1]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_reshape(tape, x, 2, (int64_t[]){-2, -3}), TG_ERR_SHAPE, "tg_reshape",
                   "[-2,-3]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_reshape(tape, x, 0, NULL), TG_ERR_SHAPE, "tg_reshape", "[2,3]", "[]");
    tg_clear_error();
    tu_expect_fail(tg_reshape(tape, x, 3, (int64_t[]){0, -1, 6}), TG_ERR_SHAPE, "tg_reshape",
                   "[2,3]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_reshape(tape, x, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2, 3}), TG_ERR_SHAPE,
                   "tg_reshape", "ndim 9", NULL);
    tg_clear_error();
    tu_expect_fail(tg_reshape(tape, x, 2, NULL), TG_ERR_SHAPE, "tg_reshape", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_reshape(tape, NULL, 1, (int64_t[]){6}), TG_ERR_INVALID_ARG, "tg_reshape",
                   "NULL", NULL);
    cr_expect_eq(tg_tape_size(tape), 0);
    tg_tape_free(tape);
    tu_free(x);
}

// ---- transpose ----

static void check_transpose(tu_arr x, int d0, int d1, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *t = tu_make(dt, x, false);
        tg_tensor *y = tg_transpose(tape, t, d0, d1);
        cr_assert_not_null(y, "%s (%d, %d): %s", tg_dtype_name(dt), d0, d1, tg_last_error());
        tu_expect_arr(y, want, 0);
        tg_tape_free(tape);
        tu_free(t);
    }
}

Test(ops_shape, transpose_2d) {
    tu_arr x = {2, {2, 3}, x23}, want = {2, {3, 2}, (double[]){1, 4, 2, 5, 3, 6}};
    check_transpose(x, 0, 1, want);
    check_transpose(x, 1, 0, want);
    check_transpose(x, -1, -2, want);
    check_transpose(x, 0, -1, want);
    check_transpose(x, 1, 1, x);  // same dim: a copy
}

// x[i,j,k] = 12i + 4j + k over [2,3,4].
Test(ops_shape, transpose_3d) {
    double x[24], y02[24], y12[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                x[(i * 3 + j) * 4 + k] = 12 * i + 4 * j + k;
                y02[(k * 3 + j) * 2 + i] = 12 * i + 4 * j + k;  // [4,3,2]
                y12[(i * 4 + k) * 3 + j] = 12 * i + 4 * j + k;  // [2,4,3]
            }
    // first elements of transpose(x, 0, 2) read down axis 0: x[0,0,0], x[1,0,0], x[0,1,0]
    cr_assert(y02[0] == 0 && y02[1] == 12 && y02[2] == 4);
    check_transpose((tu_arr){3, {2, 3, 4}, x}, 0, 2, (tu_arr){3, {4, 3, 2}, y02});
    check_transpose((tu_arr){3, {2, 3, 4}, x}, -1, 0, (tu_arr){3, {4, 3, 2}, y02});
    check_transpose((tu_arr){3, {2, 3, 4}, x}, 1, 2, (tu_arr){3, {2, 4, 3}, y12});
    check_transpose((tu_arr){3, {2, 3, 4}, x}, -1, -2, (tu_arr){3, {2, 4, 3}, y12});
}

// loss = sum(transpose(x) * w): the gradient is w transposed back.
Test(ops_shape, transpose_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, x23}, true);
    tg_tensor *w = tu_make(TG_F64, (tu_arr){2, {3, 2}, (double[]){1, 2, 3, 4, 5, 6}}, false);
    tg_tensor *y = tg_transpose(tape, x, -1, 0);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, w))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){1, 3, 5, 2, 4, 6}, 6, 0);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(w);
}

Test(ops_shape, transpose_bad_dims) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *s = tu_make(TG_F64, (tu_arr){0, {0}, (double[]){1}}, false);
    tu_expect_fail(tg_transpose(tape, x, 0, 2), TG_ERR_INVALID_ARG, "tg_transpose", "(0, 2)",
                   "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_transpose(tape, x, -3, 0), TG_ERR_INVALID_ARG, "tg_transpose", "(-3, 0)",
                   "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_transpose(tape, s, 0, 0), TG_ERR_INVALID_ARG, "tg_transpose", "[]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_transpose(tape, NULL, 0, 1), TG_ERR_INVALID_ARG, "tg_transpose", "NULL",
                   NULL);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(s);
}

// ---- expand ----

static void check_expand(tu_arr x, int ndim, const int64_t *shape, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *t = tu_make(dt, x, false);
        tu_expect_arr(tg_expand(tape, t, ndim, shape), want, 0);
        tg_tape_free(tape);
        tu_free(t);
    }
}

Test(ops_shape, expand_forward) {
    // [3,1] -> [2,3,4]: y[a,b,c] = x[b]
    double want[24];
    for (int i = 0; i < 24; i++) want[i] = (i / 4) % 3 + 1;
    cr_assert(want[4] == 2 && want[12] == 1 && want[23] == 3);
    check_expand((tu_arr){2, {3, 1}, (double[]){1, 2, 3}}, 3, (int64_t[]){2, 3, 4},
                 (tu_arr){3, {2, 3, 4}, want});
    check_expand((tu_arr){1, {3}, (double[]){1, 2, 3}}, 2, (int64_t[]){2, 3},
                 (tu_arr){2, {2, 3}, (double[]){1, 2, 3, 1, 2, 3}});
    check_expand((tu_arr){2, {2, 1}, (double[]){1, 2}}, 2, (int64_t[]){2, 3},
                 (tu_arr){2, {2, 3}, (double[]){1, 1, 1, 2, 2, 2}});
    check_expand((tu_arr){0, {0}, (double[]){5}}, 2, (int64_t[]){2, 2},
                 (tu_arr){2, {2, 2}, (double[]){5, 5, 5, 5}});
    check_expand((tu_arr){2, {2, 3}, x23}, 2, (int64_t[]){2, 3}, (tu_arr){2, {2, 3}, x23});
    check_expand((tu_arr){2, {1, 3}, x23}, 2, (int64_t[]){0, 3}, (tu_arr){2, {0, 3}, NULL});
}

// loss = sum(expand(x [3,1], [2,3,4]) * w): each x[b] collects the 8 w's it was copied to.
Test(ops_shape, expand_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {3, 1}, (double[]){1, 2, 3}}, true);
    double w[24];
    for (int i = 0; i < 24; i++) w[i] = i;
    tg_tensor *tw = tu_make(TG_F64, (tu_arr){3, {2, 3, 4}, w}, false);
    tg_tensor *y = tg_expand(tape, x, 3, (int64_t[]){2, 3, 4});
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, tw))), TG_OK, "%s",
                 tg_last_error());
    // x[b] collects w[a,b,c] = 12a + 4b + c over a, c: 12*4 + 8*4b + 2*6 = 60 + 32b
    tu_expect_shape(tg_grad_of(x), 2, (int64_t[]){3, 1});
    tu_expect_grad(x, (double[]){60, 92, 124}, 3, 0);
    tg_tape_free(tape);
    tu_free(x);
    tu_free(tw);
}

Test(ops_shape, expand_bad_shapes) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tu_expect_fail(tg_expand(tape, x, 2, (int64_t[]){3, 3}), TG_ERR_SHAPE, "tg_expand", "[2,3]",
                   "[3,3]");
    tg_clear_error();
    tu_expect_fail(tg_expand(tape, x, 1, (int64_t[]){3}), TG_ERR_SHAPE, "tg_expand", "[2,3]",
                   "[3]");
    tg_clear_error();
    tu_expect_fail(tg_expand(tape, x, 3, (int64_t[]){2, 3, 1}), TG_ERR_SHAPE, "tg_expand", "[2,3]",
                   "[2,3,1]");
    tg_clear_error();
    tu_expect_fail(tg_expand(tape, x, 2, (int64_t[]){2, -1}), TG_ERR_SHAPE, "tg_expand", "[2,3]",
                   "[2,-1]");
    tg_clear_error();
    tu_expect_fail(tg_expand(tape, x, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2, 3}), TG_ERR_SHAPE,
                   "tg_expand", "ndim 9", NULL);
    tg_clear_error();
    tu_expect_fail(tg_expand(tape, NULL, 2, (int64_t[]){2, 3}), TG_ERR_INVALID_ARG, "tg_expand",
                   "NULL", NULL);
    tg_tape_free(tape);
    tu_free(x);
}

// ---- detach ----

// Same values, no gradient: d/dx sum(detach(x) * x) = x (one path only).
Test(ops_shape, detach) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){1, -2, 3}}, true);
    tg_tensor *d = tg_detach(tape, x);
    tu_expect_arr(d, (tu_arr){1, {3}, (double[]){1, -2, 3}}, 0);
    cr_expect_not(tg_requires_grad(d));
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, d, x))), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, (double[]){1, -2, 3}, 3, 0);
    tu_expect_fail(tg_detach(tape, NULL), TG_ERR_INVALID_ARG, "tg_detach", "NULL", NULL);
    tg_tape_free(tape);
    tu_free(x);
}

// A failed input keeps its message through shape ops.
Test(ops_shape, first_error_wins) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *y = tg_expand(tape, tg_transpose(tape, tg_reshape(tape, x, 1, (int64_t[]){5}), 0, 1),
                             2, (int64_t[]){2, 3});
    tu_expect_fail(y, TG_ERR_SHAPE, "tg_reshape: ", "[5]", NULL);
    cr_expect_null(strstr(tg_last_error(), "tg_transpose"), "overwritten: %s", tg_last_error());
    tg_tape_free(tape);
    tu_free(x);
}

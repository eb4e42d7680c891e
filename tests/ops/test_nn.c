// Tests for the nn ops (ops/nnops.c) and losses (ops/loss.c): softmax and log_softmax (fused
// over the last axis, composed over others; stable for large logits and -inf entries, one
// tape node when fused), dropout (seeded, scaled, identity when off), every loss with each
// reduction, and bad shapes, reductions and arguments. Expected values were worked out with
// Python's math module.
#include <math.h>

#include "test_util.h"

TestSuite(ops_nn, .init = tg_clear_error);

// ---- softmax / log_softmax ----

Test(ops_nn, softmax_forward) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        double tol = dt == TG_F32 ? 1e-6 : 1e-12;
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(dt, (tu_arr){1, {3}, (double[]){1, 2, 3}}, false);
        tu_expect_arr(
            tg_softmax(tape, x, 0),
            (tu_arr){
                1, {3}, (double[]){0.09003057317038046, 0.24472847105479767, 0.6652409557748219}},
            tol);
        tu_expect_arr(
            tg_log_softmax(tape, x, -1),
            (tu_arr){1, {3}, (double[]){-2.40760596444438, -1.40760596444438, -0.40760596444438}},
            tol * 10);
        // rows (fused) and columns (composed) of [[1,1],[1000,1000]]: large logits do not
        // overflow.
        tg_tensor *m = tu_make(dt, (tu_arr){2, {2, 2}, (double[]){1, 1, 1000, 1000}}, false);
        tu_expect_arr(tg_softmax(tape, m, 1), (tu_arr){2, {2, 2}, (double[]){0.5, 0.5, 0.5, 0.5}},
                      tol);
        tu_expect_arr(tg_softmax(tape, m, 0), (tu_arr){2, {2, 2}, (double[]){0, 0, 1, 1}}, tol);
        tg_tape_free(tape);
        tu_free(x);
        tu_free(m);
    }
}

// softmax's rows sum to 1, so the gradient of their sum is zero.
Test(ops_nn, softmax_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, (double[]){1, 2, 3, -1, 0, 4}}, true);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_softmax(tape, x, 1))), TG_OK, "%s",
                 tg_last_error());
    tu_expect_grad(x, (double[]){0, 0, 0, 0, 0, 0}, 6, 1e-15);
    tg_tape_free(tape);
    tu_free(x);
}

// Expects t's values to equal want[] within tol, where non-finite entries of want must be
// matched exactly (-inf by -inf, NaN by NaN).
static void expect_nonfinite_values(const tg_tensor *t, const double *want, int64_t n, double tol) {
    cr_assert_not_null(t, "tensor is NULL: %s", tg_last_error());
    cr_assert_eq(tg_numel(t), n);
    double got[256];
    cr_assert(n <= 256);
    if (tg_dtype_of(t) == TG_F64) {
        cr_assert_eq(tg_copy_to_host(t, got, (size_t)n * 8), TG_OK);
    } else {
        float f[256];
        cr_assert_eq(tg_copy_to_host(t, f, (size_t)n * 4), TG_OK);
        for (int64_t i = 0; i < n; i++) got[i] = f[i];
    }
    for (int64_t i = 0; i < n; i++) {
        bool ok = isfinite(want[i]) ? fabs(got[i] - want[i]) <= tol
                                    : (isnan(want[i]) ? isnan(got[i]) : got[i] == want[i]);
        cr_expect(ok, "element %lld: got %.10g, want %.10g", (long long)i, got[i], want[i]);
    }
}

// The fused path (last axis) on a [2,3] input worked out by hand, in both dtypes.
Test(ops_nn, softmax_last_axis_2x3) {
    static const double x[] = {1, 2, 3, -1, 0, 0.5};
    static const double sm[] = {0.09003057317038046, 0.24472847105479764, 0.6652409557748218,
                                0.12195165230972886, 0.33149896042409155, 0.5465493872661796};
    static const double lsm[] = {-2.4076059644443806, -1.4076059644443804, -0.4076059644443804,
                                 -2.1041306053367284, -1.1041306053367284, -0.6041306053367282};
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        double tol = dt == TG_F32 ? 1e-6 : 1e-15;
        tg_tape *tape = tg_tape_new();
        tg_tensor *t = tu_make(dt, (tu_arr){2, {2, 3}, x}, false);
        tu_expect_arr(tg_softmax(tape, t, 1), (tu_arr){2, {2, 3}, sm}, tol);
        tu_expect_arr(tg_softmax(tape, t, -1), (tu_arr){2, {2, 3}, sm}, tol);
        tu_expect_arr(tg_log_softmax(tape, t, 1), (tu_arr){2, {2, 3}, lsm}, tol * 4);
        tu_expect_arr(tg_log_softmax(tape, t, -1), (tu_arr){2, {2, 3}, lsm}, tol * 4);
        tg_tape_free(tape);
        tu_free(t);
    }
}

// Rows with -inf entries stay finite where torch's do: exp(-inf) = 0, log_softmax -inf there.
// A row of +-1000 needs the max shift; an all -inf row and a row with a NaN are NaN (as in
// torch).
Test(ops_nn, softmax_neg_inf_rows) {
    const double inf = INFINITY, nan = NAN;
    // clang-format off
    const double x[] = {-inf, 0, 0,
                        1000, -inf, 999,
                        -1000, -inf, 1000,
                        -inf, -inf, -inf,
                        1, nan, 2};
    const double sm[] = {0, 0.5, 0.5,
                         0.7310585786300049, 0, 0.2689414213699951,
                         0, 0, 1,
                         nan, nan, nan,
                         nan, nan, nan};
    const double lsm[] = {-inf, -0.6931471805599453, -0.6931471805599453,
                          -0.31326168751822286, -inf, -1.3132616875182228,
                          -2000, -inf, 0,
                          nan, nan, nan,
                          nan, nan, nan};
    // clang-format on
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        // f32 log_softmax: one ulp of 1000..2000 is 6e-5..1.2e-4
        double tol = dt == TG_F32 ? 1e-6 : 1e-13, ltol = dt == TG_F32 ? 2.5e-4 : 1e-12;
        tg_tape *tape = tg_tape_new();
        tg_tensor *t = tu_make(dt, (tu_arr){2, {5, 3}, x}, false);
        expect_nonfinite_values(tg_softmax(tape, t, 1), sm, 15, tol);
        expect_nonfinite_values(tg_log_softmax(tape, t, -1), lsm, 15, ltol);
        tg_tape_free(tape);
        tu_free(t);
    }
}

// Rows long enough for the kernels' vector loops (37: vector bodies plus a tail), with -inf
// and NaN at assorted positions, against a serial reference in double.
Test(ops_nn, softmax_long_rows) {
    enum {
        N = 4,
        C = 37
    };
    double x[N * C], sm[N * C], lsm[N * C];
    for (int i = 0; i < N * C; i++) x[i] = ((i * 7919) % 1000) / 10.0 - 50;  // [-50, 50)
    x[1 * C + 5] = x[1 * C + 20] = x[1 * C + 36] = -INFINITY;
    x[2 * C + 33] = 900;  // a max in the tail
    x[3 * C + 30] = NAN;
    for (int i = 0; i < N; i++) {
        const double *r = x + i * C;
        double m = -INFINITY, s = 0;
        for (int k = 0; k < C; k++) m = r[k] > m ? r[k] : m;
        for (int k = 0; k < C; k++) s += exp(r[k] - m);
        for (int k = 0; k < C; k++) {
            sm[i * C + k] = exp(r[k] - m) / s;
            lsm[i * C + k] = r[k] - m - log(s);
        }
    }
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        double tol = dt == TG_F32 ? 1e-6 : 1e-14, ltol = dt == TG_F32 ? 1e-4 : 1e-12;
        tg_tape *tape = tg_tape_new();
        tg_tensor *t = tu_make(dt, (tu_arr){2, {N, C}, x}, false);
        expect_nonfinite_values(tg_softmax(tape, t, 1), sm, N * C, tol);
        expect_nonfinite_values(tg_log_softmax(tape, t, 1), lsm, N * C, ltol);
        tg_tape_free(tape);
        tu_free(t);
    }
}

// A +inf entry makes its row NaN (torch shifts by the max: inf - inf), fused (last axis:
// rows of 3 and of 37, the kernels' scalar and vector paths) and composed (axis 0); before,
// the shift fell back to 0 and left inf / -inf. Rows without +inf are unchanged.
Test(ops_nn, softmax_pos_inf_rows) {
    enum { C = 37 };
    for (int64_t c = 3; c <= C; c += C - 3) {
        double x[2 * C], sm1[C];
        double s = 0;
        for (int64_t k = 0; k < c; k++) {
            x[k] = k == c / 2 ? INFINITY : (double)(k % 5);
            x[c + k] = (double)(k % 5);
            s += exp(x[c + k]);
        }
        for (int64_t k = 0; k < c; k++) sm1[k] = exp(x[c + k]) / s;
        for (int k = 0; k < TU_N_DTYPES; k++) {
            tg_dtype dt = tu_dtype(k);
            tg_tape *tape = tg_tape_new();
            tg_tensor *t = tu_make(dt, (tu_arr){2, {2, c}, x}, false);
            tg_tensor *tt = tg_transpose(tape, t, 0, 1);
            tg_tensor *ys[4] = {tg_softmax(tape, t, 1), tg_log_softmax(tape, t, -1),
                                tg_transpose(tape, tg_softmax(tape, tt, 0), 0, 1),
                                tg_transpose(tape, tg_log_softmax(tape, tt, 0), 0, 1)};
            for (int j = 0; j < 4; j++) {
                tg_tensor *y = tg_cast(ys[j], TG_F64);
                cr_assert_not_null(y, "%s", tg_last_error());
                const double *v = tg_data_f64(y);
                for (int64_t i = 0; i < c; i++) {
                    cr_expect(isnan(v[i]), "c %lld, form %d: [0,%lld] = %g", (long long)c, j,
                              (long long)i, v[i]);
                    double want = j % 2 ? log(sm1[i]) : sm1[i];
                    cr_expect(fabs(v[c + i] - want) < 1e-6, "c %lld, form %d: [1,%lld] = %g",
                              (long long)c, j, (long long)i, v[c + i]);
                }
                tu_free(y);
            }
            tg_tape_free(tape);
            tu_free(t);
        }
    }
}

// Gradients through -inf entries are finite: softmax's is 0 there, log_softmax's is dy.
Test(ops_nn, softmax_grad_neg_inf) {
    const double inf = INFINITY;
    const double x[] = {-inf, 0, 0, 1000, -inf, 999};
    const double w[] = {1, 2, 3, -1, 0.5, 2};
    const double dsm[] = {0, -0.25, 0.25, -0.5898357997244456, 0, 0.5898357997244456};
    const double dlsm[] = {1, -1, 0, -2.0965878679450074, 0.5, 1.5965878679450074};
    for (int take_log = 0; take_log < 2; take_log++) {
        tg_tape *tape = tg_tape_new();
        tg_tensor *t = tu_make(TG_F64, (tu_arr){2, {2, 3}, x}, true);
        tg_tensor *wt = tu_make(TG_F64, (tu_arr){2, {2, 3}, w}, false);
        tg_tensor *y = take_log ? tg_log_softmax(tape, t, 1) : tg_softmax(tape, t, 1);
        cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, wt))), TG_OK, "%s",
                     tg_last_error());
        tu_expect_grad(t, take_log ? dlsm : dsm, 6, 1e-12);
        tg_tape_free(tape);
        tu_free(t);
        tu_free(wt);
    }
}

// Over the last axis each call records one tape node (the fused op); other axes compose.
Test(ops_nn, softmax_one_node_on_last_axis) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F32, (tu_arr){3, {2, 3, 4}, NULL}, true);
    cr_assert_not_null(tg_softmax(tape, x, 2), "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), 1);
    cr_assert_not_null(tg_log_softmax(tape, x, -1), "%s", tg_last_error());
    cr_expect_eq(tg_tape_size(tape), 2);
    cr_assert_not_null(tg_softmax(tape, x, 1), "%s", tg_last_error());
    cr_expect_gt(tg_tape_size(tape), 3, "the middle axis takes the composed path");
    tg_tape_free(tape);
    tu_free(x);
}

// The gradient rules as ops, worked by hand: y = [0.2, 0.3, 0.5], dy = [1, 2, 3]:
//   softmax:     sum(dy*y) = 2.3, dx = y*(dy - 2.3) = [-0.26, -0.09, 0.35]
//   log_softmax: from y = log([0.2, 0.3, 0.5]): sum(dy) = 6, dx = dy - 6*exp(y) = [-0.2, 0.2, 0]
// Both rows of a [2,3] input (the second row scaled by 2 in dy: dx doubles), one node each.
Test(ops_nn, softmax_grad_ops_forward) {
    static const double y[6] = {0.2, 0.3, 0.5, 0.2, 0.3, 0.5}, dy[6] = {1, 2, 3, 2, 4, 6};
    static const double sm[6] = {-0.26, -0.09, 0.35, -0.52, -0.18, 0.7};
    static const double lsm[6] = {-0.2, 0.2, 0, -0.4, 0.4, 0};
    double ly[6];
    for (int i = 0; i < 6; i++) ly[i] = log(y[i]);
    for (int d = 0; d < TU_N_DTYPES; d++) {
        tg_dtype dt = tu_dtype(d);
        tg_tape *tape = tg_tape_new();
        tg_tensor *ty = tu_make(dt, (tu_arr){2, {2, 3}, y}, true);
        tg_tensor *tly = tu_make(dt, (tu_arr){2, {2, 3}, ly}, true);
        tg_tensor *tdy = tu_make(dt, (tu_arr){2, {2, 3}, dy}, true);
        tu_expect_arr(tg_softmax_grad(tape, tdy, ty), (tu_arr){2, {2, 3}, sm}, tu_tol(dt) * 10);
        cr_expect_eq(tg_tape_size(tape), 1);
        tu_expect_arr(tg_log_softmax_grad(tape, tdy, tly), (tu_arr){2, {2, 3}, lsm},
                      tu_tol(dt) * 10);
        cr_expect_eq(tg_tape_size(tape), 2);
        tg_tape_free(tape);
        tu_free(ty);
        tu_free(tly);
        tu_free(tdy);
    }
}

Test(ops_nn, softmax_grad_ops_bad_arguments) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    tg_tensor *f = tu_make(TG_F32, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *s = tg_scalar(tu_cpu(), TG_F64, 1.0);
    tu_expect_fail(tg_softmax_grad(tape, a, b), TG_ERR_SHAPE, "tg_softmax_grad", "[2,3]", "[3]");
    tg_clear_error();
    tu_expect_fail(tg_log_softmax_grad(tape, b, a), TG_ERR_SHAPE, "tg_log_softmax_grad",
                   "one shape", NULL);
    tg_clear_error();
    tu_expect_fail(tg_softmax_grad(tape, s, s), TG_ERR_SHAPE, "tg_softmax_grad", "1-D", NULL);
    tg_clear_error();
    tu_expect_fail(tg_softmax_grad(tape, a, f), TG_ERR_DTYPE, "tg_softmax_grad", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_log_softmax_grad(tape, NULL, a), TG_ERR_INVALID_ARG,
                   "tg_log_softmax_grad", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_softmax_grad(NULL, a, a), TG_ERR_INVALID_ARG, "tg_softmax_grad",
                   "tape is NULL", NULL);
    tg_clear_error();
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
    tu_free(f);
    tg_free(s);
}

Test(ops_nn, softmax_bad_arguments) {
    tg_tape *tape = tg_tape_new(), *other = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tu_expect_fail(tg_softmax(tape, x, 2), TG_ERR_INVALID_ARG, "tg_softmax", "axis 2 out of range",
                   "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_log_softmax(tape, x, -3), TG_ERR_INVALID_ARG, "tg_log_softmax",
                   "axis -3 out of range", "[2,3]");
    tg_clear_error();
    tu_expect_fail(tg_softmax(tape, NULL, 1), TG_ERR_INVALID_ARG, "tg_softmax", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_log_softmax(NULL, x, 1), TG_ERR_INVALID_ARG, "tg_log_softmax", "tape is NULL",
                   NULL);
    tg_clear_error();
    tg_tensor *step = tg_exp(other, x);
    cr_assert_not_null(step);
    tu_expect_fail(tg_log_softmax(tape, step, 1), TG_ERR_STATE, "tg_log_softmax", "another tape",
                   NULL);
    tg_clear_error();
    tg_tensor *s = tg_scalar(tu_cpu(), TG_F64, 1.0);
    tu_expect_fail(tg_softmax(tape, s, 0), TG_ERR_INVALID_ARG, "tg_softmax", "axis 0", "[]");
    tg_tape_free(tape);
    tg_tape_free(other);
    tu_free(x);
    tu_free(s);
}

// ---- dropout ----

Test(ops_nn, dropout) {
    enum {
        N = 1000
    };
    double v[N];
    for (int i = 0; i < N; i++) v[i] = 1 + i % 7;
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(dt, (tu_arr){1, {N}, v}, false);
        // off, or p = 0: the input itself
        cr_expect_eq(tg_dropout(tape, x, 0.5, NULL, false), x);
        cr_expect_eq(tg_dropout(tape, x, 0, NULL, true), x);
        // p = 1 drops everything
        tg_rng *rng = tg_rng_new(3);
        double zeros[N] = {0};
        tu_expect_arr(tg_dropout(tape, x, 1, rng, true), (tu_arr){1, {N}, zeros}, 0);
        // p = 0.25: kept values scaled by 4/3, about 3/4 of them kept, same mask per seed
        tg_rng *r1 = tg_rng_new(11), *r2 = tg_rng_new(11);
        tg_tensor *y1 = tg_cast(tg_dropout(tape, x, 0.25, r1, true), TG_F64);
        tg_tensor *y2 = tg_cast(tg_dropout(tape, x, 0.25, r2, true), TG_F64);
        cr_assert(y1 && y2, "%s", tg_last_error());
        const double *a = tg_data_f64(y1), *b = tg_data_f64(y2);
        int kept = 0;
        for (int i = 0; i < N; i++) {
            cr_expect(a[i] == 0 || fabs(a[i] - v[i] / 0.75) < 1e-5, "element %d: %g", i, a[i]);
            cr_expect_eq(a[i], b[i], "element %d differs between equal seeds", i);
            kept += a[i] != 0;
        }
        cr_expect(kept > 680 && kept < 820, "kept %d of %d at p = 0.25", kept, N);
        tg_tape_free(tape);
        tu_free(x), tu_free(y1), tu_free(y2);
        tg_rng_free(rng), tg_rng_free(r1), tg_rng_free(r2);
    }
}

Test(ops_nn, dropout_bad_arguments) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    tg_rng *rng = tg_rng_new(1);
    tu_expect_fail(tg_dropout(tape, x, 1.5, rng, true), TG_ERR_INVALID_ARG, "tg_dropout",
                   "p must be in [0, 1]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_dropout(tape, x, -0.1, rng, true), TG_ERR_INVALID_ARG, "tg_dropout", "p",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_dropout(tape, x, 0.5, NULL, true), TG_ERR_INVALID_ARG, "tg_dropout", "rng",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_dropout(tape, NULL, 0.5, rng, true), TG_ERR_INVALID_ARG, "tg_dropout", "NULL",
                   NULL);
    tg_tape_free(tape);
    tu_free(x);
    tg_rng_free(rng);
}

// ---- losses ----

typedef tg_tensor *(*loss_fn)(tg_tape *, tg_tensor *, tg_tensor *, tg_reduction);

static tg_tensor *huber1(tg_tape *t, tg_tensor *p, tg_tensor *y, tg_reduction r) {
    return tg_huber_loss(t, p, y, 1.0, r);
}
static tg_tensor *huber2(tg_tape *t, tg_tensor *p, tg_tensor *y, tg_reduction r) {
    return tg_huber_loss(t, p, y, 2.0, r);
}

// loss(pred, target) with each reduction in both dtypes: none gives `each`, sum and mean
// their total and average.
static void check_loss(loss_fn f, tu_arr pred, tu_arr target, const double *each) {
    int64_t n = tu_numel(pred.ndim, pred.shape);
    double total = 0;
    for (int64_t i = 0; i < n; i++) total += each[i];
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        double tol = dt == TG_F32 ? 1e-5 : 1e-12;
        tg_tape *tape = tg_tape_new();
        tg_tensor *p = tu_make(dt, pred, false), *y = tu_make(dt, target, false);
        tu_arr want = pred;
        want.v = each;
        tu_expect_arr(f(tape, p, y, TG_REDUCE_NONE), want, tol);
        tu_expect_values(f(tape, p, y, TG_REDUCE_SUM_ALL), &total, 1, tol);
        double mean = total / (double)n;
        tu_expect_values(f(tape, p, y, TG_REDUCE_MEAN), &mean, 1, tol);
        tu_expect_shape(f(tape, p, y, TG_REDUCE_MEAN), 0, NULL);
        tg_tape_free(tape);
        tu_free(p), tu_free(y);
    }
}

Test(ops_nn, regression_losses) {
    tu_arr p = {1, {3}, (double[]){1, 2, 3}}, y = {1, {3}, (double[]){0, 2, 5}};  // d = 1,0,-2
    check_loss(tg_mse_loss, p, y, (double[]){1, 0, 4});
    check_loss(tg_l1_loss, p, y, (double[]){1, 0, 2});
    check_loss(huber1, p, y, (double[]){0.5, 0, 1.5});
    check_loss(huber2, p, y, (double[]){0.5, 0, 2});
}

Test(ops_nn, bce_losses) {
    check_loss(tg_bce_loss, (tu_arr){1, {2}, (double[]){0.5, 0.9}},
               (tu_arr){1, {2}, (double[]){1, 0}},
               (double[]){0.6931471805599453, 2.302585092994046});
    // log(0) is clamped at -100
    check_loss(tg_bce_loss, (tu_arr){1, {2}, (double[]){0, 1}}, (tu_arr){1, {2}, (double[]){1, 0}},
               (double[]){100, 100});
    check_loss(tg_bce_with_logits, (tu_arr){1, {2}, (double[]){0, 2}},
               (tu_arr){1, {2}, (double[]){1, 0}},
               (double[]){0.6931471805599453, 2.1269280110429727});
    // large logits stay finite
    check_loss(tg_bce_with_logits, (tu_arr){1, {2}, (double[]){1000, -1000}},
               (tu_arr){1, {2}, (double[]){1, 1}}, (double[]){0, 1000});
}

Test(ops_nn, nll_cross_entropy) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        double tol = dt == TG_F32 ? 1e-5 : 1e-12;
        tg_tape *tape = tg_tape_new();
        tg_tensor *logp = tu_make(dt, (tu_arr){2, {2, 2}, (double[]){-1, -2, -3, -4}}, false);
        tg_tensor *lab = tu_make(dt, (tu_arr){1, {2}, (double[]){1, 0}}, false);
        tg_tensor *w = tu_make(dt, (tu_arr){1, {2}, (double[]){0.5, 2}}, false);
        tu_expect_arr(tg_nll_loss(tape, logp, lab, NULL, TG_REDUCE_NONE),
                      (tu_arr){1, {2}, (double[]){2, 3}}, tol);
        tu_expect_values(tg_nll_loss(tape, logp, lab, NULL, TG_REDUCE_MEAN), (double[]){2.5}, 1,
                         tol);
        tu_expect_values(tg_nll_loss(tape, logp, lab, NULL, TG_REDUCE_SUM_ALL), (double[]){5}, 1,
                         tol);
        // weighted: picked weights 2 and 0.5; mean divides by their sum
        tu_expect_arr(tg_nll_loss(tape, logp, lab, w, TG_REDUCE_NONE),
                      (tu_arr){1, {2}, (double[]){4, 1.5}}, tol);
        tu_expect_values(tg_nll_loss(tape, logp, lab, w, TG_REDUCE_MEAN), (double[]){2.2}, 1, tol);
        tg_tensor *logits = tu_make(dt, (tu_arr){2, {1, 3}, (double[]){1, 2, 3}}, false);
        tg_tensor *l2 = tu_make(dt, (tu_arr){1, {1}, (double[]){2}}, false);
        tu_expect_values(tg_cross_entropy(tape, logits, l2, NULL, TG_REDUCE_MEAN),
                         (double[]){0.40760596444438}, 1, tol * 10);
        tg_tape_free(tape);
        tu_free(logp), tu_free(lab), tu_free(w), tu_free(logits), tu_free(l2);
    }
}

// d/dlogits cross_entropy = softmax - one_hot (mean over one row).
Test(ops_nn, cross_entropy_grad) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {1, 3}, (double[]){1, 2, 3}}, true);
    tg_tensor *lab = tu_make(TG_F64, (tu_arr){1, {1}, (double[]){0}}, false);
    cr_assert_eq(tg_backward(tape, tg_cross_entropy(tape, x, lab, NULL, TG_REDUCE_MEAN)), TG_OK,
                 "%s", tg_last_error());
    tu_expect_grad(x, (double[]){0.09003057317038046 - 1, 0.24472847105479767, 0.6652409557748219},
                   3, 1e-12);
    tg_tape_free(tape);
    tu_free(x), tu_free(lab);
}

Test(ops_nn, bad_losses) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *p = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    tg_tensor *q = tu_make(TG_F64, (tu_arr){1, {2}, NULL}, false);
    static const struct {
        const char *name;
        loss_fn f;
    } losses[] = {{"tg_mse_loss", tg_mse_loss},
                  {"tg_l1_loss", tg_l1_loss},
                  {"tg_huber_loss", huber1},
                  {"tg_bce_loss", tg_bce_loss},
                  {"tg_bce_with_logits", tg_bce_with_logits}};
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) {
        tg_clear_error();
        tu_expect_fail(losses[i].f(tape, p, q, TG_REDUCE_MEAN), TG_ERR_SHAPE, losses[i].name, "[3]",
                       "[2]");
        tg_clear_error();
        tu_expect_fail(losses[i].f(tape, p, p, (tg_reduction)9), TG_ERR_INVALID_ARG, losses[i].name,
                       "unknown reduction 9", NULL);
        tg_clear_error();
        tu_expect_fail(losses[i].f(tape, NULL, p, TG_REDUCE_MEAN), TG_ERR_INVALID_ARG,
                       losses[i].name, "NULL", NULL);
    }
    tg_clear_error();
    tu_expect_fail(tg_huber_loss(tape, p, p, 0, TG_REDUCE_MEAN), TG_ERR_INVALID_ARG,
                   "tg_huber_loss", "delta", NULL);
    tg_tape_free(tape);
    tu_free(p), tu_free(q);
}

Test(ops_nn, bad_nll_cross_entropy) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *logp = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *lab = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){0, 1}}, false);
    tg_tensor *lab3 = tu_make(TG_F64, (tu_arr){1, {3}, (double[]){0, 1, 2}}, false);
    tg_tensor *oob = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){0, 3}}, false);
    tg_tensor *w2 = tu_make(TG_F64, (tu_arr){1, {2}, (double[]){1, 1}}, false);
    tg_tensor *x3 = tu_make(TG_F64, (tu_arr){3, {1, 2, 3}, NULL}, false);
    tu_expect_fail(tg_nll_loss(tape, logp, lab3, NULL, TG_REDUCE_MEAN), TG_ERR_SHAPE, "tg_nll_loss",
                   "[2,3]", "[3]");
    tg_clear_error();
    tu_expect_fail(tg_nll_loss(tape, logp, lab, w2, TG_REDUCE_MEAN), TG_ERR_SHAPE, "tg_nll_loss",
                   "weight", NULL);
    tg_clear_error();
    tu_expect_fail(tg_nll_loss(tape, logp, oob, NULL, TG_REDUCE_MEAN), TG_ERR_INVALID_ARG,
                   "out of range", NULL, NULL);
    tg_clear_error();
    tu_expect_fail(tg_nll_loss(tape, logp, lab, NULL, (tg_reduction)7), TG_ERR_INVALID_ARG,
                   "tg_nll_loss", "unknown reduction", NULL);
    tg_clear_error();
    tu_expect_fail(tg_nll_loss(tape, NULL, lab, NULL, TG_REDUCE_MEAN), TG_ERR_INVALID_ARG,
                   "tg_nll_loss", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_cross_entropy(tape, x3, lab, NULL, TG_REDUCE_MEAN), TG_ERR_SHAPE,
                   "tg_cross_entropy", "[1,2,3]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_cross_entropy(tape, logp, lab3, NULL, TG_REDUCE_MEAN), TG_ERR_SHAPE,
                   "tg_cross_entropy", "[3]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_cross_entropy(tape, logp, oob, NULL, TG_REDUCE_MEAN), TG_ERR_INVALID_ARG,
                   "tg_cross_entropy", "label", NULL);
    tg_clear_error();
    tu_expect_fail(tg_cross_entropy(tape, NULL, lab, NULL, TG_REDUCE_MEAN), TG_ERR_INVALID_ARG,
                   "NULL", NULL, NULL);
    tg_tape_free(tape);
    tu_free(logp), tu_free(lab), tu_free(lab3), tu_free(oob), tu_free(w2), tu_free(x3);
}

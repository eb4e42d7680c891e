// Losses of ops/loss.c at extreme magnitudes, against values worked out exactly: the fused
// softmax cross-entropy with huge logits (rows of ties at 2^100, offsets at 1e15, both
// kernels' row paths: f32 rows under 16 classes go in blocks, c = 2 specialised), +inf and
// -inf logits (torch's NaN and inf), and bce_with_logits at huge logits and its tiny losses
// at confident logits (summed as two terms >= 0, no cancellation). The everyday values and
// bad arguments are in test_nn.c; torch's own values in test_torch_fixtures.c.
#include <math.h>

#include "test_util.h"

TestSuite(ops_loss, .init = tg_clear_error);

// Row lengths that reach every row path of the kernels: c = 2 (the specialised short block),
// 3 (short block), 8 (a full vector, short block in f32), 20 and 37 (vector loops + tails).
static const int64_t widths[] = {2, 3, 8, 20, 37};

// Logits [3, c]: row 0 all P, row 1 all -P, row 2 P except a -inf and a -P (for c >= 3);
// labels 0, c - 1, 0. Returns each row's loss; grad[] gets softmax - onehot.
static void ties_rows(int64_t c, double *z, double *lab, double *loss, double *grad) {
    const double P = ldexp(1, 100);
    for (int64_t k = 0; k < c; k++) {
        z[k] = P;
        z[c + k] = -P;
        z[2 * c + k] = k == 1 && c >= 3 ? -INFINITY : (k == 2 && c >= 3 ? -P : P);
    }
    lab[0] = 0, lab[1] = (double)(c - 1), lab[2] = 0;
    double n2 = c >= 3 ? (double)(c - 2) : (double)c;   // row 2's number of P entries
    loss[0] = loss[1] = log((double)c);
    loss[2] = log(n2);
    for (int64_t k = 0; k < c; k++) {
        grad[k] = 1.0 / (double)c - (k == 0);
        grad[c + k] = 1.0 / (double)c - (k == c - 1);
        grad[2 * c + k] = (z[2 * c + k] == P ? 1.0 / n2 : 0.0) - (k == 0);
    }
}

// Rows of equal logits at 2^100 keep their O(1) loss log(c) (the f64 kernel computed
// log(s) + max - z[y], which rounds log(s) away: 0), and their gradient 1/c - onehot.
Test(ops_loss, cross_entropy_huge_logit_ties) {
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int64_t c = widths[w];
        double z[3 * 37], lab[3], loss[3], grad[3 * 37];
        ties_rows(c, z, lab, loss, grad);
        for (int k = 0; k < TU_N_DTYPES; k++) {
            tg_dtype dt = tu_dtype(k);
            double tol = dt == TG_F32 ? 1e-6 : 1e-15;
            tg_tape *tape = tg_tape_new();
            tg_tensor *x = tu_make(dt, (tu_arr){2, {3, c}, z}, true);
            tg_tensor *y = tu_make(dt, (tu_arr){1, {3}, lab}, false);
            tg_tensor *l = tg_cross_entropy(tape, x, y, NULL, TG_REDUCE_NONE);
            tu_expect_values(l, loss, 3, tol);
            double total = loss[0] + loss[1] + loss[2];
            tu_expect_values(tg_cross_entropy(tape, x, y, NULL, TG_REDUCE_SUM_ALL), &total, 1,
                             3 * tol);
            cr_assert_eq(tg_backward(tape, tg_sum(tape, l)), TG_OK, "%s", tg_last_error());
            tu_expect_grad(x, grad, 3 * c, tol);
            tg_tape_free(tape);
            tu_free(x), tu_free(y);
        }
    }
}

// Logits at 1e15 + small offsets (f64 only: f32 cannot hold them): the loss is
// log(sum(exp(o))) - o[label] of the offsets, to round-off of the O(1) loss (the old f64
// kernel was off by up to 0.06, one rounding of log(s) + 1e15).
Test(ops_loss, cross_entropy_f64_large_offsets) {
    const double o[2][3] = {{0, 1.25, -0.5}, {2, 2, -3}};
    const double lab[2] = {1, 0};
    double z[6], want[2], grad[6];
    for (int i = 0; i < 2; i++) {
        double s = 0;
        for (int k = 0; k < 3; k++) {
            z[3 * i + k] = 1e15 + o[i][k];
            s += exp(o[i][k]);
        }
        want[i] = log(s) - o[i][(int)lab[i]];
        for (int k = 0; k < 3; k++) grad[3 * i + k] = exp(o[i][k]) / s - (k == (int)lab[i]);
    }
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_make(TG_F64, (tu_arr){2, {2, 3}, z}, true);
    tg_tensor *y = tu_make(TG_F64, (tu_arr){1, {2}, lab}, false);
    tg_tensor *l = tg_cross_entropy(tape, x, y, NULL, TG_REDUCE_NONE);
    tu_expect_values(l, want, 2, 1e-14);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, l)), TG_OK, "%s", tg_last_error());
    tu_expect_grad(x, grad, 6, 1e-15);
    tg_tape_free(tape);
    tu_free(x), tu_free(y);
}

// A row with a +inf logit is NaN, loss and gradient, as torch's (inf - inf); it was inf (or
// NaN only where the label sat on the inf). A label on a -inf logit costs inf, with a finite
// gradient. Each width, both dtypes.
Test(ops_loss, cross_entropy_infinite_logits) {
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int64_t c = widths[w];
        double z[2 * 37], lab[2] = {(double)(c - 1), 1};
        for (int64_t k = 0; k < c; k++) {
            z[k] = k == 0 ? INFINITY : (double)k;
            z[c + k] = k == 1 ? -INFINITY : 0.5;
        }
        for (int k = 0; k < TU_N_DTYPES; k++) {
            tg_dtype dt = tu_dtype(k);
            tg_tape *tape = tg_tape_new();
            tg_tensor *x = tu_make(dt, (tu_arr){2, {2, c}, z}, true);
            tg_tensor *y = tu_make(dt, (tu_arr){1, {2}, lab}, false);
            tg_tensor *l = tg_cross_entropy(tape, x, y, NULL, TG_REDUCE_NONE);
            cr_assert_eq(tg_backward(tape, tg_sum(tape, l)), TG_OK, "%s", tg_last_error());
            tg_tensor *l64 = tg_cast(l, TG_F64), *g64 = tg_cast(tg_grad_of(x), TG_F64);
            const double *lv = tg_data_f64(l64), *gv = tg_data_f64(g64);
            cr_expect(isnan(lv[0]), "c %lld: +inf row: loss %g", (long long)c, lv[0]);
            cr_expect(isinf(lv[1]) && lv[1] > 0, "c %lld: label on -inf: loss %g", (long long)c,
                      lv[1]);
            for (int64_t j = 0; j < c; j++) {
                cr_expect(isnan(gv[j]), "c %lld: +inf row: grad[%lld] = %g", (long long)c,
                          (long long)j, gv[j]);
                double want = (j == 1 ? 0 : 1.0 / (double)(c - 1)) - (j == 1);
                cr_expect(fabs(gv[c + j] - want) < 1e-6, "c %lld: grad[%lld] = %g, want %g",
                          (long long)c, (long long)j, gv[c + j], want);
            }
            tu_free(l64), tu_free(g64);
            tg_tape_free(tape);
            tu_free(x), tu_free(y);
        }
    }
}

// bce_with_logits at +-2^100: 0 where the target agrees, |x| * the disagreeing share
// elsewhere, and the gradient sigmoid(x) - t (0 or +-1, or 1/2 - t).
Test(ops_loss, bce_with_logits_huge_logits) {
    const double P = ldexp(1, 100);
    const double x[] = {P, -P, P, -P, P}, t[] = {1, 0, 0, 1, 0.25};
    const double loss[] = {0, 0, P, P, 0.75 * P}, grad[] = {0, 0, 1, -1, 0.75};
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *tx = tu_make(dt, (tu_arr){1, {5}, x}, true);
        tg_tensor *tt = tu_make(dt, (tu_arr){1, {5}, t}, false);
        tg_tensor *l = tg_bce_with_logits(tape, tx, tt, TG_REDUCE_NONE);
        tu_expect_values(l, loss, 5, 0);
        cr_assert_eq(tg_backward(tape, tg_sum(tape, l)), TG_OK, "%s", tg_last_error());
        tu_expect_grad(tx, grad, 5, 0);
        tg_tape_free(tape);
        tu_free(tx), tu_free(tt);
    }
}

// Confident right answers keep their tiny loss log1p(exp(-|x|)) and gradient -+sigmoid(-|x|)
// to a relative 1e-14 (f64) / 1e-6 (f32): the old form softplus(x) - x*t cancelled them
// (0 at x = 36, t = 1; 3e-7 relative at x = 20; 0 from x = 20 on in f32). torch 1.13 rounds
// log(1 + tiny) and sigmoid(x) - 1 (0 from x = 40 on, 4.5% off at 36).
Test(ops_loss, bce_with_logits_confident_tiny_losses) {
    const double x[] = {20, -20, 36, -36, 100, -100, 700, -700};
    const double t[] = {1, 0, 1, 0, 1, 0, 1, 0};
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        double rtol = dt == TG_F32 ? 1e-6 : 1e-14;
        int n = dt == TG_F32 ? 4 : 8;   // exp(-100) is subnormal in f32, exp(-700) is 0
        tg_tape *tape = tg_tape_new();
        tg_tensor *tx = tu_make(dt, (tu_arr){1, {n}, x}, true);
        tg_tensor *tt = tu_make(dt, (tu_arr){1, {n}, t}, false);
        tg_tensor *l = tg_bce_with_logits(tape, tx, tt, TG_REDUCE_NONE);
        cr_assert_eq(tg_backward(tape, tg_sum(tape, l)), TG_OK, "%s", tg_last_error());
        tg_tensor *l64 = tg_cast(l, TG_F64), *g64 = tg_cast(tg_grad_of(tx), TG_F64);
        const double *lv = tg_data_f64(l64), *gv = tg_data_f64(g64);
        for (int i = 0; i < n; i++) {
            double a = fabs(x[i]), want_l = log1p(exp(-a));
            double want_g = (x[i] > 0 ? -1 : 1) * exp(-a) / (1 + exp(-a));
            cr_expect(fabs(lv[i] - want_l) <= rtol * want_l, "%s x %g: loss %.17g, want %.17g",
                      tg_dtype_name(dt), x[i], lv[i], want_l);
            cr_expect(fabs(gv[i] - want_g) <= rtol * fabs(want_g), "%s x %g: grad %.17g, want "
                      "%.17g", tg_dtype_name(dt), x[i], gv[i], want_g);
        }
        tu_free(l64), tu_free(g64);
        tg_tape_free(tape);
        tu_free(tx), tu_free(tt);
    }
}

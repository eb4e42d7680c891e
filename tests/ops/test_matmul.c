// Tests for ops/matmul.c: products with every transpose flag (stored transposed, read
// through strides), degenerate sizes, a larger product against a naive loop, gradients
// worked by hand for each flag, and bad shapes / NULLs / mixed dtypes.
#include "test_util.h"

TestSuite(ops_matmul, .init = tg_clear_error);

// A = [[1,2,3],[4,5,6]] [2,3], B = [[7,8],[9,10],[11,12]] [3,2], A @ B = [[58,64],[139,154]]
static const double A[6] = {1, 2, 3, 4, 5, 6}, AT[6] = {1, 4, 2, 5, 3, 6};
static const double B[6] = {7, 8, 9, 10, 11, 12}, BT[6] = {7, 9, 11, 8, 10, 12};
static const double AB[4] = {58, 64, 139, 154};

// op(a) @ op(b) in both dtypes against want.
static void check_matmul(tu_arr a, tu_arr b, bool ta, bool tb, tu_arr want) {
    for (int k = 0; k < TU_N_DTYPES; k++) {
        tg_dtype dt = tu_dtype(k);
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tu_make(dt, a, false), *y = tu_make(dt, b, false);
        tg_tensor *z = tg_matmul_ex(tape, x, y, ta, tb);
        cr_assert_not_null(z, "%s ta=%d tb=%d: %s", tg_dtype_name(dt), ta, tb, tg_last_error());
        cr_expect_eq(tg_dtype_of(z), dt);
        tu_expect_arr(z, want, dt == TG_F32 ? 1e-4 : 1e-12);
        if (!ta && !tb) tu_expect_arr(tg_matmul(tape, x, y), want, dt == TG_F32 ? 1e-4 : 1e-12);
        tg_tape_free(tape);
        tu_free(x);
        tu_free(y);
    }
}

Test(ops_matmul, forward_every_transpose) {
    tu_arr want = {2, {2, 2}, AB};
    check_matmul((tu_arr){2, {2, 3}, A}, (tu_arr){2, {3, 2}, B}, false, false, want);
    check_matmul((tu_arr){2, {3, 2}, AT}, (tu_arr){2, {3, 2}, B}, true, false, want);
    check_matmul((tu_arr){2, {2, 3}, A}, (tu_arr){2, {2, 3}, BT}, false, true, want);
    check_matmul((tu_arr){2, {3, 2}, AT}, (tu_arr){2, {2, 3}, BT}, true, true, want);
}

// Non-square results: B @ A is [3,3], and A^T @ A via trans_a on one tensor.
Test(ops_matmul, forward_shapes) {
    check_matmul((tu_arr){2, {3, 2}, B}, (tu_arr){2, {2, 3}, A}, false, false,
                 (tu_arr){2, {3, 3}, (double[]){39, 54, 69, 49, 68, 87, 59, 82, 105}});
    check_matmul((tu_arr){2, {2, 3}, A}, (tu_arr){2, {2, 3}, A}, true, false,
                 (tu_arr){2, {3, 3}, (double[]){17, 22, 27, 22, 29, 36, 27, 36, 45}});
    check_matmul((tu_arr){2, {2, 3}, A}, (tu_arr){2, {2, 3}, A}, false, true,
                 (tu_arr){2, {2, 2}, (double[]){14, 32, 32, 77}});
    check_matmul((tu_arr){2, {1, 1}, (double[]){3}}, (tu_arr){2, {1, 1}, (double[]){-2}}, false,
                 false, (tu_arr){2, {1, 1}, (double[]){-6}});
    // outer product [3,1] @ [1,2]
    check_matmul((tu_arr){2, {3, 1}, (double[]){1, 2, 3}}, (tu_arr){2, {1, 2}, (double[]){1, -1}},
                 false, false, (tu_arr){2, {3, 2}, (double[]){1, -1, 2, -2, 3, -3}});
}

// An empty inner dimension gives zeros; an empty outer one gives an empty result.
Test(ops_matmul, forward_empty) {
    check_matmul((tu_arr){2, {2, 0}, NULL}, (tu_arr){2, {0, 3}, NULL}, false, false,
                 (tu_arr){2, {2, 3}, (double[]){0, 0, 0, 0, 0, 0}});
    check_matmul((tu_arr){2, {0, 3}, NULL}, (tu_arr){2, {3, 2}, B}, false, false,
                 (tu_arr){2, {0, 2}, NULL});
}

// A bigger product (the gemm's blocked paths) against a naive triple loop.
Test(ops_matmul, forward_against_naive) {
    enum {
        M = 17,
        K = 23,
        N = 9
    };
    double a[M * K], b[K * N], want[M * N];
    tg_rng *rng = tg_rng_new(7);
    for (int i = 0; i < M * K; i++) a[i] = tg_rng_uniform(rng) * 2 - 1;
    for (int i = 0; i < K * N; i++) b[i] = tg_rng_uniform(rng) * 2 - 1;
    tg_rng_free(rng);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
            want[i * N + j] = s;
        }
    check_matmul((tu_arr){2, {M, K}, a}, (tu_arr){2, {K, N}, b}, false, false,
                 (tu_arr){2, {M, N}, want});
}

// Every size class the cpu gemm dispatches on (the small-matrix kernel's full and edge
// tiles, its k-blocking past 256, its transposed orientation for short n, and BLIS above
// the threshold), each transpose flag, plain and with a bias (beta = 1), in both dtypes,
// against a naive loop in double. Values are multiples of 1/8 with small sums, so f32 is
// exact too. tests/meson.build runs this suite under each cpu kernel variant.
static void check_gemm_sizes(int64_t m, int64_t k, int64_t n) {
    static double a[4096], b[4096], want[4096], bias[64];
    cr_assert(m * k <= 4096 && k * n <= 4096 && m * n <= 4096 && n <= 64);
    for (int64_t i = 0; i < m * k; i++) a[i] = (double)((i * 7 + 3) % 5 - 2) / 8;
    for (int64_t i = 0; i < k * n; i++) b[i] = (double)((i * 5 + 1) % 3 - 1) / 8;
    for (int64_t j = 0; j < n; j++) bias[j] = (double)(j % 4) - 1.5;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            // a is stored [m,k] or (ta) [k,m]; b is [k,n] or (tb) [n,k]; same values of op().
            double as[4096], bs[4096];
            for (int64_t i = 0; i < m; i++)
                for (int64_t p = 0; p < k; p++) as[ta ? p * m + i : i * k + p] = a[i * k + p];
            for (int64_t p = 0; p < k; p++)
                for (int64_t j = 0; j < n; j++) bs[tb ? j * k + p : p * n + j] = b[p * n + j];
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                    want[i * n + j] = s;
                }
            for (int d = 0; d < TU_N_DTYPES; d++) {
                tg_dtype dt = tu_dtype(d);
                tg_tape *tape = tg_tape_new();
                tg_tensor *x = tu_make(dt, (tu_arr){2, {ta ? k : m, ta ? m : k}, as}, false);
                tg_tensor *y = tu_make(dt, (tu_arr){2, {tb ? n : k, tb ? k : n}, bs}, false);
                tg_tensor *c = tu_make(dt, (tu_arr){1, {n}, bias}, false);
                tg_tensor *z = tg_matmul_ex(tape, x, y, ta, tb);
                cr_assert_not_null(z, "%lldx%lldx%lld: %s", (long long)m, (long long)k,
                                   (long long)n, tg_last_error());
                tu_expect_arr(z, (tu_arr){2, {m, n}, want}, 1e-9);
                tg_tensor *w = tg_addmm(tape, c, x, y, ta, tb);
                cr_assert_not_null(w, "addmm: %s", tg_last_error());
                double wb[4096];
                for (int64_t i = 0; i < m * n; i++) wb[i] = want[i] + bias[i % n];
                tu_expect_arr(w, (tu_arr){2, {m, n}, wb}, 1e-9);
                tg_tape_free(tape);
                tu_free(x);
                tu_free(y);
                tu_free(c);
            }
        }
}

Test(ops_matmul, gemm_size_classes) {
    static const int64_t sizes[][3] = {
        {1, 1, 1},   {1, 7, 1},   {2, 2, 20},  {10, 2, 20}, {6, 4, 16},  {7, 3, 17},
        {13, 5, 33}, {20, 8, 2},  {40, 3, 5},  {5, 3, 40},  {3, 300, 5}, {9, 260, 8},
        {12, 12, 12}, {30, 30, 30}, {64, 64, 64}, {33, 17, 9}, {2, 600, 3},
        // long m, short n and k: with B transposed these take the small kernel on AVX2
        {200, 20, 20}, {100, 40, 24}, {150, 9, 27}, {400, 2, 10},
        // the narrow kernel (AVX-512: n up to 64 floats, 32 doubles): 4-, 8- and 12-row
        // tiles, one and two vectors a row, masked tails, k past its 256-deep blocks
        {20, 200, 20}, {7, 580, 7}, {25, 4, 32}, {13, 9, 31}, {100, 3, 1}, {24, 16, 16},
        {3, 40, 17}, {9, 270, 9},
        // its three and four vectors a row (n up to 64 floats, 32 doubles): 8-, 6-, 4- and
        // 3-row tiles, k past their 128-deep blocks
        {17, 100, 40}, {11, 60, 64}, {9, 3, 48}, {4, 7, 50}, {25, 9, 20}, {5, 130, 31},
        {3, 129, 31},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_gemm_sizes(sizes[i][0], sizes[i][1], sizes[i][2]);
}

// Products past every BLIS kernel set's register and cache blocks (MR x NR edge tiles, m
// past skx's MC = 480, k past zen3's KC = 512) on both sides of BLIS's small-matrix ("sup")
// thresholds, each transpose, plain and with a bias, in both dtypes, against a naive loop.
// tests/meson.build runs this suite under every BLIS kernel set the CPU has (TG_BLIS_ARCH).
// Values are multiples of 1/8 with small sums, so f32 is exact too.
static double *big_values(int64_t n, int mul, int mod) {
    double *v = malloc((size_t)n * sizeof *v);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = (double)((i * mul + 1) % mod - mod / 2) / 8;
    return v;
}

// The stored form of x [r, c] (transposed when t) as a tensor of dtype dt.
static tg_tensor *big_tensor(tg_dtype dt, const double *x, int64_t r, int64_t c, bool t) {
    void *h = malloc((size_t)(r * c) * 8);
    cr_assert_not_null(h);
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) {
            int64_t at = t ? j * r + i : i * c + j;
            if (dt == TG_F64) ((double *)h)[at] = x[i * c + j];
            else ((float *)h)[at] = (float)x[i * c + j];
        }
    tg_tensor *y = tg_tensor_from(tu_cpu(), dt, 2, t ? (int64_t[]){c, r} : (int64_t[]){r, c}, h);
    free(h);
    cr_assert_not_null(y, "%s", tg_last_error());
    return y;
}

static void expect_big(tg_tensor *z, const double *want, const double *bias, int64_t m,
                       int64_t n, const char *what) {
    cr_assert_not_null(z, "%s: %s", what, tg_last_error());
    double *got = malloc((size_t)(m * n) * sizeof *got);
    cr_assert_not_null(got);
    tg_tensor *z64 = tg_cast(z, TG_F64);
    cr_assert_eq(tg_copy_to_host(z64, got, (size_t)(m * n) * 8), TG_OK, "%s", tg_last_error());
    int64_t bad = -1;
    for (int64_t i = 0; i < m * n && bad < 0; i++)
        if (got[i] != want[i] + (bias ? bias[i % n] : 0)) bad = i;
    cr_expect(bad < 0, "%s: [%lld] = %g, expected %g", what, (long long)bad,
              bad < 0 ? 0 : got[bad], bad < 0 ? 0 : want[bad] + (bias ? bias[bad % n] : 0));
    free(got);
    tu_free(z64);
}

static void check_gemm_big(int64_t m, int64_t k, int64_t n) {
    double *a = big_values(m * k, 7, 5), *b = big_values(k * n, 5, 3), *bias = big_values(n, 3, 8);
    double *want = calloc((size_t)(m * n), sizeof *want);
    cr_assert_not_null(want);
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < k; p++)
            for (int64_t j = 0; j < n; j++) want[i * n + j] += a[i * k + p] * b[p * n + j];
    for (int d = 0; d < TU_N_DTYPES; d++)
        for (int t = 0; t < 4; t++) {
            tg_dtype dt = tu_dtype(d);
            bool ta = t & 1, tb = t & 2;
            char what[96];
            snprintf(what, sizeof what, "%lldx%lldx%lld %s ta=%d tb=%d", (long long)m,
                     (long long)k, (long long)n, tg_dtype_name(dt), ta, tb);
            tg_tape *tape = tg_tape_new();
            tg_tensor *x = big_tensor(dt, a, m, k, ta), *y = big_tensor(dt, b, k, n, tb);
            tg_tensor *c = big_tensor(dt, bias, 1, n, false);
            expect_big(tg_matmul_ex(tape, x, y, ta, tb), want, NULL, m, n, what);
            expect_big(tg_addmm(tape, tg_reshape(tape, c, 1, (int64_t[]){n}), x, y, ta, tb),
                       want, bias, m, n, what);
            tg_tape_free(tape);
            tu_free(x);
            tu_free(y);
            tu_free(c);
        }
    free(a), free(b), free(bias), free(want);
}

Test(ops_matmul, gemm_blis_blocks) {
    check_gemm_big(500, 530, 37);    // n below the sup thresholds
    check_gemm_big(300, 530, 260);   // every dimension above them
    check_gemm_big(45, 70, 61);      // 192 K multiply-adds: the small kernel, ragged tiles
    check_gemm_big(20, 614, 8);      // a weight gradient's long k (seed-diabetes' dW)
}

// B stored transposed on BLIS's packed path is copied to row-major scratch first (gemm.c):
// per batch entry (a batch of Bs) or once (one B shared by the batch), with n = 256 (f32
// rows 1 KiB apart, which the scratch pads) and with ragged edges
// (n = 45, k = 37: partial 16 x 16 blocks), in both dtypes, against a naive loop.
static void check_batched_bt(int64_t m, int64_t k, int64_t n, bool shared) {
    enum { NB = 3 };
    double *a = big_values(NB * m * k, 7, 5), *b = big_values(NB * n * k, 5, 3);
    double *want = calloc((size_t)(NB * m * n), sizeof *want);
    cr_assert_not_null(want);
    for (int64_t e = 0; e < NB; e++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                for (int64_t p = 0; p < k; p++)   // b holds B^T: [n, k] per entry
                    want[(e * m + i) * n + j] +=
                        a[(e * m + i) * k + p] * b[((shared ? 0 : e) * n + j) * k + p];
    for (int d = 0; d < TU_N_DTYPES; d++) {
        tg_dtype dt = tu_dtype(d);
        tg_tensor *x = big_tensor(dt, a, NB * m, k, false);
        tg_tensor *bt = big_tensor(dt, b, (shared ? 1 : NB) * n, k, false);
        tg_tape *tape = tg_tape_new();
        tg_tensor *x3 = tg_reshape(tape, x, 3, (int64_t[]){NB, m, k});
        tg_tensor *b3 = shared ? bt : tg_reshape(tape, bt, 3, (int64_t[]){NB, n, k});
        char what[96];
        snprintf(what, sizeof what, "%d x %lldx%lldx%lld %s, B^T %s", NB, (long long)m,
                 (long long)k, (long long)n, tg_dtype_name(dt), shared ? "shared" : "per entry");
        expect_big(tg_matmul_ex(tape, x3, b3, false, true), want, NULL, NB * m, n, what);
        tg_tape_free(tape);
        tu_free(x);
        tu_free(bt);
    }
    free(a), free(b), free(want);
}

// At 1 and 2 threads (tg_backend_set_threads; small products stay on one thread).
Test(ops_matmul, gemm_transposed_b_batched) {
    for (int threads = 1; threads <= 2; threads++) {
        cr_assert_eq(tg_backend_set_threads(tu_cpu(), threads), TG_OK);
        check_batched_bt(40, 64, 256, false);
        check_batched_bt(40, 64, 256, true);
        check_batched_bt(50, 37, 45, false);
        check_batched_bt(50, 37, 45, true);
        check_batched_bt(70, 37, 45, false);
        check_batched_bt(70, 37, 45, true);
    }
    cr_assert_eq(tg_backend_set_threads(tu_cpu(), 1), TG_OK);
}

// Products on the packed path shared between threads (gemm_own.c in AVX-512 builds: row
// chunks claimed as the threads come, a chunk's k blocks in order), on 1, 2 and 3 threads
// (3 on this project's 2 cores: threads wait for each other's chunks), every transpose:
// m past skx's NC = 3072 (two column blocks), n = 31000 (more chunks than the queue keeps,
// so they grow past MC), k past every KC with a short last block. Its own suite: the
// 'ops_matmul/*' runs under every BLIS kernel set (tests/meson.build) need not repeat it.
Test(ops_matmul_threads, shared_between_threads) {
    for (int threads = 1; threads <= 3; threads++) {
        cr_assert_eq(tg_backend_set_threads(tu_cpu(), threads), TG_OK);
        check_gemm_big(3100, 40, 40);
        check_gemm_big(16, 16, 31000);
        check_gemm_big(40, 1100, 100);
    }
    cr_assert_eq(tg_backend_set_threads(tu_cpu(), 1), TG_OK);
}

// A batched product through the small kernel: each batch's slice must be its own product.
Test(ops_matmul, gemm_small_batched) {
    double a[3 * 4 * 5], b[3 * 5 * 2], want[3 * 4 * 2];
    for (int i = 0; i < 60; i++) a[i] = (double)(i % 7) - 3;
    for (int i = 0; i < 30; i++) b[i] = (double)(i % 5) - 2;
    for (int q = 0; q < 3; q++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 2; j++) {
                double s = 0;
                for (int p = 0; p < 5; p++) s += a[q * 20 + i * 5 + p] * b[q * 10 + p * 2 + j];
                want[q * 8 + i * 2 + j] = s;
            }
    check_matmul((tu_arr){3, {3, 4, 5}, a}, (tu_arr){3, {3, 5, 2}, b}, false, false,
                 (tu_arr){3, {3, 4, 2}, want});
}

// ---- gradients worked by hand ----
// loss = sum(op(a) @ op(b)) with op(a) = A, op(b) = B:
//   dA[i,k] = sum_j B[k,j] = {15, 19, 23} on both rows; dB[k,j] = sum_i A[i,k] = {5, 7, 9}.
// With a flag set the gradient comes back in the stored (transposed) layout.

static void check_matmul_grad(bool ta, bool tb) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = ta ? tu_make(TG_F64, (tu_arr){2, {3, 2}, AT}, true)
                      : tu_make(TG_F64, (tu_arr){2, {2, 3}, A}, true);
    tg_tensor *b = tb ? tu_make(TG_F64, (tu_arr){2, {2, 3}, BT}, true)
                      : tu_make(TG_F64, (tu_arr){2, {3, 2}, B}, true);
    tg_tensor *loss = tg_sum(tape, tg_matmul_ex(tape, a, b, ta, tb));
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    static const double da[6] = {15, 19, 23, 15, 19, 23}, daT[6] = {15, 15, 19, 19, 23, 23};
    static const double db[6] = {5, 5, 7, 7, 9, 9}, dbT[6] = {5, 7, 9, 5, 7, 9};
    tu_expect_shape(tg_grad_of(a), 2, tg_shape(a));
    tu_expect_grad(a, ta ? daT : da, 6, 1e-12);
    tu_expect_shape(tg_grad_of(b), 2, tg_shape(b));
    tu_expect_grad(b, tb ? dbT : db, 6, 1e-12);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

Test(ops_matmul, grad_no_transpose) { check_matmul_grad(false, false); }
Test(ops_matmul, grad_trans_a) { check_matmul_grad(true, false); }
Test(ops_matmul, grad_trans_b) { check_matmul_grad(false, true); }
Test(ops_matmul, grad_trans_both) { check_matmul_grad(true, true); }

// ---- bad input ----

Test(ops_matmul, inner_dimension_mismatch) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){2, {4, 5}, NULL}, false);
    tu_expect_fail(tg_matmul(tape, a, b), TG_ERR_SHAPE, "tg_matmul", "[2,3]", "[4,5]");
    tg_clear_error();
    // [2,3] @ [2,3] only works with one side transposed
    tu_expect_fail(tg_matmul(tape, a, a), TG_ERR_SHAPE, "tg_matmul", "[2,3] @ [2,3]", NULL);
    tg_clear_error();
    tu_expect_fail(tg_matmul_ex(tape, a, a, true, true), TG_ERR_SHAPE, "tg_matmul",
                   "[2,3]^T @ [2,3]^T", NULL);
    tg_clear_error();
    tu_expect_fail(tg_matmul_ex(tape, a, b, true, false), TG_ERR_SHAPE, "tg_matmul", "[2,3]^T",
                   "[4,5]");
    tg_clear_error();
    tu_expect_fail(tg_matmul_ex(tape, a, b, false, true), TG_ERR_SHAPE, "tg_matmul", "[2,3]",
                   "[4,5]^T");
    cr_expect_eq(tg_tape_size(tape), 0);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// Fewer than 2 dims is refused; batch dims must broadcast.
Test(ops_matmul, bad_ranks_and_batches) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *v = tu_make(TG_F64, (tu_arr){1, {3}, NULL}, false);
    tg_tensor *m = tu_make(TG_F64, (tu_arr){2, {3, 2}, NULL}, false);
    tg_tensor *s = tu_make(TG_F64, (tu_arr){0, {0}, (double[]){1}}, false);
    tg_tensor *b2 = tu_make(TG_F64, (tu_arr){3, {2, 2, 3}, NULL}, false);
    tg_tensor *b3 = tu_make(TG_F64, (tu_arr){3, {3, 3, 2}, NULL}, false);
    tu_expect_fail(tg_matmul(tape, v, m), TG_ERR_SHAPE, "tg_matmul", "2 dims", "[3] @ [3,2]");
    tg_clear_error();
    tu_expect_fail(tg_matmul(tape, m, s), TG_ERR_SHAPE, "tg_matmul", "[3,2]", "[]");
    tg_clear_error();
    tu_expect_fail(tg_matmul(tape, b2, b3), TG_ERR_SHAPE, "tg_matmul", "batch",
                   "[2,2,3] @ [3,3,2]");
    tg_clear_error();
    tu_expect_fail(tg_bmm(tape, b2, b2), TG_ERR_SHAPE, "tg_matmul", "[2,2,3]", NULL);
    tg_tape_free(tape);
    tu_free(v);
    tu_free(m);
    tu_free(s);
    tu_free(b2);
    tu_free(b3);
}

// [2,2,3] @ [2,3,2]: one product per batch entry; [2,2,3] @ [3,2] shares b.
Test(ops_matmul, forward_batched) {
    double a[12], b[12], want[8], want_shared[8];
    for (int i = 0; i < 6; i++) {
        a[i] = A[i];
        a[6 + i] = -A[i];
        b[i] = B[i];
        b[6 + i] = 2 * B[i];
    }
    for (int i = 0; i < 4; i++) {
        want[i] = AB[i];
        want[4 + i] = -2 * AB[i];  // (-A) @ (2B)
        want_shared[i] = AB[i];
        want_shared[4 + i] = -AB[i];
    }
    check_matmul((tu_arr){3, {2, 2, 3}, a}, (tu_arr){3, {2, 3, 2}, b}, false, false,
                 (tu_arr){3, {2, 2, 2}, want});
    check_matmul((tu_arr){3, {2, 2, 3}, a}, (tu_arr){2, {3, 2}, B}, false, false,
                 (tu_arr){3, {2, 2, 2}, want_shared});
    // batch dims broadcast both ways: [2,1,2,3] @ [1,3,3,2] -> [2,3,2,2]
    double big[24];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++) {
            big[i * 4 + k] = AB[k];
            big[12 + i * 4 + k] = -AB[k];
        }
    double b3[18];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 6; k++) b3[i * 6 + k] = B[k];
    check_matmul((tu_arr){4, {2, 1, 2, 3}, a}, (tu_arr){4, {1, 3, 3, 2}, b3}, false, false,
                 (tu_arr){4, {2, 3, 2, 2}, big});
}

// A batch-broadcast operand gets its gradient summed over the batch.
Test(ops_matmul, grad_shared_operand) {
    tg_tape *tape = tg_tape_new();
    double a[12];
    for (int i = 0; i < 12; i++) a[i] = A[i % 6];
    tg_tensor *ta = tu_make(TG_F64, (tu_arr){3, {2, 2, 3}, a}, true);
    tg_tensor *tb = tu_make(TG_F64, (tu_arr){2, {3, 2}, B}, true);
    cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_matmul(tape, ta, tb))), TG_OK, "%s",
                 tg_last_error());
    tu_expect_shape(tg_grad_of(tb), 2, (int64_t[]){3, 2});
    tu_expect_grad(tb, (double[]){10, 10, 14, 14, 18, 18}, 6, 1e-12);  // 2 x {5,7,9}
    tu_expect_grad(ta, (double[]){15, 19, 23, 15, 19, 23, 15, 19, 23, 15, 19, 23}, 12, 1e-12);
    tg_tape_free(tape);
    tu_free(ta);
    tu_free(tb);
}

Test(ops_matmul, null_and_dtype) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F32, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){2, {3, 2}, NULL}, false);
    tu_expect_fail(tg_matmul(tape, NULL, b), TG_ERR_INVALID_ARG, "tg_matmul", "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_matmul_ex(tape, a, NULL, true, false), TG_ERR_INVALID_ARG, "tg_matmul",
                   "NULL", NULL);
    tg_clear_error();
    tu_expect_fail(tg_matmul(NULL, a, a), TG_ERR_INVALID_ARG, "tg_matmul", "tape", NULL);
    tg_clear_error();
    tu_expect_fail(tg_matmul(tape, a, b), TG_ERR_DTYPE, "tg_matmul", "mixed dtypes", NULL);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// A failed operand keeps its own message through the product.
Test(ops_matmul, first_error_wins) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *a = tu_make(TG_F64, (tu_arr){2, {2, 3}, NULL}, false);
    tg_tensor *b = tu_make(TG_F64, (tu_arr){1, {4}, NULL}, false);
    tu_expect_fail(tg_matmul(tape, a, tg_transpose(tape, a, 0, 5)), TG_ERR_INVALID_ARG,
                   "tg_transpose: ", "(0, 5)", NULL);
    cr_expect_null(strstr(tg_last_error(), "tg_matmul"), "overwritten: %s", tg_last_error());
    tu_expect_fail(tg_matmul(tape, tg_add(tape, a, b), a), TG_ERR_INVALID_ARG,
                   "tg_transpose: ", NULL, NULL);
    tg_tape_free(tape);
    tu_free(a);
    tu_free(b);
}

// addmm's bias gradient (dy summed over rows) is written by its rule straight into .grad
// when the bias is a leaf along C's rows ([n] or [1, n]): after tg_zero_grad it replaces,
// otherwise it adds; an empty batch gives zeros. loss = sum(r * y) with fixed r, so
// db[j] = sum_i r[i, j]; ReLU (tg_addmm_relu) keeps r where y > 0.
static void check_bias_grad(tg_dtype dt, int bias_ndim, bool relu, int64_t m) {
    enum { K = 3, N = 4 };
    double xv[5 * K], wv[N * K], bv[N], rv[5 * N];
    for (int i = 0; i < 5 * K; i++) xv[i] = (double)((i * 7 + 2) % 9 - 4) / 4;
    for (int i = 0; i < N * K; i++) wv[i] = (double)((i * 5 + 1) % 7 - 3) / 4;
    for (int j = 0; j < N; j++) bv[j] = (double)j / 2 - 0.7;
    for (int i = 0; i < 5 * N; i++) rv[i] = (double)(i % 6) - 2.5;
    tg_tensor *x = tu_make(dt, (tu_arr){2, {m, K}, xv}, false);
    tg_tensor *w = tu_make(dt, (tu_arr){2, {N, K}, wv}, true);
    tg_tensor *b = bias_ndim == 1 ? tu_make(dt, (tu_arr){1, {N}, bv}, true)
                                  : tu_make(dt, (tu_arr){2, {1, N}, bv}, true);
    tg_tensor *r = tu_make(dt, (tu_arr){2, {m, N}, rv}, false);
    double want[N] = {0};
    for (int64_t i = 0; i < m; i++)
        for (int j = 0; j < N; j++) {
            double z = bv[j];
            for (int p = 0; p < K; p++) z += xv[i * K + p] * wv[j * K + p];
            if (!relu || z > 0) want[j] += rv[i * N + j];
        }
    tg_tape *tape = tg_tape_new();
    for (int pass = 1; pass <= 3; pass++) {   // 1: replaces; 2: adds; 3: after zero_grad
        if (pass == 3) cr_assert_eq(tg_zero_grad(1, &b), TG_OK);
        tg_tensor *y = relu ? tg_addmm_relu(tape, b, x, w, false, true)
                            : tg_addmm(tape, b, x, w, false, true);
        cr_assert_not_null(y, "%s", tg_last_error());
        cr_assert_eq(tg_backward(tape, tg_sum(tape, tg_mul(tape, y, r))), TG_OK, "%s",
                     tg_last_error());
        double got[N];
        for (int j = 0; j < N; j++) got[j] = want[j] * (pass == 2 ? 2 : 1);
        tu_expect_shape(tg_grad_of(b), bias_ndim, tg_shape(b));
        tu_expect_grad(b, got, N, dt == TG_F32 ? 1e-5 : 1e-12);
        tg_tape_reset(tape);
    }
    tg_tape_free(tape);
    tu_free(x);
    tu_free(w);
    tu_free(b);
    tu_free(r);
}

Test(ops_matmul, addmm_bias_grad_written_into_grad) {
    for (int d = 0; d < TU_N_DTYPES; d++)
        for (int nd = 1; nd <= 2; nd++)
            for (int relu = 0; relu < 2; relu++) {
                check_bias_grad(tu_dtype(d), nd, relu, 5);
                check_bias_grad(tu_dtype(d), nd, relu, 0);
            }
}

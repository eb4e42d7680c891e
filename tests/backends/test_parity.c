// Backend parity (ggml's test-backend-ops): every op row of the case table (tools/), a set
// of larger cases that reach the cuda kernels' multi-block paths, and every optimizer, run
// on cpu and cuda in f64 and f32; forward values and gradients are compared by normalized
// squared error. Without a cuda device every test is skipped with the loader's message,
// never failed.
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <tapegrad/tapegrad.h>

#include "tools/op_cases.h"

// Normalized squared error bounds: sum (a-b)^2 / sum a^2.
static double tol_for(tg_dtype dt) { return dt == TG_F32 ? 1e-7 : 1e-20; }

// Loading the module costs ~0.1 s (cuBLAS is large), and there are hundreds of cases: the
// runner asks once, in a child process (CUDA must not be initialised before the fork of the
// test workers), and hands a negative answer to every worker through the environment.
#define UNAVAILABLE_ENV "TG_TEST_CUDA_UNAVAILABLE"

// The backend compared with cpu: cuda, or $TG_PARITY_BACKEND (=cpu checks the harness
// itself on machines without a GPU: every comparison must then be exact).
static const char *other_name(void) {
    const char *e = getenv("TG_PARITY_BACKEND");
    return e && *e ? e : "cuda";
}

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
    (void)set;
    int fd[2];
    if (getenv(UNAVAILABLE_ENV) || pipe(fd) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        if (!tg_backend_get(other_name())) {
            const char *e = tg_last_error();
            ssize_t w = write(fd[1], e, strlen(e));
            (void)w;
            _exit(1);
        }
        _exit(0);
    }
    close(fd[1]);
    char msg[1024] = "";
    size_t n = 0;
    ssize_t r;
    while (pid > 0 && n < sizeof msg - 1 && (r = read(fd[0], msg + n, sizeof msg - 1 - n)) > 0)
        n += (size_t)r;
    msg[n] = '\0';
    close(fd[0]);
    int status = 0;
    // Only a clean "not available" is passed on; a crash is left for the tests to show.
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 1 && n > 0)
        setenv(UNAVAILABLE_ENV, msg, 1);
}

static tg_backend *cuda_or_skip(void) {
    const char *why = getenv(UNAVAILABLE_ENV);
    if (why) cr_skip_test("%s", why);
    tg_backend *be = tg_backend_get(other_name());
    if (!be) cr_skip_test("%s", tg_last_error());
    return be;
}

static double *to_host(const tg_tensor *t) {
    int64_t n = tg_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    cr_assert_not_null(v);
    if (tg_dtype_of(t) == TG_F64) {
        cr_assert_eq(tg_copy_to_host(t, v, (size_t)n * 8), TG_OK, "%s", tg_last_error());
    } else {
        float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
        cr_assert_not_null(f);
        cr_assert_eq(tg_copy_to_host(t, f, (size_t)n * 4), TG_OK, "%s", tg_last_error());
        for (int64_t i = 0; i < n; i++) v[i] = f[i];
        free(f);
    }
    return v;
}

// Expects got (cuda) to match want (cpu): same shape, the same non-finite entries, and a
// normalized squared error within tol over the finite ones.
static void expect_close(const char *what, const char *label, const tg_tensor *want,
                         const tg_tensor *got, double tol) {
    cr_assert_not_null(got, "%s [%s]: cuda gave NULL: %s", what, label, tg_last_error());
    cr_assert_eq(tg_ndim(got), tg_ndim(want), "%s [%s]: ndim", what, label);
    for (int i = 0; i < tg_ndim(want); i++)
        cr_assert_eq(tg_shape(got)[i], tg_shape(want)[i], "%s [%s]: dim %d", what, label, i);
    cr_assert_str_eq(tg_backend_name(tg_backend_of(got)), other_name());
    int64_t n = tg_numel(want);
    double *a = to_host(want), *b = to_host(got);
    double num = 0, den = 0;
    int64_t bad = -1;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) {
            bool same = (isnan(a[i]) && isnan(b[i])) || a[i] == b[i];
            if (!same && bad < 0) bad = i;
            continue;
        }
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += a[i] * a[i];
    }
    double err = num / (den > 1e-300 ? den : 1.0);
    cr_expect_lt(bad, 0, "%s [%s]: element %lld: cpu %g, cuda %g", what, label, (long long)bad,
                 bad >= 0 ? a[bad] : 0.0, bad >= 0 ? b[bad] : 0.0);
    cr_expect(err <= tol, "%s [%s] %s: normalized error %.3g > %.3g", what, label,
              tg_dtype_name(tg_dtype_of(want)), err, tol);
    free(a);
    free(b);
}

// ---- one row on both backends ----

typedef struct side {
    tg_tape *tape;
    tg_tensor *in[OPC_MAX_IN];
    tg_tensor *out, *seed;
} side;

// A persistent tensor of `like`'s shape and dtype on `be`, uniform in [-1, 1) from `seed`.
static tg_tensor *seed_like(const tg_tensor *like, tg_backend *be, uint64_t seed) {
    tg_rng *rng = tg_rng_new(seed);
    tg_tensor *h =
        tg_tensor_new(tg_backend_get("cpu"), tg_dtype_of(like), tg_ndim(like), tg_shape(like));
    cr_assert_not_null(h, "%s", tg_last_error());
    cr_assert_eq(tg_uniform_(h, rng, -1.0, 1.0), TG_OK);
    tg_rng_free(rng);
    if (be == tg_backend_get("cpu")) return h;
    tg_tensor *d = tg_to(h, be);
    cr_assert_not_null(d, "%s", tg_last_error());
    tg_free(h);
    return d;
}

static void side_free(side *s, int n_in) {
    if (s->tape) tg_tape_free(s->tape);
    tg_free(s->seed);
    for (int k = 0; k < n_in; k++) tg_free(s->in[k]);
}

// Runs `row` on cpu and cuda in dtype dt from the same inputs and compares the output and
// (differentiable rows) the gradient of every input.
static void run_row(const op_case *row, tg_dtype dt, uint64_t seed, double tol) {
    tg_backend *cpu = tg_backend_get("cpu"), *cuda = cuda_or_skip();
    const char *label = row->label;
    side c = {0}, g = {0};
    tg_rng *rng = tg_rng_new(seed);
    for (int k = 0; k < row->n_in; k++) {
        tg_tensor *h = op_case_input(row, k, rng);
        cr_assert_not_null(h, "input %d [%s]: %s", k, label, tg_last_error());
        bool grad = tg_requires_grad(h);
        c.in[k] = dt == TG_F64 ? h : tg_cast(h, dt);
        if (dt != TG_F64) tg_free(h);
        g.in[k] = tg_to(c.in[k], cuda);
        cr_assert_not_null(g.in[k], "input %d to cuda [%s]: %s", k, label, tg_last_error());
        tg_set_requires_grad(c.in[k], grad);
        tg_set_requires_grad(g.in[k], grad);
    }
    tg_rng_free(rng);
    c.tape = tg_tape_new();
    g.tape = tg_tape_new();
    tg_clear_error();
    c.out = row->call(c.tape, c.in, (void *)row);
    if (!c.out) {  // not defined in this dtype: cuda must refuse it too
        tg_clear_error();
        cr_expect_null(row->call(g.tape, g.in, (void *)row), "[%s] cuda ran what cpu refused",
                       label);
        goto done;
    }
    g.out = row->call(g.tape, g.in, (void *)row);
    expect_close(row->op, label, c.out, g.out, tol);
    if (!row->differentiable || !g.out || !tg_requires_grad(c.out)) goto done;
    c.seed = seed_like(c.out, cpu, seed + 1);
    g.seed = seed_like(c.out, cuda, seed + 1);
    cr_assert_eq(tg_backward_ex(c.tape, c.out, c.seed, NULL), TG_OK, "[%s] cpu backward: %s", label,
                 tg_last_error());
    cr_assert_eq(tg_backward_ex(g.tape, g.out, g.seed, NULL), TG_OK, "[%s] cuda backward: %s",
                 label, tg_last_error());
    for (int k = 0; k < row->n_in; k++) {
        const tg_tensor *gc = tg_grad_of(c.in[k]);
        if (!gc) continue;
        char what[96];
        snprintf(what, sizeof what, "d%s/din%d", row->op, k);
        expect_close(what, label, gc, tg_grad_of(g.in[k]), tol);
    }
done:
    side_free(&c, row->n_in);
    side_free(&g, row->n_in);
}

// ---- every row of the op case table ----

enum {
    MAX_ROWS = 1024
};

ParameterizedTestParameters(parity, op_rows) {
    static size_t idx[MAX_ROWS];
    size_t n = op_case_count();
    if (n > MAX_ROWS) n = MAX_ROWS;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    return cr_make_param_array(size_t, idx, n);
}

ParameterizedTest(size_t *i, parity, op_rows, .timeout = 60) {
    const op_case *row = &op_cases()[*i];
    for (int k = 0; k < 2; k++) {
        tg_dtype dt = k == 0 ? TG_F64 : TG_F32;
        double tol = tol_for(dt);
        // Rows with a tolerance override (steep functions) get a looser f32 bound too.
        if (dt == TG_F32 && row->rtol > 0) tol *= 100;
        run_row(row, dt, 1000 + *i, tol);
    }
}

// ---- larger cases: multi-block reductions, real gemm sizes, strided walks ----

static const int ax0[] = {0}, ax1[] = {1}, ax02[] = {0, 2};

static tg_tensor *big_sum_all(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_sum(t, in[0]);
}
static tg_tensor *big_sum_rows(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_sum_axes(t, in[0], 1, ax1, false);
}
static tg_tensor *big_sum_cols(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_sum_axes(t, in[0], 1, ax0, true);
}
static tg_tensor *big_sum_outer(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_sum_axes(t, in[0], 2, ax02, false);
}
static tg_tensor *big_max_rows(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_max_axes(t, in[0], 1, ax1, false);
}
static tg_tensor *big_min_all(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_min(t, in[0]);
}
static tg_tensor *big_argmax_rows(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_argmax(t, in[0], 1, false);
}
static tg_tensor *big_argmin_cols(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_argmin(t, in[0], 0, true);
}
static tg_tensor *big_matmul(tg_tape *t, tg_tensor *const *in, void *r) {
    const op_case *row = r;
    return tg_matmul_ex(t, in[0], in[1], row->at.trans_a, row->at.trans_b);
}
static tg_tensor *big_bmm(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_bmm(t, in[0], in[1]);
}
static tg_tensor *big_conv(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    tg_conv_opts o = {.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}};
    return tg_conv2d(t, in[0], in[1], in[2], &o);
}
static tg_tensor *big_maxpool(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    tg_conv_opts o = {.stride = {2, 2}, .padding = {1, 1}};
    return tg_max_pool2d(t, in[0], 3, 3, &o);
}
static tg_tensor *big_gather(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_gather(t, in[0], 1, in[1]);
}
static tg_tensor *big_scatter(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_scatter_add(t, in[0], 1, in[2], in[1]);
}
static tg_tensor *big_softmax0(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_softmax(t, in[0], 0);
}
static tg_tensor *big_softmax_last(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_softmax(t, in[0], 1);
}
static tg_tensor *big_log_softmax_last(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_log_softmax(t, in[0], -1);
}
static tg_tensor *big_xent(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_cross_entropy(t, in[0], in[1], NULL, TG_REDUCE_MEAN);
}
static tg_tensor *big_permute_gelu(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    static const int perm[] = {2, 0, 3, 1};
    return tg_gelu(t, tg_permute(t, in[0], perm));
}
static tg_tensor *big_broadcast(tg_tape *t, tg_tensor *const *in, void *r) {
    (void)r;
    return tg_maximum(t, tg_mul(t, in[0], in[1]), tg_sigmoid(t, in[1]));
}

static const op_case big_rows[] = {
    {.op = "tg_sum",
     .label = "all of [1000,1000] (split blocks)",
     .n_in = 1,
     .ndim = {2},
     .shape = {{1000, 1000}},
     .lo = -1,
     .hi = 1,
     .call = big_sum_all,
     .differentiable = true},
    {.op = "tg_sum",
     .label = "rows of [64,100000]",
     .n_in = 1,
     .ndim = {2},
     .shape = {{64, 100000}},
     .lo = -1,
     .hi = 1,
     .call = big_sum_rows,
     .differentiable = true},
    {.op = "tg_sum",
     .label = "cols of [300,5000] (thread per output)",
     .n_in = 1,
     .ndim = {2},
     .shape = {{300, 5000}},
     .lo = -1,
     .hi = 1,
     .call = big_sum_cols,
     .differentiable = true},
    {.op = "tg_sum",
     .label = "axes 0,2 of [40,50,60]",
     .n_in = 1,
     .ndim = {3},
     .shape = {{40, 50, 60}},
     .lo = -1,
     .hi = 1,
     .call = big_sum_outer,
     .differentiable = true},
    {.op = "tg_max_axes",
     .label = "rows of [64,100000]",
     .n_in = 1,
     .ndim = {2},
     .shape = {{64, 100000}},
     .lo = -1,
     .hi = 1,
     .call = big_max_rows,
     .differentiable = true},
    {.op = "tg_min",
     .label = "all of [777,1333]",
     .n_in = 1,
     .ndim = {2},
     .shape = {{777, 1333}},
     .lo = -1,
     .hi = 1,
     .call = big_min_all,
     .differentiable = true},
    {.op = "tg_argmax",
     .label = "rows of [8,5000] (block per output)",
     .n_in = 1,
     .ndim = {2},
     .shape = {{8, 5000}},
     .lo = -1,
     .hi = 1,
     .call = big_argmax_rows},
    {.op = "tg_argmin",
     .label = "cols of [3000,7]",
     .n_in = 1,
     .ndim = {2},
     .shape = {{3000, 7}},
     .lo = -1,
     .hi = 1,
     .call = big_argmin_cols},
    {.op = "tg_matmul",
     .label = "[130,70] @ [70,90]",
     .n_in = 2,
     .ndim = {2, 2},
     .shape = {{130, 70}, {70, 90}},
     .lo = -1,
     .hi = 1,
     .call = big_matmul,
     .differentiable = true},
    {.op = "tg_matmul",
     .label = "[70,130]^T @ [90,70]^T",
     .n_in = 2,
     .ndim = {2, 2},
     .shape = {{70, 130}, {90, 70}},
     .lo = -1,
     .hi = 1,
     .call = big_matmul,
     .at = {.trans_a = true, .trans_b = true},
     .differentiable = true},
    {.op = "tg_matmul",
     .label = "[257,33]^T @ [257,65]",
     .n_in = 2,
     .ndim = {2, 2},
     .shape = {{257, 33}, {257, 65}},
     .lo = -1,
     .hi = 1,
     .call = big_matmul,
     .at = {.trans_a = true},
     .differentiable = true},
    {.op = "tg_bmm",
     .label = "[4,3,40,50] @ [50,60] (broadcast batch)",
     .n_in = 2,
     .ndim = {4, 2},
     .shape = {{4, 3, 40, 50}, {50, 60}},
     .lo = -1,
     .hi = 1,
     .call = big_bmm,
     .differentiable = true},
    {.op = "tg_bmm",
     .label = "[2,1,9,8] @ [3,8,7] (broadcast both)",
     .n_in = 2,
     .ndim = {4, 3},
     .shape = {{2, 1, 9, 8}, {3, 8, 7}},
     .lo = -1,
     .hi = 1,
     .call = big_bmm,
     .differentiable = true},
    {.op = "tg_conv2d",
     .label = "[2,3,17,19] * [4,3,3,3] stride 2,1 pad 1,2 dil 1,2",
     .n_in = 3,
     .ndim = {4, 4, 1},
     .shape = {{2, 3, 17, 19}, {4, 3, 3, 3}, {4}},
     .lo = -1,
     .hi = 1,
     .call = big_conv,
     .differentiable = true},
    {.op = "tg_max_pool2d",
     .label = "[2,3,20,21] 3x3 stride 2 pad 1",
     .n_in = 1,
     .ndim = {4},
     .shape = {{2, 3, 20, 21}},
     .lo = -1,
     .hi = 1,
     .call = big_maxpool,
     .differentiable = true},
    {.op = "tg_gather",
     .label = "[64,1000] axis 1",
     .n_in = 2,
     .ndim = {2, 2},
     .shape = {{64, 1000}, {64, 300}},
     .lo = -1,
     .hi = 1,
     .index_hi = {0, 1000},
     .call = big_gather,
     .differentiable = true},
    {.op = "tg_scatter_add",
     .label = "[64,300] into [64,1000] axis 1",
     .n_in = 3,
     .ndim = {2, 2, 2},
     .shape = {{64, 1000}, {64, 300}, {64, 300}},
     .lo = -1,
     .hi = 1,
     .index_hi = {0, 0, 1000},
     .call = big_scatter,
     .differentiable = true},
    {.op = "tg_softmax",
     .label = "[1000,33] axis 0",
     .n_in = 1,
     .ndim = {2},
     .shape = {{1000, 33}},
     .lo = -3,
     .hi = 3,
     .call = big_softmax0,
     .differentiable = true},
    {.op = "tg_softmax",
     .label = "[256,1000] axis 1 (fused)",
     .n_in = 1,
     .ndim = {2},
     .shape = {{256, 1000}},
     .lo = -5,
     .hi = 5,
     .call = big_softmax_last,
     .differentiable = true},
    {.op = "tg_log_softmax",
     .label = "[40,3000] axis -1 (fused), logits in [-100, 100)",
     .n_in = 1,
     .ndim = {2},
     .shape = {{40, 3000}},
     .lo = -100,
     .hi = 100,
     .call = big_log_softmax_last,
     .differentiable = true},
    {.op = "tg_cross_entropy",
     .label = "[256,10]",
     .n_in = 2,
     .ndim = {2, 1},
     .shape = {{256, 10}, {256}},
     .lo = -3,
     .hi = 3,
     .index_hi = {0, 10},
     .call = big_xent,
     .differentiable = true},
    {.op = "tg_cross_entropy",
     .label = "[16,5000] (lanes stride over classes)",
     .n_in = 2,
     .ndim = {2, 1},
     .shape = {{16, 5000}, {16}},
     .lo = -3,
     .hi = 3,
     .index_hi = {0, 5000},
     .call = big_xent,
     .differentiable = true},
    {.op = "tg_gelu",
     .label = "permuted [6,7,8,9]",
     .n_in = 1,
     .ndim = {4},
     .shape = {{6, 7, 8, 9}},
     .lo = -3,
     .hi = 3,
     .call = big_permute_gelu,
     .differentiable = true},
    {.op = "tg_maximum",
     .label = "[50,1,70] * [1,60,70] broadcast",
     .n_in = 2,
     .ndim = {3, 3},
     .shape = {{50, 1, 70}, {1, 60, 70}},
     .lo = -2,
     .hi = 2,
     .call = big_broadcast,
     .differentiable = true},
};
enum {
    N_BIG = sizeof big_rows / sizeof big_rows[0]
};

ParameterizedTestParameters(parity, big) {
    static size_t idx[N_BIG];
    for (size_t i = 0; i < N_BIG; i++) idx[i] = i;
    return cr_make_param_array(size_t, idx, N_BIG);
}

ParameterizedTest(size_t *i, parity, big, .timeout = 120) {
    const op_case *row = &big_rows[*i];
    run_row(row, TG_F64, 5000 + *i, tol_for(TG_F64) * 1e4);  // long sums: order matters
    run_row(row, TG_F32, 5000 + *i, tol_for(TG_F32) * 10);
}

// A bad index is refused on cuda as on cpu: NULL and an error, nothing else.
Test(parity, gather_bad_index) {
    tg_backend *cuda = cuda_or_skip();
    int64_t xs[2] = {2, 3}, is[2] = {2, 2};
    double xv[6] = {1, 2, 3, 4, 5, 6}, iv[4] = {0, 3, 1, 2};
    tg_tensor *xd = tg_tensor_from(cuda, TG_F64, 2, xs, xv);
    tg_tensor *id = tg_tensor_from(cuda, TG_F64, 2, is, iv);
    cr_assert(xd && id, "%s", tg_last_error());
    tg_tape *t = tg_tape_new();
    tg_clear_error();
    cr_expect_null(tg_gather(t, xd, 1, id), "index 3 of 3 accepted");
    cr_expect_neq(tg_last_status(), TG_OK);
    cr_expect(strstr(tg_last_error(), "gather") != NULL, "error '%s'", tg_last_error());
    tg_tape_free(t);
    tg_free(xd);
    tg_free(id);
}

// A bad label is refused by the fused cross-entropy on cuda as on cpu.
Test(parity, cross_entropy_bad_label) {
    tg_backend *cuda = cuda_or_skip();
    int64_t zs[2] = {2, 3}, ls[1] = {2};
    float zv[6] = {1, 2, 3, 4, 5, 6}, lv[2] = {0, 3};
    tg_tensor *z = tg_tensor_from(cuda, TG_F32, 2, zs, zv);
    tg_tensor *l = tg_tensor_from(cuda, TG_F32, 1, ls, lv);
    cr_assert(z && l, "%s", tg_last_error());
    tg_tape *t = tg_tape_new();
    tg_clear_error();
    cr_expect_null(tg_cross_entropy(t, z, l, NULL, TG_REDUCE_MEAN), "label 3 of 3 accepted");
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG, "error '%s'", tg_last_error());
    tg_tape_free(t);
    tg_free(z);
    tg_free(l);
}

// ---- optimizers: a few steps of each on both backends ----

typedef struct optim_case {
    tg_optim_kind kind;
    const char *label;
    double momentum, weight_decay;
    bool nesterov, amsgrad, centered;
} optim_case;

static const optim_case optim_cases[] = {
    {TG_OPTIM_SGD, "sgd", 0, 0, false, false, false},
    {TG_OPTIM_SGD, "sgd momentum nesterov wd", 0.9, 0.01, true, false, false},
    {TG_OPTIM_ADAGRAD, "adagrad wd", 0, 0.01, false, false, false},
    {TG_OPTIM_ADADELTA, "adadelta", 0, 0, false, false, false},
    {TG_OPTIM_RMSPROP, "rmsprop", 0, 0, false, false, false},
    {TG_OPTIM_RMSPROP, "rmsprop centered momentum", 0.5, 0, false, false, true},
    {TG_OPTIM_ADAM, "adam", 0, 0, false, false, false},
    {TG_OPTIM_ADAM, "adam amsgrad wd", 0, 0.01, false, true, false},
    {TG_OPTIM_ADAMW, "adamw", 0, 0.01, false, false, false},
    {TG_OPTIM_ADAMW, "adamw amsgrad", 0, 0.01, false, true, false},
    {TG_OPTIM_ADAMAX, "adamax", 0, 0, false, false, false},
    {TG_OPTIM_NADAM, "nadam", 0, 0, false, false, false},
};
enum {
    N_OPTIM = sizeof optim_cases / sizeof optim_cases[0]
};

// w [6,5] trained for 5 steps on loss = mean((x @ w - y)^2) with x [8,6], y [8,5].
static tg_tensor *train(const optim_case *oc, tg_backend *be, tg_dtype dt) {
    tg_backend *cpu = tg_backend_get("cpu");
    int64_t ws[2] = {6, 5}, xs[2] = {8, 6}, ys[2] = {8, 5};
    tg_rng *rng = tg_rng_new(99);
    tg_tensor *h[3] = {tg_tensor_new(cpu, dt, 2, ws), tg_tensor_new(cpu, dt, 2, xs),
                       tg_tensor_new(cpu, dt, 2, ys)};
    tg_tensor *d[3];
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(tg_uniform_(h[k], rng, -1, 1), TG_OK, "%s", tg_last_error());
        d[k] = be == cpu ? h[k] : tg_to(h[k], be);
        cr_assert_not_null(d[k], "%s", tg_last_error());
        if (d[k] != h[k]) tg_free(h[k]);
    }
    tg_rng_free(rng);
    tg_set_requires_grad(d[0], true);
    tg_optim_opts o = tg_optim_opts_default(oc->kind);
    o.lr = oc->kind == TG_OPTIM_ADADELTA ? 1.0 : 0.05;
    o.momentum = oc->momentum;
    o.weight_decay = oc->weight_decay;
    o.nesterov = oc->nesterov;
    o.amsgrad = oc->amsgrad;
    o.centered = oc->centered;
    tg_optim *opt = tg_optim_new(oc->kind, 1, &d[0], &o);
    cr_assert_not_null(opt, "%s: %s", oc->label, tg_last_error());
    tg_tape *t = tg_tape_new();
    for (int step = 0; step < 5; step++) {
        tg_tensor *loss = tg_mse_loss(t, tg_matmul(t, d[1], d[0]), d[2], TG_REDUCE_MEAN);
        cr_assert_not_null(loss, "%s: %s", oc->label, tg_last_error());
        cr_assert_eq(tg_backward(t, loss), TG_OK, "%s: %s", oc->label, tg_last_error());
        cr_assert_eq(tg_optim_step(opt), TG_OK, "%s: %s", oc->label, tg_last_error());
        cr_assert_eq(tg_optim_zero_grad(opt), TG_OK);
        tg_tape_reset(t);
    }
    tg_tape_free(t);
    tg_optim_free(opt);
    tg_free(d[1]);
    tg_free(d[2]);
    return d[0];
}

ParameterizedTestParameters(parity, optimizers) {
    static size_t idx[N_OPTIM];
    for (size_t i = 0; i < N_OPTIM; i++) idx[i] = i;
    return cr_make_param_array(size_t, idx, N_OPTIM);
}

ParameterizedTest(size_t *i, parity, optimizers) {
    const optim_case *oc = &optim_cases[*i];
    tg_backend *cuda = cuda_or_skip();
    for (int k = 0; k < 2; k++) {
        tg_dtype dt = k == 0 ? TG_F64 : TG_F32;
        tg_tensor *wc = train(oc, tg_backend_get("cpu"), dt), *wg = train(oc, cuda, dt);
        expect_close(tg_optim_kind_name(oc->kind), oc->label, wc, wg, tol_for(dt));
        tg_free(wc);
        tg_free(wg);
    }
}

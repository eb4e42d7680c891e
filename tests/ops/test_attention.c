// Tests for the transformer ops (ops/attention.c, ops/layernorm.c): fused attention against
// the same formula composed from matmul and softmax (values and gradients, causal or not,
// sequences longer than one kernel block), the cpu's blocked f32 path against the f64
// reference path (dropout included), the fused-projection layout against the stacked one,
// dropout's contract, layer_norm against its composed formula, and bad inputs.
#include <math.h>
#include <stdlib.h>

#include "test_util.h"

TestSuite(ops_attention, .init = tg_clear_error);

// ---- helpers ----

static tg_tensor *rand_t(tg_rng *rng, tg_dtype dt, int nd, const int64_t *sh, bool grad) {
    tg_tensor *t = tg_tensor_new(tu_cpu(), dt, nd, sh);
    cr_assert_not_null(t, "%s", tg_last_error());
    cr_assert_eq(tg_uniform_(t, rng, -1, 1), TG_OK);
    if (grad) cr_assert_eq(tg_set_requires_grad(t, true), TG_OK);
    return t;
}

static double *host(const tg_tensor *t) {
    cr_assert_not_null(t, "%s", tg_last_error());
    int64_t n = tg_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    cr_assert_not_null(v);
    if (tg_dtype_of(t) == TG_F64) {
        cr_assert_eq(tg_copy_to_host(t, v, (size_t)n * 8), TG_OK);
    } else {
        float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
        cr_assert_not_null(f);
        cr_assert_eq(tg_copy_to_host(t, f, (size_t)n * 4), TG_OK);
        for (int64_t i = 0; i < n; i++) v[i] = f[i];
        free(f);
    }
    return v;
}

// max |a - b| <= rtol * max(max |b|, floor), same numel
static void expect_close_floor(const char *what, const tg_tensor *a, const tg_tensor *b,
                               double rtol, double floor) {
    cr_assert_not_null(a, "%s: NULL: %s", what, tg_last_error());
    cr_assert_not_null(b, "%s: reference NULL: %s", what, tg_last_error());
    cr_assert_eq(tg_numel(a), tg_numel(b), "%s: numel", what);
    double *x = host(a), *y = host(b), scale = floor, err = 0;
    int64_t worst = 0;
    for (int64_t i = 0; i < tg_numel(a); i++) {
        scale = fmax(scale, fabs(y[i]));
        if (!(fabs(x[i] - y[i]) <= err)) err = fabs(x[i] - y[i]), worst = i;
    }
    cr_expect(err <= rtol * scale, "%s: max error %.3g at %lld (%.10g vs %.10g) > %.3g * %.3g",
              what, err, (long long)worst, x[worst], y[worst], rtol, scale);
    free(x);
    free(y);
}

static void expect_close(const char *what, const tg_tensor *a, const tg_tensor *b, double rtol) {
    expect_close_floor(what, a, b, rtol, 1e-30);
}

// softmax(scale q k^T + causal mask) v, composed from public ops (q, k, v [B,H,T,D])
static tg_tensor *composed(tg_tape *t, tg_tensor *q, tg_tensor *k, tg_tensor *v, bool causal) {
    int64_t T = tg_shape(q)[2], D = tg_shape(q)[3];
    tg_tensor *s = tg_mul_scalar(t, tg_matmul_ex(t, q, k, false, true), 1.0 / sqrt((double)D));
    if (causal) {
        tg_tensor *i = tg_reshape(t, tg_arange(t, tu_cpu(), tg_dtype_of(q), T, 0, 1), 2,
                                  (int64_t[]){T, 1});
        tg_tensor *j = tg_reshape(t, tg_arange(t, tu_cpu(), tg_dtype_of(q), T, 0, 1), 2,
                                  (int64_t[]){1, T});
        tg_tensor *ninf = tg_full(t, tu_cpu(), tg_dtype_of(q), 0, NULL, -INFINITY);
        s = tg_where(t, tg_ge(t, i, j), s, ninf);
    }
    return tg_matmul(t, tg_softmax(t, s, -1), v);
}

// Gradients of sum(y * w) for q, k, v (copied out, caller frees), w a fixed tensor.
static void grads_of(tg_tape *t, tg_tensor *y, tg_tensor *w, tg_tensor *const *in, tg_tensor **g) {
    tg_tensor *loss = tg_sum(t, tg_mul(t, y, w));
    cr_assert_eq(tg_grad(t, loss, NULL, 3, in, g, NULL), TG_OK, "%s", tg_last_error());
    for (int k = 0; k < 3; k++) {
        g[k] = tg_to(g[k], NULL);
        cr_assert_not_null(g[k], "%s", tg_last_error());
    }
}

static void free3(tg_tensor **x) {
    for (int k = 0; k < 3; k++) tu_free(x[k]);
}

// ---- attention ----

// The fused op equals the composed formula in f64, values and gradients, with T = 70 (more
// than one key block) and T = 5.
Test(ops_attention, matches_composed_f64) {
    tg_rng *rng = tg_rng_new(1);
    int64_t shapes[2][4] = {{2, 3, 70, 5}, {1, 2, 5, 8}};
    for (int si = 0; si < 2; si++)
        for (int causal = 0; causal < 2; causal++) {
            tg_tensor *in[3], *g1[3], *g2[3];
            for (int k = 0; k < 3; k++) in[k] = rand_t(rng, TG_F64, 4, shapes[si], true);
            tg_tensor *w = rand_t(rng, TG_F64, 4, shapes[si], false);
            tg_tape *t = tg_tape_new();
            tg_attention_opts o = {.causal = causal};
            tg_tensor *y1 = tg_attention(t, in[0], in[1], in[2], &o);
            tg_tensor *y2 = composed(t, in[0], in[1], in[2], causal);
            expect_close("forward", y1, y2, 1e-13);
            grads_of(t, y1, w, in, g1);
            grads_of(t, y2, w, in, g2);
            for (int k = 0; k < 3; k++) expect_close(k ? "dk/dv" : "dq", g1[k], g2[k], 1e-12);
            tg_tape_free(t);
            free3(in), free3(g1), free3(g2);
            tu_free(w);
        }
    tg_rng_free(rng);
}

// One problem in f32 and f64 (same values): forward and gradients agree to f32 round-off.
static void f32_vs_f64(int64_t T, int64_t D, bool causal, double p) {
    tg_rng *rng = tg_rng_new(7);
    int64_t sh[4] = {2, 2, T, D};
    tg_tensor *in64[3], *in32[3], *g64[3], *g32[3];
    for (int k = 0; k < 3; k++) {
        in64[k] = rand_t(rng, TG_F64, 4, sh, true);
        in32[k] = tg_cast(in64[k], TG_F32);
        cr_assert_eq(tg_set_requires_grad(in32[k], true), TG_OK);
    }
    tg_tensor *w64 = rand_t(rng, TG_F64, 4, sh, false), *w32 = tg_cast(w64, TG_F32);
    tg_tape *t = tg_tape_new();
    tg_rng *r1 = tg_rng_new(3), *r2 = tg_rng_new(3);
    tg_attention_opts o1 = {.causal = causal, .dropout_p = p, .training = true, .rng = r1};
    tg_attention_opts o2 = {.causal = causal, .dropout_p = p, .training = true, .rng = r2};
    tg_tensor *y64 = tg_attention(t, in64[0], in64[1], in64[2], &o1);
    tg_tensor *y32 = tg_attention(t, in32[0], in32[1], in32[2], &o2);
    expect_close("f32 forward", y32, y64, 2e-6);
    grads_of(t, y64, w64, in64, g64);
    grads_of(t, y32, w32, in32, g32);
    for (int k = 0; k < 3; k++) expect_close(k == 0 ? "f32 dq" : "f32 dk/dv", g32[k], g64[k], 1e-5);
    tg_tape_free(t);
    free3(in64), free3(in32), free3(g64), free3(g32);
    tu_free(w64);
    tu_free(w32);
    tg_rng_free(rng);
    tg_rng_free(r1);
    tg_rng_free(r2);
}

// The blocked f32 kernel (32-query, 64-key blocks; rows padded to whole vectors) against the
// f64 reference path: T = 100 and 130 leave partial blocks of both kinds, T = 16 one partial
// query block; head sizes below, at and across a vector (5, 8, 20, 32, 80: 16-float vectors
// give 80 as 4 + 1), with and without the causal mask and dropout.
Test(ops_attention, f32_blocked_matches_f64) {
    f32_vs_f64(100, 32, false, 0);
    f32_vs_f64(100, 32, true, 0);
    f32_vs_f64(16, 8, true, 0);
    f32_vs_f64(67, 5, true, 0.2);
    f32_vs_f64(130, 20, true, 0);
    f32_vs_f64(130, 80, false, 0.1);
    f32_vs_f64(64, 64, true, 0);
}

// Heads wider than any register tile (300 floats: several column chunks per row).
Test(ops_attention, f32_wide_heads) { f32_vs_f64(9, 300, true, 0); }

// tg_attention_qkv on [B, T, 3C] equals splitting q | k | v into heads and tg_attention.
Test(ops_attention, qkv_layout_matches_stacked) {
    tg_rng *rng = tg_rng_new(2);
    int64_t B = 2, T = 7, H = 3, D = 4, C = H * D;
    tg_tensor *qkv = rand_t(rng, TG_F64, 3, (int64_t[]){B, T, 3 * C}, true);
    tg_tape *t = tg_tape_new();
    tg_attention_opts o = {.causal = true};
    tg_tensor *y1 = tg_attention_qkv(t, qkv, (int)H, &o);
    tu_expect_shape(y1, 3, (int64_t[]){B, T, C});
    tg_tensor *x = tg_permute(t, tg_reshape(t, qkv, 5, (int64_t[]){B, T, 3, H, D}),
                              (int[]){2, 0, 3, 1, 4});
    tg_tensor *s[3];
    for (int k = 0; k < 3; k++)
        s[k] = tg_reshape(t, tg_slice(t, x, 0, k, k + 1, 1), 4, (int64_t[]){B, H, T, D});
    tg_tensor *y2 = tg_attention(t, s[0], s[1], s[2], &o);
    y2 = tg_reshape(t, tg_permute(t, y2, (int[]){0, 2, 1, 3}), 3, (int64_t[]){B, T, C});
    expect_close("qkv layout", y1, y2, 1e-14);
    tg_tensor *g1 = NULL, *g2 = NULL;
    cr_assert_eq(tg_grad(t, tg_sum(t, tg_mul(t, y1, y1)), NULL, 1, &qkv, &g1, NULL), TG_OK);
    cr_assert_eq(tg_grad(t, tg_sum(t, tg_mul(t, y2, y2)), NULL, 1, &qkv, &g2, NULL), TG_OK);
    expect_close("qkv layout gradient", g1, g2, 1e-13);
    tg_tape_free(t);
    tu_free(qkv);
    tg_rng_free(rng);
}

// Dropout: off in eval mode, a function of the rng's state, unbiased, everything at p = 1.
Test(ops_attention, dropout_contract) {
    tg_rng *rng = tg_rng_new(4);
    int64_t sh[4] = {2, 2, 40, 3};
    tg_tensor *v = tg_tensor_new(tu_cpu(), TG_F64, 4, sh);
    tg_tensor *z = tg_tensor_new(tu_cpu(), TG_F64, 4, sh);   // q = k = 0: uniform weights
    cr_assert_eq(tg_fill_(v, 1.0), TG_OK);
    cr_assert_eq(tg_fill_(z, 0.0), TG_OK);
    tg_tape *t = tg_tape_new();
    tg_rng *r1 = tg_rng_new(5), *r2 = tg_rng_new(5);
    tg_attention_opts eval = {.dropout_p = 0.5, .training = false};
    tu_expect_values(tg_mean(t, tg_attention(t, z, z, v, &eval)), (double[]){1}, 1, 1e-14);
    tg_attention_opts o1 = {.dropout_p = 0.4, .training = true, .rng = r1};
    tg_attention_opts o2 = {.dropout_p = 0.4, .training = true, .rng = r2};
    tg_tensor *a = tg_attention(t, z, z, v, &o1), *b = tg_attention(t, z, z, v, &o2);
    expect_close("same rng state, same mask", a, b, 0);
    tg_tensor *c = tg_attention(t, z, z, v, &o1);   // r1 moved on: another mask
    double *av = host(a), *cv = host(c);
    int differ = 0;
    for (int64_t i = 0; i < tg_numel(a); i++) differ += av[i] != cv[i];
    cr_expect_gt(differ, 0, "a new draw gave the same mask");
    // each output row averages 40 kept-or-dropped weights of 1/40, scaled by 1/0.6
    double mean = tg_item(tg_mean(t, a));
    cr_expect(fabs(mean - 1.0) < 0.05, "mean of the dropped output %g, expected about 1", mean);
    tg_attention_opts all = {.dropout_p = 1, .training = true, .rng = r1};
    tu_expect_values(tg_sum(t, tg_abs(t, tg_attention(t, z, z, v, &all))), (double[]){0}, 1, 0);
    free(av);
    free(cv);
    tg_tape_free(t);
    tu_free(v);
    tu_free(z);
    tg_rng_free(rng);
    tg_rng_free(r1);
    tg_rng_free(r2);
}

// Out of memory for the blocked kernels' per-thread scratch: with the test hook
// TG_CPU_SCRATCH_FAIL=1 (tests/meson.build runs this test so a second time) f32 attention
// fails with TG_ERR_OOM and a message naming the op, records nothing and leaks nothing
// (the sanitizer build checks), and f64 (the reference path, no scratch) still works;
// without the hook the same calls succeed.
Test(ops_attention, scratch_out_of_memory) {
    tg_rng *rng = tg_rng_new(9);
    int64_t sh[4] = {2, 2, 40, 16};
    tg_tensor *q32 = rand_t(rng, TG_F32, 4, sh, true), *q64 = rand_t(rng, TG_F64, 4, sh, true);
    tg_tape *t = tg_tape_new();
    tg_attention_opts causal = {.causal = true};
    tg_tensor *y32 = tg_attention(t, q32, q32, q32, &causal);
    tu_expect_oom_if_starved(y32, "tg_attention");
    tg_tensor *y64 = tg_attention(t, q64, q64, q64, &causal);
    cr_assert_not_null(y64, "%s", tg_last_error());
    cr_expect_eq(tg_backward(t, tg_sum(t, y64)), TG_OK, "%s", tg_last_error());
    tg_tape_free(t);
    tu_free(q32);
    tu_free(q64);
    tg_rng_free(rng);
}

Test(ops_attention, bad_inputs) {
    tg_tape *t = tg_tape_new();
    tg_tensor *q = tg_tensor_new(tu_cpu(), TG_F64, 4, (int64_t[]){1, 2, 3, 4});
    tg_tensor *k3 = tg_tensor_new(tu_cpu(), TG_F64, 4, (int64_t[]){1, 2, 5, 4});
    tg_tensor *f = tg_tensor_new(tu_cpu(), TG_F32, 4, (int64_t[]){1, 2, 3, 4});
    tg_tensor *qkv = tg_tensor_new(tu_cpu(), TG_F64, 3, (int64_t[]){2, 5, 12});
    tu_expect_fail(tg_attention(t, q, k3, q, NULL), TG_ERR_SHAPE, "tg_attention", "[1,2,5,4]",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_attention(t, qkv, qkv, qkv, NULL), TG_ERR_SHAPE, "tg_attention", "[2,5,12]",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_attention(t, q, f, q, NULL), TG_ERR_DTYPE, "tg_attention", "f32", NULL);
    tg_clear_error();
    tu_expect_fail(tg_attention(t, q, NULL, q, NULL), TG_ERR_INVALID_ARG, "tg_attention",
                   "input 1", NULL);
    tg_clear_error();
    tu_expect_fail(tg_attention_qkv(t, qkv, 5, NULL), TG_ERR_SHAPE, "tg_attention_qkv",
                   "n_heads = 5", NULL);
    tg_clear_error();
    tu_expect_fail(tg_attention_qkv(t, q, 1, NULL), TG_ERR_SHAPE, "tg_attention_qkv",
                   "[1,2,3,4]", NULL);
    tg_clear_error();
    tg_attention_opts no_rng = {.dropout_p = 0.1, .training = true};
    tu_expect_fail(tg_attention_qkv(t, qkv, 2, &no_rng), TG_ERR_INVALID_ARG, "tg_attention_qkv",
                   "rng", NULL);
    tg_clear_error();
    tg_attention_opts bad_p = {.dropout_p = 1.5};
    tu_expect_fail(tg_attention(t, q, q, q, &bad_p), TG_ERR_INVALID_ARG, "tg_attention",
                   "dropout_p", NULL);
    tg_clear_error();
    tg_attention_opts bad_scale = {.scale = NAN};
    tu_expect_fail(tg_attention(t, q, q, q, &bad_scale), TG_ERR_INVALID_ARG, "tg_attention",
                   "scale", NULL);
    tg_clear_error();
    tg_tape_free(t);
    tu_free(q), tu_free(k3), tu_free(f), tu_free(qkv);
}

// ---- layer_norm ----

static tg_tensor *ln_composed(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b, double eps) {
    int axis = -1;
    tg_tensor *m = tg_mean_axes(t, x, 1, &axis, true), *v = tg_var(t, x, 1, &axis, 0, true);
    tg_tensor *y = tg_div(t, tg_sub(t, x, m), tg_sqrt(t, tg_add_scalar(t, v, eps)));
    return tg_add(t, tg_mul(t, y, w), b);
}

// The fused op equals the composed formula: values in f32 and f64 (rows offset by 1e3 so that
// the f32 statistics need their double sums), gradients of x, w and b in f64.
Test(ops_attention, layer_norm_matches_composed) {
    tg_rng *rng = tg_rng_new(9);
    int64_t sh[3] = {3, 5, 37};
    tg_tensor *x = rand_t(rng, TG_F64, 3, sh, true), *w = rand_t(rng, TG_F64, 1, sh + 2, true);
    tg_tensor *b = rand_t(rng, TG_F64, 1, sh + 2, true), *dy = rand_t(rng, TG_F64, 3, sh, false);
    tg_tape *t = tg_tape_new();
    tg_tensor *in[3] = {x, w, b}, *g1[3], *g2[3];
    tg_tensor *y1 = tg_layer_norm(t, x, w, b, 1e-5), *y2 = ln_composed(t, x, w, b, 1e-5);
    expect_close("layer_norm f64", y1, y2, 1e-14);
    grads_of(t, y1, dy, in, g1);
    grads_of(t, y2, dy, in, g2);
    for (int k = 0; k < 3; k++) expect_close("layer_norm gradients", g1[k], g2[k], 1e-13);
    free3(g1), free3(g2);
    tg_tensor *xo = tg_to(tg_add_scalar(t, x, 1000.0), NULL);
    tg_tensor *x32 = tg_cast(xo, TG_F32), *w32 = tg_cast(w, TG_F32), *b32 = tg_cast(b, TG_F32);
    expect_close("layer_norm f32", tg_layer_norm(t, x32, w32, b32, 1e-5),
                 tg_layer_norm(t, xo, w, b, 1e-5), 2e-4);
    tg_tape_free(t);
    free3(in);
    tu_free(dy), tu_free(xo), tu_free(x32), tu_free(w32), tu_free(b32);
    tg_rng_free(rng);
}

// A leaf copy of t in dtype dt that requires grad.
static tg_tensor *leaf_as(const tg_tensor *t, tg_dtype dt) {
    tg_tensor *c = tg_cast(t, dt);
    cr_assert_not_null(c, "%s", tg_last_error());
    cr_assert_eq(tg_set_requires_grad(c, true), TG_OK);
    return c;
}

// One case of layer_norm_f32_matches_f64: x [rows, len] (offset by 1e3 or not), with or
// without the affine parameters; need_x false: x takes no gradient, so dw and db come from
// layer_norm_wgrad's own pass rather than from dx's.
static void ln_f32_case(tg_rng *rng, int64_t rows, int64_t len, bool affine, bool off,
                        bool need_x, int threads) {
    cr_log_info("layer_norm f32: [%lld, %lld], affine %d, offset %d, dx %d, threads %d",
                (long long)rows, (long long)len, affine, off, need_x, threads);
    cr_assert_eq(tg_backend_set_threads(tu_cpu(), threads), TG_OK);
    int64_t sh[2] = {rows, len};
    tg_tape *t = tg_tape_new();
    tg_tensor *r = rand_t(rng, TG_F64, 2, sh, false), *dy = rand_t(rng, TG_F64, 2, sh, false);
    tg_tensor *w = rand_t(rng, TG_F64, 1, sh + 1, false);
    tg_tensor *b = rand_t(rng, TG_F64, 1, sh + 1, false);
    tg_tensor *x = tg_to(tg_add_scalar(t, r, off ? 1e3 : 0), NULL);
    cr_assert_not_null(x, "%s", tg_last_error());
    tg_tensor *in32[3], *in64[3], *g32[3] = {0}, *g64[3] = {0};
    for (int k = 0; k < 3; k++) {   // the f64 inputs hold the f32 inputs' values
        tg_tensor *p32 = tg_cast(k == 0 ? x : k == 1 ? w : b, TG_F32);
        in32[k] = leaf_as(p32, TG_F32), in64[k] = leaf_as(p32, TG_F64);
        tu_free(p32);
    }
    cr_assert_eq(tg_set_requires_grad(in32[0], need_x), TG_OK);
    cr_assert_eq(tg_set_requires_grad(in64[0], need_x), TG_OK);
    tg_tensor *dy32 = tg_cast(dy, TG_F32), *dy64 = tg_cast(dy32, TG_F64);
    tg_tensor *y32 = tg_layer_norm(t, in32[0], affine ? in32[1] : NULL, affine ? in32[2] : NULL,
                                   1e-5);
    tg_tensor *y64 = tg_layer_norm(t, in64[0], affine ? in64[1] : NULL, affine ? in64[2] : NULL,
                                   1e-5);
    double rtol = off ? 3e-4 : 2e-5;
    expect_close("layer_norm y f32", y32, y64, rtol);
    int k0 = need_x ? 0 : 1, ng = affine ? 3 - k0 : 1 - k0;
    tg_tensor *l32 = tg_sum(t, tg_mul(t, y32, dy32)), *l64 = tg_sum(t, tg_mul(t, y64, dy64));
    if (ng > 0) {
        cr_assert_eq(tg_grad(t, l32, NULL, ng, in32 + k0, g32 + k0, NULL), TG_OK, "%s",
                     tg_last_error());
        cr_assert_eq(tg_grad(t, l64, NULL, ng, in64 + k0, g64 + k0, NULL), TG_OK, "%s",
                     tg_last_error());
    }
    // A row of one value: dx is 0, computed as rstd * (g - mean(g)) with rstd = 1/sqrt(eps) =
    // 316, so g's rounding in f32 (an FMA's exact product against the rounded one in mean(g))
    // is judged against that scale.
    const char *what[3] = {"layer_norm dx f32", "layer_norm dw f32", "layer_norm db f32"};
    for (int k = k0; k < k0 + ng; k++)
        expect_close_floor(what[k], g32[k], g64[k], rtol,
                           k == 0 && len == 1 ? 1 / sqrt(1e-5) : 1e-30);
    cr_assert_eq(tg_backend_set_threads(tu_cpu(), 1), TG_OK);
    tg_tape_free(t);
    free3(in32), free3(in64);
    tu_free(r), tu_free(dy), tu_free(w), tu_free(b), tu_free(x), tu_free(dy32), tu_free(dy64);
}

// The cpu's f32 kernels (statistics and dx's sums in one vectorised pass, rows in groups,
// dw and db from dx's pass) against the f64 path on the same values: y, dx, dw and db. Row
// lengths 1, 37 and 300 (a short row, a vector remainder at every width, several folds of
// float lanes into double), 30 rows (a group remainder), with and without the affine
// parameters, rows centred on 0 and offset by 1e3 (there f32's own rounding of x - mean is
// ~5e-5 of the spread); dw and db without dx (their own pass); and at 2 threads a call large
// enough to be split (each thread's dw and db, then added).
Test(ops_attention, layer_norm_f32_matches_f64) {
    tg_rng *rng = tg_rng_new(11);
    const int64_t lens[3] = {1, 37, 300};
    for (int li = 0; li < 3; li++)
        for (int affine = 0; affine < 2; affine++)
            for (int off = 0; off < 2; off++) ln_f32_case(rng, 30, lens[li], affine, off, true, 1);
    ln_f32_case(rng, 30, 300, true, false, false, 1);
    ln_f32_case(rng, 64, 600, true, false, true, 2);
    ln_f32_case(rng, 64, 600, true, true, true, 2);
    ln_f32_case(rng, 64, 600, true, false, false, 2);
    tg_rng_free(rng);
}

// f32 data: value i = scale * (1 + i/period) * (1 + 0.37 * hash(i)/97), a spread of 0.4 *
// scale and more.
static tg_tensor *huge_f32(int nd, const int64_t *sh, double scale, int period) {
    int64_t n = 1;
    for (int k = 0; k < nd; k++) n *= sh[k];
    float *v = malloc((size_t)n * sizeof *v);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++) {
        double h = 0.37 * (double)((i * 7919) % 97) / 97;
        v[i] = (float)(scale * (double)(1 + i / period) * (1 + h));
    }
    tg_tensor *t = tg_tensor_from(tu_cpu(), TG_F32, nd, sh, v);
    free(v);
    cr_assert_not_null(t, "%s", tg_last_error());
    return t;
}

// y and the gradients of sum(y * dy) for in[0..2] (copied out), y = layer_norm or batch_norm
// of in[0] with weight in[1] and bias in[2].
static tg_tensor *norm_and_grads(bool layer, tg_tensor *const *in, tg_tensor *dy,
                                 tg_tensor **g) {
    tg_tape *t = tg_tape_new();
    tg_tensor *y = layer ? tg_layer_norm(t, in[0], in[1], in[2], 1e-5)
                         : tg_batch_norm(t, in[0], in[1], in[2], NULL, NULL, 0.1, 1e-5);
    tg_tensor *d = tg_cast(dy, tg_dtype_of(in[0]));
    cr_assert_not_null(d, "%s", tg_last_error());
    cr_assert_eq(tg_grad(t, tg_sum(t, tg_mul(t, y, d)), NULL, 3, in, g, NULL), TG_OK, "%s",
                 tg_last_error());
    for (int k = 0; k < 3; k++) {
        g[k] = tg_to(g[k], NULL);
        cr_assert_not_null(g[k], "%s", tg_last_error());
    }
    y = tg_to(y, NULL);
    cr_assert_not_null(y, "%s", tg_last_error());
    tg_tape_free(t);
    tu_free(d);
    return y;
}

// Rows (layer norm) and channels (batch norm) whose f32 sums overflow although every value is
// finite: |x - x[0]| up to ~1e20, whose square passes FLT_MAX. The kernels then take that
// run's sums in double: y, dx, dw and db against f64 on the same values. A row holding an
// inf gives NaN in that row and leaves the others as they were.
Test(ops_attention, norm_f32_huge_values) {
    tg_rng *rng = tg_rng_new(5);
    for (int layer = 1; layer >= 0; layer--) {
        int64_t sh[2] = {layer ? 4 : 40, layer ? 40 : 4}, c = sh[1];
        tg_tensor *x32 = huge_f32(2, sh, 1e20, layer ? 40 : 1), *in32[3], *in64[3];
        tg_tensor *dy = rand_t(rng, TG_F64, 2, sh, false), *g32[3], *g64[3];
        in32[0] = leaf_as(x32, TG_F32), in64[0] = leaf_as(x32, TG_F64);
        for (int k = 1; k < 3; k++) {
            tg_tensor *p = rand_t(rng, TG_F64, 1, &c, false), *p32 = tg_cast(p, TG_F32);
            in32[k] = leaf_as(p32, TG_F32), in64[k] = leaf_as(p32, TG_F64);
            tu_free(p), tu_free(p32);
        }
        cr_log_info("%s norm, x [%lld, %lld]", layer ? "layer" : "batch", (long long)sh[0],
                    (long long)sh[1]);
        tg_tensor *y32 = norm_and_grads(layer, in32, dy, g32);
        tg_tensor *y64 = norm_and_grads(layer, in64, dy, g64);
        expect_close("y f32, huge values", y32, y64, 1e-4);
        const char *what[3] = {"dx f32, huge values", "dw f32, huge values", "db f32, huge values"};
        for (int k = 0; k < 3; k++) expect_close(what[k], g32[k], g64[k], 1e-4);
        free3(g32), free3(g64), tu_free(y64);
        if (layer) {   // an inf in row 1: that row NaN, the others unchanged
            double *v = host(x32);
            v[1 * c + 3] = INFINITY;
            float f[160];
            for (int i = 0; i < 160; i++) f[i] = (float)v[i];
            free(v);
            tg_tensor *xf = tg_tensor_from(tu_cpu(), TG_F32, 2, sh, f), *xi = leaf_as(xf, TG_F32);
            tg_tensor *in_i[3] = {xi, in32[1], in32[2]}, *gi[3];
            tg_tensor *yi = norm_and_grads(true, in_i, dy, gi);
            double *a = host(yi), *b = host(y32);
            for (int i = 0; i < 160; i++) {
                if (i / c == 1)
                    cr_expect(isnan(a[i]), "y[1, %lld] = %g, not NaN", (long long)(i % c), a[i]);
                else
                    cr_expect(a[i] == b[i], "y[%d] changed: %g vs %g", i, a[i], b[i]);
            }
            free(a), free(b), free3(gi), tu_free(xi), tu_free(xf);
        }
        free3(in32), free3(in64);
        tu_free(y32), tu_free(x32), tu_free(dy);
    }
    tg_rng_free(rng);
}

// No rows: y and dx are empty and dw, db are zeros (a sum over no rows), in f32 (dw and db
// from dx's pass) and f64; rows of no values: every result empty.
Test(ops_attention, layer_norm_empty) {
    for (int f32 = 0; f32 < 2; f32++)
        for (int empty_rows = 0; empty_rows < 2; empty_rows++) {
            tg_dtype dt = f32 ? TG_F32 : TG_F64;
            int64_t sh[2] = {empty_rows ? 0 : 3, empty_rows ? 5 : 0}, c = sh[1];
            tg_tensor *in[3] = {tg_tensor_new(tu_cpu(), dt, 2, sh),
                                tg_tensor_new(tu_cpu(), dt, 1, &c),
                                tg_tensor_new(tu_cpu(), dt, 1, &c)};
            for (int k = 0; k < 3; k++) {
                cr_assert_not_null(in[k], "%s", tg_last_error());
                cr_assert_eq(tg_fill_(in[k], 0.5), TG_OK);
                cr_assert_eq(tg_set_requires_grad(in[k], true), TG_OK);
            }
            tg_tape *t = tg_tape_new();
            tg_tensor *y = tg_layer_norm(t, in[0], in[1], in[2], 1e-5), *g[3];
            cr_assert_not_null(y, "%s", tg_last_error());
            cr_expect_eq(tg_numel(y), 0);
            cr_assert_eq(tg_grad(t, tg_sum(t, y), NULL, 3, in, g, NULL), TG_OK, "%s",
                         tg_last_error());
            cr_expect_eq(tg_numel(g[0]), 0);
            for (int k = 1; k < 3; k++) {
                cr_expect_eq(tg_numel(g[k]), c);
                double *v = host(g[k]);
                for (int64_t i = 0; i < c; i++)
                    cr_expect(v[i] == 0, "d%s[%lld] = %g", k == 1 ? "w" : "b", (long long)i, v[i]);
                free(v);
            }
            tg_tape_free(t);
            free3(in);
        }
}

Test(ops_attention, layer_norm_bad_inputs) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){3, 4});
    tg_tensor *w5 = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){5});
    tg_tensor *s = tg_tensor_new(tu_cpu(), TG_F64, 0, NULL);
    tu_expect_fail(tg_layer_norm(t, x, w5, NULL, 1e-5), TG_ERR_SHAPE, "tg_layer_norm", "[5]",
                   "[3,4]");
    tg_clear_error();
    tu_expect_fail(tg_layer_norm(t, s, NULL, NULL, 1e-5), TG_ERR_SHAPE, "tg_layer_norm", "0-D",
                   NULL);
    tg_clear_error();
    tu_expect_fail(tg_layer_norm(t, x, NULL, NULL, -1), TG_ERR_INVALID_ARG, "tg_layer_norm",
                   "eps", NULL);
    tg_clear_error();
    tu_expect_fail(tg_layer_norm_grad(t, w5, x, NULL, 1e-5), TG_ERR_SHAPE, "tg_layer_norm_grad",
                   "[5]", "[3,4]");
    tg_clear_error();
    // a weight that failed to be made is not taken for "no weight"
    tg_tensor *bad = tg_reshape(t, x, 1, (int64_t[]){5});
    cr_expect_null(bad);
    cr_expect_null(tg_layer_norm(t, x, bad, NULL, 1e-5), "a failed weight was dropped");
    tu_expect_error("tg_reshape", NULL);
    tg_clear_error();
    tg_tape_free(t);
    tu_free(x), tu_free(w5), tu_free(s);
}

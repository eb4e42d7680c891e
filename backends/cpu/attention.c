// cpu fused scaled dot-product attention (the attention and attention_grad slots; the
// descriptor and the mask rule are in backend_impl.h). One (batch, head) problem per task,
// tasks split across threads.
//
// f32 takes the blocked path (FlashAttention-2's scheme on the CPU): a block of BR queries
// against blocks of BC keys, the score block a register-tiled product, and an online softmax
// (running max and sum, the accumulated output rescaled when the max moves). No [t, t]
// matrix is kept: the backward pass recomputes the scores, first for the row statistics
// (log-sum-exp), then key block by key block for the gradients, with D_i = dout_i . o_i
// taken from the forward's output.
// f64 (gradcheck's dtype) takes the reference path: the same formulas one query row at a
// time with double accumulators.
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu_internal.h"
#include "backends/vmath.h"
#include "backends/elem_math.h"

// ---- shared pieces ----

// The first element of problem (bi, hi) of a tensor with strides s (b, h, t).
static int64_t base_of(const int64_t *s, int64_t bi, int64_t hi) { return bi * s[0] + hi * s[1]; }

// The dropout factor of weight (i, j) of the problem whose mask index starts at `mbase`:
// 1/(1-p) when kept, 0 when dropped, 1 without dropout.
static double keep_factor(const tg_attn_desc *d, uint64_t mbase, int64_t i, int64_t j) {
    if (!(d->p > 0)) return 1.0;
    if (tg_dropout_u(d->seed, mbase + (uint64_t)(i * d->t + j)) < d->p) return 0.0;
    return d->p < 1 ? 1.0 / (1.0 - d->p) : 0.0;
}

static double ld(const void *p, int64_t i, int dt) {
    return dt == 1 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}
static void st(void *p, int64_t i, int dt, double v) {
    if (dt == 1) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}

// ---- reference path: one query row at a time, double accumulators ----

static double ref_dot(const void *a, int64_t ia, const void *b, int64_t ib, int64_t n, int dt) {
    double s = 0;
    for (int64_t k = 0; k < n; k++) s += ld(a, ia + k, dt) * ld(b, ib + k, dt);
    return s;
}

// Row i's max and sum of exp(s - max) over its visible keys: the log-sum-exp.
static double ref_lse(const tg_attn_desc *d, int64_t qb, int64_t i) {
    int64_t jn = d->causal ? i + 1 : d->t, ts = d->qs[2];
    double m = -INFINITY, l = 0;
    for (int64_t j = 0; j < jn; j++) {
        double s = d->scale * ref_dot(d->q, qb + i * ts, d->k, qb + j * ts, d->d, d->dtype);
        m = s > m ? s : m;
    }
    for (int64_t j = 0; j < jn; j++)
        l += exp(d->scale * ref_dot(d->q, qb + i * ts, d->k, qb + j * ts, d->d, d->dtype) - m);
    return m + log(l);
}

static void ref_forward(const tg_attn_desc *d, int64_t bi, int64_t hi) {
    int dt = d->dtype;
    int64_t qb = base_of(d->qs, bi, hi), ob = base_of(d->os, bi, hi), ts = d->qs[2];
    uint64_t mbase = (uint64_t)((bi * d->h + hi) * d->t) * (uint64_t)d->t;
    for (int64_t i = 0; i < d->t; i++) {
        int64_t jn = d->causal ? i + 1 : d->t, orow = ob + i * d->os[2];
        double lse = ref_lse(d, qb, i);
        for (int64_t e = 0; e < d->d; e++) st(d->o, orow + e, dt, 0.0);
        for (int64_t j = 0; j < jn; j++) {
            double s = d->scale * ref_dot(d->q, qb + i * ts, d->k, qb + j * ts, d->d, dt);
            double w = exp(s - lse) * keep_factor(d, mbase, i, j);
            if (w == 0) continue;
            for (int64_t e = 0; e < d->d; e++)
                st(d->o, orow + e, dt, ld(d->o, orow + e, dt) + w * ld(d->v, qb + j * ts + e, dt));
        }
    }
}

// dq, dk, dv of one problem: dS = P * (dP - D), D_i = dout_i . o_i.
static void ref_backward(const tg_attn_desc *d, int64_t bi, int64_t hi) {
    int dt = d->dtype;
    int64_t qb = base_of(d->qs, bi, hi), ob = base_of(d->os, bi, hi), ts = d->qs[2];
    int64_t os = d->os[2], n = d->d;
    uint64_t mbase = (uint64_t)((bi * d->h + hi) * d->t) * (uint64_t)d->t;
    for (int64_t j = 0; j < d->t; j++)
        for (int64_t e = 0; e < n; e++) {
            st(d->dk, qb + j * ts + e, dt, 0.0);
            st(d->dv, qb + j * ts + e, dt, 0.0);
        }
    for (int64_t i = 0; i < d->t; i++) {
        int64_t jn = d->causal ? i + 1 : d->t, qi = qb + i * ts;
        double lse = ref_lse(d, qb, i),
               dd = ref_dot(d->dout, ob + i * os, d->o, ob + i * os, n, dt);
        for (int64_t e = 0; e < n; e++) st(d->dq, qi + e, dt, 0.0);
        for (int64_t j = 0; j < jn; j++) {
            int64_t kj = qb + j * ts;
            double pr = exp(d->scale * ref_dot(d->q, qi, d->k, kj, n, dt) - lse);
            double kf = keep_factor(d, mbase, i, j);
            double dp = ref_dot(d->dout, ob + i * os, d->v, kj, n, dt) * kf;
            double ds = d->scale * pr * (dp - dd);
            for (int64_t e = 0; e < n; e++) {
                st(d->dv, kj + e, dt,
                   ld(d->dv, kj + e, dt) + pr * kf * ld(d->dout, ob + i * os + e, dt));
                st(d->dq, qi + e, dt, ld(d->dq, qi + e, dt) + ds * ld(d->k, kj + e, dt));
                st(d->dk, kj + e, dt, ld(d->dk, kj + e, dt) + ds * ld(d->q, qi + e, dt));
            }
        }
    }
}

// ---- blocked f32 path ----
//
// Per (batch, head) problem, q (scaled), k, v and dout are first copied into per-thread scratch
// (tg__cpu_scratch, kept between calls): rows padded to a whole number of vectors, k (and v
// for the backward) also transposed, so that every product below reads unit-stride vectors.
// Two register-tiled kernels do all the arithmetic: block_dots (a score block, rows against
// transposed columns: S = q k^T, dP = dout v^T) and block_axpy (rows accumulated from a
// weight block, read by rows or by columns: O += P v, dq += dS k, dv += P^T dout,
// dk += dS^T q). The vector type is the build's widest (16 floats with AVX-512).

#if defined(__AVX512F__)
#define AT_VBYTES 64
#elif defined(__AVX__)
#define AT_VBYTES 32
#else
#define AT_VBYTES 16
#endif
typedef float atv __attribute__((vector_size(AT_VBYTES)));
enum { VL = AT_VBYTES / 4, BR = 32, BC = 64 };
#define AT_INLINE static inline __attribute__((always_inline))

AT_INLINE atv at_ld(const float *p) {
    atv v;
    memcpy(&v, p, sizeof v);
    return v;
}
AT_INLINE void at_st(float *p, atv v) { memcpy(p, &v, sizeof v); }

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// s[r][v*VL ..] (row stride BC) = sum over e < n of a_r[e] * bt[e][v*VL ..], for R rows a_r
// (stride as) and NV vectors of columns of bt (row stride ldb); R, NV constants once inlined.
AT_INLINE void dots_tile(const float *a, int64_t as, const float *bt, int64_t ldb, int64_t n,
                         float *s, int R, int NV) {
    atv c[4][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) c[r][v] = (atv){0};
    for (int64_t e = 0; e < n; e++) {
        atv b[4];
        for (int v = 0; v < NV; v++) b[v] = at_ld(bt + e * ldb + v * VL);
        for (int r = 0; r < R; r++) {
            float x = a[r * as + e];
            for (int v = 0; v < NV; v++) c[r][v] += x * b[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) at_st(s + r * BC + v * VL, c[r][v]);
}

#define AT_TILE_CASES(call, R)                                                                  \
    switch (nv) {                                                                               \
    case 1: call(R, 1); break;                                                                  \
    case 2: call(R, 2); break;                                                                  \
    case 3: call(R, 3); break;                                                                  \
    default: call(R, 4); break;                                                                 \
    }

// s[r][0..w) = a_r . bt[:, 0..w) for nr rows (w a multiple of VL, at most BC).
static void block_dots(const float *a, int64_t as, int nr, const float *bt, int64_t ldb,
                       int64_t n, int w, float *s) {
    for (int c0 = 0; c0 < w; c0 += 4 * VL) {
        int nv = (w - c0) / VL < 4 ? (w - c0) / VL : 4, r = 0;
#define AT_DOTS(R, NV) dots_tile(a + r * as, as, bt + c0, ldb, n, s + r * BC + c0, R, NV)
        for (; r + 4 <= nr; r += 4) AT_TILE_CASES(AT_DOTS, 4)
        for (; r < nr; r++) AT_TILE_CASES(AT_DOTS, 1)
#undef AT_DOTS
    }
}

// y_o[v*VL ..] += sum over s < ns of p[o*po + s*ps] * x_s[v*VL ..], for R rows y_o (stride
// ldy) and NV vectors; the weight block p is read by rows (po = BC, ps = 1) or by columns.
AT_INLINE void axpy_tile(float *y, int64_t ldy, const float *p, int64_t po, int64_t ps,
                         const float *x, int64_t ldx, int64_t ns, int R, int NV) {
    atv c[4][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) c[r][v] = at_ld(y + r * ldy + v * VL);
    for (int64_t s = 0; s < ns; s++) {
        atv xv[4];
        for (int v = 0; v < NV; v++) xv[v] = at_ld(x + s * ldx + v * VL);
        for (int r = 0; r < R; r++) {
            float w = p[r * po + s * ps];
            for (int v = 0; v < NV; v++) c[r][v] += w * xv[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) at_st(y + r * ldy + v * VL, c[r][v]);
}

// y [no, n] += P x (row stride ldy; n a multiple of VL): y_o += sum over s < ns of
// P(o, s) x_s, P(o, s) = p[o*po + s*ps].
static void block_axpy(float *y, int64_t ldy, int no, const float *p, int64_t po, int64_t ps,
                       const float *x, int64_t ldx, int64_t ns, int64_t n) {
    for (int64_t c0 = 0; c0 < n; c0 += 4 * VL) {
        int nv = (int)((n - c0) / VL < 4 ? (n - c0) / VL : 4), o = 0;
#define AT_AXPY(R, NV) \
    axpy_tile(y + o * ldy + c0, ldy, p + o * po, po, ps, x + c0, ldx, ns, R, NV)
        for (; o + 4 <= no; o += 4) AT_TILE_CASES(AT_AXPY, 4)
        for (; o < no; o++) AT_TILE_CASES(AT_AXPY, 1)
#undef AT_AXPY
    }
}

// dst [rows, ld] = alpha * the first `have` rows of src (stride ss, n values each), each
// zero-padded to ld; rows have..rows are zero.
static void load_rows(float *dst, int64_t ld, int64_t rows, const float *src, int64_t ss,
                      int64_t have, int64_t n, float alpha) {
    for (int64_t i = 0; i < rows; i++) {
        float *di = dst + i * ld;
        int64_t e = 0;
        if (i < have)
            for (; e < n; e++) di[e] = alpha * src[i * ss + e];
        for (; e < ld; e++) di[e] = 0;
    }
}

// dst [n, ld] = the first `have` rows of src (stride ss, n values each) transposed; columns
// have..ld are zero. By 16 rows of src at a time, so that their lines stay in L1.
static void load_cols(float *dst, int64_t ld, const float *src, int64_t ss, int64_t have,
                      int64_t n) {
    for (int64_t j0 = 0; j0 < have; j0 += 16) {
        int64_t jn = have - j0 < 16 ? have - j0 : 16;
        for (int64_t e = 0; e < n; e++)
            for (int64_t j = 0; j < jn; j++) dst[e * ld + j0 + j] = src[(j0 + j) * ss + e];
    }
    for (int64_t e = 0; e < n; e++)
        memset(dst + e * ld + have, 0, (size_t)(ld - have) * sizeof *dst);
}

// The columns of key block j0 (jb keys) that rows i0..i0+nr can see: all jb, or under the
// causal mask up to the last row's own key.
static int visible_cols(const tg_attn_desc *d, int64_t i0, int nr, int64_t j0, int jb) {
    int64_t lim = d->causal && i0 + nr - j0 < jb ? i0 + nr - j0 : jb;
    return (int)lim;
}

// Hides the score columns [lim_r, w) of each row: keys past the end (jb) and, under the
// causal mask, keys after the row's own.
static void mask_scores(float *s, int nr, int w, int64_t i0, int64_t j0, int jb, int causal) {
    for (int r = 0; r < nr; r++) {
        int64_t lim = jb;
        if (causal && i0 + r - j0 + 1 < lim) lim = i0 + r - j0 + 1;
        for (int64_t j = lim < 0 ? 0 : lim; j < w; j++) s[r * BC + j] = -INFINITY;
    }
}

// Scales p [nr, BC] by the dropout factors of its block (columns below jb).
static void drop_block(const tg_attn_desc *d, uint64_t mbase, float *p, int nr, int jb,
                       int64_t i0, int64_t j0) {
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < jb; j++) p[r * BC + j] *= (float)keep_factor(d, mbase, i0 + r, j0 + j);
}

// The sum of a vector's lanes, by halves.
static inline float lanes_sum(atv v) {
    float t[VL];
    memcpy(t, &v, sizeof t);
    for (int h = VL / 2; h > 0; h /= 2)
        for (int i = 0; i < h; i++) t[i] += t[i + h];
    return t[0];
}

// Online softmax over one score block [nr, w] (w a multiple of VL): updates each row's
// running max m and its sum, kept as one vector of lane sums lv (added across lanes once,
// at the end), turns s into exp(s - m_new) and rescales the accumulated rows acc (stride n;
// NULL: none) by exp(m_old - m_new).
static void online_rows(float *s, int nr, int w, float *m, atv *lv, float *acc, int64_t n) {
    for (int r = 0; r < nr; r++) {
        float *sr = s + r * BC, mx = m[r];
#pragma omp simd reduction(max : mx)
        for (int j = 0; j < w; j++) mx = sr[j] > mx ? sr[j] : mx;
        if (mx == -INFINITY) {   // nothing visible yet: no weight, nothing to rescale
            memset(sr, 0, (size_t)w * sizeof *sr);
            continue;
        }
        float alpha = m[r] == mx ? 1.0f : m[r] == -INFINITY ? 0.0f : tg_vexpf(m[r] - mx);
        for (int j = 0; j < w; j++) sr[j] = tg_vexpf_nonpos(sr[j] - mx);
        atv sum = lv[r] * alpha;
        for (int j = 0; j < w; j += VL) sum += at_ld(sr + j);
        lv[r] = sum;
        m[r] = mx;
        if (acc && alpha != 1.0f)
            for (int64_t e = 0; e < n; e++) acc[r * n + e] *= alpha;
    }
}

// Running max m and sum l of rows i0..i0+nr over their visible keys (scores only), from the
// scaled q rows and transposed keys kt [n, ld]; with acc and v: the output rows too.
static void softmax_rows(const tg_attn_desc *d, uint64_t mbase, const float *q, int64_t np,
                         const float *kt, int64_t ld, const float *v, int64_t i0, int nr,
                         float *s, float *m, float *l, float *acc) {
    int64_t jend = d->causal ? i0 + nr : d->t;
    atv lv[BR];
    for (int r = 0; r < nr; r++) m[r] = -INFINITY, lv[r] = (atv){0};
    if (acc) memset(acc, 0, (size_t)(nr * np) * sizeof *acc);
    for (int64_t j0 = 0; j0 < jend; j0 += BC) {
        int jb = (int)(d->t - j0 < BC ? d->t - j0 : BC), lim = visible_cols(d, i0, nr, j0, jb);
        int w = (int)round_up(lim, VL);
        block_dots(q + i0 * np, np, nr, kt + j0, ld, d->d, w, s);
        mask_scores(s, nr, w, i0, j0, jb, d->causal);
        online_rows(s, nr, w, m, lv, acc, np);
        if (!acc) continue;
        if (d->p > 0) drop_block(d, mbase, s, nr, lim, i0, j0);
        block_axpy(acc, np, nr, s, BC, 1, v + j0 * np, np, w, np);
    }
    for (int r = 0; r < nr; r++) l[r] = lanes_sum(lv[r]);
}

// The floats of scratch the blocked path needs for one problem.
static size_t fast_scratch(const tg_attn_desc *d, bool backward) {
    int64_t t = d->t, n = d->d, np = round_up(n, VL), tp = round_up(t, BC);
    if (!backward) return (size_t)(t * np + n * tp + tp * np + BR * np + BR * (BC + 2));
    return (size_t)(3 * t * np + 2 * n * tp + tp * np + 2 * BC * np + 3 * BR * BC + 2 * t);
}

static void fast_forward(const tg_attn_desc *d, int64_t bi, int64_t hi, float *buf) {
    int64_t t = d->t, n = d->d, np = round_up(n, VL), tp = round_up(t, BC), ts = d->qs[2];
    int64_t qb = base_of(d->qs, bi, hi), ob = base_of(d->os, bi, hi);
    uint64_t mbase = (uint64_t)((bi * d->h + hi) * d->t) * (uint64_t)d->t;
    float *q = buf, *kt = q + t * np, *v = kt + n * tp, *acc = v + tp * np, *s = acc + BR * np;
    float *m = s + BR * BC, *l = m + BR;
    load_rows(q, np, t, (const float *)d->q + qb, ts, t, n, (float)d->scale);
    load_cols(kt, tp, (const float *)d->k + qb, ts, t, n);
    load_rows(v, np, tp, (const float *)d->v + qb, ts, t, n, 1.0f);
    for (int64_t i0 = 0; i0 < t; i0 += BR) {
        int nr = (int)(t - i0 < BR ? t - i0 : BR);
        softmax_rows(d, mbase, q, np, kt, tp, v, i0, nr, s, m, l, acc);
        for (int r = 0; r < nr; r++) {
            float *o = (float *)d->o + ob + (i0 + r) * d->os[2], inv = 1.0f / l[r];
            for (int64_t e = 0; e < n; e++) o[e] = acc[r * np + e] * inv;
        }
    }
}

// FlashAttention-2's backward: the row statistics (log-sum-exp) first, then key blocks
// outer, their dk and dv rows accumulated in scratch across the query blocks that see them,
// dq accumulated across key blocks.
static void fast_backward(const tg_attn_desc *d, int64_t bi, int64_t hi, float *buf) {
    int64_t t = d->t, n = d->d, np = round_up(n, VL), tp = round_up(t, BC), ts = d->qs[2];
    int64_t qb = base_of(d->qs, bi, hi), ob = base_of(d->os, bi, hi), os = d->os[2];
    uint64_t mbase = (uint64_t)((bi * d->h + hi) * d->t) * (uint64_t)d->t;
    float *q = buf, *dout = q + t * np, *dq = dout + t * np, *kt = dq + t * np;
    float *vt = kt + n * tp, *k = vt + n * tp, *dk = k + tp * np, *dv = dk + BC * np;
    float *s = dv + BC * np, *dp = s + BR * BC, *pd = dp + BR * BC, *lse = pd + BR * BC;
    float *dd = lse + t, m[BR], l[BR];
    const float *o = (const float *)d->o + ob, *gout = (const float *)d->dout + ob;
    load_rows(q, np, t, (const float *)d->q + qb, ts, t, n, (float)d->scale);
    load_rows(dout, np, t, gout, os, t, n, 1.0f);
    load_cols(kt, tp, (const float *)d->k + qb, ts, t, n);
    load_cols(vt, tp, (const float *)d->v + qb, ts, t, n);
    load_rows(k, np, tp, (const float *)d->k + qb, ts, t, n, 1.0f);
    memset(dq, 0, (size_t)(t * np) * sizeof *dq);
    for (int64_t i0 = 0; i0 < t; i0 += BR) {
        int nr = (int)(t - i0 < BR ? t - i0 : BR);
        softmax_rows(d, mbase, q, np, kt, tp, NULL, i0, nr, s, m, l, NULL);
        for (int r = 0; r < nr; r++) {
            float acc = 0;
            for (int64_t e = 0; e < n; e++) acc += gout[(i0 + r) * os + e] * o[(i0 + r) * os + e];
            lse[i0 + r] = m[r] + logf(l[r]);
            dd[i0 + r] = acc;
        }
    }
    for (int64_t j0 = 0; j0 < t; j0 += BC) {
        int jb = (int)(t - j0 < BC ? t - j0 : BC);
        memset(dk, 0, (size_t)(2 * BC * np) * sizeof *dk);   // dk and dv
        for (int64_t i0 = d->causal ? j0 / BR * BR : 0; i0 < t; i0 += BR) {
            int nr = (int)(t - i0 < BR ? t - i0 : BR), lim = visible_cols(d, i0, nr, j0, jb);
            int w = (int)round_up(lim, VL);
            block_dots(q + i0 * np, np, nr, kt + j0, tp, n, w, s);
            mask_scores(s, nr, w, i0, j0, jb, d->causal);
            for (int r = 0; r < nr; r++) {
                float *sr = s + r * BC, li = lse[i0 + r];
                for (int j = 0; j < w; j++) sr[j] = tg_vexpf_nonpos(sr[j] - li);
            }
            block_dots(dout + i0 * np, np, nr, vt + j0, tp, n, w, dp);
            const float *pw = s;   // the weights dv takes: dropped ones under dropout
            if (d->p > 0) {
                memcpy(pd, s, (size_t)(nr * BC) * sizeof *pd);
                drop_block(d, mbase, pd, nr, lim, i0, j0);
                drop_block(d, mbase, dp, nr, lim, i0, j0);
                pw = pd;
            }
            block_axpy(dv, np, w, pw, 1, BC, dout + i0 * np, np, nr, np);
            for (int r = 0; r < nr; r++) {
                float *sr = s + r * BC, *dr = dp + r * BC, di = dd[i0 + r];
                for (int j = 0; j < w; j++) sr[j] *= dr[j] - di;
            }
            block_axpy(dq + i0 * np, np, nr, s, BC, 1, k + j0 * np, np, w, np);
            block_axpy(dk, np, w, s, 1, BC, q + i0 * np, np, nr, np);
        }
        for (int j = 0; j < jb; j++) {
            memcpy((float *)d->dk + qb + (j0 + j) * ts, dk + j * np, (size_t)n * sizeof(float));
            memcpy((float *)d->dv + qb + (j0 + j) * ts, dv + j * np, (size_t)n * sizeof(float));
        }
    }
    float sc = (float)d->scale;
    for (int64_t i = 0; i < t; i++)
        for (int64_t e = 0; e < n; e++) ((float *)d->dq)[qb + i * ts + e] = sc * dq[i * np + e];
}

// ---- entry points ----

// One problem, forward or backward, on the path its dtype takes; TG_ERR_OOM when the
// blocked path's scratch cannot be had.
static int run_problem(const tg_attn_desc *d, int64_t p, bool backward) {
    int64_t bi = p / d->h, hi = p % d->h;
    if (d->dtype == TG_F64) {
        if (backward) ref_backward(d, bi, hi);
        else ref_forward(d, bi, hi);
        return TG_OK;
    }
    float *buf = tg__cpu_scratch(fast_scratch(d, backward) * sizeof(float));
    if (!buf) return TG_ERR_OOM;
    if (backward) fast_backward(d, bi, hi, buf);
    else fast_forward(d, bi, hi, buf);
    return TG_OK;
}

// Problems split across threads (none started for one thread: an OpenMP region, even a
// serial one, allocates its team).
static int run_problems(void *ctx, const tg_attn_desc *d, bool backward) {
    int64_t n = d->b * d->h;
    int nt = tg_cpu_threads(ctx), status = TG_OK;
    if (nt > n) nt = (int)n;
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t p = 0; p < n; p++) {
            int st = run_problem(d, p, backward);
            if (st) {
#pragma omp atomic write
                status = st;
            }
        }
        return status;
    }
#endif
    for (int64_t p = 0; p < n && !status; p++) status = run_problem(d, p, backward);
    return status;
}

static int tg_cpu_attention(void *ctx, const tg_attn_desc *d) {
    return d->t > 0 && d->d > 0 ? run_problems(ctx, d, false) : TG_OK;
}

static int tg_cpu_attention_grad(void *ctx, const tg_attn_desc *d) {
    return d->t > 0 && d->d > 0 ? run_problems(ctx, d, true) : TG_OK;
}

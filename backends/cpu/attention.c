// cpu fused scaled dot-product attention (the attention and attention_grad slots; the
// descriptor and the mask rule are in backend_impl.h). One (batch, head) problem per task,
// tasks split across threads.
//
// f32 with head_dim <= DMAX takes the blocked path (FlashAttention's scheme on the CPU): a
// block of BR queries against blocks of BC keys, with the keys transposed into a small
// buffer so that the score block is a register-tiled product vectorised across keys, and an
// online softmax (running max and sum, the accumulated output rescaled when the max moves).
// No [t, t] matrix is kept: the backward pass recomputes each score block from q and k, first
// for the row statistics (log-sum-exp), then for the gradients, with D_i = dout_i . o_i
// taken from the forward's output. Scratch lives on the stack (about 150 KB).
// f64 (gradcheck's dtype) and wider heads take the reference path: the same formulas one
// query row at a time with double accumulators.
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu_internal.h"
#include "backends/vmath.h"
#include "backends/elem_math.h"

enum { BR = 16, BC = 64, DMAX = 256 };

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

// s[r][0..BC) = alpha * a_r . bt[:, 0..BC) for the nr rows a_r (row stride as) and bt, the
// [n, BC] transposed key (or value) block. Four rows share each load of bt; the 4 x 16
// accumulators of one column chunk stay in registers.
static void block_dots(const float *a, int64_t as, int nr, const float *bt, int64_t n,
                       float alpha, float *s) {
    int r = 0;
    for (; r + 4 <= nr; r += 4) {
        const float *a0 = a + r * as, *a1 = a0 + as, *a2 = a1 + as, *a3 = a2 + as;
        for (int jc = 0; jc < BC; jc += 16) {
            float c0[16] = {0}, c1[16] = {0}, c2[16] = {0}, c3[16] = {0};
            for (int64_t e = 0; e < n; e++) {
                const float *b = bt + e * BC + jc;
                float x0 = a0[e], x1 = a1[e], x2 = a2[e], x3 = a3[e];
                for (int j = 0; j < 16; j++) {
                    c0[j] += x0 * b[j];
                    c1[j] += x1 * b[j];
                    c2[j] += x2 * b[j];
                    c3[j] += x3 * b[j];
                }
            }
            for (int j = 0; j < 16; j++) {
                s[r * BC + jc + j] = alpha * c0[j];
                s[(r + 1) * BC + jc + j] = alpha * c1[j];
                s[(r + 2) * BC + jc + j] = alpha * c2[j];
                s[(r + 3) * BC + jc + j] = alpha * c3[j];
            }
        }
    }
    for (; r < nr; r++) {
        const float *a0 = a + r * as;
        float c0[BC] = {0};
        for (int64_t e = 0; e < n; e++)
            for (int j = 0; j < BC; j++) c0[j] += a0[e] * bt[e * BC + j];
        for (int j = 0; j < BC; j++) s[r * BC + j] = alpha * c0[j];
    }
}

// bt [n, BC] = the jb rows of x (row stride xs) transposed; columns jb.. are zero.
static void transpose_block(const float *x, int64_t xs, int jb, int64_t n, float *bt) {
    if (jb < BC)
        for (int64_t e = 0; e < n; e++) memset(bt + e * BC + jb, 0, (size_t)(BC - jb) * sizeof *bt);
    for (int j = 0; j < jb; j++)
        for (int64_t e = 0; e < n; e++) bt[e * BC + j] = x[j * xs + e];
}

// Hides keys past the block's end (jb) and, under the causal mask, keys after each query.
static void mask_block(float *s, int nr, int jb, int64_t i0, int64_t j0, int causal) {
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < BC; j++)
            if (j >= jb || (causal && j0 + j > i0 + r)) s[r * BC + j] = -INFINITY;
}

// Scales p [nr, BC] by the dropout factors of its block.
static void drop_block(const tg_attn_desc *d, uint64_t mbase, float *p, int nr, int jb,
                       int64_t i0, int64_t j0) {
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < jb; j++) p[r * BC + j] *= (float)keep_factor(d, mbase, i0 + r, j0 + j);
}

typedef struct attn_scratch {
    float kt[DMAX * BC];     // a key (or value) block, transposed: [d, BC]
    float vt[DMAX * BC];
    float s[BR * BC];        // scores, then probabilities
    float dp[BR * BC];
    float acc[BR * DMAX];    // output (forward) or dq (backward) rows
    float m[BR], l[BR];
} attn_scratch;

// acc[r][0..n) += sum over j < jb of p[r][j] * x_j[0..n)
static void accumulate_rows(float *acc, const float *p, int nr, int jb, const float *x,
                            int64_t xs, int64_t n, float alpha) {
    for (int r = 0; r < nr; r++) {
        float *ar = acc + r * DMAX;
        for (int j = 0; j < jb; j++) {
            float w = alpha * p[r * BC + j];
            const float *xj = x + j * xs;
            for (int64_t e = 0; e < n; e++) ar[e] += w * xj[e];
        }
    }
}

// y_j[0..n) += alpha * sum over r < nr of p[r][j] * a_r[0..n), for j < jb
static void accumulate_cols(float *y, int64_t ys, const float *p, int nr, int jb,
                            const float *a, int64_t as, int64_t n, float alpha) {
    for (int j = 0; j < jb; j++) {
        float *yj = y + j * ys;
        for (int r = 0; r < nr; r++) {
            float w = alpha * p[r * BC + j];
            const float *ar = a + r * as;
            for (int64_t e = 0; e < n; e++) yj[e] += w * ar[e];
        }
    }
}

// Online softmax over one score block: updates each row's running max m and sum l, turns s
// into exp(s - m_new) and rescales the accumulated rows by exp(m_old - m_new).
static void online_block(attn_scratch *w, int nr, int64_t n, bool rescale) {
    for (int r = 0; r < nr; r++) {
        float *s = w->s + r * BC, mx = w->m[r];
        for (int j = 0; j < BC; j++) mx = s[j] > mx ? s[j] : mx;
        if (mx == -INFINITY) {   // nothing visible yet: no weight, nothing to rescale
            memset(s, 0, BC * sizeof *s);
            continue;
        }
        float alpha = w->m[r] == -INFINITY ? 0.0f : tg_vexpf(w->m[r] - mx), sum = 0;
        for (int j = 0; j < BC; j++) {
            s[j] = tg_vexpf_nonpos(s[j] - mx);
            sum += s[j];
        }
        w->l[r] = w->l[r] * alpha + sum;
        w->m[r] = mx;
        if (rescale)
            for (int64_t e = 0; e < n; e++) w->acc[r * DMAX + e] *= alpha;
    }
}

static void fast_forward(const tg_attn_desc *d, int64_t bi, int64_t hi, attn_scratch *w) {
    int64_t qb = base_of(d->qs, bi, hi), ob = base_of(d->os, bi, hi), ts = d->qs[2], n = d->d;
    const float *q = (const float *)d->q + qb, *k = (const float *)d->k + qb;
    const float *v = (const float *)d->v + qb;
    uint64_t mbase = (uint64_t)((bi * d->h + hi) * d->t) * (uint64_t)d->t;
    for (int64_t i0 = 0; i0 < d->t; i0 += BR) {
        int nr = (int)(d->t - i0 < BR ? d->t - i0 : BR);
        int64_t jend = d->causal ? i0 + nr : d->t;
        for (int r = 0; r < nr; r++) {
            w->m[r] = -INFINITY;
            w->l[r] = 0;
            memset(w->acc + r * DMAX, 0, (size_t)n * sizeof(float));
        }
        for (int64_t j0 = 0; j0 < jend; j0 += BC) {
            int jb = (int)(jend - j0 < BC ? jend - j0 : BC);
            transpose_block(k + j0 * ts, ts, jb, n, w->kt);
            block_dots(q + i0 * ts, ts, nr, w->kt, n, (float)d->scale, w->s);
            mask_block(w->s, nr, jb, i0, j0, d->causal);
            online_block(w, nr, n, true);
            if (d->p > 0) drop_block(d, mbase, w->s, nr, jb, i0, j0);
            accumulate_rows(w->acc, w->s, nr, jb, v + j0 * ts, ts, n, 1.0f);
        }
        for (int r = 0; r < nr; r++) {
            float *o = (float *)d->o + ob + (i0 + r) * d->os[2], inv = 1.0f / w->l[r];
            for (int64_t e = 0; e < n; e++) o[e] = w->acc[r * DMAX + e] * inv;
        }
    }
}

// The backward pass of one query block: row statistics, then the gradient blocks.
static void fast_backward_rows(const tg_attn_desc *d, int64_t bi, int64_t hi, int64_t i0,
                               int nr, attn_scratch *w) {
    int64_t qb = base_of(d->qs, bi, hi), ob = base_of(d->os, bi, hi), ts = d->qs[2], n = d->d;
    int64_t os = d->os[2];
    const float *q = (const float *)d->q + qb, *k = (const float *)d->k + qb;
    const float *v = (const float *)d->v + qb, *o = (const float *)d->o + ob;
    const float *dout = (const float *)d->dout + ob;
    float *dk = (float *)d->dk + qb, *dv = (float *)d->dv + qb, *dq = (float *)d->dq + qb;
    uint64_t mbase = (uint64_t)((bi * d->h + hi) * d->t) * (uint64_t)d->t;
    int64_t jend = d->causal ? i0 + nr : d->t;
    float lse[BR], dd[BR], sc = (float)d->scale;
    for (int r = 0; r < nr; r++) {
        w->m[r] = -INFINITY;
        w->l[r] = 0;
        float s = 0;
        for (int64_t e = 0; e < n; e++) s += dout[(i0 + r) * os + e] * o[(i0 + r) * os + e];
        dd[r] = s;
        memset(w->acc + r * DMAX, 0, (size_t)n * sizeof(float));
    }
    for (int64_t j0 = 0; j0 < jend; j0 += BC) {
        int jb = (int)(jend - j0 < BC ? jend - j0 : BC);
        transpose_block(k + j0 * ts, ts, jb, n, w->kt);
        block_dots(q + i0 * ts, ts, nr, w->kt, n, sc, w->s);
        mask_block(w->s, nr, jb, i0, j0, d->causal);
        online_block(w, nr, n, false);
    }
    for (int r = 0; r < nr; r++) lse[r] = w->m[r] + logf(w->l[r]);
    for (int64_t j0 = 0; j0 < jend; j0 += BC) {
        int jb = (int)(jend - j0 < BC ? jend - j0 : BC);
        transpose_block(k + j0 * ts, ts, jb, n, w->kt);
        transpose_block(v + j0 * ts, ts, jb, n, w->vt);
        block_dots(q + i0 * ts, ts, nr, w->kt, n, sc, w->s);
        mask_block(w->s, nr, jb, i0, j0, d->causal);
        for (int r = 0; r < nr; r++)
            for (int j = 0; j < BC; j++)
                w->s[r * BC + j] = tg_vexpf_nonpos(w->s[r * BC + j] - lse[r]);
        block_dots(dout + i0 * os, os, nr, w->vt, n, 1.0f, w->dp);
        if (d->p > 0) {   // dv takes the dropped weights, dS the dropped dP
            for (int r = 0; r < nr; r++)
                for (int j = 0; j < BC; j++) w->vt[r * BC + j] = w->s[r * BC + j];
            drop_block(d, mbase, w->vt, nr, jb, i0, j0);
            drop_block(d, mbase, w->dp, nr, jb, i0, j0);
            accumulate_cols(dv + j0 * ts, ts, w->vt, nr, jb, dout + i0 * os, os, n, 1.0f);
        } else {
            accumulate_cols(dv + j0 * ts, ts, w->s, nr, jb, dout + i0 * os, os, n, 1.0f);
        }
        for (int r = 0; r < nr; r++)
            for (int j = 0; j < BC; j++)
                w->s[r * BC + j] = w->s[r * BC + j] * (w->dp[r * BC + j] - dd[r]);
        accumulate_rows(w->acc, w->s, nr, jb, k + j0 * ts, ts, n, sc);
        accumulate_cols(dk + j0 * ts, ts, w->s, nr, jb, q + i0 * ts, ts, n, sc);
    }
    for (int r = 0; r < nr; r++)
        memcpy(dq + (i0 + r) * ts, w->acc + r * DMAX, (size_t)n * sizeof(float));
}

static void fast_backward(const tg_attn_desc *d, int64_t bi, int64_t hi, attn_scratch *w) {
    int64_t qb = base_of(d->qs, bi, hi), ts = d->qs[2];
    for (int64_t j = 0; j < d->t; j++) {
        memset((float *)d->dk + qb + j * ts, 0, (size_t)d->d * sizeof(float));
        memset((float *)d->dv + qb + j * ts, 0, (size_t)d->d * sizeof(float));
    }
    for (int64_t i0 = 0; i0 < d->t; i0 += BR)
        fast_backward_rows(d, bi, hi, i0, (int)(d->t - i0 < BR ? d->t - i0 : BR), w);
}

// ---- entry points ----

// One problem, forward or backward, on the path its dtype and head size take.
static void run_problem(const tg_attn_desc *d, int64_t p, bool backward) {
    attn_scratch w;
    int64_t bi = p / d->h, hi = p % d->h;
    bool fast = d->dtype != TG_F64 && d->d <= DMAX;
    if (fast && backward) fast_backward(d, bi, hi, &w);
    else if (fast) fast_forward(d, bi, hi, &w);
    else if (backward) ref_backward(d, bi, hi);
    else ref_forward(d, bi, hi);
}

// Problems split across threads (none started for one thread: an OpenMP region, even a
// serial one, allocates its team).
static void run_problems(void *ctx, const tg_attn_desc *d, bool backward) {
    int64_t n = d->b * d->h;
    int nt = tg_cpu_threads(ctx);
    if (nt > n) nt = (int)n;
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t p = 0; p < n; p++) run_problem(d, p, backward);
        return;
    }
#endif
    for (int64_t p = 0; p < n; p++) run_problem(d, p, backward);
}

static int tg_cpu_attention(void *ctx, const tg_attn_desc *d) {
    if (d->t > 0 && d->d > 0) run_problems(ctx, d, false);
    return TG_OK;
}

static int tg_cpu_attention_grad(void *ctx, const tg_attn_desc *d) {
    if (d->t > 0 && d->d > 0) run_problems(ctx, d, true);
    return TG_OK;
}

// One dtype's Winograd F(2x2, 3x3) convolution (included by conv.c with T, V, L, SUF
// defined; WG_MR, WG_NV are conv.c's tile sizes). See conv.c for the scheme. Transforms:
//   u = G g G^T,  G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]     (3 x 3 kernel -> 4 x 4)
//   v = B^T d B,  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]      (4 x 4 input tile)
//   y = A^T m A,  A^T = [1 1 1 0; 0 1 -1 -1]                           (4 x 4 -> 2 x 2 outputs)
// with m[xi] = sum over c of u[xi, o, c] v[xi, c] for each of the 16 elements xi = 4 a + b.
#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)

// The transformed kernels of output channels [o0, o1) (o1 at most nob * WG_MR; 0 past the
// last channel), in panels of WG_MR channels: u[xi * us + (ob * ci + c) * WG_MR + r] for
// o = ob * WG_MR + r. Forward: g = wt[o, c]; dx: g = wt[c, o] turned by 180 degrees.
static void CAT(wg_weights, SUF)(const tg_conv_desc *d, int64_t o0, int64_t o1, int64_t us,
                                 T *restrict u) {
    const T *wt = d->wt;
    const T h = (T)0.5;
    for (int64_t o = o0; o < o1; o++)
        for (int64_t c = 0; c < d->ci; c++) {
            T g[3][3] = {{0}}, t[4][3];
            if (o < d->co)
                for (int k = 0; k < 9; k++)
                    g[k / 3][k % 3] = d->mode == TG_CONV_DX ? wt[(c * d->co + o) * 9 + 8 - k]
                                                           : wt[(o * d->ci + c) * 9 + k];
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[0][j];
                t[1][j] = (g[0][j] + g[1][j] + g[2][j]) * h;
                t[2][j] = (g[0][j] - g[1][j] + g[2][j]) * h;
                t[3][j] = g[2][j];
            }
            T *dst = u + ((o / WG_MR) * d->ci + c) * WG_MR + o % WG_MR;
            for (int a = 0; a < 4; a++) {
                T e[4] = {t[a][0], (t[a][0] + t[a][1] + t[a][2]) * h,
                          (t[a][0] - t[a][1] + t[a][2]) * h, t[a][2]};
                for (int b = 0; b < 4; b++) dst[(a * 4 + b) * us] = e[b];
            }
        }
}

// Rows r0 .. r0 + nr - 1 of image img's padded planes (row r, column s: x[c, r - ph, s - pw],
// 0 outside x; ph, pw may be negative), split by column parity: buf[((c * nr + r - r0) * 2 +
// p) * ne + k] is column 2 k + p. Then L + 1 zeros: a row's last vectors reach past it.
static void CAT(wg_pad_rows, SUF)(const tg_conv_desc *d, const T *img, int64_t r0, int64_t nr,
                                  int64_t ne, T *restrict buf) {
    memset(buf, 0, (size_t)(d->ci * nr * 2 * ne + L + 1) * sizeof(T));
    int64_t j0 = d->pw < 0 ? -d->pw : 0, j1 = 2 * ne - d->pw;   // x's columns in the rows
    if (j1 > d->w) j1 = d->w;
    int64_t i0 = r0 - d->ph < 0 ? 0 : r0 - d->ph, i1 = r0 + nr - d->ph;   // and its rows
    if (i1 > d->h) i1 = d->h;
    for (int64_t c = 0; c < d->ci; c++)
        for (int64_t i = i0; i < i1; i++) {
            T *e = buf + (c * nr + i + d->ph - r0) * 2 * ne, *od = e + ne;
            const T *s = img + (c * d->h + i) * d->w;
            int64_t j = j0;
            if ((j + d->pw) & 1 && j < j1) od[(j + d->pw) / 2] = s[j], j++;
            int64_t k = (j + d->pw) / 2;   // column j + pw = 2k: even
            for (; j + 1 < j1; j += 2, k++) e[k] = s[j], od[k] = s[j + 1];
            if (j < j1) e[k] = s[j];
        }
}
// out[r, j] (=, or += when `add`) sum over k of w[r * w_rs + k * w_ks] x[k * x_ks + j] for
// WG_MR rows r and NVC vectors j: the register tile of both products. The forward's: w = u's
// panel (w_rs 1, w_ks WG_MR), x = v's rows, k = the input channels; dw's: w = v's rows (w_rs
// tp, w_ks 1), x = z, k = the tiles, added to the sums (each group's sum made from 0, then
// added: a shorter chain of roundings than one running sum over every tile of the batch;
// test_conv's 2 x 32 x 20 x 64 case: dw's f32 error 4e-5 -> 2e-5).
static inline __attribute__((always_inline)) void
CAT(wg_tile, SUF)(const int NVC, int64_t k, const T *restrict w, int64_t w_rs, int64_t w_ks,
                  const T *restrict x, int64_t x_ks, T *restrict out, int64_t out_rs,
                  bool add) {
    V acc[WG_MR][WG_NV];
#pragma GCC unroll 16
    for (int r = 0; r < WG_MR; r++)
#pragma GCC unroll 4
        for (int j = 0; j < NVC; j++) acc[r][j] = (V){0};
    for (int64_t c = 0; c < k; c++) {
        V xv[WG_NV];
#pragma GCC unroll 4
        for (int j = 0; j < NVC; j++) memcpy(&xv[j], x + c * x_ks + j * L, sizeof(V));
#pragma GCC unroll 16
        for (int r = 0; r < WG_MR; r++) {
            T wr = w[r * w_rs + c * w_ks];
#pragma GCC unroll 4
            for (int j = 0; j < NVC; j++) acc[r][j] += wr * xv[j];
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < WG_MR; r++)
#pragma GCC unroll 4
        for (int j = 0; j < NVC; j++) {
            V o = acc[r][j];
            if (add) {
                V s;
                memcpy(&s, out + r * out_rs + j * L, sizeof s);
                o += s;
            }
            memcpy(out + r * out_rs + j * L, &o, sizeof o);
        }
}

// m[xi, o, t] = sum over c of u[xi, o, c] v[xi, c, t] for the 16 elements, all nob * WG_MR
// channels o and tiles t of nvec vectors (the element planes of u, v, m: p's us, vs, ms apart).
static void CAT(wg_products, SUF)(int64_t ci, const wg_plan *p, const T *u, const T *v,
                                  int64_t nvec, T *m) {
    int64_t nob = p->nob, tp = p->tp;
    for (int64_t xi = 0; xi < 16; xi++)
        for (int64_t ob = 0; ob < nob; ob++) {
            const T *up = u + xi * p->us + ob * ci * WG_MR, *vx = v + xi * p->vs;
            T *mp = m + xi * p->ms + ob * WG_MR * tp;
            int64_t v0 = 0;
            for (; v0 + WG_NV <= nvec; v0 += WG_NV)
                CAT(wg_tile, SUF)(WG_NV, ci, up, 1, WG_MR, vx + v0 * L, tp, mp + v0 * L, tp, false);
            if (nvec - v0 == 2)
                CAT(wg_tile, SUF)(2, ci, up, 1, WG_MR, vx + v0 * L, tp, mp + v0 * L, tp, false);
            else if (nvec - v0 == 1)
                CAT(wg_tile, SUF)(1, ci, up, 1, WG_MR, vx + v0 * L, tp, mp + v0 * L, tp, false);
        }
}

// The input and output transforms at the vector width that fits a row of tiles
// (winograd_tf.h): a 7 x 7 image has rows of 4 tiles, which whole 16-lane vectors stored and
// loaded 4 times over (conv2d-32x64x7x7-64k3 forward 0.69 -> 0.52 ms, Zen 5, 1 thread).
#define VT V
#define VL L
#define TSUF CAT(SUF, _w1)
#include "backends/cpu/winograd_tf.h"
#if L >= 4
typedef T CAT(wg_v2, SUF) __attribute__((vector_size(sizeof(T) * L / 2)));
#define VT CAT(wg_v2, SUF)
#define VL (L / 2)
#define TSUF CAT(SUF, _w2)
#include "backends/cpu/winograd_tf.h"
#endif
#if L >= 8
typedef T CAT(wg_v4, SUF) __attribute__((vector_size(sizeof(T) * L / 4)));
#define VT CAT(wg_v4, SUF)
#define VL (L / 4)
#define TSUF CAT(SUF, _w4)
#include "backends/cpu/winograd_tf.h"
#endif

// The narrowest width (L, L / 2 or L / 4 lanes) that holds a row's ntw tiles, as a divisor.
static int CAT(wg_width, SUF)(int64_t ntw) {
    if (L >= 8 && ntw <= L / 4) return 4;
    if (L >= 4 && ntw <= L / 2) return 2;
    return 1;
}

static void CAT(wg_input, SUF)(const tg_conv_desc *d, const T *buf, int64_t nt, int64_t ntw,
                               int64_t ne, T *restrict v, int64_t vs, int64_t tp, int64_t q) {
    switch (CAT(wg_width, SUF)(ntw)) {
#if L >= 8
    case 4: CAT(wg_input, CAT(SUF, _w4))(d, buf, nt, ntw, ne, v, vs, tp, q); break;
#endif
#if L >= 4
    case 2: CAT(wg_input, CAT(SUF, _w2))(d, buf, nt, ntw, ne, v, vs, tp, q); break;
#endif
    default: CAT(wg_input, CAT(SUF, _w1))(d, buf, nt, ntw, ne, v, vs, tp, q);
    }
}

static bool CAT(wg_output, SUF)(const tg_conv_desc *d, const T *m, int64_t xs, int64_t tp,
                                int64_t q, int64_t img, int64_t ti0, int64_t nt, int64_t ntw) {
    switch (CAT(wg_width, SUF)(ntw)) {
#if L >= 8
    case 4: return CAT(wg_output, CAT(SUF, _w4))(d, m, xs, tp, q, img, ti0, nt, ntw);
#endif
#if L >= 4
    case 2: return CAT(wg_output, CAT(SUF, _w2))(d, m, xs, tp, q, img, ti0, nt, ntw);
#endif
    default: return CAT(wg_output, CAT(SUF, _w1))(d, m, xs, tp, q, img, ti0, nt, ntw);
    }
}

// Tile rows [r0, r1) of the batch (row r: tile row r % nth of image r / nth), p->gr at a
// time: their padded rows, input tiles, products and outputs. v, m, pad: this thread's
// buffers (wg_plan). false when an output is not finite.
static bool CAT(wg_rows, SUF)(const tg_conv_desc *d, const wg_plan *p, const T *u, T *v, T *m,
                              T *pad, int64_t r0, int64_t r1) {
    const T *x = d->x;
    int64_t nth = p->nth, ntw = p->ntw, tp = p->tp;
    bool finite = true;
    for (int64_t g0 = r0; g0 < r1; g0 += p->gr) {
        int64_t g1 = g0 + p->gr < r1 ? g0 + p->gr : r1, tiles = (g1 - g0) * ntw;
        int64_t nvec = (tiles + L - 1) / L;
        for (int64_t r = g0, q = 0, k, img, ti0; r < g1; r += k, q += k * ntw) {
            k = wg_segment(nth, r, g1, &img, &ti0);
            CAT(wg_pad_rows, SUF)(d, x + img * d->ci * d->h * d->w, 2 * ti0, 2 * k + 2, p->ne,
                                  pad);
            CAT(wg_input, SUF)(d, pad, k, ntw, p->ne, v, p->vs, tp, q);
        }
        if (tiles % L)   // the lanes past the group's tiles: 0 (tp leaves room for a vector)
            for (int64_t xi = 0; xi < 16; xi++)
                for (int64_t c = 0; c < d->ci; c++)
                    memcpy(v + xi * p->vs + c * tp + tiles, &(V){0}, sizeof(V));
        CAT(wg_products, SUF)(d->ci, p, u, v, nvec, m);
        for (int64_t r = g0, q = 0, k, img, ti0; r < g1; r += k, q += k * ntw) {
            k = wg_segment(nth, r, g1, &img, &ti0);
            finite &= CAT(wg_output, SUF)(d, m, p->ms, tp, q, img, ti0, k, ntw);
        }
    }
    return finite;
}

// ---- dw: dg = G^T [(A dy A^T) . (B^T d B)] G, summed over the tiles ----

// dy's tiles transformed, z = A dy A^T (A = [1 0; 1 1; 1 -1; 0 -1]; outputs past oh, ow count
// as 0), output channels along a row: z[xi * zs + (q + ti * ntw + tj) * cov + o], for nt tile
// rows from tile row ti0 of image img. dy's rows of those tiles are first transposed into dt
// (position by cov channels, channels co .. cov - 1 and the row after the last 0), so that a
// vector of channels is one load (a value at a time before: conv2d-32x64x7x7-64k3 backward
// 1.20 -> 1.06 ms, Zen 5, 1 thread; with it dw pays with 16 input channels too).
static void CAT(wg_dy, SUF)(const tg_conv_desc *d, int64_t img, int64_t ti0, int64_t nt,
                            int64_t ntw, T *restrict z, int64_t zs, int64_t cov, int64_t q,
                            T *restrict dt) {
    int64_t plane = d->oh * d->ow, i0 = 2 * ti0;
    int64_t i1 = 2 * (ti0 + nt) < d->oh ? 2 * (ti0 + nt) : d->oh;
    int64_t npos = (i1 - i0) * d->ow;
    CAT(transpose, SUF)((const T *)d->dy + (img * d->co) * plane + i0 * d->ow, plane, d->co,
                        npos, dt, cov);
    T *zero = dt + npos * cov;   // cov zeros
    memset(zero, 0, (size_t)cov * sizeof(T));
    for (int64_t ti = 0; ti < nt; ti++) {
        int64_t i = 2 * (ti0 + ti);
        bool row1 = i + 1 < d->oh;
        for (int64_t tj = 0; tj < ntw; tj++) {
            int64_t j = 2 * tj, at = (i - i0) * d->ow + j;
            bool col1 = j + 1 < d->ow;
            const T *pa = dt + at * cov, *pb = col1 ? pa + cov : zero;
            const T *pc = row1 ? pa + d->ow * cov : zero, *pe = row1 && col1 ? pc + cov : zero;
            T *dst = z + (q + ti * ntw + tj) * cov;
            for (int64_t o = 0; o < cov; o += L) {
                V a, b, c, e;
                memcpy(&a, pa + o, sizeof a), memcpy(&b, pb + o, sizeof b);
                memcpy(&c, pc + o, sizeof c), memcpy(&e, pe + o, sizeof e);
                V r[4][2] = {{a, b}, {a + c, b + e}, {a - c, b - e}, {-c, -e}};
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    V z0 = r[k][0], z1 = r[k][0] + r[k][1], z2 = r[k][0] - r[k][1], z3 = -r[k][1];
                    memcpy(dst + (4 * k) * zs + o, &z0, sizeof z0);
                    memcpy(dst + (4 * k + 1) * zs + o, &z1, sizeof z1);
                    memcpy(dst + (4 * k + 2) * zs + o, &z2, sizeof z2);
                    memcpy(dst + (4 * k + 3) * zs + o, &z3, sizeof z3);
                }
            }
        }
    }
}

// acc[xi] (cip x cov, planes p->us apart) += v[xi] (cip x tiles) z[xi] (tiles x cov).
static void CAT(wg_dw_products, SUF)(int64_t cip, int64_t cov, const wg_plan *p, const T *v,
                                     const T *z, int64_t tiles, T *acc) {
    int64_t nvec = cov / L;
    for (int64_t xi = 0; xi < 16; xi++)
        for (int64_t c0 = 0; c0 < cip; c0 += WG_MR) {
            int64_t tp = p->tp, v0 = 0;
            const T *vx = v + xi * p->vs + c0 * tp, *zx = z + xi * p->ms;
            T *ax = acc + xi * p->us + c0 * cov;
            for (; v0 + WG_NV <= nvec; v0 += WG_NV)
                CAT(wg_tile, SUF)(WG_NV, tiles, vx, tp, 1, zx + v0 * L, cov, ax + v0 * L, cov,
                                  true);
            if (nvec - v0 == 2)
                CAT(wg_tile, SUF)(2, tiles, vx, tp, 1, zx + v0 * L, cov, ax + v0 * L, cov, true);
            else if (nvec - v0 == 1)
                CAT(wg_tile, SUF)(1, tiles, vx, tp, 1, zx + v0 * L, cov, ax + v0 * L, cov, true);
        }
}

// This thread's sums acc (zeroed first) over the tile rows [r0, r1), p->gr at a time: their
// padded rows, input tiles v (rows ci .. cip - 1 zero), dy's tiles z (through dt) and the
// products.
static void CAT(wg_dw_rows, SUF)(const tg_conv_desc *d, const wg_plan *p, int64_t cip,
                                 int64_t cov, T *v, T *z, T *pad, T *acc, T *dt, int64_t r0,
                                 int64_t r1) {
    const T *x = d->x;
    int64_t nth = p->nth, ntw = p->ntw;
    memset(acc, 0, (size_t)(16 * p->us) * sizeof(T));
    for (int64_t xi = 0; xi < 16; xi++)
        memset(v + xi * p->vs + d->ci * p->tp, 0, (size_t)((cip - d->ci) * p->tp) * sizeof(T));
    for (int64_t pos = 0; pos < p->dt_rows && cov > d->co; pos++)
        memset(dt + pos * cov + d->co, 0, (size_t)(cov - d->co) * sizeof(T));
    for (int64_t g0 = r0; g0 < r1; g0 += p->gr) {
        int64_t g1 = g0 + p->gr < r1 ? g0 + p->gr : r1;
        for (int64_t r = g0, q = 0, k, img, ti0; r < g1; r += k, q += k * ntw) {
            k = wg_segment(nth, r, g1, &img, &ti0);
            CAT(wg_pad_rows, SUF)(d, x + img * d->ci * d->h * d->w, 2 * ti0, 2 * k + 2, p->ne,
                                  pad);
            CAT(wg_input, SUF)(d, pad, k, ntw, p->ne, v, p->vs, p->tp, q);
            CAT(wg_dy, SUF)(d, img, ti0, k, ntw, z, p->ms, cov, q, dt);
        }
        CAT(wg_dw_products, SUF)(cip, cov, p, v, z, (g1 - g0) * ntw, acc);
    }
}

// dw[o, c] = G^T m G (4 x 4 -> 3 x 3) of the threads' sums accs[0..nt) (added in thread
// order into accs[0]). false when a value is not finite.
static bool CAT(wg_dw_out, SUF)(const tg_conv_desc *d, const wg_plan *p, int64_t cov,
                                T *const *accs, int nt) {
    T *acc = accs[0], *y = d->y;
    const T h = (T)0.5;
    for (int t = 1; t < nt; t++)
        for (int64_t e = 0; e < 16 * p->us; e++) acc[e] += accs[t][e];
    bool finite = true;
    for (int64_t c = 0; c < d->ci; c++)
        for (int64_t o = 0; o < d->co; o++) {
            T m[4][4], r[3][4];
            for (int xi = 0; xi < 16; xi++) m[xi / 4][xi % 4] = acc[xi * p->us + c * cov + o];
            for (int b = 0; b < 4; b++) {
                r[0][b] = m[0][b] + (m[1][b] + m[2][b]) * h;
                r[1][b] = (m[1][b] - m[2][b]) * h;
                r[2][b] = (m[1][b] + m[2][b]) * h + m[3][b];
            }
            T *dst = y + (o * d->ci + c) * 9;
            for (int k = 0; k < 3; k++) {
                T g[3] = {r[k][0] + (r[k][1] + r[k][2]) * h, (r[k][1] - r[k][2]) * h,
                          (r[k][1] + r[k][2]) * h + r[k][3]};
                for (int l = 0; l < 3; l++) {
                    dst[k * 3 + l] = g[l];
                    finite &= g[l] - g[l] == 0;
                }
            }
        }
    return finite;
}

#undef CAT
#undef CAT_

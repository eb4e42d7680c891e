// One dtype's direct convolution (included by conv.c with T, V, VI, L, SUF defined; CV_MR,
// CV_NV, CV_NV1, CV_MW, CV_NK are conv.c's tile sizes). See conv.c for the scheme.
#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)

// One image's planes src [ci, h, w] as xp [ci, hp, wp]: xp[c, r, s] = src[c, r - ph, s - pw]
// where that is inside src, else 0 (a negative ph or pw crops), then L + dw*(kw-1) zeros
// (the loads of the last vector reach past the planes).
static void CAT(pad_image, SUF)(const tg_conv_desc *d, const T *src, int64_t hp, int64_t wp,
                                T *restrict xp) {
    int64_t lo = d->pw > 0 ? d->pw : 0, hi = d->pw + d->w < wp ? d->pw + d->w : wp;
    if (hi < lo) hi = lo;
    for (int64_t c = 0; c < d->ci; c++)
        for (int64_t r = 0; r < hp; r++) {
            T *row = xp + (c * hp + r) * wp;
            int64_t sr = r - d->ph;
            if (sr < 0 || sr >= d->h) {
                memset(row, 0, (size_t)wp * sizeof(T));
                continue;
            }
            const T *s = src + (c * d->h + sr) * d->w - d->pw;
            for (int64_t j = 0; j < lo; j++) row[j] = 0;
            int64_t j = lo;
            for (; j + L <= hi; j += L) memcpy(row + j, s + j, sizeof(V));
            for (; j < hi; j++) row[j] = s[j];
            for (int64_t j = hi; j < wp; j++) row[j] = 0;
        }
    memset(xp + d->ci * hp * wp, 0, (size_t)(L + d->dw * (d->kw - 1)) * sizeof(T));
}

// The weights as panels of mr output channels: wp[ot, k, r] = the tap k (= (c*kh + ki)*kw +
// kj) of output channel ot*mr + r (0 past the last); forward: wt[o, c, ki, kj]; dx: wt[c, o,
// kh-1-ki, kw-1-kj] (wt [ci, co, kh, kw], the transposed, flipped kernel).
static void CAT(pack_weights, SUF)(const tg_conv_desc *d, int64_t mr, T *restrict wp) {
    const T *wt = d->wt;
    int64_t kk = d->kh * d->kw, k = d->ci * kk, ot_n = (d->co + mr - 1) / mr;
    for (int64_t ot = 0; ot < ot_n; ot++)
        for (int64_t c = 0; c < d->ci; c++)
            for (int64_t t = 0; t < kk; t++)
                for (int64_t r = 0; r < mr; r++) {
                    int64_t o = ot * mr + r;
                    T v = 0;
                    if (o < d->co)
                        v = d->mode == TG_CONV_DX ? wt[(c * d->co + o) * kk + (kk - 1 - t)]
                                                  : wt[(o * d->ci + c) * kk + t];
                    wp[(ot * k + c * kk + t) * mr + r] = v;
                }
}

// n values from v to y: whole vectors as such (a memcpy of a variable size is a call).
static inline void CAT(store_part, SUF)(T *y, V v, int n) {
    if (n == L) {
        memcpy(y, &v, sizeof v);
        return;
    }
    for (int e = 0; e < n; e++) y[e] = v[e];
}

// The first n lanes of v, the outputs at flat positions q0.. of the padded grid (row q /
// wp, column q % wp), to y [oh, ow]: the columns past ow are not outputs (dropped).
static inline void CAT(store_flat, SUF)(T *y, V v, int64_t q0, int n, int64_t wp, int64_t ow) {
    int64_t i = q0 / wp, j = q0 % wp;
    for (int e = 0; e < n;) {
        int run = (int)(wp - j < n - e ? wp - j : n - e);  // lanes left in this grid row
        int keep = (int)(j < ow ? (ow - j < run ? ow - j : run) : 0);
        for (int u = 0; u < keep; u++) y[i * ow + j + u] = v[e + u];
        e += run, j += run;
        if (j == wp) j = 0, i++;
    }
}

// The MRC x NVC*L outputs of one tile: output channels (mr of them; MRC-row weight panel
// wp) at the tile's vectors, vector v reading xp + qo[v] + offs[k] for tap k and stored at
// y + so[v] (sl[v] lanes of it); flat: at flat position so[v] of the padded grid of pitch
// wpitch (store_flat). MRC, NVC: constants where it is inlined.
static inline __attribute__((always_inline)) void
CAT(fwd_tile, SUF)(const int MRC, const int NVC, int64_t k, const int64_t *restrict offs,
                   const T *restrict wp, const T *restrict xp, const int64_t *qo, const int64_t *so,
                   const int *sl, int nv, int64_t mr, int64_t plane, bool flat, int64_t wpitch,
                   int64_t ow, const T *bias, T *restrict y) {
    V acc[CV_MR][CV_NVMAX];
    const T *xs[CV_NVMAX];
#pragma GCC unroll 16
    for (int r = 0; r < MRC; r++)
#pragma GCC unroll 16
        for (int v = 0; v < NVC; v++) acc[r][v] = (V){0};
#pragma GCC unroll 16
    for (int v = 0; v < NVC; v++) xs[v] = xp + qo[v];
    for (int64_t t = 0; t < k; t++) {
        int64_t o = offs[t];
        V b[CV_NVMAX];
#pragma GCC unroll 16
        for (int v = 0; v < NVC; v++) memcpy(&b[v], xs[v] + o, sizeof(V));
        const T *w = wp + t * MRC;
#pragma GCC unroll 16
        for (int r = 0; r < MRC; r++)
#pragma GCC unroll 16
            for (int v = 0; v < NVC; v++) acc[r][v] += w[r] * b[v];
    }
    if (flat) {
        for (int64_t r = 0; r < mr; r++) {
            T bv = bias ? bias[r] : 0;
            for (int v = 0; v < nv; v++)
                CAT(store_flat, SUF)(y + r * plane, acc[r][v] + bv, so[v], sl[v], wpitch, ow);
        }
        return;
    }
    for (int64_t r = 0; r < mr; r++) {
        T bv = bias ? bias[r] : 0;
        for (int v = 0; v < nv; v++)
            CAT(store_part, SUF)(y + r * plane + so[v], acc[r][v] + bv, sl[v]);
    }
}

// A tile of CV_MR output channels by nv vectors of positions: CV_NV, or 2 or 1 for a row's
// or an image's last vectors (each its own inlined copy).
static void CAT(fwd_tile_wide, SUF)(int64_t k, const int64_t *offs, const T *wp, const T *xp,
                                    const int64_t *qo, const int64_t *so, const int *sl, int nv,
                                    int64_t mr, int64_t plane, bool flat, int64_t wpitch,
                                    int64_t ow, const T *bias, T *y) {
    if (nv == CV_NV)
        CAT(fwd_tile, SUF)(CV_MR, CV_NV, k, offs, wp, xp, qo, so, sl, nv, mr, plane, flat,
                           wpitch, ow, bias, y);
    else if (nv == 2)
        CAT(fwd_tile, SUF)(CV_MR, 2, k, offs, wp, xp, qo, so, sl, nv, mr, plane, flat, wpitch,
                           ow, bias, y);
    else
        CAT(fwd_tile, SUF)(CV_MR, 1, k, offs, wp, xp, qo, so, sl, nv, mr, plane, flat, wpitch,
                           ow, bias, y);
}

static void CAT(fwd_tile_narrow, SUF)(int64_t k, const int64_t *offs, const T *wp, const T *xp,
                                      const int64_t *qo, const int64_t *so, const int *sl, int nv,
                                      int64_t mr, int64_t plane, bool flat, int64_t wpitch,
                                      int64_t ow, const T *bias, T *y) {
    CAT(fwd_tile, SUF)(1, CV_NV1, k, offs, wp, xp, qo, so, sl, nv, mr, plane, flat, wpitch, ow,
                       bias, y);
}

// Forward or dx of images i0..i1 (xp: this thread's padded-image buffer; wp packed in
// panels of cv_panel_rows(d) channels). Positions go into vectors by rows (each row cut
// into vectors, the last one partly idle) or, when that takes an eighth fewer vectors, flat
// over the padded grid (vector v = positions v*L.. of the grid, its columns past ow computed and
// dropped): a 7 x 7 image with a 3 x 3 window fills 49 of 64 lanes flat, 49 of 112 by rows.
static void CAT(fwd_images, SUF)(const tg_conv_desc *d, const T *wp, const int64_t *offs,
                                 int64_t i0, int64_t i1, T *xp) {
    int64_t hp = d->oh + d->dh * (d->kh - 1), wpitch = d->ow + d->dw * (d->kw - 1);
    int64_t nseg = (d->ow + L - 1) / L, nvec = d->oh * nseg, k = d->ci * d->kh * d->kw;
    int64_t grid = d->oh * wpitch, nflat = (grid + L - 1) / L;
    bool flat = nflat * 8 < nvec * 7;  // an eighth fewer vectors: its stores cost more
    if (flat) nvec = nflat;
    int64_t mrt = cv_panel_rows(d), nvt = mrt == 1 ? CV_NV1 : CV_NV;
    int64_t plane = d->oh * d->ow, ot_n = (d->co + mrt - 1) / mrt;
    const T *x = d->x, *b = d->b;
    T *y = d->y;
    for (int64_t i = i0; i < i1; i++) {
        CAT(pad_image, SUF)(d, x + i * d->ci * d->h * d->w, hp, wpitch, xp);
        T *yi = y + i * d->co * plane;
        for (int64_t v0 = 0, nv; v0 < nvec; v0 += nv) {
            int64_t qo[CV_NVMAX], so[CV_NVMAX];
            int sl[CV_NVMAX];
            nv = cv_tile_vectors(nvec - v0, nvt);
            for (int v = 0; v < nvt; v++) {
                int64_t vi = v0 + (v < nv ? v : nv - 1), r = vi / nseg, s = vi % nseg;
                if (flat) {
                    qo[v] = so[v] = vi * L;
                    sl[v] = (int)(grid - vi * L < L ? grid - vi * L : L);
                    continue;
                }
                qo[v] = r * wpitch + s * L;
                so[v] = r * d->ow + s * L;
                sl[v] = (int)(d->ow - s * L < L ? d->ow - s * L : L);
            }
            for (int64_t ot = 0; ot < ot_n; ot++) {
                int64_t o0 = ot * mrt, mr = d->co - o0 < mrt ? d->co - o0 : mrt;
                if (mrt == 1)
                    CAT(fwd_tile_narrow, SUF)(k, offs, wp + ot * k, xp, qo, so, sl, (int)nv, mr,
                                              plane, flat, wpitch, d->ow, b ? b + o0 : NULL,
                                              yi + o0 * plane);
                else
                    CAT(fwd_tile_wide, SUF)(k, offs, wp + ot * k * mrt, xp, qo, so, sl, (int)nv,
                                            mr, plane, flat, wpitch, d->ow, b ? b + o0 : NULL,
                                            yi + o0 * plane);
            }
        }
    }
}

// One step of a dw tile: the dy vectors at dr[] + qd times the tap vectors at xr[] + qx,
// these ANDed with mask when `masked`, into acc.
#define DW_STEP(qd, qx, masked, mask)                                                      \
    do {                                                                                    \
        V dv[CV_MW], xv[CV_NK];                                                             \
        _Pragma("GCC unroll 8") for (int r = 0; r < CV_MW; r++)                             \
            memcpy(&dv[r], dr[r] + (qd), sizeof(V));                                        \
        _Pragma("GCC unroll 8") for (int t = 0; t < CV_NK; t++)                             \
            memcpy(&xv[t], xr[t] + (qx), sizeof(V));                                        \
        if (masked)                                                                         \
            _Pragma("GCC unroll 8") for (int t = 0; t < CV_NK; t++) xv[t] =                 \
                (V)((VI)xv[t] & (mask));                                                    \
        _Pragma("GCC unroll 8") for (int r = 0; r < CV_MW; r++)                             \
            _Pragma("GCC unroll 8") for (int t = 0; t < CV_NK; t++) acc[r][t] += dv[r] * xv[t]; \
    } while (0)

// dw: the CV_MW x CV_NK tile of sums g[r][t] (vectors of partial sums, kept across images) over
// a group of nb images (image j's copies at xp + j*xs, dyp + j*ds): dy planes o0.. (dyp,
// nvec vectors each) times the taps k0.. (xp + offs). Vector v of a dy plane pairs with the
// x vector at qx[v] past a tap's offset, ANDed with masks[v] (0 in the lanes that are no
// output position: a zero dy times an inf there would be a NaN). One loop over the
// vectors, by rows or flat alike (with two nested loops by rows, their control was 30 % of
// this kernel at 2 vectors a row).
static inline void CAT(dw_tile, SUF)(const T *restrict dyp, const T *restrict xp, int64_t nb,
                                     int64_t xs, int64_t ds, const int64_t *restrict offs,
                                     const int64_t *restrict qx, const VI *restrict masks,
                                     int64_t nvec, int64_t o0, int64_t mw, int64_t k0,
                                     int64_t nk, V *restrict g) {
    V acc[CV_MW][CV_NK];
#pragma GCC unroll 8
    for (int r = 0; r < CV_MW; r++)
#pragma GCC unroll 8
        for (int t = 0; t < CV_NK; t++) acc[r][t] = g[r * CV_NK + t];
    const T *dr[CV_MW], *xr[CV_NK];
    for (int r = 0; r < CV_MW; r++) dr[r] = dyp + (o0 + (r < mw ? r : mw - 1)) * nvec * L;
    for (int t = 0; t < CV_NK; t++) xr[t] = xp + offs[k0 + (t < nk ? t : nk - 1)];
    for (int64_t j = 0; j < nb; j++)
        for (int64_t v = 0; v < nvec; v++) DW_STEP(j * ds + v * L, j * xs + qx[v], 1, masks[v]);
#pragma GCC unroll 8
    for (int r = 0; r < CV_MW; r++)
#pragma GCC unroll 8
        for (int t = 0; t < CV_NK; t++) g[r * CV_NK + t] = acc[r][t];
}

// dw over images i0..i1 into this thread's vector sums g (zeroed by the caller), ng images
// at a time: their copies (xp, dyp; xs, ds elements apart) are made first, then each tile
// runs over all of them with its sums in registers (per image, a 7 x 7 image's tile was
// mostly the loading and storing of its sums). Positions go by rows (dy's rows padded to
// whole vectors) or, when nflat, flat over the padded grid (dy on that grid, zeros between
// its rows), as the forward tiles choose; qx and masks: room for one entry per vector.
static void CAT(dw_images, SUF)(const tg_conv_desc *d, const int64_t *offs, int64_t i0, int64_t i1,
                                int64_t ng, T *xp, int64_t xs, T *dyp, int64_t ds, int64_t nflat,
                                int64_t *qx, VI *masks, V *g) {
    int64_t hp = d->oh + d->dh * (d->kh - 1), wpitch = d->ow + d->dw * (d->kw - 1);
    int64_t nseg = (d->ow + L - 1) / L, rowp = nseg * L, k = d->ci * d->kh * d->kw;
    int64_t ot_n = (d->co + CV_MW - 1) / CV_MW, kt_n = (k + CV_NK - 1) / CV_NK;
    int64_t grid = d->oh * wpitch, nvec = nflat ? nflat : d->oh * nseg;
    const T *x = d->x, *dy = d->dy;
    for (int64_t v = 0; v < nvec; v++) {
        int64_t r = v / nseg, s = v % nseg;   // by rows
        qx[v] = nflat ? v * L : r * wpitch + s * L;
        for (int e = 0; e < L; e++) {
            int64_t q = v * L + e;
            bool in = nflat ? q < grid && q % wpitch < d->ow : s * L + e < d->ow;
            masks[v][e] = in ? -1 : 0;
        }
    }
    for (int64_t ib = i0; ib < i1; ib += ng) {
        int64_t nb = i1 - ib < ng ? i1 - ib : ng;
        for (int64_t j = 0; j < nb; j++) {
            int64_t i = ib + j;
            CAT(pad_image, SUF)(d, x + i * d->ci * d->h * d->w, hp, wpitch, xp + j * xs);
            const T *dyi = dy + i * d->co * d->oh * d->ow;
            for (int64_t o = 0; nflat && o < d->co; o++) {   // flat: rows wpitch apart
                T *pl = dyp + j * ds + o * nflat * L;
                memset(pl, 0, (size_t)(nflat * L) * sizeof(T));
                for (int64_t r = 0; r < d->oh; r++)
                    memcpy(pl + r * wpitch, dyi + (o * d->oh + r) * d->ow,
                           (size_t)d->ow * sizeof(T));
            }
            for (int64_t o = 0; !nflat && o < d->co; o++)
                for (int64_t r = 0; r < d->oh; r++) {
                    T *row = dyp + j * ds + (o * d->oh + r) * rowp;
                    const T *src = dyi + (o * d->oh + r) * d->ow;
                    int64_t c = 0;
                    for (; c + L <= d->ow; c += L) memcpy(row + c, src + c, sizeof(V));
                    for (; c < d->ow; c++) row[c] = src[c];
                    for (; c < rowp; c++) row[c] = 0;
                }
        }
        for (int64_t ot = 0; ot < ot_n; ot++)
            for (int64_t kt = 0; kt < kt_n; kt++) {
                int64_t o0 = ot * CV_MW, k0 = kt * CV_NK;
                int64_t mw = d->co - o0 < CV_MW ? d->co - o0 : CV_MW;
                int64_t nk = k - k0 < CV_NK ? k - k0 : CV_NK;
                CAT(dw_tile, SUF)(dyp, xp, nb, xs, ds, offs, qx, masks, nvec, o0, mw, k0, nk,
                                  g + (ot * kt_n + kt) * CV_MW * CV_NK);
            }
    }
}

// dw's result from the threads' vector sums: y[o, k] = the lanes' sum over all threads.
static void CAT(dw_reduce, SUF)(const tg_conv_desc *d, V *const *gs, int nt) {
    int64_t k = d->ci * d->kh * d->kw, kt_n = (k + CV_NK - 1) / CV_NK;
    T *y = d->y;
    for (int64_t o = 0; o < d->co; o++)
        for (int64_t kk = 0; kk < k; kk++) {
            int64_t at =
                (((o / CV_MW) * kt_n + kk / CV_NK) * CV_MW + o % CV_MW) * CV_NK + kk % CV_NK;
            V s = gs[0][at];
            for (int t = 1; t < nt; t++) s += gs[t][at];
            T sum = 0;
            for (int e = 0; e < L; e++) sum += s[e];
            y[o * k + kk] = sum;
        }
}

#undef DW_STEP
#undef CAT
#undef CAT_

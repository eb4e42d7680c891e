// One dtype's narrow gemm (included by gemm_narrow.c with T, VT, L, SUF and the intrinsic
// macros defined; undefined again at the end): C [m, n] with n <= 4L, so a row of C is one
// to four vectors (the last masked) and B is one packed panel: A is read once, in place,
// whatever m and k.
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

// Row-major B's kc rows of n (NV vectors, the last masked) into the panel.
static inline __attribute__((always_inline)) void
CAT(nw_pack_rows, SUF)(const int NV, int64_t kc, int64_t n, const T *b, int64_t b_rs,
                       T *restrict bp) {
    for (int64_t k = 0; k < kc; k++) {
        const T *s = b + k * b_rs;
        T *o = bp + k * NV * L;
#pragma GCC unroll 4
        for (int q = 0; q < NV - 1; q++) VST(o + q * L, VLD(s + q * L));
        VST(o + (NV - 1) * L, VLDM(NW_MASK(n - (NV - 1) * L), s + (NV - 1) * L));
    }
}

// B's kc x n block into rows of nv*L, zero-padded past n (a B stored transposed: nw_pack_t,
// gemm_narrow.c).
static void CAT(nw_pack, SUF)(int64_t kc, int64_t n, int nv, const T *b, int64_t b_rs,
                              int64_t b_cs, T *restrict bp) {
    int64_t w = (int64_t)nv * L;
    if (b_cs == 1) {
        switch (nv) {
        case 1: CAT(nw_pack_rows, SUF)(1, kc, n, b, b_rs, bp); break;
        case 2: CAT(nw_pack_rows, SUF)(2, kc, n, b, b_rs, bp); break;
        case 3: CAT(nw_pack_rows, SUF)(3, kc, n, b, b_rs, bp); break;
        default: CAT(nw_pack_rows, SUF)(4, kc, n, b, b_rs, bp); break;
        }
        return;
    }
    if (b_rs == 1) {
        CAT(nw_pack_t, SUF)(kc, n, nv, b, b_cs, bp);
        return;
    }
    for (int64_t k = 0; k < kc; k++) {
        int64_t j = 0;
        for (; j < n; j++) bp[k * w + j] = b[k * b_rs + j * b_cs];
        for (; j < w; j++) bp[k * w + j] = 0;
    }
}

// The MR x (nv*L) tile's epilogue at c: acc[r*NV + q] = row r's vector q of the sums;
// first block: C = alpha*acc + beta*C (C not read when beta == 0) + bias; later blocks:
// C += alpha*acc; last block: ReLU when asked. Rows past mr are not stored.
static inline __attribute__((always_inline)) void
CAT(nw_store, SUF)(const int MR, const int NV, VT *acc, int64_t mr, int64_t n, T alpha, T beta,
                   bool first, bool last, const tg_gemm_ep *e, T *c, int64_t c_rs) {
    VT va = VSET1(alpha), vb = VSET1(beta), zero = VZERO();
    VT cb[4] = {zero, zero, zero, zero};
    if (first && e && e->bias && !e->bias_rows)   // a bias along C's columns
#pragma GCC unroll 4
        for (int q = 0; q < NV; q++) cb[q] = VLDM(NW_MASK(n - q * L), (const T *)e->bias + q * L);
    bool relu = last && e && e->act == TG_GEMM_ACT_RELU, row_bias = first && e && e->bias &&
                                                                    e->bias_rows;
    // Every read of C before the first store: a masked store's whole 64 bytes count as
    // written for the loads that follow it, so loading the next row's C after storing this
    // row's masked tail waits for that store (seed-moons' 8000 x 2 x 20 with beta = 1: 86
    // us against 56 interleaved).
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
        const T *cr = c + r * c_rs;
        VT rb = row_bias ? VSET1(((const T *)e->bias)[r]) : zero;
#pragma GCC unroll 4
        for (int q = 0; q < NV; q++) {
            VT v = VMUL(va, acc[r * NV + q]);
            if (!first || beta != 0) {
                VT o = VLDM(NW_MASK(n - q * L), cr + q * L);
                v = first ? VFMA(vb, o, v) : VADD(v, o);
            }
            if (first) v = VADD(v, VADD(cb[q], rb));
            if (relu) v = VMAX(v, zero);
            acc[r * NV + q] = v;
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
#pragma GCC unroll 4
        for (int q = 0; q < NV; q++)
            VSTM(c + r * c_rs + q * L, NW_MASK(n - q * L), acc[r * NV + q]);
    }
}

// The MR x (nv*L) tile at c: acc = sum over the block's k of a[r, k] * bp[k, :]; then
// first block: C = alpha*acc + beta*C (C not read when beta == 0) + bias; later blocks:
// C += alpha*acc; last block: ReLU when asked. Rows past mr re-read row mr-1 of A (their
// sums are dropped). MR and NV are constants after inlining: the loops unroll and the
// accumulators stay in registers.
static inline __attribute__((always_inline)) void
CAT(nw_tile, SUF)(const int MR, const int NV, int64_t kc, const T *a, int64_t a_rs, int64_t a_cs,
                  const T *restrict bp, int64_t mr, int64_t n, T alpha, T beta, bool first,
                  bool last, const tg_gemm_ep *e, T *c, int64_t c_rs) {
    VT acc[24], bv[4];
    int64_t ro[12];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) ro[r] = (r < mr ? r : mr - 1) * a_rs;
#pragma GCC unroll 24
    for (int q = 0; q < MR * NV; q++) acc[q] = VZERO();
    if (a_rs == 1) {   // A^T stored: the tile's column k is MR contiguous elements
        for (int64_t k = 0; k < kc; k++) {
            const T *ak = a + k * a_cs;
#pragma GCC unroll 4
            for (int q = 0; q < NV; q++) bv[q] = VLD(bp + (k * NV + q) * L);
#pragma GCC unroll 12
            for (int r = 0; r < MR; r++) {
                VT x = VSET1(ak[r < mr ? r : mr - 1]);
#pragma GCC unroll 4
                for (int q = 0; q < NV; q++) acc[r * NV + q] = VFMA(x, bv[q], acc[r * NV + q]);
            }
        }
    } else {
        for (int64_t k = 0; k < kc; k++) {
            const T *ak = a + k * a_cs;
#pragma GCC unroll 4
            for (int q = 0; q < NV; q++) bv[q] = VLD(bp + (k * NV + q) * L);
#pragma GCC unroll 12
            for (int r = 0; r < MR; r++) {
                VT x = VSET1(ak[ro[r]]);
#pragma GCC unroll 4
                for (int q = 0; q < NV; q++) acc[r * NV + q] = VFMA(x, bv[q], acc[r * NV + q]);
            }
        }
    }
    CAT(nw_store, SUF)(MR, NV, acc, mr, n, alpha, beta, first, last, e, c, c_rs);
}

// A tile of at most MR = 2 or 4 rows over all of k with B's rows read in place (row-major
// B, masked past n): with so few rows B is read once, and packing it first cost as much as
// the product (2 x 8000 x 20: the panel is 1 MB). Two sets of accumulators (even and odd k)
// where they fit, so that the few chains do not wait on the multiply-add's latency.
static inline __attribute__((always_inline)) void
CAT(nw_tile_direct, SUF)(const int MR, const int NV, int64_t k, const T *a, int64_t a_rs,
                         int64_t a_cs, const T *b, int64_t b_rs, int64_t mr, int64_t n, T alpha,
                         T beta, const tg_gemm_ep *e, T *c, int64_t c_rs) {
    enum { S = 2 };   // (MR * NV <= 8 at every call)
    VT acc[S][16], bv[4];
    const T *ar[4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) ar[r] = a + (r < mr ? r : mr - 1) * a_rs;
#pragma GCC unroll 2
    for (int u = 0; u < S; u++)
#pragma GCC unroll 16
        for (int q = 0; q < MR * NV; q++) acc[u][q] = VZERO();
    const int64_t last_n = n - (int64_t)(NV - 1) * L;
    for (int64_t p = 0; p < k; p += S) {
#pragma GCC unroll 2
        for (int u = 0; u < S; u++) {
            if (u > 0 && p + u >= k) break;
            const T *bk = b + (p + u) * b_rs;
#pragma GCC unroll 4
            for (int q = 0; q < NV - 1; q++) bv[q] = VLD(bk + q * L);
            bv[NV - 1] = VLDM(NW_MASK(last_n), bk + (NV - 1) * L);
#pragma GCC unroll 4
            for (int r = 0; r < MR; r++) {
                VT x = VSET1(ar[r][(p + u) * a_cs]);
#pragma GCC unroll 4
                for (int q = 0; q < NV; q++)
                    acc[u][r * NV + q] = VFMA(x, bv[q], acc[u][r * NV + q]);
            }
        }
    }
#pragma GCC unroll 16
    for (int q = 0; q < MR * NV; q++) acc[0][q] = VADD(acc[0][q], acc[1][q]);
    CAT(nw_store, SUF)(MR, NV, acc[0], mr, n, alpha, beta, true, true, e, c, c_rs);
}

// C [m, n] = alpha * A B + beta * C (+ e's bias, then its activation), n <= 4L. Tiles of
// 12 rows for one or two vectors, 8 for three, 6 for four (24 accumulators); the panel is
// at most 8 KiB lines (32 KiB of floats): 256 deep, 128 for three or four vectors.
static void CAT(gemm_narrow, SUF)(int64_t m, int64_t n, int64_t k, T alpha, const T *a,
                                  int64_t a_rs, int64_t a_cs, const T *b, int64_t b_rs,
                                  int64_t b_cs, T beta, T *c, int64_t c_rs,
                                  const tg_gemm_ep *e) {
    int nv = (int)((n + L - 1) / L);
    if (nw_direct(m, nv, k, b_cs)) {
#define NW_DIRECT(MR, NV)                                                                 \
    CAT(nw_tile_direct, SUF)(MR, NV, k, a, a_rs, a_cs, b, b_rs, m, n, alpha, beta, e, c, c_rs)
        switch (nv + (m > 2 ? 4 : 0)) {
        case 1: NW_DIRECT(2, 1); break;
        case 2: NW_DIRECT(2, 2); break;
        case 3: NW_DIRECT(2, 3); break;
        case 4: NW_DIRECT(2, 4); break;
        case 5: NW_DIRECT(4, 1); break;
        default: NW_DIRECT(4, 2); break;
        }
#undef NW_DIRECT
        return;
    }
    _Alignas(64) T bp[NW_KC * 2 * L];
    int64_t kmax = nv > 2 ? NW_KC / 2 : NW_KC, rows = nv == 3 ? 8 : nv == 4 ? 6 : 12;
    int64_t p = 0;
    do {   // k == 0 still takes one (empty) block: C = beta*C + bias, activation
        int64_t kc = k - p < kmax ? k - p : kmax;
        bool first = p == 0, last = p + kc >= k;
        CAT(nw_pack, SUF)(kc, n, nv, b + p * b_rs, b_rs, b_cs, bp);
        const T *ap = a + p * a_cs;
        tg_gemm_ep shifted;
        for (int64_t i = 0; i < m; i += rows) {
            int64_t mr = m - i < rows ? m - i : rows;
            const tg_gemm_ep *er = nw_tile_ep(e, i, sizeof(T), &shifted);   // (row bias)
            const T *at = ap + i * a_rs;
            T *ct = c + i * c_rs;
#define NW_TILE(MR, NV)                                                                   \
    CAT(nw_tile, SUF)(MR, NV, kc, at, a_rs, a_cs, bp, mr, n, alpha, beta, first, last, er, ct, c_rs)
            switch (nv) {
            case 1:
                if (mr > 8) NW_TILE(12, 1);
                else if (mr > 4) NW_TILE(8, 1);
                else NW_TILE(4, 1);
                break;
            case 2:
                if (mr > 8) NW_TILE(12, 2);
                else if (mr > 4) NW_TILE(8, 2);
                else NW_TILE(4, 2);
                break;
            case 3:
                if (mr > 4) NW_TILE(8, 3);
                else NW_TILE(4, 3);
                break;
            default:
                if (mr > 3) NW_TILE(6, 4);
                else NW_TILE(3, 4);
                break;
            }
#undef NW_TILE
        }
        p += kc;
    } while (p < k);
}

#undef CAT
#undef CAT_
#undef T
#undef VT
#undef L
#undef SUF
#undef NW_MASK
#undef VLD
#undef VLDM
#undef VST
#undef VSTM
#undef VSET1
#undef VZERO
#undef VFMA
#undef VMUL
#undef VADD
#undef VMAX

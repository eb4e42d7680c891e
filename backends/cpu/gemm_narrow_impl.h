// One dtype's narrow gemm (included by gemm_narrow.c with T, VT, L, SUF and the intrinsic
// macros defined; undefined again at the end): C [m, n] with n <= 2L, so a row of C is one
// or two vectors (the second masked) and B is one packed panel: A is read once, in place,
// whatever m and k.
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

// B's kc x n block into rows of nv*L, zero-padded past n.
static void CAT(nw_pack, SUF)(int64_t kc, int64_t n, int nv, const T *b, int64_t b_rs,
                              int64_t b_cs, T *restrict bp) {
    int64_t w = (int64_t)nv * L;
    if (b_cs == 1) {
        for (int64_t k = 0; k < kc; k++) {
            const T *s = b + k * b_rs;
            T *o = bp + k * w;
            if (nv == 2) {
                VST(o, VLD(s));
                VST(o + L, VLDM(NW_MASK(n - L), s + L));
            } else {
                VST(o, VLDM(NW_MASK(n), s));
            }
        }
        return;
    }
    for (int64_t k = 0; k < kc; k++) {
        int64_t j = 0;
        for (; j < n; j++) bp[k * w + j] = b[k * b_rs + j * b_cs];
        for (; j < w; j++) bp[k * w + j] = 0;
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
    VT acc[24];
    int64_t ro[12];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) ro[r] = (r < mr ? r : mr - 1) * a_rs;
#pragma GCC unroll 24
    for (int q = 0; q < MR * NV; q++) acc[q] = VZERO();
    if (a_rs == 1) {   // A^T stored: the tile's column k is MR contiguous elements
        for (int64_t k = 0; k < kc; k++) {
            const T *ak = a + k * a_cs;
            VT b0 = VLD(bp + k * NV * L), b1 = NV == 2 ? VLD(bp + k * NV * L + L) : b0;
#pragma GCC unroll 12
            for (int r = 0; r < MR; r++) {
                VT x = VSET1(ak[r < mr ? r : mr - 1]);
                acc[r * NV] = VFMA(x, b0, acc[r * NV]);
                if (NV == 2) acc[r * NV + 1] = VFMA(x, b1, acc[r * NV + 1]);
            }
        }
    } else {
        for (int64_t k = 0; k < kc; k++) {
            const T *ak = a + k * a_cs;
            VT b0 = VLD(bp + k * NV * L), b1 = NV == 2 ? VLD(bp + k * NV * L + L) : b0;
#pragma GCC unroll 12
            for (int r = 0; r < MR; r++) {
                VT x = VSET1(ak[ro[r]]);
                acc[r * NV] = VFMA(x, b0, acc[r * NV]);
                if (NV == 2) acc[r * NV + 1] = VFMA(x, b1, acc[r * NV + 1]);
            }
        }
    }
    VT va = VSET1(alpha), vb = VSET1(beta), zero = VZERO();
    VT bias0 = zero, bias1 = zero;
    bool col_bias = first && e && e->bias && !e->bias_rows;
    if (col_bias) {
        const T *bv = e->bias;
        bias0 = VLDM(NW_MASK(NV == 2 ? L : n), bv);
        if (NV == 2) bias1 = VLDM(NW_MASK(n - L), bv + L);
    }
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
#pragma GCC unroll 2
        for (int q = 0; q < NV; q++) {
            VT v = VMUL(va, acc[r * NV + q]);
            if (!first || beta != 0) {
                VT o = VLDM(NW_MASK(NV == 2 && q == 0 ? L : n - q * L), cr + q * L);
                v = first ? VFMA(vb, o, v) : VADD(v, o);
            }
            if (first) v = VADD(v, VADD(q == 0 ? bias0 : bias1, rb));
            if (relu) v = VMAX(v, zero);
            acc[r * NV + q] = v;
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
#pragma GCC unroll 2
        for (int q = 0; q < NV; q++)
            VSTM(c + r * c_rs + q * L, NW_MASK(NV == 2 && q == 0 ? L : n - q * L), acc[r * NV + q]);
    }
}

// C [m, n] = alpha * A B + beta * C (+ e's bias, then its activation), n <= 2L.
static void CAT(gemm_narrow, SUF)(int64_t m, int64_t n, int64_t k, T alpha, const T *a,
                                  int64_t a_rs, int64_t a_cs, const T *b, int64_t b_rs,
                                  int64_t b_cs, T beta, T *c, int64_t c_rs,
                                  const tg_gemm_ep *e) {
    _Alignas(64) T bp[NW_KC * 2 * L];
    int nv = n > L ? 2 : 1;
    int64_t p = 0;
    do {   // k == 0 still takes one (empty) block: C = beta*C + bias, activation
        int64_t kc = k - p < NW_KC ? k - p : NW_KC;
        bool first = p == 0, last = p + kc >= k;
        CAT(nw_pack, SUF)(kc, n, nv, b + p * b_rs, b_rs, b_cs, bp);
        const T *ap = a + p * a_cs;
        const tg_gemm_ep *er = e;
        tg_gemm_ep shifted;
        for (int64_t i = 0; i < m; i += 12) {
            int64_t mr = m - i < 12 ? m - i : 12;
            if (e && e->bias && e->bias_rows) {   // row bias: this tile's rows
                shifted = *e;
                shifted.bias = (const T *)e->bias + i;
                er = &shifted;
            }
            const T *at = ap + i * a_rs;
            T *ct = c + i * c_rs;
#define NW_TILE(MR, NV)                                                                   \
    CAT(nw_tile, SUF)(MR, NV, kc, at, a_rs, a_cs, bp, mr, n, alpha, beta, first, last, er, ct, c_rs)
            if (nv == 2) {
                if (mr > 8) NW_TILE(12, 2);
                else if (mr > 4) NW_TILE(8, 2);
                else NW_TILE(4, 2);
            } else {
                if (mr > 8) NW_TILE(12, 1);
                else if (mr > 4) NW_TILE(8, 1);
                else NW_TILE(4, 1);
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

// One dtype's small-matrix gemm (included by gemm_small.c with T, V, NR, SUF defined).
// Loop order: column panels of NR (packed, zero-padded, KC deep), then blocks of MR rows of
// A read in place; a register-blocked MR x NR accumulator; alpha/beta on the store. The
// vector type V is a GCC vector of NR/2 elements, so each accumulator row is two vectors
// (ymm with AVX2; pairs of xmm in the baseline build). A last panel at most NR/2 wide takes
// MR1 x NR/2 tiles instead (one vector per row).
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

// B's kc x nr block into rows of w (NR, or NR/2 for the one-vector kernel), zero-padded.
static void CAT(pack_b, SUF)(int64_t kc, int64_t nr, int64_t w, const T *b, int64_t b_rs,
                             int64_t b_cs, T *restrict bp) {
    if (b_cs == 1 && nr == w) {
        for (int64_t k = 0; k < kc; k++) {   // vector moves (a memcpy call costs more)
            V v0, v1;
            memcpy(&v0, b + k * b_rs, sizeof v0);
            memcpy(bp + k * w, &v0, sizeof v0);
            if (w == NR) {
                memcpy(&v1, b + k * b_rs + NR / 2, sizeof v1);
                memcpy(bp + k * w + NR / 2, &v1, sizeof v1);
            }
        }
        return;
    }
    for (int64_t k = 0; k < kc; k++) {
        int64_t j = 0;
        for (; j < nr; j++) bp[k * w + j] = b[k * b_rs + j * b_cs];
        for (; j < w; j++) bp[k * w + j] = 0;
    }
}

// C[mr, nr] = alpha*acc + beta*C for an edge tile or a strided C (beta == 0: C is not
// read, as in BLAS); acc holds nv vectors per row.
static void CAT(store_edge, SUF)(int64_t mr, int64_t nr, int nv, const V *acc, T alpha, T beta,
                                 T *c, int64_t c_rs, int64_t c_cs) {
    for (int64_t r = 0; r < mr; r++) {
        T t[NR] = {0}, *cr = c + r * c_rs;
        for (int q = 0; q < nv; q++) {
            V v = alpha * acc[nv * r + q];
            memcpy(t + q * (NR / 2), &v, sizeof v);
        }
        if (beta != 0)
            for (int64_t j = 0; j < nr; j++) cr[j * c_cs] = t[j] + beta * cr[j * c_cs];
        else
            for (int64_t j = 0; j < nr; j++) cr[j * c_cs] = t[j];
    }
}

// One vector of C: alpha * v + beta * C (C not read when beta == 0).
static inline void CAT(store_vec, SUF)(T *c, V v, T alpha, T beta) {
    if (alpha != 1) v *= alpha;
    if (beta != 0) {
        V o;
        memcpy(&o, c, sizeof o);
        v += beta * o;
    }
    memcpy(c, &v, sizeof v);
}

static inline void CAT(store_row, SUF)(T *c, V v0, V v1, T alpha, T beta) {
    CAT(store_vec, SUF)(c, v0, alpha, beta);
    CAT(store_vec, SUF)(c + NR / 2, v1, alpha, beta);
}

// Row r of a tile with mr valid rows: rows past the end re-read the last valid one (their
// sums are computed and dropped), so edge tiles need no copy of A.
#define AROW(r) (a + ((r) < mr ? (r) : mr - 1) * a_rs)

// The MR x NR tile at c: alpha * sum over k of a[r, k] * bp[k, :] + beta * C. Full tiles of
// a row-major C are stored straight from the accumulators.
static inline void CAT(kernel, SUF)(int64_t kc, const T *a, int64_t a_rs, int64_t a_cs,
                                    const T *restrict bp, int64_t mr, int64_t nr, T alpha,
                                    T beta, T *c, int64_t c_rs, int64_t c_cs) {
    V c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
    V c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    const T *a0 = AROW(0), *a1 = AROW(1), *a2 = AROW(2), *a3 = AROW(3), *a4 = AROW(4),
            *a5 = AROW(5);
    for (int64_t k = 0; k < kc; k++) {
        V b0, b1;
        memcpy(&b0, bp + k * NR, sizeof b0);
        memcpy(&b1, bp + k * NR + NR / 2, sizeof b1);
        int64_t o = k * a_cs;
        T x0 = a0[o], x1 = a1[o], x2 = a2[o], x3 = a3[o], x4 = a4[o], x5 = a5[o];
        c00 += x0 * b0; c01 += x0 * b1;
        c10 += x1 * b0; c11 += x1 * b1;
        c20 += x2 * b0; c21 += x2 * b1;
        c30 += x3 * b0; c31 += x3 * b1;
        c40 += x4 * b0; c41 += x4 * b1;
        c50 += x5 * b0; c51 += x5 * b1;
    }
    if (mr == MR && nr == NR && c_cs == 1) {
        CAT(store_row, SUF)(c, c00, c01, alpha, beta);
        CAT(store_row, SUF)(c + c_rs, c10, c11, alpha, beta);
        CAT(store_row, SUF)(c + 2 * c_rs, c20, c21, alpha, beta);
        CAT(store_row, SUF)(c + 3 * c_rs, c30, c31, alpha, beta);
        CAT(store_row, SUF)(c + 4 * c_rs, c40, c41, alpha, beta);
        CAT(store_row, SUF)(c + 5 * c_rs, c50, c51, alpha, beta);
        return;
    }
    V acc[2 * MR] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    CAT(store_edge, SUF)(mr, nr, 2, acc, alpha, beta, c, c_rs, c_cs);
}

// The last column panel when it is at most NR/2 wide (n = 20 leaves 4 of 16 lanes used by
// the two-vector kernel): MR1 x NR/2 tiles, one vector per row, same number of accumulators.
static inline void CAT(kernel1, SUF)(int64_t kc, const T *a, int64_t a_rs, int64_t a_cs,
                                     const T *restrict bp, int64_t mr, int64_t nr, T alpha,
                                     T beta, T *c, int64_t c_rs, int64_t c_cs) {
    V c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0};
    V c6 = {0}, c7 = {0}, c8 = {0}, c9 = {0}, c10 = {0}, c11 = {0};
    const T *a0 = AROW(0), *a1 = AROW(1), *a2 = AROW(2), *a3 = AROW(3), *a4 = AROW(4),
            *a5 = AROW(5), *a6 = AROW(6), *a7 = AROW(7), *a8 = AROW(8), *a9 = AROW(9),
            *a10 = AROW(10), *a11 = AROW(11);
    for (int64_t k = 0; k < kc; k++) {
        V b0;
        memcpy(&b0, bp + k * (NR / 2), sizeof b0);
        int64_t o = k * a_cs;
        c0 += a0[o] * b0; c1 += a1[o] * b0; c2 += a2[o] * b0; c3 += a3[o] * b0;
        c4 += a4[o] * b0; c5 += a5[o] * b0; c6 += a6[o] * b0; c7 += a7[o] * b0;
        c8 += a8[o] * b0; c9 += a9[o] * b0; c10 += a10[o] * b0; c11 += a11[o] * b0;
    }
    V acc[MR1] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
    if (mr == MR1 && nr == NR / 2 && c_cs == 1) {
        for (int r = 0; r < MR1; r++) CAT(store_vec, SUF)(c + r * c_rs, acc[r], alpha, beta);
        return;
    }
    CAT(store_edge, SUF)(mr, nr, 1, acc, alpha, beta, c, c_rs, c_cs);
}
#undef AROW

static void CAT(gemm_small, SUF)(int64_t m, int64_t n, int64_t k, T alpha, const T *a,
                                 int64_t a_rs, int64_t a_cs, const T *b, int64_t b_rs,
                                 int64_t b_cs, T beta, T *c, int64_t c_rs, int64_t c_cs) {
    _Alignas(64) T bp[KC * NR];
    if (k == 0) {   // C = beta*C
        V zero[2 * MR] = {{0}};
        for (int64_t i = 0; i < m; i += MR)
            for (int64_t j = 0; j < n; j += NR)
                CAT(store_edge, SUF)(m - i < MR ? m - i : MR, n - j < NR ? n - j : NR, 2, zero,
                                     0, beta, c + i * c_rs + j * c_cs, c_rs, c_cs);
        return;
    }
    for (int64_t j = 0; j < n; j += NR) {
        int64_t nr = n - j < NR ? n - j : NR;
        bool one = nr <= NR / 2;   // a narrow last panel: the one-vector kernel
        for (int64_t p = 0; p < k; p += KC) {
            int64_t kc = k - p < KC ? k - p : KC;
            T bt = p == 0 ? beta : 1;
            CAT(pack_b, SUF)(kc, nr, one ? NR / 2 : NR, b + p * b_rs + j * b_cs, b_rs, b_cs, bp);
            const T *ap = a + p * a_cs;
            T *cp = c + j * c_cs;
            if (one)
                for (int64_t i = 0; i < m; i += MR1)
                    CAT(kernel1, SUF)(kc, ap + i * a_rs, a_rs, a_cs, bp,
                                      m - i < MR1 ? m - i : MR1, nr, alpha, bt, cp + i * c_rs,
                                      c_rs, c_cs);
            else
                for (int64_t i = 0; i < m; i += MR)
                    CAT(kernel, SUF)(kc, ap + i * a_rs, a_rs, a_cs, bp, m - i < MR ? m - i : MR,
                                     nr, alpha, bt, cp + i * c_rs, c_rs, c_cs);
        }
    }
}

#undef CAT
#undef CAT_

// One dtype's small-matrix gemm (included by gemm_small.c with T, V, NR, SUF defined).
// Loop order: column panels of NR (packed, zero-padded, KC deep), then blocks of MR rows of
// A read in place; a register-blocked MR x NR accumulator; alpha/beta on the store. The
// vector type V is a GCC vector of NR/2 elements, so each accumulator row is two vectors
// (ymm with AVX2; pairs of xmm in the baseline build).
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

static void CAT(pack_b, SUF)(int64_t kc, int64_t nr, const T *b, int64_t b_rs, int64_t b_cs,
                             T *restrict bp) {
    if (b_cs == 1 && nr == NR) {
        for (int64_t k = 0; k < kc; k++) {   // two vector moves (a memcpy call costs more)
            V v0, v1;
            memcpy(&v0, b + k * b_rs, sizeof v0);
            memcpy(&v1, b + k * b_rs + NR / 2, sizeof v1);
            memcpy(bp + k * NR, &v0, sizeof v0);
            memcpy(bp + k * NR + NR / 2, &v1, sizeof v1);
        }
        return;
    }
    for (int64_t k = 0; k < kc; k++) {
        int64_t j = 0;
        for (; j < nr; j++) bp[k * NR + j] = b[k * b_rs + j * b_cs];
        for (; j < NR; j++) bp[k * NR + j] = 0;
    }
}

// C[mr, nr] = alpha*acc + beta*C for an edge tile or a strided C (beta == 0: C is not
// read, as in BLAS).
static void CAT(store_edge, SUF)(int64_t mr, int64_t nr, const V *acc, T alpha, T beta, T *c,
                                 int64_t c_rs, int64_t c_cs) {
    for (int64_t r = 0; r < mr; r++) {
        T t[NR], *cr = c + r * c_rs;
        V v0 = alpha * acc[2 * r], v1 = alpha * acc[2 * r + 1];
        memcpy(t, &v0, sizeof v0);
        memcpy(t + NR / 2, &v1, sizeof v1);
        if (beta != 0)
            for (int64_t j = 0; j < nr; j++) cr[j * c_cs] = t[j] + beta * cr[j * c_cs];
        else
            for (int64_t j = 0; j < nr; j++) cr[j * c_cs] = t[j];
    }
}

static inline void CAT(store_row, SUF)(T *c, V v0, V v1, T alpha, T beta) {
    if (alpha != 1) {
        v0 *= alpha;
        v1 *= alpha;
    }
    if (beta != 0) {
        V o0, o1;
        memcpy(&o0, c, sizeof o0);
        memcpy(&o1, c + NR / 2, sizeof o1);
        v0 += beta * o0;
        v1 += beta * o1;
    }
    memcpy(c, &v0, sizeof v0);
    memcpy(c + NR / 2, &v1, sizeof v1);
}

// The MR x NR tile at c: alpha * sum over k of a[r, k] * bp[k, :] + beta * C. Full tiles of
// a row-major C are stored straight from the accumulators.
static inline void CAT(kernel, SUF)(int64_t kc, const T *a, int64_t a_rs, int64_t a_cs,
                                    const T *restrict bp, int64_t mr, int64_t nr, T alpha,
                                    T beta, T *c, int64_t c_rs, int64_t c_cs) {
    V c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
    V c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    const T *a0 = a, *a1 = a + a_rs, *a2 = a + 2 * a_rs, *a3 = a + 3 * a_rs, *a4 = a + 4 * a_rs,
            *a5 = a + 5 * a_rs;
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
    CAT(store_edge, SUF)(mr, nr, acc, alpha, beta, c, c_rs, c_cs);
}

static void CAT(gemm_small, SUF)(int64_t m, int64_t n, int64_t k, T alpha, const T *a,
                                 int64_t a_rs, int64_t a_cs, const T *b, int64_t b_rs,
                                 int64_t b_cs, T beta, T *c, int64_t c_rs, int64_t c_cs) {
    _Alignas(64) T bp[KC * NR];
    _Alignas(64) T ap[KC * MR];
    if (k == 0) {   // C = beta*C
        V zero[2 * MR] = {{0}};
        for (int64_t i = 0; i < m; i += MR)
            for (int64_t j = 0; j < n; j += NR)
                CAT(store_edge, SUF)(m - i < MR ? m - i : MR, n - j < NR ? n - j : NR, zero, 0,
                                     beta, c + i * c_rs + j * c_cs, c_rs, c_cs);
        return;
    }
    for (int64_t j = 0; j < n; j += NR) {
        int64_t nr = n - j < NR ? n - j : NR;
        for (int64_t p = 0; p < k; p += KC) {
            int64_t kc = k - p < KC ? k - p : KC;
            T bt = p == 0 ? beta : 1;
            CAT(pack_b, SUF)(kc, nr, b + p * b_rs + j * b_cs, b_rs, b_cs, bp);
            int64_t i = 0;
            for (; i + MR <= m; i += MR) {
                CAT(kernel, SUF)(kc, a + i * a_rs + p * a_cs, a_rs, a_cs, bp, MR, nr, alpha, bt,
                                 c + i * c_rs + j * c_cs, c_rs, c_cs);
            }
            if (i < m) {   // last rows: copy them, zero-padded, so the kernel stays uniform
                int64_t mr = m - i;
                for (int64_t q = 0; q < kc; q++)
                    for (int64_t r = 0; r < MR; r++)
                        ap[q * MR + r] = r < mr ? a[(i + r) * a_rs + (p + q) * a_cs] : 0;
                CAT(kernel, SUF)(kc, ap, 1, MR, bp, mr, nr, alpha, bt, c + i * c_rs + j * c_cs,
                                 c_rs, c_cs);
            }
        }
    }
}

#undef CAT
#undef CAT_

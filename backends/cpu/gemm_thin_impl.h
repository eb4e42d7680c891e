// One dtype's thin gemm (included by gemm_thin.c with T and SUF defined); C row-major.

#define THIN_INLINE static inline __attribute__((always_inline))

// c[0, w) = sum over q < cnt of s[q] * r[q][j], written (mode 0), added to c (mode 1) or
// added to beta * c (mode 2). cnt and mode are constants where this is inlined, so each case
// is one vectorised loop that reads and writes c once.
THIN_INLINE void CAT(thin_pass, SUF)(T *restrict c, int64_t w, int cnt, const T *s,
                                     const T *const *r, int mode, T beta) {
    const T *restrict r0 = r[0], *restrict r1 = r[cnt > 1], *restrict r2 = r[cnt > 2 ? 2 : 0],
                      *restrict r3 = r[cnt > 3 ? 3 : 0];
    T s0 = s[0], s1 = cnt > 1 ? s[1] : 0, s2 = cnt > 2 ? s[2] : 0, s3 = cnt > 3 ? s[3] : 0;
    for (int64_t j = 0; j < w; j++) {
        T v = s0 * r0[j];
        if (cnt > 1) v += s1 * r1[j];
        if (cnt > 2) v += s2 * r2[j];
        if (cnt > 3) v += s3 * r3[j];
        c[j] = mode == 0 ? v : mode == 1 ? c[j] + v : beta * c[j] + v;
    }
}

// thin_pass with cnt (1-4) and mode made constants.
static void CAT(thin_pass_any, SUF)(T *restrict c, int64_t w, int cnt, const T *s,
                                    const T *const *r, int mode, T beta) {
#define THIN_CASE(n)                                                                       \
    case n:                                                                                \
        if (mode == 0) CAT(thin_pass, SUF)(c, w, n, s, r, 0, beta);                        \
        else if (mode == 1) CAT(thin_pass, SUF)(c, w, n, s, r, 1, beta);                   \
        else CAT(thin_pass, SUF)(c, w, n, s, r, 2, beta);                                  \
        break;
    switch (cnt) {
        THIN_CASE(1)
        THIN_CASE(2)
        THIN_CASE(3)
        THIN_CASE(4)
    }
#undef THIN_CASE
}

// Row i of C's block [jb, jb + w) plus alpha * A[i, p0:p1) B[p0:p1, jb:jb + w), B's rows given
// by r (offset to jb), four at a time; first: C's old value is scaled by beta (beta 0: not
// read) rather than kept.
static void CAT(thin_row, SUF)(T *restrict c, int64_t w, const T *a, int64_t a_cs, int64_t p0,
                               int64_t p1, const T *const *r, T alpha, T beta, bool first) {
    if (p1 <= p0) {   // k = 0: C = beta C
        for (int64_t j = 0; first && j < w; j++) c[j] = beta == 0 ? 0 : beta * c[j];
        return;
    }
    for (int64_t p = p0; p < p1; p += 4) {
        int cnt = p1 - p < 4 ? (int)(p1 - p) : 4;
        T s[4];
        for (int q = 0; q < cnt; q++) s[q] = alpha * a[(p + q) * a_cs];
        int mode = !first || p > p0 ? 1 : beta == 0 ? 0 : beta == 1 ? 1 : 2;
        CAT(thin_pass_any, SUF)(c, w, cnt, s, r + (p - p0), mode, beta);
    }
}

// B row-major (b_cs == 1): the outer product (k <= THIN_MAX: each row of C written once, B's
// block in L1, copied when its rows are strided) or few rows of C (B's rows streamed in
// order, four at a time, into C's rows kept in L1 a block of columns at a time).
static void CAT(thin_rows, SUF)(const tg_gemm_desc *g, const T *a, const T *b, T *c, int64_t i0,
                                int64_t i1, int64_t j0, int64_t j1) {
    T alpha = (T)g->alpha, beta = (T)g->beta;
    int64_t k = g->k;
    if (k <= THIN_MAX) {
        enum { NB = THIN_OUTER_BYTES / sizeof(T) };
        T buf[THIN_MAX][NB];
        for (int64_t jb = j0; jb < j1; jb += NB) {
            int64_t w = j1 - jb < NB ? j1 - jb : NB;
            const T *r[THIN_MAX];
            for (int64_t p = 0; p < k; p++) {
                if (g->b_cs == 1) {
                    r[p] = b + p * g->b_rs + jb;
                } else {
                    for (int64_t j = 0; j < w; j++) buf[p][j] = b[p * g->b_rs + (jb + j) * g->b_cs];
                    r[p] = buf[p];
                }
            }
            for (int64_t i = i0; i < i1; i++)
                CAT(thin_row, SUF)(c + i * g->c_rs + jb, w, a + i * g->a_rs, g->a_cs, 0, k, r,
                                   alpha, beta, true);
        }
        return;
    }
    int64_t rows = i1 - i0, nb = THIN_ACC_BYTES / (int64_t)sizeof(T) / (rows > 0 ? rows : 1);
    nb = nb / 16 * 16;
    for (int64_t jb = j0; jb < j1; jb += nb) {
        int64_t w = j1 - jb < nb ? j1 - jb : nb;
        for (int64_t p = 0; p < k; p += 4) {
            int64_t p1 = k - p < 4 ? k : p + 4;
            const T *r[4];
            for (int64_t q = p; q < p1; q++) r[q - p] = b + q * g->b_rs + jb;
            for (int64_t i = i0; i < i1; i++)
                CAT(thin_row, SUF)(c + i * g->c_rs + jb, w, a + i * g->a_rs + p * g->a_cs,
                                   g->a_cs, 0, p1 - p, r, alpha, beta, p == 0);
        }
    }
}

#if defined(__AVX512F__)
#define THIN_VBYTES 64
#elif defined(__AVX__)
#define THIN_VBYTES 32
#else
#define THIN_VBYTES 16
#endif
typedef T CAT(thin_v, SUF) __attribute__((vector_size(THIN_VBYTES)));
#define TV CAT(thin_v, SUF)
enum { CAT(THIN_L, SUF) = THIN_VBYTES / sizeof(T) };
#define TL CAT(THIN_L, SUF)

THIN_INLINE TV CAT(thin_ld, SUF)(const T *p) {
    TV v;
    memcpy(&v, p, sizeof v);
    return v;
}

THIN_INLINE T CAT(thin_hsum, SUF)(TV v) {
    T l[TL];
    memcpy(l, &v, sizeof v);
    for (int n = TL / 2; n >= 1; n /= 2)
        for (int e = 0; e < n; e++) l[e] += l[e + n];
    return l[0];
}

// out[i][q] = the dot products of A's rows ar[i] (contiguous, kk long) with the columns bc[q]
// of B (contiguous), for m rows and nc columns (constants where this is inlined). With one
// or two accumulators in all, two banks of them take alternate vectors, so that the adds'
// latency is not the bound.
THIN_INLINE void CAT(thin_dots, SUF)(int m, int nc, int64_t kk, const T *const *ar,
                                     const T *const *bc, T out[THIN_MAX][2]) {
    enum { PF = 1024 / sizeof(T) };   // prefetch distance: B from memory, 16 -> 21 GB/s
    const int banks = m * nc <= 2 ? 2 : 1;
    TV acc[2][THIN_MAX][2];
    for (int u = 0; u < banks; u++)
        for (int i = 0; i < m; i++)
            for (int q = 0; q < nc; q++) acc[u][i][q] = (TV){0};
    int64_t p = 0;
    for (; p + banks * TL <= kk; p += banks * TL)
        for (int u = 0; u < banks; u++) {
            TV vb[2];
            for (int q = 0; q < nc; q++) {
                __builtin_prefetch(bc[q] + p + u * TL + PF);
                vb[q] = CAT(thin_ld, SUF)(bc[q] + p + u * TL);
            }
            for (int i = 0; i < m; i++) {
                TV va = CAT(thin_ld, SUF)(ar[i] + p + u * TL);
                for (int q = 0; q < nc; q++) acc[u][i][q] += va * vb[q];
            }
        }
    for (int i = 0; i < m; i++)
        for (int q = 0; q < nc; q++) {
            TV v = banks == 2 ? acc[0][i][q] + acc[1][i][q] : acc[0][i][q];
            T s = CAT(thin_hsum, SUF)(v);
            for (int64_t t = p; t < kk; t++) s += ar[i][t] * bc[q][t];
            out[i][q] = s;
        }
}

static void CAT(thin_dots_any, SUF)(int m, int nc, int64_t kk, const T *const *ar,
                                    const T *const *bc, T out[THIN_MAX][2]) {
#define THIN_CASE(n)                                                                       \
    case n:                                                                                \
        if (nc == 2) CAT(thin_dots, SUF)(n, 2, kk, ar, bc, out);                           \
        else CAT(thin_dots, SUF)(n, 1, kk, ar, bc, out);                                   \
        break;
    switch (m) {
        THIN_CASE(1)
        THIN_CASE(2)
        THIN_CASE(3)
        THIN_CASE(4)
        THIN_CASE(5)
        THIN_CASE(6)
        THIN_CASE(7)
    }
#undef THIN_CASE
}

// B column-major (b_rs == 1), few rows of C: each column of B is read once, in order, as dot
// products with every row of A, two columns at a time; A's rows are used in place when
// contiguous, else copied a block of k at a time (C then gathers the blocks' sums).
static void CAT(thin_cols, SUF)(const tg_gemm_desc *g, const T *a, const T *b, T *c, int64_t i0,
                                int64_t i1, int64_t j0, int64_t j1) {
    enum { KB = THIN_COPY_BYTES / sizeof(T) };
    T alpha = (T)g->alpha, beta = (T)g->beta;
    int64_t k = g->k, m = i1 - i0;
    bool copy = g->a_cs != 1 && m > 0;
    int64_t kb = copy ? KB : k;
    T abuf[THIN_MAX][KB];
    // columns at a time: m x 2 accumulators and m rows of A fit 32 registers, not 16 (AVX2
    // and below: 7 x 512 x 2048 at 16.6 GB/s in pairs, against BLIS's 24)
    int wide = THIN_VBYTES < 64 && m > 4 ? 1 : 2;
    for (int64_t p0 = 0; p0 < k; p0 += kb) {
        int64_t kk = k - p0 < kb ? k - p0 : kb;
        const T *ar[THIN_MAX];
        for (int64_t i = 0; i < m; i++) {
            const T *src = a + (i0 + i) * g->a_rs + p0 * g->a_cs;
            if (copy) {
                for (int64_t t = 0; t < kk; t++) abuf[i][t] = src[t * g->a_cs];
                ar[i] = abuf[i];
            } else {
                ar[i] = src;
            }
        }
        for (int64_t j = j0; j < j1; j += wide) {
            int nc = j1 - j < wide ? 1 : wide;
            const T *bc[2] = {b + j * g->b_cs + p0, b + (j + nc - 1) * g->b_cs + p0};
            T out[THIN_MAX][2];
            CAT(thin_dots_any, SUF)((int)m, nc, kk, ar, bc, out);
            for (int64_t i = 0; i < m; i++)
                for (int q = 0; q < nc; q++) {
                    T *o = c + (i0 + i) * g->c_rs + j + q;
                    T v = alpha * out[i][q];
                    *o = p0 > 0 || beta == 1 ? *o + v : beta == 0 ? v : beta * *o + v;
                }
        }
    }
}

// Any strides (a B with neither stride 1): plain loops.
static void CAT(thin_any, SUF)(const tg_gemm_desc *g, const T *a, const T *b, T *c, int64_t i0,
                               int64_t i1, int64_t j0, int64_t j1) {
    T alpha = (T)g->alpha, beta = (T)g->beta;
    for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) {
            T s = 0;
            for (int64_t p = 0; p < g->k; p++)
                s += a[i * g->a_rs + p * g->a_cs] * b[p * g->b_rs + j * g->b_cs];
            T *o = c + i * g->c_rs + j;
            *o = beta == 0 ? alpha * s : alpha * s + beta * *o;
        }
}

// C's block [i0, i1) x [j0, j1) of batch entry bi of the canonical product g.
static void CAT(thin_run, SUF)(const tg_gemm_desc *g, int64_t bi, int64_t i0, int64_t i1,
                               int64_t j0, int64_t j1) {
    if (i1 <= i0 || j1 <= j0) return;
    const T *a = (const T *)g->a + bi * g->a_bs, *b = (const T *)g->b + bi * g->b_bs;
    T *c = (T *)g->c + bi * g->c_bs;
    if (g->k <= THIN_MAX || g->b_cs == 1) CAT(thin_rows, SUF)(g, a, b, c, i0, i1, j0, j1);
    else if (g->b_rs == 1) CAT(thin_cols, SUF)(g, a, b, c, i0, i1, j0, j1);
    else CAT(thin_any, SUF)(g, a, b, c, i0, i1, j0, j1);
}

#undef TV
#undef TL
#undef THIN_VBYTES
#undef THIN_INLINE

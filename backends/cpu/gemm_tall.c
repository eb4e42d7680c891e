// Tall gemm for AVX-512 builds: a row-major C [m, n] with at most four columns and many
// rows, from an A whose rows run along a short k: a classifier's last layer at large batch
// (seed-moons' y = h W^T, 8000 x 20 x 2). The narrow kernel puts C's columns in the vector
// lanes, so two columns used 2 of 16 (that product took 38-54 us, Zen 5, 1 thread); here
// 16 rows of C are the lanes: each block of 16 rows of A is transposed into a k x 16 panel
// (transpose.c's pack_t_f32, in L1), then each column of C is k multiply-adds of a panel
// row by one broadcast element of B. The store applies beta and gemm_ep's epilogue (a bias
// along C's rows or columns, ReLU) on those vectors, a column of C's block at a time
// through a gather and a scatter (C's block is 16 x n floats), or for one or two columns
// of a contiguous C by permutes into whole vectors (tall_store_dense).
#ifdef __AVX512F__
enum { TALL_MAX_N = 4, TALL_MAX_K = 256, TALL_MIN_M = 64 };

// The products it takes: floats, C row-major, A's rows contiguous, n <= 4, 64 rows or more
// and 1 <= k <= 256 (the panel: 16 KiB at most); C's rows at most 2^27 floats apart (its
// lanes are 32-bit offsets).
static bool tg_cpu_gemm_is_tall(const tg_gemm_desc *d) {
    return d->dtype == TG_F32 && d->c_cs == 1 && d->a_cs == 1 && d->n >= 1 &&
           d->n <= TALL_MAX_N && d->m >= TALL_MIN_M && d->k >= 1 && d->k <= TALL_MAX_K &&
           d->c_rs >= 1 && d->c_rs <= INT32_MAX / 16;
}

// acc[j] (lane r: C's row i0 + r, column j) = the panel's k rows against column j of w; N
// a constant at each call, so that the accumulators stay in registers. Four partial sums a
// column (p mod 4): with one, the chain of k dependent multiply-adds was the block's time.
static inline __attribute__((always_inline)) void
tall_block(int N, const float *restrict panel, int64_t k, const float (*w)[TALL_MAX_K],
           __m512 *acc) {
    __m512 part[TALL_MAX_N][4];
    for (int j = 0; j < N; j++)
        for (int q = 0; q < 4; q++) part[j][q] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 4 <= k; p += 4)
        for (int q = 0; q < 4; q++) {
            __m512 v = _mm512_load_ps(panel + 16 * (p + q));
            for (int j = 0; j < N; j++)
                part[j][q] = _mm512_fmadd_ps(v, _mm512_set1_ps(w[j][p + q]), part[j][q]);
        }
    for (; p < k; p++) {
        __m512 v = _mm512_load_ps(panel + 16 * p);
        for (int j = 0; j < N; j++)
            part[j][0] = _mm512_fmadd_ps(v, _mm512_set1_ps(w[j][p]), part[j][0]);
    }
    for (int j = 0; j < N; j++)
        acc[j] = _mm512_add_ps(_mm512_add_ps(part[j][0], part[j][1]),
                               _mm512_add_ps(part[j][2], part[j][3]));
}

// The epilogue and store of a block of rows rows (<= 16) of a C one or two columns wide
// with rows n apart, so 16n contiguous floats: the columns acc[j] (lane r: row r) are
// interleaved into C's order by permutes and stored whole (a 16-lane scatter is slow on Zen
// 4: 8000 x 20 x 2 with its bias 53 -> 47 us, 1 thread, 2026-12-07).
static void tall_store_dense(int64_t n, const __m512 *acc, int64_t rows, float *cb, double beta,
                             const float *bias, bool bias_rows, __m512 rb, bool relu) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 v[2] = {acc[0], n > 1 ? acc[1] : zero};
    if (n == 1) {
        __mmask16 rm = (__mmask16)(rows >= 16 ? 0xFFFF : (1u << rows) - 1);
        if (beta != 0)
            v[0] = _mm512_fmadd_ps(_mm512_set1_ps((float)beta), _mm512_maskz_loadu_ps(rm, cb),
                                   v[0]);
        if (bias) v[0] = _mm512_add_ps(v[0], bias_rows ? rb : _mm512_set1_ps(bias[0]));
        if (relu) v[0] = _mm512_max_ps(v[0], zero);
        _mm512_mask_storeu_ps(cb, rm, v[0]);
        return;
    }
    // C's 32 floats: row r's two at 2r, 2r + 1; m0, m1 the valid ones of each half
    int64_t el = 2 * rows;
    __mmask16 m0 = (__mmask16)(el >= 16 ? 0xFFFF : (1u << el) - 1),
              m1 = (__mmask16)(el <= 16 ? 0 : el >= 32 ? 0xFFFF : (1u << (el - 16)) - 1);
    if (beta != 0) {
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                              4, 2, 0),
                      odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        __m512 c0 = _mm512_maskz_loadu_ps(m0, cb), c1 = _mm512_maskz_loadu_ps(m1, cb + 16),
               vb = _mm512_set1_ps((float)beta);
        v[0] = _mm512_fmadd_ps(vb, _mm512_permutex2var_ps(c0, even, c1), v[0]);
        v[1] = _mm512_fmadd_ps(vb, _mm512_permutex2var_ps(c0, odd, c1), v[1]);
    }
    for (int j = 0; j < 2; j++) {
        if (bias) v[j] = _mm512_add_ps(v[j], bias_rows ? rb : _mm512_set1_ps(bias[j]));
        if (relu) v[j] = _mm512_max_ps(v[j], zero);   // (NaN -> 0, as the others do)
    }
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0),
                  hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    _mm512_mask_storeu_ps(cb, m0, _mm512_permutex2var_ps(v[0], lo, v[1]));
    if (m1) _mm512_mask_storeu_ps(cb + 16, m1, _mm512_permutex2var_ps(v[0], hi, v[1]));
}

static void tg_cpu_gemm_tall(const tg_gemm_desc *d, const tg_gemm_ep *e) {
    _Alignas(64) float panel[16 * TALL_MAX_K];
    float w[TALL_MAX_N][TALL_MAX_K];   // alpha B, by columns
    const int64_t m = d->m, n = d->n, k = d->k, rs = d->c_rs;
    const __m512 beta = _mm512_set1_ps((float)d->beta), zero = _mm512_setzero_ps();
    const float *bias = e ? e->bias : NULL;
    const bool bias_rows = e && e->bias_rows, relu = e && e->act == TG_GEMM_ACT_RELU;
    // lane r of a column of C: r * rs floats from the block's first row (rs * 16 fits in
    // int32: the caller sends larger strides to the narrow kernel)
    const __m512i lane = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7,
                                                             6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32((int)rs));
    for (int64_t bi = 0; bi < d->batch; bi++) {
        const float *a = (const float *)d->a + bi * d->a_bs;
        const float *b = (const float *)d->b + bi * d->b_bs;
        float *c = (float *)d->c + bi * d->c_bs;
        for (int64_t j = 0; j < n; j++)
            for (int64_t p = 0; p < k; p++)
                w[j][p] = (float)d->alpha * b[p * d->b_rs + j * d->b_cs];
        for (int64_t i0 = 0; i0 < m; i0 += 16) {
            int64_t rows = m - i0 < 16 ? m - i0 : 16;
            __mmask16 rm = (__mmask16)(rows >= 16 ? 0xFFFF : (1u << rows) - 1);
            pack_t_f32(a + i0 * d->a_rs, d->a_rs, rows, k, 16, panel);
            __m512 acc[TALL_MAX_N];
            switch (n) {
            case 1: tall_block(1, panel, k, (const float (*)[TALL_MAX_K])w, acc); break;
            case 2: tall_block(2, panel, k, (const float (*)[TALL_MAX_K])w, acc); break;
            case 3: tall_block(3, panel, k, (const float (*)[TALL_MAX_K])w, acc); break;
            default: tall_block(4, panel, k, (const float (*)[TALL_MAX_K])w, acc); break;
            }
            float *cb = c + i0 * rs;
            __m512 rb = bias && bias_rows ? _mm512_maskz_loadu_ps(rm, bias + i0) : zero;
            if (rs == n && n <= 2) {   // C's block is contiguous: no gather, no scatter
                tall_store_dense(n, acc, rows, cb, d->beta, bias, bias_rows, rb, relu);
                continue;
            }
            for (int64_t j = 0; j < n; j++) {
                __m512 v = acc[j];
                if (d->beta != 0)
                    v = _mm512_fmadd_ps(beta, _mm512_mask_i32gather_ps(zero, rm, lane, cb + j, 4),
                                        v);
                if (bias) v = _mm512_add_ps(v, bias_rows ? rb : _mm512_set1_ps(bias[j]));
                if (relu) v = _mm512_max_ps(v, zero);   // (NaN -> 0, as the others do)
                _mm512_mask_i32scatter_ps(cb + j, rm, lane, v, 4);
            }
        }
    }
}
#endif

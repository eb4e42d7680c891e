// Out-of-place transposes of a strided matrix into a row-major one, for the gemm paths that
// copy a B stored transposed before packing it (gemm.c: BLIS's packed path), and with
// AVX-512 the 16 x 16 register transpose that packs an operand running along k into a
// panel (gemm_narrow.c's B panel, gemm_own.c's micro-panels) and the plain copy that packs
// one running along the panel. Included into kernels.c, so
// built once per instruction-set variant.
#ifdef __AVX__
#include <immintrin.h>
#endif

#ifdef __AVX__
// dst[c*ldd + r] = src[r*lds + c] for an 8 x 8 tile, in registers.
static inline void tile8_f32(const float *s, int64_t lds, float *o, int64_t ldd) {
    __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds),
           r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds),
           r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds),
           r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
           t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(o, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(o + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(o + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(o + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(o + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(o + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(o + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(o + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

// dst [k, n] (row p at dst + p*ldd) = the transpose of src's n rows of k (row j at src +
// j*ld), by 16 x 16 blocks: each block reads and writes whole 64-byte lines.
static void transpose_f32(const float *src, int64_t ld, int64_t n, int64_t k, float *dst,
                          int64_t ldd) {
    int64_t j = 0;
#ifdef __AVX__
    for (; j + 16 <= n; j += 16) {
        int64_t p = 0;
        for (; p + 16 <= k; p += 16) {
            const float *s = src + j * ld + p;
            float *o = dst + p * ldd + j;
            tile8_f32(s, ld, o, ldd);
            tile8_f32(s + 8, ld, o + 8 * ldd, ldd);
            tile8_f32(s + 8 * ld, ld, o + 8, ldd);
            tile8_f32(s + 8 * ld + 8, ld, o + 8 * ldd + 8, ldd);
        }
        for (; p < k; p++)
            for (int64_t jj = j; jj < j + 16; jj++) dst[p * ldd + jj] = src[jj * ld + p];
    }
#endif
    for (int64_t j0 = j; j0 < n; j0 += 8) {
        int64_t j1 = j0 + 8 < n ? j0 + 8 : n;
        for (int64_t p = 0; p < k; p++)
            for (int64_t jj = j0; jj < j1; jj++) dst[p * ldd + jj] = src[jj * ld + p];
    }
}

static void transpose_f64(const double *src, int64_t ld, int64_t n, int64_t k, double *dst,
                          int64_t ldd) {
    for (int64_t j0 = 0; j0 < n; j0 += 8) {
        int64_t j1 = j0 + 8 < n ? j0 + 8 : n;
        for (int64_t p0 = 0; p0 < k; p0 += 8) {
            int64_t p1 = p0 + 8 < k ? p0 + 8 : k;
            for (int64_t p = p0; p < p1; p++)
                for (int64_t jj = j0; jj < j1; jj++) dst[p * ldd + jj] = src[jj * ld + p];
        }
    }
}

#ifdef __AVX512F__
// The first cnt lanes (none for cnt <= 0, all for cnt >= 16).
static inline __mmask16 mask16(int64_t cnt) {
    return (__mmask16)(cnt >= 16 ? 0xFFFF : cnt <= 0 ? 0 : (1u << cnt) - 1);
}

// Rows 0..4*nl-1 (nl <= 4 lanes of 4 rows; lanes past nl read as zero) by columns 0..15 of
// m, transposed into up to pr rows of 16 at out, out + R, ..., each store masked to sm.
// Lane L of z[a][b] holds columns 4b..4b+3 of row 4L + a, put together by 128-bit loads (on
// the load ports, not the shuffle ones); a 4 x 4 transpose within each lane then gives the
// columns. The loads go a row group at a time, so that a row's line is used up before the
// next is touched: rows 4 KiB apart share one L1 set, and 16 of them at once overflow its 12
// ways. Against a 16 x 16 in-register transpose (64 shuffles, half of them across lanes),
// packing a 1024 x 784 weight went 154 -> 89 us from L2/L3 and 407 -> 125 us from memory, a
// 1024 x 1024 one 205 -> 142 us (Zen 5, 1 thread, 2026-12-07).
static inline void tr16_block(const float *m, int64_t ld, int nl, float *out, int64_t R,
                              __mmask16 sm, int64_t pr) {
    __m512 z[4][4];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            const float *s = m + a * ld + 4 * b;
            __m512 v = _mm512_zextps128_ps512(_mm_loadu_ps(s));
            if (nl > 1) v = _mm512_insertf32x4(v, _mm_loadu_ps(s + 4 * ld), 1);
            if (nl > 2) v = _mm512_insertf32x4(v, _mm_loadu_ps(s + 8 * ld), 2);
            if (nl > 3) v = _mm512_insertf32x4(v, _mm_loadu_ps(s + 12 * ld), 3);
            z[a][b] = v;
        }
    for (int64_t b = 0; b < 4 && 4 * b < pr; b++) {
        __m512 t0 = _mm512_unpacklo_ps(z[0][b], z[1][b]), t1 = _mm512_unpackhi_ps(z[0][b], z[1][b]),
               t2 = _mm512_unpacklo_ps(z[2][b], z[3][b]), t3 = _mm512_unpackhi_ps(z[2][b], z[3][b]);
        __m512 c[4] = {_mm512_shuffle_ps(t0, t2, 0x44), _mm512_shuffle_ps(t0, t2, 0xEE),
                       _mm512_shuffle_ps(t1, t3, 0x44), _mm512_shuffle_ps(t1, t3, 0xEE)};
        for (int64_t j = 0; j < 4 && 4 * b + j < pr; j++)
            _mm512_mask_storeu_ps(out + (4 * b + j) * R, sm, c[j]);
    }
}

// Columns 0..qc-1 (qc <= 4) of rows 0..4*nl-1 of m (rows past `rows` read as zero) into
// rows 0..qc-1 of 16 lanes at out, out + R, ..., each store masked to sm: as tr16_block, one
// 128-bit load a row (masked to qc) and a 4 x 4 transpose within each lane. For the k tail
// of a block and for blocks of fewer rows, which went through a zero-padded copy of the
// whole 16 x 16 block (with gemm_tall.c's dense store, 8000 x 20 x 2 by the tall kernel
// 41 -> 25 us; tiny-sgd, whose weights pack with k tails, 5.57 -> 5.52 us; Zen 4, 1 thread,
// 2026-12-07).
static inline void tr4_cols(const float *m, int64_t ld, int64_t rows, int nl, int64_t qc,
                            float *out, int64_t R, __mmask16 sm) {
    __mmask8 lm = (__mmask8)((1u << qc) - 1);
    __m512 z[4];
    for (int x = 0; x < 4; x++) {   // (lane L: row 4L + x; the lane an immediate)
        const float *s = m + x * ld;
        __m512 v = _mm512_setzero_ps();
        if (x < rows) v = _mm512_insertf32x4(v, _mm_maskz_loadu_ps(lm, s), 0);
        if (nl > 1 && 4 + x < rows)
            v = _mm512_insertf32x4(v, _mm_maskz_loadu_ps(lm, s + 4 * ld), 1);
        if (nl > 2 && 8 + x < rows)
            v = _mm512_insertf32x4(v, _mm_maskz_loadu_ps(lm, s + 8 * ld), 2);
        if (nl > 3 && 12 + x < rows)
            v = _mm512_insertf32x4(v, _mm_maskz_loadu_ps(lm, s + 12 * ld), 3);
        z[x] = v;
    }
    __m512 t0 = _mm512_unpacklo_ps(z[0], z[1]), t1 = _mm512_unpackhi_ps(z[0], z[1]),
           t2 = _mm512_unpacklo_ps(z[2], z[3]), t3 = _mm512_unpackhi_ps(z[2], z[3]);
    __m512 c[4] = {_mm512_shuffle_ps(t0, t2, 0x44), _mm512_shuffle_ps(t0, t2, 0xEE),
                   _mm512_shuffle_ps(t1, t3, 0x44), _mm512_shuffle_ps(t1, t3, 0xEE)};
    for (int64_t j = 0; j < qc; j++) _mm512_mask_storeu_ps(out + j * R, sm, c[j]);
}

// How far ahead (floats) pack_t_f32 prefetches each row: a weight packed from memory went
// 478 -> 257 us with it (1024 x 784; rows 3 KiB apart, which the hardware prefetcher follows
// badly 16 at a time).
enum { PACK_T_AHEAD = 64 };

// A panel of R lanes a row: out[p*R + i] = m[i*ld + p] for rows i < rr (lanes rr..R-1
// zero) and p < kc. By 16 x 16 blocks (tr16_block) straight from m where every row a block
// loads is one of m's (the lanes past R of the last block are loaded and not stored: 12 of
// skx's NR take 3 lanes of 4 rows); the rest (rows past rr, the k tail) four columns at a
// time by tr4_cols (rows past rr read as zero).
static void pack_t_f32(const float *m, int64_t ld, int64_t rr, int64_t kc, int64_t R,
                       float *restrict out) {
    for (int64_t g = 0; g < R; g += 16) {
        int64_t want = R - g < 16 ? R - g : 16, rows = rr - g;
        int nl = (int)((want + 3) / 4);
        __mmask16 sm = mask16(want);
        bool direct = rows >= 4 * nl;
        const float *mg = m + g * ld;
        for (int64_t p0 = 0; p0 < kc; p0 += 16) {
            int64_t pr = kc - p0 < 16 ? kc - p0 : 16;
            if (direct && pr == 16) {
                if (p0 + PACK_T_AHEAD < kc)
                    for (int64_t j = 0; j < 4 * nl; j++)
                        _mm_prefetch((const char *)(mg + j * ld + p0 + PACK_T_AHEAD), _MM_HINT_T0);
                tr16_block(mg + p0, ld, nl, out + p0 * R + g, R, sm, 16);
                continue;
            }
            for (int64_t q0 = p0; q0 < p0 + pr; q0 += 4)
                tr4_cols(mg + q0, ld, rows, nl, p0 + pr - q0 < 4 ? p0 + pr - q0 : 4,
                         out + q0 * R + g, R, sm);
        }
    }
}

// Panels of R lanes from rows that run along them: rows [0, rows) (the panel index times R
// plus the lane), columns [0, kc) of m, element (i, p) at m[p*ld + i], into out's panels of
// R x kc (lanes past rows zero). By tiles of 8 values of p and about 64 floats of i (several
// panels): m's rows and the panels are usually a multiple of 4 KiB apart (ld 1024 floats; a
// 12 x 256 panel is 12 KiB), so all of them fall in one L1 set. A panel at a time read the
// 256 rows of a 1024 x 256 dY^T in 48-byte pieces, all the panels at a time wrote 86 streams:
// either way 10 % of that weight gradient's product went to evicted lines.
enum { PACK_N_P = 8 };
static void pack_n_f32(const float *m, int64_t ld, int64_t rows, int64_t kc, int64_t R,
                       float *restrict out) {
    int64_t group = R < 64 ? 64 / R * R : R;
    for (int64_t i0 = 0; i0 < rows; i0 += group) {
        int64_t i1 = i0 + group < rows ? i0 + group : rows;
        for (int64_t p0 = 0; p0 < kc; p0 += PACK_N_P) {
            int64_t p1 = p0 + PACK_N_P < kc ? p0 + PACK_N_P : kc;
            for (int64_t i = i0; i < i1; i += R) {
                const float *col = m + i;
                float *o = out + i * kc;
                int64_t rr = i1 - i;   // (lanes past it zero; over R: the next panel's)
                if (R == 32 && rr >= 32) {   // (skx's MR, a whole panel: plain copies)
                    for (int64_t p = p0; p < p1; p++) {
                        _mm512_storeu_ps(o + p * 32, _mm512_loadu_ps(col + p * ld));
                        _mm512_storeu_ps(o + p * 32 + 16, _mm512_loadu_ps(col + p * ld + 16));
                    }
                } else if (R < 16) {   // one vector a row; its last lanes go to the panel's
                    // next rows, written over by the next p (near the panel's end: masked)
                    __mmask16 lm = mask16(rr);
                    int64_t spans = (16 + R - 1) / R;   // (rows of the panel a vector covers)
                    for (int64_t p = p0; p < p1; p++) {
                        __m512 v = rr >= 16 ? _mm512_loadu_ps(col + p * ld)
                                            : _mm512_maskz_loadu_ps(lm, col + p * ld);
                        if (p + spans <= kc) _mm512_storeu_ps(o + p * R, v);
                        else _mm512_mask_storeu_ps(o + p * R, mask16(R), v);
                    }
                } else {
                    for (int64_t p = p0; p < p1; p++)
                        for (int64_t g = 0; g < R; g += 16)
                            _mm512_mask_storeu_ps(
                                o + p * R + g, mask16(R - g),
                                _mm512_maskz_loadu_ps(mask16(rr - g), col + p * ld + g));
                }
            }
        }
    }
}
#endif

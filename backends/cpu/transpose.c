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

// r[j] (row j, 16 floats) becomes column j: r[p][j] = the old r[j][p].
static inline void tr16_f32(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // r[4i + c]: in each 128-bit lane L, column 4L + c of rows 4i .. 4i+3
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
        t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xDD);
        r[4 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0xDD);
    }
}

// A panel of R lanes a row: out[p*R + i] = m[i*ld + p] for rows i < rr (lanes rr..R-1
// zero) and p < kc. 16 x 16 blocks, loads masked to the k tail and rows past rr left zero,
// so the padding comes with the stores.
static void pack_t_f32(const float *m, int64_t ld, int64_t rr, int64_t kc, int64_t R,
                       float *restrict out) {
    for (int64_t g = 0; g < R; g += 16) {
        __mmask16 sm = mask16(R - g);
        for (int64_t p0 = 0; p0 < kc; p0 += 16) {
            int64_t pr = kc - p0 < 16 ? kc - p0 : 16;
            __mmask16 km = mask16(pr);
            __m512 r[16];
            for (int64_t j = 0; j < 16; j++)
                r[j] = g + j < rr ? _mm512_maskz_loadu_ps(km, m + (g + j) * ld + p0)
                                  : _mm512_setzero_ps();
            tr16_f32(r);
            for (int64_t p = 0; p < pr; p++) _mm512_mask_storeu_ps(out + (p0 + p) * R + g, sm, r[p]);
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

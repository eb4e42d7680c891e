// The Winograd input and output transforms at one vector width (included by winograd_impl.h
// with T, VT (VL lanes of T) and TSUF defined, after CAT). Tiles are in the lanes: a row of
// ntw tiles a vector of VL at a time.

// The transformed input tiles of nt tile rows (padded rows buf from wg_pad_rows, 2 nt + 2 of
// them) to v[xi * vs + c * tp + q + ti * ntw + tj]. A row's last vector stores lanes past
// its ntw tiles: the next row's, stored after it, or past the group's tiles (tp leaves room;
// the caller zeroes them).
static void CAT(wg_input, TSUF)(const tg_conv_desc *d, const T *buf, int64_t nt, int64_t ntw,
                                int64_t ne, T *restrict v, int64_t vs, int64_t tp, int64_t q) {
    int64_t nr = 2 * nt + 2;
    for (int64_t c = 0; c < d->ci; c++)
        for (int64_t ti = 0; ti < nt; ti++) {
            const T *rows = buf + (c * nr + 2 * ti) * 2 * ne;
            T *dst = v + c * tp + q + ti * ntw;
            for (int64_t tj = 0; tj < ntw; tj += VL) {
                VT dd[4][4];
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++) {
                    const T *e = rows + a * 2 * ne + tj, *od = e + ne;
                    VT e0, e1, o0, o1;
                    memcpy(&e0, e, sizeof e0), memcpy(&e1, e + 1, sizeof e1);
                    memcpy(&o0, od, sizeof o0), memcpy(&o1, od + 1, sizeof o1);
                    dd[a][0] = e0 - e1, dd[a][1] = o0 + e1;   // columns 0 - 2, 1 + 2
                    dd[a][2] = e1 - o0, dd[a][3] = o0 - o1;   // columns 2 - 1, 1 - 3
                }
#pragma GCC unroll 4
                for (int b = 0; b < 4; b++) {
                    VT r[4] = {dd[0][b] - dd[2][b], dd[1][b] + dd[2][b], dd[2][b] - dd[1][b],
                               dd[1][b] - dd[3][b]};
#pragma GCC unroll 4
                    for (int a = 0; a < 4; a++)
                        memcpy(dst + (a * 4 + b) * vs + tj, &r[a], sizeof(VT));
                }
            }
        }
}

// The lanes of y0 and y1 interleaved, as __builtin_shufflevector's indices: y0[0], y1[0],
// y0[1], ... (lo: the first VL of them).
#if VL == 2
#define WG_ZIP_LO 0, 2
#define WG_ZIP_HI 1, 3
#elif VL == 4
#define WG_ZIP_LO 0, 4, 1, 5
#define WG_ZIP_HI 2, 6, 3, 7
#elif VL == 8
#define WG_ZIP_LO 0, 8, 1, 9, 2, 10, 3, 11
#define WG_ZIP_HI 4, 12, 5, 13, 6, 14, 7, 15
#else
#define WG_ZIP_LO 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define WG_ZIP_HI 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#endif

// Outputs of nt tile rows from tile row ti0 of image img: y = A^T m A + b for each channel,
// from m's tiles at q + ti * ntw + tj (channel rows tp apart, elements xs apart); the
// outputs past oh, ow are dropped. A row of one vector of tiles is stored as whole vectors
// while they end inside the channel's plane: what they write past the row is written again
// after (the next rows). false when an output is not finite.
static bool CAT(wg_output, TSUF)(const tg_conv_desc *d, const T *m, int64_t xs, int64_t tp,
                                 int64_t q, int64_t img, int64_t ti0, int64_t nt, int64_t ntw) {
    const T *bias = d->b;
    int64_t plane = d->oh * d->ow;
    VT check = {0};   // stays 0 while every value is finite (v * 0)
    for (int64_t o = 0; o < d->co; o++) {
        T bo = bias ? bias[o] : 0;
        T *yo = (T *)d->y + (img * d->co + o) * plane;
        for (int64_t ti = 0; ti < nt; ti++)
            for (int64_t tj = 0; tj < ntw; tj += VL) {
                const T *mm = m + o * tp + q + ti * ntw + tj;
                VT s[2][4];
#pragma GCC unroll 4
                for (int b = 0; b < 4; b++) {
                    VT m0, m1, m2, m3;
                    memcpy(&m0, mm + b * xs, sizeof m0);
                    memcpy(&m1, mm + (4 + b) * xs, sizeof m1);
                    memcpy(&m2, mm + (8 + b) * xs, sizeof m2);
                    memcpy(&m3, mm + (12 + b) * xs, sizeof m3);
                    s[0][b] = m0 + m1 + m2, s[1][b] = m1 - m2 - m3;
                }
                int64_t i = 2 * (ti0 + ti), n2 = ntw - tj < VL ? 2 * (ntw - tj) : 2 * VL;
                if (n2 > d->ow - 2 * tj) n2 = d->ow - 2 * tj;
                for (int r = 0; r < 2 && i + r < d->oh; r++) {
                    VT y0 = s[r][0] + s[r][1] + s[r][2] + bo;
                    VT y1 = s[r][1] - s[r][2] - s[r][3] + bo;
                    check += y0 * 0 + y1 * 0;
                    VT lo = __builtin_shufflevector(y0, y1, WG_ZIP_LO);
                    VT hi = __builtin_shufflevector(y0, y1, WG_ZIP_HI);
                    int64_t at = (i + r) * d->ow + 2 * tj;
                    T *yr = yo + at;
                    if (n2 == 2 * VL || (ntw <= VL && at + 2 * VL <= plane)) {
                        memcpy(yr, &lo, sizeof lo), memcpy(yr + VL, &hi, sizeof hi);
                        continue;
                    }
                    T a[2 * VL];
                    memcpy(a, &lo, sizeof lo), memcpy(a + VL, &hi, sizeof hi);
                    for (int64_t e = 0; e < n2; e++) yr[e] = a[e];
                }
            }
    }
    for (int e = 0; e < VL; e++)
        if (check[e] != 0) return false;
    return true;
}

#undef WG_ZIP_LO
#undef WG_ZIP_HI
#undef VT
#undef VL
#undef TSUF

// Float products whose two operands both run along k (AVX-512 builds): C = alpha A B +
// beta C with A row-major (a_cs == 1) and B stored transposed (b_rs == 1), as in a linear
// layer's y = x W^T. Handed to BLIS as they are, every micro-panel of both operands is a
// strided gather (BLIS 0.9's reference packing for the kernel sets we use); gemm.c used to
// copy W^T once into row-major scratch and let BLIS pack that (two passes over W, and x
// still gathered). Here tapegrad packs both operands itself, straight into BLIS's
// micro-panel layout, by 16 x 16 register transposes (pack_t_f32, transpose.c), and
// runs the kernel set's own microkernel over the blocks in BLIS's loop order (NC, KC, MC,
// then NR x MR tiles), with the block sizes, the microkernel and its preferred storage of
// C taken from the context cpu_select.c chose. BLIS 0.9's microkernels take partial tiles
// (m < MR, n < NR) themselves.
#ifdef __AVX512F__
#include <blis.h>
#include <string.h>

typedef void (*nt_ukr)(dim_t m, dim_t n, dim_t k, float *alpha, float *a, float *b,
                       float *beta, float *c, inc_t rs_c, inc_t cs_c, auxinfo_t *data,
                       cntx_t *cntx);

// rows [0, rows) of M, columns [0, kc), as panels of R rows (the last one zero-padded).
static void nt_pack_block(const float *m, int64_t ld, int64_t rows, int64_t kc, int64_t R,
                          float *restrict out) {
    for (int64_t i = 0; i < rows; i += R)
        pack_t_f32(m + i * ld, ld, rows - i < R ? rows - i : R, kc, R, out + i * kc);
}

// An epilogue on C's rows [i0, i1) x columns [j0, j1), run on each tile of C as soon as the
// microkernel has written its last k block (the tile is still in L1).
typedef void (*nt_tile_fn)(void *arg, int64_t i0, int64_t i1, int64_t j0, int64_t j1);

// C's block [m0, m1) x [n0, n1) of batch entry bi: C = alpha A B + beta C, then tile_ep
// (NULL: none) on every tile. false (nothing done) when the per-thread scratch for the
// packed blocks is not to be had.
static bool gemm_nt_f32(const tg_gemm_desc *d, int64_t bi, int64_t m0, int64_t m1, int64_t n0,
                        int64_t n1, cntx_t *cntx, nt_tile_fn tile_ep, void *ep_arg) {
    const num_t dt = BLIS_FLOAT;
    if (!cntx) cntx = bli_gks_query_cntx();   // (a context-less caller: BLIS's own pick)
    const int64_t MR = bli_cntx_get_blksz_def_dt(dt, BLIS_MR, cntx),
                  NR = bli_cntx_get_blksz_def_dt(dt, BLIS_NR, cntx),
                  MC = bli_cntx_get_blksz_def_dt(dt, BLIS_MC, cntx),
                  KC = bli_cntx_get_blksz_def_dt(dt, BLIS_KC, cntx),
                  NC = bli_cntx_get_blksz_def_dt(dt, BLIS_NC, cntx);
    void_fp f = bli_cntx_get_l3_nat_ukr_dt(dt, BLIS_GEMM_UKR, cntx);
    nt_ukr ukr;
    memcpy(&ukr, &f, sizeof ukr);   // (BLIS keeps it as an untyped pointer)
    const float *x = (const float *)d->a + bi * d->a_bs + m0 * d->a_rs;   // rows along k
    const float *w = (const float *)d->b + bi * d->b_bs + n0 * d->b_cs;   // rows along k
    float *c = (float *)d->c + bi * d->c_bs + m0 * d->c_rs + n0 * d->c_cs;
    // The microkernel's rows are C's rows (x's) when it prefers rows of C, else C's
    // columns (W's rows), so that its tile of C is stored the way it prefers.
    bool rows = bli_cntx_l3_nat_ukr_prefers_rows_dt(dt, BLIS_GEMM_UKR, cntx);
    const float *ka = rows ? x : w, *kb = rows ? w : x;
    int64_t lda = rows ? d->a_rs : d->b_cs, ldb = rows ? d->b_cs : d->a_rs;
    int64_t ma = rows ? m1 - m0 : n1 - n0, nb = rows ? n1 - n0 : m1 - m0;
    inc_t rs = rows ? d->c_rs : d->c_cs, cs = rows ? d->c_cs : d->c_rs;
    int64_t mc_max = ma < MC ? (ma + MR - 1) / MR * MR : MC;
    int64_t nc_max = nb < NC ? (nb + NR - 1) / NR * NR : NC;
    int64_t kc_max = d->k < KC ? d->k : KC;
    float *abuf = tg__cpu_scratch((size_t)(mc_max + nc_max) * (size_t)kc_max * sizeof(float));
    if (!abuf) return false;
    float *bbuf = abuf + mc_max * kc_max;
    float alpha = (float)d->alpha, one = 1.0f, beta0 = (float)d->beta;
    auxinfo_t aux;
    memset(&aux, 0, sizeof aux);
    bli_auxinfo_set_schema_a(BLIS_PACKED_ROW_PANELS, &aux);
    bli_auxinfo_set_schema_b(BLIS_PACKED_COL_PANELS, &aux);
    for (int64_t jc = 0; jc < nb; jc += NC) {
        int64_t nc = nb - jc < NC ? nb - jc : NC;
        for (int64_t pc = 0; pc < d->k; pc += KC) {
            int64_t kc = d->k - pc < KC ? d->k - pc : KC;
            float *beta = pc == 0 ? &beta0 : &one;
            bool last_k = pc + kc >= d->k;
            nt_pack_block(kb + jc * ldb + pc, ldb, nc, kc, NR, bbuf);
            for (int64_t ic = 0; ic < ma; ic += MC) {
                int64_t mc = ma - ic < MC ? ma - ic : MC;
                nt_pack_block(ka + ic * lda + pc, lda, mc, kc, MR, abuf);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    float *bp = bbuf + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        float *ap = abuf + ir * kc;
                        bool last_i = ir + MR >= mc;
                        bli_auxinfo_set_next_a(last_i ? abuf : ap + MR * kc, &aux);
                        bli_auxinfo_set_next_b(last_i && jr + NR < nc ? bp + NR * kc : bp, &aux);
                        int64_t mr = mc - ir < MR ? mc - ir : MR, nr = nc - jr < NR ? nc - jr : NR;
                        ukr(mr, nr, kc, &alpha, ap, bp, beta,
                            c + (ic + ir) * rs + (jc + jr) * cs, rs, cs, &aux, cntx);
                        if (tile_ep && last_k) {   // (the tile's rows are C's rows or columns)
                            int64_t r0 = ic + ir, c0 = jc + jr;
                            if (rows) tile_ep(ep_arg, m0 + r0, m0 + r0 + mr, n0 + c0, n0 + c0 + nr);
                            else tile_ep(ep_arg, m0 + c0, m0 + c0 + nr, n0 + r0, n0 + r0 + mr);
                        }
                    }
                }
            }
        }
    }
    return true;
}
#endif

// Float products on BLIS's packed path, packed by tapegrad (AVX-512 builds): C = alpha A B +
// beta C for any A and B that run with unit stride one way or the other. BLIS 0.9 packs an
// operand that runs along k (A row-major, or a B stored transposed as in a linear layer's
// y = x W^T) by a strided gather, one element at a time (its reference packing for the
// kernel sets we use), and splits a product between threads in fixed shares. Here tapegrad
// packs both operands itself, straight into BLIS's micro-panel layout: by 16 x 16 block
// transposes (pack_t_f32, transpose.c) what runs along k, by masked copies (pack_n_f32)
// what runs along the panel. It runs the kernel set's own microkernel over the blocks, with
// the block sizes, the microkernel and its preferred storage of C taken from the context
// cpu_select.c chose; BLIS 0.9's microkernels take partial tiles (m < MR, n < NR)
// themselves. Several threads share one product by chunks of the microkernel's rows
// (own_queue), each chunk over the whole of k where the other operand is small (own_plan).
#ifdef __AVX512F__
#include <blis.h>
#include <stdatomic.h>
#include <string.h>

typedef void (*own_ukr)(dim_t m, dim_t n, dim_t k, float *alpha, float *a, float *b,
                        float *beta, float *c, inc_t rs_c, inc_t cs_c, auxinfo_t *data,
                        cntx_t *cntx);

// One operand as the microkernel sees it: element (i, p) (i along its panels, p along k) at
// m[i*si + p*sp], with si or sp 1.
typedef struct own_operand {
    const float *m;
    int64_t si, sp;
} own_operand;

// Rows [i0, i0 + rows) and k [p0, p0 + kc) of o as panels of R rows (the last one
// zero-padded).
static void own_pack(own_operand o, int64_t i0, int64_t rows, int64_t p0, int64_t kc,
                     int64_t R, float *restrict out) {
    const float *m = o.m + i0 * o.si + p0 * o.sp;
    if (o.sp == 1) {
        for (int64_t i = 0; i < rows; i += R)
            pack_t_f32(m + i * o.si, o.si, rows - i < R ? rows - i : R, kc, R, out + i * kc);
        return;
    }
    pack_n_f32(m, o.sp, rows, kc, R, out);
}

// Whether own_gemm_f32 takes d: floats, each operand with a unit stride.
static bool own_takes(const tg_gemm_desc *d) {
    return d->dtype == TG_F32 && (d->a_rs == 1 || d->a_cs == 1) &&
           (d->b_rs == 1 || d->b_cs == 1);
}

// An epilogue on C's rows [i0, i1) x columns [j0, j1), run on each tile of C as soon as the
// microkernel has written its last k block (the tile is still in L1).
typedef void (*own_tile_fn)(void *arg, int64_t i0, int64_t i1, int64_t j0, int64_t j1);

// Whether the microkernel's rows are C's rows (A's side) for d: so that its tiles of C are
// stored the way it prefers (rows of C contiguous, or columns).
static bool own_a_rows(const tg_gemm_desc *d, cntx_t *cntx) {
    if (!cntx) cntx = bli_gks_query_cntx();   // (a context-less caller: BLIS's own pick)
    bool rows = bli_cntx_l3_nat_ukr_prefers_rows_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cntx);
    return rows ? d->c_cs == 1 || d->c_rs != 1 : d->c_rs == 1 && d->c_cs != 1;
}

// The threads of one product hand out the microkernel's rows in chunks as they come for
// them, so that a slower core takes fewer: on this project's 2-vCPU VM one vCPU ran the same
// gemm 5-20 % slower than the other (which one changed between runs), and a fixed half each
// kept the faster one waiting at the barrier. The work is a sequence of steps (a column
// block and a k block, in BLIS's loop order), each of row chunks: claim v is chunk v % chunks
// of step v / chunks. A thread's claims only grow, so it packs each step's block of kb once;
// a chunk's steps add into the same block of C, so a step waits (rarely) until the chunk's
// step before it is done. With the plan's whole_k there is one step: claim v is chunk v over
// all of k, and done is not used.
enum { OWN_MAX_CHUNKS = 64 };
typedef struct own_queue {
    _Atomic int64_t next;
    _Atomic int64_t done[OWN_MAX_CHUNKS];   // steps finished, per chunk
    _Atomic int lacking;                     // a thread without its scratch (gemm.c)
} own_queue;

// The blocking of one call. whole_k: the threads share it by chunks that each run over all of
// k, every thread having packed the whole of kb (all its k blocks) first.
typedef struct own_plan {
    bool a_rows, whole_k;
    int64_t MR, NR, NC, ma, nb, k, kblocks, kcb, chunk, chunks, steps, mc_max, nc_max;
} own_plan;

// The most bytes of kb packed whole for a whole_k plan: twice this machine's L2 (1 MiB on
// Zen 5, as on Skylake-X; kb is the operand BLIS keeps in L3 anyway, streamed a micro-panel
// at a time). It takes mnist-mlp's x (256 x 784) and dy (256 x 1024, 1.03 MiB as 264 rows of
// skx's 12-row panels), not wide's 512 x 1024 (2.02 MiB). On 2 threads (Zen 5, interleaved)
// it made mnist-mlp's forward 7 % faster and its step 2.5-6 %: no chunk's step waits for the
// other thread's, a chunk's block of C stays in L2 over its k blocks, and the chunks are
// finer (one or two register panels) for the same per-claim packing. A 1 MiB limit (x alone)
// gave back most of it.
enum { OWN_WHOLE_K_BYTES = 2 << 20 };

static own_plan own_make_plan(const tg_gemm_desc *d, int64_t m, int64_t n, cntx_t *cntx,
                              bool shared, int nt) {
    const num_t dt = BLIS_FLOAT;
    own_plan p = {.a_rows = own_a_rows(d, cntx), .k = d->k};
    if (!cntx) cntx = bli_gks_query_cntx();
    p.MR = bli_cntx_get_blksz_def_dt(dt, BLIS_MR, cntx);
    p.NR = bli_cntx_get_blksz_def_dt(dt, BLIS_NR, cntx);
    p.NC = bli_cntx_get_blksz_def_dt(dt, BLIS_NC, cntx);
    int64_t MC = bli_cntx_get_blksz_def_dt(dt, BLIS_MC, cntx),
            KC = bli_cntx_get_blksz_def_dt(dt, BLIS_KC, cntx);
    p.ma = p.a_rows ? m : n, p.nb = p.a_rows ? n : m;
    // k in blocks of KC, the last one shorter. Shared by threads, a last block under KC/8 is
    // spread over the others instead (784 as 392 + 392, not 384 + 384 + 16: a pass over the
    // chunk's block of C for 16 of k): mnist-mlp's 2-thread forward 3.31 -> 3.26 ms and step
    // 9.18 -> 9.04 (Zen 5, interleaved). On one thread it was level to 2 % slower.
    p.kblocks = (d->k + KC - 1) / KC, p.kcb = d->k < KC ? d->k : KC;
    if (shared && d->k > KC && d->k % KC != 0 && d->k % KC < KC / 8) {
        p.kblocks = d->k / KC;
        p.kcb = (d->k + p.kblocks - 1) / p.kblocks;
    }
    // Row chunks: MC alone; shared, about 8 a thread of whole register tiles, at most MC
    // (and at most OWN_MAX_CHUNKS of them, past 64 MC).
    p.chunk = MC;
    if (shared) {
        int64_t want = (p.ma + 8 * nt - 1) / (8 * nt), least = (p.ma + OWN_MAX_CHUNKS - 1) / OWN_MAX_CHUNKS;
        p.chunk = want < MC ? want : MC;
        p.chunk = p.chunk > least ? p.chunk : least;
        p.chunk = (p.chunk + p.MR - 1) / p.MR * p.MR;
    }
    p.chunks = (p.ma + p.chunk - 1) / p.chunk;
    p.steps = (p.nb + p.NC - 1) / p.NC * p.kblocks;
    p.nc_max = p.nb < p.NC ? (p.nb + p.NR - 1) / p.NR * p.NR : p.NC;
    // Shared, with kb small enough to pack whole: one step, chunks of about 16 a thread
    // (whole register tiles, at most MC).
    if (shared && p.nb <= p.NC &&
        (double)p.nc_max * (double)d->k * sizeof(float) <= OWN_WHOLE_K_BYTES) {
        int64_t want = (p.ma + 16 * nt - 1) / (16 * nt);
        want = (want + p.MR - 1) / p.MR * p.MR;
        p.whole_k = true;
        p.chunk = want < MC ? want : MC;
        p.chunks = (p.ma + p.chunk - 1) / p.chunk;
        p.steps = 1;
    }
    p.mc_max = p.ma < p.chunk ? (p.ma + p.MR - 1) / p.MR * p.MR : p.chunk;
    return p;
}

// The per-thread scratch a call with this plan packs into (NULL: not to be had).
static float *own_scratch(const own_plan *p) {
    int64_t kb_floats = p->nc_max * (p->whole_k ? p->k : p->kcb);
    return tg__cpu_scratch((size_t)(p->mc_max * p->kcb + kb_floats) * sizeof(float));
}

// What one call's microkernel loops share: the kernel, C as its tiles see it (rows along
// the microkernel's MR side at stride rs), the epilogue.
typedef struct own_run {
    own_ukr ukr;
    cntx_t *cntx;
    auxinfo_t aux;
    float alpha, one, beta0;
    float *c;
    inc_t rs, cs;
    int64_t MR, NR, m0, n0;
    bool a_rows;
    own_tile_fn tile_ep;
    void *ep_arg;
} own_run;

// The microkernel over the packed blocks: rows [ic, ic + mc) of ka (at abuf) against the
// columns [jc, jc + nc) of kb (at bblk), kc long; the first k block (C scaled by beta0) or a
// later one (added), the last one with the epilogue on each finished tile.
static void own_tiles(own_run *r, float *abuf, float *bblk, int64_t ic, int64_t mc,
                      int64_t jc, int64_t nc, int64_t kc, bool first_k, bool last_k) {
    const int64_t MR = r->MR, NR = r->NR;
    float *beta = first_k ? &r->beta0 : &r->one;
    for (int64_t jr = 0; jr < nc; jr += NR) {
        float *bp = bblk + jr * kc;
        for (int64_t ir = 0; ir < mc; ir += MR) {
            float *ap = abuf + ir * kc;
            bool last_i = ir + MR >= mc;
            bli_auxinfo_set_next_a(last_i ? abuf : ap + MR * kc, &r->aux);
            bli_auxinfo_set_next_b(last_i && jr + NR < nc ? bp + NR * kc : bp, &r->aux);
            int64_t mr = mc - ir < MR ? mc - ir : MR, nr = nc - jr < NR ? nc - jr : NR;
            r->ukr(mr, nr, kc, &r->alpha, ap, bp, beta,
                   r->c + (ic + ir) * r->rs + (jc + jr) * r->cs, r->rs, r->cs, &r->aux, r->cntx);
            if (r->tile_ep && last_k) {   // (the tile's rows are C's rows or columns)
                int64_t r0 = ic + ir, c0 = jc + jr, m0 = r->m0, n0 = r->n0;
                if (r->a_rows)
                    r->tile_ep(r->ep_arg, m0 + r0, m0 + r0 + mr, n0 + c0, n0 + c0 + nr);
                else
                    r->tile_ep(r->ep_arg, m0 + c0, m0 + c0 + nr, n0 + r0, n0 + r0 + mr);
            }
        }
    }
}

// C's block [m0, m1) x [n0, n1) of batch entry bi: C = alpha A B + beta C, then tile_ep
// (NULL: none) on every tile. With q, only the chunks this thread claims from q: every
// thread of the product calls it with the same block, q and nt, each with its scratch for
// the plan already had (own_scratch). Without q, where the per-thread scratch is not to be
// had, the block goes to fallback instead (C's rows [i0, i1) x columns [j0, j1), the whole
// product with the epilogue).
static void own_gemm_f32(const tg_gemm_desc *d, int64_t bi, int64_t m0, int64_t m1, int64_t n0,
                         int64_t n1, cntx_t *cntx, own_tile_fn tile_ep, own_tile_fn fallback,
                         void *ep_arg, own_queue *q, int nt) {
    own_plan pl = own_make_plan(d, m1 - m0, n1 - n0, cntx, q != NULL, nt);
    float *abuf = own_scratch(&pl);
    if (!abuf) {   // (with q the caller made sure of it)
        fallback(ep_arg, m0, m1, n0, n1);
        return;
    }
    float *bbuf = abuf + pl.mc_max * pl.kcb;   // one step's block of kb (whole_k: all of kb)
    if (!cntx) cntx = bli_gks_query_cntx();
    void_fp f = bli_cntx_get_l3_nat_ukr_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cntx);
    bool a_rows = pl.a_rows;
    own_run r = {.cntx = cntx, .alpha = (float)d->alpha, .one = 1.0f, .beta0 = (float)d->beta,
                 .c = (float *)d->c + bi * d->c_bs + m0 * d->c_rs + n0 * d->c_cs,
                 .rs = a_rows ? d->c_rs : d->c_cs, .cs = a_rows ? d->c_cs : d->c_rs,
                 .MR = pl.MR, .NR = pl.NR, .m0 = m0, .n0 = n0, .a_rows = a_rows,
                 .tile_ep = tile_ep, .ep_arg = ep_arg};
    memcpy(&r.ukr, &f, sizeof r.ukr);   // (BLIS keeps it as an untyped pointer)
    bli_auxinfo_set_schema_a(BLIS_PACKED_ROW_PANELS, &r.aux);
    bli_auxinfo_set_schema_b(BLIS_PACKED_COL_PANELS, &r.aux);
    own_operand x = {(const float *)d->a + bi * d->a_bs + m0 * d->a_rs, d->a_rs, d->a_cs};
    own_operand w = {(const float *)d->b + bi * d->b_bs + n0 * d->b_cs, d->b_cs, d->b_rs};
    own_operand ka = a_rows ? x : w, kb = a_rows ? w : x;
    const int64_t MR = pl.MR, NR = pl.NR, ma = pl.ma, nb = pl.nb, kcb = pl.kcb, k = d->k;
    if (pl.whole_k) {   // (only with q) all of kb first, then chunks over all of k
        for (int64_t pc = 0; pc < k; pc += kcb)
            own_pack(kb, 0, nb, pc, k - pc < kcb ? k - pc : kcb, NR, bbuf + pl.nc_max * pc);
        for (;;) {
            int64_t i = atomic_fetch_add_explicit(&q->next, 1, memory_order_relaxed);
            if (i >= pl.chunks) break;
            int64_t ic = i * pl.chunk, mc = ma - ic < pl.chunk ? ma - ic : pl.chunk;
            for (int64_t pc = 0; pc < k; pc += kcb) {
                int64_t kc = k - pc < kcb ? k - pc : kcb;
                own_pack(ka, ic, mc, pc, kc, MR, abuf);
                own_tiles(&r, abuf, bbuf + pl.nc_max * pc, ic, mc, 0, nb, kc, pc == 0,
                          pc + kc == k);
            }
        }
        return;
    }
    int64_t packed = -1;   // the step whose block of kb is in bbuf
    for (int64_t v = 0;; v++) {
        if (q) v = atomic_fetch_add_explicit(&q->next, 1, memory_order_relaxed);
        if (v >= pl.steps * pl.chunks) break;
        int64_t s = v / pl.chunks, i = v % pl.chunks, t = s % pl.kblocks;
        int64_t jc = s / pl.kblocks * pl.NC, pc = t * kcb, ic = i * pl.chunk;
        int64_t nc = nb - jc < pl.NC ? nb - jc : pl.NC, mc = ma - ic < pl.chunk ? ma - ic : pl.chunk;
        int64_t kc = k - pc < kcb ? k - pc : kcb;
        if (packed != s) own_pack(kb, jc, nc, pc, kc, NR, bbuf);
        packed = s;
        own_pack(ka, ic, mc, pc, kc, MR, abuf);
        if (q)   // (the chunk's step before this one, on another thread)
            while (atomic_load_explicit(&q->done[i], memory_order_acquire) != s) _mm_pause();
        own_tiles(&r, abuf, bbuf, ic, mc, jc, nc, kc, t == 0, t + 1 == pl.kblocks);
        if (q) atomic_store_explicit(&q->done[i], s + 1, memory_order_release);
    }
}
#endif

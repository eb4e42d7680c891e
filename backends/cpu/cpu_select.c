// Which kernels run: tapegrad's own variant (base, avx2, avx512) and BLIS's kernel set, both
// from the CPU's features (cpu_features.c), never from BLIS's model tables: BLIS 0.9 picks
// its kernels from the vendor's family/model and falls back to its C reference kernels on
// any CPU newer than itself (Zen 5: "generic", 41 of a 269 GFLOP/s peak; issue 16).
//
// How BLIS is made to use the chosen set, measured on Debian's BLIS 0.9 (AMD EPYC Zen 5,
// 2026-12-05; figures in bench/RESULTS.md). BLIS reads BLIS_ARCH_TYPE once, at its first
// initialisation, and the shared libblis.so exports no way to ask for another architecture's
// context (bli_gks_lookup_id and bli_cntx_init_skx live only in libblis.a):
//  (a) setting BLIS_ARCH_TYPE from a constructor before BLIS initialises works only when
//      tapegrad loads before the host's first BLIS call, and changes the host's BLIS too;
//  (b) a private copy of BLIS from libblis.a (PIC: it is), linked into libtapegrad.so with
//      its symbols hidden, with the context of the chosen set passed to every
//      bli_?gemm_ex: right whatever the host did, the host's BLIS untouched;
//  (c) contexts built from what libblis.so exports: impossible for another set, because
//      every exported query (bli_gks_query_cntx, _nat_cntx, _ind_cntx, init_ref_cntx)
//      answers for the architecture already chosen and no kernel symbol is exported.
// So (b) where the build could link the private copy (meson option blis_private; ~10 MB
// larger library) and (a) otherwise: a static libtapegrad.a, or -Dblis_private=disabled.
// (b) also lets the context mix sets: BLIS 0.9's skx has no small-matrix ("sup") kernels,
// so the automatic skx choice takes haswell's for thin products (with_sup below).
// bli_gks_lookup_id is declared weak and tells the two apart at run time. With (a) the
// description says so when BLIS had been initialised before tapegrad loaded.
//
// Overrides: TG_CPU_ISA=base|avx2|avx512|auto, TG_BLIS_ARCH=<BLIS name>|auto; a
// BLIS_ARCH_TYPE the user set is left to BLIS (unless TG_BLIS_ARCH names a set). A choice
// the CPU cannot run, or one not built, is refused, and the description says why.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>

#include "backends/cpu/cpu_select.h"

// Exported only by a static BLIS (the private copy): NULL with Debian's libblis.so.
cntx_t **bli_gks_lookup_id(arch_t id) __attribute__((weak));

static tg_cpu_choice choice;
static char isa_reason[128], blis_reason[192], blis_mechanism[96];
static arch_t blis_detected, blis_used;
static char blis_sup[64];   // whose small-matrix ("sup") path runs

// ---- tapegrad's variant ----

static const char *const isa_names[TG_ISA_COUNT] = {"base", "avx2", "avx512"};

static int isa_built(void) {
#if defined(TG_CPU_HAVE_AVX512)
    return TG_ISA_AVX512;
#elif defined(TG_CPU_HAVE_AVX2)
    return TG_ISA_AVX2;
#else
    return TG_ISA_BASE;
#endif
}

static int choose_isa(const tg_cpu_info *ci) {
    int runs = tg__cpu_isa_supported(ci), built = isa_built();
    int best = runs < built ? runs : built;
    const char *want = getenv("TG_CPU_ISA");
    if (!want || !*want || strcmp(want, "auto") == 0) {
        snprintf(isa_reason, sizeof isa_reason, "cpuid");
        return best;
    }
    for (int i = 0; i < TG_ISA_COUNT; i++) {
        if (strcmp(want, isa_names[i]) != 0) continue;
        const char *why = i > built ? "not built" : i > runs ? "this CPU lacks it" : NULL;
        if (!why) {
            snprintf(isa_reason, sizeof isa_reason, "TG_CPU_ISA");
            return i;
        }
        snprintf(isa_reason, sizeof isa_reason, "cpuid; TG_CPU_ISA=%s refused: %s", want, why);
        return best;
    }
    snprintf(isa_reason, sizeof isa_reason, "cpuid; TG_CPU_ISA=%s refused: unknown value", want);
    return best;
}

// ---- BLIS's kernel set ----

// What each x86 set needs of the CPU (BLIS's own cpuid checks, bli_cpuid.c); other
// architectures' sets never run here.
static unsigned blis_needs(arch_t id) {
    const unsigned avx2 = TG_CPUF_AVX2 | TG_CPUF_FMA;
    switch (id) {
    case BLIS_ARCH_SKX:
        return avx2 | TG_CPUF_AVX512F | TG_CPUF_AVX512DQ | TG_CPUF_AVX512BW | TG_CPUF_AVX512VL;
    case BLIS_ARCH_KNL: return avx2 | TG_CPUF_AVX512F | TG_CPUF_AVX512PF;
    case BLIS_ARCH_HASWELL:
    case BLIS_ARCH_ZEN:
    case BLIS_ARCH_ZEN2:
    case BLIS_ARCH_ZEN3: return avx2;
    case BLIS_ARCH_SANDYBRIDGE: return TG_CPUF_AVX;
    case BLIS_ARCH_PENRYN: return TG_CPUF_SSSE3;
    case BLIS_ARCH_BULLDOZER: return TG_CPUF_AVX | TG_CPUF_FMA4;
    case BLIS_ARCH_PILEDRIVER:
    case BLIS_ARCH_STEAMROLLER:
    case BLIS_ARCH_EXCAVATOR: return TG_CPUF_AVX | TG_CPUF_FMA | TG_CPUF_FMA4;
    case BLIS_ARCH_GENERIC: return 0;
    default: return ~0u;
    }
}

// Whether the BLIS we run has the set: the private copy answers itself; for the shared
// library, the configuration list its headers were generated with (bli_config.h). Naming
// a set BLIS lacks in BLIS_ARCH_TYPE makes BLIS abort, so this is checked first.
static bool blis_has(arch_t id) {
    if (bli_gks_lookup_id) return bli_gks_lookup_id(id) != NULL;
    switch (id) {
#ifdef BLIS_CONFIG_SKX
    case BLIS_ARCH_SKX:
#endif
#ifdef BLIS_CONFIG_KNL
    case BLIS_ARCH_KNL:
#endif
#ifdef BLIS_CONFIG_HASWELL
    case BLIS_ARCH_HASWELL:
#endif
#ifdef BLIS_CONFIG_SANDYBRIDGE
    case BLIS_ARCH_SANDYBRIDGE:
#endif
#ifdef BLIS_CONFIG_PENRYN
    case BLIS_ARCH_PENRYN:
#endif
#ifdef BLIS_CONFIG_ZEN3
    case BLIS_ARCH_ZEN3:
#endif
#ifdef BLIS_CONFIG_ZEN2
    case BLIS_ARCH_ZEN2:
#endif
#ifdef BLIS_CONFIG_ZEN
    case BLIS_ARCH_ZEN:
#endif
    case BLIS_ARCH_GENERIC: return true;
    default: return false;
    }
}

static bool blis_runs(const tg_cpu_info *ci, arch_t id) {
    unsigned needs = blis_needs(id);
    return (ci->flags & needs) == needs && blis_has(id);
}

// The best set for the features: AVX-512 (F/DQ/BW/VL) takes skx's kernels, whatever the
// vendor; AVX2+FMA takes the tuned set of a known AMD family (BLIS's blocksizes for its
// caches), else haswell's. Older CPUs: BLIS's own detection, which knows them (-1).
static arch_t blis_best(const tg_cpu_info *ci) {
    const arch_t order[] = {BLIS_ARCH_SKX, BLIS_ARCH_ZEN3, BLIS_ARCH_ZEN2, BLIS_ARCH_ZEN,
                            BLIS_ARCH_HASWELL};
    bool amd = strcmp(ci->vendor, "AuthenticAMD") == 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        arch_t id = order[i];
        if (!blis_runs(ci, id)) continue;
        if (id == BLIS_ARCH_ZEN3 && !(amd && ci->family >= 0x19)) continue;
        if (id == BLIS_ARCH_ZEN2 && !(amd && ci->family == 0x17 && ci->model >= 0x30)) continue;
        if (id == BLIS_ARCH_ZEN && !(amd && ci->family == 0x17)) continue;
        return id;
    }
    return (arch_t)-1;
}

static arch_t blis_by_name(const char *name) {
    for (int i = 0; i < BLIS_NUM_ARCHS; i++)
        if (strcmp(bli_arch_string((arch_t)i), name) == 0) return (arch_t)i;
    return (arch_t)-1;
}

// The set tapegrad asks for, -1 = whatever BLIS picks itself; the reason in blis_reason.
static arch_t choose_blis(const tg_cpu_info *ci) {
    const char *user = getenv("TG_BLIS_ARCH");
    char refused[96] = "";
    if (user && *user && strcmp(user, "auto") == 0) {
        snprintf(blis_reason, sizeof blis_reason, "TG_BLIS_ARCH=auto");
        return (arch_t)-1;
    }
    if (user && *user) {
        arch_t id = blis_by_name(user);
        const char *why = id == (arch_t)-1 || !blis_has(id) ? "not in this BLIS"
                          : !blis_runs(ci, id)               ? "this CPU lacks it"
                                                             : NULL;
        if (!why) {
            snprintf(blis_reason, sizeof blis_reason, "TG_BLIS_ARCH");
            return id;
        }
        snprintf(refused, sizeof refused, "; TG_BLIS_ARCH=%.32s refused: %s", user, why);
    }
    if (getenv("BLIS_ARCH_TYPE")) {
        snprintf(blis_reason, sizeof blis_reason, "BLIS_ARCH_TYPE set by the user%s", refused);
        return (arch_t)-1;
    }
    arch_t id = blis_best(ci);
    snprintf(blis_reason, sizeof blis_reason, "%s%s",
             id == (arch_t)-1 ? "cpuid: no AVX2, BLIS's own detection" : "cpuid", refused);
    return id;
}

// skx's native kernels with haswell's small-matrix ("sup") path, which BLIS 0.9's skx set
// lacks, taken when m or n < SUP_MN (any k). Measured with the private BLIS on Zen 5, 1
// thread (bench/RESULTS.md, 2026-12-05): the seed shapes (m or n of 2..20) run 1.4-6x faster
// than on skx's packed path (moons dW 20x2x8000: 43 us against 163; diabetes 2x20x614: 4.9
// against 14.4), the large ones keep skx's speed (256x1024x784: 2.8 ms; haswell's kernels
// 4.6); a short k alone never paid (512x1024x16: skx 120 us, sup 264), nor n >= 32
// (1024x32x1024: 626 against 750). f64 uses the same bounds (not measured separately).
enum { SUP_MN = 32 };
static cntx_t ours;   // the context tapegrad's gemms run with: a copy, BLIS's own left alone

static void with_sup(const cntx_t *sup) {
    memcpy(ours.l3_sup_handlers, sup->l3_sup_handlers, sizeof ours.l3_sup_handlers);
    memcpy(ours.l3_sup_blkszs, sup->l3_sup_blkszs, sizeof ours.l3_sup_blkszs);
    memcpy(ours.l3_sup_kers, sup->l3_sup_kers, sizeof ours.l3_sup_kers);
    memcpy(ours.l3_sup_kers_prefs, sup->l3_sup_kers_prefs, sizeof ours.l3_sup_kers_prefs);
    bli_blksz_init_easy(&ours.l3_sup_thresh[BLIS_MT], SUP_MN, SUP_MN, -1, -1);
    bli_blksz_init_easy(&ours.l3_sup_thresh[BLIS_NT], SUP_MN, SUP_MN, -1, -1);
    bli_blksz_init_easy(&ours.l3_sup_thresh[BLIS_KT], 1, 1, -1, -1);
}

// BLIS 0.9 packs a micro-panel wider than 31 (skx's sgemm panels are 32 wide; its packm
// kernel table ends at 31) and every edge panel through scal2m, one scal2v call per column
// of the panel, and the reference scal2v it calls is a scalar loop behind checks. perf of
// conv2d-32x16x32x32-32k3 on Zen 5 (2026-12-06): 38 % of the forward in bli_sscal2v_skx_ref,
// 363 K calls of 32 contiguous floats; 14 % of the mnist-mlp step. These take the contiguous
// copy (the packing's case) as one memcpy and keep BLIS's meaning otherwise: y = alpha x,
// y = 0 where alpha is 0 (NaNs in x not propagated, as BLIS does).
#define SCAL2V(T, ch)                                                                         \
    static void ch##scal2v(conj_t conjx, dim_t n, T *restrict alpha, T *restrict x,        \
                           inc_t incx, T *restrict y, inc_t incy, cntx_t *cntx) {          \
        (void)conjx;                                                                       \
        (void)cntx;                                                                        \
        T a = *alpha;                                                                      \
        if (n <= 0) return;                                                                \
        if (a == 1 && incx == 1 && incy == 1) {                                            \
            memcpy(y, x, (size_t)n * sizeof(T));                                           \
        } else if (a == 0) {                                                               \
            for (dim_t i = 0; i < n; i++) y[i * incy] = 0;                                 \
        } else {                                                                           \
            for (dim_t i = 0; i < n; i++) y[i * incy] = a * x[i * incx];                   \
        }                                                                                  \
    }
SCAL2V(float, s)
SCAL2V(double, d)

// (b): the private copy (initialised by choose()), its context copied into ours with the
// packing fix above. The automatic skx choice borrows haswell's small-matrix path (above).
static void apply_private(arch_t id, bool automatic) {
    blis_detected = bli_arch_query_id();
    blis_used = id == (arch_t)-1 ? blis_detected : id;
    ours = *bli_gks_lookup_id(blis_used)[BLIS_NAT];
    // BLIS stores kernels as void * (POSIX lets a function pointer travel that way).
    sscal2v_ker_ft fs = sscal2v;
    dscal2v_ker_ft fd = dscal2v;
    memcpy(&ours.l1v_kers[BLIS_SCAL2V_KER].ptr[BLIS_FLOAT], &fs, sizeof fs);
    memcpy(&ours.l1v_kers[BLIS_SCAL2V_KER].ptr[BLIS_DOUBLE], &fd, sizeof fd);
    choice.blis_cntx = &ours;
    snprintf(blis_sup, sizeof blis_sup, "%s", bli_arch_string(blis_used));
    if (automatic && id == BLIS_ARCH_SKX && blis_runs(&choice.cpu, BLIS_ARCH_HASWELL)) {
        with_sup(bli_gks_lookup_id(BLIS_ARCH_HASWELL)[BLIS_NAT]);
        snprintf(blis_sup, sizeof blis_sup, "haswell (m or n < %d)", SUP_MN);
    }
#ifdef TG_BLIS_SERIAL
    snprintf(blis_mechanism, sizeof blis_mechanism,
             "private static BLIS (serial build) in libtapegrad, context passed per call");
#else
    snprintf(blis_mechanism, sizeof blis_mechanism,
             "private static BLIS in libtapegrad, context passed per call");
#endif
}

// (a): the process's shared BLIS, told through BLIS_ARCH_TYPE while it initialises; the
// variable is restored afterwards so that child processes do not inherit it.
static void apply_shared(arch_t id) {
    snprintf(blis_mechanism, sizeof blis_mechanism, "shared BLIS, BLIS_ARCH_TYPE at load");
    if (id == (arch_t)-1) {
        bli_init();
        blis_detected = blis_used = bli_arch_query_id();
        snprintf(blis_sup, sizeof blis_sup, "%s", bli_arch_string(blis_used));
        return;
    }
    const char *old = getenv("BLIS_ARCH_TYPE");
    char saved[32] = "", want[16];
    if (old) snprintf(saved, sizeof saved, "%s", old);
    snprintf(want, sizeof want, "%d", (int)id);
    setenv("BLIS_ARCH_TYPE", want, 1);
    bli_init();
    blis_used = bli_arch_query_id();
    if (old) setenv("BLIS_ARCH_TYPE", saved, 1);
    else unsetenv("BLIS_ARCH_TYPE");
    blis_detected = (arch_t)-1;   // unknown: BLIS was told, or had chosen before us
    snprintf(blis_sup, sizeof blis_sup, "%s", bli_arch_string(blis_used));
    if (blis_used != id) {
        size_t n = strlen(blis_reason);
        snprintf(blis_reason + n, sizeof blis_reason - n,
                 "; wanted %s, but BLIS was initialised before tapegrad loaded",
                 bli_arch_string(id));
    }
}

static void choose(void) {
    tg__cpu_detect(&choice.cpu);
    choice.isa = choose_isa(&choice.cpu);
    if (bli_gks_lookup_id) bli_init();   // the private copy's sets are known once it is
    arch_t id = choose_blis(&choice.cpu);
    if (bli_gks_lookup_id) apply_private(id, strncmp(blis_reason, "cpuid", 5) == 0);
    else apply_shared(id);
}

static pthread_once_t choice_once = PTHREAD_ONCE_INIT;

const tg_cpu_choice *tg__cpu_choice(void) {
    pthread_once(&choice_once, choose);
    return &choice;
}

// With the shared BLIS the choice must precede the host's first BLIS call: made at load.
__attribute__((constructor)) static void choose_at_load(void) {
    if (!bli_gks_lookup_id) tg__cpu_choice();
}

// ---- description ----

int tg__cpu_describe(char *buf, size_t size) {
    const tg_cpu_choice *c = tg__cpu_choice();
    char flags[256] = "";
    size_t nf = 0;
    for (int i = 0; i < TG_CPUF_COUNT && nf < sizeof flags; i++)
        if (c->cpu.flags & (1u << i))
            nf += (size_t)snprintf(flags + nf, sizeof flags - nf, "%s%s", nf ? " " : "",
                                   tg__cpu_flag_name(1u << i));
    if (!buf) size = 0;
    return snprintf(buf, size,
                    "cpu_vendor: %s\ncpu_family: %d\ncpu_model: %d\ncpu_stepping: %d\n"
                    "cpu_model_name: %s\ncpu_flags: %s\nkernels: %s\nkernels_reason: %s\n"
                    "blis_kernels: %s\nblis_arch_id: %d\nblis_sup_kernels: %s\nblis_reason: %s\n"
                    "blis_detected: %s\n"
                    "blis_mechanism: %s\nblis_version: %s\n",
                    c->cpu.vendor, c->cpu.family, c->cpu.model, c->cpu.stepping,
                    c->cpu.model_name, flags, isa_names[c->isa], isa_reason,
                    bli_arch_string(blis_used), (int)blis_used, blis_sup, blis_reason,
                    blis_detected == (arch_t)-1 ? "n/a" : bli_arch_string(blis_detected),
                    blis_mechanism, bli_info_get_version_str());
}

// The cpu backend's choice of kernels (issue 16): what the CPU can run (cpuid + xgetbv, in
// cpu_features.c), which of tapegrad's kernel variants and which BLIS kernel set follow from
// that (cpu_select.c), and the one-line-per-key description that tg_cpu_describe() prints.
// Compiled once (not per variant); the choice is made once per process.
#pragma once

#include <stdbool.h>
#include <stddef.h>

// CPU features that decide a kernel set. The AVX tiers count only with the OS saving the
// registers (XCR0: YMM state for AVX/AVX2, opmask + ZMM state for AVX-512).
enum tg_cpu_flag {
    TG_CPUF_SSE2 = 1u << 0,
    TG_CPUF_SSE3 = 1u << 1,
    TG_CPUF_SSSE3 = 1u << 2,
    TG_CPUF_SSE41 = 1u << 3,
    TG_CPUF_SSE42 = 1u << 4,
    TG_CPUF_AVX = 1u << 5,
    TG_CPUF_FMA = 1u << 6,
    TG_CPUF_AVX2 = 1u << 7,
    TG_CPUF_FMA4 = 1u << 8,
    TG_CPUF_AVX512F = 1u << 9,
    TG_CPUF_AVX512DQ = 1u << 10,
    TG_CPUF_AVX512BW = 1u << 11,
    TG_CPUF_AVX512VL = 1u << 12,
    TG_CPUF_AVX512PF = 1u << 13,   // Xeon Phi only (BLIS's knl kernels)
    TG_CPUF_OS_YMM = 1u << 14,     // XCR0 bits 1-2
    TG_CPUF_OS_ZMM = 1u << 15,     // XCR0 bits 5-7
    TG_CPUF_COUNT = 16
};

typedef struct tg_cpu_info {
    char vendor[16];        // "AuthenticAMD", "GenuineIntel"; "" off x86
    char model_name[64];    // the brand string, trimmed
    int family, model, stepping;   // display family/model (extended fields folded in)
    unsigned flags;         // tg_cpu_flag bits
} tg_cpu_info;

// Fills *ci from cpuid/xgetbv (all zero off x86).
void tg__cpu_detect(tg_cpu_info *ci);
// Flag names for the description ("avx512f"), NULL for an unknown bit.
const char *tg__cpu_flag_name(unsigned flag);

// tapegrad's own kernel variants, in increasing order.
enum tg_cpu_isa { TG_ISA_BASE = 0, TG_ISA_AVX2, TG_ISA_AVX512, TG_ISA_COUNT };
// The best variant the CPU runs (AVX2 needs FMA too; AVX-512 needs F/DQ/BW/VL).
int tg__cpu_isa_supported(const tg_cpu_info *ci);

// The choice, made once (thread-safe; at load when BLIS is the shared library). isa: the
// tapegrad variant to run, always a built one. blis_cntx: the BLIS context for tapegrad's gemms, NULL = BLIS's
// global one.
typedef struct tg_cpu_choice {
    tg_cpu_info cpu;
    int isa;
    void *blis_cntx;
} tg_cpu_choice;
const tg_cpu_choice *tg__cpu_choice(void);
// The description (see tg_cpu_describe in include/tapegrad/tensor.h); snprintf's contract.
int tg__cpu_describe(char *buf, size_t size);

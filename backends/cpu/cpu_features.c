// CPU feature detection for the kernel choice: cpuid for the vendor, family/model, brand
// string and instruction sets, xgetbv for what the OS saves on a context switch (an
// instruction set whose registers the OS does not save cannot be used). Off x86 every
// field stays zero and the baseline kernels run.
#include <string.h>

#include "backends/cpu/cpu_select.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    r[0] = r[1] = r[2] = r[3] = 0;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

// The brand string without its padding ("AMD EPYC" rather than "AMD EPYC      ").
static void brand(char *out, size_t size) {
    unsigned r[4], max_ext;
    cpuid(0x80000000u, 0, r);
    max_ext = r[0];
    out[0] = 0;
    if (max_ext < 0x80000004u || size < 49) return;
    for (unsigned i = 0; i < 3; i++) {
        cpuid(0x80000002u + i, 0, r);
        memcpy(out + 16 * i, r, 16);
    }
    out[48] = 0;
    size_t n = strlen(out), lead = strspn(out, " ");
    while (n > lead && out[n - 1] == ' ') out[--n] = 0;
    memmove(out, out + lead, n - lead + 1);
}

static unsigned leaf1_flags(unsigned ecx, unsigned edx, unsigned long long xcr0) {
    unsigned f = 0;
    if (edx & (1u << 26)) f |= TG_CPUF_SSE2;
    if (ecx & (1u << 0)) f |= TG_CPUF_SSE3;
    if (ecx & (1u << 9)) f |= TG_CPUF_SSSE3;
    if (ecx & (1u << 19)) f |= TG_CPUF_SSE41;
    if (ecx & (1u << 20)) f |= TG_CPUF_SSE42;
    if ((xcr0 & 0x6) == 0x6) f |= TG_CPUF_OS_YMM;
    if ((xcr0 & 0xe6) == 0xe6) f |= TG_CPUF_OS_ZMM;
    if ((ecx & (1u << 28)) && (f & TG_CPUF_OS_YMM)) f |= TG_CPUF_AVX;
    if ((ecx & (1u << 12)) && (f & TG_CPUF_AVX)) f |= TG_CPUF_FMA;
    return f;
}

static unsigned leaf7_flags(unsigned ebx, unsigned f) {
    if (!(f & TG_CPUF_AVX)) return f;
    if (ebx & (1u << 5)) f |= TG_CPUF_AVX2;
    if (!(f & TG_CPUF_OS_ZMM)) return f;
    if (ebx & (1u << 16)) f |= TG_CPUF_AVX512F;
    if (ebx & (1u << 17)) f |= TG_CPUF_AVX512DQ;
    if (ebx & (1u << 26)) f |= TG_CPUF_AVX512PF;
    if (ebx & (1u << 30)) f |= TG_CPUF_AVX512BW;
    if (ebx & (1u << 31)) f |= TG_CPUF_AVX512VL;
    return f;
}

void tg__cpu_detect(tg_cpu_info *ci) {
    memset(ci, 0, sizeof *ci);
    unsigned r[4];
    cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    memcpy(ci->vendor, &r[1], 4);
    memcpy(ci->vendor + 4, &r[3], 4);
    memcpy(ci->vendor + 8, &r[2], 4);
    brand(ci->model_name, sizeof ci->model_name);
    if (max_leaf < 1) return;
    cpuid(1, 0, r);
    unsigned base_family = (r[0] >> 8) & 0xf, base_model = (r[0] >> 4) & 0xf;
    ci->stepping = (int)(r[0] & 0xf);
    ci->family = (int)base_family;
    ci->model = (int)base_model;
    if (base_family == 0xf) ci->family += (int)((r[0] >> 20) & 0xff);
    if (base_family == 0x6 || base_family == 0xf) ci->model |= (int)(((r[0] >> 16) & 0xf) << 4);
    unsigned long long xcr0 = (r[2] & (1u << 27)) ? xgetbv0() : 0;   // OSXSAVE
    ci->flags = leaf1_flags(r[2], r[3], xcr0);
    if (max_leaf >= 7) {
        cpuid(7, 0, r);
        ci->flags = leaf7_flags(r[1], ci->flags);
    }
    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000001u) {
        cpuid(0x80000001u, 0, r);
        if ((r[2] & (1u << 16)) && (ci->flags & TG_CPUF_AVX)) ci->flags |= TG_CPUF_FMA4;
    }
}
#else
void tg__cpu_detect(tg_cpu_info *ci) { memset(ci, 0, sizeof *ci); }
#endif

const char *tg__cpu_flag_name(unsigned flag) {
    static const char *const names[TG_CPUF_COUNT] = {
        "sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "fma", "avx2", "fma4", "avx512f",
        "avx512dq", "avx512bw", "avx512vl", "avx512pf", "os_ymm", "os_zmm"};
    for (int i = 0; i < TG_CPUF_COUNT; i++)
        if (flag == 1u << i) return names[i];
    return NULL;
}

int tg__cpu_isa_supported(const tg_cpu_info *ci) {
    const unsigned avx2 = TG_CPUF_AVX2 | TG_CPUF_FMA;
    const unsigned avx512 =
        avx2 | TG_CPUF_AVX512F | TG_CPUF_AVX512DQ | TG_CPUF_AVX512BW | TG_CPUF_AVX512VL;
    if ((ci->flags & avx512) == avx512) return TG_ISA_AVX512;
    if ((ci->flags & avx2) == avx2) return TG_ISA_AVX2;
    return TG_ISA_BASE;
}

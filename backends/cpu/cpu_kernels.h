// What the cpu backend's registration (cpu_backend.c) sees of its kernel variants: the
// backend context the kernels receive and each variant's table of compute slots (memory
// slots are zero; cpu_backend.c adds them). kernels_<isa>.c defines tg_cpu_kernels_<isa>;
// cpu_select.c chooses which one runs (cpuid; TG_CPU_ISA=base|avx2|avx512 overrides).
#pragma once

#include "backends/backend_impl.h"

typedef struct tg_cpu_ctx {
    int n_threads;     // 0 = BLIS/OpenMP default (1 unless the environment says more)
    void *blis_cntx;   // BLIS context of the chosen kernel set (cpu_select.c); NULL = BLIS's
} tg_cpu_ctx;

// A scratch buffer of at least `bytes` for the calling thread, kept and grown across calls
// (freed when the thread ends) so that a steady-state step allocates nothing; NULL when it
// cannot grow, and the caller then does without.
void *tg__cpu_scratch(size_t bytes);

extern const struct tg_backend_ops *const tg_cpu_kernels_base;
extern const struct tg_backend_ops *const tg_cpu_kernels_avx2;
extern const struct tg_backend_ops *const tg_cpu_kernels_avx512;

// The cpu backend's registration: memory slots and the vtable. Host memory is plain
// aligned heap memory; the core's caching allocator sits on top.
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/cpu_select.h"
#include "tapegrad/tensor.h"

static tg_cpu_ctx cpu_ctx;

static int cpu_init(void **ctx) {
    cpu_ctx.blis_cntx = tg__cpu_choice()->blis_cntx;
    *ctx = &cpu_ctx;
    return TG_OK;
}

static void cpu_shutdown(void *ctx) { (void)ctx; }
static int cpu_synchronize(void *ctx) {
    (void)ctx;
    return TG_OK;
}

static int cpu_set_threads(void *ctx, int n) {
    ((tg_cpu_ctx *)ctx)->n_threads = n;
    return TG_OK;
}

static int cpu_alloc(void *ctx, size_t bytes, void **out) {
    (void)ctx;
    // 64 bytes of slack: Debian's BLIS 0.9 sgemm kernels read a few bytes past the end of
    // an exactly-sized output (seen with ASan-free valgrind runs); keep that inside the block.
    size_t rounded = ((bytes + 63) & ~(size_t)63) + 64;
    *out = aligned_alloc(64, rounded);
    return *out ? TG_OK : TG_ERR_OOM;
}

// ---- per-thread scratch (tg__cpu_scratch) ----

typedef struct {
    void *p;
    size_t bytes;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_ok;

static void scratch_free(void *s) {
    free(((scratch *)s)->p);
    free(s);
}

static bool scratch_fail, scratch_fail_others;   // the test hook below
static pthread_t scratch_first;

// Test hook, not API: TG_CPU_SCRATCH_FAIL=1 (read once) refuses every scratch request, as
// when memory has run out: the fused attention and direct convolution kernels then fail
// with TG_ERR_OOM, the gemm reads a transposed B in place (tests/meson.build runs the op
// tests so). TG_CPU_SCRATCH_FAIL=others refuses it only to threads other than the first to
// ask (a kernel's helper threads, not the thread that called it).
static void scratch_init(void) {
    const char *f = getenv("TG_CPU_SCRATCH_FAIL");
    scratch_fail_others = f && strcmp(f, "others") == 0;
    scratch_fail = f && *f && f[0] != '0' && !scratch_fail_others;
    scratch_first = pthread_self();
    scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

void *tg__cpu_scratch(size_t bytes) {
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_ok || scratch_fail) return NULL;
    if (scratch_fail_others && !pthread_equal(pthread_self(), scratch_first)) return NULL;
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return NULL;
        if (pthread_setspecific(scratch_key, s)) {
            free(s);
            return NULL;
        }
    }
    if (s->bytes < bytes) {
        size_t want = ((bytes + 63) & ~(size_t)63) + 64;   // the same slack as cpu_alloc
        void *p = aligned_alloc(64, want);
        if (!p) return NULL;
        free(s->p);
        s->p = p;
        s->bytes = want - 64;
    }
    return s->p;
}

static void cpu_free(void *ctx, void *ptr) {
    (void)ctx;
    free(ptr);
}

static int cpu_copy(void *ctx, void *dst, const void *src, size_t bytes) {
    (void)ctx;
    if (bytes) memmove(dst, src, bytes);
    return TG_OK;
}

// zero_grad's memset of every weight's gradient: split across the threads when large
// (one thread alone does not saturate the memory bus here).
static int cpu_memset0(void *ctx, void *dst, size_t bytes) {
    int nt = ((tg_cpu_ctx *)ctx)->n_threads;
#ifdef _OPENMP
    if (nt > 1 && bytes >= ((size_t)1 << 20)) {
#pragma omp parallel num_threads(nt)
        {
            size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
            size_t lo = bytes * t / n, hi = bytes * (t + 1) / n;
            memset((char *)dst + lo, 0, hi - lo);
        }
        return TG_OK;
    }
#else
    (void)nt;
#endif
    if (bytes) memset(dst, 0, bytes);
    return TG_OK;
}

// The kernel variant cpu_select.c chose (cpuid, TG_CPU_ISA), among those built.
static const struct tg_backend_ops *pick_kernels(void) {
    switch (tg__cpu_choice()->isa) {
#ifdef TG_CPU_HAVE_AVX512
    case TG_ISA_AVX512: return tg_cpu_kernels_avx512;
#endif
#ifdef TG_CPU_HAVE_AVX2
    case TG_ISA_AVX2: return tg_cpu_kernels_avx2;
#endif
    default: return tg_cpu_kernels_base;
    }
}

static struct tg_backend_ops cpu_ops;

// Called once, under the registry's pthread_once.
const struct tg_backend_ops *tg__cpu_backend_ops(void) {
    cpu_ops = *pick_kernels();
    cpu_ops.abi_version = TG_BACKEND_ABI_VERSION;
    cpu_ops.struct_size = sizeof(struct tg_backend_ops);
    cpu_ops.name = "cpu";
    cpu_ops.init = cpu_init;
    cpu_ops.shutdown = cpu_shutdown;
    cpu_ops.synchronize = cpu_synchronize;
    cpu_ops.set_threads = cpu_set_threads;
    cpu_ops.alloc = cpu_alloc;
    cpu_ops.free = cpu_free;
    cpu_ops.upload = cpu_copy;
    cpu_ops.download = cpu_copy;
    cpu_ops.copy = cpu_copy;
    cpu_ops.memset0 = cpu_memset0;
    return &cpu_ops;
}

int tg_cpu_describe(char *buf, size_t size) { return tg__cpu_describe(buf, size); }

// Free BLIS's memory pools when the library unloads, so leak checkers (valgrind) see a clean
// exit: Debian's OpenMP BLIS otherwise keeps its pool blocks until exit.
__attribute__((destructor)) static void blis_release(void) { bli_finalize(); }

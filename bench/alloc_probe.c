// Process-wide malloc statistics for tg-bench: the executable defines the malloc family
// itself (symbol interposition: it wins over libc for every library in the process,
// tapegrad, BLIS and the OpenMP runtime included), counts calls and requested bytes, and
// forwards to the next definition (libc's, found with dlsym(RTLD_NEXT), so valgrind's
// redirection of libc's malloc still applies). A static buffer serves the few requests
// made while dlsym itself runs. Compiled out under sanitizers, which interpose malloc
// themselves; bench_malloc_read() then says the probe is unavailable.
#define _GNU_SOURCE   // RTLD_NEXT; this file only
#include <dlfcn.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "bench.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__GLIBC__)
#define PROBE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define PROBE 0
#endif
#endif
#ifndef PROBE
#define PROBE 1
#endif

#if PROBE
static atomic_uint_fast64_t n_calls, n_bytes;

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_posix_memalign)(void **, size_t, size_t);

// Bootstrap memory for calls made while dlsym resolves the real functions (never freed).
static alignas(64) unsigned char boot[8192];
static size_t boot_used;
static int resolving;

static void *boot_alloc(size_t size) {
    size_t at = (boot_used + 63) & ~(size_t)63;
    if (at + size > sizeof boot) return NULL;
    boot_used = at + size;
    return boot + at;
}

static bool in_boot(const void *p) {
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

// Resolves the next definitions; first called at start-up, before any thread exists.
static bool resolve(void) {
    if (next_malloc) return true;
    if (resolving) return false;
    resolving = 1;
    // dlsym returns void *; converting it to a function pointer is POSIX, not ISO C.
    *(void **)&next_malloc = dlsym(RTLD_NEXT, "malloc");
    *(void **)&next_calloc = dlsym(RTLD_NEXT, "calloc");
    *(void **)&next_realloc = dlsym(RTLD_NEXT, "realloc");
    *(void **)&next_free = dlsym(RTLD_NEXT, "free");
    *(void **)&next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    resolving = 0;
    return next_malloc != NULL;
}

// memalign and aligned_alloc go through posix_memalign: valgrind's aligned_alloc refuses
// sizes that are not a multiple of the alignment (C11's rule), which glibc and libgomp allow.
static void *aligned(size_t align, size_t size) {
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    return next_posix_memalign(&p, align, size) ? NULL : p;
}

static inline void count(size_t bytes) {
    atomic_fetch_add_explicit(&n_calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_bytes, bytes, memory_order_relaxed);
}

void *malloc(size_t size) {
    if (!resolve()) return boot_alloc(size);
    count(size);
    return next_malloc(size);
}

void *calloc(size_t n, size_t size) {
    if (!resolve()) {
        if (size && n > (size_t)-1 / size) return NULL;
        return boot_alloc(n * size);   // static memory is zero already
    }
    count(n * size);
    return next_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    if (in_boot(p) || !resolve()) {   // move out of the bootstrap buffer
        void *q = malloc(size);
        if (q && p) memcpy(q, p, size < sizeof boot ? size : sizeof boot);
        return q;
    }
    count(size);
    return next_realloc(p, size);
}

void free(void *p) {
    if (!p || in_boot(p)) return;
    if (resolve()) next_free(p);
}

void *memalign(size_t align, size_t size) {
    if (!resolve()) return boot_alloc(size);
    count(size);
    return aligned(align, size);
}

void *aligned_alloc(size_t align, size_t size) {
    if (!resolve()) return boot_alloc(size);
    count(size);
    return aligned(align, size);
}

int posix_memalign(void **out, size_t align, size_t size) {
    if (!resolve()) {
        void *p = boot_alloc(size);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    count(size);
    return next_posix_memalign(out, align, size);
}

bench_malloc_stats bench_malloc_read(void) {
    bench_malloc_stats s = {atomic_load(&n_calls), atomic_load(&n_bytes), true};
    return s;
}
#else
bench_malloc_stats bench_malloc_read(void) {
    bench_malloc_stats s = {0, 0, false};
    return s;
}
#endif

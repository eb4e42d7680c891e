// Counted heap allocation and the per-backend caching allocator. Every library
// allocation goes through here, so tg_alloc_count() proves a steady-state step allocates
// nothing. Cache: free blocks by size class (8 classes per power of two, <= 12.5% waste).
#include <stdatomic.h>
#include <stdlib.h>

#include "core/internal.h"

// Process-wide statistic (documented: a counter, not behaviour-changing state).
static atomic_uint_fast64_t n_allocs;

uint64_t tg_alloc_count(void) { return (uint64_t)atomic_load(&n_allocs); }
void tg__count_alloc(void) { atomic_fetch_add(&n_allocs, 1); }

void *tg__malloc(size_t bytes) {
    tg__count_alloc();
    return malloc(bytes ? bytes : 1);
}

void *tg__calloc(size_t n, size_t size) {
    tg__count_alloc();
    return calloc(n ? n : 1, size ? size : 1);
}

void *tg__realloc(void *p, size_t bytes) {
    tg__count_alloc();
    return realloc(p, bytes ? bytes : 1);
}

void tg__free(void *p) { free(p); }

// Size class of a request and the rounded size it gets.
static int size_class(size_t bytes, size_t *rounded) {
    if (bytes <= 64) {
        *rounded = 64;
        return 0;
    }
    // 2^lg < bytes <= 2^(lg+1), lg >= 6; round up to a multiple of 2^(lg-3): 8 classes
    int lg = 63 - __builtin_clzll((unsigned long long)(bytes - 1));
    size_t step = (size_t)1 << (lg - 3);
    size_t r = (bytes + step - 1) / step * step;
    *rounded = r;
    int sub = (int)(r / step) - 9;                                      // 0..7
    int cls = 1 + (lg - 6) * 8 + sub;
    return cls < TG_CACHE_CLASSES ? cls : -1;
}

void *tg__buf_alloc(tg_backend *be, size_t bytes, const char *where) {
    size_t rounded;
    int cls = size_class(bytes, &rounded);
    if (cls >= 0 && be->free_blocks[cls]) {
        struct tg_cache_entry *e = be->free_blocks[cls];
        be->free_blocks[cls] = e->next;
        void *p = e->ptr;
        be->cached_bytes -= e->bytes;
        e->next = be->spare;
        be->spare = e;
        return p;
    }
    void *p = NULL;
    tg__count_alloc();
    int st = be->ops->alloc(be->ctx, cls >= 0 ? rounded : bytes, &p);
    if (st != TG_OK || !p) {
        // Give the cache back to the device and try once more.
        tg__cache_trim(be);
        st = be->ops->alloc(be->ctx, cls >= 0 ? rounded : bytes, &p);
        if (st != TG_OK || !p) {
            tg__fail(TG_ERR_OOM, where, "out of memory allocating %zu bytes on %s", bytes,
                     be->ops->name);
            return NULL;
        }
    }
    return p;
}

void tg__buf_release(tg_backend *be, void *ptr, size_t bytes) {
    if (!ptr) return;
    size_t rounded;
    int cls = size_class(bytes, &rounded);
    struct tg_cache_entry *e = be->spare;
    if (cls < 0 || (!e && !(e = tg__malloc(sizeof *e)))) {
        be->ops->free(be->ctx, ptr);
        return;
    }
    if (e == be->spare) be->spare = e->next;
    e->ptr = ptr;
    e->bytes = rounded;
    e->next = be->free_blocks[cls];
    be->free_blocks[cls] = e;
    be->cached_bytes += rounded;
}

void tg__cache_trim(tg_backend *be) {
    for (int c = 0; c < TG_CACHE_CLASSES; c++) {
        while (be->free_blocks[c]) {
            struct tg_cache_entry *e = be->free_blocks[c];
            be->free_blocks[c] = e->next;
            be->ops->free(be->ctx, e->ptr);
            e->next = be->spare;
            be->spare = e;
        }
    }
    be->cached_bytes = 0;
}

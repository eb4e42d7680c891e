// Counted heap allocation and the caching allocator. Every library allocation goes through
// here, so tg_alloc_count() proves a steady-state step allocates nothing. Cache: free
// blocks by size class (8 classes per power of two, <= 12.5% waste), per thread.
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/internal.h"

// Process-wide statistic (documented: a counter, not behaviour-changing state).
static atomic_uint_fast64_t n_allocs;

uint64_t tg_alloc_count(void) { return (uint64_t)atomic_load(&n_allocs); }
void tg__count_alloc(void) { atomic_fetch_add(&n_allocs, 1); }

// ---- fault injection (a test hook, not API) ----
// TG_FAIL_ALLOC_AFTER=N, read once at the first counted allocation: the first N counted
// allocations of the process succeed and every later one fails, as when memory runs out
// for good; with TG_FAIL_ALLOC_ONCE=1 as well, only allocation N + 1 fails. Counted are
// tg__malloc/calloc/realloc, tg_mem_* (nn/, optim/) and the caching allocator's backend
// allocations. Unset: one relaxed load per allocation. tests/core/test_oom_hook.c drives it.
static atomic_int inject_state;   // 0: environment not read yet, 1: off, 2: on
static uint64_t inject_after;
static bool inject_once;
static pthread_once_t inject_read_once = PTHREAD_ONCE_INIT;

static void read_inject_env(void) {
    const char *e = getenv("TG_FAIL_ALLOC_AFTER"), *once = getenv("TG_FAIL_ALLOC_ONCE");
    char *end = NULL;
    unsigned long long n = e && *e ? strtoull(e, &end, 10) : 0;
    bool on = e && *e && end && *end == '\0';
    inject_after = (uint64_t)n;
    inject_once = once && *once && once[0] != '0';
    atomic_store(&inject_state, on ? 2 : 1);
}

bool tg__alloc_fails(void) {
    uint64_t nth = (uint64_t)atomic_fetch_add(&n_allocs, 1) + 1;
    int state = atomic_load_explicit(&inject_state, memory_order_acquire);
    if (state == 0) {
        pthread_once(&inject_read_once, read_inject_env);
        state = atomic_load(&inject_state);
    }
    if (state != 2 || nth <= inject_after) return false;
    return !inject_once || nth == inject_after + 1;
}

void *tg__malloc(size_t bytes) { return tg__alloc_fails() ? NULL : malloc(bytes ? bytes : 1); }

void *tg__calloc(size_t n, size_t size) {
    return tg__alloc_fails() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *tg__realloc(void *p, size_t bytes) {
    return tg__alloc_fails() ? NULL : realloc(p, bytes ? bytes : 1);
}

void tg__free(void *p) { free(p); }

// The public doors to the same counted heap (nn/, optim/, user layers).
void *tg_mem_alloc(size_t bytes) { return tg__malloc(bytes); }
void *tg_mem_calloc(size_t n, size_t size) { return tg__calloc(n, size); }
void *tg_mem_realloc(void *p, size_t bytes) { return tg__realloc(p, bytes); }
void tg_mem_free(void *p) { tg__free(p); }

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

// ---- the caching allocator ----
// Free blocks by size class, one cache per (thread, backend): a thread's step tensors come
// from and go back to its own lists, with no lock on that path. The list of every
// thread's caches (under a mutex, touched only when a thread first uses a backend and when
// it exits) keeps them reachable; a thread's caches are emptied at its exit. A block
// allocated in one thread and released in another (a tape reset elsewhere) simply joins
// the releasing thread's cache.

typedef struct tg_thread_cache {
    tg_backend *be;
    struct tg_cache_entry *free_blocks[TG_CACHE_CLASSES];
    struct tg_cache_entry *spare;         // entries recycled for the next release
    struct tg_thread_cache *next_mine;    // this thread's caches of other backends
    struct tg_thread_cache *prev, *next;  // every live thread's caches (under caches_lock)
} tg_thread_cache;

static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static tg_thread_cache *all_caches;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static bool exit_key_ok;
// initial-exec: one load from the thread pointer on the allocation path (the library is
// linked, not dlopen'ed, and this is 8 bytes of static TLS)
static _Thread_local tg_thread_cache *my_caches __attribute__((tls_model("initial-exec")));

// Frees every cached block of c (and keeps the entries as spares).
static void trim(tg_thread_cache *c) {
    for (int k = 0; k < TG_CACHE_CLASSES; k++) {
        while (c->free_blocks[k]) {
            struct tg_cache_entry *e = c->free_blocks[k];
            c->free_blocks[k] = e->next;
            tg__be_free(c->be, e->ptr);
            e->next = c->spare;
            c->spare = e;
        }
    }
}

// pthread key destructor: the exiting thread's caches go back to their backends.
static void release_thread_caches(void *head) {
    for (tg_thread_cache *c = head, *next; c; c = next) {
        next = c->next_mine;
        trim(c);
        pthread_mutex_lock(&caches_lock);
        if (c->prev) c->prev->next = c->next;
        else all_caches = c->next;
        if (c->next) c->next->prev = c->prev;
        pthread_mutex_unlock(&caches_lock);
        while (c->spare) {
            struct tg_cache_entry *e = c->spare;
            c->spare = e->next;
            tg__free(e);
        }
        tg__free(c);
    }
    my_caches = NULL;
}

static void make_exit_key(void) {
    exit_key_ok = pthread_key_create(&exit_key, release_thread_caches) == 0;
}

// This thread's cache of `be`, made on first use; NULL when that fails (no caching then).
static tg_thread_cache *my_cache(tg_backend *be) {
    for (tg_thread_cache *c = my_caches; c; c = c->next_mine)
        if (c->be == be) return c;
    pthread_once(&exit_key_once, make_exit_key);
    if (!exit_key_ok) return NULL;
    tg_thread_cache *c = tg__calloc(1, sizeof *c);
    if (!c) return NULL;
    c->be = be;
    c->next_mine = my_caches;
    if (pthread_setspecific(exit_key, c)) {
        tg__free(c);
        return NULL;
    }
    my_caches = c;
    pthread_mutex_lock(&caches_lock);
    c->next = all_caches;
    if (all_caches) all_caches->prev = c;
    all_caches = c;
    pthread_mutex_unlock(&caches_lock);
    return c;
}

void *tg__buf_alloc(tg_backend *be, size_t bytes, const char *where) {
    size_t rounded;
    int cls = size_class(bytes, &rounded);
    tg_thread_cache *c = cls >= 0 ? my_cache(be) : NULL;
    if (c && c->free_blocks[cls]) {
        struct tg_cache_entry *e = c->free_blocks[cls];
        c->free_blocks[cls] = e->next;
        e->next = c->spare;
        c->spare = e;
        return e->ptr;
    }
    void *p = NULL;
    size_t want = cls >= 0 ? rounded : bytes;
    int st = tg__alloc_fails() ? TG_ERR_OOM : tg__be_alloc(be, want, &p);
    if (st != TG_OK || !p) {   // give this thread's cache back and try once more
        tg_thread_cache *t = c ? c : my_cache(be);
        if (t) {
            trim(t);
            st = tg__alloc_fails() ? TG_ERR_OOM : tg__be_alloc(be, want, &p);
        }
    }
    if (st != TG_OK || !p) {
        tg__fail(TG_ERR_OOM, where, "out of memory allocating %zu bytes on %s", bytes,
                 be->ops->name);
        return NULL;
    }
    return p;
}

void tg__buf_release(tg_backend *be, void *ptr, size_t bytes) {
    if (!ptr) return;
    size_t rounded;
    int cls = size_class(bytes, &rounded);
    tg_thread_cache *c = cls >= 0 ? my_cache(be) : NULL;
    struct tg_cache_entry *e = c ? c->spare : NULL;
    if (!c || (!e && !(e = tg__malloc(sizeof *e)))) {
        tg__be_free(be, ptr);
        return;
    }
    if (e == c->spare) c->spare = e->next;
    e->ptr = ptr;
    e->bytes = rounded;
    e->next = c->free_blocks[cls];
    c->free_blocks[cls] = e;
}

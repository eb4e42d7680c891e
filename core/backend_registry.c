// The backend registry: the one sanctioned process-global (write-once under pthread_once
// for cpu, under a mutex for lazily loaded modules). "cpu" is built in; other backends
// are shared modules found via $TG_BACKEND_PATH, the directory holding libtapegrad, or
// TG_MODULE_DIR, loaded with dlopen(RTLD_NOW | RTLD_LOCAL) and never unloaded.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"

#ifndef TG_MODULE_DIR
#define TG_MODULE_DIR "/usr/local/lib/tapegrad"
#endif

static tg_backend cpu_backend;
static tg_backend cuda_backend;
static bool cuda_ready;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int cpu_status = TG_OK;

static void host_fail(int status, const char *where, const char *msg) {
    tg__fail(status, where, "%s", msg);
}
static void host_log(const char *msg) { (void)msg; }

static const struct tg_host_api host_api = {
    .abi_version = TG_BACKEND_ABI_VERSION,
    .fail = host_fail,
    .log = host_log,
};

static void cpu_init(void) {
    cpu_backend.ops = tg__cpu_backend_ops();
    cpu_status = tg__be_init(cpu_backend.ops, &cpu_backend.ctx);
}

typedef const struct tg_backend_ops *(*entry_fn)(uint32_t, const struct tg_host_api *);

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

// dlopen one candidate; on failure keeps dlerror's text in `why`.
static void *try_open(const char *path, char *why, size_t why_size) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) snprintf(why, why_size, "%s", dlerror());
    return h;
}

static void *open_module(const char *file, char *why, size_t why_size) {
    char path[4096];
    const char *env = getenv("TG_BACKEND_PATH");
    snprintf(why, why_size, "%s not found", file);
    if (env && *env) {
        if (is_dir(env)) snprintf(path, sizeof path, "%s/%s", env, file);
        else snprintf(path, sizeof path, "%s", env);
        return try_open(path, why, why_size);   // an explicit path is the only candidate
    }
    Dl_info info;
    if (dladdr(&cpu_backend, &info) && info.dli_fname) {
        snprintf(path, sizeof path, "%s", info.dli_fname);
        char *slash = strrchr(path, '/');
        if (slash) {
            snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s", file);
            void *h = try_open(path, why, why_size);
            if (h) return h;
            // installed: <libdir>/tapegrad/ beside the library, wherever the tree was moved
            // (a DESTDIR, a relocated prefix); build trees: backends/cuda/ beside it
            const char *rel[2] = {"tapegrad/%s", "backends/cuda/%s"};
            for (int k = 0; k < 2 && !h; k++) {
                snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), rel[k], file);
                h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            }
            if (h) return h;
        }
    }
    snprintf(path, sizeof path, "%s/%s", TG_MODULE_DIR, file);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h && strstr(why, "not found")) snprintf(why, why_size, "%s", dlerror());
    return h;
}

static tg_backend *load_cuda(void) {
    pthread_mutex_lock(&load_lock);
    if (cuda_ready) {
        pthread_mutex_unlock(&load_lock);
        return &cuda_backend;
    }
    char why[1024];
    tg_backend *res = NULL;
    void *h = open_module("libtapegrad-cuda.so", why, sizeof why);
    if (!h) {
        tg__fail(TG_ERR_BACKEND, "tg_backend_get", "cuda backend not available: %s", why);
        goto out;
    }
    void *sym = dlsym(h, "tg_backend_module_entry");
    entry_fn entry = NULL;
    if (sym) memcpy(&entry, &sym, sizeof entry);   // POSIX: object -> function pointer
    if (!entry) {
        tg__fail(TG_ERR_BACKEND, "tg_backend_get",
                 "cuda backend not available: module has no tg_backend_module_entry");
        goto out;
    }
    const struct tg_backend_ops *ops = entry(TG_BACKEND_ABI_VERSION, &host_api);
    if (!ops || ops->abi_version != TG_BACKEND_ABI_VERSION) {
        tg__fail(TG_ERR_BACKEND, "tg_backend_get",
                 "cuda backend not available: module ABI %u, core ABI %u",
                 ops ? ops->abi_version : 0u, TG_BACKEND_ABI_VERSION);
        goto out;
    }
    if (!tg__backend_complete(ops)) {
        tg__fail(TG_ERR_BACKEND, "tg_backend_get",
                 "cuda backend not available: the module lacks a required memory slot");
        goto out;
    }
    void *ctx = NULL;
    if (tg__be_init(ops, &ctx) != TG_OK) {
        tg__fail(TG_ERR_BACKEND, "tg_backend_get", "cuda backend not available");
        goto out;
    }
    cuda_backend.ops = ops;
    cuda_backend.ctx = ctx;
    cuda_ready = true;
    res = &cuda_backend;
out:
    pthread_mutex_unlock(&load_lock);
    return res;   // a module that failed stays loaded: never dlclose (see header)
}

tg_backend *tg_backend_get(const char *name) {
    if (!name) {
        name = getenv("TG_BACKEND");
        if (!name || !*name) name = "cpu";
    }
    if (strcmp(name, "cpu") == 0) {
        pthread_once(&cpu_once, cpu_init);
        if (cpu_status != TG_OK) {
            tg__fail(cpu_status, "tg_backend_get", "cpu backend failed to initialise");
            return NULL;
        }
        return &cpu_backend;
    }
    if (strcmp(name, "cuda") == 0) return load_cuda();
    tg__fail(TG_ERR_BACKEND, "tg_backend_get", "unknown backend '%s' (known: cpu, cuda)", name);
    return NULL;
}

const char *tg_backend_name(const tg_backend *backend) {
    if (!backend) tg__fail(TG_ERR_INVALID_ARG, "tg_backend_name", "backend is NULL");
    return backend ? backend->ops->name : "(null)";
}

int tg_backend_set_threads(tg_backend *backend, int n_threads) {
    if (!backend || n_threads < 0 || n_threads > TG_MAX_THREADS) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_backend_set_threads",
                 "need a backend and 0 <= n <= %d (0: the default), got %d", TG_MAX_THREADS,
                 n_threads);
        return TG_ERR_INVALID_ARG;
    }
    backend->n_threads = n_threads;
    return tg__be_set_threads(backend, n_threads);
}

int tg_backend_synchronize(tg_backend *backend) {
    if (!backend) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_backend_synchronize", "backend is NULL");
        return TG_ERR_INVALID_ARG;
    }
    return tg__be_synchronize(backend);
}

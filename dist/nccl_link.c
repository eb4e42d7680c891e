// Finding and starting the NCCL transport: the tapegrad-dist-nccl module is loaded with
// dlopen ($TG_DIST_NCCL_PATH, beside libtapegrad-dist, then TG_DIST_MODULE_DIR), rank 0's
// unique id travels over MPI (as llm.c does), and every rank joins the communicator.
// Whether NCCL is used is agreed by all ranks, so none waits on a transport another lacks.
#define _GNU_SOURCE  // dladdr
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/ddp_impl.h"
#include "dist/nccl_impl.h"

#define MODULE_FILE "libtapegrad-dist-nccl.so"

static const char anchor = 0;  // an address inside libtapegrad-dist, for dladdr

struct tg__dist_nccl {
    const tg_dist_nccl_api *api;
    void *comm;
};

static void *open_module(char *why, size_t cap) {
    const char *env = getenv("TG_DIST_NCCL_PATH");
    char path[4096];
    if (env && *env) {
        void *h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
        if (!h) snprintf(why, cap, "%s", dlerror());
        return h;  // an explicit path is the only candidate
    }
    Dl_info info;
    if (dladdr(&anchor, &info) && info.dli_fname) {
        snprintf(path, sizeof path, "%s", info.dli_fname);
        char *slash = strrchr(path, '/');
        if (slash) {
            snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s", MODULE_FILE);
            void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            if (h) return h;
        }
    }
    snprintf(path, sizeof path, "%s/%s", TG_DIST_MODULE_DIR, MODULE_FILE);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) snprintf(why, cap, "%s", dlerror());
    return h;
}

// The module's interface, or NULL with the reason in why (the handle is never closed:
// NCCL and CUDA keep threads and state for the life of the process).
static const tg_dist_nccl_api *load(char *why, size_t cap) {
    void *h = open_module(why, cap);
    if (!h) return NULL;
    tg_dist_nccl_entry_fn entry = NULL;
    *(void **)&entry = dlsym(h, "tg_dist_nccl_entry");
    const tg_dist_nccl_api *api = entry ? entry(TG_DIST_NCCL_ABI) : NULL;
    if (!api)
        snprintf(why, cap, "%s: no tg_dist_nccl_entry for ABI %u", MODULE_FILE, TG_DIST_NCCL_ABI);
    return api;
}

bool tg__dist_nccl_loadable(char *why, size_t cap) { return load(why, cap) != NULL; }

tg__dist_nccl *tg__dist_nccl_new(tg_dist *d, const char *where) {
    char why[1024] = "";
    tg__dist_nccl *c = calloc(1, sizeof *c);
    int st = c ? TG_OK : tg_set_error(TG_ERR_OOM, where, "out of memory");
    if (!st && !(c->api = load(why, sizeof why)))
        st = tg_set_error(TG_ERR_UNSUPPORTED, where, "NCCL transport not available: %s", why);
    unsigned char id[TG_DIST_NCCL_ID_BYTES] = {0};
    if (!st && d->rank == 0 && (st = c->api->unique_id(id, why, sizeof why)))
        tg_set_error(st, where, "%s", why);
    st = tg__dist_agree(d, st, where);
    if (!st) st = tg__dist_bcast(d, id, sizeof id, MPI_BYTE, 0, where);
    if (!st && (st = c->api->comm_new(&c->comm, id, d->size, d->rank, why, sizeof why)))
        tg_set_error(st, where, "%s", why);
    st = tg__dist_agree(d, st, where);
    if (st) {
        tg__dist_nccl_free(c);
        return NULL;
    }
    return c;
}

int tg__dist_nccl_allreduce(tg__dist_nccl *c, int n, void *const *ptrs, const int64_t *counts,
                            tg_dtype dt, const char *where) {
    char why[1024];
    int st = c->api->allreduce_avg(c->comm, n, ptrs, counts, dt == TG_F32 ? 0 : 1, why, sizeof why);
    return st ? tg_set_error(st, where, "%s", why) : TG_OK;
}

int tg__dist_nccl_wait(tg__dist_nccl *c, const char *where) {
    char why[1024];
    int st = c->api->wait(c->comm, why, sizeof why);
    return st ? tg_set_error(st, where, "%s", why) : TG_OK;
}

void tg__dist_nccl_free(tg__dist_nccl *c) {
    if (!c) return;
    if (c->api && c->comm) c->api->comm_free(c->comm);
    free(c);
}

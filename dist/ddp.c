// The data-parallel model: PyTorch DDP's reducer over MPI (or NCCL). The parameters' grads
// are grouped into buckets in reverse parameter order, the order in which backward
// finishes them. Each parameter's grad hook (tg_set_grad_hook) marks it ready and stages
// its gradient; a bucket whose gradients are all final starts its non-blocking all-reduce
// at once, while the pass goes on, but always in bucket order, so every rank issues the
// same collectives in the same order whatever order its hooks fire in. tg_ddp_finish
// starts what is left, waits, agrees on success with every rank, and writes the means.
//
// A round is the work between two finishes; nothing here allocates during one.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/ddp_impl.h"

#define CHUNK                ((int64_t)INT_MAX)  // elements per MPI call (int counts)
#define DEFAULT_BUCKET_BYTES ((size_t)4 << 20)

typedef struct slot {
    tg_ddp *ddp;
    tg_tensor *p;
    tg_tensor *zeros;  // NCCL: device zeros for a parameter without .grad (made lazily)
    int bucket;
    int64_t offset;  // elements into its bucket
    bool ready;      // its gradient is staged for this round
} slot;

typedef struct bucket {
    int first, count;  // slots [first, first + count)
    bool alone;        // one gradient of at least half the cap (reduced where it lies)
    tg_dtype dtype;
    int64_t numel;
    void *buf;        // MPI: host copy [numel]
    void *data;       // MPI: what this round reduces (buf, or a lone cpu gradient)
    void **ptrs;      // NCCL: device address per slot
    int64_t *counts;  // NCCL: elements per slot
    int pending;      // slots not ready this round
    int n_reqs;
    MPI_Request *reqs;  // MPI: one per chunk of CHUNK elements
} bucket;

struct tg_ddp {
    tg_dist *d;
    tg_ddp_transport transport;  // resolved: MPI, MPI_STAGED or NCCL
    bool sync;
    int n_slots, n_buckets;
    int next;          // buckets [0, next) were started this round
    int oldest;        // first started bucket not yet seen complete
    int staged;        // slots staged this round
    int round_status;  // first local failure of this round (hooks, pokes)
    int last_overlap;  // buckets the previous round started from hooks
    slot *slots;       // reverse parameter order
    bucket *buckets;
    tg__dist_nccl *nccl;
    tg__dist_tuning *tuning;  // MPI: the bucket all-reduces' algorithm (d's; mpi_tuning.c)
};

tg_ddp_opts tg_ddp_opts_default(void) {
    return (tg_ddp_opts){
        .bucket_bytes = DEFAULT_BUCKET_BYTES, .broadcast_buffers = true, .transport = TG_DDP_AUTO};
}

const char *tg_ddp_transport_name(tg_ddp_transport t) {
    static const char *const names[TG_DDP_TRANSPORT_COUNT] = {"auto", "mpi", "mpi-staged", "nccl"};
    return (unsigned)t < TG_DDP_TRANSPORT_COUNT ? names[t] : "?";
}

int tg_ddp_n_buckets(const tg_ddp *ddp) { return ddp ? ddp->n_buckets : 0; }
int tg_ddp_overlapped(const tg_ddp *ddp) { return ddp ? ddp->last_overlap : 0; }
tg_ddp_transport tg_ddp_transport_of(const tg_ddp *ddp) {
    return ddp ? ddp->transport : TG_DDP_TRANSPORT_COUNT;
}

static bool on_cpu(tg_tensor *t) { return strcmp(tg_backend_name(tg_backend_of(t)), "cpu") == 0; }

// ---- one round: staging, starting, waiting, writing back ----

// Stages slot s's gradient for this round: its device address (NCCL), its memory itself
// (MPI, a bucket of one cpu gradient), or a copy into the bucket's host buffer. A
// parameter without .grad contributes zeros.
static int stage(tg_ddp *ddp, bucket *b, slot *s) {
    tg_tensor *g = tg_grad_of(s->p);  // (applies a pending lazy tg_zero_grad)
    int64_t n = tg_numel(s->p);
    size_t bytes = (size_t)n * tg_dtype_size(b->dtype);
    s->ready = true;
    b->pending--;
    ddp->staged++;
    if (ddp->transport == TG_DDP_NCCL) {
        if (!g && !s->zeros) {
            s->zeros = tg_tensor_new(tg_backend_of(s->p), b->dtype, tg_ndim(s->p), tg_shape(s->p));
            if (!s->zeros) return tg_last_status();
        }
        if (!g && tg_fill_(s->zeros, 0.0)) return tg_last_status();
        void *ptr = tg_data_ptr(g ? g : s->zeros);
        b->ptrs[s - ddp->slots - b->first] = ptr;
        return ptr ? TG_OK : tg_last_status();
    }
    void *dst = (char *)b->buf + (size_t)s->offset * tg_dtype_size(b->dtype);
    if (!g) {
        memset(dst, 0, bytes);
        return TG_OK;
    }
    if (ddp->transport == TG_DDP_MPI_STAGED) return tg_copy_to_host(g, dst, bytes);
    void *src = tg__dist_cpu_data(g);
    if (!src) return tg_last_status();
    if (b->count == 1)
        b->data = src;  // reduced in place: no copy at all
    else
        memcpy(dst, src, bytes);
    return TG_OK;
}

static int start(tg_ddp *ddp, bucket *b, const char *where) {
    if (ddp->transport == TG_DDP_NCCL) {
        // The gradients come from the backend's stream; NCCL runs on a stream of its own.
        int st = tg_backend_synchronize(tg_backend_of(ddp->slots[b->first].p));
        return st ? st
                  : tg__dist_nccl_allreduce(ddp->nccl, b->count, b->ptrs, b->counts, b->dtype,
                                            where);
    }
    size_t es = tg_dtype_size(b->dtype);
    for (int c = 0; c < b->n_reqs; c++) {
        int64_t off = (int64_t)c * CHUNK, cnt = b->numel - off < CHUNK ? b->numel - off : CHUNK;
        int rc = tg__dist_iallreduce(ddp->tuning, (char *)b->data + (size_t)off * es, (int)cnt,
                                     tg__dist_mpi_type(b->dtype), (size_t)b->numel * es,
                                     ddp->d->comm, &b->reqs[c]);
        if (rc != MPI_SUCCESS) return tg__dist_mpi_fail(rc, where, "MPI_Iallreduce");
    }
    return TG_OK;
}

// Starts the buckets whose gradients are all staged, in bucket order.
static int start_ready(tg_ddp *ddp, const char *where) {
    int st = TG_OK;
    while (!st && ddp->next < ddp->n_buckets && ddp->buckets[ddp->next].pending == 0)
        st = start(ddp, &ddp->buckets[ddp->next++], where);
    return st;
}

// MPI progresses non-blocking collectives only inside MPI calls: each hook tests the
// oldest unfinished bucket, so the reductions advance while backward computes.
static int poke(tg_ddp *ddp, const char *where) {
    while (ddp->transport != TG_DDP_NCCL && ddp->oldest < ddp->next) {
        bucket *b = &ddp->buckets[ddp->oldest];
        int done = 0;
        int rc = MPI_Testall(b->n_reqs, b->reqs, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return tg__dist_mpi_fail(rc, where, "MPI_Testall");
        if (!done) break;
        ddp->oldest++;
    }
    return TG_OK;
}

static int wait_all(tg_ddp *ddp, const char *where) {
    if (ddp->transport == TG_DDP_NCCL)
        return ddp->n_buckets ? tg__dist_nccl_wait(ddp->nccl, where) : 0;
    int st = TG_OK;
    for (; ddp->oldest < ddp->next; ddp->oldest++) {
        bucket *b = &ddp->buckets[ddp->oldest];
        int rc = MPI_Waitall(b->n_reqs, b->reqs, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS && !st) st = tg__dist_mpi_fail(rc, where, "MPI_Waitall");
    }
    return st;
}

// dst[i] = src[i] * (1 / size) (dst may be src). A multiply, not a division: this pass over
// every gradient is on the step's critical path, and a vector division took it from
// memory-bound to ~0.45 ms for mnist-mlp's 1.86 M gradients (Zen 5). Exact for a power-of-two
// world; otherwise within an ulp of the quotient.
static void mean_of_sum(void *dst, const void *src, int64_t n, tg_dtype dt, int size) {
    if (dt == TG_F32) {
        const float *s = src;
        float *d = dst, r = (float)(1.0 / size);
        for (int64_t i = 0; i < n; i++) d[i] = s[i] * r;
    } else {
        const double *s = src;
        double *d = dst, r = 1.0 / size;
        for (int64_t i = 0; i < n; i++) d[i] = s[i] * r;
    }
}

// Every .grad becomes the mean: from the reduced sums (MPI) or as NCCL left it.
static int write_back(tg_ddp *ddp) {
    int st = TG_OK;
    for (int i = 0; i < ddp->n_buckets && !st; i++) {
        bucket *b = &ddp->buckets[i];
        size_t es = tg_dtype_size(b->dtype);
        if (ddp->transport == TG_DDP_MPI_STAGED)
            mean_of_sum(b->buf, b->buf, b->numel, b->dtype, ddp->d->size);
        for (int k = 0; k < b->count && !st; k++) {
            slot *s = &ddp->slots[b->first + k];
            tg_tensor *g = tg_grad_of(s->p);
            if (!g) continue;  // the mean has nowhere to go (and no optimizer reads it)
            int64_t n = tg_numel(g);
            void *sum = (char *)b->data + (size_t)s->offset * es;
            if (ddp->transport == TG_DDP_NCCL)
                st = tg_mark_dirty(g);
            else if (ddp->transport == TG_DDP_MPI_STAGED)
                st = tg_copy_from_host(g, sum, (size_t)n * es);
            else {
                mean_of_sum(tg__dist_cpu_data(g), sum, n, b->dtype, ddp->d->size);
                st = tg_mark_dirty(g);
            }
        }
    }
    return st;
}

static void reset_round(tg_ddp *ddp) {
    for (int i = 0; i < ddp->n_slots; i++) ddp->slots[i].ready = false;
    for (int i = 0; i < ddp->n_buckets; i++) {
        ddp->buckets[i].pending = ddp->buckets[i].count;
        ddp->buckets[i].data = ddp->buckets[i].buf;
    }
    ddp->next = ddp->oldest = ddp->staged = 0;
    ddp->round_status = TG_OK;
}

static int on_grad_final(tg_tensor *p, void *user) {
    (void)p;
    slot *s = user;
    tg_ddp *ddp = s->ddp;
    if (!ddp->sync) return TG_OK;  // no_sync: the gradient stays in .grad, summed locally
    int st = TG_OK;
    if (s->ready)
        st = tg_set_error(TG_ERR_STATE, "tg_ddp (grad hook)",
                          "the gradient of parameter %d became final twice in one round: "
                          "call tg_ddp_finish after each backward pass, or accumulate with "
                          "tg_ddp_set_sync(ddp, false)",
                          (int)(ddp->n_slots - 1 - (s - ddp->slots)));
    bucket *b = &ddp->buckets[s->bucket];
    if (!st) st = stage(ddp, b, s);
    if (!st) st = start_ready(ddp, "tg_ddp");
    if (!st) st = poke(ddp, "tg_ddp");
    if (st && !ddp->round_status) ddp->round_status = st;
    return st;
}

// Ends the round on every rank alike: stages and starts what the pass did not, waits,
// agrees, and writes the means only when every rank succeeded.
static int complete(tg_ddp *ddp, int st, const char *where) {
    if (!st) st = ddp->round_status;
    ddp->last_overlap = ddp->next;
    for (; ddp->next < ddp->n_buckets; ddp->next++) {
        bucket *b = &ddp->buckets[ddp->next];
        for (int k = 0; k < b->count; k++) {
            slot *s = &ddp->slots[b->first + k];
            if (s->ready) continue;
            int e = stage(ddp, b, s);
            if (!st) st = e;
        }
        int e = start(ddp, b, where);
        if (e) {  // this rank cannot take part any more: its peers would wait forever
            reset_round(ddp);
            return e;
        }
    }
    // Whether any rank failed travels beside the gradients (no extra round trip); only then
    // do the ranks agree on who and why.
    int failed = st != TG_OK, e;
    MPI_Request flag = MPI_REQUEST_NULL;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, ddp->d->comm, &flag);
    e = wait_all(ddp, where);
    if (!st) st = e;
    if (rc == MPI_SUCCESS) rc = MPI_Wait(&flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        reset_round(ddp);
        return tg__dist_mpi_fail(rc, where, "MPI_Iallreduce");
    }
    if (failed) st = tg__dist_agree(ddp->d, st, where);
    if (!st) st = write_back(ddp);
    reset_round(ddp);
    return st;
}

int tg_ddp_finish(tg_ddp *ddp) {
    if (!ddp) return tg_set_error(TG_ERR_INVALID_ARG, "tg_ddp_finish", "ddp is NULL");
    if (!ddp->sync && ddp->staged == 0) return TG_OK;  // no_sync: nothing to reduce
    return complete(ddp, TG_OK, "tg_ddp_finish");
}

int tg_ddp_backward(tg_ddp *ddp, tg_tape *tape, tg_tensor *loss) {
    if (!ddp) return tg_set_error(TG_ERR_INVALID_ARG, "tg_ddp_backward", "ddp is NULL");
    int st = tg_backward(tape, loss);
    if (!ddp->sync && ddp->staged == 0) return st;
    return complete(ddp, st, "tg_ddp_backward");
}

bool tg_ddp_set_sync(tg_ddp *ddp, bool sync) {
    if (!ddp) return false;
    bool old = ddp->sync;
    ddp->sync = sync;
    return old;
}

// ---- creation ----

// Buckets over the slots (reverse parameter order): consecutive gradients of one dtype up
// to `cap` bytes; a gradient of at least half the cap alone. A bucket of one cpu gradient
// is reduced where the gradient lies, so the large ones are neither copied into a bucket
// nor back (mnist-mlp's first weight, 3.2 MB beside its bias: ~0.3 ms a step at the end of
// backward, where nothing hides it).
static int plan(tg_ddp *ddp, size_t cap, const char *where) {
    for (int i = 0; i < ddp->n_slots; i++) {
        slot *s = &ddp->slots[i];
        bucket *b = ddp->n_buckets ? &ddp->buckets[ddp->n_buckets - 1] : NULL;
        tg_dtype dt = tg_dtype_of(s->p);
        size_t bytes = (size_t)tg_numel(s->p) * tg_dtype_size(dt);
        size_t have = b ? (size_t)b->numel * tg_dtype_size(b->dtype) : 0;
        bool alone = bytes >= cap / 2;
        if (!b || b->dtype != dt || have + bytes > cap || alone || b->alone) {
            b = &ddp->buckets[ddp->n_buckets++];
            *b = (bucket){.first = i, .dtype = dt, .alone = alone};
        }
        s->bucket = (int)(b - ddp->buckets);
        s->offset = b->numel;
        b->count++;
        b->numel += tg_numel(s->p);
    }
    bool nccl = ddp->transport == TG_DDP_NCCL;
    for (int i = 0; i < ddp->n_buckets; i++) {
        bucket *b = &ddp->buckets[i];
        b->n_reqs = (int)((b->numel + CHUNK - 1) / CHUNK);
        b->buf = nccl ? NULL : malloc((size_t)b->numel * tg_dtype_size(b->dtype) + 1);
        b->reqs = nccl ? NULL : malloc((size_t)(b->n_reqs + 1) * sizeof *b->reqs);
        b->ptrs = nccl ? calloc((size_t)b->count, sizeof *b->ptrs) : NULL;
        b->counts = nccl ? calloc((size_t)b->count, sizeof *b->counts) : NULL;
        if (nccl ? !b->ptrs || !b->counts : !b->buf || !b->reqs)
            return tg_set_error(TG_ERR_OOM, where, "out of memory for bucket %d (%lld elements)", i,
                                (long long)b->numel);
        for (int r = 0; !nccl && r < b->n_reqs; r++) b->reqs[r] = MPI_REQUEST_NULL;
        for (int k = 0; nccl && k < b->count; k++)
            b->counts[k] = tg_numel(ddp->slots[b->first + k].p);
    }
    reset_round(ddp);
    return TG_OK;
}

// The transport every rank will use (the same everywhere: NCCL only if all ranks can).
static int resolve(tg_ddp *ddp, int n, tg_tensor *const *params, tg_ddp_transport want,
                   const char *where) {
    int n_cpu = 0;
    for (int i = 0; i < n; i++) n_cpu += on_cpu(params[i]);
    char why[1024] = "";
    int st = TG_OK;
    if (want == TG_DDP_MPI && n_cpu < n)
        st = tg_set_error(TG_ERR_BACKEND, where,
                          "the mpi transport reduces host memory, but %d "
                          "parameters are on another backend: use mpi-staged or nccl",
                          n - n_cpu);
    if (want == TG_DDP_NCCL && n_cpu > 0)
        st = tg_set_error(TG_ERR_BACKEND, where,
                          "the nccl transport reduces device memory, but "
                          "%d parameters are on the cpu",
                          n_cpu);
    bool nccl_ok = !st && (want == TG_DDP_NCCL || (want == TG_DDP_AUTO && n_cpu == 0 && n > 0)) &&
                   tg__dist_nccl_loadable(why, sizeof why);
    if (!st && want == TG_DDP_NCCL && !nccl_ok)
        st = tg_set_error(TG_ERR_UNSUPPORTED, where, "NCCL transport not available: %s", why);
    st = tg__dist_agree(ddp->d, st, where);
    if (st) return st;
    int all = nccl_ok, rc = MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, ddp->d->comm);
    if (rc != MPI_SUCCESS) return tg__dist_mpi_fail(rc, where, "MPI_Allreduce");
    if (want == TG_DDP_AUTO) want = all ? TG_DDP_NCCL : n_cpu == n ? TG_DDP_MPI : TG_DDP_MPI_STAGED;
    ddp->transport = want;
    return TG_OK;
}

static int check_local(int n, tg_tensor *const *params, const tg_ddp_opts *o, const char *where) {
    if (n < 0 || (n > 0 && !params))
        return tg_set_error(TG_ERR_INVALID_ARG, where, "need n >= 0 parameters (n = %d)", n);
    if (o->bucket_bytes == 0)
        return tg_set_error(TG_ERR_INVALID_ARG, where, "bucket_bytes must be at least 1");
    if ((unsigned)o->transport >= TG_DDP_TRANSPORT_COUNT)
        return tg_set_error(TG_ERR_INVALID_ARG, where, "unknown transport %d", (int)o->transport);
    for (int i = 0; i < n; i++) {
        if (!params[i]) return tg_set_error(TG_ERR_INVALID_ARG, where, "parameter %d is NULL", i);
        if (tg_is_step(params[i]) || !tg_requires_grad(params[i]))
            return tg_set_error(TG_ERR_INVALID_ARG, where, "parameter %d is %s", i,
                                tg_is_step(params[i]) ? "a step tensor (parameters are persistent)"
                                                      : "not requires_grad");
        for (int j = 0; j < i; j++)
            if (params[j] == params[i])
                return tg_set_error(TG_ERR_INVALID_ARG, where,
                                    "parameter %d is listed twice "
                                    "(also %d)",
                                    i, j);
    }
    return TG_OK;
}

static void ddp_release(tg_ddp *ddp) {
    for (int i = 0; i < ddp->n_slots; i++) {
        if (ddp->slots[i].p) tg_set_grad_hook(ddp->slots[i].p, NULL, NULL);
        tg_free(ddp->slots[i].zeros);
    }
    for (int i = 0; i < ddp->n_buckets; i++) {
        free(ddp->buckets[i].buf);
        free(ddp->buckets[i].reqs);
        free(ddp->buckets[i].ptrs);
        free(ddp->buckets[i].counts);
    }
    tg__dist_nccl_free(ddp->nccl);
    free(ddp->slots);
    free(ddp->buckets);
    free(ddp);
}

// Shared by both constructors: params [n] in forward order, then the module's buffers
// (checked, and broadcast when asked) with every tensor's name (may be NULL).
static tg_ddp *create(tg_dist *d, int n, tg_tensor *const *ts, int n_buffers,
                      const char *const *names, const tg_ddp_opts *opts, const char *where) {
    tg_ddp_opts o = opts ? *opts : tg_ddp_opts_default();
    int st = check_local(n, ts, &o, where);
    tg_ddp *ddp = st ? NULL : calloc(1, sizeof *ddp);
    if (!st && ddp) {
        ddp->d = d;
        ddp->sync = true;
        ddp->n_slots = n;
        ddp->slots = calloc((size_t)n + 1, sizeof *ddp->slots);
        ddp->buckets = calloc((size_t)n + 1, sizeof *ddp->buckets);
    }
    if (!st && (!ddp || !ddp->slots || !ddp->buckets))
        st = tg_set_error(TG_ERR_OOM, where, "out of memory");
    st = tg__dist_agree(d, st, where);
    const int64_t extra[4] = {n, (int64_t)o.bucket_bytes, o.transport, o.broadcast_buffers};
    const char *const extra_names[4] = {"the parameter count", "bucket_bytes", "transport",
                                        "broadcast_buffers"};
    if (!st)
        st = tg__dist_check_same(d, n + n_buffers, ts, names, 4, extra, extra_names, "models",
                                 where);
    if (!st) st = resolve(ddp, n, ts, o.transport, where);
    for (int i = 0; !st && i < n; i++) ddp->slots[i] = (slot){.ddp = ddp, .p = ts[n - 1 - i]};
    if (!st) st = tg__dist_agree(d, plan(ddp, o.bucket_bytes, where), where);
    if (!st)
        st = tg__dist_agree(
            d, tg__dist_bcast_tensors(d, o.broadcast_buffers ? n + n_buffers : n, ts, 0, where),
            where);
    if (!st && ddp->transport == TG_DDP_NCCL && !(ddp->nccl = tg__dist_nccl_new(d, where)))
        st = tg_last_status();
    bool big = false;   // the same on every rank: the plans agree
    for (int i = 0; i < (ddp ? ddp->n_buckets : 0); i++) {
        const bucket *b = &ddp->buckets[i];
        big |= tg__dist_tuning_wanted((size_t)b->numel * tg_dtype_size(b->dtype));
    }
    if (!st && ddp->transport != TG_DDP_NCCL && big) ddp->tuning = tg__dist_tuning_of(d);
    for (int i = 0; !st && i < n; i++)
        st = tg_set_grad_hook(ddp->slots[i].p, on_grad_final, &ddp->slots[i]);
    if (st && ddp) ddp_release(ddp);
    return st ? NULL : ddp;
}

tg_ddp *tg_ddp_new_params(tg_dist *d, int n, tg_tensor *const *params, const tg_ddp_opts *opts) {
    if (!d) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_ddp_new_params", "group is NULL");
        return NULL;
    }
    const char **names = n > 0 ? calloc((size_t)n, sizeof *names) : NULL;
    for (int i = 0; names && params && i < n; i++)
        names[i] = params[i] ? tg_tensor_name(params[i]) : NULL;
    tg_ddp *ddp = create(d, n, params, 0, names, opts, "tg_ddp_new_params");
    free(names);
    return ddp;
}

tg_ddp *tg_ddp_new(tg_dist *d, tg_module *m, const tg_ddp_opts *opts) {
    if (!d || !m) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_ddp_new", "%s is NULL", d ? "module" : "group");
        return NULL;
    }
    int np = tg_module_n_params(m), nb = tg_module_n_buffers(m);
    tg_tensor **ts = calloc((size_t)(np + nb) + 1, sizeof *ts);
    const char **names = calloc((size_t)(np + nb) + 1, sizeof *names);
    for (int i = 0; ts && names && i < np + nb; i++) {
        ts[i] = i < np ? tg_module_param(m, i) : tg_module_buffer(m, i - np);
        names[i] = i < np ? tg_module_param_name(m, i) : tg_module_buffer_name(m, i - np);
    }
    tg_ddp *ddp = NULL;
    if (ts && names)
        ddp = create(d, np, ts, nb, names, opts, "tg_ddp_new");
    else
        tg__dist_agree(d, tg_set_error(TG_ERR_OOM, "tg_ddp_new", "out of memory"), "tg_ddp_new");
    free(ts);
    free(names);
    return ddp;
}

int tg_ddp_free(tg_ddp *ddp) {
    if (!ddp) return TG_OK;
    if (ddp->next > 0)  // MPI or NCCL may still write into the buffers
        return tg_set_error(TG_ERR_STATE, "tg_ddp_free",
                            "a gradient reduction is in flight: call tg_ddp_finish first");
    ddp_release(ddp);
    return TG_OK;
}

// Tensor creation, lifetimes and accessors. Persistent tensors are heap objects the
// caller frees; step tensors live in their tape's arena and die at reset.
#include <math.h>
#include <string.h>

#include "core/internal.h"

int tg__check_shape(int ndim, const int64_t *shape, const char *where) {
    if (ndim < 0 || ndim > TG_MAX_DIMS) {
        tg__fail(TG_ERR_SHAPE, where, "ndim %d outside 0..%d", ndim, TG_MAX_DIMS);
        return TG_ERR_SHAPE;
    }
    if (ndim > 0 && !shape) {
        tg__fail(TG_ERR_INVALID_ARG, where, "shape is NULL for ndim %d", ndim);
        return TG_ERR_INVALID_ARG;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            char s[160];
            tg__fail(TG_ERR_SHAPE, where, "negative dimension in shape %s",
                     tg__shape_str(s, sizeof s, ndim, shape));
            return TG_ERR_SHAPE;
        }
    }
    if (tg__shape_numel(ndim, shape) < 0) {
        char s[160];
        tg__fail(TG_ERR_SHAPE, where, "shape %s has too many elements (the limit is 2^59 - 1)",
                 tg__shape_str(s, sizeof s, ndim, shape));
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

int64_t tg__shape_numel(int ndim, const int64_t *shape) {
    // The product of the non-zero dimensions must fit too (strides are computed from it),
    // even when a zero dimension makes the tensor empty. Branch-free: every step tensor
    // comes through here.
    if (ndim <= 2) {   // the usual case: two dimensions under 2^29 cannot reach the limit
        uint64_t d0 = ndim > 0 ? (uint64_t)shape[0] : 1, d1 = ndim > 1 ? (uint64_t)shape[1] : 1;
        if ((d0 | d1) < (UINT64_C(1) << 29)) return (int64_t)(d0 * d1);
    }
    uint64_t n = 1, nz = 1;
    bool bad = false;
    for (int i = 0; i < ndim; i++) {
        int64_t d = shape[i];
        bad |= d < 0;
        bad |= __builtin_mul_overflow(nz, (uint64_t)(d > 0 ? d : 1), &nz);
        n *= (uint64_t)d;   // exact whenever nz is
    }
    return bad || nz > (uint64_t)TG_MAX_NUMEL ? -1 : (int64_t)n;
}

// numel: tg__shape_numel(ndim, shape), already checked (>= 0).
static void set_shape(tg_tensor *t, tg_dtype dtype, int ndim, const int64_t *shape,
                      int64_t numel) {
    t->magic = TG_MAGIC_LIVE;
    t->guard = TG_MAGIC_STALE;
    t->dtype = dtype;
    t->ndim = ndim;
    // fixed length (no memset call for the unused tail)
    for (int i = 0; i < TG_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 0;
    t->numel = numel;
    t->nbytes = (size_t)t->numel * tg_dtype_size(dtype);
    t->node = -1;
}

bool tg__same_shape(const tg_tensor *a, const tg_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

tg_view tg__view_of(const tg_tensor *t) {
    tg_view v;
    v.data = t->data;
    v.dtype = (int)t->dtype;
    v.ndim = t->ndim;
    int64_t st = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        v.shape[i] = t->shape[i];
        v.stride[i] = st;
        st *= t->shape[i];
    }
    return v;
}

tg_view tg__view_flat(const tg_tensor *t) {
    tg_view v;
    v.data = t->data;
    v.dtype = (int)t->dtype;
    v.ndim = 1;
    v.shape[0] = t->numel;
    v.stride[0] = 1;
    return v;
}

tg_view tg__view_bcast(const tg_tensor *t, int ndim, const int64_t *shape) {
    tg_view src = tg__view_of(t);
    tg_view v;
    v.data = t->data;
    v.dtype = (int)t->dtype;
    v.ndim = ndim;
    int off = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        v.shape[i] = shape[i];
        int j = i - off;
        v.stride[i] = (j < 0 || t->shape[j] == 1) ? 0 : src.stride[j];
    }
    return v;
}

static tg_backend *default_backend(tg_backend *be) {
    return be ? be : tg_backend_get(NULL);
}

tg_tensor *tg__persistent_new(tg_backend *be, tg_dtype dtype, int ndim, const int64_t *shape,
                              const char *where) {
    if (tg__check_shape(ndim, shape, where)) return NULL;
    if (dtype != TG_F32 && dtype != TG_F64) {
        tg__fail(TG_ERR_DTYPE, where, "unknown dtype %d", (int)dtype);
        return NULL;
    }
    if (!(be = default_backend(be))) return NULL;
    tg_tensor *t = tg__calloc(1, sizeof *t);
    if (!t) {
        tg__fail(TG_ERR_OOM, where, "out of memory");
        return NULL;
    }
    set_shape(t, dtype, ndim, shape, tg__shape_numel(ndim, shape));
    t->be = be;
    t->owns_data = true;
    t->version = &t->ver;
    atomic_init(&t->pins, 0);
    atomic_init(&t->grad_lock, 0);
    atomic_init(&t->pin_key, 0);
    if (t->nbytes) {
        tg__count_alloc();
        int st = tg__be_alloc(be, t->nbytes, &t->data);
        if (st != TG_OK || !t->data) {
            char s[160];
            tg__fail(TG_ERR_OOM, where, "out of memory for %s %s on %s",
                     tg__shape_str(s, sizeof s, ndim, shape), tg_dtype_name(dtype),
                     be->ops->name);
            tg__free(t);
            return NULL;
        }
    }
    return t;
}

tg_tensor *tg_tensor_new(tg_backend *backend, tg_dtype dtype, int ndim, const int64_t *shape) {
    tg_tensor *t = tg__persistent_new(backend, dtype, ndim, shape, "tg_tensor_new");
    if (t && t->nbytes && tg__be_memset0(t->be, t->data, t->nbytes) != TG_OK) {
        tg_free(t);
        return NULL;
    }
    return t;
}

tg_tensor *tg_tensor_from(tg_backend *backend, tg_dtype dtype, int ndim, const int64_t *shape,
                          const void *host_data) {
    if (!host_data) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_tensor_from", "host_data is NULL");
        return NULL;
    }
    tg_tensor *t = tg__persistent_new(backend, dtype, ndim, shape, "tg_tensor_from");
    if (t && t->nbytes && tg__be_upload(t->be, t->data, host_data, t->nbytes)) {
        tg_free(t);
        return NULL;
    }
    return t;
}

tg_tensor *tg_param(tg_backend *backend, tg_dtype dtype, int ndim, const int64_t *shape,
                    const void *host_data) {
    unsigned mark = tg_error_mark();
    tg_tensor *t = host_data ? tg_tensor_from(backend, dtype, ndim, shape, host_data)
                             : tg_tensor_new(backend, dtype, ndim, shape);
    if (t) t->requires_grad = true;
    return tg__named("tg_param", mark, t);
}

tg_tensor *tg_scalar(tg_backend *backend, tg_dtype dtype, double value) {
    float f = (float)value;
    const void *src = dtype == TG_F32 ? (const void *)&f : (const void *)&value;
    unsigned mark = tg_error_mark();
    return tg__named("tg_scalar", mark, tg_tensor_from(backend, dtype, 0, NULL, src));
}

int tg__check_live_slow(const tg_tensor *t, const char *where) {
    if (!t) {
        if (!tg__has_error()) tg__fail(TG_ERR_INVALID_ARG, where, "tensor is NULL");
        return TG_ERR_INVALID_ARG;
    }
    if (t->magic == TG_MAGIC_DEAD || (t->magic != TG_MAGIC_LIVE && t->magic != TG_MAGIC_STALE)) {
        tg__fail(TG_ERR_STATE, where, "tensor was freed (or is not a tensor)");
        return TG_ERR_STATE;
    }
    if (t->magic == TG_MAGIC_STALE || (t->is_step && t->epoch != t->tape->epoch)) {
        tg__fail(TG_ERR_STATE, where,
                 "step tensor used after tg_tape_reset: it died with its tape's previous step "
                 "(keep values with tg_item/tg_copy_to_host or a persistent copy, tg_to)");
        return TG_ERR_STATE;
    }
    return TG_OK;
}

int tg_free(tg_tensor *t) {
    if (!t) return TG_OK;
    int st = tg__check_live(t, "tg_free");
    if (st) return st;
    if (t->is_step) {
        tg__fail(TG_ERR_STATE, "tg_free",
                 "tensor is a step tensor owned by its tape; it dies at tg_tape_reset");
        return TG_ERR_STATE;
    }
    if (t->is_grad) {
        tg__fail(TG_ERR_STATE, "tg_free",
                 "tensor is a parameter's .grad, owned by the parameter (freed with it); "
                 "use tg_zero_grad, or tg_grad_clear to drop it");
        return TG_ERR_STATE;
    }
    int pins = atomic_load_explicit(&t->pins, memory_order_acquire);
    if (pins > 0) {
        tg__fail(TG_ERR_STATE, "tg_free",
                 "tensor is still recorded on %d tape(s); reset or free them first", pins);
        return TG_ERR_STATE;
    }
    if (t->grad) {
        st = tg_grad_clear(t);
        if (st) return st;
    }
    if (t->data && t->owns_data) tg__be_free(t->be, t->data);
    t->magic = TG_MAGIC_DEAD;
    tg__free(t->name);
    tg__free(t);
    return TG_OK;
}

// Why tg_free would refuse t (TG_OK if it would free it): a step tensor, a .grad, stale or
// freed, or recorded by a live tape (t or its grad).
static int free_refusal(const tg_tensor *t, const char *where, int i) {
    int st = tg__check_live(t, where);
    if (st) return st;
    const char *why = t->is_step ? "a step tensor (it dies with its tape)"
                      : t->is_grad ? "a parameter's .grad (freed with the parameter)"
                      : atomic_load_explicit(&t->pins, memory_order_acquire) > 0
                          ? "still recorded on a live tape; reset or free the tape first"
                      : t->grad && atomic_load_explicit(&t->grad->pins, memory_order_acquire) > 0
                          ? "a tensor whose .grad a live tape still records"
                          : NULL;
    if (!why) return TG_OK;
    char s[160];
    tg__fail(TG_ERR_STATE, where, "tensor %d %s is %s; nothing was freed", i,
             tg__shape_str(s, sizeof s, t->ndim, t->shape), why);
    return TG_ERR_STATE;
}

int tg_free_check(const tg_tensor *t) { return t ? free_refusal(t, "tg_free_check", 0) : TG_OK; }

int tg_free_many(int n, tg_tensor *const *ts) {
    if (n < 0 || (n > 0 && !ts)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_free_many", "need n >= 0 tensors");
        return TG_ERR_INVALID_ARG;
    }
    for (int i = 0; i < n; i++) {
        bool dup = false;
        for (int j = 0; j < i && !dup; j++) dup = ts[j] == ts[i];
        int st = ts[i] && !dup ? free_refusal(ts[i], "tg_free_many", i) : TG_OK;
        if (st) return st;
    }
    for (int i = 0; i < n; i++) {
        bool dup = false;
        for (int j = 0; j < i && !dup; j++) dup = ts[j] == ts[i];
        if (ts[i] && !dup) tg_free(ts[i]);
    }
    return TG_OK;
}

int tg_tensor_set_name(tg_tensor *t, const char *name) {
    int st = tg__check_live(t, "tg_tensor_set_name");
    if (st) return st;
    if (t->is_step) {
        tg__fail(TG_ERR_STATE, "tg_tensor_set_name",
                 "step tensors are not named (they die at tg_tape_reset); name the persistent "
                 "tensors (parameters, data), or group ops with tg_tape_push_scope");
        return TG_ERR_STATE;
    }
    char *copy = NULL;
    if (name) {
        size_t len = strnlen(name, 127);
        if (!(copy = tg__malloc(len + 1))) {
            tg__fail(TG_ERR_OOM, "tg_tensor_set_name", "out of memory");
            return TG_ERR_OOM;
        }
        memcpy(copy, name, len);
        copy[len] = '\0';
    }
    tg__free(t->name);
    t->name = copy;
    return TG_OK;
}

const char *tg_tensor_name(const tg_tensor *t) {
    return tg__check_live(t, "tg_tensor_name") ? NULL : t->name;
}

int tg_grad_clear(tg_tensor *t) {
    int st = tg__check_live(t, "tg_grad_clear");
    if (st || !t->grad) return st;
    tg_tensor *g = t->grad;
    int pins = atomic_load_explicit(&g->pins, memory_order_acquire);
    if (pins > 0) {
        tg__fail(TG_ERR_STATE, "tg_grad_clear",
                 "the gradient is still recorded on %d tape(s); reset them first", pins);
        return TG_ERR_STATE;
    }
    t->grad = NULL;
    if (g->data && g->owns_data) tg__be_free(g->be, g->data);
    g->magic = TG_MAGIC_DEAD;
    tg__free(g);
    return TG_OK;
}

// A step tensor registered on the tape; its data comes from the cache when `with_data`.
static tg_tensor *step_tensor(tg_tape *tape, tg_backend *be, tg_dtype dtype, int ndim,
                              const int64_t *shape, bool with_data, const char *where) {
    int64_t numel = tg__shape_numel(ndim, shape);
    if (numel < 0) {
        tg__check_shape(ndim, shape, where);   // says why
        return NULL;
    }
    if (tape->n_steps == tape->cap_steps) {
        int64_t cap = tape->cap_steps ? tape->cap_steps * 2 : 256;
        tg_tensor **s = tg__realloc(tape->steps, (size_t)cap * sizeof *s);
        if (!s) {
            tg__fail(TG_ERR_OOM, where, "out of memory growing the tape");
            return NULL;
        }
        tape->steps = s;
        tape->cap_steps = cap;
    }
    tg_tensor *t = tg__slot_alloc(tape);
    if (!t) {
        tg__fail(TG_ERR_OOM, where, "out of memory in the tape arena");
        return NULL;
    }
    // Field by field (keep in step with struct tg_tensor): zeroing the struct, by memset or
    // a compound literal, compiles to `rep stos`, whose start-up cost was a sixth of
    // chain100's time.
    set_shape(t, dtype, ndim, shape, numel);
    t->data = NULL;
    t->be = be;
    t->tape = tape;
    t->epoch = tape->epoch;
    t->version = &t->ver;
    t->ver = 0;
    t->grad = t->bgrad = NULL;
    t->name = NULL;
    t->requires_grad = false;
    t->is_step = true;
    t->owns_data = with_data;
    t->is_grad = false;
    // pins, grad_lock, pin_key, grad_hook, grad_zero_pending: persistent tensors only, never
    // read for a step tensor.
    if (with_data && t->nbytes && !(t->data = tg__buf_alloc(be, t->nbytes, where)))
        return NULL;
    tape->steps[tape->n_steps++] = t;
    return t;
}

tg_tensor *tg__step_new(tg_tape *tape, tg_backend *be, tg_dtype dtype, int ndim,
                        const int64_t *shape, const char *where) {
    return step_tensor(tape, be, dtype, ndim, shape, true, where);
}

// A view shares src's data and takes no buffer of its own (reset releases nothing for it).
// A view of a persistent tensor pins it on the tape: it cannot be freed under the view, and
// the backward pass knows the data is shared (tg__grad_accumulate).
tg_tensor *tg__step_view(tg_tape *tape, tg_tensor *src, int ndim, const int64_t *shape,
                         const char *where) {
    if (tg__pin(tape, src)) {
        tg__fail(TG_ERR_OOM, where, "out of memory growing the tape");
        return NULL;
    }
    tg_tensor *t = step_tensor(tape, src->be, src->dtype, ndim, shape, false, where);
    if (t) {
        t->data = src->data;
        t->version = src->version;   // one storage: in-place writes through either count
    }
    return t;
}

// ---- accessors ----

// Accessors that return plain values check liveness too: a NULL, stale or freed tensor gives
// the NULL answer and sets the error (unless one is pending: a NULL usually comes from a
// failed call that set it).
static bool live(const tg_tensor *t, const char *where) {
    return tg__check_live(t, where) == TG_OK;
}

int tg_ndim(const tg_tensor *t) { return live(t, "tg_ndim") ? t->ndim : -1; }
const int64_t *tg_shape(const tg_tensor *t) { return live(t, "tg_shape") ? t->shape : NULL; }
int64_t tg_numel(const tg_tensor *t) { return live(t, "tg_numel") ? t->numel : 0; }
tg_dtype tg_dtype_of(const tg_tensor *t) {
    return live(t, "tg_dtype_of") ? t->dtype : TG_DTYPE_COUNT;
}
tg_backend *tg_backend_of(const tg_tensor *t) { return live(t, "tg_backend_of") ? t->be : NULL; }
bool tg_requires_grad(const tg_tensor *t) {
    return live(t, "tg_requires_grad") && t->requires_grad;
}
bool tg_is_step(const tg_tensor *t) { return live(t, "tg_is_step") && t->is_step; }
// tg_zero_grad is lazy (issue 16: one pass less over the gradients per step): it marks the
// parameter, and the next backward pass writes its .grad instead of adding to it (a copy,
// or a gemm with beta = 0). Every other way to the values goes through tg_grad_of, which
// zeroes them first.
tg_tensor *tg_grad_of(const tg_tensor *t) {
    if (!live(t, "tg_grad_of")) return NULL;
    tg_tensor *p = (tg_tensor *)t;
    if (p->grad && p->grad_zero_pending) {
        tg__grad_lock(p);
        if (p->grad_zero_pending) {
            if (p->grad->nbytes &&
                tg__be_memset0(p->be, p->grad->data, p->grad->nbytes) != TG_OK) {
                tg__grad_unlock(p);
                if (!tg__has_error()) tg__fail(TG_ERR_BACKEND, "tg_grad_of", "zeroing failed");
                return NULL;
            }
            p->grad_zero_pending = false;
        }
        tg__grad_unlock(p);
    }
    return p->grad;
}
uint64_t tg_tensor_version(const tg_tensor *t) {
    return live(t, "tg_tensor_version") ? *t->version : 0;
}

int tg_mark_dirty(tg_tensor *t) {
    int st = tg__check_live(t, "tg_mark_dirty");
    if (!st) tg__bump_version(t);
    return st;
}

int tg_set_requires_grad(tg_tensor *t, bool requires_grad) {
    int st = tg__check_live(t, "tg_set_requires_grad");
    if (st) return st;
    if (t->is_step) {
        tg__fail(TG_ERR_STATE, "tg_set_requires_grad",
                 "step tensors get requires_grad from their inputs; use tg_detach or a "
                 "persistent tensor for a new leaf");
        return TG_ERR_STATE;
    }
    t->requires_grad = requires_grad;
    return TG_OK;
}

int tg_zero_grad(int n, tg_tensor *const *tensors) {
    if (n < 0 || (n > 0 && !tensors)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_zero_grad", "need n >= 0 tensors");
        return TG_ERR_INVALID_ARG;
    }
    for (int i = 0; i < n; i++) {
        tg_tensor *t = tensors[i];
        if (!t) continue;
        int st = tg__check_live(t, "tg_zero_grad");
        if (st) return st;
        if (!t->grad) continue;
        tg__bump_version(t->grad);
        // Lazy unless a tape holds the gradient itself (a view of it may be read directly).
        if (atomic_load_explicit(&t->grad->pins, memory_order_acquire) == 0) {
            t->grad_zero_pending = true;
        } else if (t->grad->nbytes) {
            st = tg__be_memset0(t->be, t->grad->data, t->grad->nbytes);
            if (st) return st;
            t->grad_zero_pending = false;
        }
    }
    return TG_OK;
}

static int check_host_copy(const tg_tensor *t, const void *p, size_t bytes, const char *where) {
    if (!t || !p) {
        tg__fail(TG_ERR_INVALID_ARG, where, "tensor or buffer is NULL");
        return TG_ERR_INVALID_ARG;
    }
    int st = tg__check_live(t, where);
    if (st) return st;
    if (bytes != t->nbytes) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, where, "buffer has %zu bytes, tensor %s %s needs %zu",
                 bytes, tg__shape_str(s, sizeof s, t->ndim, t->shape), tg_dtype_name(t->dtype),
                 t->nbytes);
        return TG_ERR_INVALID_ARG;
    }
    return TG_OK;
}

int tg_copy_to_host(const tg_tensor *t, void *dst, size_t bytes) {
    int st = check_host_copy(t, dst, bytes, "tg_copy_to_host");
    if (st || !bytes) return st;
    return tg__be_download(t->be, dst, t->data, bytes);
}

int tg_copy_from_host(tg_tensor *t, const void *src, size_t bytes) {
    int st = check_host_copy(t, src, bytes, "tg_copy_from_host");
    if (!st && t->is_step && t->node >= 0) {
        tg__fail(TG_ERR_STATE, "tg_copy_from_host",
                 "cannot overwrite a tensor recorded in the graph");
        st = TG_ERR_STATE;
    }
    if (st || !bytes) return st;
    tg__bump_version(t);
    return tg__be_upload(t->be, t->data, src, bytes);
}

double tg_item(const tg_tensor *t) {
    if (tg__check_live(t, "tg_item")) return NAN;
    if (t->numel != 1) {
        char s[160];
        tg__fail(TG_ERR_SHAPE, "tg_item", "tensor %s has %lld elements, need exactly 1",
                 tg__shape_str(s, sizeof s, t->ndim, t->shape), (long long)t->numel);
        return NAN;
    }
    double d = NAN;
    float f = NAN;
    int st = t->dtype == TG_F32 ? tg__be_download(t->be, &f, t->data, 4)
                                : tg__be_download(t->be, &d, t->data, 8);
    if (st) return NAN;
    return t->dtype == TG_F32 ? (double)f : d;
}

static void *host_data(tg_tensor *t, tg_dtype want, const char *where) {
    if (tg__check_live(t, where)) return NULL;
    if (t->dtype != want) {
        tg__fail(TG_ERR_DTYPE, where, "tensor is %s", tg_dtype_name(t->dtype));
        return NULL;
    }
    if (t->be != tg_backend_get("cpu")) {
        tg__fail(TG_ERR_BACKEND, where, "tensor is on %s; copy with tg_copy_to_host",
                 t->be->ops->name);
        return NULL;
    }
    return t->data;
}

float *tg_data_f32(tg_tensor *t) { return host_data(t, TG_F32, "tg_data_f32"); }
double *tg_data_f64(tg_tensor *t) { return host_data(t, TG_F64, "tg_data_f64"); }

void *tg_data_ptr(tg_tensor *t) { return tg__check_live(t, "tg_data_ptr") ? NULL : t->data; }

// 0: all finite, 1: some NaN, 2: some Inf and no NaN.
static int nonfinite_kind(const tg_tensor *t) {
    double buf[512];
    size_t es = tg_dtype_size(t->dtype), chunk = sizeof buf / es;
    int kind = 0;
    for (int64_t i = 0; i < t->numel; i += (int64_t)chunk) {
        int64_t n = t->numel - i < (int64_t)chunk ? t->numel - i : (int64_t)chunk;
        if (tg__be_download(t->be, buf, (const char *)t->data + (size_t)i * es,
                                 (size_t)n * es))
            return kind;
        for (int64_t k = 0; k < n; k++) {
            double v = t->dtype == TG_F64 ? buf[k] : (double)((const float *)(void *)buf)[k];
            if (isnan(v)) return 1;
            if (isinf(v)) kind = 2;
        }
    }
    return kind;
}

bool tg__nonfinite(const tg_tensor *t) { return nonfinite_kind(t) != 0; }

const char *tg__anomaly_in(const tg_tape *tape, const tg_tensor *t) {
    int kind = nonfinite_kind(t);
    if (kind == 1) return "NaN";
    return kind == 2 && !tape->anomaly_nan_only ? "Inf" : NULL;
}

const char *tg__inputs_str(char *buf, size_t size, int n, tg_tensor *const *in) {
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < n && used + 1 < size; k++) {
        char s[160];
        int w = snprintf(buf + used, size - used, "%s%s", k ? ", " : "",
                         tg__shape_str(s, sizeof s, in[k]->ndim, in[k]->shape));
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}

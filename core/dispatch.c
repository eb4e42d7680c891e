// The one door to the backend: every call into a backend's table goes through a function
// here. Memory slots are required (checked when a module registers: tg__backend_complete);
// kernel slots are optional, and a slot counts as present only when the module's table is
// long enough to hold it (a module built before the slot existed has a shorter table) and
// it is non-NULL. A missing slot fails with TG_ERR_UNSUPPORTED, a failing kernel with its
// status, each with one message naming `where` (the public op), the slot and the backend.
#include "core/internal.h"

// The slot `s` of be's table, or NULL when absent.
#define SLOT(be, s)                                                                         \
    ((be)->ops->struct_size >= offsetof(struct tg_backend_ops, s) + sizeof(be)->ops->s      \
         ? (be)->ops->s                                                                     \
         : NULL)

static int unsupported(const char *where, const tg_backend *be, const char *slot) {
    tg__fail(TG_ERR_UNSUPPORTED, where, "not supported on backend %s (no %s kernel)",
             be->ops->name, slot);
    return TG_ERR_UNSUPPORTED;
}

static int done(int st, const char *where, const tg_backend *be, const char *slot) {
    if (st == TG_ERR_OOM && !tg__has_error())
        tg__fail(st, where, "%s kernel ran out of memory on backend %s", slot, be->ops->name);
    else if (st != TG_OK && !tg__has_error())
        tg__fail(st, where, "%s kernel failed on backend %s", slot, be->ops->name);
    return st;
}

// Slots whose TG_ERR_INVALID_ARG means "bad values in an input" (a label, an index): the
// op words that error itself (it knows the shapes), so it is passed back unworded.
static int done_or_bad_input(int st, const char *where, const tg_backend *be, const char *slot) {
    return st == TG_ERR_INVALID_ARG ? st : done(st, where, be, slot);
}

bool tg__backend_complete(const struct tg_backend_ops *o) {
    return o->struct_size >= offsetof(struct tg_backend_ops, fill) + sizeof o->fill && o->init &&
           o->shutdown && o->synchronize && o->alloc && o->free && o->upload && o->download &&
           o->copy && o->memset0 && o->fill;
}

// ---- memory and lifecycle (required slots; callers word their own errors) ----

int tg__be_init(const struct tg_backend_ops *ops, void **ctx) { return ops->init(ctx); }

int tg__be_alloc(tg_backend *be, size_t bytes, void **out) {
    return be->ops->alloc(be->ctx, bytes, out);
}
void tg__be_free(tg_backend *be, void *ptr) { be->ops->free(be->ctx, ptr); }
int tg__be_upload(tg_backend *be, void *dst, const void *src, size_t bytes) {
    return be->ops->upload(be->ctx, dst, src, bytes);
}
int tg__be_download(tg_backend *be, void *dst, const void *src, size_t bytes) {
    return be->ops->download(be->ctx, dst, src, bytes);
}
int tg__be_copy(tg_backend *be, void *dst, const void *src, size_t bytes) {
    return be->ops->copy(be->ctx, dst, src, bytes);
}
int tg__be_memset0(tg_backend *be, void *dst, size_t bytes) {
    return be->ops->memset0(be->ctx, dst, bytes);
}
int tg__be_synchronize(tg_backend *be) { return be->ops->synchronize(be->ctx); }
int tg__be_set_threads(tg_backend *be, int n) {
    int (*fn)(void *, int) = SLOT(be, set_threads);
    return fn ? fn(be->ctx, n) : TG_OK;   // optional: a backend without threads ignores it
}

// ---- kernels ----

int tg__k_fill(const char *where, tg_backend *be, const tg_view *y, double value) {
    return done(be->ops->fill(be->ctx, y, value), where, be, "fill");
}

int tg__k_unary(const char *where, int kind, const tg_view *x, const tg_tensor *y, double a,
                double b) {
    tg_backend *be = y->be;
    int (*fn)(void *, int, const tg_view *, const tg_view *, double, double) = SLOT(be, unary);
    if (!fn) return unsupported(where, be, "unary");
    // A flat x (same-shape elementwise) pairs with a flat y: one row, no dims to walk.
    bool flat = x->ndim == 1 && x->stride[0] == 1 && x->shape[0] == y->numel;
    tg_view vy = flat ? tg__view_flat(y) : tg__view_of(y);
    return done(fn(be->ctx, kind, x, &vy, a, b), where, be, "unary");
}

int tg__k_unary_view(const char *where, tg_backend *be, int kind, const tg_view *x,
                     const tg_view *y, double a, double b) {
    int (*fn)(void *, int, const tg_view *, const tg_view *, double, double) = SLOT(be, unary);
    if (!fn) return unsupported(where, be, "unary");
    return done(fn(be->ctx, kind, x, y, a, b), where, be, "unary");
}

int tg__k_binary(const char *where, int kind, const tg_view *a, const tg_view *b,
                 const tg_tensor *y) {
    tg_backend *be = y->be;
    int (*fn)(void *, int, const tg_view *, const tg_view *, const tg_view *) = SLOT(be, binary);
    if (!fn) return unsupported(where, be, "binary");
    bool flat = a->ndim == 1 && b->ndim == 1 && a->shape[0] == y->numel;
    tg_view vy = flat ? tg__view_flat(y) : tg__view_of(y);
    return done(fn(be->ctx, kind, a, b, &vy), where, be, "binary");
}

int tg__k_reduce(const char *where, tg_backend *be, int kind, const tg_view *x,
                 const tg_view *y) {
    int (*fn)(void *, int, const tg_view *, const tg_view *) = SLOT(be, reduce);
    if (!fn) return unsupported(where, be, "reduce");
    return done(fn(be->ctx, kind, x, y), where, be, "reduce");
}

int tg__k_gemm(const char *where, tg_backend *be, const tg_gemm_desc *d) {
    int (*fn)(void *, const tg_gemm_desc *) = SLOT(be, gemm);
    if (!fn) return unsupported(where, be, "gemm");
    return done(fn(be->ctx, d), where, be, "gemm");
}

int tg__k_update(const char *where, tg_backend *be, int kind, const tg_view *y,
                 const tg_view *a, const tg_view *b, double s0, double s1, double s2) {
    int (*fn)(void *, int, const tg_view *, const tg_view *, const tg_view *, double, double,
              double) = SLOT(be, update);
    if (!fn) return unsupported(where, be, "update");
    return done(fn(be->ctx, kind, y, a, b, s0, s1, s2), where, be, "update");
}

int tg__k_cast(const char *where, tg_backend *be, const tg_view *x, const tg_view *y) {
    int (*fn)(void *, const tg_view *, const tg_view *) = SLOT(be, cast);
    if (!fn) return unsupported(where, be, "cast");
    return done(fn(be->ctx, x, y), where, be, "cast");
}

int tg__k_where(const char *where, tg_backend *be, const tg_view *cond, const tg_view *a,
                const tg_view *b, const tg_view *y) {
    int (*fn)(void *, const tg_view *, const tg_view *, const tg_view *, const tg_view *) =
        SLOT(be, where);
    if (!fn) return unsupported(where, be, "where");
    return done(fn(be->ctx, cond, a, b, y), where, be, "where");
}

int tg__k_gather(const char *where, tg_backend *be, int axis, const tg_view *x,
                 const tg_view *index, const tg_view *y) {
    int (*fn)(void *, int, const tg_view *, const tg_view *, const tg_view *) =
        SLOT(be, gather);
    if (!fn) return unsupported(where, be, "gather");
    return done_or_bad_input(fn(be->ctx, axis, x, index, y), where, be, "gather");
}

int tg__k_scatter_add(const char *where, tg_backend *be, int axis, const tg_view *src,
                      const tg_view *index, const tg_view *y) {
    int (*fn)(void *, int, const tg_view *, const tg_view *, const tg_view *) =
        SLOT(be, scatter_add);
    if (!fn) return unsupported(where, be, "scatter_add");
    return done_or_bad_input(fn(be->ctx, axis, src, index, y), where, be, "scatter_add");
}

int tg__k_im2col(const char *where, tg_backend *be, const tg_im2col_desc *d, const void *x,
                 void *cols) {
    int (*fn)(void *, const tg_im2col_desc *, const void *, void *) = SLOT(be, im2col);
    if (!fn) return unsupported(where, be, "im2col");
    return done(fn(be->ctx, d, x, cols), where, be, "im2col");
}

int tg__k_col2im(const char *where, tg_backend *be, const tg_im2col_desc *d, const void *cols,
                 void *x) {
    int (*fn)(void *, const tg_im2col_desc *, const void *, void *) = SLOT(be, col2im);
    if (!fn) return unsupported(where, be, "col2im");
    return done(fn(be->ctx, d, cols, x), where, be, "col2im");
}

int tg__k_xent(const char *where, tg_backend *be, int dtype, int64_t n, int64_t c,
               const void *logits, const void *labels, void *loss) {
    int (*fn)(void *, int, int64_t, int64_t, const void *, const void *, void *) =
        SLOT(be, xent);
    if (!fn) return unsupported(where, be, "xent");
    return done_or_bad_input(fn(be->ctx, dtype, n, c, logits, labels, loss), where, be, "xent");
}

int tg__k_xent_grad(const char *where, tg_backend *be, int dtype, int64_t n, int64_t c,
                    const void *logits, const void *labels, const void *dloss, void *dlogits) {
    int (*fn)(void *, int, int64_t, int64_t, const void *, const void *, const void *, void *) =
        SLOT(be, xent_grad);
    if (!fn) return unsupported(where, be, "xent_grad");
    return done_or_bad_input(fn(be->ctx, dtype, n, c, logits, labels, dloss, dlogits), where, be,
                             "xent_grad");
}

int tg__k_adam_step(const char *where, tg_backend *be, const tg_adam_desc *d) {
    int (*fn)(void *, const tg_adam_desc *) = SLOT(be, adam_step);
    if (!fn) return unsupported(where, be, "adam_step");
    return done(fn(be->ctx, d), where, be, "adam_step");
}

bool tg__has_softmax_grad(tg_backend *be) { return SLOT(be, softmax_grad) != NULL; }

bool tg__has_max_pool(tg_backend *be) { return SLOT(be, max_pool) != NULL; }

bool tg__has_batch_norm(tg_backend *be) { return SLOT(be, batch_norm) != NULL; }

bool tg__has_conv(tg_backend *be) { return SLOT(be, conv) != NULL; }

bool tg__has_gemm_ep(tg_backend *be) { return SLOT(be, gemm_ep) != NULL; }

int tg__k_gemm_ep(const char *where, tg_backend *be, const tg_gemm_desc *d,
                  const tg_gemm_ep *e) {
    int (*fn)(void *, const tg_gemm_desc *, const tg_gemm_ep *) = SLOT(be, gemm_ep);
    if (!fn) return unsupported(where, be, "gemm_ep");
    return done(fn(be->ctx, d, e), where, be, "gemm_ep");
}

int tg__k_conv(const char *where, tg_backend *be, const tg_conv_desc *d) {
    int (*fn)(void *, const tg_conv_desc *) = SLOT(be, conv);
    if (!fn) return unsupported(where, be, "conv");
    return done(fn(be->ctx, d), where, be, "conv");
}

int tg__k_batch_norm(const char *where, tg_backend *be, const tg_bn_desc *d) {
    int (*fn)(void *, const tg_bn_desc *) = SLOT(be, batch_norm);
    if (!fn) return unsupported(where, be, "batch_norm");
    return done(fn(be->ctx, d), where, be, "batch_norm");
}

int tg__k_max_pool(const char *where, tg_backend *be, const tg_im2col_desc *d, int route,
                   const void *x, const void *v, void *out) {
    int (*fn)(void *, const tg_im2col_desc *, int, const void *, const void *, void *) =
        SLOT(be, max_pool);
    if (!fn) return unsupported(where, be, "max_pool");
    return done(fn(be->ctx, d, route, x, v, out), where, be, "max_pool");
}

// Rows along the last axis of a contiguous tensor: n rows of c.
static int64_t rows_of(const tg_tensor *t, int64_t *c) {
    *c = t->ndim ? t->shape[t->ndim - 1] : 1;
    return *c ? t->numel / *c : 0;
}

int tg__k_softmax(const char *where, const tg_tensor *x, const tg_tensor *y, bool take_log) {
    tg_backend *be = y->be;
    int (*fn)(void *, int, int64_t, int64_t, const void *, void *, int) = SLOT(be, softmax);
    if (!fn) return unsupported(where, be, "softmax");
    int64_t c, n = rows_of(x, &c);
    return done(fn(be->ctx, (int)x->dtype, n, c, x->data, y->data, take_log), where, be,
                "softmax");
}

int tg__k_softmax_grad(const char *where, const tg_tensor *y, const tg_tensor *dy,
                       const tg_tensor *dx, bool take_log) {
    tg_backend *be = dx->be;
    int (*fn)(void *, int, int64_t, int64_t, const void *, const void *, void *, int) =
        SLOT(be, softmax_grad);
    if (!fn) return unsupported(where, be, "softmax_grad");
    int64_t c, n = rows_of(y, &c);
    return done(fn(be->ctx, (int)y->dtype, n, c, y->data, dy->data, dx->data, take_log), where,
                be, "softmax_grad");
}

int tg__k_layer_norm(const char *where, const tg_tensor *x, const tg_tensor *w,
                     const tg_tensor *b, const tg_tensor *y, double eps) {
    tg_backend *be = y->be;
    int (*fn)(void *, int, int64_t, int64_t, const void *, const void *, const void *, void *,
              double) = SLOT(be, layer_norm);
    if (!fn) return unsupported(where, be, "layer_norm");
    int64_t c, n = rows_of(x, &c);
    return done(fn(be->ctx, (int)x->dtype, n, c, x->data, w ? w->data : NULL,
                   b ? b->data : NULL, y->data, eps),
                where, be, "layer_norm");
}

int tg__k_layer_norm_grad(const char *where, const tg_tensor *dy, const tg_tensor *x,
                          const tg_tensor *w, const tg_tensor *dx, void *wgrad, double eps) {
    tg_backend *be = dx->be;
    int (*fn)(void *, int, int64_t, int64_t, const void *, const void *, const void *, void *,
              void *, double) = SLOT(be, layer_norm_grad);
    if (!fn) return unsupported(where, be, "layer_norm_grad");
    int64_t c, n = rows_of(x, &c);
    return done(fn(be->ctx, (int)x->dtype, n, c, x->data, w ? w->data : NULL, dy->data,
                   dx->data, wgrad, eps),
                where, be, "layer_norm_grad");
}

int tg__k_layer_norm_wgrad(const char *where, const tg_tensor *dy, const tg_tensor *x,
                           const tg_tensor *out, double eps) {
    tg_backend *be = out->be;
    int (*fn)(void *, int, int64_t, int64_t, const void *, const void *, void *, double) =
        SLOT(be, layer_norm_wgrad);
    if (!fn) return unsupported(where, be, "layer_norm_wgrad");
    int64_t c, n = rows_of(x, &c);
    return done(fn(be->ctx, (int)x->dtype, n, c, x->data, dy->data, out->data, eps), where, be,
                "layer_norm_wgrad");
}

int tg__k_attention(const char *where, tg_backend *be, const tg_attn_desc *d) {
    int (*fn)(void *, const tg_attn_desc *) = SLOT(be, attention);
    if (!fn) return unsupported(where, be, "attention");
    return done(fn(be->ctx, d), where, be, "attention");
}

int tg__k_attention_grad(const char *where, tg_backend *be, const tg_attn_desc *d) {
    int (*fn)(void *, const tg_attn_desc *) = SLOT(be, attention_grad);
    if (!fn) return unsupported(where, be, "attention_grad");
    return done(fn(be->ctx, d), where, be, "attention_grad");
}

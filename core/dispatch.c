// Kernel launchers: the NULL-slot check and the status-to-error conversion in one place.
#include "core/internal.h"

static int kernel_failed(int st, const char *where, const tg_backend *be, const char *slot) {
    if (st != TG_OK && !tg__has_error())
        tg__fail(st, where, "%s kernel failed on backend %s", slot, be->ops->name);
    return st;
}

int tg__k_unary(const char *where, int kind, const tg_view *x, const tg_tensor *y, double a,
                double b) {
    tg_backend *be = y->be;
    if (!be->ops->unary) {
        tg__fail(TG_ERR_UNSUPPORTED, where, "not supported on backend %s", be->ops->name);
        return TG_ERR_UNSUPPORTED;
    }
    // A flat x (same-shape elementwise) pairs with a flat y: one row, no dims to walk.
    bool flat = x->ndim == 1 && x->stride[0] == 1 && x->shape[0] == y->numel;
    tg_view vy = flat ? tg__view_flat(y) : tg__view_of(y);
    return kernel_failed(be->ops->unary(be->ctx, kind, x, &vy, a, b), where, be, "unary");
}

int tg__k_binary(const char *where, int kind, const tg_view *a, const tg_view *b,
                 const tg_tensor *y) {
    tg_backend *be = y->be;
    if (!be->ops->binary) {
        tg__fail(TG_ERR_UNSUPPORTED, where, "not supported on backend %s", be->ops->name);
        return TG_ERR_UNSUPPORTED;
    }
    bool flat = a->ndim == 1 && b->ndim == 1 && a->shape[0] == y->numel;
    tg_view vy = flat ? tg__view_flat(y) : tg__view_of(y);
    return kernel_failed(be->ops->binary(be->ctx, kind, a, b, &vy), where, be, "binary");
}

bool tg__has_softmax_grad(const tg_backend *be) {
    // a module built before the slot existed has a shorter table: the slot counts as NULL
    return be->ops->struct_size >=
               offsetof(struct tg_backend_ops, softmax_grad) + sizeof be->ops->softmax_grad &&
           be->ops->softmax_grad;
}

int tg__k_softmax_grad(const char *where, const tg_tensor *y, const tg_tensor *dy,
                       const tg_tensor *dx, bool take_log) {
    tg_backend *be = dx->be;
    if (!tg__has_softmax_grad(be)) {
        tg__fail(TG_ERR_UNSUPPORTED, where, "not supported on backend %s", be->ops->name);
        return TG_ERR_UNSUPPORTED;
    }
    int64_t c = y->ndim ? y->shape[y->ndim - 1] : 1;
    int64_t n = c ? y->numel / c : 0;
    return kernel_failed(be->ops->softmax_grad(be->ctx, (int)y->dtype, n, c, y->data, dy->data,
                                               dx->data, take_log),
                         where, be, "softmax_grad");
}

int tg__k_softmax(const char *where, const tg_tensor *x, const tg_tensor *y, bool take_log) {
    tg_backend *be = y->be;
    // A module built before the slot existed has a shorter table: treat the slot as NULL.
    bool has = be->ops->struct_size >=
                   offsetof(struct tg_backend_ops, softmax) + sizeof be->ops->softmax &&
               be->ops->softmax;
    if (!has) {
        tg__fail(TG_ERR_UNSUPPORTED, where, "not supported on backend %s", be->ops->name);
        return TG_ERR_UNSUPPORTED;
    }
    int64_t c = x->ndim ? x->shape[x->ndim - 1] : 1;
    int64_t n = c ? x->numel / c : 0;
    return kernel_failed(be->ops->softmax(be->ctx, (int)x->dtype, n, c, x->data, y->data, take_log),
                         where, be, "softmax");
}

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
    tg_view vy = tg__view_of(y);
    return kernel_failed(be->ops->unary(be->ctx, kind, x, &vy, a, b), where, be, "unary");
}

int tg__k_binary(const char *where, int kind, const tg_view *a, const tg_view *b,
                 const tg_tensor *y) {
    tg_backend *be = y->be;
    if (!be->ops->binary) {
        tg__fail(TG_ERR_UNSUPPORTED, where, "not supported on backend %s", be->ops->name);
        return TG_ERR_UNSUPPORTED;
    }
    tg_view vy = tg__view_of(y);
    return kernel_failed(be->ops->binary(be->ctx, kind, a, b, &vy), where, be, "binary");
}

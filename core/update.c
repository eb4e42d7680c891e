// In-place updates outside the graph (optimizers, init) and detached copies (tg_to,
// tg_cast). Updates refuse recorded step tensors and bump the written storage's version,
// which the backward pass checks against what each node recorded (core/backward.c).
#include <math.h>
#include <string.h>

#include "core/internal.h"

static int check_update(const char *where, tg_tensor *y, const tg_tensor *a,
                        const tg_tensor *b) {
    char s1[160], s2[160];
    if (!y || !a) {
        if (!tg__has_error()) tg__fail(TG_ERR_INVALID_ARG, where, "tensor is NULL");
        return TG_ERR_INVALID_ARG;
    }
    const tg_tensor *ops[2] = {a, b};
    int st = tg__check_live(y, where);
    for (int i = 0; i < 2 && !st; i++)
        if (ops[i]) st = tg__check_live(ops[i], where);
    if (st) return st;
    for (int i = 0; i < 2; i++) {
        const tg_tensor *x = ops[i];
        if (!x) continue;
        if (!tg__same_shape(x, y)) {
            tg__fail(TG_ERR_SHAPE, where, "shapes differ: %s vs %s",
                     tg__shape_str(s1, sizeof s1, y->ndim, y->shape),
                     tg__shape_str(s2, sizeof s2, x->ndim, x->shape));
            return TG_ERR_SHAPE;
        }
        if (x->dtype != y->dtype) {
            tg__fail(TG_ERR_DTYPE, where, "mixed dtypes: %s vs %s", tg_dtype_name(y->dtype),
                     tg_dtype_name(x->dtype));
            return TG_ERR_DTYPE;
        }
        if (x->be != y->be) {
            tg__fail(TG_ERR_BACKEND, where, "tensors on %s and %s", y->be->ops->name,
                     x->be->ops->name);
            return TG_ERR_BACKEND;
        }
    }
    if (y->is_step && y->node >= 0) {
        tg__fail(TG_ERR_STATE, where, "cannot update a tensor recorded in the graph");
        return TG_ERR_STATE;
    }
    return TG_OK;
}

static int run_update(const char *where, int kind, tg_tensor *y, const tg_tensor *a,
                      const tg_tensor *b, double s0, double s1, double s2) {
    int st = check_update(where, y, a, b);
    if (st || !y->numel) return st;
    tg__bump_version(y);
    // one shape, dense storage (checked above): the kernels see flat vectors
    tg_view vy = tg__view_flat(y), va = tg__view_flat(a), vb = b ? tg__view_flat(b) : va;
    return tg__k_update(where, y->be, kind, &vy, &va, &vb, s0, s1, s2);
}

int tg_axpby_(tg_tensor *y, double alpha, const tg_tensor *x, double beta) {
    return run_update("tg_axpby_", TG_UPDATE_AXPBY, y, x, NULL, alpha, beta, 0);
}

int tg_addcmul_(tg_tensor *y, double value, const tg_tensor *a, const tg_tensor *b) {
    if (y && a && !b) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_addcmul_", "tensor is NULL");
        return TG_ERR_INVALID_ARG;
    }
    return run_update("tg_addcmul_", TG_UPDATE_ADDCMUL, y, a, b, value, 1, 0);
}

int tg_addcdiv_(tg_tensor *y, double value, const tg_tensor *a, const tg_tensor *b) {
    if (y && a && !b) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_addcdiv_", "tensor is NULL");
        return TG_ERR_INVALID_ARG;
    }
    return run_update("tg_addcdiv_", TG_UPDATE_ADDCDIV, y, a, b, value, 1, 0);
}

int tg_addcdiv_sqrt_(tg_tensor *y, double value, const tg_tensor *a, const tg_tensor *b,
                     double b_scale, double eps) {
    if (y && a && !b) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_addcdiv_sqrt_", "tensor is NULL");
        return TG_ERR_INVALID_ARG;
    }
    return run_update("tg_addcdiv_sqrt_", TG_UPDATE_ADDCDIV_SQRT, y, a, b, value, b_scale, eps);
}

int tg_maximum_(tg_tensor *y, const tg_tensor *x) {
    return run_update("tg_maximum_", TG_UPDATE_MAXIMUM, y, x, NULL, 0, 0, 0);
}

int tg_max_abs_(tg_tensor *y, double beta, const tg_tensor *x, double eps) {
    return run_update("tg_max_abs_", TG_UPDATE_MAX_ABS, y, x, NULL, 0, beta, eps);
}

int tg_mul_sqrt_ratio_(tg_tensor *y, const tg_tensor *a, const tg_tensor *b, double eps) {
    if (y && a && !b) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_mul_sqrt_ratio_", "tensor is NULL");
        return TG_ERR_INVALID_ARG;
    }
    return run_update("tg_mul_sqrt_ratio_", TG_UPDATE_SQRT_RATIO, y, a, b, 0, 0, eps);
}

int tg_clamp_(tg_tensor *y, double lo, double hi) {
    if (y && lo > hi) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_clamp_", "lo %g > hi %g", lo, hi);
        return TG_ERR_INVALID_ARG;
    }
    return run_update("tg_clamp_", TG_UPDATE_CLAMP, y, y, NULL, 0, lo, hi);
}

int tg_scale_(tg_tensor *y, double s) { return run_update("tg_scale_", TG_UPDATE_SCALE, y, y, NULL, 0, s, 0); }

int tg_copy_(tg_tensor *y, const tg_tensor *src) {
    int st = check_update("tg_copy_", y, src, NULL);
    if (st || !y->nbytes) return st;
    tg__bump_version(y);
    return tg__be_copy(y->be, y->data, src->data, y->nbytes);
}

int tg_fill_(tg_tensor *y, double value) {
    if (!y) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_fill_", "tensor is NULL");
        return TG_ERR_INVALID_ARG;
    }
    int st = check_update("tg_fill_", y, y, NULL);
    if (st || !y->numel) return st;
    tg__bump_version(y);
    tg_view v = tg__view_of(y);
    return tg__k_fill("tg_fill_", y->be, &v, value);
}

// ---- detached copies ----

tg_tensor *tg_to(const tg_tensor *t, tg_backend *backend) {
    if (tg__check_live(t, "tg_to")) return NULL;
    tg_backend *be = backend ? backend : t->be;
    tg_tensor *r = tg__persistent_new(be, t->dtype, t->ndim, t->shape, "tg_to");
    if (!r || !t->nbytes) return r;
    int st;
    if (be == t->be) {
        st = tg__be_copy(be, r->data, t->data, t->nbytes);
    } else {
        // Through host memory: neither backend knows the other's pointers.
        void *host = tg__malloc(t->nbytes);
        st = host ? tg__be_download(t->be, host, t->data, t->nbytes) : TG_ERR_OOM;
        if (!st) st = tg__be_upload(be, r->data, host, t->nbytes);
        tg__free(host);
    }
    if (st) {
        if (!tg__has_error()) tg__fail(st, "tg_to", "copy to %s failed", be->ops->name);
        tg_free(r);
        return NULL;
    }
    return r;
}

tg_tensor *tg_cast(const tg_tensor *t, tg_dtype dtype) {
    if (tg__check_live(t, "tg_cast")) return NULL;
    tg_tensor *r = tg__persistent_new(t->be, dtype, t->ndim, t->shape, "tg_cast");
    if (!r || !t->numel) return r;
    tg_view vx = tg__view_of(t), vy = tg__view_of(r);
    int st = tg__k_cast("tg_cast", t->be, &vx, &vy);
    if (st) {
        tg_free(r);
        return NULL;
    }
    return r;
}

int tg_adam_step_(tg_tensor *p, const tg_tensor *g, tg_tensor *m, tg_tensor *v, tg_tensor *vmax,
                  int64_t step, double lr, double beta1, double beta2, double eps,
                  double weight_decay, bool decoupled) {
    const char *where = "tg_adam_step_";
    if (!p || !g || !m || !v) {
        if (!tg__has_error())
            tg__fail(TG_ERR_INVALID_ARG, where, "%s is NULL",
                     !p ? "p" : !g ? "g" : !m ? "m" : "v");
        return TG_ERR_INVALID_ARG;
    }
    int st = check_update(where, p, g, m);
    if (!st) st = check_update(where, v, p, vmax);
    if (st) return st;
    if (m->is_step || v->is_step || (vmax && vmax->is_step) || step < 1) {
        tg__fail(TG_ERR_INVALID_ARG, where, "state must be persistent tensors and step >= 1");
        return TG_ERR_INVALID_ARG;
    }
    // PyTorch's ranges: beta1 = 1 would divide by a zero bias correction.
    if (!(isfinite(lr) && lr >= 0 && beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 &&
          isfinite(eps) && eps >= 0 && isfinite(weight_decay) && weight_decay >= 0)) {
        tg__fail(TG_ERR_INVALID_ARG, where,
                 "need lr >= 0, 0 <= beta1, beta2 < 1, eps >= 0, weight_decay >= 0 (finite), "
                 "got lr %g, betas (%g, %g), eps %g, weight_decay %g",
                 lr, beta1, beta2, eps, weight_decay);
        return TG_ERR_INVALID_ARG;
    }
    if (!p->numel) return TG_OK;
    tg__bump_version(p);
    tg__bump_version(m);
    tg__bump_version(v);
    if (vmax) tg__bump_version(vmax);
    tg_adam_desc d = {
        .dtype = (int)p->dtype, .n = p->numel, .p = p->data, .g = g->data, .m = m->data,
        .v = v->data, .vmax = vmax ? vmax->data : NULL, .lr = lr, .beta1 = beta1,
        .beta2 = beta2, .eps = eps, .weight_decay = weight_decay,
        .bc1 = 1.0 - pow(beta1, (double)step), .bc2_sqrt = sqrt(1.0 - pow(beta2, (double)step)),
        .decoupled = decoupled,
    };
    return tg__k_adam_step(where, p->be, &d);
}

// Reductions over axes (sum; mean composed from it).
#include <math.h>

#include "ops/op_table.h"

// Parses axes into a bitmask (negative axes count from the end). TG_ERR_* on bad axes.
static int axes_mask(const tg_tensor *x, int n_axes, const int *axes, const char *name,
                     int64_t *mask) {
    char s[160];
    *mask = 0;
    if (n_axes < 0 || (n_axes > 0 && !axes)) {
        tg__fail(TG_ERR_INVALID_ARG, name, "need n_axes >= 0 and an axes array");
        return TG_ERR_INVALID_ARG;
    }
    for (int i = 0; i < n_axes; i++) {
        int a = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
        if (a < 0 || a >= x->ndim) {
            tg__fail(TG_ERR_INVALID_ARG, name, "axis %d out of range for shape %s", axes[i],
                     tg__shape_str(s, sizeof s, x->ndim, x->shape));
            return TG_ERR_INVALID_ARG;
        }
        if (*mask & ((int64_t)1 << a)) {
            tg__fail(TG_ERR_INVALID_ARG, name, "axis %d repeated for shape %s", axes[i],
                     tg__shape_str(s, sizeof s, x->ndim, x->shape));
            return TG_ERR_INVALID_ARG;
        }
        *mask |= (int64_t)1 << a;
    }
    return TG_OK;
}

// Shape of x with reduced axes set to 1 (keepdim form).
static void keepdim_shape(const tg_tensor *x, int64_t mask, int64_t *shape) {
    for (int i = 0; i < x->ndim; i++) shape[i] = (mask >> i) & 1 ? 1 : x->shape[i];
}

// ---- sum: y = sum over axes of x    dx = dy expanded back to x's shape ----

static int sum_infer(tg_tensor *const *in, int n, const tg_attrs *at, int *ndim,
                     int64_t *shape) {
    (void)n;
    const tg_tensor *x = in[0];
    int64_t mask = at->i[0];
    bool keepdim = at->flags & 1;
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (!((mask >> i) & 1)) shape[nd++] = x->shape[i];
        else if (keepdim) shape[nd++] = 1;
    }
    *ndim = nd;
    return TG_OK;
}

static int sum_forward(tg_tensor *const *in, int n, const tg_attrs *at, tg_tensor *out) {
    (void)n;
    const tg_tensor *x = in[0];
    tg_backend *be = out->be;
    tg_view vx = tg__view_of(x), vy = vx;
    int64_t st = 1;
    vy.data = out->data;
    for (int i = x->ndim - 1; i >= 0; i--) {
        if ((at->i[0] >> i) & 1) {
            vy.stride[i] = 0;
        } else {
            vy.stride[i] = st;
            st *= x->shape[i];
        }
    }
    if (x->numel == 0) {
        tg_view o = tg__view_of(out);
        return be->ops->fill(be->ctx, &o, 0.0);
    }
    if (!be->ops->reduce) {
        tg__fail(TG_ERR_UNSUPPORTED, "tg_sum_axes", "not supported on backend %s", be->ops->name);
        return TG_ERR_UNSUPPORTED;
    }
    return be->ops->reduce(be->ctx, TG_REDUCE_SUM, &vx, &vy);
}

static int sum_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    const tg_tensor *x = node->in[0];
    int64_t kshape[TG_MAX_DIMS];
    keepdim_shape(x, node->attrs.i[0], kshape);
    din[0] = tg_expand(tape, tg_reshape(tape, dout, x->ndim, kshape), x->ndim, x->shape);
    return din[0] ? TG_OK : tg_last_status();
}

const tg_op_def tg__op_sum = {TG_OP_SUM, "tg_sum_axes", 1, sum_infer, sum_forward,
                              sum_backward};

tg_tensor *tg_sum_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                       bool keepdim) {
    if (tg__check_inputs(tape, &tg__op_sum, 1, &x)) return NULL;
    tg_attrs at = {.flags = keepdim ? 1u : 0u};
    if (axes_mask(x, n_axes, axes, "tg_sum_axes", &at.i[0])) return NULL;
    return tg__apply(tape, &tg__op_sum, 1, &x, &at);
}

tg_tensor *tg_sum(tg_tape *tape, tg_tensor *x) {
    if (tg__check_inputs(tape, &tg__op_sum, 1, &x)) return NULL;
    tg_attrs at = {.i = {((int64_t)1 << x->ndim) - 1}};
    return tg__apply(tape, &tg__op_sum, 1, &x, &at);
}

// ---- mean = sum / count (composed: no rule of its own) ----

tg_tensor *tg_mean_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                        bool keepdim) {
    if (tg__check_inputs(tape, &tg__op_sum, 1, &x)) return NULL;
    int64_t mask, count = 1;
    if (axes_mask(x, n_axes, axes, "tg_mean_axes", &mask)) return NULL;
    for (int i = 0; i < x->ndim; i++)
        if ((mask >> i) & 1) count *= x->shape[i];
    return tg_mul_scalar(tape, tg_sum_axes(tape, x, n_axes, axes, keepdim),
                         count ? 1.0 / (double)count : (double)NAN);
}

tg_tensor *tg_mean(tg_tape *tape, tg_tensor *x) {
    if (tg__check_inputs(tape, &tg__op_sum, 1, &x)) return NULL;
    return tg_mul_scalar(tape, tg_sum(tape, x), x->numel ? 1.0 / (double)x->numel : (double)NAN);
}

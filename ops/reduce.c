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

// The reductions' parameters: the reduced axes as a bit mask, and whether they stay as 1s.
typedef struct {
    int64_t mask;
    bool keepdim;
} reduce_params;

static int64_t mask_of(const tg_node *node) {
    return ((const reduce_params *)tg__node_params(node))->mask;
}

// ---- sum: y = sum over axes of x    dx = dy expanded back to x's shape ----

static int sum_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                     int64_t *shape) {
    (void)n;
    const tg_tensor *x = in[0];
    const reduce_params *p = params;
    int64_t mask = p->mask;
    bool keepdim = p->keepdim;
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (!((mask >> i) & 1)) shape[nd++] = x->shape[i];
        else if (keepdim) shape[nd++] = 1;
    }
    *ndim = nd;
    return TG_OK;
}

// y = reduce over the masked axes of x with kernel `kind`.
static int reduce_forward(tg_tensor *const *in, const void *params, tg_tensor *out, int kind,
                          const char *name) {
    const tg_tensor *x = in[0];
    const reduce_params *p = params;
    tg_backend *be = out->be;
    tg_view vx = tg__view_of(x), vy = vx;
    int64_t st = 1;
    vy.data = out->data;
    for (int i = x->ndim - 1; i >= 0; i--) {
        if ((p->mask >> i) & 1) {
            vy.stride[i] = 0;
        } else {
            vy.stride[i] = st;
            st *= x->shape[i];
        }
    }
    if (x->numel == 0) {
        if (kind != TG_REDUCE_KIND_SUM) {
            tg__fail(TG_ERR_SHAPE, name, "cannot reduce an empty tensor");
            return TG_ERR_SHAPE;
        }
        tg_view o = tg__view_of(out);
        return tg__k_fill(name, be, &o, 0.0);
    }
    return tg__k_reduce(name, be, kind, &vx, &vy);
}

static int sum_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return reduce_forward(in, params, out, TG_REDUCE_KIND_SUM, "tg_sum_axes");
}

static int sum_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    const tg_tensor *x = node->in[0];
    int64_t kshape[TG_MAX_DIMS] = {0};
    keepdim_shape(x, mask_of(node), kshape);
    din[0] = tg_expand(tape, tg_reshape(tape, dout, x->ndim, kshape), x->ndim, x->shape);
    return din[0] ? TG_OK : tg_last_status();
}

const tg_op_def tg__op_sum = {
    .id = TG_OP_SUM, .name = "tg_sum_axes", .arity = 1,
    .infer = sum_infer, .forward = sum_forward, .backward = sum_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(reduce_params),
};

tg_tensor *tg_sum_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                       bool keepdim) {
    if (tg__check_inputs(tape, &tg__op_sum, 1, &x)) return NULL;
    reduce_params p = {.keepdim = keepdim};
    if (axes_mask(x, n_axes, axes, "tg_sum_axes", &p.mask)) return NULL;
    return tg__apply(tape, &tg__op_sum, 1, &x, &p);
}

// Descriptors used only to name composed functions in input-check errors.
static const tg_op_def name_sum = {.name = "tg_sum", .arity = 1};
static const tg_op_def name_mean = {.name = "tg_mean", .arity = 1};
static const tg_op_def name_mean_axes = {.name = "tg_mean_axes", .arity = 1};
static const tg_op_def name_var = {.name = "tg_var", .arity = 1};
static const tg_op_def name_lse = {.name = "tg_logsumexp", .arity = 1};

tg_tensor *tg_sum(tg_tape *tape, tg_tensor *x) {
    if (tg__check_inputs(tape, &name_sum, 1, &x)) return NULL;
    reduce_params p = {((int64_t)1 << x->ndim) - 1, false};
    return tg__apply(tape, &tg__op_sum, 1, &x, &p);
}

// ---- mean = sum / count (composed: no rule of its own) ----

tg_tensor *tg_mean_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes,
                        bool keepdim) {
    if (tg__check_inputs(tape, &name_mean_axes, 1, &x)) return NULL;
    int64_t mask, count = 1;
    if (axes_mask(x, n_axes, axes, "tg_mean_axes", &mask)) return NULL;
    for (int i = 0; i < x->ndim; i++)
        if ((mask >> i) & 1) count *= x->shape[i];
    return tg_mul_scalar(tape, tg_sum_axes(tape, x, n_axes, axes, keepdim),
                         count ? 1.0 / (double)count : (double)NAN);
}

tg_tensor *tg_mean(tg_tape *tape, tg_tensor *x) {
    if (tg__check_inputs(tape, &name_mean, 1, &x)) return NULL;
    return tg_mul_scalar(tape, tg_sum(tape, x), x->numel ? 1.0 / (double)x->numel : (double)NAN);
}

// ---- max / min over axes: y = max x    dx = dy * (x == y) / count(x == y) ----
// (ties share the gradient evenly, like torch.amax / torch.amin)

static int max_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return reduce_forward(in, params, out, TG_REDUCE_KIND_MAX, "tg_max_axes");
}
static int min_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return reduce_forward(in, params, out, TG_REDUCE_KIND_MIN, "tg_min_axes");
}

static int extreme_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                            tg_tensor **din) {
    tg_tensor *x = node->in[0];
    int64_t kshape[TG_MAX_DIMS] = {0};
    keepdim_shape(x, mask_of(node), kshape);
    int axes[TG_MAX_DIMS], na = 0;
    for (int i = 0; i < x->ndim; i++)
        if ((mask_of(node) >> i) & 1) axes[na++] = i;
    tg_tensor *y = tg_reshape(tape, node->out, x->ndim, kshape);
    tg_tensor *mask = tg_eq(tape, x, y);
    tg_tensor *count = na ? tg_sum_axes(tape, mask, na, axes, true) : mask;
    tg_tensor *g = tg_div(tape, tg_reshape(tape, dout, x->ndim, kshape), count);
    din[0] = tg_mul(tape, mask, g);
    return tg__rule_status(din[0]);
}

const tg_op_def tg__op_max = {
    .id = TG_OP_MAX, .name = "tg_max_axes", .arity = 1,
    .infer = sum_infer, .forward = max_forward, .backward = extreme_backward,
    .params_size = sizeof(reduce_params),
};
const tg_op_def tg__op_min = {
    .id = TG_OP_MIN, .name = "tg_min_axes", .arity = 1,
    .infer = sum_infer, .forward = min_forward, .backward = extreme_backward,
    .params_size = sizeof(reduce_params),
};

static tg_tensor *reduce_op(tg_tape *tape, const tg_op_def *def, tg_tensor *x, int n_axes,
                            const int *axes, bool keepdim, bool all) {
    if (tg__check_inputs(tape, def, 1, &x)) return NULL;
    reduce_params p = {.keepdim = keepdim};
    if (all) p.mask = ((int64_t)1 << x->ndim) - 1;
    else if (axes_mask(x, n_axes, axes, def->name, &p.mask)) return NULL;
    return tg__apply(tape, def, 1, &x, &p);
}

tg_tensor *tg_max_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes, bool keepdim) {
    return reduce_op(tape, &tg__op_max, x, n_axes, axes, keepdim, false);
}
tg_tensor *tg_min_axes(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes, bool keepdim) {
    return reduce_op(tape, &tg__op_min, x, n_axes, axes, keepdim, false);
}
tg_tensor *tg_max(tg_tape *tape, tg_tensor *x) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_max", mark, reduce_op(tape, &tg__op_max, x, 0, NULL, false, true));
}
tg_tensor *tg_min(tg_tape *tape, tg_tensor *x) {
    unsigned mark = tg_error_mark();
    return tg__named("tg_min", mark, reduce_op(tape, &tg__op_min, x, 0, NULL, false, true));
}

// ---- argmax / argmin along one axis: first extremum's index; no gradient ----

static int argmax_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return reduce_forward(in, params, out, TG_REDUCE_KIND_ARGMAX, "tg_argmax");
}
static int argmin_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return reduce_forward(in, params, out, TG_REDUCE_KIND_ARGMIN, "tg_argmin");
}
const tg_op_def tg__op_argmax = {
    .id = TG_OP_ARGMAX, .name = "tg_argmax", .arity = 1,
    .infer = sum_infer, .forward = argmax_forward,
};
const tg_op_def tg__op_argmin = {
    .id = TG_OP_ARGMIN, .name = "tg_argmin", .arity = 1,
    .infer = sum_infer, .forward = argmin_forward,
};

tg_tensor *tg_argmax(tg_tape *tape, tg_tensor *x, int axis, bool keepdim) {
    return reduce_op(tape, &tg__op_argmax, x, 1, &axis, keepdim, false);
}
tg_tensor *tg_argmin(tg_tape *tape, tg_tensor *x, int axis, bool keepdim) {
    return reduce_op(tape, &tg__op_argmin, x, 1, &axis, keepdim, false);
}

// ---- composed statistics ----

// var = sum((x - mean)^2) / (N - correction); N - correction <= 0 divides by 0 as torch
// (inf, or NaN for a zero sum such as one value with correction 1)
tg_tensor *tg_var(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes, int correction,
                  bool keepdim) {
    if (tg__check_inputs(tape, &name_var, 1, &x)) return NULL;
    int64_t mask, count = 1;
    if (axes_mask(x, n_axes, axes, "tg_var", &mask)) return NULL;
    for (int i = 0; i < x->ndim; i++)
        if ((mask >> i) & 1) count *= x->shape[i];
    tg_tensor *d = tg_sub(tape, x, tg_mean_axes(tape, x, n_axes, axes, true));
    tg_tensor *ss = tg_sum_axes(tape, tg_mul(tape, d, d), n_axes, axes, keepdim);
    double denom = (double)(count - correction);
    return tg_mul_scalar(tape, ss, denom > 0 ? 1.0 / denom : (double)INFINITY);
}

// std = sqrt(var), with torch's gradient at zero spread: 0 where std == 0 (torch's
// std_backward masks it), not dy / (2 std) = inf times x - mean = 0. There the sqrt sees 1
// and the result is a constant 0, so nothing reaches var; composed, so it differentiates again.
tg_tensor *tg_std(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes, int correction,
                  bool keepdim) {
    unsigned mark = tg_error_mark();
    tg_tensor *v = tg_var(tape, x, n_axes, axes, correction, keepdim);
    tg_tensor *flat = tg_eq_scalar(tape, v, 0.0);
    tg_tensor *s = tg_sqrt(tape, tg_where(tape, flat, tg__scalar_like(tape, v, 1.0), v));
    return tg__named("tg_std", mark, tg_where(tape, flat, tg__scalar_like(tape, v, 0.0), s));
}

// logsumexp = m + log(sum(exp(x - m))), m = max (detached: the result does not depend on
// it, and detaching keeps the max's tie rule out of the gradient). Infinite maxima are
// replaced by 0 so that all -inf rows give -inf, not NaN.
tg_tensor *tg_logsumexp(tg_tape *tape, tg_tensor *x, int n_axes, const int *axes, bool keepdim) {
    int64_t mask0;
    if (tg__check_inputs(tape, &name_lse, 1, &x) || axes_mask(x, n_axes, axes, "tg_logsumexp", &mask0))
        return NULL;
    tg_tensor *m = tg_detach(tape, tg_max_axes(tape, x, n_axes, axes, true));
    if (m) m = tg_where(tape, tg_lt_scalar(tape, tg_abs(tape, m), (double)INFINITY), m,
                        tg__scalar_like(tape, m, 0.0));
    tg_tensor *s = tg_sum_axes(tape, tg_exp(tape, tg_sub(tape, x, m)), n_axes, axes, true);
    tg_tensor *r = tg_add(tape, tg_log(tape, s), m);
    if (!r || keepdim) return r;
    int64_t shape[TG_MAX_DIMS];
    int nd = 0;
    int64_t mask;
    if (axes_mask(x, n_axes, axes, "tg_logsumexp", &mask)) return NULL;
    for (int i = 0; i < x->ndim; i++)
        if (!((mask >> i) & 1)) shape[nd++] = x->shape[i];
    return tg_reshape(tape, r, nd, shape);
}

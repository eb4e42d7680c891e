// Slicing and joining: permute, slice and its adjoint slice_scatter, concat; stack,
// squeeze, unsqueeze and flatten are composed from them and reshape.
#include "ops/op_table.h"

// A view of the elements of t selected along `axis` by (start, len, step).
static tg_view slice_view(const tg_tensor *t, int axis, int64_t start, int64_t len,
                          int64_t step) {
    tg_view v = tg__view_of(t);
    v.data = (char *)t->data + (size_t)(start * v.stride[axis]) * tg_dtype_size(t->dtype);
    v.shape[axis] = len;
    if (len > 1) v.stride[axis] *= step;   // then step < shape[axis]: no overflow
    return v;
}

// slice's and slice_scatter's parameters, normalised: len elements from start by step.
typedef struct {
    int axis;
    int64_t start, len, step;
} slice_params;

static tg_view slice_view_of(const tg_tensor *t, const slice_params *p) {
    return slice_view(t, p->axis, p->start, p->len, p->step);
}

// One past the last element a slice takes (start when it is empty): never past the axis,
// even when the step is huge.
static int64_t slice_stop(const slice_params *p) {
    return p->len > 0 ? p->start + (p->len - 1) * p->step + 1 : p->start;
}

static int copy_into(const char *name, const tg_view *src, tg_view *dst, tg_backend *be) {
    for (int i = 0; i < dst->ndim; i++)
        if (dst->shape[i] == 0) return TG_OK;
    return tg__k_unary_view(name, be, TG_UNARY_COPY, src, dst, 0, 0);
}

// ---- permute: y.shape[i] = x.shape[perm[i]]    dx = permute(dy, inverse(perm)) ----

typedef struct {
    int perm[TG_MAX_DIMS];   // normalised to [0, ndim)
} permute_params;

static int permute_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                         int64_t *shape) {
    (void)n;
    const tg_tensor *x = in[0];
    const permute_params *p = params;
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[p->perm[i]];
    *ndim = x->ndim;
    return TG_OK;
}

static int permute_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const permute_params *p = params;
    tg_view x = tg__view_of(in[0]), v = x;
    for (int i = 0; i < x.ndim; i++) {
        v.shape[i] = x.shape[p->perm[i]];
        v.stride[i] = x.stride[p->perm[i]];
    }
    return tg__k_unary("tg_permute", TG_UNARY_COPY, &v, out, 0, 0);
}

static int permute_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                            tg_tensor **din) {
    const permute_params *p = tg__node_params(node);
    int inv[TG_MAX_DIMS];
    for (int i = 0; i < node->in[0]->ndim; i++) inv[p->perm[i]] = i;
    din[0] = tg_permute(tape, dout, inv);
    return tg__rule_status(din[0]);
}

const tg_op_def tg__op_permute = {
    .id = TG_OP_PERMUTE, .name = "tg_permute", .arity = 1,
    .infer = permute_infer, .forward = permute_forward, .backward = permute_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(permute_params),
};

tg_tensor *tg_permute(tg_tape *tape, tg_tensor *x, const int *perm) {
    if (tg__check_inputs(tape, &tg__op_permute, 1, &x)) return NULL;
    permute_params prm = {{0}};
    unsigned seen = 0;
    for (int i = 0; i < x->ndim; i++) {
        int p = perm ? (perm[i] < 0 ? perm[i] + x->ndim : perm[i]) : -1;
        if (p < 0 || p >= x->ndim || (seen >> p) & 1u) {
            char s[160];
            tg__fail(TG_ERR_INVALID_ARG, "tg_permute",
                     "perm is not a permutation of 0..%d for shape %s", x->ndim - 1,
                     tg__shape_str(s, sizeof s, x->ndim, x->shape));
            return NULL;
        }
        seen |= 1u << p;
        prm.perm[i] = p;
    }
    return tg__apply(tape, &tg__op_permute, 1, &x, &prm);
}

// ---- slice: y = x[start:stop:step] along axis    dx = slice_scatter(0, dy) ----

static int slice_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                       int64_t *shape) {
    const slice_params *p = params;
    int st = tg__infer_same(in, n, params, ndim, shape);
    shape[p->axis] = p->len;
    return st;
}

static int slice_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    tg_view v = slice_view_of(in[0], params);
    return tg__k_unary("tg_slice", TG_UNARY_COPY, &v, out, 0, 0);
}

static int slice_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                          tg_tensor **din) {
    const tg_tensor *x = node->in[0];
    const slice_params *p = tg__node_params(node);
    tg_tensor *zeros = tg_full(tape, x->be, x->dtype, x->ndim, x->shape, 0.0);
    din[0] = tg_slice_scatter(tape, zeros, dout, p->axis, p->start, slice_stop(p), p->step);
    return tg__rule_status(din[0]);
}

const tg_op_def tg__op_slice = {
    .id = TG_OP_SLICE, .name = "tg_slice", .arity = 1,
    .infer = slice_infer, .forward = slice_forward, .backward = slice_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(slice_params),
};

// Python slice semantics for a positive step.
static int slice_params_of(const tg_tensor *x, int axis, int64_t start, int64_t stop,
                           int64_t step, const char *name, slice_params *p) {
    char s[160];
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a < 0 || a >= x->ndim || step <= 0) {
        tg__fail(TG_ERR_INVALID_ARG, name, "axis %d / step %lld invalid for shape %s", axis,
                 (long long)step, tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return TG_ERR_INVALID_ARG;
    }
    int64_t n = x->shape[a];
    if (start < 0) start += n;
    if (stop < 0) stop += n;
    start = start < 0 ? 0 : (start > n ? n : start);
    stop = stop < 0 ? 0 : (stop > n ? n : stop);
    int64_t len = stop > start ? (stop - start - 1) / step + 1 : 0;   // no overflow at huge step
    *p = (slice_params){a, start, len, step};
    return TG_OK;
}

tg_tensor *tg_slice(tg_tape *tape, tg_tensor *x, int axis, int64_t start, int64_t stop,
                    int64_t step) {
    if (tg__check_inputs(tape, &tg__op_slice, 1, &x)) return NULL;
    slice_params p;
    if (slice_params_of(x, axis, start, stop, step, "tg_slice", &p)) return NULL;
    return tg__apply(tape, &tg__op_slice, 1, &x, &p);
}

// ---- slice_scatter: y = base with y[slice] = src
//      dbase = slice_scatter(dy, 0), dsrc = slice(dy) ----

static int slice_scatter_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                               int64_t *shape) {
    const tg_tensor *base = in[0], *src = in[1];
    const slice_params *p = params;
    bool ok = src->ndim == base->ndim;
    for (int i = 0; ok && i < base->ndim; i++)
        ok = src->shape[i] == (i == p->axis ? p->len : base->shape[i]);
    if (!ok) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, "tg_slice_scatter",
                 "src %s does not match the slice of base %s (axis %lld, %lld elements)",
                 tg__shape_str(s1, sizeof s1, src->ndim, src->shape),
                 tg__shape_str(s2, sizeof s2, base->ndim, base->shape), (long long)p->axis,
                 (long long)p->len);
        return TG_ERR_SHAPE;
    }
    return tg__infer_same(in, n, params, ndim, shape);
}

static int slice_scatter_forward(tg_tensor *const *in, int n, const void *params,
                                 tg_tensor *out) {
    (void)n;
    int st = tg__be_copy(out->be, out->data, in[0]->data, out->nbytes);
    if (st) return st;
    tg_view dst = slice_view_of(out, params);
    tg_view src = tg__view_of(in[1]);
    return copy_into("tg_slice_scatter", &src, &dst, out->be);
}

static int slice_scatter_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                                  tg_tensor **din) {
    const slice_params *p = tg__node_params(node);
    int64_t stop = slice_stop(p);
    if (tg__needs_grad(node, 0)) {
        const tg_tensor *src = node->in[1];
        tg_tensor *zeros = tg_full(tape, src->be, src->dtype, src->ndim, src->shape, 0.0);
        din[0] = tg_slice_scatter(tape, dout, zeros, p->axis, p->start, stop, p->step);
        if (!din[0]) return tg_last_status();
    }
    if (tg__needs_grad(node, 1)) {
        din[1] = tg_slice(tape, dout, p->axis, p->start, stop, p->step);
        if (!din[1]) return tg_last_status();
    }
    return TG_OK;
}

const tg_op_def tg__op_slice_scatter = {
    .id = TG_OP_SLICE_SCATTER, .name = "tg_slice_scatter", .arity = 2,
    .infer = slice_scatter_infer,
    .forward = slice_scatter_forward,
    .backward = slice_scatter_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(slice_params),
};

tg_tensor *tg_slice_scatter(tg_tape *tape, tg_tensor *base, tg_tensor *src, int axis,
                            int64_t start, int64_t stop, int64_t step) {
    tg_tensor *in[2] = {base, src};
    if (tg__check_inputs(tape, &tg__op_slice_scatter, 2, in)) return NULL;
    slice_params p;
    if (slice_params_of(base, axis, start, stop, step, "tg_slice_scatter", &p)) return NULL;
    return tg__apply(tape, &tg__op_slice_scatter, 2, in, &p);
}

// ---- concat: y = [x0, x1, ...] along axis    dxk = slice of dy ----

typedef struct {
    int axis;   // normalised to [0, ndim)
} concat_params;

static int concat_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                        int64_t *shape) {
    int axis = ((const concat_params *)params)->axis;
    const tg_tensor *x0 = in[0];
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        bool ok = in[k]->ndim == x0->ndim;
        for (int i = 0; ok && i < x0->ndim; i++) ok = i == axis || in[k]->shape[i] == x0->shape[i];
        if (!ok) {
            char s1[160], s2[160];
            tg__fail(TG_ERR_SHAPE, "tg_concat", "input %d %s does not match input 0 %s "
                     "outside axis %d", k, tg__shape_str(s1, sizeof s1, in[k]->ndim, in[k]->shape),
                     tg__shape_str(s2, sizeof s2, x0->ndim, x0->shape), axis);
            return TG_ERR_SHAPE;
        }
        if ((total = tg__add_size(total, in[k]->shape[axis])) < 0) {
            char s1[160];
            tg__fail(TG_ERR_SHAPE, "tg_concat", "sizes along axis %d of %d inputs add up to "
                     "more than 2^59 - 1 (input %d is %s)", axis, n, k,
                     tg__shape_str(s1, sizeof s1, in[k]->ndim, in[k]->shape));
            return TG_ERR_SHAPE;
        }
    }
    tg__infer_same(in, n, params, ndim, shape);
    shape[axis] = total;
    return TG_OK;
}

static int concat_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    int axis = ((const concat_params *)params)->axis;
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        tg_view dst = slice_view(out, axis, off, in[k]->shape[axis], 1);
        tg_view src = tg__view_of(in[k]);
        int st = copy_into("tg_concat", &src, &dst, out->be);
        if (st) return st;
        off += in[k]->shape[axis];
    }
    return TG_OK;
}

static int concat_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    int axis = ((const concat_params *)tg__node_params(node))->axis;
    int64_t off = 0;
    for (int k = 0; k < node->n_in; k++) {
        tg_tensor *x = tg__node_input(node, k);
        int64_t len = x->shape[axis];
        if (x->requires_grad && !(din[k] = tg_slice(tape, dout, axis, off, off + len, 1)))
            return tg_last_status();
        off += len;
    }
    return TG_OK;
}

const tg_op_def tg__op_concat = {
    .id = TG_OP_CONCAT, .name = "tg_concat", .arity = -1,
    .infer = concat_infer, .forward = concat_forward, .backward = concat_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(concat_params),
};

tg_tensor *tg_concat(tg_tape *tape, int n, tg_tensor *const *xs, int axis) {
    if (n <= 0 || !xs) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_concat", "need n >= 1 tensors, got %d", n);
        return NULL;
    }
    if (tg__check_inputs(tape, &tg__op_concat, n, xs)) return NULL;
    int a = axis < 0 ? axis + xs[0]->ndim : axis;
    if (a < 0 || a >= xs[0]->ndim) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, "tg_concat", "axis %d out of range for shape %s", axis,
                 tg__shape_str(s, sizeof s, xs[0]->ndim, xs[0]->shape));
        return NULL;
    }
    concat_params p = {a};
    return tg__apply(tape, &tg__op_concat, n, xs, &p);
}

// ---- composed ----

tg_tensor *tg_unsqueeze(tg_tape *tape, tg_tensor *x, int axis) {
    if (tg__check_args(tape, "tg_unsqueeze", 1, &x)) return NULL;
    int a = axis < 0 ? axis + x->ndim + 1 : axis;
    if (a < 0 || a > x->ndim || x->ndim >= TG_MAX_DIMS) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, "tg_unsqueeze", "axis %d out of range for shape %s", axis,
                 tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS];
    for (int i = 0, j = 0; i <= x->ndim; i++) shape[i] = i == a ? 1 : x->shape[j++];
    unsigned mark = tg_error_mark();
    return tg__named("tg_unsqueeze", mark, tg_reshape(tape, x, x->ndim + 1, shape));
}

tg_tensor *tg_squeeze(tg_tape *tape, tg_tensor *x, int axis) {
    if (tg__check_args(tape, "tg_squeeze", 1, &x)) return NULL;
    int64_t shape[TG_MAX_DIMS];
    int nd = 0;
    int a = axis == TG_SQUEEZE_ALL ? TG_SQUEEZE_ALL : (axis < 0 ? axis + x->ndim : axis);
    if (a != TG_SQUEEZE_ALL && (a < 0 || a >= x->ndim || x->shape[a] != 1)) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, "tg_squeeze", "axis %d is not a size-1 axis of %s", axis,
                 tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return NULL;
    }
    for (int i = 0; i < x->ndim; i++)
        if (!(x->shape[i] == 1 && (a == TG_SQUEEZE_ALL || a == i))) shape[nd++] = x->shape[i];
    unsigned mark = tg_error_mark();
    return tg__named("tg_squeeze", mark, tg_reshape(tape, x, nd, shape));
}

tg_tensor *tg_flatten(tg_tape *tape, tg_tensor *x, int start, int end) {
    if (tg__check_args(tape, "tg_flatten", 1, &x)) return NULL;
    int s0 = start < 0 ? start + x->ndim : start, e0 = end < 0 ? end + x->ndim : end;
    if (x->ndim == 0) return tg__named("tg_flatten", tg_error_mark(),
                                       tg_reshape(tape, x, 1, (int64_t[]){1}));
    if (s0 < 0 || e0 >= x->ndim || s0 > e0) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, "tg_flatten", "axes [%d, %d] invalid for shape %s", start,
                 end, tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i <= s0 || i > e0) shape[nd++] = x->shape[i];
        else shape[nd - 1] *= x->shape[i];
    }
    unsigned mark = tg_error_mark();
    return tg__named("tg_flatten", mark, tg_reshape(tape, x, nd, shape));
}

tg_tensor *tg_stack(tg_tape *tape, int n, tg_tensor *const *xs, int axis) {
    if (n <= 0 || !xs || n > 4096) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_stack", "need 1..4096 tensors, got %d", n);
        return NULL;
    }
    if (tg__check_args(tape, "tg_stack", n, xs)) return NULL;
    int a = axis < 0 ? axis + xs[0]->ndim + 1 : axis;
    if (a < 0 || a > xs[0]->ndim || xs[0]->ndim >= TG_MAX_DIMS) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, "tg_stack", "axis %d out of range for inputs %s", axis,
                 tg__shape_str(s, sizeof s, xs[0]->ndim, xs[0]->shape));
        return NULL;
    }
    tg_tensor **u = tg__arena_alloc(tape, (size_t)n * sizeof *u);
    if (!u) {
        tg__fail(TG_ERR_OOM, "tg_stack", "out of memory");
        return NULL;
    }
    for (int k = 0; k < n; k++) {
        if (!tg__same_shape(xs[k], xs[0])) {
            char s1[160], s2[160];
            tg__fail(TG_ERR_SHAPE, "tg_stack", "input %d %s differs from input 0 %s", k,
                     tg__shape_str(s1, sizeof s1, xs[k]->ndim, xs[k]->shape),
                     tg__shape_str(s2, sizeof s2, xs[0]->ndim, xs[0]->shape));
            return NULL;
        }
    }
    unsigned mark = tg_error_mark();
    for (int k = 0; k < n; k++) u[k] = tg_unsqueeze(tape, xs[k], axis);
    return tg__named("tg_stack", mark, tg_concat(tape, n, u, axis));
}

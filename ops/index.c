// Index ops: gather and scatter_add along an axis (each the other's gradient), and the
// composed index_select and one_hot; arange and full create constant step tensors.
#include <math.h>

#include "ops/op_table.h"

static int normalize_axis(const tg_tensor *x, int axis, const char *name, int *out) {
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a < 0 || a >= x->ndim) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, name, "axis %d out of range for shape %s", axis,
                 tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return TG_ERR_INVALID_ARG;
    }
    *out = a;
    return TG_OK;
}

// index must have x's ndim and fit inside x on every axis but `axis`.
static int check_index_shape(const tg_tensor *x, const tg_tensor *index, int axis,
                             const char *name) {
    char s1[160], s2[160];
    bool ok = index->ndim == x->ndim;
    for (int i = 0; ok && i < x->ndim; i++) ok = i == axis || index->shape[i] <= x->shape[i];
    if (!ok) {
        tg__fail(TG_ERR_SHAPE, name, "index %s does not fit %s along axis %d",
                 tg__shape_str(s1, sizeof s1, index->ndim, index->shape),
                 tg__shape_str(s2, sizeof s2, x->ndim, x->shape), axis);
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

// The kernels' TG_ERR_INVALID_ARG: a bad index (the door passes it back unworded).
static int index_kernel_failed(int st, const char *name, const tg_tensor *big, int axis) {
    if (st == TG_ERR_INVALID_ARG && !tg__has_error()) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, name,
                 "index out of range or not integral for axis %d of %s (size %lld)", axis,
                 tg__shape_str(s, sizeof s, big->ndim, big->shape),
                 (long long)big->shape[axis]);
    }
    return st;
}

// gather's and scatter_add's parameter: the axis (normalised to [0, ndim)).
typedef struct {
    int axis;
} index_params;

static int axis_of(const void *params) { return ((const index_params *)params)->axis; }

// ---- gather: y[..i..] = x[..index[..i..]..]    dx = scatter_add(0, index, dy) ----

static int gather_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                        int64_t *shape) {
    (void)n;
    const tg_tensor *index = in[1];
    if (check_index_shape(in[0], index, axis_of(params), "tg_gather")) return TG_ERR_SHAPE;
    *ndim = index->ndim;
    for (int i = 0; i < index->ndim; i++) shape[i] = index->shape[i];
    return TG_OK;
}

static int gather_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    tg_view x = tg__view_of(in[0]), idx = tg__view_of(in[1]), y = tg__view_of(out);
    int axis = axis_of(params);
    return index_kernel_failed(tg__k_gather("tg_gather", out->be, axis, &x, &idx, &y),
                               "tg_gather", in[0], axis);
}

static int gather_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    tg_tensor *x = node->in[0];
    tg_tensor *zeros = tg_full(tape, x->be, x->dtype, x->ndim, x->shape, 0.0);
    din[0] = tg_scatter_add(tape, zeros, axis_of(tg__node_params(node)), node->in[1], dout);
    return tg__rule_status(din[0]);
}

const tg_op_def tg__op_gather = {
    .id = TG_OP_GATHER, .name = "tg_gather", .arity = 2,
    .infer = gather_infer, .forward = gather_forward, .backward = gather_backward,
    .params_size = sizeof(index_params),
};

tg_tensor *tg_gather(tg_tape *tape, tg_tensor *x, int axis, tg_tensor *index) {
    tg_tensor *in[2] = {x, index};
    if (tg__check_inputs(tape, &tg__op_gather, 2, in)) return NULL;
    index_params p;
    if (normalize_axis(x, axis, "tg_gather", &p.axis)) return NULL;
    return tg__apply(tape, &tg__op_gather, 2, in, &p);
}

// ---- scatter_add: y = base; y[..index[..i..]..] += src[..i..]
//      dbase = dy, dsrc = gather(dy, index) ----

static int scatter_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                         int64_t *shape) {
    (void)n;
    const tg_tensor *base = in[0], *index = in[1], *src = in[2];
    char s1[160], s2[160];
    if (!tg__same_shape(index, src)) {
        tg__fail(TG_ERR_SHAPE, "tg_scatter_add", "index %s and src %s differ",
                 tg__shape_str(s1, sizeof s1, index->ndim, index->shape),
                 tg__shape_str(s2, sizeof s2, src->ndim, src->shape));
        return TG_ERR_SHAPE;
    }
    if (check_index_shape(base, index, axis_of(params), "tg_scatter_add")) return TG_ERR_SHAPE;
    return tg__infer_same(in, n, params, ndim, shape);
}

static int scatter_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    int st = tg__be_copy(out->be, out->data, in[0]->data, out->nbytes);
    if (st) return st;
    tg_view src = tg__view_of(in[2]), idx = tg__view_of(in[1]), y = tg__view_of(out);
    int axis = axis_of(params);
    return index_kernel_failed(tg__k_scatter_add("tg_scatter_add", out->be, axis, &src, &idx, &y),
                               "tg_scatter_add", out, axis);
}

static int scatter_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                            tg_tensor **din) {
    din[0] = dout;
    if (tg__needs_grad(node, 2)) {
        din[2] = tg_gather(tape, dout, axis_of(tg__node_params(node)), node->in[1]);
        return tg__rule_status(din[2]);
    }
    return TG_OK;
}

const tg_op_def tg__op_scatter_add = {
    .id = TG_OP_SCATTER_ADD, .name = "tg_scatter_add", .arity = 3,
    .infer = scatter_infer, .forward = scatter_forward, .backward = scatter_backward,
    .params_size = sizeof(index_params),
};

tg_tensor *tg_scatter_add(tg_tape *tape, tg_tensor *base, int axis, tg_tensor *index,
                          tg_tensor *src) {
    tg_tensor *in[3] = {base, index, src};
    if (tg__check_inputs(tape, &tg__op_scatter_add, 3, in)) return NULL;
    index_params p;
    if (normalize_axis(base, axis, "tg_scatter_add", &p.axis)) return NULL;
    return tg__apply(tape, &tg__op_scatter_add, 3, in, &p);
}

// ---- composed ----

// index_select = gather with the 1-D index broadcast across the other axes.
tg_tensor *tg_index_select(tg_tape *tape, tg_tensor *x, int axis, tg_tensor *index) {
    tg_tensor *in[2] = {x, index};
    static const tg_op_def def = {.name = "tg_index_select", .arity = 2};
    if (tg__check_inputs(tape, &def, 2, in)) return NULL;
    int a;
    if (normalize_axis(x, axis, "tg_index_select", &a)) return NULL;
    if (index->ndim != 1) {
        char s[160];
        tg__fail(TG_ERR_SHAPE, "tg_index_select", "index must be 1-D, got %s",
                 tg__shape_str(s, sizeof s, index->ndim, index->shape));
        return NULL;
    }
    int64_t ishape[TG_MAX_DIMS], oshape[TG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        ishape[i] = i == a ? index->shape[0] : 1;
        oshape[i] = i == a ? index->shape[0] : x->shape[i];
    }
    unsigned mark = tg_error_mark();
    tg_tensor *idx = tg_expand(tape, tg_reshape(tape, index, x->ndim, ishape), x->ndim, oshape);
    return tg__named("tg_index_select", mark, tg_gather(tape, x, a, idx));
}

// one_hot = scatter of ones into zeros along a new last axis (the kernel checks the range).
tg_tensor *tg_one_hot(tg_tape *tape, tg_tensor *labels, int64_t n_classes) {
    static const tg_op_def def = {.name = "tg_one_hot", .arity = 1};
    if (tg__check_inputs(tape, &def, 1, &labels)) return NULL;
    if (n_classes <= 0 || labels->ndim >= TG_MAX_DIMS) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_one_hot", "need n_classes > 0 (got %lld) and labels "
                 "with fewer than %d dims", (long long)n_classes, TG_MAX_DIMS);
        return NULL;
    }
    int nd = labels->ndim + 1;
    int64_t shape[TG_MAX_DIMS], ishape[TG_MAX_DIMS];
    for (int i = 0; i < labels->ndim; i++) shape[i] = ishape[i] = labels->shape[i];
    shape[nd - 1] = n_classes;
    ishape[nd - 1] = 1;
    if (tg__check_shape(nd, shape, "tg_one_hot")) return NULL;
    unsigned mark = tg_error_mark();
    tg_tensor *zeros = tg_full(tape, labels->be, labels->dtype, nd, shape, 0.0);
    tg_tensor *ones = tg_full(tape, labels->be, labels->dtype, nd, ishape, 1.0);
    tg_tensor *idx = tg_reshape(tape, labels, nd, ishape);
    return tg__named("tg_one_hot", mark, tg_scatter_add(tape, zeros, nd - 1, idx, ones));
}

// ---- constants ----

tg_tensor *tg_full(tg_tape *tape, tg_backend *backend, tg_dtype dtype, int ndim,
                   const int64_t *shape, double value) {
    if (!tape || !backend) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_full", "%s is NULL", tape ? "backend" : "tape");
        return NULL;
    }
    if (tg__check_shape(ndim, shape, "tg_full")) return NULL;
    if (dtype != TG_F32 && dtype != TG_F64) {
        tg__fail(TG_ERR_DTYPE, "tg_full", "unknown dtype %d", (int)dtype);
        return NULL;
    }
    tg_tensor *t = tg__step_new(tape, backend, dtype, ndim, shape, "tg_full");
    if (!t || !t->numel) return t;
    tg_view v = tg__view_of(t);
    return tg__k_fill("tg_full", backend, &v, value) ? NULL : t;
}

tg_tensor *tg_arange(tg_tape *tape, tg_backend *backend, tg_dtype dtype, int64_t n, double start,
                     double step) {
    if (n < 0 || !isfinite(start) || !isfinite(step)) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_arange",
                 "need n >= 0 and a finite start and step, got n %lld, start %g, step %g",
                 (long long)n, start, step);
        return NULL;
    }
    if (tg__check_shape(1, &n, "tg_arange")) return NULL;
    unsigned mark = tg_error_mark();
    tg_tensor *t = tg__named("tg_arange", mark, tg_full(tape, backend, dtype, 1, &n, 0.0));
    if (!t || !n) return t;
    tg_view v = tg__view_of(t);
    return tg__k_unary("tg_arange", TG_UNARY_ARANGE, &v, t, start, step) ? NULL : t;
}

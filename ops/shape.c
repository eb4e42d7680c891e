// Shape ops: reshape (a view, no copy), transpose and expand (strided copies), detach.
#include "ops/op_table.h"

// reshape's and expand's parameter: the target shape (neither rule reads it).
typedef struct {
    int ndim;
    int64_t shape[TG_MAX_DIMS];
} shape_params;

static shape_params shape_params_of(int ndim, const int64_t *shape) {
    shape_params p = {.ndim = ndim};
    for (int i = 0; i < ndim; i++) p.shape[i] = shape[i];
    return p;
}

// ---- reshape: same data, new shape    dx = reshape(dy, x.shape) ----

static int reshape_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                         int64_t *shape) {
    (void)n;
    const tg_tensor *x = in[0];
    const shape_params *p = params;
    char s1[160], s2[160];
    int nd = p->ndim, infer_at = -1;
    int64_t known = 1;
    bool zero = false;
    for (int i = 0; i < nd; i++) {
        shape[i] = p->shape[i];
        if (shape[i] == -1 && infer_at < 0) infer_at = i;
        else if (shape[i] < 0) {
            tg__fail(TG_ERR_SHAPE, "tg_reshape", "bad target shape %s (one -1 at most)",
                     tg__shape_str(s2, sizeof s2, nd, p->shape));
            return TG_ERR_SHAPE;
        } else if ((known = tg__mul_size(known, shape[i] ? shape[i] : 1)) < 0) {
            tg__fail(TG_ERR_SHAPE, "tg_reshape", "target shape %s has too many elements",
                     tg__shape_str(s2, sizeof s2, nd, p->shape));
            return TG_ERR_SHAPE;
        } else if (shape[i] == 0) {
            zero = true;
        }
    }
    if (zero) known = 0;
    if (infer_at >= 0) {
        if (known == 0 || x->numel % known) {
            tg__fail(TG_ERR_SHAPE, "tg_reshape", "cannot reshape %s into %s",
                     tg__shape_str(s1, sizeof s1, x->ndim, x->shape),
                     tg__shape_str(s2, sizeof s2, nd, p->shape));
            return TG_ERR_SHAPE;
        }
        shape[infer_at] = x->numel / known;
        known *= shape[infer_at];
    }
    if (known != x->numel) {
        tg__fail(TG_ERR_SHAPE, "tg_reshape", "cannot reshape %s (%lld elements) into %s",
                 tg__shape_str(s1, sizeof s1, x->ndim, x->shape), (long long)x->numel,
                 tg__shape_str(s2, sizeof s2, nd, p->shape));
        return TG_ERR_SHAPE;
    }
    *ndim = nd;
    return TG_OK;
}

static int reshape_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                            tg_tensor **din) {
    const tg_tensor *x = node->in[0];
    din[0] = tg_reshape(tape, dout, x->ndim, x->shape);
    return din[0] ? TG_OK : tg_last_status();
}

const tg_op_def tg__op_reshape = {
    .id = TG_OP_RESHAPE, .name = "tg_reshape", .arity = 1,
    .infer = reshape_infer, .backward = reshape_backward,
    .unread = TG_UNREAD_ALL,
};

tg_tensor *tg_reshape(tg_tape *tape, tg_tensor *x, int ndim, const int64_t *shape) {
    if (tg__check_inputs(tape, &tg__op_reshape, 1, &x)) return NULL;
    if (ndim < 0 || ndim > TG_MAX_DIMS || (ndim > 0 && !shape)) {
        tg__fail(TG_ERR_SHAPE, "tg_reshape", "ndim %d outside 0..%d or shape NULL", ndim,
                 TG_MAX_DIMS);
        return NULL;
    }
    shape_params p = shape_params_of(ndim, shape);
    int nd;
    int64_t out_shape[TG_MAX_DIMS];
    if (reshape_infer(&x, 1, &p, &nd, out_shape)) return NULL;
    tg_tensor *y = tg__step_view(tape, x, nd, out_shape, "tg_reshape");
    return y ? tg__record(tape, &tg__op_reshape, 1, &x, &p, y) : NULL;
}

// ---- transpose: swap two axes (contiguous copy)    dx = transpose(dy) ----

typedef struct {
    int d0, d1;   // the axes swapped, in [0, ndim)
} transpose_params;

static int transpose_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                           int64_t *shape) {
    (void)n;
    const tg_tensor *x = in[0];
    *ndim = x->ndim;
    const transpose_params *p = params;
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[p->d0] = x->shape[p->d1];
    shape[p->d1] = x->shape[p->d0];
    return TG_OK;
}

static int transpose_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    tg_view v = tg__view_of(in[0]);
    const transpose_params *p = params;
    int d0 = p->d0, d1 = p->d1;
    int64_t t = v.stride[d0];
    v.stride[d0] = v.stride[d1];
    v.stride[d1] = t;
    v.shape[d0] = out->shape[d0];
    v.shape[d1] = out->shape[d1];
    return tg__k_unary("tg_transpose", TG_UNARY_COPY, &v, out, 0, 0);
}

static int transpose_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                              tg_tensor **din) {
    const transpose_params *p = tg__node_params(node);
    din[0] = tg_transpose(tape, dout, p->d0, p->d1);
    return din[0] ? TG_OK : tg_last_status();
}

const tg_op_def tg__op_transpose = {
    .id = TG_OP_TRANSPOSE, .name = "tg_transpose", .arity = 1,
    .infer = transpose_infer, .forward = transpose_forward, .backward = transpose_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(transpose_params),
};

tg_tensor *tg_transpose(tg_tape *tape, tg_tensor *x, int dim0, int dim1) {
    if (tg__check_inputs(tape, &tg__op_transpose, 1, &x)) return NULL;
    int d0 = dim0 < 0 ? dim0 + x->ndim : dim0, d1 = dim1 < 0 ? dim1 + x->ndim : dim1;
    if (d0 < 0 || d0 >= x->ndim || d1 < 0 || d1 >= x->ndim) {
        char s[160];
        tg__fail(TG_ERR_INVALID_ARG, "tg_transpose", "axes (%d, %d) out of range for shape %s",
                 dim0, dim1, tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return NULL;
    }
    transpose_params p = {d0, d1};
    return tg__apply(tape, &tg__op_transpose, 1, &x, &p);
}

// ---- expand: broadcast x to a shape (copy)    dx = dy (the core sums it back) ----

static int expand_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                        int64_t *shape) {
    (void)n;
    const tg_tensor *x = in[0];
    const shape_params *p = params;
    int nd = p->ndim;
    char s1[160], s2[160];
    for (int i = 0; i < nd; i++) shape[i] = p->shape[i];
    bool ok = nd >= x->ndim;
    for (int i = 0; ok && i < x->ndim; i++) {
        int64_t d = x->shape[i], t = shape[i + nd - x->ndim];
        ok = t >= 0 && (d == t || d == 1);
    }
    if (!ok) {
        tg__fail(TG_ERR_SHAPE, "tg_expand", "cannot broadcast %s to %s",
                 tg__shape_str(s1, sizeof s1, x->ndim, x->shape),
                 tg__shape_str(s2, sizeof s2, nd, shape));
        return TG_ERR_SHAPE;
    }
    *ndim = nd;
    return TG_OK;
}

static int expand_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    tg_view v = tg__view_bcast(in[0], out->ndim, out->shape);
    return tg__k_unary("tg_expand", TG_UNARY_COPY, &v, out, 0, 0);
}

static int expand_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    (void)tape, (void)node;
    din[0] = dout;
    return TG_OK;
}

const tg_op_def tg__op_expand = {
    .id = TG_OP_EXPAND, .name = "tg_expand", .arity = 1,
    .infer = expand_infer, .forward = expand_forward, .backward = expand_backward,
    .unread = TG_UNREAD_ALL,
};

tg_tensor *tg_expand(tg_tape *tape, tg_tensor *x, int ndim, const int64_t *shape) {
    if (tg__check_inputs(tape, &tg__op_expand, 1, &x)) return NULL;
    if (ndim < 0 || ndim > TG_MAX_DIMS || (ndim > 0 && !shape)) {
        tg__fail(TG_ERR_SHAPE, "tg_expand", "ndim %d outside 0..%d or shape NULL", ndim,
                 TG_MAX_DIMS);
        return NULL;
    }
    shape_params p = shape_params_of(ndim, shape);
    return tg__apply(tape, &tg__op_expand, 1, &x, &p);
}

// ---- detach: same data, a new leaf with no gradient ----

tg_tensor *tg_detach(tg_tape *tape, tg_tensor *x) {
    static const tg_op_def detach_def = {.name = "tg_detach", .arity = 1};
    if (tg__check_inputs(tape, &detach_def, 1, &x)) return NULL;
    return tg__step_view(tape, x, x->ndim, x->shape, "tg_detach");
}

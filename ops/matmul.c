// Matrix products through the backend's gemm; transposes are strides, never copies.
#include "ops/op_table.h"

// matmul's and addmm's parameters: which operands enter transposed.
typedef struct {
    bool ta, tb;
} mm_params;

// ---- matmul: y = op(a) @ op(b)
//      da = dy @ op(b)^T      (if trans_a: da = op(b) @ dy^T)
//      db = op(a)^T @ dy      (if trans_b: db = dy^T @ op(a)) ----

static int matmul_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                        int64_t *shape) {
    (void)n;
    const tg_tensor *a = in[0], *b = in[1];
    char s1[160], s2[160];
    const mm_params *p = params;
    bool ta = p->ta, tb = p->tb;
    if (a->ndim < 2 || b->ndim < 2) {
        tg__fail(TG_ERR_SHAPE, "tg_matmul", "need inputs with at least 2 dims, got %s @ %s",
                 tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                 tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
        return TG_ERR_SHAPE;
    }
    int ra = a->ndim, rb = b->ndim;
    int64_t m = ta ? a->shape[ra - 1] : a->shape[ra - 2];
    int64_t ka = ta ? a->shape[ra - 2] : a->shape[ra - 1];
    int64_t kb = tb ? b->shape[rb - 1] : b->shape[rb - 2];
    int64_t nn = tb ? b->shape[rb - 2] : b->shape[rb - 1];
    if (ka != kb) {
        tg__fail(TG_ERR_SHAPE, "tg_matmul", "inner dimensions differ: %s%s @ %s%s",
                 tg__shape_str(s1, sizeof s1, a->ndim, a->shape), ta ? "^T" : "",
                 tg__shape_str(s2, sizeof s2, b->ndim, b->shape), tb ? "^T" : "");
        return TG_ERR_SHAPE;
    }
    // batch dims broadcast like NumPy
    int nb = (ra > rb ? ra : rb) - 2;
    for (int i = 0; i < nb; i++) {
        int ia = i - (nb - (ra - 2)), ib = i - (nb - (rb - 2));
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            tg__fail(TG_ERR_SHAPE, "tg_matmul", "batch dimensions do not broadcast: %s @ %s",
                     tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                     tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
            return TG_ERR_SHAPE;
        }
        shape[i] = da == 1 ? db : da;
    }
    *ndim = nb + 2;
    shape[nb] = m;
    shape[nb + 1] = nn;
    return TG_OK;
}

// Element offset of matrix `bi` (flat over y's batch dims) inside operand t.
static int64_t batch_offset(const tg_tensor *t, const tg_tensor *y, int64_t bi) {
    int nb = y->ndim - 2, tb = t->ndim - 2;
    int64_t off = 0, stride = t->shape[t->ndim - 1] * t->shape[t->ndim - 2];
    for (int i = nb - 1; i >= 0; i--) {
        int64_t idx = bi % y->shape[i];
        bi /= y->shape[i];
        int j = i - (nb - tb);
        if (j < 0) continue;
        if (t->shape[j] != 1) off += idx * stride;
        stride *= t->shape[j];
    }
    return off;
}

// out = op(a) @ op(b) + beta * out (beta 0 or 1), batched with broadcasting.
static int matmul_into(const tg_tensor *a, const tg_tensor *b, bool ta, bool tb, double beta,
                       tg_tensor *out) {
    tg_backend *be = out->be;
    int ra = a->ndim, rb = b->ndim, ro = out->ndim;
    int64_t a_cols = a->shape[ra - 1], b_cols = b->shape[rb - 1];
    int64_t mm = out->shape[ro - 2], nn = out->shape[ro - 1];
    tg_gemm_desc d = {
        .dtype = (int)out->dtype,
        .m = mm,
        .n = nn,
        .k = ta ? a->shape[ra - 2] : a_cols,
        .batch = 1,
        .alpha = 1.0,
        .beta = beta,
        .a_rs = ta ? 1 : a_cols, .a_cs = ta ? a_cols : 1,
        .b_rs = tb ? 1 : b_cols, .b_cs = tb ? b_cols : 1,
        .c_rs = nn, .c_cs = 1,
    };
    if (d.k == 0) {
        if (beta != 0) return TG_OK;
        tg_view o = tg__view_of(out);
        return tg__k_fill("tg_matmul", be, &o, 0.0);
    }
    int64_t batch = out->numel / (mm * nn);
    size_t es = tg_dtype_size(out->dtype);
    // One strided-batched call when each operand is either full-batch or a single matrix.
    int64_t a_mat = a->numel / (a->shape[ra - 1] * a->shape[ra - 2]);
    int64_t b_mat = b->numel / (b->shape[rb - 1] * b->shape[rb - 2]);
    bool simple = (a_mat == batch || a_mat == 1) && (b_mat == batch || b_mat == 1);
    int st = TG_OK;
    if (simple) {
        d.batch = batch;
        d.a = a->data, d.a_bs = a_mat == 1 ? 0 : a->shape[ra - 1] * a->shape[ra - 2];
        d.b = b->data, d.b_bs = b_mat == 1 ? 0 : b->shape[rb - 1] * b->shape[rb - 2];
        d.c = out->data, d.c_bs = mm * nn;
        st = tg__k_gemm("tg_matmul", be, &d);
    } else {
        for (int64_t i = 0; i < batch && !st; i++) {
            d.a = (const char *)a->data + (size_t)batch_offset(a, out, i) * es;
            d.b = (const char *)b->data + (size_t)batch_offset(b, out, i) * es;
            d.c = (char *)out->data + (size_t)(i * mm * nn) * es;
            st = tg__k_gemm("tg_matmul", be, &d);
        }
    }
    return st;
}

static int matmul_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const mm_params *p = params;
    return matmul_into(in[0], in[1], p->ta, p->tb, 0.0, out);
}

// db as a product op(x) @ op(y), which the core may have written into b's gradient.
typedef struct {
    tg_tensor *x, *y;
    bool tx, ty;
} db_product;

static int write_product(tg_tensor *dst, double beta, void *ctx) {
    const db_product *p = ctx;
    return matmul_into(p->x, p->y, p->tx, p->ty, beta, dst);
}

static int matmul_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    tg_tensor *a = node->in[0], *b = node->in[1];
    const mm_params *p = tg__node_params(node);
    bool ta = p->ta, tb = p->tb;
    if (tg__needs_grad(node, 0)) {
        din[0] = ta ? tg_matmul_ex(tape, b, dout, tb, true) : tg_matmul_ex(tape, dout, b, false, !tb);
        if (!din[0]) return tg_last_status();
    }
    if (tg__needs_grad(node, 1)) {
        // A 2-D weight: the core may let the product accumulate straight into its .grad.
        db_product prod = tb ? (db_product){dout, a, true, ta} : (db_product){a, dout, !ta, false};
        int st = a->ndim == 2 && b->ndim == 2
                     ? tg__grad_accumulate(tape, node, 1, write_product, &prod)
                     : 0;
        if (st < 0) return st;
        if (st == 0) {
            din[1] = tg_matmul_ex(tape, prod.x, prod.y, prod.tx, prod.ty);
            if (!din[1]) return tg_last_status();
        }
    }
    return TG_OK;
}

const tg_op_def tg__op_matmul = {
    .id = TG_OP_MATMUL, .name = "tg_matmul", .arity = 2,
    .infer = matmul_infer, .forward = matmul_forward, .backward = matmul_backward,
    .unread = TG_UNREAD_OUT, .params_size = sizeof(mm_params),
};

// The matmul node; errors name tg_matmul (the op), reworded for the entry the user called.
static tg_tensor *matmul(tg_tape *tape, tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b,
                         const char *fn) {
    tg_tensor *in[2] = {a, b};
    mm_params p = {trans_a, trans_b};
    unsigned mark = tg_error_mark();
    return tg__named(fn, mark, tg__apply(tape, &tg__op_matmul, 2, in, &p));
}

tg_tensor *tg_matmul_ex(tg_tape *tape, tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b) {
    return matmul(tape, a, b, trans_a, trans_b, "tg_matmul_ex");
}

tg_tensor *tg_matmul(tg_tape *tape, tg_tensor *a, tg_tensor *b) {
    return matmul(tape, a, b, false, false, "tg_matmul");
}

tg_tensor *tg_bmm(tg_tape *tape, tg_tensor *a, tg_tensor *b) {
    return matmul(tape, a, b, false, false, "tg_bmm");
}

// ---- addmm: y = bias + op(a) @ op(b)    dbias = dy, da and db as for matmul ----
// One pass fewer than matmul + add: the bias is broadcast into y, then gemm adds (beta=1).

static int addmm_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                       int64_t *shape) {
    (void)n;
    const tg_tensor *bias = in[0], *a = in[1], *b = in[2];
    char s1[160], s2[160];
    if (a->ndim != 2 || b->ndim != 2) {
        tg__fail(TG_ERR_SHAPE, "tg_addmm", "need 2-D a and b, got %s and %s",
                 tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                 tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
        return TG_ERR_SHAPE;
    }
    if (matmul_infer(in + 1, 2, params, ndim, shape)) return TG_ERR_SHAPE;
    bool ok = bias->ndim <= 2;
    for (int i = 0; ok && i < bias->ndim; i++) {
        int64_t d = bias->shape[bias->ndim - 1 - i], t = shape[1 - i];
        ok = d == t || d == 1;
    }
    if (!ok) {
        tg__fail(TG_ERR_SHAPE, "tg_addmm", "bias %s does not broadcast to the product %s",
                 tg__shape_str(s1, sizeof s1, bias->ndim, bias->shape),
                 tg__shape_str(s2, sizeof s2, 2, shape));
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

// The bias as a gemm epilogue's vector: along C's rows (shape [n] or [1, n]) or its
// columns ([m, 1]), on a backend with the gemm_ep slot. false: seed C with it instead.
static bool bias_as_epilogue(const tg_tensor *bias, const tg_tensor *out, tg_gemm_ep *e) {
    int64_t m = out->shape[0], n = out->shape[1];
    const int64_t *s = bias->shape;
    bool along_rows = (bias->ndim == 1 && s[0] == n) || (bias->ndim == 2 && s[0] == 1 && s[1] == n);
    bool along_cols = bias->ndim == 2 && s[0] == m && s[1] == 1;
    if (!tg__has_gemm_ep(out->be) || m == 0 || n == 0 || !(along_rows || along_cols))
        return false;
    *e = (tg_gemm_ep){.bias = bias->data, .bias_rows = !along_rows, .act = TG_GEMM_ACT_NONE};
    return true;
}

// out = act(bias + op(a) op(b)): with the gemm_ep slot the bias and act go in the store;
// else the bias seeds out, the gemm adds to it (beta = 1) and ReLU is a pass over out.
static int addmm_run(tg_tensor *const *in, const void *params, tg_tensor *out, int act,
                     const char *name) {
    const tg_tensor *a = in[1], *b = in[2];
    tg_gemm_ep ep;
    bool fused = bias_as_epilogue(in[0], out, &ep);
    int st = TG_OK;
    if (!fused) {
        tg_view vb = tg__view_bcast(in[0], out->ndim, out->shape);
        st = tg__k_unary(name, TG_UNARY_COPY, &vb, out, 0, 0);
    }
    const mm_params *p = params;
    bool ta = p->ta, tb = p->tb;
    int64_t a_cols = a->shape[1], b_cols = b->shape[1];
    tg_gemm_desc d = {
        .dtype = (int)out->dtype, .m = out->shape[0], .n = out->shape[1],
        .k = ta ? a->shape[0] : a_cols, .batch = 1, .alpha = 1.0, .beta = 1.0,
        .a = a->data, .a_rs = ta ? 1 : a_cols, .a_cs = ta ? a_cols : 1,
        .b = b->data, .b_rs = tb ? 1 : b_cols, .b_cs = tb ? b_cols : 1,
        .c = out->data, .c_rs = out->shape[1], .c_cs = 1,
    };
    if (fused) {   // C = act(A B + bias) in the gemm's store (k == 0 too: C = act(bias))
        d.beta = 0.0;
        ep.act = act;
        return tg__k_gemm_ep(name, out->be, &d, &ep);
    }
    if (!st && d.k > 0) st = tg__k_gemm(name, out->be, &d);
    if (!st && act == TG_GEMM_ACT_RELU) {
        tg_view vo = tg__view_of(out);
        st = tg__k_unary(name, TG_UNARY_RELU, &vo, out, 0, 0);
    }
    return st;
}

static int addmm_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return addmm_run(in, params, out, TG_GEMM_ACT_NONE, "tg_addmm");
}

// The bias gradient of a bias along C's rows ([n] or [1, n]): dy [m, n] summed over its
// rows, written by the reduce kernel straight into .grad (added through a step tensor when
// .grad holds a gradient already).
typedef struct bias_grad {
    tg_tape *tape;
    const tg_tensor *dy;
} bias_grad;

static int write_bias_grad(tg_tensor *dst, double beta, void *ctx) {
    const bias_grad *p = ctx;
    const tg_tensor *dy = p->dy;
    tg_tensor *sum = dst;
    if (beta != 0) {
        sum = tg__step_new(p->tape, dst->be, dst->dtype, dst->ndim, dst->shape, "tg_addmm");
        if (!sum) return tg_last_status();
    }
    tg_view vx = tg__view_of(dy), vy = vx;
    vy.data = sum->data;
    vy.stride[0] = 0;
    vy.stride[1] = 1;
    tg_view vz = tg__view_flat(sum);
    int st = dy->numel ? tg__k_reduce("tg_addmm", dst->be, TG_REDUCE_KIND_SUM, &vx, &vy)
                       : tg__k_fill("tg_addmm", dst->be, &vz, 0.0);
    if (st || sum == dst) return st;
    tg_view a = tg__view_flat(dst), b = tg__view_flat(sum);
    return tg__k_binary("tg_addmm", TG_BINARY_ADD, &a, &b, dst);
}

static int addmm_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                          tg_tensor **din) {
    // Reuse matmul's rule on a node view whose inputs are (a, b).
    tg_node mm = *node;
    mm.in[0] = node->in[1];
    mm.in[1] = node->in[2];
    mm.n_in = 2;
    const tg_tensor *bias = node->in[0];
    bool rows = (bias->ndim == 1 || (bias->ndim == 2 && bias->shape[0] == 1)) &&
                bias->shape[bias->ndim - 1] == dout->shape[1] && bias->dtype == dout->dtype;
    int st = rows && tg__needs_grad(node, 0)
                 ? tg__grad_accumulate(tape, node, 0, write_bias_grad,
                                       &(bias_grad){tape, dout})
                 : 0;
    if (st < 0) return st;
    din[0] = st ? NULL : dout;
    return matmul_backward(tape, &mm, dout, din + 1);
}

const tg_op_def tg__op_addmm = {
    .id = TG_OP_ADDMM, .name = "tg_addmm", .arity = 3,
    .infer = addmm_infer, .forward = addmm_forward, .backward = addmm_backward,
    .params_size = sizeof(mm_params),
};

tg_tensor *tg_addmm(tg_tape *tape, tg_tensor *bias, tg_tensor *a, tg_tensor *b, bool trans_a,
                    bool trans_b) {
    tg_tensor *in[3] = {bias, a, b};
    mm_params p = {trans_a, trans_b};
    unsigned mark = tg_error_mark();
    return tg__named("tg_addmm", mark, tg__apply(tape, &tg__op_addmm, 3, in, &p));
}

// ---- addmm_relu: y = relu(bias + op(a) @ op(b))    dz = dy*(y>0), then as addmm ----

static int addmm_relu_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    return addmm_run(in, params, out, TG_GEMM_ACT_RELU, "tg_addmm_relu");
}

static int addmm_relu_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                               tg_tensor **din) {
    tg_tensor *dz = tg_relu_grad(tape, dout, node->out);   // y > 0 exactly where z > 0
    return dz ? addmm_backward(tape, node, dz, din) : tg_last_status();
}

const tg_op_def tg__op_addmm_relu = {
    .id = TG_OP_ADDMM_RELU, .name = "tg_addmm_relu", .arity = 3,
    .infer = addmm_infer, .forward = addmm_relu_forward, .backward = addmm_relu_backward,
    .params_size = sizeof(mm_params),
};

tg_tensor *tg_addmm_relu(tg_tape *tape, tg_tensor *bias, tg_tensor *a, tg_tensor *b,
                         bool trans_a, bool trans_b) {
    tg_tensor *in[3] = {bias, a, b};
    mm_params p = {trans_a, trans_b};
    unsigned mark = tg_error_mark();
    return tg__named("tg_addmm_relu", mark, tg__apply(tape, &tg__op_addmm_relu, 3, in, &p));
}

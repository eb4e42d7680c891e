// Matrix products through the backend's gemm; transposes are strides, never copies.
#include "ops/op_table.h"

#define TRANS_A 1u
#define TRANS_B 2u

// ---- matmul: y = op(a) @ op(b)
//      da = dy @ op(b)^T      (if trans_a: da = op(b) @ dy^T)
//      db = op(a)^T @ dy      (if trans_b: db = dy^T @ op(a)) ----

static int matmul_infer(tg_tensor *const *in, int n, const tg_attrs *at, int *ndim,
                        int64_t *shape) {
    (void)n;
    const tg_tensor *a = in[0], *b = in[1];
    char s1[160], s2[160];
    bool ta = at->flags & TRANS_A, tb = at->flags & TRANS_B;
    if (a->ndim != 2 || b->ndim != 2) {
        tg__fail(TG_ERR_SHAPE, "tg_matmul", "need 2-D inputs, got %s @ %s",
                 tg__shape_str(s1, sizeof s1, a->ndim, a->shape),
                 tg__shape_str(s2, sizeof s2, b->ndim, b->shape));
        return TG_ERR_SHAPE;
    }
    int64_t m = ta ? a->shape[1] : a->shape[0], ka = ta ? a->shape[0] : a->shape[1];
    int64_t kb = tb ? b->shape[1] : b->shape[0], nn = tb ? b->shape[0] : b->shape[1];
    if (ka != kb) {
        tg__fail(TG_ERR_SHAPE, "tg_matmul", "inner dimensions differ: %s%s @ %s%s",
                 tg__shape_str(s1, sizeof s1, a->ndim, a->shape), ta ? "^T" : "",
                 tg__shape_str(s2, sizeof s2, b->ndim, b->shape), tb ? "^T" : "");
        return TG_ERR_SHAPE;
    }
    *ndim = 2;
    shape[0] = m;
    shape[1] = nn;
    return TG_OK;
}

static int matmul_forward(tg_tensor *const *in, int n, const tg_attrs *at, tg_tensor *out) {
    (void)n;
    const tg_tensor *a = in[0], *b = in[1];
    tg_backend *be = out->be;
    bool ta = at->flags & TRANS_A, tb = at->flags & TRANS_B;
    tg_gemm_desc d = {
        .dtype = (int)out->dtype,
        .m = out->shape[0],
        .n = out->shape[1],
        .k = ta ? a->shape[0] : a->shape[1],
        .batch = 1,
        .alpha = 1.0,
        .beta = 0.0,
        .a = a->data, .a_rs = ta ? 1 : a->shape[1], .a_cs = ta ? a->shape[1] : 1,
        .b = b->data, .b_rs = tb ? 1 : b->shape[1], .b_cs = tb ? b->shape[1] : 1,
        .c = out->data, .c_rs = out->shape[1], .c_cs = 1,
    };
    if (d.k == 0) {
        tg_view o = tg__view_of(out);
        return be->ops->fill(be->ctx, &o, 0.0);
    }
    if (!be->ops->gemm) {
        tg__fail(TG_ERR_UNSUPPORTED, "tg_matmul", "not supported on backend %s", be->ops->name);
        return TG_ERR_UNSUPPORTED;
    }
    int st = be->ops->gemm(be->ctx, &d);
    if (st && !tg__has_error()) tg__fail(st, "tg_matmul", "gemm failed on %s", be->ops->name);
    return st;
}

static int matmul_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    tg_tensor *a = node->in[0], *b = node->in[1];
    bool ta = node->attrs.flags & TRANS_A, tb = node->attrs.flags & TRANS_B;
    if (tg__needs_grad(node, 0)) {
        din[0] = ta ? tg_matmul_ex(tape, b, dout, tb, true) : tg_matmul_ex(tape, dout, b, false, !tb);
        if (!din[0]) return tg_last_status();
    }
    if (tg__needs_grad(node, 1)) {
        din[1] = tb ? tg_matmul_ex(tape, dout, a, true, ta) : tg_matmul_ex(tape, a, dout, !ta, false);
        if (!din[1]) return tg_last_status();
    }
    return TG_OK;
}

const tg_op_def tg__op_matmul = {TG_OP_MATMUL, "tg_matmul", 2, matmul_infer, matmul_forward,
                                 matmul_backward};

tg_tensor *tg_matmul_ex(tg_tape *tape, tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b) {
    tg_tensor *in[2] = {a, b};
    tg_attrs at = {.flags = (trans_a ? TRANS_A : 0u) | (trans_b ? TRANS_B : 0u)};
    return tg__apply(tape, &tg__op_matmul, 2, in, &at);
}

tg_tensor *tg_matmul(tg_tape *tape, tg_tensor *a, tg_tensor *b) {
    return tg_matmul_ex(tape, a, b, false, false);
}

// Comparisons (masks of 1/0, no gradient), maximum/minimum and where.
#include "ops/op_table.h"

// ---- binary comparisons: y = (a OP b) with broadcasting ----

// Comparisons run through one infer and one forward; the op id (the parameter) names the op
// in errors and picks the kernel kind.
typedef struct {
    int op;   // enum tg_op
} cmp_params;

static int cmp_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, tg_op_name(((const cmp_params *)params)->op));
}

static int cmp_kind(int op) {
    switch (op) {
    case TG_OP_GT: return TG_BINARY_GT;
    case TG_OP_LT: return TG_BINARY_LT;
    case TG_OP_GE: return TG_BINARY_GE;
    case TG_OP_LE: return TG_BINARY_LE;
    case TG_OP_EQ: return TG_BINARY_EQ;
    default: return TG_BINARY_NE;
    }
}

static int cmp_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const cmp_params *p = params;
    return tg__forward_binary(in, out, cmp_kind(p->op), tg_op_name(p->op));
}

const tg_op_def tg__op_gt = {
    .id = TG_OP_GT, .name = "tg_gt", .arity = 2,
    .infer = cmp_infer, .forward = cmp_forward,
};
const tg_op_def tg__op_lt = {
    .id = TG_OP_LT, .name = "tg_lt", .arity = 2,
    .infer = cmp_infer, .forward = cmp_forward,
};
const tg_op_def tg__op_ge = {
    .id = TG_OP_GE, .name = "tg_ge", .arity = 2,
    .infer = cmp_infer, .forward = cmp_forward,
};
const tg_op_def tg__op_le = {
    .id = TG_OP_LE, .name = "tg_le", .arity = 2,
    .infer = cmp_infer, .forward = cmp_forward,
};
const tg_op_def tg__op_eq = {
    .id = TG_OP_EQ, .name = "tg_eq", .arity = 2,
    .infer = cmp_infer, .forward = cmp_forward,
};
const tg_op_def tg__op_ne = {
    .id = TG_OP_NE, .name = "tg_ne", .arity = 2,
    .infer = cmp_infer, .forward = cmp_forward,
};

static tg_tensor *compare(tg_tape *tape, const tg_op_def *def, tg_tensor *a, tg_tensor *b) {
    tg_tensor *in[2] = {a, b};
    cmp_params p = {def->id};
    return tg__apply(tape, def, 2, in, &p);
}

tg_tensor *tg_gt(tg_tape *tape, tg_tensor *a, tg_tensor *b) { return compare(tape, &tg__op_gt, a, b); }
tg_tensor *tg_lt(tg_tape *tape, tg_tensor *a, tg_tensor *b) { return compare(tape, &tg__op_lt, a, b); }
tg_tensor *tg_ge(tg_tape *tape, tg_tensor *a, tg_tensor *b) { return compare(tape, &tg__op_ge, a, b); }
tg_tensor *tg_le(tg_tape *tape, tg_tensor *a, tg_tensor *b) { return compare(tape, &tg__op_le, a, b); }
tg_tensor *tg_eq(tg_tape *tape, tg_tensor *a, tg_tensor *b) { return compare(tape, &tg__op_eq, a, b); }
tg_tensor *tg_ne(tg_tape *tape, tg_tensor *a, tg_tensor *b) { return compare(tape, &tg__op_ne, a, b); }

// ---- scalar comparisons: y = (x OP s) ----

typedef struct {
    int kind;   // enum tg_unary_kind
    double s;
} cmps_params;

static int cmps_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const cmps_params *p = params;
    return tg__forward_unary(in, out, p->kind, p->s, 0, "tg_compare_scalar");
}

const tg_op_def tg__op_lt_scalar = {
    .id = TG_OP_LT_SCALAR, .name = "tg_lt_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = cmps_forward,
};
const tg_op_def tg__op_ge_scalar = {
    .id = TG_OP_GE_SCALAR, .name = "tg_ge_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = cmps_forward,
};
const tg_op_def tg__op_le_scalar = {
    .id = TG_OP_LE_SCALAR, .name = "tg_le_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = cmps_forward,
};
const tg_op_def tg__op_eq_scalar = {
    .id = TG_OP_EQ_SCALAR, .name = "tg_eq_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = cmps_forward,
};
const tg_op_def tg__op_ne_scalar = {
    .id = TG_OP_NE_SCALAR, .name = "tg_ne_scalar", .arity = 1,
    .infer = tg__infer_same, .forward = cmps_forward,
};

static tg_tensor *compare_scalar(tg_tape *tape, const tg_op_def *def, int kind, tg_tensor *x,
                                 double s) {
    cmps_params p = {kind, s};
    return tg__apply(tape, def, 1, &x, &p);
}

tg_tensor *tg_lt_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return compare_scalar(tape, &tg__op_lt_scalar, TG_UNARY_LT, x, s);
}
tg_tensor *tg_ge_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return compare_scalar(tape, &tg__op_ge_scalar, TG_UNARY_GE, x, s);
}
tg_tensor *tg_le_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return compare_scalar(tape, &tg__op_le_scalar, TG_UNARY_LE, x, s);
}
tg_tensor *tg_eq_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return compare_scalar(tape, &tg__op_eq_scalar, TG_UNARY_EQ, x, s);
}
tg_tensor *tg_ne_scalar(tg_tape *tape, tg_tensor *x, double s) {
    return compare_scalar(tape, &tg__op_ne_scalar, TG_UNARY_NE, x, s);
}

// ---- maximum / minimum: y = max(a, b)
//      da = dy*(a > b) + dy/2*(a == b), db = dy - da   (PyTorch splits ties) ----

static int maximum_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_maximum");
}
static int minimum_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_minimum");
}
static int maximum_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_MAX, "tg_maximum");
}
static int minimum_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    return tg__forward_binary(in, out, TG_BINARY_MIN, "tg_minimum");
}

// Share of the gradient that goes to `a`: 1 where a wins, 1/2 on ties, 0 where b wins.
static int extremum_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                             tg_tensor **din, bool is_max) {
    tg_tensor *a = node->in[0], *b = node->in[1];
    tg_tensor *wins = is_max ? tg_gt(tape, a, b) : tg_lt(tape, a, b);
    tg_tensor *share = tg_add(tape, wins, tg_mul_scalar(tape, tg_eq(tape, a, b), 0.5));
    tg_tensor *da = tg_mul(tape, dout, share);
    if (tg__needs_grad(node, 0)) din[0] = da;
    if (tg__needs_grad(node, 1)) din[1] = tg_sub(tape, dout, da);
    return tg__rule_status(da) || (tg__needs_grad(node, 1) && !din[1]) ? tg_last_status() : TG_OK;
}
static int maximum_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    return extremum_backward(tape, node, dout, din, true);
}
static int minimum_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    return extremum_backward(tape, node, dout, din, false);
}

const tg_op_def tg__op_maximum = {
    .id = TG_OP_MAXIMUM, .name = "tg_maximum", .arity = 2,
    .infer = maximum_infer, .forward = maximum_forward, .backward = maximum_backward,
};
const tg_op_def tg__op_minimum = {
    .id = TG_OP_MINIMUM, .name = "tg_minimum", .arity = 2,
    .infer = minimum_infer, .forward = minimum_forward, .backward = minimum_backward,
};

tg_tensor *tg_maximum(tg_tape *tape, tg_tensor *a, tg_tensor *b) {
    return tg__apply2(tape, &tg__op_maximum, a, b);
}
tg_tensor *tg_minimum(tg_tape *tape, tg_tensor *a, tg_tensor *b) {
    return tg__apply2(tape, &tg__op_minimum, a, b);
}

// ---- where: y = cond ? a : b    da = dy*cond, db = dy*(1-cond) ----

static int where_infer(tg_tensor *const *in, int n, const void *params, int *nd, int64_t *sh) {
    return tg__infer_bcast(in, n, params, nd, sh, "tg_where");
}
static int where_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n, (void)params;
    tg_view c = tg__view_bcast(in[0], out->ndim, out->shape);
    tg_view a = tg__view_bcast(in[1], out->ndim, out->shape);
    tg_view b = tg__view_bcast(in[2], out->ndim, out->shape);
    tg_view y = tg__view_of(out);
    return tg__k_where("tg_where", out->be, &c, &a, &b, &y);
}
static int where_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    tg_tensor *cond = node->in[0];
    tg_tensor *zero = tg__scalar_like(tape, dout, 0.0);
    if (tg__needs_grad(node, 1) && !(din[1] = tg_where(tape, cond, dout, zero)))
        return tg_last_status();
    if (tg__needs_grad(node, 2) && !(din[2] = tg_where(tape, cond, zero, dout)))
        return tg_last_status();
    return TG_OK;
}
const tg_op_def tg__op_where = {
    .id = TG_OP_WHERE, .name = "tg_where", .arity = 3,
    .infer = where_infer, .forward = where_forward, .backward = where_backward,
};

tg_tensor *tg_where(tg_tape *tape, tg_tensor *cond, tg_tensor *a, tg_tensor *b) {
    tg_tensor *in[3] = {cond, a, b};
    return tg__apply(tape, &tg__op_where, 3, in, NULL);
}

// The op ids and the descriptor table. Append new ids before TG_OP_COUNT; never renumber.
#pragma once

#include "core/internal.h"

enum tg_op {
    TG_OP_NONE = 0,
    TG_OP_ADD,
    TG_OP_SUB,
    TG_OP_MUL,
    TG_OP_DIV,
    TG_OP_ADD_SCALAR,
    TG_OP_SUB_SCALAR,
    TG_OP_RSUB_SCALAR,
    TG_OP_MUL_SCALAR,
    TG_OP_DIV_SCALAR,
    TG_OP_RDIV_SCALAR,
    TG_OP_POW_SCALAR,
    TG_OP_NEG,
    TG_OP_EXP,
    TG_OP_LOG,
    TG_OP_SQRT,
    TG_OP_RELU,
    TG_OP_SIGMOID,
    TG_OP_TANH,
    TG_OP_GT_SCALAR,
    TG_OP_SUM,
    TG_OP_MATMUL,
    TG_OP_RESHAPE,
    TG_OP_TRANSPOSE,
    TG_OP_EXPAND,
    TG_OP_ABS,
    TG_OP_SIGN,
    TG_OP_CLAMP,
    TG_OP_LEAKY_RELU,
    TG_OP_ELU,
    TG_OP_SOFTPLUS,
    TG_OP_ERF,
    TG_OP_MAXIMUM,
    TG_OP_MINIMUM,
    TG_OP_WHERE,
    TG_OP_GT,
    TG_OP_LT,
    TG_OP_GE,
    TG_OP_LE,
    TG_OP_EQ,
    TG_OP_NE,
    TG_OP_LT_SCALAR,
    TG_OP_GE_SCALAR,
    TG_OP_LE_SCALAR,
    TG_OP_EQ_SCALAR,
    TG_OP_NE_SCALAR,
    TG_OP_MAX,
    TG_OP_MIN,
    TG_OP_ARGMAX,
    TG_OP_ARGMIN,
    TG_OP_PERMUTE,
    TG_OP_SLICE,
    TG_OP_SLICE_SCATTER,
    TG_OP_CONCAT,
    TG_OP_GATHER,
    TG_OP_SCATTER_ADD,
    TG_OP_IM2COL,
    TG_OP_COL2IM,
    TG_OP_CUSTOM,
    TG_OP_RELU_GRAD,
    TG_OP_ADDMM,
    TG_OP_XENT,
    TG_OP_XENT_GRAD,
    TG_OP_TANH_GRAD,
    TG_OP_SIGMOID_GRAD,
    TG_OP_SOFTMAX,
    TG_OP_LOG_SOFTMAX,
    TG_OP_SOFTMAX_GRAD,
    TG_OP_LOG_SOFTMAX_GRAD,
    TG_OP_LAYER_NORM,
    TG_OP_LAYER_NORM_GRAD,
    TG_OP_ATTENTION,
    TG_OP_ATTENTION_GRAD,
    TG_OP_GELU_TANH,
    TG_OP_GELU_TANH_GRAD,
    TG_OP_LAYER_NORM_WGRAD,
    TG_OP_COUNT
};

// Descriptor of every op, indexed by id (TG_OP_NONE is NULL).
extern const tg_op_def *const tg__ops[TG_OP_COUNT];

extern const tg_op_def tg__op_add, tg__op_sub, tg__op_mul, tg__op_div;
extern const tg_op_def tg__op_add_scalar, tg__op_sub_scalar, tg__op_rsub_scalar,
    tg__op_mul_scalar, tg__op_div_scalar, tg__op_rdiv_scalar, tg__op_pow_scalar, tg__op_neg;
extern const tg_op_def tg__op_exp, tg__op_log, tg__op_sqrt, tg__op_relu, tg__op_sigmoid,
    tg__op_tanh, tg__op_gt_scalar;
extern const tg_op_def tg__op_sum;
extern const tg_op_def tg__op_matmul;
extern const tg_op_def tg__op_reshape, tg__op_transpose, tg__op_expand;
extern const tg_op_def tg__op_abs, tg__op_sign, tg__op_clamp, tg__op_leaky_relu, tg__op_elu, tg__op_softplus, tg__op_erf, tg__op_maximum, tg__op_minimum, tg__op_where, tg__op_gt, tg__op_lt, tg__op_ge, tg__op_le, tg__op_eq, tg__op_ne, tg__op_lt_scalar, tg__op_ge_scalar, tg__op_le_scalar, tg__op_eq_scalar, tg__op_ne_scalar, tg__op_max, tg__op_min, tg__op_argmax, tg__op_argmin, tg__op_permute, tg__op_slice, tg__op_slice_scatter, tg__op_concat, tg__op_gather, tg__op_scatter_add, tg__op_im2col, tg__op_col2im;
extern const tg_op_def tg__op_tanh_grad, tg__op_sigmoid_grad;
extern const tg_op_def tg__op_softmax, tg__op_log_softmax, tg__op_softmax_grad,
    tg__op_log_softmax_grad;
extern const tg_op_def tg__op_layer_norm, tg__op_layer_norm_grad, tg__op_attention,
    tg__op_attention_grad, tg__op_gelu_tanh, tg__op_gelu_tanh_grad, tg__op_layer_norm_wgrad;
extern const tg_op_def tg__op_custom, tg__op_relu_grad, tg__op_addmm, tg__op_xent,
    tg__op_xent_grad;

// ---- shared op helpers (ops/op_util.c) ----

// NumPy broadcast shape of all inputs; TG_ERR_SHAPE naming `name` and the shapes.
int tg__infer_bcast(tg_tensor *const *in, int n_in, const tg_attrs *at, int *ndim,
                    int64_t *shape, const char *name);
// Output shape = input 0's shape.
int tg__infer_same(tg_tensor *const *in, int n_in, const tg_attrs *at, int *ndim,
                   int64_t *shape);
int tg__forward_binary(tg_tensor *const *in, tg_tensor *out, int kind, const char *name);
int tg__forward_unary(tg_tensor *const *in, tg_tensor *out, int kind, double a, double b,
                      const char *name);
// One input with scalar attributes s[0], s[1]; two inputs without attributes.
tg_tensor *tg__apply1(tg_tape *tape, const tg_op_def *def, tg_tensor *x, double s0, double s1);
tg_tensor *tg__apply2(tg_tape *tape, const tg_op_def *def, tg_tensor *a, tg_tensor *b);
// A rule's status: TG_OK if t is non-NULL, else the pending error's status.
static inline int tg__rule_status(const tg_tensor *t) {
    return t ? TG_OK : (tg_last_status() ? tg_last_status() : TG_ERR_INVALID_ARG);
}
// A 0-dim step tensor holding v, with x's dtype and backend (NULL if x is NULL).
tg_tensor *tg__scalar_like(tg_tape *tape, const tg_tensor *x, double v);

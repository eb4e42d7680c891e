// The op table: one descriptor per id. The static assert forces it to grow with the enum.
#include "ops/op_table.h"

const tg_op_def *const tg__ops[TG_OP_COUNT] = {
    [TG_OP_NONE] = 0,
    [TG_OP_ADD] = &tg__op_add,
    [TG_OP_SUB] = &tg__op_sub,
    [TG_OP_MUL] = &tg__op_mul,
    [TG_OP_DIV] = &tg__op_div,
    [TG_OP_ADD_SCALAR] = &tg__op_add_scalar,
    [TG_OP_SUB_SCALAR] = &tg__op_sub_scalar,
    [TG_OP_RSUB_SCALAR] = &tg__op_rsub_scalar,
    [TG_OP_MUL_SCALAR] = &tg__op_mul_scalar,
    [TG_OP_DIV_SCALAR] = &tg__op_div_scalar,
    [TG_OP_RDIV_SCALAR] = &tg__op_rdiv_scalar,
    [TG_OP_POW_SCALAR] = &tg__op_pow_scalar,
    [TG_OP_NEG] = &tg__op_neg,
    [TG_OP_EXP] = &tg__op_exp,
    [TG_OP_LOG] = &tg__op_log,
    [TG_OP_SQRT] = &tg__op_sqrt,
    [TG_OP_RELU] = &tg__op_relu,
    [TG_OP_SIGMOID] = &tg__op_sigmoid,
    [TG_OP_TANH] = &tg__op_tanh,
    [TG_OP_GT_SCALAR] = &tg__op_gt_scalar,
    [TG_OP_SUM] = &tg__op_sum,
    [TG_OP_MATMUL] = &tg__op_matmul,
    [TG_OP_RESHAPE] = &tg__op_reshape,
    [TG_OP_TRANSPOSE] = &tg__op_transpose,
    [TG_OP_EXPAND] = &tg__op_expand,
    [TG_OP_ABS] = &tg__op_abs,
    [TG_OP_SIGN] = &tg__op_sign,
    [TG_OP_CLAMP] = &tg__op_clamp,
    [TG_OP_LEAKY_RELU] = &tg__op_leaky_relu,
    [TG_OP_ELU] = &tg__op_elu,
    [TG_OP_SOFTPLUS] = &tg__op_softplus,
    [TG_OP_ERF] = &tg__op_erf,
    [TG_OP_MAXIMUM] = &tg__op_maximum,
    [TG_OP_MINIMUM] = &tg__op_minimum,
    [TG_OP_WHERE] = &tg__op_where,
    [TG_OP_GT] = &tg__op_gt,
    [TG_OP_LT] = &tg__op_lt,
    [TG_OP_GE] = &tg__op_ge,
    [TG_OP_LE] = &tg__op_le,
    [TG_OP_EQ] = &tg__op_eq,
    [TG_OP_NE] = &tg__op_ne,
    [TG_OP_LT_SCALAR] = &tg__op_lt_scalar,
    [TG_OP_GE_SCALAR] = &tg__op_ge_scalar,
    [TG_OP_LE_SCALAR] = &tg__op_le_scalar,
    [TG_OP_EQ_SCALAR] = &tg__op_eq_scalar,
    [TG_OP_NE_SCALAR] = &tg__op_ne_scalar,
    [TG_OP_MAX] = &tg__op_max,
    [TG_OP_MIN] = &tg__op_min,
    [TG_OP_ARGMAX] = &tg__op_argmax,
    [TG_OP_ARGMIN] = &tg__op_argmin,
    [TG_OP_PERMUTE] = &tg__op_permute,
    [TG_OP_SLICE] = &tg__op_slice,
    [TG_OP_SLICE_SCATTER] = &tg__op_slice_scatter,
    [TG_OP_CONCAT] = &tg__op_concat,
    [TG_OP_GATHER] = &tg__op_gather,
    [TG_OP_SCATTER_ADD] = &tg__op_scatter_add,
    [TG_OP_IM2COL] = &tg__op_im2col,
    [TG_OP_COL2IM] = &tg__op_col2im,
    [TG_OP_CUSTOM] = &tg__op_custom,
};

_Static_assert(TG_OP_COUNT == 59, "add the new op to tg__ops, then update this count");

// Public introspection: number of ops and their names (for tools and coverage tests).
int tg_op_count(void) { return TG_OP_COUNT; }

const char *tg_op_name(int id) {
    return (id > 0 && id < TG_OP_COUNT && tg__ops[id]) ? tg__ops[id]->name : NULL;
}

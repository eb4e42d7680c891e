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

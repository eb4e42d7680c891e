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
};

_Static_assert(TG_OP_COUNT == 25, "add the new op to tg__ops, then update this count");

// Public introspection: number of ops and their names (for tools and coverage tests).
int tg_op_count(void) { return TG_OP_COUNT; }

const char *tg_op_name(int id) {
    return (id > 0 && id < TG_OP_COUNT && tg__ops[id]) ? tg__ops[id]->name : NULL;
}

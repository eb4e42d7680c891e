// The op table, expanded from ops/op_list.h, and the public introspection over it.
#include "ops/op_table.h"

#define TG__OP_ROW(ID, name) [TG_OP_##ID] = &tg__op_##name,
const tg_op_def *const tg__ops[TG_OP_COUNT] = {TG_OP_LIST(TG__OP_ROW)};
#undef TG__OP_ROW

// Number of op ids (tools and coverage tests walk 1 .. count-1).
int tg_op_count(void) { return TG_OP_COUNT; }

const char *tg_op_name(int id) {
    return (id > 0 && id < TG_OP_COUNT && tg__ops[id]) ? tg__ops[id]->name : NULL;
}

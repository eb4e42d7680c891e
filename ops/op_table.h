// What every op file includes: the op ids and descriptors (expanded from ops/op_list.h),
// the core's internals and the helpers the ops share.
#pragma once

#include "core/internal.h"
#include "ops/op_def.h"
#include "ops/op_list.h"

#define TG__OP_ENUM(ID, name) TG_OP_##ID,
enum tg_op { TG_OP_NONE = 0, TG_OP_LIST(TG__OP_ENUM) TG_OP_COUNT };
#undef TG__OP_ENUM

#define TG__OP_EXTERN(ID, name) extern const tg_op_def tg__op_##name;
TG_OP_LIST(TG__OP_EXTERN)
#undef TG__OP_EXTERN

// Descriptor of every op, indexed by id (TG_OP_NONE is NULL).
extern const tg_op_def *const tg__ops[TG_OP_COUNT];

// ---- shared op helpers (ops/op_util.c) ----

// NumPy broadcast shape of all inputs; TG_ERR_SHAPE naming `name` and the shapes.
int tg__infer_bcast(tg_tensor *const *in, int n_in, const void *params, int *ndim,
                    int64_t *shape, const char *name);
// Output shape = input 0's shape.
int tg__infer_same(tg_tensor *const *in, int n_in, const void *params, int *ndim,
                   int64_t *shape);
int tg__forward_binary(tg_tensor *const *in, tg_tensor *out, int kind, const char *name);
int tg__forward_unary(tg_tensor *const *in, tg_tensor *out, int kind, double a, double b,
                      const char *name);
// The parameters of an op that runs the unary kernel y = f(x; a, b) (the kernel's a, b).
typedef struct {
    double a, b;
} tg_unary_params;
static inline const tg_unary_params *tg__unary_params(const tg_node *n) {
    return tg__node_params(n);
}
// One input with the unary kernel's scalars; two inputs without parameters.
tg_tensor *tg__apply1(tg_tape *tape, const tg_op_def *def, tg_tensor *x, double a, double b);
tg_tensor *tg__apply2(tg_tape *tape, const tg_op_def *def, tg_tensor *a, tg_tensor *b);
// A rule's status: TG_OK if t is non-NULL, else the pending error's status.
static inline int tg__rule_status(const tg_tensor *t) {
    return t ? TG_OK : (tg_last_status() ? tg_last_status() : TG_ERR_INVALID_ARG);
}
// A 0-dim step tensor holding v, with x's dtype and backend (NULL if x is NULL).
tg_tensor *tg__scalar_like(tg_tape *tape, const tg_tensor *x, double v);
// Row k of t [R, C] as a [C] tensor (a slice and a reshape, recorded).
tg_tensor *tg__row(tg_tape *tape, tg_tensor *t, int k);
// A normalisation's dx node (batch_norm_grad, layer_norm_grad: inputs dy, x, [w]) whose
// kernel also writes the affine parameters' [dw; db] into wgrad when that is not NULL.
typedef tg_tensor *(*tg__norm_grad_fn)(tg_tape *tape, tg_tensor *dy, tg_tensor *x,
                                       tg_tensor *w, double eps, void *wgrad);
// dx from `node`, and *wgrad = a [2, c] step tensor that the same kernel call fills (NULL when
// that failed or x is empty: the wgrad op then computes its value itself), so that a backward
// pass needing both reads x and dy once. `where` names the op in an allocation failure.
tg_tensor *tg__norm_grad_with_wgrad(tg_tape *tape, tg__norm_grad_fn node, tg_tensor *dy,
                                    tg_tensor *x, tg_tensor *w, double eps, int64_t c,
                                    const char *where, tg_tensor **wgrad);

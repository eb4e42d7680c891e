// The op descriptor: the contract between an op (ops/) and the core that runs and records
// it (core/tape.c) and replays its gradient rule (core/backward.c). The core sees ops only
// through this type; the list of ops is ops/op_list.h.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tapegrad/tapegrad.h"

typedef struct tg_node tg_node;

// An op's parameters (an axis, an exponent, a shape): each op that has any declares a
// struct for them in its file and gives its size in the descriptor (.params_size). The op
// function passes a pointer to its struct to tg__apply; infer and forward receive that
// pointer, and a recorded node keeps a copy in the tape's arena for the gradient rule
// (tg__node_params).
// What a gradient rule never reads (the sweep skips the in-place-write check for it): bit
// k for input k (k < 31), TG_UNREAD_OUT for the output; 0 checks every input and the output.
#define TG_UNREAD_IN(k) (1u << (k))
#define TG_UNREAD_OUT (1u << 31)
#define TG_UNREAD_ALL (~0u)

// `infer` gives the output's shape; `forward` fills `out` (allocated with that shape);
// `backward` writes one contribution per input into din[] with public ops (NULL = no
// gradient to that input) and the core sums them back to the input shapes.
typedef struct tg_op_def {
    int id;                 // enum tg_op (ops/op_list.h); TG_OP_NONE for a name-only descriptor
    const char *name;       // the public function ("tg_add"): errors and the DOT graph use it
    int arity;              // -1: variadic
    int (*infer)(tg_tensor *const *in, int n_in, const void *params, int *ndim,
                 int64_t *shape);
    int (*forward)(tg_tensor *const *in, int n_in, const void *params, tg_tensor *out);
    int (*backward)(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din);
    unsigned unread;        // TG_UNREAD_* bits
    size_t params_size;     // sizeof the op's parameter struct, 0 for none
} tg_op_def;

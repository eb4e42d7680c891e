// PyTorch reference cases (tests/fixtures/ops_torch.txt, written by gen_ops.py) and the
// table that maps each case to a tapegrad call. Shared by test_torch_fixtures.c (the tests),
// torch_fixture.c (the parser) and torch_builders.c (the table).
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <tapegrad/tapegrad.h>

enum { FX_MAX_IN = 4, FX_MAX_ATTR = 16 };

// One array of the fixture: shape and row-major values (owned by the loaded fixture).
typedef struct fx_arr {
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t n;   // numel
    double *v;
} fx_arr;

// One case block: `case KEY/TAG`, attributes, inputs, torch's output and gradients.
typedef struct fx_case {
    char name[96];                // "leaky_relu/kink_at_0"
    char key[48];                 // "leaky_relu": picks the builder
    int n_attr;
    double attr[FX_MAX_ATTR];     // unused entries are 0
    int n_in;
    char kind[FX_MAX_IN];         // 'g' differentiated, 'n' fixed float, 'i' integer index
    fx_arr in[FX_MAX_IN];
    fx_arr out;
    bool has_weight;              // false: the output has no gradient (masks, indices)
    fx_arr weight;
    bool has_grad[FX_MAX_IN];
    fx_arr grad[FX_MAX_IN];
} fx_case;

// The fixture, parsed once per process; NULL on a missing or malformed file, with the reason
// in *why (a static string). Never freed (the process owns it).
const fx_case *fx_cases(int *n_cases, const char **why);

// What a builder gets: the case's inputs (in the case's order, as tensors of `dtype`), and
// its attributes.
typedef struct fx_args {
    tg_tensor *const *in;
    int n_in;
    const double *a;    // the attributes; a[n_attr .. FX_MAX_ATTR) are 0
    int n_attr;
    tg_dtype dtype;     // for builders without inputs (arange, full)
} fx_args;

// Builds the op under test on `tape`; NULL + error on failure.
typedef tg_tensor *(*fx_build_fn)(tg_tape *tape, const fx_args *x);

typedef struct fx_builder {
    const char *key;        // the case key it serves
    const char *op;         // the registered op it calls (tg_op_name), NULL for composed ones
    fx_build_fn build;
    bool discontinuous;     // output jumps (masks, sign, argmax): f32 runs only on inputs
                            //   that f32 holds exactly
} fx_builder;

// The builder table (torch_builders.c).
extern const fx_builder fx_builders[];
extern const int fx_n_builders;
const fx_builder *fx_builder_for(const char *key);

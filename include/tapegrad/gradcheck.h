// Gradient checking against central finite differences (like torch.autograd.gradcheck).
#pragma once

#include <stdio.h>
#include "tapegrad/defs.h"

#ifdef __cplusplus
extern "C" {
#endif

// The function under test: builds its output from `inputs` with ops on `tape` and returns
// it (a step tensor, any shape), or NULL on error. Called many times; must be pure.
typedef tg_tensor *(*tg_gradcheck_fn)(tg_tape *tape, tg_tensor *const *inputs, void *user);

typedef struct tg_gradcheck_opts {
    double eps;          // finite-difference step (default 1e-6)
    double atol;         // pass if |analytic - numeric| <= atol + rtol * |numeric|
    double rtol;         // defaults 1e-5 and 1e-3, PyTorch's
    uint64_t seed;       // for tg_gradcheck's random seed gradient in gradgradcheck
    FILE *dump;          // non-NULL: both Jacobians, per input, written here as tables
} tg_gradcheck_opts;

// One mismatching Jacobian entry: d output[out_index] / d input[input][index].
typedef struct tg_gradcheck_entry {
    int input;               // input index, -1 for none
    int ndim, out_ndim;
    int64_t index[8];        // element index within the input (ndim entries)
    int64_t out_index[8];    // output element index (out_ndim entries)
    double analytic, numeric;
} tg_gradcheck_entry;

#define TG_GRADCHECK_WORST 4

typedef struct tg_gradcheck_report {
    double max_abs_err;      // over all checked Jacobian entries
    double max_rel_err;      // |a - n| / max(|n|, tiny)
    int64_t n_checked;       // Jacobian entries compared
    int fail_input;          // first failing entry: input index, -1 if none
    int64_t fail_element;    //   flat element index within that input
    int64_t fail_output;     //   flat output element index
    double fail_analytic;
    double fail_numeric;
    int64_t n_failed;        // Jacobian entries outside the tolerance
    int n_worst;             // entries in worst[]
    tg_gradcheck_entry worst[TG_GRADCHECK_WORST];   // largest |diff| - tolerance first
} tg_gradcheck_report;

TG_API tg_gradcheck_opts tg_gradcheck_opts_default(void);

// Compares the full Jacobian of fn (from backward passes) with central differences for
// every element of every input that requires grad. Inputs must be persistent f64 tensors;
// they are perturbed in place and restored. Returns TG_OK, TG_ERR_NUMERIC with an error
// giving the number of mismatching entries and the worst ones (input, multi-dimensional
// element and output indices, analytic and numeric values), or another error status.
// `report` (may be NULL) receives the error statistics either way.
TG_API int tg_gradcheck(tg_gradcheck_fn fn, void *user, int n_inputs, tg_tensor *const *inputs,
                        const tg_gradcheck_opts *opts, tg_gradcheck_report *report);

// Second-order check (like torch.autograd.gradgradcheck): gradchecks the function
// x -> d(v . fn(x))/dx, with a fixed random v drawn from opts->seed, using create_graph.
TG_API int tg_gradgradcheck(tg_gradcheck_fn fn, void *user, int n_inputs,
                            tg_tensor *const *inputs, const tg_gradcheck_opts *opts,
                            tg_gradcheck_report *report);

#ifdef __cplusplus
}
#endif

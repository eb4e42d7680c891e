// Gradient checking against central finite differences (like torch.autograd.gradcheck).
#pragma once

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
} tg_gradcheck_opts;

typedef struct tg_gradcheck_report {
    double max_abs_err;      // over all checked Jacobian entries
    double max_rel_err;      // |a - n| / max(|n|, tiny)
    int64_t n_checked;       // Jacobian entries compared
    int fail_input;          // first failing entry: input index, -1 if none
    int64_t fail_element;    //   flat element index within that input
    int64_t fail_output;     //   flat output element index
    double fail_analytic;
    double fail_numeric;
} tg_gradcheck_report;

TG_API tg_gradcheck_opts tg_gradcheck_opts_default(void);

// Compares the full Jacobian of fn (from backward passes) with central differences for
// every element of every input that requires grad. Inputs must be persistent f64 tensors;
// they are perturbed in place and restored. Returns TG_OK, TG_ERR_NUMERIC with an error
// naming the input, element, analytic and numeric values, or another error status.
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

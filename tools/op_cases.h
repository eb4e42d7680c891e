// The op case table: one or more rows per registered op, used by the gradcheck tests, the
// coverage test and the tg-gradcheck CLI. A row says how to build the op's inputs (shapes,
// value range away from kinks) and how to call it; gradcheck runs it in f64.
// Rows live in one file per op family (tools/cases_<family>.c); op_cases.c concatenates
// the families listed in its `families` array.
#pragma once

#include <tapegrad/tapegrad.h>

#define OPC_MAX_IN 4

// The op's attributes for one row, read by the row's `call` (which attributes mean what is
// up to that call; unused ones stay zero).
typedef struct op_attrs {
    double s;               // scalar operand, exponent or threshold
    double s2;              // a second scalar (clamp's hi, a threshold)
    int n;                  // entries used in i[]
    int64_t i[12];          // axes, a target shape, dims, window sizes
    bool keepdim;           // reductions
    bool trans_a, trans_b;  // matmul
} op_attrs;

// How the tg-gradcheck CLI may rescale a row's shapes (each dim by a random factor 1..3).
typedef enum opc_jitter {
    OPC_FIXED = 0,  // shapes fixed: attributes (a target shape, a window, labels) depend on them
    OPC_BCAST,      // dims aligned from the right share one factor across inputs; dims of
                    //   size 1 stay 1, so every broadcast of the row still holds
    OPC_MATMUL,     // [..., M, K] @ [..., K, N] (stored transposed under trans_a / trans_b):
                    //   M, K, N get a factor each, batch dims as OPC_BCAST
} opc_jitter;

typedef struct op_case {
    const char *op;     // tg_op_name() of the op under test
    const char *label;  // what this row covers ("broadcast [3,1]+[1,4]")
    int n_in;
    int ndim[OPC_MAX_IN];
    int64_t shape[OPC_MAX_IN][8];
    double lo, hi;                 // inputs drawn uniformly from [lo, hi)
    double band_lo, band_hi;       // ...but never from [band_lo, band_hi) (kinks,
                                   //   thresholds); band_lo == band_hi: no band
    bool no_grad[OPC_MAX_IN];      // inputs that are not differentiated (indices...)
    int64_t index_hi[OPC_MAX_IN];  // > 0: input k holds integers drawn from
                                   //   [0, index_hi): an index, never differentiated
    double eps, atol, rtol;        // 0 = gradcheck defaults
    op_attrs at;                   // attributes the call reads (axes, exponent, ...)
    // Builds the output from the inputs (the row's attributes are baked in here).
    tg_tensor *(*call)(tg_tape *tape, tg_tensor *const *in, void *row);
    bool differentiable;  // false: forward-only (masks); gradcheck skipped
    opc_jitter jitter;    // shape jitter the CLI may apply (OPC_FIXED: none)
    // Why tg_gradgradcheck does not apply (the rule is once-differentiable by design);
    // NULL: the CLI gradgradchecks the row and it must pass.
    const char *no_gradgrad;
} op_case;

// One family file's rows (tools/cases_<family>.c exports one of these).
typedef struct op_case_family {
    const char *name;  // "elementwise"
    const op_case *rows;
    size_t n_rows;
} op_case_family;

extern const op_case_family op_cases_elementwise;  // ops/elementwise.c
extern const op_case_family op_cases_activation;   // ops/activation.c
extern const op_case_family op_cases_compare;      // ops/compare.c
extern const op_case_family op_cases_reduce;       // ops/reduce.c
extern const op_case_family op_cases_matmul;       // ops/matmul.c
extern const op_case_family op_cases_shape;        // ops/shape.c
extern const op_case_family op_cases_slice;        // ops/slice.c
extern const op_case_family op_cases_index;        // ops/index.c
extern const op_case_family op_cases_conv;         // ops/conv.c
extern const op_case_family op_cases_nn;           // ops/nnops.c, ops/loss.c
extern const op_case_family op_cases_custom;       // core/custom.c (tg_custom)
extern const op_case_family op_cases_attention;    // ops/layernorm.c, ops/attention.c

// All rows, in family order; n via op_case_count(). The array is built once and lives for
// the whole process (do not free it). NULL if that first build ran out of memory.
const op_case *op_cases(void);
size_t op_case_count(void);

// Builds the row's inputs (persistent f64, requires_grad unless no_grad or an index) from
// `seed`, runs tg_gradcheck and fills `report`. Returns TG_OK or the gradcheck status (error
// set, also for a malformed row: TG_ERR_INVALID_ARG naming op_case_run).
// Forward-only rows (differentiable == false) run the call once and return TG_OK when it
// produced a tensor. Everything it creates is freed before it returns.
int op_case_run(const op_case *row, uint64_t seed, tg_gradcheck_report *report);

// The row's input k filled as op_case_run fills it (persistent f64, caller frees), for
// tools and tests that want to call the row themselves. NULL + error on failure.
tg_tensor *op_case_input(const op_case *row, int k, tg_rng *rng);
// For rows of fused gradient ops: d/dx of sum(y * x^2) with create_graph, where y = f(x)
// and f's rule is the op under test; dy = x^2 and y both depend on x, so gradcheck runs
// the op's own rules for both of its inputs. NULL + error on failure.
tg_tensor *op_case_grad_of(tg_tape *tape, tg_tensor *x, tg_tensor *y);

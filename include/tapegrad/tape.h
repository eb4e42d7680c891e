// The tape: records ops (a Wengert list) and replays them backward.
// Every op takes the tape as its first argument. One tape per thread.
#pragma once

#include <stdio.h>
#include "tapegrad/defs.h"

#ifdef __cplusplus
extern "C" {
#endif

// New empty tape with grad recording on. Free with tg_tape_free().
TG_API tg_tape *tg_tape_new(void);
// Frees the tape and every step tensor it owns. NULL is a no-op.
TG_API void tg_tape_free(tg_tape *tape);
// Drops all recorded nodes and step tensors; their memory is kept for the next step, so a
// steady-state training step makes no allocation. Step tensors of this tape die here:
// using one afterwards is a TG_ERR_STATE error (README "Memory": always one reset late,
// any number of resets late with TG_CHECKED=1).
TG_API void tg_tape_reset(tg_tape *tape);
// Grad mode. false = no-grad: ops still compute, nothing is recorded (eval, updates).
// Returns the previous mode.
TG_API bool tg_tape_set_grad(tg_tape *tape, bool enabled);
TG_API bool tg_tape_grad_enabled(const tg_tape *tape);
// Number of recorded nodes (differentiable ops on the path to a requires_grad leaf); -1
// and an error for a NULL tape. The tg_tape_* setters and queries given a NULL tape set
// the error and return false / TG_ANOMALY_OFF.
TG_API int64_t tg_tape_size(const tg_tape *tape);

// Anomaly mode: every op's output, forward and backward, is checked for NaN/Inf; the
// first bad one fails with an error naming the op, its node number and input shapes (for a
// gradient: the forward op whose rule produced it). Slow; for debugging. Returns old mode.
TG_API bool tg_tape_set_anomaly(tg_tape *tape, bool enabled);
typedef enum tg_anomaly_mode {
    TG_ANOMALY_OFF = 0,
    TG_ANOMALY_NAN_INF,   // NaN or Inf fails (tg_tape_set_anomaly(tape, true))
    TG_ANOMALY_NAN,       // only NaN fails (PyTorch's detect_anomaly): Inf may be legitimate
    TG_ANOMALY_COUNT
} tg_anomaly_mode;
// Same with a choice of what fails; messages say "NaN" or "Inf". Returns the old mode; a
// value outside the enum is refused (error set, mode unchanged).
TG_API tg_anomaly_mode tg_tape_set_anomaly_mode(tg_tape *tape, tg_anomaly_mode mode);

// Writes the recorded graph as Graphviz DOT, top to bottom: one box per node (#index, op,
// output shape, dtype), leaves as ellipses (named tensors by name; parameters filled),
// the outputs nothing consumes marked (a one-element one as the loss), and the ops of each
// scope (tg_tape_push_scope: modules) in a nested cluster. Ids are node indices and
// first-use order, so the same program writes the same DOT. TG_OK, or TG_ERR_IO.
TG_API int tg_tape_dot(const tg_tape *tape, FILE *f);
// Opens a named scope: ops recorded until the matching pop belong to it (DOT clusters;
// module forwards push their path). Scopes nest; they end at tg_tape_reset.
TG_API int tg_tape_push_scope(tg_tape *tape, const char *name);
// Closes the innermost scope; TG_ERR_STATE when none is open.
TG_API int tg_tape_pop_scope(tg_tape *tape);

// ---- custom ops ----

// A user-defined op recorded on the tape like a built-in one (and checked by gradcheck).
typedef struct tg_custom_op {
    const char *name;   // used in errors and DOT output; must outlive the tape's nodes
    // Fills `out` (already allocated with the shape given to tg_custom) from the inputs.
    // Typically reads tg_data_f32/f64 on the cpu backend, or composes ops on `tape` and
    // copies with tg_copy_. Returns TG_OK or a negative status (set an error message).
    // TG_OK with an error raised on the way fails the op; in checked mode (TG_CHECKED=1)
    // `out` starts as a marker NaN and an element left unset fails it (TG_ERR_STATE).
    int (*forward)(tg_tape *tape, tg_tensor *const *in, int n_in, tg_tensor *out, void *user);
    // Gradient rule: din[k] = contribution to input k (same shape, or broadcastable to it),
    // written with ops on `tape` (so it differentiates again), NULL for none. `out` is the
    // forward result, `dout` the incoming gradient. NULL backward: not differentiable.
    int (*backward)(tg_tape *tape, tg_tensor *const *in, int n_in, tg_tensor *out,
                    tg_tensor *dout, tg_tensor **din, void *user);
} tg_custom_op;

// Runs a custom op; returns its output, a step tensor of shape (ndim, shape) with input 0's
// dtype and backend. `op` and `user` must stay valid while the tape holds the node.
TG_API tg_tensor *tg_custom(tg_tape *tape, const tg_custom_op *op, int n_in,
                            tg_tensor *const *in, int ndim, const int64_t *shape, void *user);

typedef struct tg_backward_opts {
    bool retain_graph;   // keep the graph for another backward pass over it
    bool create_graph;   // record the backward pass itself (for higher-order gradients)
} tg_backward_opts;

// Options with defaults (retain_graph = create_graph = false).
TG_API tg_backward_opts tg_backward_opts_default(void);

// Backpropagates from a one-element `loss`: accumulates d loss / d leaf into the grad of
// every requires_grad leaf (like PyTorch, grads add up across calls until tg_zero_grad).
// Like PyTorch's, the accumulation happens during the pass (a weight's matmul gradient is
// added straight into its existing grad), so a pass that fails part-way may leave some
// leaves' grads updated and others not; tg_zero_grad before retrying.
TG_API int tg_backward(tg_tape *tape, tg_tensor *loss);
// Same with a seed gradient (same shape as `out`; NULL = ones for one-element outputs)
// and options (NULL = defaults). Without retain_graph the nodes the pass went through are
// spent: another pass through them is a TG_ERR_STATE (a new graph on the tape is fine).
// A node whose saved inputs were written in place since recording fails with TG_ERR_STATE
// (tg_tensor_version). create_graph is refused (TG_ERR_UNSUPPORTED): use tg_grad.
TG_API int tg_backward_ex(tg_tape *tape, tg_tensor *out, const tg_tensor *seed,
                          const tg_backward_opts *opts);
// Gradients of `out` (seeded by `seed`, or ones if NULL and out has one element) with
// respect to `inputs`, returned in grads[] as step tensors owned by the tape (like
// torch.autograd.grad). Leaves' grads are untouched. With opts->create_graph the result
// is differentiable again. An input the output does not depend on gets a zero tensor.
// Each result is a tensor of its own (never the seed, never another result).
TG_API int tg_grad(tg_tape *tape, tg_tensor *out, const tg_tensor *seed, int n_inputs,
                   tg_tensor *const *inputs, tg_tensor **grads, const tg_backward_opts *opts);

// Called by tg_backward as soon as `param`'s gradient for this pass is final (added into
// its .grad), while the pass goes on with earlier nodes (PyTorch's post-accumulate-grad
// hook): data-parallel code starts reducing the gradient here. Runs on the thread of the
// pass; must not record on or reset that tape. A non-zero return fails the pass with it.
typedef int (*tg_grad_hook_fn)(tg_tensor *param, void *user);
// Sets (fn non-NULL) or clears (fn NULL) the hook of a persistent tensor.
TG_API int tg_set_grad_hook(tg_tensor *param, tg_grad_hook_fn fn, void *user);

#ifdef __cplusplus
}
#endif

// Reverse-mode sweep over the tape. Rules return contributions; this file alone sums
// them back to input shapes (sum_to), accumulates fan-out, and writes leaves' grads.
#include <sched.h>
#include <string.h>

#include "core/internal.h"

tg_backward_opts tg_backward_opts_default(void) {
    tg_backward_opts o = {.retain_graph = false, .create_graph = false};
    return o;
}

tg_tensor *tg__sum_to(tg_tape *tape, tg_tensor *g, int ndim, const int64_t *shape) {
    if (!g) return NULL;
    if (g->ndim == ndim) {
        bool same = true;
        for (int i = 0; i < ndim; i++) same &= g->shape[i] == shape[i];
        if (same) return g;
    }
    int axes[TG_MAX_DIMS], n = 0;
    int off = g->ndim - ndim;
    bool leading_only = true;   // only the broadcast-added leading axes are summed
    for (int i = 0; i < g->ndim; i++) {
        int j = i - off;
        if (j < 0 || (shape[j] == 1 && g->shape[i] != 1)) {
            axes[n++] = i;
            leading_only &= j < 0;
        }
    }
    // A bias gradient ([B, N] -> [N]): the sum already has the shape, no reshape node.
    if (n && leading_only) return tg_sum_axes(tape, g, n, axes, false);
    tg_tensor *s = n ? tg_sum_axes(tape, g, n, axes, true) : g;
    return tg_reshape(tape, s, ndim, shape);
}

// ---- per-leaf grad locks ----
// A leaf's .grad is written only under its lock, so tapes on several threads may record a
// shared parameter with grad on: their gradients add up (PyTorch's Hogwild semantics for
// the grad; the optimizer step and zero_grad must still not race with a backward).

bool tg__grad_trylock(tg_tensor *t) {
    int expected = 0;
    return atomic_compare_exchange_strong_explicit(&t->grad_lock, &expected, 1,
                                                   memory_order_acquire, memory_order_relaxed);
}

void tg__grad_lock(tg_tensor *t) {
    while (!tg__grad_trylock(t)) sched_yield();
}

void tg__grad_unlock(tg_tensor *t) {
    atomic_store_explicit(&t->grad_lock, 0, memory_order_release);
}

static void release_sinks(tg_tape *tape) {
    for (int i = 0; i < tape->n_held; i++) tg__grad_unlock(tape->held[i]);
    tape->n_held = 0;
}

// Input k's .grad when this pass may write it in place (locked for the rule, version bumped),
// else NULL; *beta: 0 when its contents are stale (zero pending), else 1.
static tg_tensor *grad_sink(tg_tape *tape, const tg_node *n, int k, double *beta) {
    if (!tape->direct_leaf_grads) return NULL;
    tg_tensor *x = tg__node_input(n, k);
    if (x->is_step || !x->requires_grad || tape->n_held == 4) return NULL;
    struct tg_pin *e = tg__pin_find(tape, x);
    // Contended (another thread's pass writes this grad): the normal path, which waits.
    if (!e || !tg__grad_trylock(x)) return NULL;
    tg_tensor *g = x->grad;   // read under the lock: another thread may be creating it
    if (!g || atomic_load_explicit(&g->pins, memory_order_acquire) > 0 || g->dtype != x->dtype ||
        g->be != x->be || !tg__same_shape(g, x)) {
        tg__grad_unlock(x);
        return NULL;
    }
    tape->held[tape->n_held++] = x;
    e->sunk = true;
    *beta = x->grad_zero_pending ? 0.0 : 1.0;
    x->grad_zero_pending = false;
    tg__bump_version(g);
    return g;
}

int tg__grad_accumulate(tg_tape *tape, const tg_node *n, int k, tg_grad_writer write,
                        void *ctx) {
    double beta = 1.0;
    tg_tensor *dst = grad_sink(tape, n, k, &beta);
    if (!dst) return 0;
    int st = write(dst, beta, ctx);
    return st ? st : 1;
}

// ---- per-pass gradients ----
// Step tensors carry their pass gradient; persistent ones keep it on the tape's pin entry,
// so a tensor shared by tapes on several threads is only read.

static tg_tensor *bgrad_of(const tg_tape *tape, const tg_tensor *x) {
    if (x->is_step) return x->bgrad;
    struct tg_pin *e = tg__pin_find(tape, x);
    return e ? e->bgrad : NULL;
}

static int set_bgrad(tg_tape *tape, tg_tensor *x, tg_tensor *g) {
    if (x->is_step) {
        x->bgrad = g;
        return TG_OK;
    }
    struct tg_pin *e = tg__pin_find(tape, x);
    if (!e) {   // a persistent output (tg_backward on a leaf): pin it for this pass
        if (tg__pin(tape, x)) return TG_ERR_OOM;
        e = tg__pin_find(tape, x);
    }
    e->bgrad = g;
    return TG_OK;
}

static void clear_bgrads(tg_tape *tape, int64_t end) {
    for (int64_t i = 0; i <= end && i < tape->n_nodes; i++) {
        tg_node *n = &tape->nodes[i];
        n->out->bgrad = NULL;
        for (int k = 0; k < n->n_in; k++) {
            tg_tensor *x = tg__node_input(n, k);
            if (x->is_step) x->bgrad = NULL;
        }
    }
    for (int64_t i = 0; i < tape->n_pinned; i++) {
        tape->pinned[i].bgrad = NULL;
        tape->pinned[i].sunk = false;
    }
}

// ---- checks before a rule runs ----

static uint64_t recorded_version(const tg_node *n, int k) {
    return n->ver_ext ? n->ver_ext[k] : n->ver[k < 3 ? k : 3];
}

// TG_ERR_STATE when something the node's rule reads was written in place after recording
// (PyTorch: "one of the variables needed for gradient computation has been modified by an
// inplace operation").
static int check_versions(const tg_node *n, int64_t i, const char *where) {
    unsigned unread = n->def->unread;
    for (int k = 0; k <= n->n_in; k++) {
        bool is_out = k == n->n_in;
        if (is_out ? (unread & TG_UNREAD_OUT) : k < 31 && (unread >> k & 1u)) continue;
        const tg_tensor *t = is_out ? n->out : tg__node_input(n, k);
        uint64_t rec = is_out ? recorded_version(n, n->n_in > 3 ? n->n_in : 3)
                              : recorded_version(n, k);
        if (*t->version == rec) continue;
        char s[160];
        char what[32];
        if (is_out) snprintf(what, sizeof what, "its output");
        else snprintf(what, sizeof what, "input %d", k);
        tg__fail(TG_ERR_STATE, where,
                 "%s (node %lld): %s %s %s was modified in place after it was recorded "
                 "(version %llu, now %llu); its gradient rule needs the recorded value",
                 n->def->name, (long long)i, what,
                 tg__shape_str(s, sizeof s, t->ndim, t->shape), tg_dtype_name(t->dtype),
                 (unsigned long long)rec, (unsigned long long)*t->version);
        return TG_ERR_STATE;
    }
    return TG_OK;
}

static int run_sweep(tg_tape *tape, bool create_graph, bool direct, bool retain,
                     const char *where, int64_t end);

// Checks the output and seed of a pass (liveness, tape, grad, shape).
static int check_pass(tg_tape *tape, tg_tensor *out, const tg_tensor *seed, const char *where) {
    char s1[160], s2[160];
    if (!tape || !out) {
        tg__fail(TG_ERR_INVALID_ARG, where, "%s is NULL", tape ? "output" : "tape");
        return TG_ERR_INVALID_ARG;
    }
    int st = tg__check_live(out, where);
    if (!st && seed) st = tg__check_live(seed, where);
    if (st) return st;
    if (tape->in_backward) {
        tg__fail(TG_ERR_STATE, where, "called from inside a gradient rule");
        return TG_ERR_STATE;
    }
    if (!out->requires_grad) {
        tg__fail(TG_ERR_STATE, where,
                 "output %s does not require grad: no recorded op connects it to a "
                 "requires_grad leaf (grad mode off, or no input needs a gradient)",
                 tg__shape_str(s1, sizeof s1, out->ndim, out->shape));
        return TG_ERR_STATE;
    }
    if (out->is_step && out->tape != tape) {
        tg__fail(TG_ERR_STATE, where, "output belongs to another tape");
        return TG_ERR_STATE;
    }
    if (seed) {
        if (!tg__same_shape(seed, out) || seed->dtype != out->dtype || seed->be != out->be) {
            tg__fail(TG_ERR_SHAPE, where, "seed %s %s does not match output %s %s",
                     tg__shape_str(s1, sizeof s1, seed->ndim, seed->shape),
                     tg_dtype_name(seed->dtype),
                     tg__shape_str(s2, sizeof s2, out->ndim, out->shape),
                     tg_dtype_name(out->dtype));
            return TG_ERR_SHAPE;
        }
    } else if (out->numel != 1) {
        tg__fail(TG_ERR_SHAPE, where,
                 "output %s has %lld elements; pass a seed gradient for non-scalar outputs",
                 tg__shape_str(s1, sizeof s1, out->ndim, out->shape), (long long)out->numel);
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

// Runs the sweep from `out`; leaves every reached tensor's gradient as its pass gradient
// (bgrad_of). Returns the index of out's node (or -1 for a leaf output) via *end. With
// `direct` (tg_backward), rules may add leaf contributions straight into .grad.
static int sweep(tg_tape *tape, tg_tensor *out, const tg_tensor *seed, bool create_graph,
                 bool direct, bool retain, const char *where, int64_t *end) {
    int st = check_pass(tape, out, seed, where);
    if (st) return st;
    // Pass gradients are NULL here: every pass clears them when it ends, failed or not.
    *end = out->node;
    // The seed itself, not a copy, inside tg_backward (rules only read their dout; leaves
    // get copies), unless it is a leaf's .grad that a rule might add into (tg__grad_accumulate).
    // tg_grad copies: its results must be step tensors of the tape.
    tg_tensor *g = (tg_tensor *)seed;
    if (!(direct && seed && !seed->is_grad)) {
        bool mode = tg_tape_set_grad(tape, false);
        g = tg__step_new(tape, out->be, out->dtype, out->ndim, out->shape, where);
        st = g ? TG_OK : tg_last_status();
        if (g) {
            tg_view v = tg__view_of(g);
            st = seed ? tg__be_copy(out->be, g->data, seed->data, g->nbytes)
                      : tg__k_fill(where, out->be, &v, 1.0);
        }
        tg_tape_set_grad(tape, mode);
        if (st) return st;
    }
    if (set_bgrad(tape, out, g)) {
        tg__fail(TG_ERR_OOM, where, "out of memory growing the tape");
        return TG_ERR_OOM;
    }
    return run_sweep(tape, create_graph, direct, retain, where, *end);
}

// Adds contribution d into input x's pass gradient (x needs a gradient).
static int add_contribution(tg_tape *tape, tg_tensor *x, tg_tensor *contrib) {
    tg_tensor *d = tg__sum_to(tape, contrib, x->ndim, x->shape);
    tg_tensor *prev = d ? bgrad_of(tape, x) : NULL;
    if (d && prev) d = tg_add(tape, prev, d);
    if (!d) return tg_last_status() ? tg_last_status() : TG_ERR_INVALID_ARG;
    return set_bgrad(tape, x, d) ? TG_ERR_OOM : TG_OK;
}

// Runs node i's rule and adds what it returns to its inputs' pass gradients.
static int run_rule(tg_tape *tape, int64_t i, bool retain, const char *where) {
    // A copy: with create_graph the rules record nodes, which may move tape->nodes.
    const tg_node node = tape->nodes[i], *n = &node;
    tg_tensor *dout = n->out->bgrad;
    if (!dout) return TG_OK;
    if (n->freed) {
        tg__fail(TG_ERR_STATE, where,
                 "%s (node %lld) was already backpropagated; pass retain_graph=true to the "
                 "first backward to run another through it, or record the graph again",
                 n->def->name, (long long)i);
        return TG_ERR_STATE;
    }
    int st = check_versions(n, i, where);
    if (st) return st;
    if (!retain) tape->nodes[i].freed = true;
    tg_tensor *small[4] = {0};
    int n_in = n->n_in;
    tg_tensor **contrib = small;
    if (n_in > 4) {   // variadic ops (concat): contributions live in the arena
        contrib = tg__arena_alloc(tape, (size_t)n_in * sizeof *contrib);
        if (!contrib) {
            tg__fail(TG_ERR_OOM, where, "out of memory in the tape arena");
            return TG_ERR_OOM;
        }
        memset(contrib, 0, (size_t)n_in * sizeof *contrib);
    }
    st = n->def->backward(tape, n, dout, contrib);
    release_sinks(tape);
    for (int k = 0; k < n_in && st == TG_OK && tape->anomaly; k++) {
        const char *bad = contrib[k] ? tg__anomaly_in(tape, contrib[k]) : NULL;
        if (!bad) continue;
        char s[512];
        tg_tensor *ins[TG_MAX_DIMS];
        int shown = n_in < TG_MAX_DIMS ? n_in : TG_MAX_DIMS;
        for (int j = 0; j < shown; j++) ins[j] = tg__node_input(n, j);
        tg__fail(TG_ERR_NUMERIC, where,
                 "anomaly: the gradient rule of %s (node %lld, inputs %s) produced %s "
                 "for input %d", n->def->name, (long long)i,
                 tg__inputs_str(s, sizeof s, shown, ins), bad, k);
        st = TG_ERR_NUMERIC;
    }
    for (int k = 0; k < n_in && st == TG_OK; k++) {
        tg_tensor *x = tg__node_input(n, k);
        if (x->requires_grad && contrib[k]) st = add_contribution(tape, x, contrib[k]);
    }
    if (st && !tg__has_error())
        tg__fail(st, where, "gradient rule of %s (node %lld) failed", n->def->name, (long long)i);
    return st;
}

// leaf.grad += g, under the leaf's lock (a new .grad on the first pass).
static int accumulate_leaf(tg_tensor *leaf, tg_tensor *g, const char *where) {
    tg__grad_lock(leaf);
    int st;
    if (!leaf->grad) {
        tg_tensor *ng = tg__persistent_new(leaf->be, leaf->dtype, leaf->ndim, leaf->shape, where);
        st = ng ? tg__be_copy(leaf->be, ng->data, g->data, g->nbytes)
                : tg_last_status();
        if (ng) {
            ng->is_grad = true;
            leaf->grad = ng;
        }
    } else if (leaf->grad_zero_pending) {   // a pending tg_zero_grad: replace, don't add
        st = tg__be_copy(leaf->be, leaf->grad->data, g->data, g->nbytes);
        tg__bump_version(leaf->grad);
        leaf->grad_zero_pending = false;
    } else {
        st = tg_axpby_(leaf->grad, 1.0, g, 1.0);
    }
    tg__grad_unlock(leaf);
    return st;
}

// A leaf's pass is over: its gradient goes into .grad and its hook runs. Deferred (left
// for the end of the pass) when a recorded graph reads the .grad itself.
static int finish_leaf(struct tg_pin *e, bool at_end, const char *where) {
    tg_tensor *t = e->t;
    if (!t->requires_grad || (!e->bgrad && !e->sunk)) return TG_OK;
    if (!at_end) {   // .grad is read under the lock: another thread may be creating it
        tg__grad_lock(t);
        bool defer = t->grad && atomic_load_explicit(&t->grad->pins, memory_order_acquire) > 0;
        tg__grad_unlock(t);
        if (defer) return TG_OK;
    }
    int st = e->bgrad ? accumulate_leaf(t, e->bgrad, where) : TG_OK;
    e->bgrad = NULL;
    e->sunk = false;
    if (st || !t->grad_hook) return st;
    st = t->grad_hook(t, t->grad_hook_user);
    if (st) {
        if (st > 0) st = TG_ERR_INVALID_ARG;
        char s[160];
        tg__fail(st, where, "the grad hook of %s %s failed (status %d)",
                 tg__shape_str(s, sizeof s, t->ndim, t->shape), tg_dtype_name(t->dtype), st);
    }
    return st;
}

// Pins are in order of first use, so the leaves finished by node i (first used there or
// later) are the entries from *cursor down.
static int finish_leaves(tg_tape *tape, int64_t *cursor, int64_t i, const char *where) {
    int st = TG_OK;
    for (; *cursor >= 0 && tape->pinned[*cursor].first_node >= i && !st; (*cursor)--)
        st = finish_leaf(&tape->pinned[*cursor], false, where);
    return st;
}

// The sweep proper, from the output's node (end) down, with its pass gradient set.
static int run_sweep(tg_tape *tape, bool create_graph, bool direct, bool retain,
                     const char *where, int64_t end) {
    int st = TG_OK;
    bool mode = tape->grad_enabled;
    tape->grad_enabled = create_graph;
    tape->in_backward = true;
    tape->direct_leaf_grads = direct && !create_graph && !tape->anomaly;
    // tg_backward: leaves are finished (accumulated, hooks run) as soon as the sweep has
    // passed every node that uses them.
    int64_t cursor = direct ? tape->n_pinned - 1 : -1;
    for (int64_t i = end; i >= 0 && st == TG_OK; i--) {
        st = run_rule(tape, i, retain, where);
        if (!st && direct) st = finish_leaves(tape, &cursor, i, where);
    }
    tape->in_backward = false;
    tape->direct_leaf_grads = false;
    tape->grad_enabled = mode;
    if (st) clear_bgrads(tape, end);
    return st;
}

// tg_backward and tg_backward_ex; `fn` names the one the user called.
static int backward(tg_tape *tape, tg_tensor *out, const tg_tensor *seed,
                    const tg_backward_opts *opts, const char *fn) {
    tg_backward_opts o = opts ? *opts : tg_backward_opts_default();
    if (o.create_graph) {
        // .grad is a persistent tensor outside any graph: it cannot be differentiated.
        if (!tg__has_error())
            tg__fail(TG_ERR_UNSUPPORTED, fn,
                     "create_graph would leave each leaf's .grad detached from the graph; "
                     "use tg_grad(..., create_graph = true), whose gradients are "
                     "differentiable step tensors");
        return TG_ERR_UNSUPPORTED;
    }
    int64_t end = -1;
    int st = sweep(tape, out, seed, false, true, o.retain_graph, fn, &end);
    if (st) return st;
    // Leaves the sweep did not finish: a persistent output, deferred ones.
    for (int64_t i = 0; i < tape->n_pinned && st == TG_OK; i++)
        st = finish_leaf(&tape->pinned[i], true, fn);
    clear_bgrads(tape, end);
    return st;
}

int tg_backward_ex(tg_tape *tape, tg_tensor *out, const tg_tensor *seed,
                   const tg_backward_opts *opts) {
    return backward(tape, out, seed, opts, "tg_backward_ex");
}

int tg_backward(tg_tape *tape, tg_tensor *loss) {
    return backward(tape, loss, NULL, NULL, "tg_backward");
}

// grads[i] as a tensor of its own: a copy when it is an earlier result or the seed
// (a + b gives both inputs the same dout), recorded when the pass records (create_graph).
static tg_tensor *distinct_grad(tg_tape *tape, tg_tensor *g, tg_tensor **grads, int i,
                                const tg_tensor *seed) {
    bool shared = g == seed;
    for (int j = 0; j < i && !shared; j++) shared = grads[j] == g;
    return shared ? tg_mul_scalar(tape, g, 1.0) : g;
}

int tg_grad(tg_tape *tape, tg_tensor *out, const tg_tensor *seed, int n_inputs,
            tg_tensor *const *inputs, tg_tensor **grads, const tg_backward_opts *opts) {
    if (n_inputs < 0 || (n_inputs > 0 && (!inputs || !grads))) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_grad", "need n_inputs >= 0, inputs and grads");
        return TG_ERR_INVALID_ARG;
    }
    for (int i = 0; i < n_inputs; i++) {
        grads[i] = NULL;
        if (!inputs[i]) {
            tg__fail(TG_ERR_INVALID_ARG, "tg_grad", "input %d is NULL", i);
            return TG_ERR_INVALID_ARG;
        }
        int st = tg__check_live(inputs[i], "tg_grad");
        if (st) return st;
    }
    tg_backward_opts o = opts ? *opts : tg_backward_opts_default();
    if (o.create_graph) o.retain_graph = true;
    int64_t end = -1;
    int st = sweep(tape, out, seed, o.create_graph, false, o.retain_graph, "tg_grad", &end);
    if (st) return st;
    bool mode = tg_tape_set_grad(tape, o.create_graph);
    for (int i = 0; i < n_inputs && st == TG_OK; i++) {
        tg_tensor *x = inputs[i], *g = bgrad_of(tape, x);
        if (g) {
            grads[i] = distinct_grad(tape, g, grads, i, seed);
            if (!grads[i]) st = tg_last_status();
            continue;
        }
        grads[i] = tg__step_new(tape, x->be, x->dtype, x->ndim, x->shape, "tg_grad");
        if (!grads[i]) st = tg_last_status();
        else if (grads[i]->nbytes)
            st = tg__be_memset0(x->be, grads[i]->data, grads[i]->nbytes);
    }
    tg_tape_set_grad(tape, mode);
    clear_bgrads(tape, end);
    out->bgrad = NULL;
    return st;
}

int tg_set_grad_hook(tg_tensor *param, tg_grad_hook_fn fn, void *user) {
    int st = tg__check_live(param, "tg_set_grad_hook");
    if (st) return st;
    if (param->is_step) {
        tg__fail(TG_ERR_STATE, "tg_set_grad_hook",
                 "step tensors have no .grad; set the hook on a persistent tensor");
        return TG_ERR_STATE;
    }
    param->grad_hook = fn;
    param->grad_hook_user = fn ? user : NULL;
    return TG_OK;
}

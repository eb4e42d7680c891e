// Reverse-mode sweep over the tape. Rules return contributions; this file alone sums
// them back to input shapes (sum_to), accumulates fan-out, and writes leaves' grads.
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

tg_tensor *tg__grad_sink(const tg_tape *tape, const tg_node *n, int k) {
    if (!tape->direct_leaf_grads) return NULL;
    tg_tensor *x = tg__node_input(n, k), *g = x->grad;
    if (x->is_step || !x->requires_grad || !g || g->pins > 0) return NULL;
    return g->dtype == x->dtype && g->be == x->be && tg__same_shape(g, x) ? g : NULL;
}

static void clear_bgrads(tg_tape *tape, int64_t end) {
    for (int64_t i = 0; i <= end && i < tape->n_nodes; i++) {
        tg_node *n = &tape->nodes[i];
        n->out->bgrad = NULL;
        for (int k = 0; k < n->n_in; k++) tg__node_input(n, k)->bgrad = NULL;
    }
}

static int run_sweep(tg_tape *tape, bool create_graph, bool direct, const char *where,
                     int64_t end);

// Runs the sweep from `out`; leaves every reached tensor's gradient in ->bgrad.
// Returns the index of out's node (or -1 for a leaf output) via *end. With `direct`
// (tg_backward), rules may add leaf contributions straight into .grad (tg__grad_sink).
static int sweep(tg_tape *tape, tg_tensor *out, const tg_tensor *seed, bool create_graph,
                 bool direct, const char *where, int64_t *end) {
    char s1[160], s2[160];
    if (!tape || !out) {
        tg__fail(TG_ERR_INVALID_ARG, where, "%s is NULL", tape ? "output" : "tape");
        return TG_ERR_INVALID_ARG;
    }
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
    if (tape->graph_freed) {
        tg__fail(TG_ERR_STATE, where,
                 "the graph was already backpropagated; pass retain_graph=true to the first "
                 "backward to run another, or tg_tape_reset and record again");
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

    bool mode = tape->grad_enabled;
    tape->grad_enabled = false;
    // The seed itself, not a copy, inside tg_backward (rules only read their dout; leaves
    // get copies), unless it is a leaf's .grad that a rule might add into (tg__grad_sink).
    // tg_grad copies: its results must be step tensors of the tape.
    if (direct && seed && !seed->is_grad) {
        tape->grad_enabled = mode;
        *end = out->node;
        clear_bgrads(tape, *end);
        out->bgrad = (tg_tensor *)seed;
        return run_sweep(tape, create_graph, direct, where, *end);
    }
    tg_tensor *g = tg__step_new(tape, out->be, out->dtype, out->ndim, out->shape, where);
    int st = g ? TG_OK : tg_last_status();
    if (g) {
        tg_view v = tg__view_of(g);
        st = seed ? out->be->ops->copy(out->be->ctx, g->data, seed->data, g->nbytes)
                  : out->be->ops->fill(out->be->ctx, &v, 1.0);
    }
    if (st) {
        tape->grad_enabled = mode;
        return st;
    }

    *end = out->node;
    clear_bgrads(tape, *end);
    out->bgrad = g;
    tape->grad_enabled = mode;
    return run_sweep(tape, create_graph, direct, where, *end);
}

// The sweep proper, from the output's node (end) down, with its bgrad set.
static int run_sweep(tg_tape *tape, bool create_graph, bool direct, const char *where,
                     int64_t end) {
    int st = TG_OK;
    bool mode = tape->grad_enabled;
    tape->grad_enabled = create_graph;
    tape->in_backward = true;
    tape->direct_leaf_grads = direct && !create_graph && !tape->anomaly;
    for (int64_t i = end; i >= 0 && st == TG_OK; i--) {
        // A copy: with create_graph the rules record nodes, which may move tape->nodes.
        const tg_node node = tape->nodes[i], *n = &node;
        tg_tensor *dout = n->out->bgrad;
        if (!dout) continue;
        tg_tensor *small[4] = {0};
        int n_in = n->n_in;
        tg_tensor **contrib = small;
        if (n_in > 4) {   // variadic ops (concat): contributions live in the arena
            contrib = tg__arena_alloc(tape, (size_t)n_in * sizeof *contrib);
            if (!contrib) {
                tg__fail(TG_ERR_OOM, where, "out of memory in the tape arena");
                st = TG_ERR_OOM;
                break;
            }
            memset(contrib, 0, (size_t)n_in * sizeof *contrib);
        }
        st = n->def->backward(tape, n, dout, contrib);
        for (int k = 0; k < n_in && st == TG_OK && tape->anomaly; k++) {
            if (!contrib[k] || !tg__nonfinite(contrib[k])) continue;
            char s[512];
            tg_tensor *ins[TG_MAX_DIMS];
            int shown = n_in < TG_MAX_DIMS ? n_in : TG_MAX_DIMS;
            for (int j = 0; j < shown; j++) ins[j] = tg__node_input(n, j);
            tg__fail(TG_ERR_NUMERIC, where,
                     "anomaly: the gradient rule of %s (node %lld, inputs %s) produced NaN/Inf "
                     "for input %d", n->def->name, (long long)i,
                     tg__inputs_str(s, sizeof s, shown, ins), k);
            st = TG_ERR_NUMERIC;
        }
        for (int k = 0; k < n_in && st == TG_OK; k++) {
            tg_tensor *x = tg__node_input(n, k);
            if (!x->requires_grad || !contrib[k]) continue;
            tg_tensor *d = tg__sum_to(tape, contrib[k], x->ndim, x->shape);
            if (d) d = x->bgrad ? tg_add(tape, x->bgrad, d) : d;
            if (!d) st = tg_last_status() ? tg_last_status() : TG_ERR_INVALID_ARG;
            else x->bgrad = d;
        }
        if (st && !tg__has_error())
            tg__fail(st, where, "gradient rule of %s (node %lld) failed", n->def->name,
                     (long long)i);
    }
    tape->in_backward = false;
    tape->direct_leaf_grads = false;
    tape->grad_enabled = mode;
    if (st) clear_bgrads(tape, end);
    return st;
}

static int accumulate_leaf(tg_tensor *leaf, const char *where) {
    tg_tensor *g = leaf->bgrad;
    leaf->bgrad = NULL;
    if (!leaf->grad) {
        leaf->grad = tg__persistent_new(leaf->be, leaf->dtype, leaf->ndim, leaf->shape, where);
        if (!leaf->grad) return tg_last_status();
        leaf->grad->is_grad = true;
        return leaf->be->ops->copy(leaf->be->ctx, leaf->grad->data, g->data, g->nbytes);
    }
    return tg_axpby_(leaf->grad, 1.0, g, 1.0);
}

int tg_backward_ex(tg_tape *tape, tg_tensor *out, const tg_tensor *seed,
                   const tg_backward_opts *opts) {
    tg_backward_opts o = opts ? *opts : tg_backward_opts_default();
    if (o.create_graph) o.retain_graph = true;
    int64_t end = -1;
    int st = sweep(tape, out, seed, o.create_graph, true, "tg_backward", &end);
    if (st) return st;
    // Leaves: persistent requires_grad tensors reached by the sweep (and out itself).
    if (!out->is_step && out->bgrad) st = accumulate_leaf(out, "tg_backward");
    for (int64_t i = 0; i <= end && st == TG_OK; i++) {
        tg_node *n = &tape->nodes[i];
        for (int k = 0; k < n->n_in && st == TG_OK; k++) {
            tg_tensor *x = tg__node_input(n, k);
            if (!x->is_step && x->bgrad) st = accumulate_leaf(x, "tg_backward");
        }
    }
    clear_bgrads(tape, end);
    if (!o.retain_graph) tape->graph_freed = true;
    return st;
}

int tg_backward(tg_tape *tape, tg_tensor *loss) {
    return tg_backward_ex(tape, loss, NULL, NULL);
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
    }
    tg_backward_opts o = opts ? *opts : tg_backward_opts_default();
    if (o.create_graph) o.retain_graph = true;
    int64_t end = -1;
    int st = sweep(tape, out, seed, o.create_graph, false, "tg_grad", &end);
    if (st) return st;
    bool mode = tg_tape_set_grad(tape, false);
    for (int i = 0; i < n_inputs && st == TG_OK; i++) {
        tg_tensor *x = inputs[i];
        if (x->bgrad) {
            grads[i] = x->bgrad;
            continue;
        }
        grads[i] = tg__step_new(tape, x->be, x->dtype, x->ndim, x->shape, "tg_grad");
        if (!grads[i]) st = tg_last_status();
        else if (grads[i]->nbytes)
            st = x->be->ops->memset0(x->be->ctx, grads[i]->data, grads[i]->nbytes);
    }
    tg_tape_set_grad(tape, mode);
    clear_bgrads(tape, end);
    out->bgrad = NULL;
    if (!o.retain_graph) tape->graph_freed = true;
    return st;
}

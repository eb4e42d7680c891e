// User-defined ops (tg_custom): recorded on the tape like built-ins. Each call gets a
// descriptor in the tape arena carrying the user's name, so errors and DOT name it; the
// user's op and data pointers are the node's parameters.
#include <stdint.h>
#include <string.h>

#include "ops/op_table.h"

typedef struct {
    const tg_custom_op *op;
    void *user;
} custom_params;

// A user rule's contribution for input x must be a live tensor of x's dtype and backend,
// of this tape if a step tensor, and of x's shape or one that sums back to it (x's shape
// broadcast to it). Anything else would be summed or copied into x's gradient blindly.
static int check_contribution(const char *name, const tg_tape *tape, int k, const tg_tensor *d,
                              const tg_tensor *x) {
    char s1[160], s2[160];
    if (!tg__is_live(d) || (d->is_step && d->tape != tape)) {
        tg__fail(TG_ERR_STATE, name, "custom gradient for input %d is %s", k,
                 tg__is_live(d) ? "a step tensor of another tape" : "freed or stale");
        return TG_ERR_STATE;
    }
    if (d->dtype != x->dtype || d->be != x->be) {
        tg__fail(d->dtype != x->dtype ? TG_ERR_DTYPE : TG_ERR_BACKEND, name,
                 "custom gradient for input %d is %s on %s; the input is %s on %s", k,
                 tg_dtype_name(d->dtype), d->be->ops->name, tg_dtype_name(x->dtype),
                 x->be->ops->name);
        return d->dtype != x->dtype ? TG_ERR_DTYPE : TG_ERR_BACKEND;
    }
    bool ok = d->ndim >= x->ndim;
    for (int i = 0; ok && i < x->ndim; i++) {
        int64_t xd = x->shape[i], dd = d->shape[d->ndim - x->ndim + i];
        ok = xd == dd || xd == 1;
    }
    if (!ok) {
        tg__fail(TG_ERR_SHAPE, name,
                 "custom gradient for input %d has shape %s, which does not sum back to the "
                 "input's %s", k, tg__shape_str(s1, sizeof s1, d->ndim, d->shape),
                 tg__shape_str(s2, sizeof s2, x->ndim, x->shape));
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

static int custom_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    const custom_params *p = tg__node_params(node);
    const tg_custom_op *op = p->op;
    void *user = p->user;
    tg_tensor *small[3];
    tg_tensor *const *in = node->in_ext ? node->in_ext : (tg_tensor *const *)small;
    for (int k = 0; !node->in_ext && k < node->n_in; k++) small[k] = node->in[k];
    int st = op->backward(tape, in, node->n_in, node->out, dout, din, user);
    if (st && !tg__has_error())
        tg__fail(st, op->name, "custom gradient rule failed (status %d)", st);
    if (st > 0) st = tg_last_status();   // a positive code is stored as TG_ERR_INVALID_ARG
    for (int k = 0; k < node->n_in && !st; k++)
        if (din[k]) st = check_contribution(op->name, tape, k, din[k], in[k]);
    return st;
}

// ---- checked mode: an output the forward did not write ----
// Before the forward, the output is filled with a NaN whose payload no arithmetic makes;
// an element still holding it afterwards was never written.
static const uint64_t POISON64 = 0x7ff8dead0badf00dull;
static const uint32_t POISON32 = 0x7fcdeadbu;

static void *poison_buffer(const tg_tensor *out) {
    void *h = tg__malloc(out->nbytes);
    for (int64_t i = 0; h && i < out->numel; i++) {
        if (out->dtype == TG_F64) memcpy((char *)h + 8 * i, &POISON64, 8);
        else memcpy((char *)h + 4 * i, &POISON32, 4);
    }
    return h;
}

// TG_OK, or an error naming the first output element the forward left unset.
static int check_written(const tg_custom_op *op, const tg_tensor *out, void *h) {
    int st = tg_copy_to_host(out, h, out->nbytes);
    if (st) return st;
    for (int64_t i = 0; i < out->numel; i++) {
        bool poisoned = out->dtype == TG_F64 ? !memcmp((char *)h + 8 * i, &POISON64, 8)
                                             : !memcmp((char *)h + 4 * i, &POISON32, 4);
        if (poisoned) {
            tg__fail(TG_ERR_STATE, op->name,
                     "custom forward returned TG_OK but left output element %lld of %lld "
                     "unset (checked mode)", (long long)i, (long long)out->numel);
            return TG_ERR_STATE;
        }
    }
    return TG_OK;
}

// Runs the user's forward unrecorded. A forward that returns TG_OK must have filled the
// output without failing on the way (an error it raised and dropped is its failure).
static int run_forward(tg_tape *tape, const tg_custom_op *op, int n_in, tg_tensor *const *in,
                       tg_tensor *out, void *user) {
    void *h = NULL;
    if (tape->checked && out->numel) {
        if (!(h = poison_buffer(out))) {
            tg__fail(TG_ERR_OOM, op->name, "out of memory (checked mode)");
            return TG_ERR_OOM;
        }
        int st = tg_copy_from_host(out, h, out->nbytes);
        if (st) {
            tg__free(h);
            return st;
        }
    }
    bool had_error = tg__has_error();
    bool mode = tg_tape_set_grad(tape, false);   // the forward's own ops are not recorded
    int st = op->forward(tape, in, n_in, out, user);
    tg_tape_set_grad(tape, mode);
    if (st && !tg__has_error()) tg__fail(st, op->name, "custom forward failed (status %d)", st);
    if (st > 0) st = tg_last_status();
    if (!st && !had_error && tg__has_error()) st = tg_last_status();
    if (!st && h) st = check_written(op, out, h);
    tg__free(h);
    return st;
}

// The table's entry: custom nodes carry per-call copies of it with the user's name.
const tg_op_def tg__op_custom = {
    .id = TG_OP_CUSTOM, .name = "tg_custom", .arity = -1,
    .backward = custom_backward,
    .params_size = sizeof(custom_params),
};

tg_tensor *tg_custom(tg_tape *tape, const tg_custom_op *op, int n_in, tg_tensor *const *in,
                     int ndim, const int64_t *shape, void *user) {
    if (!op || !op->name || !op->forward || n_in <= 0 || !in) {
        tg__fail(TG_ERR_INVALID_ARG, op && op->name ? op->name : "tg_custom",
                 "need an op with a name and a forward, and at least one input");
        return NULL;
    }
    tg_op_def probe = tg__op_custom;
    probe.name = op->name;
    if (tg__check_inputs(tape, &probe, n_in, in)) return NULL;
    if (tg__check_shape(ndim, shape, op->name)) return NULL;
    tg_op_def *def = tg__arena_alloc(tape, sizeof *def);
    if (!def) {
        tg__fail(TG_ERR_OOM, op->name, "out of memory in the tape arena");
        return NULL;
    }
    *def = probe;
    if (!op->backward) def->backward = NULL;
    tg_tensor *out = tg__step_new(tape, in[0]->be, in[0]->dtype, ndim, shape, op->name);
    if (!out) return NULL;
    if (run_forward(tape, op, n_in, in, out, user)) return NULL;
    tape->n_ops++;
    if (tape->anomaly && !tape->in_backward && tg__nonfinite(out)) {
        char s[512];
        tg__fail(TG_ERR_NUMERIC, op->name, "anomaly: output has NaN/Inf (inputs %s)",
                 tg__inputs_str(s, sizeof s, n_in, in));
        return NULL;
    }
    custom_params p = {op, user};
    return tg__record(tape, def, n_in, in, &p, out);
}

// The tape: an arena of step tensors and a Wengert list of nodes. tg__apply is the one
// path every op takes (checks, shape inference, output allocation, forward, recording).
// Invariant: nodes are in execution order, so backward is a reverse walk.
#include <string.h>

#include "core/internal.h"

#define ARENA_CHUNK (64 * 1024)

struct tg_arena_chunk {
    struct tg_arena_chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char mem[];
};

void *tg__arena_alloc(tg_tape *tape, size_t bytes) {
    bytes = (bytes + 15) & ~(size_t)15;
    struct tg_arena_chunk *c = tape->cur;
    while (c && c->used + bytes > c->size) c = c->next;   // later chunks kept from reuse
    if (!c) {
        size_t size = bytes > ARENA_CHUNK ? bytes : ARENA_CHUNK;
        c = tg__malloc(sizeof *c + size);
        if (!c) return NULL;
        c->used = 0;
        c->size = size;
        c->next = NULL;
        if (!tape->chunks) tape->chunks = c;
        else {
            struct tg_arena_chunk *last = tape->cur ? tape->cur : tape->chunks;
            while (last->next) last = last->next;
            last->next = c;
        }
    }
    tape->cur = c;
    void *p = c->mem + c->used;
    c->used += bytes;
    return p;
}

tg_tape *tg_tape_new(void) {
    tg_tape *t = tg__calloc(1, sizeof *t);
    if (!t) {
        tg__fail(TG_ERR_OOM, "tg_tape_new", "out of memory");
        return NULL;
    }
    t->grad_enabled = true;
    return t;
}

void tg_tape_reset(tg_tape *tape) {
    if (!tape) return;
    for (int64_t i = 0; i < tape->n_steps; i++) {
        tg_tensor *s = tape->steps[i];
        if (s->owns_data && s->data) tg__buf_release(s->be, s->data, s->nbytes);
    }
    for (int64_t i = 0; i < tape->n_pinned; i++) {
        tg_tensor *p = tape->pinned[i];
        p->pins--;
        p->bgrad = NULL;
        if (p->pin_tape == tape) p->pin_tape = NULL;
    }
    tape->n_steps = tape->n_nodes = tape->n_pinned = 0;
    for (struct tg_arena_chunk *c = tape->chunks; c; c = c->next) c->used = 0;
    tape->cur = tape->chunks;
    tape->graph_freed = false;
    tape->n_ops = 0;
    tape->epoch++;
}

void tg_tape_free(tg_tape *tape) {
    if (!tape) return;
    tg_tape_reset(tape);
    for (struct tg_arena_chunk *c = tape->chunks, *n; c; c = n) {
        n = c->next;
        tg__free(c);
    }
    tg__free(tape->nodes);
    tg__free(tape->steps);
    tg__free(tape->pinned);
    tg__free(tape);
}

bool tg_tape_set_grad(tg_tape *tape, bool enabled) {
    if (!tape) return false;
    bool old = tape->grad_enabled;
    tape->grad_enabled = enabled;
    return old;
}

bool tg_tape_grad_enabled(const tg_tape *tape) { return tape && tape->grad_enabled; }

bool tg_tape_set_anomaly(tg_tape *tape, bool enabled) {
    if (!tape) return false;
    bool old = tape->anomaly;
    tape->anomaly = enabled;
    return old;
}
int64_t tg_tape_size(const tg_tape *tape) { return tape ? tape->n_nodes : 0; }

int tg__pin(tg_tape *tape, tg_tensor *t) {
    if (t->is_step || (t->pin_tape == tape && t->pin_epoch == tape->epoch)) return TG_OK;
    if (tape->n_pinned == tape->cap_pinned) {
        int64_t cap = tape->cap_pinned ? tape->cap_pinned * 2 : 64;
        tg_tensor **p = tg__realloc(tape->pinned, (size_t)cap * sizeof *p);
        if (!p) return TG_ERR_OOM;
        tape->pinned = p;
        tape->cap_pinned = cap;
    }
    tape->pinned[tape->n_pinned++] = t;
    t->pins++;
    t->pin_tape = tape;
    t->pin_epoch = tape->epoch;
    return TG_OK;
}

tg_tensor *tg__record(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in,
                      const tg_attrs *at, tg_tensor *out) {
    bool any = false;
    for (int i = 0; i < n_in; i++) any |= in[i]->requires_grad;
    if (!tape->grad_enabled || !def->backward || !any) return out;
    if (tape->n_nodes == tape->cap_nodes) {
        int64_t cap = tape->cap_nodes ? tape->cap_nodes * 2 : 256;
        tg_node *n = tg__realloc(tape->nodes, (size_t)cap * sizeof *n);
        if (!n) {
            tg__fail(TG_ERR_OOM, def->name, "out of memory growing the tape");
            return NULL;
        }
        tape->nodes = n;
        tape->cap_nodes = cap;
    }
    tg_node *node = &tape->nodes[tape->n_nodes];
    node->def = def;
    node->n_in = n_in;
    node->in_ext = NULL;
    if (n_in > 3) {
        node->in_ext = tg__arena_alloc(tape, (size_t)n_in * sizeof(tg_tensor *));
        if (!node->in_ext) {
            tg__fail(TG_ERR_OOM, def->name, "out of memory in the tape arena");
            return NULL;
        }
        memcpy(node->in_ext, in, (size_t)n_in * sizeof(tg_tensor *));
    } else {
        for (int i = 0; i < n_in; i++) node->in[i] = in[i];
    }
    for (int i = 0; i < n_in; i++) {
        if (tg__pin(tape, in[i])) {
            tg__fail(TG_ERR_OOM, def->name, "out of memory growing the tape");
            return NULL;
        }
    }
    node->out = out;
    static const tg_attrs no_attrs;   // a copy, not a memset (that compiles to rep stos)
    node->attrs = at ? *at : no_attrs;
    out->requires_grad = true;
    out->node = tape->n_nodes++;
    return out;
}

// Inputs must be non-NULL, of one dtype and backend, and not step tensors of another tape.
int tg__check_inputs(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in) {
    if (!tape) {
        tg__fail(TG_ERR_INVALID_ARG, def->name, "tape is NULL");
        return TG_ERR_INVALID_ARG;
    }
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) {
            tg__fail(TG_ERR_INVALID_ARG, def->name, "input %d is NULL", i);
            return TG_ERR_INVALID_ARG;
        }
    }
    for (int i = 0; i < n_in; i++) {
        if (in[i]->is_step && in[i]->tape != tape) {
            tg__fail(TG_ERR_STATE, def->name,
                     "input %d is a step tensor of another tape; copy it with tg_to", i);
            return TG_ERR_STATE;
        }
        if (in[i]->dtype != in[0]->dtype) {
            tg__fail(TG_ERR_DTYPE, def->name, "mixed dtypes: input 0 is %s, input %d is %s",
                     tg_dtype_name(in[0]->dtype), i, tg_dtype_name(in[i]->dtype));
            return TG_ERR_DTYPE;
        }
        if (in[i]->be != in[0]->be) {
            tg__fail(TG_ERR_BACKEND, def->name,
                     "inputs on different backends: input 0 on %s, input %d on %s",
                     in[0]->be->ops->name, i, in[i]->be->ops->name);
            return TG_ERR_BACKEND;
        }
    }
    return TG_OK;
}

tg_tensor *tg__apply(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in,
                     const tg_attrs *at) {
    if (tg__check_inputs(tape, def, n_in, in)) return NULL;
    int ndim = 0;
    int64_t shape[TG_MAX_DIMS];
    if (def->infer(in, n_in, at, &ndim, shape)) return NULL;
    tg_tensor *out = tg__step_new(tape, in[0]->be, in[0]->dtype, ndim, shape, def->name);
    if (!out) return NULL;
    if (out->numel && def->forward(in, n_in, at, out)) return NULL;
    int64_t op_no = tape->n_ops++;
    // During backward the sweep checks each rule's result instead, so that the error names
    // the forward op whose rule went wrong rather than an op inside the rule.
    if (tape->anomaly && !tape->in_backward && tg__nonfinite(out)) {
        char s[512];
        tg__fail(TG_ERR_NUMERIC, def->name,
                 "anomaly: output has NaN/Inf (op #%lld on the tape, node %lld, inputs %s)",
                 (long long)op_no, (long long)tape->n_nodes, tg__inputs_str(s, sizeof s, n_in, in));
        return NULL;
    }
    return tg__record(tape, def, n_in, in, at, out);
}

// The tape: an arena of step tensors and a Wengert list of nodes. tg__apply is the one
// path every op takes (checks, shape inference, output allocation, forward, recording).
// Invariant: nodes are in execution order, so backward is a reverse walk.
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define ARENA_CHUNK (64 * 1024)
#define QUARANTINE_EPOCHS 64   // checked mode: a reset's chunks stay poisoned this long

struct tg_arena_chunk {
    struct tg_arena_chunk *next;
    size_t used, size;
    uint64_t epoch;            // quarantine: the epoch that retired it
    _Alignas(16) unsigned char mem[];
};

// Process-wide source of pin tokens (a counter, not behaviour-changing state): unique per
// (tape, epoch), so a tensor's pin_key cache can never match a reset or another tape.
static atomic_uint_fast64_t next_token = 1;

static uint64_t new_token(void) {
    return (uint64_t)atomic_fetch_add_explicit(&next_token, 1, memory_order_relaxed);
}

static struct tg_arena_chunk *new_chunk(size_t size) {
    struct tg_arena_chunk *c = tg__malloc(sizeof *c + size);
    if (!c) return NULL;
    c->used = 0;
    c->size = size;
    c->next = NULL;
    return c;
}

// Appends c to the list at *head (after `from`, a member of it, when given).
static void append_chunk(struct tg_arena_chunk **head, struct tg_arena_chunk *from,
                         struct tg_arena_chunk *c) {
    if (!*head) {
        *head = c;
        return;
    }
    struct tg_arena_chunk *last = from ? from : *head;
    while (last->next) last = last->next;
    last->next = c;
}

void *tg__arena_alloc(tg_tape *tape, size_t bytes) {
    bytes = (bytes + 15) & ~(size_t)15;
    struct tg_arena_chunk *c = tape->cur;
    while (c && c->used + bytes > c->size) c = c->next;   // later chunks kept from reuse
    if (!c) {
        if (!(c = new_chunk(bytes > ARENA_CHUNK ? bytes : ARENA_CHUNK))) return NULL;
        append_chunk(&tape->chunks, tape->cur, c);
    }
    tape->cur = c;
    void *p = c->mem + c->used;
    c->used += bytes;
    return p;
}

// ---- slots for step tensor structs ----
// A chunk holds SLOTS fixed slots of TG_SLOT_BYTES; in odd epochs every slot starts half a
// slot later. A struct of epoch e is then overlapped in epoch e + 1 only by the second
// half of one struct and the first half of the next, so a stale pointer reads either its
// own stale struct (intact: the epoch stamp differs) or a guard word (TG_MAGIC_DEAD),
// never a live header: a step tensor used one reset late is always refused, without a
// second arena (same memory, same cache lines every epoch). Two or more resets late, the
// slot lines up again; checked mode (TG_CHECKED=1) retires and poisons the slots instead.
#define SLOTS 255

tg_tensor *tg__slot_alloc(tg_tape *tape) {
    struct tg_arena_chunk *c = tape->slot_cur;
    while (c && c->used == c->size) c = c->next;
    if (!c) {
        if (!(c = new_chunk(SLOTS * TG_SLOT_BYTES + TG_SLOT_BYTES / 2))) return NULL;
        c->size = SLOTS;   // counted in slots
        append_chunk(&tape->slot_chunks, tape->slot_cur, c);
    }
    tape->slot_cur = c;
    size_t shift = (tape->epoch & 1) ? TG_SLOT_BYTES / 2 : 0;
    return (tg_tensor *)(void *)(c->mem + shift + c->used++ * TG_SLOT_BYTES);
}

static bool env_checked(void) {
    const char *e = getenv("TG_CHECKED");
    return e && *e && strcmp(e, "0") != 0;
}

tg_tape *tg_tape_new(void) {
    tg_tape *t = tg__calloc(1, sizeof *t);
    if (!t) {
        tg__fail(TG_ERR_OOM, "tg_tape_new", "out of memory");
        return NULL;
    }
    t->grad_enabled = true;
    t->cur_scope = -1;
    t->checked = env_checked();
    t->token = new_token();
    return t;
}

static void free_chunks(struct tg_arena_chunk *c) {
    for (struct tg_arena_chunk *n; c; c = n) {
        n = c->next;
        tg__free(c);
    }
}

// Checked mode: the slots are poisoned (every stale pointer into them reads
// TG_MAGIC_STALE) and retired instead of reused; retired chunks are freed QUARANTINE_EPOCHS
// resets later. Costs allocations per step: a debugging mode, off unless TG_CHECKED=1.
static void retire_slots(tg_tape *tape) {
    for (struct tg_arena_chunk *c = tape->slot_chunks, *n; c; c = n) {
        n = c->next;
        uint32_t *w = (uint32_t *)(void *)c->mem;
        for (size_t i = 0; i < (SLOTS * TG_SLOT_BYTES + TG_SLOT_BYTES / 2) / 4; i++)
            w[i] = TG_MAGIC_STALE;
        c->epoch = tape->epoch;
        c->next = tape->quarantine;
        tape->quarantine = c;
    }
    tape->slot_chunks = tape->slot_cur = NULL;
    // The list is newest first: drop the tail that is old enough.
    struct tg_arena_chunk **pp = &tape->quarantine;
    while (*pp && (*pp)->epoch + QUARANTINE_EPOCHS > tape->epoch) pp = &(*pp)->next;
    free_chunks(*pp);
    *pp = NULL;
}

// A NULL tape sets the error (tg_tape_* queries answer their documented default).
static bool tape_given(const tg_tape *tape, const char *where) {
    if (!tape) tg__fail(TG_ERR_INVALID_ARG, where, "tape is NULL");
    return tape != NULL;
}

void tg_tape_reset(tg_tape *tape) {
    if (!tape_given(tape, "tg_tape_reset")) return;
    for (int64_t i = 0; i < tape->n_steps; i++) {
        tg_tensor *s = tape->steps[i];
        if (s->owns_data && s->data) tg__buf_release(s->be, s->data, s->nbytes);
    }
    for (int64_t i = 0; i < tape->n_pinned; i++) {
        struct tg_pin *e = &tape->pinned[i];
        atomic_fetch_sub_explicit(&e->t->pins, 1, memory_order_acq_rel);
        tape->pin_index[e->islot] = -1;
    }
    tape->n_steps = tape->n_nodes = tape->n_pinned = 0;
    tape->n_scopes = 0;
    tape->cur_scope = -1;
    tape->n_ops = 0;
    tape->epoch++;
    tape->token = new_token();
    for (struct tg_arena_chunk *c = tape->chunks; c; c = c->next) c->used = 0;
    tape->cur = tape->chunks;
    if (tape->checked) {
        retire_slots(tape);
    } else {
        for (struct tg_arena_chunk *c = tape->slot_chunks; c; c = c->next) c->used = 0;
        tape->slot_cur = tape->slot_chunks;
    }
}

void tg_tape_free(tg_tape *tape) {
    if (!tape) return;
    tg_tape_reset(tape);
    free_chunks(tape->chunks);
    free_chunks(tape->slot_chunks);
    free_chunks(tape->quarantine);
    tg__free(tape->nodes);
    tg__free(tape->steps);
    tg__free(tape->pinned);
    tg__free(tape->pin_index);
    tg__free(tape->scopes);
    tg__free(tape);
}

bool tg_tape_set_grad(tg_tape *tape, bool enabled) {
    if (!tape_given(tape, "tg_tape_set_grad")) return false;
    bool old = tape->grad_enabled;
    tape->grad_enabled = enabled;
    return old;
}

bool tg_tape_grad_enabled(const tg_tape *tape) {
    return tape_given(tape, "tg_tape_grad_enabled") && tape->grad_enabled;
}

bool tg_tape_set_anomaly(tg_tape *tape, bool enabled) {
    if (!tape_given(tape, "tg_tape_set_anomaly")) return false;
    bool old = tape->anomaly;
    tape->anomaly = enabled;
    tape->anomaly_nan_only = false;
    return old;
}

tg_anomaly_mode tg_tape_set_anomaly_mode(tg_tape *tape, tg_anomaly_mode mode) {
    if (!tape_given(tape, "tg_tape_set_anomaly_mode")) return TG_ANOMALY_OFF;
    if (mode != TG_ANOMALY_OFF && mode != TG_ANOMALY_NAN_INF && mode != TG_ANOMALY_NAN) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_tape_set_anomaly_mode",
                 "mode %d is not a tg_anomaly_mode (the mode is unchanged)", (int)mode);
        return TG_ANOMALY_OFF;
    }
    tg_anomaly_mode old = !tape->anomaly          ? TG_ANOMALY_OFF
                          : tape->anomaly_nan_only ? TG_ANOMALY_NAN
                                                   : TG_ANOMALY_NAN_INF;
    tape->anomaly = mode == TG_ANOMALY_NAN_INF || mode == TG_ANOMALY_NAN;
    tape->anomaly_nan_only = mode == TG_ANOMALY_NAN;
    return old;
}
int64_t tg_tape_size(const tg_tape *tape) {
    return tape_given(tape, "tg_tape_size") ? tape->n_nodes : -1;
}

// ---- pins: persistent tensors recorded this epoch ----
// pinned[] lists each once; pin_index hashes them by address. A tensor's pin_key caches
// (token, slot) of the last tape that pinned it, so the usual lookup is one load and one
// compare; with tapes on several threads the cache is only a hint (a relaxed atomic word),
// and the hash decides.

#define KEY_SLOT_BITS TG_PIN_SLOT_BITS
#define KEY_TOKEN_MASK ((UINT64_C(1) << (64 - KEY_SLOT_BITS)) - 1)

static int64_t hash_home(const tg_tensor *t, int64_t cap) {
    uint64_t x = (uint64_t)(uintptr_t)t;
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return (int64_t)(x & (uint64_t)(cap - 1));
}

// The index slot holding t, or the empty slot where it would go.
static int64_t index_slot(const tg_tape *tape, const tg_tensor *t) {
    int64_t cap = tape->pin_index_cap, i = hash_home(t, cap);
    while (tape->pin_index[i] >= 0 && tape->pinned[tape->pin_index[i]].t != t)
        i = (i + 1) & (cap - 1);
    return i;
}

static void cache_key(const tg_tape *tape, tg_tensor *t, int64_t slot) {
    if (slot >= (INT64_C(1) << KEY_SLOT_BITS)) return;
    uint64_t key = ((tape->token & KEY_TOKEN_MASK) << KEY_SLOT_BITS) | (uint64_t)slot;
    atomic_store_explicit(&t->pin_key, key, memory_order_relaxed);
}

struct tg_pin *tg__pin_find(const tg_tape *tape, const tg_tensor *t) {
    uint64_t key = atomic_load_explicit(&t->pin_key, memory_order_relaxed);
    if ((key >> KEY_SLOT_BITS) == (tape->token & KEY_TOKEN_MASK)) {
        struct tg_pin *e = &tape->pinned[key & ((UINT64_C(1) << KEY_SLOT_BITS) - 1)];
        if (e->t == t) return e;
    }
    if (!tape->n_pinned) return NULL;
    int32_t k = tape->pin_index[index_slot(tape, t)];
    return k >= 0 ? &tape->pinned[k] : NULL;
}

static int grow_pins(tg_tape *tape) {
    int64_t cap = tape->cap_pinned ? tape->cap_pinned * 2 : 64;
    if (cap > INT32_MAX / 4) return TG_ERR_OOM;
    // The index first: a failure leaves the tape exactly as it was (the old table, the old
    // index and the old capacity, all still consistent).
    int32_t *idx = tg__malloc((size_t)cap * 4 * sizeof *idx);
    if (!idx) return TG_ERR_OOM;
    struct tg_pin *p = tg__realloc(tape->pinned, (size_t)cap * sizeof *p);
    if (!p) {
        tg__free(idx);
        return TG_ERR_OOM;
    }
    tape->pinned = p;
    tape->cap_pinned = cap;
    tg__free(tape->pin_index);
    tape->pin_index = idx;
    tape->pin_index_cap = cap * 4;
    memset(idx, 0xff, (size_t)tape->pin_index_cap * sizeof *idx);
    for (int64_t k = 0; k < tape->n_pinned; k++) {
        int64_t i = index_slot(tape, tape->pinned[k].t);
        idx[i] = (int32_t)k;
        tape->pinned[k].islot = (int32_t)i;
    }
    return TG_OK;
}

int tg__pin_slow(tg_tape *tape, tg_tensor *t) {
    if (tape->n_pinned) {
        int32_t k = tape->pin_index[index_slot(tape, t)];
        if (k >= 0) {
            cache_key(tape, t, k);
            return TG_OK;
        }
    }
    if (tape->n_pinned == tape->cap_pinned && grow_pins(tape)) return TG_ERR_OOM;
    int64_t k = tape->n_pinned++;
    int64_t i = index_slot(tape, t);
    tape->pinned[k].t = t;
    tape->pinned[k].bgrad = NULL;
    tape->pinned[k].first_node = tape->n_nodes;
    tape->pinned[k].islot = (int32_t)i;
    tape->pinned[k].sunk = false;
    tape->pin_index[i] = (int32_t)k;
    atomic_fetch_add_explicit(&t->pins, 1, memory_order_acq_rel);
    cache_key(tape, t, k);
    return TG_OK;
}

tg_tensor *tg__record(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in,
                      const void *params, tg_tensor *out) {
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
    node->ver_ext = NULL;
    node->freed = false;
    node->scope = tape->cur_scope;
    if (n_in > 3) {
        node->in_ext = tg__arena_alloc(tape, (size_t)n_in * sizeof(tg_tensor *));
        node->ver_ext = tg__arena_alloc(tape, (size_t)(n_in + 1) * sizeof(uint64_t));
        if (!node->in_ext || !node->ver_ext) {
            tg__fail(TG_ERR_OOM, def->name, "out of memory in the tape arena");
            return NULL;
        }
        memcpy(node->in_ext, in, (size_t)n_in * sizeof(tg_tensor *));
        for (int i = 0; i < n_in; i++) node->ver_ext[i] = *in[i]->version;
        node->ver_ext[n_in] = *out->version;
    } else {
        for (int i = 0; i < n_in; i++) {
            node->in[i] = in[i];
            node->ver[i] = *in[i]->version;
        }
        node->ver[3] = *out->version;
    }
    for (int i = 0; i < n_in; i++) {
        if (tg__pin(tape, in[i])) {
            tg__fail(TG_ERR_OOM, def->name, "out of memory growing the tape");
            return NULL;
        }
    }
    node->out = out;
    node->params = NULL;
    if (params && def->params_size) {
        void *copy = tg__arena_alloc(tape, def->params_size);
        if (!copy) {
            tg__fail(TG_ERR_OOM, def->name, "out of memory in the tape arena");
            return NULL;
        }
        node->params = memcpy(copy, params, def->params_size);
    }
    out->requires_grad = true;
    out->node = tape->n_nodes++;
    return out;
}

// Inputs must be non-NULL, of one dtype and backend, and not step tensors of another tape.
int tg__check_args(tg_tape *tape, const char *fn, int n_in, tg_tensor *const *in) {
    const tg_op_def def = {.name = fn, .arity = n_in};
    return tg__check_inputs(tape, &def, n_in, in);
}

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
        if (!tg__is_live(in[i])) {
            bool freed = in[i]->magic != TG_MAGIC_LIVE && in[i]->magic != TG_MAGIC_STALE;
            tg__fail(TG_ERR_STATE, def->name, "input %d is %s", i,
                     freed ? "a freed tensor"
                           : "a step tensor of an earlier tape epoch (used after tg_tape_reset)");
            return TG_ERR_STATE;
        }
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
                     const void *params) {
    if (tg__check_inputs(tape, def, n_in, in)) return NULL;
    int ndim = 0;
    int64_t shape[TG_MAX_DIMS];
    if (def->infer(in, n_in, params, &ndim, shape)) return NULL;
    tg_tensor *out = tg__step_new(tape, in[0]->be, in[0]->dtype, ndim, shape, def->name);
    if (!out) return NULL;
    if (out->numel && def->forward(in, n_in, params, out)) return NULL;
    int64_t op_no = tape->n_ops++;
    // During backward the sweep checks each rule's result instead, so that the error names
    // the forward op whose rule went wrong rather than an op inside the rule.
    const char *bad = tape->anomaly && !tape->in_backward ? tg__anomaly_in(tape, out) : NULL;
    if (bad) {
        char s[512];
        tg__fail(TG_ERR_NUMERIC, def->name,
                 "anomaly: output has %s (op #%lld on the tape, node %lld, inputs %s)", bad,
                 (long long)op_no, (long long)tape->n_nodes, tg__inputs_str(s, sizeof s, n_in, in));
        return NULL;
    }
    return tg__record(tape, def, n_in, in, params, out);
}

// ---- scopes ----

int tg_tape_push_scope(tg_tape *tape, const char *name) {
    if (!tape || !name) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_tape_push_scope", "%s is NULL", tape ? "name" : "tape");
        return TG_ERR_INVALID_ARG;
    }
    if (tape->n_scopes == tape->cap_scopes) {
        int32_t cap = tape->cap_scopes ? tape->cap_scopes * 2 : 32;
        if (cap > INT32_MAX / 2) cap = tape->cap_scopes + 1;
        struct tg_scope *sc = tg__realloc(tape->scopes, (size_t)cap * sizeof *sc);
        if (!sc) {
            tg__fail(TG_ERR_OOM, "tg_tape_push_scope", "out of memory");
            return TG_ERR_OOM;
        }
        tape->scopes = sc;
        tape->cap_scopes = cap;
    }
    size_t len = strnlen(name, 127);
    char *copy = tg__arena_alloc(tape, len + 1);
    if (!copy) {
        tg__fail(TG_ERR_OOM, "tg_tape_push_scope", "out of memory in the tape arena");
        return TG_ERR_OOM;
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    tape->scopes[tape->n_scopes] = (struct tg_scope){.parent = tape->cur_scope, .name = copy};
    tape->cur_scope = tape->n_scopes++;
    return TG_OK;
}

int tg_tape_pop_scope(tg_tape *tape) {
    if (!tape || tape->cur_scope < 0) {
        tg__fail(tape ? TG_ERR_STATE : TG_ERR_INVALID_ARG, "tg_tape_pop_scope",
                 "%s", tape ? "no scope is open" : "tape is NULL");
        return tape ? TG_ERR_STATE : TG_ERR_INVALID_ARG;
    }
    tape->cur_scope = tape->scopes[tape->cur_scope].parent;
    return TG_OK;
}

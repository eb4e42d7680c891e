// The module core: construction, the flattened parameter/buffer lists with PyTorch-style
// state-dict names, train/eval, moving between backends, and the Keras-style summary.
// Freeing and moving a built module are all or nothing, and allocate nothing that could
// fail half-way: the flattened list of a tree is one block, built whole at creation.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/module_impl.h"

// The cluster label from path and name; whenever path changes.
static void relabel(tg_module *m) {
    snprintf(m->label, sizeof m->label, "%s%s%s", m->path, m->path[0] ? ": " : "", m->name);
}

tg_module *tg__module_new_cfg(const char *name, tg_module_forward_fn forward,
                              const tg__module_cfg_type *type, const void *cfg) {
    assert((type != NULL) == (cfg != NULL) && "a configuration comes with its kind's tag");
    tg_module *m = tg_mem_calloc(1, sizeof *m + (type ? type->size : 0));
    if (!m) {
        tg_set_error(TG_ERR_OOM, name, "out of memory building the module");
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    relabel(m);
    m->forward = forward;
    m->training = true;
    m->cfg_type = type;
    if (type) memcpy(m->cfg, cfg, type->size);
    return m;
}

tg_module *tg__module_new(const char *name, tg_module_forward_fn forward) {
    return tg__module_new_cfg(name, forward, NULL, NULL);
}

// Room for one more own parameter or buffer; false (m unchanged) on out of memory.
static bool grow_own(tg_module *m, bool buffer) {
    int n = buffer ? m->n_buffers : m->n_params, *cap = buffer ? &m->cap_buffers : &m->cap_params;
    if (n < *cap) return true;
    int c = *cap ? 2 * *cap : 4;
    tg_tensor ***ts = buffer ? &m->buffers : &m->params;
    char ***names = buffer ? &m->buffer_names : &m->param_names;
    tg_tensor **t2 = tg_mem_realloc(*ts, (size_t)c * sizeof **ts);
    if (t2) *ts = t2;
    char **n2 = t2 ? tg_mem_realloc(*names, (size_t)c * sizeof **names) : NULL;
    if (n2) *names = n2;
    if (!t2 || !n2) return false;
    *cap = c;
    return true;
}

int tg__module_push_own(tg_module *m, const char *name, tg_tensor *t, bool buffer) {
    char *copy = grow_own(m, buffer) ? tg_mem_alloc(strlen(name) + 1) : NULL;
    if (!copy) return tg_set_error(TG_ERR_OOM, m->name, "out of memory adding %s", name);
    strcpy(copy, name);
    int *n = buffer ? &m->n_buffers : &m->n_params;
    (buffer ? m->buffer_names : m->param_names)[*n] = copy;
    (buffer ? m->buffers : m->params)[(*n)++] = t;
    return TG_OK;
}

int tg__module_push_child(tg_module *m, const char *name, tg_module *child) {
    int n = m->n_children;
    tg_module **c = tg_mem_realloc(m->children, (size_t)(n + 1) * sizeof *c);
    if (c) m->children = c;
    char **nm = c ? tg_mem_realloc(m->child_names, (size_t)(n + 1) * sizeof *nm) : NULL;
    if (nm) {
        if (!m->child_names)
            for (int i = 0; i < n; i++) nm[i] = NULL;
        m->child_names = nm;
    }
    char *copy = nm ? tg_mem_alloc(strlen(name) + 1) : NULL;
    if (!copy) return tg_set_error(TG_ERR_OOM, m->name, "out of memory adding '%s'", name);
    strcpy(copy, name);
    m->children[n] = child;
    m->child_names[n] = copy;
    m->n_children = n + 1;
    return TG_OK;
}

// Adds t to m's own params or buffers; on NULL t (its error is set) or out of memory, frees
// both and returns NULL.
static tg_module *add_own(tg_module *m, const char *name, tg_tensor *t, bool buffer) {
    if (!m) {
        tg_free(t);
        return NULL;
    }
    if (!t || tg__module_push_own(m, name, t, buffer)) {
        tg_free(t);
        tg_module_free(m);
        return NULL;
    }
    if (!buffer) tg_set_requires_grad(t, true);
    return m;
}

tg_module *tg__module_add_param(tg_module *m, const char *name, tg_tensor *t) {
    return add_own(m, name, t, false);
}

tg_module *tg__module_add_buffer(tg_module *m, const char *name, tg_tensor *t) {
    return add_own(m, name, t, true);
}

// ---- the flattened lists ----
// One block per module: flat[] = every parameter of the tree, then every buffer, in
// state-dict order (own entries, then each child under its index); names[] alike, their
// text after them. Counting walks size the block; a filling walk writes it.

typedef struct walk {
    bool fill;            // write tensors/names (else only count)
    bool install;         // write tensors[] into the own slots instead
    int n;                // entries so far
    size_t chars;         // name bytes so far
    tg_tensor **tensors;  // fill: where the tensors go
    char **names;         // fill: where the names go (NULL: tensors only)
    char *text;           // fill: name text
} walk;

static void walk_tree(tg_module *m, const char *prefix, bool buffers, walk *w) {
    int own = buffers ? m->n_buffers : m->n_params;
    for (int i = 0; i < own; i++) {
        const char *nm = buffers ? m->buffer_names[i] : m->param_names[i];
        size_t len = strlen(prefix) + 1 + strlen(nm) + 1;
        tg_tensor **slot = buffers ? &m->buffers[i] : &m->params[i];
        if (w->install) *slot = w->tensors[w->n];
        else if (w->fill) w->tensors[w->n] = *slot;
        if (w->fill && w->names) {
            w->names[w->n] = w->text + w->chars;
            snprintf(w->names[w->n], len, "%s%s%s", prefix, *prefix ? "." : "", nm);
        }
        w->n++;
        w->chars += len;
    }
    for (int c = 0; c < m->n_children; c++) {
        char p[256];
        const char *cn = m->child_names ? m->child_names[c] : NULL;
        if (cn) snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", cn);
        else snprintf(p, sizeof p, "%s%s%d", prefix, *prefix ? "." : "", c);
        if (w->fill && !buffers) {
            snprintf(m->children[c]->path, sizeof m->path, "%.95s", p);
            relabel(m->children[c]);
        }
        walk_tree(m->children[c], p, buffers, w);
    }
}

// Builds m's flattened block; false (m untouched) on out of memory.
bool tg__module_build_flat(tg_module *m) {
    walk w = {0};
    walk_tree(m, "", false, &w);
    int n_params = w.n;
    walk_tree(m, "", true, &w);
    size_t n = (size_t)w.n;
    void *block = tg_mem_alloc(n * (sizeof(tg_tensor *) + sizeof(char *)) + w.chars);
    if (!block) return false;
    walk f = {.fill = true, .tensors = block};
    f.names = (char **)(f.tensors + n);
    f.text = (char *)(f.names + n);
    walk_tree(m, "", false, &f);
    walk_tree(m, "", true, &f);
    // every tensor carries its state-dict name (tg_tape_dot shows it); the outermost tree
    // built last names them
    for (size_t i = 0; i < n; i++) {
        if (tg_tensor_set_name(f.tensors[i], f.names[i])) {
            tg_mem_free(block);
            return false;
        }
    }
    tg_mem_free(m->flat_block);
    m->flat_block = block;
    m->flat = f.tensors;
    m->flat_names = f.names;
    m->n_flat_params = n_params;
    m->n_flat_buffers = (int)n - n_params;
    m->path[0] = '\0';
    relabel(m);
    return true;
}

// Rewrites the tensor pointers of every block in m's tree (names are unchanged).
static void refresh_flat(tg_module *m) {
    for (int c = 0; c < m->n_children; c++) refresh_flat(m->children[c]);
    walk w = {.fill = true, .tensors = m->flat};
    walk_tree(m, "", false, &w);
    walk_tree(m, "", true, &w);
}

// Frees the structs of m's tree (not its tensors).
// The module's own arrays, names and user state (not its tensors, not its children).
static void free_own(tg_module *m) {
    for (int i = 0; i < m->n_params; i++) tg_mem_free(m->param_names[i]);
    for (int i = 0; i < m->n_buffers; i++) tg_mem_free(m->buffer_names[i]);
    tg_mem_free(m->params);
    tg_mem_free(m->param_names);
    tg_mem_free(m->buffers);
    tg_mem_free(m->buffer_names);
    if (m->free_state) m->free_state(m->state);
}

static void free_structs(tg_module *m) {
    for (int c = 0; c < m->n_children; c++) free_structs(m->children[c]);
    free_own(m);
    for (int c = 0; m->child_names && c < m->n_children; c++) tg_mem_free(m->child_names[c]);
    tg_mem_free(m->child_names);
    tg_mem_free(m->children);
    tg_mem_free(m->flat_block);
    tg_mem_free(m);
}

// A module whose construction failed: nobody else has seen its own tensors, so they go one
// by one; its children (built modules) go whole.
static void abandon(tg_module *m) {
    for (int i = 0; i < m->n_params; i++) tg_free(m->params[i]);
    for (int i = 0; i < m->n_buffers; i++) tg_free(m->buffers[i]);
    for (int c = 0; c < m->n_children; c++) {
        m->children[c]->in_container = false;
        tg_module_free(m->children[c]);
    }
    for (int c = 0; m->child_names && c < m->n_children; c++) tg_mem_free(m->child_names[c]);
    tg_mem_free(m->child_names);
    tg_mem_free(m->children);
    free_own(m);
    tg_mem_free(m->flat_block);
    tg_mem_free(m);
}

tg_module *tg__module_finish(tg_module *m) {
    if (!m) return NULL;
    if (!tg__module_build_flat(m)) {
        tg_set_error(TG_ERR_OOM, m->name, "out of memory building the module");
        abandon(m);
        return NULL;
    }
    return m;
}

tg_module *tg__module_done(tg_module *m, unsigned mark, const char *fn) {
    m = tg__module_finish(m);
    if (!m) tg_error_context(mark, fn);
    return m;
}

int tg_module_free(tg_module *m) {
    if (!m) return TG_OK;
    if (m->in_container)
        return tg_set_error(TG_ERR_STATE, "tg_module_free",
                            "module %s belongs to a container; free the container", m->name);
    if (!m->flat_block) {   // construction did not finish
        abandon(m);
        return TG_OK;
    }
    // all or nothing: a live tape may still record one of the tensors
    unsigned mark = tg_error_mark();
    int st = tg_free_many(m->n_flat_params + m->n_flat_buffers, m->flat);
    if (st) return tg_error_context(mark, "tg_module_free");
    free_structs(m);
    return TG_OK;
}

tg_tensor *tg__module_run(tg_module *m, tg_tape *tape, tg_tensor *x,
                          tg_module_forward_fn forward) {
    unsigned mark = tg_error_mark();
    // the module's ops form one cluster of tg_tape_dot's picture, labelled by its path
    bool scoped = tape && tg_tape_push_scope(tape, m->label) == TG_OK;
    tg_tensor *y = tape && !scoped ? NULL : forward(m, tape, x);
    if (scoped) tg_tape_pop_scope(tape);
    if (!y) tg_error_context(mark, m->name);
    return y;
}

// The layer's own errors name it; an error of an op inside it is reworded to name it too.
tg_tensor *tg_module_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    if (!m) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_module_forward", "module is NULL");
        return NULL;
    }
    return tg__module_run(m, tape, x, m->forward);
}

// NULL m: sets the error (named fn) and returns true.
static bool null_module(const tg_module *m, const char *fn) {
    if (!m) tg_set_error(TG_ERR_INVALID_ARG, fn, "module is NULL");
    return !m;
}

// i outside [0, n): sets the error (named fn) and returns true.
static bool bad_index(const tg_module *m, int i, int n, const char *fn, const char *what) {
    if (i >= 0 && i < n) return false;
    tg_set_error(TG_ERR_INVALID_ARG, fn, "%s: %s index %d out of range [0, %d)", m->name, what,
                 i, n);
    return true;
}

void tg_module_train(tg_module *m, bool training) {
    if (null_module(m, "tg_module_train")) return;
    m->training = training;
    for (int c = 0; c < m->n_children; c++) tg_module_train(m->children[c], training);
}

bool tg_module_is_training(const tg_module *m) {
    return !null_module(m, "tg_module_is_training") && m->training;
}

const char *tg_module_name(const tg_module *m) {
    return null_module(m, "tg_module_name") ? "(null)" : m->name;
}

int tg_module_n_params(const tg_module *m) {
    return null_module(m, "tg_module_n_params") ? 0 : m->n_flat_params;
}

int tg_module_n_buffers(const tg_module *m) {
    return null_module(m, "tg_module_n_buffers") ? 0 : m->n_flat_buffers;
}

tg_tensor *tg_module_param(const tg_module *m, int i) {
    if (null_module(m, "tg_module_param") ||
        bad_index(m, i, m->n_flat_params, "tg_module_param", "parameter"))
        return NULL;
    return m->flat[i];
}

const char *tg_module_param_name(const tg_module *m, int i) {
    if (null_module(m, "tg_module_param_name") ||
        bad_index(m, i, m->n_flat_params, "tg_module_param_name", "parameter"))
        return NULL;
    return m->flat_names[i];
}

tg_tensor *tg_module_buffer(const tg_module *m, int i) {
    if (null_module(m, "tg_module_buffer") ||
        bad_index(m, i, m->n_flat_buffers, "tg_module_buffer", "buffer"))
        return NULL;
    return m->flat[m->n_flat_params + i];
}

const char *tg_module_buffer_name(const tg_module *m, int i) {
    if (null_module(m, "tg_module_buffer_name") ||
        bad_index(m, i, m->n_flat_buffers, "tg_module_buffer_name", "buffer"))
        return NULL;
    return m->flat_names[m->n_flat_params + i];
}

int tg_module_params(const tg_module *m, tg_tensor **out, int cap) {
    if (!m) return tg_set_error(TG_ERR_INVALID_ARG, "tg_module_params", "module is NULL");
    int n = m->n_flat_params;
    for (int i = 0; i < n && i < cap && out; i++) out[i] = m->flat[i];
    return n;
}

int64_t tg_module_param_count(const tg_module *m) {
    if (!m) return tg_set_error(TG_ERR_INVALID_ARG, "tg_module_param_count", "module is NULL");
    int64_t total = 0;
    for (int i = 0; i < m->n_flat_params; i++) total += tg_numel(m->flat[i]);
    return total;
}

// All or nothing: every tensor is copied to `backend` first; the originals are freed (and
// the copies installed) only when all copies exist and no live tape records an original.
int tg_module_to(tg_module *m, tg_backend *backend) {
    if (!m || !backend)
        return tg_set_error(TG_ERR_INVALID_ARG, "tg_module_to", "module or backend is NULL");
    int n = m->n_flat_params + m->n_flat_buffers, st = TG_OK;
    unsigned mark = tg_error_mark();
    tg_tensor **copies = tg_mem_calloc((size_t)n + 1, sizeof *copies);
    if (!copies)
        return tg_set_error(TG_ERR_OOM, "tg_module_to", "%s: out of memory", m->name);
    for (int i = 0; i < n && !st; i++) {
        if (!(copies[i] = tg_to(m->flat[i], backend))) st = tg_last_status();
        else if (tg_requires_grad(m->flat[i])) st = tg_set_requires_grad(copies[i], true);
        if (!st) st = tg_tensor_set_name(copies[i], m->flat_names[i]);
    }
    if (!st) st = tg_free_many(n, m->flat);
    if (st) {
        for (int i = 0; i < n; i++) tg_free(copies[i]);
        tg_mem_free(copies);
        tg_error_context(mark, "tg_module_to");
        return st < 0 ? st : TG_ERR_OOM;
    }
    walk w = {.install = true, .tensors = copies};
    walk_tree(m, "", false, &w);
    walk_tree(m, "", true, &w);
    refresh_flat(m);
    tg_mem_free(copies);
    return TG_OK;
}

// ---- summary ----

static bool summary_row(FILE *f, const char *name, const tg_tensor *y, int64_t params) {
    char shape[128] = "[";
    size_t n = 1;
    for (int i = 0; i < tg_ndim(y) && n < sizeof shape; i++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, i ? ", %lld" : "%lld",
                              (long long)tg_shape(y)[i]);
    if (n < sizeof shape) snprintf(shape + n, sizeof shape - n, "]");
    return fprintf(f, "%-32s %-22s %12lld\n", name, shape, (long long)params) >= 0;
}

static int64_t own_count(const tg_module *m) {
    int64_t c = 0;
    for (int i = 0; i < m->n_params; i++) c += tg_numel(m->params[i]);
    for (int k = 0; k < m->n_children; k++) c += own_count(m->children[k]);
    return c;
}

int tg_module_summary(tg_module *m, int ndim, const int64_t *in_shape, tg_dtype dtype, FILE *f) {
    if (!m || !f)
        return tg_set_error(TG_ERR_INVALID_ARG, "tg_module_summary", "module or file is NULL");
    unsigned mark = tg_error_mark();
    tg_backend *be = m->n_flat_params ? tg_backend_of(m->flat[0]) : tg_backend_get(NULL);
    tg_tensor *x0 = tg_tensor_new(be, dtype, ndim, in_shape);
    tg_tape *tape = tg_tape_new();
    if (!x0 || !tape) {
        tg_free(x0);
        tg_tape_free(tape);
        return tg_error_context(mark, "tg_module_summary");
    }
    bool training = m->training;
    tg_module_train(m, false);
    tg_tape_set_grad(tape, false);
    char rule[69];
    memset(rule, '=', 68);
    rule[68] = '\0';
    bool wrote = fprintf(f, "%-32s %-22s %12s\n%s\n", "Layer (type)", "Output Shape", "Param #",
                         rule) >= 0;
    tg_tensor *x = x0;
    int st = TG_OK;
    // a Sequential's rows are its children; any other module (a layer, your own module,
    // a GPT) is one row
    bool rows = m->sequential && m->n_children;
    int n = rows ? m->n_children : 1;
    for (int c = 0; c < n && x && wrote; c++) {
        tg_module *layer = rows ? m->children[c] : m;
        x = tg_module_forward(layer, tape, x);
        if (x) wrote = summary_row(f, layer->name, x, own_count(layer));
    }
    if (!x) st = tg_error_context(mark, "tg_module_summary");
    wrote = wrote && fprintf(f, "%s\nTotal params: %lld\n", rule,
                             (long long)tg_module_param_count(m)) >= 0;
    if ((!wrote || fflush(f) != 0) && !st)
        st = tg_set_error(TG_ERR_IO, "tg_module_summary", "%s: write error: %s", m->name,
                          strerror(errno ? errno : EIO));
    tg_module_train(m, training);
    tg_tape_free(tape);
    tg_free(x0);
    return st;
}

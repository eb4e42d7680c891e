// The module core: construction, the flattened parameter/buffer lists with PyTorch-style
// state-dict names, train/eval, moving between backends, and the Keras-style summary.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/module_impl.h"

tg_module *tg__module_new(const char *name, tg_module_forward_fn forward) {
    tg_module *m = calloc(1, sizeof *m);
    if (!m) {
        tg_set_error(TG_ERR_OOM, name, "out of memory");
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    m->forward = forward;
    m->training = true;
    return m;
}

tg_module *tg__module_add_param(tg_module *m, const char *name, tg_tensor *t) {
    if (!m) {
        tg_free(t);
        return NULL;
    }
    if (!t || m->n_params == TG_MODULE_MAX_OWN) {
        tg_free(t);
        tg_module_free(m);
        return NULL;
    }
    tg_set_requires_grad(t, true);
    m->param_names[m->n_params] = name;
    m->params[m->n_params++] = t;
    return m;
}

tg_module *tg__module_add_buffer(tg_module *m, const char *name, tg_tensor *t) {
    if (!m) {
        tg_free(t);
        return NULL;
    }
    if (!t || m->n_buffers == TG_MODULE_MAX_OWN) {
        tg_free(t);
        tg_module_free(m);
        return NULL;
    }
    m->buffer_names[m->n_buffers] = name;
    m->buffers[m->n_buffers++] = t;
    return m;
}

// Appends `prefix.name` entries of one kind; returns false on out of memory.
static bool collect(const tg_module *m, const char *prefix, bool buffers, tg_tensor ***list,
                    char ***names, int *n) {
    int own = buffers ? m->n_buffers : m->n_params;
    for (int i = 0; i < own; i++) {
        const char *nm = buffers ? m->buffer_names[i] : m->param_names[i];
        size_t len = strlen(prefix) + strlen(nm) + 2;
        char *q = malloc(len);
        tg_tensor **l = realloc(*list, (size_t)(*n + 1) * sizeof **list);
        char **ns = l ? realloc(*names, (size_t)(*n + 1) * sizeof **names) : NULL;
        if (l) *list = l;
        if (ns) *names = ns;
        if (!q || !l || !ns) {
            free(q);
            return false;
        }
        snprintf(q, len, "%s%s%s", prefix, *prefix ? "." : "", nm);
        (*list)[*n] = buffers ? m->buffers[i] : m->params[i];
        (*names)[(*n)++] = q;
    }
    for (int c = 0; c < m->n_children; c++) {
        char p[256];
        const char *cn = m->child_names ? m->child_names[c] : NULL;
        if (cn) snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", cn);
        else snprintf(p, sizeof p, "%s%s%d", prefix, *prefix ? "." : "", c);
        if (!collect(m->children[c], p, buffers, list, names, n)) return false;
    }
    return true;
}

tg_module *tg__module_finish(tg_module *m) {
    if (!m) return NULL;
    if (!collect(m, "", false, &m->flat_params, &m->flat_param_names, &m->n_flat_params) ||
        !collect(m, "", true, &m->flat_buffers, &m->flat_buffer_names, &m->n_flat_buffers)) {
        tg_set_error(TG_ERR_OOM, m->name, "out of memory");
        tg_module_free(m);
        return NULL;
    }
    return m;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

// TG_OK when every tensor of m's tree can be freed (no allocation: freeing must work when
// memory is exhausted); otherwise the error naming the first that cannot.
static int check_tree(const tg_module *m) {
    for (int i = 0; i < m->n_params; i++)
        if (tg_free_check(m->params[i])) return tg_last_status();
    for (int i = 0; i < m->n_buffers; i++)
        if (tg_free_check(m->buffers[i])) return tg_last_status();
    for (int c = 0; c < m->n_children; c++) {
        int st = check_tree(m->children[c]);
        if (st) return st;
    }
    return TG_OK;
}

static void free_tensors(const tg_module *m) {
    for (int i = 0; i < m->n_params; i++) tg_free(m->params[i]);
    for (int i = 0; i < m->n_buffers; i++) tg_free(m->buffers[i]);
    for (int c = 0; c < m->n_children; c++) free_tensors(m->children[c]);
}

static void free_structs(tg_module *m) {
    for (int c = 0; c < m->n_children; c++) free_structs(m->children[c]);
    for (int c = 0; m->child_names && c < m->n_children; c++) free(m->child_names[c]);
    free(m->child_names);
    free(m->children);
    free(m->flat_params);
    free(m->flat_buffers);
    free_names(m->flat_param_names, m->n_flat_params);
    free_names(m->flat_buffer_names, m->n_flat_buffers);
    free(m);
}

int tg_module_free(tg_module *m) {
    if (!m) return TG_OK;
    if (m->in_container)
        return tg_set_error(TG_ERR_STATE, "tg_module_free",
                            "module %s belongs to a container; free the container", m->name);
    int st = check_tree(m);   // all or nothing: a live tape may still record one
    if (st) return st;
    free_tensors(m);
    free_structs(m);
    return TG_OK;
}

tg_tensor *tg_module_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    if (!m) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_module_forward", "module is NULL");
        return NULL;
    }
    return m->forward(m, tape, x);
}

void tg_module_train(tg_module *m, bool training) {
    if (!m) return;
    m->training = training;
    for (int c = 0; c < m->n_children; c++) tg_module_train(m->children[c], training);
}

bool tg_module_is_training(const tg_module *m) { return m && m->training; }
const char *tg_module_name(const tg_module *m) { return m ? m->name : "(null)"; }
int tg_module_n_params(const tg_module *m) { return m ? m->n_flat_params : 0; }
int tg_module_n_buffers(const tg_module *m) { return m ? m->n_flat_buffers : 0; }

tg_tensor *tg_module_param(const tg_module *m, int i) {
    return m && i >= 0 && i < m->n_flat_params ? m->flat_params[i] : NULL;
}
const char *tg_module_param_name(const tg_module *m, int i) {
    return m && i >= 0 && i < m->n_flat_params ? m->flat_param_names[i] : NULL;
}
tg_tensor *tg_module_buffer(const tg_module *m, int i) {
    return m && i >= 0 && i < m->n_flat_buffers ? m->flat_buffers[i] : NULL;
}
const char *tg_module_buffer_name(const tg_module *m, int i) {
    return m && i >= 0 && i < m->n_flat_buffers ? m->flat_buffer_names[i] : NULL;
}

int tg_module_params(const tg_module *m, tg_tensor **out, int cap) {
    int n = tg_module_n_params(m);
    for (int i = 0; i < n && i < cap && out; i++) out[i] = m->flat_params[i];
    return n;
}

int64_t tg_module_param_count(const tg_module *m) {
    int64_t total = 0;
    for (int i = 0; i < tg_module_n_params(m); i++) total += tg_numel(m->flat_params[i]);
    return total;
}

// Replaces every tensor in the tree by a copy on `be`; the flat lists are rebuilt after.
static int move_tree(tg_module *m, tg_backend *be) {
    for (int k = 0; k < 2; k++) {
        tg_tensor **own = k ? m->buffers : m->params;
        int n = k ? m->n_buffers : m->n_params;
        for (int i = 0; i < n; i++) {
            tg_tensor *t = tg_to(own[i], be);
            if (!t) return -1;
            if (tg_requires_grad(own[i])) tg_set_requires_grad(t, true);
            if (tg_free(own[i])) {
                tg_free(t);
                return -1;
            }
            own[i] = t;
        }
    }
    for (int c = 0; c < m->n_children; c++)
        if (move_tree(m->children[c], be)) return -1;
    return 0;
}

static void refresh_flat(tg_module *m) {
    for (int c = 0; c < m->n_children; c++) refresh_flat(m->children[c]);
    free(m->flat_params);
    free(m->flat_buffers);
    free_names(m->flat_param_names, m->n_flat_params);
    free_names(m->flat_buffer_names, m->n_flat_buffers);
    m->flat_params = m->flat_buffers = NULL;
    m->flat_param_names = m->flat_buffer_names = NULL;
    m->n_flat_params = m->n_flat_buffers = 0;
    collect(m, "", false, &m->flat_params, &m->flat_param_names, &m->n_flat_params);
    collect(m, "", true, &m->flat_buffers, &m->flat_buffer_names, &m->n_flat_buffers);
}

int tg_module_to(tg_module *m, tg_backend *backend) {
    if (!m || !backend)
        return tg_set_error(TG_ERR_INVALID_ARG, "tg_module_to", "module or backend is NULL");
    int st = move_tree(m, backend);
    refresh_flat(m);
    return st ? (tg_last_status() ? tg_last_status() : TG_ERR_OOM) : TG_OK;
}

// ---- summary ----

static void summary_row(FILE *f, const char *name, const tg_tensor *y, int64_t params) {
    char shape[128] = "[";
    size_t n = 1;
    for (int i = 0; i < tg_ndim(y) && n < sizeof shape; i++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, i ? ", %lld" : "%lld",
                              (long long)tg_shape(y)[i]);
    if (n < sizeof shape) snprintf(shape + n, sizeof shape - n, "]");
    fprintf(f, "%-32s %-22s %12lld\n", name, shape, (long long)params);
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
    tg_backend *be = m->n_flat_params ? tg_backend_of(m->flat_params[0]) : tg_backend_get(NULL);
    tg_tensor *x0 = tg_tensor_new(be, dtype, ndim, in_shape);
    tg_tape *tape = tg_tape_new();
    if (!x0 || !tape) {
        tg_free(x0);
        tg_tape_free(tape);
        return tg_last_status();
    }
    bool training = m->training;
    tg_module_train(m, false);
    tg_tape_set_grad(tape, false);
    fprintf(f, "%-32s %-22s %12s\n", "Layer (type)", "Output Shape", "Param #");
    fprintf(f, "%.*s\n", 68, "====================================================================");
    tg_tensor *x = x0;
    int st = TG_OK;
    int n = m->n_children ? m->n_children : 1;
    for (int c = 0; c < n && x; c++) {
        tg_module *layer = m->n_children ? m->children[c] : m;
        x = tg_module_forward(layer, tape, x);
        if (x) summary_row(f, layer->name, x, own_count(layer));
    }
    if (!x) st = tg_last_status();
    fprintf(f, "%.*s\n", 68, "====================================================================");
    fprintf(f, "Total params: %lld\n", (long long)tg_module_param_count(m));
    tg_module_train(m, training);
    tg_tape_free(tape);
    tg_free(x0);
    if (!st && (fflush(f) != 0 || ferror(f)))
        st = tg_set_error(TG_ERR_IO, "tg_module_summary", "write error");
    return st;
}

// Modules of the user's own (PyTorch's nn.Module subclass): tg_module_new and the parts
// added to it by name. A user module is an ordinary tg_module (the same flattened lists,
// freeing, moving, summary and checkpoints), built one part at a time: every add checks the
// part, appends it, and rebuilds the module's flattened block, or leaves everything as it was.
#include <stdio.h>
#include <string.h>

#include "nn/module_impl.h"

tg_module *tg_module_new(const tg_module_def *def) {
    if (!def || !def->forward || !def->type || !def->type[0]) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_module_new",
                     "need a def with a type name and a forward function (got %s)",
                     !def ? "NULL" : !def->forward ? "no forward" : "no type");
        return NULL;
    }
    tg_module *m = tg__module_new(def->type, def->forward);
    if (!m) return NULL;
    m->user = true;
    m->state = def->state;
    if (!tg__module_build_flat(m)) {   // an empty block: the module counts as built
        tg_mem_free(m);
        tg_set_error(TG_ERR_OOM, "tg_module_new", "%s: out of memory", def->type);
        return NULL;
    }
    m->free_state = def->free_state;   // set last: a failed new leaves the state the caller's
    return m;
}

// Child c's name: its own, or its index ("0") written into idx.
static const char *child_name(const tg_module *m, int c, char idx[16]) {
    snprintf(idx, 16, "%d", c);
    return m->child_names && m->child_names[c] ? m->child_names[c] : idx;
}

// True when `name` is taken by one of m's own parameters, buffers or children.
static bool name_taken(const tg_module *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->param_names[i], name)) return true;
    for (int i = 0; i < m->n_buffers; i++)
        if (!strcmp(m->buffer_names[i], name)) return true;
    for (int c = 0; c < m->n_children; c++) {
        char idx[16];
        if (!strcmp(child_name(m, c, idx), name)) return true;
    }
    return false;
}

// The checks every add makes.
static int check_add(const char *fn, const tg_module *m, const char *name) {
    if (!m || !name)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL", !m ? "module" : "name");
    if (!m->user)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is a built-in module: parts are added "
                            "to modules made with tg_module_new", m->name);
    if (m->in_container)
        return tg_set_error(TG_ERR_STATE, fn, "%s is already inside a container: add its "
                            "parts before putting it there", m->name);
    size_t len = strlen(name);
    if (!len || len > 63 || strchr(name, '.'))
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s: bad part name '%s' (1 to 63 "
                            "characters, no '.')", m->name, name);
    if (name_taken(m, name))
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s already has a part named '%s'",
                            m->name, name);
    return TG_OK;
}

// TG_OK when t is not yet in m's tree (a tensor belongs to one module once).
static int check_unowned(const char *fn, const tg_module *m, const tg_tensor *t,
                         const char *name) {
    for (int i = 0; i < m->n_flat_params + m->n_flat_buffers; i++)
        if (m->flat[i] == t)
            return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s: the tensor for '%s' is already its "
                                "'%s'", m->name, name, m->flat_names[i]);
    return TG_OK;
}

static int add_tensor(const char *fn, tg_module *m, const char *name, tg_tensor *t,
                      bool buffer) {
    int st = check_add(fn, m, name);
    if (st) return st;
    // a part is a tensor the module can free: not NULL, live, persistent, not a .grad, not
    // recorded by a live tape (tg_free_check says why not)
    unsigned mark = tg_error_mark();
    if (!t) return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s: tensor '%s' is NULL", m->name, name);
    if (tg_free_check(t)) return tg_error_context(mark, fn);
    if ((st = check_unowned(fn, m, t, name))) return st;
    if ((st = tg__module_push_own(m, name, t, buffer))) return st;
    if (!tg__module_build_flat(m)) {
        int *n = buffer ? &m->n_buffers : &m->n_params;
        tg_mem_free((buffer ? m->buffer_names : m->param_names)[--*n]);
        return tg_set_error(TG_ERR_OOM, fn, "%s: out of memory adding '%s'", m->name, name);
    }
    if (!buffer) tg_set_requires_grad(t, true);
    return TG_OK;
}

int tg_module_add_param(tg_module *m, const char *name, tg_tensor *t) {
    return add_tensor("tg_module_add_param", m, name, t, false);
}

int tg_module_add_buffer(tg_module *m, const char *name, tg_tensor *t) {
    return add_tensor("tg_module_add_buffer", m, name, t, true);
}

int tg_module_add_child(tg_module *m, const char *name, tg_module *child) {
    const char *fn = "tg_module_add_child";
    int st = check_add(fn, m, name);
    if (st) return st;
    if (!child || child == m || child->in_container || !child->flat_block)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s: child '%s' is %s", m->name, name,
                            !child            ? "NULL"
                            : child == m      ? "the module itself"
                            : !child->flat_block ? "not a built module"
                                              : "already inside a container");
    for (int i = 0; i < child->n_flat_params + child->n_flat_buffers; i++)
        if ((st = check_unowned(fn, m, child->flat[i], name))) return st;
    if ((st = tg__module_push_child(m, name, child))) return st;
    if (!tg__module_build_flat(m)) {
        tg_mem_free(m->child_names[--m->n_children]);
        return tg_set_error(TG_ERR_OOM, fn, "%s: out of memory adding '%s'", m->name, name);
    }
    child->in_container = true;
    child->training = m->training;
    return TG_OK;
}

void *tg_module_state(const tg_module *m) {
    if (!m || !m->user) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_module_state", "%s",
                     !m ? "module is NULL" : "a built-in module has no user state");
        return NULL;
    }
    return m->state;
}

tg_tensor *tg_module_get(const tg_module *m, const char *name) {
    if (!m || !name) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_module_get", "%s is NULL", !m ? "module" : "name");
        return NULL;
    }
    for (int i = 0; i < m->n_flat_params + m->n_flat_buffers; i++)
        if (!strcmp(m->flat_names[i], name)) return m->flat[i];
    tg_set_error(TG_ERR_INVALID_ARG, "tg_module_get", "%s has no parameter or buffer '%s'",
                 m->name, name);
    return NULL;
}

tg_module *tg_module_get_child(const tg_module *m, const char *name) {
    if (!m || !name) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_module_get_child", "%s is NULL",
                     !m ? "module" : "name");
        return NULL;
    }
    for (int c = 0; c < m->n_children; c++) {
        char idx[16];
        if (!strcmp(child_name(m, c, idx), name)) return m->children[c];
    }
    tg_set_error(TG_ERR_INVALID_ARG, "tg_module_get_child", "%s has no child '%s'", m->name,
                 name);
    return NULL;
}

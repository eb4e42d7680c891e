// The module structure shared by nn/ files. Only public headers are used here: modules
// are built from ops, never from backend kernels (DESIGN.md's honesty rule).
#pragma once

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <tapegrad/tapegrad.h>

typedef tg_tensor *(*tg_module_forward_fn)(tg_module *m, tg_tape *tape, tg_tensor *x);

// The tag of one module kind's configuration struct. A kind with configuration declares its
// struct next to its constructor, one static tag beside it
//     typedef struct { int64_t in, out; bool bias; } linear_cfg;
//     static const tg__module_cfg_type LINEAR_CFG = {"linear_cfg", sizeof(linear_cfg)};
// and reads it only through a typed accessor of its file that passes the tag to
// tg__module_cfg (which checks it).
typedef struct tg__module_cfg_type {
    const char *name;   // the struct's name (for the invariant's message)
    size_t size;        // sizeof the struct
} tg__module_cfg_type;

struct tg_module {
    char name[96];
    char path[96];                 // its state-dict prefix in the last tree built around it
                                   // ("blocks.0"; "" for a root)
    char label[200];               // "path: name", the DOT cluster label of its forward
                                   // (kept with path: not formatted per call)
    tg_module_forward_fn forward;
    // own parameters / buffers (persistent tensors owned by this module) and their names
    // (copies owned by the module); arrays grown by add_own
    tg_tensor **params;
    char **param_names;
    int n_params, cap_params;
    tg_tensor **buffers;
    char **buffer_names;
    int n_buffers, cap_buffers;
    tg_module **children;          // in order (Sequential runs them so)
    char **child_names;            // NULL (or a NULL entry): children named by index ("0")
    int n_children;
    bool in_container;             // a container's child: the container frees it
    bool sequential;               // runs its children in order (the summary lists them)
    bool user;                     // made with tg_module_new (parts added by the user)
    void *state;                   // user modules: tg_module_def.state
    void (*free_state)(void *state);
    bool training;
    // layer configuration: a struct of kind cfg_type, stored at the end of the module's own
    // allocation (cfg[cfg_type->size]); NULL cfg_type: none (activations without a
    // parameter, containers, user modules). Read through tg__module_cfg only.
    const tg__module_cfg_type *cfg_type;
    // flattened view over the whole tree, built at creation in one block (flat_block):
    // flat[] = the tree's parameters then its buffers; flat_names[] their qualified names
    // ("0.weight", "1.running_mean"). NULL block: construction did not finish.
    void *flat_block;
    tg_tensor **flat;
    char **flat_names;
    int n_flat_params, n_flat_buffers;
    _Alignas(max_align_t) unsigned char cfg[];   // last: the configuration's storage
};

// A new module with `name` and `forward`; NULL + TG_ERR_OOM (named `name`) on out of memory.
tg_module *tg__module_new(const char *name, tg_module_forward_fn forward);
// tg__module_new with a configuration: a copy of *cfg, of kind `type` (cfg_type->size
// bytes), in the same allocation as the module. NULL + TG_ERR_OOM on out of memory.
// m's forward as tg_module_forward runs it (its cluster of the DOT picture, its name on an
// error), with another function in place of m->forward (m not NULL).
tg_tensor *tg__module_run(tg_module *m, tg_tape *tape, tg_tensor *x,
                          tg_module_forward_fn forward);
tg_module *tg__module_new_cfg(const char *name, tg_module_forward_fn forward,
                              const tg__module_cfg_type *type, const void *cfg);

// m's configuration (read-only), which must be of kind `type` (an internal invariant: a
// kind's forward reads only its own kind's struct). Borrowed; lives as long as m. Each kind
// wraps this in a typed accessor, its only caller, so no other code converts the pointer.
static inline const void *tg__module_cfg(const tg_module *m, const tg__module_cfg_type *type) {
    assert(m->cfg_type == type && "a module's configuration is read as its own kind");
    return m->cfg;
}

// Adds an owned parameter (requires_grad set) or buffer; on NULL t the module is freed and
// NULL returned, so constructors can chain.
tg_module *tg__module_add_param(tg_module *m, const char *name, tg_tensor *t);
tg_module *tg__module_add_buffer(tg_module *m, const char *name, tg_tensor *t);
// Appends t under `name` (copied) to m's own parameters or buffers, nothing else (no
// requires_grad, no flat list); TG_ERR_OOM with m unchanged.
int tg__module_push_own(tg_module *m, const char *name, tg_tensor *t, bool buffer);
// Appends child under `name` (copied) to m's children, nothing else (no in_container, no
// flat list); TG_ERR_OOM with m unchanged.
int tg__module_push_child(tg_module *m, const char *name, tg_module *child);
// Rebuilds m's own flattened block (its children's must exist); false (m unchanged) on out
// of memory.
bool tg__module_build_flat(tg_module *m);
// Builds the flattened, named lists (call once the tree is complete). On out of memory
// frees m (its tensors and children) and returns NULL with TG_ERR_OOM.
tg_module *tg__module_finish(tg_module *m);
// tg__module_finish, then on failure (an error raised since `mark`, e.g. by tg_tensor_new)
// the error reworded to name the constructor `fn` the user called.
tg_module *tg__module_done(tg_module *m, unsigned mark, const char *fn);

// TG_OK when a parameter of shape dims[0..n) fits (each dim >= 0, the product at most
// TG_MAX_NUMEL, checked without overflow); else TG_ERR_SHAPE naming the constructor `where`
// and the shape, before any size is computed from them.
static inline int tg__module_check_size(const char *where, const char *what, int n,
                                        const int64_t *dims) {
    int64_t prod = 1;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        ok = dims[i] >= 0 && (dims[i] == 0 || prod <= TG_MAX_NUMEL / dims[i]);
        if (ok) prod *= dims[i] ? dims[i] : 1;
    }
    if (ok) return TG_OK;
    char s[160] = "";
    for (int i = 0, len = 0; i < n && len < 140; i++)
        len += snprintf(s + len, sizeof s - (size_t)len, i ? ",%lld" : "%lld", (long long)dims[i]);
    return tg_set_error(TG_ERR_SHAPE, where, "%s [%s] has too many elements (the limit is "
                        "TG_MAX_NUMEL, 2^59 - 1)", what, s);
}

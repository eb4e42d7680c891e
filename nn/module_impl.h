// The module structure shared by nn/ files. Only public headers are used here: modules
// are built from ops, never from backend kernels (DESIGN.md's honesty rule).
#pragma once

#include <tapegrad/tapegrad.h>

#define TG_MODULE_MAX_OWN 4

typedef tg_tensor *(*tg_module_forward_fn)(tg_module *m, tg_tape *tape, tg_tensor *x);

struct tg_module {
    char name[96];
    tg_module_forward_fn forward;
    // own parameters / buffers (persistent tensors owned by this module)
    tg_tensor *params[TG_MODULE_MAX_OWN];
    const char *param_names[TG_MODULE_MAX_OWN];
    int n_params;
    tg_tensor *buffers[TG_MODULE_MAX_OWN];
    const char *buffer_names[TG_MODULE_MAX_OWN];
    int n_buffers;
    tg_module **children;          // Sequential
    char **child_names;            // NULL (or a NULL entry): children named by index ("0")
    int n_children;
    bool in_container;             // a container's child: the container frees it
    bool training;
    // layer configuration
    double f[4];
    int64_t i[4];
    tg_rng *rng;                   // borrowed (Dropout)
    tg_conv_opts conv;
    // flattened view over the whole tree: qualified names ("0.weight"), built at creation
    tg_tensor **flat_params, **flat_buffers;
    char **flat_param_names, **flat_buffer_names;
    int n_flat_params, n_flat_buffers;
};

// A new module with `name` and `forward`; NULL + error on out of memory.
tg_module *tg__module_new(const char *name, tg_module_forward_fn forward);
// Adds an owned parameter (requires_grad set) or buffer; on NULL t the module is freed and
// NULL returned, so constructors can chain.
tg_module *tg__module_add_param(tg_module *m, const char *name, tg_tensor *t);
tg_module *tg__module_add_buffer(tg_module *m, const char *name, tg_tensor *t);
// Builds the flattened, named lists (call once the tree is complete).
tg_module *tg__module_finish(tg_module *m);

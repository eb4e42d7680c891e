// Misuse scenarios that fail today because of bugs outside nn's file code (issue 11; the
// lead has the list, grouped by file). A listed scenario that fails is tallied as a known bug
// instead of failing its test; one that passes fails the test: delete its row with the fix.
// Rows: function, scenario (as the test names it), "file: what is wrong". Scenarios that
// crash or make a sanitizer report cannot be listed here: misuse_crash.c disables them.
#include <string.h>

#include "misuse.h"

static const struct {
    const char *fn, *what, *bug;
} KNOWN[] = {
    {"tg_module_forward", "gpt: stale ids", "nn/module.c: error named tg_ndim"},
    {"tg_module_forward", "gpt: token 11 of 11", "nn/module.c: error named Embedding"},
    {"tg_adam", "NULL params", "optim/optim.c: error named tg_optim_new"},
    {"tg_adam", "lr -1", "optim/optim.c: error named tg_optim_new"},
    {"tg_optim_lr", "NULL optimizer", "optim/optim.c: no error set"},
    {"tg_optim_new", "stale", "optim/optim.c: returns success with an error pending"},
    {"tg_optim_opts_default", "kind 99", "optim/optim.c: no error set"},
    {"tg_sgd", "lr NaN", "optim/optim.c: error named tg_optim_new"},
    {"tg_sgd", "momentum -0.5", "optim/optim.c: error named tg_optim_new"},
    {"tg_sgd", "n 0", "optim/optim.c: error named tg_optim_new"},
    {"tg_clip_grad_norm", "NULL entry", "optim/schedule.c: accepted"},
    {"tg_clip_grad_norm", "stale", "optim/schedule.c: returns success with an error pending"},
    {"tg_clip_grad_value", "NULL entry", "optim/schedule.c: accepted"},
    {"tg_clip_grad_value", "stale", "optim/schedule.c: returns success with an error pending"},
    {"tg_early_stop_init", "min_delta NaN", "optim/schedule.c: no error set"},
    {"tg_early_stop_init", "patience -1", "optim/schedule.c: no error set"},
    {"tg_early_stop_update", "NULL state", "optim/schedule.c: no error set"},
    {"tg_lr_at", "COSINE with t_max 0", "optim/schedule.c: no error set"},
    {"tg_lr_at", "NULL schedule", "optim/schedule.c: no error set"},
    {"tg_lr_at", "STEP with step_size 0", "optim/schedule.c: no error set"},
    {"tg_lr_at", "epoch -1", "optim/schedule.c: no error set"},
    {"tg_lr_at", "kind 42", "optim/schedule.c: no error set"},
};

const char *mu_known_bug(const char *fn, const char *what) {
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        if (strcmp(KNOWN[i].fn, fn) == 0 && strcmp(KNOWN[i].what, what) == 0)
            return KNOWN[i].bug;
    return NULL;
}

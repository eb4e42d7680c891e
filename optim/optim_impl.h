// The optimizer object, shared by optim.c (the update rules) and state.c (saving and
// restoring its state in checkpoints). Public headers only, like the rest of optim/.
#pragma once

#include <tapegrad/tapegrad.h>

#define N_STATE 5   // slot 3: weight-decayed grad scratch; others per kind

struct tg_optim {
    tg_optim_kind kind;
    tg_optim_opts o;
    int n;
    tg_tensor **params;
    tg_tensor *(*state)[N_STATE];   // per parameter; slot meaning depends on kind
    int64_t *steps;
    double *mu_product;             // NAdam
};

// The state slots a step of opt (its kind and opts) uses, as a bit mask (bit k: slot k).
unsigned tg__optim_slots_used(tg_optim_kind kind, const tg_optim_opts *o);
// The first hyper-parameter torch.optim would refuse for this kind, or NULL.
const char *tg__optim_bad_opts(tg_optim_kind kind, const tg_optim_opts *o);
// The value a fresh state slot k starts with (Adagrad's sum: initial_accumulator_value).
double tg__optim_slot_init(tg_optim_kind kind, const tg_optim_opts *o, int k);

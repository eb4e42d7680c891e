// Optimizer state in checkpoints (tg_checkpoint, data.h), laid out like torch.optim's
// state_dict: per-parameter moment tensors "state.<i>.<name>" plus metadata (kind,
// hyper-parameters, per-parameter step counts, NAdam's mu products; doubles printed with
// %.17g, which strtod reads back to the same bits). Loading checks everything and copies
// into new tensors before it changes the optimizer: all or nothing.
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim_impl.h"

// The state slots that carry values from step to step, by torch's names; NULL: scratch.
static const char *const SLOT_NAMES[TG_OPTIM_KIND_COUNT][N_STATE] = {
    [TG_OPTIM_SGD] = {"momentum_buffer"},
    [TG_OPTIM_ADAGRAD] = {"sum"},
    [TG_OPTIM_ADADELTA] = {"square_avg", "acc_delta"},
    [TG_OPTIM_RMSPROP] = {"square_avg", "grad_avg", NULL, NULL, "momentum_buffer"},
    [TG_OPTIM_ADAM] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    [TG_OPTIM_ADAMW] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    [TG_OPTIM_ADAMAX] = {"exp_avg", "exp_inf"},
    [TG_OPTIM_NADAM] = {"exp_avg", "exp_avg_sq"},
};

static const struct {
    const char *name;
    size_t off;
    bool is_bool;
} HPARAMS[] = {
    {"lr", offsetof(tg_optim_opts, lr), false},
    {"weight_decay", offsetof(tg_optim_opts, weight_decay), false},
    {"momentum", offsetof(tg_optim_opts, momentum), false},
    {"dampening", offsetof(tg_optim_opts, dampening), false},
    {"nesterov", offsetof(tg_optim_opts, nesterov), true},
    {"beta1", offsetof(tg_optim_opts, beta1), false},
    {"beta2", offsetof(tg_optim_opts, beta2), false},
    {"eps", offsetof(tg_optim_opts, eps), false},
    {"amsgrad", offsetof(tg_optim_opts, amsgrad), true},
    {"alpha", offsetof(tg_optim_opts, alpha), false},
    {"centered", offsetof(tg_optim_opts, centered), true},
    {"rho", offsetof(tg_optim_opts, rho), false},
    {"lr_decay", offsetof(tg_optim_opts, lr_decay), false},
    {"initial_accumulator_value", offsetof(tg_optim_opts, initial_accumulator_value), false},
    {"momentum_decay", offsetof(tg_optim_opts, momentum_decay), false},
};
enum { N_HPARAMS = sizeof HPARAMS / sizeof HPARAMS[0] };

// Slot k of this kind is saved under these opts (it carries values and a step uses it).
static const char *saved_slot(tg_optim_kind kind, const tg_optim_opts *o, int k) {
    return tg__optim_slots_used(kind, o) >> k & 1u ? SLOT_NAMES[kind][k] : NULL;
}

// prefix + suffix into a buffer of the caller (grown with tg_mem_realloc); NULL on OOM.
static const char *key_of(char **buf, size_t *cap, const char *prefix, const char *suffix) {
    size_t need = strlen(prefix) + strlen(suffix) + 1;
    if (need > *cap) {
        char *nb = tg_mem_realloc(*buf, need);
        if (!nb) return NULL;
        *buf = nb;
        *cap = need;
    }
    snprintf(*buf, need, "%s%s", prefix, suffix);
    return *buf;
}

// ---- saving ----

// "v0,v1,..." of the n steps (or the n mu products when mu is set), tg_mem_alloc'd.
static char *join(int n, const int64_t *steps, const double *mu) {
    size_t cap = (size_t)n * 26 + 1, at = 0;
    char *s = tg_mem_alloc(cap);
    for (int i = 0; s && i < n; i++)
        at += (size_t)(mu ? snprintf(s + at, cap - at, i ? ",%.17g" : "%.17g", mu[i])
                          : snprintf(s + at, cap - at, i ? ",%" PRId64 : "%" PRId64, steps[i]));
    if (s && !n) s[0] = '\0';
    return s;
}

static int save_meta(const tg_optim *opt, tg_checkpoint *c, const char *prefix, char **kb,
                     size_t *kc) {
    char v[64];
    const char *k = key_of(kb, kc, prefix, "kind");
    int st = k ? tg_checkpoint_set_meta(c, k, tg_optim_kind_name(opt->kind)) : TG_ERR_OOM;
    snprintf(v, sizeof v, "%d", opt->n);
    if (!st) st = (k = key_of(kb, kc, prefix, "n_params")) ? tg_checkpoint_set_meta(c, k, v)
                                                          : TG_ERR_OOM;
    for (int h = 0; !st && h < N_HPARAMS; h++) {
        const char *f = (const char *)&opt->o + HPARAMS[h].off;
        if (HPARAMS[h].is_bool) snprintf(v, sizeof v, "%s", *(const bool *)f ? "true" : "false");
        else snprintf(v, sizeof v, "%.17g", *(const double *)f);
        st = (k = key_of(kb, kc, prefix, HPARAMS[h].name)) ? tg_checkpoint_set_meta(c, k, v)
                                                            : TG_ERR_OOM;
    }
    for (int pass = 0; !st && pass < 2; pass++) {
        if (pass == 1 && opt->kind != TG_OPTIM_NADAM) break;
        char *list = join(opt->n, opt->steps, pass ? opt->mu_product : NULL);
        k = key_of(kb, kc, prefix, pass ? "mu_product" : "steps");
        st = list && k ? tg_checkpoint_set_meta(c, k, list) : TG_ERR_OOM;
        tg_mem_free(list);
    }
    return st;
}

int tg_optim_save_state(const tg_optim *opt, tg_checkpoint *c, const char *prefix) {
    const char *fn = "tg_optim_save_state";
    if (!opt || !c || !prefix)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL",
                            !opt ? "optimizer" : !c ? "checkpoint" : "prefix");
    unsigned mark = tg_error_mark();
    char *kb = NULL, sfx[80];
    size_t kc = 0;
    int st = save_meta(opt, c, prefix, &kb, &kc);
    for (int i = 0; !st && i < opt->n; i++) {
        for (int k = 0; !st && opt->steps[i] > 0 && k < N_STATE; k++) {
            const char *name = saved_slot(opt->kind, &opt->o, k), *key;
            if (!name) continue;
            snprintf(sfx, sizeof sfx, "state.%d.%s", i, name);
            key = key_of(&kb, &kc, prefix, sfx);
            st = key ? tg_checkpoint_add(c, key, opt->state[i][k]) : TG_ERR_OOM;
        }
    }
    tg_mem_free(kb);
    if (st == TG_ERR_OOM && tg_last_status() == TG_OK)
        return tg_set_error(TG_ERR_OOM, fn, "out of memory");
    return st ? tg_error_context(mark, fn) : TG_OK;
}

// ---- loading: parsing the metadata ----

// The metadata value prefix + suffix, or NULL with an error naming tg_optim_load_state.
static const char *meta(const tg_checkpoint *c, const char *prefix, const char *suffix,
                        char **kb, size_t *kc) {
    const char *k = key_of(kb, kc, prefix, suffix);
    if (!k) {
        tg_set_error(TG_ERR_OOM, "tg_optim_load_state", "out of memory");
        return NULL;
    }
    unsigned mark = tg_error_mark();
    const char *v = tg_checkpoint_meta(c, k);
    if (!v) tg_error_context(mark, "tg_optim_load_state");
    return v;
}

// A whole string as a double (strtod: "%.17g" reads back exactly).
static bool parse_double(const char *s, const char **end, double *out) {
    char *e;
    errno = 0;
    *out = strtod(s, &e);
    *end = e;
    return e != s && !(errno == ERANGE && isinf(*out));
}

// n comma-separated numbers: int64 steps (>= 0) or finite doubles (mu products).
static bool parse_list(const char *s, int n, int64_t *steps, double *mu) {
    for (int i = 0; i < n; i++) {
        const char *e;
        if (mu) {
            if (!parse_double(s, &e, &mu[i]) || !isfinite(mu[i])) return false;
        } else {
            char *ee;
            errno = 0;
            long long v = s[0] >= '0' && s[0] <= '9' ? strtoll(s, &ee, 10) : -1;
            if (v < 0 || errno) return false;
            steps[i] = v;
            e = ee;
        }
        if (*e != (i + 1 < n ? ',' : '\0')) return false;
        s = e + 1;
    }
    return true;
}

static int bad_meta(const char *prefix, const char *what, const char *value, const char *need) {
    return tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_load_state",
                        "metadata '%.60s%s' is not %s: '%.80s'", prefix, what, need, value);
}

// Kind, parameter count and hyper-parameters into *o, steps and mu (n each).
static int load_meta(const tg_optim *opt, const tg_checkpoint *c, const char *prefix,
                     tg_optim_opts *o, int64_t *steps, double *mu, char **kb, size_t *kc) {
    const char *fn = "tg_optim_load_state", *v, *e;
    if (!(v = meta(c, prefix, "kind", kb, kc))) return tg_last_status();
    if (strcmp(v, tg_optim_kind_name(opt->kind)) != 0)
        return tg_set_error(TG_ERR_INVALID_ARG, fn,
                            "the checkpoint holds '%.40s' state, this optimizer is %s", v,
                            tg_optim_kind_name(opt->kind));
    if (!(v = meta(c, prefix, "n_params", kb, kc))) return tg_last_status();
    char nb[32];
    snprintf(nb, sizeof nb, "%d", opt->n);
    if (strcmp(v, nb) != 0)
        return tg_set_error(TG_ERR_SHAPE, fn,
                            "the checkpoint holds state for '%.40s' parameters, this optimizer "
                            "has %d", v, opt->n);
    *o = opt->o;
    for (int h = 0; h < N_HPARAMS; h++) {
        if (!(v = meta(c, prefix, HPARAMS[h].name, kb, kc))) return tg_last_status();
        char *f = (char *)o + HPARAMS[h].off;
        double d;
        if (HPARAMS[h].is_bool && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
            *(bool *)f = v[0] == 't';
        else if (!HPARAMS[h].is_bool && parse_double(v, &e, &d) && !*e)
            *(double *)f = d;
        else
            return bad_meta(prefix, HPARAMS[h].name, v,
                            HPARAMS[h].is_bool ? "true or false" : "a number");
    }
    const char *bad = tg__optim_bad_opts(opt->kind, o);
    if (bad)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s: invalid %s in the checkpoint",
                            tg_optim_kind_name(opt->kind), bad);
    if (!(v = meta(c, prefix, "steps", kb, kc))) return tg_last_status();
    if (!parse_list(v, opt->n, steps, NULL))
        return bad_meta(prefix, "steps", v, "a list of step counts");
    for (int i = 0; i < opt->n; i++) mu[i] = 1.0;
    if (opt->kind != TG_OPTIM_NADAM) return TG_OK;
    if (!(v = meta(c, prefix, "mu_product", kb, kc))) return tg_last_status();
    return parse_list(v, opt->n, NULL, mu) ? TG_OK
                                           : bad_meta(prefix, "mu_product", v, "a list of numbers");
}

// ---- loading: the tensors ----

// New tensors fresh[i][k] (like parameter i) holding every saved slot of the checkpoint.
static int load_tensors(const tg_optim *opt, const tg_checkpoint *c, const char *prefix,
                        const tg_optim_opts *o, const int64_t *steps,
                        tg_tensor *(*fresh)[N_STATE], char **kb, size_t *kc) {
    const char *fn = "tg_optim_load_state";
    char sfx[80];
    for (int i = 0; i < opt->n; i++) {
        for (int k = 0; steps[i] > 0 && k < N_STATE; k++) {
            const char *name = saved_slot(opt->kind, o, k), *key;
            if (!name) continue;
            snprintf(sfx, sizeof sfx, "state.%d.%s", i, name);
            if (!(key = key_of(kb, kc, prefix, sfx)))
                return tg_set_error(TG_ERR_OOM, fn, "out of memory");
            tg_tensor *p = opt->params[i];
            unsigned mark = tg_error_mark();
            fresh[i][k] = tg_tensor_new(tg_backend_of(p), tg_dtype_of(p), tg_ndim(p), tg_shape(p));
            if (!fresh[i][k] || tg_checkpoint_restore(c, key, fresh[i][k]))
                return tg_error_context(mark, fn);
        }
    }
    return TG_OK;
}

int tg_optim_load_state(tg_optim *opt, const tg_checkpoint *c, const char *prefix) {
    const char *fn = "tg_optim_load_state";
    if (!opt || !c || !prefix)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL",
                            !opt ? "optimizer" : !c ? "checkpoint" : "prefix");
    int n = opt->n;
    tg_optim_opts o;
    int64_t *steps = tg_mem_alloc((size_t)n * sizeof *steps);
    double *mu = tg_mem_alloc((size_t)n * sizeof *mu);
    tg_tensor *(*fresh)[N_STATE] = tg_mem_calloc((size_t)n, sizeof *fresh);
    char *kb = NULL;
    size_t kc = 0;
    int st = steps && mu && fresh ? TG_OK : tg_set_error(TG_ERR_OOM, fn, "out of memory");
    if (!st) st = load_meta(opt, c, prefix, &o, steps, mu, &kb, &kc);
    if (!st) st = load_tensors(opt, c, prefix, &o, steps, fresh, &kb, &kc);
    // commit: nothing below can fail (the old state tensors are never on a tape)
    for (int i = 0; fresh && i < n; i++) {
        for (int k = 0; k < N_STATE; k++) {
            if (st) {
                tg_free(fresh[i][k]);
            } else if (fresh[i][k] || steps[i] == 0) {   // never stepped: as a fresh optimizer
                tg_free(opt->state[i][k]);
                opt->state[i][k] = fresh[i][k];
            }
        }
        if (!st) {
            opt->steps[i] = steps[i];
            opt->mu_product[i] = mu[i];
        }
    }
    if (!st) opt->o = o;
    tg_mem_free(kb);
    tg_mem_free(fresh);
    tg_mem_free(steps);
    tg_mem_free(mu);
    return st;
}

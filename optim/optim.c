// Optimizers: torch.optim's single-tensor update rules (PyTorch 1.13), written with the
// public in-place ops so they run on any backend. State tensors are created at the first
// step of each parameter; later steps allocate nothing.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim_impl.h"

static const char *const kind_names[TG_OPTIM_KIND_COUNT] = {
    [TG_OPTIM_SGD] = "SGD",         [TG_OPTIM_ADAGRAD] = "Adagrad", [TG_OPTIM_ADADELTA] = "Adadelta",
    [TG_OPTIM_RMSPROP] = "RMSprop", [TG_OPTIM_ADAM] = "Adam",       [TG_OPTIM_ADAMW] = "AdamW",
    [TG_OPTIM_ADAMAX] = "Adamax",   [TG_OPTIM_NADAM] = "NAdam",
};

const char *tg_optim_kind_name(tg_optim_kind kind) {
    return kind >= 0 && kind < TG_OPTIM_KIND_COUNT ? kind_names[kind] : "?";
}

tg_optim_opts tg_optim_opts_default(tg_optim_kind kind) {
    if (kind < 0 || kind >= TG_OPTIM_KIND_COUNT)
        tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_opts_default",
                     "kind %d is not a tg_optim_kind (the common defaults returned)", (int)kind);
    tg_optim_opts o = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .alpha = 0.99,
                       .rho = 0.9, .momentum_decay = 4e-3};
    switch (kind) {
    case TG_OPTIM_SGD: o.lr = 1e-3; break;
    case TG_OPTIM_ADAGRAD: o.lr = 1e-2; o.eps = 1e-10; break;
    case TG_OPTIM_ADADELTA: o.lr = 1.0; o.eps = 1e-6; break;
    case TG_OPTIM_RMSPROP: o.lr = 1e-2; break;
    case TG_OPTIM_ADAMW: o.weight_decay = 1e-2; break;
    case TG_OPTIM_ADAMAX: o.lr = 2e-3; break;
    case TG_OPTIM_NADAM: o.lr = 2e-3; break;
    default: break;
    }
    return o;
}

// The first hyper-parameter torch.optim would refuse (its ValueError checks), or NULL.
// Negated comparisons also catch NaN.
const char *tg__optim_bad_opts(tg_optim_kind kind, const tg_optim_opts *o) {
    bool adam_family = kind == TG_OPTIM_ADAM || kind == TG_OPTIM_ADAMW ||
                       kind == TG_OPTIM_ADAMAX || kind == TG_OPTIM_NADAM;
    if (!(o->lr >= 0)) return "lr (need >= 0)";
    if (!(o->eps >= 0)) return "eps (need >= 0)";
    if (!(o->weight_decay >= 0)) return "weight_decay (need >= 0)";
    if (adam_family && !(o->beta1 >= 0 && o->beta1 < 1)) return "beta1 (need 0 <= beta1 < 1)";
    if (adam_family && !(o->beta2 >= 0 && o->beta2 < 1)) return "beta2 (need 0 <= beta2 < 1)";
    switch (kind) {
    case TG_OPTIM_SGD:
        if (!(o->momentum >= 0)) return "momentum (need >= 0)";
        if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
            return "nesterov (needs momentum > 0 and dampening 0)";
        break;
    case TG_OPTIM_ADAGRAD:
        if (!(o->lr_decay >= 0)) return "lr_decay (need >= 0)";
        if (!(o->initial_accumulator_value >= 0))
            return "initial_accumulator_value (need >= 0)";
        break;
    case TG_OPTIM_ADADELTA:
        if (!(o->rho >= 0 && o->rho <= 1)) return "rho (need 0 <= rho <= 1)";
        break;
    case TG_OPTIM_RMSPROP:
        if (!(o->momentum >= 0)) return "momentum (need >= 0)";
        if (!(o->alpha >= 0)) return "alpha (need >= 0)";
        break;
    case TG_OPTIM_NADAM:
        if (!(o->momentum_decay >= 0)) return "momentum_decay (need >= 0)";
        break;
    default: break;
    }
    return NULL;
}

tg_optim *tg_optim_new(tg_optim_kind kind, int n, tg_tensor *const *params,
                       const tg_optim_opts *opts) {
    if (kind < 0 || kind >= TG_OPTIM_KIND_COUNT || n <= 0 || !params) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_new", "need a known kind and n > 0 params");
        return NULL;
    }
    unsigned mark = tg_error_mark();
    for (int i = 0; i < n; i++) {
        if (params[i] && tg_ndim(params[i]) < 0) {   // stale: the query's error, named here
            tg_error_context(mark, "tg_optim_new");
            return NULL;
        }
        if (!params[i] || tg_is_step(params[i])) {
            tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_new",
                         "parameter %d is %s; need persistent tensors", i,
                         params[i] ? "a step tensor" : "NULL");
            return NULL;
        }
        // torch.optim warns about duplicates; here each would be updated twice per step
        for (int j = 0; j < i; j++)
            if (params[j] == params[i]) {
                tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_new",
                             "parameter %d is parameter %d again; list each parameter once", i,
                             j);
                return NULL;
            }
    }
    tg_optim_opts o = opts ? *opts : tg_optim_opts_default(kind);
    const char *bad = tg__optim_bad_opts(kind, &o);
    if (bad) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_new", "%s: invalid %s",
                     tg_optim_kind_name(kind), bad);
        return NULL;
    }
    tg_optim *opt = tg_mem_calloc(1, sizeof *opt);
    if (opt) {
        opt->params = tg_mem_alloc((size_t)n * sizeof *opt->params);
        opt->state = tg_mem_calloc((size_t)n, sizeof *opt->state);
        opt->steps = tg_mem_calloc((size_t)n, sizeof *opt->steps);
        opt->mu_product = tg_mem_alloc((size_t)n * sizeof *opt->mu_product);
    }
    if (!opt || !opt->params || !opt->state || !opt->steps || !opt->mu_product) {
        tg_optim_free(opt);
        tg_set_error(TG_ERR_OOM, "tg_optim_new", "out of memory");
        return NULL;
    }
    opt->kind = kind;
    opt->o = o;
    opt->n = n;
    for (int i = 0; i < n; i++) {
        opt->params[i] = params[i];
        opt->mu_product[i] = 1.0;
    }
    return opt;
}

// tg_optim_new for the shorthand fn: its errors name fn ("tg_sgd: tg_optim_new: ...").
static tg_optim *shorthand(const char *fn, tg_optim_kind kind, int n, tg_tensor *const *params,
                           const tg_optim_opts *o) {
    unsigned mark = tg_error_mark();
    tg_optim *opt = tg_optim_new(kind, n, params, o);
    if (!opt) tg_error_context(mark, fn);
    return opt;
}

tg_optim *tg_sgd(int n, tg_tensor *const *params, double lr, double momentum) {
    tg_optim_opts o = tg_optim_opts_default(TG_OPTIM_SGD);
    o.lr = lr;
    o.momentum = momentum;
    return shorthand("tg_sgd", TG_OPTIM_SGD, n, params, &o);
}

tg_optim *tg_adam(int n, tg_tensor *const *params, double lr) {
    tg_optim_opts o = tg_optim_opts_default(TG_OPTIM_ADAM);
    o.lr = lr;
    return shorthand("tg_adam", TG_OPTIM_ADAM, n, params, &o);
}

void tg_optim_free(tg_optim *opt) {
    if (!opt) return;
    for (int i = 0; opt->state && i < opt->n; i++)
        for (int k = 0; k < N_STATE; k++) tg_free(opt->state[i][k]);
    tg_mem_free(opt->params);
    tg_mem_free(opt->state);
    tg_mem_free(opt->steps);
    tg_mem_free(opt->mu_product);
    tg_mem_free(opt);
}

double tg_optim_lr(const tg_optim *opt) {
    if (opt) return opt->o.lr;
    tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_lr", "optimizer is NULL");
    return NAN;
}

int tg_optim_set_lr(tg_optim *opt, double lr) {
    if (!opt || !(lr >= 0))
        return tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_set_lr", "need an optimizer and lr >= 0");
    opt->o.lr = lr;
    return TG_OK;
}

int tg_optim_zero_grad(tg_optim *opt) {
    if (!opt) return tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_zero_grad", "optimizer is NULL");
    return tg_zero_grad(opt->n, opt->params);
}

// State slot k of parameter i, created (zeros, or `fill`) on first use.
static tg_tensor *slot(tg_optim *opt, int i, int k, double fill) {
    tg_tensor **s = &opt->state[i][k];
    if (!*s) {
        tg_tensor *p = opt->params[i];
        *s = tg_tensor_new(tg_backend_of(p), tg_dtype_of(p), tg_ndim(p), tg_shape(p));
        if (*s && fill != 0 && tg_fill_(*s, fill)) {
            tg_free(*s);
            *s = NULL;
        }
    }
    return *s;
}

// The gradient with weight decay folded in: g + wd * p (in slot 3), or g itself.
static tg_tensor *decayed_grad(tg_optim *opt, int i, tg_tensor *g) {
    if (opt->o.weight_decay == 0 || opt->kind == TG_OPTIM_ADAMW) return g;
    tg_tensor *d = slot(opt, i, 3, 0);
    if (!d || tg_copy_(d, g) || tg_axpby_(d, opt->o.weight_decay, opt->params[i], 1.0)) return NULL;
    return d;
}

unsigned tg__optim_slots_used(tg_optim_kind kind, const tg_optim_opts *o) {
    unsigned wd = o->weight_decay != 0 ? 1u << 3 : 0;   // decayed_grad's scratch
    switch (kind) {
    case TG_OPTIM_SGD:
        return (o->weight_decay != 0 || (o->momentum != 0 && o->nesterov) ? 1u << 1 : 0) |
               (o->momentum != 0 ? 1u : 0);
    case TG_OPTIM_ADAGRAD: return 1u | wd;
    case TG_OPTIM_ADADELTA: return 7u | wd;
    case TG_OPTIM_RMSPROP:
        return 1u | wd | (o->centered ? 6u : 0) | (o->momentum > 0 ? 1u << 4 : 0);
    case TG_OPTIM_ADAM:
    case TG_OPTIM_ADAMW: return 3u | (o->amsgrad ? 4u : 0);
    default: return 3u | wd;   // Adamax, NAdam
    }
}

// Creates every state slot parameter i's update needs, before any parameter is updated:
// a step that runs out of memory fails without having changed anything.
static int prepare(tg_optim *opt, int i) {
    unsigned used = tg__optim_slots_used(opt->kind, &opt->o);
    for (int k = 0; k < N_STATE; k++)
        if ((used >> k & 1u) && !slot(opt, i, k, tg__optim_slot_init(opt->kind, &opt->o, k)))
            return -1;
    return 0;
}

double tg__optim_slot_init(tg_optim_kind kind, const tg_optim_opts *o, int k) {
    return kind == TG_OPTIM_ADAGRAD && k == 0 ? o->initial_accumulator_value : 0.0;
}

static int sgd(tg_optim *opt, int i, tg_tensor *p, tg_tensor *g, int64_t step) {
    const tg_optim_opts *o = &opt->o;
    tg_tensor *d = g;
    if (o->weight_decay != 0 || (o->momentum != 0 && o->nesterov)) {
        d = slot(opt, i, 1, 0);   // d_p = grad + wd * p
        if (!d || tg_copy_(d, g) || (o->weight_decay != 0 && tg_axpby_(d, o->weight_decay, p, 1.0)))
            return -1;
    }
    if (o->momentum != 0) {
        bool first = step == 1;
        tg_tensor *buf = slot(opt, i, 0, 0);
        if (!buf) return -1;
        if (first ? tg_copy_(buf, d) : tg_axpby_(buf, 1.0 - o->dampening, d, o->momentum)) return -1;
        if (o->nesterov) {
            if (tg_axpby_(d, o->momentum, buf, 1.0)) return -1;
        } else {
            d = buf;
        }
    }
    return tg_axpby_(p, -o->lr, d, 1.0);
}

static int adagrad(tg_optim *opt, int i, tg_tensor *p, tg_tensor *g, int64_t step) {
    const tg_optim_opts *o = &opt->o;
    tg_tensor *sum = slot(opt, i, 0, o->initial_accumulator_value);
    if (!sum || !(g = decayed_grad(opt, i, g))) return -1;
    double clr = o->lr / (1.0 + (double)(step - 1) * o->lr_decay);
    if (tg_addcmul_(sum, 1.0, g, g)) return -1;
    return tg_addcdiv_sqrt_(p, -clr, g, sum, 1.0, o->eps);
}

static int adadelta(tg_optim *opt, int i, tg_tensor *p, tg_tensor *g) {
    const tg_optim_opts *o = &opt->o;
    tg_tensor *sq = slot(opt, i, 0, 0), *acc = slot(opt, i, 1, 0), *delta = slot(opt, i, 2, 0);
    if (!sq || !acc || !delta || !(g = decayed_grad(opt, i, g))) return -1;
    if (tg_scale_(sq, o->rho) || tg_addcmul_(sq, 1.0 - o->rho, g, g)) return -1;
    if (tg_copy_(delta, g) || tg_mul_sqrt_ratio_(delta, acc, sq, o->eps)) return -1;
    if (tg_scale_(acc, o->rho) || tg_addcmul_(acc, 1.0 - o->rho, delta, delta)) return -1;
    return tg_axpby_(p, -o->lr, delta, 1.0);
}

static int rmsprop(tg_optim *opt, int i, tg_tensor *p, tg_tensor *g) {
    const tg_optim_opts *o = &opt->o;
    tg_tensor *sq = slot(opt, i, 0, 0);
    if (!sq || !(g = decayed_grad(opt, i, g))) return -1;
    if (tg_scale_(sq, o->alpha) || tg_addcmul_(sq, 1.0 - o->alpha, g, g)) return -1;
    tg_tensor *denom = sq;   // avg = sqrt(denom) + eps
    if (o->centered) {
        tg_tensor *ga = slot(opt, i, 1, 0), *c = slot(opt, i, 2, 0);
        if (!ga || !c || tg_axpby_(ga, 1.0 - o->alpha, g, o->alpha)) return -1;
        if (tg_copy_(c, sq) || tg_addcmul_(c, -1.0, ga, ga)) return -1;
        denom = c;
    }
    if (o->momentum > 0) {
        tg_tensor *buf = slot(opt, i, 4, 0);
        if (!buf) return -1;
        if (tg_scale_(buf, o->momentum) || tg_addcdiv_sqrt_(buf, 1.0, g, denom, 1.0, o->eps))
            return -1;
        return tg_axpby_(p, -o->lr, buf, 1.0);
    }
    return tg_addcdiv_sqrt_(p, -o->lr, g, denom, 1.0, o->eps);
}

static int adam(tg_optim *opt, int i, tg_tensor *p, tg_tensor *g, int64_t step) {
    const tg_optim_opts *o = &opt->o;
    tg_tensor *m = slot(opt, i, 0, 0), *v = slot(opt, i, 1, 0);
    tg_tensor *vmax = o->amsgrad ? slot(opt, i, 2, 0) : NULL;
    if (!m || !v || (o->amsgrad && !vmax)) return -1;
    return tg_adam_step_(p, g, m, v, vmax, step, o->lr, o->beta1, o->beta2, o->eps,
                         o->weight_decay, opt->kind == TG_OPTIM_ADAMW);
}

static int adamax(tg_optim *opt, int i, tg_tensor *p, tg_tensor *g, int64_t step) {
    const tg_optim_opts *o = &opt->o;
    tg_tensor *m = slot(opt, i, 0, 0), *u = slot(opt, i, 1, 0);
    if (!m || !u || !(g = decayed_grad(opt, i, g))) return -1;
    if (tg_axpby_(m, 1.0 - o->beta1, g, o->beta1) || tg_max_abs_(u, o->beta2, g, o->eps)) return -1;
    double clr = o->lr / (1.0 - pow(o->beta1, (double)step));
    return tg_addcdiv_(p, -clr, m, u);
}

// mu_prod_next = mu_product * mu_next, as torch >= 2.0 and 1.13's foreach path; 1.13's
// single-tensor path multiplies mu in twice (a bug fixed upstream).
static int nadam(tg_optim *opt, int i, tg_tensor *p, tg_tensor *g, int64_t step) {
    const tg_optim_opts *o = &opt->o;
    tg_tensor *m = slot(opt, i, 0, 0), *v = slot(opt, i, 1, 0);
    if (!m || !v || !(g = decayed_grad(opt, i, g))) return -1;
    double t = (double)step, bc2 = 1.0 - pow(o->beta2, t);
    double mu = o->beta1 * (1.0 - 0.5 * pow(0.96, t * o->momentum_decay));
    double mu_next = o->beta1 * (1.0 - 0.5 * pow(0.96, (t + 1.0) * o->momentum_decay));
    opt->mu_product[i] *= mu;
    double mu_prod = opt->mu_product[i], mu_prod_next = mu_prod * mu_next;
    if (tg_axpby_(m, 1.0 - o->beta1, g, o->beta1)) return -1;
    if (tg_scale_(v, o->beta2) || tg_addcmul_(v, 1.0 - o->beta2, g, g)) return -1;
    double s = 1.0 / sqrt(bc2);
    if (tg_addcdiv_sqrt_(p, -o->lr * (1.0 - mu) / (1.0 - mu_prod), g, v, s, o->eps)) return -1;
    return tg_addcdiv_sqrt_(p, -o->lr * mu_next / (1.0 - mu_prod_next), m, v, s, o->eps);
}

int tg_optim_step(tg_optim *opt) {
    if (!opt) return tg_set_error(TG_ERR_INVALID_ARG, "tg_optim_step", "optimizer is NULL");
    for (int i = 0; i < opt->n; i++) {
        if (tg_grad_of(opt->params[i]) && prepare(opt, i)) {
            tg_set_error(TG_ERR_OOM, "tg_optim_step", "%s state of parameter %d: out of memory",
                         tg_optim_kind_name(opt->kind), i);
            return tg_last_status();
        }
    }
    for (int i = 0; i < opt->n; i++) {
        tg_tensor *p = opt->params[i], *g = tg_grad_of(p);
        if (!g) continue;
        int64_t step = opt->steps[i] + 1;
        int st;
        switch (opt->kind) {
        case TG_OPTIM_SGD: st = sgd(opt, i, p, g, step); break;
        case TG_OPTIM_ADAGRAD: st = adagrad(opt, i, p, g, step); break;
        case TG_OPTIM_ADADELTA: st = adadelta(opt, i, p, g); break;
        case TG_OPTIM_RMSPROP: st = rmsprop(opt, i, p, g); break;
        case TG_OPTIM_ADAM:
        case TG_OPTIM_ADAMW: st = adam(opt, i, p, g, step); break;
        case TG_OPTIM_ADAMAX: st = adamax(opt, i, p, g, step); break;
        default: st = nadam(opt, i, p, g, step); break;
        }
        if (st) {
            tg_set_error(TG_ERR_OOM, "tg_optim_step", "%s update of parameter %d failed",
                         tg_optim_kind_name(opt->kind), i);
            return tg_last_status();
        }
        opt->steps[i] = step;
    }
    return TG_OK;
}

// Layers: Linear, activations, Flatten, Dropout, Sequential. Each forward is a few ops.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn/module_impl.h"

// ---- Linear: y = x W^T + b    W [out, in], b [out] ----

typedef struct {
    int64_t in, out;   // features
    bool bias;         // params[1] is the bias
} linear_cfg;
static const tg__module_cfg_type LINEAR_CFG = {"linear_cfg", sizeof(linear_cfg)};
static const linear_cfg *linear_of(const tg_module *m) { return tg__module_cfg(m, &LINEAR_CFG); }

static tg_tensor *linear_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const linear_cfg *c = linear_of(m);
    if (x && (tg_ndim(x) < 1 || tg_shape(x)[tg_ndim(x) - 1] != c->in)) {
        char s[64] = "";
        for (int i = 0, n = 0; i < tg_ndim(x) && n < 60; i++)
            n += snprintf(s + n, sizeof s - (size_t)n, i ? ",%lld" : "%lld", (long long)tg_shape(x)[i]);
        tg_set_error(TG_ERR_SHAPE, m->name, "input [%s] does not end in %lld features", s,
                     (long long)c->in);
        return NULL;
    }
    if (x && tg_ndim(x) == 1) {   // a single sample
        tg_tensor *y = tg_matmul_ex(tape, tg_unsqueeze(tape, x, 0), m->params[0], false, true);
        y = tg_squeeze(tape, y, 0);
        return c->bias ? tg_add(tape, y, m->params[1]) : y;
    }
    if (x && tg_ndim(x) == 2 && c->bias)   // the common case: one gemm with bias
        return tg_addmm(tape, m->params[1], x, m->params[0], false, true);
    tg_tensor *y = tg_matmul_ex(tape, x, m->params[0], false, true);
    return c->bias ? tg_add(tape, y, m->params[1]) : y;
}

tg_module *tg_linear(tg_backend *be, tg_dtype dtype, int64_t in, int64_t out, bool bias,
                     tg_rng *rng) {
    if (in <= 0 || out <= 0 || !rng) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_linear", "need in > 0, out > 0 and an rng "
                     "(got %lld, %lld, %s)", (long long)in, (long long)out, rng ? "rng" : "NULL");
        return NULL;
    }
    if (tg__module_check_size("tg_linear", "weight", 2, (int64_t[]){out, in})) return NULL;
    unsigned mark = tg_error_mark();
    char name[96];
    snprintf(name, sizeof name, "Linear(in=%lld, out=%lld)", (long long)in, (long long)out);
    linear_cfg cfg = {.in = in, .out = out, .bias = bias};
    tg_module *m = tg__module_new_cfg(name, linear_forward, &LINEAR_CFG, &cfg);
    if (!m) return NULL;
    double bound = 1.0 / sqrt((double)in);   // kaiming_uniform(a=sqrt(5)) and torch's bias
    tg_tensor *w = tg_tensor_new(be, dtype, 2, (int64_t[]){out, in});
    if (w && tg_uniform_(w, rng, -bound, bound)) w = (tg_free(w), NULL);
    m = tg__module_add_param(m, "weight", w);
    if (m && bias) {
        tg_tensor *b = tg_tensor_new(be, dtype, 1, &out);
        if (b && tg_uniform_(b, rng, -bound, bound)) b = (tg_free(b), NULL);
        m = tg__module_add_param(m, "bias", b);
    }
    return tg__module_done(m, mark, "tg_linear");
}

// ---- activations ----

static tg_tensor *relu_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    (void)m;
    return tg_relu(tape, x);
}
static tg_tensor *tanh_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    (void)m;
    return tg_tanh(tape, x);
}
static tg_tensor *sigmoid_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    (void)m;
    return tg_sigmoid(tape, x);
}
static tg_tensor *gelu_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    (void)m;
    return tg_gelu(tape, x);
}
static tg_tensor *softplus_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    (void)m;
    return tg_softplus(tape, x, 1.0, 20.0);
}
static tg_tensor *flatten_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    (void)m;
    return tg_flatten(tape, x, 1, -1);
}

// A parameter-free module (no tensors) named `name`; its configuration (NULL type: none) is
// a copy of *cfg.
static tg_module *simple(const char *name, tg_module_forward_fn fwd,
                         const tg__module_cfg_type *type, const void *cfg) {
    return tg__module_finish(tg__module_new_cfg(name, fwd, type, cfg));
}

tg_module *tg_relu_layer(void) { return simple("ReLU", relu_forward, NULL, NULL); }
tg_module *tg_tanh_layer(void) { return simple("Tanh", tanh_forward, NULL, NULL); }
tg_module *tg_sigmoid_layer(void) { return simple("Sigmoid", sigmoid_forward, NULL, NULL); }
tg_module *tg_gelu_layer(void) { return simple("GELU", gelu_forward, NULL, NULL); }
tg_module *tg_softplus_layer(void) { return simple("Softplus", softplus_forward, NULL, NULL); }
tg_module *tg_flatten_layer(void) { return simple("Flatten", flatten_forward, NULL, NULL); }

// ---- LeakyReLU, ELU: activations with one constant ----

typedef struct {
    double slope;   // y = x > 0 ? x : slope*x
} leaky_relu_cfg;
static const tg__module_cfg_type LEAKY_RELU_CFG = {"leaky_relu_cfg", sizeof(leaky_relu_cfg)};
static const leaky_relu_cfg *leaky_relu_of(const tg_module *m) {
    return tg__module_cfg(m, &LEAKY_RELU_CFG);
}

static tg_tensor *leaky_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const leaky_relu_cfg *c = leaky_relu_of(m);
    return tg_leaky_relu(tape, x, c->slope);
}

tg_module *tg_leaky_relu_layer(double slope) {
    if (!isfinite(slope)) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_leaky_relu_layer", "slope %g is not finite", slope);
        return NULL;
    }
    char name[64];
    snprintf(name, sizeof name, "LeakyReLU(%g)", slope);
    return simple(name, leaky_forward, &LEAKY_RELU_CFG, &(leaky_relu_cfg){.slope = slope});
}

typedef struct {
    double alpha;   // y = x > 0 ? x : alpha*(exp(x)-1)
} elu_cfg;
static const tg__module_cfg_type ELU_CFG = {"elu_cfg", sizeof(elu_cfg)};
static const elu_cfg *elu_of(const tg_module *m) { return tg__module_cfg(m, &ELU_CFG); }

static tg_tensor *elu_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const elu_cfg *c = elu_of(m);
    return tg_elu(tape, x, c->alpha);
}

tg_module *tg_elu_layer(double alpha) {
    if (!isfinite(alpha)) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_elu_layer", "alpha %g is not finite", alpha);
        return NULL;
    }
    char name[64];
    snprintf(name, sizeof name, "ELU(%g)", alpha);
    return simple(name, elu_forward, &ELU_CFG, &(elu_cfg){.alpha = alpha});
}

// ---- Dropout: inverted dropout while training (tg_dropout), the identity in eval ----

typedef struct {
    double p;      // the probability of zeroing an element
    tg_rng *rng;   // borrowed: the caller's, used by every training forward
} dropout_cfg;
static const tg__module_cfg_type DROPOUT_CFG = {"dropout_cfg", sizeof(dropout_cfg)};
static const dropout_cfg *dropout_of(const tg_module *m) { return tg__module_cfg(m, &DROPOUT_CFG); }

static tg_tensor *dropout_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const dropout_cfg *c = dropout_of(m);
    return tg_dropout(tape, x, c->p, c->rng, m->training);
}

tg_module *tg_dropout_layer(double p, tg_rng *rng) {
    if (!(p >= 0 && p <= 1) || !rng) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_dropout_layer", "need 0 <= p <= 1 and an rng");
        return NULL;
    }
    char name[64];
    snprintf(name, sizeof name, "Dropout(p=%g)", p);
    return simple(name, dropout_forward, &DROPOUT_CFG, &(dropout_cfg){.p = p, .rng = rng});
}

// ---- Sequential ----

// Each child's errors name it (tg_module_forward), after the container's name.
// A Linear with bias on a 2-D input followed by a ReLU runs as one tg_addmm_relu: the bias
// and the ReLU in the gemm's store, the same values as the two layers one after the other.
// Its node sits in the Linear's cluster of tg_tape_dot's picture (the ReLU's is empty).
static bool fuses_with_relu(const tg_module *lin, const tg_module *next, tg_tensor *x) {
    if (lin->forward != linear_forward || next->forward != relu_forward || !x) return false;
    const linear_cfg *c = linear_of(lin);
    return c->bias && tg_ndim(x) == 2 && tg_shape(x)[1] == c->in;
}

static tg_tensor *linear_relu_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    return tg_addmm_relu(tape, m->params[1], x, m->params[0], false, true);
}

static tg_tensor *sequential_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    for (int c = 0; c < m->n_children && x; c++) {
        tg_module *child = m->children[c];
        if (c + 1 < m->n_children && fuses_with_relu(child, m->children[c + 1], x))
            x = tg__module_run(child, tape, x, linear_relu_forward), c++;
        else
            x = tg_module_forward(child, tape, x);
    }
    return x;
}

// A module is a child of one container, once: a module listed twice, or already inside
// another container, is refused (a tree, so that freeing and checkpoint names stay simple;
// to share weights, call one module twice from your own forward).
static bool children_ok(int n, tg_module *const *modules) {
    if (n <= 0 || !modules) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_sequential", "need n > 0 modules, got %d", n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!modules[i]) {
            tg_set_error(TG_ERR_INVALID_ARG, "tg_sequential", "module %d is NULL", i);
            return false;
        }
        for (int j = 0; j < i; j++) {
            if (modules[j] == modules[i]) {
                tg_set_error(TG_ERR_INVALID_ARG, "tg_sequential",
                             "module %d (%s) is module %d again; a module is a child once "
                             "(share weights by calling it twice from your own forward)", i,
                             modules[i]->name, j);
                return false;
            }
        }
        if (modules[i]->in_container) {
            tg_set_error(TG_ERR_INVALID_ARG, "tg_sequential",
                         "module %d (%s) already belongs to another container", i,
                         modules[i]->name);
            return false;
        }
    }
    return true;
}

tg_module *tg_sequential(int n, tg_module *const *modules) {
    bool ok = children_ok(n, modules);
    tg_module *m = ok ? tg__module_new("Sequential", sequential_forward) : NULL;
    if (m) m->children = tg_mem_alloc((size_t)n * sizeof *m->children);
    if (!m || !m->children) {
        if (ok) tg_set_error(TG_ERR_OOM, "tg_sequential", "out of memory");
        // The children are consumed on failure (the usual one-expression call leaks none),
        // each once, except those another container owns.
        for (int i = 0; modules && i < n; i++) {
            bool seen = false;
            for (int j = 0; j < i && !seen; j++) seen = modules[j] == modules[i];
            if (!seen && modules[i] && !modules[i]->in_container) tg_module_free(modules[i]);
        }
        tg_module_free(m);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        m->children[i] = modules[i];
        modules[i]->in_container = true;
    }
    m->n_children = n;
    m->sequential = true;
    return tg__module_finish(m);
}

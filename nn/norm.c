// Normalisation and lookup layers: BatchNorm1d/2d, LayerNorm, Embedding.
// BatchNorm follows PyTorch: biased batch variance for normalising, unbiased for the
// running estimate, running = (1 - momentum) * running + momentum * batch.
#include <math.h>
#include <stdio.h>

#include "nn/module_impl.h"

// ---- BatchNorm1d ([N,C]) and BatchNorm2d ([N,C,H,W]) ----

typedef struct {
    int64_t features;   // C
    int dims;           // 1: BatchNorm1d, 2: BatchNorm2d
    double momentum;    // of the running statistics
    double eps;         // added to the variance
} batchnorm_cfg;
static const tg__module_cfg_type BATCHNORM_CFG = {"batchnorm_cfg", sizeof(batchnorm_cfg)};
static const batchnorm_cfg *batchnorm_of(const tg_module *m) {
    return tg__module_cfg(m, &BATCHNORM_CFG);
}

static tg_tensor *batchnorm_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const batchnorm_cfg *cfg = batchnorm_of(m);
    int want = cfg->dims == 1 ? 2 : 4;
    if (!x) return NULL;
    if (tg_ndim(x) != want || tg_shape(x)[1] != cfg->features) {
        tg_set_error(TG_ERR_SHAPE, m->name, "need input [N,%lld%s] , got %d dims with %lld "
                     "channels", (long long)cfg->features, want == 4 ? ",H,W" : "", tg_ndim(x),
                     tg_ndim(x) > 1 ? (long long)tg_shape(x)[1] : -1LL);
        return NULL;
    }
    if (m->training) {
        int64_t c = cfg->features;
        if (tg_numel(x) / c < 2) {
            tg_set_error(TG_ERR_SHAPE, m->name, "training needs more than 1 value per channel");
            return NULL;
        }
        return tg_batch_norm(tape, x, m->params[0], m->params[1], m->buffers[0], m->buffers[1],
                             cfg->momentum, cfg->eps);
    }
    int64_t sshape[4] = {1, cfg->features, 1, 1};   // statistics broadcast against x
    tg_tensor *w = tg_reshape(tape, m->params[0], want, sshape);
    tg_tensor *b = tg_reshape(tape, m->params[1], want, sshape);
    tg_tensor *mean = tg_reshape(tape, m->buffers[0], want, sshape);
    tg_tensor *var = tg_reshape(tape, m->buffers[1], want, sshape);
    tg_tensor *xhat = tg_div(tape, tg_sub(tape, x, mean),
                             tg_sqrt(tape, tg_add_scalar(tape, var, cfg->eps)));
    return tg_add(tape, tg_mul(tape, xhat, w), b);
}

static tg_module *batchnorm(tg_backend *be, tg_dtype dtype, int64_t c, double momentum,
                            double eps, int dims) {
    if (c <= 0 || !(momentum >= 0 && momentum <= 1) || !(eps > 0)) {
        tg_set_error(TG_ERR_INVALID_ARG, dims == 1 ? "tg_batchnorm1d" : "tg_batchnorm2d",
                     "need features > 0, momentum in [0,1], eps > 0");
        return NULL;
    }
    if (tg__module_check_size(dims == 1 ? "tg_batchnorm1d" : "tg_batchnorm2d", "weight", 1, &c))
        return NULL;
    unsigned mark = tg_error_mark();
    char name[96];
    snprintf(name, sizeof name, "BatchNorm%dd(%lld)", dims, (long long)c);
    batchnorm_cfg cfg = {.features = c, .dims = dims, .momentum = momentum, .eps = eps};
    tg_module *m = tg__module_new_cfg(name, batchnorm_forward, &BATCHNORM_CFG, &cfg);
    if (!m) return NULL;
    tg_tensor *w = tg_tensor_new(be, dtype, 1, &c), *var = tg_tensor_new(be, dtype, 1, &c);
    if (w) tg_fill_(w, 1.0);
    if (var) tg_fill_(var, 1.0);
    m = tg__module_add_param(m, "weight", w);
    m = tg__module_add_param(m, "bias", tg_tensor_new(be, dtype, 1, &c));
    m = tg__module_add_buffer(m, "running_mean", tg_tensor_new(be, dtype, 1, &c));
    m = tg__module_add_buffer(m, "running_var", var);
    return tg__module_done(m, mark, dims == 1 ? "tg_batchnorm1d" : "tg_batchnorm2d");
}

tg_module *tg_batchnorm1d(tg_backend *be, tg_dtype dtype, int64_t features, double momentum,
                          double eps) {
    return batchnorm(be, dtype, features, momentum, eps, 1);
}

tg_module *tg_batchnorm2d(tg_backend *be, tg_dtype dtype, int64_t channels, double momentum,
                          double eps) {
    return batchnorm(be, dtype, channels, momentum, eps, 2);
}

// ---- LayerNorm over the last axis ----

typedef struct {
    int64_t features;   // the last axis
    double eps;         // added to the variance
} layernorm_cfg;
static const tg__module_cfg_type LAYERNORM_CFG = {"layernorm_cfg", sizeof(layernorm_cfg)};
static const layernorm_cfg *layernorm_of(const tg_module *m) {
    return tg__module_cfg(m, &LAYERNORM_CFG);
}

static tg_tensor *layernorm_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const layernorm_cfg *c = layernorm_of(m);
    if (!x) return NULL;
    if (tg_ndim(x) < 1 || tg_shape(x)[tg_ndim(x) - 1] != c->features) {
        tg_set_error(TG_ERR_SHAPE, m->name, "input's last axis must be %lld",
                     (long long)c->features);
        return NULL;
    }
    return tg_layer_norm(tape, x, m->params[0], m->params[1], c->eps);   // one fused op
}

tg_module *tg_layernorm(tg_backend *be, tg_dtype dtype, int64_t features, double eps) {
    if (features <= 0 || !(eps > 0)) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_layernorm", "need features > 0 and eps > 0");
        return NULL;
    }
    if (tg__module_check_size("tg_layernorm", "weight", 1, &features)) return NULL;
    unsigned mark = tg_error_mark();
    char name[96];
    snprintf(name, sizeof name, "LayerNorm(%lld)", (long long)features);
    layernorm_cfg cfg = {.features = features, .eps = eps};
    tg_module *m = tg__module_new_cfg(name, layernorm_forward, &LAYERNORM_CFG, &cfg);
    if (!m) return NULL;
    tg_tensor *w = tg_tensor_new(be, dtype, 1, &features);
    if (w) tg_fill_(w, 1.0);
    m = tg__module_add_param(m, "weight", w);
    m = tg__module_add_param(m, "bias", tg_tensor_new(be, dtype, 1, &features));
    return tg__module_done(m, mark, "tg_layernorm");
}

// ---- Embedding: y[..., :] = weight[index[...], :] ----

typedef struct {
    int64_t num, dim;   // weight [num, dim]
} embedding_cfg;
static const tg__module_cfg_type EMBEDDING_CFG = {"embedding_cfg", sizeof(embedding_cfg)};
static const embedding_cfg *embedding_of(const tg_module *m) {
    return tg__module_cfg(m, &EMBEDDING_CFG);
}

static tg_tensor *embedding_forward(tg_module *m, tg_tape *tape, tg_tensor *idx) {
    if (!idx) return NULL;
    int nd = tg_ndim(idx);
    if (nd >= 8) {
        tg_set_error(TG_ERR_SHAPE, m->name, "index has too many dims (%d)", nd);
        return NULL;
    }
    int64_t shape[8];
    for (int i = 0; i < nd; i++) shape[i] = tg_shape(idx)[i];
    shape[nd] = embedding_of(m)->dim;
    // An index out of range is found by the gather kernel; tg_module_forward names the layer.
    tg_tensor *flat = tg_reshape(tape, idx, 1, (int64_t[]){-1});
    return tg_reshape(tape, tg_index_select(tape, m->params[0], 0, flat), nd + 1, shape);
}

tg_module *tg_embedding(tg_backend *be, tg_dtype dtype, int64_t num, int64_t dim, tg_rng *rng) {
    if (num <= 0 || dim <= 0 || !rng) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_embedding", "need num > 0, dim > 0 and an rng");
        return NULL;
    }
    if (tg__module_check_size("tg_embedding", "weight", 2, (int64_t[]){num, dim})) return NULL;
    unsigned mark = tg_error_mark();
    char name[96];
    snprintf(name, sizeof name, "Embedding(%lld, %lld)", (long long)num, (long long)dim);
    embedding_cfg cfg = {.num = num, .dim = dim};
    tg_module *m = tg__module_new_cfg(name, embedding_forward, &EMBEDDING_CFG, &cfg);
    if (!m) return NULL;
    tg_tensor *w = tg_tensor_new(be, dtype, 2, (int64_t[]){num, dim});
    if (w && tg_normal_(w, rng, 0.0, 1.0)) w = (tg_free(w), NULL);
    return tg__module_done(tg__module_add_param(m, "weight", w), mark, "tg_embedding");
}

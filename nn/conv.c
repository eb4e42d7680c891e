// Convolution and pooling layers, and the weight initialisers and penalties.
#include <math.h>
#include <stdio.h>

#include "nn/module_impl.h"

// x must be [N, C, H, W] with C = channels (any C when channels is 0); the error names the
// layer, as tg_module_forward promises.
static bool check_nchw(const tg_module *m, const tg_tensor *x, int64_t channels) {
    if (tg_ndim(x) == 4 && (channels == 0 || tg_shape(x)[1] == channels)) return true;
    char s[96] = "";
    for (int i = 0, n = 0; i < tg_ndim(x) && n < 80; i++)
        n += snprintf(s + n, sizeof s - (size_t)n, i ? ",%lld" : "%lld",
                      (long long)tg_shape(x)[i]);
    if (channels)
        tg_set_error(TG_ERR_SHAPE, m->name, "need input [N,%lld,H,W], got [%s]",
                     (long long)channels, s);
    else
        tg_set_error(TG_ERR_SHAPE, m->name, "need input [N,C,H,W], got [%s]", s);
    return false;
}

// ---- Conv2d: y = conv2d(x, weight [out_ch, in_ch, kh, kw]) + bias [out_ch] ----

typedef struct {
    int64_t in_ch, out_ch;
    int kh, kw;          // the kernel
    bool bias;           // params[1] is the bias
    tg_conv_opts opts;   // a copy of the caller's (zeros when none: the defaults)
} conv2d_cfg;
static const tg__module_cfg_type CONV2D_CFG = {"conv2d_cfg", sizeof(conv2d_cfg)};
static const conv2d_cfg *conv2d_of(const tg_module *m) { return tg__module_cfg(m, &CONV2D_CFG); }

static tg_tensor *conv_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const conv2d_cfg *c = conv2d_of(m);
    if (x && !check_nchw(m, x, c->in_ch)) return NULL;
    return tg_conv2d(tape, x, m->params[0], c->bias ? m->params[1] : NULL, &c->opts);
}

// Strides, paddings and dilations are >= 0 (0: the default); a pool's padding is at most
// half its window (PyTorch's rule). Else the error, named fn.
static bool opts_ok(const char *fn, int kh, int kw, const tg_conv_opts *o, bool pool) {
    for (int i = 0; o && i < 2; i++) {
        int k = i ? kw : kh;
        if (o->stride[i] < 0 || o->padding[i] < 0 || o->dilation[i] < 0) {
            tg_set_error(TG_ERR_INVALID_ARG, fn, "stride %d, padding %d, dilation %d (axis %d): "
                         "none may be negative", o->stride[i], o->padding[i], o->dilation[i], i);
            return false;
        }
        if (pool && o->padding[i] > k / 2) {
            tg_set_error(TG_ERR_INVALID_ARG, fn, "padding %d (axis %d) is more than half the "
                         "%dx%d window", o->padding[i], i, kh, kw);
            return false;
        }
    }
    return true;
}

tg_module *tg_conv2d_layer(tg_backend *be, tg_dtype dtype, int64_t in_ch, int64_t out_ch, int kh,
                           int kw, const tg_conv_opts *opts, bool bias, tg_rng *rng) {
    if (in_ch <= 0 || out_ch <= 0 || kh <= 0 || kw <= 0 || !rng) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_conv2d_layer",
                     "need positive channels and kernel sizes and an rng");
        return NULL;
    }
    if (!opts_ok("tg_conv2d_layer", kh, kw, opts, false)) return NULL;
    unsigned mark = tg_error_mark();
    if (tg__module_check_size("tg_conv2d_layer", "weight", 4,
                              (int64_t[]){out_ch, in_ch, kh, kw}))
        return NULL;
    char name[96];
    snprintf(name, sizeof name, "Conv2d(%lld, %lld, %dx%d)", (long long)in_ch, (long long)out_ch,
             kh, kw);
    conv2d_cfg cfg = {.in_ch = in_ch, .out_ch = out_ch, .kh = kh, .kw = kw, .bias = bias};
    if (opts) cfg.opts = *opts;
    tg_module *m = tg__module_new_cfg(name, conv_forward, &CONV2D_CFG, &cfg);
    if (!m) return NULL;
    double bound = 1.0 / sqrt((double)in_ch * kh * kw);   // fan_in
    tg_tensor *w = tg_tensor_new(be, dtype, 4, (int64_t[]){out_ch, in_ch, kh, kw});
    if (w && tg_uniform_(w, rng, -bound, bound)) w = (tg_free(w), NULL);
    m = tg__module_add_param(m, "weight", w);
    if (m && bias) {
        tg_tensor *b = tg_tensor_new(be, dtype, 1, &out_ch);
        if (b && tg_uniform_(b, rng, -bound, bound)) b = (tg_free(b), NULL);
        m = tg__module_add_param(m, "bias", b);
    }
    return tg__module_done(m, mark, "tg_conv2d_layer");
}

// ---- MaxPool2d, AvgPool2d over kh x kw windows ----

typedef struct {
    int kh, kw;          // the window
    tg_conv_opts opts;   // a copy of the caller's (zeros when none: stride = window)
} pool2d_cfg;
static const tg__module_cfg_type POOL2D_CFG = {"pool2d_cfg", sizeof(pool2d_cfg)};
static const pool2d_cfg *pool2d_of(const tg_module *m) { return tg__module_cfg(m, &POOL2D_CFG); }

static tg_tensor *maxpool_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const pool2d_cfg *c = pool2d_of(m);
    if (x && !check_nchw(m, x, 0)) return NULL;
    return tg_max_pool2d(tape, x, c->kh, c->kw, &c->opts);
}

static tg_tensor *avgpool_forward(tg_module *m, tg_tape *tape, tg_tensor *x) {
    const pool2d_cfg *c = pool2d_of(m);
    if (x && !check_nchw(m, x, 0)) return NULL;
    return tg_avg_pool2d(tape, x, c->kh, c->kw, &c->opts);
}

static tg_module *pool(const char *fn, const char *kind, tg_module_forward_fn fwd, int kh,
                       int kw, const tg_conv_opts *opts) {
    if (kh <= 0 || kw <= 0) {
        tg_set_error(TG_ERR_INVALID_ARG, fn, "kernel %dx%d must be positive", kh, kw);
        return NULL;
    }
    if (!opts_ok(fn, kh, kw, opts, true)) return NULL;
    char name[96];
    snprintf(name, sizeof name, "%s(%dx%d)", kind, kh, kw);
    pool2d_cfg cfg = {.kh = kh, .kw = kw};
    if (opts) cfg.opts = *opts;
    return tg__module_finish(tg__module_new_cfg(name, fwd, &POOL2D_CFG, &cfg));
}

tg_module *tg_maxpool2d_layer(int kh, int kw, const tg_conv_opts *opts) {
    return pool("tg_maxpool2d_layer", "MaxPool2d", maxpool_forward, kh, kw, opts);
}

tg_module *tg_avgpool2d_layer(int kh, int kw, const tg_conv_opts *opts) {
    return pool("tg_avgpool2d_layer", "AvgPool2d", avgpool_forward, kh, kw, opts);
}

// ---- initialisation ----

// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field (PyTorch), after
// checking the arguments of initialiser fn (g: its gain or slope, named gname).
static int fans(const char *fn, tg_tensor *w, double g, const char *gname, tg_rng *rng,
                double *fan_in, double *fan_out) {
    if (!w || !rng)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL", w ? "rng" : "w");
    if (!isfinite(g)) return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s %g is not finite", gname, g);
    int nd = tg_ndim(w);   // -1 and its error for a stale w
    if (nd < 0) return tg_last_status() < 0 ? tg_last_status() : TG_ERR_STATE;
    if (nd < 2)
        return tg_set_error(TG_ERR_SHAPE, fn, "w has %d dims; need at least 2 dims (fans)", nd);
    double rf = 1;
    for (int i = 2; i < nd; i++) rf *= (double)tg_shape(w)[i];
    *fan_in = (double)tg_shape(w)[1] * rf;
    *fan_out = (double)tg_shape(w)[0] * rf;
    return TG_OK;
}

// Fills w with U(-bound, bound) (uniform) or N(0, bound^2); errors named fn.
static int init_fill(const char *fn, tg_tensor *w, tg_rng *rng, double bound, bool uniform) {
    unsigned mark = tg_error_mark();
    int st = uniform ? tg_uniform_(w, rng, -bound, bound) : tg_normal_(w, rng, 0.0, bound);
    return st ? tg_error_context(mark, fn) : TG_OK;
}

int tg_init_xavier_uniform(tg_tensor *w, double gain, tg_rng *rng) {
    const char *fn = "tg_init_xavier_uniform";
    double fi, fo;
    unsigned mark = tg_error_mark();
    if (fans(fn, w, gain, "gain", rng, &fi, &fo)) return tg_error_context(mark, fn);
    return init_fill(fn, w, rng, gain * sqrt(6.0 / (fi + fo)), true);
}

int tg_init_xavier_normal(tg_tensor *w, double gain, tg_rng *rng) {
    const char *fn = "tg_init_xavier_normal";
    double fi, fo;
    unsigned mark = tg_error_mark();
    if (fans(fn, w, gain, "gain", rng, &fi, &fo)) return tg_error_context(mark, fn);
    return init_fill(fn, w, rng, gain * sqrt(2.0 / (fi + fo)), false);
}

int tg_init_kaiming_uniform(tg_tensor *w, double a, tg_rng *rng) {
    const char *fn = "tg_init_kaiming_uniform";
    double fi, fo;
    unsigned mark = tg_error_mark();
    if (fans(fn, w, a, "a", rng, &fi, &fo)) return tg_error_context(mark, fn);
    return init_fill(fn, w, rng, sqrt(6.0 / ((1.0 + a * a) * fi)), true);
}

int tg_init_kaiming_normal(tg_tensor *w, double a, tg_rng *rng) {
    const char *fn = "tg_init_kaiming_normal";
    double fi, fo;
    unsigned mark = tg_error_mark();
    if (fans(fn, w, a, "a", rng, &fi, &fo)) return tg_error_context(mark, fn);
    return init_fill(fn, w, rng, sqrt(2.0 / ((1.0 + a * a) * fi)), false);
}

// ---- penalties ----

static tg_tensor *penalty(tg_tape *tape, int n, tg_tensor *const *params, double lambda, bool l1) {
    const char *fn = l1 ? "tg_l1_penalty" : "tg_l2_penalty";
    if (!tape || n <= 0 || !params || !isfinite(lambda)) {
        tg_set_error(TG_ERR_INVALID_ARG, fn, "need a tape, n > 0 parameters and a finite "
                     "lambda (got %s, n %d, %s, lambda %g)", tape ? "a tape" : "NULL tape", n,
                     params ? "a list" : "NULL list", lambda);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            tg_set_error(TG_ERR_INVALID_ARG, fn, "params[%d] of %d is NULL", i, n);
            return NULL;
        }
    }
    unsigned mark = tg_error_mark();
    tg_tensor *total = NULL;
    for (int i = 0; i < n; i++) {
        tg_tensor *p = params[i];
        tg_tensor *s = tg_sum(tape, l1 ? tg_abs(tape, p) : tg_mul(tape, p, p));
        total = total ? tg_add(tape, total, s) : s;
    }
    tg_tensor *y = tg_mul_scalar(tape, total, lambda);
    if (!y) tg_error_context(mark, fn);
    return y;
}

tg_tensor *tg_l2_penalty(tg_tape *tape, int n, tg_tensor *const *params, double lambda) {
    return penalty(tape, n, params, lambda, false);
}

tg_tensor *tg_l1_penalty(tg_tape *tape, int n, tg_tensor *const *params, double lambda) {
    return penalty(tape, n, params, lambda, true);
}

// Convolution and pooling. conv2d is one op per direction (conv2d, conv2d_dx, conv2d_dw):
// with stride 1 on a backend with a `conv` kernel (cpu), a direct convolution; otherwise
// im2col by blocks of images + batched gemm. Pooling: max pooling in one pass each way
// (backends with a max_pool kernel), mean pooling as im2col + mean. im2col and col2im are
// ops too, each the other's gradient. All take a window (conv_params); im2col adds the
// value of out-of-image taps, col2im the image's size.
#include <limits.h>
#include <math.h>

#include "ops/op_table.h"

typedef struct {
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;   // kernel, stride, padding, dilation (h, w)
} window;

typedef struct {
    window w;
    double pad;          // im2col: the value out-of-image taps read
    int64_t c, h, wd;    // col2im: the image's channels, height and width
} conv_params;

// The window as tg_conv_opts (the gradient rules call the public ops with it).
static tg_conv_opts opts_of(const window *w) {
    tg_conv_opts o = {{(int)w->sh, (int)w->sw}, {(int)w->ph, (int)w->pw}, {(int)w->dh, (int)w->dw}};
    return o;
}

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
    int64_t span = d * (k - 1) + 1;
    return in + 2 * p < span ? 0 : (in + 2 * p - span) / s + 1;
}

static int set_window(window *w, int kh, int kw, const tg_conv_opts *o, bool pool,
                      const char *name) {
    int st[2], pd[2], dl[2];
    for (int i = 0; i < 2; i++) {
        int k = i ? kw : kh;
        st[i] = o && o->stride[i] ? o->stride[i] : (pool ? k : 1);
        pd[i] = o ? o->padding[i] : 0;
        dl[i] = o && o->dilation[i] ? o->dilation[i] : 1;
        if (k <= 0 || st[i] <= 0 || pd[i] < 0 || dl[i] <= 0 || (pool && pd[i] > k / 2)) {
            tg__fail(TG_ERR_INVALID_ARG, name,
                     "bad window: kernel %dx%d, stride %d, padding %d, dilation %d", kh, kw,
                     st[i], pd[i], dl[i]);
            return TG_ERR_INVALID_ARG;
        }
    }
    *w = (window){kh, kw, st[0], st[1], pd[0], pd[1], dl[0], dl[1]};
    return TG_OK;
}

// Output height and width of a window over x [N,C,H,W], with set_window's defaults.
static void out_hw(const tg_tensor *x, int kh, int kw, const tg_conv_opts *o, bool pool,
                   int64_t *oh, int64_t *ow) {
    window w;
    set_window(&w, kh, kw, o, pool, "out_hw");   // already validated by the caller's im2col
    *oh = out_size(x->shape[2], w.kh, w.sh, w.ph, w.dh);
    *ow = out_size(x->shape[3], w.kw, w.sw, w.pw, w.dw);
}

static tg_im2col_desc desc_of(const window *w, tg_dtype dtype, int64_t n, int64_t c, int64_t h,
                              int64_t wd, double pad) {
    tg_im2col_desc d = {
        .dtype = (int)dtype, .n = n, .c = c, .h = h, .w = wd, .kh = w->kh, .kw = w->kw,
        .oh = out_size(h, w->kh, w->sh, w->ph, w->dh), .ow = out_size(wd, w->kw, w->sw, w->pw, w->dw),
        .stride_h = w->sh, .stride_w = w->sw, .pad_h = w->ph, .pad_w = w->pw,
        .dil_h = w->dh, .dil_w = w->dw, .pad_value = pad,
    };
    return d;
}

// x is [N,C,H,W] and the window fits it: its output height and width in *oh, *ow.
static int check_window_x(const char *name, const tg_tensor *x, const window *w, int64_t *oh,
                          int64_t *ow) {
    char s[160];
    if (x->ndim != 4) {
        tg__fail(TG_ERR_SHAPE, name, "need x [N,C,H,W], got %s",
                 tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return TG_ERR_SHAPE;
    }
    *oh = out_size(x->shape[2], w->kh, w->sh, w->ph, w->dh);
    *ow = out_size(x->shape[3], w->kw, w->sw, w->pw, w->dw);
    if (*oh <= 0 || *ow <= 0) {
        tg__fail(TG_ERR_SHAPE, name, "window %lldx%lld does not fit input %s", (long long)w->kh,
                 (long long)w->kw, tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

// ---- im2col: cols [N, C*KH*KW, OH*OW] of x [N,C,H,W]    dx = col2im(dcols) ----

static int im2col_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                        int64_t *shape) {
    (void)n;
    const tg_tensor *x = in[0];
    char s[160];
    window w = ((const conv_params *)params)->w;
    int64_t oh, ow;
    if (check_window_x("tg_im2col", x, &w, &oh, &ow)) return TG_ERR_SHAPE;
    tg_im2col_desc d = desc_of(&w, x->dtype, x->shape[0], x->shape[1], x->shape[2], x->shape[3], 0);
    *ndim = 3;
    shape[0] = d.n;
    shape[1] = tg__mul_size(d.c, tg__mul_size(d.kh, d.kw));
    shape[2] = tg__mul_size(d.oh, d.ow);
    if (shape[1] < 0 || shape[2] < 0) {
        tg__fail(TG_ERR_SHAPE, "tg_im2col", "window %lldx%lld over input %s gives too many columns",
                 (long long)w.kh, (long long)w.kw, tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

static int im2col_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const tg_tensor *x = in[0];
    const conv_params *p = params;
    tg_im2col_desc d = desc_of(&p->w, x->dtype, x->shape[0], x->shape[1], x->shape[2],
                               x->shape[3], p->pad);
    return tg__k_im2col("tg_im2col", out->be, &d, x->data, out->data);
}

static int im2col_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    const tg_tensor *x = node->in[0];
    const window *w = &((const conv_params *)tg__node_params(node))->w;
    tg_conv_opts o = opts_of(w);
    din[0] = tg_col2im(tape, dout, x->shape[1], x->shape[2], x->shape[3], (int)w->kh, (int)w->kw,
                       &o);
    return tg__rule_status(din[0]);
}

const tg_op_def tg__op_im2col = {
    .id = TG_OP_IM2COL, .name = "tg_im2col", .arity = 1,
    .infer = im2col_infer, .forward = im2col_forward, .backward = im2col_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(conv_params),
};

static tg_tensor *im2col_pad(tg_tape *tape, tg_tensor *x, int kh, int kw,
                             const tg_conv_opts *opts, bool pool, double pad, const char *name) {
    if (tg__check_inputs(tape, &tg__op_im2col, 1, &x)) return NULL;
    conv_params p = {.pad = pad};
    if (set_window(&p.w, kh, kw, opts, pool, name)) return NULL;
    return tg__apply(tape, &tg__op_im2col, 1, &x, &p);
}

tg_tensor *tg_im2col(tg_tape *tape, tg_tensor *x, int kh, int kw, const tg_conv_opts *opts) {
    return im2col_pad(tape, x, kh, kw, opts, false, 0.0, "tg_im2col");
}

// ---- col2im: x [N,C,H,W] = sum of windows in cols    dcols = im2col(dx) ----

static int col2im_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                        int64_t *shape) {
    (void)n;
    const tg_tensor *cols = in[0];
    const conv_params *p = params;
    window w = p->w;
    int64_t c = p->c, h = p->h, wd = p->wd;
    tg_im2col_desc d = desc_of(&w, cols->dtype, 0, c, h, wd, 0);
    char s[160];
    if (cols->ndim != 3 || cols->shape[1] != tg__mul_size(c, tg__mul_size(w.kh, w.kw)) ||
        cols->shape[2] != tg__mul_size(d.oh, d.ow)) {
        tg__fail(TG_ERR_SHAPE, "tg_col2im", "cols %s do not match image [N,%lld,%lld,%lld] with "
                 "a %lldx%lld window", tg__shape_str(s, sizeof s, cols->ndim, cols->shape),
                 (long long)c, (long long)h, (long long)wd, (long long)w.kh, (long long)w.kw);
        return TG_ERR_SHAPE;
    }
    *ndim = 4;
    shape[0] = cols->shape[0];
    shape[1] = c;
    shape[2] = h;
    shape[3] = wd;
    return TG_OK;
}

static int col2im_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const window *w = &((const conv_params *)params)->w;
    tg_im2col_desc d = desc_of(w, out->dtype, out->shape[0], out->shape[1], out->shape[2],
                               out->shape[3], 0);
    int st = tg__be_memset0(out->be, out->data, out->nbytes);
    return st ? st : tg__k_col2im("tg_col2im", out->be, &d, in[0]->data, out->data);
}

static int col2im_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    const window *w = &((const conv_params *)tg__node_params(node))->w;
    tg_conv_opts o = opts_of(w);
    din[0] = tg_im2col(tape, dout, (int)w->kh, (int)w->kw, &o);
    return tg__rule_status(din[0]);
}

const tg_op_def tg__op_col2im = {
    .id = TG_OP_COL2IM, .name = "tg_col2im", .arity = 1,
    .infer = col2im_infer, .forward = col2im_forward, .backward = col2im_backward,
    .unread = TG_UNREAD_ALL, .params_size = sizeof(conv_params),
};

tg_tensor *tg_col2im(tg_tape *tape, tg_tensor *cols, int64_t c, int64_t h, int64_t w, int kh,
                     int kw, const tg_conv_opts *opts) {
    if (tg__check_inputs(tape, &tg__op_col2im, 1, &cols)) return NULL;
    if (c <= 0 || h <= 0 || w <= 0) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_col2im", "bad image size %lldx%lldx%lld",
                 (long long)c, (long long)h, (long long)w);
        return NULL;
    }
    if (tg__shape_numel(3, (int64_t[]){c, h, w}) < 0) {
        tg__fail(TG_ERR_SHAPE, "tg_col2im", "image size %lldx%lldx%lld is too large",
                 (long long)c, (long long)h, (long long)w);
        return NULL;
    }
    conv_params p = {.c = c, .h = h, .wd = w};
    if (set_window(&p.w, kh, kw, opts, false, "tg_col2im")) return NULL;
    return tg__apply(tape, &tg__op_col2im, 1, &cols, &p);
}

// ---- conv2d as one op per direction, a block of images at a time ----
//   y  = conv2d(x, w[, b]):  y_n = W cols_n + b
//   dx = conv2d_dx(dy, w):   cols = W^T dy_n, x_n = col2im(cols)
//   dw = conv2d_dw(x, dy):   the sum over images of dy_n cols_n^T
// cols_n = the window matrix [C*KH*KW, OH*OW] of image n, built (im2col) for a block of
// images into scratch of about BLOCK_BYTES, used and dropped: never the whole batch's (a
// 32x16x32x32 input with 3x3 windows made 19 MB of it, written once and read back from
// memory). W is the weight as [O, C*KH*KW]. Rules (each direction's gradient is another):
//   conv2d:    dx = conv2d_dx(dy, w),  dw = conv2d_dw(x, dy),  db = sum of dy over N, OH, OW
//   conv2d_dx: d(dy) = conv2d(G, w),   dw = conv2d_dw(G, dy)
//   conv2d_dw: dx = conv2d_dx(dy, G),  d(dy) = conv2d(x, G)
// so conv2d differentiates any number of times. conv_params' c, h, wd: conv2d_dx's image.
enum { BLOCK_BYTES = 256 * 1024 };

typedef struct conv_geom {
    int64_t n, c, h, w, o, ckk, p, oh, ow;   // batch, image, outputs, window rows, positions
    int64_t nb;                              // images per block
    size_t es;                               // element size
} conv_geom;

static conv_geom geom_of(const window *w, tg_dtype dt, int64_t n, int64_t c, int64_t h,
                         int64_t wd, int64_t o) {
    // Sizes through tg__mul_size: -1 when too large (conv_infer refuses those shapes).
    conv_geom g = {.n = n, .c = c, .h = h, .w = wd, .o = o,
                   .ckk = tg__mul_size(c, tg__mul_size(w->kh, w->kw)),
                   .oh = out_size(h, w->kh, w->sh, w->ph, w->dh),
                   .ow = out_size(wd, w->kw, w->sw, w->pw, w->dw), .es = tg_dtype_size(dt)};
    g.p = tg__mul_size(g.oh, g.ow);
    int64_t per = tg__mul_size(tg__mul_size(g.ckk, g.p), (int64_t)g.es);
    g.nb = per > 0 ? (int64_t)(BLOCK_BYTES / per) : n;
    g.nb = g.nb < 1 ? 1 : g.nb > n ? n : g.nb;
    return g;
}

// The block's window matrices [CKK, P] of images i0..i0+nb (x [N, C, H, W]), k >= CKK
// rows apart in cols (the rows between are left as they are).
static int block_cols(const char *name, tg_backend *be, const window *w, tg_dtype dt,
                      const conv_geom *g, const char *x, int64_t i0, int64_t nb, int64_t k,
                      void *cols) {
    tg_im2col_desc d = desc_of(w, dt, nb, g->c, g->h, g->w, 0);
    d.cols_bs = k * g->p;
    return tg__k_im2col(name, be, &d, x + (size_t)(i0 * g->c * g->h * g->w) * g->es, cols);
}

// Stride 1 on a backend with a direct convolution kernel: no window matrix at all. The
// kernel's vector lanes hold runs of an image's outputs (16 floats with AVX-512), by rows
// or flat over the padded image, whichever wastes fewer lanes (a 7 x 7 image fills 49 of
// 64 flat: conv2d-32x64x7x7-64k3 forward 1.65 -> 1.24 ms, backward 4.3 -> 2.5 ms; Zen 5,
// 1 thread). The gradients of images of fewer than DIRECT_MIN_PLANE values still go through
// the window matrix and the gemm, whose lanes such images fill better.
enum { DIRECT_MIN_PLANE = 32 };
static bool direct_ok(tg_backend *be, const window *w) {
    return w->sh == 1 && w->sw == 1 && tg__has_conv(be);
}

// The direct kernel's description of conv2d over x [N,C,H,W] (g) with this window.
static tg_conv_desc direct_desc(int mode, tg_dtype dt, const conv_geom *g, const window *w) {
    tg_conv_desc d = {.dtype = (int)dt, .mode = mode, .n = g->n, .ci = g->c, .h = g->h,
                      .w = g->w, .co = g->o, .oh = g->oh, .ow = g->ow, .kh = w->kh, .kw = w->kw,
                      .ph = w->ph, .pw = w->pw, .dh = w->dh, .dw = w->dw};
    return d;
}

// x [N,C,H,W], weight [O,C,KH,KW] and bias [O] (or NULL) agree.
static int check_conv_shapes(const tg_tensor *x, const tg_tensor *wt, const tg_tensor *b) {
    if (x->ndim == 4 && wt->ndim == 4 && wt->shape[1] == x->shape[1] &&
        (!b || (b->ndim == 1 && b->shape[0] == wt->shape[0])))
        return TG_OK;
    char s1[160], s2[160];
    tg__fail(TG_ERR_SHAPE, "tg_conv2d", "need x [N,C,H,W], weight [O,C,KH,KW], bias [O]: "
             "got %s and %s", tg__shape_str(s1, sizeof s1, x->ndim, x->shape),
             tg__shape_str(s2, sizeof s2, wt->ndim, wt->shape));
    return TG_ERR_SHAPE;
}

static int conv_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                      int64_t *shape) {
    const tg_tensor *x = in[0], *wt = in[1], *b = n > 2 ? in[2] : NULL;
    const window *w = &((const conv_params *)params)->w;
    char s1[160];
    int64_t oh, ow;
    if (check_conv_shapes(x, wt, b) || check_window_x("tg_conv2d", x, w, &oh, &ow))
        return TG_ERR_SHAPE;
    if (wt->shape[2] != w->kh || wt->shape[3] != w->kw) {   // the rules keep them in step
        tg__fail(TG_ERR_SHAPE, "tg_conv2d", "weight %s does not match the %lldx%lld window",
                 tg__shape_str(s1, sizeof s1, wt->ndim, wt->shape), (long long)w->kh,
                 (long long)w->kw);
        return TG_ERR_SHAPE;
    }
    conv_geom g = geom_of(w, x->dtype, x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                          wt->shape[0]);
    if (g.ckk < 0 || g.p < 0 || tg__mul_size(tg__add_size(g.ckk, 1), g.p) < 0 ||
        tg__shape_numel(4, (int64_t[]){g.n, g.o, g.oh, g.ow}) < 0) {
        tg__fail(TG_ERR_SHAPE, "tg_conv2d", "window %lldx%lld over input %s gives too many "
                 "values", (long long)w->kh, (long long)w->kw,
                 tg__shape_str(s1, sizeof s1, x->ndim, x->shape));
        return TG_ERR_SHAPE;
    }
    *ndim = 4;
    shape[0] = g.n, shape[1] = g.o, shape[2] = g.oh, shape[3] = g.ow;
    return TG_OK;
}

// With a bias the product gains a row: W' = [W | b] [O, CKK+1] and a row of ones under each
// image's window matrix, so that the gemm writes y = W cols + b in its one pass (a separate
// broadcast add was a third of conv2d-64x1x28x28-32k5's forward).
static int conv_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    const char *name = "tg_conv2d";
    const tg_tensor *x = in[0], *wt = in[1], *b = n > 2 ? in[2] : NULL;
    const window *w = &((const conv_params *)params)->w;
    conv_geom g = geom_of(w, x->dtype, x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                          wt->shape[0]);
    if (out->numel == 0) return TG_OK;
    if (direct_ok(out->be, w)) {
        tg_conv_desc d = direct_desc(TG_CONV_FORWARD, out->dtype, &g, w);
        d.x = x->data, d.wt = wt->data, d.b = b ? b->data : NULL, d.y = out->data;
        return tg__k_conv(name, out->be, &d);
    }
    int64_t k = g.ckk + (b ? 1 : 0);   // rows of each image's window matrix in the product
    if (k == 0) return tg__be_memset0(out->be, out->data, out->nbytes);
    size_t cols_bytes = (size_t)(g.nb * k * g.p) * g.es, bytes = cols_bytes;
    if (b) bytes += (size_t)(g.o * k) * g.es;
    char *cols = tg__buf_alloc(out->be, bytes, name), *wa = cols + cols_bytes;
    if (!cols) return tg_last_status();
    int st = TG_OK;
    if (b) {   // W' = [W | b]; the ones rows are set once for the whole block
        tg_view src = {.data = wt->data, .dtype = (int)wt->dtype, .ndim = 2,
                       .shape = {g.o, g.ckk}, .stride = {g.ckk, 1}};
        tg_view dst = {.data = wa, .dtype = (int)wt->dtype, .ndim = 2, .shape = {g.o, g.ckk},
                       .stride = {k, 1}};
        st = g.ckk ? tg__k_unary_view(name, out->be, TG_UNARY_COPY, &src, &dst, 0, 0) : TG_OK;
        tg_view bs = {.data = b->data, .dtype = (int)b->dtype, .ndim = 1, .shape = {g.o},
                      .stride = {1}};
        tg_view bd = {.data = wa + (size_t)g.ckk * g.es, .dtype = (int)b->dtype, .ndim = 1,
                      .shape = {g.o}, .stride = {k}};
        if (!st) st = tg__k_unary_view(name, out->be, TG_UNARY_COPY, &bs, &bd, 0, 0);
        for (int64_t i = 0; !st && i < g.nb; i++) {
            tg_view ones = {.data = cols + (size_t)((i * k + g.ckk) * g.p) * g.es,
                            .dtype = (int)out->dtype, .ndim = 1, .shape = {g.p}, .stride = {1}};
            st = tg__k_fill(name, out->be, &ones, 1.0);
        }
    }
    for (int64_t i0 = 0; !st && i0 < g.n; i0 += g.nb) {
        int64_t nb = g.n - i0 < g.nb ? g.n - i0 : g.nb;
        if (!st) st = block_cols(name, out->be, w, x->dtype, &g, x->data, i0, nb, k, cols);
        tg_gemm_desc d = {
            .dtype = (int)out->dtype, .m = g.o, .n = g.p, .k = k, .batch = nb,
            .alpha = 1.0, .beta = 0.0,
            .a = b ? (const void *)wa : wt->data, .a_rs = k, .a_cs = 1, .a_bs = 0,
            .b = cols, .b_rs = g.p, .b_cs = 1, .b_bs = k * g.p,
            .c = (char *)out->data + (size_t)(i0 * g.o * g.p) * g.es, .c_rs = g.p, .c_cs = 1,
            .c_bs = g.o * g.p,
        };
        if (!st) st = tg__k_gemm(name, out->be, &d);
    }
    tg__buf_release(out->be, cols, bytes);
    return st;
}

static tg_tensor *conv2d_dx(tg_tape *tape, tg_tensor *dy, tg_tensor *w, const tg_tensor *x,
                            const window *win);
static tg_tensor *conv2d_dw(tg_tape *tape, tg_tensor *x, tg_tensor *dy, const window *win);
static tg_tensor *conv_apply(tg_tape *tape, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                             const window *win);

static int conv_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    const window *w = &((const conv_params *)tg__node_params(node))->w;
    tg_tensor *x = node->in[0], *wt = node->in[1];
    if (tg__needs_grad(node, 0) && !(din[0] = conv2d_dx(tape, dout, wt, x, w)))
        return tg_last_status();
    if (tg__needs_grad(node, 1) && !(din[1] = conv2d_dw(tape, x, dout, w)))
        return tg_last_status();
    if (node->n_in > 2 && tg__needs_grad(node, 2) &&
        !(din[2] = tg_sum_axes(tape, dout, 3, (int[]){0, 2, 3}, false)))
        return tg_last_status();
    return TG_OK;
}

const tg_op_def tg__op_conv2d = {
    .id = TG_OP_CONV2D, .name = "tg_conv2d", .arity = -1,
    .infer = conv_infer, .forward = conv_forward, .backward = conv_backward,
    .unread = TG_UNREAD_IN(2) | TG_UNREAD_OUT, .params_size = sizeof(conv_params),
};

// ---- conv2d_dx: inputs dy [N,O,OH,OW], w [O,C,KH,KW]; output [N,C,H,W] (params' image) ----

static int dx_infer(tg_tensor *const *in, int n, const void *params, int *ndim, int64_t *shape) {
    (void)n;
    const conv_params *p = params;
    const tg_tensor *dy = in[0], *wt = in[1];
    conv_geom g = geom_of(&p->w, dy->dtype, dy->ndim ? dy->shape[0] : 0, p->c, p->h, p->wd,
                          wt->ndim ? wt->shape[0] : 0);
    if (dy->ndim != 4 || wt->ndim != 4 || wt->shape[1] != p->c || wt->shape[2] != p->w.kh ||
        wt->shape[3] != p->w.kw || dy->shape[1] != wt->shape[0] || dy->shape[2] != g.oh ||
        dy->shape[3] != g.ow) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, "tg_conv2d_dx", "dy %s and weight %s do not match an image "
                 "[N,%lld,%lld,%lld]", tg__shape_str(s1, sizeof s1, dy->ndim, dy->shape),
                 tg__shape_str(s2, sizeof s2, wt->ndim, wt->shape), (long long)p->c,
                 (long long)p->h, (long long)p->wd);
        return TG_ERR_SHAPE;
    }
    *ndim = 4;
    shape[0] = dy->shape[0], shape[1] = p->c, shape[2] = p->h, shape[3] = p->wd;
    return TG_OK;
}

static int dx_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const char *name = "tg_conv2d_dx";
    const conv_params *p = params;
    const tg_tensor *dy = in[0], *wt = in[1];
    conv_geom g = geom_of(&p->w, out->dtype, out->shape[0], p->c, p->h, p->wd, wt->shape[0]);
    // x = conv(dy, the flipped w^T); its rows are the image's
    if (out->numel && g.p && g.h * g.w >= DIRECT_MIN_PLANE && direct_ok(out->be, &p->w)) {
        conv_geom gd = g;
        gd.c = g.o, gd.h = g.oh, gd.w = g.ow, gd.o = g.c, gd.oh = g.h, gd.ow = g.w;
        window wd = p->w;
        wd.ph = p->w.dh * (p->w.kh - 1) - p->w.ph, wd.pw = p->w.dw * (p->w.kw - 1) - p->w.pw;
        tg_conv_desc d = direct_desc(TG_CONV_DX, out->dtype, &gd, &wd);
        d.x = dy->data, d.wt = wt->data, d.y = out->data;
        return tg__k_conv(name, out->be, &d);
    }
    int st = tg__be_memset0(out->be, out->data, out->nbytes);
    if (st || out->numel == 0 || g.p == 0) return st;
    size_t bytes = (size_t)(g.nb * g.ckk * g.p) * g.es;
    void *cols = tg__buf_alloc(out->be, bytes, name);
    if (!cols) return tg_last_status();
    for (int64_t i0 = 0; !st && i0 < g.n; i0 += g.nb) {
        int64_t nb = g.n - i0 < g.nb ? g.n - i0 : g.nb;
        tg_gemm_desc d = {   // cols_n = W^T dy_n
            .dtype = (int)out->dtype, .m = g.ckk, .n = g.p, .k = g.o, .batch = nb,
            .alpha = 1.0, .beta = 0.0,
            .a = wt->data, .a_rs = 1, .a_cs = g.ckk, .a_bs = 0,
            .b = (const char *)dy->data + (size_t)(i0 * g.o * g.p) * g.es, .b_rs = g.p,
            .b_cs = 1, .b_bs = g.o * g.p,
            .c = cols, .c_rs = g.p, .c_cs = 1, .c_bs = g.ckk * g.p,
        };
        if (g.o == 0) st = tg__be_memset0(out->be, cols, bytes);
        else st = tg__k_gemm(name, out->be, &d);
        tg_im2col_desc c2 = desc_of(&p->w, out->dtype, nb, g.c, g.h, g.w, 0);
        if (!st)
            st = tg__k_col2im(name, out->be, &c2, cols,
                              (char *)out->data + (size_t)(i0 * g.c * g.h * g.w) * g.es);
    }
    tg__buf_release(out->be, cols, bytes);
    return st;
}

static int dx_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    const window *w = &((const conv_params *)tg__node_params(node))->w;
    tg_tensor *dy = node->in[0], *wt = node->in[1];
    if (tg__needs_grad(node, 0) && !(din[0] = conv_apply(tape, dout, wt, NULL, w)))
        return tg_last_status();
    if (tg__needs_grad(node, 1) && !(din[1] = conv2d_dw(tape, dout, dy, w)))
        return tg_last_status();
    return TG_OK;
}

const tg_op_def tg__op_conv2d_dx = {
    .id = TG_OP_CONV2D_DX, .name = "tg_conv2d_dx", .arity = 2,
    .infer = dx_infer, .forward = dx_forward, .backward = dx_backward,
    .unread = TG_UNREAD_OUT, .params_size = sizeof(conv_params),
};

// ---- conv2d_dw: inputs x [N,C,H,W], dy [N,O,OH,OW]; output [O,C,KH,KW] ----

static int dw_infer(tg_tensor *const *in, int n, const void *params, int *ndim, int64_t *shape) {
    (void)n;
    const window *w = &((const conv_params *)params)->w;
    const tg_tensor *x = in[0], *dy = in[1];
    bool ok = x->ndim == 4 && dy->ndim == 4 && dy->shape[0] == x->shape[0];
    conv_geom g = ok ? geom_of(w, x->dtype, x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                               dy->shape[1])
                     : (conv_geom){0};
    if (!ok || dy->shape[2] != g.oh || dy->shape[3] != g.ow || g.oh <= 0 || g.ow <= 0) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, "tg_conv2d_dw", "x %s and dy %s do not match a %lldx%lld window",
                 tg__shape_str(s1, sizeof s1, x->ndim, x->shape),
                 tg__shape_str(s2, sizeof s2, dy->ndim, dy->shape), (long long)w->kh,
                 (long long)w->kw);
        return TG_ERR_SHAPE;
    }
    *ndim = 4;
    shape[0] = g.o, shape[1] = g.c, shape[2] = w->kh, shape[3] = w->kw;
    return TG_OK;
}

static int dw_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    const char *name = "tg_conv2d_dw";
    const window *w = &((const conv_params *)params)->w;
    const tg_tensor *x = in[0], *dy = in[1];
    conv_geom g = geom_of(w, x->dtype, x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                          dy->shape[1]);
    if (g.n == 0 || out->numel == 0 || g.p == 0)
        return tg__be_memset0(out->be, out->data, out->nbytes);
    if (g.p >= DIRECT_MIN_PLANE && direct_ok(out->be, w)) {
        tg_conv_desc d = direct_desc(TG_CONV_DW, out->dtype, &g, w);
        d.x = x->data, d.dy = dy->data, d.y = out->data;
        return tg__k_conv(name, out->be, &d);
    }
    size_t bytes = (size_t)(g.nb * g.ckk * g.p) * g.es;
    void *cols = tg__buf_alloc(out->be, bytes, name);
    if (!cols) return tg_last_status();
    int st = TG_OK;
    for (int64_t i0 = 0; !st && i0 < g.n; i0 += g.nb) {
        int64_t nb = g.n - i0 < g.nb ? g.n - i0 : g.nb;
        st = block_cols(name, out->be, w, x->dtype, &g, x->data, i0, nb, g.ckk, cols);
        for (int64_t k = 0; !st && k < nb; k++) {   // dW (+)= dy_n cols_n^T
            tg_gemm_desc d = {
                .dtype = (int)out->dtype, .m = g.o, .n = g.ckk, .k = g.p, .batch = 1,
                .alpha = 1.0, .beta = i0 + k ? 1.0 : 0.0,
                .a = (const char *)dy->data + (size_t)((i0 + k) * g.o * g.p) * g.es,
                .a_rs = g.p, .a_cs = 1,
                .b = (const char *)cols + (size_t)(k * g.ckk * g.p) * g.es, .b_rs = 1,
                .b_cs = g.p,
                .c = out->data, .c_rs = g.ckk, .c_cs = 1,
            };
            st = tg__k_gemm(name, out->be, &d);
        }
    }
    tg__buf_release(out->be, cols, bytes);
    return st;
}

static int dw_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    const window *w = &((const conv_params *)tg__node_params(node))->w;
    tg_tensor *x = node->in[0], *dy = node->in[1];
    if (tg__needs_grad(node, 0) && !(din[0] = conv2d_dx(tape, dy, dout, x, w)))
        return tg_last_status();
    if (tg__needs_grad(node, 1) && !(din[1] = conv_apply(tape, x, dout, NULL, w)))
        return tg_last_status();
    return TG_OK;
}

const tg_op_def tg__op_conv2d_dw = {
    .id = TG_OP_CONV2D_DW, .name = "tg_conv2d_dw", .arity = 2,
    .infer = dw_infer, .forward = dw_forward, .backward = dw_backward,
    .unread = TG_UNREAD_OUT, .params_size = sizeof(conv_params),
};

static tg_tensor *conv2d_dx(tg_tape *tape, tg_tensor *dy, tg_tensor *w, const tg_tensor *x,
                            const window *win) {
    conv_params p = {.w = *win, .c = x->shape[1], .h = x->shape[2], .wd = x->shape[3]};
    tg_tensor *in[2] = {dy, w};
    return tg__apply(tape, &tg__op_conv2d_dx, 2, in, &p);
}

static tg_tensor *conv2d_dw(tg_tape *tape, tg_tensor *x, tg_tensor *dy, const window *win) {
    conv_params p = {.w = *win};
    tg_tensor *in[2] = {x, dy};
    return tg__apply(tape, &tg__op_conv2d_dw, 2, in, &p);
}

static tg_tensor *conv_apply(tg_tape *tape, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                             const window *win) {
    conv_params p = {.w = *win};
    tg_tensor *in[3] = {x, w, b};
    return tg__apply(tape, &tg__op_conv2d, b ? 3 : 2, in, &p);
}

tg_tensor *tg_conv2d(tg_tape *tape, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                     const tg_conv_opts *opts) {
    char s2[160];
    tg_tensor *in[3] = {x, weight, bias};
    if (tg__check_inputs(tape, &tg__op_conv2d, bias ? 3 : 2, in)) return NULL;
    if (check_conv_shapes(x, weight, bias)) return NULL;   // before reading the kernel size
    if (weight->shape[2] > INT_MAX || weight->shape[3] > INT_MAX) {
        tg__fail(TG_ERR_SHAPE, "tg_conv2d", "kernel of weight %s is larger than %d",
                 tg__shape_str(s2, sizeof s2, weight->ndim, weight->shape), INT_MAX);
        return NULL;
    }
    window w;
    if (set_window(&w, (int)weight->shape[2], (int)weight->shape[3], opts, false, "tg_conv2d"))
        return NULL;
    return conv_apply(tape, x, weight, bias, &w);
}

// ---- max_pool2d in one pass each way (backends with a max_pool kernel) ----
//   tg_max_pool2d(x) = select(x, x): the values of v at the winners of x's windows
//   select's rule:  dv = route(x, dy)   (x only chooses: no gradient)
//   route's rule:   ddy = select(x, g)
// so the pair differentiates any number of times. The op named tg_max_pool2d is select
// (inputs x, v); tg_max_pool2d_grad is route (inputs x, dy).

static int select_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                        int64_t *shape) {
    (void)n;
    const window *w = &((const conv_params *)params)->w;
    int64_t oh, ow;
    if (check_window_x("tg_max_pool2d", in[0], w, &oh, &ow)) return TG_ERR_SHAPE;
    if (!tg__same_shape(in[0], in[1])) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, "tg_max_pool2d", "values %s must have x's shape %s",
                 tg__shape_str(s1, sizeof s1, in[1]->ndim, in[1]->shape),
                 tg__shape_str(s2, sizeof s2, in[0]->ndim, in[0]->shape));
        return TG_ERR_SHAPE;
    }
    *ndim = 4;
    shape[0] = in[0]->shape[0], shape[1] = in[0]->shape[1], shape[2] = oh, shape[3] = ow;
    return TG_OK;
}

static tg_im2col_desc pool_desc(const tg_tensor *x, const window *w) {
    return desc_of(w, x->dtype, x->shape[0], x->shape[1], x->shape[2], x->shape[3], 0);
}

static int select_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    tg_im2col_desc d = pool_desc(in[0], &((const conv_params *)params)->w);
    return tg__k_max_pool("tg_max_pool2d", out->be, &d, 0, in[0]->data, in[1]->data,
                          out->data);
}

static int select_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout,
                           tg_tensor **din) {
    const window *w = &((const conv_params *)tg__node_params(node))->w;
    tg_conv_opts o = opts_of(w);
    din[1] = tg_max_pool2d_grad(tape, node->in[0], dout, (int)w->kh, (int)w->kw, &o);
    return tg__rule_status(din[1]);
}

const tg_op_def tg__op_max_pool2d = {
    .id = TG_OP_MAX_POOL2D, .name = "tg_max_pool2d", .arity = 2,
    .infer = select_infer, .forward = select_forward, .backward = select_backward,
    .unread = TG_UNREAD_IN(1) | TG_UNREAD_OUT, .params_size = sizeof(conv_params),
};

static int route_infer(tg_tensor *const *in, int n, const void *params, int *ndim,
                       int64_t *shape) {
    (void)n;
    const window *w = &((const conv_params *)params)->w;
    int64_t oh, ow;
    if (check_window_x("tg_max_pool2d_grad", in[0], w, &oh, &ow)) return TG_ERR_SHAPE;
    const tg_tensor *x = in[0], *dy = in[1];
    if (dy->ndim != 4 || dy->shape[0] != x->shape[0] || dy->shape[1] != x->shape[1] ||
        dy->shape[2] != oh || dy->shape[3] != ow) {
        char s1[160], s2[160];
        tg__fail(TG_ERR_SHAPE, "tg_max_pool2d_grad", "dy %s must be [%lld,%lld,%lld,%lld], "
                 "the pooled shape of x %s", tg__shape_str(s1, sizeof s1, dy->ndim, dy->shape),
                 (long long)x->shape[0], (long long)x->shape[1], (long long)oh, (long long)ow,
                 tg__shape_str(s2, sizeof s2, x->ndim, x->shape));
        return TG_ERR_SHAPE;
    }
    return tg__infer_same(in, 1, params, ndim, shape);
}

static int route_forward(tg_tensor *const *in, int n, const void *params, tg_tensor *out) {
    (void)n;
    tg_im2col_desc d = pool_desc(in[0], &((const conv_params *)params)->w);
    return tg__k_max_pool("tg_max_pool2d_grad", out->be, &d, 2, in[0]->data, in[1]->data,
                          out->data);   // route 2: out written, zeros and all
}

static tg_tensor *pool_select(tg_tape *tape, tg_tensor *x, tg_tensor *v, const window *w) {
    conv_params p = {.w = *w};
    tg_tensor *in[2] = {x, v};
    return tg__apply(tape, &tg__op_max_pool2d, 2, in, &p);
}

static int route_backward(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din) {
    const window *w = &((const conv_params *)tg__node_params(node))->w;
    din[1] = pool_select(tape, node->in[0], dout, w);
    return tg__rule_status(din[1]);
}

const tg_op_def tg__op_max_pool2d_grad = {
    .id = TG_OP_MAX_POOL2D_GRAD, .name = "tg_max_pool2d_grad", .arity = 2,
    .infer = route_infer, .forward = route_forward, .backward = route_backward,
    .unread = TG_UNREAD_IN(1) | TG_UNREAD_OUT, .params_size = sizeof(conv_params),
};

tg_tensor *tg_max_pool2d_grad(tg_tape *tape, tg_tensor *x, tg_tensor *dy, int kh, int kw,
                              const tg_conv_opts *opts) {
    tg_tensor *in[2] = {x, dy};
    if (tg__check_inputs(tape, &tg__op_max_pool2d_grad, 2, in)) return NULL;
    conv_params p = {.pad = 0};
    if (set_window(&p.w, kh, kw, opts, true, "tg_max_pool2d_grad")) return NULL;
    if (!tg__has_max_pool(x->be)) {
        tg__fail(TG_ERR_UNSUPPORTED, "tg_max_pool2d_grad",
                 "not supported on backend %s (no max_pool kernel)", tg_backend_name(x->be));
        return NULL;
    }
    return tg__apply(tape, &tg__op_max_pool2d_grad, 2, in, &p);
}

static tg_tensor *pool(tg_tape *tape, tg_tensor *x, int kh, int kw, const tg_conv_opts *opts,
                       bool is_max, const char *name) {
    char s[160];
    if (tg__check_args(tape, name, 1, &x)) return NULL;
    if (x->ndim != 4) {
        tg__fail(TG_ERR_SHAPE, name, "need x [N,C,H,W], got %s",
                 tg__shape_str(s, sizeof s, x->ndim, x->shape));
        return NULL;
    }
    int64_t n = x->shape[0], c = x->shape[1], h = x->shape[2], w = x->shape[3];
    unsigned mark = tg_error_mark();
    tg_tensor *x1 = tg_reshape(tape, x, 4, (int64_t[]){n * c, 1, h, w});
    tg_tensor *cols = im2col_pad(tape, x1, kh, kw, opts, true, is_max ? -INFINITY : 0.0, name);
    if (!cols) return tg__named(name, mark, NULL);
    int axis = 1;
    // max: the window's first maximum (row-major), picked by index so that ties send the
    // whole gradient to it, as torch's max_pool2d does (tg_max_axes would split it evenly).
    tg_tensor *r = is_max ? tg_gather(tape, cols, 1, tg_argmax(tape, cols, 1, true))
                          : tg_mean_axes(tape, cols, 1, &axis, false);
    int64_t oh, ow;
    out_hw(x, kh, kw, opts, true, &oh, &ow);
    return tg__named(name, mark, tg_reshape(tape, r, 4, (int64_t[]){n, c, oh, ow}));
}

tg_tensor *tg_max_pool2d(tg_tape *tape, tg_tensor *x, int kh, int kw, const tg_conv_opts *opts) {
    tg_tensor *in[2] = {x, x};
    if (tg__check_inputs(tape, &tg__op_max_pool2d, 2, in)) return NULL;
    if (!tg__has_max_pool(x->be)) return pool(tape, x, kh, kw, opts, true, "tg_max_pool2d");
    window w;
    if (set_window(&w, kh, kw, opts, true, "tg_max_pool2d")) return NULL;
    return pool_select(tape, x, x, &w);
}

tg_tensor *tg_avg_pool2d(tg_tape *tape, tg_tensor *x, int kh, int kw, const tg_conv_opts *opts) {
    return pool(tape, x, kh, kw, opts, false, "tg_avg_pool2d");
}

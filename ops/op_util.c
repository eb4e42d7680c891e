// Pieces shared by op families: broadcast shape inference, unary/binary forwards, and
// the one- and two-input apply wrappers.
#include "ops/op_table.h"

int tg__infer_bcast(tg_tensor *const *in, int n_in, const void *params, int *ndim,
                    int64_t *shape, const char *name) {
    (void)params;
    int nd = 0;
    for (int k = 0; k < n_in; k++)
        if (in[k]->ndim > nd) nd = in[k]->ndim;
    for (int i = 0; i < nd; i++) {
        int64_t d = 1;
        for (int k = 0; k < n_in; k++) {
            int j = i - (nd - in[k]->ndim);
            int64_t dk = j >= 0 ? in[k]->shape[j] : 1;
            if (dk != 1 && d != 1 && dk != d) {
                char s1[160], s2[160];
                int other = k == 0 ? 1 : 0;
                tg__fail(TG_ERR_SHAPE, name,
                         "shapes %s and %s do not broadcast (axis %d: %lld vs %lld)",
                         tg__shape_str(s1, sizeof s1, in[other]->ndim, in[other]->shape),
                         tg__shape_str(s2, sizeof s2, in[k]->ndim, in[k]->shape), i,
                         (long long)d, (long long)dk);
                return TG_ERR_SHAPE;
            }
            if (dk != 1) d = dk;
        }
        shape[i] = d;
    }
    *ndim = nd;
    return TG_OK;
}

int tg__infer_same(tg_tensor *const *in, int n_in, const void *params, int *ndim,
                   int64_t *shape) {
    (void)n_in;
    (void)params;
    *ndim = in[0]->ndim;
    for (int i = 0; i < in[0]->ndim; i++) shape[i] = in[0]->shape[i];
    return TG_OK;
}

int tg__forward_binary(tg_tensor *const *in, tg_tensor *out, int kind, const char *name) {
    if (in[0]->numel == out->numel && in[1]->numel == out->numel) {   // no broadcasting
        tg_view a = tg__view_flat(in[0]), b = tg__view_flat(in[1]);
        return tg__k_binary(name, kind, &a, &b, out);
    }
    tg_view a = tg__view_bcast(in[0], out->ndim, out->shape);
    tg_view b = tg__view_bcast(in[1], out->ndim, out->shape);
    return tg__k_binary(name, kind, &a, &b, out);
}

int tg__forward_unary(tg_tensor *const *in, tg_tensor *out, int kind, double a, double b,
                      const char *name) {
    tg_view x = tg__view_flat(in[0]);
    return tg__k_unary(name, kind, &x, out, a, b);
}

tg_tensor *tg__apply1(tg_tape *tape, const tg_op_def *def, tg_tensor *x, double a, double b) {
    tg_unary_params p = {a, b};
    return tg__apply(tape, def, 1, &x, &p);
}

tg_tensor *tg__apply2(tg_tape *tape, const tg_op_def *def, tg_tensor *a, tg_tensor *b) {
    tg_tensor *in[2] = {a, b};
    return tg__apply(tape, def, 2, in, NULL);
}


tg_tensor *tg__scalar_like(tg_tape *tape, const tg_tensor *x, double v) {
    if (!x) return NULL;
    return tg_full(tape, x->be, x->dtype, 0, NULL, v);
}

tg_tensor *tg__row(tg_tape *tape, tg_tensor *t, int k) {
    tg_tensor *r = tg_slice(tape, t, 0, k, k + 1, 1);
    return r ? tg_reshape(tape, r, 1, &t->shape[1]) : NULL;
}

tg_tensor *tg__norm_grad_with_wgrad(tg_tape *tape, tg__norm_grad_fn node, tg_tensor *dy,
                                    tg_tensor *x, tg_tensor *w, double eps, int64_t c,
                                    const char *where, tg_tensor **wgrad) {
    // An empty dx runs no kernel (tg__apply), which would leave the buffer unwritten.
    *wgrad = x->numel ? tg__step_new(tape, x->be, x->dtype, 2, (int64_t[]){2, c}, where) : NULL;
    if (!x->numel) return node(tape, dy, x, w, eps, NULL);
    if (!*wgrad) return NULL;
    tg_tensor *dx = node(tape, dy, x, w, eps, (*wgrad)->data);
    if (!dx) *wgrad = NULL;
    return dx;
}

// tg_gradcheck: the full Jacobian from backward passes (one per output element, seeded
// with a one-hot) against central differences (two forward passes per input element).
#include <math.h>
#include <string.h>

#include "core/internal.h"

tg_gradcheck_opts tg_gradcheck_opts_default(void) {
    tg_gradcheck_opts o = {.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3, .seed = 0};
    return o;
}

// Runs fn on a reset tape; copies its output (f64) into host[m]. Returns the output.
static tg_tensor *eval(tg_tape *tape, tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs,
                       int64_t m, double *host, const char *where) {
    tg_tape_reset(tape);
    tg_tensor *out = fn(tape, inputs, user);
    if (!out) {
        if (!tg__has_error())
            tg__fail(TG_ERR_INVALID_ARG, where, "the function returned NULL");
        return NULL;
    }
    if (out->dtype != TG_F64) {
        tg__fail(TG_ERR_DTYPE, where, "the function's output is %s; need f64",
                 tg_dtype_name(out->dtype));
        return NULL;
    }
    if (m >= 0 && out->numel != m) {
        tg__fail(TG_ERR_SHAPE, where, "output size changed between calls");
        return NULL;
    }
    if (host && tg_copy_to_host(out, host, out->nbytes)) return NULL;
    return out;
}

static int check_inputs(int n, tg_tensor *const *inputs, const char *where) {
    if (n <= 0 || !inputs) {
        tg__fail(TG_ERR_INVALID_ARG, where, "need at least one input");
        return TG_ERR_INVALID_ARG;
    }
    int n_diff = 0;
    for (int i = 0; i < n; i++) {
        const tg_tensor *x = inputs[i];
        if (!x) {
            tg__fail(TG_ERR_INVALID_ARG, where, "input %d is NULL", i);
            return TG_ERR_INVALID_ARG;
        }
        int st = tg__check_live(x, where);   // before reading its header
        if (st) return st;
        if (x->is_step) {
            tg__fail(TG_ERR_INVALID_ARG, where, "input %d is a step tensor; pass "
                     "persistent tensors (they are perturbed in place)", i);
            return TG_ERR_INVALID_ARG;
        }
        if (x->dtype != TG_F64) {
            tg__fail(TG_ERR_DTYPE, where, "input %d is %s; gradcheck runs in f64 "
                     "(convert with tg_cast)", i, tg_dtype_name(x->dtype));
            return TG_ERR_DTYPE;
        }
        n_diff += x->requires_grad;
    }
    if (!n_diff) {
        tg__fail(TG_ERR_INVALID_ARG, where, "no input requires grad");
        return TG_ERR_INVALID_ARG;
    }
    return TG_OK;
}

typedef struct {
    tg_tape *tape;
    double *out0, *outp, *outm, *ja, *xbuf, *seed_host;
    tg_tensor *seed;
    tg_tensor **grads, **diff;
} workspace;

static void release(workspace *w) {
    tg_tape_free(w->tape);
    tg_free(w->seed);
    tg__free(w->out0);
    tg__free(w->outp);
    tg__free(w->outm);
    tg__free(w->ja);
    tg__free(w->xbuf);
    tg__free(w->seed_host);
    tg__free(w->grads);
    tg__free(w->diff);
}

// Analytic Jacobian of input k into ja[m * numel_k] (row = output element).
static int analytic(workspace *w, tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs,
                    int n_diff, int64_t m, int which, int64_t nk, const char *where) {
    tg_tensor *out = eval(w->tape, fn, user, inputs, m, NULL, where);
    if (!out) return tg_last_status();
    memset(w->ja, 0, (size_t)(m * nk) * sizeof(double));
    if (!out->requires_grad) return TG_OK;   // output independent of every input
    tg_backward_opts o = {.retain_graph = true};
    for (int64_t j = 0; j < m; j++) {
        memset(w->seed_host, 0, (size_t)m * sizeof(double));
        w->seed_host[j] = 1.0;
        int st = tg_copy_from_host(w->seed, w->seed_host, (size_t)m * sizeof(double));
        if (!st) st = tg_grad(w->tape, out, w->seed, n_diff, w->diff, w->grads, &o);
        if (!st) st = tg_copy_to_host(w->grads[which], w->xbuf, (size_t)nk * sizeof(double));
        if (st) return st;
        memcpy(w->ja + j * nk, w->xbuf, (size_t)nk * sizeof(double));
    }
    return TG_OK;
}

// Flat index -> multi-dimensional index of a row-major shape.
static void unravel(int64_t flat, int ndim, const int64_t *shape, int64_t *idx) {
    for (int d = ndim - 1; d >= 0; d--) {
        int64_t n = shape[d] > 0 ? shape[d] : 1;
        idx[d] = flat % n;
        flat /= n;
    }
}

// Keeps the TG_GRADCHECK_WORST entries with the largest excess over the tolerance, largest
// first (NaN counts as infinite).
static void note_failure(tg_gradcheck_report *r, double *excess, const tg_gradcheck_entry *e,
                         double ex) {
    if (isnan(ex)) ex = INFINITY;
    int n = r->n_worst;
    if (n == TG_GRADCHECK_WORST && !(ex > excess[n - 1])) return;
    int k = n < TG_GRADCHECK_WORST ? n++ : n - 1;
    for (; k > 0 && ex > excess[k - 1]; k--) {
        r->worst[k] = r->worst[k - 1];
        excess[k] = excess[k - 1];
    }
    r->worst[k] = *e;
    excess[k] = ex;
    r->n_worst = n;
}

static const char *index_str(char *buf, size_t size, int n, const int64_t *idx) {
    return tg__shape_str(buf, size, n, idx);
}

// Both Jacobians of input i, rows = output elements.
static void dump_jacobians(FILE *f, int i, int64_t m, int64_t nk, const double *ja,
                           const double *jn) {
    for (int which = 0; which < 2; which++) {
        fprintf(f, "input %d: %s Jacobian [%lld outputs x %lld elements]\n", i,
                which ? "numeric" : "analytic", (long long)m, (long long)nk);
        const double *jac = which ? jn : ja;
        for (int64_t j = 0; j < m; j++) {
            for (int64_t e = 0; e < nk; e++) fprintf(f, "%s% .10g", e ? " " : "", jac[j * nk + e]);
            fputc('\n', f);
        }
    }
}

static int fail_message(const tg_gradcheck_report *r, const tg_gradcheck_opts *o,
                        const char *where) {
    char msg[1024];
    size_t used = 0;
    for (int k = 0; k < r->n_worst && used + 1 < sizeof msg; k++) {
        const tg_gradcheck_entry *e = &r->worst[k];
        char a[160], b[160];
        int wr = snprintf(msg + used, sizeof msg - used,
                          "%s input %d element %s, output %s: analytic %.10g vs numeric %.10g", k ? ";" : "",
                          e->input, index_str(a, sizeof a, e->ndim, e->index),
                          index_str(b, sizeof b, e->out_ndim, e->out_index), e->analytic,
                          e->numeric);
        if (wr < 0) break;
        used += (size_t)wr;
    }
    tg__fail(TG_ERR_NUMERIC, where,
             "Jacobian mismatch in %lld of %lld entries (|analytic - numeric| > atol %g + rtol %g "
             "* |numeric|); worst:%s", (long long)r->n_failed, (long long)r->n_checked, o->atol,
             o->rtol, msg);
    return TG_ERR_NUMERIC;
}

static int gradcheck_as(const char *where, tg_gradcheck_fn fn, void *user, int n_inputs,
                        tg_tensor *const *inputs, const tg_gradcheck_opts *opts,
                        tg_gradcheck_report *report) {
    tg_gradcheck_opts o = opts ? *opts : tg_gradcheck_opts_default();
    tg_gradcheck_report r = {.fail_input = -1, .fail_element = -1, .fail_output = -1};
    if (report) *report = r;
    if (!fn) {
        tg__fail(TG_ERR_INVALID_ARG, where, "function is NULL");
        return TG_ERR_INVALID_ARG;
    }
    int st = check_inputs(n_inputs, inputs, where);
    if (st) return st;

    workspace w = {0};
    int64_t max_n = 1;
    int n_diff = 0;
    for (int i = 0; i < n_inputs; i++) {
        if (inputs[i]->numel > max_n) max_n = inputs[i]->numel;
        n_diff += inputs[i]->requires_grad;
    }
    w.tape = tg_tape_new();
    tg_tensor *out = w.tape ? eval(w.tape, fn, user, inputs, -1, NULL, where) : NULL;
    if (!out) {
        release(&w);
        return tg_last_status();
    }
    int64_t m = out->numel;
    int out_ndim = out->ndim;
    int64_t out_shape[TG_MAX_DIMS];
    memcpy(out_shape, out->shape, sizeof out_shape);
    w.seed = tg__persistent_new(out->be, TG_F64, out->ndim, out->shape, where);
    w.out0 = tg__malloc((size_t)(m ? m : 1) * sizeof(double));
    w.outp = tg__malloc((size_t)(m ? m : 1) * sizeof(double));
    w.outm = tg__malloc((size_t)(m ? m : 1) * sizeof(double));
    w.seed_host = tg__malloc((size_t)(m ? m : 1) * sizeof(double));
    int64_t jn = tg__mul_size(m, max_n);   // -1 (refused below) when it does not fit
    w.ja = tg__malloc((size_t)(jn > 0 ? jn : 1) * sizeof(double));
    double *jnum = o.dump ? tg__malloc((size_t)(jn > 0 ? jn : 1) * sizeof(double)) : NULL;
    w.xbuf = tg__malloc((size_t)max_n * sizeof(double));
    w.grads = tg__calloc((size_t)n_diff, sizeof(tg_tensor *));
    w.diff = tg__calloc((size_t)n_diff, sizeof(tg_tensor *));
    if (jn < 0 || !w.seed || !w.out0 || !w.outp || !w.outm || !w.seed_host || !w.ja ||
        !w.xbuf || !w.grads || !w.diff || (o.dump && !jnum)) {
        if (jn < 0)
            tg__fail(TG_ERR_OOM, where, "a Jacobian of %lld x %lld entries is too large",
                     (long long)m, (long long)max_n);
        if (!tg__has_error()) tg__fail(TG_ERR_OOM, where, "out of memory");
        tg__free(jnum);
        release(&w);
        return tg_last_status();
    }
    for (int i = 0, k = 0; i < n_inputs; i++)
        if (inputs[i]->requires_grad) w.diff[k++] = inputs[i];

    double excess[TG_GRADCHECK_WORST] = {0};
    for (int i = 0, which = 0; i < n_inputs && !st; i++) {
        tg_tensor *x = inputs[i];
        if (!x->requires_grad) continue;
        int64_t nk = x->numel;
        st = analytic(&w, fn, user, inputs, n_diff, m, which++, nk, where);
        if (st) break;
        double *xv = w.xbuf;
        for (int64_t e = 0; e < nk && !st; e++) {
            st = tg_copy_to_host(x, xv, x->nbytes);
            double x0 = xv[e];
            xv[e] = x0 + o.eps;
            if (!st) st = tg_copy_from_host(x, xv, x->nbytes);
            if (!st && !eval(w.tape, fn, user, inputs, m, w.outp, where)) st = tg_last_status();
            xv[e] = x0 - o.eps;
            if (!st) st = tg_copy_from_host(x, xv, x->nbytes);
            if (!st && !eval(w.tape, fn, user, inputs, m, w.outm, where)) st = tg_last_status();
            xv[e] = x0;
            int rs = tg_copy_from_host(x, xv, x->nbytes);
            if (!st) st = rs;
            for (int64_t j = 0; j < m && !st; j++) {
                double num = (w.outp[j] - w.outm[j]) / (2.0 * o.eps);
                double ana = w.ja[j * nk + e];
                if (jnum) jnum[j * nk + e] = num;
                double err = fabs(ana - num);
                double rel = err / (fabs(num) > 1e-300 ? fabs(num) : 1e-300);
                if (err > r.max_abs_err || isnan(err)) r.max_abs_err = err;
                if (err > 0 && (rel > r.max_rel_err || isnan(rel))) r.max_rel_err = rel;
                r.n_checked++;
                double tol = o.atol + o.rtol * fabs(num);
                if (err <= tol) continue;
                if (!r.n_failed++) {
                    r.fail_input = i;
                    r.fail_element = e;
                    r.fail_output = j;
                    r.fail_analytic = ana;
                    r.fail_numeric = num;
                }
                tg_gradcheck_entry en = {.input = i, .ndim = x->ndim, .out_ndim = out_ndim,
                                         .analytic = ana, .numeric = num};
                unravel(e, x->ndim, x->shape, en.index);
                unravel(j, out_ndim, out_shape, en.out_index);
                note_failure(&r, excess, &en, err - tol);
            }
        }
        if (!st && o.dump) dump_jacobians(o.dump, i, m, nk, w.ja, jnum);
    }
    tg__free(jnum);
    release(&w);
    if (report) *report = r;
    if (st) return st;
    return r.n_failed ? fail_message(&r, &o, where) : TG_OK;
}

int tg_gradcheck(tg_gradcheck_fn fn, void *user, int n_inputs, tg_tensor *const *inputs,
                 const tg_gradcheck_opts *opts, tg_gradcheck_report *report) {
    return gradcheck_as("tg_gradcheck", fn, user, n_inputs, inputs, opts, report);
}

// ---- gradgradcheck: gradcheck of x -> concat_k(flatten(d(v . fn(x))/dx_k)) ----

typedef struct {
    tg_gradcheck_fn fn;
    void *user;
    int n_inputs;
    tg_tensor *v;          // fixed random seed gradient, shape of fn's output
} gg_ctx;

static tg_tensor *gg_fn(tg_tape *tape, tg_tensor *const *inputs, void *user) {
    gg_ctx *c = user;
    tg_tensor *out = c->fn(tape, inputs, c->user);
    if (!out) return NULL;
    tg_tensor *diff[16], *grads[16], *flat[16];
    int n = 0;
    for (int i = 0; i < c->n_inputs; i++)
        if (inputs[i]->requires_grad) diff[n++] = inputs[i];
    tg_backward_opts o = {.retain_graph = true, .create_graph = true};
    if (!out->requires_grad) {   // fn does not depend on the inputs: gradients are zero
        for (int k = 0; k < n; k++)
            grads[k] = tg_full(tape, diff[k]->be, diff[k]->dtype, diff[k]->ndim, diff[k]->shape, 0);
    } else if (tg_grad(tape, out, c->v, n, diff, grads, &o)) {
        return NULL;
    }
    for (int k = 0; k < n; k++) flat[k] = tg_reshape(tape, grads[k], 1, (int64_t[]){-1});
    return n == 1 ? flat[0] : tg_concat(tape, n, flat, 0);
}

int tg_gradgradcheck(tg_gradcheck_fn fn, void *user, int n_inputs, tg_tensor *const *inputs,
                     const tg_gradcheck_opts *opts, tg_gradcheck_report *report) {
    tg_gradcheck_opts o = opts ? *opts : tg_gradcheck_opts_default();
    if (!fn) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_gradgradcheck", "function is NULL");
        return TG_ERR_INVALID_ARG;
    }
    int st = check_inputs(n_inputs, inputs, "tg_gradgradcheck");
    if (st) return st;
    if (n_inputs > 16) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_gradgradcheck", "at most 16 inputs, got %d", n_inputs);
        return TG_ERR_INVALID_ARG;
    }
    tg_tape *tape = tg_tape_new();
    tg_tensor *out = tape ? eval(tape, fn, user, inputs, -1, NULL, "tg_gradgradcheck") : NULL;
    tg_rng *rng = out ? tg_rng_new(o.seed) : NULL;
    gg_ctx c = {.fn = fn, .user = user, .n_inputs = n_inputs};
    c.v = rng ? tg__persistent_new(out->be, TG_F64, out->ndim, out->shape, "tg_gradgradcheck")
              : NULL;
    st = c.v ? tg_uniform_(c.v, rng, -1.0, 1.0) : tg_last_status();
    tg_tape_free(tape);
    tg_rng_free(rng);
    if (!st) st = gradcheck_as("tg_gradgradcheck", gg_fn, &c, n_inputs, inputs, &o, report);
    tg_free(c.v);
    return st;
}

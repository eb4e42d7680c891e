// The op case table (all families concatenated) and the runner that gradchecks one row.
// To add a family: write tools/cases_<family>.c exporting an op_case_family, declare it in
// op_cases.h, and add one line to `families` below (and the file to tests/meson.build).
#include "tools/op_cases.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

static const op_case_family *const families[] = {
    &op_cases_elementwise, &op_cases_activation, &op_cases_compare, &op_cases_reduce,
    &op_cases_matmul,      &op_cases_shape,      &op_cases_slice,   &op_cases_index,
    &op_cases_conv,        &op_cases_nn,         &op_cases_custom,  &op_cases_attention,
};

#define N_FAMILIES (sizeof families / sizeof families[0])

// ---- the concatenated table (built once, kept for the process) ----

static op_case *all_rows;
static size_t n_all_rows;
static pthread_once_t build_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
    size_t n = 0;
    for (size_t f = 0; f < N_FAMILIES; f++) n += families[f]->n_rows;
    all_rows = malloc((n ? n : 1) * sizeof *all_rows);
    if (!all_rows) return;
    for (size_t f = 0, k = 0; f < N_FAMILIES; f++)
        for (size_t r = 0; r < families[f]->n_rows; r++) all_rows[k++] = families[f]->rows[r];
    n_all_rows = n;
}

const op_case *op_cases(void) {
    pthread_once(&build_once, build_table);
    return all_rows;
}

size_t op_case_count(void) {
    pthread_once(&build_once, build_table);
    return n_all_rows;
}

// The pending error's status; when something failed without setting one (a call that
// returned NULL silently, malloc), an error naming `what` is set first.
static int failed_status(const char *what) {
    if (tg_last_status() != TG_OK) return (int)tg_last_status();
    return tg_set_error(TG_ERR_INVALID_ARG, "op_case_run", "%s failed without an error", what);
}

// ---- inputs ----

// Uniform in [lo, hi) minus [band_lo, band_hi): the band is cut out of the interval and
// the rest stretched over one draw, so every element costs exactly one random number.
static double draw(const op_case *row, tg_rng *rng) {
    double lo = row->lo, hi = row->hi;
    double bl = row->band_lo > lo ? row->band_lo : lo;
    double bh = row->band_hi < hi ? row->band_hi : hi;
    double gap = bh > bl ? bh - bl : 0.0;
    double v = lo + (hi - lo - gap) * tg_rng_uniform(rng);
    return gap > 0.0 && v >= bl ? v + gap : v;
}

tg_tensor *op_case_input(const op_case *row, int k, tg_rng *rng) {
    tg_tensor *t = tg_tensor_new(tg_backend_get("cpu"), TG_F64, row->ndim[k], row->shape[k]);
    if (!t) return NULL;
    int64_t n = tg_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) {
        tg_free(t);
        tg_set_error(TG_ERR_OOM, "op_case_input", "out of memory for %lld values", (long long)n);
        return NULL;
    }
    int64_t index_hi = row->index_hi[k];
    for (int64_t i = 0; i < n; i++) {
        if (index_hi > 0) {
            v[i] = floor(tg_rng_uniform(rng) * (double)index_hi);
            if (v[i] >= (double)index_hi) v[i] = (double)(index_hi - 1);
        } else {
            v[i] = draw(row, rng);
        }
    }
    int st = tg_copy_from_host(t, v, (size_t)n * sizeof *v);
    free(v);
    if (!st) st = tg_set_requires_grad(t, !row->no_grad[k] && index_hi <= 0);
    if (st) {
        tg_free(t);
        return NULL;
    }
    return t;
}

// ---- running a row ----

static int forward_only(const op_case *row, tg_tensor *const *in) {
    tg_tape *tape = tg_tape_new();
    if (!tape) return failed_status("tg_tape_new");
    tg_tensor *out = row->call(tape, in, (void *)row);
    int st = out ? TG_OK : failed_status("the row's call");
    tg_tape_free(tape);
    return st;
}

int op_case_run(const op_case *row, uint64_t seed, tg_gradcheck_report *report) {
    tg_gradcheck_report none = {.fail_input = -1, .fail_element = -1, .fail_output = -1};
    if (report) *report = none;
    if (!row || row->n_in < 1 || row->n_in > OPC_MAX_IN || !row->call)
        return tg_set_error(TG_ERR_INVALID_ARG, "op_case_run",
                            "malformed row (%s): need 1..%d inputs and a call",
                            row && row->label ? row->label : "NULL", OPC_MAX_IN);
    tg_rng *rng = tg_rng_new(seed);
    if (!rng) return failed_status("tg_rng_new");
    tg_tensor *in[OPC_MAX_IN] = {0};
    int st = TG_OK;
    for (int k = 0; k < row->n_in && !st; k++)
        if (!(in[k] = op_case_input(row, k, rng))) st = failed_status("op_case_input");
    if (!st && !row->differentiable) {
        st = forward_only(row, in);
    } else if (!st) {
        tg_gradcheck_opts o = tg_gradcheck_opts_default();
        if (row->eps > 0) o.eps = row->eps;
        if (row->atol > 0) o.atol = row->atol;
        if (row->rtol > 0) o.rtol = row->rtol;
        o.seed = seed;
        st = tg_gradcheck(row->call, (void *)row, row->n_in, in, &o, report);
    }
    for (int k = 0; k < row->n_in; k++) {
        int fs = tg_free(in[k]);
        if (!st) st = fs;
    }
    tg_rng_free(rng);
    return st;
}

tg_tensor *op_case_grad_of(tg_tape *tape, tg_tensor *x, tg_tensor *y) {
    tg_tensor *g = NULL;
    tg_backward_opts o = {.create_graph = true};
    tg_tensor *loss = tg_sum(tape, tg_mul(tape, y, tg_mul(tape, x, x)));
    if (tg_grad(tape, loss, NULL, 1, &x, &g, &o)) return NULL;
    return g;
}

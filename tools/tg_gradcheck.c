// tg-gradcheck: runs tg_gradcheck over every row of the op case table (tools/op_cases.c),
// and tg_gradgradcheck over the rows whose rule is twice differentiable, for several seeds
// (each seed redraws the inputs and, where a row allows it, rescales its shapes), on every
// available backend. Prints one line per op (or JSON) and exits 1 if anything failed.
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/op_cases.h"

enum { MAX_NUMEL = 96, MAX_BACKENDS = 2 };

static const char *const usage =
    "usage: tg-gradcheck [--seeds N] [--backend cpu|cuda|all] [--op NAME] [--no-jitter]\n"
    "                    [--list] [--json] [--verbose]\n"
    "  --seeds N     seeds per case row (default 3); each redraws inputs and shapes\n"
    "  --backend B   cpu, cuda or all (default all; cuda is skipped when not available)\n"
    "  --op NAME     only rows of op NAME (tg_ prefix optional), or of the composed\n"
    "                function NAME their label starts with (e.g. tg_softmax)\n"
    "  --no-jitter   keep every row's own shapes\n"
    "  --list        list the case rows and exit\n"
    "  --json        machine-readable output\n"
    "  --verbose     one line per case (row, seed, shapes, errors) on stderr\n"
    "exit status: 0 all passed, 1 a check failed, 2 bad usage\n";

typedef struct options {
    int seeds;
    const char *backend;
    const char *op;
    bool jitter, list, json, verbose;
} options;

// ---- shape jitter ----

static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

// Factor 1..3 per slot; then the largest factors shrink until no input of `r` scaled by
// `apply` exceeds MAX_NUMEL elements (the Jacobian is checked entry by entry).
typedef void (*apply_fn)(op_case *r, const int *f);

static void draw_factors(op_case *r, int n_f, int *f, apply_fn apply, tg_rng *rng) {
    for (int i = 0; i < n_f; i++) f[i] = 1 + (int)(3.0 * tg_rng_uniform(rng)) % 3;
    for (;;) {
        op_case t = *r;
        apply(&t, f);
        int64_t big = 0;
        for (int k = 0; k < t.n_in; k++) {
            int64_t n = numel_of(t.ndim[k], t.shape[k]);
            if (n > big) big = n;
        }
        int imax = 0;
        for (int i = 1; i < n_f; i++)
            if (f[i] > f[imax]) imax = i;
        if (big <= MAX_NUMEL || n_f == 0 || f[imax] == 1) {
            *r = t;
            return;
        }
        f[imax]--;
    }
}

// dims of input k from position `skip` (counted from the right) on, scaled by f[pos - skip]
// unless they are 1 (broadcast)
static void scale_from_right(op_case *r, int k, int skip, const int *f) {
    for (int d = r->ndim[k] - 1 - skip; d >= 0; d--) {
        int pos = r->ndim[k] - 1 - d - skip;
        if (r->shape[k][d] != 1) r->shape[k][d] *= f[pos];
    }
}

static void apply_bcast(op_case *r, const int *f) {
    for (int k = 0; k < r->n_in; k++) scale_from_right(r, k, 0, f);
}

// f = {fM, fK, fN, batch factors...}; inputs before the last two broadcast to [.., M, N]
static void apply_matmul(op_case *r, const int *f) {
    int ia = r->n_in - 2, ib = r->n_in - 1;
    int64_t *a = r->shape[ia] + r->ndim[ia] - 2, *b = r->shape[ib] + r->ndim[ib] - 2;
    a[r->at.trans_a ? 1 : 0] *= f[0];
    a[r->at.trans_a ? 0 : 1] *= f[1];
    b[r->at.trans_b ? 1 : 0] *= f[1];
    b[r->at.trans_b ? 0 : 1] *= f[2];
    scale_from_right(r, ia, 2, f + 3);
    scale_from_right(r, ib, 2, f + 3);
    int mn[2] = {f[2], f[0]};   // bias: position 0 is N, 1 is M
    for (int k = 0; k < ia; k++) {
        for (int d = r->ndim[k] - 1, pos = 0; d >= 0 && pos < 2; d--, pos++)
            if (r->shape[k][d] != 1) r->shape[k][d] *= mn[pos];
    }
}

static void jitter_shapes(op_case *r, tg_rng *rng) {
    int f[TG_MAX_DIMS + 3] = {0};
    int maxnd = 0;
    for (int k = 0; k < r->n_in; k++)
        if (r->ndim[k] > maxnd) maxnd = r->ndim[k];
    if (r->jitter == OPC_BCAST) draw_factors(r, maxnd, f, apply_bcast, rng);
    if (r->jitter == OPC_MATMUL && r->n_in >= 2)
        draw_factors(r, 3 + (maxnd > 2 ? maxnd - 2 : 0), f, apply_matmul, rng);
}

// ---- running one row ----

typedef enum gg_state { GG_NONE, GG_PASS, GG_FAIL, GG_ONCE } gg_state;

typedef struct result {
    int status;                 // TG_OK or the first failure
    gg_state gg;
    tg_gradcheck_report rep;    // first order
    char shapes[160];           // the (jittered) input shapes
    char msg[640];              // the error, when status != TG_OK
} result;

static void describe_shapes(const op_case *r, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < r->n_in && len < cap; k++) {
        len += (size_t)snprintf(buf + len, cap - len, "%s[", k ? " " : "");
        for (int d = 0; d < r->ndim[k] && len < cap; d++)
            len += (size_t)snprintf(buf + len, cap - len, "%s%lld", d ? "," : "",
                                    (long long)r->shape[k][d]);
        if (len < cap) len += (size_t)snprintf(buf + len, cap - len, "]");
    }
}

static int fail_msg(result *res, int status, const char *what) {
    snprintf(res->msg, sizeof res->msg, "%s: %s", what,
             tg_last_error()[0] ? tg_last_error() : tg_status_str(status));
    tg_clear_error();
    return res->status = status ? status : TG_ERR_INVALID_ARG;
}

// Inputs of row r on backend be (persistent f64; requires_grad as op_case_input sets it).
static int make_inputs(const op_case *r, tg_backend *be, tg_rng *rng, tg_tensor **in) {
    for (int k = 0; k < r->n_in; k++) {
        tg_tensor *t = op_case_input(r, k, rng);
        if (t && be != tg_backend_get("cpu")) {
            tg_tensor *u = tg_to(t, be);
            if (u && tg_set_requires_grad(u, tg_requires_grad(t))) {
                tg_free(u);
                u = NULL;
            }
            tg_free(t);
            t = u;
        }
        if (!(in[k] = t)) return tg_last_status() ? tg_last_status() : TG_ERR_INVALID_ARG;
    }
    return TG_OK;
}

static void run_row(const op_case *row, tg_backend *be, uint64_t seed, bool jitter,
                    result *res) {
    memset(res, 0, sizeof *res);
    op_case r = *row;
    tg_rng *rng = tg_rng_new(seed);
    if (!rng) {
        fail_msg(res, tg_last_status(), "tg_rng_new");
        return;
    }
    if (jitter) jitter_shapes(&r, rng);
    describe_shapes(&r, res->shapes, sizeof res->shapes);
    tg_tensor *in[OPC_MAX_IN] = {0};
    int st = make_inputs(&r, be, rng, in);
    if (st) {
        fail_msg(res, st, "inputs");
    } else if (!r.differentiable) {
        tg_tape *tape = tg_tape_new();
        if (!tape || !r.call(tape, in, &r)) fail_msg(res, tg_last_status(), "forward");
        tg_tape_free(tape);
    } else {
        tg_gradcheck_opts o = tg_gradcheck_opts_default();
        if (r.eps > 0) o.eps = r.eps;
        if (r.atol > 0) o.atol = r.atol;
        if (r.rtol > 0) o.rtol = r.rtol;
        o.seed = seed;
        st = tg_gradcheck(r.call, &r, r.n_in, in, &o, &res->rep);
        if (st) fail_msg(res, st, "gradcheck");
        if (!st && r.no_gradgrad) res->gg = GG_ONCE;
        if (!st && !r.no_gradgrad) {
            tg_gradcheck_report gg;
            st = tg_gradgradcheck(r.call, &r, r.n_in, in, &o, &gg);
            res->gg = st ? GG_FAIL : GG_PASS;
            if (st) fail_msg(res, st, "gradgradcheck");
        }
    }
    for (int k = 0; k < r.n_in; k++) tg_free(in[k]);
    tg_rng_free(rng);
    tg_clear_error();
}

// ---- the table ----

typedef struct agg {
    const char *op;
    int cases, fails, gg_pass, gg_fail, gg_once;
    double max_abs, max_rel;
} agg;

static agg *agg_for(agg *a, int *n, const char *op) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(a[i].op, op)) return &a[i];
    memset(&a[*n], 0, sizeof a[*n]);
    a[*n].op = op;
    return &a[(*n)++];
}

static void add_result(agg *g, const result *res) {
    g->cases++;
    g->fails += res->status != TG_OK;
    g->gg_pass += res->gg == GG_PASS;
    g->gg_fail += res->gg == GG_FAIL;
    g->gg_once += res->gg == GG_ONCE;
    if (res->rep.max_abs_err > g->max_abs) g->max_abs = res->rep.max_abs_err;
    if (res->rep.max_rel_err > g->max_rel) g->max_rel = res->rep.max_rel_err;
}

static void gg_text(const agg *g, char *buf, size_t cap) {
    int n = g->gg_pass + g->gg_fail + g->gg_once;
    if (!n) snprintf(buf, cap, "-");
    else if (g->gg_fail) snprintf(buf, cap, "FAIL %d/%d", g->gg_fail, n);
    else if (!g->gg_once) snprintf(buf, cap, "pass %d", g->gg_pass);
    else if (!g->gg_pass) snprintf(buf, cap, "once %d", g->gg_once);
    else snprintf(buf, cap, "pass %d once %d", g->gg_pass, g->gg_once);
}

// ---- output ----

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static bool row_selected(const op_case *r, const char *op) {
    if (!op) return true;
    char name[128];
    snprintf(name, sizeof name, "%s%s", strncmp(op, "tg_", 3) ? "tg_" : "", op);
    size_t len = strlen(name);
    return !strcmp(r->op, name) || (!strncmp(r->label, name, len) && r->label[len] == ' ');
}

static const char *jitter_name(opc_jitter j) {
    return j == OPC_BCAST ? "bcast" : j == OPC_MATMUL ? "matmul" : "fixed";
}

static int list_rows(const options *opt) {
    const op_case *rows = op_cases();
    size_t n = op_case_count();
    if (opt->json) printf("[");
    for (size_t i = 0, first = 1; i < n; i++) {
        const op_case *r = &rows[i];
        if (!row_selected(r, opt->op)) continue;
        const char *gg = !r->differentiable ? "-" : r->no_gradgrad ? "once" : "yes";
        if (!opt->json) {
            printf("%-22s %-6s gradgrad %-4s %s%s%s\n", r->op, jitter_name(r->jitter), gg,
                   r->label, r->no_gradgrad ? " -- once: " : "",
                   r->no_gradgrad ? r->no_gradgrad : "");
            continue;
        }
        printf("%s\n  {\"op\": ", first ? "" : ",");
        json_str(r->op);
        printf(", \"label\": ");
        json_str(r->label);
        printf(", \"jitter\": \"%s\", \"gradgrad\": \"%s\"", jitter_name(r->jitter), gg);
        if (r->no_gradgrad) {
            printf(", \"once_reason\": ");
            json_str(r->no_gradgrad);
        }
        printf("}");
        first = 0;
    }
    if (opt->json) printf("\n]\n");
    return 0;
}

static void print_table(const char *be, const agg *a, int n_agg) {
    printf("backend %s\n%-24s %6s %12s %12s  %-16s %s\n", be, "op", "cases", "max abs err",
           "max rel err", "gradgrad", "status");
    for (int i = 0; i < n_agg; i++) {
        char gg[32];
        gg_text(&a[i], gg, sizeof gg);
        printf("%-24s %6d %12.3g %12.3g  %-16s %s\n", a[i].op, a[i].cases, a[i].max_abs,
               a[i].max_rel, gg, a[i].fails ? "FAIL" : "ok");
    }
}

static void json_backend(const char *be, const agg *a, int n_agg, const char *note) {
    printf("    {\"backend\": \"%s\", \"available\": %s", be, note ? "false" : "true");
    if (note) {
        printf(", \"note\": ");
        json_str(note);
        printf(", \"ops\": []}");
        return;
    }
    printf(", \"ops\": [");
    for (int i = 0; i < n_agg; i++) {
        char gg[32];
        gg_text(&a[i], gg, sizeof gg);
        printf("%s\n      {\"op\": \"%s\", \"cases\": %d, \"max_abs_err\": %.6g, "
               "\"max_rel_err\": %.6g, \"gradgrad\": \"%s\", \"status\": \"%s\"}",
               i ? "," : "", a[i].op, a[i].cases, a[i].max_abs, a[i].max_rel, gg,
               a[i].fails ? "fail" : "ok");
    }
    printf("]}");
}

// ---- main ----

// getopt_long: an unknown option or a missing value is named by getopt on stderr; a bad
// value is named here. Returns 0, or -1 for bad usage.
static int parse_args(int argc, char **argv, options *opt) {
    *opt = (options){.seeds = 3, .backend = "all", .jitter = true};
    static const struct option longs[] = {
        {"seeds", required_argument, NULL, 's'}, {"backend", required_argument, NULL, 'b'},
        {"op", required_argument, NULL, 'o'},    {"no-jitter", no_argument, NULL, 'J'},
        {"list", no_argument, NULL, 'l'},        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        char *end;
        long v;
        switch (c) {
        case 's':
            v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 100000) {
                fprintf(stderr, "tg-gradcheck: bad value for --seeds: '%s' (1..100000)\n", optarg);
                return -1;
            }
            opt->seeds = (int)v;
            break;
        case 'b':
            opt->backend = optarg;
            if (strcmp(optarg, "cpu") && strcmp(optarg, "cuda") && strcmp(optarg, "all")) {
                fprintf(stderr, "tg-gradcheck: bad value for --backend: '%s' (cpu, cuda, all)\n",
                        optarg);
                return -1;
            }
            break;
        case 'o': opt->op = optarg; break;
        case 'J': opt->jitter = false; break;
        case 'l': opt->list = true; break;
        case 'j': opt->json = true; break;
        case 'v': opt->verbose = true; break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default: return -1;   // getopt printed "unrecognized option '--x'" or similar
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tg-gradcheck: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

// Runs every selected row on backend `be`; fills a[] and prints failures (text mode) or
// appends them to the JSON failure list. Returns the number of failed cases.
static int run_backend(const options *opt, const char *be_name, tg_backend *be, agg *a,
                       int *n_agg, int *json_fails) {
    const op_case *rows = op_cases();
    size_t n = op_case_count();
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const op_case *r = &rows[i];
        if (!row_selected(r, opt->op)) continue;
        agg *g = agg_for(a, n_agg, r->op);
        for (int s = 0; s < opt->seeds; s++) {
            result res;
            uint64_t seed = (uint64_t)(s + 1) * 1000003u + i;
            run_row(r, be, seed, opt->jitter && r->jitter != OPC_FIXED, &res);
            add_result(g, &res);
            if (opt->verbose)
                fprintf(stderr, "%s %s: %s | seed %llu | %s | abs %.3g rel %.3g | %s\n", be_name,
                        r->op, r->label, (unsigned long long)seed, res.shapes,
                        res.rep.max_abs_err, res.rep.max_rel_err,
                        res.status ? "FAIL" : res.gg == GG_PASS ? "ok, gradgrad ok" : "ok");
            if (res.status == TG_OK) continue;
            failed++;
            if (!opt->json) {
                fprintf(stderr, "FAIL %s %s: %s (seed %llu, shapes %s): %s\n", be_name, r->op,
                        r->label, (unsigned long long)seed, res.shapes, res.msg);
                continue;
            }
            printf("%s\n    {\"backend\": \"%s\", \"op\": ", (*json_fails)++ ? "," : "", be_name);
            json_str(r->op);
            printf(", \"label\": ");
            json_str(r->label);
            printf(", \"seed\": %llu, \"shapes\": \"%s\", \"error\": ", (unsigned long long)seed,
                   res.shapes);
            json_str(res.msg);
            printf("}");
        }
    }
    return failed;
}

int main(int argc, char **argv) {
    options opt;
    if (parse_args(argc, argv, &opt)) {
        fputs(usage, stderr);
        return 2;
    }
    if (!op_cases()) {
        fprintf(stderr, "tg-gradcheck: cannot build the case table: out of memory\n");
        return 1;
    }
    size_t n_rows = op_case_count(), n_selected = 0;
    for (size_t i = 0; i < n_rows; i++) n_selected += row_selected(&op_cases()[i], opt.op);
    if (!n_selected) {
        fprintf(stderr, "tg-gradcheck: no case row for op '%s' (see --list)\n", opt.op);
        return 2;
    }
    if (opt.list) return list_rows(&opt);
    agg *a[MAX_BACKENDS];
    int n_agg[MAX_BACKENDS] = {0}, failed = 0, json_fails = 0, n_cases = 0;
    const char *names[MAX_BACKENDS] = {"cpu", "cuda"};
    char notes[MAX_BACKENDS][600] = {{0}};
    bool want[MAX_BACKENDS] = {strcmp(opt.backend, "cuda") != 0, strcmp(opt.backend, "cpu") != 0};
    if (opt.json) printf("{\n  \"failures\": [");
    for (int b = 0; b < MAX_BACKENDS; b++) {
        a[b] = calloc(n_rows ? n_rows : 1, sizeof *a[b]);
        if (!a[b] || !want[b]) continue;
        tg_backend *be = tg_backend_get(names[b]);
        if (!be) {
            snprintf(notes[b], sizeof notes[b], "%s", tg_last_error());
            tg_clear_error();
            if (!strcmp(opt.backend, names[b])) failed++;   // asked for by name: an error
            continue;
        }
        failed += run_backend(&opt, names[b], be, a[b], &n_agg[b], &json_fails);
        for (int i = 0; i < n_agg[b]; i++) n_cases += a[b][i].cases;
    }
    if (opt.json) printf("%s],\n  \"backends\": [\n", json_fails ? "\n  " : "");
    for (int b = 0, first = 1; b < MAX_BACKENDS; b++) {
        if (!want[b]) continue;
        if (opt.json) {
            printf("%s", first ? "" : ",\n");
            json_backend(names[b], a[b], n_agg[b], notes[b][0] ? notes[b] : NULL);
            first = 0;
        } else if (notes[b][0]) {
            printf("backend %s skipped: %s\n", names[b], notes[b]);
        } else {
            print_table(names[b], a[b], n_agg[b]);
        }
    }
    if (opt.json)
        printf("\n  ],\n  \"cases\": %d,\n  \"failed\": %d,\n  \"ok\": %s\n}\n", n_cases, failed,
               failed ? "false" : "true");
    else
        printf("tg-gradcheck: %d cases, %d failed (%d seed%s per row)\n", n_cases, failed,
               opt.seeds, opt.seeds == 1 ? "" : "s");
    for (int b = 0; b < MAX_BACKENDS; b++) free(a[b]);
    return failed ? 1 : 0;
}

// The op table against the op case table (tools/op_cases.c): every op id has a unique
// name and at least one case row (a differentiable one where the op has a gradient, a
// broadcasting one where the op broadcasts), every row is well formed, and one
// parameterized test gradchecks every row.
#include "test_util.h"
#include "tools/op_cases.h"

#include <criterion/parameterized.h>

TestSuite(ops_coverage, .init = tg_clear_error);

// Ops that broadcast their inputs (NumPy rules), with the number of trailing "core" dims
// that do not broadcast (matmul's [M,K] @ [K,N]). Binary elementwise ops that broadcast are
// also found by probing (broadcasting_ops_have_a_broadcast_row), so one missing here is
// still held to the rule; ops with three inputs or core dims must be listed.
static const struct {
    const char *name;
    int core_dims;
} broadcasting_ops[] = {
    {"tg_add", 0},    {"tg_sub", 0},     {"tg_mul", 0},     {"tg_div", 0},
    {"tg_expand", 0}, {"tg_maximum", 0}, {"tg_minimum", 0}, {"tg_where", 0},
    {"tg_gt", 0},     {"tg_eq", 0},      {"tg_matmul", 2},
};

static int op_id(const char *name) {
    for (int id = 1; id < tg_op_count(); id++)
        if (tg_op_name(id) && name && strcmp(tg_op_name(id), name) == 0) return id;
    return 0;
}

static const char *row_name(size_t i) {
    static char buf[256];
    const op_case *r = &op_cases()[i];
    snprintf(buf, sizeof buf, "row %zu (%s: %s)", i, r->op ? r->op : "?",
             r->label ? r->label : "?");
    return buf;
}

// Runs row i's call once on fresh inputs; returns the output copied to a persistent tensor
// (or NULL, error set) and frees everything else. *needs_grad: did the output require grad?
static tg_tensor *run_forward(size_t i, bool *needs_grad) {
    const op_case *r = &op_cases()[i];
    tg_rng *rng = tg_rng_new(99 + i);
    tg_tensor *in[OPC_MAX_IN] = {0};
    for (int k = 0; k < r->n_in; k++) {
        in[k] = op_case_input(r, k, rng);
        cr_assert_not_null(in[k], "%s: input %d: %s", row_name(i), k, tg_last_error());
    }
    tg_tape *tape = tg_tape_new();
    tg_tensor *out = r->call(tape, in, (void *)r);
    if (needs_grad) *needs_grad = tg_requires_grad(out);
    tg_tensor *copy = out ? tg_to(out, NULL) : NULL;
    tg_tape_free(tape);
    for (int k = 0; k < r->n_in; k++) tu_free(in[k]);
    tg_rng_free(rng);
    return copy;
}

// (ndim, shape) broadcasts to (ondim, oshape) under NumPy rules and is not equal to it;
// the last `core` dims of both are left out (they follow the op's own rule).
static bool broadcasts_to(int ndim, const int64_t *shape, int ondim, const int64_t *oshape,
                          int core) {
    if (ndim < core || ondim < core) return false;
    ndim -= core;
    ondim -= core;
    if (ndim > ondim) return false;
    bool differs = ndim != ondim;
    for (int i = 0; i < ndim; i++) {
        int64_t d = shape[i], o = oshape[i + ondim - ndim];
        if (d != o && d != 1) return false;
        differs |= d != o;
    }
    return differs;
}

// ---- the op table ----

Test(ops_coverage, every_op_has_a_unique_name) {
    int n = tg_op_count();
    cr_assert_gt(n, 1, "no ops registered");
    cr_expect_null(tg_op_name(0), "id 0 is TG_OP_NONE");
    cr_expect_null(tg_op_name(n), "id %d is past the end", n);
    cr_expect_null(tg_op_name(-1));
    for (int id = 1; id < n; id++) {
        const char *name = tg_op_name(id);
        cr_assert_not_null(name, "op id %d has no descriptor or name", id);
        cr_expect(strncmp(name, "tg_", 3) == 0 && name[3] != '\0', "op %d: bad name '%s'", id,
                  name);
        for (int j = 1; j < id; j++)
            cr_expect_str_neq(name, tg_op_name(j), "ops %d and %d share the name '%s'", j, id,
                              name);
    }
}

// ---- the case table ----

Test(ops_coverage, every_row_is_well_formed) {
    const op_case *rows = op_cases();
    size_t n = op_case_count();
    cr_assert_not_null(rows);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        const op_case *r = &rows[i];
        cr_expect(op_id(r->op) != 0, "%s: '%s' is not a registered op", row_name(i),
                  r->op ? r->op : "(null)");
        cr_expect(r->label && r->label[0], "%s: no label", row_name(i));
        cr_expect_not_null(r->call, "%s: no call", row_name(i));
        cr_expect(r->n_in >= 1 && r->n_in <= OPC_MAX_IN, "%s: n_in %d", row_name(i), r->n_in);
        bool any_grad = false;
        for (int k = 0; k < r->n_in && k < OPC_MAX_IN; k++) {
            cr_expect(r->ndim[k] >= 0 && r->ndim[k] <= TG_MAX_DIMS, "%s: ndim[%d] = %d",
                      row_name(i), k, r->ndim[k]);
            for (int d = 0; d < r->ndim[k] && d < TG_MAX_DIMS; d++)
                cr_expect_geq(r->shape[k][d], 0, "%s: input %d dim %d", row_name(i), k, d);
            cr_expect_geq(r->index_hi[k], 0, "%s: index_hi[%d]", row_name(i), k);
            any_grad |= !r->no_grad[k] && r->index_hi[k] <= 0;
        }
        cr_expect(!r->differentiable || any_grad, "%s: no input is differentiated", row_name(i));
        cr_expect(r->lo < r->hi, "%s: empty range [%g, %g)", row_name(i), r->lo, r->hi);
        cr_expect(!(r->band_lo <= r->lo && r->band_hi >= r->hi && r->band_lo < r->band_hi),
                  "%s: the band covers the whole range", row_name(i));
        cr_expect(r->eps >= 0 && r->atol >= 0 && r->rtol >= 0, "%s: negative tolerance",
                  row_name(i));
        for (size_t j = 0; j < i; j++)
            if (r->op && rows[j].op && r->label && rows[j].label)
                cr_expect(strcmp(r->op, rows[j].op) || strcmp(r->label, rows[j].label),
                          "%s: duplicate of row %zu", row_name(i), j);
    }
}

// Inputs come from [lo, hi) and never from the excluded band (kinks stay out of reach).
Test(ops_coverage, inputs_avoid_the_band) {
    const op_case *rows = op_cases();
    int banded = 0;
    for (size_t i = 0; i < op_case_count(); i++) {
        const op_case *r = &rows[i];
        if (!(r->band_lo < r->band_hi)) continue;
        banded++;
        tg_rng *rng = tg_rng_new(5);
        op_case probe = *r;
        probe.n_in = 1;
        probe.ndim[0] = 1;
        probe.shape[0][0] = 4000;
        tg_tensor *t = op_case_input(&probe, 0, rng);
        cr_assert_not_null(t, "%s", tg_last_error());
        const double *v = tg_data_f64(t);
        for (int e = 0; e < 4000; e++) {
            cr_expect(v[e] >= r->lo && v[e] < r->hi, "%s: %g outside [%g, %g)", row_name(i), v[e],
                      r->lo, r->hi);
            cr_expect(!(v[e] >= r->band_lo && v[e] < r->band_hi), "%s: %g inside the band",
                      row_name(i), v[e]);
        }
        tu_free(t);
        tg_rng_free(rng);
    }
    cr_expect_gt(banded, 0, "no row uses a band (relu should)");
}

Test(ops_coverage, every_op_has_a_row) {
    const op_case *rows = op_cases();
    for (int id = 1; id < tg_op_count(); id++) {
        const char *name = tg_op_name(id);
        int n_rows = 0;
        for (size_t i = 0; i < op_case_count(); i++)
            n_rows += rows[i].op && name && strcmp(rows[i].op, name) == 0;
        cr_expect_gt(n_rows, 0, "op %d (%s) has no row in tools/cases_*.c", id, name);
    }
}

// A row is marked differentiable exactly when its output carries a gradient. So an op with
// a gradient rule cannot hide behind forward-only rows, and a mask cannot claim one.
Test(ops_coverage, differentiable_flag_matches_the_op) {
    const op_case *rows = op_cases();
    for (size_t i = 0; i < op_case_count(); i++) {
        bool needs_grad = false;
        tg_tensor *out = run_forward(i, &needs_grad);
        cr_expect_not_null(out, "%s: %s", row_name(i), tg_last_error());
        tg_clear_error();
        cr_expect_eq(needs_grad, rows[i].differentiable,
                     "%s: output %s grad but the row says differentiable = %d", row_name(i),
                     needs_grad ? "requires" : "does not require", rows[i].differentiable);
        tu_free(out);
    }
    // and every op whose rows produce gradients has a differentiable row (the check above
    // makes forward-only rows of such an op fail, so this is about ops, not rows)
    for (int id = 1; id < tg_op_count(); id++) {
        const char *name = tg_op_name(id);
        int diff = 0, total = 0;
        for (size_t i = 0; i < op_case_count(); i++) {
            if (!rows[i].op || !name || strcmp(rows[i].op, name)) continue;
            total++;
            diff += rows[i].differentiable;
        }
        if (total && !diff) {
            bool needs_grad = true;
            for (size_t i = 0; i < op_case_count(); i++)
                if (rows[i].op && strcmp(rows[i].op, name) == 0) {
                    tu_free(run_forward(i, &needs_grad));
                    break;
                }
            cr_expect_not(needs_grad, "op %s is differentiable but has no differentiable row",
                          name);
        }
    }
}

// Does row i's op broadcast? Probe a same-shape binary row with its second input shrunk
// to all-ones dims: an op that broadcasts accepts it and keeps the first input's shape.
static bool probe_broadcasts(size_t i) {
    const op_case *r = &op_cases()[i];
    if (r->n_in != 2 || r->ndim[0] != r->ndim[1] || r->ndim[0] == 0) return false;
    for (int d = 0; d < r->ndim[0]; d++)
        if (r->shape[0][d] != r->shape[1][d] || r->shape[0][d] == 1) return false;
    op_case probe = *r;
    for (int d = 0; d < r->ndim[1]; d++) probe.shape[1][d] = 1;
    tg_rng *rng = tg_rng_new(3);
    tg_tensor *in[2] = {op_case_input(&probe, 0, rng), op_case_input(&probe, 1, rng)};
    tg_tape *tape = tg_tape_new();
    tg_tensor *out = r->call(tape, in, (void *)&probe);
    bool ok = out && tg_ndim(out) == r->ndim[0];
    for (int d = 0; ok && d < r->ndim[0]; d++) ok = tg_shape(out)[d] == r->shape[0][d];
    tg_clear_error();
    tg_tape_free(tape);
    tu_free(in[0]);
    tu_free(in[1]);
    tg_rng_free(rng);
    return ok;
}

// Row i uses broadcasting: some input is stretched to the output's shape.
static bool row_broadcasts(size_t i, int core_dims) {
    const op_case *r = &op_cases()[i];
    tg_tensor *out = run_forward(i, NULL);
    cr_assert_not_null(out, "%s: %s", row_name(i), tg_last_error());
    bool b = false;
    for (int k = 0; k < r->n_in; k++)
        b |= broadcasts_to(r->ndim[k], r->shape[k], tg_ndim(out), tg_shape(out), core_dims);
    tu_free(out);
    return b;
}

Test(ops_coverage, broadcasting_ops_have_a_broadcast_row) {
    const op_case *rows = op_cases();
    int core[256];
    bool bcast[256] = {false};
    cr_assert(tg_op_count() <= 256);
    for (size_t k = 0; k < sizeof broadcasting_ops / sizeof broadcasting_ops[0]; k++) {
        int id = op_id(broadcasting_ops[k].name);
        cr_expect_neq(id, 0, "'%s' in broadcasting_ops is not a registered op",
                      broadcasting_ops[k].name);
        bcast[id] = true;
        core[id] = broadcasting_ops[k].core_dims;
    }
    for (size_t i = 0; i < op_case_count(); i++) {
        int id = op_id(rows[i].op);
        if (!bcast[id] && probe_broadcasts(i)) {
            bcast[id] = true;
            core[id] = 0;
        }
    }
    cr_expect(bcast[op_id("tg_add")], "the probe no longer recognises tg_add");
    for (int id = 1; id < tg_op_count(); id++) {
        if (!bcast[id]) continue;
        const char *name = tg_op_name(id);
        bool has_diff = false, found = false;
        for (size_t i = 0; i < op_case_count(); i++)
            has_diff |= rows[i].op && strcmp(rows[i].op, name) == 0 && rows[i].differentiable;
        // differentiable ops need a gradchecked broadcasting row, masks any broadcasting row
        for (size_t i = 0; i < op_case_count() && !found; i++)
            if (rows[i].op && strcmp(rows[i].op, name) == 0 && rows[i].differentiable == has_diff)
                found = row_broadcasts(i, core[id]);
        cr_expect(found, "op %s broadcasts but no %srow uses broadcasting", name,
                  has_diff ? "differentiable " : "");
    }
}

// ---- the runner itself ----

static tg_tensor *call_wrong_rule(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_mul(t, in[0], tg_detach(t, in[0]));  // analytic x, numeric 2x
}

// op_case_run must fail a row whose analytic gradient is wrong (so passing means something).
Test(ops_coverage, runner_catches_a_wrong_gradient) {
    op_case bad = {.op = "tg_mul",
                   .label = "wrong on purpose",
                   .n_in = 1,
                   .ndim = {1},
                   .shape = {{3}},
                   .lo = 0.5,
                   .hi = 2,
                   .call = call_wrong_rule,
                   .differentiable = true};
    tg_gradcheck_report rep;
    cr_expect_eq(op_case_run(&bad, 1, &rep), TG_ERR_NUMERIC, "status: %s", tg_last_error());
    tu_expect_error("tg_gradcheck", "input 0");
    cr_expect_eq(rep.fail_input, 0);
    cr_expect_gt(rep.max_abs_err, 0.5);
}

static tg_tensor *call_bad_shapes(tg_tape *t, tg_tensor *const *in, void *row) {
    (void)row;
    return tg_add(t, in[0], in[1]);
}

// A row whose call fails reports the op's error, for forward-only rows as well.
Test(ops_coverage, runner_reports_op_errors) {
    op_case bad = {.op = "tg_add",
                   .label = "bad shapes",
                   .n_in = 2,
                   .ndim = {1, 1},
                   .shape = {{3}, {4}},
                   .lo = -1,
                   .hi = 1,
                   .call = call_bad_shapes,
                   .differentiable = true};
    cr_expect_eq(op_case_run(&bad, 1, NULL), TG_ERR_SHAPE);
    tu_expect_error("tg_add", "[3]");
    tg_clear_error();
    bad.differentiable = false;
    cr_expect_eq(op_case_run(&bad, 1, NULL), TG_ERR_SHAPE);
    tu_expect_error("tg_add", "[4]");
}

// ---- gradcheck of every row ----

// Indices, never pointers: the parameters are copied into a worker process (STYLE.md).
// Each parameter is the first of a run of tu_cases_per_run() rows (one by default).
ParameterizedTestParameters(ops_coverage, gradcheck) {
    size_t runs, *starts = tu_run_starts(op_case_count(), &runs);
    return cr_make_param_array(size_t, starts, runs, tu_free_run_starts);
}

ParameterizedTest(size_t *idx, ops_coverage, gradcheck) {
    cr_assert_lt(*idx, op_case_count());
    for (size_t i = *idx; i < tu_run_end(*idx, op_case_count()); i++) {
        tg_clear_error();
        const op_case *row = &op_cases()[i];
        tg_gradcheck_report rep;
        int st = op_case_run(row, 1000 + i, &rep);
        cr_assert_eq(st, TG_OK, "%s: %s", row_name(i), tg_last_error());
        if (row->differentiable)
            cr_expect_gt(rep.n_checked, 0, "%s: gradcheck compared nothing", row_name(i));
    }
}

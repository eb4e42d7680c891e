// Tests for core/dot.c: names, scopes as clusters, the loss marked, stable ids (the same
// program writes the same DOT, byte for byte), and write errors reported.
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

// A two-layer graph in scopes "0" and "1", with a named weight.
static char *two_layers(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tu_f64(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}, false);
    tg_tensor *w = tu_f64(2, (int64_t[]){3, 2}, (double[]){1, 0, 0, 1, 1, 1}, true);
    tg_tensor *v = tu_f64(2, (int64_t[]){2, 1}, (double[]){1, -1}, true);
    cr_assert_eq(tg_tensor_set_name(w, "0.weight"), TG_OK);
    cr_expect_str_eq(tg_tensor_name(w), "0.weight");
    cr_assert_eq(tg_tape_push_scope(tape, "0: Linear"), TG_OK);
    tg_tensor *h = tg_relu(tape, tg_matmul(tape, x, w));
    cr_assert_eq(tg_tape_pop_scope(tape), TG_OK);
    cr_assert_eq(tg_tape_push_scope(tape, "1: Linear"), TG_OK);
    tg_tensor *y = tg_matmul(tape, h, v);
    cr_assert_eq(tg_tape_pop_scope(tape), TG_OK);
    cr_assert_not_null(tg_sum(tape, y));
    char *dot = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dot, &len);
    cr_assert_eq(tg_tape_dot(tape, f), TG_OK, "%s", tg_last_error());
    fclose(f);
    tg_tape_free(tape);
    tg_free(x), tg_free(w), tg_free(v);
    return dot;
}

Test(dot, names_scopes_loss_and_stable_ids) {
    tg_clear_error();
    char *a = two_layers(), *b = two_layers();
    cr_expect_str_eq(a, b, "two runs must write the same DOT");
    const char *want =
        "digraph tapegrad {\n"
        "  rankdir=TB;\n"
        "  node [fontname=\"monospace\"];\n"
        "  n3 [shape=box, peripheries=2, style=bold, label=\"#3 tg_sum_axes\\n[] f64\\nloss\"];\n"
        "  subgraph cluster_0 {\n"
        "    label=\"0: Linear\";\n"
        "    p0 [shape=ellipse, label=\"const\\n[2,3] f64\"];\n"
        "    p1 [shape=ellipse, style=filled, fillcolor=lightblue, label=\"0.weight\\n[3,2] f64\"];\n"
        "    n0 [shape=box, label=\"#0 tg_matmul\\n[2,2] f64\"];\n"
        "    n1 [shape=box, label=\"#1 tg_relu\\n[2,2] f64\"];\n"
        "  }\n"
        "  subgraph cluster_1 {\n"
        "    label=\"1: Linear\";\n"
        "    p2 [shape=ellipse, style=filled, fillcolor=lightblue, label=\"param\\n[2,1] f64\"];\n"
        "    n2 [shape=box, label=\"#2 tg_matmul\\n[2,1] f64\"];\n"
        "  }\n"
        "  p0 -> n0;\n"
        "  p1 -> n0;\n"
        "  n0 -> n1;\n"
        "  n1 -> n2;\n"
        "  p2 -> n2;\n"
        "  n2 -> n3;\n"
        "}\n";
    cr_expect_str_eq(a, want);
    free(a), free(b);
}

Test(dot, scope_and_name_misuse) {
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    cr_expect_eq(tg_tape_pop_scope(tape), TG_ERR_STATE);
    tu_expect_error("tg_tape_pop_scope", "no scope");
    tg_clear_error();
    cr_expect_eq(tg_tape_push_scope(tape, NULL), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_tensor *p = tu_f64(1, (int64_t[]){2}, (double[]){1, 2}, true);
    tg_tensor *s = tg_neg(tape, p);
    cr_expect_eq(tg_tensor_set_name(s, "x"), TG_ERR_STATE);
    tu_expect_error("tg_tensor_set_name", "step");
    tg_clear_error();
    cr_expect_eq(tg_tensor_set_name(p, NULL), TG_OK);
    cr_expect_null(tg_tensor_name(p));
    // write errors are reported
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        cr_expect_eq(tg_tape_dot(tape, full), TG_ERR_IO);
        fclose(full);
    }
    tg_tape_free(tape);
    tg_free(p);
}

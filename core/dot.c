// tg_tape_dot: the recorded graph as Graphviz DOT. Nodes are boxes (op, shape, dtype);
// leaves are ellipses, parameters (requires_grad leaves) filled.
#include <stdio.h>

#include "core/internal.h"

static void leaf(FILE *f, const tg_tensor *t) {
    char s[160];
    fprintf(f, "  t%p [shape=ellipse%s, label=\"%s\\n%s %s\"];\n", (const void *)t,
            t->requires_grad ? ", style=filled, fillcolor=lightblue" : "",
            t->requires_grad ? "param" : (t->is_step ? "step" : "const"),
            tg__shape_str(s, sizeof s, t->ndim, t->shape), tg_dtype_name(t->dtype));
}

int tg_tape_dot(const tg_tape *tape, FILE *f) {
    if (!tape || !f) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_tape_dot", "%s is NULL", tape ? "file" : "tape");
        return TG_ERR_INVALID_ARG;
    }
    fprintf(f, "digraph tapegrad {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n");
    for (int64_t i = 0; i < tape->n_nodes; i++) {
        const tg_node *n = &tape->nodes[i];
        char s[160];
        fprintf(f, "  n%lld [shape=box, label=\"#%lld %s\\n%s %s\"];\n", (long long)i,
                (long long)i, n->def->name,
                tg__shape_str(s, sizeof s, n->out->ndim, n->out->shape),
                tg_dtype_name(n->out->dtype));
        for (int k = 0; k < n->n_in; k++) {
            const tg_tensor *x = tg__node_input(n, k);
            if (x->node >= 0 && x->tape == tape) {
                fprintf(f, "  n%lld -> n%lld;\n", (long long)x->node, (long long)i);
            } else {
                leaf(f, x);   // a leaf used twice is declared twice: DOT merges them
                fprintf(f, "  t%p -> n%lld;\n", (const void *)x, (long long)i);
            }
        }
    }
    fprintf(f, "}\n");
    return ferror(f) ? TG_ERR_IO : TG_OK;
}

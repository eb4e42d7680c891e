// tg_tape_dot: the recorded graph as Graphviz DOT, top to bottom. Nodes are boxes (index,
// op, shape, dtype) inside nested clusters for their scopes; leaves are ellipses (named
// tensors by name, parameters filled); outputs nothing consumes are marked, a one-element
// one as the loss. Ids are stable: n<node index>, p<pin index> (persistent tensors, in
// order of first use), s<step index> (step tensors no node made).
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

typedef struct {
    const tg_tape *tape;
    FILE *f;
    bool *used;          // [n_nodes]: some later node reads node i's output
    int32_t *leaf_scope; // [n_pinned + n_steps]: scope of the first node that reads the leaf
    bool *leaf_done;     // [n_pinned + n_steps]: declared
} dot_ctx;

// A stable index for a leaf input: its pin slot, or n_pinned + its step index.
static int64_t leaf_index(const tg_tape *tape, const tg_tensor *x) {
    if (!x->is_step) {
        const struct tg_pin *e = tg__pin_find(tape, x);
        return e ? e - tape->pinned : -1;
    }
    for (int64_t j = 0; j < tape->n_steps; j++)
        if (tape->steps[j] == x) return tape->n_pinned + j;
    return -1;
}

static void leaf_id(char *buf, size_t size, const tg_tape *tape, int64_t k) {
    if (k < tape->n_pinned) snprintf(buf, size, "p%lld", (long long)k);
    else snprintf(buf, size, "s%lld", (long long)(k - tape->n_pinned));
}

static const tg_tensor *leaf_at(const tg_tape *tape, int64_t k) {
    return k < tape->n_pinned ? tape->pinned[k].t : tape->steps[k - tape->n_pinned];
}

static void declare_leaf(dot_ctx *c, int64_t k, const char *indent) {
    const tg_tensor *t = leaf_at(c->tape, k);
    char id[32], s[160];
    leaf_id(id, sizeof id, c->tape, k);
    const char *what = t->name ? t->name
                       : t->requires_grad ? "param"
                       : t->is_step ? "step" : "const";
    fprintf(c->f, "%s%s [shape=ellipse%s, label=\"%s\\n%s %s\"];\n", indent, id,
            t->requires_grad ? ", style=filled, fillcolor=lightblue" : "", what,
            tg__shape_str(s, sizeof s, t->ndim, t->shape), tg_dtype_name(t->dtype));
    c->leaf_done[k] = true;
}

static void declare_node(dot_ctx *c, int64_t i, const char *indent) {
    const tg_node *n = &c->tape->nodes[i];
    char s[160];
    const char *mark = "", *style = "shape=box";
    if (!c->used[i]) {
        mark = n->out->numel == 1 ? "\\nloss" : "\\noutput";
        style = "shape=box, peripheries=2, style=bold";
    }
    fprintf(c->f, "%sn%lld [%s, label=\"#%lld %s\\n%s %s%s\"];\n", indent, (long long)i, style,
            (long long)i, n->def->name,
            tg__shape_str(s, sizeof s, n->out->ndim, n->out->shape), tg_dtype_name(n->out->dtype),
            mark);
}

// The nodes and first-used leaves of scope sc (-1: top level), then its child scopes.
static void emit_scope(dot_ctx *c, int32_t sc, int depth) {
    const tg_tape *tape = c->tape;
    char indent[40];
    int w = depth < 18 ? depth + 1 : 19;
    memset(indent, ' ', (size_t)(2 * w));
    indent[2 * w] = '\0';
    if (sc >= 0)
        fprintf(c->f, "%.*ssubgraph cluster_%d {\n%slabel=\"%s\";\n", 2 * w - 2, indent,
                (int)sc, indent, tape->scopes[sc].name);
    int64_t n_leaves = tape->n_pinned + tape->n_steps;
    for (int64_t k = 0; k < n_leaves; k++)
        if (!c->leaf_done[k] && c->leaf_scope[k] == sc) declare_leaf(c, k, indent);
    for (int64_t i = 0; i < tape->n_nodes; i++)
        if (tape->nodes[i].scope == sc) declare_node(c, i, indent);
    for (int32_t child = 0; child < tape->n_scopes; child++)
        if (tape->scopes[child].parent == sc) emit_scope(c, child, depth + 1);
    if (sc >= 0) fprintf(c->f, "%.*s}\n", 2 * w - 2, indent);
}

// Marks consumed outputs and where each leaf is first read.
static void scan(dot_ctx *c) {
    const tg_tape *tape = c->tape;
    int64_t n_leaves = tape->n_pinned + tape->n_steps;
    for (int64_t k = 0; k < n_leaves; k++) c->leaf_scope[k] = INT32_MIN;
    for (int64_t i = 0; i < tape->n_nodes; i++) {
        const tg_node *n = &tape->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            const tg_tensor *x = tg__node_input(n, k);
            if (x->node >= 0 && x->tape == tape) {
                c->used[x->node] = true;
                continue;
            }
            int64_t li = leaf_index(tape, x);
            if (li >= 0 && c->leaf_scope[li] == INT32_MIN) c->leaf_scope[li] = n->scope;
        }
    }
}

static void emit_edges(dot_ctx *c) {
    const tg_tape *tape = c->tape;
    for (int64_t i = 0; i < tape->n_nodes; i++) {
        const tg_node *n = &tape->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            const tg_tensor *x = tg__node_input(n, k);
            char id[32];
            if (x->node >= 0 && x->tape == tape) {
                snprintf(id, sizeof id, "n%lld", (long long)x->node);
            } else {
                int64_t li = leaf_index(tape, x);
                if (li < 0) continue;   // not pinned: cannot happen for recorded inputs
                leaf_id(id, sizeof id, tape, li);
            }
            fprintf(c->f, "  %s -> n%lld;\n", id, (long long)i);
        }
    }
}

int tg_tape_dot(const tg_tape *tape, FILE *f) {
    if (!tape || !f) {
        tg__fail(TG_ERR_INVALID_ARG, "tg_tape_dot", "%s is NULL", tape ? "file" : "tape");
        return TG_ERR_INVALID_ARG;
    }
    int64_t n_leaves = tape->n_pinned + tape->n_steps;
    dot_ctx c = {.tape = tape, .f = f};
    c.used = tg__calloc((size_t)tape->n_nodes + 1, sizeof *c.used);
    c.leaf_scope = tg__calloc((size_t)n_leaves + 1, sizeof *c.leaf_scope);
    c.leaf_done = tg__calloc((size_t)n_leaves + 1, sizeof *c.leaf_done);
    int st = TG_OK;
    if (!c.used || !c.leaf_scope || !c.leaf_done) {
        tg__fail(TG_ERR_OOM, "tg_tape_dot", "out of memory");
        st = TG_ERR_OOM;
    } else {
        scan(&c);
        fprintf(f, "digraph tapegrad {\n  rankdir=TB;\n  node [fontname=\"monospace\"];\n");
        emit_scope(&c, -1, 0);
        emit_edges(&c);
        fprintf(f, "}\n");
        if (fflush(f) || ferror(f)) {
            tg__fail(TG_ERR_IO, "tg_tape_dot", "write failed");
            st = TG_ERR_IO;
        }
    }
    tg__free(c.used);
    tg__free(c.leaf_scope);
    tg__free(c.leaf_done);
    return st;
}

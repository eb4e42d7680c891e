// Modules of one's own (tg_module_new): the residual MLP of examples/residual_model.h against
// its PyTorch twin (tests/fixtures/gen_residual.py: weights, logits, loss and every gradient,
// f64, 1e-10), its checkpoint loaded by PyTorch with strict=True, nested state-dict names,
// use inside containers, train/eval, moving, the summary, user state, gradcheck, bad input.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <tapegrad/tapegrad.h>

#include "examples/residual_model.h"
#include "test_util.h"

#define RES_REF TG_FIXTURES "/residual_torch.txt"
#define RES_CKPT TG_FIXTURES "/residual_tiny.safetensors"

TestSuite(user_module, .init = tg_clear_error);

// ---- the fixture ----

typedef struct rec {
    char key[16], name[96];
    int64_t shape[8];
    int ndim;
    int64_t n;
    double v[256];
} rec;

// "key [name] NDIM dims... values..." ("labels N values", "loss VALUE").
static bool parse_rec(const char *line, rec *r) {
    int used;
    if (sscanf(line, "%15s%n", r->key, &used) != 1) return false;
    const char *p = line + used;
    char *end;
    r->name[0] = '\0';
    if (!strcmp(r->key, "grad") && sscanf(p, " %95s%n", r->name, &used) == 1) p += used;
    r->ndim = !strcmp(r->key, "loss") ? 0 : !strcmp(r->key, "labels") ? 1 : -1;
    if (r->ndim < 0) {
        r->ndim = (int)strtol(p, &end, 10);
        p = end;
    }
    r->n = 1;
    for (int d = 0; d < r->ndim && d < 8; d++) {
        r->shape[d] = strtoll(p, &end, 10);
        p = end;
        r->n *= r->shape[d];
    }
    for (int64_t i = 0; i < r->n && i < 256; i++) {
        r->v[i] = strtod(p, &end);
        if (end == p) return false;
        p = end;
    }
    return r->n <= 256;
}

typedef struct ref {
    rec x, labels, logits, loss, grads[32];
    int n_grads;
} ref;

static ref *load_ref(void) {
    FILE *f = fopen(RES_REF, "r");
    cr_assert_not_null(f, "cannot open %s (run tests/fixtures/gen_residual.py)", RES_REF);
    ref *g = calloc(1, sizeof *g);
    char line[8192];
    rec r;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || !strncmp(line, "config", 6)) continue;
        cr_assert(parse_rec(line, &r), "bad fixture line: %.60s", line);
        if (!strcmp(r.key, "x")) g->x = r;
        if (!strcmp(r.key, "labels")) g->labels = r;
        if (!strcmp(r.key, "logits")) g->logits = r;
        if (!strcmp(r.key, "loss")) g->loss = r;
        if (!strcmp(r.key, "grad") && g->n_grads < 32) g->grads[g->n_grads++] = r;
    }
    fclose(f);
    return g;
}

static tg_module *tiny_model(tg_rng *rng) {
    tg_module *m = residual_mlp(tu_cpu(), TG_F64, 5, 6, 8, 2, 3, rng);
    cr_assert_not_null(m, "%s", tg_last_error());
    return m;
}

static double rel_err(const double *got, const double *want, int64_t n) {
    double num = 0, den = 1e-300;
    for (int64_t i = 0; i < n; i++) {
        num = fmax(num, fabs(got[i] - want[i]));
        den = fmax(den, fabs(want[i]));
    }
    return num / den;
}

// ---- PyTorch parity ----

// Same weights (the fixture's state dict, loaded strictly), same input: the logits, the loss
// and the gradient of every parameter agree with torch's to 1e-10 relative.
Test(user_module, matches_pytorch) {
    ref *g = load_ref();
    tg_rng *rng = tg_rng_new(1);
    tg_module *m = tiny_model(rng);
    cr_assert_eq(tg_load_safetensors(m, RES_CKPT), TG_OK, "%s", tg_last_error());
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_from(tu_cpu(), TG_F64, 2, g->x.shape, g->x.v);
    tg_tensor *y = tg_tensor_from(tu_cpu(), TG_F64, 1, g->labels.shape, g->labels.v);
    tg_tensor *logits = tg_module_forward(m, tape, x);
    tg_tensor *loss = tg_cross_entropy(tape, logits, y, NULL, TG_REDUCE_MEAN);
    cr_assert_not_null(loss, "%s", tg_last_error());
    cr_expect_leq(rel_err(tg_data_f64(logits), g->logits.v, g->logits.n), 1e-10);
    cr_expect_leq(fabs(tg_item(loss) - g->loss.v[0]), 1e-10 * fabs(g->loss.v[0]));
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_module_n_params(m), g->n_grads, "torch has %d parameters", g->n_grads);
    for (int k = 0; k < g->n_grads; k++) {
        tg_tensor *p = tg_module_get(m, g->grads[k].name);
        cr_assert_not_null(p, "%s", tg_last_error());
        cr_expect_eq(tg_numel(p), g->grads[k].n, "%s", g->grads[k].name);
        cr_expect_leq(rel_err(tg_data_f64(tg_grad_of(p)), g->grads[k].v, g->grads[k].n), 1e-10,
                      "gradient of %s", g->grads[k].name);
    }
    tg_tape_free(tape);
    tg_free_many(2, (tg_tensor *[]){x, y});
    cr_assert_eq(tg_module_free(m), TG_OK, "%s", tg_last_error());
    tg_rng_free(rng);
    free(g);
}

// tapegrad's own checkpoint of the model loads into the PyTorch model with strict=True and
// gives the same logits (skipped where python3-torch is missing).
Test(user_module, checkpoint_loads_in_pytorch_strict) {
    ref *g = load_ref();
    tg_rng *rng = tg_rng_new(3);
    tg_module *m = tiny_model(rng);   // its own random weights, not the fixture's
    char dir[] = "/tmp/tg-resid-XXXXXX", ckpt[64], out[64], cmd[512], text[1024] = "";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    snprintf(out, sizeof out, "%s/ref.txt", dir);
    cr_assert_eq(tg_save_safetensors(m, ckpt), TG_OK, "%s", tg_last_error());
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_from(tu_cpu(), TG_F64, 2, g->x.shape, g->x.v);
    tg_tensor *logits = tg_module_forward(m, tape, x);
    cr_assert_not_null(logits, "%s", tg_last_error());
    FILE *f = fopen(out, "w");
    fprintf(f, "x 2 %lld %lld", (long long)g->x.shape[0], (long long)g->x.shape[1]);
    for (int64_t i = 0; i < g->x.n; i++) fprintf(f, " %.17g", g->x.v[i]);
    fprintf(f, "\nlogits 2 %lld %lld", (long long)tg_shape(logits)[0],
            (long long)tg_shape(logits)[1]);
    for (int64_t i = 0; i < tg_numel(logits); i++) fprintf(f, " %.17g", tg_data_f64(logits)[i]);
    fprintf(f, "\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/gen_residual.py --load %s %s 2>&1",
             TG_FIXTURES, ckpt, out);
    FILE *p = popen(cmd, "r");
    size_t got = p ? fread(text, 1, sizeof text - 1, p) : 0;
    text[got] = '\0';
    int st = p ? pclose(p) : -1;
    tg_tape_free(tape);
    tg_free(x);
    tg_module_free(m);
    tg_rng_free(rng);
    free(g);
    remove(ckpt);
    remove(out);
    remove(dir);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) cr_skip_test("python3 with torch unavailable");
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "gen_residual.py --load: %s", text);
}

// ---- structure ----

Test(user_module, nested_state_dict_names) {
    tg_rng *rng = tg_rng_new(1);
    tg_module *m = tiny_model(rng);
    const char *want[] = {"stem.weight", "stem.bias", "blocks.0.gamma", "blocks.0.norm.weight",
                          "blocks.0.norm.bias", "blocks.0.fc1.weight", "blocks.0.fc1.bias",
                          "blocks.0.fc2.weight", "blocks.0.fc2.bias", "blocks.1.gamma"};
    cr_assert_eq(tg_module_n_params(m), 2 + 2 * 7 + 2);
    for (int i = 0; i < 10; i++) cr_expect_str_eq(tg_module_param_name(m, i), want[i]);
    cr_expect_str_eq(tg_module_param_name(m, 17), "head.bias");
    cr_assert_eq(tg_module_n_buffers(m), 1);
    cr_expect_str_eq(tg_module_buffer_name(m, 0), "x_mean");
    cr_expect_eq(tg_module_get(m, "blocks.1.fc2.weight"), tg_module_param(m, 14));
    tg_module *blocks = tg_module_get_child(m, "blocks");
    cr_assert_not_null(blocks);
    cr_expect_str_eq(tg_module_name(tg_module_get_child(blocks, "1")), "ResidualBlock");
    cr_expect_eq(tg_module_param_count(m), 5 * 6 + 6 + 2 * (6 + 12 + 48 + 8 + 48 + 6) + 18 + 3);
    tg_module_free(m);
    tg_rng_free(rng);
}

// Inside tg_sequential: names nest one level more; train/eval reach every part; moving and
// the summary work; a checkpoint round-trips.
Test(user_module, in_a_container) {
    tg_rng *rng = tg_rng_new(2);
    tg_module *seq = tg_sequential(2, (tg_module *[]){tiny_model(rng), tg_relu_layer()});
    cr_assert_not_null(seq, "%s", tg_last_error());
    cr_expect_str_eq(tg_module_param_name(seq, 2), "0.blocks.0.gamma");
    cr_expect_str_eq(tg_module_buffer_name(seq, 0), "0.x_mean");
    tg_module_train(seq, false);
    tg_module *block = tg_module_get_child(tg_module_get_child(tg_module_get_child(seq, "0"),
                                                               "blocks"), "0");
    cr_expect_not(tg_module_is_training(block));
    cr_expect_not(tg_module_is_training(tg_module_get_child(block, "fc1")));
    cr_expect_eq(tg_module_to(seq, tu_cpu()), TG_OK, "%s", tg_last_error());
    cr_expect(tg_requires_grad(tg_module_get(seq, "0.blocks.1.gamma")));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_expect_eq(tg_module_summary(seq, 2, (int64_t[]){4, 5}, TG_F64, f), TG_OK, "%s",
                 tg_last_error());
    fclose(f);
    cr_expect(strstr(text, "ResidualMLP") && strstr(text, "[4, 3]"), "%s", text);
    free(text);
    char dir[] = "/tmp/tg-seq-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/seq.safetensors", dir);
    cr_expect_eq(tg_save_safetensors(seq, path), TG_OK, "%s", tg_last_error());
    tg_module *twin = tg_sequential(2, (tg_module *[]){tiny_model(rng), tg_relu_layer()});
    cr_expect_eq(tg_load_safetensors(twin, path), TG_OK, "%s", tg_last_error());
    tg_tensor *a = tg_module_get(seq, "0.head.weight"), *b = tg_module_get(twin, "0.head.weight");
    cr_expect_eq(memcmp(tg_data_f64(a), tg_data_f64(b), 18 * sizeof(double)), 0);
    remove(path);
    remove(dir);
    tg_module_free(twin);
    tg_module_free(seq);
    tg_rng_free(rng);
}

static int freed;
static void count_free(void *state) { freed += *(int *)state; }

static tg_tensor *scale_forward(tg_module *self, tg_tape *tape, tg_tensor *x) {
    return tg_mul(tape, x, tg_module_get(self, "w"));
}

// The user's state is reachable and freed once with the module (not when tg_module_new
// fails); a container's free reaches it too.
Test(user_module, user_state) {
    static int one = 1;
    freed = 0;
    tg_module_def def = {.type = "Scale", .forward = scale_forward, .state = &one,
                         .free_state = count_free};
    tg_module *m = tg_module_new(&def);
    cr_assert_not_null(m, "%s", tg_last_error());
    cr_expect_eq(tg_module_state(m), &one);
    tg_module *seq = tg_sequential(1, &m);
    cr_expect_eq(tg_module_free(seq), TG_OK);
    cr_expect_eq(freed, 1);
    tg_module_def bad = {.type = "Scale", .state = &one, .free_state = count_free};
    cr_expect_null(tg_module_new(&bad));
    cr_expect_eq(freed, 1, "a failed tg_module_new leaves the state alone");
    tg_clear_error();
    cr_expect_null(tg_module_state(seq = tg_relu_layer()));
    tu_expect_error("tg_module_state", "built-in");
    tg_clear_error();
    tg_module_free(seq);
}

// Gradients through a module of one's own agree with finite differences (f64).
static tg_tensor *through_block(tg_tape *tape, tg_tensor *const *in, void *user) {
    return tg_sum(tape, tg_module_forward((tg_module *)user, tape, in[0]));
}

Test(user_module, gradcheck) {
    tg_rng *rng = tg_rng_new(4);
    tg_module *block = residual_block(tu_cpu(), TG_F64, 3, 5, rng);
    cr_assert_not_null(block, "%s", tg_last_error());
    tg_tensor *x = tg_param(tu_cpu(), TG_F64, 2, (int64_t[]){2, 3}, NULL);
    tg_normal_(x, rng, 0, 1);
    cr_expect_eq(tg_gradcheck(through_block, block, 1, &x, NULL, NULL), TG_OK, "%s",
                 tg_last_error());
    tg_free(x);
    tg_module_free(block);
    tg_rng_free(rng);
}

// ---- bad input ----

Test(user_module, bad_parts) {
    tg_module_def def = {.type = "Mine", .forward = scale_forward};
    tg_rng *rng = tg_rng_new(5);
    tg_module *m = tg_module_new(&def), *lin = tg_linear(tu_cpu(), TG_F64, 2, 2, true, rng);
    tg_tensor *w = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){2});
    cr_assert(m && lin && w, "%s", tg_last_error());
    cr_expect_eq(tg_module_add_param(m, "w", w), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_module_add_param(m, "w2", w), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_module_add_param", "already its 'w'");
    tg_clear_error();
    tg_tensor *v = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){2});
    cr_expect_eq(tg_module_add_buffer(m, "w", v), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_module_add_buffer", "already has a part named 'w'");
    tg_clear_error();
    cr_expect_eq(tg_module_add_buffer(m, "a.b", v), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_module_add_buffer", "bad part name 'a.b'");
    tg_clear_error();
    cr_expect_eq(tg_module_add_param(lin, "extra", v), TG_ERR_INVALID_ARG);
    tu_expect_error("tg_module_add_param", "built-in");
    tg_clear_error();
    cr_expect_eq(tg_module_add_child(m, "self", m), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *step = tg_add(tape, v, v);
    cr_expect_eq(tg_module_add_param(m, "step", step), TG_ERR_STATE);
    tu_expect_error("tg_module_add_param", "step tensor");
    tg_clear_error();
    tg_tape_free(tape);
    cr_expect_eq(tg_module_add_child(m, "lin", lin), TG_OK, "%s", tg_last_error());
    tg_module *seq = tg_sequential(1, &m);
    cr_expect_eq(tg_module_add_buffer(m, "late", v), TG_ERR_STATE);
    tu_expect_error("tg_module_add_buffer", "inside a container");
    tg_clear_error();
    cr_expect_eq(tg_module_free(m), TG_ERR_STATE, "a child is freed with its container");
    tg_clear_error();
    cr_expect_eq(tg_module_free(seq), TG_OK, "%s", tg_last_error());
    tg_free(v);
    cr_expect_null(tg_module_new(NULL));
    tu_expect_error("tg_module_new", "NULL");
    tg_clear_error();
    tg_rng_free(rng);
}

// ---- the graph picture ----

// tg_tape_dot of a module's forward: one cluster per module labelled by its path and type,
// parameters named by their state-dict names, the loss marked, stable ids (the Linear and
// the ReLU after it are one tg_addmm_relu node, in the Linear's cluster): the golden file
// tests/fixtures/mlp_graph.dot (regenerate by printing `text` when the format changes).
Test(user_module, dot_golden) {
    tg_backend *be = tu_cpu();
    tg_rng *rng = tg_rng_new(1);
    tg_module *net = tg_sequential(3, (tg_module *[]){tg_linear(be, TG_F32, 2, 4, true, rng),
                                                      tg_relu_layer(),
                                                      tg_linear(be, TG_F32, 4, 2, true, rng)});
    tg_tensor *x = tg_tensor_new(be, TG_F32, 2, (int64_t[]){3, 2});
    tg_tensor *y = tg_tensor_new(be, TG_F32, 1, (int64_t[]){3});
    cr_assert(net && x && y, "%s", tg_last_error());
    tg_tensor_set_name(x, "x");
    tg_tensor_set_name(y, "labels");
    tg_fill_(x, 0.5);
    tg_fill_(y, 1);
    tg_tape *tape = tg_tape_new();
    tg_tensor *loss = tg_cross_entropy(tape, tg_module_forward(net, tape, x), y, NULL,
                                       TG_REDUCE_MEAN);
    cr_assert_not_null(loss, "%s", tg_last_error());
    char *text = NULL, want[4096];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(tg_tape_dot(tape, f), TG_OK, "%s", tg_last_error());
    fclose(f);
    FILE *g = fopen(TG_FIXTURES "/mlp_graph.dot", "r");
    cr_assert_not_null(g);
    size_t n = fread(want, 1, sizeof want - 1, g);
    want[n] = '\0';
    fclose(g);
    cr_expect_str_eq(text, want);
    free(text);
    tg_tape_free(tape);
    tg_free_many(2, (tg_tensor *[]){x, y});
    tg_module_free(net);
    tg_rng_free(rng);
}

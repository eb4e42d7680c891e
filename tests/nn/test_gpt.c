// Tests for the transformer modules (nn/transformer.c) against PyTorch: the GPT of
// tests/fixtures/gen_gpt.py (nanoGPT's model, head tied to the embedding) loaded from its
// f64 checkpoint gives torch's logits, loss and every parameter's gradient to 1e-10
// relative; a tapegrad checkpoint loads into the torch model with strict=True and gives
// tapegrad's logits; names follow nanoGPT's state dict; bad configurations and inputs fail
// with the layer's name; a training step allocates nothing once warm; eval mode is
// deterministic and dropout in training is not.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn_util.h"

TestSuite(gpt, .init = tg_clear_error);

#define GPT_CKPT TG_FIXTURES "/gpt_tiny.safetensors"
#define GPT_REF TG_FIXTURES "/gpt_torch.txt"

// ---- the fixture (format in gen_gpt.py) ----

typedef struct ref_line {
    char key[16], name[96];
    int ndim;
    int64_t shape[8], n;
    double *v;
} ref_line;

// Parses one "key [name] ..." record; tokens/targets lines carry "B T ids".
static bool parse_ref(char *line, ref_line *r) {
    char *p = line, *end;
    if (sscanf(p, "%15s", r->key) != 1) return false;
    p += strlen(r->key);
    r->name[0] = '\0';
    if (!strcmp(r->key, "grad")) {
        if (sscanf(p, " %95s", r->name) != 1) return false;
        p = strstr(p, r->name) + strlen(r->name);
    }
    if (!strcmp(r->key, "tokens") || !strcmp(r->key, "targets")) {
        r->ndim = 2;
    } else if (!strcmp(r->key, "loss")) {
        r->ndim = 0;
    } else {
        r->ndim = (int)strtol(p, &end, 10);
        p = end;
    }
    r->n = 1;
    for (int d = 0; d < r->ndim; d++) {
        r->shape[d] = strtoll(p, &end, 10);
        p = end;
        r->n *= r->shape[d];
    }
    r->v = malloc((size_t)(r->n ? r->n : 1) * sizeof *r->v);
    for (int64_t i = 0; i < r->n; i++) {
        r->v[i] = strtod(p, &end);
        if (end == p) return false;
        p = end;
    }
    return true;
}

typedef struct gpt_ref {
    tg_gpt_config cfg;
    ref_line tokens, targets, logits, loss, grads[64];
    int n_grads;
} gpt_ref;

static gpt_ref *load_ref(void) {
    FILE *f = fopen(GPT_REF, "r");
    cr_assert_not_null(f, "cannot open %s (run tests/fixtures/gen_gpt.py)", GPT_REF);
    gpt_ref *g = calloc(1, sizeof *g);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '#') continue;
        if (!strncmp(line, "config", 6)) {
            long long v[5];
            cr_assert_eq(sscanf(line + 6, "%lld %lld %lld %lld %lld", v, v + 1, v + 2, v + 3, v + 4), 5);
            g->cfg = (tg_gpt_config){v[0], v[1], v[2], v[3], v[4], 0.0};
            continue;
        }
        ref_line r;
        cr_assert(parse_ref(line, &r), "malformed line in %s", GPT_REF);
        ref_line *dst = !strcmp(r.key, "tokens")    ? &g->tokens
                        : !strcmp(r.key, "targets") ? &g->targets
                        : !strcmp(r.key, "logits")  ? &g->logits
                        : !strcmp(r.key, "loss")    ? &g->loss
                                                    : &g->grads[g->n_grads++];
        cr_assert(g->n_grads <= 64);
        *dst = r;
    }
    free(line);
    fclose(f);
    cr_assert_gt(g->n_grads, 0);
    return g;
}

static void free_ref(gpt_ref *g) {
    free(g->tokens.v), free(g->targets.v), free(g->logits.v), free(g->loss.v);
    for (int i = 0; i < g->n_grads; i++) free(g->grads[i].v);
    free(g);
}

// max |got - want| <= 1e-10 * max |want| (f64 agreement of the whole array)
static void expect_rel(const char *what, const tg_tensor *t, const ref_line *want) {
    cr_assert_not_null(t, "%s: %s", what, tg_last_error());
    cr_assert_eq(tg_numel(t), want->n, "%s: numel %lld vs torch's %lld", what,
                 (long long)tg_numel(t), (long long)want->n);
    double *got = nnu_host(t), scale = 1e-300, err = 0;
    for (int64_t i = 0; i < want->n; i++) {
        scale = fmax(scale, fabs(want->v[i]));
        err = fmax(err, fabs(got[i] - want->v[i]));
    }
    cr_expect(err <= 1e-10 * scale, "%s: max difference %.3g, relative %.3g > 1e-10", what, err,
              err / scale);
    free(got);
}

static tg_module *ref_model(const gpt_ref *g, tg_rng *rng) {
    tg_module *m = tg_gpt(tu_cpu(), TG_F64, &g->cfg, rng);
    cr_assert_not_null(m, "%s", tg_last_error());
    cr_assert_eq(tg_load_safetensors(m, GPT_CKPT), TG_OK, "%s", tg_last_error());
    return m;
}

static tg_tensor *tokens_of(const ref_line *r) {
    return tu_f64(r->ndim, r->shape, r->v, false);
}

// ---- parity ----

Test(gpt, logits_loss_and_every_gradient_match_torch) {
    gpt_ref *g = load_ref();
    tg_rng *rng = tg_rng_new(1);
    tg_module *m = ref_model(g, rng);
    cr_assert_eq(tg_module_n_params(m), g->n_grads, "parameter count differs from torch's");
    tg_tensor *idx = tokens_of(&g->tokens), *tgt = tokens_of(&g->targets);
    tg_tape *tape = tg_tape_new();
    tg_tensor *logits = tg_module_forward(m, tape, idx);
    expect_rel("logits", logits, &g->logits);
    int64_t v = g->cfg.vocab_size;
    tg_tensor *loss = tg_cross_entropy(tape, tg_reshape(tape, logits, 2, (int64_t[]){-1, v}),
                                       tg_reshape(tape, tgt, 1, (int64_t[]){-1}), NULL,
                                       TG_REDUCE_MEAN);
    expect_rel("loss", loss, &g->loss);
    cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
    for (int i = 0; i < g->n_grads; i++) {
        cr_expect_str_eq(tg_module_param_name(m, i), g->grads[i].name, "parameter %d", i);
        expect_rel(g->grads[i].name, tg_grad_of(tg_module_param(m, i)), &g->grads[i]);
    }
    tg_tape_free(tape);
    tu_free(idx), tu_free(tgt);
    tg_module_free(m);
    tg_rng_free(rng);
    free_ref(g);
}

// Writes "tokens B T ids" and "logits ..." for gen_gpt.py --load.
static void write_logits(const char *path, const ref_line *tokens, const tg_tensor *logits) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "tokens %lld %lld", (long long)tokens->shape[0], (long long)tokens->shape[1]);
    for (int64_t i = 0; i < tokens->n; i++) fprintf(f, " %.0f", tokens->v[i]);
    fprintf(f, "\nlogits %d", tg_ndim(logits));
    for (int d = 0; d < tg_ndim(logits); d++) fprintf(f, " %lld", (long long)tg_shape(logits)[d]);
    double *v = nnu_host(logits);
    for (int64_t i = 0; i < tg_numel(logits); i++) fprintf(f, " %.17g", v[i]);
    fprintf(f, "\n");
    free(v);
    fclose(f);
}

// After a few AdamW steps (weights no longer the fixture's), tapegrad's checkpoint loads into
// the torch model with strict=True and reproduces tapegrad's logits.
Test(gpt, checkpoint_loads_in_torch_strict) {
    gpt_ref *g = load_ref();
    tg_rng *rng = tg_rng_new(2);
    tg_module *m = ref_model(g, rng);
    tg_tensor *params[64];
    int np = tg_module_params(m, params, 64);
    tg_optim *opt = tg_optim_new(TG_OPTIM_ADAMW, np, params, NULL);
    tg_tensor *idx = tokens_of(&g->tokens), *tgt = tokens_of(&g->targets);
    tg_tape *tape = tg_tape_new();
    for (int step = 0; step < 3; step++) {
        tg_tensor *logits = tg_module_forward(m, tape, idx);
        tg_tensor *loss = tg_cross_entropy(tape, tg_reshape(tape, logits, 2, (int64_t[]){-1, 13}),
                                           tg_reshape(tape, tgt, 1, (int64_t[]){-1}), NULL,
                                           TG_REDUCE_MEAN);
        cr_assert(loss && !tg_backward(tape, loss) && !tg_optim_step(opt), "%s", tg_last_error());
        tg_optim_zero_grad(opt);
        tg_tape_reset(tape);
    }
    char ckpt[] = "/tmp/tg_gpt_ckpt_XXXXXX", ref[] = "/tmp/tg_gpt_logits_XXXXXX";
    int fd1 = mkstemp(ckpt), fd2 = mkstemp(ref);
    cr_assert(fd1 >= 0 && fd2 >= 0);
    close(fd1), close(fd2);
    cr_assert_eq(tg_save_safetensors(m, ckpt), TG_OK, "%s", tg_last_error());
    write_logits(ref, &g->tokens, tg_module_forward(m, tape, idx));
    char cmd[1024], out[4096] = "";
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/gen_gpt.py --load %s %s 2>&1", TG_FIXTURES, ckpt,
             ref);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    unlink(ckpt), unlink(ref);
    tg_tape_free(tape);
    tu_free(idx), tu_free(tgt);
    tg_optim_free(opt);
    tg_module_free(m);
    tg_rng_free(rng);
    free_ref(g);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) cr_skip_test("python3 with torch unavailable: %s", out);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "torch could not load it: %s", out);
    cr_expect(strstr(out, "strict load ok") != NULL, "%s", out);
}

// ---- structure and errors ----

Test(gpt, names_follow_nanogpt) {
    tg_rng *rng = tg_rng_new(3);
    tg_gpt_config c = {.vocab_size = 5, .block_size = 4, .n_layer = 2, .n_head = 2, .n_embd = 8};
    tg_module *m = tg_gpt(tu_cpu(), TG_F32, &c, rng);
    cr_assert_not_null(m, "%s", tg_last_error());
    cr_expect_eq(tg_module_n_params(m), 2 + 2 * 12 + 2);
    nnu_expect_param(m, 0, "transformer.wte.weight", 2, (int64_t[]){5, 8});
    nnu_expect_param(m, 1, "transformer.wpe.weight", 2, (int64_t[]){4, 8});
    nnu_expect_param(m, 4, "transformer.h.0.attn.c_attn.weight", 2, (int64_t[]){24, 8});
    nnu_expect_param(m, 13, "transformer.h.0.mlp.c_proj.bias", 1, (int64_t[]){8});
    nnu_expect_param(m, 26, "transformer.ln_f.weight", 1, (int64_t[]){8});
    nnu_expect_param(m, 27, "transformer.ln_f.bias", 1, (int64_t[]){8});
    // nanoGPT's init: N(0, 0.02) embeddings, residual projections scaled by 1/sqrt(2 L)
    double mean, std, mx;
    tg_tensor *w64 = tg_cast(tg_module_param(m, 0), TG_F64);
    nnu_moments(w64, &mean, &std, &mx);
    cr_expect(std > 0.012 && std < 0.03, "wte std %g", std);
    tu_free(w64);
    tg_module_free(m);
    tg_rng_free(rng);
}

Test(gpt, bad_configs_and_inputs) {
    tg_rng *rng = tg_rng_new(4);
    tg_gpt_config c = {.vocab_size = 5, .block_size = 4, .n_layer = 1, .n_head = 3, .n_embd = 8};
    cr_expect_null(tg_gpt(tu_cpu(), TG_F64, &c, rng));
    tu_expect_error("tg_gpt", "n_head 3");
    tg_clear_error();
    c.n_head = 2;
    cr_expect_null(tg_gpt(tu_cpu(), TG_F64, &c, NULL));
    tu_expect_error("tg_gpt", "rng");
    tg_clear_error();
    cr_expect_null(tg_gpt(tu_cpu(), TG_F64, NULL, rng));
    tu_expect_error("tg_gpt", "config");
    tg_clear_error();
    tg_module *m = tg_gpt(tu_cpu(), TG_F64, &c, rng);
    cr_assert_not_null(m, "%s", tg_last_error());
    tg_tape *tape = tg_tape_new();
    tg_tensor *long_ctx = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){1, 5});
    cr_expect_null(tg_module_forward(m, tape, long_ctx));
    tu_expect_error("GPT(", "block_size 4");
    tg_clear_error();
    tg_tensor *x3 = tg_tensor_new(tu_cpu(), TG_F64, 3, (int64_t[]){1, 2, 8});
    cr_expect_null(tg_module_forward(m, tape, x3));
    tu_expect_error("GPT(", "3 dims");
    tg_clear_error();
    tg_tensor *bad_tok = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){1, 2});
    tg_fill_(bad_tok, 7);   // vocabulary of 5
    cr_expect_null(tg_module_forward(m, tape, bad_tok));
    tu_expect_error("Embedding", NULL);
    tg_clear_error();
    tg_tape_free(tape);
    tu_free(long_ctx), tu_free(x3), tu_free(bad_tok);
    tg_module_free(m);
    cr_expect_null(tg_causal_self_attention(tu_cpu(), TG_F64, 8, 0, 0, rng));
    tu_expect_error("tg_causal_self_attention", "n_head 0");
    tg_clear_error();
    tg_rng_free(rng);
}

// ---- modes and memory ----

static double logit0(tg_module *m, tg_tape *tape, tg_tensor *idx) {
    double v = tg_item(tg_sum(tape, tg_module_forward(m, tape, idx)));
    tg_tape_reset(tape);
    return v;
}

Test(gpt, eval_is_deterministic_and_dropout_is_not) {
    tg_rng *rng = tg_rng_new(5);
    tg_gpt_config c = {.vocab_size = 7, .block_size = 6, .n_layer = 1, .n_head = 2, .n_embd = 8,
                       .dropout = 0.3};
    tg_module *m = tg_gpt(tu_cpu(), TG_F64, &c, rng);
    tg_tensor *idx = tg_tensor_new(tu_cpu(), TG_F64, 2, (int64_t[]){2, 6});
    tg_fill_(idx, 3);
    tg_tape *tape = tg_tape_new();
    tg_module_train(m, false);
    cr_expect_eq(logit0(m, tape, idx), logit0(m, tape, idx));
    tg_module_train(m, true);
    cr_expect_neq(logit0(m, tape, idx), logit0(m, tape, idx));
    tg_tape_free(tape);
    tu_free(idx);
    tg_module_free(m);
    tg_rng_free(rng);
}

// forward, loss, backward, clip, AdamW, zero_grad, reset: nothing allocated once warm.
Test(gpt, training_step_allocates_nothing_when_warm) {
    tu_unchecked();
    tg_rng *rng = tg_rng_new(6);
    tg_gpt_config c = {.vocab_size = 11, .block_size = 16, .n_layer = 2, .n_head = 2,
                       .n_embd = 16, .dropout = 0.1};
    tg_module *m = tg_gpt(tu_cpu(), TG_F32, &c, rng);
    tg_tensor *params[64];
    int np = tg_module_params(m, params, 64);
    tg_optim *opt = tg_optim_new(TG_OPTIM_ADAMW, np, params, NULL);
    tg_tensor *idx = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){4, 16});
    tg_tensor *tgt = tg_tensor_new(tu_cpu(), TG_F32, 1, (int64_t[]){64});
    tg_fill_(idx, 2), tg_fill_(tgt, 5);
    tg_tape *tape = tg_tape_new();
    uint64_t before = 0;
    for (int step = 0; step < 6; step++) {
        if (step == 3) before = tg_alloc_count();
        tg_tensor *logits = tg_reshape(tape, tg_module_forward(m, tape, idx), 2, (int64_t[]){64, 11});
        tg_tensor *loss = tg_cross_entropy(tape, logits, tgt, NULL, TG_REDUCE_MEAN);
        cr_assert(loss && !tg_backward(tape, loss), "%s", tg_last_error());
        cr_assert_eq(tg_clip_grad_norm(tape, np, params, 1.0, NULL), TG_OK, "%s", tg_last_error());
        cr_assert_eq(tg_optim_step(opt), TG_OK, "%s", tg_last_error());
        tg_optim_zero_grad(opt);
        tg_tape_reset(tape);
    }
    cr_expect_eq(tg_alloc_count(), before, "%llu allocations in 3 warm steps",
                 (unsigned long long)(tg_alloc_count() - before));
    tg_tape_free(tape);
    tu_free(idx), tu_free(tgt);
    tg_optim_free(opt);
    tg_module_free(m);
    tg_rng_free(rng);
}

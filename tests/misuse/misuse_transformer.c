// Misuse scenarios of the transformer pieces (issue 15's ops and modules) and of the error
// context API: NULL and stale inputs, shapes that do not fit, mixed dtypes, bad options.
#include "misuse.h"

// q, k, v [B, H, T, D] = [1, 2, 3, 4] in f32.
static tg_tensor *qkv_part(void) {
    tg_tensor *t = tg_tensor_new(mu.be, TG_F32, 4, (int64_t[]){1, 2, 3, 4});
    cr_assert_not_null(t, "%s", tg_last_error());
    cr_assert_eq(tg_fill_(t, 0.25), TG_OK);
    return t;
}

Test(misuse, attention) {
    tg_tensor *q = qkv_part(), *k = qkv_part(), *v = qkv_part();
    tg_tensor *q64 = tg_cast(q, TG_F64), *short_k = tg_tensor_new(mu.be, TG_F32, 3,
                                                                    (int64_t[]){1, 2, 3});
    cr_assert_not_null(q64, "%s", tg_last_error());
    const char *fn = "tg_attention";
    tg_tape *tp = mu.tape;
    mu_null(fn, tg_attention(NULL, q, k, v, NULL), "NULL tape");
    mu_null(fn, tg_attention(tp, NULL, k, v, NULL), "NULL q");
    mu_null(fn, tg_attention(tp, q, k, NULL, NULL), "NULL v");
    mu_null(fn, tg_attention(tp, mu.stale, k, v, NULL), "stale q");
    mu_null(fn, tg_attention(tp, q64, k, v, NULL), "f64 q with f32 k, v");
    mu_null(fn, tg_attention(tp, q, short_k, v, NULL), "3-D k");
    tg_attention_opts drop = {.dropout_p = 0.5, .training = true};
    mu_null(fn, tg_attention(tp, q, k, v, &drop), "dropout without an rng");
    tg_attention_opts badp = {.dropout_p = 1.5, .training = true, .rng = mu.rng};
    mu_null(fn, tg_attention(tp, q, k, v, &badp), "dropout_p 1.5");
    tg_attention_opts nanp = {.dropout_p = NAN, .training = true, .rng = mu.rng};
    mu_null(fn, tg_attention(tp, q, k, v, &nanp), "dropout_p NaN");
    tg_attention_opts scale = {.scale = NAN};
    mu_null(fn, tg_attention(tp, q, k, v, &scale), "scale NaN");
    fn = "tg_attention_qkv";
    tg_tensor *qkv = tg_tensor_new(mu.be, TG_F32, 3, (int64_t[]){1, 3, 12});
    cr_assert_not_null(qkv, "%s", tg_last_error());
    mu_null(fn, tg_attention_qkv(NULL, qkv, 2, NULL), "NULL tape");
    mu_null(fn, tg_attention_qkv(tp, NULL, 2, NULL), "NULL qkv");
    mu_null(fn, tg_attention_qkv(tp, mu.stale, 2, NULL), "stale qkv");
    mu_null(fn, tg_attention_qkv(tp, qkv, 0, NULL), "0 heads");
    mu_null(fn, tg_attention_qkv(tp, qkv, -1, NULL), "-1 heads");
    mu_null(fn, tg_attention_qkv(tp, qkv, 3, NULL), "3 heads for C = 4");
    mu_null(fn, tg_attention_qkv(tp, mu.a, 1, NULL), "[2,3]: not [B, T, 3C]");
    tg_free_many(5, (tg_tensor *[]){q, k, v, q64, short_k});
    tg_tape_reset(tp);
    tg_free(qkv);
}

Test(misuse, layer_norm) {
    tg_tape *tp = mu.tape;
    tg_tensor *w = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){3});
    tg_tensor *w2 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){2});
    tg_tensor *w64 = tg_tensor_new(mu.be, TG_F64, 1, (int64_t[]){3});
    cr_assert(w && w2 && w64, "%s", tg_last_error());
    const char *fn = "tg_layer_norm";
    mu_null(fn, tg_layer_norm(NULL, mu.a, w, NULL, 1e-5), "NULL tape");
    mu_null(fn, tg_layer_norm(tp, NULL, w, NULL, 1e-5), "NULL x");
    mu_null(fn, tg_layer_norm(tp, mu.stale, NULL, NULL, 1e-5), "stale x");
    mu_null(fn, tg_layer_norm(tp, mu.a, w2, NULL, 1e-5), "w [2] for C = 3");
    mu_null(fn, tg_layer_norm(tp, mu.a, w64, NULL, 1e-5), "f64 w for f32 x");
    mu_null(fn, tg_layer_norm(tp, mu.a, w, w2, 1e-5), "b [2] for C = 3");
    mu_null(fn, tg_layer_norm(tp, mu.a, w, NULL, -1), "eps -1");
    mu_null(fn, tg_layer_norm(tp, mu.a, w, NULL, NAN), "eps NaN");
    fn = "tg_layer_norm_grad";
    mu_null(fn, tg_layer_norm_grad(NULL, mu.a, mu.b, w, 1e-5), "NULL tape");
    mu_null(fn, tg_layer_norm_grad(tp, NULL, mu.b, w, 1e-5), "NULL dy");
    mu_null(fn, tg_layer_norm_grad(tp, mu.a, mu.m, w, 1e-5), "dy [2,3], x [3,2]");
    mu_null(fn, tg_layer_norm_grad(tp, mu.a, mu.stale, w, 1e-5), "stale x");
    mu_null(fn, tg_layer_norm_grad(tp, mu.a, mu.b, w, NAN), "eps NaN");
    fn = "tg_batch_norm";
    tg_tensor *r3 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){3});
    tg_tensor *r2 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){2});
    cr_assert(r3 && r2, "%s", tg_last_error());
    mu_null(fn, tg_batch_norm(NULL, mu.a, w, NULL, NULL, NULL, 0.1, 1e-5), "NULL tape");
    mu_null(fn, tg_batch_norm(tp, NULL, w, NULL, NULL, NULL, 0.1, 1e-5), "NULL x");
    mu_null(fn, tg_batch_norm(tp, mu.stale, NULL, NULL, NULL, NULL, 0.1, 1e-5), "stale x");
    mu_null(fn, tg_batch_norm(tp, mu.s, NULL, NULL, NULL, NULL, 0.1, 1e-5), "0-D x");
    mu_null(fn, tg_batch_norm(tp, mu.m, w, NULL, NULL, NULL, 0.1, 1e-5), "w [3] for C = 2");
    mu_null(fn, tg_batch_norm(tp, mu.m, w2, w64, NULL, NULL, 0.1, 1e-5), "f64 b for f32 x");
    mu_null(fn, tg_batch_norm(tp, mu.m, NULL, NULL, r3, NULL, 0.1, 1e-5),
            "running_mean [3] for C = 2");
    mu_null(fn, tg_batch_norm(tp, mu.m, NULL, NULL, r2, mu.d, 0.1, 1e-5),
            "running_var [2,3] f64");
    mu_null(fn, tg_batch_norm(tp, mu.m, NULL, NULL, mu.stale, NULL, 0.1, 1e-5),
            "stale running_mean");
    mu_null(fn, tg_batch_norm(tp, mu.m, NULL, NULL, r2, r2, 1.5, 1e-5), "momentum 1.5");
    mu_null(fn, tg_batch_norm(tp, mu.m, NULL, NULL, r2, r2, NAN, 1e-5), "momentum NaN");
    mu_null(fn, tg_batch_norm(tp, mu.m, NULL, NULL, NULL, NULL, 0.1, 0), "eps 0");
    mu_null(fn, tg_batch_norm(tp, mu.m, NULL, NULL, NULL, NULL, 0.1, INFINITY), "eps inf");
    fn = "tg_batch_norm_grad";
    mu_null(fn, tg_batch_norm_grad(NULL, mu.m, mu.m, NULL, 1e-5), "NULL tape");
    mu_null(fn, tg_batch_norm_grad(tp, NULL, mu.m, NULL, 1e-5), "NULL dy");
    mu_null(fn, tg_batch_norm_grad(tp, mu.a, mu.m, NULL, 1e-5), "dy [2,3], x [3,2]");
    mu_null(fn, tg_batch_norm_grad(tp, mu.m, mu.m, w, 1e-5), "w [3] for C = 2");
    mu_null(fn, tg_batch_norm_grad(tp, mu.m, mu.stale, NULL, 1e-5), "stale x");
    mu_null(fn, tg_batch_norm_grad(tp, mu.m, mu.m, NULL, NAN), "eps NaN");
    tg_free_many(2, (tg_tensor *[]){r2, r3});
    fn = "tg_gelu_tanh_grad";
    mu_null(fn, tg_gelu_tanh_grad(NULL, mu.a, mu.b), "NULL tape");
    mu_null(fn, tg_gelu_tanh_grad(tp, NULL, mu.b), "NULL dy");
    mu_null(fn, tg_gelu_tanh_grad(tp, mu.a, mu.d), "f32 dy, f64 x");
    mu_null(fn, tg_gelu_tanh_grad(tp, mu.a, mu.m), "[2,3] with [3,2]");
    mu_null(fn, tg_gelu_tanh_grad(tp, mu.stale, mu.b), "stale dy");
    tg_tape_reset(tp);
    tg_free_many(3, (tg_tensor *[]){w, w2, w64});
}

Test(misuse, transformer_modules) {
    tg_backend *be = mu.be;
    const char *fn = "tg_causal_self_attention";
    mu_null(fn, tg_causal_self_attention(be, TG_F32, 8, 3, 0, mu.rng), "8 dims, 3 heads");
    mu_null(fn, tg_causal_self_attention(be, TG_F32, 8, 0, 0, mu.rng), "0 heads");
    mu_null(fn, tg_causal_self_attention(be, TG_F32, -8, 2, 0, mu.rng), "-8 dims");
    mu_null(fn, tg_causal_self_attention(be, TG_F32, 8, 2, 1.5, mu.rng), "dropout 1.5");
    mu_null(fn, tg_causal_self_attention(be, TG_F32, 8, 2, 0, NULL), "NULL rng");
    mu_null(fn, tg_causal_self_attention(be, (tg_dtype)7, 8, 2, 0, mu.rng), "dtype 7");
    mu_null(fn, tg_causal_self_attention(be, TG_F32, INT64_C(1) << 40, 1, 0, mu.rng),
            "2^40 dims");
    fn = "tg_mlp_block";
    mu_null(fn, tg_mlp_block(be, TG_F32, 0, 0, mu.rng), "0 dims");
    mu_null(fn, tg_mlp_block(be, TG_F32, 8, NAN, mu.rng), "dropout NaN");
    mu_null(fn, tg_mlp_block(be, TG_F32, INT64_C(1) << 40, 0, mu.rng), "2^40 dims");
    fn = "tg_transformer_block";
    mu_null(fn, tg_transformer_block(be, TG_F32, 8, 3, 0, mu.rng), "8 dims, 3 heads");
    mu_null(fn, tg_transformer_block(be, TG_F32, 8, 2, -0.5, mu.rng), "dropout -0.5");
    fn = "tg_gpt";
    tg_gpt_config ok = {.vocab_size = 11, .block_size = 4, .n_layer = 1, .n_head = 2,
                        .n_embd = 8};
    mu_null(fn, tg_gpt(be, TG_F32, NULL, mu.rng), "NULL config");
    mu_null(fn, tg_gpt(be, TG_F32, &ok, NULL), "NULL rng");
    const char *what[6] = {"vocab 0", "block 0", "0 layers", "3 heads for 8 dims",
                           "dropout 1", "vocab 2^40"};
    for (int i = 0; i < 6; i++) {
        tg_gpt_config bad = ok;
        if (i == 0) bad.vocab_size = 0;
        if (i == 1) bad.block_size = 0;
        if (i == 2) bad.n_layer = 0;
        if (i == 3) bad.n_head = 3;
        if (i == 4) bad.dropout = 1;
        if (i == 5) bad.vocab_size = INT64_C(1) << 40;
        mu_null(fn, tg_gpt(be, TG_F32, &bad, mu.rng), what[i]);
    }
    tg_module *gpt = tg_gpt(be, TG_F32, &ok, mu.rng);
    cr_assert_not_null(gpt, "%s", tg_last_error());
    tg_tensor *ids = tg_tensor_new(be, TG_F32, 2, (int64_t[]){1, 5});   // T 5 > block 4
    tg_tensor *bad_ids = tg_tensor_new(be, TG_F32, 2, (int64_t[]){1, 2});
    cr_assert(ids && bad_ids && !tg_fill_(ids, 1) && !tg_fill_(bad_ids, 11));
    const char *name = tg_module_name(gpt);
    mu_null_or("tg_module_forward", name, tg_module_forward(gpt, mu.tape, ids),
               "gpt: 5 tokens for block 4");
    mu_null_or("tg_module_forward", name, tg_module_forward(gpt, mu.tape, bad_ids),
               "gpt: token 11 of 11");
    mu_null_or("tg_module_forward", name, tg_module_forward(gpt, mu.tape, mu.stale),
               "gpt: stale ids");
    tg_tape_reset(mu.tape);
    tg_free_many(2, (tg_tensor *[]){ids, bad_ids});
    cr_assert_eq(tg_module_free(gpt), TG_OK, "%s", tg_last_error());
}

Test(misuse, error_context) {
    unsigned mark = tg_error_mark();
    mu_quiet("tg_error_mark", tg_error_context(mark, "my_layer") == TG_OK,
             "no error since the mark: nothing to name");
    mu_quiet("tg_error_context", tg_error_context(mark, NULL) == TG_OK, "NULL name, no error");
    tg_tensor *r = tg_add(mu.tape, mu.a, mu.m);
    tg_error_context(mark, NULL);
    mu_null("tg_add", r, "NULL context name leaves the message alone");
}


static tg_tensor *identity(tg_module *self, tg_tape *tape, tg_tensor *x) {
    (void)self, (void)tape;
    return x;
}

Test(misuse, user_modules) {
    tg_module_def def = {.type = "Mine", .forward = identity};
    mu_null("tg_module_new", tg_module_new(NULL), "NULL def");
    mu_null("tg_module_new", tg_module_new(&(tg_module_def){.type = "Mine"}), "no forward");
    mu_null("tg_module_new", tg_module_new(&(tg_module_def){.forward = identity}), "no type");
    tg_module *m = tg_module_new(&def), *lin = tg_linear(mu.be, TG_F32, 3, 2, true, mu.rng);
    tg_tensor *w = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){3});
    cr_assert(m && lin && w, "%s", tg_last_error());
    const char *fn = "tg_module_add_param";
    mu_fail(fn, tg_module_add_param(NULL, "w", w), "NULL module");
    mu_fail(fn, tg_module_add_param(m, NULL, w), "NULL name");
    mu_fail(fn, tg_module_add_param(m, "", w), "empty name");
    mu_fail(fn, tg_module_add_param(m, "a.b", w), "name with '.'");
    mu_fail(fn, tg_module_add_param(m, "w", NULL), "NULL tensor");
    mu_fail(fn, tg_module_add_param(m, "w", mu.stale), "stale tensor");
    mu_fail(fn, tg_module_add_param(lin, "w", w), "built-in module");
    tg_tensor *y = tg_add(mu.tape, mu.a, mu.b);
    mu_fail(fn, tg_module_add_param(m, "y", y), "step tensor");
    mu_fail(fn, tg_module_add_param(m, "a", mu.a), "recorded by a live tape");
    cr_assert_eq(tg_module_add_param(m, "w", w), TG_OK, "%s", tg_last_error());
    mu_fail(fn, tg_module_add_param(m, "w2", w), "the same tensor twice");
    fn = "tg_module_add_buffer";
    mu_fail(fn, tg_module_add_buffer(m, "w", mu.d), "name taken by a parameter");
    mu_fail(fn, tg_module_add_buffer(NULL, "b", mu.d), "NULL module");
    fn = "tg_module_add_child";
    mu_fail(fn, tg_module_add_child(m, "self", m), "itself");
    mu_fail(fn, tg_module_add_child(m, "x", NULL), "NULL child");
    mu_fail(fn, tg_module_add_child(m, "w", lin), "name taken by a parameter");
    cr_assert_eq(tg_module_add_child(m, "lin", lin), TG_OK, "%s", tg_last_error());
    tg_module *other = tg_module_new(&def);
    mu_fail(fn, tg_module_add_child(other, "lin", lin), "already inside a module");
    tg_module_free(other);
    mu_null("tg_module_get", tg_module_get(m, "nope"), "unknown name");
    mu_null("tg_module_get", tg_module_get(NULL, "w"), "NULL module");
    mu_null("tg_module_get", tg_module_get(m, NULL), "NULL name");
    mu_null("tg_module_get_child", tg_module_get_child(m, "nope"), "unknown name");
    mu_null("tg_module_get_child", tg_module_get_child(NULL, "lin"), "NULL module");
    mu_null("tg_module_state", tg_module_state(NULL), "NULL module");
    mu_null("tg_module_state", tg_module_state(lin), "a built-in module");
    tg_tape_reset(mu.tape);
    cr_assert_eq(tg_module_free(m), TG_OK, "%s", tg_last_error());
}

// A residual MLP written as modules of one's own (tg_module_new), layer for layer the model of
// tests/fixtures/gen_residual.py (a PyTorch nn.Module), so that its checkpoint loads there with
// load_state_dict(strict=True):
//
//   ResidualBlock(d, h):  x + gamma * fc2(relu(fc1(norm(x))))
//       norm = LayerNorm(d), fc1 = Linear(d, h), fc2 = Linear(h, d), gamma [d] (its own
//       parameter: a learned per-feature scale of the branch, 0.5 at start)
//   ResidualMLP:          head(blocks(relu(stem(x - x_mean))))
//       x_mean [d_in] (a buffer: the training inputs' mean), stem = Linear(d_in, d),
//       blocks = Sequential(ResidualBlock, ...), head = Linear(d, n_out)
//
// State-dict names: "x_mean", "stem.weight", "blocks.0.gamma", "blocks.0.norm.weight",
// "blocks.1.fc2.bias", "head.bias", ... Header-only (public API), shared by
// examples/residual.c and tests/nn/test_user_module.c.
#pragma once

#include <tapegrad/tapegrad.h>

// ---- the block ----

static tg_tensor *residual_block_forward(tg_module *self, tg_tape *tape, tg_tensor *x) {
    tg_module *norm = tg_module_get_child(self, "norm");
    tg_module *fc1 = tg_module_get_child(self, "fc1"), *fc2 = tg_module_get_child(self, "fc2");
    tg_tensor *h = tg_relu(tape, tg_module_forward(fc1, tape, tg_module_forward(norm, tape, x)));
    tg_tensor *branch = tg_mul(tape, tg_module_get(self, "gamma"), tg_module_forward(fc2, tape, h));
    return tg_add(tape, x, branch);
}

// Adds `child` to m as `name`, or frees it (and returns the error) when that fails.
static inline int residual_add_child(tg_module *m, const char *name, tg_module *child) {
    if (!child) return tg_last_status();
    int st = tg_module_add_child(m, name, child);
    if (st) tg_module_free(child);
    return st;
}

static inline tg_module *residual_block(tg_backend *be, tg_dtype dt, int64_t d, int64_t h,
                                        tg_rng *rng) {
    tg_module_def def = {.type = "ResidualBlock", .forward = residual_block_forward};
    tg_module *m = tg_module_new(&def);
    tg_tensor *gamma = tg_tensor_new(be, dt, 1, &d);
    int st = m && gamma ? tg_fill_(gamma, 0.5) : tg_last_status();
    if (!st) st = tg_module_add_param(m, "gamma", gamma);
    if (st) tg_free(gamma);
    if (!st) st = residual_add_child(m, "norm", tg_layernorm(be, dt, d, 1e-5));
    if (!st) st = residual_add_child(m, "fc1", tg_linear(be, dt, d, h, true, rng));
    if (!st) st = residual_add_child(m, "fc2", tg_linear(be, dt, h, d, true, rng));
    if (st) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

// ---- the network ----

static tg_tensor *residual_mlp_forward(tg_module *self, tg_tape *tape, tg_tensor *x) {
    tg_tensor *z = tg_sub(tape, x, tg_module_get(self, "x_mean"));
    z = tg_relu(tape, tg_module_forward(tg_module_get_child(self, "stem"), tape, z));
    z = tg_module_forward(tg_module_get_child(self, "blocks"), tape, z);
    return tg_module_forward(tg_module_get_child(self, "head"), tape, z);
}

// d_in inputs -> n_out logits through n_blocks residual blocks of width d (hidden h).
static inline tg_module *residual_mlp(tg_backend *be, tg_dtype dt, int64_t d_in, int64_t d,
                                      int64_t h, int n_blocks, int64_t n_out, tg_rng *rng) {
    tg_module_def def = {.type = "ResidualMLP", .forward = residual_mlp_forward};
    tg_module *m = tg_module_new(&def);
    tg_tensor *mean = tg_tensor_new(be, dt, 1, &d_in);
    int st = m && mean ? tg_fill_(mean, 0.0) : tg_last_status();
    if (!st) st = tg_module_add_buffer(m, "x_mean", mean);
    if (st) tg_free(mean);
    if (!st) st = residual_add_child(m, "stem", tg_linear(be, dt, d_in, d, true, rng));
    tg_module *blocks[8] = {0};
    for (int i = 0; i < n_blocks && i < 8 && !st; i++)
        if (!(blocks[i] = residual_block(be, dt, d, h, rng))) st = tg_last_status();
    if (!st && (n_blocks < 1 || n_blocks > 8))
        st = tg_set_error(TG_ERR_INVALID_ARG, "residual_mlp", "1 to 8 blocks, got %d", n_blocks);
    if (!st) st = residual_add_child(m, "blocks", tg_sequential(n_blocks, blocks));
    else
        for (int i = 0; i < 8; i++) tg_module_free(blocks[i]);
    if (!st) st = residual_add_child(m, "head", tg_linear(be, dt, d, n_out, true, rng));
    if (st) {
        tg_module_free(m);
        return NULL;
    }
    return m;
}

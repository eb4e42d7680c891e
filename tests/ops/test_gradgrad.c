// Second derivatives: tg_gradgradcheck (create_graph through every rule) for the ops the
// higher-order-gradient issue names, plus the fused cross-entropy, conv2d and max pooling,
// and the composed statistics (std's zero-spread mask included).
#include "test_util.h"

#include <criterion/parameterized.h>

typedef struct {
    const char *name;
    int n_in;
    int ndim[3];
    int64_t shape[3][4];
    double lo, hi;
    int labels;   // input index holding class labels (not differentiated), -1 if none
} gg_case;

static tg_tensor *f_case(tg_tape *t, tg_tensor *const *in, void *user) {
    const char *n = user;
    if (!strcmp(n, "tanh")) return tg_tanh(t, in[0]);
    if (!strcmp(n, "sigmoid")) return tg_sigmoid(t, in[0]);
    if (!strcmp(n, "exp")) return tg_exp(t, in[0]);
    if (!strcmp(n, "log")) return tg_log(t, in[0]);
    if (!strcmp(n, "mul")) return tg_mul(t, in[0], in[1]);
    if (!strcmp(n, "div")) return tg_div(t, in[0], in[1]);
    if (!strcmp(n, "matmul")) return tg_matmul(t, in[0], in[1]);
    if (!strcmp(n, "softmax")) return tg_softmax(t, in[0], 1);
    if (!strcmp(n, "log_softmax")) return tg_log_softmax(t, in[0], 1);
    if (!strcmp(n, "cross_entropy")) return tg_cross_entropy(t, in[0], in[1], NULL, TG_REDUCE_MEAN);
    if (!strcmp(n, "cross_entropy_weighted"))
        return tg_cross_entropy(t, in[0], in[1], in[2], TG_REDUCE_MEAN);
    if (!strcmp(n, "conv2d")) return tg_conv2d(t, in[0], in[1], NULL, NULL);
    if (!strcmp(n, "max_pool2d")) return tg_max_pool2d(t, in[0], 2, 2, NULL);
    if (!strcmp(n, "gelu")) return tg_gelu(t, in[0]);
    if (!strcmp(n, "softplus")) return tg_softplus(t, in[0], 1.0, 20.0);
    if (!strcmp(n, "std")) return tg_std(t, in[0], 1, (int[]){1}, 1, false);
    if (!strcmp(n, "std_all_biased")) return tg_std(t, in[0], 2, (int[]){0, 1}, 0, true);
    if (!strcmp(n, "var")) return tg_var(t, in[0], 1, (int[]){0}, 1, false);
    if (!strcmp(n, "logsumexp")) return tg_logsumexp(t, in[0], 1, (int[]){1}, false);
    if (!strcmp(n, "bce_with_logits")) return tg_bce_with_logits(t, in[0], in[1], TG_REDUCE_MEAN);
    return NULL;
}

// clang-format off
static const gg_case cases[] = {
    {"tanh", 1, {2}, {{3, 4}}, -2, 2, -1},
    {"sigmoid", 1, {2}, {{3, 4}}, -2, 2, -1},
    {"exp", 1, {2}, {{3, 4}}, -1, 1, -1},
    {"log", 1, {2}, {{3, 4}}, 0.5, 2, -1},
    {"mul", 2, {2, 1}, {{3, 4}, {4}}, -1, 1, -1},
    {"div", 2, {2, 2}, {{3, 4}, {3, 1}}, 0.5, 2, -1},
    {"matmul", 2, {2, 2}, {{3, 4}, {4, 2}}, -1, 1, -1},
    {"softmax", 1, {2}, {{3, 4}}, -2, 2, -1},
    {"log_softmax", 1, {2}, {{3, 4}}, -2, 2, -1},
    {"cross_entropy", 2, {2, 1}, {{3, 4}, {3}}, -2, 2, 1},
    {"cross_entropy_weighted", 3, {2, 1, 1}, {{3, 4}, {3}, {4}}, 0.5, 2, 1},
    {"conv2d", 2, {4, 4}, {{1, 2, 4, 4}, {2, 2, 3, 3}}, -1, 1, -1},
    {"max_pool2d", 1, {4}, {{1, 2, 4, 4}}, -1, 1, -1},
    {"gelu", 1, {2}, {{3, 4}}, -2, 2, -1},
    {"softplus", 1, {2}, {{3, 4}}, -2, 2, -1},
    {"std", 1, {2}, {{3, 4}}, -2, 2, -1},
    {"std_all_biased", 1, {2}, {{2, 3}}, -2, 2, -1},
    {"var", 1, {2}, {{3, 4}}, -2, 2, -1},
    {"logsumexp", 1, {2}, {{3, 4}}, -2, 2, -1},
    {"bce_with_logits", 2, {2, 2}, {{3, 4}, {3, 4}}, -2, 2, -1},
};
// clang-format on

ParameterizedTestParameters(gradgrad, ops) {
    static size_t idx[sizeof cases / sizeof cases[0]];
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) idx[i] = i;
    return cr_make_param_array(size_t, idx, sizeof idx / sizeof idx[0]);
}

ParameterizedTest(size_t *idx, gradgrad, ops) {
    tg_clear_error();
    const gg_case *c = &cases[*idx];
    tg_rng *rng = tg_rng_new(100 + *idx);
    tg_tensor *in[3] = {0};
    for (int k = 0; k < c->n_in; k++) {
        bool is_label = k == c->labels;
        in[k] = tu_rand64(rng, c->ndim[k], c->shape[k], c->lo, c->hi, !is_label);
        if (is_label) {   // integral class labels in [0, C)
            double *v = tg_data_f64(in[k]);
            for (int64_t i = 0; i < tg_numel(in[k]); i++) v[i] = (double)(i % c->shape[0][1]);
        }
    }
    tg_gradcheck_report r;
    int st = tg_gradgradcheck(f_case, (void *)c->name, c->n_in, in, NULL, &r);
    cr_expect_eq(st, TG_OK, "%s: %s", c->name, tg_last_error());
    cr_expect(r.n_checked > 0, "%s: nothing checked", c->name);
    for (int k = 0; k < c->n_in; k++) tg_free(in[k]);
    tg_rng_free(rng);
}

// A model type of one's own: the residual MLP of residual_model.h (ResidualBlock and
// ResidualMLP made with tg_module_new: named parameters, a buffer, child modules, their own
// forward functions) trained on sklearn's 8x8 digits (80/20 split, Adam, full batch). Prints
// the summary, the state-dict names and the test accuracy, and writes residual.safetensors,
// which loads into tests/fixtures/gen_residual.py's PyTorch model with strict=True (after
// setting its CONFIG to 64, 32, 64, 2, 10). Exits 1 below 0.95 accuracy, 77 without data.
#include "common.h"
#include "residual_model.h"

static const ex_spec spec = {
    .name = "residual",
    .about = "A residual MLP built from modules of one's own (tg_module_new), trained on\n"
             "sklearn's 8x8 digits (data/digits.csv); writes residual.safetensors (loads in\n"
             "PyTorch, strict=True). Exits 1 below 0.95 test accuracy, 77 without the data.\n",
    .flags = EX_TRAINING | EX_DATA, .epochs = 300, .quick_epochs = 100, .seed = 0};

// x_mean := the column means of x (the model subtracts its buffer from every input).
static int set_mean(tg_module *net, const tg_tensor *x) {
    tg_tensor *mean = tg_module_get(net, "x_mean");
    if (!mean) return tg_last_status();
    int64_t n = tg_shape(x)[0], d = tg_shape(x)[1];
    float *m = tg_data_f32(mean);
    const float *v = tg_data_f32((tg_tensor *)x);
    for (int64_t j = 0; j < d; j++) m[j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) m[j] += v[i * d + j] / (float)n;
    return tg_mark_dirty(mean);
}

static int train(const ex_args *a, tg_module *net, tg_tensor *x, tg_tensor *y) {
    tg_tensor *params[64];
    int n = tg_module_params(net, params, 64);
    tg_optim *opt = n > 0 && n <= 64 ? tg_adam(n, params, 3e-3) : NULL;
    tg_tape *tape = tg_tape_new();
    tg_progress *bar = ex_progress(a, "train", a->epochs, "epochs");
    int st = opt && tape && bar ? TG_OK : -1;
    for (int e = 0; e < a->epochs && !st; e++) {
        tg_tensor *loss = tg_cross_entropy(tape, tg_module_forward(net, tape, x), y, NULL,
                                           TG_REDUCE_MEAN);
        st = !loss || tg_backward(tape, loss) || tg_optim_step(opt);
        if (!st) tg_progress_update(bar, e + 1, tg_item(loss));
        tg_optim_zero_grad(opt);
        tg_tape_reset(tape);
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    tg_tape_free(tape);
    tg_optim_free(opt);
    return st;
}

static double test_accuracy(tg_module *net, tg_tensor *x, tg_tensor *y) {
    tg_tape *tape = tg_tape_new();
    tg_module_train(net, false);
    tg_tape_set_grad(tape, false);
    double acc = tg_accuracy(tg_module_forward(net, tape, x), y);
    tg_tape_free(tape);
    return acc;
}

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    const char *path = ex_find_data(&spec, &a, "digits.csv");
    if (!path) return EX_EXIT_SKIP;
    tg_backend *be = ex_backend(&spec, &a);
    if (!be) return 1;
    tg_tensor *x = NULL, *y = NULL, *xtr = NULL, *xte = NULL, *ytr = NULL, *yte = NULL;
    tg_rng *rng = tg_rng_new(a.seed);
    tg_module *net = NULL;
    int st = tg_load_csv(path, be, TG_F32, false, -1, &x, &y) ||
             tg_train_test_split(x, y, 0.2, 42, &xtr, &xte, &ytr, &yte) ||
             tg_scale_(xtr, 1.0 / 16) || tg_scale_(xte, 1.0 / 16) ||
             !(net = residual_mlp(be, TG_F32, 64, 32, 64, 2, 10, rng)) || set_mean(net, xtr);
    if (!st) st = tg_module_summary(net, 2, (int64_t[]){1, 64}, TG_F32, stdout);
    for (int i = 0; !st && i < tg_module_n_params(net); i++)
        printf("%s%s", i ? " " : "parameters: ", tg_module_param_name(net, i));
    if (!st) printf("\nbuffers: %s\n", tg_module_buffer_name(net, 0));
    if (!st) st = train(&a, net, xtr, ytr);
    double acc = st ? 0 : test_accuracy(net, xte, yte);
    if (!st) st = tg_save_safetensors(net, "residual.safetensors");
    if (st) fprintf(stderr, "residual: %s\n", tg_last_error());
    else printf("test accuracy %.4f; wrote residual.safetensors\n", acc);
    if (!st && acc < 0.95) fprintf(stderr, "residual: accuracy %.4f below 0.95\n", acc);
    tg_module_free(net);
    tg_rng_free(rng);
    tg_free(x), tg_free(y), tg_free(xtr), tg_free(xte), tg_free(ytr), tg_free(yte);
    return st || acc < 0.95 ? 1 : 0;
}

// A character-level GPT trained on fortune cookies (data/fortunes.txt from Debian's
// `fortunes`, fetched by scripts/fetch_data.sh): nanoGPT's model (tg_gpt: 4 layers, 4 heads,
// 128 dimensions, context 64 by default), AdamW with decay on the weight matrices only,
// linear warm-up then cosine decay of the learning rate, gradient clipping, a 90/10
// train/validation split, periodic validation loss, then text sampled with temperature and
// top-k in no-grad mode. Writes the loss curve to gpt_loss.csv.
//   gpt [--quick] [--epochs STEPS] [--batch B] [--layers L] [--heads H] [--embd C]
//       [--context T] [--lr X] [--dropout P] [--threads N] [--temperature X] [--top-k K]
//       [--sample N] [--prompt TEXT] [--save FILE.safetensors] [--seed S] [--backend NAME]
//       [--data DIR]   (gpt --help lists them)
// --quick (CI): a small model for 60 steps; fails unless the validation loss falls by 1 nat.
// Exits 77 when the corpus is missing.
#include <math.h>
#include <time.h>

#include "example_args.h"

typedef struct gpt_args {
    int layers, heads, embd, ctx, batch, steps, warmup, eval_every, eval_batches;
    int sample_len, top_k, threads, log_every;
    double lr, min_lr, weight_decay, dropout, temperature, clip;
    unsigned long long seed;
    const char *save, *prompt;
    bool quick;
} gpt_args;

// The corpus as token ids (one per distinct byte, in byte order).
typedef struct corpus {
    unsigned char *ids;
    int64_t n, n_train;
    int vocab;
    unsigned char itos[256];
    int stoi[256];
} corpus;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- arguments ----

static gpt_args default_args(bool quick) {
    gpt_args a = {.layers = 4, .heads = 4, .embd = 128, .ctx = 64, .batch = 32, .steps = 2000,
                  .warmup = 100, .eval_every = 250, .eval_batches = 20, .sample_len = 400,
                  .top_k = 20, .threads = 1, .log_every = 50, .lr = 2e-3, .min_lr = 2e-4,
                  .weight_decay = 0.1, .dropout = 0.0, .temperature = 0.8, .clip = 1.0,
                  .seed = 1337, .prompt = "%\n", .quick = quick};
    if (quick)
        a = (gpt_args){.layers = 2, .heads = 2, .embd = 64, .ctx = 32, .batch = 8, .steps = 60,
                       .warmup = 10, .eval_every = 30, .eval_batches = 4, .sample_len = 120,
                       .top_k = 10, .threads = 1, .log_every = 10, .lr = 3e-3, .min_lr = 3e-4,
                       .weight_decay = 0.1, .temperature = 0.8, .clip = 1.0, .seed = 1337,
                       .prompt = "%\n", .quick = true};
    return a;
}

// The example's own options (the common ones come from example_args.h).
enum { OPT_BATCH = EX_OPT_USER, OPT_LAYERS, OPT_HEADS, OPT_EMBD, OPT_CONTEXT, OPT_LR,
       OPT_DROPOUT, OPT_TEMPERATURE, OPT_TOP_K, OPT_SAMPLE, OPT_PROMPT, OPT_SAVE };

static const struct option gpt_options[] = {
    {"batch", required_argument, NULL, OPT_BATCH},
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"heads", required_argument, NULL, OPT_HEADS},
    {"embd", required_argument, NULL, OPT_EMBD},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"lr", required_argument, NULL, OPT_LR},
    {"dropout", required_argument, NULL, OPT_DROPOUT},
    {"temperature", required_argument, NULL, OPT_TEMPERATURE},
    {"top-k", required_argument, NULL, OPT_TOP_K},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {"prompt", required_argument, NULL, OPT_PROMPT},
    {"save", required_argument, NULL, OPT_SAVE},
    {NULL, 0, NULL, 0}};

// The values of the example's own options, kept until the defaults are known (--quick
// changes them): 0 / NaN / NULL where not given.
typedef struct gpt_overrides {
    int ints[OPT_SAMPLE - OPT_BATCH + 1];
    double lr, dropout, temperature;
    const char *prompt, *save;
} gpt_overrides;

static gpt_overrides overrides = {.lr = NAN, .dropout = NAN, .temperature = NAN};

static int on_option(int val, const char *arg, ex_args *a) {
    (void)a;
    char *end;
    if (val == OPT_PROMPT || val == OPT_SAVE) {
        *(val == OPT_PROMPT ? &overrides.prompt : &overrides.save) = arg;
        return 0;
    }
    if (val == OPT_LR || val == OPT_DROPOUT || val == OPT_TEMPERATURE) {
        double v = strtod(arg, &end);
        bool ok = *arg && !*end && isfinite(v) &&
                  (val == OPT_DROPOUT ? v >= 0 && v < 1 : v > 0);
        if (!ok) {
            fprintf(stderr, "gpt: bad value '%s' for --%s\n", arg,
                    gpt_options[val - OPT_BATCH].name);
            return -1;
        }
        *(val == OPT_LR ? &overrides.lr : val == OPT_DROPOUT ? &overrides.dropout
                                                              : &overrides.temperature) = v;
        return 0;
    }
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < 1 || v > 1000000) {
        fprintf(stderr, "gpt: bad value '%s' for --%s (1..1000000)\n", arg,
                gpt_options[val - OPT_BATCH].name);
        return -1;
    }
    overrides.ints[val - OPT_BATCH] = (int)v;
    return 0;
}

static const ex_spec spec = {
    .name = "gpt",
    .about = "A character-level GPT (nanoGPT's model) trained on Debian's fortunes, then\n"
             "sampled. Writes the loss curve to gpt_loss.csv.\n",
    .flags = EX_QUICK | EX_BACKEND | EX_THREADS | EX_EPOCHS | EX_SEED | EX_DATA,
    .epochs_what = "training steps (batches)",
    .seed = 1337,
    .seed_what = "the weights, dropout and sampling (data order: seed + 1)",
    .quick_what = "a small model for 60 steps; fails unless the validation loss falls by 1 nat",
    .extra = gpt_options,
    .extra_usage = "  --batch B        sequences per step (default 32)\n"
                   "  --layers L       transformer blocks (default 4)\n"
                   "  --heads H        attention heads (default 4)\n"
                   "  --embd C         embedding width, a multiple of heads (default 128)\n"
                   "  --context T      tokens of context (default 64)\n"
                   "  --lr X           peak learning rate (default 2e-3)\n"
                   "  --dropout P      dropout probability (default 0)\n"
                   "  --temperature X  sampling temperature (default 0.8)\n"
                   "  --top-k K        sample among the K likeliest tokens (default 20)\n"
                   "  --sample N       characters to sample (default 400)\n"
                   "  --prompt TEXT    the sample's beginning (default \"%\\n\")\n"
                   "  --save FILE      write the trained model (safetensors)\n",
    .on_extra = on_option,
};

// The run's settings: the defaults (small ones with --quick), then the options given.
static bool settle_args(const ex_args *ea, gpt_args *a) {
    *a = default_args(ea->quick);
    int *ints[] = {&a->batch, &a->layers, &a->heads, &a->embd, &a->ctx};
    for (int i = 0; i < 5; i++)
        if (overrides.ints[i]) *ints[i] = overrides.ints[i];
    if (overrides.ints[OPT_TOP_K - OPT_BATCH]) a->top_k = overrides.ints[OPT_TOP_K - OPT_BATCH];
    if (overrides.ints[OPT_SAMPLE - OPT_BATCH])
        a->sample_len = overrides.ints[OPT_SAMPLE - OPT_BATCH];
    if (!isnan(overrides.lr)) a->lr = overrides.lr;
    if (!isnan(overrides.dropout)) a->dropout = overrides.dropout;
    if (!isnan(overrides.temperature)) a->temperature = overrides.temperature;
    if (overrides.prompt) a->prompt = overrides.prompt;
    a->save = overrides.save;
    if (ea->epochs > 0) a->steps = ea->epochs;
    if (ea->threads) a->threads = ea->threads;
    a->seed = ea->seed;
    if (a->warmup >= a->steps) a->warmup = a->steps / 10;
    a->min_lr = a->lr / 10;
    if (a->ctx < 2 || a->embd % a->heads) {
        fprintf(stderr, "gpt: need --context >= 2 and --embd a multiple of --heads\n");
        return false;
    }
    return true;
}

// ---- data ----

static int load_corpus(const char *path, corpus *c) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    c->ids = malloc((size_t)(n > 0 ? n : 1));
    if (!c->ids || n < 1000 || fread(c->ids, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return -1;
    }
    fclose(f);
    bool seen[256] = {false};
    for (long i = 0; i < n; i++) seen[c->ids[i]] = true;
    c->vocab = 0;
    for (int b = 0; b < 256; b++) {
        c->stoi[b] = seen[b] ? c->vocab : -1;
        if (seen[b]) c->itos[c->vocab++] = (unsigned char)b;
    }
    for (long i = 0; i < n; i++) c->ids[i] = (unsigned char)c->stoi[c->ids[i]];
    c->n = n;
    c->n_train = n * 9 / 10;   // the first 90% trains, the rest validates
    return 0;
}

// One batch of windows from the train or validation part into x [B, T] and y [B*T] (the
// next characters), through host buffers of B*T floats.
static int fill_batch(const corpus *c, bool val, const gpt_args *a, tg_rng *rng, float *xh,
                      float *yh, tg_tensor *x, tg_tensor *y) {
    int64_t lo = val ? c->n_train : 0, hi = val ? c->n : c->n_train, t = a->ctx;
    for (int b = 0; b < a->batch; b++) {
        int64_t off = lo + (int64_t)(tg_rng_uniform(rng) * (double)(hi - lo - t - 1));
        for (int64_t k = 0; k < t; k++) {
            xh[b * t + k] = c->ids[off + k];
            yh[b * t + k] = c->ids[off + k + 1];
        }
    }
    size_t bytes = (size_t)a->batch * (size_t)t * sizeof(float);
    return tg_copy_from_host(x, xh, bytes) || tg_copy_from_host(y, yh, bytes) ? -1 : 0;
}

// ---- training ----

typedef struct trainer {
    const gpt_args *a;
    const corpus *c;
    tg_module *model;
    tg_optim *decay, *no_decay;   // AdamW: 2-D weights decay, biases and LayerNorm do not
    tg_tensor *params[256], *x, *y;
    int n_params;
    float *xh, *yh;
    tg_tape *tape;
    tg_rng *data_rng;
} trainer;

static tg_tensor *batch_loss(trainer *tr) {
    tg_tensor *logits = tg_module_forward(tr->model, tr->tape, tr->x);
    tg_tensor *flat = tg_reshape(tr->tape, logits, 2, (int64_t[]){-1, tr->c->vocab});
    return tg_cross_entropy(tr->tape, flat, tr->y, NULL, TG_REDUCE_MEAN);
}

// Mean loss over the same eval_batches windows each call (a fixed rng), in eval mode.
static double eval_loss(trainer *tr, bool val) {
    tg_rng *rng = tg_rng_new(val ? 4242 : 2424);
    bool mode = tg_tape_set_grad(tr->tape, false);
    tg_module_train(tr->model, false);
    double sum = 0;
    for (int k = 0; k < tr->a->eval_batches; k++) {
        tg_tensor *loss = fill_batch(tr->c, val, tr->a, rng, tr->xh, tr->yh, tr->x, tr->y)
                              ? NULL : batch_loss(tr);
        sum += loss ? tg_item(loss) : NAN;
        tg_tape_reset(tr->tape);
    }
    tg_module_train(tr->model, true);
    tg_tape_set_grad(tr->tape, mode);
    tg_rng_free(rng);
    return sum / tr->a->eval_batches;
}

static int make_optimizers(trainer *tr) {
    tg_tensor *d[256], *nd[256];
    int n_d = 0, n_nd = 0;
    tr->n_params = tg_module_params(tr->model, tr->params, 256);
    for (int i = 0; i < tr->n_params && i < 256; i++) {
        if (tg_ndim(tr->params[i]) >= 2) d[n_d++] = tr->params[i];
        else nd[n_nd++] = tr->params[i];
    }
    tg_optim_opts o = tg_optim_opts_default(TG_OPTIM_ADAMW);
    o.lr = tr->a->lr;
    o.beta2 = 0.99;
    o.weight_decay = tr->a->weight_decay;
    tr->decay = tg_optim_new(TG_OPTIM_ADAMW, n_d, d, &o);
    o.weight_decay = 0;
    tr->no_decay = tg_optim_new(TG_OPTIM_ADAMW, n_nd, nd, &o);
    return tr->decay && tr->no_decay ? 0 : -1;
}

// One optimisation step at learning rate lr; the loss, or NAN on failure.
static double train_step(trainer *tr, double lr) {
    tg_tensor *loss = fill_batch(tr->c, false, tr->a, tr->data_rng, tr->xh, tr->yh, tr->x, tr->y)
                          ? NULL : batch_loss(tr);
    bool ok = loss && !tg_backward(tr->tape, loss) &&
              !tg_clip_grad_norm(tr->tape, tr->n_params, tr->params, tr->a->clip, NULL) &&
              !tg_optim_set_lr(tr->decay, lr) && !tg_optim_set_lr(tr->no_decay, lr) &&
              !tg_optim_step(tr->decay) && !tg_optim_step(tr->no_decay);
    double l = ok ? tg_item(loss) : NAN;
    tg_optim_zero_grad(tr->decay);
    tg_optim_zero_grad(tr->no_decay);
    tg_tape_reset(tr->tape);
    return l;
}

// Trains; *first_val and *last_val get the validation loss before and after.
static int train(trainer *tr, FILE *curve, double *first_val, double *last_val) {
    const gpt_args *a = tr->a;
    tg_lr_schedule sched = {.kind = TG_LR_COSINE, .base_lr = a->lr, .t_max = a->steps - a->warmup,
                            .eta_min = a->min_lr, .warmup = a->warmup};
    // a live line (steps/s, ETA, latest loss) on a terminal, periodic lines when piped;
    // the log lines below go above it in every mode
    tg_progress_opts po = tg_progress_opts_default();
    po.mode = a->quick ? TG_PROGRESS_SILENT : TG_PROGRESS_AUTO;
    po.unit = "steps";
    tg_progress *bar = tg_progress_new(stdout, "train", a->steps, &po);
    if (!bar) return -1;
    *first_val = *last_val = eval_loss(tr, true);
    tg_progress_log(bar, "step     0  val loss %.4f (ln vocab = %.4f)", *first_val,
                    log(tr->c->vocab));
    fprintf(curve, "0,,%.6f\n", *first_val);
    double t0 = now(), tl = t0, sum = 0;
    for (int s = 1; s <= a->steps; s++) {
        double lr = tg_lr_at(&sched, s - 1), l = train_step(tr, lr);
        if (isnan(l)) {
            fprintf(stderr, "gpt: step %d failed: %s\n", s, tg_last_error());
            tg_progress_free(bar);
            return -1;
        }
        tg_progress_update(bar, s, l);
        sum += l;
        bool eval = s % a->eval_every == 0 || s == a->steps;
        double val = eval ? eval_loss(tr, true) : NAN;
        if (eval) *last_val = val;
        fprintf(curve, eval ? "%d,%.6f,%.6f\n" : "%d,%.6f,\n", s, l, val);
        if (s % a->log_every == 0 || eval) {
            double t = now(), n = s % a->log_every ? s % a->log_every : a->log_every;
            char vl[48] = "";
            if (eval) snprintf(vl, sizeof vl, "  | val loss %.4f", val);
            tg_progress_log(bar, "step %5d  loss %.4f  lr %.2e  %6.1f ms/step  %7.0f tok/s%s", s,
                            sum / n, lr, 1e3 * (t - tl) / n, n * a->batch * a->ctx / (t - tl),
                            vl);
            sum = 0;
            tl = now();
        }
    }
    tg_progress_finish(bar);
    tg_progress_free(bar);
    printf("trained %d steps in %.1f s\n", a->steps, now() - t0);
    return 0;
}

// ---- sampling (no-grad, eval mode) ----

// The next token from logits [V]: divided by the temperature, cut to the top k, sampled.
static int pick(const float *logits, int v, double temperature, int top_k, tg_rng *rng) {
    double p[256], kth = -INFINITY, mx = -INFINITY, sum = 0;
    if (top_k > 0 && top_k < v) {
        float sorted[256];
        memcpy(sorted, logits, (size_t)v * sizeof *sorted);
        for (int i = 0; i < top_k; i++)   // partial selection sort: the k largest first
            for (int j = i + 1; j < v; j++)
                if (sorted[j] > sorted[i]) {
                    float t = sorted[i];
                    sorted[i] = sorted[j], sorted[j] = t;
                }
        kth = sorted[top_k - 1];
    }
    for (int i = 0; i < v; i++) mx = fmax(mx, logits[i]);
    for (int i = 0; i < v; i++) sum += (p[i] = logits[i] < kth ? 0 : exp((logits[i] - mx) / temperature));
    double u = tg_rng_uniform(rng) * sum;
    for (int i = 0; i < v; i++)
        if ((u -= p[i]) < 0) return i;
    return v - 1;
}

static int sample(tg_module *m, const corpus *c, const gpt_args *a, tg_backend *be, tg_rng *rng) {
    int64_t cap = (int64_t)strlen(a->prompt) + a->sample_len, n = 0;
    float *ctx = malloc((size_t)cap * sizeof *ctx), logits[256];
    tg_tape *tape = tg_tape_new();
    if (!ctx || !tape) return -1;
    tg_tape_set_grad(tape, false);
    tg_module_train(m, false);
    for (const char *p = a->prompt; *p; p++)
        if (c->stoi[(unsigned char)*p] >= 0) ctx[n++] = (float)c->stoi[(unsigned char)*p];
    if (n == 0) ctx[n++] = 0;
    printf("---- sample (temperature %.2f, top-k %d) ----\n", a->temperature, a->top_k);
    for (int64_t i = 0; i < n; i++) putchar(c->itos[(int)ctx[i]]);
    int st = 0;
    for (int k = 0; k < a->sample_len && !st; k++) {
        int64_t t = n < a->ctx ? n : a->ctx;
        tg_tensor *x = tg_tensor_from(be, TG_F32, 2, (int64_t[]){1, t}, ctx + n - t);
        tg_tensor *out = tg_module_forward(m, tape, x);
        tg_tensor *last = tg_slice(tape, out, 1, t - 1, t, 1);
        st = !last || tg_copy_to_host(last, logits, (size_t)c->vocab * sizeof(float));
        if (!st) {
            ctx[n] = (float)pick(logits, c->vocab, a->temperature, a->top_k, rng);
            putchar(c->itos[(int)ctx[n++]]);
        }
        tg_tape_reset(tape);
        tg_free(x);
    }
    printf("\n----\n");
    if (st) fprintf(stderr, "gpt: sampling failed: %s\n", tg_last_error());
    tg_tape_free(tape);
    free(ctx);
    return st;
}

// ---- main ----

static void free_trainer(trainer *tr) {
    tg_tape_free(tr->tape);
    tg_optim_free(tr->decay);
    tg_optim_free(tr->no_decay);
    tg_free(tr->x);
    tg_free(tr->y);
    free(tr->xh);
    free(tr->yh);
    tg_rng_free(tr->data_rng);
}

static int run(const gpt_args *a, const corpus *c, tg_backend *be) {
    tg_rng *rng = tg_rng_new(a->seed);
    tg_gpt_config cfg = {.vocab_size = c->vocab, .block_size = a->ctx, .n_layer = a->layers,
                         .n_head = a->heads, .n_embd = a->embd, .dropout = a->dropout};
    int64_t bt = (int64_t)a->batch * a->ctx;
    trainer tr = {.a = a, .c = c, .model = tg_gpt(be, TG_F32, &cfg, rng), .tape = tg_tape_new(),
                  .x = tg_tensor_new(be, TG_F32, 2, (int64_t[]){a->batch, a->ctx}),
                  .y = tg_tensor_new(be, TG_F32, 1, &bt), .data_rng = tg_rng_new(a->seed + 1),
                  .xh = malloc((size_t)bt * sizeof(float)), .yh = malloc((size_t)bt * sizeof(float))};
    FILE *curve = fopen("gpt_loss.csv", "w");
    int st = !tr.model || !tr.tape || !tr.x || !tr.y || !tr.xh || !tr.yh || !curve ||
             make_optimizers(&tr);
    double first = NAN, last = NAN;
    if (!st) {
        printf("%s: %lld parameters; corpus %lld characters, vocabulary %d; batch %d x %d\n",
               tg_module_name(tr.model), (long long)tg_module_param_count(tr.model),
               (long long)c->n, c->vocab, a->batch, a->ctx);
        fprintf(curve, "step,train_loss,val_loss\n");
        st = train(&tr, curve, &first, &last) || sample(tr.model, c, a, be, rng);
    } else {
        fprintf(stderr, "gpt: setup failed: %s\n", tg_last_error());
    }
    if (!st && a->save && tg_save_safetensors(tr.model, a->save))
        fprintf(stderr, "gpt: %s\n", tg_last_error()), st = 1;
    if (!st && a->quick && !(last < first - 1.0)) {
        fprintf(stderr, "gpt: validation loss %.4f did not fall 1 nat below %.4f\n", last, first);
        st = 1;
    }
    if (curve) fclose(curve);
    free_trainer(&tr);
    tg_module_free(tr.model);
    tg_rng_free(rng);
    return st ? 1 : 0;
}

int main(int argc, char **argv) {
    ex_args ea;
    int rc = ex_parse(&spec, argc, argv, &ea);
    if (rc >= 0) return rc;
    gpt_args a;
    if (!settle_args(&ea, &a)) return 2;
    const char *path = ex_find_data(&spec, &ea, "fortunes.txt");
    if (!path) return EX_EXIT_SKIP;
    corpus c = {0};
    if (load_corpus(path, &c)) {
        fprintf(stderr, "gpt: cannot read %s (or it is too short)\n", path);
        free(c.ids);
        return 1;
    }
    tg_backend *be = ex_backend(&spec, &ea);
    if (!be) {
        free(c.ids);
        return 1;
    }
    int st = run(&a, &c, be);
    free(c.ids);
    return st;
}

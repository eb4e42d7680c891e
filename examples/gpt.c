// A character-level GPT trained on fortune cookies (data/fortunes.txt from Debian's
// `fortunes`, fetched by scripts/fetch_data.sh): nanoGPT's model (tg_gpt: 4 layers, 4 heads,
// 128 dimensions, context 64 by default), AdamW with decay on the weight matrices only,
// linear warm-up then cosine decay of the learning rate, gradient clipping, a 90/10
// train/validation split, periodic validation loss, then text sampled with temperature and
// top-k in no-grad mode. Writes the loss curve to gpt_loss.csv.
//   gpt [--quick] [--steps N] [--batch B] [--layers L] [--heads H] [--embd C] [--context T]
//       [--lr X] [--dropout P] [--threads N] [--temperature X] [--top-k K] [--sample N]
//       [--prompt TEXT] [--save FILE.safetensors] [--seed S] [--backend NAME]
// --quick (CI): a small model for 60 steps; fails unless the validation loss falls by 1 nat.
// Exits 77 when the corpus is missing.
#include <math.h>
#include <time.h>

#include "common.h"

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

static bool parse_args(int argc, char **argv, gpt_args *a) {
    *a = default_args(quick_mode(argc, argv));
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        struct { const char *name; int *ip; double *dp; } opts[] = {
            {"--steps", &a->steps, NULL},     {"--batch", &a->batch, NULL},
            {"--layers", &a->layers, NULL},   {"--heads", &a->heads, NULL},
            {"--embd", &a->embd, NULL},       {"--context", &a->ctx, NULL},
            {"--threads", &a->threads, NULL}, {"--top-k", &a->top_k, NULL},
            {"--sample", &a->sample_len, NULL}, {"--lr", NULL, &a->lr},
            {"--dropout", NULL, &a->dropout}, {"--temperature", NULL, &a->temperature}};
        bool known = !strcmp(k, "--quick");
        for (size_t o = 0; o < sizeof opts / sizeof opts[0] && !known; o++) {
            if (strcmp(k, opts[o].name)) continue;
            if (!v) return false;
            if (opts[o].ip) *opts[o].ip = atoi(v);
            else *opts[o].dp = atof(v);
            known = true;
            i++;
        }
        if (!known && v && (!strcmp(k, "--save") || !strcmp(k, "--prompt") ||
                            !strcmp(k, "--seed") || !strcmp(k, "--backend"))) {
            if (!strcmp(k, "--save")) a->save = v;
            if (!strcmp(k, "--prompt")) a->prompt = v;
            if (!strcmp(k, "--seed")) a->seed = strtoull(v, NULL, 10);
            known = true;
            i++;
        }
        if (!known) {
            fprintf(stderr, "gpt: unknown or incomplete option %s\n", k);
            return false;
        }
    }
    if (a->warmup >= a->steps) a->warmup = a->steps / 10;
    a->min_lr = a->lr / 10;
    return a->steps > 0 && a->batch > 0 && a->ctx > 1 && a->layers > 0 && a->heads > 0 &&
           a->embd % a->heads == 0 && a->threads > 0 && a->temperature > 0;
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
    *first_val = *last_val = eval_loss(tr, true);
    printf("step     0  val loss %.4f (ln vocab = %.4f)\n", *first_val, log(tr->c->vocab));
    fprintf(curve, "0,,%.6f\n", *first_val);
    double t0 = now(), tl = t0, sum = 0;
    for (int s = 1; s <= a->steps; s++) {
        double lr = tg_lr_at(&sched, s - 1), l = train_step(tr, lr);
        if (isnan(l)) {
            fprintf(stderr, "gpt: step %d failed: %s\n", s, tg_last_error());
            return -1;
        }
        sum += l;
        bool eval = s % a->eval_every == 0 || s == a->steps;
        double val = eval ? eval_loss(tr, true) : NAN;
        if (eval) *last_val = val;
        fprintf(curve, eval ? "%d,%.6f,%.6f\n" : "%d,%.6f,\n", s, l, val);
        if (s % a->log_every == 0 || eval) {
            double t = now(), n = s % a->log_every ? s % a->log_every : a->log_every;
            printf("step %5d  loss %.4f  lr %.2e  %6.1f ms/step  %7.0f tok/s", s, sum / n, lr,
                   1e3 * (t - tl) / n, n * a->batch * a->ctx / (t - tl));
            if (eval) printf("  | val loss %.4f", val);
            printf("\n");
            fflush(stdout);
            sum = 0;
            tl = now();
        }
    }
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
    gpt_args a;
    if (!parse_args(argc, argv, &a)) {
        fprintf(stderr, "gpt: bad arguments (see the header of examples/gpt.c)\n");
        return 2;
    }
    const char *path = find_data("fortunes.txt");
    if (!path) {
        fprintf(stderr, "gpt: skipped, the corpus is not installed\n");
        return EXIT_NO_DATA;
    }
    corpus c = {0};
    if (load_corpus(path, &c)) {
        fprintf(stderr, "gpt: cannot read %s (or it is too short)\n", path);
        free(c.ids);
        return 1;
    }
    tg_backend *be = pick_backend(argc, argv);
    if (!be || tg_backend_set_threads(be, a.threads)) {
        free(c.ids);
        return 1;
    }
    int st = run(&a, &c, be);
    free(c.ids);
    return st;
}

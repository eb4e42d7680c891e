// Learning-rate schedules (pure functions of the epoch), gradient clipping, early stopping.
#include <math.h>

#include <tapegrad/tapegrad.h>

// True when s can be evaluated at epoch; else the error (named tg_lr_at).
static bool schedule_ok(const tg_lr_schedule *s, int epoch) {
    const char *fn = "tg_lr_at";
    if (!s) return tg_set_error(TG_ERR_INVALID_ARG, fn, "schedule is NULL"), false;
    if (epoch < 0) return tg_set_error(TG_ERR_INVALID_ARG, fn, "epoch %d < 0", epoch), false;
    if (s->kind < 0 || s->kind >= TG_LR_KIND_COUNT)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "kind %d is not a tg_lr_kind", (int)s->kind),
               false;
    if (s->kind == TG_LR_STEP && s->step_size <= 0)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "STEP needs step_size > 0, got %d",
                            s->step_size), false;
    if (s->kind == TG_LR_COSINE && s->t_max <= 0)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "COSINE needs t_max > 0, got %d", s->t_max),
               false;
    return true;
}

double tg_lr_at(const tg_lr_schedule *s, int epoch) {
    if (!schedule_ok(s, epoch)) return NAN;
    double lr = s->base_lr;
    if (s->warmup > 0) {
        if (epoch < s->warmup) return lr * (double)(epoch + 1) / (double)s->warmup;
        epoch -= s->warmup;
    }
    double e = (double)epoch;
    switch (s->kind) {
    case TG_LR_STEP: return lr * pow(s->gamma, floor(e / s->step_size));
    case TG_LR_EXPONENTIAL: return lr * pow(s->gamma, e);
    case TG_LR_INV_SQRT: return lr / sqrt(e > 1 ? e : 1);
    case TG_LR_INV_TIME: return lr / (1.0 + s->decay * e);
    case TG_LR_COSINE:
        return s->eta_min +
               (lr - s->eta_min) * (1.0 + cos(3.14159265358979323846 * e / s->t_max)) / 2.0;
    default: return lr;   // TG_LR_CONSTANT
    }
}

// TG_OK when every params[i] is a live tensor; else the error, named fn (a stale entry's
// error, from the query that found it, is reworded to name fn).
static int check_params(const char *fn, int n, tg_tensor *const *params) {
    unsigned mark = tg_error_mark();
    for (int i = 0; i < n; i++) {
        if (!params[i]) return tg_set_error(TG_ERR_INVALID_ARG, fn, "params[%d] is NULL", i);
        if (tg_ndim(params[i]) < 0) return tg_error_context(mark, fn);
    }
    return TG_OK;
}

int tg_clip_grad_norm(tg_tape *tape, int n, tg_tensor *const *params, double max_norm,
                      double *total_norm) {
    const char *fn = "tg_clip_grad_norm";
    if (!tape || n <= 0 || !params || !(max_norm > 0))
        return tg_set_error(TG_ERR_INVALID_ARG, fn,
                            "need a tape, n > 0 parameters and max_norm > 0");
    int st = check_params(fn, n, params);
    if (st) return st;
    unsigned mark = tg_error_mark();
    bool mode = tg_tape_set_grad(tape, false);
    double sq = 0;
    for (int i = 0; i < n; i++) {
        tg_tensor *g = tg_grad_of(params[i]);
        if (!g) continue;
        double v = tg_item(tg_sum(tape, tg_mul(tape, g, g)));
        if (isnan(v) && tg_last_status()) {
            tg_tape_set_grad(tape, mode);
            return tg_error_context(mark, fn);
        }
        sq += v;
    }
    tg_tape_set_grad(tape, mode);
    double norm = sqrt(sq);
    if (total_norm) *total_norm = norm;
    double coef = max_norm / (norm + 1e-6);
    if (coef >= 1.0) return TG_OK;
    for (int i = 0; i < n; i++) {
        tg_tensor *g = tg_grad_of(params[i]);
        if (g && tg_scale_(g, coef)) return tg_error_context(mark, fn);
    }
    return TG_OK;
}

int tg_clip_grad_value(int n, tg_tensor *const *params, double clip) {
    const char *fn = "tg_clip_grad_value";
    if (n <= 0 || !params || !(clip >= 0))
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "need n > 0 parameters and clip >= 0");
    int st = check_params(fn, n, params);
    if (st) return st;
    unsigned mark = tg_error_mark();
    for (int i = 0; i < n; i++) {
        tg_tensor *g = tg_grad_of(params[i]);
        if (g && tg_clamp_(g, -clip, clip)) return tg_error_context(mark, fn);
    }
    return TG_OK;
}

tg_early_stop tg_early_stop_init(int patience, double min_delta, bool maximize) {
    if (patience < 0 || !(min_delta >= 0))
        tg_set_error(TG_ERR_INVALID_ARG, "tg_early_stop_init",
                     "need patience >= 0 and min_delta >= 0, got %d and %g", patience,
                     min_delta);
    tg_early_stop es = {.patience = patience, .min_delta = min_delta, .maximize = maximize,
                        .best = maximize ? -INFINITY : INFINITY, .best_epoch = -1};
    return es;
}

bool tg_early_stop_update(tg_early_stop *es, double metric, bool *improved) {
    if (!es) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_early_stop_update", "state is NULL");
        return true;
    }
    bool better = es->maximize ? metric > es->best + es->min_delta
                               : metric < es->best - es->min_delta;
    if (better) {
        es->best = metric;
        es->best_epoch = es->epoch;
        es->bad_epochs = 0;
    } else {
        es->bad_epochs++;
    }
    es->epoch++;
    if (improved) *improved = better;
    return es->bad_epochs > es->patience;
}

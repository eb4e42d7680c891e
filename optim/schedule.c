// Learning-rate schedules (pure functions of the epoch), gradient clipping, early stopping.
#include <math.h>

#include <tapegrad/tapegrad.h>

double tg_lr_at(const tg_lr_schedule *s, int epoch) {
    if (!s || epoch < 0) return NAN;
    double lr = s->base_lr;
    if (s->warmup > 0) {
        if (epoch < s->warmup) return lr * (double)(epoch + 1) / (double)s->warmup;
        epoch -= s->warmup;
    }
    double e = (double)epoch;
    switch (s->kind) {
    case TG_LR_CONSTANT: return lr;
    case TG_LR_STEP: return s->step_size > 0 ? lr * pow(s->gamma, floor(e / s->step_size)) : NAN;
    case TG_LR_EXPONENTIAL: return lr * pow(s->gamma, e);
    case TG_LR_INV_SQRT: return lr / sqrt(e > 1 ? e : 1);
    case TG_LR_INV_TIME: return lr / (1.0 + s->decay * e);
    case TG_LR_COSINE:
        if (s->t_max <= 0) return NAN;
        return s->eta_min + (lr - s->eta_min) * (1.0 + cos(3.14159265358979323846 * e / s->t_max)) / 2.0;
    default: return NAN;
    }
}

int tg_clip_grad_norm(tg_tape *tape, int n, tg_tensor *const *params, double max_norm,
                      double *total_norm) {
    if (!tape || n <= 0 || !params || !(max_norm > 0))
        return tg_set_error(TG_ERR_INVALID_ARG, "tg_clip_grad_norm",
                            "need a tape, n > 0 parameters and max_norm > 0");
    bool mode = tg_tape_set_grad(tape, false);
    double sq = 0;
    for (int i = 0; i < n; i++) {
        tg_tensor *g = tg_grad_of(params[i]);
        if (!g) continue;
        double v = tg_item(tg_sum(tape, tg_mul(tape, g, g)));
        if (isnan(v) && tg_last_status()) {
            tg_tape_set_grad(tape, mode);
            return tg_last_status();
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
        if (g && tg_scale_(g, coef)) return tg_last_status();
    }
    return TG_OK;
}

int tg_clip_grad_value(int n, tg_tensor *const *params, double clip) {
    if (n <= 0 || !params || !(clip >= 0))
        return tg_set_error(TG_ERR_INVALID_ARG, "tg_clip_grad_value",
                            "need n > 0 parameters and clip >= 0");
    for (int i = 0; i < n; i++) {
        tg_tensor *g = tg_grad_of(params[i]);
        if (g && tg_clamp_(g, -clip, clip)) return tg_last_status();
    }
    return TG_OK;
}

tg_early_stop tg_early_stop_init(int patience, double min_delta, bool maximize) {
    tg_early_stop es = {.patience = patience, .min_delta = min_delta, .maximize = maximize,
                        .best = maximize ? -INFINITY : INFINITY, .best_epoch = -1};
    return es;
}

bool tg_early_stop_update(tg_early_stop *es, double metric, bool *improved) {
    if (!es) return true;
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

// optim: optimizers (update rules of torch.optim, to round-off), LR schedules, gradient
// clipping and early stopping. Built only from public in-place ops: any backend.
#pragma once

#include "tapegrad/defs.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_optim tg_optim;

typedef enum tg_optim_kind {
    TG_OPTIM_SGD = 0,
    TG_OPTIM_ADAGRAD,
    TG_OPTIM_ADADELTA,
    TG_OPTIM_RMSPROP,
    TG_OPTIM_ADAM,
    TG_OPTIM_ADAMW,
    TG_OPTIM_ADAMAX,
    TG_OPTIM_NADAM,
    TG_OPTIM_KIND_COUNT
} tg_optim_kind;

// Hyper-parameters; tg_optim_opts_default(kind) gives torch.optim's defaults for that kind.
typedef struct tg_optim_opts {
    double lr;
    double weight_decay;
    double momentum;        // SGD, RMSprop
    double dampening;       // SGD
    bool nesterov;          // SGD
    double beta1, beta2;    // Adam family (betas)
    double eps;
    bool amsgrad;           // Adam, AdamW
    double alpha;           // RMSprop smoothing constant
    bool centered;          // RMSprop
    double rho;             // Adadelta
    double lr_decay;        // Adagrad
    double initial_accumulator_value; // Adagrad
    double momentum_decay;  // NAdam
} tg_optim_opts;

// A kind outside the enum sets the error and gets the defaults common to all kinds.
TG_API tg_optim_opts tg_optim_opts_default(tg_optim_kind kind);
// An optimizer over n parameters (borrowed: they must outlive it). opts NULL = defaults.
// State tensors are created at the first step; later steps allocate nothing.
TG_API tg_optim *tg_optim_new(tg_optim_kind kind, int n, tg_tensor *const *params,
                              const tg_optim_opts *opts);
// Shorthands with the common arguments.
TG_API tg_optim *tg_sgd(int n, tg_tensor *const *params, double lr, double momentum);
TG_API tg_optim *tg_adam(int n, tg_tensor *const *params, double lr);
TG_API void tg_optim_free(tg_optim *opt);
// One update from the parameters' grads (parameters with no grad yet are skipped).
TG_API int tg_optim_step(tg_optim *opt);
// Zeroes every parameter's grad.
TG_API int tg_optim_zero_grad(tg_optim *opt);
// The current learning rate (NaN and an error for a NULL optimizer).
TG_API double tg_optim_lr(const tg_optim *opt);
TG_API int tg_optim_set_lr(tg_optim *opt, double lr);
TG_API const char *tg_optim_kind_name(tg_optim_kind kind);

// ---- checkpoints (tg_checkpoint, data.h) ----

// Adds opt's state to c under `prefix` (e.g. "optim."), in the shape of torch.optim's
// state_dict: the moment tensors (borrowed: save c before the next step) as
// prefix + "state.<i>.<name>" (exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer, sum,
// square_avg, acc_delta, grad_avg, exp_inf), and metadata prefix + "kind", "n_params",
// every hyper-parameter ("lr", "beta1", ...), "steps" (per parameter) and NAdam's
// "mu_product", doubles as "%.17g" so they read back exactly. Parameters never stepped have
// no tensors. On failure c may hold part of the state: free it.
TG_API int tg_optim_save_state(const tg_optim *opt, tg_checkpoint *c, const char *prefix);
// Restores what tg_optim_save_state stored: the kind and the number of parameters must
// match and every moment tensor must have its parameter's dtype and shape; the
// hyper-parameters (lr included) are restored too. Everything is checked and copied into
// new tensors before the optimizer changes, so on any error it is unchanged. The LR
// schedule's position is the caller's epoch/step counter: store it as metadata.
TG_API int tg_optim_load_state(tg_optim *opt, const tg_checkpoint *c, const char *prefix);

// ---- gradient clipping (on the parameters' grads, in place) ----

// Scales all grads so their joint L2 norm is at most max_norm (torch's clip_grad_norm_:
// coefficient max_norm / (norm + 1e-6)); the norm before clipping goes to *total_norm
// (may be NULL). Uses `tape` in no-grad mode for the reduction (its steps die at reset).
TG_API int tg_clip_grad_norm(tg_tape *tape, int n, tg_tensor *const *params, double max_norm,
                             double *total_norm);
// Clamps every grad element to [-clip, clip]. Both refuse a NULL or stale entry of params.
TG_API int tg_clip_grad_value(int n, tg_tensor *const *params, double clip);

// ---- learning-rate schedules: pure functions of the epoch ----

typedef enum tg_lr_kind {
    TG_LR_CONSTANT = 0,
    TG_LR_STEP,         // lr * gamma^floor(epoch / step_size)
    TG_LR_EXPONENTIAL,  // lr * gamma^epoch
    TG_LR_INV_SQRT,     // lr / sqrt(max(epoch, 1))
    TG_LR_INV_TIME,     // lr / (1 + decay * epoch)
    TG_LR_COSINE,       // eta_min + (lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2
    TG_LR_KIND_COUNT
} tg_lr_kind;

typedef struct tg_lr_schedule {
    tg_lr_kind kind;
    double base_lr;
    double gamma;        // STEP, EXPONENTIAL
    int step_size;       // STEP
    double decay;        // INV_TIME
    int t_max;           // COSINE
    double eta_min;      // COSINE
    int warmup;          // linear warm-up epochs before the schedule (0 = none)
} tg_lr_schedule;

// The learning rate at `epoch` (0-based). With warmup w > 0: lr * (epoch + 1) / w for
// epoch < w, then the schedule evaluated at epoch - w. NaN and an error for a NULL
// schedule, a negative epoch, a kind outside the enum, STEP with step_size <= 0 or COSINE
// with t_max <= 0.
TG_API double tg_lr_at(const tg_lr_schedule *s, int epoch);

// ---- early stopping ----

typedef struct tg_early_stop {
    int patience;       // epochs without improvement before stopping
    double min_delta;   // improvement smaller than this does not count
    bool maximize;      // true for accuracy-like metrics
    double best;        // best value so far (set by tg_early_stop_init)
    int best_epoch;
    int bad_epochs;
    int epoch;
} tg_early_stop;

// patience < 0 or a NaN or negative min_delta sets the error (the state is returned as given).
TG_API tg_early_stop tg_early_stop_init(int patience, double min_delta, bool maximize);
// Feeds one epoch's validation metric; returns true when training should stop.
// *improved (may be NULL) says whether this epoch is the new best. A NULL es sets the
// error and returns true.
TG_API bool tg_early_stop_update(tg_early_stop *es, double metric, bool *improved);

#ifdef __cplusplus
}
#endif

// Data: loading (CSV, NumPy .npy, MNIST IDX), splitting, standardising, mini-batches,
// metrics, and checkpoints (safetensors). Loaded tensors are persistent (caller frees).
#pragma once

#include <stdio.h>
#include "tapegrad/defs.h"
#include "tapegrad/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- files ----

// CSV with a header line and numeric columns. Column `label_col` (negative counts from the
// end; TG_NO_LABEL for none) goes to *y as [rows]; the others to *x as [rows, cols].
// Errors (missing file, ragged rows, non-numeric cells) name the file, line and column.
#define TG_NO_LABEL (-1000000)
TG_API int tg_load_csv(const char *path, tg_backend *be, tg_dtype dtype, bool header,
                       int label_col, tg_tensor **x, tg_tensor **y);
// NumPy .npy (v1/v2/v3, C order, little-endian f4/f8/i1/u1/i2/i4/i8/u4...) -> tensor of dtype.
TG_API tg_tensor *tg_load_npy(const char *path, tg_backend *be, tg_dtype dtype);
// Writes a tensor as .npy (<f4 or <f8), atomically (temp file + rename).
TG_API int tg_save_npy(const char *path, const tg_tensor *t);
// MNIST / Fashion-MNIST IDX files (optionally gzip'd is not supported: gunzip first).
// Images become [n, rows*cols] scaled by `scale` (e.g. 1/255), labels [n].
TG_API tg_tensor *tg_load_idx(const char *path, tg_backend *be, tg_dtype dtype, double scale);

// ---- synthetic data ----

// sklearn.datasets.make_moons(n, shuffle=True, noise=noise, random_state=seed), value for
// value (numpy's MT19937 stream reproduced): x [n,2], labels y [n] in {0,1}. Persistent.
TG_API int tg_make_moons(int64_t n, double noise, uint32_t seed, tg_backend *be, tg_dtype dtype,
                         tg_tensor **x, tg_tensor **y);

// ---- preparing data ----

// Splits rows of x (and y, may be NULL) into train/test after a seeded shuffle;
// test gets round(test_fraction * rows) rows. Outputs are new persistent tensors.
TG_API int tg_train_test_split(const tg_tensor *x, const tg_tensor *y, double test_fraction,
                               uint64_t seed, tg_tensor **x_train, tg_tensor **x_test,
                               tg_tensor **y_train, tg_tensor **y_test);
// Per-column mean and std of x [rows, cols] (population std; 0 std -> 1).
TG_API int tg_standardize_fit(const tg_tensor *x, double *mean, double *std);
// x[:, j] = (x[:, j] - mean[j]) / std[j], in place.
TG_API int tg_standardize_apply(tg_tensor *x, const double *mean, const double *std);

// ---- mini-batches ----

typedef struct tg_loader tg_loader;

// Iterates rows of x (and y, may be NULL) in batches; reshuffles with its own seeded RNG
// at every tg_loader_reset when shuffle is set. The last partial batch is kept unless
// drop_last. Batch tensors are persistent buffers owned by the loader (reused).
TG_API tg_loader *tg_loader_new(const tg_tensor *x, const tg_tensor *y, int64_t batch,
                                bool shuffle, bool drop_last, uint64_t seed);
// Frees the loader and its batch tensors; TG_ERR_STATE (nothing freed) while a live tape
// still records a batch tensor. NULL is a no-op.
TG_API int tg_loader_free(tg_loader *l);
// Starts an epoch (reshuffles). A NULL loader sets the error.
TG_API void tg_loader_reset(tg_loader *l);
// Next batch into *xb, *yb (valid until the next call); false at the end of the epoch.
TG_API bool tg_loader_next(tg_loader *l, tg_tensor **xb, tg_tensor **yb);
// Batches per epoch; the error (negative) for a NULL loader.
TG_API int64_t tg_loader_n_batches(const tg_loader *l);

// ---- metrics ----

// Fraction of rows whose argmax of logits [N, C] equals labels [N] (or, for [N,1]/[N]
// scores, whose score > 0.5 matches a 0/1 label).
TG_API double tg_accuracy(const tg_tensor *logits, const tg_tensor *labels);
// counts[i * n_classes + j] = rows with true class i predicted as j.
TG_API int tg_confusion_matrix(const tg_tensor *logits, const tg_tensor *labels, int n_classes,
                               int64_t *counts);
// Prints the matrix as a table with row/column headers (stdout if f is NULL), and flushes
// f: TG_ERR_IO when a write fails.
TG_API int tg_print_confusion(const int64_t *counts, int n_classes, FILE *f);

// ---- checkpoints (safetensors) ----

// Writes the module's parameters and buffers under their state-dict names, atomically
// (temp file + rename). The file loads in PyTorch / Hugging Face safetensors.
TG_API int tg_save_safetensors(const tg_module *m, const char *path);
// Loads every parameter and buffer from the file. Validates first (header, names, shapes,
// dtypes, sizes): on any problem returns an error and leaves the module untouched.
TG_API int tg_load_safetensors(tg_module *m, const char *path);

// ---- checkpoints: any named tensors plus string metadata ----

// An in-memory set of named tensors and string metadata, saved as one safetensors file (the
// metadata goes to "__metadata__", which safetensors' safe_open(...).metadata() returns).
// To resume a run bit for bit, add the model (tg_checkpoint_add_module), the optimizer
// (tg_optim_save_state), every RNG (tg_checkpoint_add_rng) and your own counters (epoch,
// step: the position in an LR schedule, since tg_lr_at is a pure function of it) as
// metadata. Tensors added for saving are borrowed (they must stay alive until the save);
// loaded tensors are persistent CPU tensors owned by the checkpoint.
// An empty checkpoint (NULL and TG_ERR_OOM when memory runs out).
TG_API tg_checkpoint *tg_checkpoint_new(void);
// Frees the checkpoint, its metadata and the tensors it owns (borrowed ones stay). NULL is
// a no-op.
TG_API void tg_checkpoint_free(tg_checkpoint *c);
// Adds t (borrowed, persistent, live) under `name` (non-empty UTF-8, not "__metadata__",
// not already present).
TG_API int tg_checkpoint_add(tg_checkpoint *c, const char *name, const tg_tensor *t);
// Adds every parameter and buffer of m under prefix + its state-dict name ("0.weight";
// prefix "" or e.g. "model."). All or nothing.
TG_API int tg_checkpoint_add_module(tg_checkpoint *c, const char *prefix, const tg_module *m);
// Sets metadata key to value (both copied, UTF-8; an existing key is replaced).
TG_API int tg_checkpoint_set_meta(tg_checkpoint *c, const char *key, const char *value);
// Writes the checkpoint atomically (temp file + fsync + rename + fsync of the directory).
// Adds "format": "pt" to the metadata unless set. TG_ERR_INVALID_ARG when names and
// metadata would make a header over 100 MB (safetensors readers refuse those).
TG_API int tg_checkpoint_save(const tg_checkpoint *c, const char *path);
// Reads and validates the whole file (header, metadata, layout) into a new checkpoint that
// owns CPU tensors for the F32/F64 entries; entries of other dtypes (a PyTorch I64 counter)
// are listed but hold no tensor (tg_checkpoint_get names their dtype). NULL on error.
TG_API tg_checkpoint *tg_checkpoint_load(const char *path);
// The tensor saved under name, owned by (or borrowed by) the checkpoint; NULL and
// TG_ERR_INVALID_ARG naming the name when absent.
TG_API tg_tensor *tg_checkpoint_get(const tg_checkpoint *c, const char *name);
// The metadata value of key (owned by the checkpoint, valid until it changes or is freed);
// NULL and TG_ERR_INVALID_ARG when absent.
TG_API const char *tg_checkpoint_meta(const tg_checkpoint *c, const char *key);
// Copies the checkpoint's tensor `name` into t (any backend): same dtype and shape, else an
// error and t unchanged.
TG_API int tg_checkpoint_restore(const tg_checkpoint *c, const char *name, tg_tensor *t);
// Restores every parameter and buffer of m from prefix + its state-dict name. Strict: each
// must be present with the module's dtype and shape; checked for all before any is written,
// so a mismatch leaves m untouched. Names the module lacks are ignored (the same file holds
// the optimizer and other state).
TG_API int tg_checkpoint_restore_module(const tg_checkpoint *c, const char *prefix,
                                        tg_module *m);
// Stores rng's state (tg_rng_get_state) under metadata key, as six 16-digit hex words.
TG_API int tg_checkpoint_add_rng(tg_checkpoint *c, const char *key, const tg_rng *rng);
// Sets rng to the state stored under key; a missing or malformed value leaves rng unchanged.
TG_API int tg_checkpoint_restore_rng(const tg_checkpoint *c, const char *key, tg_rng *rng);

#ifdef __cplusplus
}
#endif

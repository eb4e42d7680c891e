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

#ifdef __cplusplus
}
#endif

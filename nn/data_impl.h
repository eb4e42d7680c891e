// Internal helpers shared by the data files of nn/ (csv, npy, idx, safetensors): reading a
// whole file and writing one atomically. Public headers only, like the rest of nn/.
#pragma once

#include <stddef.h>

#include <tapegrad/tapegrad.h>

// Reads the whole file at `path` into *buf (tg_mem_alloc'd, len + 1 bytes, NUL-terminated so a
// text parser can never run past the end). TG_OK, or TG_ERR_IO / TG_ERR_OOM with an error
// "<where>: cannot open '<path>': <reason>". On failure *buf is NULL.
int tg__read_file(const char *path, const char *where, char **buf, size_t *len);

// Writes `len` bytes to `path` atomically: a temporary file in the same directory, fsync,
// then rename() over `path`. On failure the temporary file is removed and `path` is left
// as it was. TG_OK or TG_ERR_IO naming `where` and the path.
int tg__write_file_atomic(const char *path, const char *where, const void *data, size_t len);

// TG_OK when t is a live tensor. Otherwise the error under `where`'s name: "<what> is NULL",
// or the accessor's liveness error renamed ("<where>: <what>: step tensor used after...").
// An error already pending stays first (its status is returned).
int tg__check_tensor(const tg_tensor *t, const char *where, const char *what);

// A readable description of errno value `e` (thread-safe copy into buf).
const char *tg__errno_str(int e, char *buf, size_t size);

// ---- the parsers on a file image in memory ----
// The file loaders read the file and call these (the fuzzers in tests/fuzz call them
// directly); `name` stands for the path in messages, which name the public function.
// `buf` need not be NUL-terminated. Same results and errors as the file loaders.
int tg__load_csv_mem(const char *name, const char *buf, size_t len, tg_backend *be,
                     tg_dtype dtype, bool header, int label_col, tg_tensor **x, tg_tensor **y);
tg_tensor *tg__load_npy_mem(const char *name, const void *buf, size_t len, tg_backend *be,
                            tg_dtype dtype);
tg_tensor *tg__load_idx_mem(const char *name, const void *buf, size_t len, tg_backend *be,
                            tg_dtype dtype, double scale);
int tg__load_safetensors_mem(tg_module *m, const char *name, const void *buf, size_t len);

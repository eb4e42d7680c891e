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

// A readable description of errno value `e` (thread-safe copy into buf).
const char *tg__errno_str(int e, char *buf, size_t size);

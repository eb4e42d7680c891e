// The safetensors format shared by the module checkpoints (safetensors.c) and the general
// checkpoints (checkpoint.c): parsing and validating a file image (safetensors_fmt.c), and
// writing named tensors plus string metadata atomically. Public headers only, like nn/.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <tapegrad/tapegrad.h>

// The largest header the reference implementation reads (100 MB).
#define TG__ST_MAX_HEADER ((uint64_t)100000000)

// Indices into the format's dtype table; tapegrad holds F64 and F32.
enum { TG__ST_F64 = 0, TG__ST_F32 = 1 };

typedef struct tg__st_entry {
    char *name;
    int dtype;                  // index into the dtype table (tg__st_dtype_name)
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    uint64_t begin, end;        // byte range in the data section
} tg__st_entry;

typedef struct tg__st_meta {
    char *key, *value;          // UTF-8, NUL-free
} tg__st_meta;

// A parsed file: entries sorted by offset, the metadata in file order, and the data section
// (a pointer into the caller's image, not owned).
typedef struct tg__st_file {
    tg__st_entry *es;
    int ne;
    tg__st_meta *meta;
    int nmeta;
    const unsigned char *data;
} tg__st_file;

const char *tg__st_dtype_name(int dtype);
// "[2,3]" into buf.
const char *tg__st_shape_str(char *buf, size_t size, int ndim, const int64_t *shape);
// True when s[0, n) is valid UTF-8; else *bad is the offset of the first bad byte.
bool tg__st_utf8_valid(const unsigned char *s, size_t n, size_t *bad);

// Parses and validates the image buf[0, len): header size, UTF-8, strict JSON, dtypes,
// shapes, metadata (strings only, keys unique), and that the tensors tile the data section
// exactly. Errors read "<fn>: <path>: <reason>" (TG_ERR_IO; TG_ERR_OOM when memory runs
// out). On failure *f is empty; on success free it with tg__st_file_free.
int tg__st_parse(const char *fn, const char *path, const unsigned char *buf, size_t len,
                 tg__st_file *f);
void tg__st_file_free(tg__st_file *f);

// Writes tensors ts[i] (live, F32/F64) under names[i] and the metadata pairs keys[j]/vals[j]
// to `path` atomically. Errors name `fn`: TG_ERR_OOM, TG_ERR_IO, TG_ERR_INVALID_ARG when the
// header would pass TG__ST_MAX_HEADER.
int tg__st_write(const char *fn, const char *path, tg_tensor *const *ts,
                 const char *const *names, int n, const char *const *keys,
                 const char *const *vals, int nmeta);

// The module's tensors and their state-dict names, parameters then buffers (two arrays the
// caller frees with tg_mem_free). TG_ERR_OOM, or TG_ERR_STATE naming `where` when a tensor is
// missing or a name repeats.
int tg__module_tensors(const tg_module *m, const char *where, tg_tensor ***ts,
                       const char ***names, int *n);

// tg_checkpoint_load on a file image in memory (`name` stands for the path in messages); the
// fuzzer calls it directly.
tg_checkpoint *tg__checkpoint_load_mem(const char *name, const void *buf, size_t len);

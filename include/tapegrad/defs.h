// Shared definitions for the public headers: export macro, dtypes, opaque handles.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TG_BUILD) && defined(__GNUC__)
#define TG_API __attribute__((visibility("default")))
#else
#define TG_API
#endif

#define TG_VERSION_MAJOR 0
#define TG_VERSION_MINOR 1
#define TG_VERSION_PATCH 0
#define TG_MAX_DIMS 8
// The most elements a tensor may have (2^59 - 1): its byte count, at 8 bytes per element,
// then fits in ptrdiff_t with room to spare. Every shape (and every product of sizes the
// library computes) is checked against it; see tg_tensor_new.
#define TG_MAX_NUMEL ((INT64_C(1) << 59) - 1)

typedef enum tg_dtype {
    TG_F32 = 0,
    TG_F64 = 1,
    TG_DTYPE_COUNT
} tg_dtype;

typedef struct tg_tensor tg_tensor;   // opaque; see tensor.h for the two lifetimes
typedef struct tg_tape tg_tape;       // opaque; records ops, owns step tensors
typedef struct tg_backend tg_backend; // opaque; "cpu" is built in, "cuda" is a module
typedef struct tg_rng tg_rng;         // opaque; seeded random stream (no global RNG)
typedef struct tg_checkpoint tg_checkpoint;  // opaque; named tensors + metadata (data.h)

// Returns "f32" / "f64" (static string), or "?" for an unknown value.
TG_API const char *tg_dtype_name(tg_dtype dtype);
// Size of one element in bytes, 0 for an unknown dtype.
TG_API size_t tg_dtype_size(tg_dtype dtype);
// "0.1.0" (static string).
TG_API const char *tg_version(void);

#ifdef __cplusplus
}
#endif

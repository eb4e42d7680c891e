// Tensors, backends, the RNG and memory statistics.
//
// Two lifetimes:
//  - persistent tensors (tg_tensor_new, tg_tensor_from, tg_param, tg_rand_*, tg_to) are
//    owned by the caller and freed with tg_free();
//  - step tensors (every op result) are owned by the tape that recorded them and die at
//    tg_tape_reset()/tg_tape_free(). tg_free() on a step tensor is an error, not UB.
// Tensors are contiguous row-major, f32 or f64, up to TG_MAX_DIMS dims, on one backend.
#pragma once

#include <stdio.h>
#include "tapegrad/defs.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- backends ----

// The backend named "cpu" or "cuda"; NULL means $TG_BACKEND, else "cpu". The handle is
// process-wide and never freed. NULL + error when the backend is not available.
TG_API tg_backend *tg_backend_get(const char *name);
// Static name of a backend ("cpu", "cuda").
TG_API const char *tg_backend_name(const tg_backend *backend);
// Threads the backend may use for one kernel (gemm, big elementwise work); 0 = default.
// At most TG_MAX_THREADS; more (or n < 0) is TG_ERR_INVALID_ARG, the setting unchanged.
#define TG_MAX_THREADS 1024
TG_API int tg_backend_set_threads(tg_backend *backend, int n_threads);
// Wait for queued work on the backend to finish.
TG_API int tg_backend_synchronize(tg_backend *backend);
// The cpu backend's kernel choice and the CPU it was made for, as "key: value" lines:
// cpu_vendor, cpu_family, cpu_model, cpu_stepping, cpu_model_name, cpu_flags, kernels
// (tapegrad's variant: base|avx2|avx512), kernels_reason, blis_kernels (BLIS's kernel set,
// e.g. skx), blis_arch_id (its BLIS_ARCH_TYPE number), blis_sup_kernels (whose small-matrix
// path BLIS's skinny products take), blis_reason, blis_detected (what BLIS picks alone; n/a when
// unknown), blis_mechanism, blis_version; more keys may follow. snprintf's contract: writes
// at most `size` bytes (NUL included; buf may be NULL when size is 0) and returns the
// length of the whole description. Never fails. See README "Kernel selection (cpu)".
TG_API int tg_cpu_describe(char *buf, size_t size);

// ---- persistent tensors ----

// New zero-filled persistent tensor. Caller frees with tg_free(). NULL + error on a bad
// shape (ndim outside 0..8, negative dim), bad dtype or out of memory.
// Sizes (all tensors, op results too): the product of the non-zero dims must be at most
// TG_MAX_NUMEL (2^59 - 1), else TG_ERR_SHAPE; so [0, 2^58] is a valid empty tensor but
// [0, 2^40, 2^40] is refused. A size within it whose memory cannot be had is TG_ERR_OOM.
TG_API tg_tensor *tg_tensor_new(tg_backend *backend, tg_dtype dtype, int ndim,
                                const int64_t *shape);
// New persistent tensor holding a copy of host data (numel elements of `dtype`).
TG_API tg_tensor *tg_tensor_from(tg_backend *backend, tg_dtype dtype, int ndim,
                                 const int64_t *shape, const void *host_data);
// Like tg_tensor_from, then marked requires_grad: a trainable parameter.
TG_API tg_tensor *tg_param(tg_backend *backend, tg_dtype dtype, int ndim,
                           const int64_t *shape, const void *host_data);
// Scalar (0-dim) persistent tensor.
TG_API tg_tensor *tg_scalar(tg_backend *backend, tg_dtype dtype, double value);
// Persistent copy of any tensor (step or persistent) on `backend` (NULL: same backend),
// detached from the graph; requires_grad is not copied.
TG_API tg_tensor *tg_to(const tg_tensor *t, tg_backend *backend);
// Persistent copy converted to `dtype`, detached.
TG_API tg_tensor *tg_cast(const tg_tensor *t, tg_dtype dtype);
// Frees a persistent tensor and its grad. NULL is a no-op. Fails (TG_ERR_STATE) on a
// step tensor, on a parameter's .grad (owned by the parameter), on a freed or stale
// tensor, or while a tape that recorded it has not been reset.
TG_API int tg_free(tg_tensor *t);
// Frees n persistent tensors (NULL entries and repeats skipped) all or nothing: if tg_free
// would refuse any of them, nothing is freed and the error names it (TG_ERR_STATE).
TG_API int tg_free_many(int n, tg_tensor *const *ts);
// TG_OK when tg_free(t) would free t (NULL too); otherwise sets and returns the error it
// would give, freeing nothing. For all-or-nothing frees of whole structures.
TG_API int tg_free_check(const tg_tensor *t);

// ---- accessors ----

TG_API int tg_ndim(const tg_tensor *t);
// Pointer to the tensor's shape (ndim entries), valid while the tensor lives.
TG_API const int64_t *tg_shape(const tg_tensor *t);
TG_API int64_t tg_numel(const tg_tensor *t);
TG_API tg_dtype tg_dtype_of(const tg_tensor *t);
TG_API tg_backend *tg_backend_of(const tg_tensor *t);
TG_API bool tg_requires_grad(const tg_tensor *t);
// Marks a persistent tensor as a leaf that collects gradients. Step tensors refuse.
TG_API int tg_set_requires_grad(tg_tensor *t, bool requires_grad);
// True for tensors owned by a tape.
TG_API bool tg_is_step(const tg_tensor *t);
// The gradient accumulated by tg_backward (a persistent tensor owned by `t`), or NULL if
// no backward pass has reached it yet. Do not free it (tg_free refuses): tg_grad_clear.
TG_API tg_tensor *tg_grad_of(const tg_tensor *t);
// Names a persistent tensor (copied, up to 127 bytes; NULL clears): DOT output shows it
// (nn names parameters by their module path, "0.weight"). Step tensors refuse.
TG_API int tg_tensor_set_name(tg_tensor *t, const char *name);
// The name (borrowed, valid until renamed or freed), or NULL.
TG_API const char *tg_tensor_name(const tg_tensor *t);
// Drops t's gradient (PyTorch's zero_grad(set_to_none=True)): the next backward makes a
// new one. Pointers from tg_grad_of(t) die here. TG_ERR_STATE while a tape records it.
TG_API int tg_grad_clear(tg_tensor *t);
// The version of t's storage: every in-place write (tg_*_ updates, tg_copy_from_host, RNG
// fills, optimizer steps, tg_mark_dirty) bumps it; views share it. tg_backward refuses a
// node whose saved inputs changed version since they were recorded (TG_ERR_STATE).
TG_API uint64_t tg_tensor_version(const tg_tensor *t);
// Declares that t's data was written through tg_data_f32/f64 (which tapegrad cannot see):
// bumps its version, so a recorded graph that read the old values refuses to backward.
TG_API int tg_mark_dirty(tg_tensor *t);
// Sets the gradient of every given tensor to zero (keeps the buffers: no allocation).
TG_API int tg_zero_grad(int n, tg_tensor *const *tensors);

// The value of a one-element tensor as double; NAN + error otherwise.
TG_API double tg_item(const tg_tensor *t);
// Copies all elements to host memory (`bytes` must be numel * dtype size).
TG_API int tg_copy_to_host(const tg_tensor *t, void *dst, size_t bytes);
// Overwrites all elements of a persistent tensor from host memory.
TG_API int tg_copy_from_host(tg_tensor *t, const void *src, size_t bytes);
// Direct pointer to the elements of a CPU tensor of that dtype; NULL + error otherwise.
// Writes through it are not tracked: call tg_mark_dirty(t) after writing.
TG_API float *tg_data_f32(tg_tensor *t);
TG_API double *tg_data_f64(tg_tensor *t);
// The address of t's first element in its backend's memory, whatever the backend and dtype:
// host memory for cpu, device memory for cuda (PyTorch's data_ptr()). For handing t to a
// library that works in place, such as NCCL or cuBLAS; elements are contiguous, numel of
// them. NULL + error for a NULL, freed or stale tensor. A persistent tensor's pointer lives
// as long as the tensor, a step tensor's until its tape is reset. Writes through it are not
// tracked: call tg_mark_dirty(t) after writing. A .grad cleared by tg_zero_grad reads as
// zero lazily: take it with tg_grad_of(p) first, which applies the pending zeroing.
TG_API void *tg_data_ptr(tg_tensor *t);

// NumPy-style repr to `f` (stdout if NULL): values (elided with ... when large), shape,
// dtype. Returns TG_OK or a negative status (TG_ERR_IO when a write or the flush fails).
TG_API int tg_print(const tg_tensor *t, FILE *f);

// ---- in-place updates (no graph; for optimizers and initialisation) ----
// They work on persistent tensors (or step tensors outside any recorded graph), need
// equal shapes and dtypes, and never allocate. Each bumps the written tensor's version
// (tg_tensor_version): writing a tensor that a recorded node's gradient rule reads makes
// the next tg_backward through that node fail with TG_ERR_STATE, as in PyTorch.

// y = value
TG_API int tg_fill_(tg_tensor *y, double value);
// y = src
TG_API int tg_copy_(tg_tensor *y, const tg_tensor *src);
// y = alpha * x + beta * y
TG_API int tg_axpby_(tg_tensor *y, double alpha, const tg_tensor *x, double beta);
// y = y + value * a * b
TG_API int tg_addcmul_(tg_tensor *y, double value, const tg_tensor *a, const tg_tensor *b);
// y = y + value * a / (sqrt(b) * b_scale + eps)      (Adam-style denominator)
TG_API int tg_addcdiv_sqrt_(tg_tensor *y, double value, const tg_tensor *a,
                            const tg_tensor *b, double b_scale, double eps);
// y = max(y, x)   (NaN propagates)
TG_API int tg_maximum_(tg_tensor *y, const tg_tensor *x);
// y = max(beta * y, |x| + eps)    (Adamax's infinity norm)
TG_API int tg_max_abs_(tg_tensor *y, double beta, const tg_tensor *x, double eps);
// y = y * sqrt(a + eps) / sqrt(b + eps)    (Adadelta's step)
TG_API int tg_mul_sqrt_ratio_(tg_tensor *y, const tg_tensor *a, const tg_tensor *b, double eps);
// y = min(max(y, lo), hi)
TG_API int tg_clamp_(tg_tensor *y, double lo, double hi);
// y = s * y
TG_API int tg_scale_(tg_tensor *y, double s);
// One fused Adam (decoupled = false; weight_decay as L2 on the gradient) or AdamW
// (decoupled = true) step at 1-based `step`, torch.optim's formula: updates p, m, v (and
// vmax when non-NULL: amsgrad) in one pass. All tensors of p's shape, dtype and backend.
TG_API int tg_adam_step_(tg_tensor *p, const tg_tensor *g, tg_tensor *m, tg_tensor *v,
                         tg_tensor *vmax, int64_t step, double lr, double beta1, double beta2,
                         double eps, double weight_decay, bool decoupled);
// y = y + value * a / b
TG_API int tg_addcdiv_(tg_tensor *y, double value, const tg_tensor *a, const tg_tensor *b);

// ---- random numbers ----

// A seeded random stream (xoshiro256**). Free with tg_rng_free().
TG_API tg_rng *tg_rng_new(uint64_t seed);
TG_API void tg_rng_free(tg_rng *rng);
// Next uniform double in [0, 1) (NaN and an error for a NULL rng).
TG_API double tg_rng_uniform(tg_rng *rng);
// Next standard normal double (NaN and an error for a NULL rng).
TG_API double tg_rng_normal(tg_rng *rng);
// The whole state of a stream, to save and restore it (checkpoints: tg_checkpoint_add_rng):
// words 0-3 the xoshiro256** state, word 4 whether a spare normal is cached (0 or 1), word 5
// that spare's IEEE-754 bits (0 when none). A restored stream continues with exactly the
// numbers the saved one would have given.
#define TG_RNG_STATE_WORDS 6
TG_API int tg_rng_get_state(const tg_rng *rng, uint64_t out[TG_RNG_STATE_WORDS]);
// Refuses (TG_ERR_INVALID_ARG, rng unchanged) an all-zero xoshiro state (the stream would
// give only zeros), a flag other than 0/1, a non-finite spare, or spare bits without a spare.
TG_API int tg_rng_set_state(tg_rng *rng, const uint64_t state[TG_RNG_STATE_WORDS]);
// Fill y with uniform values in [lo, hi) (finite, lo <= hi; lo == hi fills lo).
TG_API int tg_uniform_(tg_tensor *y, tg_rng *rng, double lo, double hi);
// Fill y with normal values N(mean, std^2) (finite mean, finite std >= 0).
TG_API int tg_normal_(tg_tensor *y, tg_rng *rng, double mean, double std);

// ---- memory statistics ----

// Number of heap/device allocations the library has made so far (all threads). A steady-
// state training step leaves it unchanged: tests read it before and after.
TG_API uint64_t tg_alloc_count(void);
// Host heap memory from the library's counted allocator (nn/, optim/ and user layers use
// it, so tg_alloc_count sees it). NULL on failure with no error set: the caller reports
// TG_ERR_OOM under its own name. Free with tg_mem_free (NULL is a no-op).
TG_API void *tg_mem_alloc(size_t bytes);
TG_API void *tg_mem_calloc(size_t n, size_t size);
TG_API void *tg_mem_realloc(void *p, size_t bytes);
TG_API void tg_mem_free(void *p);

#ifdef __cplusplus
}
#endif

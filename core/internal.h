// Internal structures shared by core/ and ops/: the tensor, the tape and its nodes (the op
// descriptor is ops/op_def.h), the backend handle with its caching allocator. Never installed.
#pragma once

#include <stdatomic.h>
#include <stddef.h>

#include "tapegrad/tapegrad.h"
#include "backends/backend_impl.h"
#include "ops/op_def.h"

// ---- errors ----

// Sets the thread-local error unless one is already set (first error wins). `where` is
// the public function name; the message should give the shapes and the reason.
void tg__fail(int status, const char *where, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
// True if an error is pending on this thread.
bool tg__has_error(void);
// A composed op's result: on failure (r == NULL) the error raised since `mark`
// (tg_error_mark) is reworded to name `fn`, the function the user called.
static inline tg_tensor *tg__named(const char *fn, unsigned mark, tg_tensor *r) {
    if (!r) tg_error_context(mark, fn);
    return r;
}
// Writes "[2,3,4]" into buf (always NUL-terminated).
const char *tg__shape_str(char *buf, size_t size, int ndim, const int64_t *shape);

// ---- counted heap ----

void *tg__malloc(size_t bytes);
void *tg__calloc(size_t n, size_t size);
void *tg__realloc(void *p, size_t bytes);
void tg__free(void *p);
void tg__count_alloc(void);
// Counts one allocation and says whether it must fail (the TG_FAIL_ALLOC_AFTER test hook,
// core/alloc.c); a backend allocation outside tg__buf_alloc calls it before allocating.
bool tg__alloc_fails(void);

// ---- backends ----

#define TG_CACHE_CLASSES 512

struct tg_cache_entry {
    void *ptr;
    size_t bytes;
    struct tg_cache_entry *next;
};

struct tg_backend {
    const struct tg_backend_ops *ops;
    void *ctx;
    int n_threads;
};

// The caching allocator (core/alloc.c) keeps free blocks per thread and per backend, so
// threads that each drive their own tape share a backend without locks.
// Block from this thread's cache of `be` (or a fresh one). NULL + error naming `where`.
void *tg__buf_alloc(tg_backend *be, size_t bytes, const char *where);
// Returns a block to this thread's cache of `be`.
void tg__buf_release(tg_backend *be, void *ptr, size_t bytes);

// ---- tensors ----

struct tg_node;

#define TG_MAGIC_LIVE 0x74675f4cu   // "tg_L": a live tensor struct
#define TG_MAGIC_DEAD 0x74675f44u   // "tg_D": a freed persistent tensor
#define TG_MAGIC_STALE 0x74675f53u  // "tg_S": step tensor memory of an earlier tape epoch

struct tg_tensor {
    uint32_t magic;         // TG_MAGIC_LIVE while the tensor lives
    tg_dtype dtype;
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t numel;
    size_t nbytes;
    void *data;
    tg_backend *be;
    tg_tape *tape;          // owner of a step tensor; NULL for persistent
    uint64_t epoch;         // step tensor: its tape's epoch when it was made (stale after)
    uint32_t guard;         // always TG_MAGIC_STALE, at offset TG_SLOT_BYTES / 2 (tape.c)
    bool requires_grad;
    bool is_step;
    bool owns_data;         // false for views (reshape) of another tensor's data
    bool is_grad;           // created by tg_backward as some leaf's .grad
    int64_t node;           // index of the producing node in tape, -1 for a leaf
    uint64_t *version;      // the storage's version: &ver, or the viewed tensor's counter
    uint64_t ver;           // bumped by every in-place write to this storage
    tg_tensor *grad;        // persistent: accumulated gradient (persistent tensor)
    tg_tensor *bgrad;       // step tensor: its gradient during one backward pass
    atomic_int pins;        // live tapes that recorded this persistent tensor
    atomic_int grad_lock;   // 1 while a backward pass writes .grad (threads sharing it)
    atomic_uint_fast64_t pin_key;   // cache: (tape token << 24) | slot in that tape's pins
    tg_grad_hook_fn grad_hook;      // persistent: called when a pass's .grad is final
    void *grad_hook_user;
    bool grad_zero_pending;         // tg_zero_grad ran: .grad reads as 0 (lazy, see tensor.c)
    char *name;                     // persistent: tg_tensor_set_name's copy (DOT, messages)
};

// Step tensor structs sit in fixed slots that shift by half a slot every epoch, so a
// pointer kept across a reset lands on the guard word of whatever struct now overlaps it
// (or on its own intact, stale struct): never on a live tensor's header (tape.c).
#define TG_SLOT_BYTES 256
_Static_assert(sizeof(struct tg_tensor) <= TG_SLOT_BYTES, "tensor struct fits a slot");
_Static_assert(offsetof(struct tg_tensor, guard) == TG_SLOT_BYTES / 2, "guard mid-slot");

// The storage version every in-place write bumps (views share their source's counter).
static inline void tg__bump_version(tg_tensor *t) { (*t->version)++; }
// TG_OK if t is a live tensor (not freed, not a step tensor of an earlier tape epoch);
// otherwise sets TG_ERR_STATE naming `where` and returns it. NULL is TG_ERR_INVALID_ARG
// unless an error is already pending (NULL propagation).
int tg__check_live_slow(const tg_tensor *t, const char *where);
static inline bool tg__is_live(const tg_tensor *t);
static inline int tg__check_live(const tg_tensor *t, const char *where) {
    return t && tg__is_live(t) ? TG_OK : tg__check_live_slow(t, where);
}

// A view of the whole tensor as contiguous.
tg_view tg__view_of(const tg_tensor *t);
// The whole tensor as one contiguous row (elementwise kernels on same-shape operands).
tg_view tg__view_flat(const tg_tensor *t);
// A view of t broadcast to (ndim, shape): stride 0 on broadcast axes (shapes checked).
tg_view tg__view_bcast(const tg_tensor *t, int ndim, const int64_t *shape);
// Step tensor on `tape` (data from the cache). NULL + error naming `where`.
tg_tensor *tg__step_new(tg_tape *tape, tg_backend *be, tg_dtype dtype, int ndim,
                        const int64_t *shape, const char *where);
// Step tensor sharing `src`'s data with a new shape (same numel).
tg_tensor *tg__step_view(tg_tape *tape, tg_tensor *src, int ndim, const int64_t *shape,
                         const char *where);
// Persistent tensor with uninitialised data.
tg_tensor *tg__persistent_new(tg_backend *be, tg_dtype dtype, int ndim, const int64_t *shape,
                              const char *where);
int tg__check_shape(int ndim, const int64_t *shape, const char *where);
// Element count of a shape, or -1 when a dimension is negative or the product of its
// non-zero dimensions exceeds TG_MAX_NUMEL (never a wrapped value). Every size computation
// goes through it or tg__mul_size.
int64_t tg__shape_numel(int ndim, const int64_t *shape);
// a * b, or -1 when either is negative or the product exceeds TG_MAX_NUMEL (checked before
// multiplying: no overflow, no wrap).
static inline int64_t tg__mul_size(int64_t a, int64_t b) {
    if (a < 0 || b < 0 || (a && b > TG_MAX_NUMEL / a)) return -1;
    return a * b;
}
// a + b under the same rule.
static inline int64_t tg__add_size(int64_t a, int64_t b) {
    if (a < 0 || b < 0 || b > TG_MAX_NUMEL - a) return -1;
    return a + b;
}
bool tg__same_shape(const tg_tensor *a, const tg_tensor *b);
// True if any element is NaN or Inf (reads through a small host buffer on any backend).
bool tg__nonfinite(const tg_tensor *t);
// What anomaly mode reports for t under the tape's setting: NULL (nothing), "NaN" or "Inf".
const char *tg__anomaly_in(const tg_tape *tape, const tg_tensor *t);
// "[2,3], [3]" for the inputs of an op (for messages).
const char *tg__inputs_str(char *buf, size_t size, int n, tg_tensor *const *in);

// ---- ops and the tape ----

struct tg_node {
    const tg_op_def *def;         // the op (def->id is its enum tg_op)
    int n_in;
    tg_tensor *in[3];
    tg_tensor **in_ext;           // arena array when n_in > 3 (variadic ops)
    tg_tensor *out;
    uint64_t ver[4];              // versions of in[0..2] and out when recorded (n_in <= 3)
    uint64_t *ver_ext;            // arena array, n_in + 1 entries, when n_in > 3
    bool freed;                   // a backward pass without retain_graph went through it
    int32_t scope;                // tg_tape_push_scope index when recorded, -1 for none
    const void *params;           // arena copy of the op's parameter struct (NULL: none)
};

// The op's parameters as recorded (cast to the op's own struct).
static inline const void *tg__node_params(const tg_node *n) { return n->params; }

static inline tg_tensor *tg__node_input(const tg_node *n, int i) {
    return n->in_ext ? n->in_ext[i] : n->in[i];
}

// Runs an op: checks inputs (NULL propagation, dtype, backend), infers the shape,
// allocates the output on the tape, runs forward, records a node if needed.
tg_tensor *tg__apply(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in,
                     const void *params);
// Records an already computed output (view ops). Returns out, or NULL on failure.
tg_tensor *tg__record(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in,
                      const void *params, tg_tensor *out);

// Sums g over broadcast axes so that it has the shape (ndim, shape). Uses public ops.
tg_tensor *tg__sum_to(tg_tape *tape, tg_tensor *g, int ndim, const int64_t *shape);

// ---- the backend door (core/dispatch.c): nothing else calls a backend's table ----

// The module's table has every required slot (lifecycle, memory, fill).
bool tg__backend_complete(const struct tg_backend_ops *ops);
// Memory and lifecycle: the slot's status, no error set (callers word their own).
int tg__be_init(const struct tg_backend_ops *ops, void **ctx);
int tg__be_alloc(tg_backend *be, size_t bytes, void **out);
void tg__be_free(tg_backend *be, void *ptr);
int tg__be_upload(tg_backend *be, void *dst, const void *src, size_t bytes);
int tg__be_download(tg_backend *be, void *dst, const void *src, size_t bytes);
int tg__be_copy(tg_backend *be, void *dst, const void *src, size_t bytes);
int tg__be_memset0(tg_backend *be, void *dst, size_t bytes);
int tg__be_synchronize(tg_backend *be);
int tg__be_set_threads(tg_backend *be, int n);
// Kernels (backend_impl.h documents each slot): TG_OK, or the status with an error naming
// `where` (TG_ERR_UNSUPPORTED when the backend lacks the slot). gather, scatter_add, xent and
// xent_grad pass TG_ERR_INVALID_ARG (a bad index or label) back unworded, for the op to word.
int tg__k_fill(const char *where, tg_backend *be, const tg_view *y, double value);
// y: a tensor (x flat or strided); tg__k_unary_view: any view y.
int tg__k_unary(const char *where, int kind, const tg_view *x, const tg_tensor *y, double a,
                double b);
int tg__k_unary_view(const char *where, tg_backend *be, int kind, const tg_view *x,
                     const tg_view *y, double a, double b);
int tg__k_binary(const char *where, int kind, const tg_view *a, const tg_view *b,
                 const tg_tensor *y);
int tg__k_reduce(const char *where, tg_backend *be, int kind, const tg_view *x,
                 const tg_view *y);
int tg__k_gemm(const char *where, tg_backend *be, const tg_gemm_desc *d);
int tg__k_update(const char *where, tg_backend *be, int kind, const tg_view *y,
                 const tg_view *a, const tg_view *b, double s0, double s1, double s2);
int tg__k_cast(const char *where, tg_backend *be, const tg_view *x, const tg_view *y);
int tg__k_where(const char *where, tg_backend *be, const tg_view *cond, const tg_view *a,
                const tg_view *b, const tg_view *y);
int tg__k_gather(const char *where, tg_backend *be, int axis, const tg_view *x,
                 const tg_view *index, const tg_view *y);
int tg__k_scatter_add(const char *where, tg_backend *be, int axis, const tg_view *src,
                      const tg_view *index, const tg_view *y);
int tg__k_im2col(const char *where, tg_backend *be, const tg_im2col_desc *d, const void *x,
                 void *cols);
int tg__k_col2im(const char *where, tg_backend *be, const tg_im2col_desc *d, const void *cols,
                 void *x);
int tg__k_xent(const char *where, tg_backend *be, int dtype, int64_t n, int64_t c,
               const void *logits, const void *labels, void *loss);
int tg__k_xent_grad(const char *where, tg_backend *be, int dtype, int64_t n, int64_t c,
                    const void *logits, const void *labels, const void *dloss, void *dlogits);
int tg__k_adam_step(const char *where, tg_backend *be, const tg_adam_desc *d);
// Row kernels along the last axis; all tensors contiguous and of x's (or y's) shape.
int tg__k_softmax(const char *where, const tg_tensor *x, const tg_tensor *y, bool take_log);
bool tg__has_softmax_grad(tg_backend *be);
bool tg__has_max_pool(tg_backend *be);
bool tg__has_batch_norm(tg_backend *be);
bool tg__has_conv(tg_backend *be);
// The optional gemm with an epilogue (bias, ReLU in the store; backend_impl.h).
bool tg__has_gemm_ep(tg_backend *be);
int tg__k_gemm_ep(const char *where, tg_backend *be, const tg_gemm_desc *d,
                  const tg_gemm_ep *e);
int tg__k_conv(const char *where, tg_backend *be, const tg_conv_desc *d);
int tg__k_batch_norm(const char *where, tg_backend *be, const tg_bn_desc *d);
int tg__k_max_pool(const char *where, tg_backend *be, const tg_im2col_desc *d, int route,
                   const void *x, const void *v, void *out);
int tg__k_softmax_grad(const char *where, const tg_tensor *y, const tg_tensor *dy,
                       const tg_tensor *dx, bool take_log);
int tg__k_layer_norm(const char *where, const tg_tensor *x, const tg_tensor *w,
                     const tg_tensor *b, const tg_tensor *y, double eps);
// wgrad: NULL, or [2, C] data that the same kernel call fills with layer_norm_wgrad(dy, x).
int tg__k_layer_norm_grad(const char *where, const tg_tensor *dy, const tg_tensor *x,
                          const tg_tensor *w, const tg_tensor *dx, void *wgrad, double eps);
int tg__k_layer_norm_wgrad(const char *where, const tg_tensor *dy, const tg_tensor *x,
                           const tg_tensor *out, double eps);
int tg__k_attention(const char *where, tg_backend *be, const tg_attn_desc *d);
int tg__k_attention_grad(const char *where, tg_backend *be, const tg_attn_desc *d);

// A persistent tensor recorded by the tape this epoch, with its per-pass gradient. Kept on
// the tape, not on the tensor, so that threads that each own a tape can share the tensor.
struct tg_pin {
    tg_tensor *t;
    tg_tensor *bgrad;             // gradient during one backward pass (step tensor)
    int64_t first_node;           // no node before this one records t (n_nodes when pinned)
    int32_t islot;                // its slot in pin_index
    bool sunk;                    // this pass added into t's .grad directly (tg__grad_accumulate)
};

// A named scope (tg_tape_push_scope): modules group their ops for DOT clusters.
struct tg_scope {
    int32_t parent;               // -1: top level
    const char *name;             // copy in the tape arena
};

struct tg_tape {
    tg_node *nodes;
    int64_t n_nodes, cap_nodes;
    tg_tensor **steps;            // every step tensor, released at reset
    int64_t n_steps, cap_steps;
    struct tg_pin *pinned;        // persistent tensors recorded in nodes (each once)
    int64_t n_pinned, cap_pinned;
    int32_t *pin_index;           // open-addressing hash of pinned[] by tensor address
    int64_t pin_index_cap;        // a power of two >= 2 * cap_pinned (0: none yet)
    // Arena for small arrays (variadic inputs, custom op descriptors) and slots for step
    // tensor structs (tg__slot_alloc); chunks are kept across resets (no allocation in a
    // steady state).
    struct tg_arena_chunk *chunks, *cur;
    struct tg_arena_chunk *slot_chunks, *slot_cur;
    struct tg_arena_chunk *quarantine;   // checked mode: poisoned slot chunks, recent epochs
    bool checked;                 // checked mode (TG_CHECKED=1): arenas never reused
    bool grad_enabled;
    bool in_backward;
    bool anomaly;                 // check every output for NaN/Inf
    bool anomaly_nan_only;        // ... for NaN only (TG_ANOMALY_NAN, PyTorch's check)
    bool direct_leaf_grads;       // this sweep may accumulate into leaves' .grad (tg__grad_accumulate)
    int n_held;                   // grad locks held by the rule running now (sinks)
    tg_tensor *held[4];
    struct tg_scope *scopes;      // this epoch's scopes, in push order
    int32_t n_scopes, cap_scopes, cur_scope;
    int64_t n_ops;                // ops applied since reset (creation order, for messages)
    uint64_t epoch;               // bumped at reset
    uint64_t token;               // unique per (tape, epoch) in the process: pin_key cache
};

// tg__check_live's fast test (t non-NULL).
static inline bool tg__is_live(const tg_tensor *t) {
    return t->magic == TG_MAGIC_LIVE && (!t->is_step || t->epoch == t->tape->epoch);
}

void *tg__arena_alloc(tg_tape *tape, size_t bytes);
// Memory for one step tensor struct (see TG_SLOT_BYTES). NULL when out of memory.
tg_tensor *tg__slot_alloc(tg_tape *tape);
// Counts persistent `t` as held by `tape` until its reset (a no-op for step tensors or when
// already pinned this epoch): recorded inputs, and tensors whose data a step view shares.
int tg__pin_slow(tg_tape *tape, tg_tensor *t);
#define TG_PIN_SLOT_BITS 24
static inline int tg__pin(tg_tape *tape, tg_tensor *t) {
    if (t->is_step) return TG_OK;
    uint64_t key = atomic_load_explicit(&t->pin_key, memory_order_relaxed);
    if ((key >> TG_PIN_SLOT_BITS) == (tape->token & ((UINT64_C(1) << (64 - TG_PIN_SLOT_BITS)) - 1)))
        return TG_OK;   // pinned by this tape this epoch (the usual case)
    return tg__pin_slow(tape, t);
}
// The tape's pin entry of persistent `t`, or NULL when this tape has not pinned it.
struct tg_pin *tg__pin_find(const tg_tape *tape, const tg_tensor *t);
// Inputs must be non-NULL, share dtype and backend, and not belong to another tape.
int tg__check_inputs(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in);
// The same checks for a composed op's own arguments, errors naming `fn`: run them before
// reading any input's header (a stale tensor's header is garbage in checked mode).
int tg__check_args(tg_tape *tape, const char *fn, int n_in, tg_tensor *const *in);
// True when input k of the node needs a gradient (rules skip work otherwise).
static inline bool tg__needs_grad(const tg_node *n, int k) {
    return tg__node_input(n, k)->requires_grad;
}
// A rule asks the core to accumulate input k's whole contribution into the input's gradient
// in place, instead of returning it in din[k]: the core accumulates there only inside
// tg_backward without create_graph or anomaly mode, for a persistent input that already has
// a .grad that no tape has recorded; then it locks that gradient (threads sharing the leaf),
// bumps its version and calls write(dst, beta, ctx), which must compute dst = contribution
// + beta * dst (beta 0 when a tg_zero_grad is pending: no zeroing pass, no read). Returns
// 1 when written (din[k] stays NULL), 0 when the rule must return the contribution in
// din[k] as usual, or write's negative status. The contribution must have the input's
// exact shape (no sum_to). Saves the step tensor and the accumulation pass for large
// weights (a gemm accumulates with beta).
typedef int (*tg_grad_writer)(tg_tensor *dst, double beta, void *ctx);
int tg__grad_accumulate(tg_tape *tape, const tg_node *n, int k, tg_grad_writer write,
                        void *ctx);
// Per-leaf lock around writes to .grad (tapes on other threads may share the leaf).
bool tg__grad_trylock(tg_tensor *t);
void tg__grad_lock(tg_tensor *t);
void tg__grad_unlock(tg_tensor *t);

// Internal structures shared by core/ and ops/: the tensor, the tape and its nodes, the
// op descriptor, the backend handle with its caching allocator. Never installed.
#pragma once

#include "tapegrad/tapegrad.h"
#include "backends/backend_impl.h"

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
// Writes "[2,3,4]" into buf (always NUL-terminated).
const char *tg__shape_str(char *buf, size_t size, int ndim, const int64_t *shape);

// ---- counted heap ----

void *tg__malloc(size_t bytes);
void *tg__calloc(size_t n, size_t size);
void *tg__realloc(void *p, size_t bytes);
void tg__free(void *p);
void tg__count_alloc(void);

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

struct tg_tensor {
    tg_dtype dtype;
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t numel;
    size_t nbytes;
    void *data;
    tg_backend *be;
    tg_tape *tape;          // owner of a step tensor; NULL for persistent
    int64_t node;           // index of the producing node in tape, -1 for a leaf
    tg_tensor *grad;        // persistent: accumulated gradient (persistent tensor)
    tg_tensor *bgrad;       // gradient during one backward pass (step tensor)
    bool requires_grad;
    bool is_step;
    bool owns_data;         // false for views (reshape) of another tensor's data
    bool is_grad;           // created by tg_backward as some leaf's .grad
    int pins;               // live tapes that recorded this persistent tensor
    const tg_tape *pin_tape; // last tape that pinned it, with that tape's epoch
    uint64_t pin_epoch;
};

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
bool tg__same_shape(const tg_tensor *a, const tg_tensor *b);
// True if any element is NaN or Inf (reads through a small host buffer on any backend).
bool tg__nonfinite(const tg_tensor *t);
// "[2,3], [3]" for the inputs of an op (for messages).
const char *tg__inputs_str(char *buf, size_t size, int n, tg_tensor *const *in);

// ---- ops and the tape ----

typedef struct tg_attrs {
    double s[3];                  // scalars (exponent, affine a/b, ...)
    int64_t i[TG_MAX_DIMS];       // ints (axes mask, dims, shape)
    int n_i;
    unsigned flags;               // keepdim, transposes, ...
} tg_attrs;

typedef struct tg_op_def tg_op_def;

typedef struct tg_node {
    const tg_op_def *def;         // the op (def->id is its enum tg_op)
    int n_in;
    tg_tensor *in[3];
    tg_tensor **in_ext;           // arena array when n_in > 3 (variadic ops)
    tg_tensor *out;
    tg_attrs attrs;
} tg_node;

static inline tg_tensor *tg__node_input(const tg_node *n, int i) {
    return n->in_ext ? n->in_ext[i] : n->in[i];
}

// The op descriptor. `forward` fills `out` (already allocated with the shape that
// `infer` gave). `backward` writes one contribution per input into din[] with public ops
// (NULL = no gradient to that input); the core sums them back to the input shapes.
struct tg_op_def {
    int id;      // enum tg_op
    const char *name;
    int arity;   // -1: variadic
    int (*infer)(tg_tensor *const *in, int n_in, const tg_attrs *at, int *ndim,
                 int64_t *shape);
    int (*forward)(tg_tensor *const *in, int n_in, const tg_attrs *at, tg_tensor *out);
    int (*backward)(tg_tape *tape, const tg_node *node, tg_tensor *dout, tg_tensor **din);
};

// Runs an op: checks inputs (NULL propagation, dtype, backend), infers the shape,
// allocates the output on the tape, runs forward, records a node if needed.
tg_tensor *tg__apply(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in,
                     const tg_attrs *at);
// Records an already computed output (view ops). Returns out, or NULL on failure.
tg_tensor *tg__record(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in,
                      const tg_attrs *at, tg_tensor *out);

// Sums g over broadcast axes so that it has the shape (ndim, shape). Uses public ops.
tg_tensor *tg__sum_to(tg_tape *tape, tg_tensor *g, int ndim, const int64_t *shape);

// Kernel launchers with NULL-slot checks (errors name `where`).
int tg__k_unary(const char *where, int kind, const tg_view *x, const tg_tensor *y, double a,
                double b);
int tg__k_binary(const char *where, int kind, const tg_view *a, const tg_view *b,
                 const tg_tensor *y);
// y = softmax (or log_softmax when take_log) of x along its last axis; x and y contiguous,
// of one shape.
int tg__k_softmax(const char *where, const tg_tensor *x, const tg_tensor *y, bool take_log);
// dx from y = softmax(x) (or log_softmax when take_log) and dy, rows along the last axis;
// all three contiguous, same shape. tg__has_softmax_grad: the backend has the kernel.
bool tg__has_softmax_grad(const tg_backend *be);
int tg__k_softmax_grad(const char *where, const tg_tensor *y, const tg_tensor *dy,
                       const tg_tensor *dx, bool take_log);

struct tg_tape {
    tg_node *nodes;
    int64_t n_nodes, cap_nodes;
    tg_tensor **steps;            // every step tensor, released at reset
    int64_t n_steps, cap_steps;
    tg_tensor **pinned;           // persistent tensors recorded in nodes
    int64_t n_pinned, cap_pinned;
    // arena for tensor structs and variadic input arrays: chunks kept across resets
    struct tg_arena_chunk *chunks, *cur;
    bool grad_enabled;
    bool graph_freed;             // a backward pass without retain_graph ran
    bool in_backward;
    bool anomaly;                 // check every output for NaN/Inf
    bool direct_leaf_grads;       // this sweep may accumulate into leaves' .grad (tg__grad_sink)
    int64_t n_ops;                // ops applied since reset (creation order, for messages)
    uint64_t epoch;               // bumped at reset
};

void *tg__arena_alloc(tg_tape *tape, size_t bytes);
// Counts persistent `t` as held by `tape` until its reset (a no-op for step tensors or when
// already pinned this epoch): recorded inputs, and tensors whose data a step view shares.
int tg__pin(tg_tape *tape, tg_tensor *t);
// Inputs must be non-NULL, share dtype and backend, and not belong to another tape.
int tg__check_inputs(tg_tape *tape, const tg_op_def *def, int n_in, tg_tensor *const *in);
// True when input k of the node needs a gradient (rules skip work otherwise).
static inline bool tg__needs_grad(const tg_node *n, int k) {
    return tg__node_input(n, k)->requires_grad;
}
// The leaf gradient a rule may add input k's whole contribution into directly (then it
// leaves din[k] NULL), or NULL: only inside tg_backward without create_graph or anomaly
// mode, for a persistent input that already has a .grad that no tape has recorded. The
// contribution must have the input's exact shape (no sum_to). Saves the step tensor and
// the accumulation pass for large weights (a gemm adds into .grad with beta = 1).
tg_tensor *tg__grad_sink(const tg_tape *tape, const tg_node *n, int k);

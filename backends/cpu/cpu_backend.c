// The cpu backend's registration: memory slots and the vtable. Host memory is plain
// aligned heap memory; the core's caching allocator sits on top.
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu_internal.h"

static tg_cpu_ctx cpu_ctx;

static int cpu_init(void **ctx) {
    *ctx = &cpu_ctx;
    return 0;
}

static void cpu_shutdown(void *ctx) { (void)ctx; }
static int cpu_synchronize(void *ctx) {
    (void)ctx;
    return 0;
}

static int cpu_set_threads(void *ctx, int n) {
    ((tg_cpu_ctx *)ctx)->n_threads = n;
    return 0;
}

static int cpu_alloc(void *ctx, size_t bytes, void **out) {
    (void)ctx;
    // 64 bytes of slack: Debian's BLIS 0.9 sgemm kernels read a few bytes past the end of
    // an exactly-sized output (seen with ASan-free valgrind runs); keep that inside the block.
    size_t rounded = ((bytes + 63) & ~(size_t)63) + 64;
    *out = aligned_alloc(64, rounded);
    return *out ? 0 : -5;
}

static void cpu_free(void *ctx, void *ptr) {
    (void)ctx;
    free(ptr);
}

static int cpu_copy(void *ctx, void *dst, const void *src, size_t bytes) {
    (void)ctx;
    if (bytes) memmove(dst, src, bytes);
    return 0;
}

static int cpu_memset0(void *ctx, void *dst, size_t bytes) {
    (void)ctx;
    if (bytes) memset(dst, 0, bytes);
    return 0;
}

static const struct tg_backend_ops cpu_ops = {
    .abi_version = TG_BACKEND_ABI_VERSION,
    .struct_size = sizeof(struct tg_backend_ops),
    .name = "cpu",
    .init = cpu_init,
    .shutdown = cpu_shutdown,
    .synchronize = cpu_synchronize,
    .set_threads = cpu_set_threads,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .memset0 = cpu_memset0,
    .fill = tg_cpu_fill,
    .unary = tg_cpu_unary,
    .binary = tg_cpu_binary,
    .reduce = tg_cpu_reduce,
    .gemm = tg_cpu_gemm,
    .update = tg_cpu_update,
    .cast = tg_cpu_cast,
    .where = tg_cpu_where,
    .gather = tg_cpu_gather,
    .scatter_add = tg_cpu_scatter_add,
    .im2col = tg_cpu_im2col,
    .col2im = tg_cpu_col2im,
    .xent = tg_cpu_xent,
    .xent_grad = tg_cpu_xent_grad,
    .adam_step = tg_cpu_adam_step,
};

const struct tg_backend_ops *tg__cpu_backend_ops(void) { return &cpu_ops; }

// The cuda backend module: its one exported symbol (tg_backend_module_entry), lifecycle
// (one stream and one cuBLAS handle per instance), raw device memory (the core caches on
// top: alloc = cudaMalloc) and the vtable. CUDA and cuBLAS failures become tapegrad
// errors through the host API with CUDA's message; nothing here aborts or exits.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "backends/cuda/cuda_internal.cuh"

// The host services, set once by tg_backend_module_entry before any other call (the
// registry loads the module once, under its lock). The module's only global.
static const struct tg_host_api *g_host;

// ---- errors ----

int tg_cuda_fail(int status, const char *what, const char *msg) {
    if (g_host && g_host->fail) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s: %s", what, msg);
        g_host->fail(status, "cuda", buf);
    }
    return status;
}

int tg_cuda_check(cudaError_t err, const char *what) {
    if (err == cudaSuccess) return TG_OK;
    int st = err == cudaErrorMemoryAllocation ? TG_ERR_OOM : TG_ERR_BACKEND;
    return tg_cuda_fail(st, what, cudaGetErrorString(err));
}

int tg_cuda_check_blas(cublasStatus_t st, const char *what) {
    if (st == CUBLAS_STATUS_SUCCESS) return TG_OK;
    int status = st == CUBLAS_STATUS_ALLOC_FAILED ? TG_ERR_OOM : TG_ERR_BACKEND;
    return tg_cuda_fail(status, what, cublasGetStatusString(st));
}

int tg_cuda_check_launch(const char *what) { return tg_cuda_check(cudaGetLastError(), what); }

// ---- lifecycle ----

static void cuda_shutdown(void *ctx) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!c) return;
    cudaSetDevice(c->device);
    if (c->stream) cudaStreamSynchronize(c->stream);
    if (c->blas) cublasDestroy(c->blas);
    if (c->scratch) cudaFree(c->scratch);
    if (c->flag_dev) cudaFree(c->flag_dev);
    if (c->flag_host) cudaFreeHost(c->flag_host);
    if (c->stream) cudaStreamDestroy(c->stream);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

// Fails with "tg_backend_get: cuda backend not available: <CUDA's message>", the registry's
// wording, since the first error on the thread is the one the user sees.
static int unavailable(const char *msg) {
    if (g_host && g_host->fail) {
        char buf[512];
        snprintf(buf, sizeof buf, "cuda backend not available: %s", msg);
        g_host->fail(TG_ERR_BACKEND, "tg_backend_get", buf);
    }
    return TG_ERR_BACKEND;
}

// Whether the NVIDIA driver library is present: without it cudart reports an
// "insufficient driver", which reads like a version problem on a machine with no GPU.
static bool driver_present(void) {
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
    if (!h) h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (h) dlclose(h);
    return h != NULL;
}

// One step of init: a failure is "cuda backend not available: <what>: <CUDA's message>".
static int init_step(cudaError_t err, const char *what) {
    if (err == cudaSuccess) return TG_OK;
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", what, cudaGetErrorString(err));
    return unavailable(msg);
}

static int init_blas_step(cublasStatus_t st, const char *what) {
    if (st == CUBLAS_STATUS_SUCCESS) return TG_OK;
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", what, cublasGetStatusString(st));
    return unavailable(msg);
}

static int cuda_init(void **out) {
    *out = NULL;
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err == cudaErrorInsufficientDriver && !driver_present()) {
        char msg[400];
        snprintf(msg, sizeof msg, "no NVIDIA driver found (libcuda.so.1 cannot be loaded): %s",
                 cudaGetErrorString(err));
        return unavailable(msg);
    }
    if (err != cudaSuccess) return unavailable(cudaGetErrorString(err));
    if (count < 1) return unavailable(cudaGetErrorString(cudaErrorNoDevice));
    tg_cuda_ctx *c = (tg_cuda_ctx *)calloc(1, sizeof *c);
    if (!c) return unavailable("out of host memory");
    pthread_mutex_init(&c->lock, NULL);
    int st = init_step(cudaGetDevice(&c->device), "cudaGetDevice");
    if (!st) st = init_step(cudaSetDevice(c->device), "cudaSetDevice");
    if (!st)
        st = init_step(cudaDeviceGetAttribute(&c->n_sm, cudaDevAttrMultiProcessorCount, c->device),
                       "cudaDeviceGetAttribute");
    if (!st)
        st = init_step(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking),
                       "cudaStreamCreate");
    if (!st) st = init_blas_step(cublasCreate(&c->blas), "cublasCreate");
    if (!st) st = init_blas_step(cublasSetStream(c->blas, c->stream), "cublasSetStream");
    // No TF32 or other reduced-precision shortcuts: results must match the cpu backend.
    if (!st)
        st = init_blas_step(cublasSetMathMode(c->blas, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
    if (!st) st = init_step(cudaMalloc((void **)&c->flag_dev, sizeof(int)), "cudaMalloc");
    if (!st) st = init_step(cudaMallocHost((void **)&c->flag_host, sizeof(int)), "cudaMallocHost");
    if (st) {
        cuda_shutdown(c);
        return st;
    }
    if (c->n_sm < 1) c->n_sm = 1;
    *out = c;
    return TG_OK;
}

static int cuda_synchronize(void *ctx) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    return tg_cuda_check(cudaStreamSynchronize(c->stream), "synchronize");
}

// Kernels pick their own launch sizes; a thread count does not apply to a GPU.
static int cuda_set_threads(void *ctx, int n) {
    (void)ctx;
    (void)n;
    return TG_OK;
}

void *tg_cuda_scratch(tg_cuda_ctx *c, size_t bytes) {
    if (bytes <= c->scratch_bytes) return c->scratch;
    if (c->scratch) {
        // The old buffer may still be read by queued kernels.
        if (tg_cuda_check(cudaStreamSynchronize(c->stream), "scratch")) return NULL;
        cudaFree(c->scratch);
        c->scratch = NULL;
        c->scratch_bytes = 0;
    }
    size_t want = bytes < 4096 ? 4096 : bytes;
    if (tg_cuda_check(cudaMalloc(&c->scratch, want), "scratch")) {
        c->scratch = NULL;
        return NULL;
    }
    c->scratch_bytes = want;
    return c->scratch;
}

int tg_cuda_flag_reset(tg_cuda_ctx *c, const char *what) {
    return tg_cuda_check(cudaMemsetAsync(c->flag_dev, 0, sizeof(int), c->stream), what);
}

int tg_cuda_flag_read(tg_cuda_ctx *c, const char *what, bool *bad) {
    *bad = false;
    int st = tg_cuda_check(
        cudaMemcpyAsync(c->flag_host, c->flag_dev, sizeof(int), cudaMemcpyDeviceToHost, c->stream),
        what);
    if (!st) st = tg_cuda_check(cudaStreamSynchronize(c->stream), what);
    if (!st) *bad = *c->flag_host != 0;
    return st;
}

// ---- memory ----

// Out of memory is returned silently: the core trims its cache, retries once and reports.
static int cuda_alloc(void *ctx, size_t bytes, void **out) {
    (void)ctx;
    *out = NULL;
    cudaError_t err = cudaMalloc(out, bytes ? bytes : 256);
    if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // not sticky: clear it
        *out = NULL;
        return TG_ERR_OOM;
    }
    return tg_cuda_check(err, "alloc");
}

static void cuda_free(void *ctx, void *ptr) {
    (void)ctx;
    if (ptr) cudaFree(ptr);
}

// Host memory may be reused as soon as upload returns, so it waits for the copy.
static int cuda_upload(void *ctx, void *dst, const void *src, size_t bytes) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!bytes) return TG_OK;
    int st = tg_cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream),
                           "upload");
    return st ? st : tg_cuda_check(cudaStreamSynchronize(c->stream), "upload");
}

static int cuda_download(void *ctx, void *dst, const void *src, size_t bytes) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!bytes) return TG_OK;
    int st = tg_cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream),
                           "download");
    return st ? st : tg_cuda_check(cudaStreamSynchronize(c->stream), "download");
}

static int cuda_copy(void *ctx, void *dst, const void *src, size_t bytes) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!bytes || dst == src) return TG_OK;
    return tg_cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream),
                         "copy");
}

static int cuda_memset0(void *ctx, void *dst, size_t bytes) {
    tg_cuda_ctx *c = (tg_cuda_ctx *)ctx;
    if (!bytes) return TG_OK;
    return tg_cuda_check(cudaMemsetAsync(dst, 0, bytes, c->stream), "memset");
}

// ---- registration ----

// Filled in slot order (C++ designated initializers must follow declaration order).
static const struct tg_backend_ops cuda_ops = {
    .abi_version = TG_BACKEND_ABI_VERSION,
    .struct_size = sizeof(struct tg_backend_ops),
    .name = "cuda",
    .init = cuda_init,
    .shutdown = cuda_shutdown,
    .synchronize = cuda_synchronize,
    .set_threads = cuda_set_threads,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .memset0 = cuda_memset0,
    .fill = tg_cuda_fill,
    .unary = tg_cuda_unary,
    .binary = tg_cuda_binary,
    .reduce = tg_cuda_reduce,
    .gemm = tg_cuda_gemm,
    .update = tg_cuda_update,
    .cast = tg_cuda_cast,
    .where = tg_cuda_where,
    .gather = tg_cuda_gather,
    .scatter_add = tg_cuda_scatter_add,
    .im2col = tg_cuda_im2col,
    .col2im = tg_cuda_col2im,
    .xent = tg_cuda_xent,
    .xent_grad = tg_cuda_xent_grad,
    .adam_step = tg_cuda_adam_step,
    .softmax = tg_cuda_softmax,
    .softmax_grad = tg_cuda_softmax_grad,
    .layer_norm = tg_cuda_layer_norm,
    .layer_norm_grad = tg_cuda_layer_norm_grad,
    .layer_norm_wgrad = tg_cuda_layer_norm_wgrad,
    .attention = tg_cuda_attention,
    .attention_grad = tg_cuda_attention_grad,
    .max_pool = tg_cuda_max_pool,
    .batch_norm = tg_cuda_batch_norm,
};

// The module's one exported symbol. Touches no CUDA API, so it works (and the vtable can
// be inspected) on machines without a driver; `init` is where a missing device shows.
extern "C" __attribute__((visibility("default"))) const struct tg_backend_ops *
tg_backend_module_entry(uint32_t core_abi, const struct tg_host_api *host) {
    if (core_abi != TG_BACKEND_ABI_VERSION) {
        if (host && host->fail) {
            char buf[160];
            snprintf(buf, sizeof buf, "cuda backend module has ABI %u, core has ABI %u",
                     (unsigned)TG_BACKEND_ABI_VERSION, (unsigned)core_abi);
            host->fail(TG_ERR_BACKEND, "tg_backend_module_entry", buf);
        }
        return NULL;
    }
    g_host = host;
    return &cuda_ops;
}

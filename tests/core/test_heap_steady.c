// No heap traffic at all in a steady-state training step (DESIGN.md): not tapegrad's own
// allocations only (tg_alloc_count, tests/core/test_alloc.c) but every malloc of the
// process, BLIS's and the OpenMP runtime's included (libgomp allocates a team for each
// one-thread parallel region, as the OpenMP build of BLIS opens on every call). Trains, with
// Adam:
// - an MLP 32-1024-1024-10 at batch 1, f32 (tg-bench's mem-floor: thin products,
//   gemm_thin.c),
// - an MLP 784-256-10 at batch 64, f32, on 1 and 2 threads (packed products, gemm_own.c,
//   in the AVX-512 build; BLIS in the others; the narrow kernel for the 10-wide layer),
// - the same in f64 on 2 threads (BLIS),
// and counts the allocations of 5 steps after 3 of warm-up. meson runs it on every kernel
// variant the CPU runs (TG_CPU_ISA).
//
// malloc, calloc, realloc and the aligned allocators are interposed here (glibc's __libc_*
// do the work). A plain program: sanitizer builds, which replace malloc themselves, leave it
// out (tests/meson.build). Products that go to BLIS allocate unless the library carries the
// serial build of BLIS (libblis-serial-dev); without it, only the f32 runs of the AVX-512
// build are checked (they call no BLIS), and elsewhere the test skips (77).

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <tapegrad/tapegrad.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Atomic long n_allocs;
static _Atomic bool counting;

void *malloc(size_t n) {
    if (counting) n_allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t s) {
    if (counting) n_allocs++;
    return __libc_calloc(n, s);
}

void *realloc(void *q, size_t n) {
    if (counting) n_allocs++;
    return __libc_realloc(q, n);
}

void *memalign(size_t align, size_t n) {
    if (counting) n_allocs++;
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n) {
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    void *p = memalign(align, n);
    if (!p && n) return ENOMEM;
    *out = p;
    return 0;
}

// Trains an MLP (widths w[0..layers]) of this dtype at this batch on this many threads;
// returns the allocations made by steps 4-8, or -1 when something failed.
static long steady(tg_dtype dt, int layers, const int64_t *w, int64_t batch, int threads) {
    tg_backend *cpu = tg_backend_get("cpu");
    if (!cpu || tg_backend_set_threads(cpu, threads) != TG_OK) return -1;
    tg_rng *rng = tg_rng_new(3);
    tg_module *mods[8];
    int n_mods = 0;
    for (int l = 0; l < layers; l++) {
        mods[n_mods++] = tg_linear(cpu, dt, w[l], w[l + 1], true, rng);
        if (l + 1 < layers) mods[n_mods++] = tg_relu_layer();
    }
    tg_module *net = tg_sequential(n_mods, mods);
    tg_tensor *params[16];
    int n = net ? tg_module_params(net, params, 16) : 0;
    tg_optim_opts o = tg_optim_opts_default(TG_OPTIM_ADAM);
    tg_optim *opt = n > 0 ? tg_optim_new(TG_OPTIM_ADAM, n, params, &o) : NULL;
    tg_tensor *x = tg_tensor_new(cpu, dt, 2, (int64_t[]){batch, w[0]});
    tg_tensor *y = tg_tensor_new(cpu, dt, 1, (int64_t[]){batch});
    tg_tape *tape = tg_tape_new();
    long result = -1;
    if (rng && opt && x && y && tape && tg_uniform_(x, rng, -1, 1) == TG_OK) {
        result = 0;
        for (int step = 0; step < 8 && result == 0; step++) {
            if (step == 3) {
                n_allocs = 0;
                counting = true;
            }
            tg_tensor *loss = tg_cross_entropy(tape, tg_module_forward(net, tape, x), y, NULL,
                                               TG_REDUCE_MEAN);
            if (!loss || tg_backward(tape, loss) != TG_OK || tg_optim_step(opt) != TG_OK ||
                tg_optim_zero_grad(opt) != TG_OK)
                result = -1;
            tg_tape_reset(tape);
        }
        counting = false;
        if (result == 0) result = n_allocs;
    }
    if (result < 0) fprintf(stderr, "heap_steady: %s\n", tg_last_error());
    tg_tape_free(tape);
    tg_optim_free(opt);
    tg_module_free(net);
    tg_free(x);
    tg_free(y);
    tg_rng_free(rng);
    tg_backend_set_threads(cpu, 0);
    return result;
}

int main(void) {
    char desc[4096];
    tg_cpu_describe(desc, sizeof desc);
    bool serial = strstr(desc, "(serial build)") != NULL;
    bool avx512 = strstr(desc, "\nkernels: avx512\n") != NULL;
    if (!serial && !avx512) {
        printf("heap_steady: skipped (BLIS's OpenMP build, and not the AVX-512 kernels: "
               "large products call BLIS, which allocates per call)\n");
        return 77;
    }
    static const int64_t floor_w[] = {32, 1024, 1024, 10}, mnist_w[] = {784, 256, 10};
    struct {
        const char *name;
        tg_dtype dt;
        int layers;
        const int64_t *w;
        int64_t batch;
        int threads;
    } runs[] = {
        {"MLP 32-1024-1024-10, f32, batch 1, 1 thread", TG_F32, 3, floor_w, 1, 1},
        {"MLP 784-256-10, f32, batch 64, 1 thread", TG_F32, 2, mnist_w, 64, 1},
        {"MLP 784-256-10, f32, batch 64, 2 threads", TG_F32, 2, mnist_w, 64, 2},
        {"MLP 784-256-10, f64, batch 64, 2 threads", TG_F64, 2, mnist_w, 64, 2},
    };
    int bad = 0;
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        if (runs[r].dt == TG_F64 && !serial) continue;   // (f64 products go to BLIS)
        long got = steady(runs[r].dt, runs[r].layers, runs[r].w, runs[r].batch, runs[r].threads);
        printf("heap_steady: %s: %ld allocations in 5 steady-state steps\n", runs[r].name, got);
        if (got != 0) bad++;
    }
    return bad ? 1 : 0;
}

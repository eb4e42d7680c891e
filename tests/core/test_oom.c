// Out-of-memory on every allocation of a whole workflow (issue 11): build an MLP, an
// optimizer (SGD with momentum, then Adam), run a training step, save a checkpoint, free it
// all. For N = 1, 2, ... the N-th allocation fails; every run must end with an error whose
// status is TG_ERR_OOM (never OK, another code, or a crash), and free what it allocated.
// Until N passes the workflow's allocation count and it succeeds.
//
// malloc/calloc/realloc/free are interposed here (glibc's __libc_* do the work), so the
// library's and libc's allocations are all counted. A plain program: sanitizer builds,
// which replace malloc themselves, leave it out (tests/meson.build).

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <tapegrad/tapegrad.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static long fail_at = -1;   // the armed allocation's number, -1: never fail
static long n_allocs;       // allocations since arming
static long live;           // successful allocations minus frees since arming
static bool counting;

static bool fail_now(void) {
    if (!counting) return false;
    return ++n_allocs == fail_at;
}

void *malloc(size_t n) {
    if (fail_now()) return NULL;
    void *p = __libc_malloc(n);
    if (p && counting) live++;
    return p;
}

void *calloc(size_t n, size_t s) {
    if (fail_now()) return NULL;
    void *p = __libc_calloc(n, s);
    if (p && counting) live++;
    return p;
}

void *realloc(void *q, size_t n) {
    if (fail_now()) return NULL;
    void *p = __libc_realloc(q, n);
    if (p && !q && counting) live++;
    return p;
}

void free(void *p) {
    if (p && counting) live--;
    __libc_free(p);
}

static const char *ckpt;

// The workflow; returns TG_OK or the first failure's status.
static int workflow(tg_optim_kind kind) {
    tg_backend *cpu = tg_backend_get("cpu");
    tg_rng *rng = tg_rng_new(7);
    tg_module *net = tg_sequential(3, (tg_module *[]){tg_linear(cpu, TG_F32, 4, 8, true, rng),
                                                      tg_relu_layer(),
                                                      tg_linear(cpu, TG_F32, 8, 3, true, rng)});
    tg_tensor *params[8];
    int n = net ? tg_module_params(net, params, 8) : 0;
    tg_optim_opts o = tg_optim_opts_default(kind);
    if (kind == TG_OPTIM_SGD) o.momentum = 0.9;
    tg_optim *opt = net && n > 0 ? tg_optim_new(kind, n, params, &o) : NULL;
    tg_tensor *x = tg_tensor_new(cpu, TG_F32, 2, (int64_t[]){5, 4});
    tg_tensor *y = tg_tensor_from(cpu, TG_F32, 1, (int64_t[]){5}, (float[]){0, 1, 2, 1, 0});
    tg_tape *tape = tg_tape_new();
    int st = rng && opt && x && y && tape ? TG_OK : -1;
    if (!st) st = tg_uniform_(x, rng, -1, 1);
    for (int step = 0; step < 2 && !st; step++) {
        tg_tensor *loss = tg_cross_entropy(tape, tg_module_forward(net, tape, x), y, NULL,
                                           TG_REDUCE_MEAN);
        st = loss ? tg_backward(tape, loss) : -1;
        if (!st) st = tg_optim_step(opt);
        if (!st) st = tg_optim_zero_grad(opt);
        tg_tape_reset(tape);
    }
    if (!st) st = tg_save_safetensors(net, ckpt);
    if (st == -1) st = tg_last_status() ? (int)tg_last_status() : -1;
    tg_tape_free(tape);
    tg_optim_free(opt);
    tg_module_free(net);
    tg_free(x);
    tg_free(y);
    tg_rng_free(rng);
    return st;
}

int main(void) {
    char path[] = "/tmp/tg_oom_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 2;
    close(fd);
    ckpt = path;
    int bad = 0, runs = 0;
    const tg_optim_kind kinds[2] = {TG_OPTIM_SGD, TG_OPTIM_ADAM};
    for (int k = 0; k < 2; k++) {
        tg_clear_error();
        if (workflow(kinds[k]) != TG_OK) {   // warm-up: BLIS and libc set themselves up
            fprintf(stderr, "oom: the workflow fails without injected failures: %s\n",
                    tg_last_error());
            return 1;
        }
        for (long at = 1;; at++) {
            tg_clear_error();
            fail_at = at;
            n_allocs = live = 0;
            counting = true;
            int st = workflow(kinds[k]);
            counting = false;
            long leaked = live;
            runs++;
            if (n_allocs < at) {   // no allocation failed: the workflow is done
                if (st != TG_OK) {
                    fprintf(stderr, "oom: kind %d clean run failed: %s\n", k, tg_last_error());
                    bad++;
                }
                break;
            }
            if (st == TG_OK || tg_last_status() != TG_ERR_OOM) {
                fprintf(stderr, "oom: kind %d, allocation %ld failed: status %d, error '%s'\n",
                        k, at, st, tg_last_error());
                bad++;
            }
            if (leaked > 0) {   // < 0: blocks cached before (the allocator trims its cache)
                fprintf(stderr, "oom: kind %d, allocation %ld failed: %ld block(s) leaked\n", k,
                        at, leaked);
                bad++;
            }
        }
    }
    unlink(path);
    printf("oom: %d runs, %d problem(s)\n", runs, bad);
    return bad != 0;
}

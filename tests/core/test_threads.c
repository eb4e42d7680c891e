// Threads that each own a tape, sharing persistent tensors (README "Threads"): a shared
// read-only data set, and shared parameters recorded with grad on (their gradients add
// up under a per-tensor lock). A plain program, not Criterion (whose runner does not start
// under ThreadSanitizer): CI runs it in the default, ASan and TSan builds.
#include <pthread.h>
#include <stdio.h>
#include <tapegrad/tapegrad.h>

static int failures;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                          \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fprintf(stderr, " (%s)\n", tg_last_error());                                    \
            failures++;                                                                     \
        }                                                                                   \
    } while (0)

static tg_tensor *f64(int64_t r, int64_t c, const double *v, bool grad) {
    tg_backend *cpu = tg_backend_get("cpu");
    const int64_t shape[2] = {r, c};
    return grad ? tg_param(cpu, TG_F64, 2, shape, v) : tg_tensor_from(cpu, TG_F64, 2, shape, v);
}

enum { N_THREADS = 4, N_STEPS = 300 };

typedef struct {
    tg_tensor *data;     // shared, read by every thread: [8, 4]
    tg_tensor *shared;   // shared parameter (requires_grad): [4, 3]
    int seed;
    int ok;
} job;

static const double data_v[32] = {1, 2, 0, -1, 3, 1, 1, 0, -2, 1, 2, 2, 0, 0, 1, -1,
                                  2, 2, 2, 1, -1, 0, 3, 1, 1, 1, -2, 0, 0, 2, 1, 1};

// Each thread trains its own weight on the shared data: d/dw sum(data @ w) = data^T 1,
// the column sums of data, exactly, every step.
static void *own_weights(void *arg) {
    job *j = arg;
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = f64(4, 3, NULL, true);
    j->ok = tape && w;
    const double want[4] = {4, 9, 8, 3};   // column sums of data
    for (int it = 0; it < N_STEPS && j->ok; it++) {
        tg_tensor *y = tg_sum(tape, tg_matmul(tape, j->data, w));
        j->ok = y && tg_zero_grad(1, &w) == TG_OK && tg_backward(tape, y) == TG_OK;
        double g[12];
        if (j->ok) j->ok = tg_copy_to_host(tg_grad_of(w), g, sizeof g) == TG_OK;
        for (int i = 0; i < 12 && j->ok; i++) j->ok = g[i] == want[i / 3];
        tg_tape_reset(tape);
    }
    tg_tape_free(tape);
    tg_free(w);
    return NULL;
}

static void a_shared_data_set_is_read_safely(void) {
    tg_tensor *data = f64(8, 4, data_v, false);
    pthread_t th[N_THREADS];
    job jobs[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (job){.data = data, .seed = i};
        CHECK(pthread_create(&th[i], NULL, own_weights, &jobs[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_THREADS; i++) CHECK(jobs[i].ok, "own weights: thread %d failed", i);
    CHECK(tg_free(data) == TG_OK, "every tape released the shared tensor");
}

// Every thread backpropagates into one shared weight (no zero_grad): the gradients of all
// passes add up exactly, whatever the interleaving.
static void *shared_weights(void *arg) {
    job *j = arg;
    tg_tape *tape = tg_tape_new();
    j->ok = tape != NULL;
    for (int it = 0; it < N_STEPS && j->ok; it++) {
        tg_tensor *h = tg_matmul(tape, j->data, j->shared);          // [8, 3]
        tg_tensor *y = tg_sum(tape, tg_mul_scalar(tape, h, (double)(j->seed + 1)));
        j->ok = y && tg_backward(tape, y) == TG_OK;
        tg_tape_reset(tape);
    }
    tg_tape_free(tape);
    return NULL;
}

static void shared_parameters_accumulate_every_thread_s_gradient(void) {
    tg_tensor *data = f64(8, 4, data_v, false);
    tg_tensor *w = f64(4, 3, NULL, true);
    pthread_t th[N_THREADS];
    job jobs[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (job){.data = data, .shared = w, .seed = i};
        CHECK(pthread_create(&th[i], NULL, shared_weights, &jobs[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_THREADS; i++) CHECK(jobs[i].ok, "shared weights: thread %d failed", i);
    // sum over threads t of (t + 1) * N_STEPS * colsum
    const double colsum[4] = {4, 9, 8, 3};
    double want[12], scale = N_STEPS * (double)(N_THREADS * (N_THREADS + 1) / 2);
    for (int i = 0; i < 12; i++) want[i] = scale * colsum[i / 3];
    double got[12] = {0};
    CHECK(tg_copy_to_host(tg_grad_of(w), got, sizeof got) == TG_OK, "copy");
    for (int i = 0; i < 12; i++)
        CHECK(got[i] == want[i], "grad[%d] = %g, want %g (every pass adds up)", i, got[i], want[i]);
    CHECK(tg_free(w) == TG_OK, "free w");
    CHECK(tg_free(data) == TG_OK, "free data");
}

// Threads running stride-1 conv2d (the cpu backend's direct kernel, and with 32 channels
// in and out its Winograd kernels; their scratch one buffer per thread) on a shared image
// batch, each with its own weight: each gets the forward value and weight gradient that the
// main thread computed alone, bit for bit, every step.
enum { CONV_MAX_W = 32 * 32 * 9 };
typedef struct {
    tg_tensor *x;          // shared: x [2,c,9,9]
    int64_t c, o;          // channels in and out
    const double *wv;      // the weight's values [o,c,3,3]
    const double *want;    // sum(conv(x, w)^2) and its d/dw, from the main thread
    int ok;
} conv_job;

static double conv_step(tg_tape *tape, tg_tensor *x, tg_tensor *w, int64_t nw, double *dw) {
    tg_conv_opts same = {.padding = {1, 1}};
    tg_tensor *y = tg_conv2d(tape, x, w, NULL, &same);
    tg_tensor *loss = y ? tg_sum(tape, tg_mul(tape, y, y)) : NULL;
    if (!loss || tg_zero_grad(1, &w) != TG_OK || tg_backward(tape, loss) != TG_OK ||
        tg_copy_to_host(tg_grad_of(w), dw, (size_t)nw * sizeof(double)) != TG_OK)
        return -1;
    return tg_item(loss);
}

static void *conv_thread(void *arg) {
    conv_job *j = arg;
    tg_tape *tape = tg_tape_new();
    int64_t nw = j->o * j->c * 9;
    tg_tensor *w = tg_param(tg_backend_get("cpu"), TG_F64, 4, (int64_t[]){j->o, j->c, 3, 3},
                            j->wv);
    j->ok = tape && w;
    for (int it = 0; it < 50 && j->ok; it++) {
        double dw[CONV_MAX_W], v = conv_step(tape, j->x, w, nw, dw);
        j->ok = v == j->want[0];
        for (int64_t i = 0; i < nw && j->ok; i++) j->ok = dw[i] == j->want[1 + i];
        tg_tape_reset(tape);
    }
    tg_tape_free(tape);
    tg_free(w);
    return NULL;
}

static void convolutions_run_in_threads(int64_t c, int64_t o) {
    tg_backend *cpu = tg_backend_get("cpu");
    static double xv[2 * 32 * 81], wv[CONV_MAX_W], want[1 + CONV_MAX_W];
    int64_t nx = 2 * c * 81, nw = o * c * 9;
    for (int64_t i = 0; i < nx; i++) xv[i] = (double)(i % 13) * 0.25 - 1.5;
    for (int64_t i = 0; i < nw; i++) wv[i] = (double)(i % 7) * 0.125 - 0.375;
    tg_tensor *x = tg_tensor_from(cpu, TG_F64, 4, (int64_t[]){2, c, 9, 9}, xv);
    tg_tensor *w = tg_param(cpu, TG_F64, 4, (int64_t[]){o, c, 3, 3}, wv);
    tg_tape *tape = tg_tape_new();
    want[0] = conv_step(tape, x, w, nw, want + 1);
    CHECK(want[0] > 0, "conv2d (%lld -> %lld channels) on the main thread", (long long)c,
          (long long)o);
    tg_tape_free(tape);
    tg_free(w);
    pthread_t th[N_THREADS];
    conv_job jobs[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (conv_job){.x = x, .c = c, .o = o, .wv = wv, .want = want};
        CHECK(pthread_create(&th[i], NULL, conv_thread, &jobs[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_THREADS; i++)
        CHECK(jobs[i].ok, "conv2d (%lld -> %lld channels): thread %d differs", (long long)c,
              (long long)o, i);
    CHECK(tg_free(x) == TG_OK, "every tape released the shared image batch");
}

int main(void) {
    a_shared_data_set_is_read_safely();
    shared_parameters_accumulate_every_thread_s_gradient();
    convolutions_run_in_threads(3, 4);     // the direct kernel
    convolutions_run_in_threads(32, 32);   // Winograd
    printf("threads: %s (%d failure(s))\n", failures ? "FAIL" : "ok", failures);
    return failures != 0;
}

// Tests for core/alloc.c and the tape arena: after warm-up, a training step (forward,
// backward, in-place SGD, zero_grad, reset) makes no allocation at all (DESIGN.md).
#include "test_util.h"

// These tests count allocations: checked mode (which allocates per step) off.
TestSuite(alloc, .init = tu_unchecked);

typedef struct {
    tg_tensor *x, *y;              // x: [B, IN]   y: [B, OUT]
    tg_tensor *w1, *b1, *w2, *b2;  // w1: [IN, H] b1: [H] w2: [H, OUT] b2: [OUT]
    tg_tensor *params[4];
    tg_tape *tape;
    tg_rng *rng;
    bool relu;
} mlp;

enum {
    IN = 4,
    HID = 16,
    OUT = 3
};

static void mlp_init(mlp *m, tg_dtype dt, int64_t batch, bool relu) {
    m->rng = tg_rng_new(11);
    m->tape = tg_tape_new();
    m->relu = relu;
    tg_backend *be = tu_cpu();
    m->x = tg_tensor_new(be, dt, 2, (int64_t[]){batch, IN});
    m->y = tg_tensor_new(be, dt, 2, (int64_t[]){batch, OUT});
    m->w1 = tg_param(be, dt, 2, (int64_t[]){IN, HID}, NULL);
    m->b1 = tg_param(be, dt, 1, (int64_t[]){HID}, NULL);
    m->w2 = tg_param(be, dt, 2, (int64_t[]){HID, OUT}, NULL);
    m->b2 = tg_param(be, dt, 1, (int64_t[]){OUT}, NULL);
    cr_assert(m->x && m->y && m->w1 && m->b1 && m->w2 && m->b2, "%s", tg_last_error());
    tg_normal_(m->x, m->rng, 0, 1);
    tg_uniform_(m->y, m->rng, -0.5, 0.5);
    tg_uniform_(m->w1, m->rng, -0.5, 0.5);
    tg_uniform_(m->w2, m->rng, -0.5, 0.5);
    m->params[0] = m->w1;
    m->params[1] = m->b1;
    m->params[2] = m->w2;
    m->params[3] = m->b2;
}

static void mlp_free(mlp *m) {
    tg_tape_free(m->tape);
    for (int i = 0; i < 4; i++) cr_expect_eq(tg_free(m->params[i]), TG_OK, "%s", tg_last_error());
    tg_free(m->x);
    tg_free(m->y);
    tg_rng_free(m->rng);
}

// One training step; returns the loss before the update.
static double mlp_step(mlp *m, double lr) {
    tg_tape *t = m->tape;
    tg_tensor *z = tg_add(t, tg_matmul(t, m->x, m->w1), m->b1);
    tg_tensor *h = m->relu ? tg_relu(t, z) : tg_tanh(t, z);
    tg_tensor *p = tg_add(t, tg_matmul(t, h, m->w2), m->b2);
    tg_tensor *d = tg_sub(t, p, m->y);
    tg_tensor *loss = tg_mean(t, tg_mul(t, d, d));
    cr_assert_not_null(loss, "%s", tg_last_error());
    cr_assert_eq(tg_backward(t, loss), TG_OK, "%s", tg_last_error());
    double l = tg_item(loss);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(tg_axpby_(m->params[i], -lr, tg_grad_of(m->params[i]), 1.0), TG_OK, "%s",
                     tg_last_error());
    cr_assert_eq(tg_zero_grad(4, m->params), TG_OK);
    tg_tape_reset(t);
    return l;
}

static void steady_state(tg_dtype dt, int64_t batch, bool relu) {
    tg_clear_error();
    mlp m;
    mlp_init(&m, dt, batch, relu);
    double first = 0;
    for (int i = 0; i < 3; i++) {
        double l = mlp_step(&m, 0.1);
        if (i == 0) first = l;
    }
    uint64_t before = tg_alloc_count();
    double last = 0;
    for (int i = 0; i < 20; i++) last = mlp_step(&m, 0.1);
    uint64_t after = tg_alloc_count();
    cr_expect_eq(after, before, "%llu allocations in 20 steady-state steps",
                 (unsigned long long)(after - before));
    cr_expect(last < first, "the loss should fall: %g -> %g", first, last);
    cr_expect_eq(tg_last_status(), TG_OK, "%s", tg_last_error());
    mlp_free(&m);
}

Test(alloc, steady_state_step_f32) { steady_state(TG_F32, 8, false); }
Test(alloc, steady_state_step_f64) { steady_state(TG_F64, 8, true); }
Test(alloc, steady_state_step_f32_relu) { steady_state(TG_F32, 8, true); }
Test(alloc, steady_state_step_large_batch) { steady_state(TG_F32, 512, false); }
Test(alloc, steady_state_step_large_batch_f64) { steady_state(TG_F64, 1024, true); }

Test(alloc, no_grad_evaluation_is_allocation_free) {
    tg_clear_error();
    mlp m;
    mlp_init(&m, TG_F32, 64, false);
    mlp_step(&m, 0.1);
    tg_tape_set_grad(m.tape, false);
    uint64_t before = 0;
    for (int i = 0; i < 5; i++) {
        if (i == 2) before = tg_alloc_count();
        tg_tape *t = m.tape;
        tg_tensor *h = tg_tanh(t, tg_add(t, tg_matmul(t, m.x, m.w1), m.b1));
        tg_tensor *p = tg_add(t, tg_matmul(t, h, m.w2), m.b2);
        cr_assert_not_null(p, "%s", tg_last_error());
        cr_expect_eq(tg_tape_size(t), 0);
        tg_tape_reset(t);
    }
    cr_expect_eq(tg_alloc_count(), before);
    mlp_free(&m);
}

Test(alloc, counter_counts_real_allocations) {
    tg_clear_error();
    uint64_t c0 = tg_alloc_count();
    tg_tensor *t = tg_tensor_new(tu_cpu(), TG_F64, 1, (int64_t[]){1000});
    cr_assert_not_null(t);
    uint64_t c1 = tg_alloc_count();
    cr_expect(c1 > c0, "creating a persistent tensor must count");
    tg_tape *tape = tg_tape_new();
    cr_expect(tg_alloc_count() > c1);
    tg_tape_free(tape);
    tg_free(t);
}

Test(alloc, changing_shapes_reuse_the_cache_after_warm_up) {
    // Alternating between two batch sizes still reaches a steady state: both size sets
    // stay cached.
    tg_clear_error();
    tg_tape *tape = tg_tape_new();
    tg_tensor *w = tg_param(tu_cpu(), TG_F32, 2, (int64_t[]){8, 8}, NULL);
    tg_tensor *xa = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){16, 8});
    tg_tensor *xb = tg_tensor_new(tu_cpu(), TG_F32, 2, (int64_t[]){100, 8});
    uint64_t before = 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4) before = tg_alloc_count();
        tg_tensor *x = i % 2 ? xb : xa;
        tg_tensor *loss = tg_mean(tape, tg_tanh(tape, tg_matmul(tape, x, w)));
        cr_assert_eq(tg_backward(tape, loss), TG_OK, "%s", tg_last_error());
        tg_zero_grad(1, &w);
        tg_tape_reset(tape);
    }
    cr_expect_eq(tg_alloc_count(), before);
    tg_tape_free(tape);
    tg_free(xb);
    tg_free(xa);
    tg_free(w);
}

// One tape per thread (the documented model) on the shared cpu backend: each thread
// trains its own tensors while the other allocates and releases through the same backend.
// Every thread's gradients must come out exact, run after run.
#include <pthread.h>

typedef struct {
    int seed;
    int ok;
} thread_job;

static void *train_alone(void *arg) {
    thread_job *j = arg;
    tg_tape *tape = tg_tape_new();
    double v[64];
    for (int i = 0; i < 64; i++) v[i] = (double)((i * 7 + j->seed) % 11 - 5) / 4;
    tg_tensor *x = tu_f64(1, (int64_t[]){64}, v, true);
    j->ok = tape && x;
    for (int it = 0; it < 3000 && j->ok; it++) {
        // d/dx sum(x*x*3 + x) = 6x + 1; tensors of several sizes so several classes churn
        tg_tensor *w = tg_reshape(tape, x, 2, (int64_t[]){8, 8});
        tg_tensor *y = tg_add(tape, tg_mul_scalar(tape, tg_mul(tape, w, w), 3.0), w);
        tg_tensor *big = tg_full(tape, tu_cpu(), TG_F64, 1, (int64_t[]){100 + it % 300}, 1.0);
        tg_tensor *loss = tg_add(tape, tg_sum(tape, y), tg_mul_scalar(tape, tg_sum(tape, big), 0.0));
        j->ok = loss && tg_zero_grad(1, &x) == TG_OK && tg_backward(tape, loss) == TG_OK;
        if (j->ok) {
            double g[64];
            j->ok = tg_copy_to_host(tg_grad_of(x), g, sizeof g) == TG_OK;
            for (int i = 0; i < 64 && j->ok; i++) j->ok = g[i] == 6 * v[i] + 1;
        }
        tg_tape_reset(tape);
    }
    tg_tape_free(tape);
    tg_free(x);
    return NULL;
}

Test(alloc, one_tape_per_thread_on_a_shared_backend) {
    enum { N = 4 };
    pthread_t th[N];
    thread_job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (thread_job){.seed = i, .ok = 0};
        cr_assert_eq(pthread_create(&th[i], NULL, train_alone, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) cr_expect(jobs[i].ok, "thread %d got a wrong gradient or an error", i);
}

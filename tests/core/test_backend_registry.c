// Tests for core/backend_registry.c's settings: thread counts outside 0..TG_MAX_THREADS are
// refused (100000 used to reach BLIS and OpenMP and crash there) and leave the setting as it
// was.
#include "test_util.h"

TestSuite(backend_registry, .init = tg_clear_error);

// A gemm and an elementwise op large enough to run threaded.
static void expect_work_runs(void) {
    tg_tape *tape = tg_tape_new();
    int64_t sh[2] = {256, 256};
    tg_tensor *a = tg_full(tape, tu_cpu(), TG_F64, 2, sh, 1.0);
    tg_tensor *y = tg_sum(tape, tg_add(tape, tg_matmul(tape, a, a), a));
    cr_assert_not_null(y, "%s", tg_last_error());
    cr_expect_eq(tg_item(y), 256.0 * 256.0 * 257.0);
    tg_tape_free(tape);
}

Test(backend_registry, thread_counts_out_of_range_are_refused) {
    tg_backend *cpu = tu_cpu();
    cr_assert_eq(tg_backend_set_threads(cpu, 2), TG_OK, "%s", tg_last_error());
    const int bad[] = {TG_MAX_THREADS + 1, 100000, -1, -100000};
    for (int i = 0; i < 4; i++) {
        tg_clear_error();
        cr_expect_eq(tg_backend_set_threads(cpu, bad[i]), TG_ERR_INVALID_ARG, "n = %d", bad[i]);
        tu_expect_error("tg_backend_set_threads", "1024");
    }
    tg_clear_error();
    expect_work_runs();   // still on 2 threads
    cr_expect_eq(tg_backend_set_threads(NULL, 1), TG_ERR_INVALID_ARG);
    tg_clear_error();
    cr_expect_eq(tg_backend_set_threads(cpu, TG_MAX_THREADS), TG_OK, "%s", tg_last_error());
    cr_expect_eq(tg_backend_set_threads(cpu, 0), TG_OK, "%s", tg_last_error());
    expect_work_runs();
}

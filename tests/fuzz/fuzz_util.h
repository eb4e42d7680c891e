// Shared checks of the fuzz harnesses: a loader's result must be a clean success or a clean
// error (negative status, error message naming the public function); anything else traps,
// so libFuzzer records the input as a crash.
#pragma once

#include <string.h>

#include <tapegrad/tapegrad.h>

// Traps unless st is a clean outcome of `fn`: TG_OK with no pending error, or a negative
// status equal to tg_last_status() with a message "fn: ...". Clears the error.
static inline void fuzz_check(const char *fn, int st) {
    const char *msg = tg_last_error();
    size_t k = strlen(fn);
    if (st == 0 && tg_last_status() != TG_OK) __builtin_trap();
    if (st != 0 && (st > 0 || (int)tg_last_status() != st || strncmp(msg, fn, k) != 0 ||
                    msg[k] != ':'))
        __builtin_trap();
    tg_clear_error();
}

// A loaded tensor: its shape must be sane and its element count match `numel`
// (pass -1 to skip that check).
static inline void fuzz_check_tensor(const tg_tensor *t, int64_t numel) {
    int64_t n = 1;
    for (int i = 0; i < tg_ndim(t); i++) {
        if (tg_shape(t)[i] < 0) __builtin_trap();
        n *= tg_shape(t)[i];
    }
    if (n != tg_numel(t) || (numel >= 0 && n != numel)) __builtin_trap();
}

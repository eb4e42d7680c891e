// Misuse scenarios that crashed or made a sanitizer report before they were fixed (issue
// 11): kept as regression tests, each comment saying what went wrong. They run in the
// ASan+UBSan CI build like the rest of the suite.
#include <stdio.h>

#include "misuse.h"

// Was: ops/nnops.c softmax_grad_of reads y->be (tg__has_softmax_grad) before the inputs are
// checked: a stale y (poisoned in checked mode) segfaults.
Test(misuse, crash_softmax_grads_stale_y) {
    mu_null("tg_softmax_grad", tg_softmax_grad(mu.tape, mu.a, mu.stale), "stale y");
    mu_null("tg_log_softmax_grad", tg_log_softmax_grad(mu.tape, mu.a, mu.stale), "stale y");
}

// Was: core/print.c tg_print reads a stale tensor's header (no liveness check): ASan reports a
// malloc of a garbage size.
Test(misuse, crash_print_stale) {
    mu_fail("tg_print", tg_print(mu.stale, stdout), "stale tensor");
}

// Was: core/gradcheck.c check_inputs reads a stale input's requires_grad (UBSan: "load of value
// 95, which is not a valid value for type 'bool'").
static tg_tensor *sum_of(tg_tape *tape, tg_tensor *const *in, void *user) {
    (void)user;
    return tg_sum(tape, in[0]);
}

Test(misuse, crash_gradcheck_stale_input) {
    tg_tensor *stale[1] = {mu.stale};
    mu_fail("tg_gradcheck", tg_gradcheck(sum_of, NULL, 1, stale, NULL, NULL), "stale input");
    mu_fail("tg_gradgradcheck", tg_gradgradcheck(sum_of, NULL, 1, stale, NULL, NULL),
            "stale input");
}

// Was: ops/slice.c tg_squeeze with axis -100 walks a stale x's garbage ndim (UBSan: index 8 out
// of bounds for int64_t[8]) before tg_reshape checks it.
Test(misuse, crash_squeeze_all_stale) {
    mu_null("tg_squeeze", tg_squeeze(mu.tape, mu.stale, TG_SQUEEZE_ALL), "stale x, axis TG_SQUEEZE_ALL");
}

// Was: ops/conv.c set_window computes 2 * padding in int (UBSan: signed overflow at INT_MAX);
// for tg_conv2d the wrapped size then asks for a 309 GB buffer (ASan aborts).
Test(misuse, crash_padding_int_max) {
    tg_conv_opts hugep = {.padding = {INT32_MAX, INT32_MAX}};
    tg_tensor *w = tg_tensor_new(mu.be, TG_F32, 4, (int64_t[]){2, 1, 3, 3});
    mu_null("tg_max_pool2d", tg_max_pool2d(mu.tape, mu.img, 2, 2, &hugep), "padding INT_MAX");
    mu_null("tg_avg_pool2d", tg_avg_pool2d(mu.tape, mu.img, 2, 2, &hugep), "padding INT_MAX");
    mu_null("tg_im2col", tg_im2col(mu.tape, mu.img, 2, 2, &hugep), "padding INT_MAX");
    mu_null("tg_conv2d", tg_conv2d(mu.tape, mu.img, w, NULL, &hugep), "padding INT_MAX");
    tg_free(w);
}

// Was: ops/slice.c tg_flatten multiplies a stale x's garbage dimensions (UBSan: signed overflow)
// before tg_reshape checks it.
Test(misuse, crash_flatten_stale) {
    mu_null("tg_flatten", tg_flatten(mu.tape, mu.stale, 0, 1), "stale x");
}

// Was: ops/conv.c tg_col2im keeps c, h, w in double attributes: INT64_MAX comes back as 2^63,
// outside int64_t (UBSan: "9.22337e+18 is outside the range of representable values").
//
Test(misuse, crash_col2im_int64_max) {
    tg_tensor *cols = tg_im2col(mu.tape, mu.img, 2, 2, NULL);
    cr_assert_not_null(cols, "%s", tg_last_error());
    mu_null("tg_col2im", tg_col2im(mu.tape, cols, 1, 4, INT64_MAX, 2, 2, NULL), "w INT64_MAX");
    mu_null("tg_col2im", tg_col2im(mu.tape, cols, INT64_MAX, 4, 4, 2, 2, NULL), "c INT64_MAX");
}

// Was: the tg_mem_* scenarios asked for an error, but these are malloc's twins (tensor.h):
// an impossible size returns NULL with no error set, and the caller reports TG_ERR_OOM under
// its own name. Under ASan they need ASAN_OPTIONS=allocator_may_return_null=1 (CI sets it),
// else ASan aborts instead of returning NULL.
Test(misuse, mem_size_max) {
    mu_quiet("tg_mem_alloc", tg_mem_alloc(SIZE_MAX) == NULL, "SIZE_MAX bytes: NULL");
    mu_quiet("tg_mem_calloc", tg_mem_calloc(SIZE_MAX, 2) == NULL, "SIZE_MAX x 2 bytes: NULL");
    void *p = tg_mem_alloc(16);
    cr_assert_not_null(p);
    mu_quiet("tg_mem_realloc", tg_mem_realloc(p, SIZE_MAX) == NULL,
             "16 bytes to SIZE_MAX: NULL, the block kept");
    tg_mem_free(p);
}

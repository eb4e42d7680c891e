// Misuse scenarios of ops.h, part 2: shape and index ops, nn ops, convolution and pooling,
// and the losses.
#include "misuse.h"

static const int64_t HUGE1[2] = {(int64_t)1 << 61, 2}, HUGE2[1] = {INT64_MAX};

Test(misuse, reshape_transpose_expand) {
    tg_tape *tp = mu.tape;
    tg_tensor *a = mu.a;
    mu_null("tg_reshape", tg_reshape(NULL, a, 1, (int64_t[]){6}), "NULL tape");
    mu_null("tg_reshape", tg_reshape(tp, NULL, 1, (int64_t[]){6}), "NULL x");
    mu_null("tg_reshape", tg_reshape(tp, a, 1, NULL), "NULL shape");
    mu_null("tg_reshape", tg_reshape(tp, a, -1, (int64_t[]){6}), "ndim -1");
    mu_null("tg_reshape", tg_reshape(tp, a, 9, (int64_t[]){6, 1, 1, 1, 1, 1, 1, 1, 1}),
            "ndim 9");
    mu_null("tg_reshape", tg_reshape(tp, a, 1, (int64_t[]){7}), "6 elements as [7]");
    mu_null("tg_reshape", tg_reshape(tp, a, 2, (int64_t[]){-1, -1}), "two -1");
    mu_null("tg_reshape", tg_reshape(tp, a, 2, (int64_t[]){-2, -3}), "[-2,-3]");
    mu_null("tg_reshape", tg_reshape(tp, a, 2, HUGE1), "[2^61, 2]");
    mu_null("tg_reshape", tg_reshape(tp, a, 1, HUGE2), "[INT64_MAX]");
    mu_null("tg_reshape", tg_reshape(tp, a, 2, (int64_t[]){-1, 0}), "[-1, 0] of 6 elements");
    mu_null("tg_reshape", tg_reshape(tp, mu.stale, 1, (int64_t[]){6}), "stale x");
    mu_null("tg_transpose", tg_transpose(NULL, a, 0, 1), "NULL tape");
    mu_null("tg_transpose", tg_transpose(tp, NULL, 0, 1), "NULL x");
    mu_null("tg_transpose", tg_transpose(tp, a, 0, 2), "dim 2 of 2");
    mu_null("tg_transpose", tg_transpose(tp, a, -3, 0), "dim -3 of 2");
    mu_null("tg_transpose", tg_transpose(tp, mu.stale, 0, 1), "stale x");
    mu_null("tg_expand", tg_expand(NULL, a, 2, (int64_t[]){2, 3}), "NULL tape");
    mu_null("tg_expand", tg_expand(tp, NULL, 2, (int64_t[]){2, 3}), "NULL x");
    mu_null("tg_expand", tg_expand(tp, a, 2, NULL), "NULL shape");
    mu_null("tg_expand", tg_expand(tp, a, 2, (int64_t[]){4, 3}), "[2,3] to [4,3]");
    mu_null("tg_expand", tg_expand(tp, a, 1, (int64_t[]){3}), "[2,3] to [3]");
    mu_null("tg_expand", tg_expand(tp, a, 3, (int64_t[]){-1, 2, 3}), "[-1,2,3]");
    mu_null("tg_expand", tg_expand(tp, a, 3, (int64_t[]){(int64_t)1 << 61, 2, 3}),
            "[2^61,2,3]");
    mu_null("tg_expand", tg_expand(tp, a, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2, 3}), "ndim 9");
    mu_null("tg_expand", tg_expand(tp, mu.stale, 2, (int64_t[]){2, 3}), "stale x");
}

Test(misuse, permute_squeeze_flatten) {
    tg_tape *tp = mu.tape;
    tg_tensor *a = mu.a;
    mu_null("tg_permute", tg_permute(NULL, a, (int[]){1, 0}), "NULL tape");
    mu_null("tg_permute", tg_permute(tp, NULL, (int[]){1, 0}), "NULL x");
    mu_null("tg_permute", tg_permute(tp, a, NULL), "NULL perm");
    mu_null("tg_permute", tg_permute(tp, a, (int[]){0, 0}), "perm [0,0]");
    mu_null("tg_permute", tg_permute(tp, a, (int[]){0, 2}), "perm [0,2]");
    mu_null("tg_permute", tg_permute(tp, a, (int[]){-1, 1}), "perm [-1,1] (axis 1 twice)");
    mu_null("tg_permute", tg_permute(tp, mu.stale, (int[]){1, 0}), "stale x");
    mu_null("tg_squeeze", tg_squeeze(NULL, a, 0), "NULL tape");
    mu_null("tg_squeeze", tg_squeeze(tp, NULL, 0), "NULL x");
    mu_null("tg_squeeze", tg_squeeze(tp, a, 2), "axis 2 of 2");
    mu_null("tg_squeeze", tg_squeeze(tp, a, -5), "axis -5 of 2");
    mu_null("tg_squeeze", tg_squeeze(tp, mu.stale, 0), "stale x");   // -100: misuse_crash.c
    mu_null("tg_unsqueeze", tg_unsqueeze(NULL, a, 0), "NULL tape");
    mu_null("tg_unsqueeze", tg_unsqueeze(tp, NULL, 0), "NULL x");
    mu_null("tg_unsqueeze", tg_unsqueeze(tp, a, 4), "axis 4 of 2");
    mu_null("tg_unsqueeze", tg_unsqueeze(tp, a, -5), "axis -5 of 2");
    tg_tensor *x8 = tg_tensor_new(mu.be, TG_F32, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1});
    mu_null("tg_unsqueeze", tg_unsqueeze(tp, x8, 0), "a 9th axis");
    tg_free(x8);
    mu_null("tg_unsqueeze", tg_unsqueeze(tp, mu.stale, 0), "stale x");
    mu_null("tg_flatten", tg_flatten(NULL, a, 0, 1), "NULL tape");
    mu_null("tg_flatten", tg_flatten(tp, NULL, 0, 1), "NULL x");
    mu_null("tg_flatten", tg_flatten(tp, a, 1, 0), "start > end");
    mu_null("tg_flatten", tg_flatten(tp, a, 0, 2), "end 2 of 2");
    mu_null("tg_flatten", tg_flatten(tp, a, -3, 1), "start -3 of 2");
    // (stale x: misuse_crash.c)
}

Test(misuse, slices_concat_stack) {
    tg_tape *tp = mu.tape;
    tg_tensor *a = mu.a, *row = tg_tensor_new(mu.be, TG_F32, 2, (int64_t[]){1, 3});
    mu_null("tg_slice", tg_slice(NULL, a, 0, 0, 1, 1), "NULL tape");
    mu_null("tg_slice", tg_slice(tp, NULL, 0, 0, 1, 1), "NULL x");
    mu_null("tg_slice", tg_slice(tp, a, 2, 0, 1, 1), "axis 2 of 2");
    mu_null("tg_slice", tg_slice(tp, a, 0, 0, 1, 0), "step 0");
    mu_null("tg_slice", tg_slice(tp, a, 0, 1, 0, -1), "step -1");
    mu_null("tg_slice", tg_slice(tp, a, 0, 0, 1, INT64_MIN), "step INT64_MIN");
    mu_null("tg_slice", tg_slice(tp, mu.stale, 0, 0, 1, 1), "stale x");
    mu_null("tg_slice_scatter", tg_slice_scatter(NULL, a, row, 0, 0, 1, 1), "NULL tape");
    mu_null("tg_slice_scatter", tg_slice_scatter(tp, a, NULL, 0, 0, 1, 1), "NULL src");
    mu_null("tg_slice_scatter", tg_slice_scatter(tp, a, row, 0, 0, 2, 1), "src [1,3] for 2 rows");
    mu_null("tg_slice_scatter", tg_slice_scatter(tp, a, row, 0, 0, 1, 0), "step 0");
    mu_null("tg_slice_scatter", tg_slice_scatter(tp, a, row, 3, 0, 1, 1), "axis 3 of 2");
    mu_null("tg_slice_scatter", tg_slice_scatter(tp, mu.d, row, 0, 0, 1, 1), "f64 base, f32 src");
    mu_null("tg_slice_scatter", tg_slice_scatter(tp, a, mu.stale, 0, 0, 2, 1), "stale src");
    const char *names[2] = {"tg_concat", "tg_stack"};
    tg_tensor *two[2] = {a, mu.b}, *mixed[2] = {a, mu.d}, *holes[2] = {a, NULL};
    tg_tensor *shapes[2] = {a, mu.m}, *stale[2] = {a, mu.stale};
    for (int k = 0; k < 2; k++) {
        tg_tensor *(*f)(tg_tape *, int, tg_tensor *const *, int) = k ? tg_stack : tg_concat;
        mu_null(names[k], f(NULL, 2, two, 0), "NULL tape");
        mu_null(names[k], f(tp, 0, two, 0), "n 0");
        mu_null(names[k], f(tp, -1, two, 0), "n -1");
        mu_null(names[k], f(tp, 2, NULL, 0), "NULL list");
        mu_null(names[k], f(tp, 2, holes, 0), "NULL entry");
        mu_null(names[k], f(tp, 2, mixed, 0), "f32 with f64");
        mu_null(names[k], f(tp, 2, shapes, 0), "[2,3] with [3,2]");
        mu_null(names[k], f(tp, 2, two, 5), "axis 5");
        mu_null(names[k], f(tp, 2, two, -5), "axis -5");
        mu_null(names[k], f(tp, 2, stale, 0), "stale entry");
    }
    tg_free(row);
}

Test(misuse, gather_scatter_index) {
    tg_tape *tp = mu.tape;
    tg_tensor *a = mu.a, *lab = mu.lab;   // lab: f32 [2] {0, 1}
    const float iv[6] = {0, 1, 2, 0, 1, 2}, oob[6] = {0, 1, 7, 0, 1, 2}, half[2] = {0.5f, 1};
    tg_tensor *idx = tg_tensor_from(mu.be, TG_F32, 2, (int64_t[]){2, 3}, iv);
    tg_tensor *bad = tg_tensor_from(mu.be, TG_F32, 2, (int64_t[]){2, 3}, oob);
    tg_tensor *frac = tg_tensor_from(mu.be, TG_F32, 1, (int64_t[]){2}, half);
    tg_tensor *neg = tg_tensor_from(mu.be, TG_F32, 1, (int64_t[]){2}, (float[]){-1, 0});
    tg_tensor *idx64 = tg_cast(idx, TG_F64);
    cr_assert(idx && bad && frac && neg && idx64);
    mu_null("tg_gather", tg_gather(NULL, a, 1, idx), "NULL tape");
    mu_null("tg_gather", tg_gather(tp, a, 1, NULL), "NULL index");
    mu_null("tg_gather", tg_gather(tp, a, 1, idx64), "f64 index for f32 x");
    mu_null("tg_gather", tg_gather(tp, a, 1, lab), "1-D index for 2-D x");
    mu_null("tg_gather", tg_gather(tp, a, 1, bad), "index 7 of 3");
    mu_null("tg_gather", tg_gather(tp, a, 2, idx), "axis 2 of 2");
    mu_null("tg_gather", tg_gather(tp, a, 1, mu.stale), "stale index");
    mu_null("tg_scatter_add", tg_scatter_add(NULL, a, 1, idx, a), "NULL tape");
    mu_null("tg_scatter_add", tg_scatter_add(tp, a, 1, idx, NULL), "NULL src");
    mu_null("tg_scatter_add", tg_scatter_add(tp, a, 1, bad, a), "index 7 of 3");
    mu_null("tg_scatter_add", tg_scatter_add(tp, a, 1, idx, mu.d), "f64 src for f32 base");
    mu_null("tg_scatter_add", tg_scatter_add(tp, a, 1, idx64, a), "f64 index");
    mu_null("tg_scatter_add", tg_scatter_add(tp, a, 3, idx, a), "axis 3 of 2");
    mu_null("tg_index_select", tg_index_select(NULL, a, 0, lab), "NULL tape");
    mu_null("tg_index_select", tg_index_select(tp, a, 0, NULL), "NULL index");
    mu_null("tg_index_select", tg_index_select(tp, a, 0, idx), "2-D index");
    mu_null("tg_index_select", tg_index_select(tp, a, 0, frac), "index 0.5");
    mu_null("tg_index_select", tg_index_select(tp, a, 0, neg), "index -1");
    mu_null("tg_index_select", tg_index_select(tp, a, 2, lab), "axis 2 of 2");
    mu_null("tg_index_select", tg_index_select(tp, a, 1, mu.stale), "stale index");
    mu_null("tg_one_hot", tg_one_hot(NULL, lab, 2), "NULL tape");
    mu_null("tg_one_hot", tg_one_hot(tp, NULL, 2), "NULL labels");
    mu_null("tg_one_hot", tg_one_hot(tp, lab, 0), "0 classes");
    mu_null("tg_one_hot", tg_one_hot(tp, lab, -2), "-2 classes");
    mu_null("tg_one_hot", tg_one_hot(tp, lab, 1), "label 1 of 1 class");
    mu_null("tg_one_hot", tg_one_hot(tp, lab, INT64_MAX), "INT64_MAX classes");
    mu_null("tg_one_hot", tg_one_hot(tp, lab, (int64_t)1 << 60), "2^60 classes");
    mu_null("tg_one_hot", tg_one_hot(tp, frac, 2), "label 0.5");
    mu_null("tg_one_hot", tg_one_hot(tp, neg, 2), "label -1");
    mu_null("tg_one_hot", tg_one_hot(tp, mu.stale, 2), "stale labels");
    tg_tensor *ts[5] = {idx, bad, frac, neg, idx64};
    tg_free_many(5, ts);
}

Test(misuse, arange_full) {
    tg_tape *tp = mu.tape;
    mu_null("tg_arange", tg_arange(NULL, mu.be, TG_F32, 3, 0, 1), "NULL tape");
    mu_null("tg_arange", tg_arange(tp, NULL, TG_F32, 3, 0, 1), "NULL backend");
    mu_null("tg_arange", tg_arange(tp, mu.be, (tg_dtype)9, 3, 0, 1), "dtype 9");
    mu_null("tg_arange", tg_arange(tp, mu.be, TG_F32, -1, 0, 1), "n -1");
    mu_null("tg_arange", tg_arange(tp, mu.be, TG_F32, (int64_t)1 << 61, 0, 1), "n 2^61");
    mu_null("tg_arange", tg_arange(tp, mu.be, TG_F32, INT64_MAX, 0, 1), "n INT64_MAX");
    mu_null("tg_arange", tg_arange(tp, mu.be, TG_F32, 3, NAN, 1), "start NaN");
    mu_null("tg_arange", tg_arange(tp, mu.be, TG_F32, 3, 0, NAN), "step NaN");
    mu_null("tg_full", tg_full(NULL, mu.be, TG_F32, 1, (int64_t[]){2}, 0), "NULL tape");
    mu_null("tg_full", tg_full(tp, NULL, TG_F32, 1, (int64_t[]){2}, 0), "NULL backend");
    mu_null("tg_full", tg_full(tp, mu.be, TG_DTYPE_COUNT, 1, (int64_t[]){2}, 0), "dtype COUNT");
    mu_null("tg_full", tg_full(tp, mu.be, TG_F32, -1, (int64_t[]){2}, 0), "ndim -1");
    mu_null("tg_full", tg_full(tp, mu.be, TG_F32, 9, (int64_t[]){2}, 0), "ndim 9");
    mu_null("tg_full", tg_full(tp, mu.be, TG_F32, 1, NULL, 0), "NULL shape");
    mu_null("tg_full", tg_full(tp, mu.be, TG_F32, 1, (int64_t[]){-2}, 0), "[-2]");
    mu_null("tg_full", tg_full(tp, mu.be, TG_F32, 2, HUGE1, 0), "[2^61, 2]");
    mu_null("tg_full", tg_full(tp, mu.be, TG_F64, 1, HUGE2, 0), "[INT64_MAX]");
}

Test(misuse, softmax_dropout) {
    tg_tape *tp = mu.tape;
    tg_tensor *a = mu.a;
    const char *names[2] = {"tg_softmax", "tg_log_softmax"};
    for (int k = 0; k < 2; k++) {
        tg_tensor *(*f)(tg_tape *, tg_tensor *, int) = k ? tg_log_softmax : tg_softmax;
        mu_null(names[k], f(NULL, a, 1), "NULL tape");
        mu_null(names[k], f(tp, NULL, 1), "NULL x");
        mu_null(names[k], f(tp, a, 2), "axis 2 of 2");
        mu_null(names[k], f(tp, a, -3), "axis -3 of 2");
        mu_null(names[k], f(tp, mu.s, 0), "a scalar");
        mu_null(names[k], f(tp, mu.stale, 1), "stale x");
    }
    mu_null("tg_dropout", tg_dropout(NULL, a, 0.5, mu.rng, true), "NULL tape");
    mu_null("tg_dropout", tg_dropout(tp, NULL, 0.5, mu.rng, true), "NULL x");
    mu_null("tg_dropout", tg_dropout(tp, a, 0.5, NULL, true), "NULL rng in training");
    mu_null("tg_dropout", tg_dropout(tp, a, NAN, mu.rng, true), "p NaN");
    mu_null("tg_dropout", tg_dropout(tp, a, -0.1, mu.rng, true), "p -0.1");
    mu_null("tg_dropout", tg_dropout(tp, a, 1.5, mu.rng, true), "p 1.5");
    mu_null("tg_dropout", tg_dropout(tp, a, NAN, mu.rng, false), "p NaN in eval");
    mu_null("tg_dropout", tg_dropout(tp, mu.stale, 0.5, mu.rng, true), "stale x");
}

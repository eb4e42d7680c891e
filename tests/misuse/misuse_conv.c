// Misuse scenarios of ops.h, part 3: convolution, pooling, im2col/col2im and the losses.
#include "misuse.h"

Test(misuse, conv2d) {
    tg_tape *tp = mu.tape;
    tg_tensor *x = mu.img;   // f32 [1,1,4,4]
    tg_tensor *w = tg_tensor_new(mu.be, TG_F32, 4, (int64_t[]){2, 1, 3, 3});
    tg_tensor *w2 = tg_tensor_new(mu.be, TG_F32, 4, (int64_t[]){2, 2, 3, 3});
    tg_tensor *big = tg_tensor_new(mu.be, TG_F32, 4, (int64_t[]){2, 1, 5, 5});
    tg_tensor *w64 = tg_tensor_new(mu.be, TG_F64, 4, (int64_t[]){2, 1, 3, 3});
    tg_tensor *bias3 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){3});
    cr_assert(w && w2 && big && w64 && bias3);
    tg_conv_opts s0 = {.stride = {0, -1}}, pneg = {.padding = {-1, 0}};
    tg_conv_opts dneg = {.dilation = {-2, 1}};   // padding INT_MAX: misuse_crash.c
    mu_null("tg_conv2d", tg_conv2d(NULL, x, w, NULL, NULL), "NULL tape");
    mu_null("tg_conv2d", tg_conv2d(tp, NULL, w, NULL, NULL), "NULL x");
    mu_null("tg_conv2d", tg_conv2d(tp, x, NULL, NULL, NULL), "NULL weight");
    mu_null("tg_conv2d", tg_conv2d(tp, mu.a, w, NULL, NULL), "2-D x");
    mu_null("tg_conv2d", tg_conv2d(tp, x, w2, NULL, NULL), "2 weight channels for 1");
    mu_null("tg_conv2d", tg_conv2d(tp, x, big, NULL, NULL), "5x5 kernel on 4x4");
    mu_null("tg_conv2d", tg_conv2d(tp, x, w64, NULL, NULL), "f32 x, f64 weight");
    mu_null("tg_conv2d", tg_conv2d(tp, x, w, bias3, NULL), "bias [3] for 2 outputs");
    mu_null("tg_conv2d", tg_conv2d(tp, x, w, NULL, &s0), "stride -1");
    mu_null("tg_conv2d", tg_conv2d(tp, x, w, NULL, &pneg), "padding -1");
    mu_null("tg_conv2d", tg_conv2d(tp, x, w, NULL, &dneg), "dilation -2");
    mu_null("tg_conv2d", tg_conv2d(tp, mu.stale, w, NULL, NULL), "stale x");
    tg_tensor *ts[5] = {w, w2, big, w64, bias3};
    tg_free_many(5, ts);
}

Test(misuse, pooling_im2col) {
    tg_tape *tp = mu.tape;
    tg_tensor *x = mu.img;
    tg_conv_opts s0 = {.stride = {-1, 1}}, pneg = {.padding = {0, -3}};
    const char *names[3] = {"tg_max_pool2d", "tg_avg_pool2d", "tg_im2col"};
    for (int k = 0; k < 3; k++) {
        tg_tensor *(*f)(tg_tape *, tg_tensor *, int, int, const tg_conv_opts *) =
            k == 0 ? tg_max_pool2d : k == 1 ? tg_avg_pool2d : tg_im2col;
        const char *fn = names[k];
        mu_null(fn, f(NULL, x, 2, 2, NULL), "NULL tape");
        mu_null(fn, f(tp, NULL, 2, 2, NULL), "NULL x");
        mu_null(fn, f(tp, mu.a, 2, 2, NULL), "2-D x");
        mu_null(fn, f(tp, x, 0, 2, NULL), "kh 0");
        mu_null(fn, f(tp, x, 2, -1, NULL), "kw -1");
        mu_null(fn, f(tp, x, 5, 5, NULL), "5x5 window on 4x4");
        mu_null(fn, f(tp, x, INT32_MAX, INT32_MAX, NULL), "INT_MAX window");
        mu_null(fn, f(tp, x, 2, 2, &s0), "stride -1");
        mu_null(fn, f(tp, x, 2, 2, &pneg), "padding -3");
        // (padding INT_MAX: misuse_crash.c)
        mu_null(fn, f(tp, mu.stale, 2, 2, NULL), "stale x");
    }
    tg_tensor *cols = tg_im2col(tp, x, 2, 2, NULL);   // [1, 4, 9]
    cr_assert_not_null(cols, "%s", tg_last_error());
    mu_null("tg_col2im", tg_col2im(NULL, cols, 1, 4, 4, 2, 2, NULL), "NULL tape");
    mu_null("tg_col2im", tg_col2im(tp, NULL, 1, 4, 4, 2, 2, NULL), "NULL cols");
    mu_null("tg_col2im", tg_col2im(tp, cols, 2, 4, 4, 2, 2, NULL), "c 2 for 4 rows");
    mu_null("tg_col2im", tg_col2im(tp, cols, 1, 5, 4, 2, 2, NULL), "h 5 for 9 columns");
    mu_null("tg_col2im", tg_col2im(tp, cols, -1, 4, 4, 2, 2, NULL), "c -1");
    mu_null("tg_col2im", tg_col2im(tp, cols, 1, -4, 4, 2, 2, NULL), "h -4");
    // (c or w INT64_MAX: misuse_crash.c)
    mu_null("tg_col2im", tg_col2im(tp, cols, 1, 4, 4, 0, 2, NULL), "kh 0");
    mu_null("tg_col2im", tg_col2im(tp, cols, 1, 4, 4, 2, 2, &s0), "stride -1");
    mu_null("tg_col2im", tg_col2im(tp, mu.a, 1, 4, 4, 2, 2, NULL), "2-D cols");
    mu_null("tg_col2im", tg_col2im(tp, mu.stale, 1, 4, 4, 2, 2, NULL), "stale cols");
}

Test(misuse, max_pool2d_grad) {
    tg_tape *tp = mu.tape;
    tg_tensor *x = mu.img;   // f32 [1,1,4,4]
    const char *fn = "tg_max_pool2d_grad";
    tg_tensor *dy = tg_tensor_new(mu.be, TG_F32, 4, (int64_t[]){1, 1, 2, 2});
    tg_tensor *dy3 = tg_tensor_new(mu.be, TG_F32, 4, (int64_t[]){1, 1, 3, 3});
    tg_tensor *dy64 = tg_tensor_new(mu.be, TG_F64, 4, (int64_t[]){1, 1, 2, 2});
    cr_assert(dy && dy3 && dy64);
    tg_conv_opts s0 = {.stride = {-1, 1}}, wide = {.padding = {2, 0}};
    mu_null(fn, tg_max_pool2d_grad(NULL, x, dy, 2, 2, NULL), "NULL tape");
    mu_null(fn, tg_max_pool2d_grad(tp, NULL, dy, 2, 2, NULL), "NULL x");
    mu_null(fn, tg_max_pool2d_grad(tp, x, NULL, 2, 2, NULL), "NULL dy");
    mu_null(fn, tg_max_pool2d_grad(tp, mu.a, dy, 2, 2, NULL), "2-D x");
    mu_null(fn, tg_max_pool2d_grad(tp, x, dy3, 2, 2, NULL), "dy [1,1,3,3] for a 2x2 pool");
    mu_null(fn, tg_max_pool2d_grad(tp, x, mu.a, 2, 2, NULL), "2-D dy");
    mu_null(fn, tg_max_pool2d_grad(tp, x, dy64, 2, 2, NULL), "f32 x, f64 dy");
    mu_null(fn, tg_max_pool2d_grad(tp, x, dy, 0, 2, NULL), "kh 0");
    mu_null(fn, tg_max_pool2d_grad(tp, x, dy, 5, 5, NULL), "5x5 window on 4x4");
    mu_null(fn, tg_max_pool2d_grad(tp, x, dy, INT32_MAX, INT32_MAX, NULL), "INT_MAX window");
    mu_null(fn, tg_max_pool2d_grad(tp, x, dy, 2, 2, &s0), "stride -1");
    mu_null(fn, tg_max_pool2d_grad(tp, x, dy, 3, 3, &wide), "padding 2 > 3 / 2");
    mu_null(fn, tg_max_pool2d_grad(tp, mu.stale, dy, 2, 2, NULL), "stale x");
    mu_null(fn, tg_max_pool2d_grad(tp, x, mu.stale, 2, 2, NULL), "stale dy");
    tg_tensor *ts[3] = {dy, dy3, dy64};
    tg_free_many(3, ts);
}

Test(misuse, elementwise_losses) {
    tg_tape *tp = mu.tape;
    tg_tensor *a = mu.a, *b = mu.b;
    typedef tg_tensor *(*loss_fn)(tg_tape *, tg_tensor *, tg_tensor *, tg_reduction);
    const char *names[4] = {"tg_mse_loss", "tg_l1_loss", "tg_bce_loss", "tg_bce_with_logits"};
    const loss_fn fns[4] = {tg_mse_loss, tg_l1_loss, tg_bce_loss, tg_bce_with_logits};
    for (int k = 0; k < 4; k++) {
        const char *fn = names[k];
        loss_fn f = fns[k];
        mu_null(fn, f(NULL, a, b, TG_REDUCE_MEAN), "NULL tape");
        mu_null(fn, f(tp, NULL, b, TG_REDUCE_MEAN), "NULL pred");
        mu_null(fn, f(tp, a, NULL, TG_REDUCE_MEAN), "NULL target");
        mu_null(fn, f(tp, a, mu.d, TG_REDUCE_MEAN), "f32 with f64");
        mu_null(fn, f(tp, a, mu.m, TG_REDUCE_MEAN), "[2,3] with [3,2]");
        mu_null(fn, f(tp, a, b, (tg_reduction)7), "reduction 7");
        mu_null(fn, f(tp, a, b, (tg_reduction)-1), "reduction -1");
        mu_null(fn, f(tp, a, mu.stale, TG_REDUCE_MEAN), "stale target");
    }
    const char *fn = "tg_huber_loss";
    mu_null(fn, tg_huber_loss(NULL, a, b, 1, TG_REDUCE_MEAN), "NULL tape");
    mu_null(fn, tg_huber_loss(tp, NULL, b, 1, TG_REDUCE_MEAN), "NULL pred");
    mu_null(fn, tg_huber_loss(tp, a, mu.d, 1, TG_REDUCE_MEAN), "f32 with f64");
    mu_null(fn, tg_huber_loss(tp, a, mu.m, 1, TG_REDUCE_MEAN), "[2,3] with [3,2]");
    mu_null(fn, tg_huber_loss(tp, a, b, 1, (tg_reduction)7), "reduction 7");
    mu_null(fn, tg_huber_loss(tp, a, b, NAN, TG_REDUCE_MEAN), "delta NaN");
    mu_null(fn, tg_huber_loss(tp, a, b, 0, TG_REDUCE_MEAN), "delta 0");
    mu_null(fn, tg_huber_loss(tp, a, b, -1, TG_REDUCE_MEAN), "delta -1");
    mu_null(fn, tg_huber_loss(tp, a, mu.stale, 1, TG_REDUCE_MEAN), "stale target");
}

Test(misuse, class_losses) {
    tg_tape *tp = mu.tape;
    tg_tensor *x = mu.a, *lab = mu.lab;   // logits [2,3], labels [2] {0, 1}
    tg_tensor *oob = tg_tensor_from(mu.be, TG_F32, 1, (int64_t[]){2}, (float[]){0, 3});
    tg_tensor *neg = tg_tensor_from(mu.be, TG_F32, 1, (int64_t[]){2}, (float[]){-1, 0});
    tg_tensor *frac = tg_tensor_from(mu.be, TG_F32, 1, (int64_t[]){2}, (float[]){0.5f, 0});
    tg_tensor *lab3 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){3});
    tg_tensor *w2 = tg_tensor_new(mu.be, TG_F32, 1, (int64_t[]){2});
    tg_tensor *lab64 = tg_cast(lab, TG_F64);
    cr_assert(oob && neg && frac && lab3 && w2 && lab64);
    const char *names[2] = {"tg_nll_loss", "tg_cross_entropy"};
    for (int k = 0; k < 2; k++) {
        const char *fn = names[k];
        tg_tensor *(*f)(tg_tape *, tg_tensor *, tg_tensor *, tg_tensor *, tg_reduction) =
            k ? tg_cross_entropy : tg_nll_loss;
        mu_null(fn, f(NULL, x, lab, NULL, TG_REDUCE_MEAN), "NULL tape");
        mu_null(fn, f(tp, NULL, lab, NULL, TG_REDUCE_MEAN), "NULL logits");
        mu_null(fn, f(tp, x, NULL, NULL, TG_REDUCE_MEAN), "NULL labels");
        mu_null(fn, f(tp, lab, lab, NULL, TG_REDUCE_MEAN), "1-D logits");
        mu_null(fn, f(tp, x, lab3, NULL, TG_REDUCE_MEAN), "3 labels for 2 rows");
        mu_null(fn, f(tp, x, oob, NULL, TG_REDUCE_MEAN), "label 3 of 3 classes");
        mu_null(fn, f(tp, x, neg, NULL, TG_REDUCE_MEAN), "label -1");
        mu_null(fn, f(tp, x, frac, NULL, TG_REDUCE_MEAN), "label 0.5");
        mu_null(fn, f(tp, x, lab64, NULL, TG_REDUCE_MEAN), "f64 labels for f32 logits");
        mu_null(fn, f(tp, x, lab, w2, TG_REDUCE_MEAN), "weight [2] for 3 classes");
        mu_null(fn, f(tp, x, lab, NULL, (tg_reduction)9), "reduction 9");
        mu_null(fn, f(tp, x, mu.stale, NULL, TG_REDUCE_MEAN), "stale labels");
    }
    const char *fn = "tg_cross_entropy_grad";
    mu_null(fn, tg_cross_entropy_grad(NULL, x, lab, w2), "NULL tape");
    mu_null(fn, tg_cross_entropy_grad(tp, x, lab, NULL), "NULL dloss");
    mu_null(fn, tg_cross_entropy_grad(tp, x, lab, lab3), "dloss [3] for 2 rows");
    mu_null(fn, tg_cross_entropy_grad(tp, x, lab3, w2), "labels [3] for 2 rows");
    mu_null(fn, tg_cross_entropy_grad(tp, x, oob, w2), "label 3 of 3 classes");
    mu_null(fn, tg_cross_entropy_grad(tp, x, lab64, w2), "f64 labels");
    mu_null(fn, tg_cross_entropy_grad(tp, mu.stale, lab, w2), "stale logits");
    tg_tensor *ts[6] = {oob, neg, frac, lab3, w2, lab64};
    tg_free_many(6, ts);
}

// Defining your own op and verifying its gradient against finite differences.
// "softclip(x) = x / (1 + |x|)" is written twice: with a host forward and a correct rule,
// and with a deliberately wrong rule. tg_gradcheck passes the first and reports the second.
#include <math.h>
#include <stdio.h>
#include <tapegrad/tapegrad.h>

#include "example_args.h"

static const ex_spec spec = {
    .name = "custom_op",
    .about = "Your own op, softclip(x) = x / (1 + |x|), with a correct gradient rule (gradcheck\n"
             "and gradgradcheck pass) and a wrong one (gradcheck reports it). Exits 0 when both\n"
             "behave so. cpu, f64 (its forward reads host buffers).\n",
    .flags = EX_QUICK | EX_SEED, .seed = 7, .seed_what = "the inputs",
    .quick_what = "accepted, like the other examples (it takes milliseconds)"};

// y = x / (1 + |x|), computed on the host buffers (cpu backend, f64 here).
static int softclip_forward(tg_tape *tape, tg_tensor *const *in, int n_in, tg_tensor *out,
                            void *user) {
    (void)tape, (void)n_in, (void)user;
    const double *x = tg_data_f64(in[0]);
    double *y = tg_data_f64(out);
    if (!x || !y) return tg_last_status();
    for (int64_t i = 0; i < tg_numel(out); i++) y[i] = x[i] / (1.0 + fabs(x[i]));
    return TG_OK;
}

// dy/dx = 1 / (1 + |x|)^2, written with ops so that it differentiates again.
static int softclip_backward(tg_tape *tape, tg_tensor *const *in, int n_in, tg_tensor *out,
                             tg_tensor *dout, tg_tensor **din, void *user) {
    (void)n_in, (void)out, (void)user;
    tg_tensor *d = tg_add_scalar(tape, tg_abs(tape, in[0]), 1.0);
    din[0] = tg_div(tape, dout, tg_mul(tape, d, d));
    return din[0] ? TG_OK : tg_last_status();
}

// The classic slip: forgetting the square.
static int softclip_backward_wrong(tg_tape *tape, tg_tensor *const *in, int n_in, tg_tensor *out,
                                   tg_tensor *dout, tg_tensor **din, void *user) {
    (void)n_in, (void)out, (void)user;
    din[0] = tg_div(tape, dout, tg_add_scalar(tape, tg_abs(tape, in[0]), 1.0));
    return din[0] ? TG_OK : tg_last_status();
}

static const tg_custom_op softclip = {"softclip", softclip_forward, softclip_backward};
static const tg_custom_op softclip_bad = {"softclip_bad", softclip_forward,
                                          softclip_backward_wrong};

// The function under test: sum(softclip(x) * w), so the check covers a whole expression.
static tg_tensor *f(tg_tape *tape, tg_tensor *const *in, void *user) {
    const tg_custom_op *op = user;
    tg_tensor *y = tg_custom(tape, op, 1, in, tg_ndim(in[0]), tg_shape(in[0]), NULL);
    return tg_sum(tape, tg_mul(tape, y, in[1]));
}

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    tg_backend *cpu = tg_backend_get("cpu");
    tg_rng *rng = tg_rng_new(a.seed);
    tg_tensor *x = tg_tensor_new(cpu, TG_F64, 2, (int64_t[]){3, 4});
    tg_tensor *w = tg_tensor_new(cpu, TG_F64, 1, (int64_t[]){4});
    tg_uniform_(x, rng, 0.2, 2.0);   // away from the kink of |x| at 0
    tg_uniform_(w, rng, -1.0, 1.0);
    tg_set_requires_grad(x, true);
    tg_set_requires_grad(w, true);
    tg_tensor *inputs[2] = {x, w};

    tg_gradcheck_report r;
    int st = tg_gradcheck(f, (void *)&softclip, 2, inputs, NULL, &r);
    printf("softclip:     %s (%lld Jacobian entries, max abs err %.2e)\n",
           st == TG_OK ? "gradcheck passed" : tg_last_error(), (long long)r.n_checked,
           r.max_abs_err);
    int st2 = tg_gradgradcheck(f, (void *)&softclip, 2, inputs, NULL, NULL);
    printf("softclip:     %s\n", st2 == TG_OK ? "gradgradcheck passed" : tg_last_error());
    tg_clear_error();

    int bad = tg_gradcheck(f, (void *)&softclip_bad, 2, inputs, NULL, &r);
    printf("softclip_bad: %s\n", bad == TG_OK ? "gradcheck passed (unexpected!)" : tg_last_error());
    if (bad != TG_OK)
        printf("              input %d, element %lld: analytic %.6f vs numeric %.6f\n",
               r.fail_input, (long long)r.fail_element, r.fail_analytic, r.fail_numeric);
    tg_clear_error();

    tg_free(x);
    tg_free(w);
    tg_rng_free(rng);
    return (st == TG_OK && st2 == TG_OK && bad == TG_ERR_NUMERIC) ? 0 : 1;
}

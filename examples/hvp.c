// A Hessian-vector product with create_graph: for f(x) = sum(tanh(W x)^2) / 2, computes
// g = df/dx with a differentiable graph, then H v = d(g . v)/dx, and compares it with
// central differences of the gradient.
#include <math.h>
#include <stdio.h>
#include <tapegrad/tapegrad.h>

#include "example_args.h"

static const ex_spec spec = {
    .name = "hvp",
    .about = "A Hessian-vector product with create_graph, for f(x) = sum(tanh(W x)^2) / 2,\n"
             "compared with central differences of the gradient (exits 1 above 1e-6). cpu, f64.\n",
    .flags = EX_QUICK | EX_SEED, .seed = 1, .seed_what = "W, x and v",
    .quick_what = "accepted, like the other examples (it takes milliseconds)"};

static tg_tensor *f(tg_tape *tape, tg_tensor *w, tg_tensor *x) {
    tg_tensor *h = tg_tanh(tape, tg_matmul(tape, w, x));
    return tg_mul_scalar(tape, tg_sum(tape, tg_mul(tape, h, h)), 0.5);
}

// df/dx at the current x (as host values), without building a second-order graph.
static int grad_at(tg_tensor *w, tg_tensor *x, double *out) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *g = NULL;
    int st = tg_grad(tape, f(tape, w, x), NULL, 1, &x, &g, NULL);
    if (!st) st = tg_copy_to_host(g, out, 4 * sizeof(double));
    tg_tape_free(tape);
    return st;
}

int main(int argc, char **argv) {
    ex_args a;
    int rc = ex_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    tg_backend *cpu = tg_backend_get("cpu");
    tg_rng *rng = tg_rng_new(a.seed);
    tg_tensor *w = tg_tensor_new(cpu, TG_F64, 2, (int64_t[]){3, 4});
    tg_tensor *x = tg_tensor_new(cpu, TG_F64, 2, (int64_t[]){4, 1});
    tg_tensor *v = tg_tensor_new(cpu, TG_F64, 2, (int64_t[]){4, 1});
    tg_uniform_(w, rng, -1, 1);
    tg_uniform_(x, rng, -1, 1);
    tg_uniform_(v, rng, -1, 1);
    tg_set_requires_grad(x, true);

    tg_tape *tape = tg_tape_new();
    tg_backward_opts o = {.create_graph = true};
    tg_tensor *g = NULL, *hv = NULL;
    int st = tg_grad(tape, f(tape, w, x), NULL, 1, &x, &g, &o);          // g = df/dx
    if (!st) st = tg_grad(tape, tg_sum(tape, tg_mul(tape, g, v)), NULL, 1, &x, &hv, NULL);
    double hv_host[4], vh[4], xh[4], gp[4], gm[4], worst = 0;
    if (!st) st = tg_copy_to_host(hv, hv_host, sizeof hv_host);
    tg_copy_to_host(v, vh, sizeof vh);
    tg_copy_to_host(x, xh, sizeof xh);
    const double eps = 1e-6;
    double xp[4], xm[4];
    for (int i = 0; i < 4; i++) xp[i] = xh[i] + eps * vh[i], xm[i] = xh[i] - eps * vh[i];
    if (!st) st = tg_copy_from_host(x, xp, sizeof xp) || grad_at(w, x, gp);
    if (!st) st = tg_copy_from_host(x, xm, sizeof xm) || grad_at(w, x, gm);
    if (st) {
        fprintf(stderr, "hvp: %s\n", tg_last_error());
        return 1;
    }
    printf("%10s %14s %14s\n", "i", "H v (autodiff)", "finite diff");
    for (int i = 0; i < 4; i++) {
        double fd = (gp[i] - gm[i]) / (2 * eps);
        worst = fmax(worst, fabs(fd - hv_host[i]));
        printf("%10d %14.8f %14.8f\n", i, hv_host[i], fd);
    }
    printf("max |difference| %.2e\n", worst);
    tg_tape_free(tape);
    tg_free(w), tg_free(x), tg_free(v);
    tg_rng_free(rng);
    return worst < 1e-6 ? 0 : 1;
}

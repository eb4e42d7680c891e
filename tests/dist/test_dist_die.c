// A rank that dies in the middle of training (tests/dist/rank_dies.sh): rank 1 kills
// itself after two steps while rank 0 goes on into the next gradient reduction, which can
// never complete. mpirun must then end the job with a message instead of waiting forever.
#include <signal.h>
#include <stdio.h>
#include <tapegrad/tapegrad.h>
#include <tapegrad/dist.h>

int main(int argc, char **argv) {
    tg_dist *d = tg_dist_init(&argc, &argv);
    if (!d) return fprintf(stderr, "%s\n", tg_last_error()), 1;
    tg_backend *cpu = tg_backend_get("cpu");
    tg_rng *rng = tg_rng_new(1);
    tg_module *net = tg_linear(cpu, TG_F64, 64, 64, true, rng);
    tg_tensor *x = tg_tensor_new(cpu, TG_F64, 2, (int64_t[]){8, 64});
    tg_uniform_(x, rng, -1, 1);
    tg_ddp *ddp = tg_ddp_new(d, net, NULL);
    tg_tape *tape = tg_tape_new();
    if (!ddp || !tape) return fprintf(stderr, "%s\n", tg_last_error()), 1;
    for (int step = 0; step < 1000; step++) {
        if (step == 2 && tg_dist_rank(d) == 1) {
            fprintf(stderr, "rank 1: dying now (SIGKILL)\n");
            fflush(stderr);
            raise(SIGKILL);
        }
        tg_tensor *loss = tg_mean(tape, tg_module_forward(net, tape, x));
        if (tg_ddp_backward(ddp, tape, loss)) {
            fprintf(stderr, "rank %d: %s\n", tg_dist_rank(d), tg_last_error());
            tg_dist_abort(d, 1);
        }
        tg_tape_reset(tape);
    }
    fprintf(stderr, "rank %d: finished 1000 steps although rank 1 died\n", tg_dist_rank(d));
    return 1;
}

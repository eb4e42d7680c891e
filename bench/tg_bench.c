// tg-bench: forward, backward and training-step throughput of tapegrad (issue 6).
// Prints a table, or one JSON document with --json (read by bench/compare_torch.py).
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: tg-bench [options]\n"
        "  --config NAME[,NAME...]  what to run (default all):\n"
        "        all        every configuration below\n"
        "        mlp        tiny-sgd seed-diabetes seed-moons mnist-mlp wide mem-floor\n"
        "        chain100   100 scalar ops on a 1-element tensor (per-op overhead)\n"
        "        ops        every op microbenchmark; or a family (matmul, add-bcast, relu,\n"
        "                   softmax, cross_entropy, conv2d) or one case (matmul-256, ...)\n"
        "        gpt-mini   examples/gpt's model (4x4x128, context 64), batch 32, AdamW\n"
        "        fashion-cnn  examples/fashion's CNN (2 conv+BN+ReLU+pool, linear), batch 64,\n"
        "                   Adam\n"
        "        attention, layer_norm  the transformer op rows (a family or one case)\n"
        "        list       print the names and exit\n"
        "  --backend NAME  cpu (default: $TG_BACKEND, else cpu) or cuda\n"
        "  --threads N     threads per kernel (tg_backend_set_threads; default 1). BLIS\n"
        "                  gets it through a per-call rntm_t, so BLIS_NUM_THREADS and\n"
        "                  OMP_NUM_THREADS do not change tapegrad's gemm; set them anyway\n"
        "                  when comparing with PyTorch (compare_torch.py does)\n"
        "  --dtype f32|f64 (default f32)\n"
        "  --min-time S    seconds of timed repetitions per figure (default 0.3)\n"
        "  --min-reps N    at least N timed repetitions (default 5; 3 when one takes >0.5 s)\n"
        "  --max-reps N    at most N (default 200000)\n"
        "  --figure LIST   only these figures (forward,backward,step,gemm), e.g. for perf\n"
        "  --clock wall|cpu  wall time (default), or process CPU time: on a shared, busy\n"
        "                  machine it leaves out time spent waiting for a CPU (1 thread only:\n"
        "                  with more it sums the threads). Reading it is a system call\n"
        "                  (1.3 us on a KVM guest): use it for millisecond figures only;\n"
        "                  the footer and the JSON give one read's cost\n"
        "  --quick         smoke run for CI: 1 warm-up and 1-2 timed repetitions\n"
        "  --json          one JSON document on stdout instead of the table\n"
        "  --no-peak       skip the FMA peak probe (~0.2 s) and the %%peak column\n"
        "  -h, --help\n"
        "Figures: forward (forward + loss, recorded on the tape), backward (the backward\n"
        "pass alone), step (forward, loss, backward, optimizer step, zero_grad, tape reset)\n"
        "and gemm (the step's matrix products run by the process's BLIS alone, set to the\n"
        "kernel set tapegrad chose but without the small-matrix path tapegrad may borrow from\n"
        "another set: step/gemm is the distance to the gemm-bound limit). Times are per\n"
        "repetition after warm-up: median, min, p10, max. GFLOP/s from the median (step:\n"
        "6*M*K*N per linear layer). allocs = growth of tg_alloc_count() per timed repetition\n"
        "(0 in a steady state); malloc B = bytes the whole process asked malloc for per\n"
        "repetition; RSS = peak resident set so far. %%peak = GFLOP/s as a fraction of the\n"
        "machine's FMA peak for the run's dtype and thread count (JSON: peak_fraction).\n"
        "Above the table (JSON: \"machine\"): the CPU and the kernels tapegrad runs on it\n"
        "(tg_cpu_describe; TG_CPU_ISA and TG_BLIS_ARCH override, see README), and the FMA\n"
        "peak: independent FMA chains in the widest vector ISA (AVX-512F, AVX2+FMA or\n"
        "scalar), f32 and f64, on 1 thread (best 40 ms-window chunk) and on N threads\n"
        "(--threads if above 1, else the online CPUs; all at once, each thread's flops per\n"
        "CPU second, summed; capped at the online CPUs).\n");
}

static bool parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1 << 30) return false;
    *out = (int)v;
    return true;
}

// Runs one name (a configuration, a group or an op case); 0, or -1 with the name recorded.
static int run_name(const bench_opts *o, const char *name, int *n_failed,
                    const char **failed) {
    if (strcmp(name, "all") == 0 || strcmp(name, "mlp") == 0) {
        int st = 0;
        for (int i = 0; bench_mlp_names[i]; i++)
            st |= run_name(o, bench_mlp_names[i], n_failed, failed);
        if (strcmp(name, "all") == 0) {
            st |= run_name(o, "chain100", n_failed, failed);
            for (int i = 0; bench_op_names[i]; i++)
                st |= run_name(o, bench_op_names[i], n_failed, failed);
            for (int i = 0; bench_gpt_names[i]; i++)
                st |= run_name(o, bench_gpt_names[i], n_failed, failed);
            for (int i = 0; bench_cnn_names[i]; i++)
                st |= run_name(o, bench_cnn_names[i], n_failed, failed);
        }
        return st;
    }
    int st = bench_run_mlp(o, name);
    if (st == 1) st = bench_run_chain(o, name);
    if (st == 1) st = bench_run_ops(o, name);
    if (st == 1) st = bench_run_gpt(o, name);
    if (st == 1) st = bench_run_cnn(o, name);
    if (st == 1) {
        fprintf(stderr, "tg-bench: unknown configuration '%s' (try --config list)\n", name);
        return -2;
    }
    if (st) {
        tg_clear_error();
        if (*n_failed < 64) failed[(*n_failed)++] = name;
    }
    return st ? -1 : 0;
}

static void list_names(void) {
    printf("mlp:");
    for (int i = 0; bench_mlp_names[i]; i++) printf(" %s", bench_mlp_names[i]);
    printf("\nchain100\nops:");
    for (int i = 0; bench_op_names[i]; i++) printf(" %s", bench_op_names[i]);
    printf("\ntransformers:");
    for (int i = 0; bench_gpt_names[i]; i++) printf(" %s", bench_gpt_names[i]);
    printf(" (attention-32x4x64x32 attention-8x4x256x32 layer_norm-2048x128 layer_norm-2048x512)\n");
    printf("cnn:");
    for (int i = 0; bench_cnn_names[i]; i++) printf(" %s", bench_cnn_names[i]);
    printf("\n");
}

// Parses the command line into *o and *config / *backend: -1 to go on, 0 after --help, 2 on
// bad usage (getopt or the value check said why; the usage follows on stderr).
static int parse_args(int argc, char **argv, bench_opts *o, const char **config,
                      const char **backend) {
    // in the order of longs[] (a bad value is reported as longs[c - O_CONFIG].name)
    enum { O_CONFIG = 256, O_BACKEND, O_THREADS, O_DTYPE, O_MIN_TIME, O_MIN_REPS, O_MAX_REPS,
           O_FIGURE, O_CLOCK, O_QUICK, O_JSON, O_NO_PEAK };
    static const struct option longs[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"backend", required_argument, NULL, O_BACKEND},
        {"threads", required_argument, NULL, O_THREADS},
        {"dtype", required_argument, NULL, O_DTYPE},
        {"min-time", required_argument, NULL, O_MIN_TIME},
        {"min-reps", required_argument, NULL, O_MIN_REPS},
        {"max-reps", required_argument, NULL, O_MAX_REPS},
        {"figure", required_argument, NULL, O_FIGURE},
        {"clock", required_argument, NULL, O_CLOCK},
        {"quick", no_argument, NULL, O_QUICK},
        {"json", no_argument, NULL, O_JSON},
        {"no-peak", no_argument, NULL, O_NO_PEAK},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        const char *v = optarg;
        char *end;
        bool ok = true;
        switch (c) {
        case 'h': usage(stdout); return 0;
        case O_JSON: o->json = true; break;
        case O_QUICK: o->quick = true; break;
        case O_NO_PEAK: o->no_peak = true; break;
        case O_CONFIG: *config = v; break;
        case O_FIGURE: o->figures = v; break;
        case O_BACKEND: *backend = v; break;
        case O_CLOCK:
            ok = strcmp(v, "wall") == 0 || strcmp(v, "cpu") == 0;
            o->cpu_clock = strcmp(v, "cpu") == 0;
            break;
        case O_THREADS: ok = parse_int(v, &o->threads) && o->threads >= 1; break;
        case O_DTYPE:
            ok = strcmp(v, "f32") == 0 || strcmp(v, "f64") == 0;
            o->dtype = strcmp(v, "f64") == 0 ? TG_F64 : TG_F32;
            break;
        case O_MIN_TIME:
            o->min_time = strtod(v, &end);
            ok = *v && !*end && o->min_time > 0 && o->min_time < 3600;
            break;
        case O_MIN_REPS: ok = parse_int(v, &o->min_reps) && o->min_reps >= 1; break;
        case O_MAX_REPS: ok = parse_int(v, &o->max_reps) && o->max_reps >= 1; break;
        default: usage(stderr); return 2;   // getopt named the option
        }
        if (!ok) {
            fprintf(stderr, "tg-bench: bad value for --%s: '%s'\n", longs[c - O_CONFIG].name, v);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tg-bench: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv) {
    bench_opts o = {.dtype = TG_F32, .threads = 1, .min_time = 0.3, .min_reps = 5,
                    .max_reps = 200000};
    const char *config = "all", *backend = NULL;
    int rc = parse_args(argc, argv, &o, &config, &backend);
    if (rc >= 0) return rc;
    if (strcmp(config, "list") == 0) {
        list_names();
        return 0;
    }
    if (o.min_reps > o.max_reps) o.min_reps = o.max_reps;
    bench_use_cpu_clock(o.cpu_clock);
    o.be = tg_backend_get(backend);
    if (!o.be || tg_backend_set_threads(o.be, o.threads)) {
        fprintf(stderr, "tg-bench: %s\n", tg_last_error());
        return 1;
    }
    o.backend_name = tg_backend_name(o.be);
    bench_machine_init(&o);
    bench_peak_init(&o);

    const char *failed[64];
    int n_failed = 0, st = 0;
    char names[1024];
    snprintf(names, sizeof names, "%s", config);
    for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int r = run_name(&o, tok, &n_failed, failed);
        if (r == -2) return 2;
        st |= r;
    }
    bench_finish(&o, n_failed, failed);
    return st ? 1 : 0;
}

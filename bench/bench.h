// tg-bench internals: options, the adaptive timing loop, result records and reporting.
// A figure is one timed quantity (forward, backward, step, gemm) of one configuration;
// its run function executes one repetition and returns the seconds it timed, so untimed
// set-up (a forward before a timed backward, a tape reset) can sit around the timed part.
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <tapegrad/tapegrad.h>

typedef struct bench_opts {
    tg_backend *be;
    const char *backend_name;
    tg_dtype dtype;
    int threads;       // passed to tg_backend_set_threads and to the gemm-only BLIS calls
    double min_time;   // seconds of timed repetitions per figure (default 0.3)
    int min_reps;      // at least this many timed repetitions (default 5; 3 for slow figures)
    int max_reps;      // at most this many (bounded by the sample buffer)
    bool quick;        // smoke run: 1 warm-up, 1-2 timed repetitions
    const char *figures;   // comma list of figures to run (NULL: all), e.g. "step" for perf
    bool json;
    bool cpu_clock;    // time with process CPU time instead of wall time (--clock cpu)
    bool no_peak;      // skip the FMA peak probe (--no-peak)
} bench_opts;

// One repetition: returns the timed seconds, or a negative value on failure (the error is
// in tg_last_error()).
typedef double (*bench_fn)(void *ctx);

typedef struct bench_result {
    char config[48];
    char figure[24];
    int64_t reps;
    double median, min, max, p10, mean;   // seconds per repetition
    double flops;                         // per repetition, 0 if unknown
    double per_op;                        // divisor for a per-op figure (chain100), 0 if none
    double tg_allocs;                     // tg_alloc_count() delta per timed repetition
    double malloc_calls;                  // process-wide malloc-family calls per repetition
    double malloc_bytes;                  // bytes those calls requested, per repetition
    int64_t nodes;                        // tape nodes recorded in one repetition (0: n/a)
    long rss_kb;                          // peak RSS of the process after this figure
    char note[64];
} bench_result;

// Seconds on the benchmark clock: CLOCK_MONOTONIC (wall), or with bench_use_cpu_clock(true)
// CLOCK_PROCESS_CPUTIME_ID (CPU time of all threads: immune to waiting for a busy machine's
// CPU, comparable with wall time only for 1-thread runs).
double bench_now(void);
void bench_use_cpu_clock(bool cpu);
// Seconds one bench_now() costs on the chosen clock (measured once; every sample holds about
// one read). Printed by the table and in the JSON ("clock_read_s").
double bench_clock_read_cost(void);
// Peak resident set size of this process in KiB (getrusage).
long bench_peak_rss_kb(void);

// Warms up, then times `fn` adaptively and fills *r (config, figure, flops are the
// caller's). Returns 0, or -1 when a repetition failed (message printed to stderr).
int bench_measure(const bench_opts *o, bench_fn fn, void *ctx, bench_result *r);

// bench_measure + bench_emit for one figure of `config`; *nodes (may be NULL) is read after
// the measurement. per_op > 0 adds a per-op time (the figure's time / per_op).
int bench_figure(const bench_opts *o, const char *config, const char *figure, bench_fn fn,
                 void *ctx, double flops, const int64_t *nodes, double per_op);

// Adds a finished result: printed at once in text mode, kept for the JSON document.
void bench_emit(const bench_opts *o, const bench_result *r);
// Prints the JSON document (json mode) with every emitted result. `failed` lists configs
// that could not run.
void bench_finish(const bench_opts *o, int n_failed, const char *const *failed);

// Process-wide malloc statistics (bench/alloc_probe.c). `available` is false where the
// probe is compiled out (sanitizer builds); the counters then stay at 0.
typedef struct bench_malloc_stats {
    uint64_t calls, bytes;
    bool available;
} bench_malloc_stats;
bench_malloc_stats bench_malloc_read(void);

// ---- synthetic data (seeded; persistent tensors the caller frees) ----

// N(0, std^2) values; requires_grad when `param`.
tg_tensor *bench_randn(const bench_opts *o, tg_rng *rng, int ndim, const int64_t *shape,
                       double std, bool param);
// n labels uniform in [0, classes), as integral values in the bench dtype: [n].
tg_tensor *bench_labels(const bench_opts *o, tg_rng *rng, int64_t n, int64_t classes);

// ---- the machine (bench_machine.c) ----

// Reads the cpu backend's kernel choice and the CPU (tg_cpu_describe), prints them above the
// table (text mode), and points the gemm figure's BLIS at the same kernel set (sets
// BLIS_ARCH_TYPE unless the user did). Call once, after the backend exists, before any BLIS
// call of the bench.
void bench_machine_init(const bench_opts *o);
// Writes the "machine" member of the JSON document (a line ending in a comma).
void bench_machine_json(void);
// Writes s as a JSON string.
void bench_json_str(const char *s);

// ---- the FMA peak (bench_peak.c) ----

// Measures the machine's FMA peak in f32 and f64 on 1 thread and on N threads (N = o->threads
// if above 1, else the online CPU count), unless o->no_peak; prints it (text mode). ~0.2 s.
void bench_peak_init(const bench_opts *o);
// The peak in GFLOP/s for o's dtype and thread count; 0 when not measured.
double bench_peak_gflops(const bench_opts *o);
// Writes the ", \"fma_peak_gflops\": {...}" member of "machine" (null when not measured).
void bench_peak_json(void);

// ---- configurations (bench_mlp.c, bench_ops.c) ----

// Runs the named configuration; returns 0, 1 for "no such name", -1 on failure.
int bench_run_mlp(const bench_opts *o, const char *name);
int bench_run_chain(const bench_opts *o, const char *name);
int bench_run_ops(const bench_opts *o, const char *name);
// gpt-mini and the attention / layer_norm op rows (bench_gpt.c).
int bench_run_gpt(const bench_opts *o, const char *name);
// fashion-cnn, the CNN of examples/fashion.c (bench_cnn.c).
int bench_run_cnn(const bench_opts *o, const char *name);

// Names the harness knows, in the order `--config all` runs them.
extern const char *const bench_mlp_names[];
extern const char *const bench_op_names[];
extern const char *const bench_gpt_names[];
extern const char *const bench_cnn_names[];

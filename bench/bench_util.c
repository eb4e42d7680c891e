// The timing loop (warm-up, adaptive repetition count, per-repetition samples), the
// statistics (median, min, max, p10) and the two report formats (text table, JSON).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

#define MAX_SAMPLES 200000
#define MAX_RESULTS 256

static double samples[MAX_SAMPLES];   // static: no allocation inside a measurement
static bench_result results[MAX_RESULTS];
static int n_results;

static clockid_t clock_id = CLOCK_MONOTONIC;

// Seconds one read of clock_id costs (median of back-to-back pairs); < 0: not measured yet.
static double clock_read = -1;

void bench_use_cpu_clock(bool cpu) {
    clock_id = cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    clock_read = -1;
}

double bench_now(void) {
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long bench_peak_rss_kb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// What one read of the clock costs, measured once: it lands inside every sample. The wall
// clock is a vDSO read (~20-30 ns); the process CPU-time clock is a system call, which under
// some hypervisors costs over a microsecond, a large share of a microsecond-scale figure.
double bench_clock_read_cost(void) {
    if (clock_read >= 0) return clock_read;
    enum { PAIRS = 2001 };
    static double d[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        double a = bench_now();
        d[i] = bench_now() - a;
    }
    qsort(d, PAIRS, sizeof d[0], cmp_double);
    return clock_read = d[PAIRS / 2];
}

// Runs fn once; prints the error and returns a negative value on failure.
static double run_once(const bench_result *r, bench_fn fn, void *ctx) {
    double t = fn(ctx);
    if (t < 0) {
        fprintf(stderr, "tg-bench: %s/%s failed: %s\n", r->config, r->figure,
                tg_last_error()[0] ? tg_last_error() : "(no message)");
    }
    return t;
}

int bench_measure(const bench_opts *o, bench_fn fn, void *ctx, bench_result *r) {
    // Warm-up: caches, the optimizer's state, BLIS's packing buffers, the tape arena.
    double start = bench_now(), est = INFINITY;
    for (int i = 0;; i++) {
        double t = run_once(r, fn, ctx);
        if (t < 0) return -1;
        est = t < est ? t : est;
        double wall = bench_now() - start;
        if (o->quick || (i >= 2 && wall >= 0.1 * o->min_time) || wall >= 1.0) break;
    }
    int64_t reps;
    if (o->quick) {
        reps = est > 0.25 ? 1 : 2;
    } else {
        double want = ceil(o->min_time / (est > 1e-9 ? est : 1e-9));
        int64_t lo = est > 0.5 ? 3 : o->min_reps;
        reps = want < (double)lo ? lo : (int64_t)fmin(want, (double)o->max_reps);
    }
    if (reps > MAX_SAMPLES) reps = MAX_SAMPLES;

    uint64_t a0 = tg_alloc_count();
    bench_malloc_stats m0 = bench_malloc_read();
    for (int64_t i = 0; i < reps; i++) {
        samples[i] = run_once(r, fn, ctx);
        if (samples[i] < 0) return -1;
    }
    bench_malloc_stats m1 = bench_malloc_read();
    uint64_t a1 = tg_alloc_count();

    double sum = 0;
    for (int64_t i = 0; i < reps; i++) sum += samples[i];
    qsort(samples, (size_t)reps, sizeof samples[0], cmp_double);
    r->reps = reps;
    r->min = samples[0];
    r->max = samples[reps - 1];
    r->median = reps % 2 ? samples[reps / 2] : 0.5 * (samples[reps / 2 - 1] + samples[reps / 2]);
    r->p10 = samples[(int64_t)floor(0.1 * (double)(reps - 1) + 0.5)];
    r->mean = sum / (double)reps;
    r->tg_allocs = (double)(a1 - a0) / (double)reps;
    r->malloc_calls = m1.available ? (double)(m1.calls - m0.calls) / (double)reps : -1;
    r->malloc_bytes = m1.available ? (double)(m1.bytes - m0.bytes) / (double)reps : -1;
    r->rss_kb = bench_peak_rss_kb();
    return 0;
}

// ---- reporting ----

// "12.3 us" style, 9 columns.
static const char *fmt_time(char *buf, size_t n, double s) {
    if (s < 1e-6) snprintf(buf, n, "%6.1f ns", s * 1e9);
    else if (s < 1e-3) snprintf(buf, n, "%6.2f us", s * 1e6);
    else if (s < 1.0) snprintf(buf, n, "%6.2f ms", s * 1e3);
    else snprintf(buf, n, "%6.3f s ", s);
    return buf;
}

static void print_header(void) {
    printf("%-22s %-9s %7s %9s %9s %9s %9s %8s %6s %8s %10s %9s  %s\n", "config", "figure",
           "reps", "median", "min", "p10", "max", "GFLOP/s", "%peak", "allocs", "malloc B",
           "RSS MiB", "note");
}

// GFLOP/s (from the median) as a fraction of the FMA peak `peak`; NAN when either is unknown.
static double peak_fraction(const bench_result *r, double peak) {
    return r->flops > 0 && peak > 0 ? r->flops / r->median * 1e-9 / peak : NAN;
}

static void print_row(const bench_result *r, double peak) {
    char b1[24], b2[24], b3[24], b4[24], gf[16] = "-", pf[16] = "-", mb[24] = "n/a", note[160];
    if (r->flops > 0) snprintf(gf, sizeof gf, "%.1f", r->flops / r->median * 1e-9);
    double frac = peak_fraction(r, peak);
    if (isfinite(frac)) snprintf(pf, sizeof pf, "%.0f%%", 100 * frac);
    if (r->malloc_bytes >= 0) snprintf(mb, sizeof mb, "%.0f", r->malloc_bytes);
    snprintf(note, sizeof note, "%s", r->note);
    if (r->nodes > 0) {
        snprintf(note, sizeof note, "%s%s%lld nodes", r->note, r->note[0] ? "; " : "",
                 (long long)r->nodes);
    }
    if (r->per_op > 0) {
        char po[24];
        size_t len = strlen(note);
        snprintf(note + len, sizeof note - len, "%s%s/op (median)", len ? "; " : "",
                 fmt_time(po, sizeof po, r->median / r->per_op));
    }
    printf("%-22s %-9s %7lld %9s %9s %9s %9s %8s %6s %8.2f %10s %9.1f  %s\n", r->config,
           r->figure, (long long)r->reps, fmt_time(b1, sizeof b1, r->median),
           fmt_time(b2, sizeof b2, r->min), fmt_time(b3, sizeof b3, r->p10),
           fmt_time(b4, sizeof b4, r->max), gf, pf, r->tg_allocs, mb,
           (double)r->rss_kb / 1024.0, note);
    fflush(stdout);
}

void bench_emit(const bench_opts *o, const bench_result *r) {
    if (!o->json) {
        if (n_results == 0) print_header();
        print_row(r, bench_peak_gflops(o));
    }
    if (n_results < MAX_RESULTS) results[n_results++] = *r;
}

void bench_json_str(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static void json_env(const char *name, bool last) {
    const char *v = getenv(name);
    printf("    \"%s\": ", name);
    if (v) bench_json_str(v);
    else printf("null");
    printf("%s\n", last ? "" : ",");
}

static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(buf, n, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    }
    fclose(f);
}

static void json_num(const char *key, double v, bool comma) {
    if (isfinite(v)) printf("\"%s\": %.9g%s", key, v, comma ? ", " : "");
    else printf("\"%s\": null%s", key, comma ? ", " : "");
}

void bench_finish(const bench_opts *o, int n_failed, const char *const *failed) {
    if (!o->json) {
        printf("peak RSS %.1f MiB; backend %s, %s, %d thread%s%s\n",
               (double)bench_peak_rss_kb() / 1024.0, o->backend_name, tg_dtype_name(o->dtype),
               o->threads, o->threads == 1 ? "" : "s",
               o->quick ? " (quick: a smoke run, not a measurement)" : "");
        printf("clock: %s, one read costs %.0f ns (inside every sample)\n",
               o->cpu_clock ? "process CPU time" : "wall", 1e9 * bench_clock_read_cost());
        return;
    }
    char model[256], date[64];
    cpu_model(model, sizeof model);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    printf("{\n  \"tool\": \"tg-bench\", \"tapegrad_version\": \"%s\", \"date\": \"%s\",\n",
           tg_version(), date);
    printf("  \"cpu\": ");
    bench_json_str(model);
    printf(", \"backend\": \"%s\", \"dtype\": \"%s\", \"threads\": %d,\n", o->backend_name,
           tg_dtype_name(o->dtype), o->threads);
    printf("  \"min_time\": %g, \"quick\": %s, \"malloc_probe\": %s, \"clock\": \"%s\",\n",
           o->min_time, o->quick ? "true" : "false",
           bench_malloc_read().available ? "true" : "false", o->cpu_clock ? "cpu" : "wall");
    printf("  \"clock_read_s\": %.3g,\n", bench_clock_read_cost());
    printf("  \"env\": {\n");
    json_env("BLIS_NUM_THREADS", false);
    json_env("OMP_NUM_THREADS", false);
    json_env("MKL_NUM_THREADS", false);
    json_env("TG_BACKEND", true);
    printf("  },\n");
    bench_machine_json();
    printf("  \"peak_rss_kb\": %ld,\n  \"failed\": [", bench_peak_rss_kb());
    for (int i = 0; i < n_failed; i++) {
        if (i) printf(", ");
        bench_json_str(failed[i]);
    }
    printf("],\n  \"results\": [\n");
    for (int i = 0; i < n_results; i++) {
        const bench_result *r = &results[i];
        printf("    {\"config\": ");
        bench_json_str(r->config);
        printf(", \"figure\": ");
        bench_json_str(r->figure);
        printf(", \"reps\": %lld, ", (long long)r->reps);
        json_num("median_s", r->median, true);
        json_num("min_s", r->min, true);
        json_num("p10_s", r->p10, true);
        json_num("max_s", r->max, true);
        json_num("mean_s", r->mean, true);
        json_num("flops", r->flops, true);
        json_num("gflops_median", r->flops > 0 ? r->flops / r->median * 1e-9 : NAN, true);
        json_num("gflops_min", r->flops > 0 ? r->flops / r->min * 1e-9 : NAN, true);
        json_num("peak_fraction", peak_fraction(r, bench_peak_gflops(o)), true);
        json_num("per_op", r->per_op > 0 ? r->per_op : NAN, true);
        json_num("tg_allocs_per_rep", r->tg_allocs, true);
        json_num("malloc_calls_per_rep", r->malloc_calls >= 0 ? r->malloc_calls : NAN, true);
        json_num("malloc_bytes_per_rep", r->malloc_bytes >= 0 ? r->malloc_bytes : NAN, true);
        printf("\"nodes\": %lld, \"peak_rss_kb\": %ld, \"note\": ", (long long)r->nodes, r->rss_kb);
        bench_json_str(r->note);
        printf("}%s\n", i + 1 < n_results ? "," : "");
    }
    printf("  ]\n}\n");
}

// ---- synthetic data ----

tg_tensor *bench_randn(const bench_opts *o, tg_rng *rng, int ndim, const int64_t *shape,
                       double std, bool param) {
    tg_tensor *t = tg_tensor_new(o->be, o->dtype, ndim, shape);
    if (t && tg_normal_(t, rng, 0.0, std)) t = (tg_free(t), NULL);
    if (t && param && tg_set_requires_grad(t, true)) t = (tg_free(t), NULL);
    return t;
}

tg_tensor *bench_labels(const bench_opts *o, tg_rng *rng, int64_t n, int64_t classes) {
    size_t es = tg_dtype_size(o->dtype);
    void *host = malloc((size_t)n * es);
    if (!host) return NULL;
    for (int64_t i = 0; i < n; i++) {
        double v = floor(tg_rng_uniform(rng) * (double)classes);
        if (o->dtype == TG_F64) ((double *)host)[i] = v;
        else ((float *)host)[i] = (float)v;
    }
    tg_tensor *t = tg_tensor_from(o->be, o->dtype, 1, &n, host);
    free(host);
    return t;
}

int bench_figure(const bench_opts *o, const char *config, const char *figure, bench_fn fn,
                 void *ctx, double flops, const int64_t *nodes, double per_op) {
    if (o->figures) {   // whole-word match in the comma list
        size_t n = strlen(figure);
        const char *p = o->figures;
        while ((p = strstr(p, figure)) && !((p == o->figures || p[-1] == ',') &&
                                            (p[n] == ',' || p[n] == 0)))
            p += n;
        if (!p) return 0;
    }
    bench_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.config, sizeof r.config, "%s", config);
    snprintf(r.figure, sizeof r.figure, "%s", figure);
    r.flops = flops;
    r.per_op = per_op;
    if (bench_measure(o, fn, ctx, &r)) return -1;
    r.nodes = nodes ? *nodes : 0;
    bench_emit(o, &r);
    return 0;
}

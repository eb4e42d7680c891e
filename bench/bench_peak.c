// The machine's FMA peak (issue 16): independent chains of fused multiply-adds in f32 and f64
// with the widest vector ISA the CPU runs (AVX-512F, else AVX2+FMA, else scalar), on 1 thread
// and on N concurrent threads. It is the yardstick for "fraction of peak" on every figure with
// a GFLOP/s number; about 0.2 s (a quarter of that with --quick).
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "bench.h"

// Independent accumulators per kernel: FMA latency (4 cycles) x 2 FMA pipes needs 8; 16 zmm
// (12 ymm: AVX2 has 16 registers, two hold the constants) leave room for slower or wider cores.
enum { CHAINS_512 = 16, CHAINS_256 = 12, CHAINS_SCALAR = 8, CHUNK_ITERS = 16384 };

typedef enum { ISA_SCALAR, ISA_AVX2, ISA_AVX512 } peak_isa;
static const char *const isa_names[] = {"scalar", "avx2+fma", "avx512f"};

static struct {
    bool measured;
    peak_isa isa;
    int threads;            // N of the N-thread figures
    double gflops[2][2];    // [0 f32, 1 f64][0: 1 thread, 1: N threads]
} peak;

// ---- kernels: iters x chains FMAs acc = acc*m + a (m < 1: the chains converge, no overflow) ----

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) static double fma_f32_avx512(long iters) {
    __m512 acc[CHAINS_512], m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(1e-3f);
    for (int j = 0; j < CHAINS_512; j++) acc[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS_512; j++) acc[j] = _mm512_fmadd_ps(acc[j], m, a);
    __m512 s = acc[0];
    for (int j = 1; j < CHAINS_512; j++) s = _mm512_add_ps(s, acc[j]);
    return (double)_mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f"))) static double fma_f64_avx512(long iters) {
    __m512d acc[CHAINS_512], m = _mm512_set1_pd(0.999), a = _mm512_set1_pd(1e-3);
    for (int j = 0; j < CHAINS_512; j++) acc[j] = _mm512_set1_pd((double)j);
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS_512; j++) acc[j] = _mm512_fmadd_pd(acc[j], m, a);
    __m512d s = acc[0];
    for (int j = 1; j < CHAINS_512; j++) s = _mm512_add_pd(s, acc[j]);
    return _mm512_reduce_add_pd(s);
}

__attribute__((target("avx2,fma"))) static double fma_f32_avx2(long iters) {
    __m256 acc[CHAINS_256], m = _mm256_set1_ps(0.999f), a = _mm256_set1_ps(1e-3f);
    for (int j = 0; j < CHAINS_256; j++) acc[j] = _mm256_set1_ps((float)j);
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS_256; j++) acc[j] = _mm256_fmadd_ps(acc[j], m, a);
    float lanes[8];
    __m256 s = acc[0];
    for (int j = 1; j < CHAINS_256; j++) s = _mm256_add_ps(s, acc[j]);
    _mm256_storeu_ps(lanes, s);
    return (double)lanes[0] + lanes[7];
}

__attribute__((target("avx2,fma"))) static double fma_f64_avx2(long iters) {
    __m256d acc[CHAINS_256], m = _mm256_set1_pd(0.999), a = _mm256_set1_pd(1e-3);
    for (int j = 0; j < CHAINS_256; j++) acc[j] = _mm256_set1_pd((double)j);
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS_256; j++) acc[j] = _mm256_fmadd_pd(acc[j], m, a);
    double lanes[4];
    __m256d s = acc[0];
    for (int j = 1; j < CHAINS_256; j++) s = _mm256_add_pd(s, acc[j]);
    _mm256_storeu_pd(lanes, s);
    return lanes[0] + lanes[3];
}
#endif

// Scalar fallback: a multiply and an add per step (2 flops), which the compiler may fuse.
static double fma_f32_scalar(long iters) {
    float acc[CHAINS_SCALAR];
    for (int j = 0; j < CHAINS_SCALAR; j++) acc[j] = (float)j;
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS_SCALAR; j++) acc[j] = acc[j] * 0.999f + 1e-3f;
    return (double)acc[0] + acc[CHAINS_SCALAR - 1];
}

static double fma_f64_scalar(long iters) {
    double acc[CHAINS_SCALAR];
    for (int j = 0; j < CHAINS_SCALAR; j++) acc[j] = (double)j;
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < CHAINS_SCALAR; j++) acc[j] = acc[j] * 0.999 + 1e-3;
    return acc[0] + acc[CHAINS_SCALAR - 1];
}

static peak_isa pick_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
    return ISA_SCALAR;
}

// Runs one chunk of `iters` steps; returns its flops. The accumulators' sum goes to *sink (one
// per thread), so that the chains cannot be optimised away.
static double run_chunk(peak_isa isa, int f64, long iters, volatile double *sink) {
    double lanes, chains;
    switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case ISA_AVX512:
        *sink = f64 ? fma_f64_avx512(iters) : fma_f32_avx512(iters);
        lanes = f64 ? 8 : 16;
        chains = CHAINS_512;
        break;
    case ISA_AVX2:
        *sink = f64 ? fma_f64_avx2(iters) : fma_f32_avx2(iters);
        lanes = f64 ? 4 : 8;
        chains = CHAINS_256;
        break;
#endif
    default:
        *sink = f64 ? fma_f64_scalar(iters) : fma_f32_scalar(iters);
        lanes = 1;
        chains = CHAINS_SCALAR;
        break;
    }
    return 2.0 * lanes * chains * (double)iters;
}

// Wall-clock seconds, whatever clock the figures use: the peak is a rate of the hardware.
static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- 1 thread: the best chunk rate (a busy machine's preemptions fall between chunks) ----

static double probe_one(peak_isa isa, int f64, double seconds) {
    volatile double sink;
    double best = 0, end = wall_now() + seconds;
    do {
        double t0 = wall_now(), flops = run_chunk(isa, f64, CHUNK_ITERS, &sink);
        double rate = flops / (wall_now() - t0);
        best = rate > best ? rate : best;
    } while (wall_now() < end);
    return best * 1e-9;
}

// ---- N threads: all start together and run chunks until a shared deadline; each thread's
// rate is its flops over its own CPU time (time spent waiting for a CPU on a busy machine is
// left out, cores shared by SMT siblings running at once are not). The sum is scaled by
// online/N when N exceeds the online CPUs: more threads than CPUs add no FMA units. ----

typedef struct probe_thread {
    peak_isa isa;
    int f64;
    double start, deadline;   // wall clock
    double rate;              // out: flops per CPU second
    volatile double sink;     // the chains' sum
} probe_thread;

static double thread_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *probe_thread_main(void *arg) {
    probe_thread *p = arg;
    while (wall_now() < p->start) {}
    double flops = 0, cpu0 = thread_cpu_now();
    do {
        flops += run_chunk(p->isa, p->f64, CHUNK_ITERS, &p->sink);
    } while (wall_now() < p->deadline);
    p->rate = flops / (thread_cpu_now() - cpu0);
    return NULL;
}

static double probe_many(peak_isa isa, int f64, int n, int online, double seconds) {
    enum { MAX_PROBE_THREADS = 256 };
    pthread_t tid[MAX_PROBE_THREADS];
    probe_thread p[MAX_PROBE_THREADS];
    if (n > MAX_PROBE_THREADS) n = MAX_PROBE_THREADS;
    double start = wall_now() + 0.002;   // every thread created before the start
    int started = 0;
    for (int i = 0; i < n; i++) {
        p[i] = (probe_thread){.isa = isa, .f64 = f64, .start = start,
                              .deadline = start + seconds};
        if (pthread_create(&tid[started], NULL, probe_thread_main, &p[i]) != 0) break;
        started++;
    }
    double sum = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        sum += p[i].rate;
    }
    double scale = online > 0 && n > online ? (double)online / n : 1.0;
    return started == n ? sum * scale * 1e-9 : NAN;
}

// ---- public ----

void bench_peak_init(const bench_opts *o) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);   // -1 if unknown
    peak.threads = o->threads > 1 ? o->threads : online > 1 ? (int)online : 1;
    peak.isa = pick_isa();
    if (o->no_peak) return;
    double each = o->quick ? 0.01 : 0.04;   // per dtype and thread count
    probe_one(peak.isa, 0, each / 4);       // warm-up: clocks up, pages in
    for (int f64 = 0; f64 < 2; f64++) {
        peak.gflops[f64][0] = probe_one(peak.isa, f64, each);
        peak.gflops[f64][1] = peak.threads == 1 ? peak.gflops[f64][0]
                              : probe_many(peak.isa, f64, peak.threads, (int)online, each);
    }
    peak.measured = true;
    if (o->json) return;
    printf("fma peak (%s; N = %d threads): f32 %.1f GFLOP/s on 1 thread, %.1f on %d; "
           "f64 %.1f on 1, %.1f on %d\n", isa_names[peak.isa], peak.threads,
           peak.gflops[0][0], peak.gflops[0][1], peak.threads, peak.gflops[1][0],
           peak.gflops[1][1], peak.threads);
}

double bench_peak_gflops(const bench_opts *o) {
    if (!peak.measured || (o->threads > 1 && o->threads != peak.threads)) return 0;
    double g = peak.gflops[o->dtype == TG_F64][o->threads > 1];
    return isfinite(g) && g > 0 ? g : 0;
}

void bench_peak_json(void) {
    printf(", \"fma_peak_gflops\": ");
    if (!peak.measured) {
        printf("null");
        return;
    }
    printf("{\"isa\": \"%s\", \"threads\": %d", isa_names[peak.isa], peak.threads);
    for (int f64 = 0; f64 < 2; f64++) {
        printf(", \"%s\": {\"1\": %.6g", f64 ? "f64" : "f32", peak.gflops[f64][0]);
        if (peak.threads > 1) {
            if (isfinite(peak.gflops[f64][1]))
                printf(", \"%d\": %.6g", peak.threads, peak.gflops[f64][1]);
            else
                printf(", \"%d\": null", peak.threads);
        }
        printf("}");
    }
    printf("}");
}

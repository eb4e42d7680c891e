// The machine a run measured: the CPU and the kernels tapegrad chose for it (tg_cpu_describe,
// issue 16), printed above the table and recorded under "machine" in the JSON. The gemm
// figure's own BLIS (libblis.so, not tapegrad's private copy) is pointed at the same kernel
// set through BLIS_ARCH_TYPE, so that step/gemm compares like with like.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>

#include "bench.h"

static char desc[4096];
static char proc_model[256] = "unknown";
static char gemm_blis[32] = "unknown";

// The value of "key: value" in the description into out ("" when absent).
static void value_of(const char *key, char *out, size_t size) {
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s: ", key);
    const char *p = strncmp(desc, pat + 1, strlen(pat + 1)) == 0 ? desc - 1 : strstr(desc, pat);
    out[0] = 0;
    if (!p) return;
    p += strlen(pat);
    snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
}

// lscpu's "Model name" (/proc/cpuinfo); a hypervisor may show cpuid another brand string.
static void read_proc_model(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(proc_model, sizeof proc_model, "%s", colon + 2);
            proc_model[strcspn(proc_model, "\n")] = 0;
            break;
        }
    }
    fclose(f);
}

void bench_machine_init(const bench_opts *o) {
    tg_cpu_describe(desc, sizeof desc);
    read_proc_model();
    char id[16], set[32];
    value_of("blis_arch_id", id, sizeof id);
    value_of("blis_kernels", set, sizeof set);
    if (!getenv("BLIS_ARCH_TYPE") && *id) setenv("BLIS_ARCH_TYPE", id, 1);
    bli_init();
    snprintf(gemm_blis, sizeof gemm_blis, "%s", bli_arch_string(bli_arch_query_id()));
    if (o->json) return;
    char v[256], fam[16], model[16], name[128], flags[256], k[16], kr[128], br[192], mech[96];
    value_of("cpu_vendor", v, sizeof v);
    value_of("cpu_family", fam, sizeof fam);
    value_of("cpu_model", model, sizeof model);
    value_of("cpu_model_name", name, sizeof name);
    value_of("cpu_flags", flags, sizeof flags);
    value_of("kernels", k, sizeof k);
    value_of("kernels_reason", kr, sizeof kr);
    value_of("blis_reason", br, sizeof br);
    value_of("blis_mechanism", mech, sizeof mech);
    printf("cpu: %s family %s model %s, \"%s\" (lscpu: \"%s\")\ncpu flags: %s\n", v, fam, model,
           name, proc_model, flags);
    printf("kernels: tapegrad %s (%s); BLIS %s (%s; %s); gemm figure's BLIS: %s%s\n", k, kr, set,
           br, mech, gemm_blis, strcmp(gemm_blis, set) ? " (differs!)" : "");
}

void bench_machine_json(void) {
    printf("  \"machine\": {\"lscpu_model_name\": ");
    bench_json_str(proc_model);
    printf(", \"gemm_figure_blis\": ");
    bench_json_str(gemm_blis);
    for (const char *p = desc; *p;) {
        size_t n = strcspn(p, "\n");
        const char *colon = memchr(p, ':', n);
        if (colon && colon + 1 < p + n) {
            char key[64], val[256];
            snprintf(key, sizeof key, "%.*s", (int)(colon - p), p);
            snprintf(val, sizeof val, "%.*s", (int)(p + n - colon - 2), colon + 2);
            printf(", ");
            bench_json_str(key);
            printf(": ");
            bench_json_str(val);
        }
        p += n + (p[n] == '\n');
    }
    bench_peak_json();
    printf("},\n");
}

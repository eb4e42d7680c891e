// One command-line convention for every example (header-only; public API and libc only):
// getopt_long, usage on -h/--help (exit 0), a bad option named by getopt with the usage on
// stderr (exit 2), and the common flags, each example taking those that make sense for it:
//   --quick  --backend NAME  --threads N  --epochs N  --seed N  --data DIR  --quiet
// An example declares what it takes in an ex_spec (its own options too) and calls:
//     ex_args a;
//     int rc = ex_parse(&spec, argc, argv, &a);
//     if (rc >= 0) return rc;              // --help, or bad usage
//     tg_backend *be = ex_backend(&spec, &a);
//     tg_progress *bar = ex_progress(&a, "train", epochs, "epochs");
// Data files: ex_find_data; a missing file prints why and the example exits EX_EXIT_SKIP.
#pragma once

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tapegrad/tapegrad.h>

#ifndef TG_SOURCE_DIR
#define TG_SOURCE_DIR "."
#endif

// Exit status for "data not available": meson counts it as a skipped test.
#define EX_EXIT_SKIP 77

// The common flags an example takes (ex_spec.flags).
enum ex_flag {
    EX_QUICK = 1 << 0,    // --quick: the CI run (fewer epochs or a subset, no progress)
    EX_BACKEND = 1 << 1,  // --backend NAME
    EX_THREADS = 1 << 2,  // --threads N (tg_backend_set_threads)
    EX_EPOCHS = 1 << 3,   // --epochs N
    EX_SEED = 1 << 4,     // --seed N
    EX_DATA = 1 << 5,     // --data DIR
    EX_QUIET = 1 << 6,    // --quiet: no progress output
    EX_TRAINING = EX_QUICK | EX_BACKEND | EX_THREADS | EX_EPOCHS | EX_SEED | EX_QUIET,
};

// Long-option values of the common flags; an example's own options use values from
// EX_OPT_USER up (and never 'h').
enum { EX_OPT_QUICK = 256, EX_OPT_BACKEND, EX_OPT_THREADS, EX_OPT_EPOCHS, EX_OPT_SEED,
       EX_OPT_DATA, EX_OPT_QUIET, EX_OPT_USER = 512 };

typedef struct ex_args ex_args;

typedef struct ex_spec {
    const char *name;          // program name, in messages and in the usage line
    const char *about;         // what it does: lines ending in '\n', printed under usage
    unsigned flags;            // EX_* it accepts
    int epochs;                // default of --epochs (0: the example's choice, a->epochs 0)
    int quick_epochs;          // epochs with --quick (0: same as epochs)
    const char *epochs_what;   // what --epochs counts (NULL: "training epochs")
    uint64_t seed;             // default of --seed
    const char *seed_what;     // what --seed seeds (NULL: "the initial weights")
    const char *quick_what;    // what --quick does (NULL: quick_epochs, no progress output)
    const char *operands;      // positional operands in the usage line ("[CURVE_CSV]")
    int max_operands;          // how many are accepted (0: none)
    // The example's own options (NULL-terminated, values >= EX_OPT_USER), their usage lines,
    // and the handler: 0, or -1 after printing why the value is bad (exit 2).
    const struct option *extra;
    const char *extra_usage;
    int (*on_extra)(int val, const char *arg, ex_args *a);
    void *user;                // for on_extra (a->user)
} ex_spec;

struct ex_args {
    bool quick, quiet;
    const char *backend;       // NULL: $TG_BACKEND, else cpu
    int threads;               // 0: the backend's default (cpu: 1)
    int epochs;                // --epochs, else quick_epochs with --quick, else epochs
    uint64_t seed;
    const char *data_dir;      // NULL: the search list of ex_find_data
    int n_operands;
    char **operands;           // into argv
    void *user;                // spec->user
};

static inline void ex_usage(const ex_spec *s, FILE *f) {
    unsigned fl = s->flags;
    fprintf(f, "usage: %s [options]%s%s\n%s", s->name, s->operands ? " " : "",
            s->operands ? s->operands : "", s->about ? s->about : "");
    fprintf(f, "options:\n");
    if ((fl & EX_QUICK) && s->quick_what)
        fprintf(f, "  --quick          %s\n", s->quick_what);
    else if ((fl & EX_QUICK) && s->quick_epochs)
        fprintf(f, "  --quick          %d epochs, no progress output (the CI run)\n",
                s->quick_epochs);
    else if (fl & EX_QUICK)
        fprintf(f, "  --quick          no progress output (the CI run)\n");
    if (fl & EX_BACKEND)
        fprintf(f, "  --backend NAME   cpu or cuda (default: $TG_BACKEND, else cpu)\n");
    if (fl & EX_THREADS) fprintf(f, "  --threads N      threads per kernel (default 1)\n");
    if (fl & EX_EPOCHS) {
        fprintf(f, "  --epochs N       %s", s->epochs_what ? s->epochs_what : "training epochs");
        if (s->epochs) fprintf(f, " (default %d)", s->epochs);
        fprintf(f, "\n");
    }
    if (fl & EX_SEED)
        fprintf(f, "  --seed N         seed of %s (default %llu)\n",
                s->seed_what ? s->seed_what : "the initial weights", (unsigned long long)s->seed);
    if (fl & EX_DATA)
        fprintf(f, "  --data DIR       the data directory (default: $TG_DATA_DIR, ./data,\n"
                   "                   then data/ and ../shared/data/ in the source tree;\n"
                   "                   scripts/fetch_data.sh fills data/)\n");
    if (fl & EX_QUIET) fprintf(f, "  --quiet          no progress output (results only)\n");
    if (s->extra_usage) fputs(s->extra_usage, f);
    fprintf(f, "  -h, --help       this text\n");
}

// Parses N in [lo, hi] into *out; prints why not (returns -1).
static inline int ex_number(const ex_spec *s, const char *opt, const char *arg,
                            unsigned long long lo, unsigned long long hi,
                            unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!*arg || *end || arg[0] == '-' || errno || v < lo || v > hi) {
        fprintf(stderr, "%s: bad value for --%s: '%s' (%llu..%llu)\n", s->name, opt, arg, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

// One common option; -1 after printing why its value is bad.
static inline int ex_common(const ex_spec *s, int c, const char *arg, ex_args *a) {
    unsigned long long v = 0;
    switch (c) {
    case EX_OPT_QUICK: a->quick = true; return 0;
    case EX_OPT_QUIET: a->quiet = true; return 0;
    case EX_OPT_BACKEND: a->backend = arg; return 0;
    case EX_OPT_DATA: a->data_dir = arg; return 0;
    case EX_OPT_THREADS:
        if (ex_number(s, "threads", arg, 1, TG_MAX_THREADS, &v)) return -1;
        a->threads = (int)v;
        return 0;
    case EX_OPT_EPOCHS:
        if (ex_number(s, "epochs", arg, 1, 10000000, &v)) return -1;
        a->epochs = (int)v;
        return 0;
    case EX_OPT_SEED:
        if (ex_number(s, "seed", arg, 0, UINT64_MAX, &v)) return -1;
        a->seed = v;
        return 0;
    default: return s->on_extra && c >= EX_OPT_USER ? s->on_extra(c, arg, a) : -1;
    }
}

// Parses argv by the spec into *a. Returns -1 to go on, 0 after printing the usage for
// --help, 2 on bad usage (getopt or ex_common said why; the usage follows on stderr).
// Also makes stdout line-buffered, so that piped output arrives line by line.
static inline int ex_parse(const ex_spec *s, int argc, char **argv, ex_args *a) {
    // in the order of the EX_* bits: common[i] is offered when flags has bit i
    static const struct option common[] = {
        {"quick", no_argument, NULL, EX_OPT_QUICK},
        {"backend", required_argument, NULL, EX_OPT_BACKEND},
        {"threads", required_argument, NULL, EX_OPT_THREADS},
        {"epochs", required_argument, NULL, EX_OPT_EPOCHS},
        {"seed", required_argument, NULL, EX_OPT_SEED},
        {"data", required_argument, NULL, EX_OPT_DATA},
        {"quiet", no_argument, NULL, EX_OPT_QUIET}};
    struct option longs[40];
    int n = 0;
    for (int i = 0; i < (int)(sizeof common / sizeof common[0]); i++)
        if (s->flags & (1u << i)) longs[n++] = common[i];
    for (int i = 0; s->extra && s->extra[i].name && n < 38; i++) longs[n++] = s->extra[i];
    longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
    longs[n] = (struct option){NULL, 0, NULL, 0};
    *a = (ex_args){.epochs = -1, .seed = s->seed, .user = s->user};
    setvbuf(stdout, NULL, _IOLBF, 0);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == 'h') {
            ex_usage(s, stdout);
            return 0;
        }
        if (c == '?' || ex_common(s, c, optarg, a)) {
            ex_usage(s, stderr);
            return 2;
        }
    }
    a->n_operands = argc - optind;
    a->operands = argv + optind;
    if (a->n_operands > s->max_operands) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", s->name, argv[optind + s->max_operands]);
        ex_usage(s, stderr);
        return 2;
    }
    if (a->epochs < 0) a->epochs = a->quick && s->quick_epochs ? s->quick_epochs : s->epochs;
    return -1;
}

// The backend of --backend (else $TG_BACKEND, else cpu) with --threads applied; NULL after
// printing why.
static inline tg_backend *ex_backend(const ex_spec *s, const ex_args *a) {
    tg_backend *be = tg_backend_get(a->backend);
    if (be && a->threads && tg_backend_set_threads(be, a->threads)) be = NULL;
    if (!be) fprintf(stderr, "%s: %s\n", s->name, tg_last_error());
    return be;
}

// Progress of a training loop on stdout (a live line on a terminal, a line every 10 % when
// piped), silent with --quiet or --quick. NULL after printing why (out of memory).
static inline tg_progress *ex_progress(const ex_args *a, const char *label, int64_t total,
                                       const char *unit) {
    tg_progress_opts o = tg_progress_opts_default();
    o.mode = a->quiet || a->quick ? TG_PROGRESS_SILENT : TG_PROGRESS_AUTO;
    o.unit = unit;
    tg_progress *p = tg_progress_new(stdout, label, total, &o);
    if (!p) fprintf(stderr, "%s\n", tg_last_error());
    return p;
}

// Finds a data file: in --data DIR only when given, else $TG_DATA_DIR, ./data,
// <source>/data, <source>/../shared/data. Returns a static buffer, or NULL after printing
// "NAME: skipped: ..." (the example then exits EX_EXIT_SKIP; meson shows the line).
static inline const char *ex_find_data(const ex_spec *s, const ex_args *a, const char *file) {
    static char path[4096];
    const char *dirs[] = {getenv("TG_DATA_DIR"), "data", TG_SOURCE_DIR "/data",
                          TG_SOURCE_DIR "/../shared/data"};
    int n_dirs = 4;
    if (a->data_dir) dirs[0] = a->data_dir, n_dirs = 1;
    for (int i = 0; i < n_dirs; i++) {
        if (!dirs[i]) continue;
        snprintf(path, sizeof path, "%s/%s", dirs[i], file);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return path;
        }
    }
    if (a->data_dir)
        fprintf(stderr, "%s: skipped: %s not found in %s\n", s->name, file, a->data_dir);
    else
        fprintf(stderr, "%s: skipped: %s not found in $TG_DATA_DIR, ./data, %s/data or "
                        "%s/../shared/data (run scripts/fetch_data.sh, or pass --data DIR)\n",
                s->name, file, TG_SOURCE_DIR, TG_SOURCE_DIR);
    return NULL;
}

// Progress reporting (tapegrad/progress.h). Every line is formatted into the object's own
// buffer, so updates allocate nothing; the only output is to the caller's stream.
// Line: "label done/total pct% | rate unit/s | ETA t | metric v" (LINES mode: the same text
// with a newline, flushed; LIVE: '\r', the text, spaces over the rest of the last one).
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tapegrad/error.h"
#include "tapegrad/progress.h"

#define LINE_CAP 512

struct tg_progress {
    FILE *out;
    tg_progress_mode mode;     // resolved: LIVE, LINES or SILENT
    char label[64];
    char unit[24];
    char metric_name[24];      // "" when no metric is shown
    int64_t total;             // 0: unknown
    int64_t done;
    double metric;
    bool updated;              // an update came since the start
    bool finished;
    double percent, interval_s, refresh_s;
    int width;                 // LIVE: longest line
    double start, last_out;    // clock at the start and at the last line or redraw
    int64_t last_bucket;       // LINES: index of the last `percent` step written
    int live_len;              // LIVE: length of the line on screen, 0 if none
    tg_clock_fn clock;
    void *clock_user;
    char line[LINE_CAP];
};

static double monotonic_now(void *user) {
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

tg_progress_opts tg_progress_opts_default(void) {
    return (tg_progress_opts){.mode = TG_PROGRESS_AUTO, .unit = "it", .metric = "loss",
                              .percent = 10, .interval_s = 10, .refresh_s = 0.1};
}

static void copy_name(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src ? src : "");
}

static int terminal_width(FILE *f) {
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) return ws.ws_col - 1;
    return 79;
}

static int check_opts(const tg_progress_opts *o) {
    const char *FN = "tg_progress_new";
    if ((int)o->mode < 0 || o->mode >= TG_PROGRESS_MODE_COUNT)
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "unknown mode %d", (int)o->mode);
    if (!(o->percent >= 0 && o->percent <= 100))
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "percent %g outside [0, 100]", o->percent);
    if (!(o->interval_s >= 0) || !(o->refresh_s >= 0))
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "interval_s %g or refresh_s %g negative",
                            o->interval_s, o->refresh_s);
    if (o->width < 0 || o->width > LINE_CAP - 1)
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "width %d outside [0, %d]", o->width,
                            LINE_CAP - 1);
    return TG_OK;
}

tg_progress *tg_progress_new(FILE *out, const char *label, int64_t total,
                             const tg_progress_opts *opts) {
    tg_progress_opts o = opts ? *opts : tg_progress_opts_default();
    if (total < 0) {
        tg_set_error(TG_ERR_INVALID_ARG, "tg_progress_new", "total %lld < 0", (long long)total);
        return NULL;
    }
    if (check_opts(&o)) return NULL;
    tg_progress *p = calloc(1, sizeof *p);
    if (!p) {
        tg_set_error(TG_ERR_OOM, "tg_progress_new", "out of memory");
        return NULL;
    }
    p->out = out ? out : stdout;
    p->mode = o.mode;
    if (p->mode == TG_PROGRESS_AUTO)
        p->mode = isatty(fileno(p->out)) ? TG_PROGRESS_LIVE : TG_PROGRESS_LINES;
    copy_name(p->label, sizeof p->label, label);
    copy_name(p->unit, sizeof p->unit, o.unit ? o.unit : "it");
    copy_name(p->metric_name, sizeof p->metric_name, o.metric);
    p->total = total;
    p->metric = NAN;
    p->percent = o.percent;
    p->interval_s = o.interval_s;
    p->refresh_s = o.refresh_s;
    p->width = o.width ? o.width : p->mode == TG_PROGRESS_LIVE ? terminal_width(p->out) : 79;
    p->clock = o.clock ? o.clock : monotonic_now;
    p->clock_user = o.clock_user;
    p->start = p->last_out = p->clock(p->clock_user);
    return p;
}

// ---- formatting ----

// "12.3s" under a minute, "M:SS" under an hour, else "H:MM:SS".
static int fmt_duration(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 1e9) return snprintf(buf, cap, "?");
    if (s < 60) return snprintf(buf, cap, "%.1fs", s);
    long t = (long)s;
    if (t < 3600) return snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
    return snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static int fmt_rate(char *buf, size_t cap, double r) {
    if (!(r > 0) || isinf(r)) return snprintf(buf, cap, "?");
    return snprintf(buf, cap, r >= 100 ? "%.0f" : r >= 10 ? "%.1f" : "%.2f", r);
}

// Appends printf output at *n (clamped to the buffer).
static void put(char *buf, int *n, const char *fmt, ...) {
    if (*n >= LINE_CAP - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, (size_t)(LINE_CAP - *n), fmt, ap);
    va_end(ap);
    if (k > 0) *n = *n + k < LINE_CAP - 1 ? *n + k : LINE_CAP - 1;
}

// Formats the progress text into p->line; returns its length.
static int format_line(tg_progress *p, double now, bool final) {
    char *b = p->line, t[32], r[32];
    int n = 0;
    double elapsed = now > p->start ? now - p->start : 0;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    if (p->label[0]) put(b, &n, "%s ", p->label);
    if (p->total > 0) {
        int64_t pct = p->done >= p->total ? 100 : p->done * 100 / p->total;
        put(b, &n, "%lld/%lld %lld%%", (long long)p->done, (long long)p->total, (long long)pct);
    } else {
        put(b, &n, "%lld %s", (long long)p->done, p->unit);
    }
    fmt_rate(r, sizeof r, rate);
    put(b, &n, " | %s %s/s", r, p->unit);
    if (final || p->total <= 0) {
        fmt_duration(t, sizeof t, elapsed);
        put(b, &n, final ? " | done in %s" : " | %s", t);
    } else {
        fmt_duration(t, sizeof t, rate > 0 ? (double)(p->total - p->done) / rate : -1);
        put(b, &n, " | ETA %s", p->done >= p->total ? "0.0s" : t);
    }
    if (p->metric_name[0] && p->updated) put(b, &n, " | %s %.4g", p->metric_name, p->metric);
    return n;
}

// ---- output ----

static int flushed(tg_progress *p, const char *fn) {
    if (fflush(p->out) != 0 || ferror(p->out)) return tg_set_error(TG_ERR_IO, fn, "write error");
    return TG_OK;
}

// LIVE: '\r', the line cut to the width, spaces over what is left of the previous one.
static void draw_live(tg_progress *p, int n) {
    if (n > p->width) n = p->width;
    fputc('\r', p->out);
    fwrite(p->line, 1, (size_t)n, p->out);
    for (int i = n; i < p->live_len; i++) fputc(' ', p->out);
    p->live_len = n;
}

// LIVE: blanks the line and returns the cursor to its start.
static void erase_live(tg_progress *p) {
    if (!p->live_len) return;
    fputc('\r', p->out);
    for (int i = 0; i < p->live_len; i++) fputc(' ', p->out);
    fputc('\r', p->out);
    p->live_len = 0;
}

// LINES: whether another `percent` step was completed or interval_s passed.
static bool line_due(tg_progress *p, double now) {
    if (p->total > 0 && p->done >= p->total) return false;   // the closing line says it
    bool due = p->interval_s > 0 && now - p->last_out >= p->interval_s;
    if (p->total > 0 && p->percent > 0) {
        int64_t bucket = (int64_t)floor((double)p->done * 100.0 / ((double)p->total * p->percent));
        if (bucket > p->last_bucket) {
            p->last_bucket = bucket;
            due = true;
        }
    }
    return due;
}

int tg_progress_update(tg_progress *p, int64_t done, double metric) {
    const char *FN = "tg_progress_update";
    if (!p) return tg_set_error(TG_ERR_INVALID_ARG, FN, "progress is NULL");
    if (done < 0) return tg_set_error(TG_ERR_INVALID_ARG, FN, "done %lld < 0", (long long)done);
    if (p->finished) return tg_set_error(TG_ERR_STATE, FN, "'%s' already finished", p->label);
    p->done = done;
    p->metric = metric;
    p->updated = true;
    if (p->mode == TG_PROGRESS_SILENT) return TG_OK;
    double now = p->clock(p->clock_user);
    if (p->mode == TG_PROGRESS_LIVE) {
        if (p->live_len && now - p->last_out < p->refresh_s) return TG_OK;
        draw_live(p, format_line(p, now, false));
    } else {
        if (!line_due(p, now)) return TG_OK;
        int n = format_line(p, now, false);
        fwrite(p->line, 1, (size_t)n, p->out);
        fputc('\n', p->out);
    }
    p->last_out = now;
    return flushed(p, FN);
}

int tg_progress_log(tg_progress *p, const char *fmt, ...) {
    const char *FN = "tg_progress_log";
    if (!p || !fmt) return tg_set_error(TG_ERR_INVALID_ARG, FN, "progress or fmt is NULL");
    bool redraw = p->mode == TG_PROGRESS_LIVE && p->live_len;
    erase_live(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    if (redraw) draw_live(p, format_line(p, p->last_out, false));
    return flushed(p, FN);
}

int tg_progress_finish(tg_progress *p) {
    if (!p) return tg_set_error(TG_ERR_INVALID_ARG, "tg_progress_finish", "progress is NULL");
    if (p->finished) return TG_OK;
    p->finished = true;
    if (p->mode == TG_PROGRESS_SILENT) return TG_OK;
    int n = format_line(p, p->clock(p->clock_user), true);
    if (p->mode == TG_PROGRESS_LIVE) draw_live(p, n);
    else fwrite(p->line, 1, (size_t)n, p->out);
    fputc('\n', p->out);
    p->live_len = 0;
    return flushed(p, "tg_progress_finish");
}

void tg_progress_free(tg_progress *p) {
    if (!p) return;
    if (p->live_len) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    free(p);
}

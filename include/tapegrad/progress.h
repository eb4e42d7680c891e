// Progress of long loops (epochs, mini-batches, trials): a live line redrawn in place on a
// terminal, plain lines now and then when the output is a pipe or a file (each flushed), or
// nothing. It writes only to the stream it is given, and an update allocates nothing, so
// it can be called every training step. One progress object belongs to one thread.
#pragma once

#include <stdio.h>
#include "tapegrad/defs.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_progress tg_progress;   // opaque

typedef enum tg_progress_mode {
    TG_PROGRESS_AUTO = 0,   // LIVE when the stream is a terminal (isatty), else LINES
    TG_PROGRESS_LIVE,       // one line redrawn with '\r', at most every refresh_s seconds
    TG_PROGRESS_LINES,      // a line every `percent` % of the total or every interval_s s
    TG_PROGRESS_SILENT,     // no progress output (tg_progress_log still writes)
    TG_PROGRESS_MODE_COUNT
} tg_progress_mode;

// A clock in seconds (any origin, never going back). The default is CLOCK_MONOTONIC; tests
// and simulations pass their own.
typedef double (*tg_clock_fn)(void *user);

typedef struct tg_progress_opts {
    tg_progress_mode mode; // default TG_PROGRESS_AUTO
    const char *unit;      // what is counted, shown in the rate ("epochs" -> "epochs/s"); "it"
    const char *metric;    // name of the value passed to updates ("loss"); NULL or "": none
    double percent;        // LINES: a line each time another `percent` % is done (10; 0: off)
    double interval_s;     // LINES: ... or when interval_s s passed since the last (10; 0: off)
    double refresh_s;      // LIVE: redraw at most this often (0.1 s)
    int width;             // LIVE: longest line; 0: the terminal's width less one, else 79
    tg_clock_fn clock;     // NULL: CLOCK_MONOTONIC
    void *clock_user;      // passed to clock
} tg_progress_opts;

// The defaults above.
TG_API tg_progress_opts tg_progress_opts_default(void);

// Starts reporting `total` items (0: unknown total, no percentage or ETA) to `out` (NULL:
// stdout) under `label` ("" or NULL: none). label, unit and metric are copied (up to 63,
// 23 and 23 bytes). Writes nothing yet. Caller frees with tg_progress_free.
// NULL + TG_ERR_INVALID_ARG on a negative total or a bad option; TG_ERR_OOM.
TG_API tg_progress *tg_progress_new(FILE *out, const char *label, int64_t total,
                                    const tg_progress_opts *opts);
// Records that `done` items are finished (a count from the start, not an increment) and
// the latest metric (NaN is shown as nan), and writes when the mode says so. Reaching the
// total writes no LINES line: tg_progress_finish writes the closing one. Allocates nothing.
// TG_ERR_INVALID_ARG (NULL, done < 0), TG_ERR_STATE after finish, TG_ERR_IO on a write
// error (training loops may ignore the status).
TG_API int tg_progress_update(tg_progress *p, int64_t done, double metric);
// Writes one line of text (printf format, the call adds the newline) above the live line,
// which is redrawn below it; in every mode, SILENT included. Errors as tg_progress_update.
TG_API int tg_progress_log(tg_progress *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
// Writes the closing line (count, elapsed time, rate, last metric) and a newline, except
// in SILENT mode. A second call does nothing. TG_ERR_INVALID_ARG (NULL), TG_ERR_IO.
TG_API int tg_progress_finish(tg_progress *p);
// Frees p; ends a live line left unfinished with a newline. NULL is a no-op.
TG_API void tg_progress_free(tg_progress *p);

#ifdef __cplusplus
}
#endif

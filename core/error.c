// The thread-local error state and the log callback. First error wins until cleared.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

static _Thread_local struct {
    int status;
    unsigned seq;  // errors stored on this thread so far (tg_error_mark)
    char msg[512];
} err;

// The documented process-wide log sink (off by default).
static tg_log_fn log_fn;
static void *log_user;

static const char *const status_names[] = {
    [0] = "ok",
    [1] = "invalid argument",
    [2] = "shape mismatch",
    [3] = "dtype mismatch",
    [4] = "backend error",
    [5] = "out of memory",
    [6] = "unsupported",
    [7] = "i/o error",
    [8] = "numeric error",
    [9] = "invalid state",
};

_Static_assert(sizeof status_names / sizeof status_names[0] == 1 - TG_ERR_STATUS_MIN,
               "status_names must cover every tg_status");

const char *tg_status_str(int status) {
    if (status > 0 || status < TG_ERR_STATUS_MIN) return "unknown status";
    return status_names[-status];
}

const char *tg_last_error(void) { return err.status ? err.msg : ""; }
tg_status tg_last_status(void) { return (tg_status)err.status; }
bool tg__has_error(void) { return err.status != 0; }

void tg_clear_error(void) {
    err.status = 0;
    err.msg[0] = '\0';
}

// A status that can be stored as an error: negative codes as given, TG_OK and positive
// codes (not errors) as TG_ERR_INVALID_ARG.
static int error_status(int status) { return status < 0 ? status : TG_ERR_INVALID_ARG; }

void tg__fail(int status, const char *where, const char *fmt, ...) {
    if (err.status != 0) return;
    err.status = error_status(status);
    err.seq++;
    int n = snprintf(err.msg, sizeof err.msg, "%s: ", where);
    if (n < 0 || (size_t)n >= sizeof err.msg) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.msg + n, sizeof err.msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (log_fn) log_fn(err.msg, log_user);
}

unsigned tg_error_mark(void) { return err.seq; }

int tg_error_context(unsigned mark, const char *where) {
    if (!err.status || err.seq == mark || !where) return err.status;
    size_t k = strlen(where);
    if (strncmp(err.msg, where, k) == 0 && err.msg[k] == ':') return err.status;
    // Shift the inner message right by "where: " (truncated at the end if it must be).
    size_t pre = k + 2 < sizeof err.msg ? k + 2 : sizeof err.msg - 1;
    size_t len = strlen(err.msg);
    if (len > sizeof err.msg - 1 - pre) len = sizeof err.msg - 1 - pre;
    memmove(err.msg + pre, err.msg, len);
    err.msg[pre + len] = '\0';
    memcpy(err.msg, where, pre < k ? pre : k);
    if (pre == k + 2) memcpy(err.msg + k, ": ", 2);
    return err.status;
}

void tg_log_set(tg_log_fn fn, void *user_data) {
    log_fn = fn;
    log_user = user_data;
}

const char *tg__shape_str(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t n = 0;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

const char *tg_dtype_name(tg_dtype dtype) {
    switch (dtype) {
    case TG_F32: return "f32";
    case TG_F64: return "f64";
    default: return "?";
    }
}

size_t tg_dtype_size(tg_dtype dtype) {
    switch (dtype) {
    case TG_F32: return 4;
    case TG_F64: return 8;
    default: return 0;
    }
}

const char *tg_version(void) { return "0.1.0"; }

int tg_set_error(int status, const char *where, const char *fmt, ...) {
    status = error_status(status);
    if (err.status != 0) return status;
    char msg[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt ? fmt : "", ap);
    va_end(ap);
    tg__fail(status, where ? where : "tapegrad", "%s", msg);
    return status;
}

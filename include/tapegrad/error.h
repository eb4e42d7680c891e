// Error model: functions returning tensors return NULL and set a thread-local error;
// everything else returns an int status (TG_OK or a negative tg_status). The first error
// wins: later failures do not overwrite it until tg_clear_error(). An op given a NULL input
// fails too; as the first error wins, a NULL made by a failed inner call keeps that call's
// error, so a whole expression is checked once, at the end.
#pragma once

#include "tapegrad/defs.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tg_status {
    TG_OK = 0,
    TG_ERR_INVALID_ARG = -1,  // NULL where a value is needed, bad axis, bad option
    TG_ERR_SHAPE = -2,        // shapes do not broadcast / do not match
    TG_ERR_DTYPE = -3,        // mixed or unsupported dtypes
    TG_ERR_BACKEND = -4,      // mixed backends, backend not available, device error
    TG_ERR_OOM = -5,          // allocation failed
    TG_ERR_UNSUPPORTED = -6,  // op or kernel not available on this backend
    TG_ERR_IO = -7,           // file errors
    TG_ERR_NUMERIC = -8,      // gradcheck mismatch, NaN/Inf in anomaly mode
    TG_ERR_STATE = -9,        // misuse of a tape or tensor lifetime (e.g. backward twice)
    TG_ERR_STATUS_MIN = -9
} tg_status;

// Message of the first error on this thread since the last clear, "" if none.
// Borrowed: valid until tg_clear_error() or the next error on this thread.
TG_API const char *tg_last_error(void);
// Status of that error, TG_OK if none.
TG_API tg_status tg_last_status(void);
// Forget the current error on this thread.
TG_API void tg_clear_error(void);
// Sets the thread-local error (unless one is pending: first error wins) as
// "<where>: <printf-formatted message>", and returns `status`. For custom ops and layers.
// An error is negative: TG_OK or a positive status is stored (and returned) as
// TG_ERR_INVALID_ARG, so a failing call can never report success.
TG_API int tg_set_error(int status, const char *where, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
// Error context for functions built from other calls (the library's composed ops, your own
// layers): take a mark before the work; when the work fails, tg_error_context(mark, "my_fn")
// rewords an error raised since the mark as "my_fn: <inner message>" (unless it already
// starts with "my_fn:"), so the message names the function the user called. An error that
// was pending before the mark is left alone. Returns the pending status (TG_OK if none).
TG_API unsigned tg_error_mark(void);
TG_API int tg_error_context(unsigned mark, const char *where);
// Static description of a status code ("shape mismatch", ...).
TG_API const char *tg_status_str(int status);

// Optional log sink (off by default; the library never prints on its own).
typedef void (*tg_log_fn)(const char *msg, void *user_data);
// Set the process-wide log callback (one of the two documented globals). NULL disables.
TG_API void tg_log_set(tg_log_fn fn, void *user_data);

#ifdef __cplusplus
}
#endif

// File helpers for the data loaders and checkpoints: read a whole file (NUL-terminated),
// write a file atomically (temp file in the same directory + fsync + rename), so a crash or
// a full disk never leaves a half-written checkpoint under the real name.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/data_impl.h"

const char *tg__errno_str(int e, char *buf, size_t size) {
    // XSI strerror_r (we build with _POSIX_C_SOURCE and no _GNU_SOURCE)
    if (strerror_r(e, buf, size) != 0) snprintf(buf, size, "error %d", e);
    return buf;
}

// ---- reading ----

int tg__read_file(const char *path, const char *where, char **buf, size_t *len) {
    char eb[128];
    *buf = NULL;
    *len = 0;
    if (!path) return tg_set_error(TG_ERR_INVALID_ARG, where, "path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return tg_set_error(TG_ERR_IO, where, "cannot open '%s': %s", path,
                            tg__errno_str(errno, eb, sizeof eb));
    size_t cap = 1 << 16, n = 0;
    // size hint for regular files; pipes and the like grow by doubling
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        if (end > 0 && (unsigned long)end < (size_t)-1 / 2) cap = (size_t)end + 1;
        if (fseek(f, 0, SEEK_SET) != 0) cap = 1 << 16;
    }
    char *b = malloc(cap);
    if (!b) {
        fclose(f);
        return tg_set_error(TG_ERR_OOM, where, "out of memory reading '%s'", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = cap < (size_t)-1 / 2 ? realloc(b, cap * 2) : NULL;
            if (!nb) {
                free(b);
                fclose(f);
                return tg_set_error(TG_ERR_OOM, where, "out of memory reading '%s'", path);
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        int e = errno;
        free(b);
        fclose(f);
        return tg_set_error(TG_ERR_IO, where, "cannot read '%s': %s", path,
                            tg__errno_str(e, eb, sizeof eb));
    }
    fclose(f);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return TG_OK;
}

// ---- atomic writing ----

static int write_all(int fd, const unsigned char *p, size_t len) {
    while (len > 0) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        ssize_t w = write(fd, p, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int tg__write_file_atomic(const char *path, const char *where, const void *data, size_t len) {
    char eb[128];
    if (!path) return tg_set_error(TG_ERR_INVALID_ARG, where, "path is NULL");
    if (!data && len) return tg_set_error(TG_ERR_INVALID_ARG, where, "data is NULL");
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) return tg_set_error(TG_ERR_OOM, where, "out of memory writing '%s'", path);
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp-XXXXXX", 12);
    // mkstemp creates the file 0600: give it the old file's mode, or the usual 0644
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return tg_set_error(TG_ERR_IO, where, "cannot create a temporary file next to '%s': %s",
                            path, tg__errno_str(e, eb, sizeof eb));
    }
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 0777) : 0644;
    int e = fchmod(fd, mode) != 0 ? errno : 0;
    if (!e) e = write_all(fd, data, len);
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return tg_set_error(TG_ERR_IO, where, "cannot write '%s': %s", path,
                            tg__errno_str(e, eb, sizeof eb));
    }
    free(tmp);
    return TG_OK;
}

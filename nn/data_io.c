// File helpers for the data loaders and checkpoints: read a whole file (NUL-terminated),
// write a file atomically (temp file in the same directory + fsync + rename), so a crash or
// a full disk never leaves a half-written checkpoint under the real name.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
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

int tg__check_tensor(const tg_tensor *t, const char *where, const char *what) {
    if (!t) return tg_set_error(TG_ERR_INVALID_ARG, where, "%s is NULL", what);
    bool pending = tg_last_status() != TG_OK;
    if (tg_ndim(t) >= 0) return TG_OK;
    int st = (int)tg_last_status();
    if (pending || st == TG_OK) return st ? st : TG_ERR_STATE;
    // tg_ndim named itself: "tg_ndim: <reason>"; keep the reason under our name
    char reason[384];
    const char *msg = tg_last_error(), *colon = strstr(msg, ": ");
    snprintf(reason, sizeof reason, "%s", colon ? colon + 2 : msg);
    tg_clear_error();
    return tg_set_error(st, where, "%s: %s", what, reason);
}

// ---- reading ----

// What a stream that is not a regular file (a pipe, a device) may give: 256 MiB.
#define TG_READ_LIMIT ((size_t)1 << 28)

int tg__read_file(const char *path, const char *where, char **buf, size_t *len) {
    char eb[128];
    *buf = NULL;
    *len = 0;
    if (!path) return tg_set_error(TG_ERR_INVALID_ARG, where, "path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return tg_set_error(TG_ERR_IO, where, "cannot open '%s': %s", path,
                            tg__errno_str(errno, eb, sizeof eb));
    size_t cap = 1 << 16, n = 0, limit = TG_READ_LIMIT;
    // Regular files are read up to their size (plus what they grow by while read, within
    // the limit); pipes and devices (/dev/zero) stop at TG_READ_LIMIT instead of forever.
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        (uint64_t)sb.st_size < (uint64_t)((size_t)-1 / 4)) {
        cap = (size_t)sb.st_size + 1;
        if (limit < cap + (1 << 16)) limit = cap + (1 << 16);
    }
    char *b = tg_mem_alloc(cap);
    if (!b) {
        fclose(f);
        return tg_set_error(TG_ERR_OOM, where, "out of memory reading '%s'", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= limit) {
                tg_mem_free(b);
                fclose(f);
                return tg_set_error(TG_ERR_IO, where,
                                    "'%s' is not a regular file and gives more than %zu MiB: "
                                    "refusing to read on", path, (size_t)TG_READ_LIMIT >> 20);
            }
            char *nb = cap < (size_t)-1 / 2 ? tg_mem_realloc(b, cap * 2) : NULL;
            if (!nb) {
                tg_mem_free(b);
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
        tg_mem_free(b);
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

// A new file next to `path`, created 0666 so the kernel applies the user's umask (mkstemp
// would make it 0600); the name is unique by pid, a counter and O_EXCL retries.
static int create_temp(const char *path, char *tmp, size_t size) {
    static _Atomic unsigned counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned k = counter++;
        snprintf(tmp, size, "%s.tmp-%ld-%u", path, (long)getpid(), k);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

// fsync of the directory holding `path`, so the rename itself survives a power cut. `dir`
// (strlen(path) + 2 bytes or more) is scratch space: nothing is allocated after the rename.
static int sync_dir(const char *path, char *dir) {
    size_t n = strlen(path);
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int e = fsync(fd) != 0 && errno != EINVAL ? errno : 0;   // some filesystems refuse: fine
    close(fd);
    return e;
}

int tg__write_file_atomic(const char *path, const char *where, const void *data, size_t len) {
    char eb[128];
    if (!path) return tg_set_error(TG_ERR_INVALID_ARG, where, "path is NULL");
    if (!data && len) return tg_set_error(TG_ERR_INVALID_ARG, where, "data is NULL");
    size_t tl = strlen(path) + 48;
    char *tmp = tg_mem_alloc(tl);
    if (!tmp) return tg_set_error(TG_ERR_OOM, where, "out of memory writing '%s'", path);
    int fd = create_temp(path, tmp, tl);
    if (fd < 0) {
        int e = errno;
        tg_mem_free(tmp);
        return tg_set_error(TG_ERR_IO, where, "cannot create a temporary file next to '%s': %s",
                            path, tg__errno_str(e, eb, sizeof eb));
    }
    // Replacing a file keeps its mode; a new file has 0666 minus the umask (from open).
    struct stat st;
    int e = stat(path, &st) == 0 && fchmod(fd, st.st_mode & 07777) != 0 ? errno : 0;
    if (!e) e = write_all(fd, data, len);
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) unlink(tmp);
    if (!e) e = sync_dir(path, tmp);
    tg_mem_free(tmp);
    if (e)
        return tg_set_error(e == ENOMEM ? TG_ERR_OOM : TG_ERR_IO, where, "cannot write '%s': %s",
                            path, tg__errno_str(e, eb, sizeof eb));
    return TG_OK;
}

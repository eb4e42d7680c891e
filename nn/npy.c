// NumPy .npy files: tg_load_npy reads format versions 1.0, 2.0 and 3.0 in C order with
// dtypes f4 f8 i1 u1 i2 u2 i4 u4 i8 u8 b1 (either byte order) and converts to f32/f64;
// tg_save_npy writes <f4/<f8, version 1.0 (2.0 when the header needs it), atomically.
// The header dict is parsed strictly: exactly the keys descr, fortran_order and shape.
#include <stdlib.h>
#include <string.h>

#include "nn/data_impl.h"

// The most elements a tensor holds (2^59 - 1, tg_tensor_new's limit).
#define MAX_NUMEL ((INT64_C(1) << 59) - 1)

static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

typedef struct {
    char kind;  // 'f', 'i', 'u', 'b'
    int size;   // bytes per element
    bool big;   // stored big-endian
    bool fortran;
    int ndim;
    int64_t shape[TG_MAX_DIMS];
} npy_info;

static bool host_little(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

// ---- header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } ----

typedef struct {
    const char *s, *end;
    const char *path;
    char err[160];
} lexer;

static void skip_ws(lexer *lx) {
    while (lx->s < lx->end && (*lx->s == ' ' || *lx->s == '\t' || *lx->s == '\n' || *lx->s == '\r'))
        lx->s++;
}

static bool expect(lexer *lx, char c) {
    skip_ws(lx);
    if (lx->s < lx->end && *lx->s == c) {
        lx->s++;
        return true;
    }
    snprintf(lx->err, sizeof lx->err, "expected '%c' in the header", c);
    return false;
}

static bool peek(lexer *lx, char c) {
    skip_ws(lx);
    return lx->s < lx->end && *lx->s == c;
}

// A Python string literal in ' or " quotes without escapes, into out (cap bytes).
static bool read_str(lexer *lx, char *out, size_t cap) {
    skip_ws(lx);
    if (lx->s >= lx->end || (*lx->s != '\'' && *lx->s != '"')) {
        snprintf(lx->err, sizeof lx->err, "expected a quoted string in the header");
        return false;
    }
    char q = *lx->s++;
    size_t n = 0;
    while (lx->s < lx->end && *lx->s != q) {
        if (*lx->s == '\\' || n + 1 >= cap) {
            snprintf(lx->err, sizeof lx->err, "unexpected string in the header");
            return false;
        }
        out[n++] = *lx->s++;
    }
    if (lx->s >= lx->end) {
        snprintf(lx->err, sizeof lx->err, "unterminated string in the header");
        return false;
    }
    lx->s++;
    out[n] = '\0';
    return true;
}

static bool parse_descr(lexer *lx, npy_info *inf) {
    char d[16] = "";
    if (!read_str(lx, d, sizeof d)) return false;
    char order = d[0], kind = d[0] ? d[1] : '\0';
    char *end = d;
    long size = kind ? strtol(d + 2, &end, 10) : 0;
    bool ok =
        (order == '<' || order == '>' || order == '|' || order == '=') && *end == '\0' &&
        d[2] >= '0' && d[2] <= '9' &&
        ((kind == 'f' && (size == 4 || size == 8)) ||
         ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
         (kind == 'b' && size == 1));
    if (!ok) {
        snprintf(lx->err, sizeof lx->err,
                 "unsupported dtype '%s' (supported: f4 f8 i1 u1 i2 u2 i4 u4 i8 u8 b1)", d);
        return false;
    }
    inf->kind = kind;
    inf->size = (int)size;
    inf->big = order == '>' || (order == '=' && !host_little());
    return true;
}

static bool parse_bool(lexer *lx, bool *out) {
    skip_ws(lx);
    size_t left = (size_t)(lx->end - lx->s);
    if (left >= 4 && memcmp(lx->s, "True", 4) == 0) {
        lx->s += 4;
        *out = true;
        return true;
    }
    if (left >= 5 && memcmp(lx->s, "False", 5) == 0) {
        lx->s += 5;
        *out = false;
        return true;
    }
    snprintf(lx->err, sizeof lx->err, "fortran_order must be True or False");
    return false;
}

// "()", "(n,)", "(a, b)", "(a, b,)"
static bool parse_shape(lexer *lx, npy_info *inf) {
    if (!expect(lx, '(')) return false;
    inf->ndim = 0;
    while (!peek(lx, ')')) {
        skip_ws(lx);
        int64_t v = 0;
        const char *start = lx->s;
        while (lx->s < lx->end && *lx->s >= '0' && *lx->s <= '9') {
            if (v > (INT64_MAX - 9) / 10) {
                snprintf(lx->err, sizeof lx->err, "shape dimension too large");
                return false;
            }
            v = v * 10 + (*lx->s++ - '0');
        }
        if (lx->s == start) {
            snprintf(lx->err, sizeof lx->err, "bad shape tuple in the header");
            return false;
        }
        if (inf->ndim == TG_MAX_DIMS) {
            snprintf(lx->err, sizeof lx->err, "more than %d dimensions", TG_MAX_DIMS);
            return false;
        }
        inf->shape[inf->ndim++] = v;
        if (peek(lx, ',')) {
            lx->s++;
        } else if (!peek(lx, ')')) {
            snprintf(lx->err, sizeof lx->err, "bad shape tuple in the header");
            return false;
        } else if (inf->ndim == 1) {
            snprintf(lx->err, sizeof lx->err, "bad shape tuple in the header: '(n)' needs a comma");
            return false;
        }
    }
    lx->s++;
    return true;
}

static bool parse_dict(lexer *lx, npy_info *inf) {
    bool seen[3] = {false, false, false};
    if (!expect(lx, '{')) return false;
    while (!peek(lx, '}')) {
        char key[32];
        if (!read_str(lx, key, sizeof key) || !expect(lx, ':')) return false;
        int k = strcmp(key, "descr") == 0           ? 0
                : strcmp(key, "fortran_order") == 0 ? 1
                : strcmp(key, "shape") == 0         ? 2
                                                    : -1;
        if (k < 0 || seen[k]) {
            snprintf(lx->err, sizeof lx->err, "%s key '%s' in the header",
                     k < 0 ? "unexpected" : "repeated", key);
            return false;
        }
        seen[k] = true;
        bool ok = k == 0   ? parse_descr(lx, inf)
                  : k == 1 ? parse_bool(lx, &inf->fortran)
                           : parse_shape(lx, inf);
        if (!ok) return false;
        if (peek(lx, ','))
            lx->s++;
        else if (!peek(lx, '}'))
            return expect(lx, '}');
    }
    lx->s++;
    skip_ws(lx);
    if (lx->s != lx->end) {
        snprintf(lx->err, sizeof lx->err, "trailing characters after the header dict");
        return false;
    }
    if (!seen[0] || !seen[1] || !seen[2]) {
        snprintf(lx->err, sizeof lx->err, "header lacks the '%s' key",
                 !seen[0]   ? "descr"
                 : !seen[1] ? "fortran_order"
                            : "shape");
        return false;
    }
    return true;
}

// ---- loading ----

static double elem(const unsigned char *p, const npy_info *inf) {
    // the element as an unsigned integer, most significant byte first
    uint64_t u = 0;
    for (int i = 0; i < inf->size; i++) u = u << 8 | p[inf->big ? i : inf->size - 1 - i];
    if (inf->kind == 'f' && inf->size == 4) {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, sizeof f);
        return f;
    }
    if (inf->kind == 'f') {
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    if (inf->kind == 'b') return u != 0;
    if (inf->kind == 'u') return (double)u;
    if (inf->size < 8 && (u >> (8 * inf->size - 1)) & 1) u |= ~(uint64_t)0 << (8 * inf->size);
    int64_t v;
    memcpy(&v, &u, sizeof v);  // two's complement
    return (double)v;
}

// Parses the preamble and header of buf; on success *data points at the array bytes.
static int parse_npy(const char *path, const unsigned char *buf, size_t len, npy_info *inf,
                     const unsigned char **data, int64_t *numel) {
    const char *FN = "tg_load_npy";
    if (len < 10 || memcmp(buf, MAGIC, 6) != 0)
        return tg_set_error(TG_ERR_IO, FN, "%s: not a .npy file (bad magic)", path);
    int major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return tg_set_error(TG_ERR_IO, FN, "%s: unsupported .npy version %d.%d", path, major,
                            minor);
    size_t pre = major == 1 ? 10 : 12, hlen;
    if (len < pre) return tg_set_error(TG_ERR_IO, FN, "%s: truncated preamble", path);
    if (major == 1)
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    else
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    if (hlen > len - pre)
        return tg_set_error(TG_ERR_IO, FN, "%s: truncated header (%zu bytes announced, %zu left)",
                            path, hlen, len - pre);
    lexer lx = {(const char *)buf + pre, (const char *)buf + pre + hlen, path, ""};
    if (!parse_dict(&lx, inf))
        return tg_set_error(TG_ERR_IO, FN, "%s: bad header: %s", path, lx.err);
    if (inf->fortran)
        return tg_set_error(TG_ERR_UNSUPPORTED, FN,
                            "%s: fortran_order is True; only C-order arrays are supported "
                            "(save np.ascontiguousarray(a))",
                            path);
    // the product of the non-zero dimensions must fit as well (tg_tensor_new's rule)
    int64_t n = 1, nz = 1;
    for (int i = 0; i < inf->ndim; i++) {
        int64_t d = inf->shape[i];
        if (d && nz > MAX_NUMEL / d)
            return tg_set_error(TG_ERR_IO, FN, "%s: shape too large", path);
        nz *= d ? d : 1;
        n = d ? n : 0;
    }
    n = n ? nz : 0;
    size_t bytes = (size_t)n * (size_t)inf->size, left = len - pre - hlen;
    if (left < bytes)
        return tg_set_error(TG_ERR_IO, FN, "%s: truncated data: %zu bytes, the shape needs %zu",
                            path, left, bytes);
    if (left > bytes)
        return tg_set_error(TG_ERR_IO, FN, "%s: %zu unexpected bytes after the data", path,
                            left - bytes);
    *data = buf + pre + hlen;
    *numel = n;
    return TG_OK;
}

static bool check_args(const char *path, tg_backend *be, tg_dtype dtype) {
    const char *FN = "tg_load_npy";
    if (!path || !be) {
        tg_set_error(TG_ERR_INVALID_ARG, FN, "path or backend is NULL");
        return false;
    }
    if (dtype != TG_F32 && dtype != TG_F64) {
        tg_set_error(TG_ERR_DTYPE, FN, "%s: dtype must be f32 or f64", path);
        return false;
    }
    return true;
}

tg_tensor *tg__load_npy_mem(const char *name, const void *buf, size_t len, tg_backend *be,
                            tg_dtype dtype) {
    const char *FN = "tg_load_npy";
    if (!check_args(name, be, dtype)) return NULL;
    npy_info inf = {0};
    const unsigned char *data = NULL;
    int64_t n = 0;
    if (!buf) len = 0;
    if (parse_npy(name, buf ? buf : "", len, &inf, &data, &n)) return NULL;
    void *out = malloc((size_t)n * tg_dtype_size(dtype) + 1);
    if (!out) {
        tg_set_error(TG_ERR_OOM, FN, "%s: out of memory", name);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = elem(data + (size_t)i * (size_t)inf.size, &inf);
        if (dtype == TG_F32)
            ((float *)out)[i] = (float)v;
        else
            ((double *)out)[i] = v;
    }
    tg_tensor *t = tg_tensor_from(be, dtype, inf.ndim, inf.shape, out);
    free(out);
    return t;
}

tg_tensor *tg_load_npy(const char *path, tg_backend *be, tg_dtype dtype) {
    if (!check_args(path, be, dtype)) return NULL;
    char *buf;
    size_t len;
    if (tg__read_file(path, "tg_load_npy", &buf, &len)) return NULL;
    tg_tensor *t = tg__load_npy_mem(path, buf, len, be, dtype);
    free(buf);
    return t;
}

// ---- saving ----

int tg_save_npy(const char *path, const tg_tensor *t) {
    const char *FN = "tg_save_npy";
    if (!path || !t) return tg_set_error(TG_ERR_INVALID_ARG, FN, "path or tensor is NULL");
    int st = tg__check_tensor(t, FN, path);
    if (st) return st;
    tg_dtype dt = tg_dtype_of(t);
    size_t esz = tg_dtype_size(dt);
    int ndim = tg_ndim(t);
    const int64_t *shape = tg_shape(t);
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     dt == TG_F32 ? "<f4" : "<f8");
    for (int i = 0; i < ndim; i++)  // numpy's repr: (2, 3), (4,), ()
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%s%lld%s", i ? ", " : "",
                      (long long)shape[i], ndim == 1 ? "," : "");
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    // preamble + dict + padding + '\n' is a multiple of 64 (numpy's alignment)
    size_t pre = 10, dl = (size_t)k;
    size_t total = (pre + dl + 1 + 63) / 64 * 64;
    if (total - pre > 65535) {
        pre = 12;
        total = (pre + dl + 1 + 63) / 64 * 64;
    }
    size_t hlen = total - pre, bytes = (size_t)tg_numel(t) * esz;
    unsigned char *out = malloc(total + bytes);
    if (!out) return tg_set_error(TG_ERR_OOM, FN, "%s: out of memory", path);
    memcpy(out, MAGIC, 6);
    out[6] = pre == 10 ? 1 : 2;
    out[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) out[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', hlen - dl - 1);
    out[total - 1] = '\n';
    st = tg_copy_to_host(t, out + total, bytes);
    if (!st && !host_little()) {
        for (size_t i = 0; i < bytes; i += esz)
            for (size_t a = 0, b = esz - 1; a < b; a++, b--) {
                unsigned char c = out[total + i + a];
                out[total + i + a] = out[total + i + b];
                out[total + i + b] = c;
            }
    }
    if (!st) st = tg__write_file_atomic(path, FN, out, total + bytes);
    free(out);
    return st;
}

// tg_load_idx: MNIST / Fashion-MNIST IDX files (Y. LeCun's format). A big-endian magic
// 0x00000801 (unsigned-byte labels, 1 dim) or 0x00000803 (unsigned-byte images, 3 dims),
// big-endian u32 dims, then the bytes. Labels -> [n]; images -> [n, rows*cols] * scale.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/data_impl.h"

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *type_name(int code) {
    switch (code) {
        case 0x08: return "unsigned byte";
        case 0x09: return "signed byte";
        case 0x0B: return "short";
        case 0x0C: return "int";
        case 0x0D: return "float";
        case 0x0E: return "double";
        default: return "unknown";
    }
}

// Validates the header and the size; *ndim and dims[] get the shape, *count the elements.
static int parse_idx(const char *path, const unsigned char *buf, size_t len, int *ndim,
                     uint32_t dims[3], size_t *count) {
    const char *FN = "tg_load_idx";
    if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
        return tg_set_error(TG_ERR_UNSUPPORTED, FN, "%s: gzip-compressed: gunzip it first", path);
    if (len < 4) return tg_set_error(TG_ERR_IO, FN, "%s: truncated: %zu bytes", path, len);
    if (buf[0] != 0 || buf[1] != 0)
        return tg_set_error(TG_ERR_IO, FN, "%s: not an IDX file (magic 0x%08x)", path,
                            (unsigned)be32(buf));
    if (buf[2] != 0x08)
        return tg_set_error(TG_ERR_UNSUPPORTED, FN,
                            "%s: element type 0x%02x (%s); only unsigned byte (0x08) is "
                            "supported",
                            path, buf[2], type_name(buf[2]));
    if (buf[3] != 1 && buf[3] != 3)
        return tg_set_error(TG_ERR_UNSUPPORTED, FN,
                            "%s: %d dimensions; expected 1 (labels) or 3 (images)", path, buf[3]);
    *ndim = buf[3];
    size_t head = 4 + 4 * (size_t)*ndim;
    if (len < head)
        return tg_set_error(TG_ERR_IO, FN, "%s: truncated header: %zu bytes, need %zu", path, len,
                            head);
    // n: the element count; nz: the product of the non-zero dimensions, which must fit too
    // (zero images of 2^32-1 x 2^32-1 pixels would overflow rows * cols)
    uint64_t n = 1, nz = 1;
    for (int i = 0; i < *ndim; i++) {
        dims[i] = be32(buf + 4 + 4 * i);
        if (dims[i] && nz > ((uint64_t)1 << 40) / dims[i])
            return tg_set_error(TG_ERR_IO, FN, "%s: dimensions too large", path);
        nz *= dims[i] ? dims[i] : 1;
        n *= dims[i];
    }
    if (len - head != n)
        return tg_set_error(TG_ERR_IO, FN, "%s: %s: %zu data bytes, the header announces %llu",
                            path, len - head < n ? "truncated" : "trailing bytes", len - head,
                            (unsigned long long)n);
    *count = (size_t)n;
    return TG_OK;
}

static bool check_args(const char *path, tg_backend *be, tg_dtype dtype, double scale) {
    const char *FN = "tg_load_idx";
    if (!path || !be) {
        tg_set_error(TG_ERR_INVALID_ARG, FN, "path or backend is NULL");
        return false;
    }
    if (dtype != TG_F32 && dtype != TG_F64) {
        tg_set_error(TG_ERR_DTYPE, FN, "%s: dtype must be f32 or f64", path);
        return false;
    }
    if (!isfinite(scale)) {
        tg_set_error(TG_ERR_INVALID_ARG, FN, "%s: scale %g is not finite", path, scale);
        return false;
    }
    return true;
}

tg_tensor *tg__load_idx_mem(const char *name, const void *buf, size_t len, tg_backend *be,
                            tg_dtype dtype, double scale) {
    const char *FN = "tg_load_idx";
    if (!check_args(name, be, dtype, scale)) return NULL;
    int ndim = 0;
    uint32_t dims[3] = {0, 0, 0};
    size_t n = 0;
    if (!buf) len = 0;
    const unsigned char *b = buf ? buf : (const void *)"";
    if (parse_idx(name, b, len, &ndim, dims, &n)) return NULL;
    const unsigned char *src = b + 4 + 4 * (size_t)ndim;
    double s = ndim == 3 ? scale : 1.0;  // labels stay class numbers
    void *out = malloc(n * tg_dtype_size(dtype) + 1);
    if (!out) {
        tg_set_error(TG_ERR_OOM, FN, "%s: out of memory", name);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (dtype == TG_F32)
            ((float *)out)[i] = (float)(src[i] * s);
        else
            ((double *)out)[i] = src[i] * s;
    }
    int64_t shape[2] = {dims[0], ndim == 3 ? (int64_t)dims[1] * dims[2] : 0};
    tg_tensor *t = tg_tensor_from(be, dtype, ndim == 3 ? 2 : 1, shape, out);
    free(out);
    return t;
}

tg_tensor *tg_load_idx(const char *path, tg_backend *be, tg_dtype dtype, double scale) {
    if (!check_args(path, be, dtype, scale)) return NULL;
    char *buf;
    size_t len;
    if (tg__read_file(path, "tg_load_idx", &buf, &len)) return NULL;
    tg_tensor *t = tg__load_idx_mem(path, buf, len, be, dtype, scale);
    free(buf);
    return t;
}

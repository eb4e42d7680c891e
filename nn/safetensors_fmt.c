// The safetensors format (huggingface/safetensors): an 8-byte little-endian header size N,
// N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [b, e]}, ..., "__metadata__":
// {str: str}} padded with spaces, then the raw little-endian data, which the tensors must
// cover exactly (no holes, no overlaps). A strict JSON parser for this subset validates the
// whole image before anyone touches a tensor; the writer lays tensors out in order and
// writes atomically. Shared by safetensors.c (modules) and checkpoint.c. Assumes a
// little-endian host.
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nn/data_impl.h"
#include "nn/safetensors_impl.h"

static const struct {
    const char *name;
    int size;
} DTYPES[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
    {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
    {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};
enum { N_DTYPES = sizeof DTYPES / sizeof DTYPES[0] };

const char *tg__st_dtype_name(int dtype) {
    return dtype >= 0 && dtype < N_DTYPES ? DTYPES[dtype].name : "?";
}

typedef tg__st_entry entry;

static void free_entries(entry *es, int n) {
    for (int i = 0; i < n; i++) tg_mem_free(es[i].name);
    tg_mem_free(es);
}

const char *tg__st_shape_str(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (k < size) snprintf(buf + k, size - k, "]");
    return buf;
}

// ---- a strict JSON parser for the header subset ----

typedef struct {
    const char *s;
    size_t n, i;
    char err[200];
    bool oom;               // the failure was out of memory
    tg__st_meta *meta;      // __metadata__, in file order
    int nmeta, metacap;
} jp;

// Records the first parse error (with the byte offset) and returns false.
static bool jfail(jp *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static bool jfail(jp *p, const char *fmt, ...) {
    if (p->err[0]) return false;
    int k = snprintf(p->err, sizeof p->err, "byte %zu: ", p->i);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + k, sizeof p->err - (size_t)k, fmt, ap);
    va_end(ap);
    return false;
}

static bool joom(jp *p) {
    p->oom = true;
    return jfail(p, "out of memory");
}

static void jws(jp *p) {
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool jpeek(jp *p, char c) {
    jws(p);
    return p->i < p->n && p->s[p->i] == c;
}

// Consumes a ',' if one comes next (then a member must follow: no trailing commas).
static bool jnext(jp *p) {
    if (!jpeek(p, ',')) return false;
    p->i++;
    return true;
}

static bool jlit(jp *p, char c) {
    if (jpeek(p, c)) {
        p->i++;
        return true;
    }
    if (p->i >= p->n) return jfail(p, "expected '%c', found the end of the header", c);
    return jfail(p, "expected '%c'", c);
}

bool tg__st_utf8_valid(const unsigned char *s, size_t n, size_t *bad) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        int len = c < 0x80             ? 1
                  : (c & 0xE0) == 0xC0 ? 2
                  : (c & 0xF0) == 0xE0 ? 3
                  : (c & 0xF8) == 0xF0 ? 4
                                       : 0;
        if (!len || i + (size_t)len > n || (len == 2 && c < 0xC2) || (len == 4 && c > 0xF4)) {
            *bad = i;
            return false;
        }
        for (int k = 1; k < len; k++)
            if ((s[i + (size_t)k] & 0xC0) != 0x80) {
                *bad = i;
                return false;
            }
        i += (size_t)len;
    }
    return true;
}

static int hex4(const char *s) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// The escape at s[*i] (just after the backslash), decoded into o; false if malformed.
static bool unescape(jp *p, size_t end, size_t *i, char *o, size_t *k) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = strchr(from, p->s[*i]);
    if (p->s[*i] != 'u') {
        if (!hit || !*hit) return jfail(p, "bad escape '\\%c' in a string", p->s[*i]);
        o[(*k)++] = to[hit - from];
        (*i)++;
        return true;
    }
    int cp = *i + 4 < end ? hex4(p->s + *i + 1) : -1;
    if (cp < 0) return jfail(p, "bad \\u escape in a string");
    *i += 5;
    uint32_t u = (uint32_t)cp;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        int lo = *i + 5 < end && p->s[*i] == '\\' && p->s[*i + 1] == 'u' ? hex4(p->s + *i + 2) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) return jfail(p, "unpaired surrogate in a string");
        u = 0x10000 + (((uint32_t)cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        *i += 6;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return jfail(p, "unpaired surrogate in a string");
    } else if (cp == 0) {
        return jfail(p, "NUL character in a string");
    }
    *k += put_utf8(o + *k, u);
    return true;
}

// A JSON string, decoded into a malloc'd C string.
static bool jstring(jp *p, char **out) {
    *out = NULL;
    jws(p);
    if (p->i >= p->n || p->s[p->i] != '"') return jfail(p, "expected a string");
    size_t end = p->i + 1;
    while (end < p->n && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n) return jfail(p, "unterminated string");
    size_t i = p->i + 1, k = 0;
    char *o = tg_mem_alloc(end - i + 1);  // decoding never grows a string
    if (!o) return joom(p);
    while (i < end) {
        unsigned char c = (unsigned char)p->s[i];
        if (c < 0x20) {
            p->i = i;
            tg_mem_free(o);
            return jfail(p, "control character in a string");
        }
        if (c != '\\') {
            o[k++] = (char)c;
            i++;
            continue;
        }
        i++;
        p->i = i;
        if (!unescape(p, end, &i, o, &k)) {
            tg_mem_free(o);
            return false;
        }
    }
    o[k] = '\0';
    p->i = end + 1;
    *out = o;
    return true;
}

// A non-negative JSON integer (no sign, fraction or exponent).
static bool juint(jp *p, uint64_t *out) {
    jws(p);
    size_t st = p->i;
    uint64_t v = 0;
    if (p->i < p->n && p->s[p->i] == '0') {
        p->i++;
    } else {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
            uint64_t d = (uint64_t)(p->s[p->i] - '0');
            if (v > (UINT64_MAX - d) / 10) return jfail(p, "integer too large");
            v = v * 10 + d;
            p->i++;
        }
    }
    if (p->i == st) return jfail(p, "expected a non-negative integer");
    if (p->i < p->n && p->s[p->i] && strchr(".eE0123456789", p->s[p->i]))
        return jfail(p, "expected a non-negative integer");
    *out = v;
    return true;
}

static bool juint_array(jp *p, uint64_t *v, int cap, int *n, const char *what) {
    *n = 0;
    if (!jlit(p, '[')) return false;
    if (jpeek(p, ']')) {
        p->i++;
        return true;
    }
    for (;;) {
        if (*n == cap) return jfail(p, "%s has more than %d entries", what, cap);
        if (!juint(p, &v[(*n)++])) return false;
        if (!jpeek(p, ',')) return jlit(p, ']');
        p->i++;
    }
}

static const char *const ENTRY_KEYS[3] = {"dtype", "shape", "data_offsets"};

// One "key": value pair of a tensor's object; seen[] tracks the keys so far.
static bool jentry_field(jp *p, entry *e, bool seen[3]) {
    char *key;
    if (!jstring(p, &key)) return false;
    int k = 0;
    while (k < 3 && strcmp(key, ENTRY_KEYS[k]) != 0) k++;
    if (k == 3 || seen[k]) {
        jfail(p, "tensor '%s': %s key '%.40s'", e->name, k == 3 ? "unexpected" : "repeated", key);
        tg_mem_free(key);
        return false;
    }
    tg_mem_free(key);
    seen[k] = true;
    if (!jlit(p, ':')) return false;
    uint64_t v[TG_MAX_DIMS];
    int n;
    if (k == 0) {
        char *d;
        if (!jstring(p, &d)) return false;
        e->dtype = 0;
        while (e->dtype < N_DTYPES && strcmp(d, DTYPES[e->dtype].name) != 0) e->dtype++;
        if (e->dtype == N_DTYPES) jfail(p, "tensor '%s': unknown dtype '%.20s'", e->name, d);
        tg_mem_free(d);
        return e->dtype < N_DTYPES;
    }
    if (k == 1) {
        if (!juint_array(p, v, TG_MAX_DIMS, &n, "shape")) return false;
        e->ndim = n;
        for (int j = 0; j < n; j++) {
            if (v[j] > (uint64_t)INT64_MAX) return jfail(p, "dimension too large");
            e->shape[j] = (int64_t)v[j];
        }
        return true;
    }
    if (!juint_array(p, v, 2, &n, "data_offsets")) return false;
    if (n != 2) return jfail(p, "tensor '%s': data_offsets needs 2 numbers", e->name);
    e->begin = v[0];
    e->end = v[1];
    return true;
}

// A tensor's object: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}
static bool jentry(jp *p, entry *e) {
    bool seen[3] = {false, false, false};
    if (!jlit(p, '{')) return false;
    if (!jpeek(p, '}')) {
        do {
            if (!jentry_field(p, e, seen)) return false;
        } while (jnext(p));
    }
    if (!jlit(p, '}')) return false;
    for (int k = 0; k < 3; k++)
        if (!seen[k]) return jfail(p, "tensor '%s' lacks '%s'", e->name, ENTRY_KEYS[k]);
    return true;
}

// One "key": "value" pair of __metadata__, kept in p->meta; keys must be unique.
static bool jmeta_pair(jp *p) {
    char *k, *v;
    if (!jstring(p, &k)) return false;
    for (int j = 0; j < p->nmeta; j++)
        if (strcmp(p->meta[j].key, k) == 0) {
            jfail(p, "__metadata__ key '%.60s' appears twice", k);
            tg_mem_free(k);
            return false;
        }
    bool ok = jlit(p, ':');
    if (ok && !jpeek(p, '"')) ok = jfail(p, "__metadata__ must map strings to strings");
    if (!ok || !jstring(p, &v)) {
        tg_mem_free(k);
        return false;
    }
    if (p->nmeta == p->metacap) {
        int nc = p->metacap ? p->metacap * 2 : 16;
        tg__st_meta *nm = tg_mem_realloc(p->meta, (size_t)nc * sizeof *nm);
        if (!nm) {
            tg_mem_free(k);
            tg_mem_free(v);
            return joom(p);
        }
        p->meta = nm;
        p->metacap = nc;
    }
    p->meta[p->nmeta++] = (tg__st_meta){k, v};
    return true;
}

// "__metadata__": {"key": "value", ...}
static bool jmeta(jp *p) {
    if (!jlit(p, '{')) return false;
    if (!jpeek(p, '}')) {
        do {
            if (!jmeta_pair(p)) return false;
        } while (jnext(p));
    }
    return jlit(p, '}');
}

// Adds a tensor entry named `name` (taken over) and parses its value.
static bool jmember(jp *p, char *name, entry **es, int *n, int *cap) {
    for (int j = 0; j < *n; j++)
        if (strcmp((*es)[j].name, name) == 0) {
            jfail(p, "tensor '%.60s' appears twice", name);
            tg_mem_free(name);
            return false;
        }
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        entry *ne = tg_mem_realloc(*es, (size_t)nc * sizeof *ne);
        if (!ne) {
            tg_mem_free(name);
            return joom(p);
        }
        *es = ne;
        *cap = nc;
    }
    entry *e = &(*es)[(*n)++];
    memset(e, 0, sizeof *e);
    e->name = name;
    return jentry(p, e);
}

static bool jheader(jp *p, entry **es, int *n) {
    int cap = 0;
    bool meta = false;
    *es = NULL;
    *n = 0;
    if (!jlit(p, '{')) return false;
    if (!jpeek(p, '}')) {
        do {
            char *name;
            if (!jstring(p, &name)) return false;
            if (!jlit(p, ':')) {
                tg_mem_free(name);
                return false;
            }
            if (strcmp(name, "__metadata__") == 0) {
                tg_mem_free(name);
                if (meta) return jfail(p, "__metadata__ appears twice");
                meta = true;
                if (!jmeta(p)) return false;
            } else if (!jmember(p, name, es, n, &cap)) {
                return false;
            }
        } while (jnext(p));
    }
    if (!jlit(p, '}')) return false;
    jws(p);
    if (p->i != p->n) return jfail(p, "unexpected characters after the JSON object");
    return true;
}

// ---- validation ----

static int by_offset(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

// Sizes, ranges, and that the tensors tile the data section exactly. Sorts es by offset.
static int check_layout(const char *FN, const char *path, entry *es, int n, uint64_t data_len) {
    for (int i = 0; i < n; i++) {
        entry *e = &es[i];
        uint64_t bytes = (uint64_t)DTYPES[e->dtype].size;
        for (int j = 0; j < e->ndim; j++) {
            if (e->shape[j] && bytes > UINT64_MAX / 2 / (uint64_t)e->shape[j])
                return tg_set_error(TG_ERR_IO, FN, "%s: tensor '%s' is too large", path, e->name);
            bytes *= (uint64_t)e->shape[j];
        }
        if (e->begin > e->end || e->end > data_len)
            return tg_set_error(TG_ERR_IO, FN,
                                "%s: tensor '%s': data_offsets [%llu, %llu] out of range (the "
                                "data section has %llu bytes)",
                                path, e->name, (unsigned long long)e->begin,
                                (unsigned long long)e->end, (unsigned long long)data_len);
        if (e->end - e->begin != bytes) {
            char s[160];
            return tg_set_error(TG_ERR_IO, FN,
                                "%s: tensor '%s': data_offsets [%llu, %llu] span %llu bytes but "
                                "%s %s needs %llu",
                                path, e->name, (unsigned long long)e->begin,
                                (unsigned long long)e->end, (unsigned long long)(e->end - e->begin),
                                DTYPES[e->dtype].name,
                                tg__st_shape_str(s, sizeof s, e->ndim, e->shape),
                                (unsigned long long)bytes);
        }
    }
    if (n > 1) qsort(es, (size_t)n, sizeof *es, by_offset);
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (es[i].begin < at)
            return tg_set_error(TG_ERR_IO, FN, "%s: tensors '%s' and '%s' overlap", path,
                                es[i - 1].name, es[i].name);
        if (es[i].begin > at)
            return tg_set_error(TG_ERR_IO, FN, "%s: data bytes [%llu, %llu) belong to no tensor",
                                path, (unsigned long long)at, (unsigned long long)es[i].begin);
        at = es[i].end;
    }
    if (at != data_len)
        return tg_set_error(TG_ERR_IO, FN, "%s: data bytes [%llu, %llu) belong to no tensor", path,
                            (unsigned long long)at, (unsigned long long)data_len);
    return TG_OK;
}


static void free_meta(tg__st_meta *meta, int n) {
    for (int i = 0; i < n; i++) {
        tg_mem_free(meta[i].key);
        tg_mem_free(meta[i].value);
    }
    tg_mem_free(meta);
}

void tg__st_file_free(tg__st_file *f) {
    if (!f) return;
    free_entries(f->es, f->ne);
    free_meta(f->meta, f->nmeta);
    memset(f, 0, sizeof *f);
}

int tg__st_parse(const char *FN, const char *path, const unsigned char *buf, size_t len,
                 tg__st_file *f) {
    memset(f, 0, sizeof *f);
    if (len < 8)
        return tg_set_error(TG_ERR_IO, FN, "%s: %zu bytes is too short for a safetensors file",
                            path, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > TG__ST_MAX_HEADER || hlen > len - 8 || hlen < 2)
        return tg_set_error(TG_ERR_IO, FN, "%s: header size %llu is not sane (file has %zu bytes)",
                            path, (unsigned long long)hlen, len);
    size_t bad;
    if (!tg__st_utf8_valid(buf + 8, (size_t)hlen, &bad))
        return tg_set_error(TG_ERR_IO, FN, "%s: header byte %zu is not valid UTF-8", path, bad);
    if (buf[8] != '{')
        return tg_set_error(TG_ERR_IO, FN, "%s: the header does not start with '{'", path);
    jp p = {.s = (const char *)buf + 8, .n = (size_t)hlen};
    int st = TG_OK;
    if (!jheader(&p, &f->es, &f->ne))
        st = tg_set_error(p.oom ? TG_ERR_OOM : TG_ERR_IO, FN, "%s: bad JSON header at %s", path,
                          p.err);
    f->meta = p.meta;
    f->nmeta = p.nmeta;
    if (!st) st = check_layout(FN, path, f->es, f->ne, (uint64_t)(len - 8 - hlen));
    if (st) {
        tg__st_file_free(f);
        return st;
    }
    f->data = buf + 8 + hlen;
    return TG_OK;
}

// ---- saving ----

typedef struct {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

// Appends printf-style text; sets oom (and stops appending) when memory runs out.
static void sb_add(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_add(sbuf *b, const char *fmt, ...) {
    for (;;) {
        if (b->oom) return;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = true;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap : 256) * 2 + (size_t)k;
        char *s = tg_mem_realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static void sb_json_str(sbuf *b, const char *s) {
    sb_add(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_add(b, "\\%c", c);
        else if (c < 0x20)
            sb_add(b, "\\u%04x", c);
        else
            sb_add(b, "%c", c);
    }
    sb_add(b, "\"");
}

// Header JSON (padded with spaces to a multiple of 8) for tensors laid out in order.
static void build_header(sbuf *h, tg_tensor *const *ts, const char *const *names, int n,
                         const char *const *keys, const char *const *vals, int nmeta,
                         uint64_t *data_len) {
    uint64_t off = 0;
    sb_add(h, "{\"__metadata__\":{");
    for (int j = 0; j < nmeta; j++) {
        sb_add(h, j ? "," : "");
        sb_json_str(h, keys[j]);
        sb_add(h, ":");
        sb_json_str(h, vals[j]);
    }
    sb_add(h, "}");
    for (int i = 0; i < n; i++) {
        tg_dtype dt = tg_dtype_of(ts[i]);
        uint64_t bytes = (uint64_t)tg_numel(ts[i]) * tg_dtype_size(dt);
        sb_add(h, ",");
        sb_json_str(h, names[i]);
        sb_add(h, ":{\"dtype\":\"%s\",\"shape\":[", dt == TG_F32 ? "F32" : "F64");
        for (int k = 0; k < tg_ndim(ts[i]); k++)
            sb_add(h, k ? ",%lld" : "%lld", (long long)tg_shape(ts[i])[k]);
        sb_add(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
               (unsigned long long)(off + bytes));
        off += bytes;
    }
    sb_add(h, "}");
    while (!h->oom && h->n % 8) sb_add(h, " ");
    *data_len = off;
}

int tg__st_write(const char *FN, const char *path, tg_tensor *const *ts,
                 const char *const *names, int n, const char *const *keys,
                 const char *const *vals, int nmeta) {
    sbuf h = {0};
    uint64_t data_len = 0;
    build_header(&h, ts, names, n, keys, vals, nmeta, &data_len);
    if (h.oom) {
        tg_mem_free(h.s);
        return tg_set_error(TG_ERR_OOM, FN, "%s: out of memory", path);
    }
    if ((uint64_t)h.n > TG__ST_MAX_HEADER) {
        tg_mem_free(h.s);
        return tg_set_error(TG_ERR_INVALID_ARG, FN,
                            "%s: the header (names and metadata) takes %zu bytes, more than the "
                            "%llu that safetensors readers accept: metadata too large",
                            path, h.n, (unsigned long long)TG__ST_MAX_HEADER);
    }
    size_t total = 8 + h.n + (size_t)data_len;
    unsigned char *out = tg_mem_alloc(total);
    int st = out ? TG_OK : tg_set_error(TG_ERR_OOM, FN, "%s: out of memory", path);
    if (!st) {
        for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
        memcpy(out + 8, h.s, h.n);
        size_t at = 8 + h.n;
        for (int i = 0; !st && i < n; i++) {
            size_t bytes = (size_t)tg_numel(ts[i]) * tg_dtype_size(tg_dtype_of(ts[i]));
            st = tg_copy_to_host(ts[i], out + at, bytes);
            at += bytes;
        }
    }
    if (!st) st = tg__write_file_atomic(path, FN, out, total);
    tg_mem_free(out);
    tg_mem_free(h.s);
    return st;
}

// General checkpoints: any set of named tensors plus string metadata in one safetensors
// file (format in safetensors_fmt.c), so a run can be resumed exactly: the model, the
// optimizer's state (optim/state.c adds it), RNG states and the caller's counters. Tensors
// added for saving are borrowed; loaded ones are CPU tensors owned by the checkpoint. Every
// restore checks everything it will write before writing any of it.
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "nn/data_impl.h"
#include "nn/safetensors_impl.h"

typedef struct {
    char *name;
    tg_tensor *t;       // NULL: an entry of a dtype tapegrad does not hold
    bool owned;         // loaded (freed with the checkpoint) or borrowed
    int dtype;          // the file's dtype index (tg__st_dtype_name)
} ck_entry;

struct tg_checkpoint {
    ck_entry *es;
    int n, cap;
    tg__st_meta *meta;
    int nmeta, metacap;
};

// ---- helpers ----

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = tg_mem_alloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

// A name or metadata string the format can carry: non-NULL, UTF-8 (empty only if allowed).
static int check_str(const char *fn, const char *s, const char *what, bool may_be_empty) {
    size_t bad;
    if (!s) return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL", what);
    if (!*s && !may_be_empty) return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is empty", what);
    if (!tg__st_utf8_valid((const unsigned char *)s, strlen(s), &bad))
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s '%.60s': byte %zu is not valid UTF-8",
                            what, s, bad);
    return TG_OK;
}

static int find(const tg_checkpoint *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->es[i].name, name) == 0) return i;
    return -1;
}

static int find_meta(const tg_checkpoint *c, const char *key) {
    for (int i = 0; i < c->nmeta; i++)
        if (strcmp(c->meta[i].key, key) == 0) return i;
    return -1;
}

// Appends an entry (name copied); the caller has checked the name.
static int push(tg_checkpoint *c, const char *fn, const char *name, tg_tensor *t, bool owned,
                int dtype) {
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 16;
        ck_entry *ne = tg_mem_realloc(c->es, (size_t)nc * sizeof *ne);
        if (!ne) return tg_set_error(TG_ERR_OOM, fn, "out of memory");
        c->es = ne;
        c->cap = nc;
    }
    char *nm = dup_str(name);
    if (!nm) return tg_set_error(TG_ERR_OOM, fn, "out of memory");
    c->es[c->n++] = (ck_entry){nm, t, owned, dtype};
    return TG_OK;
}

// Drops the entries from index `keep` on (a failed add_module).
static void truncate_to(tg_checkpoint *c, int keep) {
    for (int i = keep; i < c->n; i++) {
        if (c->es[i].owned) tg_free(c->es[i].t);
        tg_mem_free(c->es[i].name);
    }
    c->n = keep;
}

// ---- building ----

tg_checkpoint *tg_checkpoint_new(void) {
    tg_checkpoint *c = tg_mem_calloc(1, sizeof *c);
    if (!c) tg_set_error(TG_ERR_OOM, "tg_checkpoint_new", "out of memory");
    return c;
}

void tg_checkpoint_free(tg_checkpoint *c) {
    if (!c) return;
    truncate_to(c, 0);
    tg_mem_free(c->es);
    for (int i = 0; i < c->nmeta; i++) {
        tg_mem_free(c->meta[i].key);
        tg_mem_free(c->meta[i].value);
    }
    tg_mem_free(c->meta);
    tg_mem_free(c);
}

static int add_checked(tg_checkpoint *c, const char *fn, const char *name, const tg_tensor *t) {
    int st = check_str(fn, name, "name", false);
    if (!st) st = tg__check_tensor(t, fn, "tensor");
    if (st) return st;
    if (strcmp(name, "__metadata__") == 0)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "'__metadata__' is reserved for metadata");
    if (tg_is_step(t))
        return tg_set_error(TG_ERR_INVALID_ARG, fn,
                            "tensor '%.60s' is a step tensor (it dies at tg_tape_reset); add a "
                            "persistent copy (tg_to)", name);
    if (find(c, name) >= 0)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "name '%.60s' is already in the checkpoint",
                            name);
    int dt = tg_dtype_of(t) == TG_F32 ? TG__ST_F32 : TG__ST_F64;
    return push(c, fn, name, (tg_tensor *)t, false, dt);
}

int tg_checkpoint_add(tg_checkpoint *c, const char *name, const tg_tensor *t) {
    if (!c) return tg_set_error(TG_ERR_INVALID_ARG, "tg_checkpoint_add", "checkpoint is NULL");
    return add_checked(c, "tg_checkpoint_add", name, t);
}

int tg_checkpoint_add_module(tg_checkpoint *c, const char *prefix, const tg_module *m) {
    const char *fn = "tg_checkpoint_add_module";
    if (!c || !m)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL", c ? "module" : "checkpoint");
    int st = check_str(fn, prefix, "prefix", true);
    if (st) return st;
    tg_tensor **ts;
    const char **names;
    int n;
    if ((st = tg__module_tensors(m, fn, &ts, &names, &n))) return st;
    int keep = c->n;
    size_t pl = strlen(prefix);
    for (int i = 0; !st && i < n; i++) {
        size_t nl = strlen(names[i]);
        char *full = tg_mem_alloc(pl + nl + 1);
        if (!full) {
            st = tg_set_error(TG_ERR_OOM, fn, "out of memory");
            break;
        }
        memcpy(full, prefix, pl);
        memcpy(full + pl, names[i], nl + 1);
        st = add_checked(c, fn, full, ts[i]);
        tg_mem_free(full);
    }
    if (st) truncate_to(c, keep);
    tg_mem_free(ts);
    tg_mem_free(names);
    return st;
}

int tg_checkpoint_set_meta(tg_checkpoint *c, const char *key, const char *value) {
    const char *fn = "tg_checkpoint_set_meta";
    if (!c) return tg_set_error(TG_ERR_INVALID_ARG, fn, "checkpoint is NULL");
    int st = check_str(fn, key, "key", false);
    if (!st) st = check_str(fn, value, "value", true);
    if (st) return st;
    char *v = dup_str(value);
    if (!v) return tg_set_error(TG_ERR_OOM, fn, "out of memory");
    int j = find_meta(c, key);
    if (j >= 0) {
        tg_mem_free(c->meta[j].value);
        c->meta[j].value = v;
        return TG_OK;
    }
    if (c->nmeta == c->metacap) {
        int nc = c->metacap ? c->metacap * 2 : 16;
        tg__st_meta *nm = tg_mem_realloc(c->meta, (size_t)nc * sizeof *nm);
        if (!nm) {
            tg_mem_free(v);
            return tg_set_error(TG_ERR_OOM, fn, "out of memory");
        }
        c->meta = nm;
        c->metacap = nc;
    }
    char *k = dup_str(key);
    if (!k) {
        tg_mem_free(v);
        return tg_set_error(TG_ERR_OOM, fn, "out of memory");
    }
    c->meta[c->nmeta++] = (tg__st_meta){k, v};
    return TG_OK;
}

// ---- saving and loading ----

int tg_checkpoint_save(const tg_checkpoint *c, const char *path) {
    const char *fn = "tg_checkpoint_save";
    if (!c || !path)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL", c ? "path" : "checkpoint");
    for (int i = 0; i < c->n; i++) {
        if (!c->es[i].t)
            return tg_set_error(TG_ERR_DTYPE, fn,
                                "'%.60s' holds %s data, which tapegrad does not keep: cannot "
                                "write it back", c->es[i].name, tg__st_dtype_name(c->es[i].dtype));
        int st = tg__check_tensor(c->es[i].t, fn, c->es[i].name);   // a borrowed one was freed?
        if (st) return st;
    }
    size_t nk = (size_t)c->nmeta + 1;
    tg_tensor **ts = tg_mem_alloc((size_t)c->n * sizeof *ts + 1);
    const char **names = tg_mem_alloc((size_t)c->n * sizeof *names + 1);
    const char **keys = tg_mem_alloc(nk * sizeof *keys), **vals = tg_mem_alloc(nk * sizeof *vals);
    int st = ts && names && keys && vals ? TG_OK : tg_set_error(TG_ERR_OOM, fn, "out of memory");
    if (!st) {
        for (int i = 0; i < c->n; i++) {
            ts[i] = c->es[i].t;
            names[i] = c->es[i].name;
        }
        int nm = 0;
        if (find_meta(c, "format") < 0) {   // torch's save_file writes it; keep a user's value
            keys[nm] = "format";
            vals[nm++] = "pt";
        }
        for (int j = 0; j < c->nmeta; j++, nm++) {
            keys[nm] = c->meta[j].key;
            vals[nm] = c->meta[j].value;
        }
        st = tg__st_write(fn, path, ts, names, c->n, keys, vals, nm);
    }
    tg_mem_free(ts);
    tg_mem_free(names);
    tg_mem_free(keys);
    tg_mem_free(vals);
    return st;
}

// The entries of a parsed file as tensors of c (F32/F64 copied to the CPU, others listed).
static int take_entries(tg_checkpoint *c, const char *fn, const tg__st_file *f) {
    tg_backend *cpu = tg_backend_get("cpu");
    for (int i = 0; i < f->ne; i++) {
        const tg__st_entry *e = &f->es[i];
        tg_tensor *t = NULL;
        if (e->dtype == TG__ST_F32 || e->dtype == TG__ST_F64) {
            unsigned mark = tg_error_mark();
            t = tg_tensor_from(cpu, e->dtype == TG__ST_F32 ? TG_F32 : TG_F64, e->ndim, e->shape,
                               f->data + e->begin);
            if (!t) {
                tg_error_context(mark, fn);
                return tg_last_status() ? tg_last_status() : TG_ERR_OOM;
            }
        }
        int st = push(c, fn, e->name, t, true, e->dtype);
        if (st) {
            tg_free(t);
            return st;
        }
    }
    return TG_OK;
}

tg_checkpoint *tg__checkpoint_load_mem(const char *name, const void *buf, size_t len) {
    const char *fn = "tg_checkpoint_load";
    if (!name) {
        tg_set_error(TG_ERR_INVALID_ARG, fn, "path is NULL");
        return NULL;
    }
    tg__st_file f;
    int st = tg__st_parse(fn, name, buf ? buf : (const void *)"", buf ? len : 0, &f);
    if (st) return NULL;
    tg_checkpoint *c = tg_mem_calloc(1, sizeof *c);
    st = c ? TG_OK : tg_set_error(TG_ERR_OOM, fn, "out of memory");
    if (!st) st = take_entries(c, fn, &f);
    if (!st) {   // the metadata changes hands
        c->meta = f.meta;
        c->nmeta = c->metacap = f.nmeta;
        f.meta = NULL;
        f.nmeta = 0;
    }
    tg__st_file_free(&f);
    if (st) {
        tg_checkpoint_free(c);
        return NULL;
    }
    return c;
}

tg_checkpoint *tg_checkpoint_load(const char *path) {
    const char *fn = "tg_checkpoint_load";
    char *buf = NULL;
    size_t len;
    if (tg__read_file(path, fn, &buf, &len)) return NULL;
    tg_checkpoint *c = tg__checkpoint_load_mem(path, buf, len);
    tg_mem_free(buf);
    return c;
}

// ---- reading and restoring ----

// The entry called name, or an error naming fn.
static const ck_entry *lookup(const tg_checkpoint *c, const char *fn, const char *name) {
    if (!c || !name) {
        tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL", c ? "name" : "checkpoint");
        return NULL;
    }
    int i = find(c, name);
    if (i < 0) {
        tg_set_error(TG_ERR_INVALID_ARG, fn, "no tensor '%.80s' in the checkpoint", name);
        return NULL;
    }
    if (!c->es[i].t) {
        tg_set_error(TG_ERR_DTYPE, fn, "'%.80s' holds %s data, which tapegrad does not keep",
                     name, tg__st_dtype_name(c->es[i].dtype));
        return NULL;
    }
    return &c->es[i];
}

tg_tensor *tg_checkpoint_get(const tg_checkpoint *c, const char *name) {
    const ck_entry *e = lookup(c, "tg_checkpoint_get", name);
    return e ? e->t : NULL;
}

const char *tg_checkpoint_meta(const tg_checkpoint *c, const char *key) {
    const char *fn = "tg_checkpoint_meta";
    if (!c || !key) {
        tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL", c ? "key" : "checkpoint");
        return NULL;
    }
    int j = find_meta(c, key);
    if (j < 0) {
        tg_set_error(TG_ERR_INVALID_ARG, fn, "no metadata key '%.80s' in the checkpoint", key);
        return NULL;
    }
    return c->meta[j].value;
}

// The checkpoint's tensor `name` can be copied into t (same dtype and shape).
static int check_restore(const tg_checkpoint *c, const char *fn, const char *name,
                         const tg_tensor *t, const ck_entry **out) {
    const ck_entry *e = lookup(c, fn, name);
    if (!e) return tg_last_status();
    int st = tg__check_tensor(t, fn, "target tensor");
    if (st) return st;
    if (tg_dtype_of(t) != tg_dtype_of(e->t))
        return tg_set_error(TG_ERR_DTYPE, fn, "'%.80s' is %s in the checkpoint, the target is %s",
                            name, tg_dtype_name(tg_dtype_of(e->t)), tg_dtype_name(tg_dtype_of(t)));
    bool same = tg_ndim(t) == tg_ndim(e->t);
    for (int k = 0; same && k < tg_ndim(t); k++) same = tg_shape(t)[k] == tg_shape(e->t)[k];
    if (!same) {
        char a[160], b[160];
        return tg_set_error(TG_ERR_SHAPE, fn,
                            "'%.80s' has shape %s in the checkpoint, the target has %s", name,
                            tg__st_shape_str(a, sizeof a, tg_ndim(e->t), tg_shape(e->t)),
                            tg__st_shape_str(b, sizeof b, tg_ndim(t), tg_shape(t)));
    }
    *out = e;
    return TG_OK;
}

// Copies src into dst (checked to match) through the host, so any backend works.
static int copy_checked(const char *fn, const tg_tensor *src, tg_tensor *dst) {
    size_t bytes = (size_t)tg_numel(src) * tg_dtype_size(tg_dtype_of(src));
    if (!bytes) return TG_OK;
    void *host = tg_mem_alloc(bytes);
    if (!host) return tg_set_error(TG_ERR_OOM, fn, "out of memory");
    unsigned mark = tg_error_mark();
    int st = tg_copy_to_host(src, host, bytes);
    if (!st) st = tg_copy_from_host(dst, host, bytes);
    if (st) st = tg_error_context(mark, fn);
    tg_mem_free(host);
    return st;
}

int tg_checkpoint_restore(const tg_checkpoint *c, const char *name, tg_tensor *t) {
    const char *fn = "tg_checkpoint_restore";
    const ck_entry *e;
    int st = check_restore(c, fn, name, t, &e);
    return st ? st : copy_checked(fn, e->t, t);
}

int tg_checkpoint_restore_module(const tg_checkpoint *c, const char *prefix, tg_module *m) {
    const char *fn = "tg_checkpoint_restore_module";
    if (!c || !m || !prefix)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL",
                            !c ? "checkpoint" : !m ? "module" : "prefix");
    tg_tensor **ts;
    const char **names;
    int n, st;
    if ((st = tg__module_tensors(m, fn, &ts, &names, &n))) return st;
    const ck_entry **src = tg_mem_alloc((size_t)n * sizeof *src + 1);
    size_t pl = strlen(prefix), cap = 0;
    char *full = NULL;
    if (!src) st = tg_set_error(TG_ERR_OOM, fn, "out of memory");
    for (int i = 0; !st && i < n; i++) {   // check every tensor before writing any
        size_t need = pl + strlen(names[i]) + 1;
        if (need > cap) {
            char *nf = tg_mem_realloc(full, need);
            if (!nf) {
                st = tg_set_error(TG_ERR_OOM, fn, "out of memory");
                break;
            }
            full = nf;
            cap = need;
        }
        snprintf(full, need, "%s%s", prefix, names[i]);
        st = check_restore(c, fn, full, ts[i], &src[i]);
    }
    for (int i = 0; !st && i < n; i++) st = copy_checked(fn, src[i]->t, ts[i]);
    tg_mem_free(full);
    tg_mem_free(src);
    tg_mem_free(ts);
    tg_mem_free(names);
    return st;
}

// ---- random streams ----

int tg_checkpoint_add_rng(tg_checkpoint *c, const char *key, const tg_rng *rng) {
    const char *fn = "tg_checkpoint_add_rng";
    if (!c || !rng)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL", c ? "rng" : "checkpoint");
    uint64_t w[TG_RNG_STATE_WORDS];
    unsigned mark = tg_error_mark();
    if (tg_rng_get_state(rng, w)) return tg_error_context(mark, fn);
    char v[TG_RNG_STATE_WORDS * 17];   // "w0 w1 ... w5", 16 hex digits each
    for (int i = 0; i < TG_RNG_STATE_WORDS; i++)
        snprintf(v + 17 * i, sizeof v - 17 * (size_t)i, "%016" PRIx64 "%s", w[i],
                 i + 1 < TG_RNG_STATE_WORDS ? " " : "");
    int st = tg_checkpoint_set_meta(c, key, v);
    return st ? tg_error_context(mark, fn) : TG_OK;
}

static int hex_digit(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int tg_checkpoint_restore_rng(const tg_checkpoint *c, const char *key, tg_rng *rng) {
    const char *fn = "tg_checkpoint_restore_rng";
    if (!c || !key || !rng)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "%s is NULL",
                            !c ? "checkpoint" : !key ? "key" : "rng");
    int j = find_meta(c, key);
    if (j < 0)
        return tg_set_error(TG_ERR_INVALID_ARG, fn, "no metadata key '%.80s' in the checkpoint",
                            key);
    const char *v = c->meta[j].value;
    uint64_t w[TG_RNG_STATE_WORDS] = {0};
    bool ok = strlen(v) == TG_RNG_STATE_WORDS * 17 - 1;
    for (int i = 0; ok && i < TG_RNG_STATE_WORDS; i++) {
        for (int k = 0; ok && k < 16; k++) {
            int d = hex_digit(v[17 * i + k]);
            ok = d >= 0;
            w[i] = w[i] << 4 | (uint64_t)(d < 0 ? 0 : d);
        }
        ok = ok && (i == TG_RNG_STATE_WORDS - 1 || v[17 * i + 16] == ' ');
    }
    if (!ok)
        return tg_set_error(TG_ERR_INVALID_ARG, fn,
                            "'%.80s' is not an RNG state (six 16-digit hex words): '%.120s'", key,
                            v);
    unsigned mark = tg_error_mark();
    return tg_rng_set_state(rng, w) ? tg_error_context(mark, fn) : TG_OK;
}

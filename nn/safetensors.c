// Module checkpoints in the safetensors format (format details in safetensors_fmt.c).
// Saving is atomic (temp + rename). Loading parses and validates the whole file and checks
// every module tensor's name, dtype and shape BEFORE copying anything, so a bad file leaves
// the module untouched. Tensors in the file that the module lacks (e.g. PyTorch's
// num_batches_tracked) are validated and ignored.
#include <string.h>

#include "nn/data_impl.h"
#include "nn/safetensors_impl.h"

int tg__module_tensors(const tg_module *m, const char *where, tg_tensor ***ts,
                       const char ***names, int *n) {
    int np = tg_module_n_params(m), nb = tg_module_n_buffers(m);
    *n = np + nb;
    *ts = tg_mem_alloc((size_t)*n * sizeof **ts + 1);
    *names = tg_mem_alloc((size_t)*n * sizeof **names + 1);
    if (!*ts || !*names) {
        tg_mem_free(*ts);
        tg_mem_free(*names);
        return tg_set_error(TG_ERR_OOM, where, "out of memory");
    }
    for (int i = 0; i < *n; i++) {
        (*ts)[i] = i < np ? tg_module_param(m, i) : tg_module_buffer(m, i - np);
        (*names)[i] = i < np ? tg_module_param_name(m, i) : tg_module_buffer_name(m, i - np);
    }
    for (int i = 0; i < *n; i++) {
        bool bad = !(*ts)[i] || !(*names)[i];
        for (int j = 0; !bad && j < i; j++) bad = strcmp((*names)[i], (*names)[j]) == 0;
        if (bad) {
            tg_mem_free(*ts);
            tg_mem_free(*names);
            return tg_set_error(TG_ERR_STATE, where,
                                "module tensor %d ('%s') is missing or "
                                "named twice",
                                i, (*names)[i] ? (*names)[i] : "?");
        }
    }
    return TG_OK;
}

// Every module tensor has an entry of equal dtype and shape; match[i] gets its index.
static int check_match(const char *path, const tg__st_entry *es, int ne, tg_tensor *const *ts,
                       const char *const *names, int n, int *match) {
    const char *FN = "tg_load_safetensors";
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < ne && strcmp(es[j].name, names[i]) != 0) j++;
        if (j == ne)
            return tg_set_error(TG_ERR_IO, FN, "%s: tensor '%s' is missing from the file", path,
                                names[i]);
        tg_dtype dt = tg_dtype_of(ts[i]);
        int want = dt == TG_F32 ? TG__ST_F32 : TG__ST_F64;
        if (es[j].dtype != want)
            return tg_set_error(TG_ERR_DTYPE, FN,
                                "%s: tensor '%s' is %s in the file, the module "
                                "has %s",
                                path, names[i], tg__st_dtype_name(es[j].dtype),
                                tg__st_dtype_name(want));
        bool same = es[j].ndim == tg_ndim(ts[i]);
        for (int k = 0; same && k < es[j].ndim; k++) same = es[j].shape[k] == tg_shape(ts[i])[k];
        if (!same) {
            char a[160], b[160];
            return tg_set_error(TG_ERR_SHAPE, FN,
                                "%s: tensor '%s' has shape %s in the file, the "
                                "module has %s",
                                path, names[i],
                                tg__st_shape_str(a, sizeof a, es[j].ndim, es[j].shape),
                                tg__st_shape_str(b, sizeof b, tg_ndim(ts[i]), tg_shape(ts[i])));
        }
        match[i] = j;
    }
    return TG_OK;
}

int tg__load_safetensors_mem(tg_module *m, const char *name, const void *buf, size_t len) {
    const char *FN = "tg_load_safetensors";
    if (!m || !name) return tg_set_error(TG_ERR_INVALID_ARG, FN, "module or path is NULL");
    tg_tensor **ts;
    const char **names;
    int n;
    int st = tg__module_tensors(m, FN, &ts, &names, &n);
    if (st) return st;
    tg__st_file f = {0};
    int *match = tg_mem_alloc((size_t)n * sizeof *match + 1);
    st = match ? TG_OK : tg_set_error(TG_ERR_OOM, FN, "out of memory");
    if (!st) st = tg__st_parse(FN, name, buf ? buf : (const void *)"", buf ? len : 0, &f);
    if (!st) st = check_match(name, f.es, f.ne, ts, names, n, match);
    // everything is valid: only now touch the module
    for (int i = 0; !st && i < n; i++) {
        const tg__st_entry *e = &f.es[match[i]];
        st = tg_copy_from_host(ts[i], f.data + e->begin, (size_t)(e->end - e->begin));
    }
    tg__st_file_free(&f);
    tg_mem_free(match);
    tg_mem_free(ts);
    tg_mem_free(names);
    return st;
}

int tg_load_safetensors(tg_module *m, const char *path) {
    const char *FN = "tg_load_safetensors";
    if (!m || !path) return tg_set_error(TG_ERR_INVALID_ARG, FN, "module or path is NULL");
    char *buf = NULL;
    size_t len;
    int st = tg__read_file(path, FN, &buf, &len);
    if (st) return st;
    st = tg__load_safetensors_mem(m, path, buf, len);
    tg_mem_free(buf);
    return st;
}

int tg_save_safetensors(const tg_module *m, const char *path) {
    const char *FN = "tg_save_safetensors";
    if (!m || !path) return tg_set_error(TG_ERR_INVALID_ARG, FN, "module or path is NULL");
    tg_tensor **ts;
    const char **names;
    int n;
    int st = tg__module_tensors(m, FN, &ts, &names, &n);
    if (st) return st;
    const char *key = "format", *val = "pt";   // as torch's save_file writes
    st = tg__st_write(FN, path, ts, names, n, &key, &val, 1);
    tg_mem_free(ts);
    tg_mem_free(names);
    return st;
}

// tg_load_csv: numeric CSV (comma-separated, optional header line, LF or CRLF) into
// persistent tensors x [rows, cols] and y [rows]. Blank lines are skipped; every other line
// must have as many cells as the first data line, and every cell must be a number
// (strtod syntax, spaces around it allowed). Errors name the file, line and column.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/data_impl.h"

static const char *const FN = "tg_load_csv";

// The longest line read (64 MiB): a stream without newlines ends with an error, and the
// column count of a line stays far below INT_MAX.
#define TG_CSV_MAX_LINE (1 << 26)

typedef struct {
    double *v;  // values, row-major [rows, cols]
    size_t n, cap;
    int64_t rows;
    int cols;            // -1 until the first data line
    int64_t first_line;  // line number of the first data line
} table;

static bool push(table *t, double d) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        double *v = cap < ((size_t)-1) / (2 * sizeof *v) ? realloc(t->v, cap * sizeof *v) : NULL;
        if (!v) return false;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = d;
    return true;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Parses one cell [b, e) (already trimmed); false if it is not exactly one number.
static bool parse_cell(const char *b, const char *e, double *out) {
    char cell[128];
    size_t len = (size_t)(e - b);
    if (len == 0 || len >= sizeof cell) return false;
    memcpy(cell, b, len);
    cell[len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(cell, &end);
    if (end != cell + len || (errno == ERANGE && isinf(d))) return false;
    *out = d;
    return true;
}

// Parses the data line [p, eol) numbered `line` into t.
static int parse_line(table *t, const char *path, int64_t line, const char *p, const char *eol) {
    int col = 0;
    for (;;) {
        const char *c = memchr(p, ',', (size_t)(eol - p));
        const char *ce = c ? c : eol;
        const char *b = p, *e = ce;
        while (b < e && is_blank(*b)) b++;
        while (e > b && is_blank(e[-1])) e--;
        col++;
        if (t->cols >= 0 && col > t->cols)
            return tg_set_error(TG_ERR_IO, FN,
                                "%s: line %lld has more than %d columns (line %lld has %d)", path,
                                (long long)line, t->cols, (long long)t->first_line, t->cols);
        double d;
        if (b == e)
            return tg_set_error(TG_ERR_IO, FN, "%s: line %lld, column %d: empty cell", path,
                                (long long)line, col);
        if (!parse_cell(b, e, &d))
            return tg_set_error(TG_ERR_IO, FN, "%s: line %lld, column %d: '%.*s' is not a number",
                                path, (long long)line, col, (int)(e - b > 40 ? 40 : e - b), b);
        if (!push(t, d)) return tg_set_error(TG_ERR_OOM, FN, "%s: out of memory", path);
        if (!c) break;
        p = c + 1;
    }
    if (t->cols < 0) {
        t->cols = col;
        t->first_line = line;
    } else if (col != t->cols) {
        return tg_set_error(TG_ERR_IO, FN,
                            "%s: line %lld has %d columns, expected %d (as on line %lld)", path,
                            (long long)line, col, t->cols, (long long)t->first_line);
    }
    t->rows++;
    return TG_OK;
}

static int parse_text(table *t, const char *path, const char *text, size_t len, bool header) {
    const char *p = text, *end = text + len;
    int64_t line = 0;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;  // UTF-8 byte order mark
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line++;
        if ((size_t)(eol - p) > TG_CSV_MAX_LINE)
            return tg_set_error(TG_ERR_IO, FN, "%s: line %lld is longer than %d MiB", path,
                                (long long)line, TG_CSV_MAX_LINE >> 20);
        if (memchr(p, '\0', (size_t)(eol - p)))
            return tg_set_error(TG_ERR_IO, FN, "%s: line %lld holds a NUL byte: not a text file",
                                path, (long long)line);
        const char *q = p;
        while (q < eol && is_blank(*q)) q++;
        if (!(header && line == 1) && q < eol) {
            int st = parse_line(t, path, line, p, eol);
            if (st) return st;
        }
        p = eol + 1;
    }
    if (len == 0) return tg_set_error(TG_ERR_IO, FN, "%s: the file is empty", path);
    if (t->rows == 0)
        return tg_set_error(TG_ERR_IO, FN, "%s: no data lines%s", path,
                            header ? " after the header" : "");
    return TG_OK;
}

// Copies column range of the table to a new tensor of dtype (cols_out columns, or a 1-D
// tensor of the one column `only` when only >= 0).
static tg_tensor *make_tensor(const table *t, tg_backend *be, tg_dtype dtype, int skip, int only,
                              const char *path) {
    int64_t rows = t->rows;
    int64_t cols = only >= 0 ? 1 : t->cols - (skip >= 0 ? 1 : 0);
    size_t esz = tg_dtype_size(dtype);
    void *buf = malloc((size_t)(rows * cols) * esz + 1);
    if (!buf) {
        tg_set_error(TG_ERR_OOM, FN, "%s: out of memory", path);
        return NULL;
    }
    size_t k = 0;
    for (int64_t r = 0; r < rows; r++) {
        for (int c = 0; c < t->cols; c++) {
            if (only >= 0 ? c != only : c == skip) continue;
            double d = t->v[(size_t)r * (size_t)t->cols + (size_t)c];
            if (dtype == TG_F32)
                ((float *)buf)[k++] = (float)d;
            else
                ((double *)buf)[k++] = d;
        }
    }
    int64_t shape[2] = {rows, cols};
    tg_tensor *x = tg_tensor_from(be, dtype, only >= 0 ? 1 : 2, shape, buf);
    free(buf);
    return x;
}

// Arguments shared by the file and the memory entry points.
static int check_args(const char *path, tg_backend *be, tg_dtype dtype, int label_col,
                      tg_tensor **x, tg_tensor **y) {
    if (x) *x = NULL;
    if (y) *y = NULL;
    if (!path || !x) return tg_set_error(TG_ERR_INVALID_ARG, FN, "path or x is NULL");
    if (label_col != TG_NO_LABEL && !y)
        return tg_set_error(TG_ERR_INVALID_ARG, FN, "%s: y is NULL but label_col is %d", path,
                            label_col);
    if (dtype != TG_F32 && dtype != TG_F64)
        return tg_set_error(TG_ERR_DTYPE, FN, "%s: dtype must be f32 or f64", path);
    if (!be) return tg_set_error(TG_ERR_INVALID_ARG, FN, "%s: backend is NULL", path);
    return TG_OK;
}

int tg__load_csv_mem(const char *name, const char *text, size_t len, tg_backend *be,
                     tg_dtype dtype, bool header, int label_col, tg_tensor **x, tg_tensor **y) {
    int st = check_args(name, be, dtype, label_col, x, y);
    if (st) return st;
    if (!text && len) return tg_set_error(TG_ERR_INVALID_ARG, FN, "%s: text is NULL", name);
    table t = {.cols = -1};
    st = parse_text(&t, name, text ? text : "", len, header);
    int lab = -1;
    if (!st && label_col != TG_NO_LABEL) {
        lab = label_col < 0 ? t.cols + label_col : label_col;
        if (lab < 0 || lab >= t.cols)
            st = tg_set_error(TG_ERR_INVALID_ARG, FN,
                              "%s: label_col %d is out of range for %d columns", name, label_col,
                              t.cols);
        else if (t.cols < 2)
            st = tg_set_error(TG_ERR_SHAPE, FN, "%s: only the label column, no features", name);
    }
    if (!st) {
        *x = make_tensor(&t, be, dtype, lab, -1, name);
        if (*x && lab >= 0) *y = make_tensor(&t, be, dtype, -1, lab, name);
        if (!*x || (lab >= 0 && !*y)) {
            st = tg_last_status() ? (int)tg_last_status() : TG_ERR_OOM;
            tg_free(*x);
            *x = NULL;
        }
    }
    free(t.v);
    return st;
}

int tg_load_csv(const char *path, tg_backend *be, tg_dtype dtype, bool header, int label_col,
                tg_tensor **x, tg_tensor **y) {
    int st = check_args(path, be, dtype, label_col, x, y);
    if (st) return st;
    char *text;
    size_t len;
    st = tg__read_file(path, FN, &text, &len);
    if (st) return st;
    st = tg__load_csv_mem(path, text, len, be, dtype, header, label_col, x, y);
    free(text);
    return st;
}

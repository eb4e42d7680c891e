// Parser of tests/fixtures/ops_torch.txt (format in tests/fixtures/gen_ops.py). It runs in
// Criterion's runner process too (to count the cases), so it reports problems through a
// static reason string, never through assertions.
#include "torch_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TG_FIXTURES
#error "TG_FIXTURES (the tests/fixtures directory) must be defined by the build"
#endif
#define FIXTURE TG_FIXTURES "/ops_torch.txt"

// Reads "NDIM D0 .. Dn-1 V0 .. V(numel-1)" from s into a; returns 0, or -1 when malformed.
static int parse_arr(const char *s, fx_arr *a) {
    char *end;
    long nd = strtol(s, &end, 10);
    if (end == s || nd < 0 || nd > TG_MAX_DIMS) return -1;
    a->ndim = (int)nd;
    a->n = 1;
    for (int d = 0; d < a->ndim; d++) {
        s = end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0) return -1;
        a->shape[d] = v;
        a->n *= v;
    }
    a->v = malloc((size_t)(a->n ? a->n : 1) * sizeof *a->v);
    if (!a->v) return -1;
    for (int64_t i = 0; i < a->n; i++) {
        s = end;
        a->v[i] = strtod(s, &end);
        if (end == s) return -1;
    }
    while (*end == ' ') end++;
    return *end == '\0' ? 0 : -1;
}

// Applies one record line to the case being read. Returns 0, 1 at "end", -1 if malformed.
static int parse_line(char *line, fx_case *c) {
    char *sp = strchr(line, ' ');
    const char *rest = sp ? sp + 1 : "";
    if (sp) *sp = '\0';
    if (!strcmp(line, "end")) return 1;
    if (!strcmp(line, "attr")) {
        char *end;
        for (double v = strtod(rest, &end); end != rest; v = strtod(rest, &end)) {
            if (c->n_attr == FX_MAX_ATTR) return -1;
            c->attr[c->n_attr++] = v;
            rest = end;
        }
        return 0;
    }
    if (!strcmp(line, "in")) {
        if (c->n_in == FX_MAX_IN || !strchr("gni", rest[0]) || rest[1] != ' ') return -1;
        c->kind[c->n_in] = rest[0];
        return parse_arr(rest + 2, &c->in[c->n_in++]);
    }
    if (!strcmp(line, "out")) return parse_arr(rest, &c->out);
    if (!strcmp(line, "weight")) {
        c->has_weight = true;
        return parse_arr(rest, &c->weight);
    }
    if (!strcmp(line, "grad")) {
        char *end;
        long k = strtol(rest, &end, 10);
        if (end == rest || k < 0 || k >= c->n_in || c->kind[k] != 'g') return -1;
        c->has_grad[k] = true;
        return parse_arr(end, &c->grad[k]);
    }
    return -1;
}

static const fx_case *load(int *n_cases, const char **why) {
    FILE *f = fopen(FIXTURE, "r");
    if (!f) {
        *why = "cannot open " FIXTURE " (run tests/fixtures/gen_ops.py)";
        return NULL;
    }
    fx_case *cases = NULL, *c = NULL;
    int n = 0, cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    *why = NULL;
    while (!*why && (len = getline(&line, &line_cap, f)) >= 0) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        if (!c) {
            if (strncmp(line, "case ", 5) || strlen(line + 5) >= sizeof c->name) {
                *why = "malformed fixture: expected 'case NAME'";
                break;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                fx_case *grown = realloc(cases, (size_t)cap * sizeof *cases);
                if (!grown) {
                    *why = "out of memory";
                    break;
                }
                cases = grown;
            }
            c = &cases[n++];
            memset(c, 0, sizeof *c);
            strcpy(c->name, line + 5);
            size_t k = strcspn(c->name, "/");
            if (k >= sizeof c->key) k = sizeof c->key - 1;
            memcpy(c->key, c->name, k);
            continue;
        }
        int r = parse_line(line, c);
        if (r < 0) *why = "malformed fixture record";
        if (r == 1) c = NULL;
    }
    free(line);
    fclose(f);
    if (!*why && c) *why = "malformed fixture: last case has no 'end'";
    if (*why) return NULL;   // leaks the partial parse: the process reports and ends
    *n_cases = n;
    return cases;
}

const fx_case *fx_cases(int *n_cases, const char **why) {
    static const fx_case *cases;
    static int n;
    static const char *reason;
    if (!cases && !reason) cases = load(&n, &reason);
    *n_cases = cases ? n : 0;
    if (why) *why = reason;
    return cases;
}

const fx_builder *fx_builder_for(const char *key) {
    for (int i = 0; i < fx_n_builders; i++)
        if (!strcmp(fx_builders[i].key, key)) return &fx_builders[i];
    return NULL;
}

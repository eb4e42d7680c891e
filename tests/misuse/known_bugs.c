// Misuse scenarios that fail today because of bugs outside nn's file code (issue 11; the
// lead has the list, grouped by file). A listed scenario that fails is tallied as a known bug
// instead of failing its test; one that passes fails the test: delete its row with the fix.
// Rows: function, scenario (as the test names it), "file: what is wrong". Scenarios that
// crash or make a sanitizer report cannot be listed here: misuse_crash.c disables them.
#include <string.h>

#include "misuse.h"

static const struct {
    const char *fn, *what, *bug;
} KNOWN[] = {
    {NULL, NULL, NULL},   // end of the list (rows go above it)
};

const char *mu_known_bug(const char *fn, const char *what) {
    for (size_t i = 0; KNOWN[i].fn; i++)
        if (strcmp(KNOWN[i].fn, fn) == 0 && strcmp(KNOWN[i].what, what) == 0)
            return KNOWN[i].bug;
    return NULL;
}

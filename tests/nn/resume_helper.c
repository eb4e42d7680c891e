// A fresh process for the resume test (tests/nn/test_resume.c), over tests/nn/resume_util.h:
//   resume_helper full OUT           20 steps from seed 7; parameters' bytes to OUT
//   resume_helper first CKPT         10 steps from seed 7; checkpoint to CKPT
//   resume_helper resume CKPT OUT    built from seed 999, CKPT restored, on to 20 steps
//   resume_helper resume-norng ...   the same without restoring the rng
// Exit 0 on success, 1 with the library's error on stderr.
#include <string.h>

#include "resume_util.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: resume_helper full|first|resume|resume-norng PATH [OUT]\n");
        return 2;
    }
    const char *mode = argv[1];
    bool resume = strncmp(mode, "resume", 6) == 0;
    if (resume && argc < 4) return 2;
    ru_run r = {0};
    int st = ru_build(&r, resume ? 999 : 7);
    if (!st && resume) st = ru_restore(&r, argv[2], strcmp(mode, "resume") == 0);
    if (!st) st = ru_train(&r, strcmp(mode, "first") == 0 ? 10 : 20);
    if (!st) st = strcmp(mode, "first") == 0 ? ru_save(&r, argv[2])
                                             : ru_dump(&r, resume ? argv[3] : argv[2]);
    if (st) fprintf(stderr, "resume_helper %s: %s\n", mode, tg_last_error());
    ru_free(&r);
    return st ? 1 : 0;
}

// Out of memory everywhere (core/alloc.c's TG_FAIL_ALLOC_AFTER hook): tests/core/
// oom_scenario.c (build an MLP, one SGD-momentum and one Adam step, save a checkpoint) runs
// once per allocation it makes, with that allocation failing, and with it and every later
// one failing. Each run must either finish cleanly or fail with TG_ERR_OOM (not another
// status, not a success with an error left pending, not a crash), and free everything it
// built (a refused free fails; in a sanitizer build LeakSanitizer fails the run on a leak).
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#ifndef TG_OOM_SCENARIO
#error "TG_OOM_SCENARIO (the oom_scenario program) must be defined by the build"
#endif

extern char **environ;

typedef struct run_result {
    int code;          // exit status, or 128 + signal
    char out[2048];    // stdout and stderr, truncated
} run_result;

// Runs the scenario with allocations failing after `after` (none when after < 0).
static run_result run_scenario(const char *dir, long long after, bool once) {
    run_result r = {.code = -1};
    char log[4200], env_after[64], env_once[32];
    snprintf(log, sizeof log, "%s/log.txt", dir);
    snprintf(env_after, sizeof env_after, "TG_FAIL_ALLOC_AFTER=%lld", after);
    snprintf(env_once, sizeof env_once, "TG_FAIL_ALLOC_ONCE=%d", once ? 1 : 0);
    int n_env = 0;
    while (environ[n_env]) n_env++;
    char **env = calloc((size_t)n_env + 3, sizeof *env);
    cr_assert_not_null(env);
    int k = 0;
    for (int i = 0; i < n_env; i++)
        if (strncmp(environ[i], "TG_FAIL_ALLOC_", 14) != 0) env[k++] = environ[i];
    if (after >= 0) env[k++] = env_after, env[k++] = env_once;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {TG_OOM_SCENARIO, (char *)dir, NULL};
    pid_t pid;
    int st = posix_spawn(&pid, TG_OOM_SCENARIO, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    cr_assert_eq(st, 0, "cannot run %s: %s", TG_OOM_SCENARIO, strerror(st));
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    r.code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    FILE *f = fopen(log, "r");
    if (f) {
        size_t got = fread(r.out, 1, sizeof r.out - 1, f);
        r.out[got] = '\0';
        fclose(f);
    }
    return r;
}

// Every run from allocation 1 up to the clean run's count, in one mode.
static void sweep(const char *dir, long long total, bool once) {
    int failures = 0, ooms = 0;
    for (long long after = 0; after < total && failures < 5; after++) {
        run_result r = run_scenario(dir, after, once);
        if (r.code == 10) ooms++;
        if (r.code != 0 && r.code != 10) failures++;
        cr_expect(r.code == 0 || r.code == 10,
                  "allocation %lld failing%s: exit %d (want 10: TG_ERR_OOM, or 0):\n%s",
                  after + 1, once ? " (only it)" : " (and all later ones)", r.code, r.out);
    }
    cr_expect_gt(ooms, 0, "no run failed: the hook did not fail any allocation");
}

static void scenario_dir(char *dir) {
    strcpy(dir, "/tmp/tg-oom-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/log.txt", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/net.safetensors", dir);
    unlink(p);
    rmdir(dir);
}

// The clean run's allocation count: how many runs the sweep makes.
static long long clean_run(const char *dir) {
    run_result r = run_scenario(dir, -1, false);
    cr_assert_eq(r.code, 0, "the scenario fails without any failing allocation:\n%s", r.out);
    long long total = -1;
    const char *at = strstr(r.out, "allocations ");
    cr_assert(at && sscanf(at, "allocations %lld", &total) == 1, "no count in:\n%s", r.out);
    cr_assert_gt(total, 10);
    return total;
}

Test(oom, every_allocation_running_out_for_good_is_reported, .timeout = 600) {
    char dir[32];
    scenario_dir(dir);
    sweep(dir, clean_run(dir), false);
    remove_dir(dir);
}

Test(oom, every_single_failed_allocation_is_reported_or_absorbed, .timeout = 600) {
    char dir[32];
    scenario_dir(dir);
    sweep(dir, clean_run(dir), true);
    remove_dir(dir);
}

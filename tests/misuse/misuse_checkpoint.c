// Misuse scenarios of the general checkpoints (data.h tg_checkpoint_*), the optimizer's
// state in them (optim.h) and the RNG state (tensor.h).
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "misuse.h"

static char dir[64];

static const char *at(const char *name) {
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static void mk_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/tg_misuse_ck_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_dir(void) {
    const char *names[3] = {"c.st", "bad.st", "i64.st"};
    for (int i = 0; i < 3; i++) unlink(at(names[i]));
    rmdir(dir);
}

Test(misuse, checkpoint_building) {
    tg_checkpoint *c = tg_checkpoint_new();
    mu_quiet("tg_checkpoint_new", c != NULL, "takes no input");
    tg_checkpoint_free(NULL);
    mu_quiet("tg_checkpoint_free", true, "NULL is a no-op");
    const char *fn = "tg_checkpoint_add";
    tg_tensor *step = tg_add(mu.tape, mu.a, mu.b);
    mu_fail(fn, tg_checkpoint_add(NULL, "a", mu.a), "NULL checkpoint");
    mu_fail(fn, tg_checkpoint_add(c, NULL, mu.a), "NULL name");
    mu_fail(fn, tg_checkpoint_add(c, "", mu.a), "empty name");
    mu_fail(fn, tg_checkpoint_add(c, "bad\xff", mu.a), "name not UTF-8");
    mu_fail(fn, tg_checkpoint_add(c, "__metadata__", mu.a), "reserved name");
    mu_fail(fn, tg_checkpoint_add(c, "a", NULL), "NULL tensor");
    mu_fail(fn, tg_checkpoint_add(c, "a", mu.stale), "stale tensor");
    mu_fail(fn, tg_checkpoint_add(c, "a", step), "step tensor");
    cr_assert_eq(tg_checkpoint_add(c, "a", mu.a), TG_OK);
    mu_fail(fn, tg_checkpoint_add(c, "a", mu.b), "name twice");
    fn = "tg_checkpoint_add_module";
    tg_module *m = tg_linear(mu.be, TG_F32, 2, 3, true, mu.rng);
    mu_fail(fn, tg_checkpoint_add_module(NULL, "", m), "NULL checkpoint");
    mu_fail(fn, tg_checkpoint_add_module(c, NULL, m), "NULL prefix");
    mu_fail(fn, tg_checkpoint_add_module(c, "", NULL), "NULL module");
    mu_fail(fn, tg_checkpoint_add_module(c, "\xc0", m), "prefix not UTF-8");
    cr_assert_eq(tg_checkpoint_add_module(c, "m.", m), TG_OK);
    mu_fail(fn, tg_checkpoint_add_module(c, "m.", m), "names twice");
    fn = "tg_checkpoint_set_meta";
    mu_fail(fn, tg_checkpoint_set_meta(NULL, "k", "v"), "NULL checkpoint");
    mu_fail(fn, tg_checkpoint_set_meta(c, NULL, "v"), "NULL key");
    mu_fail(fn, tg_checkpoint_set_meta(c, "", "v"), "empty key");
    mu_fail(fn, tg_checkpoint_set_meta(c, "k", NULL), "NULL value");
    mu_fail(fn, tg_checkpoint_set_meta(c, "k", "\xe2\x82"), "value not UTF-8");
    fn = "tg_checkpoint_add_rng";
    mu_fail(fn, tg_checkpoint_add_rng(NULL, "r", mu.rng), "NULL checkpoint");
    mu_fail(fn, tg_checkpoint_add_rng(c, "r", NULL), "NULL rng");
    mu_fail(fn, tg_checkpoint_add_rng(c, NULL, mu.rng), "NULL key");
    tg_checkpoint_free(c);
    tg_module_free(m);
}

Test(misuse, checkpoint_files_and_restores, .init = mk_dir, .fini = rm_dir) {
    tg_checkpoint *c = tg_checkpoint_new();
    cr_assert_eq(tg_checkpoint_add(c, "a", mu.a), TG_OK);
    cr_assert_eq(tg_checkpoint_set_meta(c, "r", "not an rng"), TG_OK);
    const char *fn = "tg_checkpoint_save";
    mu_fail(fn, tg_checkpoint_save(NULL, at("c.st")), "NULL checkpoint");
    mu_fail(fn, tg_checkpoint_save(c, NULL), "NULL path");
    mu_fail(fn, tg_checkpoint_save(c, "/nonexistent-dir/c.st"), "missing directory");
    mu_fail(fn, tg_checkpoint_save(c, dir), "a directory");
    cr_assert_eq(tg_checkpoint_save(c, at("c.st")), TG_OK, "%s", tg_last_error());
    fn = "tg_checkpoint_load";
    mu_null(fn, tg_checkpoint_load(NULL), "NULL path");
    mu_null(fn, tg_checkpoint_load(at("none.st")), "missing file");
    mu_null(fn, tg_checkpoint_load(dir), "a directory");
    mu_null(fn, tg_checkpoint_load("/dev/null"), "/dev/null");
    FILE *f = fopen(at("bad.st"), "wb");
    cr_assert_not_null(f);
    fputs("\x10\0\0\0\0\0\0\0{\"__metadata__\":", f);
    fclose(f);
    mu_null(fn, tg_checkpoint_load(at("bad.st")), "truncated header");
    tg_checkpoint *l = tg_checkpoint_load(at("c.st"));
    cr_assert_not_null(l, "%s", tg_last_error());
    fn = "tg_checkpoint_get";
    mu_null(fn, tg_checkpoint_get(NULL, "a"), "NULL checkpoint");
    mu_null(fn, tg_checkpoint_get(l, NULL), "NULL name");
    mu_null(fn, tg_checkpoint_get(l, "b"), "missing name");
    fn = "tg_checkpoint_meta";
    mu_null(fn, tg_checkpoint_meta(NULL, "r"), "NULL checkpoint");
    mu_null(fn, tg_checkpoint_meta(l, NULL), "NULL key");
    mu_null(fn, tg_checkpoint_meta(l, "nokey"), "missing key");
    fn = "tg_checkpoint_restore";
    mu_fail(fn, tg_checkpoint_restore(NULL, "a", mu.b), "NULL checkpoint");
    mu_fail(fn, tg_checkpoint_restore(l, NULL, mu.b), "NULL name");
    mu_fail(fn, tg_checkpoint_restore(l, "a", NULL), "NULL tensor");
    mu_fail(fn, tg_checkpoint_restore(l, "a", mu.stale), "stale tensor");
    mu_fail(fn, tg_checkpoint_restore(l, "a", mu.d), "f32 into f64");
    mu_fail(fn, tg_checkpoint_restore(l, "a", mu.m), "[2,3] into [3,2]");
    mu_fail(fn, tg_checkpoint_restore(l, "b", mu.b), "missing name");
    fn = "tg_checkpoint_restore_module";
    tg_module *m = tg_linear(mu.be, TG_F32, 2, 3, true, mu.rng);
    mu_fail(fn, tg_checkpoint_restore_module(NULL, "", m), "NULL checkpoint");
    mu_fail(fn, tg_checkpoint_restore_module(l, NULL, m), "NULL prefix");
    mu_fail(fn, tg_checkpoint_restore_module(l, "", NULL), "NULL module");
    mu_fail(fn, tg_checkpoint_restore_module(l, "", m), "names missing");
    fn = "tg_checkpoint_restore_rng";
    mu_fail(fn, tg_checkpoint_restore_rng(NULL, "r", mu.rng), "NULL checkpoint");
    mu_fail(fn, tg_checkpoint_restore_rng(l, NULL, mu.rng), "NULL key");
    mu_fail(fn, tg_checkpoint_restore_rng(l, "r", NULL), "NULL rng");
    mu_fail(fn, tg_checkpoint_restore_rng(l, "r", mu.rng), "not an rng state");
    mu_fail(fn, tg_checkpoint_restore_rng(l, "q", mu.rng), "missing key");
    tg_module_free(m);
    tg_checkpoint_free(l);
    tg_checkpoint_free(c);
}

Test(misuse, rng_state) {
    uint64_t s[TG_RNG_STATE_WORDS];
    const char *fn = "tg_rng_get_state";
    mu_fail(fn, tg_rng_get_state(NULL, s), "NULL rng");
    mu_fail(fn, tg_rng_get_state(mu.rng, NULL), "NULL out");
    cr_assert_eq(tg_rng_get_state(mu.rng, s), TG_OK);
    fn = "tg_rng_set_state";
    mu_fail(fn, tg_rng_set_state(NULL, s), "NULL rng");
    mu_fail(fn, tg_rng_set_state(mu.rng, NULL), "NULL state");
    uint64_t zero[TG_RNG_STATE_WORDS] = {0};
    mu_fail(fn, tg_rng_set_state(mu.rng, zero), "all-zero state");
    uint64_t flag[TG_RNG_STATE_WORDS] = {1, 2, 3, 4, 2, 0};
    mu_fail(fn, tg_rng_set_state(mu.rng, flag), "spare flag 2");
    uint64_t nan[TG_RNG_STATE_WORDS] = {1, 2, 3, 4, 1, 0x7ff8000000000000ull};
    mu_fail(fn, tg_rng_set_state(mu.rng, nan), "NaN spare");
    uint64_t stray[TG_RNG_STATE_WORDS] = {1, 2, 3, 4, 0, 5};
    mu_fail(fn, tg_rng_set_state(mu.rng, stray), "spare bits without a spare");
}

Test(misuse, optimizer_state) {
    tg_tensor *ps[2] = {mu.a, mu.b};
    tg_optim *adam = tg_adam(2, ps, 0.1), *sgd = tg_sgd(2, ps, 0.1, 0.9);
    tg_optim *one = tg_adam(1, ps, 0.1);
    cr_assert(adam && sgd && one);
    tg_checkpoint *c = tg_checkpoint_new();
    const char *fn = "tg_optim_save_state";
    mu_fail(fn, tg_optim_save_state(NULL, c, ""), "NULL optimizer");
    mu_fail(fn, tg_optim_save_state(adam, NULL, ""), "NULL checkpoint");
    mu_fail(fn, tg_optim_save_state(adam, c, NULL), "NULL prefix");
    mu_fail(fn, tg_optim_save_state(adam, c, "\xff"), "prefix not UTF-8");
    cr_assert_eq(tg_optim_save_state(adam, c, "o."), TG_OK, "%s", tg_last_error());
    fn = "tg_optim_load_state";
    mu_fail(fn, tg_optim_load_state(NULL, c, "o."), "NULL optimizer");
    mu_fail(fn, tg_optim_load_state(adam, NULL, "o."), "NULL checkpoint");
    mu_fail(fn, tg_optim_load_state(adam, c, NULL), "NULL prefix");
    mu_fail(fn, tg_optim_load_state(adam, c, "x."), "missing metadata");
    mu_fail(fn, tg_optim_load_state(sgd, c, "o."), "Adam state into SGD");
    mu_fail(fn, tg_optim_load_state(one, c, "o."), "2 parameters' state into 1");
    tg_checkpoint_set_meta(c, "o.lr", "NaN");
    mu_fail(fn, tg_optim_load_state(adam, c, "o."), "lr NaN");
    tg_checkpoint_set_meta(c, "o.lr", "0.1x");
    mu_fail(fn, tg_optim_load_state(adam, c, "o."), "lr not a number");
    tg_checkpoint_set_meta(c, "o.lr", "0.1");
    tg_checkpoint_set_meta(c, "o.amsgrad", "yes");
    mu_fail(fn, tg_optim_load_state(adam, c, "o."), "amsgrad 'yes'");
    tg_checkpoint_set_meta(c, "o.amsgrad", "false");
    tg_checkpoint_set_meta(c, "o.steps", "1,-1");
    mu_fail(fn, tg_optim_load_state(adam, c, "o."), "steps -1");
    tg_checkpoint_set_meta(c, "o.steps", "1");
    mu_fail(fn, tg_optim_load_state(adam, c, "o."), "one step count for 2 parameters");
    tg_checkpoint_set_meta(c, "o.steps", "1,1");
    mu_fail(fn, tg_optim_load_state(adam, c, "o."), "moments missing");
    tg_checkpoint_free(c);
    tg_optim_free(adam);
    tg_optim_free(sgd);
    tg_optim_free(one);
}

// Tests for nn/progress.c: exact LINES output under a fake clock, LIVE redraws, the mode
// chosen for a pipe and for a pseudo-terminal, SILENT, errors, and no allocation per update.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

#include "test_util.h"

// ---- helpers ----

// A clock the test moves by hand; times are multiples of 1/64 s, exact in binary.
typedef struct fake_clock {
    double t;
} fake_clock;

static double fake_now(void *user) { return ((fake_clock *)user)->t; }

static tg_progress_opts fake_opts(fake_clock *c, tg_progress_mode mode) {
    tg_progress_opts o = tg_progress_opts_default();
    o.mode = mode;
    o.clock = fake_now;
    o.clock_user = c;
    return o;
}

// Everything written to f so far (f from tmpfile()).
static const char *contents(FILE *f) {
    static char buf[8192];
    fflush(f);
    long at = ftell(f);
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fseek(f, at, SEEK_SET);
    return buf;
}

static void expect_text(FILE *f, const char *want) {
    const char *got = contents(f);
    cr_expect_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
}

// ---- LINES ----

// 700 epochs at 64 per second: a line at every 10 % (70, 140, ...), none at 700, then the
// closing line. The loss is the epoch number / 1000.
Test(progress, lines_every_ten_percent) {
    FILE *f = tmpfile();
    fake_clock c = {100};
    tg_progress_opts o = fake_opts(&c, TG_PROGRESS_AUTO);   // a file: LINES
    o.unit = "epochs";
    tg_progress *p = tg_progress_new(f, "moons", 700, &o);
    cr_assert_not_null(p, "%s", tg_last_error());
    for (int e = 1; e <= 700; e++) {
        c.t = 100 + e / 64.0;
        cr_assert_eq(tg_progress_update(p, e, e / 1000.0), TG_OK, "%s", tg_last_error());
    }
    cr_assert_eq(tg_progress_finish(p), TG_OK);
    cr_assert_eq(tg_progress_finish(p), TG_OK, "a second finish does nothing");
    tg_progress_free(p);
    expect_text(f, "moons 70/700 10% | 64.0 epochs/s | ETA 9.8s | loss 0.07\n"
                   "moons 140/700 20% | 64.0 epochs/s | ETA 8.8s | loss 0.14\n"
                   "moons 210/700 30% | 64.0 epochs/s | ETA 7.7s | loss 0.21\n"
                   "moons 280/700 40% | 64.0 epochs/s | ETA 6.6s | loss 0.28\n"
                   "moons 350/700 50% | 64.0 epochs/s | ETA 5.5s | loss 0.35\n"
                   "moons 420/700 60% | 64.0 epochs/s | ETA 4.4s | loss 0.42\n"
                   "moons 490/700 70% | 64.0 epochs/s | ETA 3.3s | loss 0.49\n"
                   "moons 560/700 80% | 64.0 epochs/s | ETA 2.2s | loss 0.56\n"
                   "moons 630/700 90% | 64.0 epochs/s | ETA 1.1s | loss 0.63\n"
                   "moons 700/700 100% | 64.0 epochs/s | done in 10.9s | loss 0.7\n");
    fclose(f);
}

// Unknown total: a line when interval_s passed since the last one; elapsed time instead of
// an ETA; no metric when its name is NULL; minutes and hours formatted as M:SS, H:MM:SS.
Test(progress, lines_by_time_without_total) {
    FILE *f = tmpfile();
    fake_clock c = {0};
    tg_progress_opts o = fake_opts(&c, TG_PROGRESS_LINES);
    o.interval_s = 30;
    o.metric = NULL;
    o.unit = "img";
    tg_progress *p = tg_progress_new(f, NULL, 0, &o);
    cr_assert_not_null(p);
    for (int s = 1; s <= 100; s++) {   // 128 images per second
        c.t = s;
        cr_assert_eq(tg_progress_update(p, 128 * s, 1.0), TG_OK);
    }
    c.t = 4000;
    tg_progress_update(p, 512000, 1.0);
    tg_progress_finish(p);
    tg_progress_free(p);
    expect_text(f, "3840 img | 128 img/s | 30.0s\n"
                   "7680 img | 128 img/s | 1:00\n"
                   "11520 img | 128 img/s | 1:30\n"
                   "512000 img | 128 img/s | 1:06:40\n"
                   "512000 img | 128 img/s | done in 1:06:40\n");
    fclose(f);
}

// Percent steps and the time limit together, a skipped step, no update at time 0, NaN loss.
Test(progress, lines_percent_or_time) {
    FILE *f = tmpfile();
    fake_clock c = {0};
    tg_progress_opts o = fake_opts(&c, TG_PROGRESS_LINES);
    o.percent = 25;
    o.interval_s = 10;
    tg_progress *p = tg_progress_new(f, "fit", 8, &o);
    c.t = 0;
    tg_progress_update(p, 1, 0.5);    // nothing: no step, no time passed
    c.t = 12;
    tg_progress_update(p, 1, 0.25);   // 10 s passed
    c.t = 13;
    tg_progress_update(p, 5, 0.125);  // 62 %: past 25 and 50 at once, one line
    c.t = 14;
    tg_progress_update(p, 5, NAN);    // nothing new
    c.t = 16;
    tg_progress_update(p, 6, NAN);    // 75 %
    tg_progress_finish(p);
    tg_progress_free(p);
    expect_text(f, "fit 1/8 12% | 0.08 it/s | ETA 1:24 | loss 0.25\n"
                   "fit 5/8 62% | 0.38 it/s | ETA 7.8s | loss 0.125\n"
                   "fit 6/8 75% | 0.38 it/s | ETA 5.3s | loss nan\n"
                   "fit 6/8 75% | 0.38 it/s | done in 16.0s | loss nan\n");
    fclose(f);
}

// A pipe is not a terminal: AUTO writes whole lines, each flushed (readable at once).
Test(progress, pipe_gets_flushed_lines) {
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    FILE *w = fdopen(fd[1], "w");
    fake_clock c = {0};
    tg_progress_opts o = fake_opts(&c, TG_PROGRESS_AUTO);
    tg_progress *p = tg_progress_new(w, "pipe", 10, &o);
    c.t = 2;
    tg_progress_update(p, 1, 3.0);
    char buf[256] = {0};
    cr_assert_gt(read(fd[0], buf, sizeof buf - 1), 0, "nothing reached the pipe");
    cr_expect_str_eq(buf, "pipe 1/10 10% | 0.50 it/s | ETA 18.0s | loss 3\n");
    tg_progress_free(p);
    fclose(w);
    close(fd[0]);
}

// ---- LIVE ----

// Redraws with '\r' at most every refresh_s, blanks the rest of a longer previous line,
// keeps a log line above the live one, and ends with a newline.
Test(progress, live_redraws_in_place) {
    FILE *f = tmpfile();
    fake_clock c = {0};
    tg_progress_opts o = fake_opts(&c, TG_PROGRESS_LIVE);
    o.refresh_s = 0.5;
    o.width = 60;
    tg_progress *p = tg_progress_new(f, "t", 4, &o);
    c.t = 1;
    tg_progress_update(p, 1, 10.5);   // first: drawn
    c.t = 1.25;
    tg_progress_update(p, 2, 1.0);    // within refresh_s: not drawn
    c.t = 2;
    tg_progress_update(p, 2, 1.0);    // drawn, shorter than the last: padded
    tg_progress_log(p, "epoch %d", 2);
    c.t = 4;
    tg_progress_finish(p);
    tg_progress_free(p);
    expect_text(f, "\rt 1/4 25% | 1.00 it/s | ETA 3.0s | loss 10.5"
                   "\rt 2/4 50% | 1.00 it/s | ETA 2.0s | loss 1   "   // 3 blanks
                   "\r                                         \r"   // 41 blanks
                   "epoch 2\n"
                   "\rt 2/4 50% | 1.00 it/s | ETA 2.0s | loss 1"
                   "\rt 2/4 50% | 0.50 it/s | done in 4.0s | loss 1\n");
    fclose(f);
}

// A line longer than the width is cut (it would wrap and '\r' could not redraw it); free
// without finish ends the live line.
Test(progress, live_cut_to_width) {
    FILE *f = tmpfile();
    fake_clock c = {0};
    tg_progress_opts o = fake_opts(&c, TG_PROGRESS_LIVE);
    o.width = 12;
    tg_progress *p = tg_progress_new(f, "a-long-label", 4, &o);
    c.t = 1;
    tg_progress_update(p, 1, 1.0);
    tg_progress_free(p);
    expect_text(f, "\ra-long-label\n");
    fclose(f);
}

// A pseudo-terminal is a terminal: AUTO draws a live line, as wide as the terminal less one.
Test(progress, pty_gets_live_line) {
    int master, slave;
    struct winsize ws = {.ws_row = 24, .ws_col = 30};
    if (openpty(&master, &slave, NULL, NULL, &ws) != 0) cr_skip_test("openpty failed");
    struct termios tio;
    cr_assert_eq(tcgetattr(slave, &tio), 0);
    tio.c_oflag &= ~(tcflag_t)OPOST;   // no "\n" -> "\r\n" translation
    cr_assert_eq(tcsetattr(slave, TCSANOW, &tio), 0);
    FILE *tty = fdopen(slave, "w");
    fake_clock c = {0};
    tg_progress_opts o = fake_opts(&c, TG_PROGRESS_AUTO);
    tg_progress *p = tg_progress_new(tty, "pty", 10, &o);
    c.t = 1;
    tg_progress_update(p, 5, 0.25);
    tg_progress_finish(p);
    tg_progress_free(p);
    char buf[512] = {0};
    size_t n = 0;
    struct pollfd pfd = {.fd = master, .events = POLLIN};
    while (n < sizeof buf - 1 && poll(&pfd, 1, 200) > 0) {
        ssize_t k = read(master, buf + n, sizeof buf - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        if (buf[n - 1] == '\n') break;
    }
    cr_expect_str_eq(buf, "\rpty 5/10 50% | 5.00 it/s | ET"
                          "\rpty 5/10 50% | 5.00 it/s | do\n");
    fclose(tty);
    close(master);
}

// ---- SILENT, errors, allocation ----

Test(progress, silent_writes_only_log_lines) {
    FILE *f = tmpfile();
    tg_progress_opts o = tg_progress_opts_default();
    o.mode = TG_PROGRESS_SILENT;
    tg_progress *p = tg_progress_new(f, "quiet", 3, &o);
    for (int i = 1; i <= 3; i++) cr_assert_eq(tg_progress_update(p, i, 1.0), TG_OK);
    cr_assert_eq(tg_progress_log(p, "result %.2f", 0.5), TG_OK);
    cr_assert_eq(tg_progress_finish(p), TG_OK);
    tg_progress_free(p);
    expect_text(f, "result 0.50\n");
    fclose(f);
}

Test(progress, bad_arguments) {
    tg_progress_opts o = tg_progress_opts_default();
    cr_expect_null(tg_progress_new(NULL, "x", -1, &o));
    cr_expect_eq(tg_last_status(), TG_ERR_INVALID_ARG);
    cr_expect(strstr(tg_last_error(), "tg_progress_new: total -1 < 0"), "%s", tg_last_error());
    tg_clear_error();
    o.mode = TG_PROGRESS_MODE_COUNT;
    cr_expect_null(tg_progress_new(NULL, "x", 1, &o));
    cr_expect(strstr(tg_last_error(), "unknown mode"), "%s", tg_last_error());
    tg_clear_error();
    o = tg_progress_opts_default();
    o.percent = 150;
    cr_expect_null(tg_progress_new(NULL, "x", 1, &o));
    tg_clear_error();
    o.percent = NAN;
    cr_expect_null(tg_progress_new(NULL, "x", 1, &o));
    tg_clear_error();
    cr_expect_eq(tg_progress_update(NULL, 1, 0), TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_progress_log(NULL, "x"), TG_ERR_INVALID_ARG);
    cr_expect_eq(tg_progress_finish(NULL), TG_ERR_INVALID_ARG);
    tg_progress_free(NULL);
    tg_clear_error();
    FILE *f = tmpfile();
    tg_progress *p = tg_progress_new(f, "x", 1, NULL);
    cr_expect_eq(tg_progress_update(p, -1, 0), TG_ERR_INVALID_ARG);
    tg_clear_error();
    tg_progress_finish(p);
    cr_expect_eq(tg_progress_update(p, 1, 0), TG_ERR_STATE);
    cr_expect(strstr(tg_last_error(), "tg_progress_update: 'x' already finished"), "%s",
              tg_last_error());
    tg_clear_error();
    tg_progress_free(p);
    fclose(f);
}

// A stream that cannot be written (a full disk: /dev/full) gives TG_ERR_IO.
Test(progress, write_error_reported) {
    FILE *f = fopen("/dev/full", "w");
    if (!f) cr_skip_test("no /dev/full");
    tg_progress_opts o = tg_progress_opts_default();
    o.mode = TG_PROGRESS_LINES;
    tg_progress *p = tg_progress_new(f, "full", 2, &o);
    cr_expect_eq(tg_progress_update(p, 1, 1.0), TG_ERR_IO);
    cr_expect(strstr(tg_last_error(), "tg_progress_update: write error"), "%s", tg_last_error());
    tg_clear_error();
    tg_progress_free(p);
    fclose(f);
}

// Updates (drawn or not, in every mode) make no heap allocation once the stream's buffer
// exists.
Test(progress, no_allocation_per_update) {
    FILE *f = tmpfile();
    fake_clock c = {0};
    tg_progress_mode modes[3] = {TG_PROGRESS_LINES, TG_PROGRESS_LIVE, TG_PROGRESS_SILENT};
    for (int m = 0; m < 3; m++) {
        tg_progress_opts o = fake_opts(&c, modes[m]);
        o.refresh_s = 0;
        tg_progress *p = tg_progress_new(f, "alloc", 100000, &o);
        c.t += 1;
        tg_progress_update(p, 1, 1.0);
        tg_progress_log(p, "start");   // the stream's buffer exists after a first write
        size_t before = mallinfo2().uordblks;
        for (int i = 2; i <= 5000; i++) {
            c.t += 0.25;
            cr_assert_eq(tg_progress_update(p, i, 1.0 / i), TG_OK);
        }
        tg_progress_log(p, "step %d", 5000);
        cr_expect_eq(mallinfo2().uordblks, before, "mode %d allocated", m);
        tg_progress_free(p);
    }
    fclose(f);
}

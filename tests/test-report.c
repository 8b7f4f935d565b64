/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `corral report` against a workload that measures its own life and the pauses it cannot
 * see (life-probe): the report's wall and frozen time agree with it within 50 ms,
 * whichever command made the instance's first ledger row (run's final record, `corral
 * sample`, `corral freeze` of the instance), and for freezes of the instance, its workload
 * and its class; while it runs, the estimate of its start agrees with when the kernel
 * created it. Runs the real binary against the test root, with a ledger in a temporary
 * directory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accounting/ledger.h"
#include "accounting/sample.h"
#include "accounting/when.h"
#include "controllers/freezer.h"
#include "core/fileio.h"
#include "tests/helpers.h"
#include "tests/report-helpers.h"

#define NS  RH_NS
#define MS  RH_MS
#define TOL (50 * MS) /* the agreement asked of wall and frozen time */

static char stop_file[160], probe[512];
static pid_t bg = -1;
static int bg_out = -1; /* the probe's output, through corral run */
static bool class_frozen;

static void freeze_class(bool on);

static void setup(void)
{
    rh_setup();
    snprintf(probe, sizeof(probe), "%s/tests/life-probe", rh_build);
    snprintf(stop_file, sizeof(stop_file), "%s/stop", rh_tmpdir);
}

static void teardown(void)
{
    if (class_frozen)
        freeze_class(false);
    if (bg > 0) { /* let the probe end, then the run */
        (void)rh_put_file(stop_file, "");
        for (int i = 0; i < 500 && waitpid(bg, NULL, WNOHANG) == 0; i++)
            usleep(10000);
        th_kill_wait(bg);
    }
    bg = -1;
    if (bg_out >= 0)
        close(bg_out);
    bg_out = -1;
    rh_teardown();
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 300);

static void need_binary(void)
{
    th_require_cgroups();
    rh_need_corral();
    if (access(probe, X_OK) != 0)
        cr_skip_test("life-probe not built");
    (void)th_ctx();
}

/* Reads fd up to n lines (or its end) within 30 s: the text, malloc'ed. */
static char *read_lines(int fd, int n)
{
    char *buf = NULL, c;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    const bool to_end = n == INT_MAX;

    while (n > 0 && poll(&p, 1, 30000) == 1 && read(fd, &c, 1) == 1) {
        fputc(c, f);
        n -= c == '\n';
    }
    fclose(f);
    cr_assert(n <= 0 || to_end, "the probe said nothing within 30 s: '%s'", buf);
    return buf;
}

/* ---- the probe ---- */

/* The time span of a freeze as the commands saw it: from before the freeze was asked to
 * after the thaw returned. A pause the probe saw must lie inside one of them. */
struct window {
    uint64_t a, b;
};

static void freeze_class(bool on)
{
    struct acct_ledger *l = NULL;
    struct cg_group *g = NULL;
    struct ctl_freeze_stuck stuck;
    struct acct_group ag;
    struct cg_err e = {0};
    uint64_t t;
    int r;

    cr_assert_eq(cg_group_open(th_ctx(), "normal", false, &g, NULL, &e), 0, "%s", e.detail);
    r = on ? ctl_freezer_freeze(g, 10000000, &stuck, &e) : ctl_freezer_thaw(g, 10000000, &e);
    t = acct_now_ns(); /* confirmed by the kernel: recorded as corral's commands do (cli/hooks.c) */
    cr_assert_eq(r, 0, "%s", e.detail);
    class_frozen = on;
    cr_assert_eq(acct_group_from_cg(g, NULL, &ag), 0);
    cr_assert_eq(acct_ledger_open(rh_ledger, ACCT_LEDGER_SHORT_LIVED, &l, &e), 0, "%s", e.detail);
    cr_assert_eq(acct_record_event(l, &ag, on ? ACCT_EVENT_FREEZE : ACCT_EVENT_THAW, t, &e), 0,
                 "%s", e.detail);
    acct_ledger_close(l);
    cg_group_free(g);
}

/* Freezes target ("normal" is the class, through the library) for about 0.8 s. */
static struct window pause_of(const char *target)
{
    struct window w = {.a = acct_now_ns()};

    if (strcmp(target, "normal") == 0)
        freeze_class(true);
    else
        cr_assert_eq(rh_run(NULL, NULL, RH_ARGS("freeze", target)), 0, "freeze %s", target);
    usleep(800000);
    if (strcmp(target, "normal") == 0)
        freeze_class(false);
    else
        cr_assert_eq(rh_run(NULL, NULL, RH_ARGS("thaw", target)), 0, "thaw %s", target);
    w.b = acct_now_ns();
    return w;
}

/* The instance's group name under normal/w (the run's only one). */
static char *instance_name(void)
{
    struct cg_group *w = NULL;
    char **kids = NULL, *name;
    struct cg_err e = {0};

    cr_assert_eq(cg_group_open(th_ctx(), "normal/w", false, &w, NULL, &e), 0, "%s", e.detail);
    cr_assert_eq(cg_group_children(w, &kids), 0);
    cr_assert(kids[0] && !kids[1], "one instance expected");
    name = strdup(kids[0]);
    cg_strv_free(kids);
    cg_group_free(w);
    return name;
}

static void expect_near(uint64_t got, uint64_t want, const char *what)
{
    uint64_t d = got > want ? got - want : want - got;
    cr_log_info("%s: off by %.1f ms", what, (double)d / MS);
    cr_expect_leq(d, TOL, "%s: report %.3f s, probe %.3f s (off by %.3f s)", what, (double)got / NS,
                  (double)want / NS, (double)d / NS);
}

/* How the instance's first ledger row is made, and what is frozen: the instance ("i"),
 * its workload ("w") or its class ("c"). */
enum first_row { BY_FINAL, BY_SAMPLE, BY_FREEZE };

/* While the probe runs: the instance's row says running, from its estimated start: when the
 * kernel created the probe (as the probe itself read it, converted by its own code). */
static void expect_running(const char *key, uint64_t probe_start)
{
    json_t *rep = rh_report(NULL, RH_ARGS("report", "--by", "instance", "--json"));
    json_t *row = rh_row(rep, key);

    cr_assert_not_null(row, "no row %s while it runs", key);
    cr_expect(json_is_true(json_object_get(row, "running")));
    cr_expect(json_is_null(json_object_get(row, "exit_status")));
    expect_near(rh_num(row, "start_ns"), probe_start, "estimated start");
    json_decref(rep);
}

/* What one run of the probe measured, and what the report said of it. */
struct trial {
    uint64_t start, end, late, frozen; /* the probe's */
    size_t pauses;                     /* during the freeze */
    bool misplaced;                    /* one of them more than TOL off the freeze */
    json_t *rep, *row;                 /* the report by instance, and the probe's row */
};

/* The probe's pauses during freeze w: its frozen time. A pause outside it is the machine
 * not running the probe (an emulated guest on a busy host): logged, not counted. */
static void pauses(const char *lines, const struct window *w, struct trial *t)
{
    unsigned long long a, b;

    for (const char *p = strchr(lines, '\n') + 1; sscanf(p, "%llu %llu", &a, &b) == 2;
         p = strchr(p, '\n') + 1) {
        if (!(a < w->b && b > w->a)) {
            cr_log_info("a pause of %.3f s outside the freeze", (double)(b - a) / NS);
            continue;
        }
        t->misplaced |= !(a + TOL >= w->a && b <= w->b + TOL);
        cr_log_info("pause [%.3f, %.3f) s in the freeze [%.3f, %.3f) s",
                    (double)(a % (1000 * NS)) / NS, (double)(b % (1000 * NS)) / NS,
                    (double)(w->a % (1000 * NS)) / NS, (double)(w->b % (1000 * NS)) / NS);
        /* A pause that began before the freeze was asked for, or ended after the thaw
         * returned, holds time the probe waited for a CPU: that is lateness too. */
        if (a + 2 * MS < w->a && w->a - a - 2 * MS > t->late)
            t->late = w->a - a - 2 * MS;
        if (b > w->b && b - w->b > t->late)
            t->late = b - w->b;
        t->frozen += b - a;
        t->pauses++;
    }
}

/* One run of the probe in instance NAME, its first row made as `first` says, `frozen`
 * frozen once. */
static void trial(enum first_row first, char frozen, const char *name, struct trial *t)
{
    const char *const run_args[] = {"run", "--policy", "w",       "--name", name,
                                    "--",  probe,      stop_file, NULL};
    unsigned long long a, b, late;
    char key[160], *lines, *inst;
    struct window w;
    int st;

    *t = (struct trial){0};
    (void)unlink(stop_file);
    bg = rh_spawn(run_args, NULL, &bg_out, true);
    lines = read_lines(bg_out, 1);
    cr_assert_eq(sscanf(lines, "%llu %llu", &a, &b), 2, "%s", lines);
    free(lines);
    /* When the instance got its process: on v2 at its creation (clone3 into the group: the
     * kernel's start time of the probe), on v1 just before its exec (it moves itself in
     * first: the probe's first instruction). */
    t->start = cg_ctx_is_v2(th_ctx()) ? b : a;
    cr_log_info("the probe ran %.1f ms after it was created", (double)(a - b) / MS);
    inst = instance_name();
    snprintf(key, sizeof(key), "w/%s", inst);
    free(inst);
    usleep(100000);
    if (first == BY_SAMPLE) {
        cr_assert_eq(rh_run(NULL, NULL, RH_ARGS("sample")), 0);
        expect_running(key, b);
    }
    w = pause_of(frozen == 'i' ? key : frozen == 'w' ? "w" : "normal");
    if (first == BY_FREEZE)
        expect_running(key, b);
    usleep(200000);
    cr_assert_eq(rh_put_file(stop_file, ""), 0);
    lines = read_lines(bg_out, INT_MAX);
    cr_assert_eq(waitpid(bg, &st, 0), bg);
    bg = -1;
    close(bg_out);
    bg_out = -1;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "corral run: status %#x", st);
    cr_assert_eq(sscanf(lines, "%llu %llu %llu", &a, &b, &late), 3, "%s", lines);
    t->end = b;
    t->late = late;
    pauses(lines, &w, t);
    free(lines);
    t->rep = rh_report(NULL, RH_ARGS("report", "--by", "instance", "--json"));
    t->row = rh_row(t->rep, key);
    cr_assert_not_null(t->row, "no row %s", key);
}

/* A busy machine can hold the probe back by more than the agreement asked, and then no
 * clock can tell frozen time from waiting for a CPU. The probe says how late its wakeups
 * came: a run it calls prompt is judged; after TRIALS that are not, the test is skipped. */
#define PROMPT (20 * MS)
#define TRIALS 5

static void life_case(enum first_row first, char frozen)
{
    struct trial t = {0};
    char name[16];

    need_binary();
    rh_policy("w", "[Workload]\nClass=normal\nAccount=acme\n");
    for (int k = 0; k < TRIALS; k++) {
        snprintf(name, sizeof(name), "probe%d", k);
        json_decref(t.rep);
        trial(first, frozen, name, &t);
        if (t.late <= PROMPT)
            break;
        cr_log_info("run %d: the probe woke up to %.1f ms late; once more", k, (double)t.late / MS);
    }
    if (t.late > PROMPT) {
        json_decref(t.rep);
        teardown(); /* a skip ends the test without its .fini */
        cr_skip_test("this machine held the probe back by up to %.0f ms in each of %d runs:"
                     " too busy to measure to %llu ms",
                     (double)t.late / MS, TRIALS, (unsigned long long)(TOL / MS));
    }
    expect_near(rh_num(t.row, "start_ns"), t.start, "start");
    expect_near(rh_num(t.row, "end_ns"), t.end, "end");
    expect_near(rh_num(t.row, "wall_ns"), t.end - t.start, "wall");
    cr_expect_eq(t.pauses, 1, "the probe saw %zu pauses during the freeze", t.pauses);
    cr_expect(!t.misplaced, "the probe's pause is not the freeze (see the log)");
    expect_near(rh_num(t.row, "frozen_ns"), t.frozen, "frozen");
    cr_expect(json_is_false(json_object_get(t.row, "running")));
    cr_expect_eq(rh_num(t.row, "exit_status"), 0);
    cr_expect(strstr(json_string_value(json_object_get(t.row, "policy")), "/w.policy") != NULL);
    json_decref(t.rep);
}

/* Every way the instance's first row can be made, by every freeze target. A freeze makes
 * the row of the group it freezes only, so it is a first row for the instance only when it
 * freezes the instance; a workload or class freeze is billed to the instances below it once
 * they have a row (from a sample or their final record). */
Test(report, probe_first_row_by_the_final_record_instance_frozen)
{
    life_case(BY_FINAL, 'i');
}

Test(report, probe_first_row_by_the_final_record_workload_frozen)
{
    life_case(BY_FINAL, 'w');
}

Test(report, probe_first_row_by_the_final_record_class_frozen)
{
    life_case(BY_FINAL, 'c');
}

Test(report, probe_first_row_by_corral_sample_instance_frozen)
{
    life_case(BY_SAMPLE, 'i');
}

Test(report, probe_first_row_by_corral_sample_workload_frozen)
{
    life_case(BY_SAMPLE, 'w');
}

Test(report, probe_first_row_by_corral_sample_class_frozen)
{
    life_case(BY_SAMPLE, 'c');
}

Test(report, probe_first_row_by_corral_freeze_instance_frozen)
{
    life_case(BY_FREEZE, 'i');
}

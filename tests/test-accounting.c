/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Integration tests of accounting: real groups under ./corral-test-*, a real SQLite ledger
 * in a temporary directory. Run as root on cgroup v1/hybrid and in the v2 guest.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accounting/ledger.h"
#include "accounting/report.h"
#include "accounting/sample.h"
#include "tests/helpers.h"

#define NS  1000000000ull
#define MIB (1ull << 20)

static char tmpdir[64];
static char ledger_path[128];

static void setup(void)
{
    th_setup();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/corral-acct-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(ledger_path, sizeof(ledger_path), "%s/ledger.db", tmpdir);
}

static void teardown(void)
{
    char cmd[128];

    th_teardown();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    (void)system(cmd);
}

TestSuite(accounting, .init = setup, .fini = teardown, .timeout = 300);

static struct acct_ledger *ledger(void)
{
    struct acct_ledger *l = NULL;
    struct cg_err e = {0};
    int r = acct_ledger_open(ledger_path, 0, &l, &e);

    cr_assert_eq(r, 0, "open %s: %d %s", ledger_path, r, e.detail);
    return l;
}

static struct cg_group *group(const char *path)
{
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int r = cg_group_open(th_ctx(), path, true, &g, NULL, &e);

    cr_assert_eq(r, 0, "create %s: %d %s %s", path, r, e.file, e.detail);
    return g;
}

static uint64_t now_ns(void)
{
    return acct_now_ns();
}

static int64_t sql_int(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    cr_assert_eq(sqlite3_open_v2(ledger_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static struct acct_report *report(enum acct_by by, const struct acct_rates *rates)
{
    struct acct_ledger *l = NULL;
    struct acct_report *rep = NULL;
    struct acct_report_opts o = {.to_ns = now_ns() + NS, .by = by, .rates = rates};
    struct cg_err e = {0};
    int r;

    r = acct_ledger_open(ledger_path, ACCT_LEDGER_READONLY, &l, &e);
    cr_assert_eq(r, 0, "%s", e.detail);
    r = acct_report_build(l, &o, &rep, &e);
    cr_assert_eq(r, 0, "%s", e.detail);
    acct_ledger_close(l);
    return rep;
}

static const struct acct_report_row *row(const struct acct_report *rep, const char *key)
{
    for (size_t i = 0; i < rep->n; i++)
        if (strcmp(rep->rows[i].key, key) == 0)
            return &rep->rows[i];
    cr_assert_fail("no report row '%s'", key);
    return NULL;
}

/* Runs fn in a child placed in g before it starts; returns its exit status. The child
 * reports a number back through *ret_value (optional). */
struct child_io {
    int fd; /* write end for the child's report */
    uint64_t arg;
};

static int burn_cpu(void *p)
{
    struct child_io *io = p;
    struct timespec ts;
    uint64_t t = 0;
    volatile uint64_t x = 0;

    while (t < io->arg) {
        for (int i = 0; i < 100000; i++)
            x += (uint64_t)i * i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        t = (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
    }
    return write(io->fd, &t, sizeof(t)) == sizeof(t) ? 0 : 1;
}

static int hold_memory(void *p)
{
    struct child_io *io = p;
    size_t len = (size_t)io->arg;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t one = 1;

    if (m == MAP_FAILED)
        return 1;
    memset(m, 0x5a, len);
    if (write(io->fd, &one, sizeof(one)) != sizeof(one))
        return 1;
    pause(); /* until the parent kills us */
    return 0;
}

static pid_t start_in(struct cg_group *g, int (*fn)(void *), struct child_io *io, int *ret_rfd)
{
    int p[2], rel;
    struct cg_err e = {0};
    pid_t pid;

    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    io->fd = p[1];
    pid = th_fork_held(fn, io, &rel);
    cr_assert_gt(pid, 0);
    cr_assert_eq(cg_group_attach(g, pid, &e), 0, "attach: %s", e.detail);
    th_release(rel);
    close(p[1]);
    *ret_rfd = p[0];
    return pid;
}

static void final_of(struct acct_ledger *l, struct cg_group *g, uint64_t start)
{
    struct acct_group ag;
    struct ctl_usage u;
    struct cg_err e = {0};

    cr_assert_eq(acct_group_from_cg(g, NULL, &ag), 0);
    cr_assert_eq(acct_read_usage(g, &u), 0);
    cr_assert_eq(acct_record_final(l, &ag, &u, start, now_ns(), &e), 0, "%s", e.detail);
}

Test(accounting, cpu_burn_within_2_percent)
{
    struct acct_ledger *l;
    struct cg_group *g;
    struct child_io io = {.arg = 1 * NS};
    uint64_t measured = 0, start = now_ns(), got;
    int rfd, st;
    pid_t pid;
    struct acct_report *rep;
    const struct acct_report_row *r;

    th_require_cgroups();
    l = ledger();
    g = group("normal/burn/run-1");
    pid = start_in(g, burn_cpu, &io, &rfd);
    cr_assert_eq(read(rfd, &measured, sizeof(measured)), (ssize_t)sizeof(measured));
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    final_of(l, g, start);
    rep = report(ACCT_BY_INSTANCE, NULL);
    r = row(rep, "burn/run-1");
    got = r->cpu_user_ns + r->cpu_system_ns;
    cr_expect(got >= measured * 98 / 100 && got <= measured * 102 / 100,
              "cgroup says %llu ns, the process measured %llu ns", (unsigned long long)got,
              (unsigned long long)measured);
    cr_expect_eq(r->instances, 1);
    cr_expect_gt(r->wall_ns, 0);
    acct_report_free(rep);
    close(rfd);
    cg_group_free(g);
    acct_ledger_close(l);
}

/* One pass of the sampler's table as it is (no scan), written to the ledger. */
static void sample_into(struct acct_sampler *s, struct acct_ledger *l)
{
    const struct acct_sample *smp;
    struct cg_err e = {0};
    size_t n;

    cr_assert_eq(acct_sampler_read(s, &smp, &n), 0);
    cr_assert_eq(acct_ledger_write(l, smp, n, NULL, &e), 0, "%s", e.detail);
}

Test(accounting, memory_integral_within_5_percent)
{
    struct acct_ledger *l;
    struct acct_sampler *s = NULL;
    struct cg_group *g;
    struct child_io io = {.arg = 128 * MIB};
    struct cg_err e = {0};
    uint64_t one, t_spawn, t_ready, t_gone, held_bs, got;
    int rfd, st;
    pid_t pid;
    struct acct_report *rep;

    th_require_cgroups();
    l = ledger();
    g = group("normal/mem/run-1");
    t_spawn = now_ns();
    pid = start_in(g, hold_memory, &io, &rfd);
    /* The sampler knows the instance (and its process's start) while the memory is being
     * faulted in, so the first sample is read as soon as the child says it is held: the
     * ledger counts that sample's row as a ramp from the instance's start, and a scan
     * between the two (slow under load) would be counted half instead of whole. */
    cr_assert_eq(acct_sampler_new(th_ctx(), NULL, NULL, &s), 0);
    cr_assert_gt(acct_sampler_scan(s, &e), 0, "%s", e.detail);
    cr_assert_eq(read(rfd, &one, sizeof(one)), (ssize_t)sizeof(one));
    /* Its row is the instance's first, so it starts at the instance's estimated start (the
     * process's, ledger.h): the time it took to fault the memory in counts as a ramp from
     * 0, half of it on average. */
    t_ready = now_ns();
    sample_into(s, l);
    /* sample every 50 ms for 2 s (a short interval stands in for the default); the last
     * sample is read just before the kill */
    while (now_ns() - t_ready < 2 * NS) {
        usleep(50000);
        sample_into(s, l);
    }
    t_gone = now_ns();
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    final_of(l, g, 0);
    held_bs = (uint64_t)((unsigned __int128)io.arg * (t_gone - t_ready) / NS) +
              (uint64_t)((unsigned __int128)io.arg * (t_ready - t_spawn) / NS / 2);
    rep = report(ACCT_BY_INSTANCE, NULL);
    got = row(rep, "mem/run-1")->mem_bs;
    cr_expect(got >= held_bs * 95 / 100 && got <= held_bs * 105 / 100,
              "integral %llu byte-seconds, expected %llu", (unsigned long long)got,
              (unsigned long long)held_bs);
    cr_expect_geq(row(rep, "mem/run-1")->mem_peak, io.arg);
    acct_report_free(rep);
    close(rfd);
    acct_sampler_free(s);
    cg_group_free(g);
    acct_ledger_close(l);
}

static int exit_at_once(void *p)
{
    return 0;
}

Test(accounting, n_back_to_back_finals)
{
    const int N = 100;
    struct acct_ledger *l;
    struct cg_err e = {0};

    th_require_cgroups();
    l = ledger();
    for (int i = 0; i < N; i++) {
        char path[64];
        struct cg_group *g;
        struct child_io io = {0};
        int rfd, st;
        pid_t pid;
        uint64_t start = now_ns();

        snprintf(path, sizeof(path), "normal/short/run-%d", i);
        g = group(path);
        pid = start_in(g, exit_at_once, &io, &rfd);
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        close(rfd);
        final_of(l, g, start);
        if (i == 0)
            final_of(l, g, start); /* a retried final adds nothing */
        cr_assert_eq(cg_group_remove(g, &e), 0, "%s", e.detail);
        cg_group_free(g);
    }
    acct_ledger_close(l);
    cr_expect_eq(sql_int("SELECT count(*) FROM samples WHERE final = 1"), N);
    cr_expect_eq(sql_int("SELECT count(*) FROM groups WHERE kind = 'instance' AND end_ns IS NOT "
                         "NULL"),
                 N);
}

static void put(struct acct_ledger *l, const char *path, uint64_t gen, const char *account,
                uint64_t t, uint64_t user, bool final)
{
    struct acct_sample s = {0};
    struct cg_err e = {0};

    cr_assert_eq(acct_group_from_path(path, &s.group), 0);
    s.group.generation = gen;
    snprintf(s.group.account, sizeof(s.group.account), "%s", account);
    s.t_ns = t;
    ctl_usage_init(&s.usage);
    s.usage.cpu_user_ns = user;
    s.usage.cpu_system_ns = 0;
    s.usage.mem_current = 1 << 30;
    if (final)
        cr_assert_eq(acct_record_final(l, &s.group, &s.usage, 0, t, &e), 0, "%s", e.detail);
    else
        cr_assert_eq(acct_ledger_write(l, &s, 1, NULL, &e), 0, "%s", e.detail);
}

Test(accounting, recreated_group_not_double_counted)
{
    struct acct_ledger *l;
    struct cg_group *g;
    struct acct_group a, b;
    struct cg_err e = {0};
    struct acct_report *rep;
    uint64_t t = 1700000000ull * NS;

    th_require_cgroups();
    /* The kernel gives a re-created group a new generation. */
    g = group("normal/re/run-1");
    cr_assert_eq(acct_group_from_cg(g, NULL, &a), 0);
    cr_assert_eq(cg_group_remove(g, &e), 0);
    cg_group_free(g);
    g = group("normal/re/run-1");
    cr_assert_eq(acct_group_from_cg(g, NULL, &b), 0);
    cg_group_free(g);
    cr_assert_neq(a.generation, b.generation);

    /* Generation a: 10, 20, final 30. Generation b (counters restart): 5, final 15.
     * Then in b's place a third life with the same generation whose counter went back. */
    l = ledger();
    put(l, "normal/re/run-1", a.generation, "", t + 1 * NS, 10 * NS, false);
    put(l, "normal/re/run-1", a.generation, "", t + 2 * NS, 20 * NS, false);
    put(l, "normal/re/run-1", a.generation, "", t + 2 * NS, 20 * NS, false); /* retry */
    put(l, "normal/re/run-1", a.generation, "", t + 3 * NS, 30 * NS, true);
    put(l, "normal/re/run-1", a.generation, "", t + 4 * NS, 99 * NS, false); /* after final */
    put(l, "normal/re/run-1", b.generation, "", t + 5 * NS, 5 * NS, false);
    put(l, "normal/re/run-1", b.generation, "", t + 6 * NS, 15 * NS, false);
    put(l, "normal/re/run-1", b.generation, "", t + 7 * NS, 2 * NS, false); /* reset */
    put(l, "normal/re/run-1", b.generation, "", t + 8 * NS, 4 * NS, true);
    acct_ledger_close(l);
    rep = report(ACCT_BY_INSTANCE, NULL);
    cr_expect_eq(row(rep, "re/run-1")->cpu_user_ns, (30 + 15 + 4) * NS);
    cr_expect_eq(row(rep, "re/run-1")->instances, 2);
    acct_report_free(rep);
}

Test(accounting, totals_equal_sum_of_rows)
{
    struct acct_ledger *l = ledger();
    struct acct_rates rates = {
        .currency = "EUR", .cpu_core_hour_micro = 40000, .mem_gib_hour_micro = 5000};
    struct {
        char account[65];
        uint64_t ppm;
    } mult[] = {{"team-a", 1250000}, {"team-b", 333333}};
    uint64_t t = 1700000000ull * NS, sum = 0;
    struct acct_report *rep;

    rates.multipliers = (void *)mult;
    rates.n_multipliers = 2;
    /* odd amounts so that every row's cost rounds */
    for (int i = 0; i < 37; i++) {
        char path[64];
        const char *acct = i % 3 == 0 ? "team-a" : i % 3 == 1 ? "team-b" : "team-c";
        snprintf(path, sizeof(path), "normal/w%d/run-%d", i % 5, i);
        put(l, path, 1000 + i, acct, t, 0, false);
        put(l, path, 1000 + i, acct, t + 7777777 * (i + 1), 123456789ull * (i + 1), true);
    }
    acct_ledger_close(l);
    for (int by = 0; by < _ACCT_BY_MAX; by++) {
        rep = report(by, &rates);
        sum = 0;
        for (size_t i = 0; i < rep->n; i++)
            sum += rep->rows[i].cost_micro;
        cr_expect_eq(rep->total.cost_micro, sum, "by %s", acct_by_to_string(by));
        cr_expect_gt(sum, 0);
        for (int f = 0; f < _ACCT_FMT_MAX; f++) {
            char *buf = NULL;
            size_t len = 0;
            FILE *out = open_memstream(&buf, &len);
            cr_expect_eq(acct_report_print(out, rep, f, 0), 0);
            fclose(out);
            cr_expect_gt(len, 0);
            free(buf);
        }
        acct_report_free(rep);
    }
}

Test(accounting, kill9_during_sampling_leaves_clean_ledger)
{
    const int N = 150;
    struct acct_ledger *l;
    struct cg_err e = {0};
    int64_t groups, rows;

    th_require_cgroups();
    for (int i = 0; i < N; i++) {
        char path[64];
        snprintf(path, sizeof(path), "batch/heavy/run-%d", i);
        cg_group_free(group(path));
    }
    l = ledger(); /* create the schema before the children race for it */
    acct_ledger_close(l);
    for (int round = 0; round < 4; round++) {
        int ready[2];
        char c;
        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            struct acct_ledger *cl = NULL;
            struct acct_sampler *s = NULL;
            close(ready[0]);
            /* The sampler keeps ~10 fds per group open, as corral sample does after
             * raising its limit; 1024 (a bare init's soft limit) is too few here. */
            struct rlimit rl;
            if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
            }
            if (acct_ledger_open(ledger_path, 0, &cl, NULL) < 0 ||
                acct_sampler_new(th_ctx(), NULL, NULL, &s) < 0)
                _exit(2);
            for (bool first = true;; first = false) {
                if (acct_sample_once(s, cl, NULL, NULL) < 0)
                    _exit(3);
                /* One pass committed: from now on the kill may land anywhere. (Under
                 * software emulation a first pass can take longer than the delay.) */
                if (first && write(ready[1], "r", 1) != 1)
                    _exit(4);
            }
        }
        close(ready[1]);
        cr_assert_eq(read(ready[0], &c, 1), 1, "the sampling child failed before its first pass");
        close(ready[0]);
        usleep(100000 + 123457 * round);
        kill(pid, SIGKILL);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
    }
    l = ledger();
    cr_expect_eq(acct_ledger_check(l, &e), 0, "%s", e.detail);
    acct_ledger_close(l);
    groups = sql_int("SELECT count(*) FROM groups");
    rows = sql_int("SELECT count(*) FROM samples");
    cr_expect_eq(groups, N + 2); /* batch, batch/heavy, N instances */
    cr_assert_gt(rows, 0);
    cr_assert_gt(groups, 0);
    cr_expect_eq(rows % groups, 0, "%lld rows over %lld groups: a partial pass", (long long)rows,
                 (long long)groups);
    cr_expect_eq(sql_int("SELECT count(*) FROM (SELECT group_id, t_ns FROM samples GROUP BY "
                         "group_id, t_ns HAVING count(*) > 1)"),
                 0);
    cr_expect_eq(sql_int("SELECT sum(n) FROM rollup_hour"), rows, "rollups must match the samples");
}

/* In a private mount namespace, makes tmpdir read-only and tries to write. */
Test(accounting, readonly_ledger_clear_error)
{
    struct acct_ledger *l;
    pid_t pid;
    int st;

    th_require_cgroups(); /* root, for the mount namespace */
    l = ledger();
    put(l, "normal/ro/run-1", 1, "", 1700000000ull * NS, NS, false);
    acct_ledger_close(l);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct acct_sample s = {0};
        struct cg_err e = {0};
        int r;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount(tmpdir, tmpdir, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, tmpdir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
            _exit(10);
        l = NULL;
        r = acct_ledger_open(ledger_path, 0, &l, &e);
        if (r >= 0) {
            (void)acct_group_from_path("normal/ro/run-1", &s.group);
            s.group.generation = 1;
            s.t_ns = 1700000001ull * NS;
            ctl_usage_init(&s.usage);
            r = acct_ledger_write(l, &s, 1, NULL, &e);
        }
        if (r >= 0)
            _exit(11);
        fprintf(stderr, "expected error: %s (%d)\n", e.detail, r);
        _exit(r == -EROFS && strstr(e.detail, ledger_path) ? 0 : 12);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

Test(accounting, missing_or_corrupt_ledger)
{
    struct acct_ledger *l = NULL;
    struct cg_err e = {0};
    int fd;

    cr_expect_eq(acct_ledger_open(ledger_path, ACCT_LEDGER_READONLY, &l, &e), -ENOENT);
    fd = open(ledger_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(write(fd, "this is not a database!\n", 24), 24);
    close(fd);
    cr_expect_eq(acct_ledger_open(ledger_path, ACCT_LEDGER_READONLY, &l, &e), -EBADMSG, "%s",
                 e.detail);
    cr_expect_eq(acct_ledger_open(ledger_path, 0, &l, &e), -EBADMSG, "%s", e.detail);
    cr_expect_not_null(strstr(e.detail, ledger_path));
}

/* A ledger of a few instances (and a workload group, which is not billed) sampled at
 * irregular intervals over [t0, t0 + 20 s x steps): resets, retries, limits (reservation), a
 * final record and a new generation, so that every rollup and edge rule is exercised.
 * Returns the time just after the last sample. */
static uint64_t fill_irregular(struct acct_ledger *l, uint64_t t0, int steps)
{
    static const char *const paths[] = {"normal/wa/run-1", "normal/wa/run-2", "normal/wb/run-1",
                                        "normal/wb/run-2", "normal/wa"};
    struct acct_sample s[5];
    struct cg_err e = {0};
    uint64_t t = t0;
    size_t w;

    memset(s, 0, sizeof(s));
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(acct_group_from_path(paths[i], &s[i].group), 0);
        s[i].group.generation = 500 + i;
        snprintf(s[i].group.account, sizeof(s[i].group.account), "%s", i % 2 ? "odd" : "even");
        s[i].group.cpu_limit_ucores = i == 1 ? 1500000 : CTL_MAX;
        s[i].group.mem_limit = i == 2 ? 3 * MIB : CTL_MAX;
        ctl_usage_init(&s[i].usage);
    }
    for (int k = 0; k < steps; k++) {
        /* every 20 s from t0 (so, with t0 on a minute, also on minute and hour
         * boundaries), every third (never one on a minute) a few µs late */
        t = t0 + (uint64_t)k * 20 * NS + (k % 3 == 1 ? (uint64_t)k * 1013 : 0);
        for (size_t i = 0; i < 5; i++) {
            struct ctl_usage *u = &s[i].usage;
            s[i].t_ns = t + i - 2; /* around the boundaries, to the ns */
            /* instance 3 restarts its counters every 50 steps (a reset: delta.h) */
            u->cpu_user_ns = i == 3 && k % 50 == 0 ? 1000 : u->cpu_user_ns + (i + 1) * 333333333ull;
            u->cpu_system_ns = (u->cpu_system_ns == CTL_UNSET ? 0 : u->cpu_system_ns) + 12345 * i;
            u->mem_current = (1 + (uint64_t)(k + (int)i) % 5) * MIB;
            u->mem_peak = (6 + (uint64_t)(k * 3 + (int)i) % 11) * MIB;
            u->mem_oom_kills = (uint64_t)k / 100;
            u->frozen = i == 0 && k % 9 == 0;
        }
        cr_assert_eq(acct_ledger_write(l, s, 5, &w, &e), 0, "%s", e.detail);
        if (k % 37 == 0) /* a retried pass adds nothing */
            cr_assert_eq(acct_ledger_write(l, s, 5, &w, &e), 0, "%s", e.detail);
        if (k % 37 == 0)
            cr_assert_eq(w, 0);
        if (k == steps / 2) { /* run-2 of wb ends; a new generation takes its place */
            cr_assert_eq(acct_record_final(l, &s[3].group, &s[3].usage, t0, t + 3, &e), 0, "%s",
                         e.detail);
            s[3].group.generation = 900;
            ctl_usage_init(&s[3].usage);
        }
    }
    return t + NS;
}

/* The same sums as a report by instance, straight from the raw samples of [from, to) and
 * the instances' lives (report.h): CPU and memory at sample resolution; wall time the
 * overlap of each life [start, end) with the range (start: the ledger's, or in an older
 * ledger the first sample's; end: the final record, or the latest sample); frozen time 0
 * (these ledgers have no freeze events). An instance counts when it has a sample in the
 * range or lived in it. */
static const char raw_sql[] =
    "WITH life AS (SELECT g.id, g.workload || '/' || g.instance k, coalesce(g.start_ns,"
    "  (SELECT t_ns - d_wall_ns FROM samples WHERE group_id = g.id ORDER BY t_ns LIMIT 1)) s,"
    "  coalesce(g.end_ns, (SELECT max(t_ns) FROM samples WHERE group_id = g.id)) e"
    "  FROM groups g WHERE g.kind = 'instance'),"
    " use AS (SELECT group_id id, sum(d_cpu_user_ns) a, sum(d_cpu_system_ns) b,"
    "  sum(d_mem_bs) c, sum(d_oom_kills) d, sum(d_throttled_ns) t, sum(d_cpu_reserved_ns) h,"
    "  sum(d_mem_reserved_bs) i, max(coalesce(mem_peak, 0)) p FROM samples"
    "  WHERE t_ns >= ?1 AND t_ns < ?2 GROUP BY group_id)"
    " SELECT l.k, count(*), sum(coalesce(u.a, 0)), sum(coalesce(u.b, 0)), sum(coalesce(u.c, 0)),"
    " sum(coalesce(u.d, 0)), sum(coalesce(u.t, 0)), sum(max(0, min(l.e, ?2) - max(l.s, ?1))), 0,"
    " sum(coalesce(u.h, 0)), sum(coalesce(u.i, 0)), max(coalesce(u.p, 0))"
    " FROM life l LEFT JOIN use u ON u.id = l.id"
    " WHERE u.id IS NOT NULL OR min(l.e, ?2) > max(l.s, ?1) GROUP BY l.k ORDER BY l.k";

static void expect_report_equals_raw(struct acct_ledger *l, sqlite3_stmt *raw, uint64_t from,
                                     uint64_t to)
{
    struct acct_report_opts o = {
        .from_ns = from, .to_ns = to, .by = ACCT_BY_INSTANCE, .billing = ACCT_BILL_RESERVATION};
    struct acct_report *rep = NULL;
    struct cg_err e = {0};
    size_t i = 0;

    cr_assert_eq(acct_report_build(l, &o, &rep, &e), 0, "%s", e.detail);
    sqlite3_reset(raw);
    sqlite3_bind_int64(raw, 1, (int64_t)from);
    sqlite3_bind_int64(raw, 2, (int64_t)to);
    while (sqlite3_step(raw) == SQLITE_ROW) {
        const struct acct_report_row *r = &rep->rows[i];
        uint64_t v[11];

        cr_assert_lt(i, rep->n, "[%llu, %llu): the report lacks rows", (unsigned long long)from,
                     (unsigned long long)to);
        for (int c = 0; c < 11; c++)
            v[c] = (uint64_t)sqlite3_column_int64(raw, c + 1);
        cr_expect_str_eq(r->key, (const char *)sqlite3_column_text(raw, 0));
        cr_expect_eq(r->instances, v[0]);
        cr_expect_eq(r->cpu_user_ns, v[1], "[%llu, %llu) %s: cpu_user %llu != %llu raw",
                     (unsigned long long)from, (unsigned long long)to, r->key,
                     (unsigned long long)r->cpu_user_ns, (unsigned long long)v[1]);
        cr_expect_eq(r->cpu_system_ns, v[2]);
        cr_expect_eq(r->mem_bs, v[3]);
        cr_expect_eq(r->oom_kills, v[4]);
        cr_expect_eq(r->throttled_ns, v[5]);
        cr_expect_eq(r->wall_ns, v[6]);
        cr_expect_eq(r->frozen_ns, v[7]);
        cr_expect_eq(r->cpu_billed_ns, v[8]);
        cr_expect_eq(r->mem_billed_bs, v[9]);
        cr_expect_eq(r->mem_peak, v[10]);
        i++;
    }
    cr_expect_eq(i, rep->n, "[%llu, %llu): %zu rows, %zu from the raw samples",
                 (unsigned long long)from, (unsigned long long)to, rep->n, i);
    acct_report_free(rep);
}

/* Reports (read-only, as `corral report`) over whole, aligned and random ranges that cut
 * hours and minutes at both ends, each equal to the raw-sample sums. */
static void expect_reports_equal_raw(uint64_t t0, uint64_t t1)
{
    struct acct_ledger *l = NULL;
    struct cg_err e = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *raw = NULL;
    const uint64_t H = 3600 * NS, M = 60 * NS;
    uint64_t h0 = t0 / H * H, x = 88172645463325252ull;

    cr_assert_eq(acct_ledger_open(ledger_path, ACCT_LEDGER_READONLY, &l, &e), 0, "%s", e.detail);
    cr_assert_eq(sqlite3_open_v2(ledger_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, raw_sql, -1, &raw, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(db));
    expect_report_equals_raw(l, raw, 0, t1 + H);
    expect_report_equals_raw(l, raw, h0 + H, h0 + 3 * H);                 /* whole hours */
    expect_report_equals_raw(l, raw, h0 + 7 * M, h0 + 2 * H + 13 * M);    /* whole minutes */
    expect_report_equals_raw(l, raw, h0 + H + 1, h0 + 2 * H - 1);         /* one hour, cut */
    expect_report_equals_raw(l, raw, h0 + H + 30 * NS, h0 + H + 50 * NS); /* in one minute */
    for (int k = 0; k < 150; k++) {
        uint64_t a, b, span = t1 - t0 + 200 * NS;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        a = t0 - 100 * NS + x % span;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b = t0 - 100 * NS + x % span;
        if (k % 4 == 1) /* on a minute: where samples and rollups meet */
            a = a / M * M;
        if (k % 4 == 2)
            b = b / M * M;
        if (k % 8 == 3)
            a = a / H * H;
        if (a == b)
            continue;
        expect_report_equals_raw(l, raw, a < b ? a : b, a < b ? b : a);
    }
    sqlite3_finalize(raw);
    sqlite3_close(db);
    acct_ledger_close(l);
}

/* Every rollup row is the exact sum of its samples, and there is one per (group, unit). */
static void expect_rollups_exact(const char *table, const char *key, uint64_t unit_ns)
{
    char sql[1024], cnt[256];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM (SELECT group_id, t_ns / %llu, count(*), sum(d_cpu_user_ns),"
             " sum(d_cpu_system_ns), sum(d_mem_bs), sum(d_oom_kills), sum(d_throttled_ns),"
             " sum(d_wall_ns), sum(d_frozen_ns), sum(d_cpu_reserved_ns), sum(d_mem_reserved_bs),"
             " max(coalesce(mem_peak, 0)) FROM samples GROUP BY 1, 2 EXCEPT SELECT group_id,"
             " %s, n, d_cpu_user_ns, d_cpu_system_ns, d_mem_bs, d_oom_kills, d_throttled_ns,"
             " d_wall_ns, d_frozen_ns, d_cpu_reserved_ns, d_mem_reserved_bs, mem_peak FROM %s)",
             (unsigned long long)unit_ns, key, table);
    cr_expect_eq(sql_int(sql), 0, "%s differs from its samples", table);
    snprintf(cnt, sizeof(cnt),
             "SELECT (SELECT count(*) FROM %s) - (SELECT count(DISTINCT group_id || '/' ||"
             " (t_ns / %llu)) FROM samples)",
             table, (unsigned long long)unit_ns);
    cr_expect_eq(sql_int(cnt), 0, "%s has rows without samples", table);
}

static void sql_exec(const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;

    cr_assert_eq(sqlite3_open_v2(ledger_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql, err);
    sqlite3_close(db);
}

Test(accounting, report_cutting_hours_and_minutes_equals_raw_samples)
{
    struct acct_ledger *l = ledger();
    uint64_t t0 = 1699999980ull * NS, t1; /* on a minute, 13 min past an hour */

    t1 = fill_irregular(l, t0, 600); /* 3 h 20 min */
    acct_ledger_close(l);
    cr_expect_eq(sql_int("PRAGMA user_version"), ACCT_SCHEMA_VERSION);
    expect_rollups_exact("rollup_hour", "hour", 3600 * NS);
    expect_rollups_exact("rollup_minute", "minute", 60 * NS);
    expect_reports_equal_raw(t0, t1);
}

/* Ledgers of schema 2 (no exit status, policy, nor a start for instances without a final
 * record) and 1 (no rollup_minute either) are read as they are by a reader, and migrated
 * by the first writer: rollup_minute backfilled exactly, starts set, then kept by new
 * writes. */
Test(accounting, older_ledgers_are_read_then_migrated)
{
    struct acct_ledger *l = ledger();
    struct cg_err e = {0};
    uint64_t t0 = 1699999980ull * NS, t1;

    t1 = fill_irregular(l, t0, 300);
    acct_ledger_close(l);
    /* schema 3 less what migration 2 -> 3 added is schema 2, as an older corral wrote it */
    sql_exec("BEGIN; ALTER TABLE groups DROP COLUMN exit_status;"
             " ALTER TABLE groups DROP COLUMN policy;"
             " UPDATE groups SET start_ns = NULL WHERE end_ns IS NULL;"
             " PRAGMA user_version = 2; COMMIT;");
    cr_assert_gt(
        sql_int("SELECT count(*) FROM groups WHERE kind = 'instance' AND start_ns IS NULL"), 0);
    expect_reports_equal_raw(t0, t1);
    cr_expect_eq(sql_int("PRAGMA user_version"), 2, "a reader must not migrate");
    /* and less what 1 -> 2 added, schema 1 */
    sql_exec("BEGIN; DROP TRIGGER samples_rollup_minute; DROP TABLE rollup_minute;"
             " PRAGMA user_version = 1; COMMIT;");
    cr_assert_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%minute%'"), 0);
    expect_reports_equal_raw(t0, t1); /* read-only: hours + samples */
    cr_expect_eq(sql_int("PRAGMA user_version"), 1, "a reader must not migrate");

    l = ledger(); /* migrates */
    cr_expect_eq(acct_ledger_check(l, &e), 0, "%s", e.detail);
    cr_expect_eq(sql_int("PRAGMA user_version"), ACCT_SCHEMA_VERSION);
    cr_expect_eq(
        sql_int("SELECT count(*) FROM groups WHERE kind = 'instance' AND start_ns IS NULL"), 0,
        "every instance has a start");
    expect_rollups_exact("rollup_minute", "minute", 60 * NS);
    /* and kept from then on, by the same transactions as the samples */
    t1 = fill_irregular(l, (t1 / NS / 60 + 60) * 60 * NS, 60);
    acct_ledger_close(l);
    expect_rollups_exact("rollup_hour", "hour", 3600 * NS);
    expect_rollups_exact("rollup_minute", "minute", 60 * NS);
    expect_reports_equal_raw(t0, t1);

    /* a ledger of a newer corral is refused, not "migrated" */
    sql_exec("PRAGMA user_version = 99");
    cr_expect_eq(acct_ledger_open(ledger_path, 0, &l, &e), -EPROTO, "%s", e.detail);
    cr_expect_eq(acct_ledger_open(ledger_path, ACCT_LEDGER_READONLY, &l, &e), -EPROTO, "%s",
                 e.detail);
}

static off_t wal_size(void)
{
    char wal[160];
    struct stat st;

    snprintf(wal, sizeof(wal), "%s-wal", ledger_path);
    return stat(wal, &st) == 0 ? st.st_size : -1;
}

/* Short-lived writers (corral run) leave the WAL to the next one; it stays bounded, every
 * record survives the handles coming and going, and a WAL removed by a writer that
 * checkpoints at close (corrald) is created again. */
Test(accounting, short_lived_writers_keep_every_record_and_a_bounded_wal)
{
    struct acct_ledger *l;
    struct cg_err e = {0};
    uint64_t t = now_ns();
    char path[64];
    int n = 0;

    for (int i = 0; i < 120; i++, n++) {
        cr_assert_eq(acct_ledger_open(ledger_path, ACCT_LEDGER_SHORT_LIVED, &l, &e), 0, "%s",
                     e.detail);
        /* what the next opener reads back: folded once it passes the bound */
        cr_assert_leq(wal_size(), (off_t)(ACCT_LEDGER_SHORT_WAL_PAGES + 16) * 4096,
                      "WAL of %lld bytes at open %d", (long long)wal_size(), i);
        snprintf(path, sizeof(path), "normal/w/run-%d", i);
        put(l, path, 1000 + (uint64_t)i, "acme", t + (uint64_t)i, 1000, true);
        acct_ledger_close(l);
        cr_assert_gt(wal_size(), 0, "a short-lived writer left no WAL (checkpointed at close)");
    }
    /* a writer that checkpoints at close removes the WAL; the next short-lived one makes it */
    l = ledger();
    acct_ledger_close(l);
    cr_assert_eq(wal_size(), -1, "the default writer keeps its checkpoint at close");
    cr_assert_eq(acct_ledger_open(ledger_path, ACCT_LEDGER_SHORT_LIVED, &l, &e), 0, "%s", e.detail);
    put(l, "normal/w/run-last", 5000, "acme", t + 1000, 1000, true);
    n++;
    acct_ledger_close(l);
    cr_assert_gt(wal_size(), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM samples WHERE final = 1"), n);
    l = ledger();
    cr_expect_eq(acct_ledger_check(l, &e), 0, "%s", e.detail);
    acct_ledger_close(l);
}

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

static struct acct_report *report(enum acct_by by, const struct pol_rates *rates)
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

Test(accounting, memory_integral_within_5_percent)
{
    struct acct_ledger *l;
    struct acct_sampler *s = NULL;
    struct cg_group *g;
    struct child_io io = {.arg = 128 * MIB};
    struct cg_err e = {0};
    uint64_t one, t_ready, t_gone, held_bs, got;
    int rfd, st;
    pid_t pid;
    struct acct_report *rep;

    th_require_cgroups();
    l = ledger();
    g = group("normal/mem/run-1");
    pid = start_in(g, hold_memory, &io, &rfd);
    cr_assert_eq(read(rfd, &one, sizeof(one)), (ssize_t)sizeof(one));
    /* The first sample is taken once the memory is held: the time it took to fault it
     * in (long on a busy machine) is not part of the known time. */
    t_ready = now_ns();
    cr_assert_eq(acct_sampler_new(th_ctx(), NULL, NULL, &s), 0);
    cr_assert_gt(acct_sampler_scan(s, &e), 0, "%s", e.detail);
    cr_assert_eq(acct_sample_once(s, l, NULL, &e), 0, "%s", e.detail);
    /* sample every 50 ms for 2 s (a short interval stands in for the default) */
    while (now_ns() - t_ready < 2 * NS) {
        const struct acct_sample *smp;
        size_t n;
        usleep(50000);
        cr_assert_eq(acct_sampler_read(s, &smp, &n), 0);
        cr_assert_eq(acct_ledger_write(l, smp, n, NULL, &e), 0, "%s", e.detail);
    }
    t_gone = now_ns();
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    final_of(l, g, 0);
    held_bs = (uint64_t)((unsigned __int128)io.arg * (t_gone - t_ready) / NS);
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
    struct pol_rates rates = {
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
            cr_expect_eq(acct_report_print(out, rep, f), 0);
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

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Integration tests of corrald: the real binary ($CORRAL_BUILD_ROOT/cli/corrald) against
 * the test root (./corral-test-*), a ledger, a policy dir and a corral.conf (Interval=1s)
 * in a temporary directory, logging to a file (--foreground). Every daemon started here is
 * killed and reaped by .fini, also when an assertion fails.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accounting/report.h"
#include "accounting/sample.h"
#include "core/fileio.h"
#include "tests/helpers.h"

static char tmpdir[64], pol_dir[128], conf_path[128], ledger_path[128], log_path[128];
static char sock_path[100];
static pid_t daemon_pid = -1, burner_pid = -1;
static int notify_fd = -1;

static void setup(void)
{
    FILE *f;

    th_setup();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/corral-daemon-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(pol_dir, sizeof(pol_dir), "%s/policies.d", tmpdir);
    snprintf(conf_path, sizeof(conf_path), "%s/corral.conf", tmpdir);
    snprintf(ledger_path, sizeof(ledger_path), "%s/ledger.db", tmpdir);
    snprintf(log_path, sizeof(log_path), "%s/corrald.log", tmpdir);
    snprintf(sock_path, sizeof(sock_path), "%s/notify.sock", tmpdir);
    cr_assert_eq(mkdir(pol_dir, 0755), 0);
    cr_assert_eq(chmod(pol_dir, 0755), 0); /* whatever the umask */
    f = fopen(conf_path, "w");
    cr_assert_not_null(f);
    fprintf(f, "[Accounting]\nInterval=1s\n");
    fclose(f);
    cr_assert_eq(chmod(conf_path, 0644), 0);
}

static void teardown(void)
{
    char cmd[128];

    /* the daemon first: it must not re-create groups while the root goes */
    th_kill_wait(daemon_pid);
    th_kill_wait(burner_pid);
    daemon_pid = burner_pid = -1;
    if (notify_fd >= 0)
        close(notify_fd);
    notify_fd = -1;
    th_teardown();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    (void)system(cmd);
}

TestSuite(daemon, .init = setup, .fini = teardown, .timeout = 180);

/* Written beside and renamed in, as an editor or a config manager does. */
static void write_policy(const char *name, const char *text)
{
    char tmp[256], path[256];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", tmpdir, name);
    snprintf(path, sizeof(path), "%s/%s.policy", pol_dir, name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    cr_assert_eq(fchmod(fd, 0644), 0);
    close(fd);
    cr_assert_eq(rename(tmp, path), 0);
}

static const char *corrald_path(void)
{
    static char path[512];
    const char *b = getenv("CORRAL_BUILD_ROOT");

    if (!b || !*b)
        cr_skip_test("CORRAL_BUILD_ROOT is not set (run through meson test)");
    snprintf(path, sizeof(path), "%s/cli/corrald", b);
    if (access(path, X_OK) != 0)
        cr_skip_test("%s is not built", path);
    return path;
}

/* Starts corrald with NOTIFY_SOCKET pointing at a socket of ours. */
static void start_daemon(void)
{
    const char *bin = corrald_path();
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    (void)th_ctx(); /* so .fini removes the root even if the daemon made it */
    if (notify_fd < 0) {
        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(notify_fd, 0);
        memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
        (void)unlink(sock_path);
        cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %m");
    }
    daemon_pid = fork();
    cr_assert_geq(daemon_pid, 0);
    if (daemon_pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        setenv("NOTIFY_SOCKET", sock_path, 1);
        execl(bin, bin, "--root", th_root_arg(), "--config", conf_path, "--policy-dir", pol_dir,
              "--ledger", ledger_path, "--foreground", "--verbose", (char *)NULL);
        _exit(127);
    }
}

/* Waits for a datagram holding `what` on the notify socket. */
static bool notified(const char *what, int timeout_ms)
{
    struct pollfd p = {.fd = notify_fd, .events = POLLIN};
    char buf[4096];

    while (poll(&p, 1, timeout_ms) == 1) {
        ssize_t n = recv(notify_fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            return false;
        buf[n] = '\0';
        if (strstr(buf, what))
            return true;
    }
    return false;
}

static void start_ready(void)
{
    start_daemon();
    cr_assert(notified("READY=1", 60000), "no READY=1 from corrald within 60 s");
}

static int64_t sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int64_t sql_int(const char *fmt, ...)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[1024];
    int64_t v = -1;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    cr_assert_eq(sqlite3_open_v2(ledger_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

#define SAMPLES_OF(path)                                                                           \
    "SELECT count(*) FROM samples s JOIN groups g ON g.id = s.group_id WHERE g.path = '" path "'"

/* Polls a count until it reaches min (or the timeout); returns the last value. */
static int64_t wait_count(const char *sql, int64_t min, int timeout_s)
{
    int64_t v = -1;

    for (int i = 0; i < timeout_s * 10; i++) {
        if (access(ledger_path, F_OK) == 0 && (v = sql_int("%s", sql)) >= min)
            return v;
        usleep(100000);
    }
    return v;
}

static int stop_daemon(int sig)
{
    int st = 0;

    cr_assert_eq(kill(daemon_pid, sig), 0);
    cr_assert_eq(waitpid(daemon_pid, &st, 0), daemon_pid);
    daemon_pid = -1;
    return st;
}

static char *read_text(const char *path)
{
    char *t = NULL;
    cr_assert_geq(cg_read_all_at(AT_FDCWD, path, &t), 0, "read %s", path);
    return t;
}

/* The kernel's view of the workload's CPU weight: cpu.weight (v2) or cpu.shares (v1). */
static unsigned long long weight_file(void)
{
    bool v2 = cg_ctx_is_v2(th_ctx());
    char *dir = th_group_dir(CG_H_CPU, "normal/web"), path[512], buf[64];

    snprintf(path, sizeof(path), "%s/%s", dir, v2 ? "cpu.weight" : "cpu.shares");
    if (cg_read_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

static unsigned long long expect_weight(unsigned w)
{
    return cg_ctx_is_v2(th_ctx()) ? w : (unsigned long long)w * 1024 / 100;
}

static bool wait_weight(unsigned w, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        if (weight_file() == expect_weight(w))
            return true;
        usleep(100000);
    }
    return false;
}

#define WEB_POLICY(weight)                                                                         \
    "[Workload]\nClass=normal\nAccount=team-web\n\n[CPU]\nWeight=" weight "\n"

static void live_instance(void);

Test(daemon, ready_and_samples_appear)
{
    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    live_instance();
    cr_expect_geq(wait_count(SAMPLES_OF("normal/web/run-live"), 3, 20), 3,
                  "fewer than 3 samples of normal/web/run-live in 20 s at a 1 s interval");
    cr_expect_geq(sql_int(SAMPLES_OF("normal/web")), 1, "the workload's first sample");
    cr_expect_eq(sql_int("SELECT count(DISTINCT account) FROM groups WHERE path = 'normal/web'"),
                 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM groups WHERE path = 'normal/web' AND account = "
                         "'team-web'"),
                 1, "the account comes from the policy");
    cr_expect_eq(stop_daemon(SIGTERM), 0);
}

static long elapsed_ns(clockid_t clock, const struct timespec *a)
{
    struct timespec b;

    clock_gettime(clock, &b);
    return (b.tv_sec - a->tv_sec) * 1000000000L + (b.tv_nsec - a->tv_nsec);
}

/* Burns arg ns of its own CPU time, not of wall time: on a loaded machine 20 ms of wall
 * time can be far less CPU than a test expects to find recorded. At most 60 s more wall. */
static int burn_briefly(void *arg)
{
    volatile unsigned long x = 0;
    struct timespec cpu, wall;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    clock_gettime(CLOCK_MONOTONIC, &wall);
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
    } while (elapsed_ns(CLOCK_PROCESS_CPUTIME_ID, &cpu) < (long)arg &&
             elapsed_ns(CLOCK_MONOTONIC, &wall) < (long)arg + 60 * 1000000000L);
    return 0;
}

/* Places a child in g that burns ns nanoseconds of CPU (0: until killed). */
static pid_t run_in(struct cg_group *g, long ns)
{
    struct cg_err e = {0};
    int rel;
    pid_t pid = th_fork_held(burn_briefly, (void *)(ns ? ns : 1000L * 1000000000L), &rel);

    cr_assert_eq(cg_group_attach(g, pid, &e), 0, "attach: %s", e.detail);
    th_release(rel);
    return pid;
}

static int sleep_until_killed(void *arg)
{
    for (;;)
        pause();
    return 0;
}

/* An instance with a task, so the daemon writes a row of it at every pass (an idle
 * workload group's rows are held back to one per minute: accounting/sample.h). */
static void live_instance(void)
{
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int rel;

    cr_assert_eq(cg_group_open(th_ctx(), "normal/web/run-live", true, &g, NULL, &e), 0, "%s",
                 e.detail);
    burner_pid = th_fork_held(sleep_until_killed, NULL, &rel);
    cr_assert_eq(cg_group_attach(g, burner_pid, &e), 0, "attach: %s", e.detail);
    th_release(rel);
    cg_group_free(g);
}

Test(daemon, brief_instance_gets_one_final)
{
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int st;
    pid_t pid;
    int64_t finals, after;

    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    cr_assert_eq(cg_group_open(th_ctx(), "normal/web/run-brief", true, &g, NULL, &e), 0, "%s",
                 e.detail);
    pid = run_in(g, 20 * 1000000L);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* v2: cgroup.events; v1: the next pass (1 s), written after the 1 s grace */
    finals = wait_count(SAMPLES_OF("normal/web/run-brief") " AND s.final = 1", 1, 60);
    cr_assert_eq(finals, 1, "no final record for an instance that emptied");
    cr_expect_gt(sql_int("SELECT cpu_user_ns + cpu_system_ns FROM samples s JOIN groups g ON "
                         "g.id = s.group_id WHERE g.path = 'normal/web/run-brief' AND final = 1"),
                 5 * 1000000LL, "the final record holds the instance's CPU time");
    /* Samples after the final are ignored, and a second final (corral run's, late) too. */
    sleep(2);
    after = sql_int(SAMPLES_OF("normal/web/run-brief") " AND s.t_ns > (SELECT max(s2.t_ns) FROM "
                                                       "samples s2 WHERE s2.group_id = s.group_id "
                                                       "AND s2.final = 1)");
    cr_expect_eq(after, 0, "%lld samples written after the final record", (long long)after);
    cr_expect_eq(sql_int(SAMPLES_OF("normal/web/run-brief") " AND s.final = 1"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM groups WHERE path = 'normal/web/run-brief'"), 1,
                 "one generation");
    cr_expect_eq(stop_daemon(SIGTERM), 0);
    cg_group_free(g);
}

Test(daemon, policy_edit_is_reapplied)
{
    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    cr_assert(wait_weight(200, 5), "the first apply did not set weight 200 (file says %llu)",
              weight_file());
    write_policy("web", WEB_POLICY("300"));
    cr_expect(wait_weight(300, 10), "the edit was not re-applied (file says %llu, want %llu)",
              weight_file(), expect_weight(300));
    cr_expect_eq(stop_daemon(SIGTERM), 0);
}

Test(daemon, invalid_edit_is_refused_and_logged)
{
    char *log;

    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    cr_assert(wait_weight(200, 5));
    /* line 6: out of range */
    write_policy("web", "[Workload]\nClass=normal\nAccount=team-web\n\n[CPU]\nWeight=99999\n");
    for (int i = 0; i < 100; i++) {
        log = read_text(log_path);
        if (strstr(log, "web.policy:6:"))
            break;
        free(log);
        log = NULL;
        usleep(100000);
    }
    cr_assert_not_null(log, "no 'web.policy:6:' in the log within 10 s");
    cr_expect_not_null(strstr(log, "nothing was applied"), "log:\n%s", log);
    free(log);
    sleep(2);
    cr_expect_eq(weight_file(), expect_weight(200), "the running state changed");
    cr_expect_eq(stop_daemon(SIGTERM), 0);
}

Test(daemon, sigterm_takes_a_last_sample_and_exits_0)
{
    int64_t before, after, last_t;
    struct timespec ts;
    uint64_t t_kill;
    int st;

    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    live_instance();
    cr_assert_geq(wait_count(SAMPLES_OF("normal/web/run-live"), 2, 20), 2);
    before = sql_int(SAMPLES_OF("normal/web"));
    clock_gettime(CLOCK_REALTIME, &ts);
    t_kill = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    st = stop_daemon(SIGTERM);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    after = sql_int(SAMPLES_OF("normal/web"));
    last_t = sql_int("SELECT max(s.t_ns) FROM samples s JOIN groups g ON g.id = s.group_id WHERE "
                     "g.path = 'normal/web'");
    cr_expect_gt(after, before, "no sample at SIGTERM");
    cr_expect_geq((uint64_t)last_t, t_kill, "the last sample predates SIGTERM");
    cr_expect(notified("STOPPING=1", 1000), "no STOPPING=1");
}

Test(daemon, kill9_and_restart_lose_nothing_count_nothing_twice)
{
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int64_t rows_before, max_t_before, kept, cpu_sum, cpu_cum;
    char *dir, path[512], buf[256];
    unsigned long long kernel_ns = 0;

    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    cr_assert_eq(cg_group_open(th_ctx(), "normal/web/run-burn", true, &g, NULL, &e), 0, "%s",
                 e.detail);
    burner_pid = run_in(g, 0);
    cr_assert_geq(wait_count(SAMPLES_OF("normal/web/run-burn"), 3, 20), 3);
    cr_assert_eq(stop_daemon(SIGKILL) & 0x7f, SIGKILL);
    rows_before = sql_int("SELECT count(*) FROM samples");
    max_t_before = sql_int("SELECT max(t_ns) FROM samples");

    start_ready();
    cr_assert_geq(wait_count(SAMPLES_OF("normal/web/run-burn"), 3 + 3, 20), 6);
    th_kill_wait(burner_pid);
    burner_pid = -1;
    cr_assert_eq(stop_daemon(SIGTERM), 0);

    kept = sql_int("SELECT count(*) FROM samples WHERE t_ns <= %lld", (long long)max_t_before);
    cr_expect_eq(kept, rows_before, "rows committed before kill -9: %lld, still there: %lld",
                 (long long)rows_before, (long long)kept);
    cr_expect_eq(sql_int("SELECT count(*) FROM (SELECT group_id, t_ns FROM samples GROUP BY "
                         "group_id, t_ns HAVING count(*) > 1)"),
                 0, "duplicate rows");
    cr_expect_eq(sql_int("SELECT count(*) FROM groups WHERE path = 'normal/web/run-burn'"), 1);
    cr_expect_eq(sql_int("SELECT sum(n) FROM rollup_hour"),
                 sql_int("SELECT count(*) FROM samples"));
    /* The deltas add up to the last accounted cumulative value: nothing counted twice
     * across the restart. And that is not more than the kernel counted. */
    cpu_sum = sql_int("SELECT sum(d_cpu_user_ns + d_cpu_system_ns) FROM samples s JOIN groups g ON "
                      "g.id = s.group_id WHERE g.path = 'normal/web/run-burn'");
    cpu_cum = sql_int("SELECT cpu_user_ns + cpu_system_ns FROM samples s JOIN groups g ON g.id = "
                      "s.group_id WHERE g.path = 'normal/web/run-burn' ORDER BY t_ns DESC LIMIT 1");
    cr_expect_eq(cpu_sum, cpu_cum, "deltas %lld != cumulative %lld", (long long)cpu_sum,
                 (long long)cpu_cum);
    dir = th_group_dir(cg_ctx_is_v2(th_ctx()) ? CG_H_CPU : CG_H_CPUACCT, "normal/web/run-burn");
    if (cg_ctx_is_v2(th_ctx())) {
        snprintf(path, sizeof(path), "%s/cpu.stat", dir);
        if (cg_read_at(AT_FDCWD, path, buf, sizeof(buf)) >= 0)
            kernel_ns = strtoull(buf + strlen("usage_usec "), NULL, 10) * 1000;
    } else {
        snprintf(path, sizeof(path), "%s/cpuacct.usage", dir);
        if (cg_read_at(AT_FDCWD, path, buf, sizeof(buf)) >= 0)
            kernel_ns = strtoull(buf, NULL, 10);
    }
    cr_expect_gt(cpu_sum, 1000000000LL, "the burner ran for seconds");
    cr_expect_leq((unsigned long long)cpu_sum, kernel_ns, "ledger %lld ns > kernel %llu ns",
                  (long long)cpu_sum, kernel_ns);
    cg_group_free(g);
}

/* The ledger locked by someone else for a while: samples taken meanwhile are kept in
 * memory and written, with their own times, once the lock goes. */
Test(daemon, locked_ledger_is_caught_up)
{
    sqlite3 *db = NULL;
    int64_t gap;
    struct timespec ts;
    long long t0, t1;

    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    live_instance();
    cr_assert_geq(wait_count(SAMPLES_OF("normal/web/run-live"), 2, 20), 2);
    cr_assert_eq(sqlite3_open_v2(ledger_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    clock_gettime(CLOCK_REALTIME, &ts);
    t0 = ts.tv_sec * 1000000000LL + ts.tv_nsec;
    sleep(8); /* longer than the ledger's 5 s busy timeout */
    clock_gettime(CLOCK_REALTIME, &ts);
    t1 = ts.tv_sec * 1000000000LL + ts.tv_nsec;
    cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    sleep(7); /* one blocked pass may still be waiting out its busy timeout */
    gap = sql_int(SAMPLES_OF("normal/web/run-live") " AND s.t_ns BETWEEN %lld AND %lld", t0, t1);
    cr_expect_geq(gap, 1, "no sample taken while the ledger was locked was written later");
    cr_expect_eq(stop_daemon(SIGTERM), 0);
    {
        char *log = read_text(log_path);
        cr_expect_not_null(strstr(log, "keeping samples in memory"), "log:\n%s", log);
        cr_expect_not_null(strstr(log, "writable again"), "log:\n%s", log);
        free(log);
    }
}

/* ---- the sampler rules corrald relies on (accounting/sample.h) ---- */

static uint64_t fake_now;
static uint64_t fake_clock(void *userdata)
{
    return fake_now;
}

struct minute_row {
    char path[64];
    int64_t minute, v[10];
};

/* rollup_minute of a ledger, by (path, minute). */
static size_t load_minutes(const char *path, struct minute_row *rows, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    size_t n = 0;

    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT g.path, r.minute, r.d_cpu_user_ns, r.d_cpu_system_ns, "
                                    "r.d_oom_kills, r.d_throttled_ns, r.d_wall_ns, r.d_frozen_ns, "
                                    "r.mem_peak, r.d_cpu_reserved_ns, r.d_mem_bs, "
                                    "r.d_mem_reserved_bs FROM rollup_minute r JOIN groups g ON "
                                    "g.id = r.group_id ORDER BY g.path, r.minute",
                                    -1, &st, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW && n < cap) {
        snprintf(rows[n].path, sizeof(rows[n].path), "%s", sqlite3_column_text(st, 0));
        rows[n].minute = sqlite3_column_int64(st, 1);
        for (int k = 0; k < 10; k++)
            rows[n].v[k] = sqlite3_column_int64(st, 2 + k);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void freeze(struct cg_group *g, bool on)
{
    bool v2 = cg_ctx_is_v2(th_ctx());
    struct cg_err e = {0};

    cr_assert_eq(cg_group_write(g, CG_H_FREEZER, v2 ? "cgroup.freeze" : "freezer.state",
                                v2 ? (on ? "1" : "0") : (on ? "FROZEN" : "THAWED"), &e),
                 0, "%s", e.detail);
    usleep(100000);
}

/* Ledger A gets every group at every pass, ledger B only the rows of the hold rule; both
 * from the same reads, at synthetic times 7.123 s apart over 24 minutes, while an
 * instance gets a task and loses it and another is frozen and thawed. Every minute's
 * rollup is the same (the memory integral within the rounding of one step per held row),
 * and so is a report over whole minutes. */
Test(daemon, sampler_hold_rule_keeps_every_minute)
{
    struct cg_group *idle = NULL, *task = NULL, *frz = NULL;
    struct acct_sampler *s = NULL;
    struct acct_ledger *la = NULL, *lb = NULL;
    struct cg_err e = {0};
    char pa[160], pb[160];
    const size_t cap = 4096;
    struct minute_row *ra = calloc(cap, sizeof(*ra)), *rb = calloc(cap, sizeof(*rb));
    struct acct_sample *buf = calloc(64, sizeof(*buf));
    uint64_t t0, held_total = 0;
    size_t na, nb, rows_a = 0, rows_b = 0;
    pid_t pid = -1;
    int rel;

    th_require_cgroups();
    cr_assert_eq(cg_group_open(th_ctx(), "normal/hold/run-idle", true, &idle, NULL, &e), 0, "%s",
                 e.detail);
    cr_assert_eq(cg_group_open(th_ctx(), "normal/hold/run-task", true, &task, NULL, &e), 0, "%s",
                 e.detail);
    cr_assert_eq(cg_group_open(th_ctx(), "normal/hold/run-frz", true, &frz, NULL, &e), 0, "%s",
                 e.detail);
    snprintf(pa, sizeof(pa), "%s/every.db", tmpdir);
    snprintf(pb, sizeof(pb), "%s/held.db", tmpdir);
    cr_assert_eq(acct_ledger_open(pa, 0, &la, &e), 0, "%s", e.detail);
    cr_assert_eq(acct_ledger_open(pb, 0, &lb, &e), 0, "%s", e.detail);
    cr_assert_eq(acct_sampler_new(th_ctx(), NULL, NULL, &s), 0);
    acct_sampler_set_clock(s, fake_clock, NULL);
    cr_assert_geq(acct_sampler_scan(s, &e), 4, "%s", e.detail);
    /* two hours ago, 0.3 s into a minute */
    t0 = (acct_now_ns() / ACCT_HOUR_NS - 2) * ACCT_HOUR_NS + 300000000u;
    for (int p = 0; p < 200; p++) {
        size_t rows, n = acct_sampler_count(s);
        struct acct_sampler_stats st;

        fake_now = t0 + (uint64_t)p * 7123000000u;
        if (p == 30) {
            pid = th_fork_held(sleep_until_killed, NULL, &rel);
            cr_assert_eq(cg_group_attach(task, pid, &e), 0, "%s", e.detail);
            th_release(rel);
            burner_pid = pid;
        } else if (p == 60) {
            th_kill_wait(pid);
            burner_pid = -1;
        } else if (p == 90 || p == 120) {
            /* as `corral freeze` does: reports bill frozen time from the freezer's events */
            struct acct_group ag;
            freeze(frz, p == 90);
            cr_assert_eq(acct_group_from_cg(frz, NULL, &ag), 0);
            for (int k = 0; k < 2; k++)
                cr_assert_eq(acct_record_event(k ? lb : la, &ag,
                                               p == 90 ? ACCT_EVENT_FREEZE : ACCT_EVENT_THAW,
                                               fake_now, &e),
                             0, "%s", e.detail);
        }
        cr_assert_eq(acct_sampler_pass(s, ACCT_PASS_ROWS | (p == 199 ? ACCT_PASS_ALL : 0), &rows),
                     0);
        acct_sampler_stats(s, &st);
        held_total += st.held;
        for (size_t from = 0; from < rows;) {
            size_t k = acct_sampler_rows(s, from, buf, 64);
            cr_assert_eq(acct_ledger_write(lb, buf, k, NULL, &e), 0, "%s", e.detail);
            from += k;
            rows_b += k;
        }
        for (size_t i = 0; i < n; i++) {
            struct acct_sampler_item it;
            acct_sampler_item(s, i, &it);
            cr_assert(it.read, "%s not read", it.path);
            acct_sampler_get(s, i, &buf[0]);
            cr_assert_eq(acct_ledger_write(la, buf, 1, NULL, &e), 0, "%s", e.detail);
            rows_a++;
        }
    }
    acct_sampler_free(s);
    acct_ledger_close(la);
    acct_ledger_close(lb);
    cr_expect_lt(rows_b * 4, rows_a, "the hold rule wrote %zu rows of %zu", rows_b, rows_a);
    cr_expect_gt(held_total, 0);

    na = load_minutes(pa, ra, cap);
    nb = load_minutes(pb, rb, cap);
    cr_assert_eq(na, nb, "minutes with usage: %zu every pass, %zu held", na, nb);
    for (size_t i = 0; i < na; i++) {
        cr_assert_str_eq(ra[i].path, rb[i].path);
        cr_assert_eq(ra[i].minute, rb[i].minute, "%s", ra[i].path);
        /* exact: CPU, OOM, throttled, wall, frozen, peak, CPU reservation (no limit) */
        for (int k = 0; k < 8; k++)
            cr_expect_eq(ra[i].v[k], rb[i].v[k], "%s minute %lld column %d: %lld != %lld",
                         ra[i].path, (long long)ra[i].minute, k, (long long)ra[i].v[k],
                         (long long)rb[i].v[k]);
        /* memory integral: rounded per step (delta.h), so within one per row held */
        for (int k = 8; k < 10; k++)
            cr_expect(llabs(ra[i].v[k] - rb[i].v[k]) <= 10, "%s minute %lld mem %lld != %lld",
                      ra[i].path, (long long)ra[i].minute, (long long)ra[i].v[k],
                      (long long)rb[i].v[k]);
    }
    {
        /* and a report over whole minutes */
        struct acct_report *a = NULL, *b = NULL;
        struct acct_report_opts o = {.from_ns = t0 / ACCT_MINUTE_NS * ACCT_MINUTE_NS,
                                     .to_ns = (fake_now / ACCT_MINUTE_NS + 1) * ACCT_MINUTE_NS,
                                     .by = ACCT_BY_INSTANCE};
        cr_assert_eq(acct_ledger_open(pa, ACCT_LEDGER_READONLY, &la, &e), 0, "%s", e.detail);
        cr_assert_eq(acct_ledger_open(pb, ACCT_LEDGER_READONLY, &lb, &e), 0, "%s", e.detail);
        cr_assert_eq(acct_report_build(la, &o, &a, &e), 0, "%s", e.detail);
        cr_assert_eq(acct_report_build(lb, &o, &b, &e), 0, "%s", e.detail);
        cr_assert_eq(a->n, b->n);
        for (size_t i = 0; i <= a->n; i++) {
            const struct acct_report_row *x = i < a->n ? &a->rows[i] : &a->total,
                                         *y = i < a->n ? &b->rows[i] : &b->total;
            if (i < a->n)
                cr_expect_str_eq(x->key, y->key);
            cr_expect_eq(x->instances, y->instances, "%s", x->key);
            cr_expect_eq(x->cpu_user_ns + x->cpu_system_ns, y->cpu_user_ns + y->cpu_system_ns);
            cr_expect_eq(x->wall_ns, y->wall_ns, "%s wall", x->key);
            cr_expect_eq(x->frozen_ns, y->frozen_ns, "%s frozen", x->key);
            cr_expect_eq(x->mem_peak, y->mem_peak, "%s", x->key);
            cr_expect(x->mem_bs >= y->mem_bs ? x->mem_bs - y->mem_bs <= 200
                                             : y->mem_bs - x->mem_bs <= 200,
                      "%s mem %llu != %llu", x->key, (unsigned long long)x->mem_bs,
                      (unsigned long long)y->mem_bs);
        }
        cr_expect_gt(a->total.frozen_ns, 0, "the frozen instance shows frozen time");
        acct_report_free(a);
        acct_report_free(b);
        acct_ledger_close(la);
        acct_ledger_close(lb);
    }
    free(ra);
    free(rb);
    free(buf);
    cg_group_free(idle);
    cg_group_free(task);
    cg_group_free(frz);
}

/* The item of group path in the sampler's table (asserted to be there). */
static const struct ctl_usage *item_usage(struct acct_sampler *s, const char *path)
{
    for (size_t i = 0; i < acct_sampler_count(s); i++) {
        struct acct_sampler_item it;
        acct_sampler_item(s, i, &it);
        if (strcmp(it.path, path) == 0)
            return it.usage;
    }
    cr_assert_fail("%s is not in the sampler's table", path);
    return NULL;
}

/* One pass at fake time +1 s; returns the files it read. */
static size_t quiet_pass(struct acct_sampler *s)
{
    struct acct_sampler_stats st;

    fake_now += 1000000000u;
    cr_assert_eq(acct_sampler_pass(s, ACCT_PASS_ROWS, NULL), 0);
    acct_sampler_stats(s, &st);
    return st.reads;
}

/* Passes (1 s apart) until the counter read by get() equals want; the passes it took. */
static int passes_until(struct acct_sampler *s, const char *path,
                        uint64_t (*get)(const struct ctl_usage *), uint64_t want)
{
    for (int k = 1; k <= 30; k++) {
        (void)quiet_pass(s);
        if (get(item_usage(s, path)) == want)
            return k;
    }
    return 1000;
}

static uint64_t get_frozen(const struct ctl_usage *u)
{
    return u->frozen;
}

static uint64_t get_pids(const struct ctl_usage *u)
{
    return u->pids_current;
}

static char proc_state(pid_t pid)
{
    char path[64], buf[512], *p;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (cg_read_at(AT_FDCWD, path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
        return '?';
    return p[2];
}

/* The quiet rule (sample.h): an idle group's pass reads memory current (and on v2, or for
 * a class on v1, the CPU total), not pids current and frozen; so a freeze of an empty
 * group, or a sleeping task moved in by someone else, is not seen at once: it must be
 * seen within ACCT_SAMPLER_QUIET_NS plus one interval (the full read of full_every is
 * turned off here, so only the quiet rule's bound is at work). */
Test(daemon, sampler_quiet_rule_reads_less_and_is_bounded)
{
    static const char *const names[] = {"run-frz", "run-mv", "run-a", "run-b", "run-c", "run-d"};
    const int bound = (int)(ACCT_SAMPLER_QUIET_NS / 1000000000u) + 1; /* passes, 1 s apart */
    bool v2 = cg_ctx_is_v2(th_ctx());
    struct cg_group *g[6] = {NULL};
    struct acct_sampler *s = NULL;
    struct cg_err e = {0};
    size_t n, reads = 0, classes = 1, fast = v2 ? 2 : 1;
    pid_t pid;
    int rel, k;

    th_require_cgroups();
    for (int i = 0; i < 6; i++) {
        char path[64];
        snprintf(path, sizeof(path), "normal/quiet/%s", names[i]);
        cr_assert_eq(cg_group_open(th_ctx(), path, true, &g[i], NULL, &e), 0, "%s", e.detail);
    }
    cr_assert_eq(acct_sampler_new(th_ctx(), NULL, NULL, &s), 0);
    acct_sampler_set_clock(s, fake_clock, NULL);
    acct_sampler_set_full_every(s, 1u << 30);
    fake_now = acct_now_ns();
    n = (size_t)acct_sampler_scan(s, &e);
    cr_assert_eq(n, 8, "%s", e.detail); /* normal, normal/quiet and its six instances */
    for (int p = 0; p < 15; p++)
        (void)quiet_pass(s);
    cr_assert_eq(item_usage(s, "normal/quiet/run-frz")->frozen, 0);
    cr_assert_eq(item_usage(s, "normal/quiet/run-mv")->pids_current, 0);

    /* 20 s of idle passes: memory current of every group at every pass (and the CPU total
     * of what the parent rule cannot vouch for), pids and frozen at most 3 times each */
    for (int p = 0; p < 20; p++)
        reads += quiet_pass(s);
    cr_expect_geq(reads, 20 * fast * n, "%zu files read in 20 passes of %zu groups", reads, n);
    cr_expect_leq(reads, 20 * (fast * n + classes) + 3 * 2 * n,
                  "%zu files read in 20 passes of %zu idle groups", reads, n);

    /* an empty group frozen and thawed (no CPU moves) */
    freeze(g[0], true);
    k = passes_until(s, "normal/quiet/run-frz", get_frozen, 1);
    cr_expect_leq(k, bound, "a freeze was seen after %d passes", k);
    freeze(g[0], false);
    k = passes_until(s, "normal/quiet/run-frz", get_frozen, 0);
    cr_expect_leq(k, bound, "a thaw was seen after %d passes", k);

    /* a sleeping task moved in by someone else (it does not run there) */
    pid = th_fork_held(NULL, NULL, &rel);
    burner_pid = pid;
    for (int i = 0; i < 200 && proc_state(pid) != 'S'; i++)
        usleep(5000);
    cr_assert_eq(cg_group_attach(g[1], pid, &e), 0, "%s", e.detail);
    k = passes_until(s, "normal/quiet/run-mv", get_pids, 1);
    cr_expect_leq(k, bound, "a task moved in was seen after %d passes", k);
    /* its exit costs CPU in the group, and is reaped at once: seen at the next pass */
    th_kill_wait(pid);
    burner_pid = -1;
    close(rel);
    k = passes_until(s, "normal/quiet/run-mv", get_pids, 0);
    cr_expect_eq(k, 1, "an exit was seen after %d passes", k);

    acct_sampler_free(s);
    for (int i = 0; i < 6; i++)
        cg_group_free(g[i]);
}

/* Out of fds: the sampler reads what it cannot keep open by path, and when it cannot
 * open anything any more it samples what it holds and says how many it could not. */
Test(daemon, sampler_out_of_fds_degrades)
{
    struct acct_sampler *s = NULL;
    struct acct_sampler_stats st;
    struct cg_err e = {0};
    struct rlimit rl = {.rlim_cur = 96, .rlim_max = 0};
    int *hog = calloc(4096, sizeof(int)), nhog = 0, n;
    const struct acct_sample *smp;
    size_t ns;

    th_require_cgroups();
    for (int i = 0; i < 40; i++) {
        struct cg_group *g = NULL;
        char p[64];
        snprintf(p, sizeof(p), "normal/many/run-%d", i);
        cr_assert_eq(cg_group_open(th_ctx(), p, true, &g, NULL, &e), 0, "%s", e.detail);
        cg_group_free(g);
    }
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = 96;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert_eq(acct_sampler_new(th_ctx(), NULL, NULL, &s), 0);
    n = acct_sampler_scan(s, &e);
    cr_assert_eq(n, 42, "%d groups: %s", n, e.detail);
    acct_sampler_stats(s, &st);
    cr_expect_gt(st.on_demand, 0, "96 fds cannot hold 42 groups' files");
    cr_assert_eq(acct_sampler_read(s, &smp, &ns), 0);
    cr_expect_eq(ns, 42, "every group read, %zu by path", st.on_demand);
    cr_expect_neq(smp[0].usage.mem_current, CTL_UNSET);
    cr_expect_neq(smp[41].usage.mem_current, CTL_UNSET);

    /* now take every fd left, and add groups the walk cannot open */
    for (int i = 40; i < 45; i++) {
        struct cg_group *g = NULL;
        char p[64];
        snprintf(p, sizeof(p), "normal/many/run-%d", i);
        cr_assert_eq(cg_group_open(th_ctx(), p, true, &g, NULL, &e), 0, "%s", e.detail);
        cg_group_free(g);
    }
    while (nhog < 4096 && (hog[nhog] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        nhog++;
    cr_assert_eq(errno, EMFILE);
    n = acct_sampler_scan(s, &e);
    cr_assert_geq(n, 0, "the walk fails as a whole: %s", e.detail);
    acct_sampler_stats(s, &st);
    cr_expect_gt(st.unopened, 0, "says what it could not open");
    cr_assert_eq(acct_sampler_read(s, &smp, &ns), 0);
    acct_sampler_stats(s, &st);
    cr_expect_gt(ns, 0, "samples the groups it holds open");
    cr_expect_eq(ns + st.unsampled, st.groups, "%zu read + %zu unsampled", ns, st.unsampled);

    while (nhog > 0)
        close(hog[--nhog]);
    cr_assert_eq(acct_sampler_scan(s, &e), 47, "%s", e.detail);
    cr_assert_eq(acct_sampler_read(s, &smp, &ns), 0);
    cr_expect_eq(ns, 47, "all back once fds are free");
    acct_sampler_stats(s, &st);
    cr_expect_eq(st.unopened, 0);
    acct_sampler_free(s);
    free(hog);
}

/* ---- hostile input: the loop never blocks on anything outside it ---- */

/* Waits until the log holds needle (bounded); true when it does. */
static bool log_has(const char *needle, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        char *t = NULL;
        bool found = cg_read_all_at(AT_FDCWD, log_path, &t) >= 0 && strstr(t, needle);

        free(t);
        if (found)
            return true;
        usleep(100000);
    }
    return false;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A FIFO in the policy dir is skipped and said; the rest is applied; SIGTERM is honoured at
 * once (before, the daemon hung in open() and ignored it). */
Test(daemon, skips_a_fifo_applies_the_rest_and_stops_at_once)
{
    char fifo[256];
    double t0;
    int st;

    th_require_cgroups();
    snprintf(fifo, sizeof(fifo), "%s/x.policy", pol_dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    cr_expect(wait_weight(200, 30), "the policy beside the FIFO was not applied");
    cr_expect(log_has("skipped: ", 10), "the FIFO is not in the log");
    cr_expect(log_has("x.policy: not a regular file (a FIFO)", 10));
    t0 = mono_s();
    st = stop_daemon(SIGTERM);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    cr_expect_lt(mono_s() - t0, 5.0, "SIGTERM took %.1f s", mono_s() - t0);
}

Test(daemon, refuses_an_untrusted_policy_dir)
{
    th_require_cgroups();
    if (geteuid() != 0)
        cr_skip_test("the trust rules apply when running as root");
    write_policy("web", WEB_POLICY("200"));
    cr_assert_eq(chmod(pol_dir, 0777), 0);
    start_ready();
    cr_expect(log_has("refusing a directory writable by group and others", 20),
              "the daemon did not say why it refused the directory");
    cr_expect(log_has("nothing was applied", 10));
    cr_expect_eq(weight_file(), 0, "a workload of an untrusted directory was applied");
    cr_expect_eq(stop_daemon(SIGTERM), 0);
}

/* Removed and made again: watched again and read again, even when the files were written
 * before the new watch existed. */
Test(daemon, rereads_a_recreated_policy_dir)
{
    char cmd[256];

    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    cr_assert(wait_weight(200, 30));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pol_dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert(log_has("cannot open policy directory", 20), "the removal was not noticed");
    cr_assert_eq(mkdir(pol_dir, 0755), 0);
    cr_assert_eq(chmod(pol_dir, 0755), 0);
    write_policy("web", WEB_POLICY("300"));
    cr_expect(wait_weight(300, 30), "the re-created directory was not read again");
    cr_expect(log_has("watching ", 5));
    cr_expect_eq(stop_daemon(SIGTERM), 0);
}

/* Holds the ledger's write lock (BEGIN IMMEDIATE) from another process until told to
 * stop through its stdin pipe; returns its pid once the lock is held. */
static pid_t hold_ledger_lock(int *ret_release)
{
    int go[2], held[2];
    char b;
    pid_t pid;

    cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(held, O_CLOEXEC), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        sqlite3 *db = NULL;

        close(go[1]);
        close(held[0]);
        if (sqlite3_open_v2(ledger_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
            _exit(1);
        sqlite3_busy_timeout(db, 30000);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            _exit(2);
        (void)!write(held[1], "x", 1);
        (void)!read(go[0], &b, 1);
        _exit(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : 3);
    }
    close(go[0]);
    close(held[1]);
    cr_assert_eq(read(held[0], &b, 1), 1, "the lock holder did not get the lock");
    close(held[0]);
    *ret_release = go[1];
    return pid;
}

/* A ledger locked by another writer for several passes: the passes keep their interval
 * (their samples' times stay ~1 s apart), and every pass's rows land after the release,
 * none twice (the wall-time deltas add up to exactly the time covered). */
Test(daemon, keeps_its_interval_while_the_ledger_is_locked)
{
    const char *inst = SAMPLES_OF("normal/web/run-live");
    int64_t before, t_lock, t_free, n_locked, max_gap, wall, span;
    int release, st;
    pid_t holder;

    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    live_instance();
    before = wait_count(inst, 2, 30);
    cr_assert_geq(before, 2, "no samples of the instance before the lock");
    holder = hold_ledger_lock(&release);
    t_lock = (int64_t)acct_now_ns();
    sleep(5);
    t_free = (int64_t)acct_now_ns();
    close(release);
    cr_assert_eq(waitpid(holder, &st, 0), holder);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the lock holder failed: %#x", st);
    /* The buffered passes go at the next pass; wait for a sample taken after the release. */
    for (int i = 0; i < 300 && sql_int("%s AND s.t_ns > %lld", inst, (long long)t_free) < 1; i++)
        usleep(100000);
    n_locked = sql_int("%s AND s.t_ns > %lld AND s.t_ns < %lld", inst, (long long)t_lock,
                       (long long)t_free);
    cr_expect_geq(n_locked, 3, "only %lld passes sampled during 5 s of lock at a 1 s interval",
                  (long long)n_locked);
    max_gap = sql_int("SELECT max(t_ns - prev) FROM (SELECT s.t_ns, lag(s.t_ns) OVER (ORDER BY "
                      "s.t_ns) AS prev FROM samples s JOIN groups g ON g.id = s.group_id WHERE "
                      "g.path = 'normal/web/run-live')");
    cr_expect_lt(max_gap, 2500000000LL, "two passes %.1f s apart", (double)max_gap / 1e9);
    wall = sql_int("SELECT sum(d_wall_ns) FROM samples s JOIN groups g ON g.id = s.group_id "
                   "WHERE g.path = 'normal/web/run-live' AND s.t_ns > (SELECT min(s2.t_ns) "
                   "FROM samples s2 JOIN groups g2 ON g2.id = s2.group_id WHERE g2.path = "
                   "'normal/web/run-live')");
    span = sql_int("SELECT max(s.t_ns) - min(s.t_ns) FROM samples s JOIN groups g ON g.id = "
                   "s.group_id WHERE g.path = 'normal/web/run-live'");
    cr_expect_eq(wall, span, "wall-time deltas %lld ns over a span of %lld ns: a row twice?",
                 (long long)wall, (long long)span);
    cr_expect(log_has("cannot write the ledger", 5), "the lock was not noticed");
    cr_expect(log_has("buffered records written", 10), "the buffer was not written");
    cr_expect_eq(stop_daemon(SIGTERM), 0);
}

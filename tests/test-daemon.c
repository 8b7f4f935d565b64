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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

Test(daemon, ready_and_samples_appear)
{
    th_require_cgroups();
    write_policy("web", WEB_POLICY("200"));
    start_ready();
    cr_expect_geq(wait_count(SAMPLES_OF("normal/web"), 3, 20), 3,
                  "fewer than 3 samples of normal/web in 20 s at a 1 s interval");
    cr_expect_eq(sql_int("SELECT count(DISTINCT account) FROM groups WHERE path = 'normal/web'"),
                 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM groups WHERE path = 'normal/web' AND account = "
                         "'team-web'"),
                 1, "the account comes from the policy");
    cr_expect_eq(stop_daemon(SIGTERM), 0);
}

static int burn_briefly(void *arg)
{
    volatile unsigned long x = 0;
    struct timespec a, b;

    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < (long)arg);
    return 0;
}

/* Places a child in g that burns CPU for ns nanoseconds (0: until killed). */
static pid_t run_in(struct cg_group *g, long ns)
{
    struct cg_err e = {0};
    int rel;
    pid_t pid = th_fork_held(burn_briefly, (void *)(ns ? ns : 1000L * 1000000000L), &rel);

    cr_assert_eq(cg_group_attach(g, pid, &e), 0, "attach: %s", e.detail);
    th_release(rel);
    return pid;
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
    finals = wait_count(SAMPLES_OF("normal/web/run-brief") " AND s.final = 1", 1, 15);
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
    cr_assert_geq(wait_count(SAMPLES_OF("normal/web"), 2, 20), 2);
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
    cr_assert_geq(wait_count(SAMPLES_OF("normal/web"), 2, 20), 2);
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
    gap = sql_int(SAMPLES_OF("normal/web") " AND s.t_ns BETWEEN %lld AND %lld", t0, t1);
    cr_expect_geq(gap, 1, "no sample taken while the ledger was locked was written later");
    cr_expect_eq(stop_daemon(SIGTERM), 0);
    {
        char *log = read_text(log_path);
        cr_expect_not_null(strstr(log, "keeping samples in memory"), "log:\n%s", log);
        cr_expect_not_null(strstr(log, "writable again"), "log:\n%s", log);
        free(log);
    }
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The corral command as users and scripts see it: exit codes of DESIGN.md, freeze/thaw
 * through the command line (timeout thaws back, exit 4), remove refusing busy groups,
 * final records of back-to-back runs, and bad input to check/report. Runs the real
 * binary ($CORRAL_BUILD_ROOT/cli/corral) against the test root, with a policy dir,
 * corral.conf and ledger in a temporary directory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "tests/helpers.h"

static char tmpdir[64], pol_dir[128], ledger[128], corral[512];
static pid_t bg = -1;

static void setup(void)
{
    const char *b = getenv("CORRAL_BUILD_ROOT");

    th_setup();
    tmpdir[0] = '\0';
    if (!b)
        return;
    snprintf(corral, sizeof(corral), "%s/cli/corral", b);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/corral-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chmod(tmpdir, 0755), 0);
    snprintf(pol_dir, sizeof(pol_dir), "%s/policies", tmpdir);
    snprintf(ledger, sizeof(ledger), "%s/ledger.db", tmpdir);
    cr_assert_eq(mkdir(pol_dir, 0755), 0);
    cr_assert_eq(chmod(pol_dir, 0755), 0);
}

static void teardown(void)
{
    char cmd[128];

    th_kill_wait(bg);
    bg = -1;
    th_teardown();
    if (tmpdir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void)system(cmd);
    }
}

/* 500 back-to-back runs take minutes in an emulated v2 guest: the bound is generous. */
TestSuite(cli, .init = setup, .fini = teardown, .timeout = 1800);

static void need_binary(void)
{
    th_require_cgroups();
    if (!tmpdir[0] || access(corral, X_OK) != 0)
        cr_skip_test("corral binary not built (CORRAL_BUILD_ROOT unset)");
    (void)th_ctx();
}

static void policy(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.policy", pol_dir, name);
    f = fopen(path, "we");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(path, 0644), 0);
}

/* The command line `corral GLOBAL-OPTIONS args` into cmd, with the test's root, policy
 * dir, ledger and an empty corral.conf (a missing --config is an error). */
static void corral_cmd(char *cmd, size_t size, const char *args)
{
    char conf[256];

    snprintf(conf, sizeof(conf), "%s/none.conf", tmpdir);
    if (access(conf, F_OK) != 0) {
        FILE *f = fopen(conf, "we");
        cr_assert_not_null(f);
        fclose(f);
        cr_assert_eq(chmod(conf, 0644), 0);
    }
    snprintf(cmd, size, "%s --root %s --policy-dir %s --ledger %s --config %s %s", corral,
             th_root_arg(), pol_dir, ledger, conf, args);
}

/* Runs a shell command; returns its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    cr_assert(WIFEXITED(st), "%s: status %#x", cmd, st);
    return WEXITSTATUS(st);
}

/* Runs `corral GLOBAL-OPTIONS ARGS` through the shell; returns its exit status. */
static int corral_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int corral_sh(const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    corral_cmd(cmd, sizeof(cmd), args);
    return sh("%s", cmd);
}

static long long sql_count(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long n = -1;

    cr_assert_eq(sqlite3_open_v2(ledger, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

Test(cli, usage_and_invalid_input_exit_codes)
{
    need_binary();
    policy("web", "[Workload]\nClass=high\n[Pids]\nMax=64\n");
    cr_assert_eq(corral_sh("check >/dev/null 2>&1"), 0);
    cr_assert_eq(corral_sh("no-such-command 2>/dev/null"), 2);
    cr_assert_eq(corral_sh("freeze 2>/dev/null"), 2);
    cr_assert_eq(corral_sh("freeze web --timeout banana 2>/dev/null"), 2);
    cr_assert_eq(corral_sh("run --policy web 2>/dev/null"), 2);
    cr_assert_eq(corral_sh("report --by planet 2>/dev/null"), 1);
    cr_assert_eq(corral_sh("report --from last-week 2>/dev/null"), 1);
    /* invalid policy: exit 1, FILE:LINE on stderr, nothing applied */
    policy("bad", "[Workload]\nClass=high\n[Pids]\nMax=lots\n");
    cr_assert_eq(corral_sh("check 2>%s/err", tmpdir), 1);
    char path[256], *err = NULL;
    snprintf(path, sizeof(path), "%s/err", tmpdir);
    cr_assert_geq(cg_read_all_at(AT_FDCWD, path, &err), 0);
    cr_assert(strstr(err, "bad.policy:4:") != NULL, "stderr: %s", err);
    free(err);
    cr_assert_eq(corral_sh("--json check 2>/dev/null | grep -q "
                           "'\"valid\":false.*\"line\":4,\"message\":'"),
                 0, "check --json lists the problem with its line");
    cr_assert_eq(corral_sh("apply 2>/dev/null"), 1);
    struct cg_group *g = NULL;
    cr_assert_eq(cg_root_open(th_ctx(), false, &g, NULL), -ENOENT,
                 "a refused apply created groups");
}

/* Every command that opens the tree says the same of a --root that leaves it: invalid
 * input (exit 1), named in the message, and nothing is made. */
Test(cli, invalid_root_is_invalid_input_everywhere)
{
    static const char *const cmds[] = {
        "apply",
        "status",
        "remove web",
        "freeze web",
        "thaw web",
        "sample",
        "run --policy web -- /bin/true",
    };
    char path[256], *err = NULL;

    need_binary();
    policy("web", "[Workload]\nClass=high\n[Pids]\nMax=64\n");
    snprintf(path, sizeof(path), "%s/err", tmpdir);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        cr_assert_eq(corral_sh("--root ./../escape %s 2>%s", cmds[i], path), 1, "%s", cmds[i]);
        cr_assert_geq(cg_read_all_at(AT_FDCWD, path, &err), 0);
        cr_assert(strstr(err, "root") != NULL, "%s: stderr: %s", cmds[i], err);
        free(err);
    }
    struct cg_group *g = NULL;
    cr_assert_eq(cg_root_open(th_ctx(), false, &g, NULL), -ENOENT, "a refused command made groups");
}

Test(cli, freeze_thaw_and_unknown_targets)
{
    need_binary();
    policy("job", "[Workload]\nClass=batch\n[Pids]\nMax=64\n");
    cr_assert_eq(corral_sh("apply >/dev/null 2>&1"), 0);
    cr_assert_eq(corral_sh("--json apply 2>/dev/null | grep -q '^{\"dry_run\":false,\"created\":0,"
                           "\"set\":0,\"removed\":0,\"writes\":0,'"),
                 0, "a second apply writes nothing, and --json says so");
    cr_assert_eq(corral_sh("freeze nosuch 2>/dev/null"), 1);
    cr_assert_eq(corral_sh("thaw nosuch 2>/dev/null"), 1);
    cr_assert_eq(corral_sh("freeze job >/dev/null"), 0);
    cr_assert_eq(corral_sh("freeze job >/dev/null"), 0, "freezing a frozen group is a no-op");
    cr_assert_eq(corral_sh("status job --json | grep -q '\"frozen\"'"), 0);
    /* a frozen workload refuses new instances */
    cr_assert_eq(corral_sh("run --policy job -- /bin/true 2>/dev/null"), 3);
    cr_assert_eq(corral_sh("thaw job >/dev/null"), 0);
    cr_assert_eq(corral_sh("thaw job >/dev/null"), 0, "thawing a thawed group is a no-op");
    cr_assert_eq(corral_sh("run --policy job -- /bin/true"), 0);
    /* the freeze and the thaw were recorded with their times; the no-ops were not */
    cr_assert_eq(sql_count("SELECT count(*) FROM events"), 2);
}

/* A freeze that cannot finish within its timeout thaws back and exits 4. Busy processes
 * on every CPU and a 1 us budget: some are always waiting for a CPU when the budget ends,
 * so a timeout comes within a few tries; each must leave the workload thawed. */
Test(cli, freeze_timeout_thaws_back_exit_4)
{
    int timeouts = 0;

    need_binary();
    policy("spin", "[Workload]\nClass=batch\n");
    cr_assert_eq(corral_sh("apply >/dev/null 2>&1"), 0);
    bg = fork();
    cr_assert_geq(bg, 0);
    if (bg == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "exec %s --root %s --policy-dir %s --ledger %s --config %s/none.conf run "
                 "--policy spin --name s -- /bin/sh -c 'for i in 1 2 3 4 5 6; do "
                 "(while :; do :; done) & done; wait'",
                 corral, th_root_arg(), pol_dir, ledger, tmpdir);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    usleep(300 * 1000);
    for (int i = 0; i < 30 && timeouts < 2; i++) {
        int rc = corral_sh("freeze spin --timeout 1us >/dev/null 2>&1");
        cr_assert(rc == 0 || rc == 4, "freeze exited %d", rc);
        if (rc == 4)
            timeouts++;
        /* whatever happened, the workload runs again now (or we thaw what succeeded) */
        if (rc == 0)
            cr_assert_eq(corral_sh("thaw spin >/dev/null"), 0);
        cr_assert_eq(corral_sh("status spin --json | grep -q '\"thawed\"'"), 0,
                     "left frozen after freeze exit %d", rc);
    }
    if (timeouts == 0)
        cr_skip_test("no freeze outlasted a 1 us budget on this machine (idle CPUs)");
    cr_assert_geq(timeouts, 1);
}

Test(cli, remove_refuses_busy_then_kill_records_final)
{
    need_binary();
    policy("svc", "[Workload]\nClass=normal\n");
    cr_assert_eq(corral_sh("apply >/dev/null 2>&1"), 0);
    bg = fork();
    cr_assert_geq(bg, 0);
    if (bg == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "exec %s --root %s --policy-dir %s --ledger %s --config %s/none.conf run "
                 "--policy svc --name long -- /bin/sleep 60",
                 corral, th_root_arg(), pol_dir, ledger, tmpdir);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        char *d = th_group_dir(CG_H_PIDS, "normal/svc/long");
        char procs[256], buf[64] = "";
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", d ? d : "/nonexistent");
        if (cg_read_at(AT_FDCWD, procs, buf, sizeof(buf)) > 0)
            break;
        usleep(20 * 1000);
    }
    cr_assert_eq(corral_sh("remove svc 2>/dev/null"), 3, "busy groups are refused");
    cr_assert_eq(corral_sh("remove svc --kill >/dev/null"), 0);
    int st;
    cr_assert_eq(waitpid(bg, &st, 0), bg);
    bg = -1;
    cr_assert_eq(sql_count("SELECT count(*) FROM samples s JOIN groups g ON g.id = s.group_id "
                           "WHERE g.path = 'normal/svc/long' AND s.final = 1"),
                 1, "the instance's final usage is recorded once");
}

Test(cli, back_to_back_runs_each_leave_one_final_record)
{
    const int N = 500;
    char cmd[1024];

    need_binary();
    policy("tiny", "[Workload]\nClass=batch\n[Namespaces]\nIsolate=pid net ipc mnt uts\n");
    snprintf(cmd, sizeof(cmd),
             "i=0; while [ $i -lt %d ]; do %s --root %s --policy-dir %s --ledger %s "
             "--config %s/none.conf run --policy tiny --name b$i -- /bin/true || exit 1; "
             "i=$((i+1)); done",
             N, corral, th_root_arg(), pol_dir, ledger, tmpdir);
    (void)corral_sh("check >/dev/null 2>&1"); /* creates none.conf */
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(sql_count("SELECT count(*) FROM samples WHERE final = 1"), N);
    cr_assert_eq(sql_count("SELECT count(DISTINCT group_id) FROM samples WHERE final = 1"), N);
    /* and no instance group is left */
    struct cg_group *w = NULL;
    char **kids = NULL;
    cr_assert_eq(cg_group_open(th_ctx(), "batch/tiny", false, &w, NULL, NULL), 0);
    cr_assert_eq(cg_group_children(w, &kids), 0);
    cr_assert_null(kids[0], "instance left behind: %s", kids[0]);
    cg_strv_free(kids);
    cg_group_free(w);
}

/* A SIGTERM for `corral run` that arrives while its ledger opener waits for the ledger
 * (held here by another process) goes to the workload: corral's own threads take no
 * signal, so corral forwards it, and the instance is removed as always. */
Test(cli, sigterm_while_the_ledger_is_busy_reaches_the_workload)
{
    sqlite3 *db = NULL;
    char cmd[1024];
    int st;

    need_binary();
    policy("busy", "[Workload]\nClass=normal\n[Namespaces]\nIsolate=pid\n");
    cr_assert_eq(corral_sh("run --policy busy -- /bin/true"), 0); /* makes the ledger */
    /* An exclusive lock: every other connection waits (up to corral's 5 s busy timeout). */
    cr_assert_eq(sqlite3_open(ledger, &db), SQLITE_OK);
    cr_assert_eq(
        sqlite3_exec(db, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;", NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(db));
    snprintf(cmd, sizeof(cmd),
             "%s --root %s --policy-dir %s --ledger %s --config %s/none.conf run --policy busy "
             "--name sig -- /bin/sh -c 'trap \"exit 42\" TERM; sleep 10 & wait' 2>/dev/null & "
             "p=$!; sleep 0.5; kill -TERM $p; wait $p",
             corral, th_root_arg(), pol_dir, ledger, tmpdir);
    st = system(cmd);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    cr_assert(WIFEXITED(st), "status %#x", st);
    /* the workload's own status (its trap), not corral killed by the signal */
    cr_assert_eq(WEXITSTATUS(st), 42, "corral exited %d", WEXITSTATUS(st));
    cr_assert_null(th_group_dir(CG_H_PIDS, "normal/busy/sig") &&
                           access(th_group_dir(CG_H_PIDS, "normal/busy/sig"), F_OK) == 0
                       ? "left"
                       : NULL,
                   "instance left behind");
}

/* ---- instance names, remove --kill of a live run, table and JSON output ---- */

/* Starts `corral GLOBAL-OPTIONS ARGS` in the background with stderr to err; returns its pid. */
static pid_t corral_bg(const char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static pid_t corral_bg(const char *err, const char *fmt, ...)
{
    char args[2048], cmd[4096], line[4200];
    va_list ap;
    pid_t pid;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    corral_cmd(cmd, sizeof(cmd), args);
    snprintf(line, sizeof(line), "exec %s 2>%s", cmd, err);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Whether some process waits for the flock of the file with inode ino (/proc/locks). */
static bool lock_waited_for(unsigned long ino)
{
    char *text = NULL, want[32];
    bool found = false;

    if (cg_read_all_at(AT_FDCWD, "/proc/locks", &text) < 0)
        return false;
    snprintf(want, sizeof(want), ":%lu ", ino);
    for (char *l = strtok(text, "\n"); l && !found; l = strtok(NULL, "\n"))
        found = strstr(l, "-> FLOCK") && strstr(l, want);
    free(text);
    return found;
}

/* Waits (30 s at most) until a process lives in group path (relative to the test root). */
static void wait_populated(const char *path)
{
    char *d = th_group_dir(CG_H_PIDS, path);
    char procs[4096];

    snprintf(procs, sizeof(procs), "%s/cgroup.procs", d ? d : "/nonexistent");
    for (int i = 0; i < 3000; i++) {
        char buf[64] = "";
        if (cg_read_at(AT_FDCWD, procs, buf, sizeof(buf)) > 0 && buf[0] >= '0' && buf[0] <= '9')
            return;
        usleep(10 * 1000);
    }
    cr_assert_fail("no process in %s after 30 s", path);
}

static bool group_dir_exists(const char *path)
{
    char *d = th_group_dir(CG_H_PIDS, path);
    return d && access(d, F_OK) == 0;
}

/* The text of file, malloc'ed ("" when missing). */
static char *slurp(const char *file)
{
    char *text = NULL;

    if (cg_read_all_at(AT_FDCWD, file, &text) < 0)
        text = strdup("");
    cr_assert_not_null(text);
    return text;
}

static int wait_exit(pid_t pid)
{
    int st;

    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "status %#x", st);
    return WEXITSTATUS(st);
}

#define FINALS_OF(path)                                                                            \
    "SELECT count(*) FROM samples s JOIN groups g ON g.id = s.group_id WHERE g.path = '" path      \
    "' AND s.final = 1"

/* Parses stdin as JSON, strictly: invalid UTF-8 is an error too (python3's default would
 * let it through as surrogates). */
#define JSON_PARSES "python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read().decode()) '"

/* --name X makes the instance X itself: status shows it, freeze/thaw/remove take W/X and
 * CLASS/W/X; a name taken is exit 1 with "instance W/X exists already"; "run-x" stays
 * "run-x"; without --name the instance is run-<pid>. */
Test(cli, run_name_is_the_instance_name)
{
    char err[256];
    char *text;

    need_binary();
    policy("web", "[Workload]\nClass=high\n[Namespaces]\nIsolate=pid\n");
    snprintf(err, sizeof(err), "%s/err", tmpdir);
    bg = corral_bg("/dev/null", "run --policy web --name burn -- /bin/sleep 60");
    wait_populated("high/web/burn");
    cr_assert_eq(corral_sh("status web/burn --json | grep -q '\"instance\":\"burn\"'"), 0);
    cr_assert_eq(corral_sh("status | grep -q '^    burn  '"), 0, "status shows the name given");
    cr_assert_eq(corral_sh("freeze web/burn >/dev/null"), 0);
    cr_assert_eq(corral_sh("status high/web/burn --json | grep -q '\"state\":\"frozen\"'"), 0);
    cr_assert_eq(corral_sh("thaw high/web/burn >/dev/null"), 0);
    cr_assert_eq(corral_sh("run --policy web --name burn -- /bin/true 2>%s", err), 1);
    text = slurp(err);
    cr_assert(strstr(text, "instance web/burn exists already"), "stderr: %s", text);
    free(text);
    cr_assert_eq(corral_sh("remove --kill web/burn >/dev/null"), 0);
    cr_assert_eq(wait_exit(bg), 137);
    bg = -1;
    cr_assert_eq(corral_sh("run --policy web --name run-x -- /bin/true"), 0);
    cr_assert_eq(sql_count("SELECT count(*) FROM groups WHERE path = 'high/web/run-x'"), 1);
    cr_assert_eq(corral_sh("run --policy web -- /bin/true"), 0);
    cr_assert_eq(sql_count("SELECT count(*) FROM groups WHERE path GLOB 'high/web/run-[0-9]*'"), 1);
    cr_assert_eq(sql_count("SELECT count(*) FROM groups WHERE path LIKE '%run-run-%'"), 0);
}

/* An invalid --name is input (exit 1) naming the rule it broke, refused before anything
 * is made: no group in any hierarchy, no ledger file. */
Test(cli, invalid_name_refused_before_anything_is_created)
{
    static const struct {
        const char *name, *why;
    } bad[] = {
        {"Burn", "character 1 is 'B'"},
        {"a\\ b", "character 2 is ' '"},
        {"a/b", "character 2 is '/'"},
        {"..", "character 1 is '.'"},
        {"''", "it is empty"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "65 characters"},
    };
    char err[256];

    need_binary();
    policy("web", "[Workload]\nClass=high\n");
    snprintf(err, sizeof(err), "%s/err", tmpdir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *text;

        cr_assert_eq(corral_sh("run --policy web --name %s -- /bin/true 2>%s", bad[i].name, err), 1,
                     "--name %s", bad[i].name);
        text = slurp(err);
        cr_assert(strstr(text, bad[i].why) && strstr(text, "[a-z0-9_-]{1,64}"),
                  "--name %s: stderr: %s", bad[i].name, text);
        free(text);
    }
    struct cg_group *g = NULL;
    cr_assert_eq(cg_root_open(th_ctx(), false, &g, NULL), -ENOENT, "an invalid name made groups");
    cr_assert_neq(access(ledger, F_OK), 0, "an invalid name made the ledger");
}

/* remove --kill of a live `corral run` instance: remove exits 0 and records the final
 * usage; run reports the workload killed, in words, and exits 137, recording nothing
 * more: one final record. With and without a PID namespace. */
Test(cli, remove_kill_of_a_live_run_reports_it_killed)
{
    static const char *const isolate[] = {"pid net ipc mnt uts", ""};
    char err[256], policy_text[256];

    need_binary();
    snprintf(err, sizeof(err), "%s/run-err", tmpdir);
    for (size_t i = 0; i < 2; i++) {
        char *text;

        snprintf(policy_text, sizeof(policy_text), "[Workload]\nClass=normal\n%s%s\n",
                 isolate[i][0] ? "[Namespaces]\nIsolate=" : "", isolate[i]);
        policy("svc", policy_text);
        bg = corral_bg(err, "run --policy svc --name live -- /bin/sleep 60");
        wait_populated("normal/svc/live");
        cr_assert_eq(corral_sh("remove --kill svc/live >/dev/null"), 0);
        cr_assert_eq(wait_exit(bg), 137);
        bg = -1;
        text = slurp(err);
        cr_assert(strstr(text, "corral: svc/live: the instance was removed while it ran; the "
                               "workload was killed by SIGKILL\n"),
                  "stderr: %s", text);
        cr_assert_null(strstr(text, "cannot read"), "stderr: %s", text);
        cr_assert_null(strstr(text, "not recorded"), "stderr: %s", text);
        free(text);
        cr_assert_eq(sql_count(FINALS_OF("normal/svc/live")), (long long)i + 1,
                     "one final record per instance");
        cr_assert_not(group_dir_exists("normal/svc/live"));
    }
}

/* The other order: `corral run` ends its instance (and records it) while remove waits for
 * the instance's lock, or before remove starts. Remove then finds nothing to remove: exit
 * 0 when it was there when remove looked, 1 (no such target) when it was not; never a
 * second final record or "cannot read the final usage". */
Test(cli, remove_racing_the_end_of_a_run_records_once)
{
    char err[256], rerr[256], name[32], sql[256];
    struct cg_group *w = NULL, *g = NULL;
    struct stat st;
    pid_t rm;
    int fd = -1;
    char *text;

    need_binary();
    policy("job", "[Workload]\nClass=batch\n");
    snprintf(err, sizeof(err), "%s/run-err", tmpdir);
    snprintf(rerr, sizeof(rerr), "%s/remove-err", tmpdir);
    /* remove waits on the instance's lock, held here as a run's end holds it; the instance
     * goes meanwhile: remove says so and exits 0, recording nothing */
    cr_assert_eq(corral_sh("apply >/dev/null 2>&1"), 0);
    cr_assert_eq(cg_group_open(th_ctx(), "batch/job", false, &w, NULL, NULL), 0);
    cr_assert_eq(cg_group_child(w, "held", true, &g, NULL, NULL), 0);
    cr_assert_eq(cg_group_lock(g, &fd), 0);
    rm = corral_bg(rerr, "remove --kill job/held >%s/remove-out", tmpdir);
    cr_assert_eq(fstat(fd, &st), 0);
    for (int i = 0; i < 3000 && !lock_waited_for((unsigned long)st.st_ino); i++)
        usleep(10 * 1000);
    cr_assert(lock_waited_for((unsigned long)st.st_ino), "remove does not wait for the lock");
    cr_assert_eq(cg_group_remove(g, NULL), 0);
    close(fd);
    cr_assert_eq(wait_exit(rm), 0, "remove of a group gone meanwhile");
    snprintf(sql, sizeof(sql), "%s/remove-out", tmpdir);
    text = slurp(sql);
    cr_assert(strstr(text, "batch/job/held: removed meanwhile"), "stdout: %s", text);
    free(text);
    cr_assert_eq(sql_count(FINALS_OF("batch/job/held")), 0);
    cg_group_free(g);
    cg_group_free(w);

    /* a run that ended before remove looked: remove finds no such target */
    cr_assert_eq(corral_sh("run --policy job --name done -- /bin/true"), 0);
    cr_assert_eq(corral_sh("remove --kill job/done 2>/dev/null"), 1);
    cr_assert_eq(sql_count(FINALS_OF("batch/job/done")), 1);

    /* and the two at about the same time, the run's end on either side of remove's kill */
    for (int i = 0; i < 8; i++) {
        int rrc, src;

        snprintf(name, sizeof(name), "r%d", i);
        bg = corral_bg(err, "run --policy job --name %s -- /bin/sleep 0.3", name);
        snprintf(sql, sizeof(sql), "batch/job/%s", name);
        wait_populated(sql);
        usleep((unsigned)(i % 4) * 100 * 1000);
        src = corral_sh("remove --kill job/%s >/dev/null 2>%s", name, rerr);
        rrc = wait_exit(bg);
        bg = -1;
        text = slurp(rerr);
        cr_assert(src == 0 || (src == 1 && strstr(text, "no such")), "remove %d: %s", src, text);
        cr_assert_null(strstr(text, "cannot read"), "remove: %s", text);
        free(text);
        text = slurp(err);
        cr_assert(rrc == 0 || (rrc == 137 && strstr(text, "removed while it ran")), "run %d: %s",
                  rrc, text);
        cr_assert_null(strstr(text, "cannot read"), "run: %s", text);
        cr_assert_null(strstr(text, "not recorded"), "run: %s", text);
        free(text);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM samples s JOIN groups g ON g.id = s.group_id WHERE "
                 "g.path = 'batch/job/%s' AND s.final = 1",
                 name);
        cr_assert_eq(sql_count(sql), 1, "%s: run %d, remove %d", name, rrc, src);
        snprintf(sql, sizeof(sql), "batch/job/%s", name);
        cr_assert_not(group_dir_exists(sql), "%s left behind", sql);
        cr_log_info("%s: run exited %d, remove %d", name, rrc, src);
    }
}

/* Names are never cut: a 64-character workload with a 64-character instance is whole in
 * the status table and its JSON. */
Test(cli, long_names_are_whole_in_status_table_and_json)
{
    char wl[65], inst[65], out[256];
    char *text, *line;

    need_binary();
    memset(wl, 'w', 64);
    wl[64] = '\0';
    memset(inst, 'i', 64);
    inst[63] = '9';
    inst[64] = '\0';
    policy(wl, "[Workload]\nClass=normal\n");
    bg = corral_bg("/dev/null", "run --policy %s --name %s -- /bin/sleep 60", wl, inst);
    snprintf(out, sizeof(out), "normal/%s/%s", wl, inst);
    wait_populated(out);
    snprintf(out, sizeof(out), "%s/status", tmpdir);
    cr_assert_eq(corral_sh("status >%s", out), 0);
    text = slurp(out);
    /* the rows are "  NAME  thawed ..." and "    NAME  thawed ...": whole, then the columns */
    line = strstr(text, wl);
    cr_assert(line && line[64] == ' ' && line[-1] == ' ', "status:\n%s", text);
    line = strstr(text, inst);
    cr_assert(line && line[64] == ' ' && line[-1] == ' ', "status:\n%s", text);
    free(text);
    cr_assert_eq(corral_sh("status --json >%s", out), 0);
    cr_assert_eq(corral_sh("status --json | python3 -c 'import json,sys; d=json.loads("
                           "sys.stdin.buffer.read().decode()); assert any(g[\"workload\"]==\"%s\" "
                           "and g[\"instance\"]==\"%s\" and g[\"path\"]==\"normal/%s/%s\" for g "
                           "in d[\"groups\"])'",
                           wl, inst, wl, inst),
                 0);
    cr_assert_eq(corral_sh("remove --kill %s/%s >/dev/null", wl, inst), 0);
    cr_assert_eq(wait_exit(bg), 137);
    bg = -1;
}

/* Every --json output is one valid JSON document, valid UTF-8 included: a policy dir and
 * corral.conf whose path holds an invalid UTF-8 byte are echoed escaped (\xNN). */
Test(cli, every_json_output_parses_with_invalid_utf8_paths)
{
    char odd[256], conf[300];
    FILE *f;

    need_binary();
    snprintf(odd, sizeof(odd), "%s/p\xff\xfe", tmpdir);
    cr_assert_eq(mkdir(odd, 0755), 0);
    cr_assert_eq(chmod(odd, 0755), 0);
    snprintf(conf, sizeof(conf), "%s/corral.conf", odd);
    f = fopen(conf, "we");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(chmod(conf, 0644), 0);
    policy("web", "[Workload]\nClass=high\n[Memory]\nHigh=64M\n");
#define ODD "--policy-dir '%s' --config '%s' "
    /* valid: the config's path is echoed */
    cr_assert_eq(corral_sh("--json " ODD "check 2>/dev/null | " JSON_PARSES, odd, conf), 0);
    cr_assert_eq(corral_sh("--json " ODD
                           "check 2>/dev/null | grep -qF 'p\\\\xff\\\\xfe/corral.conf'",
                           odd, conf),
                 0, "the invalid bytes are escaped as \\xNN");
    cr_assert_eq(corral_sh("--json apply --dry-run 2>/dev/null | " JSON_PARSES), 0);
    cr_assert_eq(corral_sh("--json apply 2>/dev/null | " JSON_PARSES), 0);
    cr_assert_eq(corral_sh("status --json 2>/dev/null | " JSON_PARSES), 0);
    cr_assert_eq(corral_sh("--json freeze web 2>/dev/null | " JSON_PARSES), 0);
    cr_assert_eq(corral_sh("--json thaw web 2>/dev/null | " JSON_PARSES), 0);
    cr_assert_eq(corral_sh("--json sample 2>/dev/null | " JSON_PARSES), 0);
    /* invalid: each problem's file is echoed */
    snprintf(conf, sizeof(conf), "%s/bad.policy", odd);
    f = fopen(conf, "we");
    cr_assert_not_null(f);
    fputs("[Workload]\nClass=high\n[Pids]\nMax=lots\n", f);
    fclose(f);
    cr_assert_eq(chmod(conf, 0644), 0);
    cr_assert_eq(
        corral_sh("--json --policy-dir '%s' check 2>/dev/null >%s/check.json", odd, tmpdir), 1);
    cr_assert_eq(sh(JSON_PARSES " <%s/check.json", tmpdir), 0);
    cr_assert_eq(sh("grep -qF 'p\\\\xff\\\\xfe/bad.policy\",\"line\":4' %s/check.json", tmpdir), 0);
#undef ODD
}

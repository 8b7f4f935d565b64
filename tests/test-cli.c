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

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 300);

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

/* Runs `corral GLOBAL-OPTIONS ARGS` through the shell; returns its exit status. */
static int corral_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int corral_sh(const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s --root %s --policy-dir %s --ledger %s --config %s/none.conf %s",
             corral, th_root_arg(), pol_dir, ledger, tmpdir, args);
    /* a missing --config is an error; point it at an empty file */
    {
        char conf[256];
        snprintf(conf, sizeof(conf), "%s/none.conf", tmpdir);
        if (access(conf, F_OK) != 0) {
            FILE *f = fopen(conf, "we");
            cr_assert_not_null(f);
            fclose(f);
            cr_assert_eq(chmod(conf, 0644), 0);
        }
    }
    st = system(cmd);
    cr_assert(WIFEXITED(st), "%s: status %#x", cmd, st);
    return WEXITSTATUS(st);
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
        char *d = th_group_dir(CG_H_PIDS, "normal/svc/run-long");
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
                           "WHERE g.path = 'normal/svc/run-long' AND s.final = 1"),
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
    cr_assert_null(th_group_dir(CG_H_PIDS, "normal/busy/run-sig") &&
                           access(th_group_dir(CG_H_PIDS, "normal/busy/run-sig"), F_OK) == 0
                       ? "left"
                       : NULL,
                   "instance left behind");
}

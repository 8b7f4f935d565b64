/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hostile input through the corral command: files that are not files (a FIFO in every
 * position must be refused at once, not waited on), symlinks out of the policy
 * directory, untrusted directories for every command that reads policies, what check
 * must refuse because run would (ids, working directories, memory below a page), and
 * the ledger's open path (exit 3, read-only media, messages). Runs the real binary
 * ($CORRAL_BUILD_ROOT/cli/corral) against the test root, with its files in a temporary
 * directory; every command runs under timeout(1), so a hang fails instead of waiting.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "tests/helpers.h"

static char tmpdir[64], pol_dir[128], ledger[128], conf[128], corral[512], ro_mnt[128];
static char *out; /* what the last corral_sh printed (stdout and stderr) */

static void setup(void)
{
    const char *b = getenv("CORRAL_BUILD_ROOT");
    FILE *f;

    th_setup();
    tmpdir[0] = ro_mnt[0] = '\0';
    if (!b)
        return;
    snprintf(corral, sizeof(corral), "%s/cli/corral", b);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/corral-hostile-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chmod(tmpdir, 0755), 0);
    snprintf(pol_dir, sizeof(pol_dir), "%s/policies", tmpdir);
    snprintf(ledger, sizeof(ledger), "%s/ledger.db", tmpdir);
    snprintf(conf, sizeof(conf), "%s/corral.conf", tmpdir);
    cr_assert_eq(mkdir(pol_dir, 0755), 0);
    cr_assert_eq(chmod(pol_dir, 0755), 0);
    f = fopen(conf, "we");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(chmod(conf, 0644), 0);
}

static void teardown(void)
{
    char cmd[256];

    free(out);
    out = NULL;
    if (ro_mnt[0])
        (void)umount2(ro_mnt, MNT_DETACH);
    th_teardown();
    if (tmpdir[0]) {
        snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", tmpdir, tmpdir);
        (void)system(cmd);
    }
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 300);

static void need_binary(void)
{
    th_require_cgroups();
    if (!tmpdir[0] || access(corral, X_OK) != 0)
        cr_skip_test("corral binary not built (CORRAL_BUILD_ROOT unset)");
    (void)th_ctx();
}

static void put(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "we");

    cr_assert_not_null(f, "%s: %m", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

static void policy(const char *name, const char *text)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s.policy", pol_dir, name);
    put(path, text, 0644);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs `corral GLOBAL-OPTIONS ARGS` (bounded by timeout(1): 10 s), keeps its output in
 * `out`, and returns its exit status; *ret_s (optional): how long it took. */
static int corral_sh(double *ret_s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int corral_sh(double *ret_s, const char *fmt, ...)
{
    char args[2048], cmd[4096], path[256];
    double t0 = now_s();
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/out", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "timeout -s KILL 10 %s --root %s --policy-dir %s --ledger %s --config %s %s "
             ">%s 2>&1 </dev/null",
             corral, th_root_arg(), pol_dir, ledger, conf, args, path);
    st = system(cmd);
    if (ret_s)
        *ret_s = now_s() - t0;
    free(out);
    out = NULL;
    cr_assert_geq(cg_read_all_at(AT_FDCWD, path, &out), 0);
    cr_assert(WIFEXITED(st), "%s: status %#x", cmd, st);
    cr_assert_neq(WEXITSTATUS(st), 137, "%s: killed by the timeout (it hung): %s", args, out);
    return WEXITSTATUS(st);
}

#define EXPECT_OUT(needle) cr_expect(strstr(out, needle) != NULL, "no '%s' in: %s", needle, out)

static bool root_made(void)
{
    struct cg_group *g = NULL;
    bool made = cg_root_open(th_ctx(), false, &g, NULL) == 0;

    cg_group_free(g);
    return made;
}

/* A FIFO wherever corral reads a file: refused at once (a bound of 5 s; a blocking open
 * waits for a writer forever), with the file named. */
Test(hostile, a_fifo_in_every_position_is_refused_at_once)
{
    static const struct {
        const char *args;
        int exit;
        const char *needle;
    } cases[] = {
        {"check", 1, "x.policy: not a regular file (a FIFO)"},
        {"apply", 1, "x.policy: not a regular file (a FIFO)"},
        {"check %s/fifo", 1, "fifo: not a regular file (a FIFO)"},
        {"--config %s/fifo check", 1, "fifo: not a regular file (a FIFO)"},
        {"report --rates %s/fifo", 1, "fifo: not a regular file (a FIFO)"},
        {"--ledger %s/fifo sample", 3, "ledger '"},
        {"--ledger %s/fifo report", 3, "is not a regular file (a FIFO)"},
        {"run --policy x -- /bin/true", 1, "x.policy: not a regular file (a FIFO)"},
    };
    char fifo[256], args[512];

    need_binary();
    snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    snprintf(fifo, sizeof(fifo), "%s/x.policy", pol_dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    policy("web", "[Pids]\nMax=64\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double dt;

        const char *at = strstr(cases[i].args, "%s");

        /* "%s" in a case stands for the temporary directory */
        if (at)
            snprintf(args, sizeof(args), "%.*s%s%s", (int)(at - cases[i].args), cases[i].args,
                     tmpdir, at + 2);
        else
            snprintf(args, sizeof(args), "%s", cases[i].args);
        cr_expect_eq(corral_sh(&dt, "%s", args), cases[i].exit, "%s: %s", args, out);
        EXPECT_OUT(cases[i].needle);
        cr_expect_lt(dt, 5.0, "%s took %.1f s", args, dt);
    }
    cr_expect(!root_made(), "a refused command made groups");
}

Test(hostile, a_symlink_out_of_the_policy_dir_is_not_read)
{
    char secret[256], link[256];

    need_binary();
    snprintf(secret, sizeof(secret), "%s/secret", tmpdir);
    put(secret, "root:Top-Secret-Hash:19000:0:99999:7:::\n[Workload]\nName=Secret-Name\n", 0600);
    snprintf(link, sizeof(link), "%s/x.policy", pol_dir);
    cr_assert_eq(symlink(secret, link), 0);
    cr_assert_eq(corral_sh(NULL, "check"), 1);
    EXPECT_OUT("x.policy: a symbolic link that leads out of the policy directory");
    cr_expect(strstr(out, "Secret") == NULL, "the file's text is echoed: %s", out);
    cr_expect_eq(corral_sh(NULL, "run --policy x -- /bin/true"), 1, "%s", out);
    cr_expect(!root_made(), "a refused command made groups");
}

/* run, status and check refuse the same untrusted directory and files (as root). */
Test(hostile, every_command_refuses_an_untrusted_policy_dir)
{
    char path[256];

    need_binary();
    if (geteuid() != 0)
        cr_skip_test("the trust rules apply when running as root");
    policy("web", "[Pids]\nMax=64\n");
    cr_assert_eq(corral_sh(NULL, "apply"), 0, "%s", out);
    cr_assert_eq(chmod(pol_dir, 0777), 0);
    cr_expect_eq(corral_sh(NULL, "run --policy web -- /bin/echo ran"), 1, "%s", out);
    EXPECT_OUT("refusing a directory writable by group and others");
    cr_expect(strstr(out, "ran") == NULL, "the command ran: %s", out);
    cr_expect_eq(corral_sh(NULL, "check"), 1, "%s", out);
    cr_expect_eq(corral_sh(NULL, "status"), 0, "%s", out);
    EXPECT_OUT("the policies do not load (");
    EXPECT_OUT("refusing a directory writable by group and others");

    /* A directory that another user owns, and a file others may write. */
    cr_assert_eq(chmod(pol_dir, 0755), 0);
    cr_assert_eq(chown(pol_dir, 65534, 65534), 0);
    cr_expect_eq(corral_sh(NULL, "run --policy web -- /bin/echo ran"), 1, "%s", out);
    EXPECT_OUT("refusing a directory owned by uid 65534");
    cr_assert_eq(chown(pol_dir, 0, 0), 0);
    snprintf(path, sizeof(path), "%s/web.policy", pol_dir);
    cr_assert_eq(chmod(path, 0666), 0);
    cr_expect_eq(corral_sh(NULL, "run --policy web -- /bin/echo ran"), 1, "%s", out);
    EXPECT_OUT("web.policy: refusing a file writable by group and others");
    cr_assert_eq(chmod(path, 0644), 0);
    cr_expect_eq(corral_sh(NULL, "run --policy web -- /bin/echo ran"), 0, "%s", out);
    EXPECT_OUT("ran");
}

Test(hostile, corral_conf_is_as_strict_as_a_policy)
{
    need_binary();
    put(conf, "\xef\xbb\xbf[Bogus]\nX=1\n[Accounting]\nInterval: 5s\n", 0644);
    cr_assert_eq(corral_sh(NULL, "check"), 1, "%s", out);
    EXPECT_OUT("corral.conf:1: the file starts with a UTF-8 byte order mark");
    EXPECT_OUT("corral.conf:1: unknown section [Bogus]");
    EXPECT_OUT("corral.conf:4: syntax error: ':' is not a delimiter");
}

/* The requirement's figure: 10,000 bad lines checked by the command in under a second. */
Test(hostile, ten_thousand_bad_lines_are_checked_in_under_a_second)
{
    char path[256];
    double dt;
    FILE *f;

    need_binary();
    snprintf(path, sizeof(path), "%s/bad.policy", pol_dir);
    f = fopen(path, "we");
    cr_assert_not_null(f);
    fputs("[CPU]\n", f);
    for (int i = 1; i < 10000; i++)
        fputs(i % 3 == 0 ? "junk line\n" : i % 3 == 1 ? "Weight: 5\n" : "[CPU] x\n", f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(corral_sh(&dt, "check"), 1);
    cr_log_info("corral check of 10,000 bad lines: %.3f s", dt);
    cr_expect_lt(dt, 1.0, "took %.3f s", dt);
    EXPECT_OUT("bad.policy: 9999 problems; only the first 1000 are shown");
    EXPECT_OUT("bad.policy:1001: syntax error");
}

/* What run would refuse, check refuses first; and the forms check accepts, run runs. */
Test(hostile, check_and_run_agree_on_users)
{
    need_binary();
    policy("num", "[Process]\nUser=12345\nGroup=23456\n");
    cr_assert_eq(corral_sh(NULL, "check"), 0, "%s", out);
    cr_assert_eq(
        corral_sh(NULL, "run --policy num -- /bin/sh -c 'echo $(id -u):$(id -g):$(id -G)'"), 0,
        "%s", out);
    EXPECT_OUT("12345:23456:23456");
    policy("num", "[Process]\nUser=12345\n");
    cr_assert_eq(corral_sh(NULL, "run --policy num -- /bin/sh -c 'echo $(id -u):$(id -g)'"), 0,
                 "%s", out);
    EXPECT_OUT("12345:12345");

    policy("num", "[Process]\nUser=4294967295\n");
    cr_expect_eq(corral_sh(NULL, "check"), 1, "%s", out);
    EXPECT_OUT("num.policy:2: Process.User='4294967295': a numeric id must be from 0 to");
    cr_expect_eq(corral_sh(NULL, "run --policy num -- /bin/true"), 1, "%s", out);
    cr_expect(strstr(out, "No such process") == NULL, "%s", out);
}

Test(hostile, check_refuses_a_missing_working_directory_and_run_names_it)
{
    char text[256];

    need_binary();
    policy("wd", "[Process]\nWorkingDirectory=/nonexistent-corral-wd\n");
    cr_expect_eq(corral_sh(NULL, "check"), 1, "%s", out);
    EXPECT_OUT("wd.policy:2: Process.WorkingDirectory='/nonexistent-corral-wd': No such file");
    cr_expect_eq(corral_sh(NULL, "run --policy wd -- /bin/true"), 1, "%s", out);
    cr_expect(!root_made(), "a refused run made groups");

    /* There, but not for the workload's user: only run can know; it names the path. */
    snprintf(text, sizeof(text), "%s/private", tmpdir);
    cr_assert_eq(mkdir(text, 0700), 0);
    cr_assert_eq(chmod(text, 0700), 0);
    snprintf(text, sizeof(text), "[Process]\nUser=65534\nWorkingDirectory=%s/private\n", tmpdir);
    policy("wd", text);
    cr_expect_eq(corral_sh(NULL, "check"), 0, "%s", out);
    cr_expect_eq(corral_sh(NULL, "run --policy wd -- /bin/true"), 1, "%s", out);
    EXPECT_OUT("working directory failed: ");
    EXPECT_OUT("/private: Permission denied");
}

Test(hostile, memory_below_a_page_is_refused_at_check)
{
    static const char *const values[] = {"1", "1.5K", "4095", "0"};
    char text[128];
    char *v;

    need_binary();
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(text, sizeof(text), "[Memory]\nMax=%s\n", values[i]);
        policy("mem", text);
        cr_expect_eq(corral_sh(NULL, "check"), 1, "Max=%s: %s", values[i], out);
        EXPECT_OUT("mem.policy:2: Memory.Max=");
        EXPECT_OUT("below one page");
        cr_expect_eq(corral_sh(NULL, "apply"), 1);
    }
    cr_expect(!root_made(), "a refused apply made groups");
    /* A non-multiple is rounded down as the kernel would; a second apply writes nothing. */
    policy("mem", "[Memory]\nMax=8197\n");
    cr_assert_eq(corral_sh(NULL, "apply"), 0, "%s", out);
    v = th_kread(CG_H_MEMORY, "normal/mem",
                 cg_ctx_is_v2(th_ctx()) ? "memory.max" : "memory.limit_in_bytes");
    cr_assert_not_null(v);
    cr_expect_str_eq(v, "8192");
    free(v);
    cr_assert_eq(corral_sh(NULL, "--json apply"), 0, "%s", out);
    EXPECT_OUT("\"writes\":0");
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* Ledger errors are system errors (3), and each message says what is wrong, once. */
Test(hostile, ledger_open_exit_codes_and_messages)
{
    char path[256], link[256];

    need_binary();
    policy("web", "[Pids]\nMax=64\n");
    cr_assert_eq(corral_sh(NULL, "apply"), 0, "%s", out);
    cr_expect_eq(corral_sh(NULL, "--ledger %s/a/b/ledger.db sample", tmpdir), 3, "%s", out);
    EXPECT_OUT("/a/b' cannot be created (its parent does not exist)");
    cr_expect_eq(corral_sh(NULL, "--ledger %s/a/b/ledger.db report", tmpdir), 3, "%s", out);

    cr_assert_eq(corral_sh(NULL, "sample"), 0, "%s", out);
    snprintf(link, sizeof(link), "%s/link.db", tmpdir);
    cr_assert_eq(symlink(ledger, link), 0);
    cr_expect_eq(corral_sh(NULL, "--ledger %s sample", link), 3, "%s", out);
    EXPECT_OUT("link.db' is a symbolic link");
    cr_expect(strstr(out, "File exists") == NULL, "%s", out);
    cr_expect_eq(corral_sh(NULL, "--ledger %s report", link), 3, "%s", out);
    EXPECT_OUT("is a symbolic link");

    /* Written by a newer corral: said in words, not "Protocol error". */
    snprintf(path, sizeof(path), "%s/new.db", tmpdir);
    cr_assert_eq(corral_sh(NULL, "--ledger %s sample", path), 0, "%s", out);
    sql_exec(path, "PRAGMA user_version = 99");
    cr_expect_eq(corral_sh(NULL, "--ledger %s report", path), 3, "%s", out);
    EXPECT_OUT("was written by a newer corral (schema version 99");
    cr_expect(strstr(out, "Protocol error") == NULL, "%s", out);
}

/* An intact, idle ledger on a read-only medium: report works (immutable), a writer says
 * "read-only" once. A read-only bind mount of the ledger's directory is the medium. */
Test(hostile, report_of_a_ledger_on_a_read_only_medium)
{
    char dir[256], ro_ledger[300];

    need_binary();
    policy("web", "[Pids]\nMax=64\n");
    snprintf(dir, sizeof(dir), "%s/data", tmpdir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    cr_assert_eq(corral_sh(NULL, "apply"), 0, "%s", out);
    cr_assert_eq(corral_sh(NULL, "--ledger %s/ledger.db run --policy web -- /bin/true", dir), 0,
                 "%s", out);
    cr_assert_eq(corral_sh(NULL, "--ledger %s/ledger.db sample", dir), 0, "%s", out);
    /* Idle: the last writer closed it, so no WAL is left. */
    snprintf(ro_ledger, sizeof(ro_ledger), "%s/data/ledger.db-wal", tmpdir);
    cr_assert_neq(access(ro_ledger, F_OK), 0, "a WAL was left behind");
    snprintf(ro_mnt, sizeof(ro_mnt), "%s/ro", tmpdir);
    cr_assert_eq(mkdir(ro_mnt, 0755), 0);
    if (mount(dir, ro_mnt, NULL, MS_BIND, NULL) < 0) {
        ro_mnt[0] = '\0';
        cr_skip_test("cannot bind-mount here: %m");
    }
    cr_assert_eq(mount(NULL, ro_mnt, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), 0, "%m");
    snprintf(ro_ledger, sizeof(ro_ledger), "%s/ledger.db", ro_mnt);
    cr_expect_eq(corral_sh(NULL, "--ledger %s report --by workload --format csv", ro_ledger), 0,
                 "%s", out);
    EXPECT_OUT("workload,web,1,");
    cr_expect_eq(corral_sh(NULL, "--ledger %s sample", ro_ledger), 3, "%s", out);
    EXPECT_OUT("Read-only file system");
    cr_expect(strstr(out, "Read-only file system: Read-only file system") == NULL, "%s", out);
}

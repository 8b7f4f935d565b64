/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One writer per root: concurrent applies are serial (the tree ends as one set or the
 * other, never a mixture); a writer that finds the lock held waits, then gives up naming
 * the holder, or goes on as soon as it is let go; `run` holds it only to make and remove
 * its instance; corrald holds it for its life; the runtime directory is trusted only as
 * root's, and the lock file is never followed through a symlink. The real binaries run
 * against the test root with the suite's runtime directory ($CORRAL_RUNTIME_DIR).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/lock.h"
#include "core/roots.h"
#include "tests/helpers.h"

static struct th_env env;

#define corral_sh(...) TH_ENV_CORRAL(&env, __VA_ARGS__)
#define err_text()     th_env_read(&env, "err")

static const char *const web_names[] = {"web"};
static const char *const web_texts[] = {"[Workload]\nClass=high\n[Pids]\nMax=64\n"};

static void setup(void)
{
    th_env_setup(&env, "lock");
}

static void teardown(void)
{
    th_env_teardown(&env);
}

TestSuite(lock, .init = setup, .fini = teardown, .timeout = 300);

/* A child that holds the root's lock (as "test holder") until its release pipe closes
 * or gets a byte, then lets go and waits to be killed. Returns once it holds it. */
static pid_t hold_lock(int *ret_release)
{
    int up[2], rel[2];
    char c;
    pid_t pid;

    cr_assert_eq(pipe2(up, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(rel, O_CLOEXEC), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct cg_lock *l = NULL;
        struct cg_err e = {0};

        close(up[0]);
        close(rel[1]);
        if (cg_root_lock(th_ctx(), "test holder", 0, &l, NULL, &e) < 0)
            _exit(1);
        (void)!write(up[1], "l", 1);
        (void)!read(rel[0], &c, 1);
        cg_lock_release(l);
        (void)!write(up[1], "u", 1);
        pause();
        _exit(0);
    }
    close(up[1]);
    close(rel[0]);
    cr_assert_eq(read(up[0], &c, 1), 1, "the holder could not take the lock");
    close(up[0]);
    *ret_release = rel[1];
    return pid;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

Test(lock, apply_waits_for_the_lock_then_names_the_holder)
{
    char *err, want[64];
    uint64_t t0, dt;
    int rel;

    th_require_binary(env.corral);
    th_env_policies(&env, "p", web_names, web_texts, 1);
    env.kids[0] = hold_lock(&rel);
    t0 = now_ms();
    cr_assert_eq(corral_sh(th_root_arg(), "p", "--lock-timeout 1s apply 2>%s/err", env.tmpdir), 3);
    dt = now_ms() - t0;
    err = err_text();
    snprintf(want, sizeof(want), "held by pid %d (test holder)", (int)env.kids[0]);
    cr_assert(strstr(err, "waiting up to 1 s for the lock"), "%s", err);
    cr_assert(strstr(err, "gave up after 1 s"), "%s", err);
    cr_assert(strstr(err, want), "holder not named (want '%s'): %s", want, err);
    cr_assert_geq(dt, 950, "gave up after %llu ms, before its timeout", (unsigned long long)dt);
    free(err);
    /* nothing was applied, and the same from the environment */
    cr_assert(!th_dir_exists(th_group_dir(CG_H_CPU, "high")));
    cr_assert_eq(setenv("CORRAL_LOCK_TIMEOUT", "0", 1), 0);
    cr_assert_eq(corral_sh(th_root_arg(), "p", "apply 2>%s/err", env.tmpdir), 3);
    (void)unsetenv("CORRAL_LOCK_TIMEOUT");
    err = err_text();
    cr_assert(strstr(err, want), "%s", err);
    free(err);
    close(rel);
}

Test(lock, a_lock_released_mid_wait_lets_the_waiter_in)
{
    char p[256], *err;
    int rel, st = 0;
    pid_t w;

    th_require_binary(env.corral);
    th_env_policies(&env, "p", web_names, web_texts, 1);
    env.kids[0] = hold_lock(&rel);
    w = env.kids[1] = th_sh_bg("exec %s --root %s --policy-dir %s/p --config %s/none.conf --ledger "
                               "%s/l.db --lock-timeout 60s apply >%s/out 2>%s/err",
                               env.corral, th_root_arg(), env.tmpdir, env.tmpdir, env.tmpdir,
                               env.tmpdir, env.tmpdir);
    /* The waiter says so once it waits. */
    snprintf(p, sizeof(p), "%s/err", env.tmpdir);
    for (int i = 0; i < 600; i++) {
        err = th_slurp(p);
        if (strstr(err, "waiting up to 60 s")) {
            free(err);
            break;
        }
        free(err);
        cr_assert_eq(waitpid(w, NULL, WNOHANG), 0, "the waiter ended while the lock was held");
        (void)nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    cr_assert(!th_dir_exists(th_group_dir(CG_H_CPU, "high")), "applied while the lock was held");
    cr_assert_eq(write(rel, "x", 1), 1);
    close(rel);
    (void)th_wait_child(&env.kids[1], &st, 30);
    err = err_text();
    cr_assert_eq(env.kids[1], -1, "the waiter still waits after the release: %s", err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, err);
    free(err);
    cr_assert(th_dir_exists(th_group_dir(CG_H_CPU, "high/web")));
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One group of the snapshot and, to the workload level, the groups below it in name order. */
static void snap_group(FILE *f, int h, const char *dir, const char *rel, int depth)
{
    static const char *const v1[] = {"cpu.shares", "cpu.cfs_quota_us", "memory.limit_in_bytes",
                                     "pids.max"};
    static const char *const v2[] = {"cpu.weight", "cpu.max", "memory.max", "pids.max"};
    char *names[256], buf[256];
    struct dirent *de;
    size_t n = 0;
    int fd;
    DIR *d;

    fprintf(f, "%d %s\n", h, rel);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "%s: %s", dir, strerror(errno));
    for (size_t i = 0; i < 4; i++)
        if (cg_read_at(fd, cg_ctx_is_v2(th_ctx()) ? v2[i] : v1[i], buf, sizeof(buf)) >= 0)
            fprintf(f, "%d %s/%s=%s\n", h, rel, cg_ctx_is_v2(th_ctx()) ? v2[i] : v1[i], buf);
    d = fdopendir(fd);
    cr_assert_not_null(d);
    while (depth < 2 && (de = readdir(d)) && n < 256)
        if (de->d_type == DT_DIR && de->d_name[0] != '.')
            cr_assert_not_null(names[n++] = strdup(de->d_name));
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_name);
    for (size_t i = 0; i < n; i++) {
        char sub[512], subrel[256];

        snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
        snprintf(subrel, sizeof(subrel), "%s/%s", rel, names[i]);
        snap_group(f, h, sub, subrel, depth + 1);
        free(names[i]);
    }
}

/* The tree as the kernel shows it: every group to the workload level in every hierarchy,
 * with the values the two policy sets below write. */
static char *tree_snapshot(void)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);

    cr_assert_not_null(f);
    for (int h = 0; h < _CG_H_MAX; h++) {
        char *d = th_group_dir((enum cg_hier)h, "");

        if (d && th_ctx()->sys.alias[h] < 0 && (!cg_ctx_is_v2(th_ctx()) || h == 0))
            snap_group(f, h, d, "", 0);
    }
    cr_assert_eq(fclose(f), 0);
    return s;
}

#define N_SET 12

/* Two policy sets of N_SET workloads each that share names and differ in values and
 * classes: any interleaving of their applies leaves a tree that is neither. */
static void two_sets(void)
{
    char name[N_SET][16], text[2][N_SET][160];
    const char *names[N_SET], *texts[2][N_SET];

    for (int i = 0; i < N_SET; i++) {
        snprintf(name[i], sizeof(name[i]), "w%02d", i);
        names[i] = name[i];
        snprintf(text[0][i], sizeof(text[0][i]),
                 "[Workload]\nClass=%s\n[CPU]\nWeight=%d\nMax=%d%%\n[Memory]\nMax=%dM\n[Pids]\n"
                 "Max=%d\n",
                 i % 2 ? "high" : "normal", 100 + i, 50 + i, 64 + i, 100 + i);
        snprintf(text[1][i], sizeof(text[1][i]),
                 "[Workload]\nClass=%s\n[CPU]\nWeight=%d\nMax=%d%%\n[Memory]\nMax=%dM\n[Pids]\n"
                 "Max=%d\n",
                 i % 2 ? "batch" : "normal", 300 + i, 150 + i, 128 + i, 300 + i);
        texts[0][i] = text[0][i];
        texts[1][i] = text[1][i];
    }
    th_env_policies(&env, "a", names, texts[0], N_SET);
    th_env_policies(&env, "b", names, texts[1], N_SET);
}

Test(lock, concurrent_applies_end_in_one_reference_tree)
{
    char *ref_a, *ref_b;
    int a_won = 0, b_won = 0;

    th_require_binary(env.corral);
    two_sets();
    cr_assert_eq(corral_sh(th_root_arg(), "a", "apply >/dev/null"), 0);
    ref_a = tree_snapshot();
    cr_assert_eq(corral_sh(th_root_arg(), "b", "apply >/dev/null"), 0);
    ref_b = tree_snapshot();
    cr_assert_str_neq(ref_a, ref_b);
    for (int round = 0; round < 20; round++) {
        char *now;

        /* Both started at once; each waits for the other (the default 10 s is plenty). */
        cr_assert_eq(corral_sh(th_root_arg(), "a",
                               "apply >/dev/null 2>%s/err-a & a=$!; "
                               "%s --root %s --policy-dir %s/b --config %s/none.conf "
                               "--ledger %s/l.db apply >/dev/null 2>%s/err-b & b=$!; "
                               "wait $a || exit 1; wait $b || exit 2",
                               env.tmpdir, env.corral, th_root_arg(), env.tmpdir, env.tmpdir,
                               env.tmpdir, env.tmpdir),
                     0, "round %d: an apply failed", round);
        now = tree_snapshot();
        if (strcmp(now, ref_a) == 0)
            a_won++;
        else if (strcmp(now, ref_b) == 0)
            b_won++;
        else
            cr_assert_fail("round %d: the tree is neither set's:\n%s", round, now);
        free(now);
    }
    cr_log_info("last writer: a %d times, b %d times", a_won, b_won);
    free(ref_a);
    free(ref_b);
}

Test(lock, run_holds_the_lock_only_to_make_and_remove_its_instance)
{
    char p[256];
    int st = 0;

    th_require_binary(env.corral);
    th_env_policies(&env, "p", web_names, web_texts, 1);
    env.kids[0] = th_sh_bg(
        "exec %s --root %s --policy-dir %s/p --config %s/none.conf --ledger "
        "%s/l.db run --policy web -- /bin/sh -c 'touch %s/started; i=0; while [ ! "
        "-e %s/go ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done' >/dev/null "
        "2>&1",
        env.corral, th_root_arg(), env.tmpdir, env.tmpdir, env.tmpdir, env.tmpdir, env.tmpdir);
    snprintf(p, sizeof(p), "%s/started", env.tmpdir);
    for (int i = 0; i < 600 && access(p, F_OK) != 0; i++)
        (void)nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    cr_assert_eq(access(p, F_OK), 0, "the workload did not start");
    /* While it runs, a writer gets the lock at once. */
    cr_assert_eq(corral_sh(th_root_arg(), "p", "--lock-timeout 0 apply >/dev/null 2>&1"), 0);
    cr_assert_eq(corral_sh(th_root_arg(), "p", "--lock-timeout 0 freeze web >/dev/null 2>&1"), 0);
    cr_assert_eq(corral_sh(th_root_arg(), "p", "--lock-timeout 0 thaw web >/dev/null 2>&1"), 0);
    snprintf(p, sizeof(p), "%s/go", env.tmpdir);
    th_write_file(p, "", 0644);
    cr_assert(th_wait_child(&env.kids[0], &st, 30), "corral run did not end");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

Test(lock, corrald_owns_the_root_for_its_life)
{
    struct cg_lock_holder h = {0};
    char *err, want[96], logp[256];
    uint64_t t0;
    int st = 0;

    th_require_binary(env.corral);
    if (access(env.corrald, X_OK) != 0)
        cr_skip_test("corrald not built");
    th_env_policies(&env, "p", web_names, web_texts, 1);
    snprintf(logp, sizeof(logp), "%s/corrald.log", env.tmpdir);
    env.kids[0] = fork();
    cr_assert_geq(env.kids[0], 0);
    if (env.kids[0] == 0) {
        char pd[256], conf[256];
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        snprintf(pd, sizeof(pd), "%s/p", env.tmpdir);
        snprintf(conf, sizeof(conf), "%s/none.conf", env.tmpdir);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execl(env.corrald, env.corrald, "--root", th_root_arg(), "--policy-dir", pd, "--config",
              conf, "--ledger", "/dev/null/none", "--foreground", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) {
        if (cg_root_lock_holder(th_ctx(), &h) == 0 && h.pid == env.kids[0])
            break;
        cr_assert_eq(waitpid(env.kids[0], NULL, WNOHANG), 0, "corrald ended: %s", th_slurp(logp));
        (void)nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    cr_assert_eq(h.pid, env.kids[0], "corrald did not take the lock: %s", th_slurp(logp));
    cr_assert_str_eq(h.what, CG_LOCK_DAEMON);
    /* A direct apply is refused at once: a daemon's lock is not waited for. */
    t0 = now_ms();
    cr_assert_eq(corral_sh(th_root_arg(), "p", "--lock-timeout 20s apply 2>%s/err", env.tmpdir), 3);
    cr_assert_lt(now_ms() - t0, 10000, "the apply waited for the daemon");
    err = err_text();
    snprintf(want, sizeof(want), "owned by the daemon, corrald (pid %d)", (int)env.kids[0]);
    cr_assert(strstr(err, want), "want '%s' in: %s", want, err);
    free(err);
    /* A second corrald is refused too, and the first goes on. */
    {
        char cmd[2048];
        snprintf(cmd, sizeof(cmd),
                 "%s --root %s --policy-dir %s/p --config %s/none.conf --ledger /dev/null/x "
                 "--foreground >%s/err 2>&1",
                 env.corrald, th_root_arg(), env.tmpdir, env.tmpdir, env.tmpdir);
        st = system(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "second corrald: %#x", st);
    }
    cr_assert_eq(waitpid(env.kids[0], NULL, WNOHANG), 0);
    /* Once it is gone, direct commands work again. */
    cr_assert_eq(kill(env.kids[0], SIGTERM), 0);
    cr_assert(th_wait_child(&env.kids[0], &st, 30), "corrald ignored SIGTERM");
    cr_assert_eq(corral_sh(th_root_arg(), "p", "--lock-timeout 0 apply >/dev/null 2>&1"), 0);
}

Test(lock, runtime_directory_is_roots_and_lock_files_are_not_followed)
{
    struct cg_lock *l = NULL;
    struct cg_err e = {0};
    struct stat st;
    const char *id;
    char *dir, *lockp;

    th_require_binary(env.corral);
    /* A runtime directory of this test's own: the suite's is shared by tests running
     * beside this one, and is made untrusted below. */
    cr_assert(asprintf(&dir, "%s/runtime", env.tmpdir) > 0);
    cr_assert_eq(setenv("CORRAL_RUNTIME_DIR", dir, 1), 0);
    free(dir);
    cr_assert_eq(cg_root_lock(th_ctx(), "test", 0, &l, NULL, &e), 0, "%s", e.detail);
    cg_lock_release(l);
    cr_assert(asprintf(&dir, "%s/runtime/lock", env.tmpdir) > 0);
    cr_assert_eq(lstat(dir, &st), 0);
    cr_assert(S_ISDIR(st.st_mode) && st.st_uid == 0 && (st.st_mode & 07777) == 0755,
              "%s: mode %o uid %u", dir, st.st_mode & 07777, (unsigned)st.st_uid);
    /* The lock file is a symlink now (someone planted one): refused, not followed. */
    cr_assert_eq(cg_root_id(th_ctx(), &id), 0);
    cr_assert(asprintf(&lockp, "%s/%s", dir, id) > 0);
    cr_assert_eq(unlink(lockp), 0);
    cr_assert_eq(symlink("/etc/passwd", lockp), 0);
    cr_assert_eq(cg_root_lock(th_ctx(), "test", 0, &l, NULL, &e), -ELOOP);
    cr_assert_eq(unlink(lockp), 0);
    /* A group-writable runtime directory is not trusted. */
    cr_assert_eq(chmod(dir, 0775), 0);
    cr_assert_eq(cg_root_lock(th_ctx(), "test", 0, &l, NULL, &e), -EPERM);
    cr_assert(strstr(e.detail, "writable by its owner alone"), "%s", e.detail);
    cr_assert_eq(chmod(dir, 0755), 0);
    free(lockp);
    free(dir);
}

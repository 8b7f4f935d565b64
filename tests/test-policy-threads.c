/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Integration tests of apply's threaded read-only check (pol_apply_threads) on the real
 * cgroupfs, under the test's own nested root. The threads only read; these tests force
 * several of them on a small set and show that a change behind apply's back is found in
 * any workload, whichever thread checks it, that threads change nothing in what apply
 * plans, writes, warns or undoes, and that a failure rolls everything back.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/txn.h"
#include "policy/apply.h"
#include "policy/policy.h"
#include "policy/remove.h"
#include "policy/status.h"
#include "tests/helpers.h"
#include "tests/policy-helpers.h"

TestSuite(policy, .init = policy_setup, .fini = policy_teardown, .timeout = 120);

#define N_THREADED 24

static void threaded_name(unsigned i, char *grp, size_t size)
{
    snprintf(grp, size, "%s/w%02u", i % 2 ? "batch" : "normal", i);
}

static void put_threaded(void)
{
    for (unsigned i = 0; i < N_THREADED; i++) {
        char name[32], text[256];

        snprintf(name, sizeof(name), "w%02u.policy", i);
        snprintf(text, sizeof(text),
                 "[Workload]\nName=w%02u\nClass=%s\n[CPU]\nWeight=200\nMax=50%%\n"
                 "[Memory]\nMax=64M\n[Pids]\nMax=100\n",
                 i, i % 2 ? "batch" : "normal");
        put(name, text);
    }
}

/* Loads and applies the policy dir with `threads` threads into t (initialised by the
 * caller, left for the caller to inspect and finish); returns pol_apply_threads' result. */
static int apply_threads(const char *conf, unsigned threads, struct cg_txn *t,
                         struct pol_apply_result *res, struct cg_err *e)
{
    struct loaded l;
    int r;

    load(&l, conf);
    cr_assert_eq(l.diags.n, 0);
    r = pol_apply_threads(th_ctx(), &l.cfg, &l.set, true, threads, t, res, e);
    unload(&l);
    return r;
}

static unsigned apply_threads_ok(unsigned threads)
{
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    char buf[1024];
    unsigned w;
    int r;

    cg_txn_init(&t, false);
    r = apply_threads(NULL, threads, &t, &res, &e);
    cr_assert_eq(r, 0, "apply: %s", cg_err_format(&e, buf, sizeof(buf)));
    w = t.writes;
    cg_txn_done(&t);
    pol_apply_result_free(&res);
    return w;
}

/* One limit of workload i, changed behind apply's back, cycling through the files. */
static const char *behind_file(unsigned i, enum cg_hier *ret_h, const char **ret_value)
{
    switch (i % 3) {
    case 0:
        *ret_h = CG_H_PIDS;
        *ret_value = "7";
        return "pids.max";
    case 1:
        *ret_h = CG_H_CPU;
        *ret_value = v2() ? "50" : "512";
        return v2() ? "cpu.weight" : "cpu.shares";
    default:
        *ret_h = CG_H_MEMORY;
        *ret_value = "104857600";
        return v2() ? "memory.max" : "memory.limit_in_bytes";
    }
}

static const char *wanted_value(unsigned i)
{
    switch (i % 3) {
    case 0:
        return "100";
    case 1:
        return v2() ? "200" : "2048";
    default:
        return "67108864";
    }
}

Test(policy, threaded_check_finds_a_change_in_any_workload)
{
    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    cr_assert_eq(apply_threads_ok(4), 0, "second threaded apply wrote to cgroupfs");

    /* One change in every workload at once: each is found and put back. */
    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        kwrite_behind(h, grp, file, value);
    }
    cr_assert_eq(apply_threads_ok(4), N_THREADED);
    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        th_assert_file(h, grp, file, wanted_value(i));
    }

    /* And a single change anywhere, whichever thread reads that workload. */
    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        kwrite_behind(h, grp, file, value);
        cr_assert_eq(apply_threads_ok(i % 2 ? 2 : 8), 1, "change in %s/%s not found", grp, file);
        th_assert_file(h, grp, file, wanted_value(i));
    }
    cr_assert_eq(apply_threads_ok(4), 0);
}

/* A workload's directory gone from one hierarchy (v1: freezer, where nothing is read, so
 * the threads only look it up in a listing) or gone altogether (v2) is created again. */
Test(policy, threaded_check_finds_a_missing_directory)
{
    enum cg_hier h = v2() ? CG_H_CPU : CG_H_FREEZER;
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    char *dir;
    bool mk = false;

    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    dir = th_group_dir(h, "batch/w13");
    cr_assert_not_null(dir);
    cr_assert_eq(rmdir(dir), 0, "rmdir %s: %m", dir);
    cr_assert(!group_exists("batch/w13") || !v2());

    cg_txn_init(&t, false);
    cr_assert_eq(apply_threads(NULL, 4, &t, &res, &e), 0, "%s", e.detail);
    for (size_t i = 0; i < t.n; i++)
        mk |= t.e[i].kind == CG_TXN_MKDIR && !strcmp(t.e[i].group, "batch/w13");
    cr_assert(mk, "batch/w13 was not created again");
    cr_assert_eq(t.n, v2() ? 5 : 1, "plan of %zu entries", t.n);
    cg_txn_done(&t);
    pol_apply_result_free(&res);
    cr_assert_eq(access(dir, F_OK), 0);
    cr_assert_eq(apply_threads_ok(4), 0);
}

/* Threads or not, the same plan (entry for entry) and the same warnings. */
Test(policy, threaded_plan_and_warnings_match_sequential)
{
    struct pol_apply_result r1 = {0}, r4 = {0};
    struct cg_err e = {0};
    struct cg_txn t1, t4;

    th_require_cgroups();
    put_threaded();
    put("web.policy", web_policy);
    cr_assert_gt(apply_threads_ok(4), 0);
    for (unsigned i = 0; i < N_THREADED; i += 5) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        kwrite_behind(h, grp, file, value);
    }
    put("new.policy", "[Workload]\nClass=batch\n[Pids]\nMax=9\n");

    cg_txn_init(&t1, true);
    cg_txn_init(&t4, true);
    cr_assert_eq(apply_threads(config, 1, &t1, &r1, &e), 0, "%s", e.detail);
    cr_assert_eq(apply_threads(config, 4, &t4, &r4, &e), 0, "%s", e.detail);
    cr_assert_gt(t1.n, 0);
    cr_assert_eq(t1.n, t4.n);
    for (size_t i = 0; i < t1.n; i++) {
        cr_assert_eq(t1.e[i].kind, t4.e[i].kind);
        cr_assert_str_eq(t1.e[i].group, t4.e[i].group);
        cr_assert_str_eq(t1.e[i].file, t4.e[i].file);
        cr_assert_str_eq(t1.e[i].old_value, t4.e[i].old_value);
        cr_assert_str_eq(t1.e[i].new_value, t4.e[i].new_value);
    }
    cr_assert_eq(r1.n_warnings, r4.n_warnings);
    for (size_t i = 0; i < r1.n_warnings; i++) {
        cr_assert_str_eq(r1.warnings[i].group, r4.warnings[i].group);
        cr_assert_str_eq(r1.warnings[i].key, r4.warnings[i].key);
        cr_assert_str_eq(r1.warnings[i].msg, r4.warnings[i].msg);
    }
    if (!v2())
        cr_assert_gt(r4.n_warnings, 0, "v1 warns about web's Memory.High/Low");
    cg_txn_done(&t1);
    cg_txn_done(&t4);
    pol_apply_result_free(&r1);
    pol_apply_result_free(&r4);
    cr_assert(!group_exists("batch/new"), "a dry run created a group");
}

/* A kernel refusal late in a threaded apply puts back every change made before it: the
 * values corrected in the other workloads and a workload created on the way. */
Test(policy, threaded_failed_apply_rolls_back_everything)
{
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    char buf[1024];
    pid_t pid = 0;
    int r;

    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        kwrite_behind(h, grp, file, value);
    }
    put("a-new.policy", "[Workload]\nName=a-new\n[Pids]\nMax=9\n");
    if (v2()) {
        /* No room for a new group below normal/w22: the kernel refuses its mkdir. */
        char *d = th_group_dir(CG_H_CPU, "normal");
        char path[512];

        snprintf(path, sizeof(path), "%s/cgroup.max.descendants", d);
        cr_assert_eq(cg_write_at(AT_FDCWD, path, "13"), 0); /* w00..w22 even + a-new */
        put("zz.policy", "[Workload]\nName=zz\n");
    } else {
        /* normal/w22 holds 32M it cannot give back; 16M is refused. */
        pid = start_hog("normal/w22/run-1", 32);
        put("w22.policy", "[Workload]\nName=w22\n[CPU]\nWeight=200\nMax=50%\n[Memory]\nMax=16M\n"
                          "[Pids]\nMax=100\n");
    }
    cg_txn_init(&t, false);
    r = apply_threads(NULL, 4, &t, &res, &e);
    if (pid > 0)
        th_kill_wait(pid);
    cr_assert_lt(r, 0, "apply succeeded");
    cr_assert_str_eq(e.group, v2() ? "normal/zz" : "normal/w22", "%s",
                     cg_err_format(&e, buf, sizeof(buf)));
    cr_assert_gt(t.writes, N_THREADED / 2, "the failure came after the corrections");
    cg_txn_done(&t);
    pol_apply_result_free(&res);

    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        th_assert_file(h, grp, file, value);
    }
    cr_assert(!group_exists("normal/a-new"), "rollback left normal/a-new");
    cr_assert(!group_exists("normal/zz"));
    if (v2()) {
        char *d = th_group_dir(CG_H_CPU, "normal");
        char path[512];

        snprintf(path, sizeof(path), "%s/cgroup.max.descendants", d);
        (void)cg_write_at(AT_FDCWD, path, "max");
    }
}

/* Every file apply manages for the threaded policies, with a value that differs from the
 * policy's (NULL: that version has no such file). */
static const struct {
    enum cg_hier h;
    const char *v1, *v1_value, *v2, *v2_value;
} managed[] = {
    {CG_H_CPU, "cpu.shares", "512", "cpu.weight", "50"},
    {CG_H_CPU, "cpu.cfs_quota_us", "20000", "cpu.max", "20000 100000"},
    {CG_H_CPU, "cpu.cfs_period_us", "200000", "cpu.max", "50000 200000"},
    {CG_H_MEMORY, "memory.limit_in_bytes", "33554432", "memory.max", "33554432"},
    {CG_H_MEMORY, "memory.memsw.limit_in_bytes", "134217728", "memory.high", "33554432"},
    {CG_H_MEMORY, NULL, NULL, "memory.low", "1048576"},
    {CG_H_MEMORY, NULL, NULL, "memory.swap.max", "0"},
    {CG_H_PIDS, "pids.max", "7", "pids.max", "7"},
};

/* A change behind apply's back in any file apply manages, in one workload, is found by
 * the threaded check (which reads the files by path below the class) and put back. */
Test(policy, threaded_check_finds_a_change_in_every_managed_file)
{
    unsigned tested = 0;

    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    cr_assert_eq(apply_threads_ok(4), 0);
    for (size_t i = 0; i < ARRAY_SIZE(managed); i++) {
        const char *file = v2() ? managed[i].v2 : managed[i].v1;
        const char *value = v2() ? managed[i].v2_value : managed[i].v1_value;
        _cleanup_free_ char *want = NULL;
        char grp[32], *got;

        if (!file)
            continue;
        threaded_name((unsigned)(7 + 4 * i) % N_THREADED, grp, sizeof(grp));
        want = th_kread(managed[i].h, grp, file);
        if (!want)
            continue; /* e.g. no swap accounting */
        kwrite_behind(managed[i].h, grp, file, value);
        got = th_kread(managed[i].h, grp, file);
        cr_assert_str_neq(got, want, "%s: the write behind apply's back had no effect", file);
        free(got);
        cr_assert_geq(apply_threads_ok(i % 2 ? 2 : 8), 1, "change in %s/%s not found", grp, file);
        th_assert_file(managed[i].h, grp, file, want);
        cr_assert_eq(apply_threads_ok(4), 0, "after %s", file);
        tested++;
    }
    cr_assert_geq(tested, 5);
}

/* A workload's directory gone from a hierarchy whose files the check reads (v1: cpu; v2:
 * the only one) is found missing by that read and created again. */
Test(policy, threaded_check_finds_a_directory_missing_where_it_reads)
{
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    char *dir;
    bool mk = false;

    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    dir = th_group_dir(CG_H_CPU, "normal/w10");
    cr_assert_not_null(dir);
    cr_assert_eq(rmdir(dir), 0, "rmdir %s: %m", dir);

    cg_txn_init(&t, false);
    cr_assert_eq(apply_threads(NULL, 4, &t, &res, &e), 0, "%s", e.detail);
    for (size_t i = 0; i < t.n; i++)
        mk |= t.e[i].kind == CG_TXN_MKDIR && !strcmp(t.e[i].group, "normal/w10");
    cr_assert(mk, "normal/w10 was not created again");
    cg_txn_done(&t);
    pol_apply_result_free(&res);
    cr_assert_eq(access(dir, F_OK), 0);
    th_assert_file(CG_H_PIDS, "normal/w10", "pids.max", "100");
    cr_assert_eq(apply_threads_ok(4), 0);
}

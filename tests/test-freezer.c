/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Integration tests of the freezer on the real cgroupfs (v1/hybrid and v2). The group
 * "w" is frozen; its processes run in "w/leaf" (v2 allows processes only in leaves).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "controllers/freezer.h"
#include "core/internal.h" /* faults planted in a group handle */
#include "core/fileio.h"
#include "tests/helpers.h"

#define SEC 1000000ULL

TestSuite(freezer, .init = th_setup, .fini = th_teardown, .timeout = 120);

struct shared {
    volatile uint64_t counter;
};

static struct shared *shared_new(void)
{
    struct shared *s =
        mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(s, MAP_FAILED);
    s->counter = 0;
    return s;
}

static struct cg_group *mkgroup(const char *path)
{
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int r = cg_group_open(th_ctx(), path, true, &g, NULL, &e);

    cr_assert_eq(r, 0, "create %s: %d %s", path, r, e.detail);
    return g;
}

static bool v2(void)
{
    return cg_ctx_is_v2(th_ctx());
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The kernel's own view of the group, read by path. */
static char *kread(const char *grp, const char *file)
{
    return th_kread(v2() ? CG_H_CPU : CG_H_FREEZER, grp, file);
}

static bool kernel_says_frozen(const char *grp)
{
    _cleanup_free_ char *s = kread(grp, v2() ? "cgroup.events" : "freezer.state");
    uint64_t v = 0;

    cr_assert_not_null(s);
    if (!v2())
        return strcmp(s, "FROZEN") == 0;
    cr_assert_eq(cg_keyed_u64(s, "frozen", &v), 0);
    return v == 1;
}

static void skip_without_freezer(struct cg_group *g)
{
    enum ctl_freeze_state s;

    if (ctl_freezer_state(g, &s) == -ENODEV)
        cr_skip_test("no freezer here (v1 without the freezer hierarchy, or v2 before 5.2)");
}

static int busy(void *arg)
{
    struct shared *s = arg;
    for (;;)
        s->counter++;
    return 0;
}

/* Forks continuously; each child exits at once. pids.max bounds how many live. */
static int forker(void *arg)
{
    struct shared *s = arg;

    for (;;) {
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        if (p > 0)
            s->counter++;
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (p < 0)
            (void)waitpid(-1, NULL, 0);
    }
    return 0;
}

#define MAXKIDS 8
struct kids {
    pid_t pid[MAXKIDS];
    int n;
};

/* Frozen v1 tasks cannot take SIGKILL: thaw through the kernel's files before killing, so
 * a failing test never hangs on a frozen child. */
static void unfreeze(void)
{
    static const char *const grps[] = {"w/leaf", "w"};

    for (size_t i = 0; i < ARRAY_SIZE(grps); i++) {
        char *dir = th_group_dir(v2() ? CG_H_CPU : CG_H_FREEZER, grps[i]);
        char path[512];

        if (!dir)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, v2() ? "cgroup.freeze" : "freezer.state");
        (void)cg_write_at(AT_FDCWD, path, v2() ? "0" : "THAWED");
    }
}

static void kids_kill(struct kids *k)
{
    unfreeze();
    for (int i = 0; i < k->n; i++)
        th_kill_wait(k->pid[i]);
    k->n = 0;
}

/* Starts fn in group path and waits until it makes progress. */
static void start_in(struct kids *k, const char *path, int (*fn)(void *), struct shared *s)
{
    _cleanup_(cg_group_freep) struct cg_group *g = mkgroup(path);
    struct cg_err e = {0};
    uint64_t c0 = s->counter;
    int rel, r;
    pid_t pid;

    cr_assert_lt(k->n, MAXKIDS);
    pid = th_fork_held(fn, s, &rel);
    k->pid[k->n++] = pid;
    r = cg_group_attach(g, pid, &e);
    if (r < 0)
        kids_kill(k);
    cr_assert_eq(r, 0, "attach: %d %s", r, e.detail);
    th_release(rel);
    for (int i = 0; i < 5000 && s->counter == c0; i++)
        usleep(1000);
    if (s->counter == c0)
        kids_kill(k);
    cr_assert_neq(s->counter, c0, "child made no progress");
}

/* Waits up to 2 s for the counter to move past c. */
static bool progresses(struct shared *s, uint64_t c)
{
    for (int i = 0; i < 2000; i++) {
        if (s->counter != c)
            return true;
        usleep(1000);
    }
    return false;
}

Test(freezer, frozen_group_makes_no_progress_and_resumes)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_freeze_stuck stuck;
    enum ctl_freeze_state st;
    struct kids k = {0};
    struct ctl_usage u;
    struct cg_err e = {0};
    struct shared *sh;
    uint64_t c1, c2;
    int r;

    th_require_cgroups();
    g = mkgroup("w");
    skip_without_freezer(g);
    sh = shared_new();
    start_in(&k, "w/leaf", busy, sh);

    r = ctl_freezer_freeze(g, 5 * SEC, &stuck, &e);
    if (r < 0)
        kids_kill(&k);
    cr_assert_eq(r, 0, "freeze: %d %s", r, e.detail);
    cr_assert(kernel_says_frozen("w"));
    cr_assert_eq(ctl_freezer_state(g, &st), 0);
    cr_assert_eq(st, CTL_FROZEN);
    ctl_usage_init(&u);
    cr_assert_eq(ctl_freezer.read_usage(g, &u), 0);
    cr_assert_eq(u.frozen, 1);

    c1 = sh->counter;
    sleep_ms(200);
    c2 = sh->counter;
    if (c1 != c2)
        kids_kill(&k);
    cr_assert_eq(c1, c2, "counter moved while frozen: %llu -> %llu", (unsigned long long)c1,
                 (unsigned long long)c2);

    r = ctl_freezer_thaw(g, 5 * SEC, &e);
    cr_assert_eq(r, 0, "thaw: %d %s", r, e.detail);
    cr_assert_not(kernel_says_frozen("w"));
    cr_assert(progresses(sh, c2), "no progress after thaw");
    ctl_usage_init(&u);
    cr_assert_eq(ctl_freezer.read_usage(g, &u), 0);
    cr_assert_eq(u.frozen, 0);
    cr_assert_eq(ctl_freezer_state(g, &st), 0);
    cr_assert_eq(st, CTL_THAWED);
    kids_kill(&k);
}

Test(freezer, freeze_frozen_and_thaw_thawed_are_noops)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct cg_err e = {0};
    struct kids k = {0};
    struct shared *sh;
    int r;

    th_require_cgroups();
    g = mkgroup("w");
    skip_without_freezer(g);
    sh = shared_new();
    start_in(&k, "w/leaf", busy, sh);

    /* A thawed group thaws at once, even with no time at all. */
    cr_assert_eq(ctl_freezer_thaw(g, 0, &e), 0, "%s", e.detail);
    cr_assert_not(kernel_says_frozen("w"));
    r = ctl_freezer_freeze(g, 5 * SEC, NULL, &e);
    cr_assert_eq(r, 0, "%s", e.detail);
    /* Already frozen: success without waiting (timeout 0), and still frozen. */
    r = ctl_freezer_freeze(g, 0, NULL, &e);
    if (r < 0)
        kids_kill(&k);
    cr_assert_eq(r, 0, "%d %s", r, e.detail);
    cr_assert(kernel_says_frozen("w"));
    cr_assert_eq(ctl_freezer_thaw(g, 5 * SEC, &e), 0);
    cr_assert_eq(ctl_freezer_thaw(g, 0, &e), 0);
    cr_assert_not(kernel_says_frozen("w"));
    kids_kill(&k);
}

/* A group frozen through its parent is frozen already: freezing it must not add a freeze
 * of its own, or it would stay frozen when the parent thaws. */
Test(freezer, frozen_by_parent_is_left_to_the_parent)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL, *leaf = NULL;
    enum ctl_freeze_state st;
    struct cg_err e = {0};
    struct kids k = {0};
    struct shared *sh;
    int r;

    th_require_cgroups();
    g = mkgroup("w");
    skip_without_freezer(g);
    sh = shared_new();
    start_in(&k, "w/leaf", busy, sh);
    leaf = mkgroup("w/leaf");
    cr_assert_eq(ctl_freezer_freeze(g, 5 * SEC, NULL, &e), 0, "%s", e.detail);
    cr_assert_eq(ctl_freezer_state(leaf, &st), 0);
    cr_assert_eq(st, CTL_FROZEN);
    r = ctl_freezer_freeze(leaf, 5 * SEC, NULL, &e);
    if (r < 0)
        kids_kill(&k);
    cr_assert_eq(r, 0, "%s", e.detail);
    cr_assert_eq(ctl_freezer_thaw(g, 5 * SEC, &e), 0, "%s", e.detail);
    cr_assert_eq(ctl_freezer_state(leaf, &st), 0);
    if (st != CTL_THAWED)
        kids_kill(&k);
    cr_assert_eq(st, CTL_THAWED, "leaf left %s", ctl_freeze_state_to_string(st));
    cr_assert(progresses(sh, sh->counter));
    kids_kill(&k);
}

Test(freezer, forking_group_freezes_completely_200_times)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    _cleanup_free_ char *pmax = NULL;
    struct ctl_freeze_stuck stuck;
    struct cg_err e = {0};
    struct kids k = {0};
    struct shared *sh;
    int r;

    th_require_cgroups();
    g = mkgroup("w");
    skip_without_freezer(g);
    if (cg_group_fd(g, CG_H_PIDS) < 0 ||
        cg_write_at(cg_group_fd(g, CG_H_PIDS), "pids.max", "64") < 0)
        cr_skip_test("no pids controller to bound the forking workload");
    sh = shared_new();
    start_in(&k, "w/leaf", forker, sh);
    start_in(&k, "w/leaf", forker, sh);

    for (int i = 0; i < 200; i++) {
        uint64_t c1, c2;

        r = ctl_freezer_freeze(g, 10 * SEC, &stuck, &e);
        if (r < 0)
            kids_kill(&k);
        cr_assert_eq(r, 0, "round %d: %d %s (%zu stuck)", i, r, e.detail, stuck.n);
        cr_assert_eq(stuck.n, 0);
        c1 = sh->counter;
        usleep(2000);
        c2 = sh->counter;
        if (c1 != c2 || !kernel_says_frozen("w")) {
            (void)ctl_freezer_thaw(g, 5 * SEC, NULL);
            kids_kill(&k);
        }
        cr_assert_eq(c1, c2, "round %d: forks continued while frozen", i);
        r = ctl_freezer_thaw(g, 5 * SEC, &e);
        cr_assert_eq(r, 0, "round %d: thaw %d %s", i, r, e.detail);
        if (!progresses(sh, c2))
            kids_kill(&k);
        cr_assert(progresses(sh, c2), "round %d: no forks after thaw", i);
    }
    kids_kill(&k);
}

/*
 * A freeze that cannot complete in time must leave the group thawed. Forcing that: four
 * busy processes on a machine with fewer CPUs always have some that are runnable but not
 * running, and those stop only once scheduled, well after 1 us. A truly stuck task (an
 * uninterruptible sleep the kernel never leaves) cannot be made portably without a
 * special filesystem, so a 1 us budget stands in for it; the loop tolerates the unlikely
 * round where the kernel still wins the race and requires at least one timeout.
 */
Test(freezer, timeout_thaws_back_and_reports_stuck_tasks)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_freeze_stuck stuck;
    struct kids k = {0};
    struct shared *sh;
    int timeouts = 0;

    th_require_cgroups();
    g = mkgroup("w");
    skip_without_freezer(g);
    sh = shared_new();
    for (int i = 0; i < 4; i++)
        start_in(&k, "w/leaf", busy, sh);

    for (int round = 0; round < 20 && timeouts < 3; round++) {
        struct cg_err e = {0};
        enum ctl_freeze_state st;
        int r = ctl_freezer_freeze(g, 1, &stuck, &e);

        if (r == 0) {
            cr_assert_eq(ctl_freezer_thaw(g, 5 * SEC, NULL), 0);
            continue;
        }
        if (r != -ETIMEDOUT)
            kids_kill(&k);
        cr_assert_eq(r, -ETIMEDOUT, "got %d: %s", r, e.detail);
        timeouts++;
        cr_assert_str_eq(e.group, "w");
        cr_assert(strstr(e.detail, "thawed back"), "%s", e.detail);
        /* Thawed back: the kernel says so, and the workload runs. */
        cr_assert_eq(ctl_freezer_state(g, &st), 0);
        if (st != CTL_THAWED)
            kids_kill(&k);
        cr_assert_eq(st, CTL_THAWED, "left %s", ctl_freeze_state_to_string(st));
        cr_assert_not(kernel_says_frozen("w"));
        cr_assert(progresses(sh, sh->counter), "no progress after the failed freeze");
        /* Who did not stop, found in the subtree (ours run in w/leaf). */
        cr_assert_gt(stuck.n, 0);
        for (size_t i = 0; i < stuck.n; i++) {
            bool ours = false;
            for (int j = 0; j < k.n; j++)
                ours |= stuck.p[i].pid == k.pid[j];
            cr_assert(ours, "stuck lists pid %d, not one of ours", (int)stuck.p[i].pid);
            cr_assert_neq(stuck.p[i].state, '\0');
        }
        cr_assert_not(kernel_says_frozen("w/leaf"));
    }
    kids_kill(&k);
    cr_assert_gt(timeouts, 0, "a 1 us freeze of 4 busy processes never timed out");
}

Test(freezer, timeout_on_leaf_lists_the_running_tasks)
{
    _cleanup_(cg_group_freep) struct cg_group *leaf = NULL;
    struct ctl_freeze_stuck stuck;
    struct kids k = {0};
    struct shared *sh;
    bool listed = false;

    th_require_cgroups();
    sh = shared_new();
    for (int i = 0; i < 4; i++)
        start_in(&k, "w/leaf", busy, sh);
    leaf = mkgroup("w/leaf");
    skip_without_freezer(leaf);
    for (int round = 0; round < 20 && !listed; round++) {
        struct cg_err e = {0};
        int r = ctl_freezer_freeze(leaf, 1, &stuck, &e);

        if (r == 0) {
            cr_assert_eq(ctl_freezer_thaw(leaf, 5 * SEC, NULL), 0);
            continue;
        }
        cr_assert_eq(r, -ETIMEDOUT);
        cr_assert_gt(stuck.n, 0, "a timed-out freeze names who did not stop");
        for (size_t i = 0; i < stuck.n; i++) {
            bool ours = false;
            for (int j = 0; j < k.n; j++)
                ours |= stuck.p[i].pid == k.pid[j];
            cr_assert(ours, "pid %d is not one of ours", (int)stuck.p[i].pid);
            cr_assert_str_eq(stuck.p[i].comm, "test-freezer");
        }
        listed = true;
    }
    kids_kill(&k);
    cr_assert(listed, "a 1 us freeze of 4 busy processes never timed out");
}

Test(freezer, gone_group_is_enoent)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    enum ctl_freeze_state st;
    struct cg_err e = {0};
    int r;

    th_require_cgroups();
    g = mkgroup("gone");
    skip_without_freezer(g);
    /* Removed behind our back while we hold its fds. */
    for (int h = 0; h < _CG_H_MAX; h++) {
        char *dir = th_group_dir((enum cg_hier)h, "gone");
        if (dir)
            (void)rmdir(dir);
    }
    r = ctl_freezer_freeze(g, SEC, NULL, &e);
    cr_assert_eq(r, -ENOENT, "got %d", r);
    cr_assert_str_eq(e.group, "gone");
    cr_assert(strstr(e.detail, "no longer exists"), "%s", e.detail);
    cr_assert_eq(ctl_freezer_thaw(g, SEC, NULL), -ENOENT);
    cr_assert_eq(ctl_freezer_state(g, &st), -ENOENT);
}

Test(freezer, no_freezer_is_enodev)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    enum ctl_freeze_state st;
    struct cg_err e = {0};
    struct ctl_usage u;
    enum cg_hier h;
    int r;

    th_require_cgroups();
    g = mkgroup("w");
    /* The hierarchy's root has no freezer files (v1 freezer.state, v2 cgroup.freeze). */
    h = v2() ? CG_H_CPU : CG_H_FREEZER;
    if (!th_ctx()->sys.mount[h])
        cr_skip_test("no freezer hierarchy");
    closep(&g->fd[v2() ? 0 : h]);
    g->fd[v2() ? 0 : h] = open(th_ctx()->sys.mount[h], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(g->fd[v2() ? 0 : h], 0);
    r = ctl_freezer_freeze(g, SEC, NULL, &e);
    cr_assert_eq(r, -ENODEV, "got %d", r);
    cr_assert_str_eq(e.group, "w");
    cr_assert_eq(ctl_freezer_state(g, &st), -ENODEV);
    ctl_usage_init(&u);
    cr_assert_eq(ctl_freezer.read_usage(g, &u), 0);
    cr_assert_eq(u.frozen, CTL_UNSET, "no freezer: unknown, not thawed");
}

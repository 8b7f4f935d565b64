/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration tests of core/ on the real cgroupfs: discovery, the nested root, groups,
 * placement, kill and removal. Run as root; skipped with a reason otherwise. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cgroup.h"
#include "core/fileio.h"
#include "core/name.h"
#include "tests/helpers.h"

TestSuite(core, .init = th_setup, .fini = th_teardown);

static bool dir_exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

Test(core, discovery_matches_proc_self_cgroup)
{
    th_require_cgroups();
    struct cg_ctx *ctx = th_ctx();

    if (cg_ctx_is_v2(ctx)) {
        char *own = th_proc_cgroup(getpid(), "");
        cr_assert_not_null(own);
        /* The base is our own cgroup, or its parent when we sit in corral's leaf. */
        cr_assert(strncmp(ctx->base_path[0], own, strlen(ctx->base_path[0])) == 0,
                  "base %s not a prefix of own %s", ctx->base_path[0], own);
        free(own);
        return;
    }
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (!ctx->sys.mount[h])
            continue;
        char *own = th_proc_cgroup(getpid(), cg_hier_to_string((enum cg_hier)h));
        cr_assert_not_null(own, "no %s line in /proc/self/cgroup", cg_hier_to_string(h));
        cr_assert_str_eq(ctx->sys.own[h], own);
        cr_assert_str_eq(ctx->base_path[h], own, "v1 nested root sits in our own cgroup");
        free(own);
    }
}

/* corral reads mountinfo itself (core/hierarchy.c says why); libcgroup is the reference. */
Test(core, v1_discovery_matches_libcgroup)
{
    th_require_cgroups();
    struct cg_ctx *ctx = th_ctx();
    int found = 0;

    if (cg_ctx_is_v2(ctx))
        cr_skip_test("cgroup v2: there are no v1 mounts to compare");
    cr_assert_eq(cgroup_init(), 0);
    for (int h = 0; h < _CG_H_MAX; h++) {
        const char *name = cg_hier_to_string((enum cg_hier)h);
        char *mnt = NULL, *own = NULL;
        struct statfs sfs;

        if (cgroup_get_subsys_mount_point(name, &mnt) != 0 || !mnt ||
            (statfs(mnt, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)) {
            cr_expect_null(ctx->sys.mount[h], "%s: corral found %s, libcgroup nothing", name,
                           ctx->sys.mount[h]);
            free(mnt);
            continue;
        }
        cr_assert_not_null(ctx->sys.mount[h], "%s: libcgroup found %s, corral nothing", name, mnt);
        cr_expect_str_eq(ctx->sys.mount[h], mnt, "%s mount point", name);
        cr_assert_eq(cgroup_get_current_controller_path(getpid(), name, &own), 0);
        cr_expect_str_eq(ctx->sys.own[h], own, "%s: own cgroup", name);
        found++;
        free(mnt);
        free(own);
    }
    cr_assert_gt(found, 0, "libcgroup found no v1 hierarchy of corral's");
}

Test(core, root_nested_under_own_cgroup_is_created_and_removed)
{
    th_require_cgroups();
    struct cg_ctx *ctx = th_ctx();
    struct cg_group *root = NULL;
    struct cg_err e = {0};

    cr_assert_eq(cg_root_open(ctx, false, &root, &e), -ENOENT);
    cr_assert_eq(cg_root_open(ctx, true, &root, &e), 0, "%s", e.detail);
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (!ctx->sys.mount[h])
            continue;
        char *d = th_group_dir((enum cg_hier)h, "");
        cr_assert(dir_exists(d), "root missing in %s: %s", cg_hier_to_string(h), d);
        /* the root's path ends in our own unique name, beneath the base */
        cr_assert(strstr(d, th_root_arg() + 2) != NULL);
    }
    cg_group_free(root);
    cr_assert_eq(cg_root_destroy(ctx, &e), 0);
    for (int h = 0; h < _CG_H_MAX; h++) {
        char *d = th_group_dir((enum cg_hier)h, "");
        cr_assert_not(dir_exists(d), "root left behind: %s", d);
    }
}

Test(core, root_argument_validation)
{
    struct cg_ctx *ctx = NULL;
    struct cg_err e = {0};

    cr_assert_eq(cg_ctx_new("./../escape", &ctx, &e), -EINVAL);
    cr_assert(strstr(e.detail, "invalid root") != NULL, "%s", e.detail);
    cr_assert_eq(cg_ctx_new("/a//b", &ctx, &e), -EINVAL);
    cr_assert_eq(cg_ctx_new("./", &ctx, &e), -EINVAL);
    cr_assert_null(ctx);
}

Test(core, groups_created_in_every_hierarchy)
{
    th_require_cgroups();
    struct cg_ctx *ctx = th_ctx();
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    bool created = false;

    cr_assert_eq(cg_group_open(ctx, "high/web", true, &g, &created, &e), 0, "%s", e.detail);
    cr_assert(created);
    cr_assert_str_eq(cg_group_path(g), "high/web");
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (!ctx->sys.mount[h])
            continue;
        char *d = th_group_dir((enum cg_hier)h, "high/web");
        cr_assert(dir_exists(d), "%s", d);
        cr_assert_geq(cg_group_fd(g, (enum cg_hier)h), 0);
    }
    cg_group_free(g);
    /* opening again does not create */
    cr_assert_eq(cg_group_open(ctx, "high/web", true, &g, &created, &e), 0);
    cr_assert_not(created);
    cg_group_free(g);
    if (cg_ctx_is_v2(ctx)) {
        /* controllers enabled on the way down */
        char *d = th_group_dir(CG_H_CPU, "high");
        char buf[256];
        int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(cg_read_at(fd, "cgroup.subtree_control", buf, sizeof(buf)), 0);
        cr_assert(strstr(buf, "memory") && strstr(buf, "pids"), "subtree_control: %s", buf);
        close(fd);
    }
}

Test(core, bad_names_refused_and_nothing_created)
{
    th_require_cgroups();
    struct cg_ctx *ctx = th_ctx();
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    const char *bad[] = {"..", "high/..", "a//b", "/abs", "UPPER", "x/y.z", "a/b/"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = cg_group_open(ctx, bad[i], true, &g, NULL, &e);
        cr_assert(r == -EINVAL || r == -ENAMETOOLONG, "%s accepted (%d)", bad[i], r);
        cr_assert_null(g);
    }
    /* the refusal happened before the root was even created */
    cr_assert_eq(cg_root_open(ctx, false, &g, &e), -ENOENT);
}

Test(core, attach_shows_in_proc_cgroup_of_every_hierarchy)
{
    th_require_cgroups();
    struct cg_ctx *ctx = th_ctx();
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int rel;

    cr_assert_eq(cg_group_open(ctx, "normal/job/run-1", true, &g, NULL, &e), 0, "%s", e.detail);
    pid_t pid = th_fork_held(sleeper, NULL, &rel);
    cr_assert_eq(cg_group_attach(g, pid, &e), 0, "%s", e.detail);
    th_release(rel);

    if (cg_ctx_is_v2(ctx)) {
        char *p = th_proc_cgroup(pid, "");
        char want[512];
        snprintf(want, sizeof(want), "%s/normal/job/run-1", ctx->root_path[0]);
        cr_assert_str_eq(p, want);
        free(p);
    } else {
        for (int h = 0; h < _CG_H_MAX; h++) {
            if (!ctx->sys.mount[h])
                continue;
            char *p = th_proc_cgroup(pid, cg_hier_to_string((enum cg_hier)h));
            char want[512];
            snprintf(want, sizeof(want), "%s/normal/job/run-1",
                     strcmp(ctx->root_path[h], "/") ? ctx->root_path[h] : "");
            cr_assert_str_eq(p, want, "hierarchy %s", cg_hier_to_string(h));
            free(p);
        }
    }
    pid_t *pids = NULL;
    size_t n = 0;
    cr_assert_eq(cg_group_pids(g, &pids, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(pids[0], pid);
    free(pids);
    cr_assert_eq(cg_group_populated(g), 1);
    th_kill_wait(pid);
    cg_group_free(g);
}

Test(core, remove_refuses_busy_group_then_kill_removes_tree)
{
    th_require_cgroups();
    struct cg_ctx *ctx = th_ctx();
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int rel;

    cr_assert_eq(cg_group_open(ctx, "batch/crunch/run-2", true, &g, NULL, &e), 0);
    pid_t pid = th_fork_held(sleeper, NULL, &rel);
    cr_assert_eq(cg_group_attach(g, pid, &e), 0);
    th_release(rel);

    cr_assert_eq(cg_group_remove(g, &e), -EBUSY);
    cr_assert_eq(cg_group_remove_tree(ctx, "batch/crunch", false, NULL, NULL, &e), -EBUSY);
    cr_assert_str_eq(e.group, "batch/crunch");
    char *d = th_group_dir(CG_H_PIDS, "batch/crunch/run-2");
    cr_assert(dir_exists(d), "a refused remove must leave the tree whole");

    cr_assert_eq(cg_group_remove_tree(ctx, "batch/crunch", true, NULL, NULL, &e), 0, "%s",
                 e.detail);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    cr_assert_not(dir_exists(d));
    d = th_group_dir(CG_H_PIDS, "batch");
    cr_assert(dir_exists(d), "the parent stays");
    cg_group_free(g);
}

Test(core, children_lists_only_valid_names)
{
    th_require_cgroups();
    struct cg_ctx *ctx = th_ctx();
    struct cg_group *root = NULL, *g = NULL;
    char **kids = NULL;

    cr_assert_eq(cg_group_open(ctx, "b", true, &g, NULL, NULL), 0);
    cg_group_free(g);
    cr_assert_eq(cg_group_open(ctx, "a", true, &g, NULL, NULL), 0);
    cg_group_free(g);
    cr_assert_eq(cg_root_open(ctx, false, &root, NULL), 0);
    cr_assert_eq(cg_group_children(root, &kids), 0);
    cr_assert_str_eq(kids[0], "a");
    cr_assert_str_eq(kids[1], "b");
    cr_assert_null(kids[2]);
    cg_strv_free(kids);
    cg_group_free(root);
}

Test(core, v2_processes_only_in_leaves)
{
    th_require_v2();
    struct cg_ctx *ctx = th_ctx();
    struct cg_group *inner = NULL, *leaf = NULL;
    struct cg_err e = {0};
    int rel;

    cr_assert_eq(cg_group_open(ctx, "high/web", true, &inner, NULL, &e), 0);
    cr_assert_eq(cg_group_open(ctx, "high/web/run-1", true, &leaf, NULL, &e), 0);
    pid_t pid = th_fork_held(sleeper, NULL, &rel);
    cr_assert_eq(cg_group_attach(inner, pid, &e), -EBUSY,
                 "an inner group with controllers on must refuse processes");
    cr_assert(strstr(e.detail, "leaf") != NULL, "%s", e.detail);
    cr_assert_eq(cg_group_attach(leaf, pid, &e), 0, "%s", e.detail);
    th_release(rel);
    /* we were moved out of our own cgroup into corral's leaf beside the root */
    char *own = th_proc_cgroup(getpid(), "");
    cr_assert(strstr(own, "/corral-self") != NULL || strcmp(ctx->base_path[0], "/") == 0,
              "own cgroup %s", own);
    free(own);
    th_kill_wait(pid);
    cg_group_free(inner);
    cg_group_free(leaf);
}

/* A long-lived process (corrald) keeps its context: a root removed and re-created behind
 * its back must be found again, not served from stale fds. */
Test(core, root_removed_behind_our_back_is_reopened)
{
    th_require_cgroups();
    struct cg_ctx *ctx = th_ctx(), *other = NULL;
    struct cg_group *g = NULL;
    struct cg_err e = {0};

    cr_assert_eq(cg_group_open(ctx, "normal/a", true, &g, NULL, &e), 0, "%s", e.detail);
    cg_group_free(g);
    cr_assert_not_null(ctx->root_cache, "the root is cached after the first open");
    cr_assert_eq(cg_ctx_new(th_root_arg(), &other, &e), 0);
    cr_assert_eq(cg_root_destroy(other, &e), 0, "%s", e.detail);
    cg_ctx_free(other);
    cr_assert_eq(cg_group_open(ctx, "normal/a", false, &g, NULL, &e), -ENOENT,
                 "a removed root must not be served from the cache");
    cr_assert_eq(cg_group_open(ctx, "normal/b", true, &g, NULL, &e), 0, "%s", e.detail);
    char *d = th_group_dir(CG_H_PIDS, "normal/b");
    struct stat st;
    cr_assert_eq(stat(d, &st), 0, "re-created under the new root: %s", d);
    cg_group_free(g);
}

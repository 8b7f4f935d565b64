/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgroup v1 and hybrid: one directory per hierarchy (cpu, cpuacct, memory, pids, freezer,
 * cpuset), created, joined and removed in each. Hierarchies mounted together
 * ("cpu,cpuacct") share one directory and are handled once.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cgroup.h"
#include "core/fileio.h"
#include "core/internal.h"
#include "core/log.h"
#include "core/name.h"

static int v1_prepare_base(struct cg_ctx *ctx, struct cg_err *e)
{
    /* v1 has no rule against processes in inner groups. */
    return 0;
}

/* A new v1 cpuset group starts with empty cpuset.cpus and cpuset.mems, and no process can
 * enter it until both are set: it gets its parent's, as cgroup.clone_children would give
 * it (without changing that flag of a parent corral may not own). */
static int v1_cpuset_inherit(int parent_fd, int child_fd, const char *group, struct cg_err *e)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};

    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        char buf[4096];
        int r = cg_read_at(parent_fd, files[i], buf, sizeof(buf));

        if (r >= 0)
            r = cg_write_at(child_fd, files[i], buf);
        if (r < 0)
            return cg_err_set(e, r, group, files[i], "cannot copy the parent's %s into a new group",
                              files[i]);
    }
    return 0;
}

static int v1_create(struct cg_group *parent, const char *name, bool *ret_created,
                     struct cg_group *child, struct cg_err *e)
{
    struct cg_ctx *ctx = parent->ctx;
    bool made[_CG_H_MAX] = {false};
    bool any = false;
    int r = 0;

    for (int h = 0; h < _CG_H_MAX; h++) {
        if (!cg_slot(ctx, h) || parent->fd[h] < 0) /* optional, the parent not in it yet */
            continue;
        if (mkdirat(parent->fd[h], name, 0755) == 0)
            made[h] = any = true;
        else if (errno != EEXIST) {
            r = cg_err_set(e, -errno, child->path, NULL, "cannot create group in %s hierarchy",
                           cg_hier_to_string((enum cg_hier)h));
            goto fail;
        }
        child->fd[h] = openat(parent->fd[h], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child->fd[h] < 0) {
            r = cg_err_set(e, -errno, child->path, NULL, "cannot open group in %s hierarchy",
                           cg_hier_to_string((enum cg_hier)h));
            goto fail;
        }
        if (h == CG_H_CPUSET && made[h] &&
            (r = v1_cpuset_inherit(parent->fd[h], child->fd[h], child->path, e)) < 0)
            goto fail;
    }
    *ret_created = any;
    return 0;
fail:
    /* Put back exactly what this call made, so a failure leaves no half-created group. */
    for (int h = 0; h < _CG_H_MAX; h++) {
        closep(&child->fd[h]);
        child->fd[h] = -1;
        if (made[h])
            (void)unlinkat(parent->fd[h], name, AT_REMOVEDIR);
    }
    return r;
}

static int v1_attach(struct cg_group *g, pid_t pid, struct cg_err *e)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%d", (int)pid);
    for (int h = 0; h < _CG_H_MAX; h++) {
        int r;
        if (!cg_slot(g->ctx, h) || g->fd[h] < 0)
            continue;
        r = cg_write_at(g->fd[h], "cgroup.procs", buf);
        if (r < 0)
            return cg_err_set(e, r, g->path, "cgroup.procs", "moving pid %d into the %s hierarchy",
                              (int)pid, cg_hier_to_string((enum cg_hier)h));
    }
    return 0;
}

static int v1_place_prepare(struct cg_group *g, struct cg_place *p, struct cg_err *e)
{
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (!cg_slot(g->ctx, h) || g->fd[h] < 0)
            continue;
        p->self[h] = openat(g->fd[h], "tasks", O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (p->self[h] < 0) {
            int r = -errno;
            cg_place_close(p);
            return cg_err_set(e, r, g->path, "tasks", "cannot open in the %s hierarchy",
                              cg_hier_to_string((enum cg_hier)h));
        }
    }
    return 0;
}

int cg_self_attach(const int fds[_CG_H_MAX], int *ret_h)
{
    for (int h = 0; h < _CG_H_MAX; h++) {
        ssize_t n;

        if (fds[h] < 0)
            continue;
        do {
            n = write(fds[h], "0", 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) {
            *ret_h = h;
            return n < 0 ? -errno : -EIO;
        }
    }
    return 0;
}

void cg_self_attach_close(int fds[_CG_H_MAX])
{
    for (int h = 0; h < _CG_H_MAX; h++)
        closep(&fds[h]);
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

static int v1_pids(struct cg_group *g, pid_t **ret, size_t *ret_n)
{
    pid_t *all = NULL;
    size_t n = 0, k = 0;

    for (int h = 0; h < _CG_H_MAX; h++) {
        _cleanup_free_ pid_t *p = NULL;
        size_t m = 0;
        pid_t *na;
        int r;

        if (!cg_slot(g->ctx, h) || g->fd[h] < 0)
            continue;
        r = cg_read_pids_at(g->fd[h], "cgroup.procs", &p, &m);
        if (r < 0) {
            free(all);
            return r;
        }
        if (m == 0)
            continue;
        na = realloc(all, (n + m) * sizeof(pid_t));
        if (!na) {
            free(all);
            return -ENOMEM;
        }
        all = na;
        memcpy(all + n, p, m * sizeof(pid_t));
        n += m;
    }
    if (n > 0) {
        qsort(all, n, sizeof(pid_t), cmp_pid);
        for (size_t i = 0; i < n; i++)
            if (k == 0 || all[k - 1] != all[i])
                all[k++] = all[i];
    }
    *ret = all;
    *ret_n = k;
    return 0;
}

struct pid_list {
    pid_t *v;
    size_t n;
};

/* Appends the pids of one directory (cgroup.procs lists only the group's own). */
static int collect_one(int dfd, void *userdata)
{
    struct pid_list *l = userdata;
    _cleanup_free_ pid_t *p = NULL;
    size_t m = 0;
    int r;

    r = cg_read_pids_at(dfd, "cgroup.procs", &p, &m);
    if (r < 0)
        return r == -ENOENT ? 0 : r;
    if (m > 0) {
        pid_t *nv = realloc(l->v, (l->n + m) * sizeof(pid_t));
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        memcpy(l->v + l->n, p, m * sizeof(pid_t));
        l->n += m;
    }
    return 0;
}

/* Collects the pids of the directory dfd and every directory below it into *v. */
static int collect_tree(int dfd, pid_t **v, size_t *n)
{
    struct pid_list l = {.v = *v, .n = *n};
    int r = cg_walk_dirs(dfd, collect_one, &l, 64);

    *v = l.v;
    *n = l.n;
    return r;
}

static int tree_pids(struct cg_group *g, pid_t **ret, size_t *ret_n)
{
    pid_t *v = NULL;
    size_t n = 0;

    for (int h = 0; h < _CG_H_MAX; h++) {
        int r;
        if (!cg_slot(g->ctx, h) || g->fd[h] < 0)
            continue;
        r = collect_tree(g->fd[h], &v, &n);
        if (r < 0) {
            free(v);
            return r;
        }
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

static int v1_populated(struct cg_group *g)
{
    _cleanup_free_ pid_t *v = NULL;
    size_t n = 0;
    int r;

    r = tree_pids(g, &v, &n);
    if (r < 0)
        return r;
    return n > 0;
}

static int thaw_one(int dfd, void *userdata)
{
    (void)cg_write_at(dfd, "freezer.state", "THAWED");
    return 0;
}

/* Thaws every freezer directory from dfd down, so SIGKILL can be delivered. */
static void thaw_tree(int dfd)
{
    (void)cg_walk_dirs(dfd, thaw_one, NULL, 64);
}

void cg_kill_pids(const pid_t *pids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        (void)kill(pids[i], SIGKILL);
}

static int v1_kill(struct cg_group *g, struct cg_err *e)
{
    int ffd = cg_group_fd(g, CG_H_FREEZER);

    /* v1 has no cgroup.kill. Freeze first so nothing can fork while we kill, SIGKILL every
     * member, then thaw so the signals are delivered. Repeat until empty: a process that
     * was mid-fork may leave a child we did not see on the first pass. Bounded to ~5 s. */
    for (int round = 0; round < 1000; round++) {
        _cleanup_free_ pid_t *v = NULL;
        size_t n = 0;
        int r;

        if (ffd >= 0)
            (void)cg_write_at(ffd, "freezer.state", "FROZEN");
        r = tree_pids(g, &v, &n);
        if (r < 0)
            return cg_err_set(e, r, g->path, "cgroup.procs", "cannot list processes");
        cg_kill_pids(v, n);
        if (ffd >= 0)
            thaw_tree(ffd);
        if (n == 0)
            return 0;
        (void)nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    }
    return cg_err_set(e, -ETIMEDOUT, g->path, NULL, "processes survived SIGKILL for 5 s");
}

static int v1_remove(struct cg_group *g, struct cg_err *e)
{
    return cg_remove_dirs(g, e);
}

const struct cg_backend cg_backend_v1 = {
    .name = "cgroupfs-v1",
    .place_how = CG_PLACE_SELF,
    .vocab = CG_VOCAB_V1,
    .prepare_base = v1_prepare_base,
    .create = v1_create,
    .attach = v1_attach,
    .place_prepare = v1_place_prepare,
    .pids = v1_pids,
    .populated = v1_populated,
    .kill = v1_kill,
    .remove = v1_remove,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgroup v2: one unified tree. Controllers must be enabled in a parent's
 * cgroup.subtree_control before its children get their files, and a group with children
 * may not hold processes (except the root), so processes only ever live in leaves.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

/* The controllers corral manages. The freezer is core to v2 (cgroup.freeze, 5.2+). */
static const char *const v2_controllers[] = {"cpu", "memory", "pids", "cpuset"};

static bool word_in(const char *text, const char *word)
{
    size_t wl = strlen(word);
    const char *p = text;

    while ((p = strstr(p, word))) {
        bool start = p == text || p[-1] == ' ' || p[-1] == '\n';
        bool end = p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n';
        if (start && end)
            return true;
        p += wl;
    }
    return false;
}

/* Enables, in dfd's subtree_control, every corral controller that dfd has available and
 * that is not enabled yet. Writes nothing when all are on already. */
static int enable_subtree(int dfd, const char *group, struct cg_err *e)
{
    char avail[512], on[512], req[128] = "";
    int r;

    r = cg_read_at(dfd, "cgroup.controllers", avail, sizeof(avail));
    if (r < 0)
        return cg_err_set(e, r, group, "cgroup.controllers", "cannot read");
    r = cg_read_at(dfd, "cgroup.subtree_control", on, sizeof(on));
    if (r < 0)
        return cg_err_set(e, r, group, "cgroup.subtree_control", "cannot read");
    for (size_t i = 0; i < ARRAY_SIZE(v2_controllers); i++) {
        if (!word_in(avail, v2_controllers[i]) || word_in(on, v2_controllers[i]))
            continue;
        strcat(req, req[0] ? " +" : "+");
        strcat(req, v2_controllers[i]);
    }
    if (!req[0])
        return 0;
    r = cg_write_at(dfd, "cgroup.subtree_control", req);
    if (r < 0)
        return cg_err_set(e, r, group, "cgroup.subtree_control",
                          r == -EBUSY ? "writing '%s' (the group holds processes: v2 allows "
                                        "processes only in leaves)"
                                      : "writing '%s'",
                          req);
    return 0;
}

static int move_procs(int from, int to)
{
    _cleanup_free_ pid_t *p = NULL;
    size_t n = 0;
    int r;

    r = cg_read_pids_at(from, "cgroup.procs", &p, &n);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%d", (int)p[i]);
        r = cg_write_at(to, "cgroup.procs", buf);
        if (r < 0 && r != -ESRCH)
            return r;
    }
    return (int)n;
}

static int v2_prepare_base(struct cg_ctx *ctx, struct cg_err *e)
{
    _cleanup_close_ int mfd = -1, bfd = -1, lfd = -1;
    const char *base = ctx->base_path[0];
    int r = 0;

    if (strcmp(base, "/") == 0)
        return 0; /* the root cgroup is exempt from the no-internal-process rule */
    mfd = open(ctx->sys.mount[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mfd < 0)
        return cg_err_set(e, -errno, NULL, NULL, "cannot open %s", ctx->sys.mount[0]);
    bfd = cg_open_beneath(mfd, base, 0, NULL);
    if (bfd < 0)
        return cg_err_set(e, bfd, NULL, NULL, "cannot open own cgroup %s", base);
    /* Fast path: controllers already on in the base means it holds no processes. */
    {
        char on[512];
        if (cg_read_at(bfd, "cgroup.subtree_control", on, sizeof(on)) >= 0 && on[0])
            return enable_subtree(bfd, base, e);
    }
    /* Processes can enter the base while we move them (a shell forking); retry a few
     * times, then report EBUSY with the rule explained. */
    for (int i = 0; i < 20; i++) {
        struct cg_err ignored;
        if (lfd < 0) {
            if (mkdirat(bfd, CG_V2_LEAF, 0755) < 0 && errno != EEXIST)
                return cg_err_set(e, -errno, NULL, NULL, "cannot create %s/%s", base, CG_V2_LEAF);
            lfd = openat(bfd, CG_V2_LEAF, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (lfd < 0)
                return cg_err_set(e, -errno, NULL, NULL, "cannot open %s/%s", base, CG_V2_LEAF);
        }
        r = move_procs(bfd, lfd);
        if (r < 0)
            return cg_err_set(e, r, NULL, "cgroup.procs",
                              "cannot move the caller's processes from %s into %s", base,
                              CG_V2_LEAF);
        r = enable_subtree(bfd, base, &ignored);
        if (r != -EBUSY)
            return r < 0 ? enable_subtree(bfd, base, e) : 0;
    }
    return cg_err_set(e, -EBUSY, NULL, "cgroup.subtree_control",
                      "processes keep entering %s; cannot make it an inner group", base);
}

static int v2_create(struct cg_group *parent, const char *name, bool *ret_created,
                     struct cg_group *child, struct cg_err *e)
{
    bool made = false;
    int r;

    r = enable_subtree(parent->fd[0], parent->path, e);
    if (r < 0)
        return r;
    if (mkdirat(parent->fd[0], name, 0755) == 0)
        made = true;
    else if (errno != EEXIST)
        return cg_err_set(e, -errno, child->path, NULL, "cannot create group");
    child->fd[0] = openat(parent->fd[0], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child->fd[0] < 0) {
        r = cg_err_set(e, -errno, child->path, NULL, "cannot open group");
        if (made)
            (void)unlinkat(parent->fd[0], name, AT_REMOVEDIR);
        return r;
    }
    *ret_created = made;
    return 0;
}

static int v2_attach(struct cg_group *g, pid_t pid, struct cg_err *e)
{
    char buf[32];
    int r;

    snprintf(buf, sizeof(buf), "%d", (int)pid);
    r = cg_write_at(g->fd[0], "cgroup.procs", buf);
    if (r < 0)
        return cg_err_set(e, r, g->path, "cgroup.procs", "moving pid %d%s", (int)pid,
                          r == -EBUSY ? " (v2 allows processes only in leaf groups)" : "");
    return 0;
}

static int v2_pids(struct cg_group *g, pid_t **ret, size_t *ret_n)
{
    return cg_read_pids_at(g->fd[0], "cgroup.procs", ret, ret_n);
}

static int v2_populated(struct cg_group *g)
{
    char buf[256];
    uint64_t v;
    int r;

    r = cg_read_at(g->fd[0], "cgroup.events", buf, sizeof(buf));
    if (r < 0)
        return r;
    r = cg_keyed_u64(buf, "populated", &v);
    if (r < 0)
        return r;
    return v != 0;
}

/* Waits until cgroup.events says "populated 0". The kernel signals every change of that
 * file as POLLPRI, so this sleeps in poll() rather than in a loop. */
static int wait_unpopulated(struct cg_group *g, int timeout_ms)
{
    _cleanup_close_ int fd = -1;
    struct timespec start, now;

    fd = openat(g->fd[0], "cgroup.events", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        char buf[256];
        uint64_t v = 1;
        struct pollfd pfd = {.fd = fd, .events = POLLPRI};
        long left;
        int r;

        r = cg_pread(fd, buf, sizeof(buf));
        if (r < 0)
            return r;
        if (cg_keyed_u64(buf, "populated", &v) == 0 && v == 0)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = timeout_ms -
               ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0)
            return -ETIMEDOUT;
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            return -errno;
    }
}

static int v2_kill(struct cg_group *g, struct cg_err *e)
{
    int r;

    /* cgroup.kill (5.14+) kills the whole subtree atomically, fork races included. */
    r = cg_write_at(g->fd[0], "cgroup.kill", "1");
    if (r == -ENOENT) {
        /* Older kernel: thaw (signals are not delivered while frozen) and kill by list. */
        (void)cg_write_at(g->fd[0], "cgroup.freeze", "0");
        for (int i = 0; i < 100; i++) {
            _cleanup_free_ pid_t *p = NULL;
            size_t n = 0;
            if (cg_read_pids_at(g->fd[0], "cgroup.procs", &p, &n) < 0 || n == 0)
                break;
            cg_kill_pids(p, n);
            r = wait_unpopulated(g, 50);
            if (r == 0)
                return 0;
        }
    } else if (r < 0)
        return cg_err_set(e, r, g->path, "cgroup.kill", "cannot kill the group");
    r = wait_unpopulated(g, 5000);
    if (r < 0)
        return cg_err_set(e, r, g->path, "cgroup.events", "processes did not exit after SIGKILL");
    return 0;
}

static int v2_remove(struct cg_group *g, struct cg_err *e)
{
    return cg_remove_dirs(g, e);
}

const struct cg_backend cg_backend_v2 = {
    .name = "cgroupfs-v2",
    .prepare_base = v2_prepare_base,
    .create = v2_create,
    .attach = v2_attach,
    .pids = v2_pids,
    .populated = v2_populated,
    .kill = v2_kill,
    .remove = v2_remove,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One inotify fd serves three purposes:
 *   - the policy directory: an edit schedules a re-apply (debounced, so an editor's
 *     write-rename-chmod sequence gives one apply);
 *   - the group tree (root, class and workload dirs, in one hierarchy): a mkdir or rmdir
 *     there marks the tree dirty, so the sampler walks it again at the next pass instead
 *     of every pass (a walk costs far more than a read over kept-open fds);
 *   - on v2, each instance's cgroup.events: the kernel signals every change of
 *     "populated" (kernfs_notify, 4.5+), so an instance that empties is read at once.
 * v1 has no such file (notify_on_release runs a global helper program, which is not
 * ours to take over); there, empty instances are found at the sampling pass.
 *
 * This file only keeps the watches and says what an event means (struct corrald_event);
 * the loop acts on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <syslog.h>
#include <unistd.h>

#include "core/macro.h"
#include "daemon/daemon.h"

enum {
    W_ROOT,
    W_CLASS,
    W_WORKLOAD,
    W_EVENTS,
};

#define TREE_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)
#define POLICY_MASK                                                                                \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB |            \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* The hierarchy whose directories we watch: any one holds every corral group. */
static int watch_hier(const struct cg_ctx *ctx)
{
    for (int h = 0; h < _CG_H_MAX; h++)
        if (ctx->sys.mount[h] && ctx->root_path[h])
            return h;
    return -1;
}

/* Absolute directory of group `path` ("" for the root), plus an optional file. */
static int abs_path(const struct cg_ctx *ctx, const char *path, const char *file, char *buf,
                    size_t size)
{
    int h = watch_hier(ctx), n;

    if (h < 0)
        return -ENOENT;
    n = snprintf(buf, size, "%s%s%s%s%s%s", ctx->sys.mount[h],
                 strcmp(ctx->root_path[h], "/") == 0 ? "" : ctx->root_path[h], path[0] ? "/" : "",
                 path, file ? "/" : "", file ? file : "");
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static size_t find_pos(const struct corrald_watches *w, int wd)
{
    size_t lo = 0, hi = w->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->v[mid].wd < wd)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct corrald_watch *find(struct corrald_watches *w, int wd)
{
    size_t i = find_pos(w, wd);
    return i < w->n && w->v[i].wd == wd ? &w->v[i] : NULL;
}

static int insert(struct corrald_watches *w, size_t i, int wd, int kind, const char *path)
{
    if (GROW(w->v, w->cap, w->n, 64) < 0)
        return -ENOMEM;
    memmove(&w->v[i + 1], &w->v[i], (w->n - i) * sizeof(*w->v));
    w->v[i] = (struct corrald_watch){.wd = wd, .kind = kind, .path = strdup(path)};
    if (!w->v[i].path) {
        memmove(&w->v[i], &w->v[i + 1], (w->n - i) * sizeof(*w->v));
        return -ENOMEM;
    }
    w->n++;
    return 0;
}

static int add(struct corrald_watches *w, const char *path, const char *file, int kind,
               uint32_t mask)
{
    char abs[PATH_MAX];
    size_t i;
    int wd, r;

    r = abs_path(w->ctx, path, file, abs, sizeof(abs));
    if (r < 0)
        return r;
    wd = inotify_add_watch(w->ifd, abs, mask);
    if (wd < 0)
        return -errno;
    i = find_pos(w, wd);
    if (i < w->n && w->v[i].wd == wd)
        return wd; /* the same directory, already watched */
    r = insert(w, i, wd, kind, path);
    if (r < 0) {
        (void)inotify_rm_watch(w->ifd, wd);
        return r;
    }
    return wd;
}

static void forget(struct corrald_watches *w, int wd)
{
    size_t i = find_pos(w, wd);

    if (i < w->n && w->v[i].wd == wd) {
        free(w->v[i].path);
        memmove(&w->v[i], &w->v[i + 1], (w->n - i - 1) * sizeof(*w->v));
        w->n--;
    }
}

void corrald_unwatch(struct corrald_watches *w, int wd)
{
    if (wd < 0)
        return;
    forget(w, wd);
    (void)inotify_rm_watch(w->ifd, wd);
}

int corrald_watch_events(struct corrald_watches *w, const char *path)
{
    const char *events = cg_ctx_events_file(w->ctx);

    if (!events)
        return -1;
    int wd = add(w, path, events, W_EVENTS, IN_MODIFY);
    return wd < 0 ? -1 : wd;
}

bool corrald_watch_tree(struct corrald_watches *w, const struct acct_sampler *s)
{
    size_t n = acct_sampler_count(s);
    /* Without a watch on the root, the next pass walks again (the root appears when the
     * first policy is applied). */
    bool ok = add(w, "", NULL, W_ROOT, TREE_MASK) >= 0;

    for (size_t i = 0; i < n; i++) {
        struct acct_sampler_item it;
        acct_sampler_item(s, i, &it);
        if (it.kind == ACCT_CLASS)
            (void)add(w, it.path, NULL, W_CLASS, TREE_MASK);
        else if (it.kind == ACCT_WORKLOAD)
            (void)add(w, it.path, NULL, W_WORKLOAD, TREE_MASK);
    }
    return ok;
}

int corrald_watch_policy_dir(struct corrald_watches *w)
{
    if (w->policy_wd >= 0)
        return 0;
    w->policy_wd = inotify_add_watch(w->ifd, w->policy_dir, POLICY_MASK);
    if (w->policy_wd < 0)
        return -errno;
    /* A directory removed and made again: what was written into it before this watch
     * existed was seen by nobody, so read it all now. */
    if (!w->policy_dir_lost)
        return 0;
    w->policy_dir_lost = false;
    return 1;
}

static bool is_policy_name(const char *name)
{
    size_t len = strlen(name);
    return len > 7 && strcmp(name + len - 7, ".policy") == 0;
}

static void decode_policy_dir(struct corrald_watches *w, const struct inotify_event *ev,
                              struct corrald_event *ret)
{
    if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        (void)inotify_rm_watch(w->ifd, w->policy_wd);
        w->policy_wd = -1;
        w->policy_dir_lost = true;
        ret->what = CORRALD_EV_RELOAD;
    } else if (ev->len > 0 && is_policy_name(ev->name)) {
        ret->what = CORRALD_EV_RELOAD;
    }
}

void corrald_watch_decode(struct corrald_watches *w, const struct inotify_event *ev,
                          struct corrald_event *ret)
{
    struct corrald_watch *x;

    ret->what = 0;
    ret->path[0] = '\0';
    if (ev->mask & IN_Q_OVERFLOW) {
        ret->what = CORRALD_EV_OVERFLOW | CORRALD_EV_TREE;
        return;
    }
    if (ev->wd == w->policy_wd) {
        decode_policy_dir(w, ev, ret);
        return;
    }
    x = find(w, ev->wd);
    if (!x)
        return;
    if (ev->mask & IN_IGNORED) {
        /* the group is gone; an instance forgets its watch */
        if (x->kind == W_EVENTS) {
            snprintf(ret->path, sizeof(ret->path), "%s", x->path);
            ret->what = CORRALD_EV_INST_GONE;
        }
        forget(w, ev->wd);
        return;
    }
    if (x->kind == W_EVENTS) {
        snprintf(ret->path, sizeof(ret->path), "%s", x->path);
        ret->what = CORRALD_EV_INST_EVENT;
        return;
    }
    if (!(ev->mask & IN_ISDIR) || ev->len == 0)
        return;
    ret->what = CORRALD_EV_TREE;
    if (x->kind != W_WORKLOAD)
        return;
    snprintf(ret->path, sizeof(ret->path), "%s/%s", x->path, ev->name);
    ret->what |= ev->mask & (IN_CREATE | IN_MOVED_TO) ? CORRALD_EV_INST_NEW : CORRALD_EV_INST_GONE;
}

int corrald_watch_init(struct corrald_watches *w, const struct cg_ctx *ctx, const char *policy_dir)
{
    *w = (struct corrald_watches){.ctx = ctx, .policy_dir = policy_dir, .policy_wd = -1};
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->ifd < 0)
        return -errno;
    return 0;
}

void corrald_watch_done(struct corrald_watches *w)
{
    if (w->ifd >= 0)
        (void)close(w->ifd);
    w->ifd = -1;
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i].path);
    free(w->v);
    w->v = NULL;
    w->n = w->cap = 0;
}

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

#include "cli/corrald.h"

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

static size_t find_pos(const struct corrald *d, int wd)
{
    size_t lo = 0, hi = d->n_watch;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->watch[mid].wd < wd)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct corrald_watch *find(struct corrald *d, int wd)
{
    size_t i = find_pos(d, wd);
    return i < d->n_watch && d->watch[i].wd == wd ? &d->watch[i] : NULL;
}

static int add(struct corrald *d, const char *path, const char *file, int kind, uint32_t mask)
{
    char abs[PATH_MAX];
    size_t i;
    int wd, r;

    r = abs_path(d->ctx, path, file, abs, sizeof(abs));
    if (r < 0)
        return r;
    wd = inotify_add_watch(d->ifd, abs, mask);
    if (wd < 0)
        return -errno;
    i = find_pos(d, wd);
    if (i < d->n_watch && d->watch[i].wd == wd)
        return wd; /* the same directory, already watched */
    if (d->n_watch == d->cap_watch) {
        size_t cap = d->cap_watch ? d->cap_watch * 2 : 64;
        struct corrald_watch *w = realloc(d->watch, cap * sizeof(*w));
        if (!w) {
            (void)inotify_rm_watch(d->ifd, wd);
            return -ENOMEM;
        }
        d->watch = w;
        d->cap_watch = cap;
    }
    memmove(&d->watch[i + 1], &d->watch[i], (d->n_watch - i) * sizeof(*d->watch));
    d->watch[i] = (struct corrald_watch){.wd = wd, .kind = kind, .path = strdup(path)};
    if (!d->watch[i].path) {
        (void)inotify_rm_watch(d->ifd, wd);
        memmove(&d->watch[i], &d->watch[i + 1], (d->n_watch - i) * sizeof(*d->watch));
        return -ENOMEM;
    }
    d->n_watch++;
    return wd;
}

static void forget(struct corrald *d, int wd)
{
    size_t i = find_pos(d, wd);

    if (i < d->n_watch && d->watch[i].wd == wd) {
        free(d->watch[i].path);
        memmove(&d->watch[i], &d->watch[i + 1], (d->n_watch - i - 1) * sizeof(*d->watch));
        d->n_watch--;
    }
}

void corrald_unwatch(struct corrald *d, int wd)
{
    if (wd < 0)
        return;
    forget(d, wd);
    (void)inotify_rm_watch(d->ifd, wd);
}

int corrald_watch_events(struct corrald *d, const char *path)
{
    if (!cg_ctx_is_v2(d->ctx))
        return -1;
    int wd = add(d, path, "cgroup.events", W_EVENTS, IN_MODIFY);
    return wd < 0 ? -1 : wd;
}

void corrald_watch_tree(struct corrald *d)
{
    size_t n = acct_sampler_count(d->sampler);

    /* Without a watch on the root, the next pass walks again (the root appears when the
     * first policy is applied). */
    d->tree_dirty = add(d, "", NULL, W_ROOT, TREE_MASK) < 0;
    for (size_t i = 0; i < n; i++) {
        struct acct_sampler_item it;
        acct_sampler_item(d->sampler, i, &it);
        if (it.kind == ACCT_CLASS)
            (void)add(d, it.path, NULL, W_CLASS, TREE_MASK);
        else if (it.kind == ACCT_WORKLOAD)
            (void)add(d, it.path, NULL, W_WORKLOAD, TREE_MASK);
    }
}

static void schedule_reload(struct corrald *d);

void corrald_watch_policy_dir(struct corrald *d)
{
    if (d->policy_wd >= 0)
        return;
    d->policy_wd = inotify_add_watch(d->ifd, d->o.policy_dir, POLICY_MASK);
    if (d->policy_wd < 0) {
        corrald_log(&d->log, LOG_DEBUG, NULL, "cannot watch %s: %m (retrying every pass)",
                    d->o.policy_dir);
        return;
    }
    /* A directory removed and made again: what was written into it before this watch
     * existed was seen by nobody, so read it all now. */
    if (d->policy_dir_lost) {
        d->policy_dir_lost = false;
        corrald_log(&d->log, LOG_INFO, NULL, "watching %s again", d->o.policy_dir);
        schedule_reload(d);
    }
}

static bool is_policy_name(const char *name)
{
    size_t len = strlen(name);
    return len > 7 && strcmp(name + len - 7, ".policy") == 0;
}

static int reload_later(sd_event_source *s, uint64_t usec, void *userdata)
{
    (void)corrald_reload(userdata, "policy directory changed");
    return 0;
}

static void schedule_reload(struct corrald *d)
{
    if (d->debounce) {
        (void)sd_event_source_set_time_relative(d->debounce, CORRALD_DEBOUNCE_USEC);
        (void)sd_event_source_set_enabled(d->debounce, SD_EVENT_ONESHOT);
        return;
    }
    if (sd_event_add_time_relative(d->ev, &d->debounce, CLOCK_MONOTONIC, CORRALD_DEBOUNCE_USEC,
                                   10000, reload_later, d) < 0)
        (void)corrald_reload(d, "policy directory changed");
}

static void on_event(struct corrald *d, const struct inotify_event *ev)
{
    struct corrald_watch *w;
    char path[256];
    int kind;

    if (ev->mask & IN_Q_OVERFLOW) {
        corrald_log(&d->log, LOG_WARNING, NULL,
                    "inotify queue overflow: walking the tree again at the next pass");
        d->tree_dirty = true;
        return;
    }
    if (ev->wd == d->policy_wd) {
        if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
            (void)inotify_rm_watch(d->ifd, d->policy_wd);
            d->policy_wd = -1;
            d->policy_dir_lost = true;
            schedule_reload(d);
        } else if (ev->len > 0 && is_policy_name(ev->name)) {
            schedule_reload(d);
        }
        return;
    }
    w = find(d, ev->wd);
    if (!w)
        return;
    if (ev->mask & IN_IGNORED) {
        /* the group is gone; an instance forgets its watch */
        if (w->kind == W_EVENTS) {
            snprintf(path, sizeof(path), "%s", w->path);
            corrald_instance_gone(d, path); /* may drop the watch entry itself */
        }
        forget(d, ev->wd);
        return;
    }
    if (w->kind == W_EVENTS) {
        snprintf(path, sizeof(path), "%s", w->path);
        corrald_instance_event(d, path);
        return;
    }
    if (!(ev->mask & IN_ISDIR) || ev->len == 0)
        return;
    d->tree_dirty = true;
    kind = w->kind;
    if (kind != W_WORKLOAD)
        return;
    snprintf(path, sizeof(path), "%s/%s", w->path, ev->name);
    if (ev->mask & (IN_CREATE | IN_MOVED_TO))
        corrald_instance_created(d, path);
    else
        corrald_instance_gone(d, path);
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct corrald *d = userdata;
    char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                corrald_log(&d->log, LOG_ERR, NULL, "inotify read: %m");
            return 0;
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            on_event(d, ev);
            p += sizeof(*ev) + ev->len;
        }
    }
}

int corrald_watch_init(struct corrald *d)
{
    int r;

    d->policy_wd = -1;
    d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (d->ifd < 0)
        return -errno;
    r = sd_event_add_io(d->ev, &d->inotify_src, d->ifd, EPOLLIN, on_inotify, d);
    if (r < 0)
        return r;
    corrald_watch_policy_dir(d);
    return 0;
}

void corrald_watch_done(struct corrald *d)
{
    d->inotify_src = sd_event_source_unref(d->inotify_src);
    d->debounce = sd_event_source_unref(d->debounce);
    if (d->ifd >= 0)
        (void)close(d->ifd);
    d->ifd = -1;
    for (size_t i = 0; i < d->n_watch; i++)
        free(d->watch[i].path);
    free(d->watch);
    d->watch = NULL;
    d->n_watch = d->cap_watch = 0;
}

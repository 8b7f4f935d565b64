/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The freezer. v2 (5.2+): cgroup.freeze is the request and "frozen" in cgroup.events the
 * kernel's confirmation, which is notified (POLLPRI) when it changes, so waiting is
 * event-driven. v1: freezer.state; reading it makes the kernel re-check its tasks, and
 * there is no notification, so the state is re-read within a time budget.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controllers/ctl-internal.h"
#include "controllers/freezer.h"

static const char *const state_names[_CTL_FREEZE_STATE_MAX] = {
    [CTL_THAWED] = "thawed",
    [CTL_FREEZING] = "freezing",
    [CTL_FROZEN] = "frozen",
};

const char *ctl_freeze_state_to_string(enum ctl_freeze_state s)
{
    return s >= 0 && s < _CTL_FREEZE_STATE_MAX ? state_names[s] : NULL;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t deadline_after(uint64_t timeout_usec)
{
    uint64_t now = now_ns();

    if (timeout_usec > (UINT64_MAX - now) / 1000)
        return UINT64_MAX;
    return now + timeout_usec * 1000;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};

    (void)nanosleep(&ts, NULL);
}

/* The freezer's directory fd and the file that holds its state. */
static int freezer_fd(struct cg_group *g, const char **ret_file)
{
    bool v2 = cg_ctx_is_v2(cg_group_ctx(g));

    *ret_file = v2 ? "cgroup.freeze" : "freezer.state";
    return cg_group_fd(g, v2 ? CG_H_CPU : CG_H_FREEZER);
}

/* -ENOENT when the group is gone, -ENODEV when it exists without a freezer (v1 root,
 * v2 before 5.2), with e naming group and file. */
static int freezer_error(struct cg_group *g, int fd, const char *file, int r, struct cg_err *e)
{
    if (fd < 0)
        return cg_err_set(e, -ENODEV, cg_group_path(g), file,
                          "no freezer hierarchy on this system");
    if (r == -ENOENT || r == -ENODEV) {
        if (faccessat(fd, "cgroup.procs", F_OK, 0) < 0)
            return cg_err_set(e, -ENOENT, cg_group_path(g), file, "the group no longer exists");
        return cg_err_set(e, -ENODEV, cg_group_path(g), file, "this group has no freezer");
    }
    return cg_err_set(e, r, cg_group_path(g), file, "cannot read the freezer state");
}

/* v2: the "frozen" value of cgroup.events through a kept-open fd (reading re-arms POLLPRI). */
static int v2_events_frozen(int evfd, bool *ret)
{
    char buf[256];
    uint64_t v;
    int r = cg_pread(evfd, buf, sizeof(buf));

    if (r < 0)
        return r;
    r = cg_keyed_u64(buf, "frozen", &v);
    if (r < 0)
        return r;
    *ret = v != 0;
    return 0;
}

static int state_raw(struct cg_group *g, enum ctl_freeze_state *ret, bool *ret_requested,
                     struct cg_err *e)
{
    const char *file;
    int fd = freezer_fd(g, &file), r;
    char buf[64];

    if (fd < 0)
        return freezer_error(g, fd, file, -ENODEV, e);
    r = cg_read_at(fd, file, buf, sizeof(buf));
    if (r < 0)
        return freezer_error(g, fd, file, r, e);
    if (cg_ctx_is_v2(cg_group_ctx(g))) {
        _cleanup_close_ int evfd = openat(fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
        bool frozen;

        if (evfd < 0)
            return freezer_error(g, fd, "cgroup.events", -errno, e);
        r = v2_events_frozen(evfd, &frozen);
        if (r < 0)
            return freezer_error(g, fd, "cgroup.events", r, e);
        *ret_requested = strcmp(buf, "1") == 0;
        *ret = frozen ? CTL_FROZEN : *ret_requested ? CTL_FREEZING : CTL_THAWED;
        return 0;
    }
    if (strcmp(buf, "FROZEN") == 0)
        *ret = CTL_FROZEN;
    else if (strcmp(buf, "FREEZING") == 0)
        *ret = CTL_FREEZING;
    else if (strcmp(buf, "THAWED") == 0)
        *ret = CTL_THAWED;
    else
        return cg_err_set(e, -EBADMSG, cg_group_path(g), file, "unexpected state '%s'", buf);
    *ret_requested = *ret != CTL_THAWED;
    return 0;
}

int ctl_freezer_state(struct cg_group *g, enum ctl_freeze_state *ret)
{
    enum ctl_freeze_state s;
    bool req;
    int r = state_raw(g, &s, &req, NULL);

    if (r < 0)
        return r;
    *ret = s;
    return 0;
}

/* Whether a task has stopped in the freezer. v1 tasks sleep in __refrigerator (reported as
 * state 'D' since 6.1), v2 tasks in do_freezer_trap (state 'S'). A 'D' alone is not
 * enough: a task stuck in uninterruptible sleep is exactly what keeps a group FREEZING. So
 * the wait channel decides; where the kernel hides it ("0": no kallsyms, or running),
 * only a v1 'D' is taken as frozen. */
static bool task_frozen(pid_t pid, char state, bool v2)
{
    char path[64], wchan[64];

    snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
    if (cg_read_at(AT_FDCWD, path, wchan, sizeof(wchan)) > 0 && strcmp(wchan, "0") != 0)
        return strstr(wchan, "refrigerator") || strstr(wchan, "freezer_trap");
    return !v2 && state == 'D';
}

/* Adds the tasks of directory dfd that have not stopped to stuck. */
static void stuck_add(int dfd, bool v2, struct ctl_freeze_stuck *stuck)
{
    _cleanup_free_ pid_t *tids = NULL;
    size_t n = 0;

    /* Threads, not processes: one running thread keeps its whole process from freezing. */
    if (cg_read_pids_at(dfd, v2 ? "cgroup.threads" : "tasks", &tids, &n) < 0)
        return;
    for (size_t i = 0; i < n && stuck->n < ARRAY_SIZE(stuck->p); i++) {
        char path[64], buf[512], *l, *rp;
        size_t len;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)tids[i]);
        if (cg_read_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
            continue;
        l = strchr(buf, '(');
        rp = strrchr(buf, ')');
        if (!l || !rp || rp < l || rp[1] != ' ')
            continue;
        if (task_frozen(tids[i], rp[2], v2))
            continue;
        len = (size_t)(rp - l - 1);
        if (len >= sizeof(stuck->p[0].comm))
            len = sizeof(stuck->p[0].comm) - 1;
        stuck->p[stuck->n].pid = tids[i];
        memcpy(stuck->p[stuck->n].comm, l + 1, len);
        stuck->p[stuck->n].comm[len] = '\0';
        stuck->p[stuck->n].state = rp[2];
        stuck->n++;
    }
}

struct stuck_walk {
    bool v2;
    struct ctl_freeze_stuck *stuck;
};

static int stuck_one(int dfd, void *userdata)
{
    struct stuck_walk *w = userdata;

    stuck_add(dfd, w->v2, w->stuck);
    return w->stuck->n >= ARRAY_SIZE(w->stuck->p); /* full: stop, no error */
}

static void fill_stuck(struct cg_group *g, int fd, struct ctl_freeze_stuck *stuck)
{
    if (!stuck)
        return;
    stuck->n = 0;
    /* The whole subtree: a freeze covers it, and on v1 each group lists only its own
     * tasks. */
    (void)cg_walk_dirs(fd, stuck_one, &(struct stuck_walk){cg_ctx_is_v2(cg_group_ctx(g)), stuck},
                       16);
}

/* v2: waits until cgroup.events says frozen == want, or the deadline. */
static int v2_wait(struct cg_group *g, int fd, bool want, uint64_t deadline, struct cg_err *e)
{
    _cleanup_close_ int evfd = openat(fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
    int r;

    if (evfd < 0)
        return freezer_error(g, fd, "cgroup.events", -errno, e);
    for (;;) {
        struct pollfd p = {.fd = evfd, .events = POLLPRI};
        struct timespec ts;
        uint64_t now, left;
        bool frozen;

        r = v2_events_frozen(evfd, &frozen);
        if (r < 0)
            return freezer_error(g, fd, "cgroup.events", r, e);
        if (frozen == want)
            return 0;
        now = now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        left = deadline - now;
        ts.tv_sec = (time_t)(left / 1000000000ULL);
        ts.tv_nsec = (long)(left % 1000000000ULL);
        r = ppoll(&p, 1, &ts, NULL);
        if (r < 0 && errno != EINTR)
            return cg_err_set(e, -errno, cg_group_path(g), "cgroup.events", "poll");
        if (r > 0 && (p.revents & POLLNVAL))
            return cg_err_set(e, -EBADF, cg_group_path(g), "cgroup.events", "poll");
    }
}

/* v1: writes FROZEN and re-reads until the kernel agrees. Tasks that fork or sleep can
 * keep the group in FREEZING; as runc does, every 50 attempts it thaws for 10 ms (so a
 * forking workload settles) and starts again. Short pauses grow from 10 us to 1 ms. */
static int v1_freeze_loop(struct cg_group *g, int fd, uint64_t deadline, struct cg_err *e)
{
    uint64_t pause = 10000;
    int r;

    for (unsigned i = 1;; i++) {
        enum ctl_freeze_state s;
        bool req;
        uint64_t now;

        if (i % 50 == 0) {
            (void)cg_write_at(fd, "freezer.state", "THAWED");
            now = now_ns();
            if (now < deadline)
                sleep_ns(deadline - now < 10000000ULL ? deadline - now : 10000000ULL);
            pause = 10000;
        }
        r = cg_write_at(fd, "freezer.state", "FROZEN");
        if (r < 0)
            return freezer_error(g, fd, "freezer.state", r, e);
        r = state_raw(g, &s, &req, e);
        if (r < 0)
            return r;
        if (s == CTL_FROZEN)
            return 0;
        now = now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        sleep_ns(deadline - now < pause ? deadline - now : pause);
        pause = pause * 2 > 1000000ULL ? 1000000ULL : pause * 2;
    }
}

int ctl_freezer_freeze(struct cg_group *g, uint64_t timeout_usec, struct ctl_freeze_stuck *stuck,
                       struct cg_err *e)
{
    bool v2 = cg_ctx_is_v2(cg_group_ctx(g)), requested, was;
    uint64_t deadline = deadline_after(timeout_usec);
    struct ctl_freeze_stuck local;
    enum ctl_freeze_state s;
    const char *file;
    int fd = freezer_fd(g, &file), r;

    if (stuck)
        stuck->n = 0;
    r = state_raw(g, &s, &requested, e);
    if (r < 0)
        return r;
    if (s == CTL_FROZEN)
        return 0;
    if (v2) {
        if (!requested) {
            r = cg_write_at(fd, file, "1");
            if (r < 0)
                return cg_err_set(e, r, cg_group_path(g), file, "the kernel refused '1'");
        }
        r = v2_wait(g, fd, true, deadline, e);
    } else {
        r = v1_freeze_loop(g, fd, deadline, e);
    }
    if (r == 0)
        return 0;
    /* Give up: say who did not stop, then undo what this call asked for. A freeze someone
     * else requested before us (v2 cgroup.freeze already 1) is theirs to undo. The kernel
     * may have finished in the meantime: with nobody left running and the kernel now
     * confirming, that is a success, not a timeout without a culprit. */
    if (!stuck)
        stuck = &local;
    fill_stuck(g, fd, stuck);
    if (r == -ETIMEDOUT && stuck->n == 0 && state_raw(g, &s, &was, NULL) == 0 && s == CTL_FROZEN)
        return 0;
    if (!requested)
        (void)cg_write_at(fd, file, v2 ? "0" : "THAWED");
    if (r == -ETIMEDOUT)
        return cg_err_set(e, r, cg_group_path(g), v2 ? "cgroup.events" : file,
                          "not frozen within %llu us; %zu task(s) still running; thawed back",
                          (unsigned long long)timeout_usec, stuck->n);
    return r;
}

int ctl_freezer_thaw(struct cg_group *g, uint64_t timeout_usec, struct cg_err *e)
{
    bool v2 = cg_ctx_is_v2(cg_group_ctx(g)), requested;
    uint64_t deadline = deadline_after(timeout_usec), pause = 10000;
    enum ctl_freeze_state s;
    const char *file;
    int fd = freezer_fd(g, &file), r;

    r = state_raw(g, &s, &requested, e);
    if (r < 0)
        return r;
    if (s == CTL_THAWED)
        return 0;
    r = cg_write_at(fd, file, v2 ? "0" : "THAWED");
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), file, "the kernel refused to thaw");
    if (v2)
        r = v2_wait(g, fd, false, deadline, e);
    else
        /* v1 thaws synchronously; it stays FROZEN only while an ancestor is frozen. */
        for (;;) {
            uint64_t now;

            r = state_raw(g, &s, &requested, e);
            if (r < 0 || s == CTL_THAWED)
                break;
            now = now_ns();
            if (now >= deadline) {
                r = -ETIMEDOUT;
                break;
            }
            sleep_ns(deadline - now < pause ? deadline - now : pause);
            pause = pause * 2 > 1000000ULL ? 1000000ULL : pause * 2;
        }
    if (r == -ETIMEDOUT)
        return cg_err_set(e, r, cg_group_path(g), file,
                          "still frozen after %llu us (is an ancestor frozen?)",
                          (unsigned long long)timeout_usec);
    return r;
}

/* The sampler's view of the state: v1 FROZEN (FREEZING is not frozen yet), v2 the
 * "frozen" line of cgroup.events. */
static const struct ctl_ctr_desc freezer_ctrs[] = {
    {.id = CTL_CTR_FROZEN,
     .ctl = CTL_FREEZER,
     .hier = CG_H_FREEZER,
     .file =
         {[CG_VOCAB_V1] = {"freezer.state", CTL_CTR_STATE, true, {{"FROZEN", CTL_U(frozen), 1}}},
          [CG_VOCAB_V2] = {"cgroup.events", CTL_CTR_KEYED, true, {CTL_KEY("frozen", frozen, 1)}}}},
};

static int freezer_read_usage(struct cg_group *g, struct ctl_usage *ret)
{
    enum ctl_freeze_state s;
    int r = ctl_freezer_state(g, &s);

    if (r == -ENODEV)
        return 0;
    if (r < 0)
        return r;
    ret->frozen = s == CTL_FROZEN;
    return 0;
}

const struct ctl_controller ctl_freezer = {
    .name = "freezer",
    .id = CTL_FREEZER,
    .read_usage = freezer_read_usage,
    .ctrs = freezer_ctrs,
    .n_ctrs = ARRAY_SIZE(freezer_ctrs),
};

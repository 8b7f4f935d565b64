/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The loop, the one owner of the daemon's state: a timer takes one sampling pass per
 * interval; SIGTERM/SIGINT take a last one and stop; SIGHUP reloads corral.conf and the
 * policies and reopens the ledger; inotify events come back from watch.c decoded, and
 * the finals that instances.c finds are written here. The watchdog (WATCHDOG_USEC, from
 * WatchdogSec=) is fed by sd-event itself.
 *
 * A pass reads every group through the sampler's kept-open fds. It walks the tree again
 * only when inotify saw a group appear or go (or every CORRALD_RESCAN_PASSES passes, in
 * case an event was lost), because a walk opens every group's directory and costs far
 * more than the reads.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "core/lock.h"
#include "daemon/daemon.h"

static const char *account_of(void *userdata, const char *class_name, const char *workload)
{
    struct corrald *d = userdata;

    return corral_account(d->have_set ? &d->set : NULL, workload);
}

/* This thread's CPU time: what a pass costs, whatever else the machine does. */
static uint64_t cpu_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Tells once what the sampler could not open or read for want of fds. */
static void report_fds(struct corrald *d)
{
    struct acct_sampler_stats st;

    acct_sampler_stats(d->sampler, &st);
    if (st.unopened != d->last_unopened && st.unopened > 0)
        corrald_log(&d->log, LOG_WARNING, NULL,
                    "out of file descriptors (raise LimitNOFILE=): %zu group directories could "
                    "not be opened; %zu groups under them are sampled as they were known, new "
                    "groups there are not sampled yet",
                    st.unopened, st.carried);
    if (st.unsampled != d->last_unsampled && st.unsampled > 0)
        corrald_log(&d->log, LOG_WARNING, NULL,
                    "out of file descriptors: %zu of %zu groups could not be read this pass "
                    "(their usage is in their next sample)",
                    st.unsampled, st.groups);
    d->last_unopened = st.unopened;
    d->last_unsampled = st.unsampled;
}

/* Walks the tree when it changed or has not been walked for a while: true if it did. */
static bool maybe_scan(struct corrald *d)
{
    struct cg_err e = {0};
    bool scanned = false;
    int r;

    if (d->tree_dirty || d->passes == 1 || ++d->passes_since_scan >= CORRALD_RESCAN_PASSES) {
        r = acct_sampler_scan(d->sampler, &e);
        if (r < 0)
            corrald_log_err(&d->log, LOG_ERR, "cannot walk the groups (sampling the ones known)",
                            &e, r);
        else
            scanned = true;
        d->passes_since_scan = 0;
        d->tree_dirty = false;
    }
    return scanned;
}

static void say_ready(struct corrald *d)
{
    size_t n = acct_sampler_count(d->sampler);

    d->ready = true;
    corrald_log(&d->log, LOG_INFO, NULL, "ready: %zu groups under %s, every %.1f s, into %s", n,
                d->ctx->root_arg, (double)d->interval_usec / 1e6, d->o.p.ledger);
    (void)sd_notifyf(0, "READY=1\nSTATUS=sampling %zu groups every %.1f s", n,
                     (double)d->interval_usec / 1e6);
}

static void pass(struct corrald *d)
{
    size_t rows = 0;
    bool scanned;
    uint64_t t_start = cpu_usec(), t_read, t_store, t_sync;
    int r;

    d->passes++;
    d->insts.pass = d->passes;
    d->ledger_busy = false;
    corrald_ledger_open(d);
    corrald_watch_policy(d);
    scanned = maybe_scan(d);
    t_read = cpu_usec();
    r = acct_sampler_pass(d->sampler, ACCT_PASS_ROWS | (d->stopping ? ACCT_PASS_ALL : 0), &rows);
    if (r < 0)
        corrald_log_err(&d->log, LOG_ERR, "cannot select the rows of this pass (out of memory)",
                        NULL, r);
    report_fds(d);
    if (scanned && !corrald_watch_tree(&d->watches, d->sampler))
        d->tree_dirty = true;
    t_store = cpu_usec();
    r = corrald_store_rows(d, rows);
    t_sync = cpu_usec();
    corrald_insts_sync(&d->insts);
    corrald_store_finals(d);
    if (d->log.verbose) {
        struct acct_sampler_stats st;
        acct_sampler_stats(d->sampler, &st);
        corrald_log(&d->log, LOG_DEBUG, NULL,
                    "pass %llu: %zu groups, %zu files read, %zu rows; CPU us: walk %llu, read "
                    "%llu, ledger %llu, instances %llu",
                    (unsigned long long)d->passes, acct_sampler_count(d->sampler), st.reads, rows,
                    (unsigned long long)(t_read - t_start), (unsigned long long)(t_store - t_read),
                    (unsigned long long)(t_sync - t_store),
                    (unsigned long long)(cpu_usec() - t_sync));
    }
    if (r >= 0 && !d->ready)
        say_ready(d);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct corrald *d = userdata;
    uint64_t now = 0;

    pass(d);
    (void)sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
    /* keep the phase: the next pass is one interval after this one was due */
    usec += d->interval_usec;
    if (usec <= now)
        usec = now + d->interval_usec;
    (void)sd_event_source_set_time(s, usec);
    return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* What one inotify event means, acted on. */
static void dispatch(struct corrald *d, const struct corrald_event *ev)
{
    if (ev->what & CORRALD_EV_OVERFLOW)
        corrald_log(&d->log, LOG_WARNING, NULL,
                    "inotify queue overflow: walking the tree again at the next pass");
    if (ev->what & CORRALD_EV_TREE)
        d->tree_dirty = true;
    if (ev->what & CORRALD_EV_RELOAD)
        corrald_schedule_reload(d);
    if (ev->what & CORRALD_EV_INST_EVENT)
        corrald_insts_event(&d->insts, ev->path);
    if (ev->what & CORRALD_EV_INST_NEW)
        corrald_insts_created(&d->insts, ev->path);
    if (ev->what & CORRALD_EV_INST_GONE)
        corrald_insts_gone(&d->insts, ev->path);
    corrald_store_finals(d);
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
            const struct inotify_event *ie = (const struct inotify_event *)p;
            struct corrald_event ev;
            corrald_watch_decode(&d->watches, ie, &ev);
            if (ev.what)
                dispatch(d, &ev);
            p += sizeof(*ie) + ie->len;
        }
    }
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
    struct corrald *d = userdata;
    size_t left;

    (void)sd_notify(0, "STOPPING=1");
    corrald_log(&d->log, LOG_INFO, NULL, "signal %u: taking a last sample, then stopping",
                si->ssi_signo);
    d->stopping = true;
    /* The last pass may wait for a writer that holds the ledger (the busy timeout). */
    acct_ledger_close(d->ledger);
    d->ledger = NULL;
    pass(d);
    /* pending finals would wait for a grace period that will not come */
    corrald_insts_flush(&d->insts);
    corrald_store_finals(d);
    left = corrald_buffer_samples(&d->buf);
    if (left > 0)
        corrald_log(&d->log, LOG_ERR, NULL,
                    "stopping with %zu records the ledger did not take: they are lost", left);
    return sd_event_exit(d->ev, left > 0 ? EXIT_SYSTEM : EXIT_OK);
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
    struct corrald *d = userdata;

    (void)sd_notify(0, "RELOADING=1");
    corrald_log(&d->log, LOG_INFO, NULL, "SIGHUP: reloading corral.conf and the policies");
    /* the ledger file may have been replaced (restored, moved) */
    if (d->buf.n == 0) {
        acct_ledger_close(d->ledger);
        d->ledger = NULL;
        corrald_ledger_open(d);
    }
    (void)corrald_reload(d, "SIGHUP");
    (void)sd_notify(0, "READY=1");
    return 0;
}

/* The sampler keeps up to ~7 (v2) to ~10 (v1) files open per group, within the limit
 * (sample.h: beyond it, groups are read by path). */
static void raise_nofile(struct corrald *d)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        corrald_log(&d->log, LOG_DEBUG, NULL, "RLIMIT_NOFILE %llu: room for about %llu groups",
                    (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_cur / 10);
}

static int setup_signals(struct corrald *d)
{
    sigset_t ss;
    uint64_t wd_usec = 0;
    int r;

    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
        return -errno;
    (void)signal(SIGPIPE, SIG_IGN);
    if ((r = sd_event_add_signal(d->ev, &d->sigterm, SIGTERM, on_stop, d)) < 0 ||
        (r = sd_event_add_signal(d->ev, &d->sigint, SIGINT, on_stop, d)) < 0 ||
        (r = sd_event_add_signal(d->ev, NULL, SIGHUP, on_hup, d)) < 0)
        return r;
    /* A stop goes before a pending pass or reload (each is bounded, corrald(8)). */
    (void)sd_event_source_set_priority(d->sigterm, SD_EVENT_PRIORITY_IMPORTANT);
    (void)sd_event_source_set_priority(d->sigint, SD_EVENT_PRIORITY_IMPORTANT);
    if (sd_watchdog_enabled(false, &wd_usec) > 0) {
        r = sd_event_set_watchdog(d->ev, true);
        if (r < 0)
            return r;
        corrald_log(&d->log, LOG_INFO, NULL, "watchdog every %.1f s", (double)wd_usec / 2e6);
    }
    return 0;
}

static int setup(struct corrald *d)
{
    struct cg_err e = {0};
    int r;

    raise_nofile(d);
    r = corral_ctx_open(&d->o.p, &d->ctx, &e);
    if (r < 0) {
        corrald_log_err(&d->log, LOG_ERR, "cannot use the cgroup hierarchy", &e, r);
        return r;
    }
    r = corrald_lock_root(d);
    if (r < 0)
        return r;
    r = pol_config_builtin(&d->cfg);
    if (r < 0)
        return r;
    d->interval_usec = d->cfg.interval_usec;
    r = sd_event_new(&d->ev);
    if (r < 0)
        return r;
    r = setup_signals(d);
    if (r < 0)
        return r;
    r = corrald_watch_init(&d->watches, d->ctx, d->o.p.policy_dir);
    if (r < 0)
        return r;
    r = sd_event_add_io(d->ev, &d->inotify_src, d->watches.ifd, EPOLLIN, on_inotify, d);
    if (r < 0)
        return r;
    corrald_watch_policy(d);
    r = acct_sampler_new(d->ctx, account_of, d, &d->sampler);
    if (r < 0)
        return r;
    d->insts = (struct corrald_insts){.ctx = d->ctx, .sampler = d->sampler, .watches = &d->watches};
    corrald_buffer_init(&d->buf, d->o.buffer_max);
    corrald_ledger_open(d);
    (void)corrald_reload(d, "start");
    /* the first pass at once: READY=1 follows the first sample */
    return sd_event_add_time_relative(d->ev, &d->timer, CLOCK_MONOTONIC, 0, 10000, on_timer, d);
}

static void teardown(struct corrald *d)
{
    d->timer = sd_event_source_unref(d->timer);
    d->sigterm = sd_event_source_unref(d->sigterm);
    d->sigint = sd_event_source_unref(d->sigint);
    d->inotify_src = sd_event_source_unref(d->inotify_src);
    d->debounce = sd_event_source_unref(d->debounce);
    corrald_insts_free(&d->insts);
    corrald_watch_done(&d->watches);
    corrald_buffer_done(&d->buf);
    acct_sampler_free(d->sampler);
    free(d->batch);
    acct_ledger_close(d->ledger);
    pol_set_free(&d->set);
    pol_config_free(&d->cfg);
    cg_lock_release(d->lock);
    cg_ctx_free(d->ctx);
    d->ev = sd_event_unref(d->ev);
}

int corrald_run(const struct corrald_opts *o)
{
    struct corrald d = {.o = *o, .watches = {.ifd = -1, .policy_wd = -1}};
    int r;

    corrald_log_init(&d.log, o->foreground, o->verbose);
    r = setup(&d);
    if (r >= 0)
        r = sd_event_loop(d.ev);
    else
        corrald_log_err(&d.log, LOG_ERR, "cannot start", NULL, r);
    teardown(&d);
    return r < 0 ? corral_exit_code(r) == EXIT_INVALID ? EXIT_SYSTEM : corral_exit_code(r) : r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The loop: a timer takes one sampling pass per interval; SIGTERM/SIGINT take a last one
 * and stop; SIGHUP reloads corral.conf and the policies and reopens the ledger. The
 * watchdog (WATCHDOG_USEC, from WatchdogSec=) is fed by sd-event itself.
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
#include <systemd/sd-daemon.h>

#include "cli/cli.h"
#include "cli/corrald.h"
#include "core/lock.h"
#include "core/txn.h"
#include "policy/apply.h"

const char *corrald_account(void *userdata, const char *class_name, const char *workload)
{
    struct corrald *d = userdata;
    const struct pol_policy *p = d->have_set ? pol_set_find(&d->set, workload) : NULL;

    return p && p->account[0] ? p->account : NULL;
}

static void log_err(struct corrald *d, int prio, const char *what, const struct cg_err *e, int r)
{
    char buf[1024];
    struct cg_err tmp = {.error = r};

    corrald_log(&d->log, prio,
                e && e->group[0] ? &(struct corrald_fields){.group = e->group} : NULL, "%s: %s",
                what, cg_err_format(e && e->error ? e : &tmp, buf, sizeof(buf)));
}

static void ledger_open(struct corrald *d)
{
    struct cg_err e = {0};
    int r;

    if (d->ledger)
        return;
    /* A pass never waits for another writer (a lock costs at most ACCT_LEDGER_NOWAIT_MS per
     * pass; the samples stay buffered and go at a later pass); the last one, at SIGTERM,
     * waits as long as any writer does. */
    r = acct_ledger_open(d->o.ledger, d->stopping ? 0 : ACCT_LEDGER_NOWAIT, &d->ledger, &e);
    if (r < 0 && !d->ledger_failing) {
        log_err(d, LOG_ERR, "cannot open the ledger (samples are kept in memory)", &e, r);
        d->ledger_failing = true;
    }
}

static void report_drops(struct corrald *d)
{
    struct corrald_buffer *b = &d->buf;

    if (!b->dropped_samples && !b->dropped_finals)
        return;
    corrald_log(&d->log, LOG_WARNING, NULL,
                "the in-memory buffer is full (%llu bytes): dropped %llu samples and %llu final "
                "records taken between %llu and %llu (ns since the epoch); cumulative counters "
                "carry on in later samples, the memory integral over the gap is interpolated",
                (unsigned long long)b->max_bytes, (unsigned long long)b->dropped_samples,
                (unsigned long long)b->dropped_finals, (unsigned long long)b->dropped_from_ns,
                (unsigned long long)b->dropped_to_ns);
    b->dropped_samples = b->dropped_finals = b->dropped_from_ns = b->dropped_to_ns = 0;
}

int corrald_store(struct corrald *d, const struct acct_sample *smp, size_t n, bool final,
                  uint64_t start_ns)
{
    struct cg_err e = {0};
    int r = -ENOENT;

    if (n == 0 && d->buf.n == 0)
        return d->ledger ? 0 : -ENOENT;
    /* Locked by another writer earlier in this pass: straight to the buffer, so a pass
     * waits for the lock once, not once per batch. */
    if (d->ledger && !d->ledger_busy) {
        size_t w = 0;
        r = 0;
        if (d->buf.n > 0) {
            r = corrald_buffer_flush(&d->buf, d->ledger, &w, &e);
            if (r >= 0)
                corrald_log(&d->log, LOG_NOTICE, NULL,
                            "the ledger is writable again: %zu buffered records written", w);
        }
        if (r >= 0 && n > 0)
            r = final ? acct_record_final(d->ledger, &smp[0].group, &smp[0].usage, start_ns,
                                          smp[0].t_ns, &e)
                      : acct_ledger_write(d->ledger, smp, n, &w, &e);
        if (r >= 0) {
            d->ledger_failing = false;
            d->samples_written += w;
            return 0;
        }
    }
    if (r == -EBUSY)
        d->ledger_busy = true;
    if (!d->ledger_failing && d->ledger && r != -ENOENT)
        log_err(d, LOG_ERR, "cannot write the ledger (keeping samples in memory)", &e, r);
    d->ledger_failing = true;
    if (corrald_buffer_push(&d->buf, smp, n, final, start_ns) < 0)
        corrald_log(&d->log, LOG_ERR, NULL, "out of memory: %zu samples lost", n);
    report_drops(d);
    return r;
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

/* The pass's rows, spelled out and written in batches (one transaction each). */
static int store_rows(struct corrald *d, size_t rows)
{
    int r = 0;

    if (rows == 0)
        return corrald_store(d, NULL, 0, false, 0);
    if (!d->batch) {
        d->batch = malloc(CORRALD_BATCH * sizeof(*d->batch));
        if (!d->batch)
            return -ENOMEM;
    }
    for (size_t from = 0; from < rows;) {
        size_t k = acct_sampler_rows(d->sampler, from, d->batch, CORRALD_BATCH);
        int q = corrald_store(d, d->batch, k, false, 0);
        if (q < 0 && r >= 0)
            r = q;
        from += k;
    }
    return r;
}

static void pass(struct corrald *d)
{
    struct cg_err e = {0};
    size_t rows = 0;
    bool scanned = false;
    uint64_t t_start = cpu_usec(), t_read, t_store, t_sync;
    int r;

    d->passes++;
    d->ledger_busy = false;
    ledger_open(d);
    corrald_watch_policy_dir(d);
    if (d->tree_dirty || d->passes == 1 || ++d->passes_since_scan >= CORRALD_RESCAN_PASSES) {
        r = acct_sampler_scan(d->sampler, &e);
        if (r < 0)
            log_err(d, LOG_ERR, "cannot walk the groups (sampling the ones known)", &e, r);
        else
            scanned = true;
        d->passes_since_scan = 0;
        d->tree_dirty = false;
    }
    t_read = cpu_usec();
    r = acct_sampler_pass(d->sampler, ACCT_PASS_ROWS | (d->stopping ? ACCT_PASS_ALL : 0), &rows);
    if (r < 0)
        log_err(d, LOG_ERR, "cannot select the rows of this pass (out of memory)", NULL, r);
    report_fds(d);
    if (scanned)
        corrald_watch_tree(d);
    t_store = cpu_usec();
    r = store_rows(d, rows);
    t_sync = cpu_usec();
    corrald_instances_sync(d);
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
    if (r >= 0 && !d->ready) {
        size_t n = acct_sampler_count(d->sampler);
        d->ready = true;
        corrald_log(&d->log, LOG_INFO, NULL, "ready: %zu groups under %s, every %.1f s, into %s", n,
                    d->ctx->root_arg, (double)d->interval_usec / 1e6, d->o.ledger);
        (void)sd_notifyf(0, "READY=1\nSTATUS=sampling %zu groups every %.1f s", n,
                         (double)d->interval_usec / 1e6);
    }
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

static void apply_done(struct corrald *d, const struct cg_txn *t, const struct pol_set *set,
                       const char *why)
{
    unsigned mk = 0, set_n = 0, rm = 0;

    for (size_t i = 0; i < t->n; i++) {
        mk += t->e[i].kind == CG_TXN_MKDIR;
        set_n += t->e[i].kind == CG_TXN_WRITE;
        rm += t->e[i].kind == CG_TXN_RMDIR;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].kind == CG_TXN_WRITE)
            corrald_log(&d->log, LOG_DEBUG, &(struct corrald_fields){.group = t->e[i].group},
                        "%s: %s -> %s", t->e[i].file, t->e[i].old_value, t->e[i].new_value);
    corrald_log(&d->log, t->n ? LOG_NOTICE : LOG_INFO, NULL,
                "policies applied (%s): %zu workloads, %u groups created, %u values set, %u "
                "groups removed",
                why, set->n, mk, set_n, rm);
}

int corrald_reload(struct corrald *d, const char *why)
{
    struct pol_config cfg = {0};
    struct pol_set set = {0};
    struct pol_diags diags = {0}, skipped = {0};
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    int r;

    corrald_watch_policy_dir(d);
    /* What is not a regular file in the directory is skipped (and said), not waited on. */
    diags.skipped = &skipped;
    r = pol_load_all(d->o.config, d->o.config_given, d->o.policy_dir, NULL, 0, &cfg, &set, &diags);
    for (size_t i = 0; i < skipped.n; i++) {
        char buf[1024];
        corrald_log(&d->log, LOG_WARNING, NULL, "skipped: %s",
                    pol_diag_format(&skipped.d[i], buf, sizeof(buf)));
    }
    if (r >= 0 && diags.n > 0) {
        for (size_t i = 0; i < diags.n; i++) {
            char buf[1024];
            corrald_log(&d->log, LOG_ERR, NULL, "%s",
                        pol_diag_format(&diags.d[i], buf, sizeof(buf)));
        }
        corrald_log(&d->log, LOG_ERR, NULL,
                    "%zu problem%s in corral.conf or the policies (%s): nothing was applied, "
                    "the running state is unchanged",
                    diags.n, diags.n == 1 ? "" : "s", why);
        r = -EINVAL;
        goto out;
    }
    if (r < 0) {
        log_err(d, LOG_ERR, "cannot load the policies", NULL, r);
        goto out;
    }
    /* A prune removes empty instances of workloads no policy names: read them first. */
    corrald_instances_sweep(d);
    cg_txn_init(&t, false);
    r = pol_apply(d->ctx, &cfg, &set, true, &t, &res, &e);
    for (size_t i = 0; i < res.n_warnings; i++)
        corrald_log(&d->log, LOG_WARNING, &(struct corrald_fields){.group = res.warnings[i].group},
                    "%s: %s: %s", res.warnings[i].group, res.warnings[i].key, res.warnings[i].msg);
    if (r < 0) {
        log_err(d, LOG_ERR, "apply failed; every change was rolled back", &e, r);
        cg_txn_done(&t);
        goto out;
    }
    apply_done(d, &t, &set, why);
    for (size_t i = 0; i < res.n_busy; i++)
        corrald_log(&d->log, LOG_WARNING, &(struct corrald_fields){.group = res.busy[i]},
                    "%s: no policy names it, but processes live in it: kept", res.busy[i]);
    cg_txn_done(&t);
    pol_set_free(&d->set);
    pol_config_free(&d->cfg);
    d->set = set;
    d->cfg = cfg;
    set = (struct pol_set){0};
    cfg = (struct pol_config){0};
    d->have_set = true;
    d->tree_dirty = true;
    if (d->cfg.interval_usec && d->cfg.interval_usec != d->interval_usec) {
        uint64_t now = 0;
        d->interval_usec = d->cfg.interval_usec;
        corrald_log(&d->log, LOG_INFO, NULL, "sampling every %.1f s",
                    (double)d->interval_usec / 1e6);
        if (d->timer && sd_event_now(d->ev, CLOCK_MONOTONIC, &now) >= 0)
            (void)sd_event_source_set_time(d->timer, now + d->interval_usec);
    }
out:
    pol_apply_result_free(&res);
    pol_set_free(&set);
    pol_config_free(&cfg);
    pol_diags_free(&diags);
    pol_diags_free(&skipped);
    return r;
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
    for (size_t i = 0; i < d->n_inst; i++)
        if (d->inst[i].snap) {
            (void)corrald_store(d, d->inst[i].snap, 1, true, 0);
            free(d->inst[i].snap);
            d->inst[i].snap = NULL;
        }
    left = 0;
    for (size_t i = 0; i < d->buf.n; i++)
        left += d->buf.items[(d->buf.head + i) % d->buf.cap].n;
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
        ledger_open(d);
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

static int setup(struct corrald *d)
{
    struct cg_err e = {0};
    sigset_t ss;
    uint64_t wd_usec = 0;
    int r;

    raise_nofile(d);
    r = cg_ctx_new(d->o.root, &d->ctx, &e);
    if (r < 0) {
        log_err(d, LOG_ERR, "cannot use the cgroup hierarchy", &e, r);
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
    r = corrald_watch_init(d);
    if (r < 0)
        return r;
    r = acct_sampler_new(d->ctx, corrald_account, d, &d->sampler);
    if (r < 0)
        return r;
    corrald_buffer_init(&d->buf, d->o.buffer_max);
    ledger_open(d);
    (void)corrald_reload(d, "start");
    /* the first pass at once: READY=1 follows the first sample */
    return sd_event_add_time_relative(d->ev, &d->timer, CLOCK_MONOTONIC, 0, 10000, on_timer, d);
}

int corrald_run(const struct corrald_opts *o)
{
    struct corrald d = {.o = *o, .ifd = -1, .policy_wd = -1};
    int r;

    corrald_log_init(&d.log, o->foreground, o->verbose);
    r = setup(&d);
    if (r >= 0)
        r = sd_event_loop(d.ev);
    else
        log_err(&d, LOG_ERR, "cannot start", NULL, r);
    d.timer = sd_event_source_unref(d.timer);
    d.sigterm = sd_event_source_unref(d.sigterm);
    d.sigint = sd_event_source_unref(d.sigint);
    corrald_watch_done(&d);
    corrald_instances_free(&d);
    corrald_buffer_done(&d.buf);
    acct_sampler_free(d.sampler);
    free(d.batch);
    acct_ledger_close(d.ledger);
    pol_set_free(&d.set);
    pol_config_free(&d.cfg);
    cg_lock_release(d.lock);
    cg_ctx_free(d.ctx);
    d.ev = sd_event_unref(d.ev);
    return r < 0 ? cli_exit_code(r) == EXIT_INVALID ? EXIT_SYSTEM : cli_exit_code(r) : r;
}

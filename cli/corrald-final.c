/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Final usage of instances that empty.
 *
 * `corral run` and `corral remove` record an instance's final usage themselves, just
 * before the rmdir. corrald covers the instances they did not see through: a `corral run`
 * killed with SIGKILL, a group emptied and left behind, a group that a re-apply prunes.
 *
 * When is an instance empty? v2: cgroup.events "populated 0", signalled through inotify;
 * v1: pids.current 0 at the sampling pass (confirmed through cgroup.procs), so on v1 an
 * instance that is born and dies between two passes is only seen if it is still there.
 * An empty instance that never ran anything (its CPU counter at zero and never seen
 * populated) is a `corral run` between mkdir and placement: it is left alone.
 *
 * Not double counting: the usage is read at once (before corral removes the group), but
 * written only a grace period later, so that corral run's own final, which knows when
 * the instance started, goes first. Whichever comes second is ignored by the ledger (one
 * final per group generation; samples after a final are ignored too).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "cli/corrald.h"

static uint64_t mono_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static size_t inst_pos(const struct corrald *d, const char *path)
{
    size_t lo = 0, hi = d->n_inst;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(d->inst[mid].path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct corrald_inst *inst_find(struct corrald *d, const char *path)
{
    size_t i = inst_pos(d, path);
    return i < d->n_inst && strcmp(d->inst[i].path, path) == 0 ? &d->inst[i] : NULL;
}

static struct corrald_inst *inst_add(struct corrald *d, const char *path)
{
    size_t i = inst_pos(d, path);

    if (i < d->n_inst && strcmp(d->inst[i].path, path) == 0)
        return &d->inst[i];
    if (d->n_inst == d->cap_inst) {
        size_t cap = d->cap_inst ? d->cap_inst * 2 : 64;
        struct corrald_inst *v = realloc(d->inst, cap * sizeof(*v));
        if (!v)
            return NULL;
        d->inst = v;
        d->cap_inst = cap;
    }
    memmove(&d->inst[i + 1], &d->inst[i], (d->n_inst - i) * sizeof(*d->inst));
    d->inst[i] = (struct corrald_inst){
        .wd = -1, .pass = d->passes, .seen_ns = acct_now_ns(), .path = strdup(path)};
    if (!d->inst[i].path) {
        memmove(&d->inst[i], &d->inst[i + 1], (d->n_inst - i) * sizeof(*d->inst));
        return NULL;
    }
    d->n_inst++;
    d->inst[i].wd = corrald_watch_events(d, path);
    return &d->inst[i];
}

static void inst_clear(struct corrald *d, struct corrald_inst *x)
{
    corrald_unwatch(d, x->wd);
    x->wd = -1;
    free(x->snap);
    x->snap = NULL;
}

static void inst_drop(struct corrald *d, size_t i)
{
    inst_clear(d, &d->inst[i]);
    free(d->inst[i].path);
    memmove(&d->inst[i], &d->inst[i + 1], (d->n_inst - i - 1) * sizeof(*d->inst));
    d->n_inst--;
}

static void commit(struct corrald *d, struct corrald_inst *x)
{
    const struct acct_group *g = &x->snap->group;
    struct corrald_fields f = {g->path, g->workload, g->account[0] ? g->account : g->workload};
    struct acct_sample held;

    /* A row the sampler held back goes first (sample.h: the hold rule). */
    if (acct_sampler_take_held(d->sampler, g->path, &held) > 0 &&
        held.group.generation == g->generation && held.t_ns < x->snap->t_ns)
        (void)corrald_store(d, &held, 1, false, 0);

    if (corrald_store(d, x->snap, 1, true, 0) >= 0)
        corrald_log(&d->log, LOG_INFO, &f, "final usage of %s recorded (%.3f s CPU)", g->path,
                    x->snap->usage.cpu_usage_ns == CTL_UNSET
                        ? 0.0
                        : (double)x->snap->usage.cpu_usage_ns / 1e9);
    x->final_done = true;
    free(x->snap);
    x->snap = NULL;
}

/* Reads x's usage if it is empty and has run something; keeps it as the pending final. */
static void snapshot(struct corrald *d, struct corrald_inst *x)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct acct_sample s = {0};
    const char *account;
    int r;

    if (x->final_done || x->snap)
        return;
    if (cg_group_open(d->ctx, x->path, false, &g, NULL, NULL) < 0)
        return; /* gone: corral removed it, and recorded it */
    r = cg_group_populated(g);
    if (r != 0) {
        x->seen_populated |= r > 0;
        return;
    }
    if (acct_read_usage(g, &s.usage) < 0)
        return;
    if (!x->seen_populated && (s.usage.cpu_usage_ns == CTL_UNSET || s.usage.cpu_usage_ns == 0))
        return; /* nothing ever ran: a corral run that has not placed its child yet */
    if (acct_group_from_path(x->path, &s.group) < 0)
        return;
    account = corrald_account(d, s.group.class_name, s.group.workload);
    if (acct_group_from_cg(g, account, &s.group) < 0)
        return;
    if (x->generation && s.group.generation != x->generation) {
        /* re-created under the same name: a new instance, seen from scratch */
        x->generation = s.group.generation;
        x->seen_populated = false;
        x->final_done = false;
        x->seen_ns = acct_now_ns();
    }
    s.t_ns = acct_now_ns();
    /* ledger.h: the start of an instance whose first row this final is; seen empty by
     * corrald at least since then (the sampler's rows carry the estimate otherwise) */
    s.group.start_ns = x->seen_ns < s.t_ns ? x->seen_ns : s.t_ns;
    x->snap = malloc(sizeof(s));
    if (!x->snap)
        return;
    *x->snap = s;
    x->snap_usec = mono_usec();
}

void corrald_instance_created(struct corrald *d, const char *path)
{
    struct corrald_inst *x = inst_add(d, path);

    if (x && x->wd >= 0)
        corrald_instance_event(d, path); /* it may have filled (or emptied) already */
}

void corrald_instance_event(struct corrald *d, const char *path)
{
    struct corrald_inst *x = inst_find(d, path);
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    int r;

    if (!x || x->final_done)
        return;
    if (cg_group_open(d->ctx, path, false, &g, NULL, NULL) < 0)
        return;
    r = cg_group_populated(g);
    if (r > 0) {
        x->seen_populated = true;
        free(x->snap); /* refilled: not final after all */
        x->snap = NULL;
    } else if (r == 0) {
        snapshot(d, x);
    }
}

void corrald_instance_gone(struct corrald *d, const char *path)
{
    struct corrald_inst *x = inst_find(d, path);

    if (!x)
        return;
    /* removed: corral's own final (if it made one) is in already, so ours is ignored */
    if (x->snap)
        commit(d, x);
    inst_drop(d, (size_t)(x - d->inst));
}

/* The sampler's table and d->inst are both sorted by path: one merge, no lookups. */
void corrald_instances_sync(struct corrald *d)
{
    size_t n = acct_sampler_count(d->sampler), j = 0;
    uint64_t now = mono_usec();

    for (size_t i = 0; i < n; i++) {
        struct acct_sampler_item it;
        const struct ctl_usage *u;
        struct corrald_inst *x;
        int c = 1;

        acct_sampler_item(d->sampler, i, &it);
        if (it.kind != ACCT_INSTANCE || !it.read)
            continue;
        u = it.usage;
        while (j < d->n_inst && (c = strcmp(d->inst[j].path, it.path)) < 0)
            j++;
        if (j < d->n_inst && c == 0) {
            x = &d->inst[j];
        } else {
            x = inst_add(d, it.path);
            if (!x)
                continue;
            j = (size_t)(x - d->inst);
        }
        if (x->generation != it.generation) {
            if (x->generation) {
                inst_clear(d, x);
                x->wd = corrald_watch_events(d, x->path);
            }
            x->generation = it.generation;
            x->seen_populated = x->final_done = false;
        }
        x->pass = d->passes;
        if (x->final_done)
            continue;
        if (u->pids_current != CTL_UNSET && u->pids_current > 0) {
            x->seen_populated = true;
            free(x->snap);
            x->snap = NULL;
            continue;
        }
        if (x->snap) {
            if (now - x->snap_usec >= CORRALD_GRACE_USEC)
                commit(d, x);
            continue;
        }
        if (x->seen_populated || (u->cpu_usage_ns != CTL_UNSET && u->cpu_usage_ns > 0))
            snapshot(d, x);
    }
    /* Instances the pass did not see are gone (the pass walked the tree or read through
     * every known group); those it could not read (out of fds) are kept. */
    for (size_t i = d->n_inst; i-- > 0;) {
        struct corrald_inst *x = &d->inst[i];
        struct acct_sampler_stats st;
        if (x->pass == d->passes)
            continue;
        acct_sampler_stats(d->sampler, &st);
        if (st.unsampled > 0)
            continue;
        if (x->snap)
            commit(d, x);
        inst_drop(d, i);
    }
}

void corrald_instances_sweep(struct corrald *d)
{
    for (size_t i = 0; i < d->n_inst; i++) {
        struct corrald_inst *x = &d->inst[i];
        if (x->final_done)
            continue;
        snapshot(d, x);
        if (x->snap)
            commit(d, x);
    }
}

void corrald_instances_free(struct corrald *d)
{
    for (size_t i = 0; i < d->n_inst; i++) {
        inst_clear(d, &d->inst[i]);
        free(d->inst[i].path);
    }
    free(d->inst);
    d->inst = NULL;
    d->n_inst = d->cap_inst = 0;
}

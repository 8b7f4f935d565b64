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
 *
 * This file decides; the finals it finds are queued (struct corrald_final) for the loop
 * to write.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/macro.h"
#include "daemon/daemon.h"
#include "daemon/final.h"

static uint64_t mono_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static size_t inst_pos(const struct corrald_insts *s, const char *path)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(s->v[mid].path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct corrald_inst *inst_find(struct corrald_insts *s, const char *path)
{
    size_t i = inst_pos(s, path);
    return i < s->n && strcmp(s->v[i].path, path) == 0 ? &s->v[i] : NULL;
}

static struct corrald_inst *inst_add(struct corrald_insts *s, const char *path)
{
    size_t i = inst_pos(s, path);

    if (i < s->n && strcmp(s->v[i].path, path) == 0)
        return &s->v[i];
    if (GROW(s->v, s->cap, s->n, 64) < 0)
        return NULL;
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->v[i] = (struct corrald_inst){
        .wd = -1, .pass = s->pass, .seen_ns = acct_now_ns(), .path = strdup(path)};
    if (!s->v[i].path) {
        memmove(&s->v[i], &s->v[i + 1], (s->n - i) * sizeof(*s->v));
        return NULL;
    }
    s->n++;
    s->v[i].wd = corrald_watch_events(s->watches, path);
    return &s->v[i];
}

static void inst_clear(struct corrald_insts *s, struct corrald_inst *x)
{
    corrald_unwatch(s->watches, x->wd);
    x->wd = -1;
    free(x->snap);
    x->snap = NULL;
}

static void inst_drop(struct corrald_insts *s, size_t i)
{
    inst_clear(s, &s->v[i]);
    free(s->v[i].path);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
}

/* Queues x's pending final for the loop; with_held: the row the sampler held back goes
 * first (sample.h: the hold rule). */
static void commit(struct corrald_insts *s, struct corrald_inst *x, bool with_held)
{
    const struct acct_group *g = &x->snap->group;
    struct corrald_final f = {.final = *x->snap};

    if (with_held && acct_sampler_take_held(s->sampler, g->path, &f.held) > 0 &&
        f.held.group.generation == g->generation && f.held.t_ns < x->snap->t_ns)
        f.have_held = true;
    if (s->n_due == s->cap_due) {
        size_t cap = s->cap_due ? s->cap_due * 2 : 16;
        struct corrald_final *v = realloc(s->due, cap * sizeof(*v));
        if (!v)
            return; /* kept pending: tried again at the next pass */
        s->due = v;
        s->cap_due = cap;
    }
    s->due[s->n_due++] = f;
    x->final_done = true;
    free(x->snap);
    x->snap = NULL;
}

/* A group that was re-created under the same name: a new instance, seen from scratch. */
static void renew(struct corrald_inst *x, uint64_t generation)
{
    x->generation = generation;
    x->seen_populated = false;
    x->final_done = false;
    x->seen_ns = acct_now_ns();
}

/* Reads x's usage if it is empty and has run something; keeps it as the pending final. */
static void snapshot(struct corrald_insts *s, struct corrald_inst *x)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct corral_final f;
    struct acct_sample smp;
    int r;

    if (x->final_done || x->snap)
        return;
    if (cg_group_open(s->ctx, x->path, false, &g, NULL, NULL) < 0)
        return; /* gone: corral removed it, and recorded it */
    r = cg_group_populated(g);
    if (r != 0) {
        x->seen_populated |= r > 0;
        return;
    }
    if (corral_final_read(g, NULL, s->set, &f) < 0)
        return;
    if (!x->seen_populated && (f.usage.cpu_usage_ns == CTL_UNSET || f.usage.cpu_usage_ns == 0))
        return; /* nothing ever ran: a corral run that has not placed its child yet */
    if (x->generation && f.group.generation != x->generation)
        renew(x, f.group.generation);
    smp = (struct acct_sample){.group = f.group, .usage = f.usage, .t_ns = f.end.end_ns};
    /* ledger.h: the start of an instance whose first row this final is; seen empty by
     * corrald at least since then (the sampler's rows carry the estimate otherwise) */
    smp.group.start_ns = x->seen_ns < smp.t_ns ? x->seen_ns : smp.t_ns;
    x->snap = malloc(sizeof(smp));
    if (!x->snap)
        return;
    *x->snap = smp;
    x->snap_usec = mono_usec();
}

void corrald_insts_created(struct corrald_insts *s, const char *path)
{
    struct corrald_inst *x = inst_add(s, path);

    if (x && x->wd >= 0)
        corrald_insts_event(s, path); /* it may have filled (or emptied) already */
}

void corrald_insts_event(struct corrald_insts *s, const char *path)
{
    struct corrald_inst *x = inst_find(s, path);
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    int r;

    if (!x || x->final_done)
        return;
    if (cg_group_open(s->ctx, path, false, &g, NULL, NULL) < 0)
        return;
    r = cg_group_populated(g);
    if (r > 0) {
        x->seen_populated = true;
        free(x->snap); /* refilled: not final after all */
        x->snap = NULL;
    } else if (r == 0) {
        snapshot(s, x);
    }
}

void corrald_insts_gone(struct corrald_insts *s, const char *path)
{
    struct corrald_inst *x = inst_find(s, path);

    if (!x)
        return;
    /* removed: corral's own final (if it made one) is in already, so ours is ignored */
    if (x->snap)
        commit(s, x, true);
    inst_drop(s, (size_t)(x - s->v));
}

/* One instance the pass read. */
static void sync_one(struct corrald_insts *s, struct corrald_inst *x,
                     const struct acct_sampler_item *it, uint64_t now)
{
    const struct ctl_usage *u = it->usage;

    if (x->generation != it->generation) {
        if (x->generation) {
            inst_clear(s, x);
            x->wd = corrald_watch_events(s->watches, x->path);
        }
        x->generation = it->generation;
        x->seen_populated = x->final_done = false;
    }
    x->pass = s->pass;
    if (x->final_done)
        return;
    if (u->pids_current != CTL_UNSET && u->pids_current > 0) {
        x->seen_populated = true;
        free(x->snap);
        x->snap = NULL;
        return;
    }
    if (x->snap) {
        if (now - x->snap_usec >= CORRALD_GRACE_USEC)
            commit(s, x, true);
        return;
    }
    if (x->seen_populated || (u->cpu_usage_ns != CTL_UNSET && u->cpu_usage_ns > 0))
        snapshot(s, x);
}

/* Instances the pass did not see are gone (the pass walked the tree or read through every
 * known group); those it could not read (out of fds) are kept. */
static void drop_unseen(struct corrald_insts *s)
{
    for (size_t i = s->n; i-- > 0;) {
        struct corrald_inst *x = &s->v[i];
        struct acct_sampler_stats st;
        if (x->pass == s->pass)
            continue;
        acct_sampler_stats(s->sampler, &st);
        if (st.unsampled > 0)
            continue;
        if (x->snap)
            commit(s, x, true);
        inst_drop(s, i);
    }
}

/* The sampler's table and s->v are both sorted by path: one merge, no lookups. */
void corrald_insts_sync(struct corrald_insts *s)
{
    size_t n = acct_sampler_count(s->sampler), j = 0;
    uint64_t now = mono_usec();

    for (size_t i = 0; i < n; i++) {
        struct acct_sampler_item it;
        struct corrald_inst *x;
        int c = 1;

        acct_sampler_item(s->sampler, i, &it);
        if (it.kind != ACCT_INSTANCE || !it.read)
            continue;
        while (j < s->n && (c = strcmp(s->v[j].path, it.path)) < 0)
            j++;
        if (j < s->n && c == 0) {
            x = &s->v[j];
        } else {
            x = inst_add(s, it.path);
            if (!x)
                continue;
            j = (size_t)(x - s->v);
        }
        sync_one(s, x, &it, now);
    }
    drop_unseen(s);
}

void corrald_insts_sweep(struct corrald_insts *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct corrald_inst *x = &s->v[i];
        if (x->final_done)
            continue;
        snapshot(s, x);
        if (x->snap)
            commit(s, x, true);
    }
}

void corrald_insts_flush(struct corrald_insts *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].snap)
            commit(s, &s->v[i], false);
}

void corrald_insts_free(struct corrald_insts *s)
{
    for (size_t i = 0; i < s->n; i++) {
        inst_clear(s, &s->v[i]);
        free(s->v[i].path);
    }
    free(s->v);
    free(s->due);
    s->v = NULL;
    s->due = NULL;
    s->n = s->cap = s->n_due = s->cap_due = 0;
}

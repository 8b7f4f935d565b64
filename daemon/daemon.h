/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * corrald's insides. One owner of the state, the loop (loop.c, struct corrald); the
 * modules below it keep their own parts and hand what they found back as values:
 *
 *   loop.c       the sd-event loop: timer, signals, sd_notify, one sampling pass, and
 *                the dispatch of what the watches decoded
 *   reload.c     loading corral.conf and the policies and applying them
 *   store.c      the ledger: opening it, writing rows and finals, or buffering them
 *   buffer.c     what the ledger could not take yet, in time order, bounded
 *   watch.c      inotify (policy dir, the group tree, v2 cgroup.events), decoded into
 *                struct corrald_event values
 *   instances.c  noticing empty instances; their finals come out as struct corrald_final
 *   lock.c       the root's one-writer lock
 *   log.c        the journal (structured fields) or stderr
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <systemd/sd-event.h>

#include "accounting/ledger.h"
#include "accounting/sample.h"
#include "core/cgroup.h"
#include "daemon/corrald.h"
#include "policy/policy.h"

#define CORRALD_RESCAN_PASSES 60      /* full tree walk at least this often */
#define CORRALD_DEBOUNCE_USEC 200000  /* policy edits settle before a re-apply */
#define CORRALD_GRACE_USEC    1000000 /* corral run's own final goes first */
#define CORRALD_BATCH         512     /* rows spelled out and written per ledger transaction */

/* ---- logging (log.c) ---- */

struct corrald_log {
    bool journal;
    bool verbose;
};

/* Structured fields of a message; any may be NULL. */
struct corrald_fields {
    const char *group, *workload, *account;
};

void corrald_log_init(struct corrald_log *l, bool foreground, bool verbose);
/* prio is a syslog priority (LOG_ERR ... LOG_DEBUG). */
void corrald_log(const struct corrald_log *l, int prio, const struct corrald_fields *f,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "what: <the error>", with the error's group as a field. */
void corrald_log_err(const struct corrald_log *l, int prio, const char *what,
                     const struct cg_err *e, int r);

/* ---- the buffer (buffer.c) ---- */

struct corrald_item {
    bool final;
    size_t n;                /* samples (1 for a final) */
    struct acct_sample *smp; /* malloc'ed copy */
    uint64_t start_ns;       /* final only */
};

struct corrald_buffer {
    uint64_t max_bytes, bytes;
    size_t head, n, cap; /* ring of items, oldest at head */
    struct corrald_item *items;
    /* What was dropped beyond the bound since the last report. */
    uint64_t dropped_samples, dropped_finals, dropped_from_ns, dropped_to_ns;
};

void corrald_buffer_init(struct corrald_buffer *b, uint64_t max_bytes);
void corrald_buffer_done(struct corrald_buffer *b);
/* Queues a copy; drops the oldest sample passes (then finals) beyond the bound. */
int corrald_buffer_push(struct corrald_buffer *b, const struct acct_sample *smp, size_t n,
                        bool final, uint64_t start_ns);
/* Writes queued items oldest first, each as one transaction; stops at the first failure
 * (which is returned, the item stays queued). ret_n: samples written. */
int corrald_buffer_flush(struct corrald_buffer *b, struct acct_ledger *l, size_t *ret_n,
                         struct cg_err *e);
/* Samples queued. */
size_t corrald_buffer_samples(const struct corrald_buffer *b);

/* ---- inotify (watch.c) ---- */

struct corrald_watch {
    int wd;
    int kind;   /* enum in watch.c */
    char *path; /* owned */
};

struct corrald_watches {
    const struct cg_ctx *ctx;
    const char *policy_dir;
    int ifd;
    int policy_wd;
    bool policy_dir_lost; /* its watch went: read it again once it is back */
    size_t n, cap;        /* sorted by wd */
    struct corrald_watch *v;
};

/* What one inotify event means to the daemon (bits of what). */
enum {
    CORRALD_EV_RELOAD = 1u << 0,     /* the policy directory changed */
    CORRALD_EV_TREE = 1u << 1,       /* a group appeared or went: walk the tree again */
    CORRALD_EV_OVERFLOW = 1u << 2,   /* events were lost */
    CORRALD_EV_INST_EVENT = 1u << 3, /* path's cgroup.events changed (v2) */
    CORRALD_EV_INST_NEW = 1u << 4,   /* instance path appeared */
    CORRALD_EV_INST_GONE = 1u << 5,  /* instance path went */
};

struct corrald_event {
    unsigned what;
    char path[256];
};

int corrald_watch_init(struct corrald_watches *w, const struct cg_ctx *ctx, const char *policy_dir);
void corrald_watch_done(struct corrald_watches *w);
/* (Re)adds the policy dir watch when it is missing: 1 when it came back after it was lost
 * (read the directory again), 0 when nothing changed, < 0 when it cannot be watched. */
int corrald_watch_policy_dir(struct corrald_watches *w);
/* After a scan: watches the root, class and workload dirs (for new and removed groups).
 * Returns false when the root could not be watched (walk again at the next pass). */
bool corrald_watch_tree(struct corrald_watches *w, const struct acct_sampler *s);
/* Watches an instance's cgroup.events (v2); returns the wd or -1. */
int corrald_watch_events(struct corrald_watches *w, const char *path);
void corrald_unwatch(struct corrald_watches *w, int wd);
/* Decodes one event into *ret (what 0: nothing to do). */
void corrald_watch_decode(struct corrald_watches *w, const struct inotify_event *ev,
                          struct corrald_event *ret);

/* ---- instances (instances.c) ---- */

/* One instance group the daemon keeps an eye on until it is gone (~48 bytes + path). */
struct corrald_inst {
    char *path;               /* owned */
    uint64_t generation;      /* 0 until known */
    uint64_t pass;            /* the last pass that saw it */
    struct acct_sample *snap; /* usage read once it was empty, not yet recorded */
    uint64_t snap_usec;       /* CLOCK_MONOTONIC of snap */
    uint64_t seen_ns;         /* when first seen: its start, if its final is its first row */
    int wd;                   /* v2: the watch on its cgroup.events, else -1 */
    bool seen_populated;
    bool final_done;
};

/* A final record due: the row the sampler held back (if any) goes first. */
struct corrald_final {
    bool have_held;
    struct acct_sample held;
    struct acct_sample final;
};

struct corrald_insts {
    struct cg_ctx *ctx;
    struct acct_sampler *sampler;
    struct corrald_watches *watches;
    const struct pol_set *set; /* for Account=; NULL while there is none */
    uint64_t pass;             /* the loop's pass count */
    size_t n, cap;             /* sorted by path */
    struct corrald_inst *v;
    size_t n_due, cap_due; /* finals to write, in order, taken by the loop */
    struct corrald_final *due;
};

/* After a pass: learns new instances, forgets gone ones, finds finals of empty ones. */
void corrald_insts_sync(struct corrald_insts *s);
/* What the watches decoded about an instance. */
void corrald_insts_event(struct corrald_insts *s, const char *path);
void corrald_insts_created(struct corrald_insts *s, const char *path);
void corrald_insts_gone(struct corrald_insts *s, const char *path);
/* The finals of every known instance that is empty now (before a prune). */
void corrald_insts_sweep(struct corrald_insts *s);
/* Every pending final at once (at the stop: the grace period will not come). */
void corrald_insts_flush(struct corrald_insts *s);
void corrald_insts_free(struct corrald_insts *s);

/* ---- the daemon (loop.c, reload.c, store.c, lock.c) ---- */

struct corrald {
    struct corrald_opts o;
    struct corrald_log log;
    sd_event *ev;
    sd_event_source *timer, *debounce, *inotify_src, *sigterm, *sigint;
    struct cg_ctx *ctx;
    struct cg_lock *lock; /* the root's one-writer lock, held for the daemon's life */
    struct acct_sampler *sampler;
    struct acct_ledger *ledger; /* NULL while it cannot be opened */
    struct corrald_buffer buf;

    struct pol_config cfg;
    struct pol_set set;
    bool have_set; /* set is a valid, applied policy set */
    uint64_t interval_usec;

    struct corrald_watches watches;
    bool tree_dirty;
    unsigned passes_since_scan;
    struct corrald_insts insts;

    struct acct_sample *batch;            /* CORRALD_BATCH rows, spelled out for the ledger */
    size_t last_unopened, last_unsampled; /* what was last reported */

    bool ready, ledger_failing, stopping;
    bool ledger_busy; /* this pass found the ledger locked: buffer the rest of it */
    uint64_t passes, samples_written;
};

/* reload.c: loads corral.conf and the policies and applies them (prune: the whole
 * directory). An invalid set is logged FILE:LINE and leaves the running state as it was. */
int corrald_reload(struct corrald *d, const char *why);
/* A re-apply after CORRALD_DEBOUNCE_USEC (later again at each further edit). */
void corrald_schedule_reload(struct corrald *d);
/* (Re)adds the policy dir's watch when it is missing (a re-apply when it came back). */
void corrald_watch_policy(struct corrald *d);

/* store.c */
void corrald_ledger_open(struct corrald *d);
/* Writes samples (after anything still buffered) or buffers them. */
int corrald_store(struct corrald *d, const struct acct_sample *smp, size_t n, bool final,
                  uint64_t start_ns);
/* The pass's rows, spelled out and written in batches (one transaction each). */
int corrald_store_rows(struct corrald *d, size_t rows);
/* Writes the finals the instances found, and says so. */
void corrald_store_finals(struct corrald *d);

/* lock.c: takes the root's lock (waiting up to the lock timeout) and claims the root
 * (core/roots.h); logs why not. */
int corrald_lock_root(struct corrald *d);

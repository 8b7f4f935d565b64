/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * corrald: samples every group into the ledger on the corral.conf interval, records the
 * final usage of instances that empty, and keeps the policy directory applied.
 *
 *   corrald.c        main(): options and environment (the same as corral's)
 *   corrald-loop.c   the sd-event loop: timer, signals, sd_notify, one sampling pass
 *   corrald-buffer.c what the ledger could not take yet, in time order, bounded
 *   corrald-watch.c  inotify: policy dir, the group tree, v2 cgroup.events of instances
 *   corrald-final.c  noticing empty instances and recording their final usage
 *   corrald-log.c    the journal (structured fields) or stderr
 *
 * Everything lives in one struct corrald owned by corrald_run(); nothing is global.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "accounting/ledger.h"
#include "accounting/sample.h"
#include "core/cgroup.h"
#include "policy/policy.h"

#define CORRALD_BUFFER_DEFAULT (64u << 20) /* bytes of samples kept while the ledger is down */
#define CORRALD_RESCAN_PASSES  60          /* full tree walk at least this often */
#define CORRALD_DEBOUNCE_USEC  200000      /* policy edits settle before a re-apply */
#define CORRALD_GRACE_USEC     1000000     /* corral run's own final goes first */

struct corrald_opts {
    const char *root, *config, *policy_dir, *ledger;
    bool config_given;
    bool foreground; /* log to stderr even when the journal is there */
    bool verbose;    /* debug messages too */
    uint64_t buffer_max;
    uint64_t lock_timeout_usec; /* for the root's lock at start */
};

/* ---- logging (corrald-log.c) ---- */

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

/* ---- the buffer (corrald-buffer.c) ---- */

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

/* ---- the daemon ---- */

struct corrald_watch {
    int wd;
    int kind;   /* enum in corrald-watch.c */
    char *path; /* owned */
};

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

#define CORRALD_BATCH 512 /* rows spelled out and written per ledger transaction */

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

    /* inotify: one fd for the policy dir, the tree and the instances' cgroup.events */
    int ifd;
    int policy_wd;
    bool tree_dirty;
    unsigned passes_since_scan;
    size_t n_watch, cap_watch; /* sorted by wd */
    struct corrald_watch *watch;
    size_t n_inst, cap_inst; /* sorted by path */
    struct corrald_inst *inst;

    struct acct_sample *batch;            /* CORRALD_BATCH rows, spelled out for the ledger */
    size_t last_unopened, last_unsampled; /* what was last reported */

    bool ready, ledger_failing, stopping;
    bool ledger_busy;     /* this pass found the ledger locked: buffer the rest of it */
    bool policy_dir_lost; /* the policy dir's watch went: read it again once it is back */
    uint64_t passes, samples_written;
};

int corrald_run(const struct corrald_opts *o);

/* corrald-loop.c */
/* Loads corral.conf and the policies and applies them (prune: the whole directory).
 * An invalid set is logged FILE:LINE and leaves the running state as it was. */
int corrald_reload(struct corrald *d, const char *why);
/* Writes samples (after anything still buffered) or buffers them. */
int corrald_store(struct corrald *d, const struct acct_sample *smp, size_t n, bool final,
                  uint64_t start_ns);
/* The policy's Account= of a workload, or NULL. */
const char *corrald_account(void *userdata, const char *class_name, const char *workload);

/* corrald-lock.c: takes the root's lock (waiting up to o.lock_timeout_usec) and claims
 * the root (core/roots.h); logs why not. */
int corrald_lock_root(struct corrald *d);

/* corrald-watch.c */
int corrald_watch_init(struct corrald *d);
void corrald_watch_done(struct corrald *d);
/* (Re)adds the policy dir watch when it is missing. */
void corrald_watch_policy_dir(struct corrald *d);
/* After a scan: watches the root, class and workload dirs (for new and removed groups). */
void corrald_watch_tree(struct corrald *d);
/* Watches an instance's cgroup.events (v2); returns the wd or -1. */
int corrald_watch_events(struct corrald *d, const char *path);
void corrald_unwatch(struct corrald *d, int wd);

/* corrald-final.c */
/* After a pass: learns new instances, forgets gone ones, records finals of empty ones. */
void corrald_instances_sync(struct corrald *d);
/* A v2 cgroup.events change (wd) or a new instance dir (path) seen through inotify. */
void corrald_instance_event(struct corrald *d, const char *path);
void corrald_instance_created(struct corrald *d, const char *path);
void corrald_instance_gone(struct corrald *d, const char *path);
/* Records the finals of every known instance that is empty now (before a prune). */
void corrald_instances_sweep(struct corrald *d);
void corrald_instances_free(struct corrald *d);

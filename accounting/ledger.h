/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The usage ledger: one SQLite file (WAL, synchronous=FULL), schema versioned with
 * PRAGMA user_version and migrated forward on open.
 *
 * Tables (schema 3; 1 -> 2 added rollup_minute, backfilled from samples; 2 -> 3 added
 * groups.exit_status and groups.policy and set start_ns of every instance):
 *   groups   one row per group generation: path, generation (directory inode), kind,
 *            class, workload, instance, account; UNIQUE(path, generation). Instances also:
 *              start_ns     when it got its first process; always set (below)
 *              end_ns       the time of its final record; NULL while it has none
 *              exit_status  what `corral run` exited with; NULL unknown or running
 *              policy       the policy file it ran under; NULL unknown
 *   samples  one row per (group, time): the accounted cumulative counters, the gauges,
 *            the workload's limits and the deltas of accounting/delta.h; final = 1 for
 *            the record read just before the group was removed.
 *            PRIMARY KEY(group_id, t_ns); at most one final per group (partial unique
 *            index); no sample is accepted after a final or before the group's latest.
 *   rollup_hour  the deltas summed per (group, UTC hour): hour = t_ns / ACCT_HOUR_NS,
 *            n = samples, mem_peak = their highest peak (0 when unknown).
 *   rollup_minute  the same per (group, UTC minute): minute = t_ns / ACCT_MINUTE_NS.
 *            Both rollups are kept in the same transaction as the samples (so each equals
 *            the sum of its samples, always), and reports read whole hours, then whole
 *            minutes, and samples only for the partial minutes at the edges (report.h).
 *   events   freeze/thaw events confirmed by the kernel: (group_id, t_ns, event) key.
 *
 * An instance's life is [start_ns, end): end is end_ns, or while it has no final record
 * its latest observation (last sample or event). start_ns is set by the instance's first
 * row: the exact start a final record passes (`corral run` knows it), else the writer's
 * estimate in acct_group.start_ns (acct_instance_start: the earliest start of its
 * processes, or when it was first seen empty), else the row's own time. A final record
 * with an exact start replaces an estimate. The first delta row then starts at start_ns
 * (delta.h rule 3), so the memory integral and reservation cover the whole life.
 * Ledgers of schema 1 and 2 are read as they are (READONLY never migrates): an instance
 * without start_ns starts at its first observation (ACCT_FIRST_SEEN_SQL, which is also
 * how migration 2 -> 3 sets it), and exit status and policy are unknown.
 *
 * Durability: every write call is one transaction (BEGIN IMMEDIATE ... COMMIT), and
 * rows are inserted with INSERT OR IGNORE on those keys, so a process killed at any
 * moment leaves either the whole call or nothing, and a retried call adds nothing twice.
 *
 * Errors are negative errno values with the ledger path in e->detail: -ENOSPC (disk
 * full), -EROFS / -EACCES (read-only or not permitted), -EBADMSG (not a corral ledger,
 * or corrupted), -ENOENT (missing, when opened read-only), -EPROTO (written by a newer
 * corral), -EBUSY (locked for longer than the busy timeout). A failed write says how many
 * samples were not written.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting/acct.h"
#include "core/error.h"

#define ACCT_SCHEMA_VERSION 3

#define ACCT_MINUTE_NS (60ull * 1000000000u)
#define ACCT_HOUR_NS   (3600ull * 1000000000u)

struct acct_ledger;

enum {
    ACCT_LEDGER_READONLY = 1u << 0, /* reports: never create, never write */
    /* A writer that records one thing and closes (corral run, freeze): it leaves the WAL
     * for the next writer instead of checkpointing at close (three syncs and the WAL's
     * removal on every `corral run`), and checkpoints once the WAL passes
     * ACCT_LEDGER_SHORT_WAL_PAGES, which bounds what the next first opener reads back to
     * rebuild its index. A commit is on disk either way (synchronous=FULL). */
    ACCT_LEDGER_SHORT_LIVED = 1u << 1,
    /* A writer that must not stall (corrald): a write that finds the ledger locked by
     * another writer waits at most ACCT_LEDGER_NOWAIT_MS, then fails with -EBUSY (the
     * caller keeps what it wanted to write and tries again later). */
    ACCT_LEDGER_NOWAIT = 1u << 2,
};
#define ACCT_LEDGER_NOWAIT_MS 20

/* Opens (creating the file and, one level, its directory unless READONLY) and migrates.
 * The ledger and its -wal/-shm must be regular files (never followed through a symlink,
 * never opened when a FIFO or device: -ELOOP, -ENXIO); READONLY on a read-only medium opens
 * it immutable (no lock, no -shm), so a report of an idle ledger works there.
 * Each migration step is one transaction (a kill leaves the old or the new version);
 * 1 -> 2 reads every sample once (about 13 s for 10 million here), holding the write lock;
 * 2 -> 3 reads two rows per instance.
 * READONLY never migrates: a ledger of an older schema (>= 1) is read as it is. */
#define ACCT_LEDGER_SHORT_WAL_PAGES 64

int acct_ledger_open(const char *path, unsigned flags, struct acct_ledger **ret, struct cg_err *e);
void acct_ledger_close(struct acct_ledger *l);
DEFINE_POINTER_CLEANUP(struct acct_ledger, acct_ledger_close)

const char *acct_ledger_path(const struct acct_ledger *l);

/* PRAGMA integrity_check; 0 when "ok", -EBADMSG with the first problem in e otherwise. */
int acct_ledger_check(struct acct_ledger *l, struct cg_err *e);

/* One group's counters at one time. */
struct acct_sample {
    struct acct_group group;
    uint64_t t_ns;
    struct ctl_usage usage;
};

/* Writes n samples as one transaction. ret_written (optional): rows actually added
 * (duplicates and samples older than the group's latest row are ignored). */
int acct_ledger_write(struct acct_ledger *l, const struct acct_sample *s, size_t n,
                      size_t *ret_written, struct cg_err *e);

/* What a final record knows besides the usage. */
#define ACCT_EXIT_UNKNOWN (-1)
struct acct_final {
    uint64_t start_ns;  /* the instance's exact start (corral run), 0: keep the ledger's */
    uint64_t end_ns;    /* when the usage was read: the end of its life */
    int exit_status;    /* what `corral run` exits with (0..255), or ACCT_EXIT_UNKNOWN */
    const char *policy; /* the policy file it ran under, or NULL */
};

/* The final record of a group, read just before it is removed (corral run / remove,
 * corrald). Idempotent: a second final for the same group generation is ignored. */
int acct_record_end(struct acct_ledger *l, const struct acct_group *g, const struct ctl_usage *u,
                    const struct acct_final *f, struct cg_err *e);
/* The same without exit status and policy. start_ns 0 if unknown. */
int acct_record_final(struct acct_ledger *l, const struct acct_group *g, const struct ctl_usage *u,
                      uint64_t start_ns, uint64_t end_ns, struct cg_err *e);

enum acct_event {
    ACCT_EVENT_FREEZE,
    ACCT_EVENT_THAW,
    _ACCT_EVENT_MAX,
};

/* A freeze or thaw of g confirmed by the kernel at t_ns. Idempotent. */
int acct_record_event(struct acct_ledger *l, const struct acct_group *g, enum acct_event ev,
                      uint64_t t_ns, struct cg_err *e);

/* Nanoseconds since the epoch (CLOCK_REALTIME). */
uint64_t acct_now_ns(void);

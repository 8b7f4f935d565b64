/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The sampler: walks <root>/<class>/<workload>/<instance>, keeps the counter files of
 * every group open (as many as RLIMIT_NOFILE allows, below), and reads them with pread(2)
 * on each pass (open+read+close costs about five times more). A group whose files report
 * ENODEV was removed; it is dropped from the pass and forgotten at the next scan.
 *
 * Counters read: the controllers' counter descriptors (struct ctl_ctr_desc, in
 * controllers/cpu.c, memory.c, pids.c, freezer.c), each its file in the group's
 * vocabulary; one a kernel or group lacks is unavailable (CTL_UNSET). CPU user/system are
 * tick-based estimates (delta.h scales them to the total).
 * Limits (for reservation billing), read at scan time from the workload group:
 *   cpu.cfs_quota_us / cpu.cfs_period_us | cpu.max;  memory.limit_in_bytes | memory.max
 *
 * The read rule (what a pass reads of an idle group). Every pass reads the gauge that can
 * change while no task of the group runs and nobody else touches it: memory current
 * (reclaim, network buffers charged in softirq); and the CPU total (v1: unless the parent
 * rule below says it did not move). It also reads pids current and the freezer state,
 * unless the quiet rule below lets it skip them. The other counters are re-read only when
 * the group moved: its CPU total changed, or its pids count changed, or its memory went
 * above the peak last read. Otherwise they keep the values of the last read, which they
 * still have: CPU user/system only grow with the total; an OOM kill ends a task (pids or
 * CPU move); throttled time accrues while runnable tasks wait, and they run (CPU moves)
 * at the next period. As a safety net against what this reasoning misses (a peak that
 * rose and fell back between two passes through softirq charges alone, throttled time
 * folded in after the last task left, a counter reset by hand), each group gets a full
 * read every ACCT_SAMPLER_FULL_EVERY passes (staggered over the groups), and a final
 * record is always a full read. These counters are cumulative (the peak is monotonic),
 * so a late read moves usage to a later interval, never loses or repeats it.
 * Quiet rule: a group whose CPU total did not move between the previous pass and this
 * one, nor between the pass before and the previous one (both passes read it; its CPU
 * total is available), skips pids current and the freezer state, except at the first
 * pass at least ACCT_SAMPLER_QUIET_NS (9 s, by the sampler's clock) after the last such
 * scheduled read (staggered over the groups at their first read). Forks, exits, exec
 * and freezing a group's tasks all cost CPU time in the group, so with the CPU still,
 * these two can only change through what others do to it without running it: a sleeping
 * task moved in or out by another process, a zombie reaped by a parent outside the
 * group (pids.current drops at the reap, not at the exit; the pass after the exit still
 * reads it, which catches a prompt reap), an empty group (or one whose tasks do not
 * wake) frozen or thawed. Such a change is seen at the next scheduled read, or at once
 * when the group moves: at most 9 s plus one interval late, plus any delay of the pass
 * itself. At a 1 s interval that is 10 s; an interval of 10 s or more (the default)
 * skips nothing (a pass that comes up to 1 s early still reads them). Until then the
 * rows carry the old values: such a group's frozen time starts or ends that much late,
 * the hold rule may hold or write an instance's rows by its old task count (same
 * totals: the hold rule below), and on v1 corrald notices an instance emptied that way
 * that much later (corrald.8). Full reads (full_every) and final records read these
 * files too.
 * v1 parent rule: cpuacct.usage is hierarchical and only grows (every charge is added to
 * the group and each ancestor), so when a parent's total is unchanged since the previous
 * pass, no descendant was charged since then: a child read at the previous pass skips
 * its cpuacct.usage too (exact). Not used on v2, where each level rounds to microseconds.
 *
 * The hold rule (acct_sampler_pass with ACCT_PASS_ROWS; `corral sample` and
 * acct_sampler_read hand out every group). A row whose recorded values are all equal
 * to the group's previous row (only the time differs) is held back instead of written,
 * when the group is a class or workload group, or an instance with no task (pids
 * current 0). A held row is written, with its own time:
 *   - before the group's next row that differs, so the trapezoid of the memory integral
 *     and of the frozen time sees every change at the time it was observed;
 *   - at the first pass in a new UTC minute (it was the last row of its minute), so every
 *     rollup_minute and rollup_hour gets the same deltas as without holding;
 *   - when the caller takes it (acct_sampler_take_held: before corrald's own final) or
 *     flushes (ACCT_PASS_ALL: the last pass before stopping).
 * The rows in between carry zero CPU, OOM and throttled deltas, and their wall time,
 * frozen time (a constant flag) and memory integral (a constant value) are linear in the
 * interval, so the next written row's delta, which spans them, is their sum: totals are
 * the same (the memory integral up to the rounding of delta.h, < 1 byte-second per held
 * row; reservation by at most 1 ns or 1 byte-second per held row). What changes: the
 * sample count, and reports whose range edges are not whole minutes, which resolve an
 * idle group's wall time to the minute rather than to the interval. Instances with
 * tasks are never held: their final record, written by `corral run` the moment they
 * empty, must find the previous pass's row in the ledger (else its trapezoid would span
 * the held time). A held row lost to kill -9, or to the group's removal, moves that
 * idle span's wall time and memory integral to the group's next row (its final record,
 * or the first row after a restart); no usage is lost or counted twice.
 *
 * File descriptors: the fast-path files (CPU total, pids current, memory current, frozen)
 * of every group are kept open first, then the others if everything fits, within
 * RLIMIT_NOFILE less a reserve (256 + 1/16 of it) for the rest of the process. A group
 * whose files do not fit is read by path from the root's directory fds (open, pread,
 * close, and a check that its directory is still the same generation). When the walk
 * itself runs out of fds (EMFILE, ENFILE), the groups it could not open keep being
 * sampled as last known (their fds kept), and the stats say how many.
 */

#include <stdbool.h>
#include <stddef.h>

#include "accounting/ledger.h"
#include "core/cgroup.h"

#define ACCT_SAMPLER_FULL_EVERY 60 /* passes between two full reads of an idle group */
/* Quiet rule: pids current and frozen of an idle group are read at the first pass at
 * least this long (ns) after their last scheduled read: at most this plus one interval
 * stale. */
#define ACCT_SAMPLER_QUIET_NS (9ull * 1000000000u)

/* Who pays for a workload: the policy's Account=, or NULL for "the workload's name". */
typedef const char *(*acct_account_fn)(void *userdata, const char *class_name,
                                       const char *workload);

struct acct_sampler;

int acct_sampler_new(struct cg_ctx *ctx, acct_account_fn account_fn, void *userdata,
                     struct acct_sampler **ret);
void acct_sampler_free(struct acct_sampler *s);
DEFINE_POINTER_CLEANUP(struct acct_sampler, acct_sampler_free)

/* 1: every pass reads every counter of every group (no read rule); default
 * ACCT_SAMPLER_FULL_EVERY. */
void acct_sampler_set_full_every(struct acct_sampler *s, unsigned passes);
/* Tests: the time stamped on each read (default acct_now_ns()). */
void acct_sampler_set_clock(struct acct_sampler *s, uint64_t (*now_ns)(void *userdata),
                            void *userdata);

/* Walks the tree: opens the counter files of new groups (and of re-created ones, which
 * have a new generation), closes those of removed groups. A missing root is an empty
 * tree. Returns the number of groups known. Running out of fds is not an error (stats). */
int acct_sampler_scan(struct acct_sampler *s, struct cg_err *e);

/* Reads every known group's counters (read rule) and returns every group read as a
 * sample. *ret points into the sampler and stays valid until the next scan or read;
 * groups that vanished since the scan, or could not be read, are left out. */
int acct_sampler_read(struct acct_sampler *s, const struct acct_sample **ret, size_t *ret_n);

enum {
    ACCT_PASS_ROWS = 1u << 0, /* select the rows for the ledger (hold rule) */
    ACCT_PASS_ALL = 1u << 1,  /* with ROWS: hold nothing, write every held row too */
};

/* One pass for corrald: reads every group (read rule); with ACCT_PASS_ROWS, *ret_rows is
 * how many rows the ledger must get, in time order per group: spell them out in
 * batches with acct_sampler_rows(). */
int acct_sampler_pass(struct acct_sampler *s, unsigned flags, size_t *ret_rows);
/* Rows [from, from + cap) of the last pass into buf; returns how many. */
size_t acct_sampler_rows(const struct acct_sampler *s, size_t from, struct acct_sample *buf,
                         size_t cap);
/* The held row of group path, if any, into *ret (1), and no longer held; else 0. */
int acct_sampler_take_held(struct acct_sampler *s, const char *path, struct acct_sample *ret);

/* The groups known, sorted by path; item i as last read. */
struct acct_sampler_item {
    const char *path;
    enum acct_kind kind;
    uint64_t generation;
    uint64_t t_ns;                 /* of the last read */
    const struct ctl_usage *usage; /* last read */
    bool read;                     /* read by the last pass */
};
size_t acct_sampler_count(const struct acct_sampler *s);
void acct_sampler_item(const struct acct_sampler *s, size_t i, struct acct_sampler_item *ret);
/* Item i's last read as a ledger sample. */
void acct_sampler_get(const struct acct_sampler *s, size_t i, struct acct_sample *ret);

struct acct_sampler_stats {
    size_t groups;    /* known */
    size_t read;      /* read by the last pass */
    size_t unsampled; /* last pass: could not be read (no fd to read them with) */
    size_t held;      /* last pass: rows held back */
    size_t unopened;  /* last scan: directories the walk could not open (out of fds) */
    size_t carried;   /* last scan: known groups under those, kept as they were */
    size_t on_demand; /* groups read by path for want of kept-open fds */
    size_t fds;       /* counter files kept open */
    size_t reads;     /* last pass: counter files read (pread through a kept or fresh fd) */
};
void acct_sampler_stats(const struct acct_sampler *s, struct acct_sampler_stats *ret);
/* Heap bytes of the sampler's tables (benchmarks). */
size_t acct_sampler_table_bytes(const struct acct_sampler *s);

/* `corral sample`: a scan, a read and one ledger transaction. ret_n (optional): samples
 * written. */
int acct_sample_once(struct acct_sampler *s, struct acct_ledger *l, size_t *ret_n,
                     struct cg_err *e);

/* For final records (corral run / remove): describes an open group (generation from its
 * directory inode, limits from its workload group). account may be NULL. */
int acct_group_from_cg(struct cg_group *g, const char *account, struct acct_group *ret);

/* An instance's start as a writer without an exact one estimates it (ledger.h): the
 * earliest start of the processes in g (/proc/PID/stat field 22, clock ticks since boot,
 * taken to CLOCK_REALTIME through CLOCK_BOOTTIME, plus half a tick as the kernel truncates
 * it), or first_seen_ns, when the writer first saw g, if g holds no process; never later
 * than first_seen_ns. A process moved in from elsewhere counts from its own start. */
uint64_t acct_instance_start(struct cg_group *g, uint64_t first_seen_ns);

/* Reads one group's counters (open, read, close: for a one-off final read). */
int acct_read_usage(struct cg_group *g, struct ctl_usage *ret);

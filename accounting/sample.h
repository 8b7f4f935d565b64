/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The sampler: walks <root>/<class>/<workload>/<instance>, keeps every counter file of
 * every group open, and reads them with pread(2) on each pass (open+read+close costs
 * about five times more). A group whose files report ENODEV was removed; it is dropped
 * from the pass and forgotten at the next scan.
 *
 * Counters read (v1 | v2):
 *   CPU total        cpuacct.usage | cpu.stat usage_usec
 *   CPU user/system  cpuacct.usage_user, cpuacct.usage_sys | cpu.stat user_usec, system_usec
 *                    (tick-based estimates; delta.h scales them to the total)
 *   throttled        cpu.stat throttled_time | cpu.stat throttled_usec
 *   memory current   memory.usage_in_bytes | memory.current
 *   memory peak      memory.max_usage_in_bytes | memory.peak (5.19+)
 *   OOM kills        memory.oom_control oom_kill (4.13+) | memory.events oom_kill
 *   pids             pids.current, pids.peak (6.13+ on v2; missing -> unavailable)
 *   frozen           freezer.state FROZEN | cgroup.events frozen
 * Limits (for reservation billing), read at scan time from the workload group:
 *   cpu.cfs_quota_us / cpu.cfs_period_us | cpu.max;  memory.limit_in_bytes | memory.max
 */

#include <stddef.h>

#include "accounting/ledger.h"
#include "core/cgroup.h"

/* Who pays for a workload: the policy's Account=, or NULL for "the workload's name". */
typedef const char *(*acct_account_fn)(void *userdata, const char *class_name,
                                       const char *workload);

struct acct_sampler;

int acct_sampler_new(struct cg_ctx *ctx, acct_account_fn account_fn, void *userdata,
                     struct acct_sampler **ret);
void acct_sampler_free(struct acct_sampler *s);
DEFINE_POINTER_CLEANUP(struct acct_sampler, acct_sampler_free)

/* Walks the tree: opens the counter files of new groups (and of re-created ones, which
 * have a new generation), closes those of removed groups. A missing root is an empty
 * tree. Returns the number of groups known. */
int acct_sampler_scan(struct acct_sampler *s, struct cg_err *e);

/* Reads every known group's counters. *ret points into the sampler and stays valid until
 * the next scan or read; groups that vanished since the scan are left out. */
int acct_sampler_read(struct acct_sampler *s, const struct acct_sample **ret, size_t *ret_n);

/* `corral sample`: a scan, a read and one ledger transaction. ret_n (optional): samples
 * written. */
int acct_sample_once(struct acct_sampler *s, struct acct_ledger *l, size_t *ret_n,
                     struct cg_err *e);

/* For final records (corral run / remove): describes an open group (generation from its
 * directory inode, limits from its workload group). account may be NULL. */
int acct_group_from_cg(struct cg_group *g, const char *account, struct acct_group *ret);

/* Reads one group's counters (open, read, close: for a one-off final read). */
int acct_read_usage(struct cg_group *g, struct ctl_usage *ret);

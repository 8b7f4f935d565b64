/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The delta rule: how usage between two samples of one group is computed so that a
 * re-created group or a counter that goes backwards is neither lost nor counted twice.
 *
 * 1. Generations. A group is identified by (path, generation), where generation is the
 *    inode number of its cgroup directory. The kernel gives a re-created directory a new
 *    inode, so a re-created group starts a new generation: its first sample counts its
 *    whole cumulative value (usage since it was created), and nothing is subtracted
 *    from the previous generation's last value.
 * 2. Within a generation, cumulative counters (CPU user/system, OOM kills, throttled
 *    time) are kept as "accounted" values that never decrease except at a reset:
 *      cur >= prev                    delta = cur - prev; accounted = cur
 *      prev - cur <= prev / 64        (jitter: cpuacct values are known to step back a
 *                                      little) delta = 0; accounted stays prev, so the
 *                                      regained part is not counted again
 *      otherwise                      a reset (the counter restarted, e.g. the inode was
 *                                      reused): delta = cur, counted from zero;
 *                                      accounted = cur
 *    A counter that is unavailable (CTL_UNSET) contributes nothing and keeps prev.
 *    CPU: the rule applies to the total (cpuacct.usage / cpu.stat usage_usec, exact);
 *    user and system are the kernel's tick-based split (on v1 they do not even add up
 *    to the total and can step back), so they are scaled to the total and kept
 *    monotonic like the kernel's cputime_adjust(): user = max(new share, previous
 *    user), system = total - user (or the reverse if system would drop). Their deltas
 *    then always sum to the total's delta.
 * 3. The memory integral is computed by corral with the trapezoid rule:
 *      integral += (mem_prev + mem_cur) / 2 x (t_cur - t_prev)       [byte-seconds]
 *    rounded half up per step (each step's error is below 1 byte-second). For the first
 *    row of an instance the previous point is (start, 0): the ledger knows every
 *    instance's start (ledger.h). Otherwise the first sample has no interval and adds
 *    nothing.
 * 4. Wall time is t_cur - t_prev (or - start). Frozen time uses the trapezoid rule on the
 *    frozen flag: both ends frozen -> the whole interval, one end -> half of it. These two
 *    are kept for the record and for reservation (rule 5); reports take wall and frozen
 *    time from the instances' lives and the freezer's events instead (report.h).
 * 5. Reservation (OpenCost): reserved CPU = max(cpu limit x wall, CPU used) and reserved
 *    memory = max(memory limit x wall, memory integral), per interval. No limit: usage.
 * 6. The final record of an instance is one more step of the same rule, read just
 *    before rmdir; the ledger accepts no sample of that generation after it. So an
 *    instance's usage is the sum of its deltas, which equals its final cumulative values
 *    when no reset happened: the final record completes the samples, it is never added
 *    on top of them.
 */

#include <stdbool.h>

#include "accounting/acct.h"

/* One cumulative counter (rule 2). Returns the delta; *cum is updated in place. */
uint64_t acct_counter_step(uint64_t *cum, uint64_t cur);

/* One full step. prev is the generation's last state, or NULL for its first sample;
 * start_ns is the group's start when known, else 0. */
void acct_delta_step(const struct acct_state *prev, uint64_t start_ns, uint64_t t_ns,
                     const struct ctl_usage *u, uint64_t cpu_limit_ucores, uint64_t mem_limit,
                     struct acct_state *ret_state, struct acct_delta *ret_delta);

/* Whether a generation takes a new row at *t_ns (ledger.h). prev is its latest row, or
 * NULL for none; prev_final says that row is its final record. Nothing is taken after a
 * final record, nor at or before the latest row, except a final record, which is moved
 * to just after it (*t_ns), so that a racing sample's timestamp never loses it. */
bool acct_row_admit(const struct acct_state *prev, bool prev_final, bool final, uint64_t *t_ns);

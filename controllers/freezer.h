/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Suspend and resume a group and everything below it, and say so only once the kernel
 * confirms it.
 *   v2: write cgroup.freeze, wait for "frozen 1" in cgroup.events by poll(POLLPRI).
 *   v1: write FROZEN to freezer.state and re-read it; FREEZING can stick while tasks fork
 *       or sleep uninterruptibly, so thaw and refreeze within a bounded budget.
 * On timeout or error, what this call froze is thawed back before it returns.
 */

#include <stdint.h>
#include <sys/types.h>

#include "controllers/controller.h"

enum ctl_freeze_state {
    CTL_THAWED,
    CTL_FREEZING,
    CTL_FROZEN,
    _CTL_FREEZE_STATE_MAX,
};

const char *ctl_freeze_state_to_string(enum ctl_freeze_state s);

/* Processes that had not stopped when a freeze gave up. */
struct ctl_freeze_stuck {
    size_t n;
    struct {
        pid_t pid;
        char comm[17];
        char state; /* from /proc/PID/stat */
    } p[32];
};

/* -ENODEV when this system has no freezer for the group. */
int ctl_freezer_state(struct cg_group *g, enum ctl_freeze_state *ret);

/* Freezes g and waits for the kernel's confirmation up to timeout_usec. -ETIMEDOUT on
 * timeout (stuck filled, group thawed back unless it was frozen before the call). */
int ctl_freezer_freeze(struct cg_group *g, uint64_t timeout_usec, struct ctl_freeze_stuck *stuck,
                       struct cg_err *e);

/* Thaws g and waits until the kernel reports it thawed. */
int ctl_freezer_thaw(struct cg_group *g, uint64_t timeout_usec, struct cg_err *e);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Types shared by the accounting modules: which group a sample is about, and the
 * per-sample deltas that reports add up.
 *
 * Units: time in nanoseconds since the Unix epoch (UTC, CLOCK_REALTIME); CPU in
 * nanoseconds; memory in bytes; the memory integral in byte-seconds; CPU limits in
 * millionths of a core (1000000 = one full CPU). CTL_UNSET is "not available here",
 * CTL_MAX is "no limit" (controllers/controller.h).
 */

#include <stdint.h>

#include "controllers/controller.h"

enum acct_kind {
    ACCT_CLASS,
    ACCT_WORKLOAD,
    ACCT_INSTANCE,
    _ACCT_KIND_MAX,
    _ACCT_KIND_INVALID = -EINVAL,
};

const char *acct_kind_to_string(enum acct_kind k);

/* Names are [a-z0-9_-]{1,64} (core/name.h); paths are class[/workload[/instance]]. */
struct acct_group {
    char path[200];      /* relative to the corral root */
    uint64_t generation; /* inode number of the group's directory (see delta.h) */
    enum acct_kind kind;
    char class_name[65];
    char workload[65];         /* "" for a class group */
    char instance[65];         /* "" unless kind == ACCT_INSTANCE */
    char account[65];          /* who pays; "" means the workload name */
    uint64_t cpu_limit_ucores; /* the workload's CPU quota, CTL_MAX none, CTL_UNSET unknown */
    uint64_t mem_limit;        /* the workload's memory limit, same special values */
    /* An instance's start as its writer knows or estimates it (acct_instance_start), 0
     * unknown. Used only when this row is the first the ledger has of the instance. */
    uint64_t start_ns;
};

/* Fills kind, class, workload and instance from path ("high/web/run-1"); -EINVAL if the
 * path is not 1..3 valid names. generation and limits are set to 0 / CTL_UNSET. */
int acct_group_from_path(const char *path, struct acct_group *ret);

/* What the delta rule keeps per group generation: the accounted cumulative values (they
 * only go down at a detected reset), plus what the next trapezoid step needs. */
struct acct_state {
    uint64_t t_ns;
    uint64_t cpu_user_ns;
    uint64_t cpu_system_ns;
    uint64_t oom_kills;
    uint64_t throttled_ns;
    uint64_t mem_integral_bs; /* computed by corral, never reset */
    uint64_t mem_current;     /* CTL_UNSET when unknown */
    uint64_t frozen;          /* 0, 1, or CTL_UNSET */
};

/* Usage attributed to the interval (previous sample, this sample]. */
struct acct_delta {
    uint64_t cpu_user_ns;
    uint64_t cpu_system_ns;
    uint64_t mem_bs; /* memory integral, byte-seconds */
    uint64_t oom_kills;
    uint64_t throttled_ns;
    uint64_t wall_ns;
    uint64_t frozen_ns;
    uint64_t cpu_reserved_ns; /* max(limit x wall, used cpu) */
    uint64_t mem_reserved_bs; /* max(limit x wall, memory integral) */
};

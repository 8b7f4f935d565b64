/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The four controllers corral manages, described by one table (ctl_table). Each maps
 * abstract settings to the files of the running cgroup version, writes them through a
 * transaction (so apply can diff, roll back and prove idempotence), reads back what the
 * kernel reports, and reads usage counters.
 *
 * Units: CPU time in nanoseconds (usage) and microseconds (quota, period); memory in
 * bytes; weights 1..10000 as cgroup v2's cpu.weight.
 * Special values: CTL_MAX is the kernel's "no limit"; CTL_UNSET is "not configured" in
 * settings and "not available here" in usage, so zero and unknown are never confused.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cgroup.h"
#include "core/txn.h"

#define CTL_MAX   UINT64_MAX
#define CTL_UNSET (UINT64_MAX - 1)

typedef enum ctl_id {
    CTL_CPU,
    CTL_MEMORY,
    CTL_PIDS,
    CTL_FREEZER,
    _CTL_MAX,
    _CTL_INVALID = -EINVAL,
} ctl_id;

#define CTL_MASK(id) (1u << (id))

/* The hierarchies whose files the controllers' apply reads or writes. A check that only
 * runs apply in a dry run (policy/apply.c) opens a group in these alone and gives it a
 * descriptor on which every file access fails in the others, so a hierarchy missing
 * here costs time (the check then always finds a difference), never correctness. */
#define CTL_APPLY_HIERS ((1u << CG_H_CPU) | (1u << CG_H_MEMORY) | (1u << CG_H_PIDS))

/* Limits of cpu.weight (v2) and cpu.shares (v1), and cpu.max period bounds (usec). */
#define CTL_WEIGHT_MIN          1
#define CTL_WEIGHT_MAX          10000
#define CTL_WEIGHT_DEFAULT      100
#define CTL_SHARES_MIN          2
#define CTL_SHARES_MAX          262144
#define CTL_PERIOD_MIN_USEC     1000
#define CTL_PERIOD_MAX_USEC     1000000
#define CTL_PERIOD_DEFAULT_USEC 100000

struct ctl_settings {
    uint64_t cpu_weight;      /* 1..10000 */
    uint64_t cpu_max_usec;    /* quota per period, or CTL_MAX */
    uint64_t cpu_period_usec; /* 1000..1000000; unset means the kernel default 100000 */
    uint64_t mem_max;         /* bytes or CTL_MAX; rounded down to the page size */
    uint64_t mem_high;
    uint64_t mem_low;
    uint64_t mem_swap_max;
    uint64_t pids_max; /* count or CTL_MAX */
};

struct ctl_usage {
    uint64_t cpu_usage_ns;
    uint64_t cpu_user_ns;
    uint64_t cpu_system_ns;
    uint64_t cpu_nr_periods;
    uint64_t cpu_nr_throttled;
    uint64_t cpu_throttled_ns;
    uint64_t mem_current;
    uint64_t mem_peak;
    uint64_t mem_oom_kills;
    uint64_t pids_current;
    uint64_t pids_peak;
    uint64_t frozen; /* 1 frozen, 0 thawed (or freezing), CTL_UNSET no freezer */
};

/* A setting the running cgroup version cannot express: reported, never dropped. */
struct ctl_warning {
    const char *key; /* policy key, e.g. "Memory.High" */
    char msg[160];
};

struct ctl_warnings {
    size_t n;
    struct ctl_warning w[16];
};

void ctl_warn(struct ctl_warnings *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct ctl_controller {
    const char *name;
    ctl_id id;
    /* Writes the controller's settings to g through t (only values that differ). Settings
     * this version cannot express go to w. May be NULL (freezer: state, not a limit). */
    int (*apply)(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                 struct ctl_warnings *w, struct cg_err *e);
    /* Fills the controller's fields of *ret from what the kernel reports; fields the
     * version cannot express stay CTL_UNSET. */
    int (*read_settings)(struct cg_group *g, struct ctl_settings *ret);
    /* Fills the controller's fields of *ret; unavailable counters stay CTL_UNSET. */
    int (*read_usage)(struct cg_group *g, struct ctl_usage *ret);
};

extern const struct ctl_controller ctl_cpu;
extern const struct ctl_controller ctl_memory;
extern const struct ctl_controller ctl_pids;
extern const struct ctl_controller ctl_freezer;
extern const struct ctl_controller *const ctl_table[_CTL_MAX];

const char *ctl_id_to_string(ctl_id id);
ctl_id ctl_id_from_string(const char *s);

void ctl_settings_init(struct ctl_settings *s);
void ctl_usage_init(struct ctl_usage *u);

/* Every controller in turn. Stops at the first error (the caller rolls t back). */
int ctl_apply_all(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                  struct ctl_warnings *w, struct cg_err *e);
int ctl_read_settings_all(struct cg_group *g, struct ctl_settings *ret);
int ctl_read_usage_all(struct cg_group *g, struct ctl_usage *ret);

/* cpu.shares = weight * 1024 / 100, clamped to 2..262144 (v1), and its inverse rounded to
 * nearest and clamped to 1..10000, so weight -> shares -> weight is exact for the
 * weights that shares can express. */
uint64_t ctl_weight_to_shares(uint64_t weight);
uint64_t ctl_shares_to_weight(uint64_t shares);

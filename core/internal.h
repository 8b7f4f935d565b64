/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the core's own files; not part of its interface. */

#include "core/cgroup.h"

/* An open group (opaque outside core): one directory fd per hierarchy. */
struct cg_group {
    struct cg_ctx *ctx;
    char *path;        /* relative to the corral root; "" for the root itself */
    int fd[_CG_H_MAX]; /* -1 where the hierarchy is missing; v2 uses fd[0] only */
};

/* On v2 a cgroup that has children may not hold processes (the "no internal process"
 * rule, kernel 4.5+). When corral nests its root under the caller's own cgroup it first
 * moves the caller's processes into this leaf, as systemd's DelegateSubgroup= does. A
 * caller already in such a leaf nests beside it, so repeated runs do not nest deeper. */
#define CG_V2_LEAF "corral-self"

/* The hierarchies that hold their own directory: v2 has one; on v1 every mounted one that
 * is not an alias of an earlier one. Iterate with `for (h...) if (!cg_slot(ctx, h)) continue;` */
bool cg_slot(const struct cg_ctx *ctx, int h);

struct cg_group *cg_group_new(struct cg_ctx *ctx, const char *path);

/* rmdir of the group's directory in each slot, through its parent directory. */
int cg_remove_dirs(struct cg_group *g, struct cg_err *e);

/* Sends SIGKILL to each pid; ESRCH is not an error. */
void cg_kill_pids(const pid_t *pids, size_t n);

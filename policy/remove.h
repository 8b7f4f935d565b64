/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Removing a class, workload or instance group and everything below it.
 *
 * Final usage: before any directory goes, the usage of every group in the subtree is read
 * (once its processes are gone) and handed to the caller's hook, deepest first, so the
 * ledger can record it (DESIGN.md: a group's final usage is read before rmdir). If the
 * hook fails, nothing is removed.
 */

#include <stdbool.h>

#include "controllers/controller.h"
#include "core/cgroup.h"

/* Called for each group about to be removed; a negative return stops the removal. */
typedef int (*pol_final_usage_fn)(void *userdata, struct cg_group *g, const struct ctl_usage *u,
                                  struct cg_err *e);

/* pol_remove found the group gone once it held its lock: removed meanwhile by the
 * `corral run` whose instance it was (which records the final usage before its rmdir). */
#define POL_REMOVE_GONE 1

/*
 * Removes the group at path (relative to the root) and its subtree. Without kill, refuses
 * with -EBUSY, touching nothing, while any process lives there. With kill, kills them all
 * (cgroup.kill on v2) and waits until the group is empty. hook may be NULL.
 *
 * Every group of the subtree is locked (cg_group_lock) from before the kill until after
 * its rmdir, so a `corral run` whose workload this kills waits, then finds its instance
 * gone and records nothing: one final record per instance, whoever ends it. A group that
 * a `corral run` ended first is found gone under its lock and skipped. Returns 0 when
 * removed, POL_REMOVE_GONE when the group itself had gone, or a negative errno.
 */
int pol_remove(struct cg_ctx *ctx, const char *path, bool kill, pol_final_usage_fn hook,
               void *userdata, struct cg_err *e);

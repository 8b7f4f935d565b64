/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Reconciling cgroupfs with a policy set.
 *
 * The desired tree is <root>/<class>/<workload>: one class group for each class that some
 * policy uses (carrying the class's CPU weight and memory protection), and one workload
 * group per policy (carrying the policy's limits). Every change goes through one
 * transaction (core/txn.h): groups created, values written (a controller writes only
 * values that differ from what the kernel reports, so a repeated apply writes nothing),
 * groups removed. If anything fails, the transaction is rolled back and cgroupfs is as
 * it was before the call.
 *
 * Which groups are corral's to remove: the root is corral's own (nothing else creates
 * groups in it), so every child of the root with a valid group name is a class group and
 * every child of a class group is a workload group (instances below them are created by
 * `corral run`). With prune, class and workload groups that no policy names any more are
 * removed, together with their (empty) instance groups; a group in which any process
 * lives is never removed, it is reported in busy instead. Groups whose names are not
 * valid corral names are not corral's and are never looked at.
 *
 * Dry run: with a dry-run transaction (cg_txn_init(t, true)) nothing is written; groups
 * that would be created are recorded (CG_TXN_MKDIR), the controllers record the values
 * of existing groups that differ, and a group that does not exist yet is planned by the
 * pure diff (ctl_diff) from the descriptors' defaults. Every entry is in the kernel's
 * vocabulary (group, file, old, new; old "" for a new group).
 */

#include "core/txn.h"
#include "policy/policy.h"

struct pol_warning {
    char group[256]; /* relative to the root */
    char key[32];    /* e.g. "Memory.High" */
    char msg[160];
};

struct pol_apply_result {
    size_t n_warnings;
    struct pol_warning *warnings;
    /* Groups no policy names any more that were kept because processes live in them. */
    size_t n_busy;
    char (*busy)[256];
};

void pol_apply_result_free(struct pol_apply_result *r);

/*
 * Makes the tree under ctx's root match set (cfg gives the classes). prune: also remove
 * corral's groups that no policy names (apply of the whole policy directory; an apply of
 * a few named files only adds and updates). On failure everything done is rolled back
 * (t is left with no effect on cgroupfs) and e names the group, file and kernel error.
 */
int pol_apply(struct cg_ctx *ctx, const struct pol_config *cfg, const struct pol_set *set,
              bool prune, struct cg_txn *t, struct pol_apply_result *res, struct cg_err *e);

/*
 * pol_apply with the number of threads that read the kernel's current values of a
 * class's workloads before the changes are made (0: automatic, one per online CPU when
 * there are enough workloads; 1: no threads). The threads only read; which workloads
 * they find unchanged is skipped by the sequential pass, which does every create, write,
 * removal and rollback, in the same order and with the same errors, warnings and dry-run
 * plan as without threads. pol_apply is this with 0.
 */
int pol_apply_threads(struct cg_ctx *ctx, const struct pol_config *cfg, const struct pol_set *set,
                      bool prune, unsigned threads, struct cg_txn *t, struct pol_apply_result *res,
                      struct cg_err *e);

/* Warnings only: what the running cgroup version cannot express of cfg and set, from the
 * settings' descriptors and the swap accounting the root's base shows (probed, nothing
 * written; check and status show them). */
int pol_warnings(struct cg_ctx *ctx, const struct pol_config *cfg, const struct pol_set *set,
                 struct pol_apply_result *res);

/* Class groups in the order apply visits them: the classes used by some policy, in
 * corral.conf order. *ret is malloc'ed (pointers into cfg). */
int pol_used_classes(const struct pol_config *cfg, const struct pol_set *set,
                     const struct pol_class ***ret, size_t *ret_n);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Which roots are corral's: a registry in the runtime directory (core/lock.h), "roots/",
 * one file per root that corral made, named by the root's id and written when corral
 * creates the root (under the registry's own lock, after checking the others), removed
 * with it:
 *
 *     root ./corral-demo
 *     dir 4211 /sys/fs/cgroup/cpu/corral-demo
 *     dir 5120 /sys/fs/cgroup/memory/user/corral-demo
 *
 * one "dir INODE PATH" line per hierarchy (one on v2). An entry none of whose
 * directories exists with that inode any more is stale: its root is gone, and the entry
 * is ignored (and removed by the next writer of the registry). cgroupfs cannot carry a
 * mark of its own here (v1 is mounted without xattr), and a file beside the groups could
 * be planted by anyone who can make a group; the runtime directory is root's.
 *
 * The rules that follow from it:
 *   - a root inside or around another live root is refused, at every command;
 *   - a root that exists but is not registered is adopted only while it holds no group
 *     (there is nothing in it corral could remove by mistake); one that holds groups was
 *     not made by corral and is refused;
 *   - nothing that is, or holds, another root is ever removed (apply's prune, remove).
 */

#include <stdbool.h>

#include "core/cgroup.h"

/* The root's id: 16 hex digits, a hash of its directories (the same whichever way the root
 * was spelled). Kept in ctx. */
int cg_root_id(struct cg_ctx *ctx, const char **ret);

/*
 * Read-only check for every command: -EEXIST when the root lies inside, around, or on
 * top of another live root (e->detail names it). Cheap when the root's own entry is live:
 * every root was checked against the others when it was registered.
 */
int cg_root_check(struct cg_ctx *ctx, struct cg_err *e);

/*
 * For a command that changes the tree, with the root's lock held: cg_root_check, and
 * for a root that exists but has no live entry, adoption (no groups in it) or refusal
 * (-ENOTEMPTY: groups in it that corral did not make). A missing root is registered when it
 * is created (cg_root_open).
 */
int cg_root_claim(struct cg_ctx *ctx, struct cg_err *e);

/* Used by cg_root_open when it must create the root: checks the other roots, creates it
 * by calling make(), and registers it, all under the registry's lock. */
int cg_root_create_registered(struct cg_ctx *ctx,
                              int (*make)(struct cg_ctx *, void *, struct cg_err *), void *userdata,
                              struct cg_err *e);

/* Removes the root's entry (its groups are gone). */
void cg_root_unregister(struct cg_ctx *ctx);

/*
 * The live roots other than ctx's that lie inside it, as paths relative to ctx's root
 * (e.g. "batch" or "normal/web/run-1/x"), re-read into ctx; cg_group_overlaps_root then
 * tells whether a group is one of them, holds one or lies in one. Call before deciding
 * what to remove.
 */
int cg_roots_load_inside(struct cg_ctx *ctx, struct cg_err *e);
enum {
    CG_ROOT_HOLDS = 1, /* another root lies below the group */
    CG_ROOT_IN = 2,    /* the group is another root, or lies in one */
};
int cg_group_overlaps_root(const struct cg_group *g);

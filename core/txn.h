/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A transaction over cgroupfs: every write and every group created goes through it, so
 * that a failure part-way can be undone exactly (old values written back, new groups
 * removed, in reverse order), a dry run can list what would change, and a repeated apply
 * can prove it wrote nothing (writes == 0).
 */

#include <stdbool.h>
#include <stddef.h>

#include "core/cgroup.h"

enum cg_txn_kind {
    CG_TXN_WRITE,
    CG_TXN_MKDIR,
    CG_TXN_RMDIR,
};

/* An entry keeps no descriptor: rollback reopens its group by path, so that a transaction
 * of any size holds as many fds as one open group. */
struct cg_txn_entry {
    enum cg_txn_kind kind;
    enum cg_hier hier;
    char group[256]; /* path relative to the root ("" for the root itself) */
    char file[64];
    char old_value[96]; /* as read before the write, written back on rollback */
    char new_value[96];
};

struct cg_txn {
    bool dry_run;
    struct cg_ctx *ctx; /* of the first group recorded; rollback reopens groups through it */
    size_t n, cap;
    struct cg_txn_entry *e;
    unsigned writes; /* writes actually performed on cgroupfs */
};

void cg_txn_init(struct cg_txn *t, bool dry_run);
/* Forgets the entries (the changes stay). */
void cg_txn_done(struct cg_txn *t);

/* Writes value to file of g in hierarchy h unless current (as read, already normalised by
 * the caller) equals expect. old_raw is what to write back on rollback. */
int cg_txn_write(struct cg_txn *t, struct cg_group *g, enum cg_hier h, const char *file,
                 const char *old_raw, const char *value, struct cg_err *e);

/* Dry run only: records a step on a group that does not exist (yet), by its path
 * relative to the root (file and new_value for CG_TXN_WRITE only; the old value is ""). */
int cg_txn_plan(struct cg_txn *t, struct cg_ctx *ctx, enum cg_txn_kind kind, const char *group,
                enum cg_hier h, const char *file, const char *new_value);

/* Records that group g was created by this transaction (rollback removes it). */
int cg_txn_created(struct cg_txn *t, struct cg_group *g);

/* Removes group g (must be empty) and records it; rollback recreates the directory (the
 * values written inside it before are not restored: only groups corral created and no
 * policy names any more are removed, so nothing depends on them). */
int cg_txn_remove(struct cg_txn *t, struct cg_group *g, struct cg_err *e);

/* Undoes every entry in reverse order. Returns the first error met (and keeps going). */
int cg_txn_rollback(struct cg_txn *t);

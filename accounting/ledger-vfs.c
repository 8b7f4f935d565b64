/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The VFS a short-lived ledger writer opens its database with: SQLite's default one, but
 * an existing WAL is opened without O_CREAT. SQLite takes a WAL opened with O_CREAT for a
 * new file and syncs its directory at the first commit, whether it created the file or
 * not: a second sync on every `corral run`. A WAL that exists was made by an earlier
 * connection, which synced the directory at its first commit; where that connection never
 * committed, the fsync of this one's commit still carries the directory entry on the
 * journalling filesystems corral supports (ext4, xfs: one journal commit holds both).
 *
 * Each handle registers a VFS of its own (named after its address) and unregisters it
 * after closing the database: nothing of it is shared between handles or threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounting/ledger-private.h"

struct acct_ledger_vfs {
    sqlite3_vfs base; /* first: SQLite hands &base back to us */
    sqlite3_vfs *real;
    char name[48];
};

static int ledger_vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                           int *out)
{
    struct acct_ledger_vfs *v = (struct acct_ledger_vfs *)vfs;

    if ((flags & SQLITE_OPEN_WAL) && (flags & SQLITE_OPEN_CREATE) && name &&
        access(name, F_OK) == 0) {
        int rc = v->real->xOpen(vfs, name, f, flags & ~SQLITE_OPEN_CREATE, out);
        if (rc != SQLITE_CANTOPEN)
            return rc;
        /* removed in between (a checkpoint at close): create it after all */
    }
    return v->real->xOpen(vfs, name, f, flags, out);
}

int acct_ledger_vfs_new(struct acct_ledger_vfs **ret)
{
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    struct acct_ledger_vfs *v;

    if (!real)
        return -ENOSYS;
    v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    /* Every field of the default VFS (its pAppData too: the unix VFS keeps its locking
     * style there), with our name and open. */
    v->base = *real;
    v->base.pNext = NULL;
    snprintf(v->name, sizeof(v->name), "corral-ledger-%p", (void *)v);
    v->base.zName = v->name;
    v->base.xOpen = ledger_vfs_open;
    v->real = real;
    if (sqlite3_vfs_register(&v->base, 0) != SQLITE_OK) {
        free(v);
        return -ENOMEM;
    }
    *ret = v;
    return 0;
}

const char *acct_ledger_vfs_name(const struct acct_ledger_vfs *v)
{
    return v ? v->name : NULL;
}

void acct_ledger_vfs_free(struct acct_ledger_vfs *v)
{
    if (!v)
        return;
    (void)sqlite3_vfs_unregister(&v->base);
    free(v);
}

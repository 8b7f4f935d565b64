/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between ledger.c and report.c only. */

#include <sqlite3.h>
#include <stdbool.h>

#include "accounting/ledger.h"

/* ledger-vfs.c: the VFS of a short-lived writer (an existing WAL opened without
 * O_CREAT, so SQLite does not sync its directory again). Freed after the database. */
struct acct_ledger_vfs;
int acct_ledger_vfs_new(struct acct_ledger_vfs **ret);
const char *acct_ledger_vfs_name(const struct acct_ledger_vfs *v);
void acct_ledger_vfs_free(struct acct_ledger_vfs *v);

/* ledger-file.c: the ledger, its -wal and its -shm are regular files when they exist (a
 * symlink: -ELOOP, anything else: -ENXIO, said in e); a READONLY ledger must exist
 * (-ENOENT). *ret_immutable: READONLY on a read-only medium with no WAL left to read. */
int acct_ledger_files_check(const char *path, bool readonly, bool *ret_immutable, struct cg_err *e);
/* "file:PATH?mode=ro[&immutable=1]", PATH escaped; malloc'ed, NULL when out of memory. */
char *acct_ledger_uri(const char *path, bool immutable);

struct acct_ledger {
    sqlite3 *db;
    struct acct_ledger_vfs *vfs; /* ACCT_LEDGER_SHORT_LIVED, or NULL */
    char *path;
    bool readonly;
    int schema; /* PRAGMA user_version after open: ACCT_SCHEMA_VERSION, or older when
                 * opened READONLY (readers never migrate) */
    sqlite3_stmt *st[12];
};

/* Maps an SQLite result code to a negative errno (0 for OK/ROW/DONE). */
int acct_sql_errno(sqlite3 *db, int rc);
/* Fills e with "ledger 'PATH': what: sqlite message" and returns r. */
int acct_sql_err(struct acct_ledger *l, struct cg_err *e, int r, const char *what);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the SQLite store's files only (store.h): ledger*.c and report-sql.c. */

#include <sqlite3.h>
#include <stdbool.h>

#include "accounting/store.h"

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

struct acct_store {
    sqlite3 *db;
    struct acct_ledger_vfs *vfs; /* ACCT_LEDGER_SHORT_LIVED, or NULL */
    char *path;
    bool readonly;
    int schema; /* PRAGMA user_version after open: ACCT_SCHEMA_VERSION, or older when
                 * opened READONLY (readers never migrate) */
    sqlite3_stmt *st[12];
};

/* How a rollup row (hour or minute) takes one more sample's deltas: both rollups must add
 * up exactly the same way, so they share this text. */
#define ROLLUP_ACCUMULATE                                                                          \
    " SET n = n + 1,"                                                                              \
    " d_cpu_user_ns = d_cpu_user_ns + excluded.d_cpu_user_ns,"                                     \
    " d_cpu_system_ns = d_cpu_system_ns + excluded.d_cpu_system_ns,"                               \
    " d_mem_bs = d_mem_bs + excluded.d_mem_bs,"                                                    \
    " d_oom_kills = d_oom_kills + excluded.d_oom_kills,"                                           \
    " d_throttled_ns = d_throttled_ns + excluded.d_throttled_ns,"                                  \
    " d_wall_ns = d_wall_ns + excluded.d_wall_ns,"                                                 \
    " d_frozen_ns = d_frozen_ns + excluded.d_frozen_ns,"                                           \
    " d_cpu_reserved_ns = d_cpu_reserved_ns + excluded.d_cpu_reserved_ns,"                         \
    " d_mem_reserved_bs = d_mem_reserved_bs + excluded.d_mem_reserved_bs,"                         \
    " mem_peak = max(mem_peak, excluded.mem_peak)"

/* When an instance was first seen, from its rows alone: the start point of its first
 * sample's delta (its time less its wall time: the start, when that was known) or its
 * first event, whichever is earlier. tbl names the groups table in the query. Part of
 * migration 2 -> 3 (ledger-schema.c): never change it, add a new step instead. Readers of
 * an older schema use it for an instance without a start. */
#define ACCT_FIRST_SEEN_SQL(tbl)                                                                   \
    "min(coalesce(" ACCT_FIRST_SAMPLE_SQL(tbl) ", " ACCT_FIRST_EVENT_SQL(                          \
        tbl) "), coalesce(" ACCT_FIRST_EVENT_SQL(tbl) ", " ACCT_FIRST_SAMPLE_SQL(tbl) "))"
#define ACCT_FIRST_SAMPLE_SQL(tbl)                                                                 \
    "(SELECT s.t_ns - s.d_wall_ns FROM samples s WHERE s.group_id = " tbl ".id"                    \
    " ORDER BY s.t_ns LIMIT 1)"
#define ACCT_FIRST_EVENT_SQL(tbl) "(SELECT min(e.t_ns) FROM events e WHERE e.group_id = " tbl ".id)"

/* ledger-schema.c: reads PRAGMA user_version into l->schema and migrates a writer's ledger
 * to ACCT_SCHEMA_VERSION, one transaction per step (ledger.h). */
int acct_ledger_migrate(struct acct_store *l, struct cg_err *e);

/* ledger-write.c: prepares a writer's statements, and the writes of the store's table
 * (store.h). */
int acct_ledger_prepare(struct acct_store *l, struct cg_err *e);
int acct_sqlite_begin(struct acct_store *l, struct cg_err *e);
int acct_sqlite_commit(struct acct_store *l, int r, size_t n, struct cg_err *e, const char *what);
int acct_sqlite_group(struct acct_store *l, const struct acct_group *g, uint64_t t_ns,
                      uint64_t exact_start, int64_t *ret_id, uint64_t *ret_start);
int acct_sqlite_last(struct acct_store *l, int64_t id, struct acct_state *ret, bool *ret_final);
int acct_sqlite_put_row(struct acct_store *l, int64_t id, const struct acct_store_row *row);
int acct_sqlite_put_event(struct acct_store *l, int64_t id, uint64_t t_ns, enum acct_event ev);

/* Runs sql; on failure fills e ("what") and returns the error. */
int acct_sql_exec(struct acct_store *l, const char *sql, struct cg_err *e, const char *what);

/* Maps an SQLite result code to a negative errno (0 for OK/ROW/DONE). */
int acct_sql_errno(sqlite3 *db, int rc);
/* Fills e with "ledger 'PATH': what: sqlite message" and returns r. */
int acct_sql_err(struct acct_store *l, struct cg_err *e, int r, const char *what);

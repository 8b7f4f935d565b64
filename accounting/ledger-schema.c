/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ledger's schema (ledger.h) and its migrations. */
#include <errno.h>
#include <stdio.h>

#include "accounting/ledger-private.h"

/* Migration i takes the schema from version i to i + 1. Never edit a released step:
 * add a new one. */
static const char *const migrations[ACCT_SCHEMA_VERSION] = {
    "CREATE TABLE groups ("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL,"
    "  generation INTEGER NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('class', 'workload', 'instance')),"
    "  class TEXT NOT NULL,"
    "  workload TEXT NOT NULL DEFAULT '',"
    "  instance TEXT NOT NULL DEFAULT '',"
    "  account TEXT NOT NULL DEFAULT '',"
    "  start_ns INTEGER,"
    "  end_ns INTEGER,"
    "  UNIQUE (path, generation));"
    "CREATE TABLE samples ("
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  t_ns INTEGER NOT NULL,"
    "  final INTEGER NOT NULL DEFAULT 0 CHECK (final IN (0, 1)),"
    /* accounted cumulative counters (delta.h rule 2); NULL = not available */
    "  cpu_user_ns INTEGER, cpu_system_ns INTEGER, oom_kills INTEGER, throttled_ns INTEGER,"
    "  mem_integral_bs INTEGER NOT NULL,"
    /* gauges */
    "  mem_current INTEGER, mem_peak INTEGER, pids_current INTEGER, pids_peak INTEGER,"
    "  frozen INTEGER,"
    /* the workload's limits at the time; NULL = none or unknown */
    "  cpu_limit_ucores INTEGER, mem_limit INTEGER,"
    /* usage in (previous row, this row] */
    "  d_cpu_user_ns INTEGER NOT NULL, d_cpu_system_ns INTEGER NOT NULL,"
    "  d_mem_bs INTEGER NOT NULL, d_oom_kills INTEGER NOT NULL,"
    "  d_throttled_ns INTEGER NOT NULL, d_wall_ns INTEGER NOT NULL,"
    "  d_frozen_ns INTEGER NOT NULL, d_cpu_reserved_ns INTEGER NOT NULL,"
    "  d_mem_reserved_bs INTEGER NOT NULL,"
    "  PRIMARY KEY (group_id, t_ns)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX samples_one_final ON samples (group_id) WHERE final = 1;"
    "CREATE TABLE rollup_hour ("
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  hour INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  d_cpu_user_ns INTEGER NOT NULL, d_cpu_system_ns INTEGER NOT NULL,"
    "  d_mem_bs INTEGER NOT NULL, d_oom_kills INTEGER NOT NULL,"
    "  d_throttled_ns INTEGER NOT NULL, d_wall_ns INTEGER NOT NULL,"
    "  d_frozen_ns INTEGER NOT NULL, d_cpu_reserved_ns INTEGER NOT NULL,"
    "  d_mem_reserved_bs INTEGER NOT NULL, mem_peak INTEGER NOT NULL,"
    "  PRIMARY KEY (group_id, hour)) WITHOUT ROWID;"
    "CREATE TABLE events ("
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  t_ns INTEGER NOT NULL,"
    "  event TEXT NOT NULL CHECK (event IN ('freeze', 'thaw')),"
    "  PRIMARY KEY (group_id, t_ns, event)) WITHOUT ROWID;",

    /* 1 -> 2: rollup_minute, so that a report reads samples only for the (at most two)
     * partial minutes at the edges of its range. Backfilled from the samples, then kept
     * by a trigger, so it is always exactly the sum of its samples. */
    "CREATE TABLE rollup_minute ("
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  minute INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  d_cpu_user_ns INTEGER NOT NULL, d_cpu_system_ns INTEGER NOT NULL,"
    "  d_mem_bs INTEGER NOT NULL, d_oom_kills INTEGER NOT NULL,"
    "  d_throttled_ns INTEGER NOT NULL, d_wall_ns INTEGER NOT NULL,"
    "  d_frozen_ns INTEGER NOT NULL, d_cpu_reserved_ns INTEGER NOT NULL,"
    "  d_mem_reserved_bs INTEGER NOT NULL, mem_peak INTEGER NOT NULL,"
    "  PRIMARY KEY (group_id, minute)) WITHOUT ROWID;"
    "INSERT INTO rollup_minute SELECT group_id, t_ns / 60000000000, count(*),"
    "  sum(d_cpu_user_ns), sum(d_cpu_system_ns), sum(d_mem_bs), sum(d_oom_kills),"
    "  sum(d_throttled_ns), sum(d_wall_ns), sum(d_frozen_ns), sum(d_cpu_reserved_ns),"
    "  sum(d_mem_reserved_bs), max(coalesce(mem_peak, 0))"
    "  FROM samples GROUP BY group_id, t_ns / 60000000000;"
    /* Kept by the schema, not by the writer: part of the INSERT itself (same statement,
     * same transaction), fired only for a row really added (not for one INSERT OR IGNORE
     * skips), and so also kept by a corral of schema 1 that had the ledger open across
     * the migration. */
    "CREATE TRIGGER samples_rollup_minute AFTER INSERT ON samples BEGIN"
    "  INSERT INTO rollup_minute VALUES (NEW.group_id, NEW.t_ns / 60000000000, 1,"
    "   NEW.d_cpu_user_ns, NEW.d_cpu_system_ns, NEW.d_mem_bs, NEW.d_oom_kills,"
    "   NEW.d_throttled_ns, NEW.d_wall_ns, NEW.d_frozen_ns, NEW.d_cpu_reserved_ns,"
    "   NEW.d_mem_reserved_bs, coalesce(NEW.mem_peak, 0))"
    "  ON CONFLICT (group_id, minute) DO UPDATE" ROLLUP_ACCUMULATE ";"
    " END;",

    /* 2 -> 3: what a report needs to bill an instance's whole life and to list it as sacct
     * does: the status `corral run` exited with and the policy file it ran under (NULL
     * when unknown), and a start for every instance (ledger.h), estimated here from its
     * first observation for the instances that had none. */
    "ALTER TABLE groups ADD COLUMN exit_status INTEGER;"
    "ALTER TABLE groups ADD COLUMN policy TEXT;"
    "UPDATE groups SET start_ns = " ACCT_FIRST_SEEN_SQL(
        "groups") " WHERE kind = 'instance' AND start_ns IS NULL;",
};

static int pragma_int(struct acct_store *l, const char *sql, int64_t *ret, struct cg_err *e)
{
    sqlite3_stmt *st = NULL;
    int rc, r;

    rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *ret = sqlite3_column_int64(st, 0);
    }
    r = acct_sql_errno(l->db, rc);
    (void)sqlite3_finalize(st);
    return r < 0 ? acct_sql_err(l, e, r, sql) : 0;
}

int acct_ledger_migrate(struct acct_store *l, struct cg_err *e)
{
    int64_t v = 0;
    char sql[64];
    int r;

    r = pragma_int(l, "PRAGMA user_version", &v, e);
    if (r < 0)
        return r;
    if (v > ACCT_SCHEMA_VERSION)
        return cg_err_whole(e, cg_err_set(e, -EPROTO, NULL, NULL,
                                          "ledger '%s' was written by a newer corral (schema "
                                          "version %lld, this one knows up to %d): use that "
                                          "corral or a newer one",
                                          l->path, (long long)v, ACCT_SCHEMA_VERSION));
    l->schema = (int)v;
    if (v == ACCT_SCHEMA_VERSION)
        return 0;
    if (l->readonly) {
        /* A reader never migrates; reports read an older schema as it is (report.c). */
        if (v >= 1)
            return 0;
        return cg_err_set(e, -EBADMSG, NULL, NULL,
                          "ledger '%s': schema version %lld, expected %d: not a corral "
                          "ledger, or not yet written by `corral sample`",
                          l->path, (long long)v, ACCT_SCHEMA_VERSION);
    }
    /* Each step is its own transaction; re-read the version under the write lock in
     * case another process migrated meanwhile. */
    while (v < ACCT_SCHEMA_VERSION) {
        r = acct_sql_exec(l, "BEGIN IMMEDIATE", e, "migrate");
        if (r < 0)
            return r;
        r = pragma_int(l, "PRAGMA user_version", &v, e);
        if (r >= 0 && v < ACCT_SCHEMA_VERSION) {
            snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)v + 1);
            r = acct_sql_exec(l, migrations[v], e, "migrate");
            if (r >= 0)
                r = acct_sql_exec(l, sql, e, "migrate");
            v++;
        }
        l->schema = (int)v;
        if (r >= 0)
            r = acct_sql_exec(l, "COMMIT", e, "migrate");
        if (r < 0) {
            (void)sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
            return r;
        }
    }
    return 0;
}

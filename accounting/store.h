/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The store seam: what the ledger (ledger.h) and the reports (report.h) need from the
 * storage behind a ledger, as a table of operations. SQLite (ledger.c, ledger-write.c,
 * ledger-schema.c, report-sql.c) is its one implementation, and the only code that
 * speaks SQL. The rules stay above the seam, in store.c: which rows are taken (none after
 * a group's final record, none older than its latest row, a final never lost to a racing
 * sample's time) and the delta rule (delta.h), a pure function of the previous state and
 * the new counters; the store only keeps what it is given.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting/ledger.h"

struct acct_store; /* an implementation's handle */
struct rp_ctx;     /* report-private.h */
struct rp_event;

/* One row, its deltas already computed: for the group store id. */
struct acct_store_row {
    const struct acct_group *g;
    const struct ctl_usage *u;
    uint64_t t_ns;
    const struct acct_final *f; /* a final record, or NULL */
    struct acct_state state;    /* the accounted cumulative values after this row */
    struct acct_delta delta;
};

/* The queries of a report (report-private.h says what each loads into c). */
struct acct_store_queries {
    int (*first_ns)(struct rp_ctx *c, uint64_t *ret);
    int (*load_instances)(struct rp_ctx *c);
    int (*instance)(struct rp_ctx *c, int64_t gid, size_t *ret);
    int (*usage)(struct rp_ctx *c);
    int (*load_prefix)(struct rp_ctx *c);
    int (*load_events)(struct rp_ctx *c, struct rp_event **ret, size_t *ret_n);
};

struct acct_store_ops {
    /* flags: ACCT_LEDGER_* (ledger.h). Errors as ledger.h says. */
    int (*open)(const char *path, unsigned flags, struct acct_store **ret, struct cg_err *e);
    void (*close)(struct acct_store *s);
    const char *(*path)(const struct acct_store *s);
    int (*check)(struct acct_store *s, struct cg_err *e);
    /* Every write call is one transaction: begin, then commit(r) which commits when
     * r >= 0, else rolls back and says in e that n records were not written ("what"). */
    int (*begin)(struct acct_store *s, struct cg_err *e);
    int (*commit)(struct acct_store *s, int r, size_t n, struct cg_err *e, const char *what);
    /* The group generation's id and start, created if new with its first row at t_ns
     * (exact_start_ns: a final record's exact start, else 0). */
    int (*group)(struct acct_store *s, const struct acct_group *g, uint64_t t_ns,
                 uint64_t exact_start_ns, int64_t *ret_id, uint64_t *ret_start_ns);
    /* The group's latest row: 1 and *ret filled, or 0 if it has none. */
    int (*last)(struct acct_store *s, int64_t id, struct acct_state *ret, bool *ret_final);
    /* Keeps a row (and its rollups, and a final's end): 1 if added, 0 if already there. */
    int (*put_row)(struct acct_store *s, int64_t id, const struct acct_store_row *row);
    int (*put_event)(struct acct_store *s, int64_t id, uint64_t t_ns, enum acct_event ev);
    const struct acct_store_queries *queries;
};

struct acct_ledger {
    const struct acct_store_ops *ops;
    struct acct_store *s;
};

/* The SQLite store (ledger.c) and its report queries (report-sql.c). */
extern const struct acct_store_ops acct_sqlite_store;
extern const struct acct_store_queries acct_sqlite_queries;

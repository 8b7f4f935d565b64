/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Chargeback and showback: usage of instance groups in [from, to), summed by account,
 * workload or instance, optionally per calendar bucket, priced with a rate card.
 *
 * Only instances are billed: they are the leaves where processes run; workload and class
 * groups are sampled for the record, so nothing is counted twice.
 *
 * Exact figures (from each instance's life and its freeze/thaw events, ledger.h):
 *   wall    |[start, end) n [from, to)|: an instance's life is [start, end), end being its
 *           final record's time, or while it has none its latest sample or event. So a
 *           window bounds what it bills, and an instance's wall time is its whole life
 *           whoever wrote its first row.
 *   frozen  the union of the frozen intervals of the instance, of its workload group and
 *           of its class group (a freeze of an ancestor freezes it), intersected with its
 *           life and the window. A group generation's freeze lasts until its next thaw,
 *           or without one until a later generation of the same path appears, or until
 *           the instance's life ends. The intervals come from the events the freezer
 *           commands write once the kernel confirms a change (`corral freeze`, `thaw`):
 *           a group frozen by writing its cgroup files by hand is not seen.
 * Sample resolution (the deltas of accounting/delta.h, each attributed to the time of the
 * sample or final record that observed it): CPU user/system, the memory integral, peak
 * memory, OOM kills, throttled time and reservation. A delta observed at t falls in the
 * window that holds t, so a window cuts these at the sampling interval. Whole UTC hours
 * inside a window (or bucket) are read from rollup_hour, the whole minutes around them
 * from rollup_minute, and only the partial minutes at the edges from the samples; every
 * rollup row is the exact sum of its samples, so this equals summing the samples. (A
 * ledger of schema 1, read without migrating it, has no rollup_minute: its partial hours
 * come from samples.)
 *
 * The union identity: the reports of consecutive windows [a, b) and [b, c) add up to the
 * report of [a, c) exactly, row by row, for every additive column (CPU, memory integral,
 * OOM kills, throttled, wall, frozen, billed CPU and memory, cost); peak memory is the
 * maximum of the two; `instances` is a distinct count, so an instance that spans the cut
 * counts in both. Cost keeps the identity through cumulative rounding (money.h).
 *
 * Buckets (per): calendar hours, days, ISO weeks (Monday 00:00) or months, in UTC or in
 * local time (TZ), clipped to [from, to); one row per (bucket, key), each bucket a window
 * of its own (so the identity above holds between buckets too).
 *
 * Billing: "usage" prices CPU and memory used; "reservation" prices max(limit x wall,
 * usage) per sample interval, as OpenCost does (without a limit: the usage); "none" is
 * showback: usage without prices or cost.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "accounting/ledger.h"
#include "accounting/when.h"
#include "accounting/rates.h"

enum acct_by {
    ACCT_BY_ACCOUNT,
    ACCT_BY_WORKLOAD,
    ACCT_BY_INSTANCE,
    _ACCT_BY_MAX,
    _ACCT_BY_INVALID = -EINVAL,
};

enum acct_billing {
    ACCT_BILL_USAGE,
    ACCT_BILL_RESERVATION,
    ACCT_BILL_NONE, /* showback */
    _ACCT_BILL_MAX,
    _ACCT_BILL_INVALID = -EINVAL,
};

enum acct_format {
    ACCT_FMT_TABLE,
    ACCT_FMT_CSV,
    ACCT_FMT_JSON,
    _ACCT_FMT_MAX,
    _ACCT_FMT_INVALID = -EINVAL,
};

const char *acct_by_to_string(enum acct_by b);
enum acct_by acct_by_from_string(const char *s);
const char *acct_billing_to_string(enum acct_billing b);
enum acct_billing acct_billing_from_string(const char *s);
const char *acct_format_to_string(enum acct_format f);
enum acct_format acct_format_from_string(const char *s);

struct acct_report_opts {
    uint64_t from_ns; /* inclusive; 0: the ledger's first observation (sample or start) */
    uint64_t to_ns;   /* exclusive; from == to is an empty report */
    enum acct_by by;
    enum acct_billing billing;
    enum acct_per per;              /* ACCT_PER_NONE: one row per key over [from, to) */
    bool local;                     /* buckets and shown times in local time (TZ), else UTC */
    const struct acct_rates *rates; /* NULL: no prices, cost 0 */
};

/* One account's share of a row, and what that account of the row's key was billed
 * before the row's window: all it takes to recompute the row's cost (money.h). */
struct acct_report_bill {
    char *account;
    uint64_t ppm; /* its multiplier */
    uint64_t cpu_billed_ns, mem_billed_bs;
    uint64_t cpu_before_ns, mem_before_bs;
};

struct acct_report_row {
    char *key;               /* account, workload, or workload/instance; NULL for the total */
    uint64_t from_ns, to_ns; /* the row's window: its bucket, or the report's range */
    uint64_t instances;      /* instance generations that contributed (distinct) */
    uint64_t cpu_user_ns;
    uint64_t cpu_system_ns;
    uint64_t cpu_billed_ns; /* = user + system, or the reservation */
    uint64_t mem_bs;
    uint64_t mem_billed_bs;
    uint64_t mem_peak; /* bytes */
    uint64_t oom_kills;
    uint64_t throttled_ns;
    uint64_t wall_ns;
    uint64_t frozen_ns;
    uint64_t cost_micro;
    /* --by instance (the latest generation of the key when it had several): */
    uint64_t start_ns, end_ns; /* its life; end_ns is the latest observation if running */
    bool running;              /* no final record yet */
    int exit_status;           /* ACCT_EXIT_UNKNOWN when unknown */
    char *policy;              /* NULL when unknown */
    size_t n_bills;
    struct acct_report_bill *bills; /* by account name */
};

struct acct_report_multiplier {
    char *account;
    uint64_t ppm;
};

struct acct_report {
    struct acct_report_opts opts; /* from_ns resolved; rates pointer not kept (below) */
    char *zone;                   /* "UTC", or the local zone's name (--local) */
    char currency[8];
    uint64_t cpu_core_hour_micro;
    uint64_t mem_gib_hour_micro;
    size_t n_multipliers;
    struct acct_report_multiplier *multipliers;
    size_t n;
    struct acct_report_row *rows; /* sorted by (bucket, key) */
    struct acct_report_row total; /* sums; mem_peak the max; instances distinct; cost the
                                   * sum of the rows' costs */
};

int acct_report_build(struct acct_ledger *l, const struct acct_report_opts *o,
                      struct acct_report **ret, struct cg_err *e);
void acct_report_free(struct acct_report *r);
DEFINE_POINTER_CLEANUP(struct acct_report, acct_report_free)

/*
 * Output (format.c). Nothing is written on error other than what was written before it;
 * callers that must not show partial output print into a memory stream first.
 *   table  libsmartcols: a header line (range, zone, grouping, billing), columns as wide
 *          as their widest cell, a TOTAL line. width > 0 truncates the key column (only)
 *          with an ellipsis so that the table fits in width columns; 0: never cut.
 *   csv    RFC 4180 (CRLF, fields with , " CR LF quoted, quotes doubled); one header
 *          line; the total is the last line with by = "total" and an empty key. Never cut.
 *   json   one object (jansson; strings through cg_json_str), schema version 2, a
 *          superset of version 1:
 *          {"version":2,"from":ISO8601,"to":ISO8601,"from_ns":N,"to_ns":N,"zone":S,
 *           "by":"account","per":"none|hour|day|week|month","billing":"usage",
 *           "currency":"EUR","rates":{"cpu_core_hour_micro":N,"mem_gib_hour_micro":N},
 *           "multipliers":{ACCOUNT:PPM...},"rounding":{...},"rows":[ROW...],"total":ROW}
 *          ROW = {"key":S,"from":ISO8601,"to":ISO8601,"from_ns":N,"to_ns":N,
 *           "instances":N,"cpu_user_ns":N,"cpu_system_ns":N,"cpu_billed_ns":N,
 *           "mem_byte_seconds":N,"mem_billed_byte_seconds":N,"mem_peak_bytes":N,
 *           "oom_kills":N,"throttled_ns":N,"wall_ns":N,"frozen_ns":N,"cost_micro":N,
 *           "cost":"D.DDDDDD","accounts":[{"account":S,"multiplier_ppm":N,
 *           "cpu_billed_ns":N,"mem_billed_byte_seconds":N,"cpu_billed_before_ns":N,
 *           "mem_billed_before_byte_seconds":N}...]}
 *           plus, by instance, "start","start_ns","end","end_ns" (null while running),
 *           "running","exit_status" (null unknown),"policy" (null unknown).
 *          The total has no key, bucket, accounts or instance fields. With billing
 *          "none", "currency", "rates", "multipliers", "rounding", the cost fields and
 *          "accounts" are left out. Integers are exact; cost is cost_micro as a decimal.
 */
int acct_report_print(FILE *f, const struct acct_report *r, enum acct_format fmt, unsigned width);

/* One RFC 4180 field (quoted only when needed). */
void acct_csv_field(FILE *f, const char *s);

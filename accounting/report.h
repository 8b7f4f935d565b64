/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Chargeback: usage of instance groups in [from, to), summed by account, workload or
 * instance, priced with a rate card.
 *
 * What is counted: the deltas (accounting/delta.h) of every instance group sample and
 * final record whose time falls in [from, to): a delta is attributed to the time it was
 * observed, so the report's time resolution is the sampling interval. Instances are the
 * leaves where processes run; workload and class groups are sampled for the record but
 * not billed, so nothing is counted twice. Whole UTC hours inside the range are read
 * from rollup_hour, the whole minutes around them from rollup_minute, and only the (at
 * most two) partial minutes at its edges from the samples; as every rollup row is the
 * exact sum of its samples, the result equals summing the samples. (A ledger of schema 1,
 * read without migrating it, has no rollup_minute: its partial hours come from samples.)
 *
 * Per row: CPU user/system (ns), memory integral (byte-seconds), peak memory (the
 * highest peak of any of its instances), OOM kills, wall time and frozen time (summed
 * over instances: instance-seconds), and the cost (accounting/money.h). Billing
 * "reservation" prices max(limit x wall, usage) per sample interval instead of usage,
 * as OpenCost does; without a limit it is the usage.
 */

#include <stdint.h>
#include <stdio.h>

#include "accounting/ledger.h"
#include "policy/policy.h"

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
    uint64_t from_ns; /* inclusive */
    uint64_t to_ns;   /* exclusive */
    enum acct_by by;
    enum acct_billing billing;
    const struct pol_rates *rates; /* NULL: no prices, cost 0 */
};

struct acct_report_row {
    char key[140];      /* account, workload, or workload/instance; "" for the total */
    uint64_t instances; /* instance generations that contributed */
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
};

struct acct_report {
    struct acct_report_opts opts; /* rates pointer not kept; see below */
    char currency[8];
    uint64_t cpu_core_hour_micro;
    uint64_t mem_gib_hour_micro;
    size_t n;
    struct acct_report_row *rows; /* sorted by key */
    struct acct_report_row total; /* sums; mem_peak is the max; cost = sum of row costs */
};

int acct_report_build(struct acct_ledger *l, const struct acct_report_opts *o,
                      struct acct_report **ret, struct cg_err *e);
void acct_report_free(struct acct_report *r);
DEFINE_POINTER_CLEANUP(struct acct_report, acct_report_free)

/*
 * Output (format.c). Nothing is written on error other than what fputs wrote; callers
 * that must not show partial output print into a memory stream first.
 *   table  aligned columns for a terminal, a TOTAL line.
 *   csv    RFC 4180 (CRLF, fields with , " CR LF quoted, quotes doubled); one header
 *          line; the total is the last line with by = "total" and an empty key.
 *   json   one object, schema version 1:
 *          {"version":1,"from":ISO8601,"to":ISO8601,"by":"account","billing":"usage",
 *           "currency":"EUR","rates":{"cpu_core_hour_micro":N,"mem_gib_hour_micro":N},
 *           "rows":[ROW...],"total":ROW}
 *          ROW = {"key":S,"instances":N,"cpu_user_ns":N,"cpu_system_ns":N,
 *           "cpu_billed_ns":N,"mem_byte_seconds":N,"mem_billed_byte_seconds":N,
 *           "mem_peak_bytes":N,"oom_kills":N,"throttled_ns":N,"wall_ns":N,
 *           "frozen_ns":N,"cost_micro":N,"cost":"D.DDDDDD"}
 *          (total has no "key"). Integers are exact; cost is cost_micro as a decimal.
 */
int acct_report_print(FILE *f, const struct acct_report *r, enum acct_format fmt);

/* One RFC 4180 field (quoted only when needed). */
void acct_csv_field(FILE *f, const char *s);
/* A JSON string literal. */
void acct_json_string(FILE *f, const char *s);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A report as JSON, version 2 (report.h): jansson, every string through cg_json_str. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/format-private.h"
#include "accounting/money.h"
#include "core/utf8.h"

/* Sets o[k] = v, taking v; -ENOMEM when v is NULL or the set fails. */
static int put(json_t *o, const char *k, json_t *v)
{
    return v && json_object_set_new(o, k, v) == 0 ? 0 : -ENOMEM;
}

static int put_u64(json_t *o, const char *k, uint64_t v)
{
    return put(o, k, json_integer((json_int_t)v));
}

static int put_time(json_t *o, const char *k, const char *k_ns, uint64_t t, bool local)
{
    char buf[64];
    int r = put(o, k, json_string(acct_fmt_time(buf, sizeof(buf), t, local)));
    return r < 0 ? r : put_u64(o, k_ns, t);
}

static int put_bills(json_t *o, const struct acct_report_row *row)
{
    json_t *a = json_array();
    int r = put(o, "accounts", a);

    for (size_t i = 0; r >= 0 && i < row->n_bills; i++) {
        const struct acct_report_bill *b = &row->bills[i];
        json_t *x = json_object();
        r = x && json_array_append_new(a, x) == 0 ? 0 : -ENOMEM;
        if (r >= 0)
            r = put(x, "account", cg_json_str(b->account));
        if (r >= 0)
            r = put_u64(x, "multiplier_ppm", b->ppm);
        if (r >= 0)
            r = put_u64(x, "cpu_billed_ns", b->cpu_billed_ns);
        if (r >= 0)
            r = put_u64(x, "mem_billed_byte_seconds", b->mem_billed_bs);
        if (r >= 0)
            r = put_u64(x, "cpu_billed_before_ns", b->cpu_before_ns);
        if (r >= 0)
            r = put_u64(x, "mem_billed_before_byte_seconds", b->mem_before_bs);
    }
    return r;
}

static int put_instance(json_t *o, const struct acct_report_row *row, bool local)
{
    int r = put_time(o, "start", "start_ns", row->start_ns, local);

    if (r >= 0 && row->running)
        r = put(o, "end", json_null());
    if (r >= 0 && row->running)
        r = put(o, "end_ns", json_null());
    if (r >= 0 && !row->running)
        r = put_time(o, "end", "end_ns", row->end_ns, local);
    if (r >= 0)
        r = put(o, "running", json_boolean(row->running));
    if (r >= 0)
        r = put(o, "exit_status",
                row->exit_status == ACCT_EXIT_UNKNOWN ? json_null()
                                                      : json_integer(row->exit_status));
    if (r >= 0)
        r = put(o, "policy", cg_json_str(row->policy));
    return r;
}

static json_t *row_json(const struct acct_report *r, const struct acct_report_row *row, bool total)
{
    const bool bills = r->opts.billing != ACCT_BILL_NONE;
    const struct {
        const char *k;
        uint64_t v;
    } nums[] = {
        {"instances", row->instances},         {"cpu_user_ns", row->cpu_user_ns},
        {"cpu_system_ns", row->cpu_system_ns}, {"cpu_billed_ns", row->cpu_billed_ns},
        {"mem_byte_seconds", row->mem_bs},     {"mem_billed_byte_seconds", row->mem_billed_bs},
        {"mem_peak_bytes", row->mem_peak},     {"oom_kills", row->oom_kills},
        {"throttled_ns", row->throttled_ns},   {"wall_ns", row->wall_ns},
        {"frozen_ns", row->frozen_ns},
    };
    json_t *o = json_object();
    char cost[40];
    int res = o ? 0 : -ENOMEM;

    if (res >= 0 && !total)
        res = put(o, "key", cg_json_str(row->key));
    if (res >= 0 && !total)
        res = put_time(o, "from", "from_ns", row->from_ns, r->opts.local);
    if (res >= 0 && !total)
        res = put_time(o, "to", "to_ns", row->to_ns, r->opts.local);
    for (size_t i = 0; res >= 0 && i < sizeof(nums) / sizeof(nums[0]); i++)
        if (bills ||
            (strcmp(nums[i].k, "cpu_billed_ns") && strcmp(nums[i].k, "mem_billed_byte_seconds")))
            res = put_u64(o, nums[i].k, nums[i].v);
    if (res >= 0 && bills)
        res = put_u64(o, "cost_micro", row->cost_micro);
    if (res >= 0 && bills)
        res =
            put(o, "cost", json_string(acct_fmt_fixed(cost, sizeof(cost), row->cost_micro, 6, 6)));
    if (res >= 0 && bills && !total)
        res = put_bills(o, row);
    if (res >= 0 && !total && r->opts.by == ACCT_BY_INSTANCE)
        res = put_instance(o, row, r->opts.local);
    if (res < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* What it takes to recompute the cost: prices, multipliers and the rounding rule. */
static int put_prices(json_t *root, const struct acct_report *r)
{
    json_t *rates = json_object(), *mult = json_object(), *round = json_object();
    int res = put(root, "currency", cg_json_str(r->currency));

    if (put(root, "rates", rates) < 0 || put(root, "multipliers", mult) < 0 ||
        put(root, "rounding", round) < 0)
        return -ENOMEM;
    if (res >= 0)
        res = put_u64(rates, "cpu_core_hour_micro", r->cpu_core_hour_micro);
    if (res >= 0)
        res = put_u64(rates, "mem_gib_hour_micro", r->mem_gib_hour_micro);
    for (size_t i = 0; res >= 0 && i < r->n_multipliers; i++) {
        _cleanup_free_ char *k = cg_utf8_escape(r->multipliers[i].account);
        res = k ? put_u64(mult, k, r->multipliers[i].ppm) : -ENOMEM;
    }
    if (res >= 0)
        res = put(round, "rule", json_string("cumulative"));
    if (res >= 0)
        res = put(round, "unit", json_string("micro"));
    if (res >= 0)
        res = put(round, "mode", json_string("half-up"));
    if (res >= 0)
        res = put(round, "text", json_string(ACCT_ROUNDING_RULE));
    return res;
}

static int header(json_t *root, const struct acct_report *r)
{
    int res = put_u64(root, "version", 2);

    if (res >= 0)
        res = put_time(root, "from", "from_ns", r->opts.from_ns, r->opts.local);
    if (res >= 0)
        res = put_time(root, "to", "to_ns", r->opts.to_ns, r->opts.local);
    if (res >= 0)
        res = put(root, "zone", cg_json_str(r->zone));
    if (res >= 0)
        res = put(root, "by", json_string(acct_by_to_string(r->opts.by)));
    if (res >= 0)
        res = put(root, "per", json_string(acct_per_to_string(r->opts.per)));
    if (res >= 0)
        res = put(root, "billing", json_string(acct_billing_to_string(r->opts.billing)));
    if (res >= 0 && r->opts.billing != ACCT_BILL_NONE)
        res = put_prices(root, r);
    return res;
}

int acct_report_print_json(FILE *f, const struct acct_report *r)
{
    json_t *root = json_object(), *rows = json_array();
    int res = root && rows ? 0 : -ENOMEM;

    if (res >= 0)
        res = header(root, r);
    if (res >= 0)
        res = put(root, "rows", rows);
    else
        json_decref(rows);
    for (size_t i = 0; res >= 0 && i < r->n; i++)
        res = json_array_append_new(rows, row_json(r, &r->rows[i], false)) == 0 ? 0 : -ENOMEM;
    if (res >= 0)
        res = put(root, "total", row_json(r, &r->total, true));
    if (res >= 0 && (json_dumpf(root, f, JSON_COMPACT) < 0 || fputc('\n', f) == EOF))
        res = -EIO;
    json_decref(root);
    return res;
}

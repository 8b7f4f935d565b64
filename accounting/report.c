/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/ledger-private.h"
#include "accounting/money.h"
#include "accounting/report.h"

#define HOUR_NS (3600ull * 1000000000u)

static const char *const by_names[_ACCT_BY_MAX] = {"account", "workload", "instance"};
static const char *const bill_names[_ACCT_BILL_MAX] = {"usage", "reservation"};
static const char *const fmt_names[_ACCT_FMT_MAX] = {"table", "csv", "json"};

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return -EINVAL;
}

const char *acct_by_to_string(enum acct_by b)
{
    return b >= 0 && b < _ACCT_BY_MAX ? by_names[b] : NULL;
}
enum acct_by acct_by_from_string(const char *s)
{
    return (enum acct_by)lookup(by_names, _ACCT_BY_MAX, s);
}
const char *acct_billing_to_string(enum acct_billing b)
{
    return b >= 0 && b < _ACCT_BILL_MAX ? bill_names[b] : NULL;
}
enum acct_billing acct_billing_from_string(const char *s)
{
    return (enum acct_billing)lookup(bill_names, _ACCT_BILL_MAX, s);
}
const char *acct_format_to_string(enum acct_format f)
{
    return f >= 0 && f < _ACCT_FMT_MAX ? fmt_names[f] : NULL;
}
enum acct_format acct_format_from_string(const char *s)
{
    return (enum acct_format)lookup(fmt_names, _ACCT_FMT_MAX, s);
}

void acct_report_free(struct acct_report *r)
{
    if (!r)
        return;
    free(r->rows);
    free(r);
}

/* One instance generation's sums in the range, with its row key and account. */
struct part {
    char key[140];
    char account[65];
    struct acct_report_row u;
};

/* Deltas per group: rollup hours fully inside [from, to) plus raw samples at the edges.
 * Only instance groups are billed (report.h). */
static const char report_sql[] =
    "SELECT g.workload, g.instance, g.account, sum(x.a), sum(x.b), sum(x.c), sum(x.d),"
    " sum(x.e), sum(x.f), sum(x.g), sum(x.h), sum(x.i), max(x.p), sum(x.n)"
    " FROM (SELECT group_id, d_cpu_user_ns a, d_cpu_system_ns b, d_mem_bs c, d_oom_kills d,"
    "   d_throttled_ns e, d_wall_ns f, d_frozen_ns g, d_cpu_reserved_ns h, d_mem_reserved_bs i,"
    "   mem_peak p, n FROM rollup_hour WHERE hour >= ?1 AND hour < ?2"
    /* The edges go group by group through the primary key (group_id, t_ns): one seek
     * per group instead of a lookup per sample. */
    "  UNION ALL SELECT s.group_id, s.d_cpu_user_ns, s.d_cpu_system_ns, s.d_mem_bs,"
    "   s.d_oom_kills, s.d_throttled_ns, s.d_wall_ns, s.d_frozen_ns, s.d_cpu_reserved_ns,"
    "   s.d_mem_reserved_bs, s.mem_peak, 1 FROM groups e CROSS JOIN samples s NOT INDEXED"
    "   ON s.group_id = e.id AND s.t_ns >= ?3 AND s.t_ns < ?4 WHERE e.kind = 'instance'"
    "  UNION ALL SELECT s.group_id, s.d_cpu_user_ns, s.d_cpu_system_ns, s.d_mem_bs,"
    "   s.d_oom_kills, s.d_throttled_ns, s.d_wall_ns, s.d_frozen_ns, s.d_cpu_reserved_ns,"
    "   s.d_mem_reserved_bs, s.mem_peak, 1 FROM groups e CROSS JOIN samples s NOT INDEXED"
    "   ON s.group_id = e.id AND s.t_ns >= ?5 AND s.t_ns < ?6 WHERE e.kind = 'instance'"
    " ) x JOIN groups g ON g.id = x.group_id WHERE g.kind = 'instance'"
    " GROUP BY x.group_id";

static uint64_t col(sqlite3_stmt *st, int i)
{
    int64_t v = sqlite3_column_int64(st, i);
    return v > 0 ? (uint64_t)v : 0;
}

static int cmp_part(const void *a, const void *b)
{
    const struct part *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->account, y->account);
}

static void add_row(struct acct_report_row *to, const struct acct_report_row *u)
{
    to->instances += u->instances;
    to->cpu_user_ns += u->cpu_user_ns;
    to->cpu_system_ns += u->cpu_system_ns;
    to->cpu_billed_ns += u->cpu_billed_ns;
    to->mem_bs += u->mem_bs;
    to->mem_billed_bs += u->mem_billed_bs;
    to->oom_kills += u->oom_kills;
    to->throttled_ns += u->throttled_ns;
    to->wall_ns += u->wall_ns;
    to->frozen_ns += u->frozen_ns;
    if (u->mem_peak > to->mem_peak)
        to->mem_peak = u->mem_peak;
}

/* Same rule as pol_rates_multiplier(), which lives in the policy library (not linked
 * here: accounting only shares its struct). */
static uint64_t multiplier(const struct pol_rates *rates, const char *account)
{
    for (size_t i = 0; rates && i < rates->n_multipliers; i++)
        if (strcmp(rates->multipliers[i].account, account) == 0)
            return rates->multipliers[i].ppm;
    return ACCT_PPM_ONE;
}

static int query(struct acct_ledger *l, const struct acct_report_opts *o, struct part **ret,
                 size_t *ret_n, struct cg_err *e)
{
    _cleanup_free_ struct part *parts = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    uint64_t h_lo = (o->from_ns + HOUR_NS - 1) / HOUR_NS, h_hi = o->to_ns / HOUR_NS;
    int rc, r;

    rc = sqlite3_prepare_v2(l->db, report_sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return acct_sql_err(l, e, acct_sql_errno(l->db, rc), "report");
    if (h_lo < h_hi) {
        (void)sqlite3_bind_int64(st, 1, (int64_t)h_lo);
        (void)sqlite3_bind_int64(st, 2, (int64_t)h_hi);
        (void)sqlite3_bind_int64(st, 3, (int64_t)o->from_ns);
        (void)sqlite3_bind_int64(st, 4, (int64_t)(h_lo * HOUR_NS));
        (void)sqlite3_bind_int64(st, 5, (int64_t)(h_hi * HOUR_NS));
        (void)sqlite3_bind_int64(st, 6, (int64_t)o->to_ns);
    } else {
        (void)sqlite3_bind_int64(st, 1, 0);
        (void)sqlite3_bind_int64(st, 2, 0);
        (void)sqlite3_bind_int64(st, 3, (int64_t)o->from_ns);
        (void)sqlite3_bind_int64(st, 4, (int64_t)o->to_ns);
        (void)sqlite3_bind_int64(st, 5, 0);
        (void)sqlite3_bind_int64(st, 6, 0);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *wl = (const char *)sqlite3_column_text(st, 0);
        const char *in = (const char *)sqlite3_column_text(st, 1);
        const char *ac = (const char *)sqlite3_column_text(st, 2);
        struct part *p;

        if (n == cap) {
            size_t c = cap ? cap * 2 : 64;
            struct part *np = realloc(parts, c * sizeof(*np));
            if (!np) {
                (void)sqlite3_finalize(st);
                return -ENOMEM;
            }
            parts = np;
            cap = c;
        }
        p = &parts[n++];
        memset(p, 0, sizeof(*p));
        snprintf(p->account, sizeof(p->account), "%s", ac ? ac : "");
        if (o->by == ACCT_BY_ACCOUNT)
            snprintf(p->key, sizeof(p->key), "%s", p->account);
        else if (o->by == ACCT_BY_WORKLOAD)
            snprintf(p->key, sizeof(p->key), "%s", wl ? wl : "");
        else
            snprintf(p->key, sizeof(p->key), "%s/%s", wl ? wl : "", in ? in : "");
        p->u.cpu_user_ns = col(st, 3);
        p->u.cpu_system_ns = col(st, 4);
        p->u.mem_bs = col(st, 5);
        p->u.oom_kills = col(st, 6);
        p->u.throttled_ns = col(st, 7);
        p->u.wall_ns = col(st, 8);
        p->u.frozen_ns = col(st, 9);
        if (o->billing == ACCT_BILL_RESERVATION) {
            p->u.cpu_billed_ns = col(st, 10);
            p->u.mem_billed_bs = col(st, 11);
        } else {
            p->u.cpu_billed_ns = p->u.cpu_user_ns + p->u.cpu_system_ns;
            p->u.mem_billed_bs = p->u.mem_bs;
        }
        p->u.mem_peak = col(st, 12);
        p->u.instances = 1;
    }
    r = rc == SQLITE_DONE ? 0 : acct_sql_errno(l->db, rc);
    if (r < 0)
        (void)acct_sql_err(l, e, r, "report");
    (void)sqlite3_finalize(st);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(parts);
    *ret_n = n;
    return 0;
}

int acct_report_build(struct acct_ledger *l, const struct acct_report_opts *o,
                      struct acct_report **ret, struct cg_err *e)
{
    _cleanup_(acct_report_freep) struct acct_report *rep = NULL;
    _cleanup_free_ struct part *parts = NULL;
    const struct pol_rates *rates = o->rates;
    size_t n = 0;
    int r;

    if (o->by < 0 || o->by >= _ACCT_BY_MAX || o->billing < 0 || o->billing >= _ACCT_BILL_MAX)
        return cg_err_set(e, -EINVAL, NULL, NULL, "invalid report options");
    if (o->from_ns >= o->to_ns || o->to_ns > (uint64_t)INT64_MAX)
        return cg_err_set(e, -EINVAL, NULL, NULL, "empty or invalid time range");
    rep = calloc(1, sizeof(*rep));
    if (!rep)
        return -ENOMEM;
    rep->opts = *o;
    rep->opts.rates = NULL;
    if (rates) {
        snprintf(rep->currency, sizeof(rep->currency), "%s", rates->currency);
        rep->cpu_core_hour_micro = rates->cpu_core_hour_micro;
        rep->mem_gib_hour_micro = rates->mem_gib_hour_micro;
    }
    r = query(l, o, &parts, &n, e);
    if (r < 0)
        return r;
    qsort(parts, n, sizeof(*parts), cmp_part);
    rep->rows = calloc(n ? n : 1, sizeof(*rep->rows));
    if (!rep->rows)
        return -ENOMEM;
    for (size_t i = 0; i < n;) {
        struct acct_report_row *row = &rep->rows[rep->n++];
        struct acct_cost cost = {0};
        size_t j = i;

        snprintf(row->key, sizeof(row->key), "%s", parts[i].key);
        /* Sum per (key, account) first: one multiplier per account, one rounding per row. */
        while (j < n && strcmp(parts[j].key, row->key) == 0) {
            struct acct_report_row acc = {0};
            size_t k = j;
            while (k < n && strcmp(parts[k].key, row->key) == 0 &&
                   strcmp(parts[k].account, parts[j].account) == 0)
                add_row(&acc, &parts[k++].u);
            acct_cost_add(&cost, acc.cpu_billed_ns, acc.mem_billed_bs, rep->cpu_core_hour_micro,
                          rep->mem_gib_hour_micro, multiplier(rates, parts[j].account));
            add_row(row, &acc);
            j = k;
        }
        r = acct_cost_round(&cost, &row->cost_micro);
        if (r < 0)
            return cg_err_set(e, r, NULL, NULL, "cost of '%s' is out of range", row->key);
        add_row(&rep->total, row);
        if (__builtin_add_overflow(rep->total.cost_micro, row->cost_micro, &rep->total.cost_micro))
            return cg_err_set(e, -ERANGE, NULL, NULL, "total cost is out of range");
        i = j;
    }
    *ret = TAKE_PTR(rep);
    return 0;
}

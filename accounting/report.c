/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/ledger-private.h"
#include "accounting/money.h"
#include "accounting/report.h"

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

/*
 * [from, to) is cut into at most five segments, each read from the coarsest table that
 * covers it exactly: the whole UTC hours from rollup_hour, the whole minutes around them
 * from rollup_minute, and the partial minutes at the two edges from the samples. Each
 * segment is summed per group in the primary key's order (one seek per group, no sort),
 * and the per-group sums are added up once more per group (a few rows per group). Every
 * rollup row is the exact sum of its samples (ledger.h), so the result is the same as
 * summing the samples of the range. Only instance groups are billed (report.h).
 * A ledger of schema 1 (opened read-only, not migrated) has no rollup_minute: its partial
 * hours are read from the samples.
 */
enum seg_table {
    SEG_HOUR,
    SEG_MINUTE,
    SEG_SAMPLES,
};

struct segment {
    enum seg_table table;
    uint64_t lo, hi; /* [lo, hi) in the table's key: hour, minute or t_ns */
};

#define SEG_SUMS                                                                                   \
    "SELECT e.id gid, sum(s.d_cpu_user_ns) a, sum(s.d_cpu_system_ns) b, sum(s.d_mem_bs) c,"        \
    " sum(s.d_oom_kills) d, sum(s.d_throttled_ns) e, sum(s.d_wall_ns) f,"                          \
    " sum(s.d_frozen_ns) g, sum(s.d_cpu_reserved_ns) h, sum(s.d_mem_reserved_bs) i,"               \
    " max(s.mem_peak) p, "

static const char *const seg_sql[] = {
    [SEG_HOUR] = SEG_SUMS "sum(s.n) n FROM groups e CROSS JOIN rollup_hour s ON s.group_id ="
                          " e.id AND s.hour >= ? AND s.hour < ? WHERE e.kind = 'instance'"
                          " GROUP BY e.id",
    [SEG_MINUTE] = SEG_SUMS "sum(s.n) n FROM groups e CROSS JOIN rollup_minute s ON s.group_id"
                            " = e.id AND s.minute >= ? AND s.minute < ? WHERE e.kind ="
                            " 'instance' GROUP BY e.id",
    [SEG_SAMPLES] = SEG_SUMS "count(*) n FROM groups e CROSS JOIN samples s ON s.group_id ="
                             " e.id AND s.t_ns >= ? AND s.t_ns < ? WHERE e.kind = 'instance'"
                             " GROUP BY e.id",
};

/* The segments of [from, to): whole hours, whole minutes, partial minutes. Returns how
 * many (non-empty, in no particular order; together exactly [from, to)). */
static size_t segments(uint64_t from, uint64_t to, bool minutes, struct segment seg[5])
{
    const uint64_t fine = minutes ? ACCT_MINUTE_NS : ACCT_HOUR_NS;
    uint64_t h_lo = (from + ACCT_HOUR_NS - 1) / ACCT_HOUR_NS, h_hi = to / ACCT_HOUR_NS;
    uint64_t f_lo = (from + fine - 1) / fine, f_hi = to / fine; /* whole fine units */
    uint64_t f_mid_lo, f_mid_hi; /* fine units covered by whole hours */
    size_t n = 0;

    if (f_lo >= f_hi) { /* no whole fine unit: all from the samples */
        seg[n++] = (struct segment){SEG_SAMPLES, from, to};
        return n;
    }
    if (minutes && h_lo < h_hi) {
        seg[n++] = (struct segment){SEG_HOUR, h_lo, h_hi};
        f_mid_lo = h_lo * (ACCT_HOUR_NS / ACCT_MINUTE_NS);
        f_mid_hi = h_hi * (ACCT_HOUR_NS / ACCT_MINUTE_NS);
    } else {
        f_mid_lo = f_mid_hi = f_hi;
    }
    if (f_lo < f_mid_lo)
        seg[n++] = (struct segment){minutes ? SEG_MINUTE : SEG_HOUR, f_lo, f_mid_lo};
    if (f_mid_hi < f_hi)
        seg[n++] = (struct segment){minutes ? SEG_MINUTE : SEG_HOUR, f_mid_hi, f_hi};
    if (from < f_lo * fine)
        seg[n++] = (struct segment){SEG_SAMPLES, from, f_lo * fine};
    if (f_hi * fine < to)
        seg[n++] = (struct segment){SEG_SAMPLES, f_hi * fine, to};
    return n;
}

/* The instance groups' sums over the segments, then their names: one row per group. */
static int build_sql(const struct segment *seg, size_t n, char **ret)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return -ENOMEM;
    fputs("SELECT g.workload, g.instance, g.account, sum(x.a), sum(x.b), sum(x.c), sum(x.d),"
          " sum(x.e), sum(x.f), sum(x.g), sum(x.h), sum(x.i), max(x.p), sum(x.n) FROM (",
          f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? " UNION ALL " : "", f);
        fputs(seg_sql[seg[i].table], f);
    }
    fputs(") x JOIN groups g ON g.id = x.gid GROUP BY x.gid", f);
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *ret = buf;
    return 0;
}

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
    _cleanup_free_ char *sql = NULL;
    struct segment seg[5];
    size_t n = 0, cap = 0, nseg;
    sqlite3_stmt *st = NULL;
    int rc, r;

    nseg = segments(o->from_ns, o->to_ns, l->schema >= 2, seg);
    r = build_sql(seg, nseg, &sql);
    if (r < 0)
        return r;
    rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return acct_sql_err(l, e, acct_sql_errno(l->db, rc), "report");
    for (size_t i = 0; i < nseg; i++) {
        (void)sqlite3_bind_int64(st, (int)(2 * i + 1), (int64_t)seg[i].lo);
        (void)sqlite3_bind_int64(st, (int)(2 * i + 2), (int64_t)seg[i].hi);
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
    if (n > 0) /* qsort's base must not be NULL, even for no elements */
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

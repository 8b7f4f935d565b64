/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a report reads from the ledger: instances, usage, the billed prefix, events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/ledger-private.h"
#include "accounting/report-private.h"

/*
 * A window [lo, hi) is cut into at most five segments, each read from the coarsest table
 * that covers it exactly: the whole UTC hours from rollup_hour, the whole minutes around
 * them from rollup_minute, and the partial minutes at the two edges from the samples.
 * Each segment is summed per instance group in the primary key's order (one seek per
 * group, no sort). Every rollup row is the exact sum of its samples (ledger.h), so the
 * result is the same as summing the samples of the window. A ledger of schema 1 (opened
 * read-only, not migrated) has no rollup_minute: its partial hours come from the samples.
 */
enum seg_table {
    SEG_HOUR,
    SEG_MINUTE,
    SEG_SAMPLES,
};

static const struct {
    const char *table, *unit;
} seg_tab[] = {
    [SEG_HOUR] = {"rollup_hour", "hour"},
    [SEG_MINUTE] = {"rollup_minute", "minute"},
    [SEG_SAMPLES] = {"samples", "t_ns"},
};

struct segment {
    enum seg_table table;
    uint64_t lo, hi; /* [lo, hi) in the table's key: hour, minute or t_ns */
    size_t bucket;
    int sign; /* +1, or -1 for a part taken off (the billed prefix) */
};

static uint64_t col(sqlite3_stmt *st, int i)
{
    int64_t v = sqlite3_column_int64(st, i);
    return v > 0 ? (uint64_t)v : 0;
}

static char *col_str(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? strdup(s) : NULL;
}

static int sql_fail(struct rp_ctx *c, int rc, const char *what)
{
    return acct_sql_err(c->l->s, c->e, acct_sql_errno(c->l->s->db, rc), what);
}

static int prepare(struct rp_ctx *c, const char *sql, sqlite3_stmt **ret)
{
    int rc = sqlite3_prepare_v2(c->l->s->db, sql, -1, ret, NULL);

    return rc == SQLITE_OK ? 0 : sql_fail(c, rc, "report");
}

/* The segments of [from, to): whole hours, whole minutes, partial minutes. Returns how
 * many (non-empty, in no particular order; together exactly [from, to)). */
static size_t segments(uint64_t from, uint64_t to, bool minutes, size_t bucket,
                       struct segment seg[5])
{
    const uint64_t fine = minutes ? ACCT_MINUTE_NS : ACCT_HOUR_NS;
    const enum seg_table ft = minutes ? SEG_MINUTE : SEG_HOUR;
    uint64_t h_lo = (from + ACCT_HOUR_NS - 1) / ACCT_HOUR_NS, h_hi = to / ACCT_HOUR_NS;
    uint64_t f_lo = (from + fine - 1) / fine, f_hi = to / fine; /* whole fine units */
    uint64_t f_mid_lo, f_mid_hi; /* fine units covered by whole hours */
    size_t n = 0;

    if (f_lo >= f_hi) { /* no whole fine unit: all from the samples */
        seg[n++] = (struct segment){SEG_SAMPLES, from, to, bucket, 1};
        return n;
    }
    if (minutes && h_lo < h_hi) {
        seg[n++] = (struct segment){SEG_HOUR, h_lo, h_hi, bucket, 1};
        f_mid_lo = h_lo * (ACCT_HOUR_NS / ACCT_MINUTE_NS);
        f_mid_hi = h_hi * (ACCT_HOUR_NS / ACCT_MINUTE_NS);
    } else {
        f_mid_lo = f_mid_hi = f_hi;
    }
    if (f_lo < f_mid_lo)
        seg[n++] = (struct segment){ft, f_lo, f_mid_lo, bucket, 1};
    if (f_mid_hi < f_hi)
        seg[n++] = (struct segment){ft, f_mid_hi, f_hi, bucket, 1};
    if (from < f_lo * fine)
        seg[n++] = (struct segment){SEG_SAMPLES, from, f_lo * fine, bucket, 1};
    if (f_hi * fine < to)
        seg[n++] = (struct segment){SEG_SAMPLES, f_hi * fine, to, bucket, 1};
    return n;
}

int rp_add_part(struct rp_ctx *c, const struct rp_part *p)
{
    if (RP_GROW(c->parts, c->cap_parts, c->n_parts) < 0)
        return -ENOMEM;
    c->parts[c->n_parts++] = *p;
    return 0;
}

/* ---- instances ---- */

/* An instance's start in any schema: its own, or its first observation (ledger.h). */
#define START_SQL "coalesce(g.start_ns, " ACCT_FIRST_SEEN_SQL("g") ")"

static int sql_first_ns(struct rp_ctx *c, uint64_t *ret)
{
    static const char sql[] =
        "SELECT min(m) FROM (SELECT min(" START_SQL ") m FROM groups g WHERE g.kind ="
        " 'instance' UNION ALL SELECT min((SELECT s.t_ns FROM samples s WHERE s.group_id ="
        " g.id ORDER BY s.t_ns LIMIT 1)) FROM groups g WHERE g.kind = 'instance')";
    sqlite3_stmt *st = NULL;
    int r, rc;

    r = prepare(c, sql, &st);
    if (r < 0)
        return r;
    rc = sqlite3_step(st);
    *ret = rc == SQLITE_ROW ? col(st, 0) : 0;
    (void)sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : sql_fail(c, rc, "report: first sample");
}

/* filter: the WHERE clause after the instance kind. */
static int instance_sql(const struct rp_ctx *c, const char *filter, char **ret)
{
    return asprintf(ret,
                    "SELECT g.id, g.path, g.workload, g.instance, g.account, " START_SQL ","
                    " g.end_ns, CASE WHEN g.end_ns IS NULL THEN max(coalesce((SELECT"
                    " max(s.t_ns) FROM samples s WHERE s.group_id = g.id), 0), coalesce((SELECT"
                    " max(v.t_ns) FROM events v WHERE v.group_id = g.id), 0)) END, %s FROM"
                    " groups g WHERE g.kind = 'instance' AND"
                    " %s ORDER BY g.id",
                    c->l->s->schema >= 3 ? "g.exit_status, g.policy" : "NULL, NULL", filter) < 0
               ? -ENOMEM
               : 0;
}

static int instance_row(sqlite3_stmt *st, struct rp_inst *x)
{
    uint64_t latest;

    *x = (struct rp_inst){.id = sqlite3_column_int64(st, 0),
                          .path = col_str(st, 1),
                          .workload = col_str(st, 2),
                          .name = col_str(st, 3),
                          .account = col_str(st, 4),
                          .start_ns = col(st, 5),
                          .exit_status = sqlite3_column_type(st, 8) == SQLITE_NULL
                                             ? ACCT_EXIT_UNKNOWN
                                             : sqlite3_column_int(st, 8),
                          .policy = col_str(st, 9)};
    x->running = sqlite3_column_type(st, 6) == SQLITE_NULL;
    latest = col(st, 7);
    x->end_ns = x->running ? latest : col(st, 6);
    if (x->end_ns < x->start_ns)
        x->end_ns = x->start_ns;
    return x->path && x->workload && x->name && x->account ? 0 : -ENOMEM;
}

static void inst_free(struct rp_inst *x)
{
    free(x->path);
    free(x->workload);
    free(x->name);
    free(x->account);
    free(x->policy);
}

static int inst_insert(struct rp_ctx *c, size_t at, const struct rp_inst *x)
{
    if (RP_GROW(c->inst, c->cap_inst, c->n_inst) < 0)
        return -ENOMEM;
    memmove(&c->inst[at + 1], &c->inst[at], (c->n_inst - at) * sizeof(*c->inst));
    c->inst[at] = *x;
    c->n_inst++;
    return 0;
}

static int read_instances(struct rp_ctx *c, sqlite3_stmt *st)
{
    int rc, r = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rp_inst x;
        size_t at = c->n_inst;
        r = instance_row(st, &x);
        while (r >= 0 && at > 0 && c->inst[at - 1].id > x.id)
            at--;
        if (r >= 0)
            r = inst_insert(c, at, &x);
        if (r < 0) {
            inst_free(&x);
            return r;
        }
    }
    return rc == SQLITE_DONE ? 0 : sql_fail(c, rc, "report: instances");
}

static int sql_load_instances(struct rp_ctx *c)
{
    _cleanup_free_ char *sql = NULL;
    sqlite3_stmt *st = NULL;
    int r;

    r = instance_sql(c, "(g.end_ns IS NULL OR g.end_ns >= ?1) AND " START_SQL " < ?2", &sql);
    if (r >= 0)
        r = prepare(c, sql, &st);
    if (r < 0)
        return r;
    (void)sqlite3_bind_int64(st, 1, (int64_t)c->o->from_ns);
    (void)sqlite3_bind_int64(st, 2, (int64_t)c->o->to_ns);
    r = read_instances(c, st);
    (void)sqlite3_finalize(st);
    return r;
}

struct inst_below {
    const struct rp_ctx *c;
    int64_t gid;
};

static bool inst_below(const void *ctx, size_t i)
{
    const struct inst_below *x = ctx;
    return x->c->inst[i].id < x->gid;
}

static bool find_inst(const struct rp_ctx *c, int64_t gid, size_t *ret)
{
    const struct inst_below x = {c, gid};

    *ret = rp_bisect(c->n_inst, inst_below, &x);
    return *ret < c->n_inst && c->inst[*ret].id == gid;
}

/* An instance outside the range's lives can still have usage in it: a sample taken
 * before the exact start a final record gave it. */
static int sql_instance(struct rp_ctx *c, int64_t gid, size_t *ret)
{
    _cleanup_free_ char *sql = NULL;
    sqlite3_stmt *st = NULL;
    int r;

    if (find_inst(c, gid, ret))
        return 0;
    r = instance_sql(c, "g.id = ?1", &sql);
    if (r >= 0)
        r = prepare(c, sql, &st);
    if (r < 0)
        return r;
    (void)sqlite3_bind_int64(st, 1, gid);
    r = read_instances(c, st);
    (void)sqlite3_finalize(st);
    if (r < 0)
        return r;
    return find_inst(c, gid, ret) ? 0 : -ENOENT;
}

/* ---- usage at sample resolution ---- */

/* f: "sum" and "max" for a sum per group, "" for the rows themselves */
#define USAGE_COLS(f, max)                                                                         \
    f "(s.d_cpu_user_ns), " f "(s.d_cpu_system_ns), " f "(s.d_mem_bs), " f "(s.d_oom_kills), " f   \
      "(s.d_throttled_ns), " f "(s.d_cpu_reserved_ns), " f "(s.d_mem_reserved_bs), " max           \
      "(coalesce(s.mem_peak, 0))"
#define USAGE_FROM                                                                                 \
    " FROM groups e CROSS JOIN %s s ON s.group_id = e.id AND s.%s >= ?1 AND s.%s < ?2 WHERE"       \
    " e.kind = 'instance'"

/* grouped: one row per instance (a run of one segment); else every row of the table in
 * (group, unit) order, bucketed by the caller. */
static int usage_stmt(struct rp_ctx *c, enum seg_table t, bool grouped, sqlite3_stmt **ret)
{
    _cleanup_free_ char *sql = NULL;
    const char *tab = seg_tab[t].table, *unit = seg_tab[t].unit;
    int n;

    if (grouped)
        n = asprintf(&sql, "SELECT e.id, 0, " USAGE_COLS("sum", "max") USAGE_FROM " GROUP BY e.id",
                     tab, unit, unit);
    else
        n = asprintf(&sql, "SELECT e.id, s.%s, " USAGE_COLS("", "") USAGE_FROM, unit, tab, unit,
                     unit);
    return n < 0 ? -ENOMEM : prepare(c, sql, ret);
}

static void usage_values(sqlite3_stmt *st, uint64_t v[_RP_MAX])
{
    for (int i = 0; i < RP_WALL; i++)
        v[i] += col(st, 2 + i);
    if (col(st, 2 + RP_WALL) > v[RP_PEAK])
        v[RP_PEAK] = col(st, 2 + RP_WALL);
}

struct seg_below {
    const struct segment *seg;
    uint64_t u;
};

static bool seg_below(const void *ctx, size_t i)
{
    const struct seg_below *x = ctx;
    return x->seg[i].hi <= x->u;
}

/* The segment of run seg[0..n) that holds unit u, or n. */
static size_t seg_of(const struct segment *seg, size_t n, uint64_t u)
{
    const struct seg_below x = {seg, u};
    size_t k = rp_bisect(n, seg_below, &x);

    return k < n && seg[k].lo <= u ? k : n;
}

/* One run of segments of one table, contiguous but for gaps of a unit (which are read
 * and skipped): its parts, one per (instance, bucket). */
static int usage_run(struct rp_ctx *c, sqlite3_stmt *st, const struct segment *seg, size_t n)
{
    struct rp_part p = {.gid = -1};
    int rc, r = 0;

    (void)sqlite3_reset(st);
    (void)sqlite3_bind_int64(st, 1, (int64_t)seg[0].lo);
    (void)sqlite3_bind_int64(st, 2, (int64_t)seg[n - 1].hi);
    while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t gid = sqlite3_column_int64(st, 0);
        size_t k = n == 1 ? 0 : seg_of(seg, n, col(st, 1));

        if (k == n)
            continue;
        if (p.gid != gid || p.bucket != seg[k].bucket) {
            if (p.gid >= 0)
                r = rp_add_part(c, &p);
            p = (struct rp_part){.gid = gid, .bucket = seg[k].bucket};
        }
        usage_values(st, p.v);
    }
    if (r < 0)
        return r;
    if (rc != SQLITE_DONE)
        return sql_fail(c, rc, "report: usage");
    return p.gid >= 0 ? rp_add_part(c, &p) : 0;
}

static int cmp_seg(const void *a, const void *b)
{
    const struct segment *x = a, *y = b;

    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int sql_usage(struct rp_ctx *c)
{
    _cleanup_free_ struct segment *seg = malloc(5 * c->nb * sizeof(*seg));
    sqlite3_stmt *st[3][2] = {{NULL}};
    size_t n = 0;
    int r = 0;

    if (!seg)
        return -ENOMEM;
    /* Nothing was observed before the ledger's first observation: from 0 on, the first
     * bucket reads whole hours instead of the minutes of a partial one. */
    for (size_t b = 0; b < c->nb; b++)
        n += segments(b == 0 && c->from_first ? 0 : c->edges[b], c->edges[b + 1],
                      c->l->s->schema >= 2, b, seg + n);
    qsort(seg, n, sizeof(*seg), cmp_seg);
    for (size_t i = 0, j; r >= 0 && i < n; i = j) {
        const uint64_t gap = seg[i].table == SEG_SAMPLES ? 0 : 1;
        bool one;
        for (j = i + 1; j < n && seg[j].table == seg[i].table && seg[j].lo <= seg[j - 1].hi + gap;)
            j++;
        one = j - i == 1;
        if (!st[seg[i].table][one])
            r = usage_stmt(c, seg[i].table, one, &st[seg[i].table][one]);
        if (r >= 0)
            r = usage_run(c, st[seg[i].table][one], seg + i, j - i);
    }
    for (int t = 0; t < 3; t++)
        for (int g = 0; g < 2; g++)
            (void)sqlite3_finalize(st[t][g]);
    return r;
}

/* ---- what was billed before the range (cumulative rounding, money.h) ---- */

/* [0, from) as whole hours plus or minus the minutes and samples at its end: up to the
 * hour before from with what follows it, or up to the hour after it less what follows
 * from, whichever reads fewer rows. */
static size_t prefix_segments(uint64_t from, bool minutes, struct segment seg[3])
{
    const uint64_t fine = minutes ? ACCT_MINUTE_NS : ACCT_HOUR_NS;
    const uint64_t per_hour = ACCT_HOUR_NS / fine;
    uint64_t h0 = from / ACCT_HOUR_NS, h1 = (from + ACCT_HOUR_NS - 1) / ACCT_HOUR_NS;
    uint64_t f0 = from / fine, f1 = (from + fine - 1) / fine;
    size_t n = 0;

    if (!minutes || f0 - h0 * per_hour <= h1 * per_hour - f1) {
        seg[n++] = (struct segment){SEG_HOUR, 0, h0, 0, 1};
        if (minutes && h0 * per_hour < f0)
            seg[n++] = (struct segment){SEG_MINUTE, h0 * per_hour, f0, 0, 1};
        if (f0 * fine < from)
            seg[n++] = (struct segment){SEG_SAMPLES, f0 * fine, from, 0, 1};
        return n;
    }
    seg[n++] = (struct segment){SEG_HOUR, 0, h1, 0, 1};
    if (f1 < h1 * per_hour)
        seg[n++] = (struct segment){SEG_MINUTE, f1, h1 * per_hour, 0, -1};
    if (from < f1 * fine)
        seg[n++] = (struct segment){SEG_SAMPLES, from, f1 * fine, 0, -1};
    return n;
}

static int prefix_sql(const struct rp_ctx *c, const struct segment *seg, size_t n, char **ret)
{
    static const char *const key[_ACCT_BY_MAX] = {"g.account", "g.workload",
                                                  "g.workload || '/' || g.instance"};
    const bool res = c->o->billing == ACCT_BILL_RESERVATION;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return -ENOMEM;
    fprintf(f, "SELECT %s, g.account, sum(x.c * x.sg), sum(x.m * x.sg) FROM (", key[c->o->by]);
    for (size_t i = 0; i < n; i++)
        fprintf(f,
                "%sSELECT e.id gid, sum(%s) c, sum(s.%s) m, %d sg FROM groups e CROSS JOIN %s s"
                " ON s.group_id = e.id AND s.%s >= ? AND s.%s < ? WHERE e.kind = 'instance'"
                " GROUP BY e.id",
                i ? " UNION ALL " : "",
                res ? "s.d_cpu_reserved_ns" : "s.d_cpu_user_ns + s.d_cpu_system_ns",
                res ? "d_mem_reserved_bs" : "d_mem_bs", seg[i].sign, seg_tab[seg[i].table].table,
                seg_tab[seg[i].table].unit, seg_tab[seg[i].table].unit);
    fputs(") x JOIN groups g ON g.id = x.gid GROUP BY 1, 2", f);
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *ret = buf;
    return 0;
}

static int sql_load_prefix(struct rp_ctx *c)
{
    _cleanup_free_ char *sql = NULL;
    struct segment seg[3];
    sqlite3_stmt *st = NULL;
    size_t n, cap = 0;
    int rc, r;

    n = prefix_segments(c->o->from_ns, c->l->s->schema >= 2, seg);
    r = prefix_sql(c, seg, n, &sql);
    if (r >= 0)
        r = prepare(c, sql, &st);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        (void)sqlite3_bind_int64(st, (int)(2 * i + 1), (int64_t)seg[i].lo);
        (void)sqlite3_bind_int64(st, (int)(2 * i + 2), (int64_t)seg[i].hi);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rp_prefix *p;
        if (RP_GROW(c->prefix, cap, c->n_prefix) < 0) {
            r = -ENOMEM;
            break;
        }
        p = &c->prefix[c->n_prefix];
        *p = (struct rp_prefix){col_str(st, 0), col_str(st, 1), col(st, 2), col(st, 3)};
        c->n_prefix++;
        if (!p->key || !p->account) {
            r = -ENOMEM;
            break;
        }
    }
    if (r >= 0 && rc != SQLITE_DONE)
        r = sql_fail(c, rc, "report: billed before the range");
    (void)sqlite3_finalize(st);
    return r;
}

/* ---- freeze and thaw events ---- */

static int cmp_event(const void *a, const void *b)
{
    const struct rp_event *x = a, *y = b;
    int k = strcmp(x->path, y->path);

    if (k)
        return k;
    if (x->gid != y->gid)
        return x->gid < y->gid ? -1 : 1;
    if (x->t_ns != y->t_ns)
        return x->t_ns < y->t_ns ? -1 : 1;
    return x->what - y->what;
}

void rp_events_free(struct rp_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ev[i].path);
    free(ev);
}

static int sql_load_events(struct rp_ctx *c, struct rp_event **ret, size_t *ret_n)
{
    static const char sql[] =
        "SELECT x.group_id, g.path, x.t_ns, x.event = 'thaw' FROM events x JOIN groups g ON"
        " g.id = x.group_id UNION ALL SELECT g.id, g.path, " START_SQL ", 2 FROM groups g"
        " WHERE g.path IN (SELECT g2.path FROM events x2 JOIN groups g2 ON g2.id ="
        " x2.group_id)";
    struct rp_event *ev = NULL;
    sqlite3_stmt *st = NULL;
    size_t n = 0, cap = 0;
    int rc, r;

    r = prepare(c, sql, &st);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (RP_GROW(ev, cap, n) < 0) {
            r = -ENOMEM;
            break;
        }
        ev[n] = (struct rp_event){sqlite3_column_int64(st, 0), col_str(st, 1), col(st, 2),
                                  sqlite3_column_int(st, 3)};
        if (!ev[n++].path) {
            r = -ENOMEM;
            break;
        }
    }
    if (r >= 0 && rc != SQLITE_DONE)
        r = sql_fail(c, rc, "report: events");
    (void)sqlite3_finalize(st);
    if (r < 0) {
        rp_events_free(ev, n);
        return r;
    }
    if (n > 0)
        qsort(ev, n, sizeof(*ev), cmp_event);
    *ret = ev;
    *ret_n = n;
    return 0;
}

const struct acct_store_queries acct_sqlite_queries = {
    .first_ns = sql_first_ns,
    .load_instances = sql_load_instances,
    .instance = sql_instance,
    .usage = sql_usage,
    .load_prefix = sql_load_prefix,
    .load_events = sql_load_events,
};

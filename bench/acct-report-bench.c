/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * acct-report-bench [LEDGER]: a chargeback report over 10 million samples (10,000
 * instances x 1,000 samples, 10 s apart), side by side with the same aggregation done by
 * the sqlite3 shell over the raw samples. The ledger is generated once (SQL bulk insert,
 * the same schema and rollups that acct_ledger_write maintains) and reused if it exists;
 * one of an older schema is migrated first (timed). Ranges: all samples, and ranges that
 * cut hours and minutes at both ends; each report is checked against the same sums
 * computed by SQL from the raw samples of its range, and a report per hour of all of them
 * against the plain one.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounting/report.h"

#define NS 1000000000ll
#define T0 (1790000000ll * NS) /* 2026-09-21, on an hour boundary minus nothing special */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char fill_sql[] =
    "PRAGMA synchronous = OFF; BEGIN;"
    "WITH RECURSIVE i(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x < 9999)"
    " INSERT INTO groups (id, path, generation, kind, class, workload, instance, account,"
    " start_ns) SELECT x + 1, 'normal/w' || (x % 100) || '/run-' || x, 1000 + x, 'instance',"
    " 'normal', 'w' || (x % 100), 'run-' || x, 'team-' || (x % 20),"
    " 1790000000000000000 + x + 1 - 10000000000 FROM i;"
    "WITH RECURSIVE k(y) AS (SELECT 0 UNION ALL SELECT y + 1 FROM k WHERE y < 999)"
    " INSERT INTO samples SELECT g.id, 1790000000000000000 + y * 10000000000 + g.id, 0,"
    " (y + 1) * 500000000, (y + 1) * 100000000, 0, 0, (y + 1) * 1048576000,"
    " 104857600, 209715200, 3, 5, 0, 1500000, 1073741824,"
    " 500000000, 100000000, 1048576000, 0, 0, 10000000000, 0, 15000000000, 10737418240"
    " FROM groups g, k ORDER BY g.id, y;"
    "INSERT INTO rollup_hour SELECT group_id, t_ns / 3600000000000, count(*),"
    " sum(d_cpu_user_ns), sum(d_cpu_system_ns), sum(d_mem_bs), sum(d_oom_kills),"
    " sum(d_throttled_ns), sum(d_wall_ns), sum(d_frozen_ns), sum(d_cpu_reserved_ns),"
    " sum(d_mem_reserved_bs), max(coalesce(mem_peak, 0)) FROM samples"
    " GROUP BY group_id, t_ns / 3600000000000;"
    "COMMIT;";

static const char shell_sql[] =
    "SELECT g.account, count(*), sum(s.d_cpu_user_ns), sum(s.d_cpu_system_ns),"
    " sum(s.d_mem_bs), sum(s.d_oom_kills), sum(s.d_wall_ns), sum(s.d_frozen_ns),"
    " max(s.mem_peak) FROM samples s JOIN groups g ON g.id = s.group_id"
    " WHERE g.kind = 'instance' GROUP BY g.account;";

/* Raw-sample sums of [from, to) over instance groups, to check a report against; and the
 * wall time: each instance's life, from its first sample's start (its time less its wall
 * time) to its last sample (none has ended), cut to the range. */
static const char check_sql[] =
    "SELECT count(DISTINCT s.group_id), sum(s.d_cpu_user_ns), sum(s.d_cpu_system_ns),"
    " sum(s.d_mem_bs), (SELECT sum(max(0, min(e, ?2) - max(b, ?1))) FROM (SELECT (SELECT t_ns"
    " - d_wall_ns FROM samples WHERE group_id = x.id ORDER BY t_ns LIMIT 1) b, (SELECT"
    " max(t_ns) FROM samples WHERE group_id = x.id) e FROM groups x WHERE x.kind ="
    " 'instance')), count(*), max(s.mem_peak)"
    " FROM groups g CROSS JOIN samples s ON s.group_id = g.id AND s.t_ns >= ?1"
    " AND s.t_ns < ?2 WHERE g.kind = 'instance'";

static int check_exact(const char *path, uint64_t from, uint64_t to, const struct acct_report *r,
                       uint64_t *ret_samples)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = 0;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, check_sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (int64_t)from);
        sqlite3_bind_int64(st, 2, (int64_t)to);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *ret_samples = (uint64_t)sqlite3_column_int64(st, 5);
            ok = (uint64_t)sqlite3_column_int64(st, 0) == r->total.instances &&
                 (uint64_t)sqlite3_column_int64(st, 1) == r->total.cpu_user_ns &&
                 (uint64_t)sqlite3_column_int64(st, 2) == r->total.cpu_system_ns &&
                 (uint64_t)sqlite3_column_int64(st, 3) == r->total.mem_bs &&
                 (uint64_t)sqlite3_column_int64(st, 4) == r->total.wall_ns &&
                 (uint64_t)sqlite3_column_int64(st, 6) == r->total.mem_peak;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

static double run_report_per(struct acct_ledger *l, uint64_t from, uint64_t to, enum acct_per per,
                             struct acct_report **ret)
{
    struct acct_report_opts o = {.from_ns = from, .to_ns = to, .by = ACCT_BY_ACCOUNT, .per = per};
    struct acct_rates rates = {
        .currency = "EUR", .cpu_core_hour_micro = 40000, .mem_gib_hour_micro = 5000};
    struct cg_err e = {0};
    double t0 = now();

    o.rates = &rates;
    if (acct_report_build(l, &o, ret, &e) < 0) {
        fprintf(stderr, "report: %s\n", e.detail);
        exit(3);
    }
    return now() - t0;
}

static double run_report(struct acct_ledger *l, uint64_t from, uint64_t to,
                         struct acct_report **ret)
{
    return run_report_per(l, from, to, ACCT_PER_NONE, ret);
}

/* A report per hour of all samples: its rows add up to the plain report's total. */
static int per_hour(struct acct_ledger *l, const struct acct_report *all)
{
    struct acct_report *rep = NULL;
    struct acct_report_row sum = {0};
    double best = 1e9;

    for (int i = 0; i < 3; i++) {
        double t = run_report_per(l, 0, (uint64_t)T0 + 20000ull * NS, ACCT_PER_HOUR, &rep);
        if (t < best)
            best = t;
        if (i < 2)
            acct_report_free(rep);
    }
    for (size_t i = 0; i < rep->n; i++) {
        sum.cpu_user_ns += rep->rows[i].cpu_user_ns;
        sum.mem_bs += rep->rows[i].mem_bs;
        sum.wall_ns += rep->rows[i].wall_ns;
        sum.cost_micro += rep->rows[i].cost_micro;
    }
    printf("report over 10M samples per hour, by account: %zu rows, %.3f s (best of 3), %s\n",
           rep->n, best,
           sum.cpu_user_ns == all->total.cpu_user_ns && sum.mem_bs == all->total.mem_bs &&
                   sum.wall_ns == all->total.wall_ns && sum.cost_micro == all->total.cost_micro
               ? "adding up to the plain report"
               : "NOT ADDING UP TO THE PLAIN REPORT");
    acct_report_free(rep);
    return sum.cost_micro == all->total.cost_micro && sum.wall_ns == all->total.wall_ns ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/corral-report-bench.db";
    struct acct_ledger *l = NULL;
    struct acct_report *rep = NULL;
    struct cg_err e = {0};
    struct stat st;
    char cmd[1024];
    double t0, best = 1e9, best_edge = 1e9, shell;
    int failed = 0;
    /* T0 is 800 s past an hour; samples are 10 s apart (plus the group id in ns) over
     * [T0, T0 + 10000 s). */
    const struct {
        const char *what;
        uint64_t from, to;
    } ranges[] = {
        {"a 1h43m range with partial hours at both ends", (uint64_t)T0 + 1800ull * NS,
         (uint64_t)T0 + 8000ull * NS},
        {"all but the first and last second (partial hours and minutes at both ends)",
         (uint64_t)T0 + 1ull * NS + 7, (uint64_t)T0 + 9999ull * NS},
        {"59m58s inside one hour (partial minutes at both ends, no whole hour)",
         (uint64_t)T0 + 6401ull * NS, (uint64_t)T0 + 9999ull * NS},
        {"58 s inside one minute", (uint64_t)T0 + 6401ull * NS, (uint64_t)T0 + 6459ull * NS},
    };

    if (stat(path, &st) == 0) {
        /* an existing ledger of an older schema: migrate it (reports never do) */
        sqlite3 *db;
        sqlite3_stmt *v = NULL;
        int version = -1;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &v, NULL) == SQLITE_OK &&
            sqlite3_step(v) == SQLITE_ROW)
            version = sqlite3_column_int(v, 0);
        sqlite3_finalize(v);
        sqlite3_close(db);
        if (version >= 1 && version < ACCT_SCHEMA_VERSION) {
            fprintf(stderr, "migrating %s from schema %d to %d ...\n", path, version,
                    ACCT_SCHEMA_VERSION);
            t0 = now();
            if (acct_ledger_open(path, 0, &l, &e) < 0) {
                fprintf(stderr, "%s\n", e.detail);
                return 3;
            }
            acct_ledger_close(l);
            l = NULL;
            printf("migrated the ledger from schema %d to %d in %.1f s (one transaction)\n",
                   version, ACCT_SCHEMA_VERSION, now() - t0);
        }
    } else {
        sqlite3 *db;
        if (acct_ledger_open(path, 0, &l, &e) < 0) { /* creates the schema */
            fprintf(stderr, "%s\n", e.detail);
            return 3;
        }
        acct_ledger_close(l);
        l = NULL;
        fprintf(stderr, "generating 10M samples in %s ...\n", path);
        t0 = now();
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, fill_sql, NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "fill: %s\n", sqlite3_errmsg(db));
            return 3;
        }
        sqlite3_close(db);
        fprintf(stderr, "generated in %.1f s\n", now() - t0);
    }
    if (acct_ledger_open(path, ACCT_LEDGER_READONLY, &l, &e) < 0) {
        fprintf(stderr, "%s\n", e.detail);
        return 3;
    }
    for (int i = 0; i < 5; i++) {
        double t = run_report(l, 0, (uint64_t)T0 + 20000ull * NS, &rep);
        if (t < best)
            best = t;
        if (i < 4)
            acct_report_free(rep);
    }
    printf("report over 10M samples (all of them), by account: %zu rows, %.3f s (best of 5)\n",
           rep->n, best);
    printf("  total cpu_user_ns %llu, mem_byte_seconds %llu, cost %llu micro\n",
           (unsigned long long)rep->total.cpu_user_ns, (unsigned long long)rep->total.mem_bs,
           (unsigned long long)rep->total.cost_micro);
    failed |= per_hour(l, rep);
    acct_report_free(rep);
    for (size_t k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
        double b = 1e9;
        uint64_t samples = 0;
        int exact;
        for (int i = 0; i < 5; i++) {
            double t = run_report(l, ranges[k].from, ranges[k].to, &rep);
            if (t < b)
                b = t;
            if (i < 4)
                acct_report_free(rep);
        }
        exact = check_exact(path, ranges[k].from, ranges[k].to, rep, &samples);
        printf("report over %s: %.3f s (best of 5), %llu samples, %s\n", ranges[k].what, b,
               (unsigned long long)samples,
               exact ? "equal to the raw-sample sums" : "DIFFERS FROM THE RAW-SAMPLE SUMS");
        if (b > best_edge || k == 0)
            best_edge = b;
        if (!exact)
            failed = 1;
        acct_report_free(rep);
    }
    printf("slowest range: %.3f s (target < 1 s)\n", best_edge);
    acct_ledger_close(l);

    snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"%s\" > /dev/null", path, shell_sql);
    t0 = now();
    if (system(cmd) != 0)
        fprintf(stderr, "sqlite3 shell failed\n");
    shell = now() - t0;
    printf("sqlite3 shell, same aggregation over the raw samples: %.3f s\n", shell);
    printf("  command: sqlite3 %s \"%s\"\n", path, shell_sql);
    printf("ratio sqlite3 shell / corral report: %.1fx (all samples), %.1fx (slowest range)\n",
           shell / best, shell / best_edge);
    return failed ? 1 : 0;
}

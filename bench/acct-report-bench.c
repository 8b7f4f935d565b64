/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * acct-report-bench [LEDGER]: a chargeback report over 10 million samples (10,000
 * instances x 1,000 samples, 10 s apart), side by side with the same aggregation done by
 * the sqlite3 shell over the raw samples. The ledger is generated once (SQL bulk insert,
 * the same schema and rollups that acct_ledger_write maintains) and reused if it exists.
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
    " INSERT INTO groups (id, path, generation, kind, class, workload, instance, account)"
    " SELECT x + 1, 'normal/w' || (x % 100) || '/run-' || x, 1000 + x, 'instance', 'normal',"
    " 'w' || (x % 100), 'run-' || x, 'team-' || (x % 20) FROM i;"
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

static double run_report(struct acct_ledger *l, uint64_t from, uint64_t to,
                         struct acct_report **ret)
{
    struct acct_report_opts o = {.from_ns = from, .to_ns = to, .by = ACCT_BY_ACCOUNT};
    struct pol_rates rates = {
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

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/corral-report-bench.db";
    struct acct_ledger *l = NULL;
    struct acct_report *rep = NULL;
    struct cg_err e = {0};
    struct stat st;
    char cmd[1024];
    double t0, best = 1e9, best_edge = 1e9, shell;

    if (stat(path, &st) < 0) {
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
    acct_report_free(rep);
    for (int i = 0; i < 5; i++) {
        /* a range cutting hours at both ends: rollups inside, samples at the edges */
        double t = run_report(l, (uint64_t)T0 + 1800ull * NS, (uint64_t)T0 + 8000ull * NS, &rep);
        if (t < best_edge)
            best_edge = t;
        acct_report_free(rep);
    }
    printf("report over a 1h43m range with partial hours at both ends: %.3f s (best of 5)\n",
           best_edge);
    acct_ledger_close(l);

    snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"%s\" > /dev/null", path, shell_sql);
    t0 = now();
    if (system(cmd) != 0)
        fprintf(stderr, "sqlite3 shell failed\n");
    shell = now() - t0;
    printf("sqlite3 shell, same aggregation over the raw samples: %.3f s\n", shell);
    printf("  command: sqlite3 %s \"%s\"\n", path, shell_sql);
    printf("ratio sqlite3 shell / corral report: %.1fx\n", shell / best);
    return 0;
}

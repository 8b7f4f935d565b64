/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `corral report` as users see it, on ledgers made through the accounting API at known
 * times: 64-character workload and instance names are whole and distinct in every format;
 * calendar buckets in UTC and in a local zone; relative times, the default range, a range
 * still to come; showback. Runs the real binary.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/ledger.h"
#include "accounting/when.h"
#include "tests/helpers.h"
#include "tests/report-helpers.h"

TestSuite(report_cli, .init = rh_setup, .fini = rh_teardown, .timeout = 300);

static char *repeat(char c, size_t n, char last)
{
    char *s = malloc(n + 1);

    memset(s, c, n);
    s[n - 1] = last;
    s[n] = '\0';
    return s;
}

/* Names of 64 characters (the most a name may have): every key whole and distinct. */
Test(report_cli, long_names_whole_and_distinct_in_every_format)
{
    char *wl[2] = {repeat('w', 64, 'a'), repeat('w', 64, 'b')};
    char *in[2] = {repeat('i', 64, '1'), repeat('i', 64, '2')};
    char *acct = repeat('t', 64, 'z'), *out = NULL, path[256], key[4][140];
    const uint64_t t0 = acct_now_ns() - 2 * RH_HOUR;
    json_t *rep;
    size_t n = 0;

    rh_need_corral();
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "normal/%s/%s", wl[w], in[i]);
            snprintf(key[n++], sizeof(key[0]), "%s/%s", wl[w], in[i]);
            rh_instance(path, acct, t0, t0 + RH_HOUR, 60 * RH_NS, true);
        }
    /* table, CSV, JSON: each of the four 129-character keys, whole, on a line of its own */
    cr_assert_eq(rh_run(&out, NULL, RH_ARGS("report", "--by", "instance")), 0);
    for (size_t k = 0; k < n; k++) {
        char *at = strstr(out, key[k]);
        cr_expect_not_null(at, "table lacks %s:\n%s", key[k], out);
        cr_expect(at && !strstr(at + 1, key[k]), "%s twice", key[k]);
    }
    free(out);
    cr_assert_eq(rh_run(&out, NULL, RH_ARGS("report", "--by", "instance", "--format", "csv")), 0);
    for (size_t k = 0; k < n; k++) {
        char line[sizeof(key[0]) + 32];
        snprintf(line, sizeof(line), "\r\ninstance,%.*s,1,", (int)sizeof(key[0]), key[k]);
        cr_expect_not_null(strstr(out, line), "CSV lacks %s:\n%s", key[k], out);
    }
    free(out);
    rep = rh_report(NULL, RH_ARGS("report", "--by", "instance", "--json"));
    cr_expect_eq(json_array_size(json_object_get(rep, "rows")), n);
    for (size_t k = 0; k < n; k++)
        cr_expect_not_null(rh_row(rep, key[k]), "JSON lacks %s", key[k]);
    json_decref(rep);
    rep = rh_report(NULL, RH_ARGS("report", "--by", "account", "--json"));
    cr_expect_not_null(rh_row(rep, acct));
    json_decref(rep);
    /* --width cuts the table's keys (only), with an ellipsis, to fit */
    cr_assert_eq(rh_run(&out, NULL, RH_ARGS("report", "--by", "instance", "--width", "200")), 0);
    cr_expect_null(strstr(out, key[0]), "--width 200 kept a 129-character key");
    cr_expect_not_null(strstr(out, "..."));
    for (char *l = out, *nl; (nl = strchr(l, '\n')); l = nl + 1)
        cr_expect_leq(nl - l, 200, "a line of %d columns", (int)(nl - l));
    free(out);
    cr_expect_eq(rh_run(NULL, NULL, RH_ARGS("report", "--width", "80", "--format", "csv")), 2);
    for (int i = 0; i < 2; i++)
        free(wl[i]), free(in[i]);
    free(acct);
}

static uint64_t day_floor(uint64_t t)
{
    return t / (24 * RH_HOUR) * (24 * RH_HOUR);
}

/* The rows of a JSON report as (from_ns, wall_ns) pairs; returns how many. */
static size_t walls(json_t *rep, uint64_t *from, uint64_t *wall, size_t max)
{
    size_t i, n = 0;
    json_t *row;

    json_array_foreach(json_object_get(rep, "rows"), i, row)
    {
        if (n < max) {
            from[n] = rh_num(row, "from_ns");
            wall[n] = rh_num(row, "wall_ns");
        }
        n++;
    }
    return n;
}

/* An instance from 22:00Z one day to 02:00Z two days later: days in UTC and in Tokyo
 * (+09:00, where it lives 07:00 to 11:00 the next day), hours, a week and a month. */
Test(report_cli, calendar_buckets_utc_and_local)
{
    const uint64_t s = day_floor(acct_now_ns()) - 5 * 24 * RH_HOUR + 22 * RH_HOUR,
                   e = s + 28 * RH_HOUR;
    char from[64], to[64], *out = NULL;
    uint64_t f[64], w[64];
    json_t *rep;

    rh_need_corral();
    rh_instance("normal/w/run-1", "acme", s, e, 600 * RH_NS, true);
    acct_fmt_time(from, sizeof(from), day_floor(s), false);
    acct_fmt_time(to, sizeof(to), day_floor(s) + 3 * 24 * RH_HOUR, false);
    rep = rh_report(NULL, RH_ARGS("report", "--per", "day", "--from", from, "--to", to, "--json"));
    cr_assert_eq(walls(rep, f, w, 64), 3);
    cr_expect_eq(f[0], day_floor(s));
    cr_expect_eq(f[1], day_floor(s) + 24 * RH_HOUR);
    cr_expect_eq(w[0], 2 * RH_HOUR);
    cr_expect_eq(w[1], 24 * RH_HOUR);
    cr_expect_eq(w[2], 2 * RH_HOUR);
    cr_expect_str_eq(json_string_value(json_object_get(rep, "zone")), "UTC");
    json_decref(rep);
    rep = rh_report("TZ=Asia/Tokyo", RH_ARGS("report", "--per", "day", "--local", "--from", from,
                                             "--to", to, "--json"));
    cr_assert_eq(walls(rep, f, w, 64), 2);
    cr_expect_eq(f[0], day_floor(s) + 15 * RH_HOUR); /* Tokyo's midnight */
    cr_expect_eq(w[0], 17 * RH_HOUR);
    cr_expect_eq(w[1], 11 * RH_HOUR);
    cr_expect_str_eq(json_string_value(json_object_get(rep, "zone")), "Asia/Tokyo");
    cr_expect(strstr(json_string_value(json_object_get(rep, "from")), "+09:00") != NULL);
    json_decref(rep);
    rep = rh_report(NULL, RH_ARGS("report", "--per", "hour", "--from", from, "--to", to, "--json"));
    /* 28 hours of life, and the hour of its final record, whose usage it observed (CPU
     * and memory are attributed to the sample that saw them: report.h) */
    cr_expect_eq(walls(rep, f, w, 64), 29);
    cr_expect_eq(w[0], RH_HOUR);
    cr_expect_eq(w[27], RH_HOUR);
    cr_expect_eq(w[28], 0);
    cr_expect_eq(f[28], e);
    json_decref(rep);
    for (int k = 0; k < 2; k++) {
        rep = rh_report(NULL, RH_ARGS("report", "--per", k ? "month" : "week", "--from", from,
                                      "--to", to, "--json"));
        size_t n = walls(rep, f, w, 64);
        cr_expect(n == 1 || n == 2, "per %s: %zu rows", k ? "month" : "week", n);
        cr_expect_eq(w[0] + (n == 2 ? w[1] : 0), 28 * RH_HOUR);
        json_decref(rep);
    }
    /* the table names the zone and the buckets */
    cr_assert_eq(rh_run(&out, "TZ=Asia/Tokyo",
                        RH_ARGS("report", "--per", "day", "--local", "--from", from, "--to", to)),
                 0);
    cr_expect(strstr(out, "(Asia/Tokyo)") && strstr(out, "DAY"), "%s", out);
    free(out);
}

/* now, today, yesterday and relative times; the default range; a range still to come;
 * showback. */
Test(report_cli, relative_times_default_range_and_showback)
{
    const uint64_t now = acct_now_ns(), today = day_floor(now);
    char *out = NULL;
    uint64_t f[8], w[8];
    json_t *rep, *row;

    rh_need_corral();
    /* running: sampled from 3 h ago to 10 min ago */
    rh_instance("normal/w/run-2", "acme", now - 3 * RH_HOUR, now - 600 * RH_NS + 1, 60 * RH_NS,
                false);
    /* yesterday 20:00 to today 02:00 (UTC) */
    rh_instance("normal/w/run-3", "acme", today - 4 * RH_HOUR, today + 2 * RH_HOUR, 300 * RH_NS,
                true);
    /* both ends relative to the same now: exactly an hour of a life that covers it */
    rep = rh_report(
        NULL, RH_ARGS("report", "--by", "instance", "--from", "-2h", "--to", "-1h", "--json"));
    row = rh_row(rep, "w/run-2");
    cr_assert_not_null(row);
    cr_expect_eq(rh_num(row, "wall_ns"), RH_HOUR);
    cr_expect(json_is_true(json_object_get(row, "running")));
    json_decref(rep);
    rep = rh_report(NULL, RH_ARGS("report", "--by", "instance", "--from", "-90min", "--json"));
    row = rh_row(rep, "w/run-2"); /* from 90 min ago to its last sample, 10 min ago */
    cr_assert_not_null(row);
    cr_expect(rh_num(row, "wall_ns") > 79 * 60 * RH_NS && rh_num(row, "wall_ns") <= 80 * 60 * RH_NS,
              "%llu", (unsigned long long)rh_num(row, "wall_ns"));
    json_decref(rep);
    rep = rh_report("TZ=UTC", RH_ARGS("report", "--by", "instance", "--from", "yesterday", "--to",
                                      "today", "--json"));
    row = rh_row(rep, "w/run-3");
    cr_assert_not_null(row);
    cr_expect_eq(rh_num(row, "wall_ns"), 4 * RH_HOUR);
    json_decref(rep);
    /* by default, from the first observation in the ledger to now */
    rep = rh_report(NULL, RH_ARGS("report", "--json"));
    cr_expect_eq(rh_num(rep, "from_ns"),
                 today - 4 * RH_HOUR < now - 3 * RH_HOUR ? today - 4 * RH_HOUR : now - 3 * RH_HOUR);
    cr_expect_geq(rh_num(rep, "to_ns"), now);
    json_decref(rep);
    /* --from alone still to come: an empty report; after --to: invalid */
    rep = rh_report(NULL, RH_ARGS("report", "--from", "2199-01-01T00:00Z", "--json"));
    cr_expect_eq(json_array_size(json_object_get(rep, "rows")), 0);
    json_decref(rep);
    cr_expect_eq(
        rh_run(NULL, NULL, RH_ARGS("report", "--from", "2199-01-01", "--to", "2198-01-01")), 1);
    cr_expect_eq(rh_run(NULL, NULL, RH_ARGS("report", "--from", "-1fortnight")), 1);
    /* showback: usage, no prices, no cost */
    rep = rh_report(NULL, RH_ARGS("report", "--billing", "none", "--json"));
    cr_expect_str_eq(json_string_value(json_object_get(rep, "billing")), "none");
    cr_expect_null(json_object_get(rep, "rates"));
    cr_assert_eq(walls(rep, f, w, 8), 1);
    row = json_array_get(json_object_get(rep, "rows"), 0);
    cr_expect_null(json_object_get(row, "cost_micro"));
    cr_expect_gt(rh_num(row, "cpu_user_ns"), 0);
    json_decref(rep);
    cr_assert_eq(rh_run(&out, NULL, RH_ARGS("report", "--billing", "none")), 0);
    cr_expect(strstr(out, "Showback") && !strstr(out, "COST"), "%s", out);
    free(out);
}

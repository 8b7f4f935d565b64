/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of report times: what --from/--to take, how times are shown, calendar
 * buckets in UTC and in local zones across DST changes. Expected values are from the IANA
 * database as Python's zoneinfo computes them. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounting/when.h"

#define NS 1000000000ull

static void zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static uint64_t parse(const char *s, uint64_t now)
{
    uint64_t t = 0;
    int r = acct_parse_time(s, now, &t);

    cr_assert_eq(r, 0, "'%s': %d", s, r);
    return t;
}

static int parse_err(const char *s)
{
    uint64_t t;
    return acct_parse_time(s, 1795773600ull * NS, &t);
}

Test(when, iso8601_with_a_zone)
{
    char b[64];

    zone("Europe/Paris"); /* a zone in the input wins over TZ */
    cr_assert_eq(parse("2026-11-27T10:00:00Z", 0), 1795773600ull * NS);
    cr_assert_eq(parse("2026-11-27T11:00:00+01:00", 0), 1795773600ull * NS);
    cr_assert_eq(parse("2026-11-27T05:30:00-0430", 0), 1795773600ull * NS);
    cr_assert_eq(parse("2026-11-27T10:00Z", 0), 1795773600ull * NS);
    cr_assert_eq(parse("2026-11-27 10:00:00.25Z", 0), 1795773600ull * NS + 250000000);
    cr_assert_eq(parse("1970-01-01T00:00:00Z", 0), 0);
    cr_assert_str_eq(acct_fmt_time(b, sizeof(b), 951782400ull * NS, false), "2000-02-29T00:00:00Z");
    cr_assert_eq(parse_err("2025-02-29"), -EINVAL);
    cr_assert_eq(parse_err("2026-13-01"), -EINVAL);
    cr_assert_eq(parse_err("2026-11-27T24:00:00Z"), -EINVAL);
    cr_assert_eq(parse_err("2026-11-27T10:00:00Zjunk"), -EINVAL);
    cr_assert_eq(parse_err("2026-11-27T10:00:00+25:00"), -EINVAL);
    cr_assert_eq(parse_err(""), -EINVAL);
    cr_assert_eq(parse_err("1969-12-31T00:00Z"), -EINVAL);
    cr_assert_eq(parse_err("the day after"), -EINVAL);
}

Test(when, iso8601_without_a_zone_is_local)
{
    char b[64];

    zone("Europe/Paris");
    cr_assert_eq(parse("2026-11-27T10:00", 0), 1795770000ull * NS); /* CET, +01:00 */
    cr_assert_eq(parse("2026-07-01", 0), 1782856800ull * NS);       /* CEST midnight */
    cr_assert_str_eq(acct_fmt_time(b, sizeof(b), 1795770000ull * NS, true),
                     "2026-11-27T10:00:00+01:00");
    zone("Asia/Kolkata");
    cr_assert_eq(parse("2026-11-27T10:00:00", 0), 1795753800ull * NS);
    cr_assert_str_eq(acct_fmt_time(b, sizeof(b), 1795753800ull * NS, true),
                     "2026-11-27T10:00:00+05:30");
    zone("UTC");
    cr_assert_eq(parse("2026-11-27", 0), 1795737600ull * NS);
    /* a local time a DST change skips is taken as mktime() normalizes it: an hour on */
    zone("America/New_York");
    uint64_t t = parse("2026-03-08T02:30", 0);
    cr_assert(t == (1772955000ull) * NS || t == 1772951400ull * NS, "%llu",
              (unsigned long long)(t / NS));
}

Test(when, words_and_relative_times)
{
    const uint64_t now = 1795739400ull * NS + 123; /* 2026-11-27T00:30Z = 01:30 in Paris */

    zone("Europe/Paris");
    cr_assert_eq(parse("now", now), now);
    cr_assert_eq(parse("today", now), 1795734000ull * NS);     /* 2026-11-27T00:00+01:00 */
    cr_assert_eq(parse("yesterday", now), 1795647600ull * NS); /* 2026-11-26T00:00+01:00 */
    cr_assert_eq(parse("tomorrow", now), 1795820400ull * NS);
    zone("UTC");
    cr_assert_eq(parse("today", now), 1795737600ull * NS);
    cr_assert_eq(parse("-1h", now), now - 3600 * NS);
    cr_assert_eq(parse("-7d", now), now - 7 * 86400 * NS);
    cr_assert_eq(parse("-30min", now), now - 1800 * NS);
    cr_assert_eq(parse("-90s", now), now - 90 * NS);
    cr_assert_eq(parse("-2w", now), now - 14 * 86400 * NS);
    cr_assert_eq(parse("-1h30min", now), now - 5400 * NS);
    cr_assert_eq(parse("-5m", now), now - 300 * NS);
    cr_assert_eq(parse("+1hour", now), now + 3600 * NS);
    cr_assert_eq(parse("-3days", now), now - 3 * 86400 * NS);
    cr_assert_eq(parse_err("-1x"), -EINVAL);
    cr_assert_eq(parse_err("-"), -EINVAL);
    cr_assert_eq(parse_err("-h"), -EINVAL);
    cr_assert_eq(parse_err("-1M"), -EINVAL); /* months have no fixed length */
    cr_assert_eq(parse_err("-1 h"), -EINVAL);
    cr_assert_eq(parse_err("-99999999999w"), -ERANGE);
    cr_assert_eq(parse_err("-10000w"), -EINVAL); /* before 1970 */
}

/* The edges of the buckets of [from, to) as whole seconds. */
static size_t edges(uint64_t from_s, uint64_t to_s, enum acct_per per, bool local, uint64_t *out,
                    size_t max)
{
    uint64_t *e = NULL;
    size_t n = 0;

    cr_assert_eq(acct_buckets(from_s * NS, to_s * NS, per, local, &e, &n), 0);
    cr_assert_leq(n + 1, max);
    for (size_t i = 0; i <= n; i++)
        out[i] = e[i] / NS;
    free(e);
    return n;
}

Test(when, utc_buckets_clipped_to_the_range)
{
    uint64_t e[16];
    char b[64];

    zone("Europe/Paris"); /* without --local, TZ does not matter */
    /* 2026-11-27T10:00Z .. 2026-11-29T05:00Z by day: clipped first and last days */
    cr_assert_eq(edges(1795773600, 1795928400, ACCT_PER_DAY, false, e, 16), 3);
    cr_assert_eq(e[0], 1795773600);
    cr_assert_eq(e[1], 1795824000);
    cr_assert_eq(e[2], 1795910400);
    cr_assert_eq(e[3], 1795928400);
    /* ISO weeks start on Monday: 2026-11-27 is a Friday of week 48 */
    cr_assert_eq(edges(1795773600, 1796000000, ACCT_PER_WEEK, false, e, 16), 2);
    cr_assert_eq(e[1], 1795996800); /* Monday 2026-11-30 */
    cr_assert_str_eq(acct_fmt_bucket(b, sizeof(b), 1795773600ull * NS, ACCT_PER_WEEK, false),
                     "2026-W48");
    /* months of 31, 28 days */
    cr_assert_eq(edges(1769860800, 1773532800, ACCT_PER_MONTH, false, e, 16), 3);
    cr_assert_eq(e[1], 1769904000); /* 2026-02-01 */
    cr_assert_eq(e[2], 1772323200); /* 2026-03-01 */
    cr_assert_str_eq(acct_fmt_bucket(b, sizeof(b), 1769904000ull * NS, ACCT_PER_MONTH, false),
                     "2026-02");
    cr_assert_str_eq(acct_fmt_bucket(b, sizeof(b), 1769904000ull * NS, ACCT_PER_DAY, false),
                     "2026-02-01");
    /* hours; and ACCT_PER_NONE is the range itself */
    cr_assert_eq(edges(1795773600 + 1800, 1795773600 + 3 * 3600, ACCT_PER_HOUR, false, e, 16), 3);
    cr_assert_eq(e[1], 1795777200);
    cr_assert_str_eq(acct_fmt_bucket(b, sizeof(b), 1795775400ull * NS, ACCT_PER_HOUR, false),
                     "2026-11-27T10:00Z");
    cr_assert_eq(edges(5, 7, ACCT_PER_NONE, false, e, 16), 1);
    cr_assert_eq(e[1], 7);
}

Test(when, local_buckets_across_dst_changes)
{
    uint64_t e[64];
    char b[64];

    zone("America/New_York");
    /* 2026-11-01 has 25 hours, 2026-03-08 has 23 */
    cr_assert_eq(edges(1793505600, 1793595600, ACCT_PER_DAY, true, e, 64), 1);
    cr_assert_eq(edges(1793505600 - 3600, 1793595600 + 3600, ACCT_PER_DAY, true, e, 64), 3);
    cr_assert_eq(e[1], 1793505600);
    cr_assert_eq(e[2], 1793595600);
    cr_assert_eq(edges(1772946000 - 60, 1773028800 + 60, ACCT_PER_DAY, true, e, 64), 3);
    cr_assert_eq(e[2] - e[1], 23 * 3600);
    /* the repeated hour 01:00-02:00 is two hourly buckets of an hour each */
    cr_assert_eq(edges(1793505600, 1793505600 + 6 * 3600, ACCT_PER_HOUR, true, e, 64), 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(e[i + 1] - e[i], 3600, "hour %d", i);
    cr_assert_str_eq(
        acct_fmt_bucket(b, sizeof(b), (1793505600ull + 1 * 3600) * NS, ACCT_PER_HOUR, true),
        "2026-11-01T01:00-04:00");
    cr_assert_str_eq(
        acct_fmt_bucket(b, sizeof(b), (1793505600ull + 2 * 3600) * NS, ACCT_PER_HOUR, true),
        "2026-11-01T01:00-05:00");
    /* half-hour zones: local hours start at :30 UTC */
    zone("Asia/Kolkata");
    cr_assert_eq(edges(1795773600, 1795773600 + 2 * 3600, ACCT_PER_HOUR, true, e, 64), 3);
    cr_assert_eq(e[1] % 3600, 1800);
}

Test(when, zone_names)
{
    char *z;

    zone("Europe/Paris");
    cr_assert_str_eq(z = acct_zone_name(true), "Europe/Paris");
    free(z);
    cr_assert_str_eq(z = acct_zone_name(false), "UTC");
    free(z);
    zone(":America/New_York");
    cr_assert_str_eq(z = acct_zone_name(true), "America/New_York");
    free(z);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Times as people type them and reports show them, and calendar buckets. Times are
 * nanoseconds since the epoch (CLOCK_REALTIME). "Local" is the C library's local time:
 * the TZ environment variable, else /etc/localtime.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum acct_per {
    ACCT_PER_NONE,
    ACCT_PER_HOUR,
    ACCT_PER_DAY,
    ACCT_PER_WEEK, /* ISO weeks: from Monday 00:00 */
    ACCT_PER_MONTH,
    _ACCT_PER_MAX,
    _ACCT_PER_INVALID = -EINVAL,
};

const char *acct_per_to_string(enum acct_per p);
enum acct_per acct_per_from_string(const char *s);

/*
 * Parses a time as --from and --to take it (as journalctl and sacct do):
 *   ISO 8601   2026-11-27T10:00:00Z, ...T11:00:00+01:00, ...T10:00:00.25-0430, ...T10:00Z;
 *              without a zone (2026-11-27T10:00) local time; a date alone (2026-11-27)
 *              local midnight; a space may replace the T
 *   now, today (local midnight), yesterday (the local midnight before today's)
 *   relative   -1h, -7d, -30min, +2h, -1h30min: now plus or minus a sum of NUMBER UNIT,
 *              UNIT one of s sec second(s), m min minute(s), h hour(s), d day(s),
 *              w week(s)
 * A local time that does not exist (skipped by a DST change) is taken as the C library's
 * mktime() normalizes it; an ambiguous one as mktime() picks. -EINVAL for anything else
 * (bad field, unknown word or unit, before 1970), -ERANGE past 2262.
 */
int acct_parse_time(const char *s, uint64_t now_ns, uint64_t *ret_ns);

/* ISO 8601 to the second: "2026-11-27T10:00:00Z" (UTC) or, local, with the zone's offset
 * at that time, "2026-11-27T11:00:00+01:00". Fractions of a second are dropped. */
char *acct_fmt_time(char *buf, size_t size, uint64_t t_ns, bool local);

/* The name of the zone times are shown in: "UTC", or the local zone's (TZ without a
 * leading ':', else the name /etc/localtime links to below zoneinfo/, else its
 * abbreviation now). malloc'ed; NULL when out of memory. */
char *acct_zone_name(bool local);

/* The edges of the calendar buckets that cover [from, to) (from < to), each bucket
 * clipped to the range: *ret = {from, c1, ..., to}, *ret_n buckets (malloc'ed, n + 1
 * values). per ACCT_PER_NONE gives the one bucket [from, to). */
int acct_buckets(uint64_t from_ns, uint64_t to_ns, enum acct_per per, bool local, uint64_t **ret,
                 size_t *ret_n);

/* The name of the calendar bucket that holds t: an hour "2026-11-27T10:00Z" (local:
 * with its offset), a day "2026-11-27", an ISO week "2026-W48", a month "2026-11". */
char *acct_fmt_bucket(char *buf, size_t size, uint64_t t_ns, enum acct_per per, bool local);

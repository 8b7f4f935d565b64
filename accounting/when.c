/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounting/when.h"

#define NS 1000000000ull

static const char *const per_names[_ACCT_PER_MAX] = {"none", "hour", "day", "week", "month"};

const char *acct_per_to_string(enum acct_per p)
{
    return p >= 0 && p < _ACCT_PER_MAX ? per_names[p] : NULL;
}

enum acct_per acct_per_from_string(const char *s)
{
    for (int i = 0; s && i < _ACCT_PER_MAX; i++)
        if (strcmp(s, per_names[i]) == 0)
            return (enum acct_per)i;
    return _ACCT_PER_INVALID;
}

/* The calendar of a time, in UTC or local time, and back. */
static void split(time_t t, bool local, struct tm *tm)
{
    if (local)
        (void)localtime_r(&t, tm);
    else
        (void)gmtime_r(&t, tm);
}

static time_t join(struct tm *tm, bool local)
{
    if (!local)
        return timegm(tm);
    tm->tm_isdst = -1;
    return mktime(tm);
}

static int digits(const char **p, unsigned n, unsigned *ret)
{
    unsigned v = 0;

    for (unsigned i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)((*p)[i] - '0');
    }
    *p += n;
    *ret = v;
    return 0;
}

static unsigned month_days(unsigned y, unsigned m)
{
    static const unsigned md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return md[m - 1] + (m == 2 && leap);
}

/* seconds (>= 0) and nanoseconds to a time; -EINVAL before 1970, -ERANGE past 2262 */
static int to_ns(int64_t sec, uint64_t frac, uint64_t *ret)
{
    if (sec < 0)
        return -EINVAL;
    if ((uint64_t)sec > (uint64_t)INT64_MAX / NS - 1)
        return -ERANGE;
    *ret = (uint64_t)sec * NS + frac;
    return 0;
}

/* "+01:00", "-0430", "+05": the offset east of UTC in seconds. */
static int parse_offset(const char *p, int64_t *ret)
{
    int sign = *p == '-' ? -1 : 1;
    unsigned oh = 0, om = 0;

    p++;
    if (digits(&p, 2, &oh) < 0)
        return -EINVAL;
    if (*p == ':')
        p++;
    if (*p && digits(&p, 2, &om) < 0)
        return -EINVAL;
    if (*p || oh > 23 || om > 59)
        return -EINVAL;
    *ret = sign * (int64_t)(oh * 3600 + om * 60);
    return 0;
}

static int parse_iso(const char *s, uint64_t *ret_ns)
{
    const char *p = s;
    unsigned y, mo, d, h = 0, mi = 0, sec = 0;
    uint64_t frac = 0;
    struct tm tm;
    int64_t off;

    if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        digits(&p, 2, &d) < 0)
        return -EINVAL;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
        return -EINVAL;
    if (*p != '\0') {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return -EINVAL;
        p++;
        if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
            return -EINVAL;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec) < 0)
                return -EINVAL;
            if (*p == '.' || *p == ',') {
                unsigned n = 0;
                for (p++; *p >= '0' && *p <= '9'; p++, n++)
                    if (n < 9)
                        frac = frac * 10 + (uint64_t)(*p - '0');
                if (n == 0)
                    return -EINVAL;
                for (; n < 9; n++)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return -EINVAL;
    }
    tm = (struct tm){.tm_year = (int)y - 1900,
                     .tm_mon = (int)mo - 1,
                     .tm_mday = (int)d,
                     .tm_hour = (int)h,
                     .tm_min = (int)mi,
                     .tm_sec = (int)sec};
    if (*p == '\0') /* no zone: local time */
        return to_ns((int64_t)join(&tm, true), frac, ret_ns);
    if (*p == 'Z' || *p == 'z') {
        if (p[1] != '\0')
            return -EINVAL;
        off = 0;
    } else if ((*p == '+' || *p == '-') && parse_offset(p, &off) == 0) {
    } else {
        return -EINVAL;
    }
    return to_ns((int64_t)timegm(&tm) - off, frac, ret_ns);
}

static const struct {
    const char *name;
    uint64_t sec;
} units[] = {
    {"s", 1},         {"sec", 1},        {"second", 1},   {"seconds", 1},  {"m", 60},
    {"min", 60},      {"minute", 60},    {"minutes", 60}, {"h", 3600},     {"hour", 3600},
    {"hours", 3600},  {"d", 86400},      {"day", 86400},  {"days", 86400}, {"w", 604800},
    {"week", 604800}, {"weeks", 604800},
};

/* "-1h30min" relative to now */
static int parse_relative(const char *s, uint64_t now_ns, uint64_t *ret_ns)
{
    const char *p = s + 1;
    uint64_t total = 0;

    if (!*p)
        return -EINVAL;
    while (*p) {
        uint64_t n = 0, mul = 0;
        size_t len;

        if (*p < '0' || *p > '9')
            return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++)
            if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *p - '0', &n))
                return -ERANGE;
        len = strspn(p, "abcdefghijklmnopqrstuvwxyz");
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strlen(units[i].name) == len && strncmp(p, units[i].name, len) == 0)
                mul = units[i].sec * NS;
        if (mul == 0)
            return -EINVAL;
        if (__builtin_mul_overflow(n, mul, &n) || __builtin_add_overflow(total, n, &total))
            return -ERANGE;
        p += len;
    }
    if (s[0] == '-')
        return total > now_ns ? -EINVAL : (*ret_ns = now_ns - total, 0);
    if (__builtin_add_overflow(now_ns, total, ret_ns) || *ret_ns > (uint64_t)INT64_MAX)
        return -ERANGE;
    return 0;
}

/* Local midnight, days away from the day of now. */
static int local_midnight(uint64_t now_ns, int days, uint64_t *ret_ns)
{
    struct tm tm;

    split((time_t)(now_ns / NS), true, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_mday += days;
    return to_ns((int64_t)join(&tm, true), 0, ret_ns);
}

int acct_parse_time(const char *s, uint64_t now_ns, uint64_t *ret_ns)
{
    if (!s || !*s)
        return -EINVAL;
    if (strcmp(s, "now") == 0) {
        *ret_ns = now_ns;
        return 0;
    }
    if (strcmp(s, "today") == 0)
        return local_midnight(now_ns, 0, ret_ns);
    if (strcmp(s, "yesterday") == 0)
        return local_midnight(now_ns, -1, ret_ns);
    if (strcmp(s, "tomorrow") == 0)
        return local_midnight(now_ns, 1, ret_ns);
    if (s[0] == '-' || s[0] == '+')
        return parse_relative(s, now_ns, ret_ns);
    return parse_iso(s, ret_ns);
}

char *acct_fmt_time(char *buf, size_t size, uint64_t t_ns, bool local)
{
    struct tm tm;
    long off;

    split((time_t)(t_ns / NS), local, &tm);
    if (!local) {
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        return buf;
    }
    off = tm.tm_gmtoff;
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
             labs(off) / 3600, labs(off) / 60 % 60);
    return buf;
}

char *acct_zone_name(bool local)
{
    const char *tz = getenv("TZ");
    char link[PATH_MAX], *z;
    ssize_t n;
    struct tm tm;
    time_t now = time(NULL);

    if (!local)
        return strdup("UTC");
    if (tz && *tz)
        return strdup(tz[0] == ':' ? tz + 1 : tz);
    n = readlink("/etc/localtime", link, sizeof(link) - 1);
    if (n > 0) {
        link[n] = '\0';
        z = strstr(link, "zoneinfo/");
        if (z && z[9])
            return strdup(z + 9);
    }
    split(now, true, &tm);
    return strdup(tm.tm_zone ? tm.tm_zone : "localtime");
}

/* The start of the bucket that holds t (seconds). */
static time_t bucket_floor(time_t t, enum acct_per per, bool local)
{
    struct tm tm;

    split(t, local, &tm);
    if (per == ACCT_PER_HOUR) /* by arithmetic: a local hour repeated at a DST change is two */
        return t - tm.tm_min * 60 - tm.tm_sec;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (per == ACCT_PER_WEEK)
        tm.tm_mday -= (tm.tm_wday + 6) % 7;
    else if (per == ACCT_PER_MONTH)
        tm.tm_mday = 1;
    return join(&tm, local);
}

/* The start of the bucket after the one that starts at b. */
static time_t bucket_next(time_t b, enum acct_per per, bool local)
{
    struct tm tm;
    time_t n;

    if (per == ACCT_PER_HOUR) {
        n = bucket_floor(b + 3600, per, local);
        return n > b ? n : b + 3600;
    }
    split(b, local, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (per == ACCT_PER_DAY)
        tm.tm_mday += 1;
    else if (per == ACCT_PER_WEEK)
        tm.tm_mday += 7;
    else
        tm.tm_mon += 1, tm.tm_mday = 1;
    n = join(&tm, local);
    return n > b ? n : b + 86400;
}

int acct_buckets(uint64_t from_ns, uint64_t to_ns, enum acct_per per, bool local, uint64_t **ret,
                 size_t *ret_n)
{
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    time_t b;

    if (from_ns >= to_ns || per < 0 || per >= _ACCT_PER_MAX)
        return -EINVAL;
    if (local)
        tzset();
    b = per == ACCT_PER_NONE ? 0 : bucket_floor((time_t)(from_ns / NS), per, local);
    for (uint64_t edge = from_ns;;) {
        if (n + 2 > cap) {
            uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
            if (!nv) {
                free(v);
                return -ENOMEM;
            }
            v = nv;
        }
        v[n++] = edge;
        if (per == ACCT_PER_NONE)
            break;
        b = bucket_next(b, per, local);
        if (b <= 0 || (uint64_t)b >= to_ns / NS + 1 || (uint64_t)b * NS >= to_ns)
            break;
        edge = (uint64_t)b * NS;
    }
    v[n] = to_ns;
    *ret = v;
    *ret_n = n;
    return 0;
}

char *acct_fmt_bucket(char *buf, size_t size, uint64_t t_ns, enum acct_per per, bool local)
{
    time_t t = (time_t)(t_ns / NS);
    struct tm tm;

    if (per == ACCT_PER_HOUR || per == ACCT_PER_NONE || per < 0 || per >= _ACCT_PER_MAX) {
        char full[64], *colon;
        acct_fmt_time(full, sizeof(full), (uint64_t)bucket_floor(t, ACCT_PER_HOUR, local) * NS,
                      local);
        /* drop the seconds: "2026-11-27T10:00:00Z" -> "2026-11-27T10:00Z" */
        colon = strrchr(full, 'T') ? strchr(strchr(full, 'T') + 4, ':') : NULL;
        if (colon)
            memmove(colon, colon + 3, strlen(colon + 3) + 1);
        snprintf(buf, size, "%s", full);
        return buf;
    }
    split(t, local, &tm);
    if (per == ACCT_PER_DAY)
        snprintf(buf, size, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    else if (per == ACCT_PER_MONTH)
        snprintf(buf, size, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
    else if (strftime(buf, size, "%G-W%V", &tm) == 0 && size > 0)
        buf[0] = '\0';
    return buf;
}

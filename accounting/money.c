/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "accounting/money.h"

#define DEN_CPU ((unsigned __int128)3600 * 1000000000u * (1u << 30) * 1000000u)

static int mul_ok(unsigned __int128 a, unsigned __int128 b, unsigned __int128 *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

void acct_cost_add(struct acct_cost *c, uint64_t cpu_ns, uint64_t mem_bs, uint64_t cpu_price_micro,
                   uint64_t mem_price_micro, uint64_t ppm)
{
    unsigned __int128 a, b, s;

    if (!mul_ok((unsigned __int128)cpu_ns * cpu_price_micro, (unsigned __int128)1 << 30, &a) ||
        !mul_ok((unsigned __int128)mem_bs * mem_price_micro, 1000000000u, &b) ||
        __builtin_add_overflow(a, b, &s) || !mul_ok(s, ppm, &s) ||
        __builtin_add_overflow(c->num, s, &c->num))
        c->overflow = 1;
}

int acct_cost_round(const struct acct_cost *c, uint64_t *ret_micro)
{
    unsigned __int128 q;

    if (c->overflow)
        return -ERANGE;
    q = c->num / DEN_CPU;
    if (c->num % DEN_CPU >= DEN_CPU - DEN_CPU / 2) /* remainder >= half: up */
        q++;
    if (q > INT64_MAX)
        return -ERANGE;
    *ret_micro = (uint64_t)q;
    return 0;
}

int acct_parse_micro(const char *s, uint64_t *ret)
{
    uint64_t ip = 0, fp = 0;
    unsigned nd = 0, nf = 0;
    const char *p = s;

    if (!s)
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++, nd++) {
        if (ip > (UINT64_MAX / 10 - 9) / 1000000)
            return -ERANGE;
        ip = ip * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, nf++) {
            if (nf >= 6) {
                if (*p != '0')
                    return -ERANGE;
                continue;
            }
            fp = fp * 10 + (uint64_t)(*p - '0');
        }
        if (nf == 0)
            return -EINVAL;
    }
    if (*p != '\0' || nd == 0)
        return -EINVAL;
    for (unsigned i = nf < 6 ? nf : 6; i < 6; i++)
        fp *= 10;
    if (ip > (UINT64_MAX - fp) / 1000000 || ip * 1000000 + fp > INT64_MAX)
        return -ERANGE;
    *ret = ip * 1000000 + fp;
    return 0;
}

static const uint64_t pow10_tab[] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
    10000000000000000ull,
    100000000000000000ull,
    1000000000000000000ull,
};

char *acct_fmt_ratio(char *buf, size_t size, unsigned __int128 num, unsigned __int128 den,
                     unsigned decimals)
{
    unsigned __int128 scaled, q;
    uint64_t ip, fp;

    if (decimals > 18)
        decimals = 18;
    if (den == 0) {
        snprintf(buf, size, "nan");
        return buf;
    }
    /* num x 10^decimals / den rounded half up; fall back to fewer digits on overflow. */
    while (__builtin_mul_overflow(num, (unsigned __int128)pow10_tab[decimals], &scaled) &&
           decimals > 0)
        decimals--;
    q = scaled / den;
    if (scaled % den >= den - den / 2)
        q++;
    ip = (uint64_t)(q / pow10_tab[decimals]);
    fp = (uint64_t)(q % pow10_tab[decimals]);
    if (decimals)
        snprintf(buf, size, "%llu.%0*llu", (unsigned long long)ip, (int)decimals,
                 (unsigned long long)fp);
    else
        snprintf(buf, size, "%llu", (unsigned long long)ip);
    return buf;
}

char *acct_fmt_fixed(char *buf, size_t size, uint64_t value, unsigned scale_digits,
                     unsigned decimals)
{
    if (scale_digits > 18)
        scale_digits = 18;
    return acct_fmt_ratio(buf, size, value, pow10_tab[scale_digits],
                          decimals > scale_digits ? scale_digits : decimals);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
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

int acct_parse_time(const char *s, uint64_t *ret_ns)
{
    const char *p = s;
    unsigned y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
    uint64_t frac = 0;
    int64_t t, off = 0;

    if (!s || digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
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
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1;
            if (digits(&p, 2, &oh) < 0)
                return -EINVAL;
            if (*p == ':')
                p++;
            if (*p && digits(&p, 2, &om) < 0)
                return -EINVAL;
            if (oh > 23 || om > 59)
                return -EINVAL;
            off = sign * (int64_t)(oh * 3600 + om * 60);
        } else {
            return -EINVAL; /* a time of day needs a zone: no guessing local time */
        }
        if (*p != '\0')
            return -EINVAL;
    }
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    if (t < 0 || t > INT64_MAX / 1000000000 - 1)
        return -EINVAL;
    *ret_ns = (uint64_t)t * 1000000000u + frac;
    return 0;
}

char *acct_fmt_time(char *buf, size_t size, uint64_t t_ns)
{
    int64_t z = (int64_t)(t_ns / 1000000000u), days = z / 86400, sod = z % 86400;
    int64_t era, yoe, doy, mp, y;
    unsigned doe, d, m;

    /* civil_from_days (Howard Hinnant) */
    days += 719468;
    era = days / 146097;
    doe = (unsigned)(days - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    snprintf(buf, size, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", (long long)y, m, d,
             (long long)(sod / 3600), (long long)(sod / 60 % 60), (long long)(sod % 60));
    return buf;
}

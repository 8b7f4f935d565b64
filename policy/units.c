/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "policy/units.h"

/* Splits "123.45" into mantissa 12345 and the count of decimals (2), up to max_dec
 * decimals. *end is left at the first character after the number. */
static int parse_number(const char *s, unsigned max_dec, uint64_t *ret_mant, unsigned *ret_dec,
                        const char **end)
{
    uint64_t m = 0;
    unsigned dec = 0, digits = 0;
    bool dot = false;
    const char *p = s;

    for (;; p++) {
        if (*p >= '0' && *p <= '9') {
            if (dot && ++dec > max_dec)
                return -EINVAL;
            if (__builtin_mul_overflow(m, 10, &m) || __builtin_add_overflow(m, *p - '0', &m))
                return -ERANGE;
            digits++;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else
            break;
    }
    /* "5." and ".5" are not numbers here: write 5 or 0.5. */
    if (digits == 0 || (dot && (dec == 0 || s[0] == '.')))
        return -EINVAL;
    *ret_mant = m;
    *ret_dec = dec;
    *end = p;
    return 0;
}

static uint64_t pow10u(unsigned n)
{
    uint64_t v = 1;
    while (n--)
        v *= 10;
    return v;
}

/* mant / 10^dec * mult, exactly; -EINVAL if not a whole number. */
static int scale_exact(uint64_t mant, unsigned dec, uint64_t mult, uint64_t *ret)
{
    uint64_t div = pow10u(dec), q = mant / div, rem = mant % div, a, b;

    /* q*mult + rem*mult/div, without overflowing on rem*mult. */
    if (__builtin_mul_overflow(q, mult, &a))
        return -ERANGE;
    if (rem == 0) {
        *ret = a;
        return 0;
    }
    if (mult % div != 0 && (__builtin_mul_overflow(rem, mult, &b) || b % div != 0))
        return -EINVAL;
    if (mult % div == 0)
        b = rem * (mult / div);
    else
        b /= div;
    if (__builtin_add_overflow(a, b, &a))
        return -ERANGE;
    *ret = a;
    return 0;
}

int pol_parse_uint(const char *s, uint64_t *ret)
{
    uint64_t m;
    unsigned dec;
    const char *end;
    int r;

    if (!s || !*s)
        return -EINVAL;
    r = parse_number(s, 0, &m, &dec, &end);
    if (r < 0)
        return r;
    if (*end)
        return -EINVAL;
    *ret = m;
    return 0;
}

int pol_parse_size(const char *s, uint64_t *ret)
{
    static const struct {
        char c;
        uint64_t mult;
    } units[] = {
        {'K', 1ull << 10},
        {'M', 1ull << 20},
        {'G', 1ull << 30},
        {'T', 1ull << 40},
    };
    uint64_t m, mult = 1, v;
    unsigned dec;
    const char *end;
    int r;

    if (!s || !*s)
        return -EINVAL;
    if (strcmp(s, "max") == 0) {
        *ret = UINT64_MAX;
        return 0;
    }
    r = parse_number(s, 9, &m, &dec, &end);
    if (r < 0)
        return r;
    if (*end) {
        size_t i;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (*end == units[i].c)
                break;
        if (i == sizeof(units) / sizeof(units[0]) || end[1] != '\0')
            return -EINVAL;
        mult = units[i].mult;
    }
    r = scale_exact(m, dec, mult, &v);
    if (r < 0)
        return r;
    /* UINT64_MAX means "max"; a number that large is not a size anyone means. */
    if (v == UINT64_MAX)
        return -ERANGE;
    *ret = v;
    return 0;
}

int pol_parse_duration(const char *s, uint64_t *ret)
{
    static const struct {
        const char *u;
        uint64_t mult;
    } units[] = {
        {"us", 1}, {"ms", 1000}, {"s", 1000000}, {"min", 60ull * 1000000}, {"h", 3600ull * 1000000},
    };
    uint64_t m, v;
    unsigned dec;
    const char *end;
    int r;

    if (!s || !*s)
        return -EINVAL;
    r = parse_number(s, 6, &m, &dec, &end);
    if (r < 0)
        return r;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].u) == 0) {
            r = scale_exact(m, dec, units[i].mult, &v);
            if (r < 0)
                return r;
            *ret = v;
            return 0;
        }
    return -EINVAL;
}

int pol_parse_cpu_ppm(const char *s, uint64_t *ret)
{
    uint64_t m, v;
    unsigned dec;
    const char *end;
    int r;

    if (!s || !*s)
        return -EINVAL;
    if (strcmp(s, "max") == 0) {
        *ret = UINT64_MAX;
        return 0;
    }
    r = parse_number(s, 4, &m, &dec, &end);
    if (r < 0)
        return r;
    if (strcmp(end, "%") != 0)
        return -EINVAL;
    /* 1% of a CPU is 10000 ppm. */
    r = scale_exact(m, dec, 10000, &v);
    if (r < 0)
        return r;
    *ret = v;
    return 0;
}

uint64_t pol_cpu_quota_usec(uint64_t cpu_ppm, uint64_t period_usec)
{
    unsigned __int128 q;

    if (cpu_ppm == UINT64_MAX)
        return UINT64_MAX;
    q = (unsigned __int128)cpu_ppm * period_usec / 1000000u;
    return q >= UINT64_MAX - 1 ? UINT64_MAX - 2 : (uint64_t)q;
}

int pol_parse_decimal(const char *s, unsigned digits, uint64_t *ret)
{
    uint64_t m, v;
    unsigned dec;
    const char *end;
    int r;

    if (!s || !*s)
        return -EINVAL;
    r = parse_number(s, digits, &m, &dec, &end);
    if (r < 0)
        return r;
    if (*end)
        return -EINVAL;
    r = scale_exact(m, dec, pow10u(digits), &v);
    if (r < 0)
        return r;
    *ret = v;
    return 0;
}

int pol_parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

const char *pol_format_size(uint64_t v, char *buf, unsigned size)
{
    static const char suffix[] = "TGMK";

    if (v == UINT64_MAX) {
        snprintf(buf, size, "max");
        return buf;
    }
    for (int i = 0; i < 4; i++) {
        uint64_t mult = 1ull << (10 * (4 - i));
        if (v >= mult && v % mult == 0) {
            snprintf(buf, size, "%llu%c", (unsigned long long)(v / mult), suffix[i]);
            return buf;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

uint64_t pol_page_size(void)
{
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (uint64_t)n : 4096;
}

int pol_mem_pages(uint64_t bytes, bool zero_ok, uint64_t *ret)
{
    uint64_t page = pol_page_size();

    if (bytes == UINT64_MAX || (bytes == 0 && zero_ok)) {
        *ret = bytes;
        return 0;
    }
    if (bytes < page)
        return -ERANGE;
    *ret = bytes - bytes % page;
    return 0;
}

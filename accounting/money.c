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

int acct_cost_window(const struct acct_cost *before, const struct acct_cost *after,
                     uint64_t *ret_micro)
{
    uint64_t b, a;
    int r;

    r = acct_cost_round(before, &b);
    if (r >= 0)
        r = acct_cost_round(after, &a);
    if (r < 0)
        return r;
    if (a < b) /* after holds before: rounding is monotonic */
        return -EINVAL;
    *ret_micro = a - b;
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

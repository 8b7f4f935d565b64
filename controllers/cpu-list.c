/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Lists of CPU or memory node numbers, in the syntax of cpuset.cpus and cpuset.mems (and
 * of systemd's AllowedCPUs=): numbers and ranges "N-M" separated by commas (a policy may
 * also separate them by spaces), in any order, overlapping or not. Formatted the way the
 * kernel prints them (%*pbl): ascending, a run of two or more as "N-M", "" for none.
 * Pure: no state, no cgroupfs.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controllers/controller.h"

static void list_add(struct ctl_cpu_list *l, unsigned n)
{
    l->bits[n / 64] |= UINT64_C(1) << (n % 64);
}

bool ctl_cpu_list_has(const struct ctl_cpu_list *l, unsigned n)
{
    return n < CTL_CPU_LIST_MAX && (l->bits[n / 64] >> (n % 64) & 1);
}

/* One number at *p; -ERANGE at or above CTL_CPU_LIST_MAX. */
static int parse_num(const char **p, unsigned *ret)
{
    unsigned long v = 0;

    if (!isdigit((unsigned char)**p))
        return -EINVAL;
    for (; isdigit((unsigned char)**p); (*p)++) {
        v = v * 10 + (unsigned long)(**p - '0');
        if (v >= CTL_CPU_LIST_MAX)
            v = CTL_CPU_LIST_MAX; /* keep reading the digits, report the range */
    }
    if (v >= CTL_CPU_LIST_MAX)
        return -ERANGE;
    *ret = (unsigned)v;
    return 0;
}

static bool is_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\n';
}

int ctl_cpu_list_parse(const char *s, struct ctl_cpu_list *ret)
{
    struct ctl_cpu_list l = {.set = 1};
    const char *p = s;
    char text[CTL_VALUE_MAX];

    while (*p) {
        unsigned a, b;
        int r;

        if (is_sep(*p)) {
            p++;
            continue;
        }
        r = parse_num(&p, &a);
        if (r < 0)
            return r;
        b = a;
        if (*p == '-') {
            p++;
            r = parse_num(&p, &b);
            if (r < 0)
                return r;
            if (b < a)
                return -EINVAL;
        }
        if (*p && !is_sep(*p))
            return -EINVAL;
        for (unsigned n = a; n <= b; n++)
            list_add(&l, n);
    }
    /* Its kernel form must fit in one write of a plan. */
    if (ctl_cpu_list_format(&l, text, sizeof(text)) < 0)
        return -E2BIG;
    *ret = l;
    return 0;
}

int ctl_cpu_list_format(const struct ctl_cpu_list *l, char *buf, size_t size)
{
    size_t n = 0;

    if (size == 0)
        return -ENOBUFS;
    buf[0] = '\0';
    for (unsigned a = 0; a < CTL_CPU_LIST_MAX; a++) {
        unsigned b = a;
        int k;

        if (!ctl_cpu_list_has(l, a))
            continue;
        while (ctl_cpu_list_has(l, b + 1))
            b++;
        if (a == b)
            k = snprintf(buf + n, size - n, "%s%u", n ? "," : "", a);
        else
            k = snprintf(buf + n, size - n, "%s%u-%u", n ? "," : "", a, b);
        if (k < 0 || (size_t)k >= size - n)
            return -ENOBUFS;
        n += (size_t)k;
        a = b;
    }
    return 0;
}

bool ctl_cpu_list_empty(const struct ctl_cpu_list *l)
{
    for (size_t i = 0; i < CTL_CPU_LIST_MAX / 64; i++)
        if (l->bits[i])
            return false;
    return true;
}

bool ctl_cpu_list_eq(const struct ctl_cpu_list *a, const struct ctl_cpu_list *b)
{
    return memcmp(a->bits, b->bits, sizeof(a->bits)) == 0;
}

bool ctl_cpu_list_minus(const struct ctl_cpu_list *a, const struct ctl_cpu_list *b,
                        struct ctl_cpu_list *ret)
{
    bool any = false;

    ret->set = 1;
    for (size_t i = 0; i < CTL_CPU_LIST_MAX / 64; i++) {
        ret->bits[i] = a->bits[i] & ~b->bits[i];
        any |= ret->bits[i] != 0;
    }
    return any;
}

struct ctl_cpu_list *ctl_key_list(const struct ctl_key_desc *d, struct ctl_settings *s)
{
    return d->unit == CTL_UNIT_CPU_LIST ? (struct ctl_cpu_list *)((char *)s + d->offset) : NULL;
}

const struct ctl_cpu_list *ctl_key_list_get(const struct ctl_key_desc *d,
                                            const struct ctl_settings *s)
{
    return ctl_key_list(d, (struct ctl_settings *)s);
}

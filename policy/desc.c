/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The value of a cgroup setting as a policy spells it, parsed by the unit its descriptor
 * (controllers/) names and bounded by the descriptor's range. Pure: no state, no cgroupfs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/internal.h"
#include "policy/units.h"

static const char *unit_error(int r, const char *what)
{
    return r == -ERANGE ? "out of range" : what;
}

static int parse_count(const struct ctl_key_desc *d, const char *v, uint64_t *ret, char *msg,
                       size_t size)
{
    uint64_t n;

    if (d->max_ok && strcmp(v, "max") == 0) {
        *ret = CTL_MAX;
        return 0;
    }
    if (pol_parse_uint(v, &n) == 0 && n >= d->min && n <= d->max) {
        *ret = n;
        return 0;
    }
    snprintf(msg, size, "%s.%s='%s': expected an integer from %llu to %llu%s", d->section, d->key,
             POL_X(v), (unsigned long long)d->min, (unsigned long long)d->max,
             d->max_ok ? ", or max" : "");
    return -EINVAL;
}

/* The share is kept in ppm until the period is known (finish). */
static int parse_cpu_share(const struct ctl_key_desc *d, const char *v, uint64_t *ret, char *msg,
                           size_t size)
{
    uint64_t ppm;
    int r = pol_parse_cpu_ppm(v, &ppm);

    if (r == 0 && ppm >= d->min && (ppm == UINT64_MAX ? d->max_ok : ppm <= d->max)) {
        *ret = ppm;
        return 0;
    }
    snprintf(msg, size,
             "%s.%s='%s': %s: expected a share of one CPU above 0%% and up to %llu%% "
             "(e.g. 150%%, 12.5%%)%s",
             d->section, d->key, POL_X(v),
             r < 0 ? unit_error(r, "bad value or unit") : "out of range",
             (unsigned long long)(d->max / 10000), d->max_ok ? " or max" : "");
    return -EINVAL;
}

static const char *fmt_usec(uint64_t us, char *buf, size_t size)
{
    if (us % 1000000 == 0)
        snprintf(buf, size, "%llus", (unsigned long long)(us / 1000000));
    else if (us % 1000 == 0)
        snprintf(buf, size, "%llums", (unsigned long long)(us / 1000));
    else
        snprintf(buf, size, "%lluus", (unsigned long long)us);
    return buf;
}

static int parse_duration(const struct ctl_key_desc *d, const char *v, uint64_t *ret, char *msg,
                          size_t size)
{
    char a[32], b[32];
    uint64_t us;
    int r = pol_parse_duration(v, &us);

    if (r == 0 && us >= d->min && us <= d->max) {
        *ret = us;
        return 0;
    }
    snprintf(msg, size, "%s.%s='%s': %s: expected a duration from %s to %s (units us, ms, s)",
             d->section, d->key, POL_X(v),
             r < 0 ? unit_error(r, "bad value or unit") : "out of range",
             fmt_usec(d->min, a, sizeof(a)), fmt_usec(d->max, b, sizeof(b)));
    return -EINVAL;
}

static int parse_bytes(const struct ctl_key_desc *d, const char *v, uint64_t *ret, char *msg,
                       size_t size)
{
    /* A minimum of 0 allows "none"; otherwise the size must hold at least one page. */
    bool zero_ok = d->min == 0;
    uint64_t b;
    int r = pol_parse_size(v, &b);

    if (r < 0) {
        snprintf(msg, size,
                 "%s.%s='%s': %s: expected bytes with an optional K, M, G or T suffix (powers "
                 "of 1024), or max",
                 d->section, d->key, POL_X(v), unit_error(r, "bad value or unit"));
        return -EINVAL;
    }
    if (pol_mem_pages(b, zero_ok, &b) < 0) {
        snprintf(msg, size,
                 "%s.%s='%s': below one page (%llu bytes), which the kernel would hold as 0%s: "
                 "give at least %lluK",
                 d->section, d->key, POL_X(v), (unsigned long long)pol_page_size(),
                 zero_ok ? " (write 0 for none)" : " and nothing could run",
                 (unsigned long long)pol_page_size() / 1024);
        return -EINVAL;
    }
    *ret = b;
    return 0;
}

int pol_setting_parse_list(const struct ctl_key_desc *d, const char *v, struct ctl_cpu_list *ret,
                           char *msg, size_t size)
{
    struct ctl_cpu_list l;
    int r = ctl_cpu_list_parse(v, &l);

    if (r == 0 && d->min > 0 && ctl_cpu_list_empty(&l))
        r = -ENODATA;
    if (r == 0) {
        *ret = l;
        return 0;
    }
    if (r == -ENODATA)
        snprintf(msg, size,
                 "%s.%s='%s': an empty list: give at least one number, or leave "
                 "the key out for no restriction",
                 d->section, d->key, POL_X(v));
    else if (r == -E2BIG)
        snprintf(msg, size,
                 "%s.%s='%s': too long: the list as the kernel prints it must be "
                 "under %d characters",
                 d->section, d->key, POL_X(v), CTL_VALUE_MAX);
    else
        snprintf(msg, size,
                 "%s.%s='%s': %s: expected numbers from 0 to %d and ranges N-M, "
                 "separated by commas (e.g. 0-3,6)",
                 d->section, d->key, POL_X(v), r == -ERANGE ? "out of range" : "bad list",
                 CTL_CPU_LIST_MAX - 1);
    return -EINVAL;
}

int pol_setting_parse(const struct ctl_key_desc *d, const char *v, uint64_t *ret, char *msg,
                      size_t size)
{
    static int (*const parse[])(const struct ctl_key_desc *, const char *, uint64_t *, char *,
                                size_t) = {
        [CTL_UNIT_COUNT] = parse_count,
        [CTL_UNIT_CPU_SHARE] = parse_cpu_share,
        [CTL_UNIT_DURATION] = parse_duration,
        [CTL_UNIT_BYTES] = parse_bytes,
    };

    if (d->unit >= ARRAY_SIZE(parse) || !parse[d->unit]) {
        snprintf(msg, size, "%s.%s: not a single number", d->section, d->key);
        return -EINVAL;
    }
    return parse[d->unit](d, v, ret, msg, size);
}

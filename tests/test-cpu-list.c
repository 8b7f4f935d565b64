/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of CPU lists (controllers/cpu-list.c): parse, normalise, format. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controllers/controller.h"

/* Parses in and asserts that it formats as want (the kernel's form). */
static void roundtrip(const char *in, const char *want)
{
    struct ctl_cpu_list l;
    char buf[CTL_VALUE_MAX];
    int r = ctl_cpu_list_parse(in, &l);

    cr_assert_eq(r, 0, "'%s': %d", in, r);
    cr_assert_neq(l.set, CTL_UNSET);
    cr_assert_eq(ctl_cpu_list_format(&l, buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, want, "'%s'", in);
}

static void refused(const char *in, int want)
{
    struct ctl_cpu_list l = {.set = CTL_UNSET};
    int r = ctl_cpu_list_parse(in, &l);

    cr_assert_eq(r, want, "'%s': got %d, want %d", in, r, want);
    cr_assert_eq(l.set, CTL_UNSET, "'%s': the list was changed", in);
}

Test(cpu_list, empty_is_an_empty_list)
{
    struct ctl_cpu_list l;

    roundtrip("", "");
    roundtrip(" ", "");
    roundtrip(",", "");
    cr_assert_eq(ctl_cpu_list_parse("", &l), 0);
    cr_assert(ctl_cpu_list_empty(&l));
    cr_assert_eq(ctl_cpu_list_parse("3", &l), 0);
    cr_assert_not(ctl_cpu_list_empty(&l));
}

Test(cpu_list, single)
{
    roundtrip("0", "0");
    roundtrip("7", "7");
    roundtrip("1023", "1023");
}

Test(cpu_list, ranges_as_the_kernel_prints_them)
{
    roundtrip("0-3", "0-3");
    roundtrip("0-3,6", "0-3,6");
    roundtrip("0,1", "0-1"); /* a run of two is a range */
    roundtrip("0,1,2,5,7,8", "0-2,5,7-8");
    roundtrip("4-4", "4");
    roundtrip("0-1023", "0-1023");
    roundtrip("0-1\n", "0-1"); /* as read from cpuset.cpus */
}

Test(cpu_list, overlaps_and_order_are_normalised)
{
    roundtrip("0-3,2-5", "0-5");
    roundtrip("6,0-3", "0-3,6");
    roundtrip("3,2,1,0", "0-3");
    roundtrip("1,1,1", "1");
    roundtrip("5-7,0,6", "0,5-7");
    roundtrip("0 2 3", "0,2-3"); /* systemd's spaces */
}

Test(cpu_list, junk_is_refused)
{
    refused("a", -EINVAL);
    refused("0-", -EINVAL);
    refused("-1", -EINVAL);
    refused("3-1", -EINVAL);
    refused("0x1", -EINVAL);
    refused("1.5", -EINVAL);
    refused("0--2", -EINVAL);
    refused("0-1-2", -EINVAL);
    refused("+1", -EINVAL);
    refused("0;1", -EINVAL);
}

Test(cpu_list, too_large_is_refused)
{
    char many[4096];
    size_t n = 0;

    refused("1024", -ERANGE);
    refused("0-1024", -ERANGE);
    refused("99999999999999999999999", -ERANGE);
    /* Every other CPU: a kernel form far too long for one write. */
    for (unsigned i = 0; i < 200; i += 2)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%u,", i);
    refused(many, -E2BIG);
}

Test(cpu_list, format_needs_room)
{
    struct ctl_cpu_list l;
    char buf[4];

    cr_assert_eq(ctl_cpu_list_parse("0-3,6", &l), 0);
    cr_assert_eq(ctl_cpu_list_format(&l, buf, sizeof(buf)), -ENOBUFS);
}

Test(cpu_list, minus_and_eq)
{
    struct ctl_cpu_list a, b, m;
    char buf[CTL_VALUE_MAX];

    cr_assert_eq(ctl_cpu_list_parse("0-5", &a), 0);
    cr_assert_eq(ctl_cpu_list_parse("0-1", &b), 0);
    cr_assert(ctl_cpu_list_minus(&a, &b, &m));
    cr_assert_eq(ctl_cpu_list_format(&m, buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, "2-5");
    cr_assert_not(ctl_cpu_list_minus(&b, &a, &m));
    cr_assert_not(ctl_cpu_list_eq(&a, &b));
    cr_assert_eq(ctl_cpu_list_parse("1,0", &a), 0);
    cr_assert(ctl_cpu_list_eq(&a, &b));
    cr_assert(ctl_cpu_list_has(&a, 1));
    cr_assert_not(ctl_cpu_list_has(&a, 2));
    cr_assert_not(ctl_cpu_list_has(&a, CTL_CPU_LIST_MAX));
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of accounting's arithmetic: money (cumulative rounding), the delta rule, CSV. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/delta.h"
#include "accounting/money.h"
#include "accounting/report.h"

#define NS   1000000000ull
#define HOUR (3600 * NS)
#define GIB  (1ull << 30)

static uint64_t cost(uint64_t cpu_ns, uint64_t mem_bs, uint64_t pc, uint64_t pm, uint64_t ppm)
{
    struct acct_cost c = {0};
    uint64_t v = 0;

    acct_cost_add(&c, cpu_ns, mem_bs, pc, pm, ppm);
    cr_assert_eq(acct_cost_round(&c, &v), 0);
    return v;
}

Test(money, exact_prices)
{
    /* one core-hour at 0.04 = 40000 micro; one GiB-hour at 0.005 = 5000 micro */
    cr_assert_eq(cost(HOUR, 0, 40000, 5000, ACCT_PPM_ONE), 40000);
    cr_assert_eq(cost(0, 3600 * GIB, 40000, 5000, ACCT_PPM_ONE), 5000);
    cr_assert_eq(cost(HOUR, 3600 * GIB, 40000, 5000, 1500000), 67500);
    cr_assert_eq(cost(0, 0, 40000, 5000, ACCT_PPM_ONE), 0);
}

Test(money, round_half_up_once)
{
    /* 1 core-hour at 1 micro = 1 micro; half of it = 0.5 micro -> 1 (half up) */
    cr_assert_eq(cost(HOUR / 2, 0, 1, 0, ACCT_PPM_ONE), 1);
    /* just below half -> 0 */
    cr_assert_eq(cost(HOUR / 2 - 1, 0, 1, 0, ACCT_PPM_ONE), 0);
    /* 0.4 + 0.4 micro from two accounts in one row: one rounding of 0.8 -> 1, not 0 + 0 */
    struct acct_cost c = {0};
    uint64_t v;
    acct_cost_add(&c, HOUR * 4 / 10, 0, 1, 0, ACCT_PPM_ONE);
    acct_cost_add(&c, HOUR * 4 / 10, 0, 1, 0, ACCT_PPM_ONE);
    cr_assert_eq(acct_cost_round(&c, &v), 0);
    cr_assert_eq(v, 1);
}

/* R(C(to)) - R(C(from)): within one micro-unit of the exact cost, and consecutive windows
 * add up to their union whatever the cuts (the naive per-window rounding does not). */
Test(money, cumulative_rounding_telescopes)
{
    const uint64_t pc = 40000, pm = 5000;
    uint64_t x = 0x9e3779b97f4a7c15ull, sum = 0, naive = 0, whole, one;
    struct acct_cost before = {0}, after, all = {0};

    for (int i = 0; i < 1000; i++) {
        uint64_t cpu, mem;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        cpu = x % (7 * NS);
        mem = (x >> 20) % (900 * GIB);
        after = before;
        acct_cost_add(&after, cpu, mem, pc, pm, 1250000);
        acct_cost_add(&all, cpu, mem, pc, pm, 1250000);
        cr_assert_eq(acct_cost_window(&before, &after, &one), 0);
        sum += one;
        naive += cost(cpu, mem, pc, pm, 1250000);
        before = after;
        /* within one micro-unit of the window's exact cost */
        struct acct_cost w = {0};
        uint64_t lo;
        acct_cost_add(&w, cpu, mem, pc, pm, 1250000);
        cr_assert_eq(acct_cost_round(&w, &lo), 0);
        cr_assert(one + 1 >= lo && one <= lo + 1, "window %d: %llu vs %llu", i,
                  (unsigned long long)one, (unsigned long long)lo);
    }
    cr_assert_eq(acct_cost_round(&all, &whole), 0);
    cr_assert_eq(sum, whole, "the windows add up to the union");
    cr_assert_neq(naive, whole, "naive rounding per window drifts (this data is chosen so)");
    /* after before: an error, never a negative cost */
    cr_assert_eq(acct_cost_window(&all, &(struct acct_cost){0}, &one), -EINVAL);
}

Test(money, overflow_is_an_error)
{
    struct acct_cost c = {0};
    uint64_t v;

    acct_cost_add(&c, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
    cr_assert_eq(acct_cost_round(&c, &v), -ERANGE);
}

Test(money, parse_micro)
{
    uint64_t v;

    cr_assert_eq(acct_parse_micro("0.04", &v), 0);
    cr_assert_eq(v, 40000);
    cr_assert_eq(acct_parse_micro("12", &v), 0);
    cr_assert_eq(v, 12000000);
    cr_assert_eq(acct_parse_micro("1.000001", &v), 0);
    cr_assert_eq(v, 1000001);
    cr_assert_eq(acct_parse_micro("0.0000010", &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(acct_parse_micro("-1", &v), -EINVAL);
    cr_assert_eq(acct_parse_micro("abc", &v), -EINVAL);
    cr_assert_eq(acct_parse_micro("", &v), -EINVAL);
    cr_assert_eq(acct_parse_micro("1.", &v), -EINVAL);
    cr_assert_eq(acct_parse_micro(".5", &v), -EINVAL);
    cr_assert_eq(acct_parse_micro("1e3", &v), -EINVAL);
    cr_assert_eq(acct_parse_micro("0.0000001", &v), -ERANGE);
    cr_assert_eq(acct_parse_micro("99999999999999999999", &v), -ERANGE);
}

Test(money, fixed_format)
{
    char b[64];

    cr_assert_str_eq(acct_fmt_fixed(b, sizeof(b), 1234567, 6, 6), "1.234567");
    cr_assert_str_eq(acct_fmt_fixed(b, sizeof(b), 1234567, 6, 2), "1.23");
    cr_assert_str_eq(acct_fmt_fixed(b, sizeof(b), 1235000, 6, 2), "1.24");
    cr_assert_str_eq(acct_fmt_fixed(b, sizeof(b), 5, 6, 6), "0.000005");
    cr_assert_str_eq(acct_fmt_ratio(b, sizeof(b), 3600ull * GIB, 3600ull * GIB, 3), "1.000");
}

Test(delta, counter_rule)
{
    uint64_t cum = 0;

    cr_assert_eq(acct_counter_step(&cum, 100), 100); /* first: since creation */
    cr_assert_eq(acct_counter_step(&cum, 150), 50);
    cr_assert_eq(acct_counter_step(&cum, 149), 0); /* jitter back: held */
    cr_assert_eq(cum, 150);
    cr_assert_eq(acct_counter_step(&cum, 160), 10); /* regained part not recounted */
    cr_assert_eq(acct_counter_step(&cum, 30), 30);  /* reset: counted from zero */
    cr_assert_eq(cum, 30);
    cr_assert_eq(acct_counter_step(&cum, 45), 15);
    cr_assert_eq(acct_counter_step(&cum, CTL_UNSET), 0); /* unavailable: nothing */
    cr_assert_eq(cum, 45);
    cr_assert_eq(acct_counter_step(&cum, 0), 0); /* reset to zero */
    cr_assert_eq(cum, 0);
}

static void usage_cpu(struct ctl_usage *u, uint64_t user, uint64_t sys, uint64_t mem)
{
    ctl_usage_init(u);
    u->cpu_user_ns = user;
    u->cpu_system_ns = sys;
    u->mem_current = mem;
    u->frozen = 0;
}

Test(delta, sequence_with_reset_neither_loses_nor_double_counts)
{
    /* raw user counter 10,20,30 | reset | 5,15: real usage 30 + 15 = 45 */
    uint64_t raw[] = {10, 20, 30, 5, 15}, total = 0;
    struct acct_state s, *prev = NULL, keep;
    struct acct_delta d;
    struct ctl_usage u;

    for (size_t i = 0; i < 5; i++) {
        usage_cpu(&u, raw[i], 0, 0);
        acct_delta_step(prev, 0, (i + 1) * NS, &u, CTL_MAX, CTL_MAX, &s, &d);
        total += d.cpu_user_ns;
        keep = s;
        prev = &keep;
    }
    cr_assert_eq(total, 45);
}

Test(delta, trapezoid_integral_and_wall)
{
    struct acct_state s0, s1;
    struct acct_delta d;
    struct ctl_usage u;

    /* from an instance start at t=1s with 0 bytes to 2 GiB at t=3s: 2 GiB-seconds */
    usage_cpu(&u, 0, 0, 2 * GIB);
    acct_delta_step(NULL, 1 * NS, 3 * NS, &u, CTL_MAX, CTL_MAX, &s0, &d);
    cr_assert_eq(d.mem_bs, 2 * GIB);
    cr_assert_eq(d.wall_ns, 2 * NS);
    /* steady 2 GiB for 10 s: 20 GiB-s, cumulative 22 GiB-s */
    acct_delta_step(&s0, 0, 13 * NS, &u, CTL_MAX, CTL_MAX, &s1, &d);
    cr_assert_eq(d.mem_bs, 20 * GIB);
    cr_assert_eq(s1.mem_integral_bs, 22 * GIB);
    /* no start and no previous sample: no interval, nothing added */
    acct_delta_step(NULL, 0, 3 * NS, &u, CTL_MAX, CTL_MAX, &s0, &d);
    cr_assert_eq(d.mem_bs, 0);
    cr_assert_eq(d.wall_ns, 0);
}

Test(delta, admit_takes_no_row_after_a_final_nor_a_late_sample)
{
    struct acct_state prev = {.t_ns = 10 * NS};
    uint64_t t;

    t = 5 * NS; /* a generation's first row: any time */
    cr_assert(acct_row_admit(NULL, false, false, &t));
    cr_assert_eq(t, 5 * NS);
    t = 11 * NS;
    cr_assert(acct_row_admit(&prev, false, false, &t));
    cr_assert_eq(t, 11 * NS);
    t = 10 * NS; /* a duplicate or a late sample is ignored */
    cr_assert_not(acct_row_admit(&prev, false, false, &t));
    t = 9 * NS;
    cr_assert_not(acct_row_admit(&prev, false, false, &t));
    t = 9 * NS; /* a late final record is kept, just after the latest row */
    cr_assert(acct_row_admit(&prev, false, true, &t));
    cr_assert_eq(t, 10 * NS + 1);
    t = 20 * NS; /* nothing after a final record, not even another final */
    cr_assert_not(acct_row_admit(&prev, true, false, &t));
    cr_assert_not(acct_row_admit(&prev, true, true, &t));
}

Test(delta, reservation_and_frozen)
{
    struct acct_state s0, s1;
    struct acct_delta d;
    struct ctl_usage u;

    usage_cpu(&u, 0, 0, GIB);
    acct_delta_step(NULL, 0, 10 * NS, &u, 1500000, 4 * GIB, &s0, &d);
    /* 10 s later, used 2 CPU-seconds under a 1.5-core limit: reserved 15 s */
    usage_cpu(&u, 1 * NS, 1 * NS, GIB);
    u.frozen = 1;
    acct_delta_step(&s0, 0, 20 * NS, &u, 1500000, 4 * GIB, &s1, &d);
    cr_assert_eq(d.cpu_user_ns + d.cpu_system_ns, 2 * NS);
    cr_assert_eq(d.cpu_reserved_ns, 15 * NS);
    cr_assert_eq(d.mem_bs, 10 * GIB);
    cr_assert_eq(d.mem_reserved_bs, 40 * GIB);
    cr_assert_eq(d.frozen_ns, 5 * NS); /* thawed -> frozen: half the interval */
    /* no limit: reservation is the usage */
    acct_delta_step(&s0, 0, 20 * NS, &u, CTL_MAX, CTL_MAX, &s1, &d);
    cr_assert_eq(d.cpu_reserved_ns, 2 * NS);
    cr_assert_eq(d.mem_reserved_bs, 10 * GIB);
}

static char *csv(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    acct_csv_field(f, s);
    fclose(f);
    return buf;
}

Test(csv, rfc4180_quoting)
{
    char *v;

    cr_assert_str_eq(v = csv("plain"), "plain");
    free(v);
    cr_assert_str_eq(v = csv("a,b"), "\"a,b\"");
    free(v);
    cr_assert_str_eq(v = csv("say \"hi\""), "\"say \"\"hi\"\"\"");
    free(v);
    cr_assert_str_eq(v = csv("two\r\nlines"), "\"two\r\nlines\"");
    free(v);
    cr_assert_str_eq(v = csv(""), "");
    free(v);
}

Test(report, names)
{
    cr_assert_eq(acct_by_from_string("account"), ACCT_BY_ACCOUNT);
    cr_assert_eq(acct_by_from_string("instance"), ACCT_BY_INSTANCE);
    cr_assert_lt(acct_by_from_string("team"), 0);
    cr_assert_eq(acct_billing_from_string("reservation"), ACCT_BILL_RESERVATION);
    cr_assert_eq(acct_billing_from_string("none"), ACCT_BILL_NONE);
    cr_assert_eq(acct_per_from_string("week"), ACCT_PER_WEEK);
    cr_assert_lt(acct_per_from_string("fortnight"), 0);
    cr_assert_lt(acct_format_from_string("xml"), 0);
}

Test(delta, cpu_split_monotonic_and_exact)
{
    /* total 100 (60/40), then total 110 with a tick split of 50/60: user may not drop */
    struct acct_state s0, s1, s2;
    struct acct_delta d;
    struct ctl_usage u;

    ctl_usage_init(&u);
    u.cpu_usage_ns = 100;
    u.cpu_user_ns = 60;
    u.cpu_system_ns = 40;
    acct_delta_step(NULL, 0, NS, &u, CTL_MAX, CTL_MAX, &s0, &d);
    cr_assert_eq(d.cpu_user_ns + d.cpu_system_ns, 100);
    u.cpu_usage_ns = 110;
    u.cpu_user_ns = 50;
    u.cpu_system_ns = 60;
    acct_delta_step(&s0, 0, 2 * NS, &u, CTL_MAX, CTL_MAX, &s1, &d);
    cr_assert_eq(d.cpu_user_ns, 0);
    cr_assert_eq(d.cpu_system_ns, 10);
    /* v1: the tick split (990/8) does not add up to the exact total 1000: scaled */
    u.cpu_usage_ns = 1000;
    u.cpu_user_ns = 990;
    u.cpu_system_ns = 8;
    acct_delta_step(&s1, 0, 3 * NS, &u, CTL_MAX, CTL_MAX, &s2, &d);
    cr_assert_eq(s2.cpu_user_ns + s2.cpu_system_ns, 1000);
    cr_assert_eq(d.cpu_user_ns + d.cpu_system_ns, 890);
    /* total reset: counted from zero */
    u.cpu_usage_ns = 10;
    u.cpu_user_ns = 10;
    u.cpu_system_ns = 0;
    acct_delta_step(&s2, 0, 4 * NS, &u, CTL_MAX, CTL_MAX, &s0, &d);
    cr_assert_eq(d.cpu_user_ns + d.cpu_system_ns, 10);
}

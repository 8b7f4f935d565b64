/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the controllers' pure conversions: no cgroupfs needed. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "controllers/ctl-internal.h"
#include "controllers/freezer.h"

Test(conversions, weight_to_shares_formula)
{
    /* shares = weight * 1024 / 100, truncated (DESIGN.md). */
    cr_assert_eq(ctl_weight_to_shares(100), 1024);
    cr_assert_eq(ctl_weight_to_shares(1), 10);
    cr_assert_eq(ctl_weight_to_shares(25), 256);
    cr_assert_eq(ctl_weight_to_shares(200), 2048);
    cr_assert_eq(ctl_weight_to_shares(1000), 10240);
    cr_assert_eq(ctl_weight_to_shares(3), 30); /* 30.72 truncated */
    cr_assert_eq(ctl_weight_to_shares(10000), 102400);
}

Test(conversions, weight_to_shares_clamps)
{
    cr_assert_eq(ctl_weight_to_shares(0), CTL_SHARES_MIN);
    cr_assert_eq(ctl_weight_to_shares(30000), CTL_SHARES_MAX);
    cr_assert_eq(ctl_weight_to_shares(1000000), CTL_SHARES_MAX);
    cr_assert_eq(ctl_weight_to_shares(CTL_UNSET), CTL_UNSET);
    cr_assert_eq(ctl_weight_to_shares(CTL_MAX), CTL_MAX);
}

Test(conversions, shares_to_weight)
{
    cr_assert_eq(ctl_shares_to_weight(1024), 100);
    cr_assert_eq(ctl_shares_to_weight(2048), 200);
    cr_assert_eq(ctl_shares_to_weight(2), 1);          /* below weight 1 */
    cr_assert_eq(ctl_shares_to_weight(262144), 10000); /* above weight 10000 */
    cr_assert_eq(ctl_shares_to_weight(1000), 98);      /* 97.66 to nearest */
    cr_assert_eq(ctl_shares_to_weight(CTL_UNSET), CTL_UNSET);
}

Test(conversions, weight_roundtrip_is_exact)
{
    for (uint64_t w = CTL_WEIGHT_MIN; w <= CTL_WEIGHT_MAX; w++)
        cr_assert_eq(ctl_shares_to_weight(ctl_weight_to_shares(w)), w, "weight %llu",
                     (unsigned long long)w);
}

Test(conversions, cpu_max_parse)
{
    uint64_t q = 0, p = 0;

    cr_assert_eq(ctl_cpu_max_parse("max 100000", &q, &p), 0);
    cr_assert_eq(q, CTL_MAX);
    cr_assert_eq(p, 100000);
    cr_assert_eq(ctl_cpu_max_parse("150000 100000", &q, &p), 0);
    cr_assert_eq(q, 150000);
    cr_assert_eq(p, 100000);
    cr_assert_eq(ctl_cpu_max_parse("50000 20000\n", &q, &p), 0);
    cr_assert_eq(q, 50000);
    cr_assert_eq(p, 20000);
    q = p = 7;
    cr_assert_lt(ctl_cpu_max_parse("max", &q, &p), 0);
    cr_assert_lt(ctl_cpu_max_parse("", &q, &p), 0);
    cr_assert_lt(ctl_cpu_max_parse("10 max", &q, &p), 0);
    cr_assert_lt(ctl_cpu_max_parse("x 100000", &q, &p), 0);
    cr_assert_eq(q, 7, "output untouched on failure");
}

Test(conversions, cpu_max_format)
{
    char buf[64];

    cr_assert_eq(ctl_cpu_max_format(CTL_MAX, 100000, buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, "max 100000");
    cr_assert_eq(ctl_cpu_max_format(150000, 100000, buf, sizeof(buf)), 0);
    cr_assert_str_eq(buf, "150000 100000");
    cr_assert_lt(ctl_cpu_max_format(1000, CTL_MAX, buf, sizeof(buf)), 0);
    cr_assert_lt(ctl_cpu_max_format(CTL_UNSET, 100000, buf, sizeof(buf)), 0);
    cr_assert_lt(ctl_cpu_max_format(150000, 100000, buf, 5), 0);
}

Test(conversions, cfs_quota_parse)
{
    uint64_t v = 0;

    cr_assert_eq(ctl_cfs_quota_parse("-1", &v), 0);
    cr_assert_eq(v, CTL_MAX);
    cr_assert_eq(ctl_cfs_quota_parse("50000", &v), 0);
    cr_assert_eq(v, 50000);
    cr_assert_lt(ctl_cfs_quota_parse("-2", &v), 0);
    cr_assert_lt(ctl_cfs_quota_parse("abc", &v), 0);
}

Test(conversions, max_keyword)
{
    uint64_t v = 0;
    char buf[32];

    cr_assert_eq(cg_parse_u64("max", &v), 0);
    cr_assert_eq(v, CTL_MAX);
    cr_assert_eq(cg_parse_u64("max\n", &v), 0);
    cr_assert_eq(v, CTL_MAX);
    cr_assert_lt(cg_parse_u64("maxi", &v), 0);
    ctl_format_u64(CTL_MAX, buf, sizeof(buf));
    cr_assert_str_eq(buf, "max");
    ctl_format_u64(512, buf, sizeof(buf));
    cr_assert_str_eq(buf, "512");
    ctl_format_u64(0, buf, sizeof(buf));
    cr_assert_str_eq(buf, "0");
}

Test(conversions, memory_page_rounding)
{
    const uint64_t G = 1024ULL * 1024 * 1024;

    cr_assert_eq(ctl_mem_round(2 * G, 4096), 2147483648ULL);
    cr_assert_eq(ctl_mem_round(2 * G + 1, 4096), 2 * G);
    cr_assert_eq(ctl_mem_round(2 * G + 4095, 4096), 2 * G);
    cr_assert_eq(ctl_mem_round(2 * G + 4096, 4096), 2 * G + 4096);
    cr_assert_eq(ctl_mem_round(4095, 4096), 0);
    cr_assert_eq(ctl_mem_round(0, 4096), 0);
    cr_assert_eq(ctl_mem_round(100000, 65536), 65536);
    cr_assert_eq(ctl_mem_round(CTL_MAX, 4096), CTL_MAX);
    cr_assert_eq(ctl_mem_round(CTL_UNSET, 4096), CTL_UNSET);
}

Test(conversions, memory_unlimited_normalised)
{
    /* PAGE_COUNTER_MAX pages, as v1 shows an unlimited group with 4 KiB and 64 KiB pages. */
    cr_assert_eq(ctl_mem_normalise(9223372036854771712ULL, 4096), CTL_MAX);
    cr_assert_eq(ctl_mem_normalise(9223372036854710272ULL, 65536), CTL_MAX);
    cr_assert_eq(ctl_mem_normalise(9223372036854775807ULL, 4096), CTL_MAX);
    cr_assert_eq(ctl_mem_normalise(9223372036854771712ULL - 4096, 4096),
                 9223372036854771712ULL - 4096);
    cr_assert_eq(ctl_mem_normalise(2147483648ULL, 4096), 2147483648ULL);
    cr_assert_eq(ctl_mem_normalise(CTL_UNSET, 4096), CTL_UNSET);
}

Test(conversions, memory_parse_and_format)
{
    uint64_t v = 0;
    char buf[32];

    cr_assert_eq(ctl_mem_parse("max", true, 4096, &v), 0);
    cr_assert_eq(v, CTL_MAX);
    cr_assert_eq(ctl_mem_parse("2147483648", true, 4096, &v), 0);
    cr_assert_eq(v, 2147483648ULL);
    cr_assert_eq(ctl_mem_parse("9223372036854771712", false, 4096, &v), 0);
    cr_assert_eq(v, CTL_MAX);
    cr_assert_eq(ctl_mem_parse("-1", false, 4096, &v), 0);
    cr_assert_eq(v, CTL_MAX);
    cr_assert_lt(ctl_mem_parse("-1", true, 4096, &v), 0);
    cr_assert_lt(ctl_mem_parse("1G", true, 4096, &v), 0);
    ctl_mem_format(CTL_MAX, true, buf, sizeof(buf));
    cr_assert_str_eq(buf, "max");
    ctl_mem_format(CTL_MAX, false, buf, sizeof(buf));
    cr_assert_str_eq(buf, "-1");
    ctl_mem_format(2147483648ULL, false, buf, sizeof(buf));
    cr_assert_str_eq(buf, "2147483648");
}

Test(conversions, memsw_sum_and_order)
{
    const uint64_t G = 1024ULL * 1024 * 1024;

    cr_assert_eq(ctl_memsw_sum(2 * G, G), 3 * G);
    cr_assert_eq(ctl_memsw_sum(2 * G, 0), 2 * G);
    cr_assert_eq(ctl_memsw_sum(CTL_MAX, 0), CTL_MAX);
    cr_assert_eq(ctl_memsw_sum(2 * G, CTL_MAX), CTL_MAX);
    cr_assert_eq(ctl_memsw_sum(UINT64_MAX - 10, 100), CTL_MAX, "saturates, never CTL_UNSET");
    /* memsw goes first only when the new memory limit would pass the current memsw. */
    cr_assert(ctl_memsw_first(3 * G, 2 * G));
    cr_assert_not(ctl_memsw_first(G, 2 * G));
    cr_assert_not(ctl_memsw_first(2 * G, 2 * G));
    cr_assert_not(ctl_memsw_first(2 * G, CTL_MAX));
    cr_assert(ctl_memsw_first(CTL_MAX, 2 * G));
}

Test(conversions, table_and_names)
{
    cr_assert_str_eq(ctl_id_to_string(CTL_CPU), "cpu");
    cr_assert_eq(ctl_id_from_string("memory"), CTL_MEMORY);
    cr_assert_eq(ctl_id_from_string("io"), _CTL_INVALID);
    cr_assert_null(ctl_freezer.apply, "the freezer holds a state, not a limit");
    cr_assert_not_null(ctl_cpu.apply);
    cr_assert_not_null(ctl_memory.apply);
    cr_assert_not_null(ctl_pids.apply);
    cr_assert_not_null(ctl_freezer.read_usage);
    cr_assert_str_eq(ctl_freeze_state_to_string(CTL_FREEZING), "freezing");
}

Test(conversions, unset_is_not_max_or_zero)
{
    struct ctl_settings s;
    struct ctl_usage u;

    ctl_settings_init(&s);
    ctl_usage_init(&u);
    cr_assert_eq(s.mem_max, CTL_UNSET);
    cr_assert_neq(CTL_UNSET, CTL_MAX);
    cr_assert_eq(u.mem_peak, CTL_UNSET);
    cr_assert_eq(u.frozen, CTL_UNSET);
}

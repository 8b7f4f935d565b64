/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the policy units: exact integers for sizes, durations, CPU shares, prices. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "policy/units.h"

static uint64_t size_ok(const char *s)
{
    uint64_t v = 0;
    int r = pol_parse_size(s, &v);
    cr_assert_eq(r, 0, "pol_parse_size(\"%s\") = %d", s, r);
    return v;
}

Test(units, sizes_are_powers_of_1024)
{
    cr_assert_eq(size_ok("0"), 0);
    cr_assert_eq(size_ok("4096"), 4096);
    cr_assert_eq(size_ok("64K"), 65536);
    cr_assert_eq(size_ok("1536M"), 1610612736ull);
    cr_assert_eq(size_ok("2G"), 2147483648ull);
    cr_assert_eq(size_ok("1.5G"), 1610612736ull);
    cr_assert_eq(size_ok("1T"), 1099511627776ull);
    cr_assert_eq(size_ok("0.5K"), 512);
    cr_assert_eq(size_ok("max"), UINT64_MAX);
}

Test(units, bad_sizes_rejected)
{
    static const char *const bad[] = {"",    "2X",   "2GB", "2g",   "-1",  "G",    "1.G",   ".5G",
                                      "2 G", "max ", "1e9", "0.1K", "2G2", "maxi", "1..2K", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 7;
        cr_expect_lt(pol_parse_size(bad[i], &v), 0, "'%s' accepted", bad[i]);
        cr_expect_eq(v, 7, "'%s' touched the output", bad[i]);
    }
    uint64_t v;
    cr_assert_eq(pol_parse_size("99999999999T", &v), -ERANGE);
    cr_assert_eq(pol_parse_size("18446744073709551616", &v), -ERANGE);
}

Test(units, durations)
{
    uint64_t v;
    cr_assert_eq(pol_parse_duration("100ms", &v), 0);
    cr_assert_eq(v, 100000);
    cr_assert_eq(pol_parse_duration("500us", &v), 0);
    cr_assert_eq(v, 500);
    cr_assert_eq(pol_parse_duration("10s", &v), 0);
    cr_assert_eq(v, 10000000);
    cr_assert_eq(pol_parse_duration("1.5s", &v), 0);
    cr_assert_eq(v, 1500000);
    cr_assert_eq(pol_parse_duration("2min", &v), 0);
    cr_assert_eq(v, 120000000);
    cr_assert_eq(pol_parse_duration("1h", &v), 0);
    cr_assert_eq(v, 3600000000ull);
    static const char *const bad[] = {"100", "10sec", "ms", "1.5us", "-1s", "10 s", "", "1m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_lt(pol_parse_duration(bad[i], &v), 0, "'%s' accepted", bad[i]);
}

Test(units, cpu_percent_to_quota)
{
    uint64_t ppm;
    cr_assert_eq(pol_parse_cpu_ppm("150%", &ppm), 0);
    cr_assert_eq(ppm, 1500000);
    cr_assert_eq(pol_cpu_quota_usec(ppm, 100000), 150000, "150%% of 100ms is 150000us");
    cr_assert_eq(pol_cpu_quota_usec(ppm, 50000), 75000);
    cr_assert_eq(pol_parse_cpu_ppm("12.5%", &ppm), 0);
    cr_assert_eq(pol_cpu_quota_usec(ppm, 100000), 12500);
    cr_assert_eq(pol_parse_cpu_ppm("0.0001%", &ppm), 0);
    cr_assert_eq(ppm, 1);
    cr_assert_eq(pol_parse_cpu_ppm("max", &ppm), 0);
    cr_assert_eq(ppm, UINT64_MAX);
    cr_assert_eq(pol_cpu_quota_usec(UINT64_MAX, 100000), UINT64_MAX);
    static const char *const bad[] = {"150", "1.5",      "150 %", "%",
                                      "-5%", "0.00001%", "150%%", "1.5cpu"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_lt(pol_parse_cpu_ppm(bad[i], &ppm), 0, "'%s' accepted", bad[i]);
}

Test(units, decimals_are_exact_micro_units)
{
    uint64_t v;
    cr_assert_eq(pol_parse_decimal("0.04", 6, &v), 0);
    cr_assert_eq(v, 40000);
    cr_assert_eq(pol_parse_decimal("0.005", 6, &v), 0);
    cr_assert_eq(v, 5000);
    cr_assert_eq(pol_parse_decimal("12", 6, &v), 0);
    cr_assert_eq(v, 12000000);
    cr_assert_eq(pol_parse_decimal("0.000001", 6, &v), 0);
    cr_assert_eq(v, 1);
    /* 0.1 is not exact in binary floating point; here it is exactly 100000. */
    cr_assert_eq(pol_parse_decimal("0.1", 6, &v), 0);
    cr_assert_eq(v, 100000);
    static const char *const bad[] = {"-0.04", "0.0000001", "abc", "1,5", "", "1.", "+1", "1e3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_lt(pol_parse_decimal(bad[i], 6, &v), 0, "'%s' accepted", bad[i]);
}

Test(units, integers_and_bools)
{
    uint64_t v;
    bool b;
    cr_assert_eq(pol_parse_uint("10000", &v), 0);
    cr_assert_eq(v, 10000);
    cr_assert_lt(pol_parse_uint("1.0", &v), 0);
    cr_assert_lt(pol_parse_uint("-1", &v), 0);
    cr_assert_lt(pol_parse_uint("", &v), 0);
    cr_assert_eq(pol_parse_bool("yes", &b), 0);
    cr_assert(b);
    cr_assert_eq(pol_parse_bool("off", &b), 0);
    cr_assert(!b);
    cr_assert_lt(pol_parse_bool("maybe", &b), 0);
}

Test(units, format_size_round_trips)
{
    char buf[32];
    cr_assert_str_eq(pol_format_size(2147483648ull, buf, sizeof(buf)), "2G");
    cr_assert_str_eq(pol_format_size(1610612736ull, buf, sizeof(buf)), "1536M");
    cr_assert_str_eq(pol_format_size(1000, buf, sizeof(buf)), "1000");
    cr_assert_str_eq(pol_format_size(UINT64_MAX, buf, sizeof(buf)), "max");
}

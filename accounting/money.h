/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Money, exactly. Prices are integers in micro-units of the currency (1 EUR =
 * 1000000); multipliers are integers in parts per million.
 *
 * The exact cost of some billed usage is one fraction:
 *
 *            sum over its accounts a of
 *              (cpu_ns_a x P_cpu x 2^30 + mem_bs_a x P_mem x 10^9) x ppm_a
 *   C  =  ---------------------------------------------------------------   micro-units
 *                         3600 x 10^9 x 2^30 x 10^6
 *
 * (cpu_ns / (3600 x 10^9) core-hours, mem_bs / (3600 x 2^30) GiB-hours), kept as its
 * numerator in unsigned 128 bits (struct acct_cost). A value that does not fit gives
 * -ERANGE rather than a wrong amount. R(x) rounds x half up to a whole micro-unit.
 *
 * Cumulative rounding (what a report bills): a row's cost over its window [from, to) is
 *
 *     R(C(to)) - R(C(from))
 *
 * where C(t) is the exact cost of everything the row's key was billed before t (from the
 * ledger's beginning). So each row is within one micro-unit of its exact cost, a total is
 * the sum of its rows, and the costs of consecutive windows add up exactly to the cost of
 * their union: R(C(b)) - R(C(a)) + R(C(c)) - R(C(b)) = R(C(c)) - R(C(a)).
 */

#include <stddef.h>
#include <stdint.h>

#define ACCT_PPM_ONE UINT64_C(1000000)

/* An exact accumulator for one row's cost (the numerator above). */
struct acct_cost {
    unsigned __int128 num;
    int overflow;
};

/* Adds one account's usage at its multiplier. */
void acct_cost_add(struct acct_cost *c, uint64_t cpu_ns, uint64_t mem_bs, uint64_t cpu_price_micro,
                   uint64_t mem_price_micro, uint64_t ppm);
/* R(C): the rounded cost in micro-units; -ERANGE on overflow. */
int acct_cost_round(const struct acct_cost *c, uint64_t *ret_micro);
/* The cumulative rule: R(after) - R(before), after being before plus the window's usage. */
int acct_cost_window(const struct acct_cost *before, const struct acct_cost *after,
                     uint64_t *ret_micro);

/* The rule above in words, for reports that carry it ("rounding"). */
#define ACCT_ROUNDING_RULE                                                                         \
    "cumulative: cost = R(C(to)) - R(C(from)), C(t) the exact cost of the key's billed usage "     \
    "before t, R rounding half up to a micro-unit"

/* Parses a non-negative decimal ("0.04", "12", "1.5") with at most 6 fractional digits
 * into millionths. -EINVAL for anything else (sign, exponent, junk, empty), -ERANGE if
 * too large or too precise. */
int acct_parse_micro(const char *s, uint64_t *ret);

/* Formats value / 10^scale_digits exactly with `decimals` digits after the point,
 * rounding half up ("%llu.%0*llu"). decimals <= scale_digits <= 18. */
char *acct_fmt_fixed(char *buf, size_t size, uint64_t value, unsigned scale_digits,
                     unsigned decimals);
/* Formats an exact ratio num/den with `decimals` digits, rounded half up. */
char *acct_fmt_ratio(char *buf, size_t size, unsigned __int128 num, unsigned __int128 den,
                     unsigned decimals);

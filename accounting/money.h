/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Money, exactly. Prices are integers in micro-units of the currency (1 EUR =
 * 1000000); multipliers are integers in parts per million.
 *
 * The cost of one report row is computed as one exact fraction and rounded once:
 *
 *            sum over the row's accounts a of
 *              (cpu_ns_a x P_cpu x 2^30 + mem_bs_a x P_mem x 10^9) x ppm_a
 *   cost  =  ---------------------------------------------------------------   micro-units
 *                         3600 x 10^9 x 2^30 x 10^6
 *
 * (cpu_ns / (3600 x 10^9) core-hours, mem_bs / (3600 x 2^30) GiB-hours), in unsigned
 * 128-bit integers, rounded half up to a whole micro-unit: that is the only rounding
 * step. A total is the exact sum of its rows' rounded costs. A value that does not fit
 * in 128 bits gives -ERANGE rather than a wrong amount.
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
/* The rounded cost in micro-units; -ERANGE on overflow. */
int acct_cost_round(const struct acct_cost *c, uint64_t *ret_micro);

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

/* ISO 8601 with a zone: "2026-11-27T10:00:00Z", "...T10:00:00.5+01:00", "...T10:00Z",
 * or a date alone ("2026-11-27", midnight UTC). A space may replace the T. Returns
 * nanoseconds since the epoch; -EINVAL for anything else (no zone, bad field, before
 * 1970). */
int acct_parse_time(const char *s, uint64_t *ret_ns);
/* Formats as "2026-11-27T10:00:00Z" (UTC; fractions of a second are dropped). */
char *acct_fmt_time(char *buf, size_t size, uint64_t t_ns);

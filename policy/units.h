/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Units of the policy language, parsed into exact integers (no floating point anywhere):
 *   sizes      "512", "64K", "1536M", "2G", "1.5G", "1T" (powers of 1024), or "max"
 *   durations  "500us", "100ms", "10s", "1.5s", "5min", "1h" (a unit is required)
 *   CPU share  "150%" (of one CPU, up to 4 decimals) or "max"
 *   decimals   "0.04" -> 40000 micro-units (at most 6 decimals, never negative)
 * Every parser returns 0, or -EINVAL (syntax or unit), or -ERANGE (overflow).
 */

#include <stdbool.h>
#include <stdint.h>

/* Bytes, or UINT64_MAX for "max". A fractional size must come to a whole byte. */
int pol_parse_size(const char *s, uint64_t *ret);

/*
 * A memory size as the kernel will hold it: cgroup memory limits are kept in pages, and a
 * value is rounded down to a whole page when written (mm/page_counter.c), so the result is
 * what reads back. A size that would round to 0 is refused (-ERANGE), but 0 itself where
 * zero_ok (Memory.Low, Memory.SwapMax: "none"). UINT64_MAX ("max") is left as it is.
 */
int pol_mem_pages(uint64_t bytes, bool zero_ok, uint64_t *ret);
/* The page size those limits are counted in. */
uint64_t pol_page_size(void);

/* Microseconds. */
int pol_parse_duration(const char *s, uint64_t *ret);

/* Millionths of one CPU ("150%" -> 1500000), or UINT64_MAX for "max". */
int pol_parse_cpu_ppm(const char *s, uint64_t *ret);

/* quota (usec) = ppm * period / 1000000, rounded down; UINT64_MAX stays "max". */
uint64_t pol_cpu_quota_usec(uint64_t cpu_ppm, uint64_t period_usec);

/* A non-negative decimal scaled by 10^digits: ("0.04", 6) -> 40000. More decimals than
 * `digits` cannot be represented exactly and are refused with -EINVAL. */
int pol_parse_decimal(const char *s, unsigned digits, uint64_t *ret);

/* A plain unsigned decimal integer (no sign, no unit). */
int pol_parse_uint(const char *s, uint64_t *ret);

/* yes/no, true/false, on/off, 1/0. */
int pol_parse_bool(const char *s, bool *ret);

/* Formats bytes back the way a policy would write them ("2G", "1536M", "max", "100"). */
const char *pol_format_size(uint64_t v, char *buf, unsigned size);

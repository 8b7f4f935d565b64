/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The rate card: prices per CPU core-hour and per GiB-hour of memory, a currency, and
 * per-account multipliers (DESIGN.md). Accounting owns it; the policy library parses the
 * [Rates] section of corral.conf (or a rates file) into it. Header only: the policy
 * library uses these helpers without linking accounting.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/money.h"

/* Defaults of the rate card. */
#define ACCT_RATES_DEFAULT_CURRENCY            "EUR"
#define ACCT_RATES_DEFAULT_CPU_CORE_HOUR_MICRO 40000 /* 0.04 */
#define ACCT_RATES_DEFAULT_MEM_GIB_HOUR_MICRO  5000  /* 0.005 */

struct acct_rate_multiplier {
    char account[65];
    uint64_t ppm;
};

struct acct_rates {
    char currency[8];
    /* Prices in micro-units of the currency per unit (integer, exact). */
    uint64_t cpu_core_hour_micro;
    uint64_t mem_gib_hour_micro;
    /* Optional per-account multipliers in parts per million (ACCT_PPM_ONE = x1), from
     * [Rates] Multiplier.ACCOUNT=DECIMAL. */
    size_t n_multipliers;
    struct acct_rate_multiplier *multipliers;
};

/* The default rate card, without multipliers. */
static inline void acct_rates_default(struct acct_rates *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->currency, sizeof(r->currency), "%s", ACCT_RATES_DEFAULT_CURRENCY);
    r->cpu_core_hour_micro = ACCT_RATES_DEFAULT_CPU_CORE_HOUR_MICRO;
    r->mem_gib_hour_micro = ACCT_RATES_DEFAULT_MEM_GIB_HOUR_MICRO;
}

/* Multiplier of an account in ppm (ACCT_PPM_ONE when none is configured). */
static inline uint64_t acct_rates_multiplier(const struct acct_rates *r, const char *account)
{
    for (size_t i = 0; r && account && i < r->n_multipliers; i++)
        if (strcmp(r->multipliers[i].account, account) == 0)
            return r->multipliers[i].ppm;
    return ACCT_PPM_ONE;
}

/* Frees the multipliers (the card itself is the caller's). */
static inline void acct_rates_done(struct acct_rates *r)
{
    if (!r)
        return;
    free(r->multipliers);
    r->multipliers = NULL;
    r->n_multipliers = 0;
}

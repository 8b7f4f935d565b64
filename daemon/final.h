/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The final usage of a group, read just before its directory goes, and its one record.
 * corral run, corral remove (and a prune) and corrald all record through here; the
 * ledger keeps one final per group generation, so whichever comes first is the record
 * and any later one is ignored.
 */

#include "accounting/ledger.h"
#include "core/cgroup.h"

struct pol_set;

struct corral_final {
    struct acct_group group; /* who: names, generation, limits, account */
    struct ctl_usage usage;  /* the counters at the end */
    struct acct_final end;   /* when (and, for corral run, how) it ended */
};

/* Who the ledger knows g by, read while g exists. account: who pays; NULL for set's
 * Account= of the workload (set may be NULL), else the workload's name. */
int corral_final_group(struct cg_group *g, const char *account, const struct pol_set *set,
                       struct acct_group *ret);

/* g's usage read now, with corral_final_group; end.end_ns is the time of the read, the
 * start and the exit status unknown. */
int corral_final_read(struct cg_group *g, const char *account, const struct pol_set *set,
                      struct corral_final *ret);

/* A final that travelled as a sample row (its time is the end). */
void corral_final_of_sample(const struct acct_sample *s, uint64_t start_ns,
                            struct corral_final *ret);

/* Records f (acct_record_end): the one final record of its group generation. */
int corral_final_record(struct acct_ledger *l, const struct corral_final *f, struct cg_err *e);

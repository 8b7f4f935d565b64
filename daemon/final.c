/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "accounting/sample.h"
#include "daemon/common.h"
#include "daemon/final.h"

int corral_final_group(struct cg_group *g, const char *account, const struct pol_set *set,
                       struct acct_group *ret)
{
    struct acct_group ag;

    if (!account && set && acct_group_from_path(cg_group_path(g), &ag) == 0 && ag.workload[0])
        account = corral_account(set, ag.workload);
    return acct_group_from_cg(g, account, ret);
}

int corral_final_read(struct cg_group *g, const char *account, const struct pol_set *set,
                      struct corral_final *ret)
{
    struct corral_final f = {0};
    int r;

    r = acct_read_usage(g, &f.usage);
    if (r < 0)
        return r;
    r = corral_final_group(g, account, set, &f.group);
    if (r < 0)
        return r;
    f.end = (struct acct_final){.end_ns = acct_now_ns(), .exit_status = ACCT_EXIT_UNKNOWN};
    *ret = f;
    return 0;
}

void corral_final_of_sample(const struct acct_sample *s, uint64_t start_ns,
                            struct corral_final *ret)
{
    *ret = (struct corral_final){
        .group = s->group,
        .usage = s->usage,
        .end = {.start_ns = start_ns, .end_ns = s->t_ns, .exit_status = ACCT_EXIT_UNKNOWN},
    };
}

int corral_final_record(struct acct_ledger *l, const struct corral_final *f, struct cg_err *e)
{
    return acct_record_end(l, &f->group, &f->usage, &f->end, e);
}

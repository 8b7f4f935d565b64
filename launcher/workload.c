/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The workload group an instance goes into must not be frozen: a child placed there would
 * stop before its first instruction. (The group itself is made by the policy engine.)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controllers/freezer.h"
#include "launcher/internal.h"

int launch_check_not_frozen(struct cg_group *workload, struct cg_err *e)
{
    enum ctl_freeze_state s;
    int r;

    r = ctl_freezer_state(workload, &s);
    if (r == -ENODEV)
        return 0; /* no freezer here: nothing can be frozen */
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(workload), NULL, "cannot read the freezer state");
    if (s != CTL_THAWED)
        return cg_err_set(e, -EBUSY, cg_group_path(workload), NULL,
                          "the workload is %s; a new instance would stop before its first "
                          "instruction (thaw it first: corral thaw %s)",
                          s == CTL_FROZEN ? "frozen" : "freezing",
                          strrchr(cg_group_path(workload), '/')
                              ? strrchr(cg_group_path(workload), '/') + 1
                              : cg_group_path(workload));
    return 0;
}

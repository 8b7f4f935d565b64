/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until the pids mapping lands. */
#include "controllers/controller.h"

const struct ctl_controller ctl_pids = {
    .name = "pids",
    .id = CTL_PIDS,
};

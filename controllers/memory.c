/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until the memory mapping lands. */
#include "controllers/controller.h"

const struct ctl_controller ctl_memory = {
    .name = "memory",
    .id = CTL_MEMORY,
};

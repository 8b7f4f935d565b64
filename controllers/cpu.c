/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until the cpu mapping lands. */
#include "controllers/controller.h"

const struct ctl_controller ctl_cpu = {
    .name = "cpu",
    .id = CTL_CPU,
};

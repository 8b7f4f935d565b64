/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until the freezer mapping lands. */
#include "controllers/controller.h"

const struct ctl_controller ctl_freezer = {
    .name = "freezer",
    .id = CTL_FREEZER,
};

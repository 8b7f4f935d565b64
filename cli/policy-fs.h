/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Where the policy engine meets the launcher's filesystem checks. The policy parser checks
 * the syntax of [Filesystem] (it must not depend on the launcher); what only the running
 * system can tell (a root that does not exist, a layer through a symlink, no overlayfs) is
 * launch_fs_check()'s. check, apply and run call this after loading the policies, so the
 * three refuse the same policies, with the same FILE:LINE messages.
 */

#include "policy/policy.h"

/* Runs launch_fs_check on every policy of set that has a [Filesystem], adding each problem
 * to diags as "FILE:LINE: Filesystem.KEY='VALUE': reason", then sorts diags. Returns
 * -ENOMEM only; the problems themselves are in diags. */
int cli_check_filesystems(const struct pol_set *set, struct pol_diags *diags);

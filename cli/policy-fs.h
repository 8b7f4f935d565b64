/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Where the policy engine meets the launcher's filesystem checks. The policy parser checks
 * the syntax of [Filesystem] (it must not depend on the launcher); what only the running
 * system can tell (a root that does not exist, a layer through a symlink, no overlayfs) is
 * launch_fs_check()'s. check, apply and run call this after loading the policies, so the
 * three refuse the same policies, with the same FILE:LINE messages. It also holds what
 * those commands share around loading policies and printing their warnings.
 */

#include <stdio.h>

#include "cli/cli.h"
#include "policy/apply.h"
#include "policy/policy.h"

/* Runs launch_fs_check on every policy of set that has a [Filesystem], and
 * launch_workdir_check on every policy, adding each problem to diags as
 * "FILE:LINE: Filesystem.KEY='VALUE': reason" (Process.WorkingDirectory=...), then sorts. Returns
 * -ENOMEM only; the problems themselves are in diags. */
int cli_check_filesystems(const struct pol_set *set, struct pol_diags *diags);

/* What check, apply and run do first: loads corral.conf and the policies (the given files,
 * or every *.policy of the policy dir), runs cli_check_filesystems, and prints every
 * problem as FILE:LINE: message on stderr. Returns the loader's own error (< 0), else 0;
 * the problems stay in diags (the set is usable only when diags->n == 0). */
int cli_load_policies(const struct cli *cli, char *const *files, size_t n_files,
                      struct pol_config *cfg, struct pol_set *set, struct pol_diags *diags);

/* The same for `corral run --policy NAME`: NAME.policy of the policy dir, trusted and
 * read as the whole directory would be (pol_load_workload), else the whole directory. */
int cli_load_workload(const struct cli *cli, const char *name, struct pol_config *cfg,
                      struct pol_set *set, struct pol_diags *diags);

/* The "warnings" array of --json output: [{"group", "key", "message"}...], or with group
 * only that group's, as [{"key", "message"}...] (status). NULL when out of memory. */
json_t *cli_json_warnings(const struct pol_apply_result *res, const char *group);

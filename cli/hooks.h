/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Where the commands meet the ledger: freeze/thaw events and final usage are recorded
 * here, so every command that ends a group's life or changes its state records it the
 * same way. The account of a workload comes from its policy (Account=); when the
 * policies cannot be read, the workload's name pays, as DESIGN.md says.
 */

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "controllers/controller.h"
#include "core/cgroup.h"

struct acct_ledger;

/* The policy's Account= of a workload, copied into buf (65 bytes), or NULL. */
const char *cli_account_of(const struct cli *cli, const char *workload, char *buf);

/* Opens the ledger for writing, as a short-lived writer (freeze and thaw events, remove's
 * final records: ACCT_LEDGER_SHORT_LIVED); on failure says why on stderr and returns the
 * error. */
int cli_ledger_open(const struct cli *cli, struct acct_ledger **ret);

/* Records a confirmed freeze or thaw of path, at the time of the call (call it as soon as
 * the kernel confirms), with the estimate of an instance's start in case this is its
 * first row. A ledger that cannot be written is reported on stderr and returned; the
 * freeze itself stands. */
int cli_hook_freezer_event(struct cli *cli, struct cg_ctx *ctx, const char *path, bool frozen);

/* What the ledger knows a group by (kind, names, generation, limits), read from the
 * group while it still exists. account: who pays, or NULL to look it up in the policies
 * (the workload's name when none says). On failure says why on stderr unless quiet. */
struct acct_group;
int cli_final_group(struct cli *cli, struct cg_group *g, const char *account, bool quiet,
                    struct acct_group *ret);

/* Records a group's final usage (read just before its removal): cli_final_group, then the
 * one record (corral_final_record, daemon/final.h). start_ns 0: not known, so estimated
 * (acct_instance_start) in case this is the instance's first row. */
int cli_hook_final_usage(struct cli *cli, struct acct_ledger *l, struct cg_group *g,
                         const char *account, const struct ctl_usage *u, uint64_t start_ns,
                         uint64_t end_ns);

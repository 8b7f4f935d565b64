/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "accounting/ledger.h"
#include "accounting/sample.h"
#include "cli/hooks.h"
#include "daemon/final.h"
#include "policy/policy.h"

const char *cli_account_of(const struct cli *cli, const char *workload, char *buf)
{
    struct pol_config cfg = {0};
    struct pol_set set = {0};
    struct pol_diags d = {0};
    const char *acc, *res = NULL;

    if (corral_load_policies(&cli->p, NULL, 0, &cfg, &set, &d) >= 0 && d.n == 0 &&
        (acc = corral_account(&set, workload))) {
        snprintf(buf, 65, "%s", acc);
        res = buf;
    }
    pol_diags_free(&d);
    pol_set_free(&set);
    pol_config_free(&cfg);
    return res;
}

int cli_ledger_open(const struct cli *cli, struct acct_ledger **ret)
{
    struct cg_err e = {0};
    int r = corral_ledger_open(&cli->p, ACCT_LEDGER_SHORT_LIVED, ret, &e);

    if (r < 0)
        cli_error_ctx(cli, "ledger", &e, r);
    return r;
}

/* The first row of an instance in the ledger may be this one: it carries the estimate of
 * the instance's start (ledger.h), seen_ns being when this command first saw it. */
static void estimate_start(struct cg_group *g, uint64_t seen_ns, struct acct_group *ag)
{
    if (ag->kind == ACCT_INSTANCE)
        ag->start_ns = acct_instance_start(g, seen_ns);
}

int cli_hook_freezer_event(struct cli *cli, struct cg_ctx *ctx, const char *path, bool frozen)
{
    /* The kernel has just confirmed the change: its time, before the lookups below. */
    const uint64_t t = acct_now_ns();
    _cleanup_(acct_ledger_closep) struct acct_ledger *l = NULL;
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct acct_group ag;
    struct cg_err e = {0};
    int r;

    r = cg_group_open(ctx, path, false, &g, NULL, &e);
    if (r < 0)
        goto fail;
    r = cli_final_group(cli, g, NULL, true, &ag);
    if (r < 0)
        goto fail;
    estimate_start(g, t, &ag);
    r = cli_ledger_open(cli, &l);
    if (r < 0)
        return r;
    r = acct_record_event(l, &ag, frozen ? ACCT_EVENT_FREEZE : ACCT_EVENT_THAW, t, &e);
    if (r < 0)
        goto fail;
    return 0;
fail:
    cli_error_ctx(cli, frozen ? "freeze recorded nowhere" : "thaw recorded nowhere", &e, r);
    return r;
}

int cli_final_group(struct cli *cli, struct cg_group *g, const char *account, bool quiet,
                    struct acct_group *ret)
{
    struct acct_group ag;
    char acc[65];
    int r;

    r = acct_group_from_path(cg_group_path(g), &ag);
    if (r == 0 && !account && ag.workload[0])
        account = cli_account_of(cli, ag.workload, acc);
    r = corral_final_group(g, account, NULL, ret);
    if (r < 0 && !quiet)
        cli_error(cli, "final usage not recorded: %s: %s", cg_group_path(g), strerror(-r));
    return r;
}

int cli_hook_final_usage(struct cli *cli, struct acct_ledger *l, struct cg_group *g,
                         const char *account, const struct ctl_usage *u, uint64_t start_ns,
                         uint64_t end_ns)
{
    struct corral_final f = {
        .usage = *u,
        .end = {.start_ns = start_ns, .end_ns = end_ns, .exit_status = ACCT_EXIT_UNKNOWN}};
    struct cg_err e = {0};
    int r;

    r = cli_final_group(cli, g, account, false, &f.group);
    if (r < 0)
        return r;
    if (!start_ns)
        estimate_start(g, end_ns, &f.group);
    r = corral_final_record(l, &f, &e);
    if (r < 0)
        cli_error_ctx(cli, "final usage not recorded", &e, r);
    return r;
}

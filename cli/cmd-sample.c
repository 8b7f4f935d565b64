/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corral sample: one accounting sample of every group into the ledger. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "accounting/sample.h"
#include "cli/cli.h"
#include "policy/policy.h"

/* The policy's Account= (default: the workload name); NULL when the policy is unknown. */
static const char *account_of(void *userdata, const char *class_name, const char *workload)
{
    return corral_account(userdata, workload);
}

int cmd_sample(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(cg_ctx_freep) struct cg_ctx *ctx = NULL;
    _cleanup_(acct_ledger_closep) struct acct_ledger *l = NULL;
    _cleanup_(acct_sampler_freep) struct acct_sampler *s = NULL;
    struct pol_config cfg = {0};
    struct pol_set set = {0};
    struct pol_diags diags = {0};
    bool have_set = false, ledger_failed = false;
    struct cg_err e = {0};
    size_t n = 0;
    int c, r;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        switch (c) {
        case 'h':
            printf("Usage: corral sample\n\n"
                   "Record one usage sample of every group under the root into the ledger\n"
                   "(%s). Safe to run concurrently and to interrupt: a sample pass is\n"
                   "written whole or not at all.\n",
                   cli->p.ledger);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error(cli, "sample: unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    cli_raise_nofile(); /* the sampler keeps ~9 files open per group */
    r = cli_open_target(cli, "sample", NULL, &ctx, NULL);
    if (r != EXIT_OK)
        return r;
    /* Accounts come from the policies; without readable policies every workload is its
     * own account, which the report shows. */
    if (corral_load_policies(&cli->p, NULL, 0, &cfg, &set, &diags) >= 0 && diags.n == 0)
        have_set = true;
    else if (cli->verbose)
        cli_warn(cli, "sample: policies not loaded; accounts default to workload names");
    r = corral_ledger_open(&cli->p, 0, &l, &e);
    ledger_failed = r < 0;
    if (r >= 0)
        r = acct_sampler_new(ctx, account_of, have_set ? &set : NULL, &s);
    if (r >= 0)
        r = acct_sample_once(s, l, &n, &e);
    pol_set_free(&set);
    pol_config_free(&cfg);
    pol_diags_free(&diags);
    if (r < 0) {
        cli_error_ctx(cli, "sample", &e, r);
        return ledger_failed ? EXIT_SYSTEM
                             : corral_exit_code(r); /* a ledger error is a system one */
    }
    if (cli->json)
        return cli_json_print(cli, json_pack("{s:I}", "samples", (json_int_t)n)) < 0 ? EXIT_SYSTEM
                                                                                     : EXIT_OK;
    if (cli->verbose)
        fprintf(stderr, "%s: %zu samples written to %s\n", cli->prog, n, cli->p.ledger);
    return EXIT_OK;
}

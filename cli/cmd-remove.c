/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corral remove TARGET [--kill]: record final usage, then remove the group. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "accounting/ledger.h"
#include "cli/cli.h"
#include "cli/hooks.h"
#include "core/lock.h"
#include "policy/remove.h"

struct final_ctx {
    struct cli *cli;
    struct acct_ledger *ledger;
};

/* pol_remove's hook: a failure to record stops the removal, so no usage is lost. */
static int record_final(void *userdata, struct cg_group *g, const struct ctl_usage *u,
                        struct cg_err *e)
{
    struct final_ctx *f = userdata;
    int r = cli_hook_final_usage(f->cli, f->ledger, g, NULL, u, 0, acct_now_ns());

    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), NULL,
                          "final usage could not be recorded; not removed");
    return 0;
}

static void help(void)
{
    printf("Usage: corral remove TARGET [--kill]\n"
           "\n"
           "Removes a group and everything below it. TARGET is WORKLOAD, WORKLOAD/INSTANCE,\n"
           "CLASS/WORKLOAD or CLASS/WORKLOAD/INSTANCE. Refuses (and removes nothing) while\n"
           "processes live in it, unless --kill is given: then every process in it is killed\n"
           "(cgroup.kill on v2) and waited for first. The final usage of each group is read\n"
           "and recorded in the ledger before its directory goes; if the ledger cannot be\n"
           "written, nothing is removed.\n"
           "\n"
           "An instance of a running `corral run` can be removed with --kill: its workload\n"
           "is killed, remove records the final usage, and that corral run reports \"the\n"
           "instance was removed while it ran\" and exits 137 (128+SIGKILL), recording\n"
           "nothing itself: one final record per instance. An instance whose corral run\n"
           "ends it meanwhile is left to that run (it records its own final usage); if\n"
           "TARGET itself went that way, remove says so and exits 0.\n"
           "\n"
           "A workload group that a policy still names comes back on the next corral apply.\n"
           "\n"
           "  -k, --kill   kill the processes in the group first\n"
           "  -h, --help   this help\n"
           "\n"
           "Exit status: 0 removed, 1 no such target, 2 usage error, 3 processes still\n"
           "running or cgroupfs error.\n");
}

int cmd_remove(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"kill", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(cg_ctx_freep) struct cg_ctx *ctx = NULL;
    _cleanup_(acct_ledger_closep) struct acct_ledger *ledger = NULL;
    _cleanup_(cg_lock_releasep) struct cg_lock *lock = NULL;
    _cleanup_free_ char *path = NULL;
    struct final_ctx fin = {.cli = cli};
    struct cg_err e = {0};
    bool kill = false;
    int c, r;

    while ((c = getopt_long(argc, argv, "kh", opts, NULL)) >= 0) {
        switch (c) {
        case 'k':
            kill = true;
            break;
        case 'h':
            help();
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        cli_error(cli, "remove: expected one TARGET (try --help)");
        return EXIT_USAGE;
    }
    r = cli_open_target(cli, "remove", argv[optind], &ctx, &path);
    if (r == EXIT_OK)
        r = cli_lock_root(cli, ctx, "remove", &lock);
    if (r != EXIT_OK)
        return r;
    /* The final usage of every group goes to the ledger before its directory does; a ledger
     * that cannot be written stops the removal (the usage would be lost otherwise). */
    r = cli_ledger_open(cli, &ledger);
    if (r < 0)
        return EXIT_SYSTEM;
    fin.ledger = ledger;
    r = pol_remove(ctx, path, kill, record_final, &fin, &e);
    if (r < 0) {
        cli_error_ctx(cli, "remove", &e, r);
        return corral_exit_code(r);
    }
    if (r == POL_REMOVE_GONE)
        printf("%s: removed meanwhile by the corral command that ended it\n", path);
    else
        printf("removed %s\n", path);
    return EXIT_OK;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corral freeze TARGET [--timeout 10s] / corral thaw TARGET */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/hooks.h"
#include "controllers/freezer.h"
#include "core/cgroup.h"
#include "core/lock.h"
#include "policy/units.h"

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void print_stuck(const struct cli *cli, const char *path,
                        const struct ctl_freeze_stuck *stuck)
{
    cli_error(cli,
              "freeze of '%s' timed out; thawed it back. Processes that did not freeze:", path);
    for (size_t i = 0; i < stuck->n; i++)
        fprintf(stderr, "  pid %d (%s) state %c\n", (int)stuck->p[i].pid, stuck->p[i].comm,
                stuck->p[i].state ? stuck->p[i].state : '?');
}

static void help(const char *verb, bool freeze)
{
    printf("Usage: corral %s TARGET%s\n\n"
           "%s a workload (all its instances) or one instance (WORKLOAD/INSTANCE).\n"
           "%s\n",
           verb, freeze ? " [--timeout DURATION]" : " [--timeout DURATION]",
           freeze ? "Suspends" : "Resumes",
           freeze ? "Returns once the kernel reports the group frozen. On timeout (default\n"
                    "10s) the group is thawed back, the processes that did not stop are\n"
                    "listed, and the exit status is 4."
                  : "Returns once the kernel reports the group thawed.");
}

/* The new state, as text or JSON (with how long the kernel took): an exit status. */
static int print_done(const struct cli *cli, const char *path, bool freeze, uint64_t dt)
{
    if (!cli->json)
        printf("%s: %s\n", path, freeze ? "frozen" : "thawed");
    else if (cli_json_print(cli, json_pack("{s:o,s:s,s:I}", "target", cg_json_str(path), "state",
                                           freeze ? "frozen" : "thawed", "elapsed_us",
                                           (json_int_t)dt)) < 0)
        return EXIT_SYSTEM;
    return EXIT_OK;
}

static int freeze_or_thaw(struct cli *cli, int argc, char **argv, bool freeze)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(cg_ctx_freep) struct cg_ctx *ctx = NULL;
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    _cleanup_(cg_lock_releasep) struct cg_lock *lock = NULL;
    _cleanup_free_ char *path = NULL;
    struct ctl_freeze_stuck stuck = {0};
    enum ctl_freeze_state before;
    struct cg_err e = {0};
    uint64_t timeout = 10 * 1000000ULL, t0, dt;
    const char *verb = freeze ? "freeze" : "thaw";
    int c, r;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        switch (c) {
        case 't':
            if (pol_parse_duration(optarg, &timeout) < 0 || timeout == 0) {
                cli_error(cli, "%s: invalid --timeout '%s' (e.g. 500ms, 10s)", verb, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            help(verb, freeze);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error(cli, "usage: corral %s TARGET%s", verb, freeze ? " [--timeout 10s]" : "");
        return EXIT_USAGE;
    }
    r = cli_open_target(cli, verb, argv[optind], &ctx, &path);
    if (r == EXIT_OK)
        r = cli_lock_root(cli, ctx, verb, &lock);
    if (r != EXIT_OK)
        return r;
    r = cg_group_open(ctx, path, false, &g, NULL, &e);
    if (r < 0)
        goto fail;
    /* Only a change of state is an event for the ledger; a repeated freeze or thaw is a
     * successful no-op. */
    if (ctl_freezer_state(g, &before) < 0)
        before = _CTL_FREEZE_STATE_MAX;
    t0 = now_usec();
    r = freeze ? ctl_freezer_freeze(g, timeout, &stuck, &e) : ctl_freezer_thaw(g, timeout, &e);
    dt = now_usec() - t0;
    if (r == -ETIMEDOUT && freeze) {
        print_stuck(cli, path, &stuck);
        return EXIT_TIMEOUT;
    }
    if (r < 0)
        goto fail;
    /* The state change stands even if the ledger cannot record it (reported). */
    if (before != (freeze ? CTL_FROZEN : CTL_THAWED))
        (void)cli_hook_freezer_event(cli, ctx, path, freeze);
    return print_done(cli, path, freeze, dt);
fail:
    if (r == -ENODEV)
        cli_error(cli, "%s %s: this system has no freezer for the group", verb, argv[optind]);
    else
        cli_error_ctx(cli, verb, &e, r);
    return corral_exit_code(r);
}

int cmd_freeze(struct cli *cli, int argc, char **argv)
{
    return freeze_or_thaw(cli, argc, argv, true);
}

int cmd_thaw(struct cli *cli, int argc, char **argv)
{
    return freeze_or_thaw(cli, argc, argv, false);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"
#include "core/lock.h"

static const struct cli_cmd commands[] = {
    {"check", cmd_check, "[FILE...]", "validate policies (default: the policy dir)"},
    {"apply", cmd_apply, "[--dry-run] [FILE...]",
     "make the groups match the policies, all or nothing"},
    {"run", cmd_run, "--policy NAME [--name INSTANCE] [--] CMD [ARGS...]",
     "run CMD isolated in a new instance (NAME/INSTANCE) of a workload"},
    {"freeze", cmd_freeze, "TARGET [--timeout 10s]",
     "suspend a workload or instance, wait until frozen"},
    {"thaw", cmd_thaw, "TARGET", "resume a workload or instance"},
    {"status", cmd_status, "[TARGET]", "show groups, limits, state and live usage"},
    {"sample", cmd_sample, "", "record one usage sample of every group into the ledger"},
    {"report", cmd_report,
     "[--from T] [--to T] [--by KEY] [--per UNIT] [--local] [--billing MODE] [--format F]",
     "chargeback or showback from the ledger (corral report --help)"},
    {"remove", cmd_remove, "TARGET [--kill]", "record final usage and remove a group"},
};

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "Usage: %s [OPTIONS] COMMAND [ARGS...]\n"
            "\n"
            "Run workloads in cgroups under declared policies: limit, prioritise,\n"
            "suspend and bill them.\n"
            "\n"
            "Commands:\n",
            prog);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n           %s\n", commands[i].name, commands[i].args,
                commands[i].summary);
    fprintf(f,
            "\n"
            "Options (before the command):\n"
            "  --root R        group root: /A/B from the hierarchy root, ./A nested under\n"
            "                  the caller's own cgroup (env CORRAL_ROOT, default corral);\n"
            "                  never empty, never inside or around another corral root\n"
            "  --lock-timeout T\n"
            "                  how long apply, run, freeze, thaw and remove wait for the\n"
            "                  root's lock while another writer holds it, then exit 3\n"
            "                  (env CORRAL_LOCK_TIMEOUT, default 10s; 0: do not wait)\n"
            "  --config F      corral.conf (env CORRAL_CONFIG, default %s)\n"
            "  --policy-dir D  policy directory (env CORRAL_POLICY_DIR, default %s)\n"
            "  --ledger L      usage ledger, SQLite (env CORRAL_LEDGER, default %s)\n"
            "  --json          machine-readable output where a command prints data\n"
            "  -v, --verbose   say more\n"
            "  -h, --help      this help;  COMMAND --help for a command's own\n"
            "  -V, --version   print the version\n"
            "\n"
            "Exit status: 0 ok, 1 invalid input or policy, 2 usage error, 3 system error\n"
            "(cgroupfs, permissions, ledger), 4 timeout; `run` exits with the child's status\n"
            "or 128+signal. See corral(1).\n",
            CORRAL_DEFAULT_CONFIG, CORRAL_DEFAULT_POLICY_DIR, CORRAL_DEFAULT_LEDGER);
}

int main(int argc, char **argv)
{
    enum { OPT_ROOT = 256, OPT_CONFIG, OPT_POLICY_DIR, OPT_LEDGER, OPT_JSON, OPT_LOCK_TIMEOUT };
    static const struct option opts[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"policy-dir", required_argument, NULL, OPT_POLICY_DIR},
        {"ledger", required_argument, NULL, OPT_LEDGER},
        {"json", no_argument, NULL, OPT_JSON},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {},
    };
    struct cli cli = {.prog = "corral"};
    int c;

    if (corral_paths_from_env(&cli.p) < 0) {
        cli_error(&cli, "CORRAL_LOCK_TIMEOUT='%s': not a duration (e.g. 30s, 500ms, 0)",
                  getenv("CORRAL_LOCK_TIMEOUT"));
        return EXIT_USAGE;
    }

    /* "+": stop at the first non-option, which is the command. */
    while ((c = getopt_long(argc, argv, "+vhV", opts, NULL)) >= 0) {
        switch (c) {
        case OPT_ROOT:
            cli.p.root = optarg;
            break;
        case OPT_LOCK_TIMEOUT:
            if (corral_parse_lock_timeout(optarg, &cli.p.lock_timeout_usec) < 0) {
                cli_error(&cli, "--lock-timeout '%s': not a duration (e.g. 30s, 500ms, 0)", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_CONFIG:
            cli.p.config = optarg;
            cli.p.config_given = true;
            break;
        case OPT_POLICY_DIR:
            cli.p.policy_dir = optarg;
            break;
        case OPT_LEDGER:
            cli.p.ledger = optarg;
            break;
        case OPT_JSON:
            cli.json = true;
            break;
        case 'v':
            cli.verbose = true;
            break;
        case 'h':
            usage(stdout, cli.prog);
            return EXIT_OK;
        case 'V':
            printf("corral %s\n", CORRAL_VERSION);
            return EXIT_OK;
        default:
            usage(stderr, cli.prog);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr, cli.prog);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[optind], commands[i].name) == 0) {
            int n = argc - optind;
            char **v = argv + optind;
            optind = 0; /* reset getopt for the subcommand's own parsing */
            return commands[i].fn(&cli, n, v);
        }
    cli_error(&cli, "unknown command '%s' (try --help)", argv[optind]);
    return EXIT_USAGE;
}

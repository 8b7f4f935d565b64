/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corrald: the accounting and policy daemon. main() only reads options; daemon/ runs it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "controllers/controller.h"
#include "daemon/corrald.h"
#include "policy/units.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: corrald [OPTIONS]\n"
            "\n"
            "Samples every group under the corral root into the ledger at corral.conf's\n"
            "[Accounting] Interval=, records the final usage of instances that empty, and\n"
            "re-applies the policy directory when it changes. Speaks sd_notify; logs to the\n"
            "journal when there is one. See corrald(8).\n"
            "\n"
            "  --root R          group root (env CORRAL_ROOT, default corral); corrald\n"
            "                    holds its lock for as long as it runs\n"
            "  --lock-timeout T  how long to wait at start for the root's lock while a\n"
            "                    command holds it (env CORRAL_LOCK_TIMEOUT, default 10s)\n"
            "  --config F        corral.conf (env CORRAL_CONFIG, default %s)\n"
            "  --policy-dir D    policy directory (env CORRAL_POLICY_DIR, default %s)\n"
            "  --ledger L        usage ledger (env CORRAL_LEDGER, default %s)\n"
            "  --foreground      log to stderr, not the journal (for debugging)\n"
            "  --buffer-limit S  samples kept in memory while the ledger cannot be\n"
            "                    written (default 64M)\n"
            "  -v, --verbose     debug messages too\n"
            "  -h, --help        this help\n"
            "  -V, --version     print the version\n"
            "\n"
            "SIGTERM takes a last sample and exits 0; SIGHUP reloads corral.conf and the\n"
            "policies and reopens the ledger.\n",
            CORRAL_DEFAULT_CONFIG, CORRAL_DEFAULT_POLICY_DIR, CORRAL_DEFAULT_LEDGER);
}

enum {
    OPT_ROOT = 256,
    OPT_CONFIG,
    OPT_POLICY_DIR,
    OPT_LEDGER,
    OPT_FOREGROUND,
    OPT_BUFFER,
    OPT_LOCK_TIMEOUT
};

/* One option into *o: -1 to go on, else the exit status. */
static int take_opt(int c, const char *arg, struct corrald_opts *o)
{
    switch (c) {
    case OPT_ROOT:
        o->p.root = arg;
        return -1;
    case OPT_LOCK_TIMEOUT:
        if (corral_parse_lock_timeout(arg, &o->p.lock_timeout_usec) < 0) {
            fprintf(stderr, "corrald: --lock-timeout: not a duration: '%s'\n", arg);
            return EXIT_USAGE;
        }
        return -1;
    case OPT_CONFIG:
        o->p.config = arg;
        o->p.config_given = true;
        return -1;
    case OPT_POLICY_DIR:
        o->p.policy_dir = arg;
        return -1;
    case OPT_LEDGER:
        o->p.ledger = arg;
        return -1;
    case OPT_FOREGROUND:
        o->foreground = true;
        return -1;
    case OPT_BUFFER:
        if (pol_parse_size(arg, &o->buffer_max) < 0 || o->buffer_max == CTL_MAX) {
            fprintf(stderr, "corrald: --buffer-limit: not a size: '%s'\n", arg);
            return EXIT_USAGE;
        }
        return -1;
    case 'v':
        o->verbose = true;
        return -1;
    case 'h':
        usage(stdout);
        return EXIT_OK;
    case 'V':
        printf("corrald %s\n", CORRAL_VERSION);
        return EXIT_OK;
    default:
        usage(stderr);
        return EXIT_USAGE;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"policy-dir", required_argument, NULL, OPT_POLICY_DIR},
        {"ledger", required_argument, NULL, OPT_LEDGER},
        {"foreground", no_argument, NULL, OPT_FOREGROUND},
        {"buffer-limit", required_argument, NULL, OPT_BUFFER},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {},
    };
    struct corrald_opts o = {.buffer_max = CORRALD_BUFFER_DEFAULT};
    int c, r;

    if (corral_paths_from_env(&o.p) < 0) {
        fprintf(stderr, "corrald: CORRAL_LOCK_TIMEOUT='%s': not a duration\n",
                getenv("CORRAL_LOCK_TIMEOUT"));
        return EXIT_USAGE;
    }
    while ((c = getopt_long(argc, argv, "vhV", opts, NULL)) >= 0)
        if ((r = take_opt(c, optarg, &o)) >= 0)
            return r;
    if (optind < argc) {
        fprintf(stderr, "corrald: unexpected argument '%s' (try --help)\n", argv[optind]);
        return EXIT_USAGE;
    }
    return corrald_run(&o);
}

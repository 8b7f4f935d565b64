/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corral report: chargeback over the ledger. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/money.h"
#include "accounting/report.h"
#include "cli/cli.h"
#include "policy/policy.h"

static void usage(FILE *f)
{
    fputs("Usage: corral report [--from T] [--to T] [--by account|workload|instance]\n"
          "                     [--per hour|day|week|month] [--local]\n"
          "                     [--billing usage|reservation|none] [--rates FILE]\n"
          "                     [--format table|csv|json] [--width N]\n"
          "\n"
          "Chargeback (or showback) over the ledger: per row CPU core-seconds (user,\n"
          "system), memory GiB-hours, peak memory, OOM kills, wall and frozen time, and the\n"
          "cost. Wall and frozen time are exact; CPU and memory are counted at the sample\n"
          "that observed them. Reports of consecutive ranges add up to the report of their\n"
          "union, cost included.\n"
          "\n"
          "  --from T, --to T  the range [from, to): ISO 8601 with a zone (2026-11-27T10:00Z,\n"
          "                    ...+01:00) or without (local time; a date is local midnight),\n"
          "                    now, today, yesterday, or relative: -1h, -7d, -30min, -2w,\n"
          "                    -90s. Default: from the first sample in the ledger to now\n"
          "  --by KEY          account (default), workload or instance (with start, end,\n"
          "                    exit status and policy)\n"
          "  --per UNIT        a row per calendar hour, day, week (ISO, from Monday) or\n"
          "                    month and key\n"
          "  --local           buckets and times in local time (TZ), not UTC\n"
          "  --billing MODE    usage (default), reservation: max(limit, usage), or none:\n"
          "                    showback, usage without prices\n"
          "  --rates FILE      a rate card ([Rates]); default: corral.conf's\n"
          "  --format F        table (default), csv (RFC 4180) or json\n"
          "  --json            the same as --format json\n"
          "  --width N         table only: cut the key column (with ...) to fit N columns\n",
          f);
}

static int print_diags(struct cli *cli, struct pol_diags *d)
{
    char buf[600];

    for (size_t i = 0; i < d->n; i++)
        cli_error(cli, "%s", pol_diag_format(&d->d[i], buf, sizeof(buf)));
    return EXIT_INVALID;
}

static int load_rates(struct cli *cli, const char *rates_file, struct acct_rates *ret)
{
    struct pol_diags d = {0};
    int r;

    if (rates_file) {
        r = pol_rates_load(rates_file, ret, &d);
    } else {
        struct pol_config cfg = {0};
        r = pol_config_load(cli->p.config, cli->p.config_given, &cfg, &d);
        if (r >= 0 && d.n == 0) {
            *ret = cfg.rates;
            cfg.rates.multipliers = NULL;
            cfg.rates.n_multipliers = 0;
        }
        pol_config_free(&cfg);
    }
    if (r < 0) {
        cli_error(cli, "report: rates: %s", strerror(-r));
        pol_diags_free(&d);
        return corral_exit_code(r);
    }
    if (d.n > 0) {
        r = print_diags(cli, &d);
        pol_diags_free(&d);
        return r;
    }
    pol_diags_free(&d);
    return EXIT_OK;
}

static int parse_time(struct cli *cli, const char *opt, const char *s, uint64_t now, uint64_t *ret)
{
    int r = acct_parse_time(s, now, ret);

    if (r < 0)
        cli_error(cli,
                  "report: %s '%s' is %s (e.g. 2026-11-27T10:00:00Z, 2026-11-27T11:00+01:00, "
                  "2026-11-27, today, yesterday, now, -1h, -7d, -30min)",
                  opt, s, r == -ERANGE ? "out of range" : "not a time");
    return r;
}

/* Looks an enum option up; says what it takes when it is none of them. */
static int pick(struct cli *cli, const char *opt, int v, const char *arg, const char *choices)
{
    if (v < 0)
        cli_error(cli, "report: unknown %s '%s' (%s)", opt, arg, choices);
    return v;
}

struct report_args {
    struct acct_report_opts o;
    enum acct_format fmt;
    const char *rates_file;
    bool from_given, to_given;
    unsigned width;
};

enum {
    OPT_FROM = 256,
    OPT_TO,
    OPT_BY,
    OPT_FORMAT,
    OPT_RATES,
    OPT_BILLING,
    OPT_PER,
    OPT_LOCAL,
    OPT_WIDTH,
    OPT_JSON,
};

/* One option c with argument arg into a; false when arg is bad (said on stderr). */
static bool take_opt(struct cli *cli, int c, const char *arg, uint64_t now, struct report_args *a)
{
    char *end;

    switch (c) {
    case OPT_FROM:
        a->from_given = true;
        return parse_time(cli, "--from", arg, now, &a->o.from_ns) >= 0;
    case OPT_TO:
        a->to_given = true;
        return parse_time(cli, "--to", arg, now, &a->o.to_ns) >= 0;
    case OPT_BY:
        return (int)(a->o.by = pick(cli, "--by", acct_by_from_string(arg), arg,
                                    "account, workload or instance")) >= 0;
    case OPT_PER:
        return (int)(a->o.per = pick(cli, "--per", acct_per_from_string(arg), arg,
                                     "hour, day, week or month")) >= 0;
    case OPT_FORMAT:
        return (int)(a->fmt = pick(cli, "--format", acct_format_from_string(arg), arg,
                                   "table, csv or json")) >= 0;
    case OPT_BILLING:
        return (int)(a->o.billing = pick(cli, "--billing", acct_billing_from_string(arg), arg,
                                         "usage, reservation or none")) >= 0;
    case OPT_LOCAL:
        a->o.local = true;
        return true;
    case OPT_JSON:
        a->fmt = ACCT_FMT_JSON;
        return true;
    case OPT_RATES:
        a->rates_file = arg;
        return true;
    default: /* OPT_WIDTH */
        errno = 0;
        a->width = (unsigned)strtoul(arg, &end, 10);
        if (errno || *end || end == arg || a->width == 0 || a->width > 100000) {
            cli_error(cli, "report: --width '%s' is not a number of columns (1..100000)", arg);
            return false;
        }
        return true;
    }
}

/* The range: --to defaults to now, --from alone runs up to now, and a --from still to come
 * is an empty report. EXIT_OK or EXIT_INVALID. */
static int check_range(struct cli *cli, uint64_t now, struct report_args *a)
{
    if (!a->to_given)
        a->o.to_ns = now;
    if (a->from_given && !a->to_given && a->o.from_ns > a->o.to_ns)
        a->o.to_ns = a->o.from_ns;
    if (a->from_given && a->o.from_ns > a->o.to_ns) {
        cli_error(cli, "report: --from must not be after --to");
        return EXIT_INVALID;
    }
    return EXIT_OK;
}

/* EXIT_OK, -1 after --help, or the exit status of bad input. */
static int parse_args(struct cli *cli, int argc, char **argv, struct report_args *a)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"by", required_argument, NULL, OPT_BY},
        {"per", required_argument, NULL, OPT_PER},
        {"local", no_argument, NULL, OPT_LOCAL},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"rates", required_argument, NULL, OPT_RATES},
        {"billing", required_argument, NULL, OPT_BILLING},
        {"width", required_argument, NULL, OPT_WIDTH},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    const uint64_t now = acct_now_ns(); /* one now for both ends */
    bool bad = false;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (c == 'h') {
            usage(stdout);
            return -1;
        }
        if (c < OPT_FROM) {
            usage(stderr);
            return EXIT_USAGE;
        }
        bad |= !take_opt(cli, c, optarg, now, a);
    }
    if (bad)
        return EXIT_INVALID;
    if (optind < argc) {
        cli_error(cli, "report: unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (a->width && a->fmt != ACCT_FMT_TABLE) {
        cli_error(cli, "report: --width is for the table; CSV and JSON are never cut");
        return EXIT_USAGE;
    }
    return check_range(cli, now, a);
}

int cmd_report(struct cli *cli, int argc, char **argv)
{
    _cleanup_(acct_ledger_closep) struct acct_ledger *l = NULL;
    _cleanup_(acct_report_freep) struct acct_report *rep = NULL;
    _cleanup_free_ char *out = NULL;
    struct report_args a = {.fmt = cli->json ? ACCT_FMT_JSON : ACCT_FMT_TABLE};
    struct acct_rates rates = {0};
    struct cg_err e = {0};
    size_t out_len = 0;
    FILE *f;
    int r;

    r = parse_args(cli, argc, argv, &a);
    if (r != EXIT_OK)
        return r < 0 ? EXIT_OK : r;
    if (a.o.billing != ACCT_BILL_NONE) {
        r = load_rates(cli, a.rates_file, &rates);
        if (r != EXIT_OK)
            return r;
        a.o.rates = &rates;
    }

    r = corral_ledger_open(&cli->p, ACCT_LEDGER_READONLY, &l, &e);
    if (r >= 0)
        r = acct_report_build(l, &a.o, &rep, &e);
    pol_rates_done(&rates);
    if (r < 0) {
        cli_error_ctx(cli, "report", &e, r);
        return r == -ENOENT ? EXIT_SYSTEM : corral_exit_code(r);
    }
    /* Format the whole report first: nothing is shown unless all of it is. */
    f = open_memstream(&out, &out_len);
    if (!f) {
        cli_error(cli, "report: out of memory");
        return EXIT_SYSTEM;
    }
    r = acct_report_print(f, rep, a.fmt, a.width);
    if (fclose(f) != 0 || r < 0) {
        cli_error(cli, "report: cannot format the report");
        return EXIT_SYSTEM;
    }
    if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0) {
        cli_error(cli, "report: cannot write the report: %m");
        return EXIT_SYSTEM;
    }
    return EXIT_OK;
}

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
          "                     [--format table|csv|json] [--rates FILE]\n"
          "                     [--billing usage|reservation]\n"
          "\n"
          "Chargeback over the ledger: per row CPU core-seconds (user, system), memory\n"
          "GiB-hours, peak memory, OOM kills, wall and frozen time, and the cost.\n"
          "\n"
          "  --from T, --to T  ISO 8601 with a zone (2026-11-27T10:00:00Z, ...+01:00) or\n"
          "                    a date (UTC midnight); the range is [from, to), default all\n"
          "  --by KEY          account (default), workload or instance\n"
          "  --format F        table (default), csv (RFC 4180) or json (--json too)\n"
          "  --rates FILE      a rate card ([Rates]); default: corral.conf's\n"
          "  --billing MODE    usage (default) or reservation: max(limit, usage)\n",
          f);
}

static int print_diags(struct cli *cli, struct pol_diags *d)
{
    char buf[600];

    for (size_t i = 0; i < d->n; i++)
        cli_error(cli, "%s", pol_diag_format(&d->d[i], buf, sizeof(buf)));
    return EXIT_INVALID;
}

static int load_rates(struct cli *cli, const char *rates_file, struct pol_rates *ret)
{
    struct pol_diags d = {0};
    int r;

    if (rates_file) {
        r = pol_rates_load(rates_file, ret, &d);
    } else {
        struct pol_config cfg = {0};
        r = pol_config_load(cli->config, cli->config_given, &cfg, &d);
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
        return cli_exit_code(r);
    }
    if (d.n > 0) {
        r = print_diags(cli, &d);
        pol_diags_free(&d);
        return r;
    }
    pol_diags_free(&d);
    return EXIT_OK;
}

static int parse_time(struct cli *cli, const char *opt, const char *s, uint64_t *ret)
{
    if (acct_parse_time(s, ret) < 0) {
        cli_error(cli,
                  "report: %s '%s' is not an ISO 8601 time with a zone "
                  "(e.g. 2026-11-27T10:00:00Z, 2026-11-27T11:00:00+01:00, 2026-11-27)",
                  opt, s);
        return -EINVAL;
    }
    return 0;
}

int cmd_report(struct cli *cli, int argc, char **argv)
{
    enum { OPT_FROM = 256, OPT_TO, OPT_BY, OPT_FORMAT, OPT_RATES, OPT_BILLING };
    static const struct option opts[] = {
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"by", required_argument, NULL, OPT_BY},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"rates", required_argument, NULL, OPT_RATES},
        {"billing", required_argument, NULL, OPT_BILLING},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(acct_ledger_closep) struct acct_ledger *l = NULL;
    _cleanup_(acct_report_freep) struct acct_report *rep = NULL;
    _cleanup_free_ char *out = NULL;
    struct acct_report_opts o = {.from_ns = 0, .to_ns = acct_now_ns() + 1};
    enum acct_format fmt = cli->json ? ACCT_FMT_JSON : ACCT_FMT_TABLE;
    const char *rates_file = NULL;
    struct pol_rates rates = {0};
    struct cg_err e = {0};
    size_t out_len = 0;
    FILE *f;
    int c, r;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        switch (c) {
        case OPT_FROM:
            if (parse_time(cli, "--from", optarg, &o.from_ns) < 0)
                return EXIT_INVALID;
            break;
        case OPT_TO:
            if (parse_time(cli, "--to", optarg, &o.to_ns) < 0)
                return EXIT_INVALID;
            break;
        case OPT_BY:
            o.by = acct_by_from_string(optarg);
            if (o.by < 0) {
                cli_error(cli, "report: unknown --by '%s' (account, workload or instance)", optarg);
                return EXIT_INVALID;
            }
            break;
        case OPT_FORMAT:
            fmt = acct_format_from_string(optarg);
            if (fmt < 0) {
                cli_error(cli, "report: unknown --format '%s' (table, csv or json)", optarg);
                return EXIT_INVALID;
            }
            break;
        case OPT_RATES:
            rates_file = optarg;
            break;
        case OPT_BILLING:
            o.billing = acct_billing_from_string(optarg);
            if (o.billing < 0) {
                cli_error(cli, "report: unknown --billing '%s' (usage or reservation)", optarg);
                return EXIT_INVALID;
            }
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error(cli, "report: unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (o.from_ns >= o.to_ns) {
        cli_error(cli, "report: --from must be before --to");
        return EXIT_INVALID;
    }
    r = load_rates(cli, rates_file, &rates);
    if (r != EXIT_OK)
        return r;
    o.rates = &rates;

    r = acct_ledger_open(cli->ledger, ACCT_LEDGER_READONLY, &l, &e);
    if (r >= 0)
        r = acct_report_build(l, &o, &rep, &e);
    pol_rates_done(&rates);
    if (r < 0) {
        cli_error_ctx(cli, "report", &e, r);
        return r == -ENOENT ? EXIT_SYSTEM : cli_exit_code(r);
    }
    /* Format the whole report first: nothing is shown unless all of it is. */
    f = open_memstream(&out, &out_len);
    if (!f) {
        cli_error(cli, "report: out of memory");
        return EXIT_SYSTEM;
    }
    r = acct_report_print(f, rep, fmt);
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

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corral check [FILE...]: validate corral.conf and the policies; touches nothing. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/policy-fs.h"
#include "policy/apply.h"
#include "policy/policy.h"

static void help(void)
{
    printf("Usage: corral check [FILE...]\n"
           "\n"
           "Validates corral.conf and the policies (the given files, or every *.policy in the\n"
           "policy directory) as a whole, without touching cgroupfs. Every problem is printed\n"
           "on stderr as FILE:LINE: message, all of them, not only the first. Settings that the\n"
           "running cgroup version cannot express are printed as warnings (they do not make\n"
           "the policies invalid).\n"
           "\n"
           "When run as root, policy files, the policy directory and corral.conf must be owned\n"
           "by root and not writable by group or others.\n"
           "\n"
           "Exit status: 0 valid, 1 invalid, 2 usage error. See corral(5) for the format.\n");
}

/* --json: {"valid", "policies", "classes", "config", "problems": [{"file", "line",
 * "message"}], "warnings": [{"group", "key", "message"}]}; line 0 is the whole file. */
static int print_json(const struct cli *cli, const struct pol_diags *d, const struct pol_set *set,
                      const struct pol_config *cfg, const struct pol_apply_result *res)
{
    const char *config = cfg->file[0] ? cfg->file : "built-in";
    json_t *problems = json_array();

    /* clang-format off */
    for (size_t i = 0; problems && i < d->n; i++)
        cli_json_push(&problems, json_pack("{s:o,s:I,s:o}",
                                           "file", cg_json_str(d->d[i].file),
                                           "line", (json_int_t)d->d[i].line,
                                           "message", cg_json_str(d->d[i].msg)));
    return cli_json_print(cli, json_pack("{s:b,s:I,s:I,s:o,s:o,s:o}",
                                         "valid", d->n == 0,
                                         "policies", (json_int_t)set->n,
                                         "classes", (json_int_t)cfg->n_classes,
                                         "config", cg_json_str(config),
                                         "problems", problems,
                                         "warnings", cli_json_warnings(res, NULL)));
    /* clang-format on */
}

int cmd_check(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {},
    };
    struct pol_diags diags = {0};
    struct pol_config cfg = {0};
    struct pol_set set = {0};
    struct pol_apply_result res = {0};
    struct cg_ctx *ctx = NULL;
    int c, r, ret = EXIT_OK;

    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
        switch (c) {
        case 'h':
            help();
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    r = cli_load_policies(cli, argv + optind, (size_t)(argc - optind), &cfg, &set, &diags);
    if (r < 0) {
        cli_error_ctx(cli, "check", NULL, r);
        return EXIT_SYSTEM;
    }
    if (diags.n > 0) {
        cli_error(cli, "%zu problem%s found", diags.n, diags.n == 1 ? "" : "s");
        ret = EXIT_INVALID;
    } else if (corral_ctx_open(&cli->p, &ctx, NULL) == 0 &&
               pol_warnings(ctx, &cfg, &set, &res) == 0)
        /* Warnings need to know the cgroup version; without a cgroupfs they are skipped. */
        for (size_t i = 0; i < res.n_warnings; i++)
            cli_warn(cli, "%s: %s: %s", res.warnings[i].group, res.warnings[i].key,
                     res.warnings[i].msg);
    if (cli->json) {
        if (print_json(cli, &diags, &set, &cfg, &res) < 0)
            ret = EXIT_SYSTEM;
    } else if (diags.n == 0)
        printf("%zu polic%s valid (%zu classes, config %s)\n", set.n, set.n == 1 ? "y" : "ies",
               cfg.n_classes, cfg.file[0] ? cfg.file : "built-in");
    cg_ctx_free(ctx);
    pol_apply_result_free(&res);
    pol_set_free(&set);
    pol_config_free(&cfg);
    pol_diags_free(&diags);
    return ret;
}

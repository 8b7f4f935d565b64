/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corral apply [--dry-run] [FILE...]: make the groups match the policies, all or nothing. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/policy-fs.h"
#include "core/lock.h"
#include "core/txn.h"
#include "policy/apply.h"
#include "policy/policy.h"

static void help(void)
{
    printf("Usage: corral apply [--dry-run] [FILE...]\n"
           "\n"
           "Makes the groups under the corral root match the policies: creates missing class\n"
           "and workload groups, writes the limits that differ from what the kernel reports,\n"
           "and (when applying the whole policy directory) removes the class and workload\n"
           "groups that no policy names any more. Groups in which processes live are never\n"
           "removed; they are listed. Given FILEs, only those workloads are created or\n"
           "updated and nothing is removed.\n"
           "\n"
           "All or nothing: the policies are validated first (see corral check); if any\n"
           "change fails, every change already made is undone and the group, file and\n"
           "kernel error are printed. Applying unchanged policies again writes nothing.\n"
           "\n"
           "  -n, --dry-run   print the plan, change nothing\n"
           "  -h, --help      this help\n"
           "\n"
           "Exit status: 0 applied, 1 invalid policies, 2 usage error, 3 cgroupfs error\n"
           "(rolled back).\n");
}

static const char *kind_word(enum cg_txn_kind k)
{
    switch (k) {
    case CG_TXN_MKDIR:
        return "create";
    case CG_TXN_RMDIR:
        return "remove";
    default:
        return "set";
    }
}

static void print_plan(const struct cg_txn *t, const char *root)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct cg_txn_entry *x = &t->e[i];
        const char *g = x->group[0] ? x->group : root;

        if (x->kind != CG_TXN_WRITE)
            printf("%-7s %s\n", kind_word(x->kind), g);
        else if (x->old_value[0])
            printf("%-7s %s: %s: %s -> %s\n", "set", g, x->file, x->old_value, x->new_value);
        else
            printf("%-7s %s: %s = %s\n", "set", g, x->file, x->new_value);
    }
}

/* --json: {"dry_run", "created", "set", "removed", "writes", "changes": [{"action":
 * "create"|"set"|"remove", "group", "file", "old", "new"}], "busy": [GROUP...],
 * "warnings": [{"group", "key", "message"}]}. Groups are relative to the root ("" is the
 * root itself); file/old/new are present for "set" only, old "" when the group is new. */
/* clang-format off */
static json_t *json_change(const struct cg_txn_entry *x)
{
    if (x->kind != CG_TXN_WRITE)
        return json_pack("{s:s,s:o}",
                         "action", kind_word(x->kind),
                         "group", cg_json_str(x->group));
    return json_pack("{s:s,s:o,s:o,s:o,s:o}",
                     "action", kind_word(x->kind),
                     "group", cg_json_str(x->group),
                     "file", cg_json_str(x->file),
                     "old", cg_json_str(x->old_value),
                     "new", cg_json_str(x->new_value));
}

static int print_json(const struct cli *cli, const struct cg_txn *t,
                      const struct pol_apply_result *res, unsigned n_mk, unsigned n_set,
                      unsigned n_rm)
{
    json_t *changes = json_array(), *busy = json_array();

    for (size_t i = 0; changes && i < t->n; i++)
        cli_json_push(&changes, json_change(&t->e[i]));
    for (size_t i = 0; busy && i < res->n_busy; i++)
        cli_json_push(&busy, cg_json_str(res->busy[i]));
    return cli_json_print(cli, json_pack("{s:b,s:I,s:I,s:I,s:I,s:o,s:o,s:o}",
                                         "dry_run", t->dry_run,
                                         "created", (json_int_t)n_mk,
                                         "set", (json_int_t)n_set,
                                         "removed", (json_int_t)n_rm,
                                         "writes", (json_int_t)t->writes,
                                         "changes", changes,
                                         "busy", busy,
                                         "warnings", cli_json_warnings(res, NULL)));
}
/* clang-format on */

/* What a transaction does: groups made, values written, groups removed. */
struct apply_counts {
    unsigned mk, set, rm;
};

static struct apply_counts count_changes(const struct cg_txn *t)
{
    struct apply_counts n = {0};

    for (size_t i = 0; i < t->n; i++) {
        n.mk += t->e[i].kind == CG_TXN_MKDIR;
        n.set += t->e[i].kind == CG_TXN_WRITE;
        n.rm += t->e[i].kind == CG_TXN_RMDIR;
    }
    return n;
}

static void print_summary(const struct cli *cli, const struct cg_txn *t, size_t n_workloads,
                          bool dry_run, bool prune)
{
    const struct apply_counts n = count_changes(t);

    if (cli->json)
        return; /* the JSON says it all */
    if (t->n == 0)
        printf("%s: nothing to change (%zu workloads)\n", dry_run ? "plan" : "applied",
               n_workloads);
    else if (dry_run)
        printf("plan: %u group%s to create, %u value%s to set, %u group%s to remove (dry run: "
               "nothing changed)\n",
               n.mk, n.mk == 1 ? "" : "s", n.set, n.set == 1 ? "" : "s", n.rm,
               n.rm == 1 ? "" : "s");
    else
        printf("applied: %u group%s created, %u value%s set, %u group%s removed\n", n.mk,
               n.mk == 1 ? "" : "s", n.set, n.set == 1 ? "" : "s", n.rm, n.rm == 1 ? "" : "s");
    if (!prune)
        printf("note: only the given files were applied; nothing was removed\n");
}

/* Applies (or plans) cfg and set, and says what it did: an exit status. */
static int apply_set(struct cli *cli, const struct pol_config *cfg, const struct pol_set *set,
                     bool dry_run, bool prune)
{
    _cleanup_(cg_ctx_freep) struct cg_ctx *ctx = NULL;
    _cleanup_(cg_lock_releasep) struct cg_lock *lock = NULL;
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct apply_counts n;
    struct cg_txn t;
    int r, ret;

    ret = cli_open_target(cli, "apply", NULL, &ctx, NULL);
    if (ret == EXIT_OK && !dry_run)
        ret = cli_lock_root(cli, ctx, "apply", &lock); /* one writer; held to the end */
    if (ret != EXIT_OK)
        return ret;
    cg_txn_init(&t, dry_run);
    r = pol_apply(ctx, cfg, set, prune, &t, &res, &e);
    for (size_t i = 0; i < res.n_warnings; i++)
        cli_warn(cli, "%s: %s: %s", res.warnings[i].group, res.warnings[i].key,
                 res.warnings[i].msg);
    if (r < 0) {
        cli_error_ctx(
            cli, dry_run ? "apply (dry run)" : "apply failed; every change was rolled back", &e, r);
        ret = EXIT_SYSTEM;
        goto out;
    }
    for (size_t i = 0; i < res.n_busy; i++)
        cli_warn(cli, "%s: no policy names it, but processes live in it: kept", res.busy[i]);
    n = count_changes(&t);
    if (cli->json && print_json(cli, &t, &res, n.mk, n.set, n.rm) < 0)
        ret = EXIT_SYSTEM;
    else if (!cli->json && (dry_run || cli->verbose))
        print_plan(&t, ctx->root_arg);
    print_summary(cli, &t, set->n, dry_run, prune);
out:
    cg_txn_done(&t);
    pol_apply_result_free(&res);
    return ret;
}

int cmd_apply(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    struct pol_diags diags = {0};
    struct pol_config cfg = {0};
    struct pol_set set = {0};
    bool dry_run = false;
    size_t n_files;
    int c, r, ret;

    while ((c = getopt_long(argc, argv, "+nh", opts, NULL)) >= 0) {
        switch (c) {
        case 'n':
            dry_run = true;
            break;
        case 'h':
            help();
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    n_files = (size_t)(argc - optind);
    r = cli_load_policies(cli, argv + optind, n_files, &cfg, &set, &diags);
    if (r < 0) {
        cli_error_ctx(cli, "apply", NULL, r);
        return EXIT_SYSTEM;
    }
    if (diags.n > 0) {
        cli_error(cli, "%zu problem%s found; nothing was applied", diags.n,
                  diags.n == 1 ? "" : "s");
        ret = EXIT_INVALID;
    } else {
        ret = apply_set(cli, &cfg, &set, dry_run, n_files == 0);
    }
    pol_set_free(&set);
    pol_config_free(&cfg);
    pol_diags_free(&diags);
    return ret;
}

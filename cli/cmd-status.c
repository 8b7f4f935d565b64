/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corral status [TARGET] [--json]: the tree with limits, state, usage and warnings. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libsmartcols/libsmartcols.h>

#include "cli/cli.h"
#include "cli/policy-fs.h"
#include "controllers/freezer.h"
#include "policy/apply.h"
#include "policy/policy.h"
#include "policy/status.h"

static void help(void)
{
    printf("Usage: corral status [TARGET] [--json]\n"
           "\n"
           "Shows the groups under the corral root (or only TARGET: CLASS, CLASS/WORKLOAD,\n"
           "WORKLOAD, WORKLOAD/INSTANCE) with their limits as the kernel reports them, the\n"
           "freezer state, live usage (CPU time, memory current and peak, pids) and warnings\n"
           "for policy settings that this cgroup version cannot express.\n"
           "\n"
           "  --json       one JSON document (format in corral(5), STATUS JSON)\n"
           "  -h, --help   this help\n"
           "\n"
           "Exit status: 0 ok, 1 no such target, 2 usage error, 3 cgroupfs error.\n");
}

static const char *state_str(int freeze)
{
    return freeze < 0 ? NULL : ctl_freeze_state_to_string((enum ctl_freeze_state)freeze);
}

/* "1.5G", "512M", "4K", "100" (bytes), "max", "-". */
static const char *human_size(uint64_t v, char *buf, size_t size)
{
    static const char units[] = "KMGT";
    int u = -1;
    uint64_t div = 1;

    if (v == CTL_UNSET)
        return "-";
    if (v == CTL_MAX)
        return "max";
    while (u < 3 && v >= div * 1024) {
        div *= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, size, "%llu", (unsigned long long)v);
    else if (v % div == 0)
        snprintf(buf, size, "%llu%c", (unsigned long long)(v / div), units[u]);
    else
        snprintf(buf, size, "%llu.%llu%c", (unsigned long long)(v / div),
                 (unsigned long long)(v % div * 10 / div), units[u]);
    return buf;
}

static const char *num(uint64_t v, char *buf, size_t size)
{
    if (v == CTL_UNSET)
        return "-";
    if (v == CTL_MAX)
        return "max";
    snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

/* Quota as a share of one CPU: "150%", "12.5%", "max". */
static const char *cpu_max(const struct ctl_settings *s, char *buf, size_t size)
{
    uint64_t tenths;

    if (s->cpu_max_usec == CTL_UNSET || s->cpu_period_usec == CTL_UNSET || s->cpu_period_usec == 0)
        return s->cpu_max_usec == CTL_MAX ? "max" : "-";
    if (s->cpu_max_usec == CTL_MAX)
        return "max";
    tenths = s->cpu_max_usec * 1000 / s->cpu_period_usec;
    if (tenths % 10)
        snprintf(buf, size, "%llu.%llu%%", (unsigned long long)(tenths / 10),
                 (unsigned long long)(tenths % 10));
    else
        snprintf(buf, size, "%llu%%", (unsigned long long)(tenths / 10));
    return buf;
}

static const char *cpu_time(uint64_t ns, char *buf, size_t size)
{
    if (ns == CTL_UNSET)
        return "-";
    snprintf(buf, size, "%llu.%02llus", (unsigned long long)(ns / 1000000000),
             (unsigned long long)(ns % 1000000000 / 10000000));
    return buf;
}

enum {
    COL_GROUP,
    COL_STATE,
    COL_WEIGHT,
    COL_CPUMAX,
    COL_MEMMAX,
    COL_PIDSMAX,
    COL_CPU,
    COL_MEM,
    COL_PEAK,
    COL_PIDS,
    _COL_MAX
};

static const struct cli_column columns[_COL_MAX] = {
    [COL_GROUP] = {"GROUP"},          [COL_STATE] = {"STATE"},
    [COL_WEIGHT] = {"WEIGHT", true},  [COL_CPUMAX] = {"CPU MAX", true},
    [COL_MEMMAX] = {"MEM MAX", true}, [COL_PIDSMAX] = {"PIDS MAX", true},
    [COL_CPU] = {"CPU", true},        [COL_MEM] = {"MEMORY", true},
    [COL_PEAK] = {"PEAK", true},      [COL_PIDS] = {"PIDS", true},
};

/* One row: the name indented two spaces a level under its parent, whole, however long. */
static int add_row(struct libscols_table *tb, const struct pol_status_node *x)
{
    char b[_COL_MAX][32];
    const char *cells[_COL_MAX];
    _cleanup_free_ char *group = NULL;
    unsigned depth = x->kind == POL_NODE_CLASS ? 0 : x->kind == POL_NODE_WORKLOAD ? 1 : 2;
    const char *name = x->kind == POL_NODE_CLASS      ? x->class_name
                       : x->kind == POL_NODE_WORKLOAD ? x->workload
                                                      : x->instance;
    const char *st = state_str(x->freeze);

    if (asprintf(&group, "%*s%s", (int)(2 * depth), "", name) < 0)
        return -ENOMEM;
    cells[COL_GROUP] = group;
    cells[COL_STATE] = x->error ? "gone" : st ? st : "-";
    cells[COL_WEIGHT] = num(x->limits.cpu_weight, b[COL_WEIGHT], sizeof(b[0]));
    cells[COL_CPUMAX] = cpu_max(&x->limits, b[COL_CPUMAX], sizeof(b[0]));
    cells[COL_MEMMAX] = human_size(x->limits.mem_max, b[COL_MEMMAX], sizeof(b[0]));
    cells[COL_PIDSMAX] = num(x->limits.pids_max, b[COL_PIDSMAX], sizeof(b[0]));
    cells[COL_CPU] = cpu_time(x->usage.cpu_usage_ns, b[COL_CPU], sizeof(b[0]));
    cells[COL_MEM] = human_size(x->usage.mem_current, b[COL_MEM], sizeof(b[0]));
    cells[COL_PEAK] = human_size(x->usage.mem_peak, b[COL_PEAK], sizeof(b[0]));
    cells[COL_PIDS] = num(x->usage.pids_current, b[COL_PIDS], sizeof(b[0]));
    return cli_table_add_row(tb, cells, _COL_MAX);
}

/* The table, then the warnings of its groups, in the table's order. */
static int print_table(const struct cli *cli, const struct pol_status *s,
                       const struct pol_apply_result *w)
{
    struct libscols_table *tb = cli_table_new(columns, _COL_MAX);
    int r;

    for (size_t i = 0; tb && i < s->n; i++)
        if (add_row(tb, &s->nodes[i]) < 0) {
            scols_unref_table(tb);
            tb = NULL;
        }
    r = cli_table_print(cli, tb);
    for (size_t i = 0; r == 0 && i < s->n; i++)
        for (size_t k = 0; w && k < w->n_warnings; k++)
            if (strcmp(w->warnings[k].group, s->nodes[i].path) == 0)
                printf("warning: %s: %s: %s\n", s->nodes[i].path, w->warnings[k].key,
                       w->warnings[k].msg);
    return r;
}

/* One key and its value a line: */
/* clang-format off */
static json_t *json_limits(const struct ctl_settings *l)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                     "cpu_weight", cli_json_u64(l->cpu_weight, false),
                     "cpu_max_usec", cli_json_u64(l->cpu_max_usec, true),
                     "cpu_period_usec", cli_json_u64(l->cpu_period_usec, false),
                     "memory_max", cli_json_u64(l->mem_max, true),
                     "memory_high", cli_json_u64(l->mem_high, true),
                     "memory_low", cli_json_u64(l->mem_low, true),
                     "memory_swap_max", cli_json_u64(l->mem_swap_max, true),
                     "pids_max", cli_json_u64(l->pids_max, true));
}

static json_t *json_usage(const struct ctl_usage *u)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                     "cpu_usage_ns", cli_json_u64(u->cpu_usage_ns, false),
                     "cpu_user_ns", cli_json_u64(u->cpu_user_ns, false),
                     "cpu_system_ns", cli_json_u64(u->cpu_system_ns, false),
                     "cpu_throttled_ns", cli_json_u64(u->cpu_throttled_ns, false),
                     "memory_current", cli_json_u64(u->mem_current, false),
                     "memory_peak", cli_json_u64(u->mem_peak, false),
                     "memory_oom_kills", cli_json_u64(u->mem_oom_kills, false),
                     "pids_current", cli_json_u64(u->pids_current, false),
                     "pids_peak", cli_json_u64(u->pids_peak, false));
}

/* One group of the STATUS JSON (corral(5)); "" names are null. */
static json_t *json_group(const struct pol_status_node *x, const struct pol_apply_result *w)
{
    return json_pack("{s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                     "path", cg_json_str(x->path),
                     "kind", pol_node_kind_to_string(x->kind),
                     "class", cg_json_str(x->class_name),
                     "workload", cg_json_str(x->workload[0] ? x->workload : NULL),
                     "instance", cg_json_str(x->instance[0] ? x->instance : NULL),
                     "state", cg_json_str(state_str(x->freeze)),
                     "limits", json_limits(&x->limits),
                     "usage", json_usage(&x->usage),
                     "warnings", cli_json_warnings(w, x->path),
                     "error", cg_json_str(x->error ? strerror(-x->error) : NULL));
}
/* clang-format on */

static int print_json(const struct cli *cli, const struct cg_ctx *ctx, const struct pol_status *s,
                      const struct pol_apply_result *w)
{
    json_t *groups = json_array(), *doc;

    for (size_t i = 0; groups && i < s->n; i++)
        cli_json_push(&groups, json_group(&s->nodes[i], w));
    doc = json_pack("{s:i,s:o,s:s,s:o}", "version", 1, "root", cg_json_str(ctx->root_arg), "cgroup",
                    cg_mode_to_string(ctx->sys.mode), "groups", groups);
    return cli_json_print(cli, doc);
}

int cmd_status(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    _cleanup_(cg_ctx_freep) struct cg_ctx *ctx = NULL;
    _cleanup_free_ char *path = NULL;
    struct pol_status s = {0};
    struct pol_diags diags = {0};
    struct pol_config cfg = {0};
    struct pol_set set = {0};
    struct pol_apply_result w = {0};
    struct cg_err e = {0};
    bool json = cli->json;
    int c, r;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'h':
            help();
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        cli_error(cli, "status: at most one TARGET");
        return EXIT_USAGE;
    }
    r = cli_open_target(cli, "status", optind < argc ? argv[optind] : NULL, &ctx, &path);
    if (r != EXIT_OK)
        return r;
    r = pol_status_collect(ctx, path ? path : "", &s, &e);
    if (r == -ENOENT && !path) {
        /* No root yet: nothing applied. An empty tree, not an error. */
        r = 0;
    } else if (r < 0) {
        cli_error_ctx(cli, "status", &e, r);
        return corral_exit_code(r);
    }
    /* Warnings come from the policies; if they do not load, say so and show the tree. */
    r = corral_load_policies(&cli->p, NULL, 0, &cfg, &set, &diags);
    if (r == 0 && diags.n == 0)
        (void)pol_warnings(ctx, &cfg, &set, &w);
    else {
        char buf[1024] = "";
        if (diags.n > 0)
            pol_diag_format(&diags.d[0], buf, sizeof(buf));
        cli_warn(cli, "the policies do not load (%s%s; see corral check): no warnings shown",
                 diags.n ? buf : strerror(-r), diags.n > 1 ? ", and more" : "");
    }
    r = 0;
    if (json)
        r = print_json(cli, ctx, &s, &w);
    else if (s.n == 0)
        printf("no groups under %s (run corral apply)\n", ctx->root_arg);
    else
        r = print_table(cli, &s, &w);
    pol_apply_result_free(&w);
    pol_set_free(&set);
    pol_config_free(&cfg);
    pol_diags_free(&diags);
    pol_status_free(&s);
    return r < 0 ? EXIT_SYSTEM : EXIT_OK;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* corral status [TARGET] [--json]: the tree with limits, state, usage and warnings. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
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

static void row(const struct pol_status_node *x, char cells[_COL_MAX][80])
{
    char b[48];
    unsigned depth = x->kind == POL_NODE_CLASS ? 0 : x->kind == POL_NODE_WORKLOAD ? 1 : 2;
    const char *name = x->kind == POL_NODE_CLASS      ? x->class_name
                       : x->kind == POL_NODE_WORKLOAD ? x->workload
                                                      : x->instance;
    const char *st = state_str(x->freeze);

    snprintf(cells[COL_GROUP], 80, "%*s%s", (int)(2 * depth), "", name);
    snprintf(cells[COL_STATE], 80, "%s", x->error ? "gone" : st ? st : "-");
    snprintf(cells[COL_WEIGHT], 80, "%s", num(x->limits.cpu_weight, b, sizeof(b)));
    snprintf(cells[COL_CPUMAX], 80, "%s", cpu_max(&x->limits, b, sizeof(b)));
    snprintf(cells[COL_MEMMAX], 80, "%s", human_size(x->limits.mem_max, b, sizeof(b)));
    snprintf(cells[COL_PIDSMAX], 80, "%s", num(x->limits.pids_max, b, sizeof(b)));
    snprintf(cells[COL_CPU], 80, "%s", cpu_time(x->usage.cpu_usage_ns, b, sizeof(b)));
    snprintf(cells[COL_MEM], 80, "%s", human_size(x->usage.mem_current, b, sizeof(b)));
    snprintf(cells[COL_PEAK], 80, "%s", human_size(x->usage.mem_peak, b, sizeof(b)));
    snprintf(cells[COL_PIDS], 80, "%s", num(x->usage.pids_current, b, sizeof(b)));
}

static void print_table(const struct pol_status *s, const struct pol_apply_result *w)
{
    static const char *const head[_COL_MAX] = {"GROUP",    "STATE", "WEIGHT", "CPU MAX", "MEM MAX",
                                               "PIDS MAX", "CPU",   "MEMORY", "PEAK",    "PIDS"};
    char(*cells)[_COL_MAX][80] = calloc(s->n + 1, sizeof(*cells));
    size_t width[_COL_MAX];

    if (!cells)
        return;
    for (int c = 0; c < _COL_MAX; c++) {
        snprintf(cells[0][c], 80, "%s", head[c]);
        width[c] = strlen(head[c]);
    }
    for (size_t i = 0; i < s->n; i++) {
        row(&s->nodes[i], cells[i + 1]);
        for (int c = 0; c < _COL_MAX; c++)
            if (strlen(cells[i + 1][c]) > width[c])
                width[c] = strlen(cells[i + 1][c]);
    }
    for (size_t i = 0; i <= s->n; i++) {
        for (int c = 0; c < _COL_MAX; c++) {
            /* Names left-aligned, numbers right-aligned. */
            if (c <= COL_STATE)
                printf("%-*s", (int)width[c], cells[i][c]);
            else
                printf("%*s", (int)width[c], cells[i][c]);
            fputs(c + 1 < _COL_MAX ? "  " : "\n", stdout);
        }
        if (i == 0)
            continue;
        for (size_t k = 0; w && k < w->n_warnings; k++)
            if (strcmp(w->warnings[k].group, s->nodes[i - 1].path) == 0)
                printf("    warning: %s: %s\n", w->warnings[k].key, w->warnings[k].msg);
    }
    free(cells);
}

static void json_u64(FILE *f, const char *key, uint64_t v, bool max_ok, bool last)
{
    fprintf(f, "\"%s\":", key);
    if (v == CTL_UNSET)
        fputs("null", f);
    else if (v == CTL_MAX && max_ok)
        fputs("\"max\"", f);
    else
        fprintf(f, "%llu", (unsigned long long)v);
    fputs(last ? "" : ",", f);
}

static void print_json(const struct cg_ctx *ctx, const struct pol_status *s,
                       const struct pol_apply_result *w)
{
    FILE *f = stdout;

    fputs("{\"version\":1,\"root\":", f);
    cli_json_string(f, ctx->root_arg);
    fprintf(f, ",\"cgroup\":\"%s\",\"groups\":[", cg_mode_to_string(ctx->sys.mode));
    for (size_t i = 0; i < s->n; i++) {
        const struct pol_status_node *x = &s->nodes[i];
        const struct ctl_settings *l = &x->limits;
        const struct ctl_usage *u = &x->usage;
        const char *st = state_str(x->freeze);
        bool first = true;

        fputs(i ? ",{" : "{", f);
        fputs("\"path\":", f);
        cli_json_string(f, x->path);
        fprintf(f, ",\"kind\":\"%s\",\"class\":", pol_node_kind_to_string(x->kind));
        cli_json_string(f, x->class_name);
        fputs(",\"workload\":", f);
        if (x->workload[0])
            cli_json_string(f, x->workload);
        else
            fputs("null", f);
        fputs(",\"instance\":", f);
        if (x->instance[0])
            cli_json_string(f, x->instance);
        else
            fputs("null", f);
        fputs(",\"state\":", f);
        if (st)
            cli_json_string(f, st);
        else
            fputs("null", f);
        fputs(",\"limits\":{", f);
        json_u64(f, "cpu_weight", l->cpu_weight, false, false);
        json_u64(f, "cpu_max_usec", l->cpu_max_usec, true, false);
        json_u64(f, "cpu_period_usec", l->cpu_period_usec, false, false);
        json_u64(f, "memory_max", l->mem_max, true, false);
        json_u64(f, "memory_high", l->mem_high, true, false);
        json_u64(f, "memory_low", l->mem_low, true, false);
        json_u64(f, "memory_swap_max", l->mem_swap_max, true, false);
        json_u64(f, "pids_max", l->pids_max, true, true);
        fputs("},\"usage\":{", f);
        json_u64(f, "cpu_usage_ns", u->cpu_usage_ns, false, false);
        json_u64(f, "cpu_user_ns", u->cpu_user_ns, false, false);
        json_u64(f, "cpu_system_ns", u->cpu_system_ns, false, false);
        json_u64(f, "cpu_throttled_ns", u->cpu_throttled_ns, false, false);
        json_u64(f, "memory_current", u->mem_current, false, false);
        json_u64(f, "memory_peak", u->mem_peak, false, false);
        json_u64(f, "memory_oom_kills", u->mem_oom_kills, false, false);
        json_u64(f, "pids_current", u->pids_current, false, false);
        json_u64(f, "pids_peak", u->pids_peak, false, true);
        fputs("},\"warnings\":[", f);
        for (size_t k = 0; w && k < w->n_warnings; k++) {
            if (strcmp(w->warnings[k].group, x->path) != 0)
                continue;
            fputs(first ? "{\"key\":" : ",{\"key\":", f);
            cli_json_string(f, w->warnings[k].key);
            fputs(",\"message\":", f);
            cli_json_string(f, w->warnings[k].msg);
            fputs("}", f);
            first = false;
        }
        fputs("],\"error\":", f);
        if (x->error)
            cli_json_string(f, strerror(-x->error));
        else
            fputs("null", f);
        fputs("}", f);
    }
    fputs("]}\n", f);
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
        return cli_exit_code(r);
    }
    /* Warnings come from the policies; if they do not load, say so and show the tree. */
    r = pol_load_all(cli->config, cli->config_given, cli->policy_dir, NULL, 0, &cfg, &set, &diags);
    if (r == 0 && diags.n == 0)
        (void)pol_warnings(ctx, &cfg, &set, &w);
    else {
        char buf[1024] = "";
        if (diags.n > 0)
            pol_diag_format(&diags.d[0], buf, sizeof(buf));
        cli_warn(cli, "the policies do not load (%s%s; see corral check): no warnings shown",
                 diags.n ? buf : strerror(-r), diags.n > 1 ? ", and more" : "");
    }
    if (json)
        print_json(ctx, &s, &w);
    else if (s.n == 0)
        printf("no groups under %s (run corral apply)\n", ctx->root_arg);
    else
        print_table(&s, &w);
    pol_apply_result_free(&w);
    pol_set_free(&set);
    pol_config_free(&cfg);
    pol_diags_free(&diags);
    pol_status_free(&s);
    return EXIT_OK;
}

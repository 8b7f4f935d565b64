/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "cli/policy-fs.h"
#include "launcher/rootfs.h"

struct fs_report {
    const struct pol_policy *p;
    struct pol_diags *diags;
    int error;
};

static void add_problem(const struct launch_fs_problem *pb, void *userdata)
{
    struct fs_report *fr = userdata;
    bool workdir = strcmp(pb->key, "WorkingDirectory") == 0;
    const char *section = workdir ? "Process" : "Filesystem";
    unsigned line = workdir ? fr->p->workdir_line : pol_fs_key_line(fr->p, pb->key);
    char ex[POL_EXCERPT_SIZE];
    int r;

    if (pb->value[0])
        r = pol_diag_add(fr->diags, fr->p->file, line, "%s.%s='%s': %s", section, pb->key,
                         pol_excerpt(pb->value, ex), pb->reason);
    else
        r = pol_diag_add(fr->diags, fr->p->file, line, "%s.%s: %s", section, pb->key, pb->reason);
    if (r < 0)
        fr->error = r;
}

int cli_check_filesystems(const struct pol_set *set, struct pol_diags *diags)
{
    size_t before = diags->n;

    for (size_t i = 0; i < set->n; i++) {
        struct fs_report fr = {.p = &set->p[i], .diags = diags};

        /* What run would refuse, check refuses first: the working directory too. */
        (void)launch_workdir_check(&set->p[i], add_problem, &fr);
        if (launch_fs_wanted(&set->p[i].fs))
            (void)launch_fs_check(&set->p[i].fs, add_problem, &fr);
        if (fr.error < 0)
            return fr.error;
    }
    if (diags->n > before)
        pol_diags_sort(diags);
    return 0;
}

/* After a load (r): the checks of the running system, then every problem on stderr. */
static int loaded(int r, const struct pol_set *set, struct pol_diags *diags)
{
    if (r >= 0)
        r = cli_check_filesystems(set, diags);
    for (size_t i = 0; i < diags->n; i++) {
        char buf[1024];
        fprintf(stderr, "%s\n", pol_diag_format(&diags->d[i], buf, sizeof(buf)));
    }
    return r < 0 ? r : 0;
}

int cli_load_policies(const struct cli *cli, char *const *files, size_t n_files,
                      struct pol_config *cfg, struct pol_set *set, struct pol_diags *diags)
{
    int r;

    r = corral_load_policies(&cli->p, files, n_files, cfg, set, diags);
    return loaded(r, set, diags);
}

int cli_load_workload(const struct cli *cli, const char *name, struct pol_config *cfg,
                      struct pol_set *set, struct pol_diags *diags)
{
    int r = pol_load_workload(cli->p.config, cli->p.config_given, cli->p.policy_dir, name, cfg, set,
                              diags);
    return loaded(r, set, diags);
}

json_t *cli_json_warnings(const struct pol_apply_result *res, const char *group)
{
    json_t *a = json_array();

    for (size_t i = 0; a && res && i < res->n_warnings; i++) {
        const struct pol_warning *w = &res->warnings[i];
        json_t *o;

        if (group && strcmp(w->group, group) != 0)
            continue;
        if (group)
            o = json_pack("{s:o,s:o}", "key", cg_json_str(w->key), "message", cg_json_str(w->msg));
        else
            o = json_pack("{s:o,s:o,s:o}", "group", cg_json_str(w->group), "key",
                          cg_json_str(w->key), "message", cg_json_str(w->msg));
        cli_json_push(&a, o);
    }
    return a;
}

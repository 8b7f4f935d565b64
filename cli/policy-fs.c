/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

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
    unsigned line = pol_fs_key_line(fr->p, pb->key);
    int r;

    if (pb->value[0])
        r = pol_diag_add(fr->diags, fr->p->file, line, "Filesystem.%s='%s': %s", pb->key, pb->value,
                         pb->reason);
    else
        r = pol_diag_add(fr->diags, fr->p->file, line, "Filesystem.%s: %s", pb->key, pb->reason);
    if (r < 0)
        fr->error = r;
}

int cli_check_filesystems(const struct pol_set *set, struct pol_diags *diags)
{
    size_t before = diags->n;

    for (size_t i = 0; i < set->n; i++) {
        struct fs_report fr = {.p = &set->p[i], .diags = diags};

        if (!launch_fs_wanted(&set->p[i].fs))
            continue;
        (void)launch_fs_check(&set->p[i].fs, add_problem, &fr);
        if (fr.error < 0)
            return fr.error;
    }
    if (diags->n > before)
        pol_diags_sort(diags);
    return 0;
}

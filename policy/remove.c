/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "core/macro.h"
#include "policy/remove.h"

/* Hands the final usage of g and everything below it to hook, deepest first. */
static int final_usage(struct cg_group *g, pol_final_usage_fn hook, void *userdata,
                       struct cg_err *e)
{
    _cleanup_(cg_strv_freep) char **kids = NULL;
    struct ctl_usage u;
    int r;

    r = cg_group_children(g, &kids);
    if (r < 0)
        return cg_err_set(e, r, g->path, NULL, "cannot list child groups");
    for (char **k = kids; *k; k++) {
        _cleanup_(cg_group_freep) struct cg_group *c = NULL;
        r = cg_group_child(g, *k, false, &c, NULL, e);
        if (r < 0)
            return r;
        r = final_usage(c, hook, userdata, e);
        if (r < 0)
            return r;
    }
    r = ctl_read_usage_all(g, &u);
    if (r < 0)
        return cg_err_set(e, r, g->path, NULL, "cannot read the final usage");
    return hook(userdata, g, &u, e);
}

int pol_remove(struct cg_ctx *ctx, const char *path, bool kill, pol_final_usage_fn hook,
               void *userdata, struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    int r;

    if (!path || !*path)
        return cg_err_set(e, -EINVAL, "", NULL, "refusing to remove the whole root");
    r = cg_group_open(ctx, path, false, &g, NULL, e);
    if (r < 0)
        return r;
    r = cg_group_populated(g);
    if (r < 0)
        return cg_err_set(e, r, g->path, NULL, "cannot tell whether the group holds processes");
    if (r > 0) {
        if (!kill)
            return cg_err_set(e, -EBUSY, g->path, NULL,
                              "processes are still running in the group (use --kill)");
        r = cg_group_kill(g, e);
        if (r < 0)
            return r;
    }
    if (hook) {
        r = final_usage(g, hook, userdata, e);
        if (r < 0)
            return r;
    }
    /* Empty now: this only removes directories, deepest first. A process that appears
     * meanwhile (a `corral run` racing us) makes it fail with EBUSY rather than kill it. */
    return cg_group_remove_tree(ctx, path, false, e);
}

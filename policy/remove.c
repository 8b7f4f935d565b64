/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "core/macro.h"
#include "policy/remove.h"

struct final_walk {
    pol_final_usage_fn hook;
    void *userdata;
};

static int final_one(void *userdata, struct cg_group *g, struct cg_err *e)
{
    struct final_walk *w = userdata;
    struct ctl_usage u;
    int r;

    r = ctl_read_usage_all(g, &u);
    if (r < 0)
        return cg_err_set(e, r, g->path, NULL, "cannot read the final usage");
    return w->hook(w->userdata, g, &u, e);
}

/* Hands the final usage of g and everything below it to the hook, deepest first, before
 * any directory goes: a hook that fails leaves the whole tree in place. */
static int final_usage(void *userdata, struct cg_group *g, struct cg_err *e)
{
    return cg_group_walk_post(g, final_one, userdata, e);
}

int pol_remove(struct cg_ctx *ctx, const char *path, bool kill, pol_final_usage_fn hook,
               void *userdata, struct cg_err *e)
{
    struct final_walk w = {.hook = hook, .userdata = userdata};

    if (!path || !*path)
        return cg_err_set(e, -EINVAL, "", NULL, "refusing to remove the whole root");
    return cg_group_remove_tree(ctx, path, kill, hook ? final_usage : NULL, &w, e);
}

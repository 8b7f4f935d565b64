/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cgroup.h"
#include "core/name.h"

/* Counts '/'-separated components. */
static int depth(const char *p)
{
    int n = 1;
    for (; *p; p++)
        n += *p == '/';
    return n;
}

int cg_resolve_target(struct cg_ctx *ctx, const char *target, char **ret_path, struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *root = NULL;
    _cleanup_(cg_strv_freep) char **classes = NULL;
    _cleanup_free_ char *found = NULL;
    const char *slash;
    size_t wl;
    int r;

    r = cg_path_validate(target, e);
    if (r < 0)
        return r;
    if (depth(target) > 3)
        return cg_err_set(e, -EINVAL, target, NULL,
                          "a target is WORKLOAD, WORKLOAD/INSTANCE or CLASS/WORKLOAD[/INSTANCE]");
    r = cg_root_open(ctx, false, &root, e);
    if (r < 0)
        return r;
    r = cg_group_children(root, &classes);
    if (r < 0)
        return cg_err_set(e, r, "", NULL, "cannot list classes");

    /* A first component naming a class wins: CLASS/WORKLOAD[/INSTANCE]. */
    if (depth(target) >= 2) {
        slash = strchr(target, '/');
        for (char **c = classes; *c; c++)
            if (strlen(*c) == (size_t)(slash - target) && strncmp(*c, target, strlen(*c)) == 0) {
                struct cg_group *g = NULL;
                if (cg_group_open(ctx, target, false, &g, NULL, NULL) == 0) {
                    cg_group_free(g);
                    found = strdup(target);
                    if (!found)
                        return -ENOMEM;
                    *ret_path = TAKE_PTR(found);
                    return 0;
                }
            }
        if (depth(target) == 3)
            return cg_err_set(e, -ENOENT, target, NULL, "no such group");
    }
    /* WORKLOAD[/INSTANCE]: the workload name is unique across classes (policy checks). */
    slash = strchr(target, '/');
    wl = slash ? (size_t)(slash - target) : strlen(target);
    for (char **c = classes; *c; c++) {
        _cleanup_free_ char *p = NULL;
        struct cg_group *g = NULL;
        if (asprintf(&p, "%s/%s", *c, target) < 0)
            return -ENOMEM;
        if (cg_group_open(ctx, p, false, &g, NULL, NULL) < 0)
            continue;
        cg_group_free(g);
        if (found)
            return cg_err_set(e, -EINVAL, target, NULL,
                              "workload '%.*s' exists in more than one class; give CLASS/%s",
                              (int)wl, target, target);
        found = TAKE_PTR(p);
    }
    if (!found)
        return cg_err_set(e, -ENOENT, target, NULL, "no such workload or instance");
    *ret_path = TAKE_PTR(found);
    return 0;
}

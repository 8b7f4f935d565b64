/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/macro.h"
#include "policy/status.h"

const char *pol_node_kind_to_string(enum pol_node_kind k)
{
    static const char *const names[] = {"class", "workload", "instance"};
    return (unsigned)k < ARRAY_SIZE(names) ? names[k] : "unknown";
}

void pol_status_free(struct pol_status *s)
{
    if (!s)
        return;
    free(s->nodes);
    s->nodes = NULL;
    s->n = 0;
}

static int add_node(struct pol_status *s, struct cg_group *g, unsigned depth)
{
    struct pol_status_node *nn, *x;
    enum ctl_freeze_state fs;
    char *comp[3] = {NULL, NULL, NULL}, copy[256], *save = NULL;
    unsigned k = 0;
    int r;

    nn = realloc(s->nodes, (s->n + 1) * sizeof(*nn));
    if (!nn)
        return -ENOMEM;
    s->nodes = nn;
    x = &s->nodes[s->n++];
    memset(x, 0, sizeof(*x));
    snprintf(x->path, sizeof(x->path), "%s", cg_group_path(g));
    snprintf(copy, sizeof(copy), "%s", cg_group_path(g));
    for (char *c = strtok_r(copy, "/", &save); c && k < 3; c = strtok_r(NULL, "/", &save))
        comp[k++] = c;
    x->kind = depth == 1 ? POL_NODE_CLASS : depth == 2 ? POL_NODE_WORKLOAD : POL_NODE_INSTANCE;
    snprintf(x->class_name, sizeof(x->class_name), "%s", comp[0] ? comp[0] : "");
    snprintf(x->workload, sizeof(x->workload), "%s", comp[1] ? comp[1] : "");
    snprintf(x->instance, sizeof(x->instance), "%s", comp[2] ? comp[2] : "");

    r = ctl_read_settings_all(g, &x->limits);
    if (r >= 0)
        r = ctl_read_usage_all(g, &x->usage);
    x->error = r < 0 ? r : 0;
    r = ctl_freezer_state(g, &fs);
    x->freeze = r < 0 ? -1 : (int)fs;
    return 0;
}

static unsigned path_depth(const char *p)
{
    unsigned n = *p ? 1 : 0;
    for (; *p; p++)
        n += *p == '/';
    return n;
}

static int walk(struct cg_group *g, unsigned depth, struct pol_status *s, struct cg_err *e)
{
    _cleanup_(cg_strv_freep) char **kids = NULL;
    int r;

    if (depth > 0) {
        r = add_node(s, g, depth);
        if (r < 0)
            return r;
    }
    /* The tree is three levels deep; anything below an instance is the workload's own. */
    if (depth >= 3)
        return 0;
    r = cg_group_children(g, &kids);
    if (r == -ENOENT)
        return 0; /* vanished meanwhile (an instance that ended) */
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), NULL, "cannot list child groups");
    for (char **k = kids; *k; k++) {
        _cleanup_(cg_group_freep) struct cg_group *c = NULL;
        r = cg_group_child(g, *k, false, &c, NULL, NULL);
        if (r == -ENOENT)
            continue;
        if (r < 0)
            return cg_group_child(g, *k, false, &c, NULL, e);
        r = walk(c, depth + 1, s, e);
        if (r < 0)
            return r;
    }
    return 0;
}

int pol_status_collect(struct cg_ctx *ctx, const char *path, struct pol_status *ret,
                       struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct pol_status s = {0};
    int r;

    r = cg_group_open(ctx, path, false, &g, NULL, e);
    if (r < 0)
        return r;
    r = walk(g, path_depth(path ? path : ""), &s, e);
    if (r < 0) {
        pol_status_free(&s);
        return r;
    }
    *ret = s;
    return 0;
}

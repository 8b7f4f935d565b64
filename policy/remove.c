/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "core/macro.h"
#include "core/roots.h"
#include "policy/remove.h"

/* The groups of the subtree, locked, in the order they were locked: parents first. */
struct held {
    struct cg_group **g;
    int *fd;
    size_t n, cap;
};

static void held_free(struct held *h)
{
    for (size_t i = 0; i < h->n; i++) {
        closep(&h->fd[i]);
        cg_group_free(h->g[i]);
    }
    free(h->g);
    free(h->fd);
}

static int held_add(struct held *h, struct cg_group *g, int fd)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 8;
        struct cg_group **ng = realloc(h->g, cap * sizeof(*ng));
        int *nf;

        if (ng)
            h->g = ng;
        nf = ng ? realloc(h->fd, cap * sizeof(*nf)) : NULL;
        if (!nf)
            return -ENOMEM;
        h->fd = nf;
        h->cap = cap;
    }
    h->g[h->n] = g;
    h->fd[h->n++] = fd;
    return 0;
}

/* Locks g (which it takes over) and every group below it, parents first and siblings in
 * name order, so that two removals of overlapping subtrees take their locks in the same
 * order. A group found gone once its lock is ours (a `corral run` ended it meanwhile,
 * recording its final usage first) is left out, with everything that was below it. */
static int lock_tree(struct cg_group *g, struct held *h, struct cg_err *e)
{
    _cleanup_(cg_strv_freep) char **kids = NULL;
    int fd = -1, r;

    r = cg_group_lock(g, &fd);
    if (r < 0) {
        if (r != -ENOENT)
            r = cg_err_set(e, r, cg_group_path(g), NULL, "cannot lock the group");
        cg_group_free(g);
        return r == -ENOENT ? 0 : r;
    }
    r = held_add(h, g, fd);
    if (r < 0) {
        closep(&fd);
        cg_group_free(g);
        return r;
    }
    r = cg_group_children(g, &kids);
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), NULL, "cannot list child groups");
    for (char **k = kids; *k; k++) {
        struct cg_group *c = NULL;

        r = cg_group_child(g, *k, false, &c, NULL, e);
        if (r == -ENOENT)
            continue;
        if (r < 0)
            return r;
        r = lock_tree(c, h, e);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Kills (or refuses), hands each group's final usage to the hook, deepest first, before
 * any directory goes (a hook that fails leaves the whole tree in place), then removes the
 * directories, deepest first. */
static int remove_locked(const struct held *h, bool kill, pol_final_usage_fn hook, void *userdata,
                         struct cg_err *e)
{
    struct cg_group *top = h->g[0];
    int r;

    r = cg_group_populated(top);
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(top), NULL,
                          "cannot tell whether the group holds processes");
    if (r > 0 && !kill)
        return cg_err_set(e, -EBUSY, cg_group_path(top), NULL,
                          "processes are still running in the group (use --kill)");
    if (r > 0) {
        r = cg_group_kill(top, e);
        if (r < 0)
            return r;
    }
    /* The reverse of parents-first is children-first. */
    for (size_t i = h->n; hook && i-- > 0;) {
        struct ctl_usage u;

        r = ctl_read_usage_all(h->g[i], &u);
        if (r < 0)
            return cg_err_set(e, r, cg_group_path(h->g[i]), NULL, "cannot read the final usage");
        r = hook(userdata, h->g[i], &u, e);
        if (r < 0)
            return r;
    }
    /* A process that appears meanwhile (a `corral run` racing us) makes this fail with
     * EBUSY; it is not killed. */
    for (size_t i = h->n; i-- > 0;) {
        r = cg_group_remove(h->g[i], e);
        if (r < 0)
            return r;
    }
    return 0;
}

int pol_remove(struct cg_ctx *ctx, const char *path, bool kill, pol_final_usage_fn hook,
               void *userdata, struct cg_err *e)
{
    struct held h = {0};
    struct cg_group *top = NULL;
    int r;

    if (!path || !*path)
        return cg_err_set(e, -EINVAL, "", NULL, "refusing to remove the whole root");
    r = cg_group_open(ctx, path, false, &top, NULL, e);
    if (r == -ENOENT)
        return cg_err_set(e, r, path, NULL, "no such group");
    if (r < 0)
        return r;
    r = cg_roots_load_inside(ctx, e);
    if (r >= 0 && cg_group_overlaps_root(top))
        r = cg_err_set(e, -EBUSY, cg_group_path(top), NULL,
                       "another corral root lies in it; corral removes only what it made");
    if (r < 0) {
        cg_group_free(top);
        return r;
    }
    r = lock_tree(top, &h, e);
    if (r >= 0)
        r = h.n == 0 ? POL_REMOVE_GONE : remove_locked(&h, kill, hook, userdata, e);
    held_free(&h);
    return r;
}

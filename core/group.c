/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cgroup.h"
#include "core/fileio.h"
#include "core/internal.h"
#include "core/log.h"
#include "core/name.h"
#include "core/lock.h"
#include "core/roots.h"

bool cg_slot(const struct cg_ctx *ctx, int h)
{
    /* On v2 every hierarchy is an alias of the first (core/hierarchy.h). */
    return ctx->sys.mount[h] != NULL && ctx->sys.alias[h] < 0;
}

struct cg_group *cg_group_new(struct cg_ctx *ctx, const char *path)
{
    struct cg_group *g = calloc(1, sizeof(*g));

    if (!g)
        return NULL;
    g->ctx = ctx;
    g->path = strdup(path);
    if (!g->path) {
        free(g);
        return NULL;
    }
    for (int h = 0; h < _CG_H_MAX; h++)
        g->fd[h] = -1;
    return g;
}

void cg_group_free(struct cg_group *g)
{
    if (!g)
        return;
    for (int h = 0; h < _CG_H_MAX; h++)
        closep(&g->fd[h]);
    free(g->path);
    free(g);
}

static int group_copy(const struct cg_group *g, const char *path, const char *rel_open,
                      struct cg_group **ret)
{
    _cleanup_(cg_group_freep) struct cg_group *c = cg_group_new(g->ctx, path);

    if (!c)
        return -ENOMEM;
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (g->fd[h] < 0)
            continue;
        /* A duplicate needs no lookup; its offset is shared, which nothing here uses
         * (directory listings reopen "." first). */
        c->fd[h] = rel_open ? openat(g->fd[h], rel_open, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                            : fcntl(g->fd[h], F_DUPFD_CLOEXEC, 3);
        if (c->fd[h] < 0)
            return -errno;
    }
    *ret = TAKE_PTR(c);
    return 0;
}

int cg_group_dup(const struct cg_group *g, struct cg_group **ret)
{
    return group_copy(g, g->path, NULL, ret);
}

int cg_group_parent(const struct cg_group *g, struct cg_group **ret)
{
    _cleanup_free_ char *pp = strdup(g->path);
    char *s;

    if (!pp)
        return -ENOMEM;
    s = strrchr(pp, '/');
    if (s)
        *s = '\0';
    else
        pp[0] = '\0';
    return group_copy(g, pp, "..", ret);
}

const char *cg_group_path(const struct cg_group *g)
{
    return g->path;
}

struct cg_ctx *cg_group_ctx(const struct cg_group *g)
{
    return g->ctx;
}

int cg_group_fd(const struct cg_group *g, enum cg_hier h)
{
    const struct cg_ctx *ctx = g->ctx;

    int slot = cg_ctx_slot_of(ctx, h);

    return slot < 0 ? -1 : g->fd[slot];
}

/* Opens the base (the caller's cgroup or the hierarchy root) in every slot. */
int cg_base_open(struct cg_ctx *ctx, struct cg_group **ret, struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *g = cg_group_new(ctx, "");

    if (!g)
        return -ENOMEM;
    for (int h = 0; h < _CG_H_MAX; h++) {
        _cleanup_close_ int mfd = -1;
        if (!cg_slot(ctx, h))
            continue;
        mfd = open(ctx->sys.mount[h], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (mfd < 0)
            return cg_err_set(e, -errno, NULL, NULL, "cannot open %s", ctx->sys.mount[h]);
        g->fd[h] = cg_open_beneath(mfd, ctx->base_path[h], 0, NULL);
        if (g->fd[h] < 0)
            return cg_err_set(e, g->fd[h], NULL, NULL, "cannot open %s%s", ctx->sys.mount[h],
                              ctx->base_path[h]);
    }
    *ret = TAKE_PTR(g);
    return 0;
}

int cg_group_child(struct cg_group *parent, const char *name, bool create, struct cg_group **ret,
                   bool *ret_created, struct cg_err *e)
{
    struct cg_ctx *ctx = parent->ctx;
    _cleanup_(cg_group_freep) struct cg_group *child = NULL;
    _cleanup_free_ char *path = NULL;
    bool created = false;
    int r;

    if (!cg_name_valid(name))
        return cg_err_set(e, -EINVAL, parent->path, NULL,
                          "invalid group name '%s': names are [a-z0-9_-]{1,64}", name);
    if (asprintf(&path, "%s%s%s", parent->path, parent->path[0] ? "/" : "", name) < 0)
        return -ENOMEM;
    child = cg_group_new(ctx, path);
    if (!child)
        return -ENOMEM;
    if (create) {
        r = ctx->be->create(parent, name, &created, child, e);
        if (r < 0)
            return r;
    } else {
        for (int h = 0; h < _CG_H_MAX; h++) {
            if (!cg_slot(ctx, h))
                continue;
            if (parent->fd[h] < 0) /* an optional hierarchy the parent is not in yet */
                continue;
            child->fd[h] =
                openat(parent->fd[h], name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child->fd[h] < 0 && errno == ENOENT && cg_hier_info(h)->optional)
                continue;
            if (child->fd[h] < 0) {
                r = -errno;
                return cg_err_set(e, r, path, NULL,
                                  r == -ELOOP || r == -ENOTDIR
                                      ? "not a cgroup directory (symlink or file planted?)"
                                      : "cannot open group in %s hierarchy",
                                  cg_hier_to_string((enum cg_hier)h));
            }
        }
    }
    if (ret_created)
        *ret_created = created;
    *ret = TAKE_PTR(child);
    return 0;
}

static int walk(struct cg_group *start, const char *path, bool create, struct cg_group **ret,
                bool *ret_created, struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *cur = start;
    _cleanup_free_ char *copy = strdup(path);
    bool created = false;
    char *save = NULL, *comp;
    int r;

    if (!copy)
        return -ENOMEM;
    for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        struct cg_group *next;
        r = cg_group_child(cur, comp, create, &next, &created, e);
        if (r < 0)
            return r;
        cg_group_free(cur);
        cur = next;
    }
    if (ret_created)
        *ret_created = created;
    *ret = TAKE_PTR(cur);
    return 0;
}

/* Whether the cached root still exists: a removed cgroup's directory fd finds nothing. */
static bool root_cache_valid(const struct cg_group *root)
{
    for (int h = 0; h < _CG_H_MAX; h++)
        if (cg_slot(root->ctx, h) && root->fd[h] >= 0 &&
            faccessat(root->fd[h], "cgroup.procs", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
            return false;
    return true;
}

struct make_root {
    struct cg_group *base;
    struct cg_group *root;
};

static int make_root(struct cg_ctx *ctx, void *userdata, struct cg_err *e)
{
    struct make_root *m = userdata;

    return walk(TAKE_PTR(m->base), ctx->root_rel, true, &m->root, NULL, e);
}

int cg_root_open(struct cg_ctx *ctx, bool create, struct cg_group **ret, struct cg_err *e)
{
    struct cg_group *base = NULL, *root = NULL, *copy = NULL;
    struct cg_err e1 = {0};
    int r;

    if (ctx->root_cache) {
        if (root_cache_valid(ctx->root_cache) && (!create || cg_group_complete(ctx->root_cache)))
            return cg_group_dup(ctx->root_cache, ret);
        cg_group_free(TAKE_PTR(ctx->root_cache));
    }
    r = cg_base_open(ctx, &base, e);
    if (r < 0)
        return r;
    if (create) {
        r = ctx->be->prepare_base(ctx, e);
        if (r >= 0)
            r = cg_group_dup(base, &copy);
        if (r < 0) {
            cg_group_free(base);
            return r;
        }
    }
    /* walk() takes base; the root's path is "" whatever its name in the hierarchy. */
    r = walk(base, ctx->root_rel, false, &root, NULL, &e1);
    if (r == 0 && create && !cg_group_complete(root)) {
        /* Made before an optional hierarchy appeared: its directories there are made now
         * (the walk creates what is missing and opens what is there). */
        cg_group_free(TAKE_PTR(root));
        r = walk(TAKE_PTR(copy), ctx->root_rel, true, &root, NULL, e);
    } else if (r == -ENOENT && create) {
        /* Made here, so registered here: after the other roots were checked (roots.h). */
        struct make_root m = {.base = TAKE_PTR(copy)};

        r = cg_root_create_registered(ctx, make_root, &m, e);
        cg_group_free(m.base);
        root = m.root;
    } else if (r < 0 && e)
        *e = e1;
    cg_group_free(copy);
    if (r < 0) {
        if (r == -ENOENT && !create)
            return cg_err_set(e, r, NULL, NULL, "corral root '%s' does not exist", ctx->root_arg);
        return r;
    }
    free(root->path);
    root->path = strdup("");
    if (!root->path) {
        cg_group_free(root);
        return -ENOMEM;
    }
    if (cg_group_dup(root, &ctx->root_cache) < 0)
        ctx->root_cache = NULL; /* only a cache */
    *ret = root;
    return 0;
}

bool cg_group_complete(const struct cg_group *g)
{
    for (int h = 0; h < _CG_H_MAX; h++)
        if (cg_slot(g->ctx, h) && g->fd[h] < 0)
            return false;
    return true;
}

int cg_group_open(struct cg_ctx *ctx, const char *path, bool create, struct cg_group **ret,
                  bool *ret_created, struct cg_err *e)
{
    struct cg_group *root = NULL;
    int r;

    if (path && *path) {
        r = cg_path_validate(path, e);
        if (r < 0)
            return r;
    }
    r = cg_root_open(ctx, create, &root, e);
    if (r < 0)
        return r;
    if (!path || !*path) {
        if (ret_created)
            *ret_created = false;
        *ret = root;
        return 0;
    }
    return walk(root, path, create, ret, ret_created, e);
}

int cg_group_write(struct cg_group *g, enum cg_hier h, const char *file, const char *value,
                   struct cg_err *e)
{
    int fd = cg_group_fd(g, h);
    int r;

    if (fd < 0)
        return cg_err_set(e, -ENODEV, g->path, file, "the %s hierarchy is not available",
                          cg_hier_to_string(h));
    r = cg_write_at(fd, file, value);
    if (r < 0)
        return cg_err_set(e, r, g->path, file, "writing '%s'", value);
    cg_debug("write %s/%s = %s", g->path, file, value);
    return 0;
}

int cg_group_read(struct cg_group *g, enum cg_hier h, const char *file, char *buf, size_t size)
{
    int fd = cg_group_fd(g, h);

    if (fd < 0)
        return -ENODEV;
    return cg_read_at(fd, file, buf, size);
}

int cg_group_attach(struct cg_group *g, pid_t pid, struct cg_err *e)
{
    return g->ctx->be->attach(g, pid, e);
}

int cg_group_place_prepare(struct cg_group *g, struct cg_place *p, struct cg_err *e)
{
    cg_place_init(p);
    return g->ctx->be->place_prepare(g, p, e);
}

void cg_place_init(struct cg_place *p)
{
    p->clone_fd = -1;
    for (int h = 0; h < _CG_H_MAX; h++)
        p->self[h] = -1;
}

void cg_place_close(struct cg_place *p)
{
    closep(&p->clone_fd);
    cg_self_attach_close(p->self);
}

int cg_group_open_self_attach(struct cg_group *g, int fds[_CG_H_MAX], struct cg_err *e)
{
    struct cg_place p;
    int r;

    for (int h = 0; h < _CG_H_MAX; h++)
        fds[h] = -1;
    if (g->ctx->be->place_how != CG_PLACE_SELF)
        return -EOPNOTSUPP;
    r = cg_group_place_prepare(g, &p, e);
    if (r < 0)
        return r;
    memcpy(fds, p.self, sizeof(p.self));
    closep(&p.clone_fd);
    return 0;
}

int cg_group_pids(struct cg_group *g, pid_t **ret, size_t *ret_n)
{
    return g->ctx->be->pids(g, ret, ret_n);
}

int cg_group_populated(struct cg_group *g)
{
    return g->ctx->be->populated(g);
}

int cg_group_kill(struct cg_group *g, struct cg_err *e)
{
    return g->ctx->be->kill(g, e);
}

int cg_remove_dirs(struct cg_group *g, struct cg_err *e)
{
    const char *name = strrchr(g->path, '/');

    name = name ? name + 1 : g->path;
    if (!*name) {
        /* The root: its own name is the last component of root_rel. */
        name = strrchr(g->ctx->root_rel, '/');
        name = name ? name + 1 : g->ctx->root_rel;
    }
    for (int h = 0; h < _CG_H_MAX; h++) {
        _cleanup_close_ int pfd = -1;
        int r = 0;
        if (!cg_slot(g->ctx, h) || g->fd[h] < 0)
            continue;
        pfd = openat(g->fd[h], "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
            return cg_err_set(e, -errno, g->path, NULL, "cannot open parent");
        /* rmdir can fail with EBUSY for a moment after the last task exits, while the
         * kernel still releases it; retry for up to ~1 s before giving up. */
        for (int i = 0; i < 200; i++) {
            r = unlinkat(pfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
            if (r != -EBUSY)
                break;
            (void)nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
        }
        if (r == -ENOENT)
            r = 0;
        if (r < 0)
            return cg_err_set(e, r, g->path, NULL, "cannot remove group in %s hierarchy",
                              cg_hier_to_string((enum cg_hier)h));
        closep(&g->fd[h]);
        g->fd[h] = -1;
    }
    return 0;
}

int cg_group_lock(struct cg_group *g, int *ret_fd)
{
    _cleanup_close_ int fd = -1;
    struct stat st;

    for (int h = 0; h < _CG_H_MAX && fd < 0; h++) {
        if (!cg_slot(g->ctx, h) || g->fd[h] < 0)
            continue;
        fd = openat(g->fd[h], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
    }
    if (fd < 0)
        return -ENODEV;
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return -errno;
    /* A removed directory keeps its inode while it is open, but no longer has files. */
    if (fstatat(fd, "cgroup.procs", &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    *ret_fd = TAKE_FD(fd);
    return 0;
}

int cg_group_remove(struct cg_group *g, struct cg_err *e)
{
    _cleanup_(cg_strv_freep) char **kids = NULL;
    int r;

    r = cg_group_children(g, &kids);
    if (r < 0)
        return cg_err_set(e, r, g->path, NULL, "cannot list child groups");
    if (kids[0])
        return cg_err_set(e, -ENOTEMPTY, g->path, NULL, "group has child group '%s'", kids[0]);
    r = cg_group_populated(g);
    if (r < 0)
        return cg_err_set(e, r, g->path, NULL, "cannot tell whether the group holds processes");
    if (r > 0)
        return cg_err_set(e, -EBUSY, g->path, NULL, "group still holds processes");
    return g->ctx->be->remove(g, e);
}

int cg_group_walk_post(struct cg_group *g, cg_group_visit_fn fn, void *userdata, struct cg_err *e)
{
    _cleanup_(cg_strv_freep) char **kids = NULL;
    int r;

    r = cg_group_children(g, &kids);
    if (r < 0)
        return cg_err_set(e, r, g->path, NULL, "cannot list child groups");
    for (char **k = kids; *k; k++) {
        _cleanup_(cg_group_freep) struct cg_group *c = NULL;
        r = cg_group_child(g, *k, false, &c, NULL, e);
        if (r < 0)
            return r;
        r = cg_group_walk_post(c, fn, userdata, e);
        if (r < 0)
            return r;
    }
    return fn(userdata, g, e);
}

static int remove_one(void *userdata, struct cg_group *g, struct cg_err *e)
{
    return g->ctx->be->remove(g, e);
}

int cg_group_remove_tree(struct cg_ctx *ctx, const char *path, bool kill,
                         cg_group_visit_fn before_remove, void *userdata, struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    int r;

    r = cg_group_open(ctx, path, false, &g, NULL, e);
    if (r < 0)
        return r;
    r = cg_roots_load_inside(ctx, e);
    if (r < 0)
        return r;
    if (cg_group_overlaps_root(g))
        return cg_err_set(e, -EBUSY, g->path, NULL,
                          "another corral root lies in it; corral removes only what it made");
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
    if (before_remove) {
        r = before_remove(userdata, g, e);
        if (r < 0)
            return r;
    }
    /* Empty now: this only removes directories, deepest first. A process that appears
     * meanwhile (a `corral run` racing us) makes rmdir fail with EBUSY, not killed. */
    return cg_group_walk_post(g, remove_one, NULL, e);
}

int cg_root_destroy(struct cg_ctx *ctx, struct cg_err *e)
{
    int r = cg_group_remove_tree(ctx, "", true, NULL, NULL, e);
    cg_group_free(TAKE_PTR(ctx->root_cache));
    if (r == -ENOENT)
        r = 0;
    if (r == 0) {
        cg_root_unregister(ctx);
        cg_root_lock_forget(ctx);
    }
    return r;
}

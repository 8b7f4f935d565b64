/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/internal.h"
#include "core/log.h"
#include "core/macro.h"
#include "core/txn.h"

void cg_txn_init(struct cg_txn *t, bool dry_run)
{
    memset(t, 0, sizeof(*t));
    t->dry_run = dry_run;
}

void cg_txn_done(struct cg_txn *t)
{
    free(t->e);
    t->e = NULL;
    t->n = t->cap = 0;
}

static struct cg_txn_entry *txn_add_at(struct cg_txn *t, enum cg_txn_kind kind, struct cg_ctx *ctx,
                                       const char *path)
{
    struct cg_txn_entry *x;

    if (GROW(t->e, t->cap, t->n, 32) < 0)
        return NULL;
    if (!t->ctx)
        t->ctx = ctx;
    x = &t->e[t->n++];
    memset(x, 0, sizeof(*x));
    x->kind = kind;
    snprintf(x->group, sizeof(x->group), "%s", path);
    return x;
}

static struct cg_txn_entry *txn_add(struct cg_txn *t, enum cg_txn_kind kind, struct cg_group *g)
{
    return txn_add_at(t, kind, g->ctx, g->path);
}

int cg_txn_plan(struct cg_txn *t, struct cg_ctx *ctx, enum cg_txn_kind kind, const char *group,
                enum cg_hier h, const char *file, const char *new_value)
{
    struct cg_txn_entry *x;

    if (!t->dry_run)
        return -EINVAL;
    x = txn_add_at(t, kind, ctx, group);
    if (!x)
        return -ENOMEM;
    x->hier = h;
    snprintf(x->file, sizeof(x->file), "%s", file ? file : "");
    snprintf(x->new_value, sizeof(x->new_value), "%s", new_value ? new_value : "");
    return 0;
}

int cg_txn_write(struct cg_txn *t, struct cg_group *g, enum cg_hier h, const char *file,
                 const char *old_raw, const char *value, struct cg_err *e)
{
    struct cg_txn_entry *x;
    int fd = cg_group_fd(g, h), r;

    if (fd < 0 && !t->dry_run)
        return cg_err_set(e, -ENODEV, g->path, file, "the %s hierarchy is not available",
                          cg_hier_to_string(h));
    x = txn_add(t, CG_TXN_WRITE, g);
    if (!x)
        return -ENOMEM;
    x->hier = h;
    snprintf(x->file, sizeof(x->file), "%s", file);
    snprintf(x->old_value, sizeof(x->old_value), "%s", old_raw ? old_raw : "");
    snprintf(x->new_value, sizeof(x->new_value), "%s", value);
    if (t->dry_run)
        return 0;
    r = cg_write_at(fd, file, value);
    t->writes++;
    if (r < 0) {
        /* Nothing changed, so nothing to undo for this entry. */
        t->n--;
        return cg_err_set(e, r, g->path, file, "the kernel refused '%s'", value);
    }
    cg_debug("txn write %s/%s: '%s' -> '%s'", g->path, file, old_raw, value);
    return 0;
}

int cg_txn_created(struct cg_txn *t, struct cg_group *g)
{
    struct cg_txn_entry *x = txn_add(t, CG_TXN_MKDIR, g);

    if (!x)
        return -ENOMEM;
    if (!t->dry_run)
        t->writes++;
    return 0;
}

int cg_txn_remove(struct cg_txn *t, struct cg_group *g, struct cg_err *e)
{
    struct cg_txn_entry *x = txn_add(t, CG_TXN_RMDIR, g);
    int r;

    if (!x)
        return -ENOMEM;
    if (t->dry_run)
        return 0;
    r = cg_group_remove(g, e);
    if (r < 0) {
        t->n--;
        return r;
    }
    t->writes++;
    return 0;
}

/* The group of entry x, reopened by path; consecutive entries of one group share it. */
static int reopen(struct cg_txn *t, const char *path, struct cg_group **cur)
{
    if (*cur && strcmp(cg_group_path(*cur), path) == 0)
        return 0;
    cg_group_free(TAKE_PTR(*cur));
    return cg_group_open(t->ctx, path, false, cur, NULL, NULL);
}

/* Recreates the removed group x->group: mkdir of its name in each of its parent's slots. */
static int undo_remove(struct cg_txn *t, const struct cg_txn_entry *x, struct cg_group **cur)
{
    _cleanup_free_ char *parent = strdup(x->group);
    char *s = parent ? strrchr(parent, '/') : NULL;
    const char *name = s ? s + 1 : x->group;
    int r = 0;

    if (!parent)
        return -ENOMEM;
    if (s)
        *s = '\0';
    else
        parent[0] = '\0';
    if (reopen(t, parent, cur) < 0)
        return -ENOENT;
    for (int h = 0; h < _CG_H_MAX; h++)
        if (cg_slot(t->ctx, h) && mkdirat((*cur)->fd[h], name, 0755) < 0 && errno != EEXIST &&
            r == 0)
            r = -errno;
    return r;
}

static int undo_one(struct cg_txn *t, const struct cg_txn_entry *x, struct cg_group **cur)
{
    int r;

    switch (x->kind) {
    case CG_TXN_WRITE:
        if (!x->old_value[0])
            return 0;
        r = reopen(t, x->group, cur);
        if (r < 0)
            return r;
        return cg_write_at(cg_group_fd(*cur, x->hier), x->file, x->old_value);
    case CG_TXN_MKDIR:
        r = reopen(t, x->group, cur);
        if (r < 0)
            return r;
        r = cg_remove_dirs(*cur, NULL);
        cg_group_free(TAKE_PTR(*cur));
        return r;
    case CG_TXN_RMDIR:
        return undo_remove(t, x, cur);
    }
    return 0;
}

int cg_txn_rollback(struct cg_txn *t)
{
    _cleanup_(cg_group_freep) struct cg_group *cur = NULL;
    int first = 0;

    if (t->dry_run)
        return 0;
    for (size_t i = t->n; i-- > 0;) {
        int r = undo_one(t, &t->e[i], &cur);

        if (r < 0 && first == 0)
            first = r;
    }
    return first;
}

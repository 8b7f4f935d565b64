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
#include "core/txn.h"

void cg_txn_init(struct cg_txn *t, bool dry_run)
{
    memset(t, 0, sizeof(*t));
    t->dry_run = dry_run;
}

void cg_txn_done(struct cg_txn *t)
{
    for (size_t i = 0; i < t->n; i++) {
        closep(&t->e[i].dirfd);
        cg_group_free(t->e[i].grp);
    }
    free(t->e);
    t->e = NULL;
    t->n = t->cap = 0;
}

static struct cg_txn_entry *txn_add(struct cg_txn *t, enum cg_txn_kind kind, struct cg_group *g)
{
    struct cg_txn_entry *x;

    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 32;
        struct cg_txn_entry *ne = realloc(t->e, nc * sizeof(*ne));
        if (!ne)
            return NULL;
        t->e = ne;
        t->cap = nc;
    }
    x = &t->e[t->n++];
    memset(x, 0, sizeof(*x));
    x->kind = kind;
    x->dirfd = -1;
    snprintf(x->group, sizeof(x->group), "%s", g->path);
    return x;
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
    x->dirfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (x->dirfd < 0) {
        t->n--;
        return -errno;
    }
    r = cg_write_at(fd, file, value);
    t->writes++;
    if (r < 0) {
        /* Nothing changed, so nothing to undo for this entry. */
        closep(&x->dirfd);
        t->n--;
        return cg_err_set(e, r, g->path, file, "the kernel refused '%s'", value);
    }
    cg_debug("txn write %s/%s: '%s' -> '%s'", g->path, file, old_raw, value);
    return 0;
}

int cg_txn_created(struct cg_txn *t, struct cg_group *g)
{
    struct cg_txn_entry *x = txn_add(t, CG_TXN_MKDIR, g);
    int r;

    if (!x)
        return -ENOMEM;
    if (t->dry_run)
        return 0;
    r = cg_group_dup(g, &x->grp);
    if (r < 0) {
        t->n--;
        return r;
    }
    t->writes++;
    return 0;
}

int cg_txn_remove(struct cg_txn *t, struct cg_group *g, struct cg_err *e)
{
    struct cg_txn_entry *x = txn_add(t, CG_TXN_RMDIR, g);
    const char *name = strrchr(g->path, '/');
    int r;

    if (!x)
        return -ENOMEM;
    snprintf(x->name, sizeof(x->name), "%s", name ? name + 1 : g->path);
    if (t->dry_run)
        return 0;
    r = cg_group_parent(g, &x->grp);
    if (r == 0)
        r = cg_group_remove(g, e);
    if (r < 0) {
        cg_group_free(x->grp);
        t->n--;
        return r;
    }
    t->writes++;
    return 0;
}

int cg_txn_rollback(struct cg_txn *t)
{
    int first = 0;

    for (size_t i = t->n; i-- > 0;) {
        struct cg_txn_entry *x = &t->e[i];
        int r = 0;

        if (t->dry_run)
            continue;
        switch (x->kind) {
        case CG_TXN_WRITE:
            if (x->dirfd >= 0 && x->old_value[0])
                r = cg_write_at(x->dirfd, x->file, x->old_value);
            break;
        case CG_TXN_MKDIR:
            if (x->grp)
                r = cg_remove_dirs(x->grp, NULL);
            break;
        case CG_TXN_RMDIR:
            for (int h = 0; x->grp && h < _CG_H_MAX; h++)
                if (cg_slot(x->grp->ctx, h) && mkdirat(x->grp->fd[h], x->name, 0755) < 0 &&
                    errno != EEXIST && r == 0)
                    r = -errno;
            break;
        }
        if (r < 0 && first == 0)
            first = r;
    }
    return first;
}

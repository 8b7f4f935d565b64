/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/roots.h"

#define ROOTS_SUBDIR   "roots"
#define REGISTRY_LOCK  "roots" /* in lock/, beside the roots' own locks (hex ids) */
#define ROOT_DIRS_MAX  8
#define ENTRY_MAX_SIZE 65536

struct root_dir {
    uint64_t ino; /* 0: the directory did not exist when the entry was written */
    char *path;
};

struct root_entry {
    char *arg;
    size_t n;
    struct root_dir dir[ROOT_DIRS_MAX];
};

static void entry_done(struct root_entry *x)
{
    free(x->arg);
    for (size_t i = 0; i < x->n; i++)
        free(x->dir[i].path);
    memset(x, 0, sizeof(*x));
}

/* Ours, from ctx: the root's directory in each hierarchy, inodes unknown; without the
 * optional hierarchies when `required` (the id: a root keeps it when cpuset appears). */
static int entry_dirs(const struct cg_ctx *ctx, bool required, struct root_entry *ret)
{
    struct root_entry x = {0};

    x.arg = strdup(ctx->root_arg);
    if (!x.arg)
        return -ENOMEM;
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (!cg_slot(ctx, h) || (required && cg_hier_info(h)->optional))
            continue;
        if (asprintf(&x.dir[x.n].path, "%s%s", ctx->sys.mount[h], ctx->root_path[h]) < 0) {
            entry_done(&x);
            return -ENOMEM;
        }
        x.n++;
    }
    *ret = x;
    return 0;
}

static int entry_own(const struct cg_ctx *ctx, struct root_entry *ret)
{
    return entry_dirs(ctx, false, ret);
}

int cg_root_id(struct cg_ctx *ctx, const char **ret)
{
    struct root_entry own;
    uint64_t hash = 0xcbf29ce484222325ULL; /* FNV-1a */
    int r;

    if (!ctx->root_id) {
        r = entry_dirs(ctx, true, &own);
        if (r < 0)
            return r;
        for (size_t i = 0; i < own.n; i++)
            for (const char *p = own.dir[i].path;; p++) {
                hash = (hash ^ (unsigned char)(*p ? *p : '\n')) * 0x100000001b3ULL;
                if (!*p)
                    break;
            }
        entry_done(&own);
        if (asprintf(&ctx->root_id, "%016" PRIx64, hash) < 0) {
            ctx->root_id = NULL;
            return -ENOMEM;
        }
    }
    *ret = ctx->root_id;
    return 0;
}

static int entry_parse(char *text, struct root_entry *ret)
{
    struct root_entry x = {0};
    char *save = NULL;

    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *end;

        if (l[0] == '#')
            continue;
        if (strncmp(l, "root ", 5) == 0 && !x.arg) {
            x.arg = strdup(l + 5);
            if (!x.arg)
                goto fail;
            continue;
        }
        if (strncmp(l, "dir ", 4) != 0 || x.n == ROOT_DIRS_MAX)
            goto fail;
        x.dir[x.n].ino = strtoull(l + 4, &end, 10);
        if (end == l + 4 || *end != ' ' || end[1] != '/')
            goto fail;
        x.dir[x.n].path = strdup(end + 1);
        if (!x.dir[x.n++].path)
            goto fail;
    }
    if (!x.arg || x.n == 0)
        goto fail;
    *ret = x;
    return 0;
fail:
    entry_done(&x);
    return -EINVAL;
}

static int entry_read(int dfd, const char *name, struct root_entry *ret)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *buf = NULL;
    struct stat st;
    ssize_t n;

    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || st.st_size > ENTRY_MAX_SIZE)
        return -EINVAL;
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return -ENOMEM;
    n = pread(fd, buf, (size_t)st.st_size, 0);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return entry_parse(buf, ret);
}

/* Whether the directory at path is the one of inode ino: 1 yes, 0 gone, -1 another one. */
static int dir_is(const char *path, uint64_t ino)
{
    struct stat st;

    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    return ino != 0 && (uint64_t)st.st_ino == ino ? 1 : -1;
}

/* Live: some directory of the entry is still the one it recorded. */
static bool entry_live(const struct root_entry *x)
{
    for (size_t i = 0; i < x->n; i++)
        if (dir_is(x->dir[i].path, x->dir[i].ino) == 1)
            return true;
    return false;
}

static bool same_dirs(const struct root_entry *a, const struct root_entry *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->dir[i].path, b->dir[i].path) != 0)
            return false;
    return true;
}

/* p lies strictly below dir. */
static bool below(const char *p, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(p, dir, n) == 0 && p[n] == '/';
}

/* 1 when our own entry is live and names our directories; *ret_exact: every directory of
 * ours that exists is the one recorded. */
static int own_entry_live(struct cg_ctx *ctx, int dfd, const struct root_entry *own,
                          bool *ret_exact)
{
    struct root_entry x;
    const char *id;
    bool live;
    int r;

    r = cg_root_id(ctx, &id);
    if (r < 0)
        return r;
    if (entry_read(dfd, id, &x) < 0)
        return 0;
    live = same_dirs(&x, own) && entry_live(&x);
    *ret_exact = true;
    for (size_t i = 0; live && i < x.n; i++)
        if (dir_is(x.dir[i].path, x.dir[i].ino) < 0)
            *ret_exact = false;
    entry_done(&x);
    return live;
}

typedef int (*entry_fn)(void *userdata, const struct root_entry *x);

/* Calls fn for every live entry that is not ours; with drop_stale removes stale ones
 * (only under the registry's lock). */
static int registry_scan(int dfd, const struct root_entry *own, bool drop_stale, entry_fn fn,
                         void *userdata)
{
    struct dirent *de;
    DIR *d;
    int fd, r = 0;

    fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (!d) {
        r = -errno;
        (void)close(fd);
        return r;
    }
    while (r >= 0 && (de = readdir(d))) {
        struct root_entry x;

        if (de->d_name[0] == '.' || entry_read(dfd, de->d_name, &x) < 0)
            continue;
        if (!entry_live(&x)) {
            if (drop_stale)
                (void)unlinkat(dfd, de->d_name, 0);
        } else if (!same_dirs(&x, own))
            r = fn(userdata, &x);
        entry_done(&x);
    }
    closedir(d);
    return r;
}

struct conflict {
    const struct root_entry *own;
    struct cg_err *e;
};

static int find_conflict(void *userdata, const struct root_entry *x)
{
    struct conflict *c = userdata;
    const struct root_entry *o = c->own;

    for (size_t i = 0; i < o->n; i++)
        for (size_t j = 0; j < x->n; j++) {
            const char *a = o->dir[i].path, *b = x->dir[j].path;

            if (below(a, b))
                return cg_err_set(c->e, -EEXIST, NULL, NULL,
                                  "root '%s' (%s) lies inside another corral root, %s "
                                  "(made as '%s'): roots may not nest",
                                  o->arg, a, b, x->arg);
            if (below(b, a))
                return cg_err_set(c->e, -EEXIST, NULL, NULL,
                                  "root '%s' (%s) holds another corral root, %s (made as "
                                  "'%s'): roots may not nest",
                                  o->arg, a, b, x->arg);
            if (strcmp(a, b) == 0)
                return cg_err_set(c->e, -EEXIST, NULL, NULL,
                                  "root '%s' shares its directory %s with another corral root "
                                  "(made as '%s')",
                                  o->arg, a, x->arg);
        }
    return 0;
}

/* The registry (made when create) and our own entry: 1 when there is no registry, which
 * without create is not an error (no root was ever made). */
static int registry_open(struct cg_ctx *ctx, bool create, int *ret_dfd, struct root_entry *own,
                         struct cg_err *e)
{
    int r = cg_runtime_open(ROOTS_SUBDIR, create, ret_dfd, e);

    if (r == -ENOENT && !create)
        return 1;
    if (r < 0)
        return r;
    r = entry_own(ctx, own);
    if (r < 0)
        closep(ret_dfd);
    return r;
}

int cg_root_check(struct cg_ctx *ctx, struct cg_err *e)
{
    _cleanup_close_ int dfd = -1;
    struct root_entry own;
    struct conflict c = {.own = &own, .e = e};
    bool exact;
    int r;

    r = registry_open(ctx, false, &dfd, &own, e);
    if (r != 0)
        return r < 0 ? r : 0;
    r = own_entry_live(ctx, dfd, &own, &exact);
    if (r == 0)
        r = registry_scan(dfd, &own, false, find_conflict, &c);
    entry_done(&own);
    return r < 0 ? r : 0;
}

/* Writes our entry with the inodes the directories have now, replacing any. */
static int entry_write(struct cg_ctx *ctx, int dfd, const struct root_entry *own, struct cg_err *e)
{
    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int fd = -1;
    const char *id;
    FILE *f;
    int r;

    r = cg_root_id(ctx, &id);
    if (r < 0)
        return r;
    for (size_t i = 0; i < own->n; i++)
        if (strchr(own->dir[i].path, '\n'))
            return cg_err_set(e, -EINVAL, NULL, NULL, "root directory '%s': a newline in a path",
                              own->dir[i].path);
    if (asprintf(&tmp, ".tmp-%s-%d", id, (int)getpid()) < 0)
        return -ENOMEM;
    (void)unlinkat(dfd, tmp, 0);
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return cg_err_set(e, -errno, NULL, NULL, "cannot write the root registry");
    f = fdopen(TAKE_FD(fd), "w");
    if (!f)
        return -ENOMEM;
    fprintf(f, "root %s\n", own->arg);
    for (size_t i = 0; i < own->n; i++) {
        struct stat st;
        fprintf(f, "dir %" PRIu64 " %s\n",
                stat(own->dir[i].path, &st) == 0 ? (uint64_t)st.st_ino : (uint64_t)0,
                own->dir[i].path);
    }
    r = fflush(f) == 0 && !ferror(f) ? 0 : -errno;
    if (fclose(f) != 0 && r == 0)
        r = -errno;
    if (r == 0 && renameat(dfd, tmp, dfd, id) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlinkat(dfd, tmp, 0);
        return cg_err_set(e, r, NULL, NULL, "cannot write the root registry");
    }
    cg_debug("registered root %s as %s", own->arg, id);
    return 0;
}

/* Opens the registry and takes its lock, then checks ours against every live root. */
static int registry_begin(struct cg_ctx *ctx, int *ret_dfd, struct cg_lock **ret_lock,
                          struct root_entry *own, struct cg_err *e)
{
    _cleanup_close_ int dfd = -1, ldfd = -1;
    struct conflict c = {.own = own, .e = e};
    int r;

    r = cg_runtime_open(ROOTS_SUBDIR, true, &dfd, e);
    if (r >= 0)
        r = cg_runtime_open("lock", true, &ldfd, e);
    if (r < 0)
        return r;
    r = cg_lock_take(ldfd, REGISTRY_LOCK, "corral (root registry)", CG_LOCK_TIMEOUT_DEFAULT_USEC,
                     ret_lock, NULL);
    if (r < 0)
        return cg_err_set(e, r, NULL, NULL, "cannot take the lock of the root registry");
    r = registry_scan(dfd, own, true, find_conflict, &c);
    if (r < 0) {
        cg_lock_release(TAKE_PTR(*ret_lock));
        return r;
    }
    *ret_dfd = TAKE_FD(dfd);
    return 0;
}

/* An unregistered root that exists: adopted while it holds no group. */
static int adopt(const struct root_entry *own, struct cg_err *e)
{
    for (size_t i = 0; i < own->n; i++) {
        _cleanup_(cg_strv_freep) char **kids = NULL;
        _cleanup_close_ int fd = -1;
        size_t n = 0;

        fd = open(own->dir[i].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (cg_children_at(fd, &kids, &n) == 0 && n > 0)
            return cg_err_set(e, -ENOTEMPTY, NULL, NULL,
                              "root '%s' (%s) holds groups but corral did not make it (it is "
                              "not in the root registry); corral only changes roots it made: "
                              "remove it or choose another root",
                              own->arg, own->dir[i].path);
    }
    return 0;
}

int cg_root_claim(struct cg_ctx *ctx, struct cg_err *e)
{
    _cleanup_(cg_lock_releasep) struct cg_lock *l = NULL;
    _cleanup_close_ int dfd = -1;
    struct root_entry own;
    bool exact = false, exists = false;
    int live, r;

    r = registry_open(ctx, true, &dfd, &own, e);
    if (r < 0)
        return r;
    live = own_entry_live(ctx, dfd, &own, &exact);
    if (live < 0 || (live > 0 && exact)) {
        r = live;
        goto out;
    }
    /* Slow path, under the registry's lock: the others first, then ours again. */
    closep(&dfd);
    r = registry_begin(ctx, &dfd, &l, &own, e);
    if (r < 0)
        goto out;
    live = own_entry_live(ctx, dfd, &own, &exact);
    for (size_t i = 0; i < own.n; i++)
        exists |= dir_is(own.dir[i].path, 0) != 0;
    /* A missing root is registered when it is made (cg_root_create_registered). */
    r = live < 0 ? live : 0;
    /* Adopted, it is made ready as a root corral creates is (v2: the base prepared). */
    if (r == 0 && exists && live == 0) {
        r = adopt(&own, e);
        if (r == 0)
            r = ctx->be->prepare_base(ctx, e);
    }
    if (r == 0 && exists)
        r = entry_write(ctx, dfd, &own, e); /* adopted, or ours with a directory re-made */
out:
    entry_done(&own);
    return r < 0 ? r : 0;
}

int cg_root_create_registered(struct cg_ctx *ctx,
                              int (*make)(struct cg_ctx *, void *, struct cg_err *), void *userdata,
                              struct cg_err *e)
{
    _cleanup_(cg_lock_releasep) struct cg_lock *l = NULL;
    _cleanup_close_ int dfd = -1;
    struct root_entry own;
    int r;

    r = entry_own(ctx, &own);
    if (r < 0)
        return r;
    r = registry_begin(ctx, &dfd, &l, &own, e);
    if (r >= 0)
        r = make(ctx, userdata, e);
    if (r >= 0)
        r = entry_write(ctx, dfd, &own, e);
    entry_done(&own);
    return r;
}

void cg_root_unregister(struct cg_ctx *ctx)
{
    _cleanup_close_ int dfd = -1;
    const char *id;

    if (cg_root_id(ctx, &id) == 0 && cg_runtime_open(ROOTS_SUBDIR, false, &dfd, NULL) == 0)
        (void)unlinkat(dfd, id, 0);
}

struct inside {
    const struct root_entry *own;
    char **v;
    size_t n;
};

static int collect_inside(void *userdata, const struct root_entry *x)
{
    struct inside *in = userdata;

    for (size_t i = 0; i < in->own->n; i++)
        for (size_t j = 0; j < x->n; j++) {
            const char *a = in->own->dir[i].path, *b = x->dir[j].path;
            char **nv;

            if (!below(b, a))
                continue;
            nv = realloc(in->v, (in->n + 2) * sizeof(char *));
            if (!nv)
                return -ENOMEM;
            in->v = nv;
            in->v[in->n] = strdup(b + strlen(a) + 1);
            if (!in->v[in->n])
                return -ENOMEM;
            in->v[++in->n] = NULL;
        }
    return 0;
}

int cg_roots_load_inside(struct cg_ctx *ctx, struct cg_err *e)
{
    _cleanup_close_ int dfd = -1;
    struct root_entry own;
    struct inside in = {.own = &own};
    int r;

    cg_strv_free(TAKE_PTR(ctx->roots_inside));
    r = registry_open(ctx, false, &dfd, &own, e);
    if (r != 0)
        return r < 0 ? r : 0;
    r = registry_scan(dfd, &own, false, collect_inside, &in);
    entry_done(&own);
    if (r < 0) {
        cg_strv_free(in.v);
        return cg_err_set(e, r, NULL, NULL, "cannot read the root registry");
    }
    ctx->roots_inside = in.v;
    return 0;
}

int cg_group_overlaps_root(const struct cg_group *g)
{
    char **v = g->ctx->roots_inside;
    int r = 0;

    for (size_t i = 0; v && v[i]; i++) {
        if (strcmp(v[i], g->path) == 0 || below(g->path, v[i]))
            return CG_ROOT_IN;
        if (!g->path[0] || below(v[i], g->path))
            r = CG_ROOT_HOLDS;
    }
    return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * launch_fs_enter: the workload's own filesystem, built in the child.
 *
 * Order, and why:
 *  1. unshare(CLONE_NEWNS) and MS_REC|MS_PRIVATE on "/" before any mount: from here on
 *     nothing propagates to the caller's namespace, whatever fails later.
 *  2. Every host source (root, layers, writable dir, bind sources) is opened first, as an
 *     O_PATH fd, and only ever used through /proc/self/fd/N. Check-time paths are opened
 *     with RESOLVE_NO_SYMLINKS, so what `corral check` validated is what gets mounted, and
 *     the staging tmpfs below may cover them without harm.
 *  3. Root mode: a staging tmpfs on /tmp (of our private namespace only) holds the new
 *     root's mount point, and the overlay's upper and work dirs for Writable=tmpfs. The
 *     root is RootDirectory bound onto STAGE_ROOT, or an overlay mounted there.
 *  4. /proc, /dev, /sys, then PrivateTmp, the binds, and the read-only remounts, so a
 *     bind can land in the private /tmp and ReadOnlyPaths= covers the binds.
 *  5. pivot_root(".", ".") inside the new root, and the old root (with the staging tmpfs)
 *     detached: no put_old directory needs to exist in, or be made in, the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher/rootfs-internal.h"

#define STAGE      "/tmp"
#define STAGE_ROOT STAGE "/root"

/* The fds of step 2, and the new root. All -1 when unused. */
struct enter_ctx {
    int root_src;
    int layer[LAUNCH_FS_LAYERS_MAX];
    int upper, work;
    int bind[LAUNCH_FS_BINDS_MAX];
    int rootfd;
};

static void enter_ctx_init(struct enter_ctx *c)
{
    c->root_src = c->upper = c->work = c->rootfd = -1;
    for (size_t i = 0; i < ARRAY_SIZE(c->layer); i++)
        c->layer[i] = -1;
    for (size_t i = 0; i < ARRAY_SIZE(c->bind); i++)
        c->bind[i] = -1;
}

static void enter_ctx_done(struct enter_ctx *c)
{
    closep(&c->root_src);
    closep(&c->upper);
    closep(&c->work);
    closep(&c->rootfd);
    for (size_t i = 0; i < ARRAY_SIZE(c->layer); i++)
        closep(&c->layer[i]);
    for (size_t i = 0; i < ARRAY_SIZE(c->bind); i++)
        closep(&c->bind[i]);
}

static size_t strv_len(char *const *v)
{
    size_t n = 0;

    while (v && v[n])
        n++;
    return n;
}

bool launch_fs_wanted(const struct pol_fs *fs)
{
    return fs && (fs->root_directory || fs->layers || fs->writable || fs->private_tmp ||
                  strv_len(fs->read_only_paths) > 0 || strv_len(fs->bind_paths) > 0 ||
                  strv_len(fs->bind_ro_paths) > 0);
}

/* A /proc mounted from the host's PID namespace would list every host process, and
 * /proc/PID/root would lead back to the host's tree: refuse rather than leak. We are in a
 * namespace of our own when the /proc still mounted (an ancestor's) numbers us otherwise
 * than getpid() does, or when we are its PID 1 with a parent outside (the launcher's init,
 * which may have mounted a fresh /proc already). /proc/1/ns/pid is no help: reading it
 * needs ptrace rights on the host's init, refused in some containers. */
static int check_own_pid_ns(struct cg_err *e)
{
    char buf[32];
    ssize_t n;

    if (getpid() == 1 && getppid() == 0)
        return 0;
    n = readlink("/proc/self", buf, sizeof(buf) - 1);
    if (n > 0) {
        buf[n] = '\0';
        if (atol(buf) != (long)getpid())
            return 0;
    }
    return cg_err_set(e, -EPERM, NULL, NULL,
                      "a new root needs a PID namespace of its own (its /proc would show the "
                      "host's processes)");
}

static int open_sources(const struct pol_fs *fs, struct enter_ctx *c, struct cg_err *e)
{
    size_t n_layers = strv_len(fs->layers), n_binds = 0;

    if (fs->root_directory && fs->layers)
        return cg_err_set(e, -EINVAL, NULL, NULL, "RootDirectory= and Layers= are exclusive");
    if (fs->writable && !fs->layers)
        return cg_err_set(e, -EINVAL, NULL, NULL, "Writable= needs Layers=");
    if (fs->root_directory) {
        c->root_src = rootfs_open_canonical_dir(fs->root_directory);
        if (c->root_src < 0)
            return cg_err_set(e, c->root_src, NULL, NULL, "RootDirectory=%s", fs->root_directory);
    }
    if (n_layers > LAUNCH_FS_LAYERS_MAX)
        return cg_err_set(e, -E2BIG, NULL, NULL, "Layers=: more than %d", LAUNCH_FS_LAYERS_MAX);
    for (size_t i = 0; i < n_layers; i++) {
        c->layer[i] = rootfs_open_canonical_dir(fs->layers[i]);
        if (c->layer[i] < 0)
            return cg_err_set(e, c->layer[i], NULL, NULL, "Layers=%s", fs->layers[i]);
    }
    if (fs->writable && strcmp(fs->writable, "tmpfs") != 0) {
        _cleanup_close_ int dir = rootfs_open_canonical_dir(fs->writable);

        if (dir < 0)
            return cg_err_set(e, dir, NULL, NULL, "Writable=%s", fs->writable);
        /* upper is the overlay's root directory: 0755 like any /. */
        if ((mkdirat(dir, "upper", 0755) < 0 && errno != EEXIST) ||
            (mkdirat(dir, "work", 0700) < 0 && errno != EEXIST))
            return cg_err_set(e, negative_errno(), NULL, NULL, "Writable=%s: mkdir upper, work",
                              fs->writable);
        c->upper = openat(dir, "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        c->work = openat(dir, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c->upper < 0 || c->work < 0)
            return cg_err_set(e, negative_errno(), NULL, NULL, "Writable=%s: open upper, work",
                              fs->writable);
    }

    for (int ro = 0; ro <= 1; ro++) {
        char *const *v = ro ? fs->bind_ro_paths : fs->bind_paths;
        const char *key = ro ? "BindReadOnlyPaths" : "BindPaths";

        for (size_t i = 0; v && v[i]; i++, n_binds++) {
            char src[PATH_MAX], dst[PATH_MAX];
            int r;

            if (n_binds >= LAUNCH_FS_BINDS_MAX)
                return cg_err_set(e, -E2BIG, NULL, NULL, "more than %d binds", LAUNCH_FS_BINDS_MAX);
            r = rootfs_parse_bind(v[i], src, dst);
            if (r < 0)
                return cg_err_set(e, r, NULL, NULL, "%s=%s", key, v[i]);
            /* The source is a host path as the operator wrote it: symlinks are followed. */
            c->bind[n_binds] = open(src, O_PATH | O_CLOEXEC);
            if (c->bind[n_binds] < 0)
                return cg_err_set(e, negative_errno(), NULL, NULL, "%s=%s: source %s", key, v[i],
                                  src);
        }
    }
    return 0;
}

static int mount_overlay(const struct pol_fs *fs, struct enter_ctx *c, struct cg_err *e)
{
    char opts[4096], fdp[32];
    size_t n = 0;
    int w;

    /* Writable=tmpfs, or read-only (remounted so at the end): the staging tmpfs holds the
     * upper layer, which also receives the mount points the tree lacks. */
    if (c->upper < 0) {
        if (mkdir(STAGE "/upper", 0755) < 0 || mkdir(STAGE "/work", 0700) < 0)
            return cg_err_set(e, negative_errno(), NULL, NULL, "mkdir upper, work in " STAGE);
        c->upper = open(STAGE "/upper", O_PATH | O_DIRECTORY | O_CLOEXEC);
        c->work = open(STAGE "/work", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->upper < 0 || c->work < 0)
            return cg_err_set(e, negative_errno(), NULL, NULL, "open upper, work in " STAGE);
    }
    /* fd paths, not the operator's: no ':' or ',' to escape, and well under a page. */
    w = snprintf(opts, sizeof(opts), "lowerdir=");
    n = (size_t)w;
    for (size_t i = 0; fs->layers[i] && n < sizeof(opts); i++) {
        w = snprintf(opts + n, sizeof(opts) - n, "%s%s", i ? ":" : "",
                     rootfs_fd_path(c->layer[i], fdp));
        n += (size_t)w;
    }
    if (n < sizeof(opts)) {
        w = snprintf(opts + n, sizeof(opts) - n, ",upperdir=%s", rootfs_fd_path(c->upper, fdp));
        n += (size_t)w;
    }
    if (n < sizeof(opts)) {
        w = snprintf(opts + n, sizeof(opts) - n, ",workdir=%s", rootfs_fd_path(c->work, fdp));
        n += (size_t)w;
    }
    if (n >= sizeof(opts))
        return cg_err_set(e, -E2BIG, NULL, NULL, "overlay options longer than a page");
    if (mount("overlay", STAGE_ROOT, "overlay", 0, opts) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "mount overlay (%s)", opts);
    return 0;
}

static int build_root(const struct pol_fs *fs, struct enter_ctx *c, struct cg_err *e)
{
    char fdp[32];
    int r;

    if (mount("tmpfs", STAGE, "tmpfs", 0, "mode=0755") < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "mount the staging tmpfs on " STAGE);
    if (mkdir(STAGE_ROOT, 0755) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "mkdir " STAGE_ROOT);
    if (c->root_src >= 0) {
        if (mount(rootfs_fd_path(c->root_src, fdp), STAGE_ROOT, NULL, MS_BIND | MS_REC, NULL) < 0)
            return cg_err_set(e, negative_errno(), NULL, NULL, "bind RootDirectory=%s",
                              fs->root_directory);
    } else {
        r = mount_overlay(fs, c, e);
        if (r < 0)
            return r;
    }
    c->rootfd = open(STAGE_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->rootfd < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "open the new root");
    return 0;
}

/* Mount points are created in the new tree, or in our own private /tmp, never on the host. */
static int apply_binds(const struct pol_fs *fs, struct enter_ctx *c, bool root_mode,
                       struct cg_err *e)
{
    size_t k = 0;

    for (int ro = 0; ro <= 1; ro++) {
        char *const *v = ro ? fs->bind_ro_paths : fs->bind_paths;
        const char *key = ro ? "BindReadOnlyPaths" : "BindPaths";

        for (size_t i = 0; v && v[i]; i++, k++) {
            char src[PATH_MAX], dst[PATH_MAX];
            int r;

            r = rootfs_parse_bind(v[i], src, dst);
            if (r < 0)
                return cg_err_set(e, r, NULL, NULL, "%s=%s", key, v[i]);
            r = rootfs_bind(c->rootfd, c->bind[k], key, v[i], dst, ro,
                            root_mode || (fs->private_tmp && rootfs_in_private_tmp(dst)), e);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int apply_read_only(const struct pol_fs *fs, struct enter_ctx *c, struct cg_err *e)
{
    for (size_t i = 0; fs->read_only_paths && fs->read_only_paths[i]; i++) {
        const char *p = fs->read_only_paths[i];
        int r;

        if (!rootfs_path_ok(p))
            return cg_err_set(e, -EINVAL, NULL, NULL, "ReadOnlyPaths=%s: not a clean absolute path",
                              p);
        /* "/" is a mount already; a bind stacked on it would not be seen by a process whose
         * root is the mount below (host mode). */
        if (strcmp(p, "/") == 0) {
            r = rootfs_make_ro(c->rootfd, p, true);
            if (r < 0)
                return cg_err_set(e, r, NULL, NULL, "ReadOnlyPaths=/");
        } else {
            r = rootfs_read_only(c->rootfd, p, e);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int pivot(struct cg_err *e)
{
    if (chdir(STAGE_ROOT) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "chdir " STAGE_ROOT);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "pivot_root");
    /* The old root now sits on top of the new one: detach it with all it holds. */
    if (umount2(".", MNT_DETACH) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "detach the old root");
    if (chdir("/") < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "chdir /");
    return 0;
}

int launch_fs_enter(const struct pol_fs *fs, struct cg_err *e)
{
    _cleanup_(enter_ctx_done) struct enter_ctx c;
    bool root_mode = fs->root_directory || fs->layers;
    int r;

    enter_ctx_init(&c);
    /* A namespace of our own even if the caller made one: the guarantee that the host is
     * never touched must not depend on the caller. */
    if (unshare(CLONE_NEWNS) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "unshare the mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "make every mount private");
    if (root_mode) {
        r = check_own_pid_ns(e);
        if (r < 0)
            return r;
    }
    r = open_sources(fs, &c, e);
    if (r < 0)
        return r;

    if (root_mode) {
        r = build_root(fs, &c, e);
        if (r >= 0)
            r = rootfs_mount_proc(c.rootfd, e);
        if (r >= 0)
            r = rootfs_mount_dev(c.rootfd, e);
        if (r >= 0)
            r = rootfs_mount_sys(c.rootfd, e);
    } else {
        c.rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        r = c.rootfd < 0 ? cg_err_set(e, negative_errno(), NULL, NULL, "open /") : 0;
    }
    if (r < 0)
        return r;
    if (fs->private_tmp) {
        r = rootfs_mount_tmp(c.rootfd, root_mode, e);
        if (r < 0)
            return r;
    }
    r = apply_binds(fs, &c, root_mode, e);
    if (r < 0)
        return r;
    if (fs->layers && !fs->writable) {
        r = rootfs_make_ro(c.rootfd, "/", false);
        if (r < 0)
            return cg_err_set(e, r, NULL, NULL, "make the overlay root read-only");
    }
    r = apply_read_only(fs, &c, e);
    if (r < 0)
        return r;
    if (root_mode)
        return pivot(e);
    if (chdir("/") < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "chdir /");
    return 0;
}

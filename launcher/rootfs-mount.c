/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Mounts beneath a root given as an fd. Every target is resolved with openat2
 * (RESOLVE_IN_ROOT) and mounted on through /proc/self/fd/N, so a symlink planted in the
 * tree (/dev -> /etc, say) resolves inside the tree and never onto the host's paths.
 * Runs in the launcher's raw-cloned child: no malloc, stack buffers only.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher/rootfs-internal.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* struct mount_attr (5.12), under our own name: older glibc lacks it, 2.36 declares it. */
struct rootfs_mount_attr {
    unsigned long long attr_set;
    unsigned long long attr_clr;
    unsigned long long propagation;
    unsigned long long userns_fd;
};

#define RESOLVE_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

int rootfs_openat2(int dirfd, const char *path, int flags, unsigned long long resolve)
{
    struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC), .resolve = resolve};
    long fd;

    fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    return fd < 0 ? negative_errno() : (int)fd;
}

const char *rootfs_fd_path(int fd, char *buf)
{
    snprintf(buf, 32, "/proc/self/fd/%d", fd);
    return buf;
}

static const char *rel_path(const char *path)
{
    path += strspn(path, "/");
    return *path ? path : ".";
}

int rootfs_open_in_root(int rootfd, const char *path, enum rootfs_create create)
{
    char buf[PATH_MAX];
    _cleanup_close_ int parent = -1;
    int fd;

    fd = rootfs_openat2(rootfd, rel_path(path), O_PATH, RESOLVE_ROOT);
    if (fd != -ENOENT || create == ROOTFS_CREATE_NONE)
        return fd;
    if (!rootfs_path_ok(path) || snprintf(buf, sizeof(buf), "%s", rel_path(path)) >= PATH_MAX)
        return -EINVAL;

    /* mkdir -p, resolving each prefix from the root again: a symlink met on the way
     * (bin -> usr/bin) is followed inside the tree, as the workload will see it. */
    parent = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return negative_errno();
    for (char *p = buf;;) {
        char *slash = strchr(p, '/');
        bool last = !slash;

        if (slash)
            *slash = '\0';
        fd = rootfs_openat2(rootfd, buf, O_PATH, RESOLVE_ROOT);
        if (fd == -ENOENT) {
            int r;

            if (last && create == ROOTFS_CREATE_FILE) {
                r = openat(parent, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (r >= 0)
                    (void)close(r);
            } else
                r = mkdirat(parent, p, 0755);
            if (r < 0 && errno != EEXIST)
                return negative_errno();
            fd = rootfs_openat2(rootfd, buf, O_PATH, RESOLVE_ROOT);
        }
        if (fd < 0)
            return fd;
        (void)close(parent);
        parent = fd;
        if (last)
            return TAKE_FD(parent);
        *slash = '/';
        p = slash + 1;
    }
}

/* The per-mount flags a read-only remount must repeat, or it would clear them. */
static unsigned long mount_flags_of(int fd)
{
    static const struct {
        unsigned long st, ms;
    } map[] = {
        {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},           {ST_NOEXEC, MS_NOEXEC},
        {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
    };
    struct statvfs sv;
    unsigned long flags = 0;

    if (fstatvfs(fd, &sv) < 0)
        return 0;
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (sv.f_flag & map[i].st)
            flags |= map[i].ms;
    return flags;
}

static int setattr_ro(int dirfd, const char *path, unsigned flags)
{
    struct rootfs_mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};

    return syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr)) == 0
               ? 0
               : negative_errno();
}

int rootfs_make_ro_path(const char *path)
{
    _cleanup_close_ int fd = -1;
    int r = setattr_ro(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW);

    if (r != -ENOSYS)
        return r;
    fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? negative_errno() : rootfs_make_ro_fd(fd, false);
}

int rootfs_make_ro_fd(int fd, bool recursive)
{
    char fdp[32];
    int r = setattr_ro(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));

    if (r != -ENOSYS)
        return r;
    /* Before 5.12: only the top mount can be made read-only in one call. */
    if (mount(NULL, rootfs_fd_path(fd, fdp), NULL,
              MS_REMOUNT | MS_BIND | MS_RDONLY | mount_flags_of(fd), NULL) < 0)
        return negative_errno();
    return 0;
}

int rootfs_make_ro(int rootfd, const char *path, bool recursive)
{
    _cleanup_close_ int fd = -1;

    /* Opened anew: an fd taken before the mount points below it, not at its root. */
    fd = rootfs_open_in_root(rootfd, path, ROOTFS_CREATE_NONE);
    if (fd < 0)
        return fd;
    return rootfs_make_ro_fd(fd, recursive);
}

/* mount(2) of a new filesystem onto `path` beneath rootfd, created as a directory. */
static int mount_fs(int rootfd, const char *path, bool create, const char *type,
                    unsigned long flags, const char *data, struct cg_err *e)
{
    _cleanup_close_ int fd = -1;
    char fdp[32];

    fd = rootfs_open_in_root(rootfd, path, create ? ROOTFS_CREATE_DIR : ROOTFS_CREATE_NONE);
    if (fd < 0)
        return cg_err_set(e, fd, NULL, NULL, "mount point %s in the new root", path);
    if (mount(type, rootfs_fd_path(fd, fdp), type, flags, data) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "mount %s on %s", type, path);
    return 0;
}

int rootfs_mount_proc(int rootfd, struct cg_err *e)
{
    /* Kernel knobs and triggers that act on the host, not on the workload: read-only, as
     * container runtimes do. Missing ones (no CONFIG_MAGIC_SYSRQ) are fine. */
    static const char *const ro[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"};
    int r;

    r = mount_fs(rootfd, "/proc", true, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, e);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(ro); i++) {
        int fd = rootfs_open_in_root(rootfd, ro[i], ROOTFS_CREATE_NONE);

        if (fd == -ENOENT)
            continue;
        if (fd >= 0)
            (void)close(fd);
        r = rootfs_read_only(rootfd, ro[i], e);
        if (r < 0)
            return r;
    }
    return 0;
}

int rootfs_mount_dev(int rootfd, struct cg_err *e)
{
    static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    static const char *const links[][2] = {
        {"ptmx", "pts/ptmx"},          {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
        {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
    };
    _cleanup_close_ int dev = -1;
    char src[32], dst[32];
    int r;

    /* nosuid and noexec; not nodev, the bound nodes must stay usable. */
    r = mount_fs(rootfd, "/dev", true, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m", e);
    if (r < 0)
        return r;
    dev = rootfs_open_in_root(rootfd, "/dev", ROOTFS_CREATE_NONE);
    if (dev < 0)
        return cg_err_set(e, dev, NULL, NULL, "open /dev in the new root");

    /* Bound from the host rather than made with mknod: the same nodes, and it keeps working
     * where mknod is refused (user namespaces, the devices cgroup). */
    for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
        _cleanup_close_ int host = -1, target = -1;
        struct stat st;

        host = openat(AT_FDCWD, "/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (host >= 0) {
            int fd = openat(host, nodes[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
            (void)close(host);
            host = fd;
        }
        if (host < 0 || fstat(host, &st) < 0)
            return cg_err_set(e, negative_errno(), NULL, NULL, "host device /dev/%s", nodes[i]);
        if (!S_ISCHR(st.st_mode))
            return cg_err_set(e, -ENODEV, NULL, NULL, "host /dev/%s is not a character device",
                              nodes[i]);
        target = openat(dev, nodes[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (target < 0)
            return cg_err_set(e, negative_errno(), NULL, NULL, "create /dev/%s", nodes[i]);
        if (mount(rootfs_fd_path(host, src), rootfs_fd_path(target, dst), NULL, MS_BIND, NULL) < 0)
            return cg_err_set(e, negative_errno(), NULL, NULL, "bind /dev/%s", nodes[i]);
    }

    /* A devpts instance of its own (newinstance: the host's ptys stay out of sight), with a
     * ptmx anyone can open, as on a normal host. */
    if (mkdirat(dev, "pts", 0755) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "mkdir /dev/pts");
    r = mount_fs(rootfd, "/dev/pts", false, "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620", e);
    if (r < 0)
        return r;
    if (mkdirat(dev, "shm", 01777) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "mkdir /dev/shm");
    r = mount_fs(rootfd, "/dev/shm", false, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", e);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(links); i++)
        if (symlinkat(links[i][1], dev, links[i][0]) < 0)
            return cg_err_set(e, negative_errno(), NULL, NULL, "symlink /dev/%s", links[i][0]);
    return 0;
}

int rootfs_mount_sys(int rootfd, struct cg_err *e)
{
    _cleanup_close_ int target = -1, host = -1;
    char src[32], dst[32];
    int r;

    /* A fresh sysfs shows the devices of our network namespace and none of the host's
     * submounts (cgroupfs, debugfs, ...). */
    r = mount_fs(rootfd, "/sys", true, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                 e);
    if (r != -EPERM)
        return r;
    /* sysfs refuses a mount from a namespace that does not own the network namespace: fall
     * back to the host's /sys, read-only all the way down. */
    target = rootfs_open_in_root(rootfd, "/sys", ROOTFS_CREATE_DIR);
    host = openat(AT_FDCWD, "/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (target < 0 || host < 0)
        return cg_err_set(e, target < 0 ? target : negative_errno(), NULL, NULL, "open /sys");
    if (mount(rootfs_fd_path(host, src), rootfs_fd_path(target, dst), NULL, MS_BIND | MS_REC,
              NULL) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "bind the host's /sys");
    r = rootfs_make_ro(rootfd, "/sys", true);
    if (r < 0)
        return cg_err_set(e, r, NULL, NULL, "make /sys read-only");
    return 0;
}

int rootfs_mount_tmp(int rootfd, bool create, struct cg_err *e)
{
    static const char *const dirs[] = {"/tmp", "/var/tmp"};

    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        int r = mount_fs(rootfd, dirs[i], create, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", e);
        if (r < 0)
            return r;
    }
    return 0;
}

int rootfs_bind(int rootfd, int srcfd, const char *key, const char *spec, const char *dst, bool ro,
                bool create, struct cg_err *e)
{
    _cleanup_close_ int target = -1;
    enum rootfs_create c = ROOTFS_CREATE_NONE;
    char src[32], fdp[32];
    struct stat st;
    int r;

    if (fstat(srcfd, &st) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "%s=%s: source", key, spec);
    if (create)
        c = S_ISDIR(st.st_mode) ? ROOTFS_CREATE_DIR : ROOTFS_CREATE_FILE;
    target = rootfs_open_in_root(rootfd, dst, c);
    if (target < 0)
        return cg_err_set(e, target, NULL, NULL, "%s=%s: target %s", key, spec, dst);
    if (mount(rootfs_fd_path(srcfd, src), rootfs_fd_path(target, fdp), NULL, MS_BIND | MS_REC,
              NULL) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "%s=%s: bind onto %s", key, spec, dst);
    if (ro) {
        r = rootfs_make_ro(rootfd, dst, true);
        if (r < 0)
            return cg_err_set(e, r, NULL, NULL, "%s=%s: make %s read-only", key, spec, dst);
    }
    return 0;
}

int rootfs_read_only(int rootfd, const char *path, struct cg_err *e)
{
    _cleanup_close_ int fd = -1;
    char fdp[32];
    int r;

    fd = rootfs_open_in_root(rootfd, path, ROOTFS_CREATE_NONE);
    if (fd < 0)
        return cg_err_set(e, fd, NULL, NULL, "ReadOnlyPaths=%s", path);
    /* Bound onto itself first: only a mount can be read-only, and the path may be none. */
    if (mount(rootfs_fd_path(fd, fdp), fdp, NULL, MS_BIND | MS_REC, NULL) < 0)
        return cg_err_set(e, negative_errno(), NULL, NULL, "ReadOnlyPaths=%s: bind", path);
    r = rootfs_make_ro(rootfd, path, true);
    if (r < 0)
        return cg_err_set(e, r, NULL, NULL, "ReadOnlyPaths=%s: make read-only", path);
    return 0;
}

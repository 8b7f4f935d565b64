/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by rootfs.c, rootfs-mount.c and rootfs-check.c. None of them mallocs. */

#include <limits.h>
#include <stdbool.h>

#include "launcher/rootfs.h"

/* At most this many BindPaths= plus BindReadOnlyPaths= entries: their sources are opened
 * before anything is mounted, into a fixed array (no malloc in the child). */
#define LAUNCH_FS_BINDS_MAX 64

/* A path the workload will see: absolute, no empty, "." or ".." component, no trailing
 * slash ("/" itself is fine). Keeps mount-point creation beneath the root simple. */
bool rootfs_path_ok(const char *path);

/* True for a path beneath /tmp or /var/tmp, where PrivateTmp= mounted a fresh tmpfs. */
bool rootfs_in_private_tmp(const char *path);

/* Whether the kernel can mount overlayfs: listed in `filesystems` (/proc/filesystems), or
 * a module the kernel can load, listed in `modules_dep` (modules.dep or modules.builtin of
 * the running kernel; NULL to skip). Parameters for the tests. */
bool rootfs_overlay_supported(const char *filesystems, const char *modules_dep);

/* Splits "SRC[:DST]" into the two buffers (PATH_MAX each); DST defaults to SRC. SRC must be
 * absolute and DST pass rootfs_path_ok: -EINVAL otherwise, -ENAMETOOLONG when too long. */
int rootfs_parse_bind(const char *spec, char *ret_src, char *ret_dst);

/* openat2(dirfd, path, flags|O_CLOEXEC, resolve): -ENOSYS before 5.6. */
int rootfs_openat2(int dirfd, const char *path, int flags, unsigned long long resolve);

/* Opens an absolute host path as O_PATH|O_DIRECTORY, refusing any symlink on the way
 * (-ELOOP): what check validated is what gets mounted, even if a component is swapped. */
int rootfs_open_canonical_dir(const char *path);

/* "/proc/self/fd/N" into buf (at least 32 bytes): the path form of an fd for mount(2). */
const char *rootfs_fd_path(int fd, char *buf);

/* What rootfs_open_in_root may create when the path is missing. */
enum rootfs_create {
    ROOTFS_CREATE_NONE,
    ROOTFS_CREATE_DIR,  /* mkdir -p, 0755 */
    ROOTFS_CREATE_FILE, /* parents 0755, an empty 0644 file (a mount point for a file) */
};

/* Opens `path` (rootfs_path_ok) as seen from rootfd taken as "/", symlinks resolved inside
 * it (RESOLVE_IN_ROOT), as an O_PATH fd; creates it as told when missing. */
int rootfs_open_in_root(int rootfd, const char *path, enum rootfs_create create);

/* Makes the mount whose root `path` is (beneath rootfd) read-only, recursively or not. */
int rootfs_make_ro(int rootfd, const char *path, bool recursive);
/* The same for the mount an fd (O_PATH will do) was opened on, or for the mount on top
 * at an absolute path (not recursively). */
int rootfs_make_ro_fd(int fd, bool recursive);
int rootfs_make_ro_path(const char *path);

/* The API filesystems of root mode, each mounted beneath rootfd (the new root). */
int rootfs_mount_proc(int rootfd, struct cg_err *e);
int rootfs_mount_dev(int rootfd, struct cg_err *e);
int rootfs_mount_sys(int rootfd, struct cg_err *e);
/* PrivateTmp: /tmp and /var/tmp; mount points created only when `create`. */
int rootfs_mount_tmp(int rootfd, bool create, struct cg_err *e);

/* Binds the open source srcfd onto dst beneath rootfd (recursive), read-only when ro. */
int rootfs_bind(int rootfd, int srcfd, const char *key, const char *spec, const char *dst, bool ro,
                bool create, struct cg_err *e);
/* ReadOnlyPaths=: path beneath rootfd bound onto itself, then read-only recursively. */
int rootfs_read_only(int rootfd, const char *path, struct cg_err *e);

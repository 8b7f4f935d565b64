/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * launch_fs_check: what `corral check` can know before anything is mounted, and the path
 * helpers both sides share (check validates with the same rules enter applies).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "launcher/rootfs-internal.h"

bool rootfs_path_ok(const char *path)
{
    if (!path || path[0] != '/')
        return false;
    if (strcmp(path, "/") == 0)
        return true;
    for (const char *p = path + 1;;) {
        size_t n = strcspn(p, "/");

        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

bool rootfs_in_private_tmp(const char *path)
{
    return strncmp(path, "/tmp/", 5) == 0 || strncmp(path, "/var/tmp/", 9) == 0;
}

int rootfs_parse_bind(const char *spec, char *ret_src, char *ret_dst)
{
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);

    if (n >= PATH_MAX || (colon && strlen(colon + 1) >= PATH_MAX))
        return -ENAMETOOLONG;
    memcpy(ret_src, spec, n);
    ret_src[n] = '\0';
    strcpy(ret_dst, colon ? colon + 1 : ret_src);
    if (ret_src[0] != '/' || !rootfs_path_ok(ret_dst))
        return -EINVAL;
    return 0;
}

int rootfs_open_canonical_dir(const char *path)
{
    if (!path || path[0] != '/')
        return -EINVAL;
    return rootfs_openat2(AT_FDCWD, path, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
}

static bool file_has_line_with(const char *file, const char *needle)
{
    _cleanup_free_ char *line = NULL;
    size_t size = 0;
    bool found = false;
    FILE *f;

    f = fopen(file, "re");
    if (!f)
        return false;
    while (!found && getline(&line, &size, f) > 0)
        found = strstr(line, needle) != NULL;
    (void)fclose(f);
    return found;
}

bool rootfs_overlay_supported(const char *filesystems, const char *modules_dep)
{
    /* Not listed until the module is loaded; the first overlay mount loads it. */
    return file_has_line_with(filesystems, "\toverlay\n") ||
           (modules_dep && file_has_line_with(modules_dep, "/overlay.ko"));
}

struct checker {
    launch_fs_problem_fn report;
    void *userdata;
    int first; /* error of the first problem, or 0 */
    bool as_root;
};

_printf_(5, 6) static void problem(struct checker *k, const char *key, const char *value, int error,
                                   const char *fmt, ...)
{
    struct launch_fs_problem p = {.key = key, .value = value ? value : "", .error = error};
    char reason[PATH_MAX + 256];
    va_list ap;

    if (k->first == 0)
        k->first = error;
    if (!k->report)
        return;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    p.reason = reason;
    k->report(&p, k->userdata);
}

/* A host directory the workload's tree is made of: RootDirectory=, a layer, Writable=DIR. */
static void check_tree_dir(struct checker *k, const char *key, const char *path)
{
    char real[PATH_MAX];
    struct stat st;

    if (path[0] != '/') {
        problem(k, key, path, -EINVAL, "not an absolute path");
        return;
    }
    if (stat(path, &st) < 0) {
        problem(k, key, path, negative_errno(), "cannot be used: %s", strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        problem(k, key, path, -ENOTDIR, "not a directory");
        return;
    }
    /* launch_fs_enter opens it with RESOLVE_NO_SYMLINKS: a path through a symlink is
     * refused there, and would let whoever owns the link point the workload elsewhere. */
    if (!realpath(path, real))
        problem(k, key, path, negative_errno(), "cannot be resolved: %s", strerror(errno));
    else if (strcmp(real, path) != 0)
        problem(k, key, path, -ELOOP,
                "goes through a symlink or is not canonical (resolves to %s); give that path",
                real);
    /* Anyone could then change what a root workload runs. */
    if (k->as_root && (st.st_mode & S_IWOTH))
        problem(k, key, path, -EPERM, "writable by others (mode %04o) while running as root",
                (unsigned)(st.st_mode & 07777));
}

static void check_writable(struct checker *k, const struct pol_fs *fs)
{
    static const char *const subdirs[] = {"upper", "work"};

    if (!fs->layers) {
        problem(k, "Writable", fs->writable, -EINVAL, "needs Layers=");
        return;
    }
    if (strcmp(fs->writable, "tmpfs") == 0)
        return;
    check_tree_dir(k, "Writable", fs->writable);
    /* overlayfs refuses an upper layer on overlayfs (no tmpfile/whiteout support there):
     * say so now rather than fail the mount at run time. */
    {
        struct statfs sf;

        if (statfs(fs->writable, &sf) == 0 && (unsigned long)sf.f_type == OVERLAYFS_SUPER_MAGIC)
            problem(k, "Writable", fs->writable, -EOPNOTSUPP,
                    "is on overlayfs, which cannot hold an overlay's upper layer (use a "
                    "directory on another file system, or tmpfs)");
    }
    for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
        char p[PATH_MAX];
        struct stat st;

        if (snprintf(p, sizeof(p), "%s/%s", fs->writable, subdirs[i]) >= (int)sizeof(p))
            problem(k, "Writable", fs->writable, -ENAMETOOLONG, "path too long");
        else if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode))
            problem(k, "Writable", fs->writable, -ENOTDIR, "%s exists and is not a directory", p);
    }
}

static void check_binds(struct checker *k, const struct pol_fs *fs, bool root_mode, size_t *n_binds)
{
    for (int ro = 0; ro <= 1; ro++) {
        char *const *v = ro ? fs->bind_ro_paths : fs->bind_paths;
        const char *key = ro ? "BindReadOnlyPaths" : "BindPaths";

        for (size_t i = 0; v && v[i]; i++, (*n_binds)++) {
            char src[PATH_MAX], dst[PATH_MAX];
            int r;

            r = rootfs_parse_bind(v[i], src, dst);
            if (r < 0) {
                problem(k, key, v[i], r,
                        "expected SRC[:DST], both absolute, DST without '.', '..' or '//'");
                continue;
            }
            if (access(src, F_OK) < 0)
                problem(k, key, v[i], negative_errno(), "bind source %s: %s", src, strerror(errno));
            /* On the host tree, mount points are never created (but in PrivateTmp's). */
            if (!root_mode && !(fs->private_tmp && rootfs_in_private_tmp(dst)) &&
                access(dst, F_OK) < 0)
                problem(k, key, v[i], negative_errno(),
                        "bind target %s: %s (without a root, nothing is created on the host)", dst,
                        strerror(errno));
        }
    }
}

int launch_fs_check(const struct pol_fs *fs, launch_fs_problem_fn report, void *userdata)
{
    struct checker k = {.report = report, .userdata = userdata, .as_root = geteuid() == 0};
    bool root_mode = fs->root_directory || fs->layers;
    size_t n_layers = 0, n_binds = 0;

    if (fs->root_directory && fs->layers)
        problem(&k, "Layers", NULL, -EINVAL, "RootDirectory= and Layers= are exclusive");
    if (fs->root_directory)
        check_tree_dir(&k, "RootDirectory", fs->root_directory);
    for (; fs->layers && fs->layers[n_layers]; n_layers++)
        check_tree_dir(&k, "Layers", fs->layers[n_layers]);
    if (fs->layers && n_layers == 0)
        problem(&k, "Layers", NULL, -EINVAL, "empty");
    if (n_layers > LAUNCH_FS_LAYERS_MAX)
        problem(&k, "Layers", NULL, -E2BIG, "%zu layers, at most %d", n_layers,
                LAUNCH_FS_LAYERS_MAX);
    if (n_layers > 0) {
        char dep[PATH_MAX] = "";
        struct utsname u;

        if (uname(&u) == 0)
            snprintf(dep, sizeof(dep), "/lib/modules/%s/modules.dep", u.release);
        if (!rootfs_overlay_supported("/proc/filesystems", dep[0] ? dep : NULL))
            problem(&k, "Layers", NULL, -ENODEV,
                    "the kernel has no overlayfs (not in /proc/filesystems, no overlay module)");
    }
    if (fs->writable)
        check_writable(&k, fs);

    for (size_t i = 0; fs->read_only_paths && fs->read_only_paths[i]; i++) {
        const char *p = fs->read_only_paths[i];

        if (!rootfs_path_ok(p))
            problem(&k, "ReadOnlyPaths", p, -EINVAL,
                    "not an absolute path without '.', '..' or '//'");
        else if (!root_mode && access(p, F_OK) < 0)
            problem(&k, "ReadOnlyPaths", p, negative_errno(), "%s", strerror(errno));
    }
    check_binds(&k, fs, root_mode, &n_binds);
    if (n_binds > LAUNCH_FS_BINDS_MAX)
        problem(&k, "BindPaths", NULL, -E2BIG, "%zu binds in all, at most %d", n_binds,
                LAUNCH_FS_BINDS_MAX);
    return k.first;
}

/* The source of the bind whose target holds path (the longest) into src, and *ret_rest:
 * path past that target. False when no bind covers path. */
static bool bind_over(const struct pol_fs *fs, const char *path, char *src, const char **ret_rest)
{
    size_t best = 0;
    bool found = false;

    for (int ro = 0; ro <= 1; ro++)
        for (char *const *v = ro ? fs->bind_ro_paths : fs->bind_paths; v && *v; v++) {
            char s[PATH_MAX], dst[PATH_MAX];
            size_t n;

            if (rootfs_parse_bind(*v, s, dst) < 0)
                continue;
            n = strcmp(dst, "/") == 0 ? 0 : strlen(dst);
            if (strncmp(path, dst, n) == 0 && (path[n] == '/' || path[n] == '\0') &&
                (!found || n > best)) {
                strcpy(src, s);
                best = n;
                found = true;
            }
        }
    *ret_rest = path + best;
    return found;
}

/* Opens path as the workload will see it (O_PATH); a negative errno on failure. */
static int open_as_seen(const struct pol_fs *fs, const char *path)
{
    char src[PATH_MAX], host[PATH_MAX];
    const char *rest;
    int fd;

    if (bind_over(fs, path, src, &rest)) {
        if (snprintf(host, sizeof(host), "%s%s", src, rest) >= (int)sizeof(host))
            return -ENAMETOOLONG;
        fd = open(host, O_PATH | O_CLOEXEC);
    } else if (fs->root_directory) {
        /* Symlinks resolved inside the workload's root, as it will resolve them. */
        _cleanup_close_ int root = open(fs->root_directory, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
            return negative_errno();
        return rootfs_openat2(root, path, O_PATH, RESOLVE_IN_ROOT);
    } else
        fd = open(path, O_PATH | O_CLOEXEC);
    return fd < 0 ? negative_errno() : fd;
}

int launch_workdir_check(const struct pol_policy *p, launch_fs_problem_fn report, void *userdata)
{
    struct checker k = {.report = report, .userdata = userdata};
    const struct pol_fs *fs = &p->fs;
    const char *path = p->workdir[0] ? p->workdir : "/";
    _cleanup_close_ int fd = -1;
    struct stat st;

    /* In an overlay of layers, what exists is only known once it is mounted (run says). */
    if (fs->layers || strcmp(path, "/") == 0)
        return 0;
    if (fs->private_tmp && rootfs_in_private_tmp(path)) {
        problem(&k, "WorkingDirectory", path, -ENOENT,
                "is inside the fresh, empty /tmp of PrivateTmp=yes: it cannot exist at start");
        return k.first;
    }
    fd = open_as_seen(fs, path);
    if (fd < 0)
        problem(&k, "WorkingDirectory", path, fd, "%s%s", strerror(-fd),
                fs->root_directory ? " (inside RootDirectory=)" : "");
    else if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        problem(&k, "WorkingDirectory", path, -ENOTDIR, "not a directory");
    return k.first;
}

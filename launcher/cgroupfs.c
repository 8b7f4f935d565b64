/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The workload's view of cgroupfs: read-only, as container runtimes give it. In the
 * child's own mount namespace every cgroup and cgroup2 mount it can reach is made
 * read-only (per mount: v1's hierarchies one by one, v2's one, and any bound elsewhere),
 * so a workload running as root can neither raise its limits nor move itself out of its
 * group. With a cgroup namespace, a fresh mount of each hierarchy, read-only too, goes on
 * top: the workload then sees its own group as the root of each, and nothing above it.
 *
 * The plan (which children get this, and a mount namespace for it) is made by the parent,
 * launch_ns_plan in ns.c; this file runs in the raw-cloned child: system calls and stack
 * buffers only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "launcher/internal.h"
#include "launcher/rootfs-internal.h"

/* The mount API of 5.2, by system call (the names are glibc 2.36's; older ones lack them). */
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_SET_FLAG
#define FSCONFIG_SET_FLAG   0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV  0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef SYS_fsopen
#define SYS_move_mount 429
#define SYS_fsopen     430
#define SYS_fsconfig   431
#define SYS_fsmount    432
#endif

#define CGROUPFS_MAX        64 /* cgroup mounts in one namespace; a v1 host has about 12 */
#define CGROUP_SUPER_MAGIC  0x27e0eb
#define CGROUP2_SUPER_MAGIC 0x63677270

struct cgfs_mount {
    int fd;          /* O_PATH on the mount's root */
    bool v2;         /* cgroup2 */
    uint64_t mnt_id; /* statx: one mount seen at two places is done once */
    char opts[256];  /* super options for a fresh mount ("cpu,cpuacct", "name=systemd") */
    char where[256]; /* for messages */
};

struct cgfs {
    bool fresh; /* a cgroup namespace: mounts are collected, then made read-only and covered */
    size_t n;
    struct cgfs_mount m[CGROUPFS_MAX];
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(const char *in, char *out, size_t size)
{
    size_t o = 0;

    for (; *in && o + 1 < size; in++) {
        if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
            in[3] >= '0' && in[3] <= '7') {
            out[o++] = (char)((in[1] - '0') << 6 | (in[2] - '0') << 3 | (in[3] - '0'));
            in += 3;
        } else
            out[o++] = *in;
    }
    out[o] = '\0';
}

/* The super options a fresh mount repeats: all but rw/ro and release_agent=, which only
 * the initial namespace may set. */
static void fresh_opts(const char *super, char *out, size_t size)
{
    size_t o = 0;

    out[0] = '\0';
    for (const char *p = super; *p;) {
        size_t n = strcspn(p, ",");

        if (!(n == 2 && (strncmp(p, "rw", 2) == 0 || strncmp(p, "ro", 2) == 0)) &&
            strncmp(p, "release_agent=", 14) != 0 && o + n + 2 < size) {
            if (o)
                out[o++] = ',';
            memcpy(out + o, p, n);
            o += n;
            out[o] = '\0';
        }
        p += n + (p[n] == ',');
    }
}

/* One line of /proc/self/mountinfo (modified): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS
 * [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS". */
static int add_line(struct cgfs *t, char *line)
{
    char *f[64], *save = NULL, path[PATH_MAX];
    size_t n = 0, dash = 0;
    struct cgfs_mount *m;
    struct statfs sf;
    struct statx sx;
    int fd;

    for (char *w = strtok_r(line, " ", &save); w && n < 64; w = strtok_r(NULL, " ", &save)) {
        if (!dash && n >= 6 && strcmp(w, "-") == 0)
            dash = n;
        f[n++] = w;
    }
    if (!dash || n < dash + 4)
        return 0;
    if (strcmp(f[dash + 1], "cgroup") != 0 && strcmp(f[dash + 1], "cgroup2") != 0)
        return 0;
    unescape(f[4], path, sizeof(path));
    /* Without a cgroup namespace nothing more is mounted: read-only at once, by path, one
     * system call (whatever is on top there becomes read-only, in our namespace only). */
    if (!t->fresh)
        return rootfs_make_ro_path(path);
    fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return negative_errno();
    /* Only the mount on top is reachable: one of another kind over it hides this one. */
    if (fstatfs(fd, &sf) < 0 ||
        (sf.f_type != CGROUP_SUPER_MAGIC && sf.f_type != CGROUP2_SUPER_MAGIC) ||
        statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0) {
        (void)close(fd);
        return 0;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->m[i].mnt_id == sx.stx_mnt_id) {
            (void)close(fd);
            return 0;
        }
    if (t->n == CGROUPFS_MAX) {
        (void)close(fd);
        return -E2BIG;
    }
    m = &t->m[t->n++];
    m->fd = fd;
    m->v2 = sf.f_type == CGROUP2_SUPER_MAGIC;
    m->mnt_id = sx.stx_mnt_id;
    fresh_opts(f[dash + 3], m->opts, sizeof(m->opts));
    n = strnlen(path, sizeof(m->where) - 1); /* for messages: a cut path will do */
    memcpy(m->where, path, n);
    m->where[n] = '\0';
    return 0;
}

static int collect(struct cgfs *t)
{
    char buf[8192];
    size_t len = 0;
    int fd, r = 0;

    fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return negative_errno();
    while (r >= 0) {
        ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);
        char *start = buf, *nl;

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = negative_errno();
            break;
        }
        len += (size_t)k;
        buf[len] = '\0';
        while (r >= 0 && (nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            *nl = '\0';
            r = add_line(t, start);
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (k == 0)
            break;
        if (len == sizeof(buf) - 1)
            r = -E2BIG; /* a line longer than the buffer: fail rather than miss a mount */
    }
    (void)close(fd);
    return r;
}

/*
 * A fresh mount of m's hierarchy, read-only, moved on top of m: in a cgroup namespace it
 * shows the namespace's root. mount(2) would refuse it (EBUSY: the same superblock on the
 * root of its own mount); a detached mount moved there is taken.
 */
static int fresh_mount(const struct cgfs_mount *m)
{
    char opts[sizeof(m->opts)], *save = NULL;
    int fs, mfd, r = 0;

    fs = (int)syscall(SYS_fsopen, m->v2 ? "cgroup2" : "cgroup", FSOPEN_CLOEXEC);
    if (fs < 0)
        return negative_errno();
    memcpy(opts, m->opts, sizeof(opts));
    for (char *t = strtok_r(opts, ",", &save); t && r == 0; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');

        if (eq)
            *eq = '\0';
        if (syscall(SYS_fsconfig, fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, t,
                    eq ? eq + 1 : NULL, 0) < 0)
            r = negative_errno();
    }
    if (r == 0 && syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        r = negative_errno();
    mfd = r < 0 ? -1
                : (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                               MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                   MOUNT_ATTR_NOEXEC);
    if (r == 0 && mfd < 0)
        r = negative_errno();
    if (r == 0 && syscall(SYS_move_mount, mfd, "", m->fd, "",
                          MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        r = negative_errno();
    if (mfd >= 0)
        (void)close(mfd);
    (void)close(fs);
    return r;
}

static bool own_mount_ns(const struct launch_child *c)
{
    struct stat st;

    return stat("/proc/self/ns/mnt", &st) == 0 &&
           (st.st_dev != c->caller_mnt_ns.dev || st.st_ino != c->caller_mnt_ns.ino);
}

int launch_cgroupfs_read_only(const struct launch_child *c, char *detail, size_t size)
{
    struct cgfs t;
    int r;

    snprintf(detail, size, "read-only cgroupfs");
    /* Never the caller's namespace: there this would change the host's mounts. */
    if (!own_mount_ns(c))
        return -EPERM;
    t.n = 0;
    t.fresh = c->cgroupns;
    r = collect(&t);
    for (size_t i = 0; i < t.n; i++) {
        if (r >= 0) {
            r = rootfs_make_ro_fd(t.m[i].fd, false);
            if (r < 0)
                snprintf(detail, size, "read-only cgroupfs: %s", t.m[i].where);
        }
        /* In a cgroup namespace: its own view on top. If the kernel refuses it (before
         * 5.2), the read-only mount below still stands. */
        if (r >= 0 && c->cgroupns)
            (void)fresh_mount(&t.m[i]);
        (void)close(t.m[i].fd);
    }
    return r;
}

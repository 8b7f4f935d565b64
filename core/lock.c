/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "core/cgroup.h"
#include "core/fileio.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/roots.h"

/* Between two attempts a waiter sleeps on inotify at most this long: a holder that dies
 * closes the file (an event too), so this only bounds what a missed event costs. */
#define LOCK_POLL_MS 100

struct cg_lock {
    int fd;
};

static int trusted(int fd, const char *base, const char *sub, struct cg_err *e)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return cg_err_set(e, -ENOTDIR, NULL, NULL, "%s%s%s: not a directory", base, sub ? "/" : "",
                          sub ? sub : "");
    if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022))
        return cg_err_set(e, -EPERM, NULL, NULL,
                          "%s%s%s: owned by uid %u with mode %04o; corral only trusts a runtime "
                          "directory owned by root and writable by its owner alone",
                          base, sub ? "/" : "", sub ? sub : "", (unsigned)st.st_uid,
                          (unsigned)(st.st_mode & 07777));
    return 0;
}

static int open_dir(int at, const char *path, bool create)
{
    int fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd >= 0 || errno != ENOENT || !create)
        return fd >= 0 ? fd : -errno;
    if (mkdirat(at, path, 0755) < 0 && errno != EEXIST)
        return -errno;
    fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* whatever the umask: others read it to name a lock's holder */
    (void)fchmod(fd, 0755);
    return fd;
}

int cg_runtime_open(const char *sub, bool create, int *ret_fd, struct cg_err *e)
{
    const char *base = getenv("CORRAL_RUNTIME_DIR");
    _cleanup_close_ int bfd = -1, sfd = -1;
    int r;

    if (!base || !*base)
        base = CG_RUNTIME_DIR_DEFAULT;
    if (base[0] != '/')
        return cg_err_set(e, -EINVAL, NULL, NULL,
                          "CORRAL_RUNTIME_DIR=%s: the runtime directory must be absolute", base);
    bfd = open_dir(AT_FDCWD, base, create);
    if (bfd < 0)
        return bfd == -ENOENT ? bfd : cg_err_set(e, bfd, NULL, NULL, "runtime directory %s", base);
    r = trusted(bfd, base, NULL, e);
    if (r < 0)
        return r;
    sfd = open_dir(bfd, sub, create);
    if (sfd < 0)
        return sfd == -ENOENT
                   ? sfd
                   : cg_err_set(e, sfd, NULL, NULL, "runtime directory %s/%s", base, sub);
    r = trusted(sfd, base, sub, e);
    if (r < 0)
        return r;
    *ret_fd = TAKE_FD(sfd);
    return 0;
}

static int lock_open(int dirfd, const char *name)
{
    struct stat st;
    int fd;

    /* O_NONBLOCK: a FIFO planted here must not hang us in open. */
    fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                0644);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        (void)close(fd);
        return -EBADFD;
    }
    return fd;
}

static void holder_read(int fd, struct cg_lock_holder *h)
{
    char buf[sizeof(h->what) + 32], *sp, *nl;
    int n = cg_pread(fd, buf, sizeof(buf));

    memset(h, 0, sizeof(*h));
    if (n <= 0)
        return;
    h->pid = (pid_t)strtol(buf, &sp, 10);
    if (*sp != ' ') {
        h->pid = 0;
        return;
    }
    nl = strchr(sp + 1, '\n');
    if (nl)
        *nl = '\0';
    snprintf(h->what, sizeof(h->what), "%s", sp + 1);
}

/* The kernel's word on who holds the flock of fd (/proc/locks), or 0. The file says what
 * the holder wrote, which is stale when something else took the lock without writing. */
static pid_t kernel_holder(int fd)
{
    _cleanup_free_ char *text = NULL;
    struct stat st;
    char want[64], *save = NULL;
    pid_t pid = 0;

    if (fstat(fd, &st) < 0 || cg_read_all_at(AT_FDCWD, "/proc/locks", &text) < 0)
        return 0;
    snprintf(want, sizeof(want), " %02x:%02x:%llu ", major(st.st_dev), minor(st.st_dev),
             (unsigned long long)st.st_ino);
    for (char *l = strtok_r(text, "\n", &save); l && !pid; l = strtok_r(NULL, "\n", &save)) {
        char *m = strstr(l, want), *p;

        /* "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INO 0 EOF"; "N: -> ..." is a waiter */
        if (!m || !strstr(l, "FLOCK") || strstr(l, "->"))
            continue;
        *m = '\0';
        p = strrchr(l, ' ');
        pid = p ? (pid_t)atoi(p + 1) : 0;
    }
    return pid;
}

static void holder_check(int fd, struct cg_lock_holder *h)
{
    char path[64], comm[64];
    pid_t pid = kernel_holder(fd);

    if (pid <= 0 || pid == h->pid)
        return;
    h->pid = pid;
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    if (cg_read_at(AT_FDCWD, path, comm, sizeof(comm)) > 0)
        snprintf(h->what, sizeof(h->what), "%s, which did not say more", comm);
    else
        snprintf(h->what, sizeof(h->what), "exited; a process it passed the lock to holds it");
}

static bool held_by_daemon(const struct cg_lock_holder *h)
{
    return h->pid > 0 && strcmp(h->what, CG_LOCK_DAEMON) == 0;
}

/*
 * One attempt: 1 locked, 0 held by someone else, or -errno. A file that was removed
 * (cg_root_lock_forget) while we waited on it is not the lock any more: open the one now
 * at `name` and try that.
 */
static int try_lock(int dirfd, const char *name, int *fd)
{
    for (;;) {
        struct stat a, b;

        if (flock(*fd, LOCK_EX | LOCK_NB) < 0)
            return errno == EWOULDBLOCK ? 0 : -errno;
        if (fstat(*fd, &a) < 0)
            return -errno;
        if (fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino)
            return 1;
        closep(fd);
        *fd = lock_open(dirfd, name);
        if (*fd < 0)
            return *fd;
    }
}

static uint64_t now_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Sleeps until something happens in the lock directory or ms pass. */
static void wait_event(int ifd, uint64_t usec)
{
    struct pollfd p = {.fd = ifd, .events = POLLIN};
    char buf[4096];
    int ms = usec > LOCK_POLL_MS * 1000ULL ? LOCK_POLL_MS : (int)((usec + 999) / 1000);

    if (ifd < 0 || poll(&p, 1, ms) <= 0) {
        if (ifd < 0)
            (void)nanosleep(&(struct timespec){0, (long)ms * 1000000L}, NULL);
        return;
    }
    while (read(ifd, buf, sizeof(buf)) > 0)
        ;
}

/* Waits for the lock until the deadline; 1 locked, 0 not, -errno. */
static int wait_lock(int dirfd, const char *name, int *fd, uint64_t timeout_usec,
                     struct cg_lock_holder *h)
{
    _cleanup_close_ int ifd = -1;
    uint64_t deadline = now_usec() + timeout_usec;
    char path[64];
    int r;

    /* The directory, not the file: the file may be replaced while we wait. */
    ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
    if (ifd >= 0 && inotify_add_watch(ifd, path, IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE) < 0)
        closep(&ifd);
    for (;;) {
        uint64_t now = now_usec();

        if (now >= deadline)
            return 0;
        wait_event(ifd, deadline - now);
        r = try_lock(dirfd, name, fd);
        if (r != 0)
            return r;
        holder_read(*fd, h);
        if (held_by_daemon(h))
            return 0;
    }
}

int cg_lock_take(int dirfd, const char *name, const char *who, uint64_t timeout_usec,
                 struct cg_lock **ret, struct cg_lock_holder *ret_holder)
{
    _cleanup_close_ int fd = -1;
    struct cg_lock_holder h;
    struct cg_lock *l;
    char info[sizeof(h.what) + 32];
    int r;

    fd = lock_open(dirfd, name);
    if (fd < 0)
        return fd;
    r = try_lock(dirfd, name, &fd);
    if (r == 0) {
        holder_read(fd, &h);
        if (!held_by_daemon(&h) && timeout_usec > 0)
            r = wait_lock(dirfd, name, &fd, timeout_usec, &h);
        if (r == 0) {
            holder_check(fd, &h);
            if (ret_holder)
                *ret_holder = h;
            return held_by_daemon(&h) ? -EBUSY : -ETIMEDOUT;
        }
    }
    if (r < 0)
        return r;
    /* A record of one size, NUL-padded: overwritten in place, never truncated (a truncate
     * is a journal transaction on a disk filesystem, milliseconds on a busy one). */
    memset(info, 0, sizeof(info));
    snprintf(info, sizeof(info), "%d %s\n", (int)getpid(), who);
    if (pwrite(fd, info, sizeof(info), 0) != (ssize_t)sizeof(info))
        cg_debug("lock %s: cannot write the holder: %s", name, strerror(errno));
    l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->fd = TAKE_FD(fd);
    *ret = l;
    return 0;
}

void cg_lock_release(struct cg_lock *l)
{
    if (!l)
        return;
    if (l->fd >= 0) {
        (void)flock(l->fd, LOCK_UN);
        /* After letting go, so a waiter woken by this finds the lock free. */
        (void)futimens(l->fd, NULL);
        closep(&l->fd);
    }
    free(l);
}

/* The lock directory and the name of the root's lock in it. */
static int root_lock_dir(struct cg_ctx *ctx, bool create, int *ret_dfd, const char **ret_id,
                         struct cg_err *e)
{
    int r = cg_root_id(ctx, ret_id);

    return r < 0 ? r : cg_runtime_open("lock", create, ret_dfd, e);
}

int cg_root_lock_holder(struct cg_ctx *ctx, struct cg_lock_holder *ret)
{
    _cleanup_close_ int dfd = -1, fd = -1;
    const char *id;
    int r;

    r = root_lock_dir(ctx, false, &dfd, &id, NULL);
    if (r < 0)
        return r;
    fd = openat(dfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    holder_read(fd, ret);
    return 0;
}

int cg_root_lock(struct cg_ctx *ctx, const char *who, uint64_t timeout_usec, struct cg_lock **ret,
                 struct cg_lock_holder *ret_holder, struct cg_err *e)
{
    _cleanup_close_ int dfd = -1;
    struct cg_lock_holder h = {0};
    const char *id;
    int r;

    r = root_lock_dir(ctx, true, &dfd, &id, e);
    if (r < 0)
        return r;
    r = cg_lock_take(dfd, id, who, timeout_usec, ret, &h);
    if (ret_holder)
        *ret_holder = h;
    if (r == -EBUSY)
        return cg_err_set(e, r, NULL, NULL, "root '%s' is owned by %s (pid %d)", ctx->root_arg,
                          h.what, (int)h.pid);
    if (r == -ETIMEDOUT)
        return cg_err_set(e, r, NULL, NULL, "the lock of root '%s' is held by pid %d (%s)",
                          ctx->root_arg, (int)h.pid, h.what[0] ? h.what : "unknown");
    if (r < 0)
        return cg_err_set(e, r, NULL, NULL, "cannot take the lock of root '%s'", ctx->root_arg);
    return 0;
}

void cg_root_lock_forget(struct cg_ctx *ctx)
{
    _cleanup_close_ int dfd = -1, fd = -1;
    const char *id;

    if (root_lock_dir(ctx, false, &dfd, &id, NULL) < 0)
        return;
    fd = lock_open(dfd, id);
    /* Only a lock nobody holds; a waiter on the old file sees it replaced (try_lock). */
    if (fd >= 0 && try_lock(dfd, id, &fd) == 1)
        (void)unlinkat(dfd, id, 0);
}

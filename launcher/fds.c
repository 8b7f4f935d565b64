/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A clean fd table for the workload: everything above 2 is marked close-on-exec
 * (close_range(CLOSE_RANGE_CLOEXEC), 5.11+) or, on older kernels, found by reading
 * /proc/self/fd with getdents64 on a stack buffer (no malloc: we are in a raw clone).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher/internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int parse_fd(const char *s)
{
    int v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static int walk_proc_fds(int from, bool cloexec)
{
    char buf[4096];
    int dfd, r = 0;
    long n;

    dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            int fd = parse_fd(d->d_name);
            off += d->d_reclen;
            if (fd < from || fd == dfd)
                continue;
            if (cloexec ? fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 : close(fd) < 0)
                if (errno != EBADF)
                    r = -errno;
        }
    }
    if (n < 0)
        r = -errno;
    (void)close(dfd);
    return r;
}

int launch_fds_cloexec_from(int from)
{
    if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
    return walk_proc_fds(from, true);
}

int launch_fds_close_from(int from)
{
    if (syscall(SYS_close_range, (unsigned)from, ~0U, 0U) == 0)
        return 0;
    return walk_proc_fds(from, false);
}

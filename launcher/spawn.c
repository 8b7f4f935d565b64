/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Creating the child. clone3 gets the namespaces and, on cgroup v2, CLONE_INTO_CGROUP
 * (5.7+): the kernel makes the child a member of the instance group as part of the
 * fork, so there is no instant at which it runs anywhere else. When the kernel refuses
 * that, the child is cloned held on the sync pipe instead and the parent places it. On
 * v1 the child waits for the instance's tasks fds instead and moves itself (place.c).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "launcher/internal.h"

#if HAVE_CLONE3_H
#include <linux/sched.h>
#else
struct clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};
#endif

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
/* The first clone3 layout (5.3), without set_tid and cgroup: what an older kernel takes. */
#define CLONE_ARGS_SIZE_VER0 64

/* Errors on which CLONE_INTO_CGROUP is given up for the fallback (DESIGN.md). */
static int into_cgroup_refused(int err)
{
    return err == ENOSYS || err == E2BIG || err == EOPNOTSUPP || err == EBUSY || err == EACCES;
}

static long do_clone3(struct clone_args *a, size_t size)
{
    return syscall(SYS_clone3, a, size);
}

int launch_spawn(struct launch_child *c, int cgroup_fd, pid_t *ret_pid, int *ret_pidfd,
                 bool *ret_into)
{
    struct clone_args a;
    int pidfd = -1;
    long pid;

    if (cgroup_fd >= 0) {
        memset(&a, 0, sizeof(a));
        a.flags = c->clone_ns | CLONE_PIDFD | CLONE_INTO_CGROUP;
        a.pidfd = (uint64_t)(uintptr_t)&pidfd;
        a.exit_signal = SIGCHLD;
        a.cgroup = (uint64_t)cgroup_fd;
        pid = do_clone3(&a, sizeof(a));
        if (pid == 0)
            launch_child_main(c);
        if (pid > 0) {
            *ret_pid = (pid_t)pid;
            *ret_pidfd = pidfd;
            *ret_into = true;
            return 0;
        }
        if (!into_cgroup_refused(errno))
            return -errno;
    }

    /* Fallback: the child must not run before the parent has placed it. The child is a
     * copy of this memory as it is at the clone, so setting hold here is enough. */
    if (c->place_fd < 0)
        c->hold = true;
    memset(&a, 0, sizeof(a));
    a.flags = c->clone_ns | CLONE_PIDFD;
    a.pidfd = (uint64_t)(uintptr_t)&pidfd;
    a.exit_signal = SIGCHLD;
    pid = do_clone3(&a, CLONE_ARGS_SIZE_VER0);
    if (pid < 0 && errno == ENOSYS) {
        /* Before 5.3: clone(2); CLONE_PIDFD (5.2) returns the fd through parent_tid. */
        pid = syscall(SYS_clone, c->clone_ns | CLONE_PIDFD | SIGCHLD, 0UL, &pidfd, 0UL, 0UL);
        if (pid < 0 && errno == EINVAL) {
            pidfd = -1;
            pid = syscall(SYS_clone, c->clone_ns | SIGCHLD, 0UL, 0UL, 0UL, 0UL);
        }
    }
    if (pid == 0)
        launch_child_main(c);
    if (pid < 0)
        return -errno;
    *ret_pid = (pid_t)pid;
    *ret_pidfd = pidfd;
    *ret_into = false;
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Placement by a manager that has the child place itself (CG_PLACE_SELF, cgroup v1): the
 * parent has the instance's "tasks" file opened in each hierarchy (core/cgroup.h,
 * cg_group_place_prepare) and hands the fds to the waiting child over
 * a socketpair; the child writes "0" to each, which moves it and only it. The child may
 * have been cloned before the instance existed: this is what lets `corral run` create the
 * workload's groups while the kernel builds the namespaces.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "launcher/internal.h"

int launch_place_send(int sock, const int fds[_CG_H_MAX])
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * _CG_H_MAX)];
    } u;
    uint8_t idx[_CG_H_MAX];
    int send[_CG_H_MAX];
    struct iovec iov;
    struct msghdr m;
    struct cmsghdr *c;
    size_t n = 0;

    for (int h = 0; h < _CG_H_MAX; h++)
        if (fds[h] >= 0) {
            idx[n] = (uint8_t)h;
            send[n++] = fds[h];
        }
    if (n == 0)
        return -ENODEV;
    memset(&u, 0, sizeof(u));
    memset(&m, 0, sizeof(m));
    iov = (struct iovec){.iov_base = idx, .iov_len = n};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), send, sizeof(int) * n);
    if (sendmsg(sock, &m, MSG_NOSIGNAL) != (ssize_t)n)
        return -errno ? -errno : -EIO;
    return 0;
}

int launch_place_recv(int sock, int fds[_CG_H_MAX])
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * _CG_H_MAX)];
    } u;
    uint8_t idx[_CG_H_MAX];
    int got[_CG_H_MAX];
    struct iovec iov = {.iov_base = idx, .iov_len = sizeof(idx)};
    struct msghdr m;
    struct cmsghdr *c;
    ssize_t n;
    size_t nfds;

    for (int h = 0; h < _CG_H_MAX; h++)
        fds[h] = -1;
    memset(&m, 0, sizeof(m));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof(u.buf);
    do {
        n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0; /* the parent gave up */
    if (n < 0)
        return -errno;
    c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
        return -EBADMSG;
    nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    memcpy(got, CMSG_DATA(c), nfds * sizeof(int));
    if (nfds != (size_t)n || (m.msg_flags & MSG_CTRUNC)) {
        for (size_t i = 0; i < nfds; i++)
            (void)close(got[i]);
        return -EBADMSG;
    }
    for (size_t i = 0; i < nfds; i++) {
        if (idx[i] >= _CG_H_MAX || fds[idx[i]] >= 0) {
            (void)close(got[i]);
            continue;
        }
        fds[idx[i]] = got[i];
    }
    return 1;
}

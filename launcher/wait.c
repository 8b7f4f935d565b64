/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The parent's wait: poll on the child's pidfd (no SIGCHLD needed, so this works in a
 * threaded caller whose other threads take SIGCHLD) and on a signalfd of the forwarded
 * signals. We are the child's parent and reap it ourselves, so its pid cannot be reused
 * while we still signal it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher/internal.h"

int launch_status_to_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

void launch_forward_set(sigset_t *ret)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

    sigemptyset(ret);
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
        sigaddset(ret, sigs[i]);
}

static void forward(pid_t pid, int sigfd)
{
    struct signalfd_siginfo si;

    while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        /* SI_KERNEL: sent by the terminal to the whole process group, CMD included. */
        if (si.ssi_code == SI_KERNEL)
            continue;
        (void)kill(pid, (int)si.ssi_signo);
    }
}

void launch_drain_signals(int sigfd)
{
    struct signalfd_siginfo si;

    while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
}

int launch_wait(pid_t pid, int pidfd, int sigfd, int *ret_status)
{
    for (;;) {
        struct pollfd p[2] = {
            {.fd = pidfd, .events = POLLIN},
            {.fd = sigfd, .events = POLLIN},
        };
        int st;
        pid_t w;

        /* Without a pidfd (kernel < 5.2) poll the status every 10 ms. */
        if (poll(p, 2, pidfd >= 0 ? -1 : 10) < 0 && errno != EINTR)
            return -errno;
        if (p[1].revents & POLLIN)
            forward(pid, sigfd);
        w = waitpid(pid, &st, WNOHANG);
        if (w < 0 && errno != EINTR)
            return -errno;
        if (w == pid) {
            *ret_status = st;
            return 0;
        }
    }
}

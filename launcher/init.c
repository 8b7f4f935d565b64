/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The minimal init that is PID 1 of the workload's PID namespace. PID 1 is special: the
 * kernel drops signals it has no handler for (so a workload run as PID 1 would ignore
 * SIGTERM), and orphans are reparented to it (so somebody must reap them). This loop does
 * both and nothing else, like tini: signals stay blocked and are taken with sigwaitinfo.
 */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher/internal.h"

pid_t launch_raw_fork(void)
{
    /* x86-64/arm64 argument order (flags, stack, ...); a NULL stack means "like fork". */
    return (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, 0UL, 0UL, 0UL);
}

_Noreturn void launch_init_loop(pid_t main, const sigset_t *forward)
{
    sigset_t set = *forward;

    sigaddset(&set, SIGCHLD);
    (void)sigprocmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        siginfo_t si;
        pid_t p;
        int st, sig;

        /* Reap first: the workload may be gone before we ever wait. */
        while ((p = waitpid(-1, &st, WNOHANG)) > 0)
            if (p == main)
                /* Returning kills the rest of the namespace (the kernel SIGKILLs it). */
                _exit(launch_status_to_code(st));
        if (p < 0 && errno == ECHILD)
            _exit(LAUNCH_EXIT_SETUP); /* cannot happen: main is our child */
        sig = sigwaitinfo(&set, &si);
        if (sig < 0 || sig == SIGCHLD)
            continue;
        /* SI_KERNEL: a terminal signal sent to the whole process group; CMD has it. */
        if (si.si_code != SI_KERNEL)
            (void)kill(main, sig);
    }
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The child side, from the clone to the exec. It runs in a raw-cloned copy of the parent,
 * so it only makes system calls and may _exit(); on any failure it reports {stage, errno}
 * to the parent through report_fd and exits with a shell-like code.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "launcher/internal.h"
#include "launcher/rootfs.h"

_Noreturn void launch_child_fail_detail(int report_fd, enum launch_stage stage, int err,
                                        const char *detail)
{
    struct launch_report rep = {.stage = stage, .err = err};
    int code = LAUNCH_EXIT_SETUP;

    if (detail) {
        size_t n = strnlen(detail, sizeof(rep.detail) - 1);

        memcpy(rep.detail, detail, n);
        rep.detail[n] = '\0';
    }
    if (report_fd >= 0)
        (void)!write(report_fd, &rep, sizeof(rep));
    if (stage == LAUNCH_STAGE_EXEC)
        code = (err == ENOENT || err == ENOTDIR) ? LAUNCH_EXIT_NOTFOUND : LAUNCH_EXIT_NOEXEC;
    _exit(code);
}

_Noreturn void launch_child_fail(int report_fd, enum launch_stage stage, int err)
{
    launch_child_fail_detail(report_fd, stage, err, NULL);
}

/* The workload's filesystem, while still root and before the workload is forked: the
 * mounts need CAP_SYS_ADMIN, and the init must live in the new root too (nothing of the
 * host may stay reachable through it). launch_fs_enter mallocs nothing. */
static void enter_fs(const struct launch_child *c)
{
    struct cg_err e = {0};
    int r;

    if (!c->fs)
        return;
    r = launch_fs_enter(c->fs, &e);
    if (r < 0)
        launch_child_fail_detail(c->report_fd, LAUNCH_STAGE_ROOTFS, -r, e.detail);
}

/* After the filesystem is built: cgroupfs read-only (cgroupfs.c). */
static void view_cgroupfs(const struct launch_child *c)
{
    char detail[320];
    int r;

    if (!c->cgroupfs_ro)
        return;
    r = launch_cgroupfs_read_only(c, detail, sizeof(detail));
    if (r < 0)
        launch_child_fail_detail(c->report_fd, LAUNCH_STAGE_MOUNT, -r, detail);
}

/*
 * execvpe() as a shell searches: $PATH of the workload's environment (not ours), and 127
 * unless a file was found that could not be executed. glibc reports EACCES when merely a
 * directory on the path was unreadable (e.g. /root/... for nobody), where a shell says
 * "not found". Returns the errno to report.
 */
static int exec_search(const char *file, char *const argv[], char *const envp[], const char *path)
{
    char buf[4096];
    bool denied = false;
    size_t fl = strlen(file);

    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return errno;
    }
    for (const char *p = path;;) {
        const char *end = strchrnul(p, ':');
        size_t dl = (size_t)(end - p);

        if (dl + fl + 2 <= sizeof(buf)) {
            struct stat st;
            int err;

            /* An empty entry is the current directory (POSIX). */
            memcpy(buf, dl ? p : ".", dl ? dl : 1);
            dl = dl ? dl : 1;
            buf[dl] = '/';
            memcpy(buf + dl + 1, file, fl + 1);
            execve(buf, argv, envp);
            err = errno;
            if (err == EACCES) {
                if (stat(buf, &st) == 0)
                    denied = true; /* the file is there, we may not run it */
            } else if (err != ENOENT && err != ENOTDIR && err != ELOOP && err != ENAMETOOLONG)
                return err; /* found, but not executable: ENOEXEC, ETXTBSY, ... */
        }
        if (!*end)
            break;
        p = end + 1;
    }
    return denied ? EACCES : ENOENT;
}

/* Turns into CMD: credentials, no_new_privs, working directory, fd table, mask, exec. */
static _Noreturn void exec_workload(struct launch_child *c)
{
    enum launch_stage st;

    st = launch_creds_apply(c->creds);
    if (st != LAUNCH_STAGE_NONE)
        launch_child_fail(c->report_fd, st, errno);
    /* A credential change clears the parent-death signal (kernel: commit_creds); set it
     * again so CMD dies with corral when there is no init in between. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        launch_child_fail(c->report_fd, LAUNCH_STAGE_SETUID, errno);
    if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        launch_child_fail(c->report_fd, LAUNCH_STAGE_NNP, errno);
    /* After the switch, so the directory is checked with the workload's own rights. */
    if (chdir(c->workdir) < 0)
        launch_child_fail_detail(c->report_fd, LAUNCH_STAGE_CHDIR, errno, c->workdir);
    /* Only 0, 1, 2 survive the exec; report_fd is O_CLOEXEC already. */
    if (launch_fds_cloexec_from(3) < 0)
        launch_child_fail(c->report_fd, LAUNCH_STAGE_FDS, errno);
    (void)sigprocmask(SIG_SETMASK, &c->exec_mask, NULL);
    launch_child_fail(c->report_fd, LAUNCH_STAGE_EXEC,
                      exec_search(c->argv[0], c->argv, c->envp, c->path));
}

/*
 * Placement first, before anything of the workload's setup. With a manager that has the
 * child place itself (CG_PLACE_SELF) the child moves itself with the fds the parent sends
 * (core/cgroup.h says why that is cheaper than the parent moving it); then, when held,
 * it waits for the parent's go (placed by pid, id maps written).
 */
static void enter_group(struct launch_child *c)
{
    int r;

    if (c->place_fd >= 0) {
        int fds[_CG_H_MAX], h = 0;

        r = launch_place_recv(c->place_fd, fds);
        if (r == 0)
            _exit(LAUNCH_EXIT_SETUP); /* the parent gave up: exit without a word */
        if (r < 0)
            launch_child_fail(c->report_fd, LAUNCH_STAGE_SYNC, -r);
        r = cg_self_attach(fds, &h);
        if (r < 0)
            launch_child_fail_detail(c->report_fd, LAUNCH_STAGE_SYNC, -r,
                                     cg_hier_to_string((enum cg_hier)h));
        cg_self_attach_close(fds);
        (void)close(c->place_fd);
    }
    if (c->hold) {
        char b;
        /* EOF: the parent could not place us and gave up; exit without a word. */
        if (read(c->sync_fd, &b, 1) != 1)
            _exit(LAUNCH_EXIT_SETUP);
    }
    if (c->sync_fd >= 0)
        (void)close(c->sync_fd);
}

_Noreturn void launch_child_main(struct launch_child *c)
{
    pid_t main_pid;
    int r;

    /* Die with corral: a workload nobody waits for would outlive its removed group. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    enter_group(c);
    if (c->clone_ns & CLONE_NEWNS) {
        r = launch_ns_mounts_private(c->mounts_slave);
        if (r < 0)
            launch_child_fail(c->report_fd, LAUNCH_STAGE_MOUNT, -r);
    }
    if ((c->clone_ns & CLONE_NEWUTS) && c->hostname) {
        r = launch_ns_hostname(c->hostname);
        if (r < 0)
            launch_child_fail(c->report_fd, LAUNCH_STAGE_HOSTNAME, -r);
    }
    if (c->clone_ns & CLONE_NEWNET) {
        r = launch_ns_loopback_up();
        if (r < 0)
            launch_child_fail(c->report_fd, LAUNCH_STAGE_LOOPBACK, -r);
    }
    /* Only now that we are in the instance group: a cgroup namespace is rooted at the
     * creator's cgroup at the time of unshare. */
    if (c->cgroupns && unshare(CLONE_NEWCGROUP) < 0)
        launch_child_fail(c->report_fd, LAUNCH_STAGE_CGROUPNS, errno);

    if (!(c->clone_ns & CLONE_NEWPID)) {
        /* Only the host mode gets here: a root of its own needs the PID namespace
         * (policy validation, and launch_fs_enter refuses otherwise). */
        enter_fs(c);
        view_cgroupfs(c);
        exec_workload(c);
    }

    /* PID 1 of the new namespace. The /proc of the old namespace shows the host's
     * processes; mount one for ours (the mount namespace is implied by PID, run.c).
     * With a root of its own, launch_fs_enter mounts /proc in that root instead. */
    if (!c->fs || !(c->fs->root_directory || c->fs->layers)) {
        r = launch_ns_mount_proc();
        if (r < 0)
            launch_child_fail(c->report_fd, LAUNCH_STAGE_PROC, -r);
    }
    enter_fs(c);
    view_cgroupfs(c);
    {
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        /* Before the fork, so no child exit is missed by sigwaitinfo. */
        (void)sigprocmask(SIG_BLOCK, &chld, NULL);
    }
    (void)signal(SIGCHLD, SIG_DFL);
    main_pid = launch_raw_fork();
    if (main_pid < 0)
        launch_child_fail(c->report_fd, LAUNCH_STAGE_FORK, errno);
    if (main_pid == 0)
        exec_workload(c);
    (void)prctl(PR_SET_NAME, "corral-init");
    /* The init keeps no fd but 0, 1, 2: a pipe the caller waits on must close with CMD. */
    (void)launch_fds_close_from(3);
    launch_init_loop(main_pid, &c->forward);
}

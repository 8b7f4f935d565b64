/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared between the launcher's own files. Everything the child needs is prepared by the
 * parent before the clone (names resolved, environment built, memory allocated), so the
 * child only makes system calls: it is a copy of the parent made by a raw clone, where
 * malloc, stdio and NSS are off limits.
 */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "launcher/launcher.h"

/* The credentials to switch to, resolved in the parent. */
struct launch_creds {
    bool change;    /* false: stay as we are (root) */
    bool set_user;  /* User= given: setresuid too */
    bool synthetic; /* User= a numeric id with no entry: uid = gid = that id, no others */
    uid_t uid;
    gid_t gid;
    size_t ngroups; /* supplementary groups (initgroups semantics); 0 with only Group= */
    gid_t *groups;
    char *user, *home, *shell; /* for USER/LOGNAME/HOME/SHELL; NULL without User= */
};

int launch_creds_resolve(const struct pol_policy *p, struct launch_creds *ret, struct cg_err *e);
void launch_creds_done(struct launch_creds *c);
/* Child side: setgroups, setgid, setuid, in that order, each verified. Returns 0 or the
 * failed stage (errno set). */
enum launch_stage launch_creds_apply(const struct launch_creds *c);

/* What the cloned child does. */
struct launch_child {
    unsigned long clone_ns; /* CLONE_NEW* flags given to clone */
    bool cgroupns;          /* unshare(CLONE_NEWCGROUP) once placed */
    bool hold;              /* wait on sync_fd to be placed (and mapped) first */
    int place_fd;           /* CG_PLACE_SELF: socket the placement fds arrive on (place.c), or -1 */
    int sync_fd;            /* read end; the parent writes one byte, or closes to abort */
    int report_fd;          /* write end, O_CLOEXEC: {stage, errno} on failure */
    const char *hostname;   /* NULL: keep */
    const char *workdir;    /* never NULL; in the workload's root when fs has one */
    const struct pol_fs *fs; /* [Filesystem] to enter (launch_fs_enter), or NULL */
    bool no_new_privs;
    /* cgroupfs (cgroupfs.c): made read-only in the child's own mount namespace; that
     * namespace follows the caller's mounts (MS_SLAVE) when only this asked for it
     * (launch_ns_plan); and the caller's namespace, which the child must not be in. */
    bool cgroupfs_ro;
    bool mounts_slave;
    struct {
        dev_t dev;
        ino_t ino;
    } caller_mnt_ns;
    const struct launch_creds *creds;
    char *const *argv;
    char *const *envp;
    const char *path;   /* $PATH from envp (or the default) to look CMD up in */
    sigset_t exec_mask; /* signal mask CMD starts with (the caller's) */
    sigset_t forward;   /* signals the init forwards */
};

/* place.c: the instance's tasks fds (one per hierarchy, -1 where none) from the parent
 * to the child. recv: 1 received, 0 the parent closed the socket, or -errno; it makes
 * system calls only (the child is a raw-cloned copy). */
int launch_place_send(int sock, const int fds[_CG_H_MAX]);
int launch_place_recv(int sock, int fds[_CG_H_MAX]);

/* Child entry: never returns. */
_Noreturn void launch_child_main(struct launch_child *c);

/* Parent side, before the clone (ns.c): whether the child makes cgroupfs read-only, and
 * a mount namespace for that when the policy gave it none and the workload runs as
 * root (uid 0 may write cgroupfs; another uid may not, its files being root's). */
void launch_ns_plan(struct launch_child *c);

/* Child side of the namespaces (ns.c). Each returns 0 or -errno. */
int launch_ns_mounts_private(bool slave);
int launch_ns_mount_proc(void);
int launch_ns_loopback_up(void);
int launch_ns_hostname(const char *name);

/* cgroupfs.c, child side: every cgroup mount read-only (and, with c->cgroupns, a fresh
 * read-only mount of each on top); detail says what failed. 0 or -errno. */
int launch_cgroupfs_read_only(const struct launch_child *c, char *detail, size_t size);

/* PID 1 of the new PID namespace: forwards `forward` to main, reaps everything, exits
 * with main's status once it is gone (init.c). */
_Noreturn void launch_init_loop(pid_t main, const sigset_t *forward);

/* fork() by raw system call: the caller may itself be a raw-cloned copy in which glibc's
 * own fork bookkeeping is stale. */
pid_t launch_raw_fork(void);

/* fds.c: marks every fd >= from close-on-exec, or closes them. 0 or -errno. */
int launch_fds_cloexec_from(int from);
int launch_fds_close_from(int from);

/* spawn.c: clones the child (into cgroup_fd when >= 0). On success *ret_pid, *ret_pidfd
 * (-1 if the kernel has no pidfds) and *ret_into (placed by the kernel) are set; when
 * !*ret_into the child is held and the parent must place it, then release it. */
int launch_spawn(struct launch_child *c, int cgroup_fd, pid_t *ret_pid, int *ret_pidfd,
                 bool *ret_into);

/* wait.c: waits for pid, forwarding what arrives on sigfd. Returns 0 and the status. */
int launch_wait(pid_t pid, int pidfd, int sigfd, int *ret_status);
/* Reads and drops what is pending on sigfd (non-blocking). */
void launch_drain_signals(int sigfd);

/* The default forwarded signals. */
void launch_forward_set(sigset_t *ret);

/* Report from the child: written once, read after it exited. Under PIPE_BUF, so the
 * one write is atomic. */
struct launch_report {
    int stage;
    int err;
    char detail[512]; /* NUL-terminated; "" but for LAUNCH_STAGE_ROOTFS */
};
_Noreturn void launch_child_fail(int report_fd, enum launch_stage stage, int err);
_Noreturn void launch_child_fail_detail(int report_fd, enum launch_stage stage, int err,
                                        const char *detail);

/* workload.c: -EBUSY (with a message) when the workload group is frozen or freezing. */
int launch_check_not_frozen(struct cg_group *workload, struct cg_err *e);

/* A wait status as a shell reports it: the exit code, or 128+signal. */
int launch_status_to_code(int st);

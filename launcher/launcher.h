/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * corral run: start one process tree in a new instance group of a workload, isolated in
 * the namespaces its policy lists, and placed in its group before it runs a single
 * instruction of the command.
 *
 * Placement. On cgroup v2 the child is created directly inside the instance group with
 * clone3(CLONE_INTO_CGROUP) (kernel 5.7+). When that is refused (ENOSYS, E2BIG,
 * EOPNOTSUPP, EBUSY, EACCES), or when LAUNCH_FORCE_FALLBACK is given, the child is
 * created held on a sync pipe; the parent writes its pid into the instance group and only
 * then releases it. On v1/hybrid the child is created waiting on a socket for the
 * instance's "tasks" files, one per hierarchy, and moves itself by writing "0" to each
 * before anything else (core/cgroup.h: a thread that moves itself spares the kernel's
 * global lock and its RCU grace period, 13-15 ms, that writing another pid costs).
 * Either way nothing of CMD runs outside the group.
 *
 * Filesystem. A policy's [Filesystem] (struct pol_fs) is built by the child before the
 * workload is forked and before privileges are dropped (launcher/rootfs.h): in the init
 * with a PID namespace (required for a root of its own), else in the child itself. A
 * failure there is reported as LAUNCH_STAGE_ROOTFS with the step and path in
 * failed_detail; the mounts live in the child's own namespace and die with it.
 *
 * Process tree. With a PID namespace the cloned child is PID 1 of it: a minimal init
 * ("corral-init") that mounts a fresh /proc, forks the workload as PID 2, forwards
 * signals to it, reaps every zombie, and exits with the workload's status when the
 * workload exits (the kernel then kills whatever else lives in the namespace). Without a
 * PID namespace the cloned child execs CMD itself.
 *
 * What is left behind: nothing. After the workload exits, the instance group's final
 * usage is read and handed to the on_final_usage hook, every process still in the group
 * (daemons the workload forked) is killed -- the documented policy is "the instance ends
 * with its main process" -- and the group is removed. Every error path removes the group
 * too; a group that existed before (same --name) is refused and never touched. An
 * instance removed while it ran (`corral remove --kill`, which kills the workload and
 * records the final usage itself) is not recorded twice: the end runs under the group's
 * lock (core/cgroup.h, cg_group_lock) and finds it gone (launch_result.removed).
 *
 * Frozen workloads. If the workload group is frozen (or freezing), launch_run refuses with
 * -EBUSY: a child placed there would stop before its first instruction and `corral run`
 * would hang with no sign why. Thaw the workload first.
 *
 * Signals. launch_run blocks the forwarded signals (default SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGUSR1, SIGUSR2) in the calling thread for its duration and reads them from a
 * signalfd; callers with other threads must block them there too. A signal sent by a
 * process (kill(1)) is forwarded to the workload. One the kernel generates for the whole
 * foreground process group (Ctrl-C on a terminal, si_code SI_KERNEL) reaches the workload
 * directly, so it is not forwarded a second time. SIGCHLD must not be SIG_IGN.
 *
 * The child gets PR_SET_PDEATHSIG(SIGKILL): if corral dies, the workload dies with it
 * rather than run on in a group nobody will remove (the "parent" is the calling thread).
 *
 * The library never exits and keeps no global state; only the child side _exit()s.
 */

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "controllers/controller.h"
#include "core/cgroup.h"
#include "policy/policy.h"

/* Flags for launch_opts.flags. */
enum {
    /* Use the parent-writes-pid path even where clone3(CLONE_INTO_CGROUP) works (tests,
     * and the CORRAL_LAUNCH_FALLBACK=1 switch of `corral run`). */
    LAUNCH_FORCE_FALLBACK = 1u << 0,
};

/* Where the child failed before CMD ran (reported by the child through a pipe). */
enum launch_stage {
    LAUNCH_STAGE_NONE,
    LAUNCH_STAGE_SYNC,  /* waiting to be placed */
    LAUNCH_STAGE_MOUNT, /* making mounts private */
    LAUNCH_STAGE_PROC,  /* mounting /proc */
    LAUNCH_STAGE_HOSTNAME,
    LAUNCH_STAGE_LOOPBACK, /* bringing lo up */
    LAUNCH_STAGE_CGROUPNS,
    LAUNCH_STAGE_ROOTFS, /* [Filesystem]: launch_fs_enter (failed_detail says which step) */
    LAUNCH_STAGE_FORK,   /* init forking the workload */
    LAUNCH_STAGE_SETGROUPS,
    LAUNCH_STAGE_SETGID,
    LAUNCH_STAGE_SETUID,
    LAUNCH_STAGE_NNP, /* prctl(PR_SET_NO_NEW_PRIVS) */
    LAUNCH_STAGE_CHDIR,
    LAUNCH_STAGE_FDS,
    LAUNCH_STAGE_EXEC,
    _LAUNCH_STAGE_MAX,
};

const char *launch_stage_to_string(enum launch_stage s);

/* Exit codes of a child that failed before CMD ran, as a shell reports them. */
#define LAUNCH_EXIT_NOTFOUND 127 /* CMD not found */
#define LAUNCH_EXIT_NOEXEC   126 /* CMD found but cannot be executed */
#define LAUNCH_EXIT_SETUP    125 /* any other setup stage failed */

struct launch_result {
    int exit_code;            /* what `corral run` exits with: code, or 128+signal */
    int wait_status;          /* raw status of the cloned child (init or CMD) */
    enum launch_stage failed; /* LAUNCH_STAGE_NONE when CMD was executed */
    int failed_errno;         /* positive errno of the failed stage */
    char failed_detail[512];  /* the step and path that failed (LAUNCH_STAGE_ROOTFS), or "" */
    bool into_cgroup;         /* placed by clone3(CLONE_INTO_CGROUP), not the fallback */
    char group[256];          /* instance group, relative to the corral root */
    uint64_t wall_usec;       /* from start to exit of the cloned child (monotonic) */
    uint64_t start_ns;        /* CLOCK_REALTIME, for the ledger: when its group got it */
    uint64_t end_ns;          /* and once the child was reaped */
    struct ctl_usage usage;   /* final usage of the instance group (CTL_UNSET: unknown) */
    int hook_error;           /* what on_final returned (negative errno), or 0 */
    int cleanup_error;        /* emptying/removing the instance failed (e says why), or 0 */
    /* The instance was removed while the command ran (`corral remove`, which recorded its
     * final usage): on_final was not called, usage is unknown, nothing was left to remove. */
    bool removed;
};

/* Called once the cloned child has exited, before the instance group is emptied and
 * removed: the place to record the final usage (accounting's ledger). The group is still
 * open and readable. A negative return lands in res->hook_error for the caller to
 * report; the launch itself already happened and its status stands. */
typedef int (*launch_final_fn)(void *userdata, struct cg_group *instance,
                               const struct launch_result *res);

/* Called once the child is started and placed, before waiting for it, with the instance
 * group: work the caller needs after the exit (opening the ledger) runs here, while the
 * child sets itself up and runs, instead of after it. Signals for the workload that
 * arrive meanwhile are held in the signalfd and forwarded once it returns. */
typedef void (*launch_started_fn)(void *userdata, struct cg_group *instance);

struct launch_opts {
    const struct pol_policy *policy; /* namespaces, hostname, user, group, workdir, ... */
    const char *id;                  /* instance name, [a-z0-9_-]{1,64}; NULL: "run-<pid>" */
    char *const *argv;               /* CMD and ARGS, NULL-terminated, argv[0] looked up in $PATH */
    char *const *envp;               /* environment given to CMD unless clear_env; NULL: environ */
    unsigned flags;                  /* LAUNCH_* */
    launch_final_fn on_final;        /* optional */
    launch_started_fn on_started;    /* optional */
    void *userdata;
};

/* Checks what can be checked before any group is touched: a command is given, the
 * instance name is valid (-EINVAL, -ENAMETOOLONG: e says which rule it broke), the
 * policy's user and group exist (-ESRCH). `corral run` calls it before the workload's
 * groups are made and the ledger is opened, so that bad input leaves nothing behind. */
int launch_check(const struct launch_opts *o, struct cg_err *e);

/*
 * Runs o->argv in a new instance of `workload` (an open workload group) and waits for it.
 * Returns 0 when a child was started: its status, or the stage it failed at, in *ret;
 * if emptying or removing the instance failed afterwards, ret->cleanup_error says so (and
 * e why). A negative errno when nothing was started (nothing is left behind then either):
 *   -ESRCH   the policy's user or group does not exist
 *   -EEXIST  an instance of that name exists already
 *   -EBUSY   the workload is frozen
 *   other    the kernel refused a namespace, cgroupfs failed, ...
 */
int launch_run(struct cg_group *workload, const struct launch_opts *o, struct launch_result *ret,
               struct cg_err *e);

/* Opens the workload group for launch_run_open (creating or updating it as its policy
 * says). 0 or a negative errno with e set. */
typedef int (*launch_workload_fn)(void *userdata, struct cg_group **ret, struct cg_err *e);

/*
 * launch_run for a workload group that open() makes and opens. On cgroup v1 it runs in a
 * second thread, together with the instance's creation, while the kernel builds the
 * child's namespaces (the child waits to be placed: nothing of CMD runs before); on v2
 * first, since clone3(CLONE_INTO_CGROUP) needs the group. That overlap is a tenth of a
 * `corral run` of a short command. Errors as launch_run, and open()'s own.
 */
int launch_run_open(struct cg_ctx *ctx, launch_workload_fn open, void *userdata,
                    const struct launch_opts *o, struct launch_result *ret, struct cg_err *e);

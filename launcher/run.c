/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * launch_run: instance group, clone, placement, wait, final usage, removal. Every exit
 * after the instance group was made goes through finish(), which empties and removes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/name.h"
#include "launcher/env.h"
#include "launcher/internal.h"
#include "launcher/rootfs.h"

static const char *const stage_names[_LAUNCH_STAGE_MAX] = {
    [LAUNCH_STAGE_NONE] = "none",
    [LAUNCH_STAGE_SYNC] = "placement",
    [LAUNCH_STAGE_MOUNT] = "private mounts",
    [LAUNCH_STAGE_PROC] = "mounting /proc",
    [LAUNCH_STAGE_HOSTNAME] = "hostname",
    [LAUNCH_STAGE_LOOPBACK] = "bringing up lo",
    [LAUNCH_STAGE_CGROUPNS] = "cgroup namespace",
    [LAUNCH_STAGE_ROOTFS] = "filesystem isolation",
    [LAUNCH_STAGE_FORK] = "forking the workload",
    [LAUNCH_STAGE_SETGROUPS] = "setgroups",
    [LAUNCH_STAGE_SETGID] = "setgid",
    [LAUNCH_STAGE_SETUID] = "setuid",
    [LAUNCH_STAGE_NNP] = "no_new_privs",
    [LAUNCH_STAGE_CHDIR] = "working directory",
    [LAUNCH_STAGE_FDS] = "closing fds",
    [LAUNCH_STAGE_EXEC] = "exec",
};

const char *launch_stage_to_string(enum launch_stage s)
{
    return s >= 0 && s < _LAUNCH_STAGE_MAX ? stage_names[s] : NULL;
}

static unsigned long clone_flags(unsigned ns)
{
    unsigned long f = 0;

    if (ns & POL_NS_PID)
        f |= CLONE_NEWPID | CLONE_NEWNS; /* a PID namespace needs its own /proc mount */
    if (ns & POL_NS_MNT)
        f |= CLONE_NEWNS;
    if (ns & POL_NS_NET)
        f |= CLONE_NEWNET;
    if (ns & POL_NS_IPC)
        f |= CLONE_NEWIPC;
    if (ns & POL_NS_UTS)
        f |= CLONE_NEWUTS;
    if (ns & POL_NS_USER)
        f |= CLONE_NEWUSER;
    return f;
}

/* Creates the instance group: `id` itself when given (refused if it exists: it is not
 * ours to remove), else run-<pid>, or run-<pid>-<random> when that is taken. */
static int make_instance(struct cg_group *w, const char *id, struct cg_group **ret,
                         struct cg_err *e)
{
    const char *wl = strrchr(cg_group_path(w), '/');
    char name[CG_NAME_MAX + 1];
    int r;

    wl = wl ? wl + 1 : cg_group_path(w);
    if (id) {
        r = cg_name_check("instance name", id, e);
        if (r < 0)
            return r;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        struct cg_group *g = NULL;
        bool created = false;
        unsigned rnd = 0;

        if (id)
            snprintf(name, sizeof(name), "%s", id);
        else if (attempt == 0)
            snprintf(name, sizeof(name), "run-%d", (int)getpid());
        else {
            (void)!getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK);
            snprintf(name, sizeof(name), "run-%d-%08x", (int)getpid(), rnd);
        }
        r = cg_group_child(w, name, true, &g, &created, e);
        if (r < 0)
            return r;
        if (created) {
            *ret = g;
            return 0;
        }
        cg_group_free(g);
        if (id)
            return cg_err_set(e, -EEXIST, cg_group_path(w), NULL, "instance %s/%s exists already",
                              wl, name);
    }
    return cg_err_set(e, -EEXIST, cg_group_path(w), NULL, "no free instance name");
}

/* User namespace: an identity map (see README: a subordinate range is future work). */
static int write_id_maps(pid_t pid, struct cg_err *e)
{
    static const char *const files[] = {"uid_map", "gid_map"};
    char path[64];

    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        int r;
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[i]);
        r = cg_write_at(AT_FDCWD, path, "0 0 4294967295");
        if (r < 0)
            return cg_err_set(e, r, NULL, NULL, "cannot write %s", path);
    }
    return 0;
}

static uint64_t now_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Removes the instance, killing what is left in it first if need be. With a PID namespace
 * the group is empty already: the kernel lets the init finish exiting only once every
 * process of its namespace is gone. So try the removal first and kill only on EBUSY. */
static int finish(struct cg_group *inst, struct cg_err *e)
{
    struct cg_err ignored;
    int r;

    r = cg_group_remove(inst, &ignored);
    if (r != -EBUSY)
        return r < 0 ? cg_group_remove(inst, e) : 0;
    r = cg_group_kill(inst, e);
    if (r < 0) {
        (void)cg_group_remove(inst, &ignored);
        return r;
    }
    return cg_group_remove(inst, e);
}

/*
 * The end of an instance whose command has exited: its final usage, while the group still
 * exists, for the ledger (via on_final) and -v; then its removal. Under the group's lock
 * (cg_group_lock): a `corral remove` that holds it killed the workload and records and
 * removes the instance itself, so once the lock is ours the instance is either still
 * there (ours to finish) or gone (res->removed). The launch happened: its status stands
 * even if the cleanup fails (res->cleanup_error, reported by the caller).
 */
static void end_of_instance(struct cg_group *inst, const struct launch_opts *o,
                            struct launch_result *res, struct cg_err *e)
{
    _cleanup_close_ int lock = -1;

    if (cg_group_lock(inst, &lock) == -ENOENT) {
        res->removed = true;
        return;
    }
    (void)ctl_read_usage_all(inst, &res->usage);
    if (o->on_final)
        res->hook_error = o->on_final(o->userdata, inst, res);
    res->cleanup_error = finish(inst, e);
}

struct run_state {
    struct launch_child c;
    struct launch_creds creds;
    char **env;
    int rep[2], syn[2], place[2];
    int sigfd, pidfd;
    pid_t pid;
};

static void state_done(struct run_state *s)
{
    closep(&s->rep[0]);
    closep(&s->rep[1]);
    closep(&s->syn[0]);
    closep(&s->syn[1]);
    closep(&s->place[0]);
    closep(&s->place[1]);
    closep(&s->sigfd);
    closep(&s->pidfd);
    launch_env_free(s->env);
    launch_creds_done(&s->creds);
}

int launch_check(const struct launch_opts *o, struct cg_err *e)
{
    struct launch_creds c;
    int r;

    if (!o->argv || !o->argv[0] || !o->argv[0][0])
        return cg_err_set(e, -EINVAL, NULL, NULL, "no command to run");
    if (o->id) {
        r = cg_name_check("instance name", o->id, e);
        if (r < 0)
            return r;
    }
    r = launch_creds_resolve(o->policy, &c, e);
    if (r < 0)
        return r;
    launch_creds_done(&c);
    return 0;
}

static int prepare(struct run_state *s, const struct launch_opts *o, bool self, struct cg_err *e)
{
    const struct pol_policy *p = o->policy;
    extern char **environ;
    int r;

    if (!o->argv || !o->argv[0] || !o->argv[0][0])
        return cg_err_set(e, -EINVAL, NULL, NULL, "no command to run");
    r = launch_creds_resolve(p, &s->creds, e);
    if (r < 0)
        return r;
    r = launch_env_build(o->envp ? o->envp : environ, p->clear_env, &s->creds, &s->env);
    if (r < 0)
        return r;
    s->c.clone_ns = clone_flags(p->namespaces);
    s->c.cgroupns = p->namespaces & POL_NS_CGROUP;
    s->c.hold = p->namespaces & POL_NS_USER; /* the parent writes the id maps first */
    s->c.hostname = (p->namespaces & POL_NS_UTS) ? (p->hostname[0] ? p->hostname : p->name) : NULL;
    s->c.workdir = p->workdir[0] ? p->workdir : "/";
    s->c.no_new_privs = p->no_new_privs;
    s->c.fs = launch_fs_wanted(&p->fs) ? &p->fs : NULL;
    s->c.creds = &s->creds;
    launch_ns_plan(&s->c); /* cgroupfs read-only, in a mount namespace of its own */
    s->c.argv = o->argv;
    s->c.envp = s->env;
    s->c.path = launch_env_path(s->env);
    launch_forward_set(&s->c.forward);
    if (pipe2(s->rep, O_CLOEXEC) < 0 || pipe2(s->syn, O_CLOEXEC) < 0)
        return -errno;
    if (fcntl(s->rep[0], F_SETFL, O_NONBLOCK) < 0)
        return -errno;
    if (self && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s->place) < 0)
        return -errno;
    s->c.report_fd = s->rep[1];
    s->c.sync_fd = s->syn[0];
    s->c.place_fd = s->place[1];
    return 0;
}

/*
 * What the child is placed in: the workload group (opened by the caller, or by `open`),
 * checked not frozen, the new instance in it, and how the child enters it (cg_place). When
 * the child places itself (v1), with `open` this runs in a second thread while the main one clones
 * the child.
 */
struct instance {
    struct cg_group *workload; /* given, or opened by open() */
    bool own_workload;
    launch_workload_fn open;
    void *userdata;
    const char *id;
    struct cg_group *inst;
    struct cg_place place; /* how the child enters inst (core/cgroup.h) */
    int r;
    struct cg_err e;
};

static void *instance_make(void *userdata)
{
    struct instance *x = userdata;

    if (!x->workload) {
        x->r = x->open(x->userdata, &x->workload, &x->e);
        if (x->r < 0)
            return NULL;
        x->own_workload = true;
    }
    x->r = launch_check_not_frozen(x->workload, &x->e);
    if (x->r >= 0)
        x->r = make_instance(x->workload, x->id, &x->inst, &x->e);
    if (x->r >= 0) {
        x->r = cg_group_place_prepare(x->inst, &x->place, &x->e);
        if (x->r < 0) {
            (void)finish(x->inst, NULL);
            cg_group_free(x->inst);
            x->inst = NULL;
        }
    }
    return NULL;
}

static void instance_done(struct instance *x)
{
    cg_place_close(&x->place);
    cg_group_free(x->inst);
    x->inst = NULL;
    if (x->own_workload)
        cg_group_free(x->workload);
    x->workload = NULL;
}

/* Gives up a child that was never placed or released: it exits on EOF; make sure, and
 * reap it. */
static void abandon(struct run_state *s)
{
    closep(&s->place[0]);
    closep(&s->syn[1]);
    (void)kill(s->pid, SIGKILL);
    (void)waitpid(s->pid, NULL, 0);
    s->pid = -1;
}

/*
 * Clones the child and places it the manager's way (on failure the caller removes x->inst).
 * CG_PLACE_CLONE (v2): into the instance with CLONE_INTO_CGROUP, or held and placed by pid
 * (cg_group_attach) when the kernel refuses that. CG_PLACE_SELF (v1): the child waits on the
 * place socket for the fds it moves itself with; with a deferred instance (x->inst still NULL) the
 * instance is made in a second thread meanwhile.
 */
static int start(struct run_state *s, struct instance *x, const struct launch_opts *o,
                 bool deferred, struct launch_result *res, struct cg_err *e)
{
    bool into = false;
    pthread_t maker;
    int cgfd = -1, r;

    if (!deferred && !(o->flags & LAUNCH_FORCE_FALLBACK))
        cgfd = x->place.clone_fd;
    if (deferred && pthread_create(&maker, NULL, instance_make, x) != 0)
        deferred = false, (void)instance_make(x);
    if (x->r < 0 && !deferred)
        goto maker_failed;
    r = launch_spawn(&s->c, cgfd, &s->pid, &s->pidfd, &into);
    if (deferred)
        (void)pthread_join(maker, NULL);
    if (r < 0)
        return cg_err_set(e, r, x->workload ? cg_group_path(x->workload) : NULL, NULL,
                          r == -EPERM || r == -EINVAL || r == -ENOSPC || r == -EUSERS
                              ? "the kernel refused to create the namespaces"
                              : "cannot create the child process");
    res->into_cgroup = into;
    closep(&s->rep[1]);
    closep(&s->syn[0]);
    closep(&s->place[1]);
    if (x->r < 0) {
        abandon(s);
        goto maker_failed;
    }
    snprintf(res->group, sizeof(res->group), "%s", cg_group_path(x->inst));
    /* Placed first (self: the fds handed over; clone refused: by pid), then the id
     * maps of a user namespace, then released if held. */
    if (s->place[0] >= 0) {
        r = launch_place_send(s->place[0], x->place.self);
        if (r < 0)
            r = cg_err_set(e, r, cg_group_path(x->inst), "tasks",
                           "cannot hand the child its group");
        closep(&s->place[0]);
    } else if (!into)
        r = cg_group_attach(x->inst, s->pid, e);
    cg_place_close(&x->place); /* the child is in, or never will be */
    if (r >= 0 && (s->c.clone_ns & CLONE_NEWUSER))
        r = write_id_maps(s->pid, e);
    if (r >= 0 && s->c.hold && write(s->syn[1], "g", 1) != 1)
        r = cg_err_set(e, -errno, cg_group_path(x->inst), NULL, "cannot release the child");
    closep(&s->syn[1]);
    if (r < 0) {
        abandon(s);
        return r;
    }
    return 0;
maker_failed:
    if (e)
        *e = x->e;
    return x->r;
}

/*
 * Before the clone: the child's setup and the instance, unless the manager lets the child
 * place itself (v1), in which case an instance still to be opened is made while the
 * kernel builds the child's namespaces. Placing by clone (v2: CLONE_INTO_CGROUP) needs it
 * first.
 */
static int setup(struct run_state *s, struct instance *x, struct cg_ctx *ctx,
                 const struct launch_opts *o, bool *ret_deferred, struct cg_err *e)
{
    bool self = cg_ctx_place_how(ctx) == CG_PLACE_SELF;
    int r;

    r = prepare(s, o, self, e);
    if (r < 0)
        return r;
    *ret_deferred = self && x->open;
    if (!*ret_deferred) {
        (void)instance_make(x);
        if (x->r < 0) {
            if (e)
                *e = x->e;
            return x->r;
        }
    }
    return 0;
}

/* The run failed after the clone: the child is killed and reaped, the instance removed. */
static void give_up(struct run_state *s, struct instance *x)
{
    struct cg_err ignored;

    if (s->pid > 0) {
        (void)kill(s->pid, SIGKILL);
        (void)waitpid(s->pid, NULL, 0);
    }
    if (x->inst)
        (void)finish(x->inst, &ignored);
}

/* What the child reported on the report pipe before it exited, if it failed its setup. */
static void read_report(int fd, struct launch_result *res)
{
    struct launch_report rep;

    if (read(fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep) && rep.stage > 0 &&
        rep.stage < _LAUNCH_STAGE_MAX) {
        res->failed = (enum launch_stage)rep.stage;
        res->failed_errno = rep.err;
        rep.detail[sizeof(rep.detail) - 1] = '\0';
        snprintf(res->failed_detail, sizeof(res->failed_detail), "%s", rep.detail);
    }
}

static int run(struct cg_ctx *ctx, struct cg_group *workload, launch_workload_fn open,
               void *open_userdata, const struct launch_opts *o, struct launch_result *ret,
               struct cg_err *e)
{
    struct run_state s = {
        .rep = {-1, -1}, .syn = {-1, -1}, .place = {-1, -1}, .sigfd = -1, .pidfd = -1, .pid = -1};
    struct instance x = {
        .workload = workload, .open = open, .userdata = open_userdata, .id = o->id};
    bool deferred;
    struct launch_result res;
    sigset_t old;
    uint64_t t0;
    int r, status = 0;

    cg_place_init(&x.place);
    memset(&res, 0, sizeof(res));
    ctl_usage_init(&res.usage);
    r = setup(&s, &x, ctx, o, &deferred, e);
    if (r < 0)
        goto out;

    /* Block before the clone so that no signal meant for the workload is lost between
     * the clone and the wait; the child restores `old` for CMD. The thread that makes a
     * deferred instance inherits the mask. */
    if (pthread_sigmask(SIG_BLOCK, &s.c.forward, &old) != 0) {
        r = -EINVAL;
        if (x.inst)
            (void)finish(x.inst, NULL);
        goto out;
    }
    s.c.exec_mask = old;
    s.sigfd = signalfd(-1, &s.c.forward, SFD_CLOEXEC | SFD_NONBLOCK);
    t0 = now_usec();
    res.start_ns = realtime_ns();
    if (s.sigfd < 0)
        r = -errno;
    else
        r = start(&s, &x, o, deferred, &res, e);
    /* The instance's start for the ledger is when it got its process: at the clone with
     * CLONE_INTO_CGROUP, else once the child was placed (on v1 only after the instance is
     * made, which can take a while on a busy host). */
    if (!res.into_cgroup)
        res.start_ns = realtime_ns();
    if (r >= 0 && o->on_started)
        o->on_started(o->userdata, x.inst);
    if (r >= 0)
        r = launch_wait(s.pid, s.pidfd, s.sigfd, &status);
    res.wall_usec = now_usec() - t0;
    res.end_ns = realtime_ns();
    if (s.sigfd >= 0)
        launch_drain_signals(s.sigfd);
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r < 0) {
        give_up(&s, &x);
        goto out;
    }

    res.wait_status = status;
    res.exit_code = launch_status_to_code(status);
    read_report(s.rep[0], &res);
    end_of_instance(x.inst, o, &res, e);
    r = 0;
    *ret = res;
out:
    instance_done(&x);
    state_done(&s);
    return r;
}

int launch_run(struct cg_group *workload, const struct launch_opts *o, struct launch_result *ret,
               struct cg_err *e)
{
    return run(cg_group_ctx(workload), workload, NULL, NULL, o, ret, e);
}

int launch_run_open(struct cg_ctx *ctx, launch_workload_fn open, void *userdata,
                    const struct launch_opts *o, struct launch_result *ret, struct cg_err *e)
{
    return run(ctx, NULL, open, userdata, o, ret, e);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * corral run, end to end on the real kernel: every observation is made from INSIDE the
 * workload (a shell or a tool run as CMD writes what it sees to its stdout, which the
 * test points at a memfd), plus what is left in cgroupfs afterwards. Runs on the v1 host
 * and in the v2 guest (tests/vm), branching on cg_ctx_is_v2() where files differ.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "controllers/freezer.h"
#include "core/fileio.h"
#include "core/txn.h"
#include "launcher/launcher.h"
#include "tests/helpers.h"

/* The workload group with the policy's limits, as the policy engine makes it for `corral
 * run` (created, limits written in one transaction, rolled back on failure). */
static int launch_ensure_workload(struct cg_ctx *ctx, const struct pol_policy *policy,
                                  struct cg_group **ret, struct ctl_warnings *w, struct cg_err *e)
{
    struct cg_group *g = NULL;
    char path[2 * 65 + 2];
    struct cg_txn t;
    int r;

    snprintf(path, sizeof(path), "%s/%s", policy->class_name[0] ? policy->class_name : "normal",
             policy->name);
    r = cg_group_open(ctx, path, true, &g, NULL, e);
    if (r < 0)
        return r;
    cg_txn_init(&t, false);
    r = ctl_apply_all(g, &policy->limits, &t, w, e);
    if (r < 0)
        (void)cg_txn_rollback(&t);
    cg_txn_done(&t);
    if (r < 0) {
        cg_group_free(g);
        return r;
    }
    *ret = g;
    return 0;
}

#define ALL_NS (POL_NS_PID | POL_NS_NET | POL_NS_IPC | POL_NS_MNT | POL_NS_UTS)

TestSuite(launcher, .init = th_setup, .fini = th_teardown, .timeout = 120);

static void policy_init(struct pol_policy *p, const char *name, unsigned ns)
{
    memset(p, 0, sizeof(*p));
    ctl_settings_init(&p->limits);
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->class_name, sizeof(p->class_name), "normal");
    snprintf(p->account, sizeof(p->account), "%s", name);
    p->namespaces = ns;
    p->no_new_privs = true;
}

static struct cg_group *workload(const struct pol_policy *p)
{
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int r = launch_ensure_workload(th_ctx(), p, &g, NULL, &e);

    cr_assert_eq(r, 0, "launch_ensure_workload: %d %s", r, e.detail);
    return g;
}

static bool dir_exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The instance group is gone from every hierarchy. */
static void assert_no_instance(const char *group)
{
    for (int h = 0; h < _CG_H_MAX; h++) {
        char *d = th_group_dir((enum cg_hier)h, group);
        if (d)
            cr_assert(!dir_exists(d), "instance group left behind: %s", d);
    }
}

struct final_seen {
    bool called;
    bool group_open;
    struct ctl_usage usage;
};

static int on_final(void *userdata, struct cg_group *inst, const struct launch_result *res)
{
    struct final_seen *f = userdata;
    char buf[64];

    f->called = true;
    /* Still there and readable when the hook runs. */
    f->group_open =
        cg_group_read(inst, cg_ctx_is_v2(cg_group_ctx(inst)) ? CG_H_CPU : CG_H_PIDS,
                      cg_ctx_is_v2(cg_group_ctx(inst)) ? "cgroup.procs" : "cgroup.procs", buf,
                      sizeof(buf)) >= 0;
    f->usage = res->usage;
    return 0;
}

/* run_argv flags of the test's own, beside LAUNCH_*: go through launch_run_open, whose
 * callback opens the workload in the second thread on v1 (as `corral run` does), after a
 * pause that keeps that thread alive across the clone; or make the callback fail. */
#define T_OPEN      (1u << 30)
#define T_OPEN_FAIL (1u << 31)

struct opener {
    const struct pol_policy *p;
    bool fail;
    int calls;
};

static int open_workload(void *userdata, struct cg_group **ret, struct cg_err *e)
{
    struct opener *op = userdata;

    op->calls++;
    (void)nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    if (op->fail)
        return cg_err_set(e, -EIO, op->p->name, NULL, "the test's opener fails");
    *ret = workload(op->p);
    return 0;
}

/*
 * Runs argv in a new instance of p with stdout on a memfd; returns launch_run's value,
 * fills *res and *out (the workload's stdout, malloc'ed), and checks that no instance
 * group is left.
 */
static int run_argv(const struct pol_policy *p, unsigned flags, char *const *argv, const char *id,
                    struct launch_result *res, char **out, struct final_seen *fin)
{
    struct opener op = {.p = p, .fail = flags & T_OPEN_FAIL};
    struct cg_group *w = flags & (T_OPEN | T_OPEN_FAIL) ? NULL : workload(p);
    struct launch_opts o = {
        .policy = p, .id = id, .argv = argv, .flags = flags & ~(T_OPEN | T_OPEN_FAIL)};
    struct cg_err e = {0};
    struct final_seen dummy;
    int mfd, saved, r;
    char *text;
    off_t len;

    o.on_final = on_final;
    o.userdata = fin ? fin : &dummy;
    memset(o.userdata, 0, sizeof(struct final_seen));
    fflush(stdout);
    mfd = memfd_create("out", MFD_CLOEXEC);
    cr_assert_geq(mfd, 0);
    saved = dup(1);
    cr_assert_geq(saved, 0);
    cr_assert_eq(dup2(mfd, 1), 1);
    memset(res, 0, sizeof(*res));
    r = w ? launch_run(w, &o, res, &e) : launch_run_open(th_ctx(), open_workload, &op, &o, res, &e);
    dup2(saved, 1);
    close(saved);
    if (r < 0)
        cr_log_info("launch_run: %d (%s) group '%s': %s", r, strerror(-r), e.group, e.detail);
    len = lseek(mfd, 0, SEEK_END);
    text = calloc(1, (size_t)len + 1);
    cr_assert(text);
    if (len > 0)
        cr_assert_eq(pread(mfd, text, (size_t)len, 0), len);
    close(mfd);
    if (out)
        *out = text;
    else
        free(text);
    if (r == 0) {
        cr_assert_eq(res->cleanup_error, 0, "cleanup: %s", e.detail);
        assert_no_instance(res->group);
        cr_assert(o.userdata == &dummy || res->removed ||
                  ((struct final_seen *)o.userdata)->called);
    }
    if (!w)
        cr_assert_eq(op.calls, 1, "the opener runs once");
    cg_group_free(w);
    return r;
}

static int run_sh(const struct pol_policy *p, unsigned flags, const char *script,
                  struct launch_result *res, char **out)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    return run_argv(p, flags, argv, NULL, res, out, NULL);
}

/* ---- namespaces, seen from inside ---- */

Test(launcher, pid_namespace_init_and_private_proc)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL, comm[32] = "";
    int pid = 0, ppid = 0, maxpid = 0, n = 0;

    th_require_cgroups();
    policy_init(&p, "pidns", ALL_NS);
    cr_assert_eq(run_sh(&p, 0,
                        "echo $$ $PPID; cat /proc/1/comm;"
                        "for d in /proc/[0-9]*; do echo ${d#/proc/}; done",
                        &res, &out),
                 0);
    cr_assert_eq(res.exit_code, 0, "out: %s", out);
    cr_assert_eq(sscanf(out, "%d %d %31s", &pid, &ppid, comm), 3, "out: %s", out);
    /* The workload is PID 1's child; PID 1 is corral's minimal init. */
    cr_assert_eq(ppid, 1, "out: %s", out);
    cr_assert_eq(pid, 2, "out: %s", out);
    cr_assert_str_eq(comm, "corral-init");
    /* Only our own processes in /proc: the init, the shell (and nothing of the host). */
    for (char *l = strchr(strchr(out, '\n') + 1, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
        int v = atoi(l + 1);
        n++;
        if (v > maxpid)
            maxpid = v;
    }
    cr_assert(n >= 2 && n <= 4 && maxpid <= 4, "processes seen: %d, max pid %d: %s", n, maxpid,
              out);
    free(out);
}

Test(launcher, net_namespace_only_lo_up)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL;

    th_require_cgroups();
    policy_init(&p, "netns", ALL_NS);
    /* /proc/net/dev is per network namespace; `ip` shows lo's state when installed. */
    cr_assert_eq(run_sh(&p, 0,
                        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ';"
                        "if [ -x /usr/sbin/ip ] || [ -x /sbin/ip ]; then "
                        "PATH=$PATH:/usr/sbin:/sbin ip -o link show lo | grep -q '[<,]UP[,>]' "
                        "&& echo LO_UP; else echo LO_UP; fi",
                        &res, &out),
                 0);
    cr_assert_eq(res.exit_code, 0);
    cr_assert_str_eq(out, "lo\nLO_UP\n");
    free(out);
}

Test(launcher, uts_hostname_from_policy_or_workload_name)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL;

    th_require_cgroups();
    policy_init(&p, "utsns", ALL_NS);
    snprintf(p.hostname, sizeof(p.hostname), "web-01");
    cr_assert_eq(run_sh(&p, 0, "cat /proc/sys/kernel/hostname", &res, &out), 0);
    cr_assert_str_eq(out, "web-01\n");
    free(out);
    p.hostname[0] = '\0';
    cr_assert_eq(run_sh(&p, 0, "cat /proc/sys/kernel/hostname", &res, &out), 0);
    cr_assert_str_eq(out, "utsns\n");
    free(out);
}

Test(launcher, ipc_namespace_private)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL, self[64] = "", *in;
    ssize_t k;

    th_require_cgroups();
    k = readlink("/proc/self/ns/ipc", self, sizeof(self) - 1);
    cr_assert_gt(k, 0);
    policy_init(&p, "ipcns", ALL_NS);
    cr_assert_eq(run_sh(&p, 0, "readlink /proc/self/ns/ipc", &res, &out), 0);
    in = strtok(out, "\n");
    cr_assert(in && strcmp(in, self) != 0, "ipc ns %s == host %s", in, self);
    free(out);
}

/* ---- placement ---- */

/* Expected cgroup path of group (relative to the test root) inside hierarchy h. */
static char *expected_path(enum cg_hier h, const char *group)
{
    struct cg_ctx *ctx = th_ctx();
    char *r = NULL;

    cr_assert(asprintf(&r, "%s/%s", strcmp(ctx->root_path[h], "/") == 0 ? "" : ctx->root_path[h],
                       group) > 0);
    return r;
}

/* /proc/self/cgroup as printed by cat, which is CMD itself: cat's read is its first
 * action after exec, so this is where CMD was from its first instruction. */
static void check_placement(unsigned flags)
{
    char *argv[] = {"/bin/cat", "/proc/self/cgroup", NULL};
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL;
    bool v2 = cg_ctx_is_v2(th_ctx());
    int checked = 0;

    policy_init(&p, "place", ALL_NS);
    cr_assert_eq(run_argv(&p, flags, argv, "cat1", &res, &out, NULL), 0);
    cr_assert_eq(res.exit_code, 0);
    cr_assert_str_eq(res.group, "normal/place/cat1");
    cr_assert_eq(res.into_cgroup, v2 && !(flags & LAUNCH_FORCE_FALLBACK));
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        cr_assert(c2, "bad line %s", l);
        *c2 = '\0';
        for (int h = 0; h < _CG_H_MAX; h++) {
            bool match = false;
            char *want;
            if (!cg_ctx_has(th_ctx(), (enum cg_hier)h))
                continue;
            if (v2)
                match = strncmp(l, "0:", 2) == 0 && c1 + 1 == c2;
            else {
                char list[128], *s = NULL;
                snprintf(list, sizeof(list), "%s", c1 + 1);
                for (char *w = strtok_r(list, ",", &s); w && !match; w = strtok_r(NULL, ",", &s))
                    match = strcmp(w, cg_hier_to_string((enum cg_hier)h)) == 0;
            }
            if (!match)
                continue;
            want = expected_path((enum cg_hier)h, res.group);
            cr_assert_str_eq(c2 + 1, want, "hierarchy %s", cg_hier_to_string((enum cg_hier)h));
            free(want);
            checked++;
            if (v2)
                break;
        }
    }
    cr_assert_geq(checked, 1);
    free(out);
}

Test(launcher, placed_before_first_instruction)
{
    th_require_cgroups();
    check_placement(0);
}

Test(launcher, placed_before_first_instruction_fallback_path)
{
    th_require_cgroups();
    check_placement(LAUNCH_FORCE_FALLBACK);
}

/* `corral run`'s path: on v1 the instance is made while the child is being cloned. */
Test(launcher, placed_before_first_instruction_instance_made_meanwhile)
{
    th_require_cgroups();
    check_placement(T_OPEN);
}

/* When the workload cannot be opened, the child (cloned already on v1) is gone and no
 * instance is left. */
Test(launcher, failed_workload_open_leaves_nothing)
{
    char *argv[] = {"/bin/true", NULL};
    struct pol_policy p;
    struct launch_result res;

    th_require_cgroups();
    policy_init(&p, "openfail", ALL_NS);
    cr_assert_eq(run_argv(&p, T_OPEN_FAIL, argv, "of1", &res, NULL, NULL), -EIO);
    assert_no_instance("normal/openfail/run-of1");
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left to reap");
    cr_assert_eq(errno, ECHILD);
}

Test(launcher, cgroup_namespace_rooted_at_instance)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL;

    th_require_cgroups();
    policy_init(&p, "cgns", ALL_NS | POL_NS_CGROUP);
    cr_assert_eq(
        run_sh(&p, 0, "grep -E '(^0::|:pids:|:memory:)' /proc/self/cgroup | cut -d: -f3 | sort -u",
               &res, &out),
        0);
    cr_assert_str_eq(out, "/\n");
    free(out);
}

/* ---- process settings ---- */

Test(launcher, user_group_nnp_and_workdir)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL;

    th_require_cgroups();
    policy_init(&p, "privs", ALL_NS);
    snprintf(p.user, sizeof(p.user), "nobody");
    snprintf(p.workdir, sizeof(p.workdir), "/tmp");
    cr_assert_eq(
        run_sh(&p, 0,
               "echo $(id -u) $(id -g) $(id -G) $USER;"
               "grep -E '^(Uid|Gid|NoNewPrivs|CapEff)' /proc/self/status | tr -s '\\t' ' ';"
               "pwd",
               &res, &out),
        0);
    cr_assert_eq(res.exit_code, 0, "%s", out);
    cr_assert_str_eq(out, "65534 65534 65534 nobody\n"
                          "Uid: 65534 65534 65534 65534\n"
                          "Gid: 65534 65534 65534 65534\n"
                          "CapEff: 0000000000000000\n"
                          "NoNewPrivs: 1\n"
                          "/tmp\n");
    free(out);
}

/* The user switch in a child cloned while the caller had a second thread (T_OPEN): glibc's
 * setresuid waits for every thread it knows of, and a thread that was still starting when
 * the child was cloned never answers in the child (a hang, seen as the suite's timeout).
 * Whether the clone meets the thread starting is a race, hence several rounds. */
Test(launcher, user_switch_in_child_of_threaded_caller)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL;

    th_require_cgroups();
    policy_init(&p, "privs2", ALL_NS);
    snprintf(p.user, sizeof(p.user), "nobody");
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(run_sh(&p, T_OPEN, "echo $(id -u) $(id -g)", &res, &out), 0);
        cr_assert_eq(res.exit_code, 0, "%s", out);
        cr_assert_str_eq(out, "65534 65534\n");
        free(out);
    }
}

Test(launcher, environment_passed_or_cleared)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL;

    th_require_cgroups();
    setenv("CORRAL_TEST_MARK", "kept", 1);
    policy_init(&p, "envs", ALL_NS);
    cr_assert_eq(run_sh(&p, 0, "echo ${CORRAL_TEST_MARK:-gone}", &res, &out), 0);
    cr_assert_str_eq(out, "kept\n");
    free(out);
    p.clear_env = true;
    cr_assert_eq(
        run_sh(&p, 0, "echo ${CORRAL_TEST_MARK:-gone}; env | grep -v '^PWD=' | sort", &res, &out),
        0);
    cr_assert_str_eq(out,
                     "gone\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    free(out);
    unsetenv("CORRAL_TEST_MARK");
}

Test(launcher, no_inherited_fds)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL;
    int fd, n = 0;

    th_require_cgroups();
    /* An fd without O_CLOEXEC, at a high number, and one at 3. */
    fd = open("/dev/null", O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(dup2(fd, 57), 57);
    policy_init(&p, "fds", ALL_NS);
    cr_assert_eq(run_sh(&p, 0, "ls /proc/self/fd", &res, &out), 0);
    /* 0 1 2, and the one ls opened to read the directory. */
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        int v = atoi(l);
        cr_assert(v <= 3, "inherited fd %d", v);
        n++;
    }
    cr_assert_eq(n, 4);
    close(57);
    close(fd);
    free(out);
}

/* ---- exit status and signals ---- */

Test(launcher, exit_codes_and_signals_propagate)
{
    struct pol_policy p;
    struct launch_result res;
    char *nf[] = {"corral-no-such-command", NULL};
    char *nx[] = {"/etc/passwd", NULL};

    th_require_cgroups();
    policy_init(&p, "codes", ALL_NS);
    cr_assert_eq(run_sh(&p, 0, "exit 3", &res, NULL), 0);
    cr_assert_eq(res.exit_code, 3);
    cr_assert_eq(run_sh(&p, 0, "kill -TERM $$", &res, NULL), 0);
    cr_assert_eq(res.exit_code, 143);
    /* Without a PID namespace CMD is the cloned child itself. */
    policy_init(&p, "codes", POL_NS_UTS);
    cr_assert_eq(run_sh(&p, 0, "kill -KILL $$", &res, NULL), 0);
    cr_assert_eq(res.exit_code, 137);
    cr_assert(WIFSIGNALED(res.wait_status));
    cr_assert_eq(run_argv(&p, 0, nf, NULL, &res, NULL, NULL), 0);
    cr_assert_eq(res.exit_code, 127);
    cr_assert_eq(res.failed, LAUNCH_STAGE_EXEC);
    cr_assert_eq(res.failed_errno, ENOENT);
    policy_init(&p, "codes", ALL_NS);
    cr_assert_eq(run_argv(&p, 0, nx, NULL, &res, NULL, NULL), 0);
    cr_assert_eq(res.exit_code, 126);
    cr_assert_eq(res.failed, LAUNCH_STAGE_EXEC);
}

/* Runs `sleep 30` in a forked process, sends it `sig` after 300 ms: launch_run must
 * forward it to the workload and return promptly with 128+sig. */
static void check_forward(unsigned ns, int sig)
{
    struct pol_policy p;
    struct timespec t0, t1;
    pid_t pid;
    int st;

    policy_init(&p, "fwd", ns);
    cg_group_free(workload(&p)); /* only its existence matters here */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char *argv[] = {"/bin/sleep", "30", NULL};
        struct launch_opts o = {.policy = &p, .argv = argv};
        struct launch_result res;
        struct cg_group *w = NULL;
        if (launch_ensure_workload(th_ctx(), &p, &w, NULL, NULL) < 0 ||
            launch_run(w, &o, &res, NULL) < 0)
            _exit(250);
        _exit(res.cleanup_error ? 251 : res.exit_code);
    }
    usleep(300 * 1000);
    cr_assert_eq(kill(pid, sig), 0);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert(WIFEXITED(st), "launcher died: status %#x", st);
    cr_assert_eq(WEXITSTATUS(st), 128 + sig);
    cr_assert_lt(t1.tv_sec - t0.tv_sec, 10);
}

Test(launcher, sigterm_forwarded_to_workload)
{
    th_require_cgroups();
    check_forward(ALL_NS, SIGTERM);
    check_forward(POL_NS_UTS, SIGHUP);
    check_forward(ALL_NS, SIGINT);
}

Test(launcher, background_processes_killed_with_instance)
{
    struct pol_policy p;
    struct launch_result res;

    th_require_cgroups();
    /* No PID namespace, so no init takes the daemon down: corral kills the rest. */
    policy_init(&p, "bg", POL_NS_UTS);
    cr_assert_eq(run_sh(&p, 0, "sleep 100 </dev/null >/dev/null 2>&1 & exit 0", &res, NULL), 0);
    cr_assert_eq(res.exit_code, 0);
}

/* ---- limits ---- */

static uint64_t read_keyed(const struct pol_policy *p, enum cg_hier h, const char *file,
                           const char *key)
{
    struct cg_group *w = workload(p);
    char buf[4096];
    uint64_t v = 0;

    if (cg_group_read(w, h, file, buf, sizeof(buf)) >= 0)
        (void)cg_keyed_u64(buf, key, &v);
    cg_group_free(w);
    return v;
}

Test(launcher, memory_max_ooms_inside_group_only)
{
    struct pol_policy p;
    struct launch_result res;
    struct final_seen fin;
    /* tail keeps the current line, and /dev/zero has no newline: it grows until killed.
     * exec: the workload itself is the victim, so its status is corral's. */
    char *argv[] = {"/bin/sh", "-c", "exec tail /dev/zero", NULL};
    bool v2;
    uint64_t kills;

    th_require_cgroups();
    v2 = cg_ctx_is_v2(th_ctx());
    policy_init(&p, "oom", ALL_NS);
    p.limits.mem_max = 64ull << 20;
    p.limits.mem_swap_max = 0;
    cr_assert_eq(run_argv(&p, 0, argv, NULL, &res, NULL, &fin), 0);
    cr_assert_eq(res.exit_code, 137, "exit %d", res.exit_code);
    /* The kill happened in the instance (v1 counts it there, v2 in both). */
    kills = fin.usage.mem_oom_kills;
    if (kills == CTL_UNSET)
        kills =
            read_keyed(&p, CG_H_MEMORY, v2 ? "memory.events" : "memory.oom_control", "oom_kill");
    cr_assert_geq(kills, 1);
    /* A task being OOM-killed may overcharge a little on its way out (forced charge). */
    if (fin.usage.mem_peak != CTL_UNSET)
        cr_assert_leq(fin.usage.mem_peak, (64ull + 4) << 20);
    /* corral itself is fine and the workload group still works. */
    cr_assert_eq(run_sh(&p, 0, "exit 0", &res, NULL), 0);
    cr_assert_eq(res.exit_code, 0);
}

Test(launcher, fork_bomb_stops_at_pids_max)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL, *last;
    int n;

    th_require_cgroups();
    policy_init(&p, "bomb", ALL_NS);
    p.limits.pids_max = 24;
    /* Counts the children it managed to start; dash gives up at the first failed fork. */
    cr_assert_eq(run_sh(&p, 0, "i=0; while :; do sleep 60 & i=$((i+1)); echo $i; done", &res, &out),
                 0);
    cr_assert_neq(res.exit_code, 0);
    last = strrchr(out, '\n');
    while (last && last > out && last[-1] != '\n')
        last--;
    n = atoi(last ? last : out);
    /* init + sh + n sleeps <= 24 */
    cr_assert(n >= 15 && n <= 22, "started %d children under pids.max 24", n);
    free(out);
}

/*
 * What the cap guarantees, and only that: the workload never gets more than half a core,
 * and the kernel throttles it for asking more (counted in cpu.stat of the workload group,
 * which holds the cap; its instances show none of their own). Neither depends on a free core: a
 * busy machine only lowers the CPU the spinners get, and without the cap nr_throttled stays 0
 * however much they get. The 10 ms period gives a hundred chances a second to reach the quota;
 * should the machine starve the workload below it in every one of them, the run is repeated (the
 * bound still holds on every run).
 */
Test(launcher, cpu_max_half_a_core)
{
    struct pol_policy p;
    struct launch_result res;
    struct final_seen fin;
    char *argv[] = {"/bin/sh", "-c",
                    "yes >/dev/null & a=$!; yes >/dev/null & b=$!; sleep 1; kill $a $b", NULL};
    struct ctl_usage before, after;
    struct cg_group *w;
    double cores;
    uint64_t throttled = 0;

    th_require_cgroups();
    policy_init(&p, "cpuhalf", ALL_NS);
    p.limits.cpu_max_usec = 5000;
    p.limits.cpu_period_usec = 10000;
    w = workload(&p);
    for (int attempt = 0; attempt < 3 && throttled == 0; attempt++) {
        cr_assert_eq(ctl_read_usage_all(w, &before), 0);
        cr_assert_eq(run_argv(&p, 0, argv, NULL, &res, NULL, &fin), 0);
        cr_assert_eq(ctl_read_usage_all(w, &after), 0);
        cr_assert_neq(after.cpu_nr_throttled, CTL_UNSET, "no nr_throttled in cpu.stat");
        cr_assert(fin.called && fin.group_open);
        cr_assert_neq(fin.usage.cpu_usage_ns, CTL_UNSET, "no CPU usage read before removal");
        cores = (double)fin.usage.cpu_usage_ns / ((double)res.wall_usec * 1000.0);
        throttled = after.cpu_nr_throttled - before.cpu_nr_throttled;
        cr_log_info("cpu_max_half_a_core: %.3f cores over %.3f s, throttled %" PRIu64 " times",
                    cores, res.wall_usec / 1e6, throttled);
        cr_assert_leq(cores, 0.65, "%.3f cores with CPU Max 50%% (2 spinners)", cores);
    }
    cg_group_free(w);
    cr_assert_gt(throttled, 0, "CPU Max 50%% (2 spinners) never throttled in three runs");
}

/* ---- refusals: nothing is left behind ---- */

Test(launcher, frozen_workload_refused)
{
    struct pol_policy p;
    struct launch_result res;
    struct cg_group *w;

    th_require_cgroups();
    policy_init(&p, "cold", ALL_NS);
    w = workload(&p);
    cr_assert_eq(ctl_freezer_freeze(w, 5000000, NULL, NULL), 0);
    cr_assert_eq(run_sh(&p, 0, "exit 0", &res, NULL), -EBUSY);
    cr_assert_eq(ctl_freezer_thaw(w, 5000000, NULL), 0);
    cr_assert_eq(run_sh(&p, 0, "exit 0", &res, NULL), 0);
    cg_group_free(w);
}

static void assert_workload_empty(const struct pol_policy *p)
{
    struct cg_group *w = workload(p);
    char **kids = NULL;

    cr_assert_eq(cg_group_children(w, &kids), 0);
    cr_assert_null(kids[0], "instance left: %s", kids[0]);
    cg_strv_free(kids);
    cg_group_free(w);
}

Test(launcher, unknown_user_and_existing_instance_refused)
{
    struct pol_policy p;
    struct launch_result res;
    struct cg_group *w, *busy = NULL;
    char *argv[] = {"/bin/true", NULL};

    th_require_cgroups();
    policy_init(&p, "refuse", ALL_NS);
    snprintf(p.user, sizeof(p.user), "corral-no-such-user");
    cr_assert_eq(run_sh(&p, 0, "exit 0", &res, NULL), -ESRCH);
    assert_workload_empty(&p);
    p.user[0] = '\0';
    /* An instance that exists is not ours: refused and left alone. */
    w = workload(&p);
    cr_assert_eq(cg_group_child(w, "taken", true, &busy, NULL, NULL), 0);
    cr_assert_eq(run_argv(&p, 0, argv, "taken", &res, NULL, NULL), -EEXIST);
    cr_assert(dir_exists(th_group_dir(CG_H_PIDS, "normal/refuse/taken")) || cg_ctx_is_v2(th_ctx()));
    cg_group_free(busy);
    cg_group_free(w);
}

/* The instance is the name given, checked before anything is made: an invalid one is
 * refused by launch_check and by launch_run alike, with the rule it broke, and no group
 * is created; "run-x" is "run-x", not "run-run-x". */
Test(launcher, instance_name_is_the_given_name_and_checked_first)
{
    static const char *const bad[] = {
        "Bad",
        "",
        "a/b",
        "..",
        "a b",
        "\xff",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    char *argv[] = {"/bin/true", NULL};
    struct launch_result res;
    struct pol_policy p;
    struct cg_group *w;
    char **kids = NULL;

    th_require_cgroups();
    policy_init(&p, "named", 0);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct launch_opts o = {.policy = &p, .id = bad[i], .argv = argv};
        struct cg_err e = {0};
        int r = launch_check(&o, &e);

        cr_assert(r == -EINVAL || r == -ENAMETOOLONG, "'%s': %d", bad[i], r);
        cr_assert(strstr(e.detail, "[a-z0-9_-]{1,64}"), "'%s': %s", bad[i], e.detail);
        cr_assert_eq(run_argv(&p, 0, argv, bad[i], &res, NULL, NULL), r, "'%s'", bad[i]);
    }
    w = workload(&p);
    cr_assert_eq(cg_group_children(w, &kids), 0);
    cr_assert_null(kids[0], "an invalid name made '%s'", kids[0]);
    cg_strv_free(kids);
    cg_group_free(w);
    cr_assert_eq(run_argv(&p, 0, argv, "run-x", &res, NULL, NULL), 0);
    cr_assert_str_eq(res.group, "normal/named/run-x");
    cr_assert_eq(run_argv(&p, 0, argv, NULL, &res, NULL, NULL), 0);
    cr_assert_eq(strncmp(res.group, "normal/named/run-", 17), 0, "%s", res.group);
}

/* What `corral remove --kill` does to a running instance, from another thread: it locks
 * the instance, kills it, and removes it (recording the final usage is its business). */
struct remover {
    const char *path;
    int r;
};

static void *remove_when_running(void *userdata)
{
    struct remover *rm = userdata;
    struct cg_ctx *ctx = NULL;
    struct cg_group *g = NULL;
    int fd = -1;

    rm->r = cg_ctx_new(th_root_arg(), &ctx, NULL);
    /* until the workload is in it (30 s at most) */
    for (int i = 0; rm->r == 0 && !g && i < 3000; i++) {
        if (cg_group_open(ctx, rm->path, false, &g, NULL, NULL) == 0 && cg_group_populated(g) <= 0)
            cg_group_free(TAKE_PTR(g));
        if (!g)
            (void)nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    if (rm->r == 0 && !g)
        rm->r = -ETIMEDOUT;
    if (rm->r == 0)
        rm->r = cg_group_lock(g, &fd);
    if (rm->r == 0)
        rm->r = cg_group_kill(g, NULL);
    if (rm->r == 0)
        rm->r = cg_group_remove(g, NULL);
    closep(&fd);
    cg_group_free(g);
    cg_ctx_free(ctx);
    return NULL;
}

/* The end of a run whose instance was removed under it: launch_run waits for the
 * remover's lock, finds the instance gone, and neither calls on_final (the remover
 * records) nor fails; the workload's status is SIGKILL's. With and without a PID
 * namespace (the init, or CMD itself, is what the kill ends). */
Test(launcher, instance_removed_while_it_runs)
{
    static const unsigned ns[] = {ALL_NS, 0};
    char *argv[] = {"/bin/sleep", "60", NULL};

    th_require_cgroups();
    for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
        struct remover rm = {.path = "normal/doomed/gone"};
        struct final_seen fin;
        struct launch_result res;
        struct pol_policy p;
        pthread_t t;

        policy_init(&p, "doomed", ns[i]);
        cg_group_free(workload(&p));
        cr_assert_eq(pthread_create(&t, NULL, remove_when_running, &rm), 0);
        cr_assert_eq(run_argv(&p, 0, argv, "gone", &res, NULL, &fin), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
        cr_assert_eq(rm.r, 0, "the remover: %s", strerror(-rm.r));
        cr_assert(res.removed, "the end did not see the instance gone");
        cr_assert_not(fin.called, "on_final was called for a removed instance");
        cr_assert(WIFSIGNALED(res.wait_status) && WTERMSIG(res.wait_status) == SIGKILL,
                  "status %#x", res.wait_status);
        cr_assert_eq(res.exit_code, 128 + SIGKILL);
        assert_no_instance("normal/doomed/gone");
    }
}

/* capset(2) without libcap: drop CAP_SYS_ADMIN from the effective set. */
static int drop_sys_admin(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];

    if (syscall(SYS_capget, &h, d) < 0)
        return -1;
    d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
    return (int)syscall(SYS_capset, &h, d);
}

Test(launcher, refused_namespace_leaves_nothing)
{
    struct pol_policy p;
    pid_t pid;
    int st;

    th_require_cgroups();
    policy_init(&p, "nons", ALL_NS);
    cg_group_free(workload(&p)); /* only its existence matters here */
    /* Without CAP_SYS_ADMIN the kernel refuses new namespaces (EPERM); cgroupfs writes
     * still work by file permissions, so only the clone fails. */
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char *argv[] = {"/bin/true", NULL};
        struct launch_opts o = {.policy = &p, .argv = argv};
        struct launch_result res;
        struct cg_group *w = NULL;
        int r;
        if (drop_sys_admin() < 0 || launch_ensure_workload(th_ctx(), &p, &w, NULL, NULL) < 0)
            _exit(100);
        r = launch_run(w, &o, &res, NULL);
        _exit(r == -EPERM ? 0 : 101);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    assert_workload_empty(&p);
}

Test(launcher, user_namespace_identity_map)
{
    struct pol_policy p;
    struct launch_result res;
    char *out = NULL;

    th_require_cgroups();
    policy_init(&p, "userns", ALL_NS | POL_NS_USER);
    cr_assert_eq(run_sh(&p, 0, "tr -s ' ' < /proc/self/uid_map; id -u", &res, &out), 0);
    if (res.failed == LAUNCH_STAGE_PROC)
        cr_skip_test("proc cannot be mounted in a user namespace here (overmounted /proc)");
    cr_assert_eq(res.exit_code, 0, "failed at %s: %s", launch_stage_to_string(res.failed),
                 strerror(res.failed_errno));
    cr_assert_str_eq(out, " 0 0 4294967295\n0\n");
    free(out);
}

/* ---- the command line ---- */

static char *corral_bin(void)
{
    const char *b = getenv("CORRAL_BUILD_ROOT");
    char *p = NULL;

    if (!b || asprintf(&p, "%s/cli/corral", b) < 0 || access(p, X_OK) != 0)
        cr_skip_test("corral binary not built (CORRAL_BUILD_ROOT unset)");
    return p;
}

static int sh_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh_status(const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    int st;

    va_start(ap, fmt);
    cr_assert(vasprintf(&cmd, fmt, ap) > 0);
    va_end(ap);
    st = system(cmd);
    free(cmd);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

Test(launcher, cli_exit_codes_and_bad_input)
{
    char dir[] = "/tmp/corral-launcher-XXXXXX";
    char *bin = corral_bin();
    const char *root = th_root_arg();
    char *wl;
    FILE *f;

    th_require_cgroups();
    (void)th_ctx();
    cr_assert(mkdtemp(dir));
    cr_assert(chmod(dir, 0755) == 0);
    char path[300];
    snprintf(path, sizeof(path), "%s/web.policy", dir);
    f = fopen(path, "we");
    cr_assert(f);
    fputs("[Workload]\nClass=high\n[Pids]\nMax=64\n[Namespaces]\nIsolate=pid net ipc mnt "
          "uts\nHostname=webhost\n[Process]\nUser=nobody\n",
          f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/ghost.policy", dir);
    f = fopen(path, "we");
    cr_assert(f);
    fputs("[Process]\nUser=corral-no-such-user\n", f);
    fclose(f);

    /* A ledger of the test's own: runs record their final usage there. */
#define CORRAL "%s --root %s --policy-dir %s --ledger %s/ledger.db run "
    cr_assert_eq(sh_status(CORRAL "--policy web -- /bin/sh -c 'test $(hostname) = webhost "
                                  "&& test $(id -u) = 65534 && exit 7'",
                           bin, root, dir, dir),
                 7);
    cr_assert_eq(sh_status(CORRAL "--policy web 2>/dev/null", bin, root, dir, dir), 2);
    cr_assert_eq(sh_status(CORRAL "-- /bin/true 2>/dev/null", bin, root, dir, dir), 2);
    cr_assert_eq(sh_status(CORRAL "--policy nope -- /bin/true 2>/dev/null", bin, root, dir, dir),
                 1);
    cr_assert_eq(
        sh_status(CORRAL "--policy web -- corral-no-such-cmd 2>/dev/null", bin, root, dir, dir),
        127);
    cr_assert_eq(sh_status(CORRAL "--policy ghost -- /bin/true 2>/dev/null", bin, root, dir, dir),
                 1);
    cr_assert_eq(sh_status(CORRAL "--policy web --name x1 -- /bin/sh -c 'kill -TERM $$'", bin, root,
                           dir, dir),
                 143);
    cr_assert_eq(sh_status("CORRAL_LAUNCH_FALLBACK=1 " CORRAL "--policy web -- /bin/true", bin,
                           root, dir, dir),
                 0);
    /* SIGTERM to corral run reaches the workload. */
    cr_assert_eq(sh_status(CORRAL "--policy web -- /bin/sleep 30 & p=$!; sleep 0.3; "
                                  "kill -TERM $p; wait $p",
                           bin, root, dir, dir),
                 143);
#undef CORRAL
    /* No instance of web is left, and ghost was refused before any group was made. */
    wl = th_group_dir(CG_H_PIDS, "high/web");
    if (!wl)
        wl = th_group_dir(CG_H_CPU, "high/web");
    cr_assert(dir_exists(wl));
    cr_assert_eq(sh_status("find %s -mindepth 1 -type d | grep -q .", wl), 1);
    cr_assert(!dir_exists(th_group_dir(CG_H_CPU, "normal/ghost")));
    cr_assert_eq(sh_status("rm -rf %s", dir), 0);
    free(bin);
}

/* ---- [Filesystem] through the command line ---- */

static char *slurp_file(const char *path)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = fopen(path, "re"), *m;
    int c;

    cr_assert(f, "open %s: %s", path, strerror(errno));
    m = open_memstream(&buf, &size);
    cr_assert(m);
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    fclose(m);
    return buf;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "we");
    cr_assert(f, "create %s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* The tree of cli_filesystem_root in dir, and its policies: box (the root, /usr bound
 * read-only), gone (a root that does not exist), late (a bind that fails in the child). */
static void fs_root_setup(const char *dir)
{
    char p[PATH_MAX + 64], pol[2 * PATH_MAX];

    cr_assert(chmod(dir, 0755) == 0);
    cr_assert_eq(sh_status("cd %s && mkdir -p root/etc root/usr policies && "
                           "ln -s usr/bin root/bin && ln -s usr/lib root/lib && "
                           "ln -s usr/lib64 root/lib64 && ln -s usr/sbin root/sbin && "
                           "echo yes > root/I-am-the-root && echo host > host-marker",
                           dir),
                 0);
    snprintf(p, sizeof(p), "%s/root/etc", dir);
    write_text(p, "passwd", "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n");
    snprintf(p, sizeof(p), "%s/policies", dir);
    snprintf(pol, sizeof(pol),
             "[Namespaces]\nIsolate=pid mnt ipc\n[Filesystem]\nRootDirectory=%s/root\n"
             "BindReadOnlyPaths=/usr\nPrivateTmp=yes\n[Process]\nUser=nobody\n",
             dir);
    write_text(p, "box.policy", pol);
    /* Check-time failure: the root does not exist. */
    snprintf(pol, sizeof(pol),
             "[Namespaces]\nIsolate=pid\n[Filesystem]\nRootDirectory=%s/no-such-root\n", dir);
    write_text(p, "gone.policy", pol);
    /* Run-time failure (not knowable at check time): a directory bound onto a file of the
     * tree. */
    snprintf(pol, sizeof(pol),
             "[Namespaces]\nIsolate=pid\n[Filesystem]\nRootDirectory=%s/root\n"
             "BindPaths=%s/policies:/I-am-the-root\n",
             dir, dir);
    write_text(p, "late.policy", pol);
}

/*
 * corral run with RootDirectory= built from the host: a few files of its own, and the
 * host's /usr bound read-only. The workload sees only that tree; the host's mount table is
 * the same before and after; no instance group is left, on success or on failure.
 */
Test(launcher, cli_filesystem_root)
{
    char dir[] = "/tmp/corral-launcher-fs-XXXXXX";
    char *bin = corral_bin(), *before, *after, *err, *wl;
    const char *root = th_root_arg();
    char p[PATH_MAX + 64];
    int st;

    th_require_cgroups();
    (void)th_ctx();
    cr_assert(mkdtemp(dir));
    fs_root_setup(dir);
    before = slurp_file("/proc/self/mountinfo");
#define CORRAL "%s --root %s --policy-dir %s/policies --ledger %s/ledger.db "
    st = sh_status(CORRAL "run --policy box -- /bin/sh -c '"
                          "test \"$(ls / | tr \"\\n\" \" \")\" = \"I-am-the-root bin dev etc lib "
                          "lib64 proc sbin sys tmp usr var \" || exit 1; "
                          "test ! -e %s/host-marker && test -e /I-am-the-root || exit 2; "
                          "test $$ = 2 && test $(id -u) = 65534 || exit 3; "
                          "test -z \"$(ls -A /tmp)\" && touch /tmp/ok || exit 4; "
                          "ls /proc > /tmp/procs && test $(grep -c \"^[0-9]\" /tmp/procs) = 3 "
                          "|| exit 5; "
                          "! touch /usr/corral-x 2>/dev/null && echo x > /dev/null || exit 6; "
                          "exit 7' >%s/out 2>&1; r=$?; echo \"exit $r\" >>%s/out; exit $r",
                   bin, root, dir, dir, dir, dir, dir);
    snprintf(p, sizeof(p), "%s/out", dir);
    err = slurp_file(p);
    cr_assert_eq(st, 7, "%s", err);
    free(err);

    /* Refused before anything is made, with FILE:LINE, by check and by run. */
    cr_assert_eq(
        sh_status(CORRAL "check %s/policies/gone.policy 2>%s/err", bin, root, dir, dir, dir, dir),
        1);
    snprintf(p, sizeof(p), "%s/err", dir);
    err = slurp_file(p);
    cr_assert(strstr(err, "gone.policy:4: Filesystem.RootDirectory='"), "%s", err);
    cr_assert(strstr(err, "No such file or directory"), "%s", err);
    free(err);
    cr_assert_eq(
        sh_status(CORRAL "run --policy gone -- /bin/true 2>%s/err", bin, root, dir, dir, dir), 1);
    cr_assert(!dir_exists(th_group_dir(CG_H_CPU, "normal/gone")));

    /* Failing inside the child: the stage and the path are reported. */
    cr_assert_eq(
        sh_status(CORRAL "run --policy late -- /bin/true 2>%s/err", bin, root, dir, dir, dir), 3);
    snprintf(p, sizeof(p), "%s/err", dir);
    err = slurp_file(p);
    cr_assert(strstr(err, "filesystem isolation failed: BindPaths="), "%s", err);
    cr_assert(strstr(err, "/I-am-the-root"), "%s", err);
    cr_assert(strstr(err, "Not a directory"), "%s", err);
    free(err);
#undef CORRAL

    after = slurp_file("/proc/self/mountinfo");
    cr_assert_str_eq(after, before, "the host's mount table changed");
    for (size_t i = 0; i < 2; i++) {
        wl = th_group_dir(CG_H_PIDS, i ? "normal/late" : "normal/box");
        if (!wl)
            wl = th_group_dir(CG_H_CPU, i ? "normal/late" : "normal/box");
        cr_assert(dir_exists(wl));
        cr_assert_eq(sh_status("ls -d %s/run-* 2>/dev/null | grep -q .", wl), 1,
                     "an instance group was left in %s", wl);
    }
    /* Mount points were made in the tree, never on the host. */
    cr_assert_eq(sh_status("test -d %s/root/proc && test ! -e %s/I-am-the-root/x", dir, dir), 0);
    cr_assert_eq(sh_status("rm -rf %s", dir), 0);
    free(before);
    free(after);
    free(bin);
}

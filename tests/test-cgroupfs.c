/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A workload that runs as root cannot leave its group: `corral run` gives it a read-only
 * view of cgroupfs. The real binary runs a probe script as root that tries to raise its
 * own limits, to write its parent's cgroup.procs and to move itself to the root; each
 * attempt must fail with EROFS or EPERM. While the probe waits, the test reads from the
 * host (not from inside) which group every process of the instance is in, and that the
 * limits are as corral set them. Runs on the v1 host and in the v2 guest.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "tests/helpers.h"

static char tmpdir[64], pol_dir[128], corral[512];
static pid_t bg = -1;

static void setup(void)
{
    const char *b = getenv("CORRAL_BUILD_ROOT");

    th_setup();
    tmpdir[0] = '\0';
    bg = -1;
    if (!b)
        return;
    snprintf(corral, sizeof(corral), "%s/cli/corral", b);
    th_mkdtemp(tmpdir, sizeof(tmpdir), "cgfs");
    snprintf(pol_dir, sizeof(pol_dir), "%s/policies", tmpdir);
    cr_assert_eq(mkdir(pol_dir, 0755), 0);
    cr_assert_eq(chmod(pol_dir, 0755), 0);
}

static void teardown(void)
{
    th_kill_wait(bg);
    bg = -1;
    th_teardown();
    th_rmtree(tmpdir);
}

TestSuite(cgroupfs, .init = setup, .fini = teardown, .timeout = 180);

static void need_binary(void)
{
    th_require_binary(tmpdir[0] ? corral : "");
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/*
 * The probe: each attempt is one line "WHAT: RESULT" in $T/result, RESULT the shell's
 * error ("Read-only file system") or WROTE. Then it says where it is and waits for $T/go.
 * Paths come from its own /proc/self/cgroup, so they are what it can see; $ROOT is the
 * corral root's path in the pids (v1) or unified (v2) hierarchy.
 */
static const char probe[] =
    "T=$1 V2=$2 ROOT=$3\n"
    "if [ $V2 = 1 ]; then\n"
    "  own=$(sed -n 's/^0:://p' /proc/self/cgroup); P=/sys/fs/cgroup; M=$P$own; mm=memory.max\n"
    "else\n"
    "  own=$(grep ':pids:' /proc/self/cgroup | cut -d: -f3); P=/sys/fs/cgroup/pids\n"
    "  M=/sys/fs/cgroup/memory$(grep ':memory:' /proc/self/cgroup | cut -d: -f3)\n"
    "  mm=memory.limit_in_bytes\n"
    "fi\n"
    "own=${own%/}\n"
    "try() { if ( echo \"$2\" > \"$3\" ) 2>$T/err; then r=WROTE; else r=$(sed 's/.*: //' "
    "$T/err); fi; echo \"$1: $r\" >> $T/result; }\n"
    "try own-pids.max 7 $P$own/pids.max\n"
    "try own-memory 64M $M/$mm\n"
    "if [ -n \"$own\" ]; then try parent-procs $$ $P$own/../cgroup.procs\n"
    "  try root-procs $$ $P$ROOT/cgroup.procs\n"
    "else echo \"parent-procs: unreachable\" >> $T/result; fi\n"
    "try top-procs $$ $P/cgroup.procs\n"
    "echo \"own=$own\" > $T/where\n"
    "touch $T/done\n"
    "i=0; while [ ! -e $T/go ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done\n";

/* Starts `corral run --policy NAME -- /bin/sh probe.sh ...` in the background. */
static void start_probe(const char *name)
{
    struct cg_ctx *ctx = th_ctx();
    enum cg_hier h = cg_ctx_is_v2(ctx) ? CG_H_CPU : CG_H_PIDS;
    char script[256], out[256], v2[2] = {cg_ctx_is_v2(ctx) ? '1' : '0', '\0'};

    snprintf(script, sizeof(script), "%s/probe.sh", tmpdir);
    th_write_file(script, probe, 0755);
    snprintf(out, sizeof(out), "%s/corral.out", tmpdir);
    bg = fork();
    cr_assert_geq(bg, 0);
    if (bg == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        char none[256];

        snprintf(none, sizeof(none), "%s/none.conf", tmpdir);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execl(corral, corral, "--root", th_root_arg(), "--policy-dir", pol_dir, "--config", none,
              "--ledger", "/dev/null/none", "run", "--policy", name, "--", "/bin/sh", script,
              tmpdir, v2, ctx->root_path[h], (char *)NULL);
        _exit(127);
    }
}

/* Polls for a file the probe makes: the generous bound of a loaded machine. */
static bool wait_file(const char *name)
{
    char p[256];

    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    for (int i = 0; i < 600; i++) {
        if (exists(p))
            return true;
        if (waitpid(bg, NULL, WNOHANG) == bg) {
            bg = -1;
            return exists(p);
        }
        (void)nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    return false;
}

/* The one instance of workload normal/NAME, from the host. */
static char *instance_of(const char *name)
{
    char wl[128], *dir, *inst = NULL;
    struct dirent *de;
    DIR *d;

    snprintf(wl, sizeof(wl), "normal/%s", name);
    dir = th_group_dir(cg_ctx_is_v2(th_ctx()) ? CG_H_CPU : CG_H_PIDS, wl);
    d = opendir(dir);
    cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
    while ((de = readdir(d)))
        if (de->d_type == DT_DIR && de->d_name[0] != '.') {
            cr_assert_null(inst, "more than one instance in %s", dir);
            cr_assert(asprintf(&inst, "%s/%s", wl, de->d_name) > 0);
        }
    closedir(d);
    cr_assert_not_null(inst, "no instance in %s", dir);
    return inst;
}

/* Every process of the instance is in it, in every hierarchy of corral's, as the host
 * sees it (/proc/PID/cgroup read here, not by the workload). */
static void assert_members(const char *inst)
{
    struct cg_ctx *ctx = th_ctx();
    pid_t *pids = NULL;
    size_t n = 0;
    char procs[512];

    snprintf(procs, sizeof(procs), "%s/cgroup.procs",
             th_group_dir(cg_ctx_is_v2(ctx) ? CG_H_CPU : CG_H_PIDS, inst));
    cr_assert_eq(cg_read_pids_at(AT_FDCWD, procs, &pids, &n), 0);
    cr_assert_gt(n, 0, "no process left in %s", inst);
    for (size_t i = 0; i < n; i++)
        for (int h = 0; h < _CG_H_MAX; h++) {
            char want[512], *got;

            if (!ctx->sys.mount[h] || (cg_ctx_is_v2(ctx) && h > 0))
                continue;
            got = th_proc_cgroup(pids[i],
                                 cg_ctx_is_v2(ctx) ? "" : cg_hier_to_string((enum cg_hier)h));
            if (!got)
                continue; /* the process exited meanwhile */
            snprintf(want, sizeof(want), "%s/%s", ctx->root_path[h], inst);
            cr_assert_str_eq(got, want, "pid %d in the %s hierarchy", (int)pids[i],
                             cg_ctx_is_v2(ctx) ? "unified" : cg_hier_to_string((enum cg_hier)h));
            free(got);
        }
    free(pids);
}

/* Each attempt refused with EROFS or EPERM, none written. */
static void assert_refused(const char *result, bool cgns)
{
    static const char *const what[] = {"own-pids.max", "own-memory", "parent-procs", "top-procs"};

    cr_assert_null(strstr(result, "WROTE"), "a write went through:\n%s", result);
    for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
        char line[96], alt[96], un[96];

        snprintf(line, sizeof(line), "%s: Read-only file system\n", what[i]);
        snprintf(alt, sizeof(alt), "%s: Operation not permitted\n", what[i]);
        snprintf(un, sizeof(un), "%s: unreachable\n", what[i]);
        cr_assert(strstr(result, line) || strstr(result, alt) || (cgns && strstr(result, un)),
                  "%s not refused with EROFS/EPERM:\n%s", what[i], result);
    }
    if (!cgns)
        cr_assert(strstr(result, "root-procs: Read-only file system\n") ||
                      strstr(result, "root-procs: Operation not permitted\n"),
                  "moving to the corral root not refused:\n%s", result);
}

/* Runs the probe under policy NAME and checks everything; returns what it saw as its own
 * group ("own=..."). */
static char *run_probe(const char *name, const char *text, bool cgns)
{
    enum cg_hier h = cg_ctx_is_v2(th_ctx()) ? CG_H_CPU : CG_H_PIDS;
    char p[256], wl[128], *inst, *result, *where, *out;
    int st = 0;

    snprintf(p, sizeof(p), "%s/%s.policy", pol_dir, name);
    th_write_file(p, text, 0644);
    snprintf(p, sizeof(p), "%s/none.conf", tmpdir);
    th_write_file(p, "", 0644);
    start_probe(name);
    snprintf(p, sizeof(p), "%s/corral.out", tmpdir);
    cr_assert(wait_file("done"), "the probe did not finish its attempts: %s", th_slurp(p));
    inst = instance_of(name);
    assert_members(inst);
    /* what corral set is what the kernel still reports */
    snprintf(wl, sizeof(wl), "normal/%s", name);
    th_assert_file(h, inst, "pids.max", "max");
    th_assert_file(h, wl, "pids.max", "50");
    snprintf(p, sizeof(p), "%s/go", tmpdir);
    th_write_file(p, "", 0644);
    (void)th_wait_child(&bg, &st, 30);
    snprintf(p, sizeof(p), "%s/corral.out", tmpdir);
    out = th_slurp(p);
    cr_assert_eq(bg, -1, "corral run did not end: %s", out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "corral run: status %#x: %s", st, out);
    snprintf(p, sizeof(p), "%s/result", tmpdir);
    result = th_slurp(p);
    assert_refused(result, cgns);
    snprintf(p, sizeof(p), "%s/where", tmpdir);
    where = th_slurp(p);
    free(result);
    free(out);
    free(inst);
    return where;
}

#define POLICY_HEAD "[Workload]\nClass=normal\n[Pids]\nMax=50\n"

static char *host_cgroup_mounts(void)
{
    char *mi = th_slurp("/proc/self/mountinfo"), *r = calloc(1, strlen(mi) + 2), *save = NULL;
    size_t n = 0;

    cr_assert_not_null(r);
    for (char *l = strtok_r(mi, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (strstr(l, " - cgroup"))
            n += (size_t)sprintf(r + n, "%s\n", l);
    free(mi);
    return r;
}

Test(cgroupfs, root_workload_in_its_mount_namespace_cannot_leave)
{
    need_binary();
    free(run_probe("mntns", POLICY_HEAD "[Namespaces]\nIsolate=pid mnt\n", false));
}

Test(cgroupfs, root_workload_without_namespaces_gets_one_and_cannot_leave)
{
    char *before, *after;

    need_binary();
    before = host_cgroup_mounts();
    free(run_probe("nons", POLICY_HEAD, false));
    after = host_cgroup_mounts();
    /* The read-only view was the workload's alone: the host's mounts are as they were. */
    cr_assert_str_eq(after, before, "the host's cgroup mounts changed");
    cr_assert_null(strstr(after, " ro,"), "a host cgroup mount is read-only:\n%s", after);
    free(before);
    free(after);
}

Test(cgroupfs, cgroup_namespace_sees_its_group_as_root_read_only)
{
    char *where;

    need_binary();
    where = run_probe("cgns", POLICY_HEAD "[Namespaces]\nIsolate=pid mnt cgroup\n", true);
    cr_assert_str_eq(where, "own=\n", "the namespace is not rooted at the instance");
    free(where);
}

Test(cgroupfs, root_directory_with_cgroupfs_bound_in_is_read_only)
{
    char pol[1024], cmd[512];

    need_binary();
    snprintf(cmd, sizeof(cmd),
             "cd %s && mkdir -p root/etc root/usr && ln -s usr/bin root/bin && "
             "ln -s usr/lib root/lib && ln -s usr/lib64 root/lib64 && ln -s usr/sbin root/sbin && "
             "echo 'root:x:0:0:root:/:/bin/sh' > root/etc/passwd",
             tmpdir);
    cr_assert_eq(system(cmd), 0);
    /* The whole of /sys/fs/cgroup bound in, writable: what a policy may do on purpose. */
    snprintf(pol, sizeof(pol),
             POLICY_HEAD "[Namespaces]\nIsolate=pid mnt\n[Filesystem]\nRootDirectory=%s/root\n"
                         "BindReadOnlyPaths=/usr\nBindPaths=/sys/fs/cgroup %s\n",
             tmpdir, tmpdir);
    free(run_probe("rootdir", pol, false));
}

Test(cgroupfs, other_user_without_namespaces_is_refused_by_permissions)
{
    char *result, p[2048];

    need_binary();
    /* No namespace is added for a workload that is not root: cgroupfs is root's, 0644. */
    snprintf(p, sizeof(p), "%s/user.policy", pol_dir);
    th_write_file(p, POLICY_HEAD "[Process]\nUser=nobody\n", 0644);
    snprintf(p, sizeof(p), "%s/none.conf", tmpdir);
    th_write_file(p, "", 0644);
    snprintf(p, sizeof(p),
             "%s --root %s --policy-dir %s --config %s/none.conf --ledger /dev/null/x run "
             "--policy user -- /bin/sh -c 'echo 7 > /sys/fs/cgroup/%s$(grep %s /proc/self/cgroup "
             "| cut -d: -f3)/pids.max' 2>%s/probe-result",
             corral, th_root_arg(), pol_dir, tmpdir, cg_ctx_is_v2(th_ctx()) ? "" : "pids",
             cg_ctx_is_v2(th_ctx()) ? "'^0::'" : ":pids:", tmpdir);
    cr_assert_neq(system(p), 0);
    snprintf(p, sizeof(p), "%s/probe-result", tmpdir);
    result = th_slurp(p);
    cr_assert(strstr(result, "Permission denied"), "%s", result);
    free(result);
}

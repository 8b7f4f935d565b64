/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Integration tests of the policy engine on the real cgroupfs (v1/hybrid here, v2 in the
 * guest of tests/vm): policies applied through the library land in the right kernel files
 * with exact values (read back by path, not through our code), classes carry their weights,
 * invalid input touches nothing, a kernel refusal rolls back every earlier change, a
 * repeated apply writes nothing, unnamed groups are removed unless processes live there.
 * Everything happens under the test's own nested root, removed by th_teardown.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/txn.h"
#include "policy/apply.h"
#include "policy/policy.h"
#include "policy/remove.h"
#include "policy/status.h"
#include "tests/helpers.h"

static char pdir[64];

static void setup(void)
{
    th_setup();
    snprintf(pdir, sizeof(pdir), "/tmp/corral-pol-XXXXXX");
    cr_assert_not_null(mkdtemp(pdir));
    (void)chmod(pdir, 0755);
}

static void teardown(void)
{
    char cmd[128];

    th_teardown();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pdir);
    (void)system(cmd);
}

TestSuite(policy, .init = setup, .fini = teardown, .timeout = 120);

static bool v2(void)
{
    return cg_ctx_is_v2(th_ctx());
}

static void put(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", pdir, name);
    if (!text) {
        (void)unlink(path);
        return;
    }
    f = fopen(path, "we");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0644);
}

struct loaded {
    struct pol_config cfg;
    struct pol_set set;
    struct pol_diags diags;
};

static void load(struct loaded *l, const char *config)
{
    char path[256];

    memset(l, 0, sizeof(*l));
    if (config) {
        snprintf(path, sizeof(path), "%s/corral.conf", pdir);
        put("corral.conf", config);
    }
    cr_assert_eq(pol_load_all(config ? path : NULL, config != NULL, pdir, NULL, 0, &l->cfg, &l->set,
                              &l->diags),
                 0);
}

static void unload(struct loaded *l)
{
    pol_set_free(&l->set);
    pol_config_free(&l->cfg);
    pol_diags_free(&l->diags);
}

/* Loads and applies the policy dir; returns the writes made; asserts success. */
static unsigned apply_ok(const char *config, struct pol_apply_result *res)
{
    struct loaded l;
    struct cg_txn t;
    struct cg_err e = {0};
    char buf[1024];
    unsigned w;
    int r;

    load(&l, config);
    for (size_t i = 0; i < l.diags.n; i++)
        fprintf(stderr, "%s\n", pol_diag_format(&l.diags.d[i], buf, sizeof(buf)));
    cr_assert_eq(l.diags.n, 0);
    cg_txn_init(&t, false);
    r = pol_apply(th_ctx(), &l.cfg, &l.set, true, &t, res, &e);
    cr_assert_eq(r, 0, "apply: %s", cg_err_format(&e, buf, sizeof(buf)));
    w = t.writes;
    cg_txn_done(&t);
    unload(&l);
    return w;
}

static bool group_exists(const char *grp)
{
    char *dir = th_group_dir(v2() ? CG_H_CPU : CG_H_PIDS, grp);
    struct stat st;

    return stat(dir, &st) == 0;
}

static bool root_exists(void)
{
    return group_exists("");
}

static const char web_policy[] = "[Workload]\n"
                                 "Name=web\n"
                                 "Class=high\n"
                                 "[CPU]\n"
                                 "Weight=200\n"
                                 "Max=150%\n"
                                 "Period=100ms\n"
                                 "[Memory]\n"
                                 "Max=2G\n"
                                 "High=1536M\n"
                                 "Low=512M\n"
                                 "SwapMax=0\n"
                                 "[Pids]\n"
                                 "Max=512\n";

static const char config[] = "[Class critical]\n"
                             "CPUWeight=1000\n"
                             "MemoryLow=256M\n"
                             "[Class gold]\n"
                             "CPUWeight=600\n";

Test(policy, every_key_lands_in_the_kernel_file)
{
    struct pol_apply_result res = {0};

    th_require_cgroups();
    put("web.policy", web_policy);
    put("db.policy", "[Workload]\nClass=critical\n[CPU]\nMax=50%\nPeriod=20ms\n");
    put("gold.policy", "[Workload]\nClass=gold\n");
    put("batch.policy", "[Workload]\nClass=batch\n[Pids]\nMax=max\n");
    cr_assert_gt(apply_ok(config, &res), 0);

    if (v2()) {
        th_assert_file(CG_H_CPU, "high/web", "cpu.weight", "200");
        th_assert_file(CG_H_CPU, "high/web", "cpu.max", "150000 100000");
        th_assert_file(CG_H_MEMORY, "high/web", "memory.max", "2147483648");
        th_assert_file(CG_H_MEMORY, "high/web", "memory.high", "1610612736");
        th_assert_file(CG_H_MEMORY, "high/web", "memory.low", "536870912");
        _cleanup_free_ char *swap = th_kread(CG_H_MEMORY, "high/web", "memory.swap.max");
        if (swap)
            cr_assert_str_eq(swap, "0");
        th_assert_file(CG_H_PIDS, "high/web", "pids.max", "512");
        th_assert_file(CG_H_CPU, "critical/db", "cpu.max", "10000 20000");
        /* Class level: the class's weight and memory protection, no limits. */
        th_assert_file(CG_H_CPU, "high", "cpu.weight", "400");
        th_assert_file(CG_H_CPU, "critical", "cpu.weight", "1000");
        th_assert_file(CG_H_MEMORY, "critical", "memory.low", "268435456");
        th_assert_file(CG_H_CPU, "gold", "cpu.weight", "600");
        th_assert_file(CG_H_CPU, "batch", "cpu.weight", "25");
        th_assert_file(CG_H_MEMORY, "high", "memory.max", "max");
        th_assert_file(CG_H_PIDS, "batch/batch", "pids.max", "max");
    } else {
        _cleanup_free_ char *memsw = NULL;
        /* weight 200 -> shares 200 * 1024 / 100 */
        th_assert_file(CG_H_CPU, "high/web", "cpu.shares", "2048");
        th_assert_file(CG_H_CPU, "high/web", "cpu.cfs_quota_us", "150000");
        th_assert_file(CG_H_CPU, "high/web", "cpu.cfs_period_us", "100000");
        th_assert_file(CG_H_MEMORY, "high/web", "memory.limit_in_bytes", "2147483648");
        memsw = th_kread(CG_H_MEMORY, "high/web", "memory.memsw.limit_in_bytes");
        if (memsw)
            cr_assert_str_eq(memsw, "2147483648", "memory + swap with SwapMax=0");
        th_assert_file(CG_H_PIDS, "high/web", "pids.max", "512");
        th_assert_file(CG_H_CPU, "critical/db", "cpu.cfs_quota_us", "10000");
        th_assert_file(CG_H_CPU, "critical/db", "cpu.cfs_period_us", "20000");
        /* Class level. */
        th_assert_file(CG_H_CPU, "high", "cpu.shares", "4096");
        th_assert_file(CG_H_CPU, "critical", "cpu.shares", "10240");
        th_assert_file(CG_H_CPU, "gold", "cpu.shares", "6144");
        th_assert_file(CG_H_CPU, "batch", "cpu.shares", "256");
        th_assert_file(CG_H_CPU, "high", "cpu.cfs_quota_us", "-1");
        th_assert_file(CG_H_PIDS, "batch/batch", "pids.max", "max");
        /* v1 cannot express High and Low: warned, never silently dropped. */
        bool high = false, low = false, class_low = false;
        for (size_t i = 0; i < res.n_warnings; i++) {
            high |= !strcmp(res.warnings[i].group, "high/web") &&
                    !strcmp(res.warnings[i].key, "Memory.High");
            low |= !strcmp(res.warnings[i].group, "high/web") &&
                   !strcmp(res.warnings[i].key, "Memory.Low");
            class_low |= !strcmp(res.warnings[i].group, "critical") &&
                         !strcmp(res.warnings[i].key, "Memory.Low");
        }
        cr_assert(high && low && class_low, "v1 warnings for Memory.High/Low missing");
    }
    pol_apply_result_free(&res);
}

Test(policy, repeated_apply_writes_nothing)
{
    struct pol_apply_result res = {0};
    struct loaded l;
    struct cg_txn t;
    struct cg_err e = {0};

    th_require_cgroups();
    put("web.policy", web_policy);
    put("db.policy", "[Workload]\nClass=critical\n[Memory]\nMax=100M\n");
    cr_assert_gt(apply_ok(config, &res), 0);
    pol_apply_result_free(&res);
    cr_assert_eq(apply_ok(config, &res), 0, "second apply wrote to cgroupfs");
    pol_apply_result_free(&res);

    /* And its dry run plans nothing. */
    load(&l, config);
    cg_txn_init(&t, true);
    cr_assert_eq(pol_apply(th_ctx(), &l.cfg, &l.set, true, &t, NULL, &e), 0);
    cr_assert_eq(t.n, 0, "dry run after apply plans %zu changes", t.n);
    cg_txn_done(&t);
    unload(&l);

    /* A changed key writes exactly that value. */
    put("db.policy", "[Workload]\nClass=critical\n[Memory]\nMax=200M\n");
    cr_assert_eq(apply_ok(config, &res), 1, "exactly the one changed limit");
    pol_apply_result_free(&res);
    th_assert_file(CG_H_MEMORY, "critical/db", v2() ? "memory.max" : "memory.limit_in_bytes",
                   "209715200");
    /* A removed key goes back to the kernel default. */
    put("db.policy", "[Workload]\nClass=critical\n");
    apply_ok(config, &res);
    pol_apply_result_free(&res);
    th_assert_file(CG_H_MEMORY, "critical/db", v2() ? "memory.max" : "memory.limit_in_bytes",
                   v2() ? "max" : "9223372036854771712");
}

/* Writes value the way a program does (open O_WRONLY, one write, no O_TRUNC), which on
 * kernfs leaves the file's mtime as it was: apply must not trust timestamps. */
static void kwrite_behind(enum cg_hier h, const char *grp, const char *file, const char *value)
{
    char *dir = th_group_dir(h, grp);
    char path[512];
    int fd;

    cr_assert_not_null(dir);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %m", path);
    cr_assert_eq(write(fd, value, strlen(value)), (ssize_t)strlen(value), "write %s: %m", path);
    close(fd);
}

Test(policy, noop_apply_corrects_values_changed_behind_its_back)
{
    struct pol_apply_result res = {0};
    const char *pids_file = "pids.max";
    const char *cpu_file = v2() ? "cpu.weight" : "cpu.shares";
    const char *mem_file = v2() ? "memory.max" : "memory.limit_in_bytes";
    _cleanup_free_ char *cpu_want = NULL, *mem_want = NULL;

    th_require_cgroups();
    put("web.policy", web_policy);
    cr_assert_gt(apply_ok(config, &res), 0);
    pol_apply_result_free(&res);
    cr_assert_eq(apply_ok(config, &res), 0);
    pol_apply_result_free(&res);
    cpu_want = th_kread(CG_H_CPU, "high/web", cpu_file);
    mem_want = th_kread(CG_H_MEMORY, "high/web", mem_file);
    cr_assert_not_null(cpu_want);
    cr_assert_not_null(mem_want);

    /* Someone else changes three limits of the workload and one of its class. */
    kwrite_behind(CG_H_PIDS, "high/web", pids_file, "7");
    kwrite_behind(CG_H_CPU, "high/web", cpu_file, v2() ? "50" : "512");
    kwrite_behind(CG_H_MEMORY, "high/web", mem_file, "104857600");
    kwrite_behind(CG_H_CPU, "high", cpu_file, v2() ? "1" : "2");
    th_assert_file(CG_H_PIDS, "high/web", pids_file, "7");

    /* The next apply puts exactly those back, and the one after writes nothing. */
    cr_assert_eq(apply_ok(config, &res), 4, "apply did not correct the out-of-band writes");
    pol_apply_result_free(&res);
    th_assert_file(CG_H_PIDS, "high/web", pids_file, "512");
    th_assert_file(CG_H_CPU, "high/web", cpu_file, cpu_want);
    th_assert_file(CG_H_MEMORY, "high/web", mem_file, mem_want);
    cr_assert_eq(apply_ok(config, &res), 0);
    pol_apply_result_free(&res);
}

Test(policy, dry_run_changes_nothing)
{
    struct loaded l;
    struct cg_txn t;
    struct cg_err e = {0};
    bool mk = false;

    th_require_cgroups();
    put("web.policy", web_policy);
    load(&l, NULL);
    cg_txn_init(&t, true);
    cr_assert_eq(pol_apply(th_ctx(), &l.cfg, &l.set, true, &t, NULL, &e), 0);
    cr_assert_eq(t.writes, 0);
    for (size_t i = 0; i < t.n; i++)
        mk |= t.e[i].kind == CG_TXN_MKDIR && !strcmp(t.e[i].group, "high/web");
    cr_assert(mk, "the plan creates high/web");
    cg_txn_done(&t);
    unload(&l);
    cr_assert(!root_exists(), "a dry run created the root");
}

Test(policy, invalid_input_touches_nothing)
{
    struct loaded l;

    th_require_cgroups();
    put("web.policy", web_policy);
    put("bad.policy", "[Workload]\nClass=nosuch\n[Memory]\nMax=1G\nHigh=2G\n");
    load(&l, NULL);
    cr_assert_eq(l.diags.n, 2);
    unload(&l);
    cr_assert(!root_exists());

    /* Through the command line too, when the binary is built. */
    const char *b = getenv("CORRAL_BUILD_ROOT");
    char cmd[1024];
    if (b) {
        snprintf(cmd, sizeof(cmd), "%s/cli/corral", b);
        if (access(cmd, X_OK) == 0) {
            snprintf(cmd, sizeof(cmd),
                     "%s/cli/corral --root %s --policy-dir %s apply >/dev/null 2>&1", b,
                     th_root_arg(), pdir);
            int st = system(cmd);
            cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "corral apply: status %d", st);
            cr_assert(!root_exists());
        }
    }
}

/* A process holding `arg` MiB of memory it cannot give back (locked, and there may be
 * no swap): the kernel cannot reclaim below it. */
static int hog(void *arg)
{
    size_t len = (size_t)(uintptr_t)arg << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return 1;
    memset(p, 1, len);
    (void)mlock(p, len);
    (void)write(STDERR_FILENO, "", 0);
    for (;;)
        pause();
    return 0;
}

/* Starts hog in group path (created), waits until its memory is charged. */
static pid_t start_hog(const char *path, unsigned mib)
{
    struct cg_group *g = NULL;
    struct cg_err e = {0};
    int rel;
    pid_t pid;

    cr_assert_eq(cg_group_open(th_ctx(), path, true, &g, NULL, &e), 0, "%s", e.detail);
    pid = th_fork_held(hog, (void *)(uintptr_t)mib, &rel);
    cr_assert_eq(cg_group_attach(g, pid, &e), 0, "%s", e.detail);
    th_release(rel);
    for (int i = 0; i < 500; i++) {
        struct ctl_usage u;
        cr_assert_eq(ctl_read_usage_all(g, &u), 0);
        if (u.mem_current != CTL_UNSET && u.mem_current >= (uint64_t)mib << 20)
            break;
        usleep(10000);
    }
    cg_group_free(g);
    return pid;
}

Test(policy, failed_apply_rolls_back_exactly)
{
    struct pol_apply_result res = {0};
    struct loaded l;
    struct cg_txn t;
    struct cg_err e = {0};
    char buf[1024];
    pid_t pid;
    int r;

    th_require_v1();
    put("a.policy", "[CPU]\nWeight=100\n[Pids]\nMax=100\n");
    put("b.policy", "[CPU]\nWeight=100\n");
    apply_ok(NULL, &res);
    pol_apply_result_free(&res);
    pid = start_hog("normal/b/run-1", 64);

    /* a's writes come first (sorted), then b's cpu write, then b's memory limit, which
     * the kernel refuses: 16M is below the 64M that b's process holds locked. */
    put("a.policy", "[CPU]\nWeight=300\n[Pids]\nMax=50\n");
    put("b.policy", "[CPU]\nWeight=500\n[Memory]\nMax=16M\n");
    put("c.policy", "[CPU]\nWeight=700\n");
    put("d.policy", "[Workload]\nClass=high\n");
    load(&l, NULL);
    cg_txn_init(&t, false);
    r = pol_apply(th_ctx(), &l.cfg, &l.set, true, &t, &res, &e);
    th_kill_wait(pid);
    cr_assert_eq(r, -EBUSY, "apply: %d %s", r, cg_err_format(&e, buf, sizeof(buf)));
    cr_assert_str_eq(e.group, "normal/b");
    cr_assert_str_eq(e.file, "memory.limit_in_bytes");
    cg_txn_done(&t);
    unload(&l);
    pol_apply_result_free(&res);

    /* Everything before the refusal is back as it was. */
    th_assert_file(CG_H_CPU, "normal/a", "cpu.shares", "1024");
    th_assert_file(CG_H_PIDS, "normal/a", "pids.max", "100");
    th_assert_file(CG_H_CPU, "normal/b", "cpu.shares", "1024");
    th_assert_file(CG_H_MEMORY, "normal/b", "memory.limit_in_bytes", "9223372036854771712");
    cr_assert(group_exists("normal/b/run-1"));
    /* high/d would have come first (classes in corral.conf order): created, then removed. */
    cr_assert(!group_exists("high/d"), "rollback left high/d");
    cr_assert(!group_exists("high"), "rollback left the class group high");
    cr_assert(!group_exists("normal/c"));
}

Test(policy, failed_mkdir_rolls_back_exactly_v2)
{
    struct pol_apply_result res = {0};
    struct loaded l;
    struct cg_txn t;
    struct cg_err e = {0};
    char *dir = NULL;
    char path[512];
    int r;

    th_require_v2();
    put("a.policy", "[CPU]\nWeight=100\n");
    apply_ok(NULL, &res);
    pol_apply_result_free(&res);
    /* The kernel refuses a new group below the root beyond this many descendants
     * (cgroup.max.descendants, 4.14+): root has normal and normal/a. */
    dir = th_group_dir(CG_H_CPU, "");
    snprintf(path, sizeof(path), "%s/cgroup.max.descendants", dir);
    cr_assert_eq(cg_write_at(AT_FDCWD, path, "2"), 0);

    put("a.policy", "[CPU]\nWeight=300\n");
    put("b.policy", "[CPU]\nWeight=500\n");
    load(&l, NULL);
    cg_txn_init(&t, false);
    r = pol_apply(th_ctx(), &l.cfg, &l.set, true, &t, &res, &e);
    cr_assert_eq(r, -EAGAIN, "apply: %d", r);
    cg_txn_done(&t);
    unload(&l);
    pol_apply_result_free(&res);
    th_assert_file(CG_H_CPU, "normal/a", "cpu.weight", "100");
    cr_assert(!group_exists("normal/b"));
    (void)cg_write_at(AT_FDCWD, path, "max");
}

Test(policy, prune_removes_unnamed_groups_but_not_busy_ones)
{
    struct pol_apply_result res = {0};
    pid_t pid;

    th_require_cgroups();
    put("a.policy", "[CPU]\nWeight=100\n");
    put("b.policy", "[CPU]\nWeight=200\n");
    put("c.policy", "[Workload]\nClass=batch\n");
    put("d.policy", "[Workload]\nClass=idle\n");
    apply_ok(NULL, &res);
    pol_apply_result_free(&res);
    pid = start_hog("idle/d/run-1", 1);
    cr_assert(group_exists("normal/b"));
    /* an empty leftover instance goes with its workload */
    struct cg_group *g = NULL;
    cr_assert_eq(cg_group_open(th_ctx(), "batch/c/run-2", true, &g, NULL, NULL), 0);
    cg_group_free(g);

    put("b.policy", NULL);
    put("c.policy", NULL);
    put("d.policy", NULL);
    apply_ok(NULL, &res);
    th_kill_wait(pid);
    cr_assert(!group_exists("normal/b"), "normal/b not removed");
    cr_assert(!group_exists("batch"), "unused class batch not removed");
    cr_assert(group_exists("normal/a"));
    cr_assert(group_exists("idle/d/run-1"), "a group holding a process was removed");
    cr_assert_eq(res.n_busy, 1);
    cr_assert_str_eq(res.busy[0], "idle/d");
    pol_apply_result_free(&res);
}

Test(policy, status_and_remove)
{
    struct pol_apply_result res = {0};
    struct pol_status s = {0};
    struct cg_err e = {0};
    pid_t pid;
    bool web = false, inst = false;

    th_require_cgroups();
    put("web.policy", web_policy);
    apply_ok(NULL, &res);
    pol_apply_result_free(&res);
    pid = start_hog("high/web/run-1", 4);

    cr_assert_eq(pol_status_collect(th_ctx(), "", &s, &e), 0);
    for (size_t i = 0; i < s.n; i++) {
        const struct pol_status_node *x = &s.nodes[i];
        if (!strcmp(x->path, "high/web")) {
            web = true;
            cr_assert_eq(x->kind, POL_NODE_WORKLOAD);
            cr_assert_eq(x->limits.cpu_weight, 200);
            cr_assert_eq(x->limits.cpu_max_usec, 150000);
            cr_assert_eq(x->limits.mem_max, 2147483648ull);
            cr_assert_eq(x->limits.pids_max, 512);
            cr_assert_geq(x->usage.mem_current, 4u << 20);
            cr_assert_eq(x->usage.pids_current, 1);
        }
        inst |= !strcmp(x->path, "high/web/run-1") && x->kind == POL_NODE_INSTANCE;
    }
    cr_assert(web && inst);
    cr_assert_eq(s.nodes[0].kind, POL_NODE_CLASS);
    pol_status_free(&s);

    cr_assert_eq(pol_remove(th_ctx(), "high/web", false, NULL, NULL, &e), -EBUSY);
    cr_assert(group_exists("high/web/run-1"), "refused remove touched the tree");
    cr_assert_eq(pol_remove(th_ctx(), "high/web", true, NULL, NULL, &e), 0, "%s", e.detail);
    (void)waitpid(pid, NULL, 0);
    cr_assert(!group_exists("high/web"));
    cr_assert(group_exists("high"));
}

/*
 * The threaded read-only check (pol_apply_threads). The threads only read; these tests
 * force several of them on a small set and show that a change behind apply's back is
 * found in any workload, whichever thread checks it, that threads change nothing in what
 * apply plans, writes, warns or undoes, and that a failure rolls everything back.
 */
#define N_THREADED 24

static void threaded_name(unsigned i, char *grp, size_t size)
{
    snprintf(grp, size, "%s/w%02u", i % 2 ? "batch" : "normal", i);
}

static void put_threaded(void)
{
    for (unsigned i = 0; i < N_THREADED; i++) {
        char name[32], text[256];

        snprintf(name, sizeof(name), "w%02u.policy", i);
        snprintf(text, sizeof(text),
                 "[Workload]\nName=w%02u\nClass=%s\n[CPU]\nWeight=200\nMax=50%%\n"
                 "[Memory]\nMax=64M\n[Pids]\nMax=100\n",
                 i, i % 2 ? "batch" : "normal");
        put(name, text);
    }
}

/* Loads and applies the policy dir with `threads` threads into t (initialised by the
 * caller, left for the caller to inspect and finish); returns pol_apply_threads' result. */
static int apply_threads(const char *conf, unsigned threads, struct cg_txn *t,
                         struct pol_apply_result *res, struct cg_err *e)
{
    struct loaded l;
    int r;

    load(&l, conf);
    cr_assert_eq(l.diags.n, 0);
    r = pol_apply_threads(th_ctx(), &l.cfg, &l.set, true, threads, t, res, e);
    unload(&l);
    return r;
}

static unsigned apply_threads_ok(unsigned threads)
{
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    char buf[1024];
    unsigned w;
    int r;

    cg_txn_init(&t, false);
    r = apply_threads(NULL, threads, &t, &res, &e);
    cr_assert_eq(r, 0, "apply: %s", cg_err_format(&e, buf, sizeof(buf)));
    w = t.writes;
    cg_txn_done(&t);
    pol_apply_result_free(&res);
    return w;
}

/* One limit of workload i, changed behind apply's back, cycling through the files. */
static const char *behind_file(unsigned i, enum cg_hier *ret_h, const char **ret_value)
{
    switch (i % 3) {
    case 0:
        *ret_h = CG_H_PIDS;
        *ret_value = "7";
        return "pids.max";
    case 1:
        *ret_h = CG_H_CPU;
        *ret_value = v2() ? "50" : "512";
        return v2() ? "cpu.weight" : "cpu.shares";
    default:
        *ret_h = CG_H_MEMORY;
        *ret_value = "104857600";
        return v2() ? "memory.max" : "memory.limit_in_bytes";
    }
}

static const char *wanted_value(unsigned i)
{
    switch (i % 3) {
    case 0:
        return "100";
    case 1:
        return v2() ? "200" : "2048";
    default:
        return "67108864";
    }
}

Test(policy, threaded_check_finds_a_change_in_any_workload)
{
    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    cr_assert_eq(apply_threads_ok(4), 0, "second threaded apply wrote to cgroupfs");

    /* One change in every workload at once: each is found and put back. */
    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        kwrite_behind(h, grp, file, value);
    }
    cr_assert_eq(apply_threads_ok(4), N_THREADED);
    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        th_assert_file(h, grp, file, wanted_value(i));
    }

    /* And a single change anywhere, whichever thread reads that workload. */
    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        kwrite_behind(h, grp, file, value);
        cr_assert_eq(apply_threads_ok(i % 2 ? 2 : 8), 1, "change in %s/%s not found", grp, file);
        th_assert_file(h, grp, file, wanted_value(i));
    }
    cr_assert_eq(apply_threads_ok(4), 0);
}

/* A workload's directory gone from one hierarchy (v1: freezer, where nothing is read, so
 * the threads only look it up in a listing) or gone altogether (v2) is created again. */
Test(policy, threaded_check_finds_a_missing_directory)
{
    enum cg_hier h = v2() ? CG_H_CPU : CG_H_FREEZER;
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    char *dir;
    bool mk = false;

    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    dir = th_group_dir(h, "batch/w13");
    cr_assert_not_null(dir);
    cr_assert_eq(rmdir(dir), 0, "rmdir %s: %m", dir);
    cr_assert(!group_exists("batch/w13") || !v2());

    cg_txn_init(&t, false);
    cr_assert_eq(apply_threads(NULL, 4, &t, &res, &e), 0, "%s", e.detail);
    for (size_t i = 0; i < t.n; i++)
        mk |= t.e[i].kind == CG_TXN_MKDIR && !strcmp(t.e[i].group, "batch/w13");
    cr_assert(mk, "batch/w13 was not created again");
    cr_assert_eq(t.n, v2() ? 5 : 1, "plan of %zu entries", t.n);
    cg_txn_done(&t);
    pol_apply_result_free(&res);
    cr_assert_eq(access(dir, F_OK), 0);
    cr_assert_eq(apply_threads_ok(4), 0);
}

/* Threads or not, the same plan (entry for entry) and the same warnings. */
Test(policy, threaded_plan_and_warnings_match_sequential)
{
    struct pol_apply_result r1 = {0}, r4 = {0};
    struct cg_err e = {0};
    struct cg_txn t1, t4;

    th_require_cgroups();
    put_threaded();
    put("web.policy", web_policy);
    cr_assert_gt(apply_threads_ok(4), 0);
    for (unsigned i = 0; i < N_THREADED; i += 5) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        kwrite_behind(h, grp, file, value);
    }
    put("new.policy", "[Workload]\nClass=batch\n[Pids]\nMax=9\n");

    cg_txn_init(&t1, true);
    cg_txn_init(&t4, true);
    cr_assert_eq(apply_threads(config, 1, &t1, &r1, &e), 0, "%s", e.detail);
    cr_assert_eq(apply_threads(config, 4, &t4, &r4, &e), 0, "%s", e.detail);
    cr_assert_gt(t1.n, 0);
    cr_assert_eq(t1.n, t4.n);
    for (size_t i = 0; i < t1.n; i++) {
        cr_assert_eq(t1.e[i].kind, t4.e[i].kind);
        cr_assert_str_eq(t1.e[i].group, t4.e[i].group);
        cr_assert_str_eq(t1.e[i].file, t4.e[i].file);
        cr_assert_str_eq(t1.e[i].old_value, t4.e[i].old_value);
        cr_assert_str_eq(t1.e[i].new_value, t4.e[i].new_value);
    }
    cr_assert_eq(r1.n_warnings, r4.n_warnings);
    for (size_t i = 0; i < r1.n_warnings; i++) {
        cr_assert_str_eq(r1.warnings[i].group, r4.warnings[i].group);
        cr_assert_str_eq(r1.warnings[i].key, r4.warnings[i].key);
        cr_assert_str_eq(r1.warnings[i].msg, r4.warnings[i].msg);
    }
    if (!v2())
        cr_assert_gt(r4.n_warnings, 0, "v1 warns about web's Memory.High/Low");
    cg_txn_done(&t1);
    cg_txn_done(&t4);
    pol_apply_result_free(&r1);
    pol_apply_result_free(&r4);
    cr_assert(!group_exists("batch/new"), "a dry run created a group");
}

/* A kernel refusal late in a threaded apply puts back every change made before it: the
 * values corrected in the other workloads and a workload created on the way. */
Test(policy, threaded_failed_apply_rolls_back_everything)
{
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    char buf[1024];
    pid_t pid = 0;
    int r;

    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        kwrite_behind(h, grp, file, value);
    }
    put("a-new.policy", "[Workload]\nName=a-new\n[Pids]\nMax=9\n");
    if (v2()) {
        /* No room for a new group below normal/w22: the kernel refuses its mkdir. */
        char *d = th_group_dir(CG_H_CPU, "normal");
        char path[512];

        snprintf(path, sizeof(path), "%s/cgroup.max.descendants", d);
        cr_assert_eq(cg_write_at(AT_FDCWD, path, "13"), 0); /* w00..w22 even + a-new */
        put("zz.policy", "[Workload]\nName=zz\n");
    } else {
        /* normal/w22 holds 32M it cannot give back; 16M is refused. */
        pid = start_hog("normal/w22/run-1", 32);
        put("w22.policy", "[Workload]\nName=w22\n[CPU]\nWeight=200\nMax=50%\n[Memory]\nMax=16M\n"
                          "[Pids]\nMax=100\n");
    }
    cg_txn_init(&t, false);
    r = apply_threads(NULL, 4, &t, &res, &e);
    if (pid > 0)
        th_kill_wait(pid);
    cr_assert_lt(r, 0, "apply succeeded");
    cr_assert_str_eq(e.group, v2() ? "normal/zz" : "normal/w22", "%s",
                     cg_err_format(&e, buf, sizeof(buf)));
    cr_assert_gt(t.writes, N_THREADED / 2, "the failure came after the corrections");
    cg_txn_done(&t);
    pol_apply_result_free(&res);

    for (unsigned i = 0; i < N_THREADED; i++) {
        enum cg_hier h;
        const char *value, *file = behind_file(i, &h, &value);
        char grp[32];

        threaded_name(i, grp, sizeof(grp));
        th_assert_file(h, grp, file, value);
    }
    cr_assert(!group_exists("normal/a-new"), "rollback left normal/a-new");
    cr_assert(!group_exists("normal/zz"));
    if (v2()) {
        char *d = th_group_dir(CG_H_CPU, "normal");
        char path[512];

        snprintf(path, sizeof(path), "%s/cgroup.max.descendants", d);
        (void)cg_write_at(AT_FDCWD, path, "max");
    }
}

/* Every file apply manages for the threaded policies, with a value that differs from the
 * policy's (NULL: that version has no such file). */
static const struct {
    enum cg_hier h;
    const char *v1, *v1_value, *v2, *v2_value;
} managed[] = {
    {CG_H_CPU, "cpu.shares", "512", "cpu.weight", "50"},
    {CG_H_CPU, "cpu.cfs_quota_us", "20000", "cpu.max", "20000 100000"},
    {CG_H_CPU, "cpu.cfs_period_us", "200000", "cpu.max", "50000 200000"},
    {CG_H_MEMORY, "memory.limit_in_bytes", "33554432", "memory.max", "33554432"},
    {CG_H_MEMORY, "memory.memsw.limit_in_bytes", "134217728", "memory.high", "33554432"},
    {CG_H_MEMORY, NULL, NULL, "memory.low", "1048576"},
    {CG_H_MEMORY, NULL, NULL, "memory.swap.max", "0"},
    {CG_H_PIDS, "pids.max", "7", "pids.max", "7"},
};

/* A change behind apply's back in any file apply manages, in one workload, is found by
 * the threaded check (which reads the files by path below the class) and put back. */
Test(policy, threaded_check_finds_a_change_in_every_managed_file)
{
    unsigned tested = 0;

    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    cr_assert_eq(apply_threads_ok(4), 0);
    for (size_t i = 0; i < ARRAY_SIZE(managed); i++) {
        const char *file = v2() ? managed[i].v2 : managed[i].v1;
        const char *value = v2() ? managed[i].v2_value : managed[i].v1_value;
        _cleanup_free_ char *want = NULL;
        char grp[32], *got;

        if (!file)
            continue;
        threaded_name((unsigned)(7 + 4 * i) % N_THREADED, grp, sizeof(grp));
        want = th_kread(managed[i].h, grp, file);
        if (!want)
            continue; /* e.g. no swap accounting */
        kwrite_behind(managed[i].h, grp, file, value);
        got = th_kread(managed[i].h, grp, file);
        cr_assert_str_neq(got, want, "%s: the write behind apply's back had no effect", file);
        free(got);
        cr_assert_geq(apply_threads_ok(i % 2 ? 2 : 8), 1, "change in %s/%s not found", grp, file);
        th_assert_file(managed[i].h, grp, file, want);
        cr_assert_eq(apply_threads_ok(4), 0, "after %s", file);
        tested++;
    }
    cr_assert_geq(tested, 5);
}

/* A workload's directory gone from a hierarchy whose files the check reads (v1: cpu; v2:
 * the only one) is found missing by that read and created again. */
Test(policy, threaded_check_finds_a_directory_missing_where_it_reads)
{
    struct pol_apply_result res = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    char *dir;
    bool mk = false;

    th_require_cgroups();
    put_threaded();
    cr_assert_gt(apply_threads_ok(4), 0);
    dir = th_group_dir(CG_H_CPU, "normal/w10");
    cr_assert_not_null(dir);
    cr_assert_eq(rmdir(dir), 0, "rmdir %s: %m", dir);

    cg_txn_init(&t, false);
    cr_assert_eq(apply_threads(NULL, 4, &t, &res, &e), 0, "%s", e.detail);
    for (size_t i = 0; i < t.n; i++)
        mk |= t.e[i].kind == CG_TXN_MKDIR && !strcmp(t.e[i].group, "normal/w10");
    cr_assert(mk, "normal/w10 was not created again");
    cg_txn_done(&t);
    pol_apply_result_free(&res);
    cr_assert_eq(access(dir, F_OK), 0);
    th_assert_file(CG_H_PIDS, "normal/w10", "pids.max", "100");
    cr_assert_eq(apply_threads_ok(4), 0);
}

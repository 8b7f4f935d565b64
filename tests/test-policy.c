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
#include "tests/policy-helpers.h"

TestSuite(policy, .init = policy_setup, .fini = policy_teardown, .timeout = 120);

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

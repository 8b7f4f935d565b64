/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Integration tests of the controllers with processes in the groups, on the real cgroupfs
 * (v1/hybrid and v2): placement in every hierarchy, the usage counters of a busy or
 * memory-holding process, CPU throttling.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "controllers/controller.h"
#include "core/fileio.h"
#include "core/txn.h"
#include "tests/controller-helpers.h"
#include "tests/helpers.h"

TestSuite(controllers, .init = th_setup, .fini = th_teardown, .timeout = 120);

Test(controllers, attached_process_is_in_every_hierarchy)
{
    static const struct {
        enum cg_hier h;
        const char *name;
    } hs[] = {{CG_H_CPU, "cpu"},
              {CG_H_CPUACCT, "cpuacct"},
              {CG_H_MEMORY, "memory"},
              {CG_H_PIDS, "pids"},
              {CG_H_FREEZER, "freezer"}};
    struct shared *sh;
    pid_t pid;
    int checked = 0;

    th_require_cgroups();
    sh = shared_new();
    pid = start_in("w/leaf", busy, sh);
    for (size_t i = 0; i < ARRAY_SIZE(hs); i++) {
        _cleanup_free_ char *got = NULL, *want = NULL;
        struct cg_ctx *ctx = th_ctx();

        if (!ctx->sys.mount[hs[i].h])
            continue;
        cr_assert_gt(
            asprintf(&want, "%s/w/leaf",
                     strcmp(ctx->root_path[hs[i].h], "/") == 0 ? "" : ctx->root_path[hs[i].h]),
            0);
        got = th_proc_cgroup(pid, v2() ? "" : hs[i].name);
        if (!got)
            th_kill_wait(pid);
        cr_assert_not_null(got, "no %s line in /proc/%d/cgroup", hs[i].name, (int)pid);
        if (strcmp(got, want) != 0)
            th_kill_wait(pid);
        cr_assert_str_eq(got, want, "%s", hs[i].name);
        checked++;
    }
    th_kill_wait(pid);
    cr_assert_gt(checked, 0);
}

Test(controllers, cpu_usage_grows_for_a_busy_process)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_usage a, b;
    struct shared *sh;
    pid_t pid;

    th_require_cgroups();
    sh = shared_new();
    g = mkgroup("w");
    pid = start_in("w/leaf", busy, sh);
    ctl_usage_init(&a);
    cr_assert_eq(ctl_cpu.read_usage(g, &a), 0);
    /* Wait until the process itself has used 200 ms of CPU by the kernel's own count
     * (/proc/PID/stat), however loaded the machine is, rather than for a wall time. */
    unsigned long long p0 = th_proc_cpu_ns(pid), p1 = p0;
    for (int i = 0; i < 600 && p1 < p0 + 200000000ULL; i++) {
        sleep_ms(50);
        p1 = th_proc_cpu_ns(pid);
    }
    ctl_usage_init(&b);
    cr_assert_eq(ctl_cpu.read_usage(g, &b), 0);
    th_kill_wait(pid);
    cr_assert_geq(p1, p0 + 200000000ULL, "the busy process got no CPU for 30 s");
    cr_assert_neq(a.cpu_usage_ns, CTL_UNSET);
    cr_assert_neq(b.cpu_user_ns, CTL_UNSET);
    cr_assert_neq(b.cpu_system_ns, CTL_UNSET);
    /* /proc/PID/stat counts in clock ticks (10 ms): allow a few of them. */
    cr_assert_geq(b.cpu_usage_ns + 30000000ULL, a.cpu_usage_ns + (p1 - p0),
                  "process used %llu ns, group usage %llu -> %llu ns", p1 - p0,
                  (unsigned long long)a.cpu_usage_ns, (unsigned long long)b.cpu_usage_ns);
    cr_assert_gt(b.cpu_user_ns, a.cpu_user_ns);
}

Test(controllers, cpu_quota_throttles)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s;
    struct ctl_usage u;
    struct shared *sh;
    pid_t pid;

    th_require_cgroups();
    sh = shared_new();
    g = mkgroup("w");
    ctl_settings_init(&s);
    s.cpu_max_usec = 5000;
    s.cpu_period_usec = 20000;
    apply_ok(&ctl_cpu, g, &s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = start_in("w/leaf", busy, sh);
    /* Until the kernel has throttled it a few times (on a loaded machine the process may
     * get fewer periods than the wall time suggests), at most 20 s. */
    for (int i = 0; i < 400; i++) {
        sleep_ms(50);
        ctl_usage_init(&u);
        cr_assert_eq(ctl_cpu.read_usage(g, &u), 0);
        if (u.cpu_nr_throttled != CTL_UNSET && u.cpu_nr_throttled > 5 && i >= 7)
            break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    th_kill_wait(pid);
    cr_assert_neq(u.cpu_nr_periods, CTL_UNSET);
    cr_assert_neq(u.cpu_nr_throttled, CTL_UNSET);
    cr_assert_neq(u.cpu_throttled_ns, CTL_UNSET);
    cr_assert_neq(u.cpu_usage_ns, CTL_UNSET);
    cr_assert_gt(u.cpu_nr_periods, 5);
    cr_assert_gt(u.cpu_nr_throttled, 5);
    cr_assert_gt(u.cpu_throttled_ns, 0);
    /* 25% of one CPU over the elapsed time, plus one period of slack. */
    uint64_t wall =
        (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ULL + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
    cr_assert_lt(u.cpu_usage_ns, wall / 4 + 20000000ULL, "used %llu ns in %llu ns",
                 (unsigned long long)u.cpu_usage_ns, (unsigned long long)wall);
}

Test(controllers, memory_and_pids_usage_of_a_process)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_usage u;
    struct shared *sh;
    pid_t pid;

    th_require_cgroups();
    sh = shared_new();
    g = mkgroup("w");
    pid = start_in("w/leaf", toucher, sh);
    ctl_usage_init(&u);
    cr_assert_eq(ctl_memory.read_usage(g, &u), 0);
    cr_assert_eq(ctl_pids.read_usage(g, &u), 0);
    th_kill_wait(pid);
    cr_assert_neq(u.mem_current, CTL_UNSET);
    cr_assert_neq(u.mem_oom_kills, CTL_UNSET);
    cr_assert_neq(u.pids_current, CTL_UNSET);
    cr_assert_geq(u.mem_current, 30 * MiB, "current %llu", (unsigned long long)u.mem_current);
    if (u.mem_peak != CTL_UNSET)
        cr_assert_geq(u.mem_peak, u.mem_current);
    cr_assert_eq(u.mem_oom_kills, 0);
    cr_assert_eq(u.pids_current, 1);
    if (u.pids_peak != CTL_UNSET)
        cr_assert_geq(u.pids_peak, 1);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Integration tests of the cpu, memory and pids mappings on the real cgroupfs: what is
 * written is read back from the kernel's own file by path, not through our code. Runs on
 * v1/hybrid and v2; settings go on "w", processes into the leaf "w/leaf" (v2 allows
 * processes only in leaves).
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

Test(controllers, cpu_weight_is_what_the_kernel_reports)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s, back;

    th_require_cgroups();
    g = mkgroup("w");
    ctl_settings_init(&s);
    s.cpu_weight = 200;
    apply_ok(&ctl_cpu, g, &s);
    if (v2())
        th_assert_file(CG_H_CPU, "w", "cpu.weight", "200");
    else
        th_assert_file(CG_H_CPU, "w", "cpu.shares", "2048");

    s.cpu_weight = 3; /* shares 30 (30.72 truncated) */
    apply_ok(&ctl_cpu, g, &s);
    if (v2())
        th_assert_file(CG_H_CPU, "w", "cpu.weight", "3");
    else
        th_assert_file(CG_H_CPU, "w", "cpu.shares", "30");
    ctl_settings_init(&back);
    cr_assert_eq(ctl_cpu.read_settings(g, &back), 0);
    cr_assert_eq(back.cpu_weight, 3);
}

Test(controllers, cpu_weight_out_of_range_is_refused)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;

    th_require_cgroups();
    g = mkgroup("w");
    ctl_settings_init(&s);
    s.cpu_weight = 10001;
    cr_assert_lt(apply(&ctl_cpu, g, &s, &t, &w, &e), 0);
    cr_assert_eq(t.writes, 0);
    cr_assert_str_eq(e.group, "w");
    cg_txn_done(&t);
}

Test(controllers, cpu_max_and_period_are_what_the_kernel_reports)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s, back;

    th_require_cgroups();
    g = mkgroup("w");
    ctl_settings_init(&s);
    s.cpu_max_usec = 150000;
    s.cpu_period_usec = 100000;
    apply_ok(&ctl_cpu, g, &s);
    if (v2()) {
        th_assert_file(CG_H_CPU, "w", "cpu.max", "150000 100000");
    } else {
        th_assert_file(CG_H_CPU, "w", "cpu.cfs_quota_us", "150000");
        th_assert_file(CG_H_CPU, "w", "cpu.cfs_period_us", "100000");
    }
    /* Shrinking the period with a smaller quota, then "max" with a new period. */
    s.cpu_max_usec = 20000;
    s.cpu_period_usec = 50000;
    apply_ok(&ctl_cpu, g, &s);
    if (v2()) {
        th_assert_file(CG_H_CPU, "w", "cpu.max", "20000 50000");
    } else {
        th_assert_file(CG_H_CPU, "w", "cpu.cfs_quota_us", "20000");
        th_assert_file(CG_H_CPU, "w", "cpu.cfs_period_us", "50000");
    }
    s.cpu_max_usec = CTL_MAX;
    s.cpu_period_usec = 200000;
    apply_ok(&ctl_cpu, g, &s);
    if (v2()) {
        th_assert_file(CG_H_CPU, "w", "cpu.max", "max 200000");
    } else {
        th_assert_file(CG_H_CPU, "w", "cpu.cfs_quota_us", "-1");
        th_assert_file(CG_H_CPU, "w", "cpu.cfs_period_us", "200000");
    }
    ctl_settings_init(&back);
    cr_assert_eq(ctl_cpu.read_settings(g, &back), 0);
    cr_assert_eq(back.cpu_max_usec, CTL_MAX);
    cr_assert_eq(back.cpu_period_usec, 200000);

    /* A quota without a period is relative to the default period. */
    ctl_settings_init(&s);
    s.cpu_max_usec = 50000;
    apply_ok(&ctl_cpu, g, &s);
    if (v2()) {
        th_assert_file(CG_H_CPU, "w", "cpu.max", "50000 100000");
    } else {
        th_assert_file(CG_H_CPU, "w", "cpu.cfs_quota_us", "50000");
        th_assert_file(CG_H_CPU, "w", "cpu.cfs_period_us", "100000");
    }
}

/* v1 checks every write against the parent's quota/period ratio, so the order of the two
 * writes matters when the period changes under a limited parent. */
Test(controllers, v1_cpu_max_under_a_limited_parent)
{
    _cleanup_(cg_group_freep) struct cg_group *w = NULL, *c = NULL;
    struct ctl_settings s;

    th_require_v1();
    w = mkgroup("w");
    c = mkgroup("w/c");
    ctl_settings_init(&s);
    s.cpu_max_usec = 50000;
    s.cpu_period_usec = 100000;
    apply_ok(&ctl_cpu, w, &s);
    apply_ok(&ctl_cpu, c, &s);
    /* 50% either way; period first would pass through 50000/50000 = 100%. */
    s.cpu_max_usec = 25000;
    s.cpu_period_usec = 50000;
    apply_ok(&ctl_cpu, c, &s);
    th_assert_file(CG_H_CPU, "w/c", "cpu.cfs_quota_us", "25000");
    th_assert_file(CG_H_CPU, "w/c", "cpu.cfs_period_us", "50000");
    /* And back up; quota first would pass through 50000/50000. */
    s.cpu_max_usec = 50000;
    s.cpu_period_usec = 100000;
    apply_ok(&ctl_cpu, c, &s);
    th_assert_file(CG_H_CPU, "w/c", "cpu.cfs_quota_us", "50000");
    th_assert_file(CG_H_CPU, "w/c", "cpu.cfs_period_us", "100000");
}

Test(controllers, memory_max_is_page_rounded_and_reads_back)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    const char *file;
    struct ctl_settings s, back;
    _cleanup_free_ char *raw = NULL;

    th_require_cgroups();
    g = mkgroup("w");
    file = v2() ? "memory.max" : "memory.limit_in_bytes";
    ctl_settings_init(&s);
    s.mem_max = 2 * GiB;
    apply_ok(&ctl_memory, g, &s);
    th_assert_file(CG_H_MEMORY, "w", file, "2147483648");

    /* Not page aligned: the kernel keeps whole pages, so we write the rounded value and a
     * repeated apply of the unrounded one changes nothing. */
    s.mem_max = 2 * GiB + 100;
    cr_assert_eq(apply_ok(&ctl_memory, g, &s), 0);
    th_assert_file(CG_H_MEMORY, "w", file, "2147483648");
    s.mem_max = 1 * GiB + 4096 + 17;
    apply_ok(&ctl_memory, g, &s);
    th_assert_file(CG_H_MEMORY, "w", file, "1073745920");

    s.mem_max = CTL_MAX;
    apply_ok(&ctl_memory, g, &s);
    raw = th_kread(CG_H_MEMORY, "w", file);
    cr_assert_not_null(raw);
    if (v2())
        cr_assert_str_eq(raw, "max");
    else
        cr_assert_geq(strtoull(raw, NULL, 10), 9223372036854771712ULL - 65536 * 2,
                      "v1 unlimited reads as a huge value, got %s", raw);
    ctl_settings_init(&back);
    cr_assert_eq(ctl_memory.read_settings(g, &back), 0);
    cr_assert_eq(back.mem_max, CTL_MAX);
    cr_assert_eq(apply_ok(&ctl_memory, g, &s), 0, "max is normalised: no rewrite");
}

Test(controllers, memory_swap_reads_back)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s, back;

    th_require_cgroups();
    g = mkgroup("w");
    skip_unless_file(CG_H_MEMORY, "w", v2() ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
    ctl_settings_init(&s);
    s.mem_max = 1 * GiB;
    s.mem_swap_max = 512 * MiB;
    apply_ok(&ctl_memory, g, &s);
    if (v2()) {
        th_assert_file(CG_H_MEMORY, "w", "memory.max", "1073741824");
        th_assert_file(CG_H_MEMORY, "w", "memory.swap.max", "536870912");
    } else {
        th_assert_file(CG_H_MEMORY, "w", "memory.limit_in_bytes", "1073741824");
        th_assert_file(CG_H_MEMORY, "w", "memory.memsw.limit_in_bytes", "1610612736");
    }
    /* Lowering both (v1: limit first), then raising past the old memsw (v1: memsw first). */
    s.mem_max = 256 * MiB;
    s.mem_swap_max = 0;
    apply_ok(&ctl_memory, g, &s);
    if (v2()) {
        th_assert_file(CG_H_MEMORY, "w", "memory.swap.max", "0");
    } else {
        th_assert_file(CG_H_MEMORY, "w", "memory.limit_in_bytes", "268435456");
        th_assert_file(CG_H_MEMORY, "w", "memory.memsw.limit_in_bytes", "268435456");
    }
    s.mem_max = 2 * GiB;
    s.mem_swap_max = 1 * GiB;
    apply_ok(&ctl_memory, g, &s);
    if (v2()) {
        th_assert_file(CG_H_MEMORY, "w", "memory.max", "2147483648");
        th_assert_file(CG_H_MEMORY, "w", "memory.swap.max", "1073741824");
    } else {
        th_assert_file(CG_H_MEMORY, "w", "memory.limit_in_bytes", "2147483648");
        th_assert_file(CG_H_MEMORY, "w", "memory.memsw.limit_in_bytes", "3221225472");
    }
    ctl_settings_init(&back);
    cr_assert_eq(ctl_memory.read_settings(g, &back), 0);
    cr_assert_eq(back.mem_max, 2 * GiB);
    cr_assert_eq(back.mem_swap_max, 1 * GiB);

    /* Max alone (SwapMax unset) keeps the swap allowance. */
    ctl_settings_init(&s);
    s.mem_max = 3 * GiB;
    apply_ok(&ctl_memory, g, &s);
    ctl_settings_init(&back);
    cr_assert_eq(ctl_memory.read_settings(g, &back), 0);
    cr_assert_eq(back.mem_max, 3 * GiB);
    cr_assert_eq(back.mem_swap_max, 1 * GiB);
}

Test(controllers, memory_high_low_v1_warn_without_writing)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;

    th_require_v1();
    g = mkgroup("w");
    ctl_settings_init(&s);
    s.mem_high = 1536 * MiB;
    s.mem_low = 512 * MiB;
    cr_assert_eq(apply(&ctl_memory, g, &s, &t, &w, &e), 0, "not expressible is not an error");
    cr_assert_eq(t.writes, 0);
    cr_assert_eq(t.n, 0);
    cr_assert_eq(w.n, 2);
    cr_assert_eq(w.w[0].key, CTL_KEY_MEM_HIGH);
    cr_assert_eq(w.w[1].key, CTL_KEY_MEM_LOW);
    cr_assert_neq(w.w[0].msg[0], '\0');
    cg_txn_done(&t);

    /* Values that are what v1 does anyway are not reported. */
    s.mem_high = CTL_MAX;
    s.mem_low = 0;
    cr_assert_eq(apply(&ctl_memory, g, &s, &t, &w, &e), 0);
    cr_assert_eq(w.n, 0);
    cg_txn_done(&t);
}

Test(controllers, memory_high_low_v2_read_back)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;

    th_require_v2();
    g = mkgroup("w");
    ctl_settings_init(&s);
    s.mem_high = 1536 * MiB;
    s.mem_low = 512 * MiB + 1;
    cr_assert_eq(apply(&ctl_memory, g, &s, &t, &w, &e), 0);
    cr_assert_eq(w.n, 0);
    cg_txn_done(&t);
    th_assert_file(CG_H_MEMORY, "w", "memory.high", "1610612736");
    th_assert_file(CG_H_MEMORY, "w", "memory.low", "536870912");
}

Test(controllers, pids_max_is_what_the_kernel_reports)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s, back;

    th_require_cgroups();
    g = mkgroup("w");
    ctl_settings_init(&s);
    s.pids_max = 64;
    apply_ok(&ctl_pids, g, &s);
    th_assert_file(CG_H_PIDS, "w", "pids.max", "64");
    ctl_settings_init(&back);
    cr_assert_eq(ctl_pids.read_settings(g, &back), 0);
    cr_assert_eq(back.pids_max, 64);
    s.pids_max = CTL_MAX;
    apply_ok(&ctl_pids, g, &s);
    th_assert_file(CG_H_PIDS, "w", "pids.max", "max");
}

static void full_settings(struct ctl_settings *s)
{
    ctl_settings_init(s);
    s->cpu_weight = 250;
    s->cpu_max_usec = 30000;
    s->cpu_period_usec = 60000;
    s->mem_max = 700 * MiB;
    s->pids_max = 77;
}

/* Every file the full settings touch, as raw kernel text. */
static const struct {
    enum cg_hier h;
    const char *v1, *v2;
} files[] = {
    {CG_H_CPU, "cpu.shares", "cpu.weight"}, {CG_H_CPU, "cpu.cfs_quota_us", "cpu.max"},
    {CG_H_CPU, "cpu.cfs_period_us", NULL},  {CG_H_MEMORY, "memory.limit_in_bytes", "memory.max"},
    {CG_H_PIDS, "pids.max", "pids.max"},
};

static void snapshot(char *out[ARRAY_SIZE(files)])
{
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        const char *f = v2() ? files[i].v2 : files[i].v1;
        out[i] = f ? th_kread(files[i].h, "w", f) : strdup("-");
        cr_assert_not_null(out[i], "%s", f);
    }
}

static void snapshot_free(char *v[ARRAY_SIZE(files)])
{
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        free(v[i]);
}

Test(controllers, second_apply_writes_nothing)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;

    th_require_cgroups();
    g = mkgroup("w");
    full_settings(&s);
    cr_assert_eq(apply(&ctl_cpu, g, &s, &t, &w, &e), 0);
    cg_txn_done(&t);
    cg_txn_init(&t, false);
    cr_assert_eq(ctl_apply_all(g, &s, &t, &w, &e), 0, "%s", e.detail);
    cr_assert_gt(t.writes, 0, "memory and pids still had to be written");
    cg_txn_done(&t);

    cg_txn_init(&t, false);
    cr_assert_eq(ctl_apply_all(g, &s, &t, &w, &e), 0);
    cr_assert_eq(t.writes, 0, "second apply wrote %u times (first: %s)", t.writes,
                 t.n ? t.e[0].file : "");
    cr_assert_eq(t.n, 0);
    cg_txn_done(&t);
}

Test(controllers, rollback_restores_previous_values_exactly)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    char *before[ARRAY_SIZE(files)], *mid[ARRAY_SIZE(files)], *after[ARRAY_SIZE(files)];
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;

    th_require_cgroups();
    g = mkgroup("w");
    /* From the kernel defaults... */
    snapshot(before);
    full_settings(&s);
    cg_txn_init(&t, false);
    cr_assert_eq(ctl_apply_all(g, &s, &t, &w, &e), 0, "%s", e.detail);
    cr_assert_geq(t.writes, 4);
    snapshot(mid);
    cr_assert_str_neq(mid[0], before[0]);
    cr_assert_eq(cg_txn_rollback(&t), 0);
    cg_txn_done(&t);
    snapshot(after);
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        cr_assert_str_eq(after[i], before[i], "%s: '%s' after rollback, '%s' before",
                         v2() ? files[i].v2 : files[i].v1, after[i], before[i]);
    snapshot_free(after);
    snapshot_free(before);

    /* ...and from values set earlier, to other ones. */
    cr_assert_eq(ctl_apply_all(g, &s, &t, &w, &e), 0);
    cg_txn_done(&t);
    snapshot(before);
    s.cpu_weight = 40;
    s.cpu_max_usec = CTL_MAX;
    s.cpu_period_usec = 250000;
    s.mem_max = CTL_MAX;
    s.pids_max = CTL_MAX;
    cg_txn_init(&t, false);
    cr_assert_eq(ctl_apply_all(g, &s, &t, &w, &e), 0);
    cr_assert_eq(cg_txn_rollback(&t), 0);
    cg_txn_done(&t);
    snapshot(after);
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        cr_assert_str_eq(after[i], before[i]);
    snapshot_free(after);
    snapshot_free(before);
    snapshot_free(mid);
}

Test(controllers, kernel_refusal_names_group_and_file)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    _cleanup_free_ char *weight_before = NULL, *weight_after = NULL;
    const char *wfile;
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;
    char buf[512];
    int r;

    th_require_cgroups();
    g = mkgroup("w");
    wfile = v2() ? "cpu.weight" : "cpu.shares";
    weight_before = th_kread(CG_H_CPU, "w", wfile);
    ctl_settings_init(&s);
    s.cpu_weight = 300;
    s.cpu_max_usec = CTL_MAX;
    s.cpu_period_usec = 500; /* the kernel's minimum is 1000 us */
    r = apply(&ctl_cpu, g, &s, &t, &w, &e);
    cr_assert_eq(r, -EINVAL, "got %d", r);
    cr_assert_eq(e.error, r);
    cr_assert_str_eq(e.group, "w");
    cr_assert_str_eq(e.file, v2() ? "cpu.max" : "cpu.cfs_period_us");
    cg_err_format(&e, buf, sizeof(buf));
    cr_assert(strstr(buf, "'w'") && strstr(buf, e.file), "message: %s", buf);
    /* The weight went through before the refusal; rollback takes it back. */
    cr_assert_eq(t.writes, 2);
    cr_assert_eq(cg_txn_rollback(&t), 0);
    cg_txn_done(&t);
    weight_after = th_kread(CG_H_CPU, "w", wfile);
    cr_assert_str_eq(weight_after, weight_before);
}

Test(controllers, v1_memory_limit_below_usage_is_refused)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct shared *sh;
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;
    pid_t pid;
    int r;

    th_require_v1();
    sh = shared_new();
    pid = start_in("w/leaf", toucher, sh);
    g = mkgroup("w/leaf");
    ctl_settings_init(&s);
    s.mem_max = 4 * MiB;
    r = apply(&ctl_memory, g, &s, &t, &w, &e);
    th_kill_wait(pid);
    cr_assert_eq(r, -EBUSY, "got %d (%s)", r, e.detail);
    cr_assert_str_eq(e.group, "w/leaf");
    cr_assert_str_eq(e.file, "memory.limit_in_bytes");
    cr_assert_eq(t.n, 0, "a refused write leaves nothing to undo");
    cg_txn_done(&t);
}

Test(controllers, missing_controller_is_an_error_naming_it)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s;
    struct ctl_warnings w;
    struct cg_txn t;
    struct cg_err e;
    char buf[512];
    char *pids_mount = NULL;
    int r;

    th_require_cgroups();
    if (v2()) {
        /* A group whose parent does not delegate pids to it has no pids files. */
        char *dir = NULL;
        char path[600];
        cg_group_free(mkgroup("w/leaf"));
        dir = th_group_dir(CG_H_PIDS, "w");
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
        if (cg_write_at(AT_FDCWD, path, "-pids") < 0)
            cr_skip_test("cannot disable pids in %s", path);
        /* Open without create: creating would enable pids on the way down again. */
        cr_assert_eq(cg_group_open(th_ctx(), "w/leaf", false, &g, NULL, NULL), 0);
    } else {
        /* As if the pids hierarchy were not mounted (the context says where it is). */
        g = mkgroup("w");
        pids_mount = TAKE_PTR(th_ctx()->sys.mount[CG_H_PIDS]);
    }
    ctl_settings_init(&s);
    s.pids_max = 10;
    r = apply(&ctl_pids, g, &s, &t, &w, &e);
    if (pids_mount)
        th_ctx()->sys.mount[CG_H_PIDS] = pids_mount;
    cr_assert_eq(r, -ENODEV);
    cr_assert_eq(t.writes, 0);
    cr_assert_str_eq(e.group, v2() ? "w/leaf" : "w");
    cg_err_format(&e, buf, sizeof(buf));
    cr_assert(strstr(buf, "missing controller 'pids'"), "message: %s", buf);
    cg_txn_done(&t);
}

Test(controllers, group_gone_is_enoent)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s;
    struct ctl_warnings w;
    struct ctl_usage u;
    struct cg_txn t;
    struct cg_err e;
    int r;

    th_require_cgroups();
    g = mkgroup("gone");
    /* Removed behind our back (another process), while we still hold its fds. */
    for (int h = 0; h < _CG_H_MAX; h++) {
        char *dir = th_group_dir((enum cg_hier)h, "gone");
        if (dir)
            (void)rmdir(dir);
    }
    ctl_settings_init(&s);
    s.pids_max = 10;
    r = apply(&ctl_pids, g, &s, &t, &w, &e);
    cr_assert_eq(r, -ENOENT, "got %d: %s", r, e.detail);
    cr_assert_str_eq(e.group, "gone");
    cg_txn_done(&t);
    ctl_usage_init(&u);
    cr_assert_eq(ctl_memory.read_usage(g, &u), -ENOENT);
    cr_assert_eq(ctl_cpu.read_usage(g, &u), -ENOENT);
}

Test(controllers, dry_run_writes_nothing)
{
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_settings s;
    struct ctl_warnings w = {0};
    struct cg_err e = {0};
    struct cg_txn t;

    th_require_cgroups();
    g = mkgroup("w");
    full_settings(&s);
    cg_txn_init(&t, true);
    cr_assert_eq(ctl_apply_all(g, &s, &t, &w, &e), 0);
    cr_assert_eq(t.writes, 0);
    cr_assert_geq(t.n, 4, "the diff lists the changes");
    cg_txn_done(&t);
    th_assert_file(CG_H_PIDS, "w", "pids.max", "max");
}

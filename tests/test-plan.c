/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pure diff of the plan stage (ctl_diff): what the kernel holds and what a policy
 * wants -> ordered writes in the kernel's vocabulary, for every setting, on v1 and v2.
 * No cgroupfs: current values are given, here a new group's (the descriptors' defaults).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "controllers/controller.h"

#define MiB (1024ull * 1024)

struct want_step {
    enum cg_hier hier;
    const char *file, *old_value, *new_value;
};

/* Diffs want against the defaults in vocabulary v and checks the steps, in order. */
static void expect(enum cg_vocab v, const struct ctl_settings *want, const struct want_step *w,
                   size_t n)
{
    struct ctl_settings cur;
    struct ctl_plan p = {0};

    ctl_settings_defaults(&cur);
    ctl_diff(&cur, want, v, &p);
    cr_assert_eq(p.n, n, "v%d: %zu steps, expected %zu (first: %s)", v + 1, p.n, n,
                 p.n ? p.s[0].file : "-");
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(p.s[i].hier, w[i].hier, "step %zu", i);
        cr_assert_str_eq(p.s[i].file, w[i].file, "step %zu", i);
        cr_assert_str_eq(p.s[i].old_value, w[i].old_value, "step %zu: %s", i, w[i].file);
        cr_assert_str_eq(p.s[i].new_value, w[i].new_value, "step %zu: %s", i, w[i].file);
    }
}

static struct ctl_settings unset(void)
{
    struct ctl_settings s;

    ctl_settings_init(&s);
    return s;
}

Test(plan, nothing_wanted_nothing_planned)
{
    struct ctl_settings s = unset(), d;

    expect(CG_VOCAB_V1, &s, NULL, 0);
    expect(CG_VOCAB_V2, &s, NULL, 0);
    ctl_settings_defaults(&d);
    expect(CG_VOCAB_V1, &d, NULL, 0);
    expect(CG_VOCAB_V2, &d, NULL, 0);
}

Test(plan, cpu_weight)
{
    struct ctl_settings s = unset();

    s.cpu_weight = 200;
    expect(CG_VOCAB_V2, &s, (struct want_step[]){{CG_H_CPU, "cpu.weight", "100", "200"}}, 1);
    expect(CG_VOCAB_V1, &s, (struct want_step[]){{CG_H_CPU, "cpu.shares", "1024", "2048"}}, 1);
}

Test(plan, cpu_max_and_period)
{
    struct ctl_settings s = unset();

    s.cpu_max_usec = 50000;
    expect(CG_VOCAB_V2, &s,
           (struct want_step[]){{CG_H_CPU, "cpu.max", "max 100000", "50000 100000"}}, 1);
    expect(CG_VOCAB_V1, &s, (struct want_step[]){{CG_H_CPU, "cpu.cfs_quota_us", "-1", "50000"}}, 1);
    /* A longer period goes first on v1, a shorter one after the quota. */
    s.cpu_period_usec = 200000;
    expect(CG_VOCAB_V2, &s,
           (struct want_step[]){{CG_H_CPU, "cpu.max", "max 100000", "50000 200000"}}, 1);
    expect(CG_VOCAB_V1, &s,
           (struct want_step[]){{CG_H_CPU, "cpu.cfs_period_us", "100000", "200000"},
                                {CG_H_CPU, "cpu.cfs_quota_us", "-1", "50000"}},
           2);
    s.cpu_period_usec = 50000;
    expect(CG_VOCAB_V1, &s,
           (struct want_step[]){{CG_H_CPU, "cpu.cfs_quota_us", "-1", "50000"},
                                {CG_H_CPU, "cpu.cfs_period_us", "100000", "50000"}},
           2);
    /* A period alone keeps the quota. */
    s = unset();
    s.cpu_period_usec = 200000;
    expect(CG_VOCAB_V2, &s, (struct want_step[]){{CG_H_CPU, "cpu.max", "max 100000", "max 200000"}},
           1);
    expect(CG_VOCAB_V1, &s,
           (struct want_step[]){{CG_H_CPU, "cpu.cfs_period_us", "100000", "200000"}}, 1);
}

Test(plan, memory_limits)
{
    struct ctl_settings s = unset();

    s.mem_max = 256 * MiB;
    expect(CG_VOCAB_V2, &s, (struct want_step[]){{CG_H_MEMORY, "memory.max", "max", "268435456"}},
           1);
    expect(CG_VOCAB_V1, &s,
           (struct want_step[]){{CG_H_MEMORY, "memory.limit_in_bytes", "-1", "268435456"}}, 1);
    /* v1 has no memory.high or memory.low: nothing to write (the warning is the
     * descriptor's). A limit is rounded down to the page. */
    s = unset();
    s.mem_high = 128 * MiB + 1;
    s.mem_low = 64 * MiB;
    expect(CG_VOCAB_V2, &s,
           (struct want_step[]){{CG_H_MEMORY, "memory.high", "max", "134217728"},
                                {CG_H_MEMORY, "memory.low", "0", "67108864"}},
           2);
    expect(CG_VOCAB_V1, &s, NULL, 0);
    cr_assert_not_null(ctl_key_desc(CTL_KEY_MEM_HIGH)->missing[CG_VOCAB_V1]);
    cr_assert_not_null(ctl_key_desc(CTL_KEY_MEM_LOW)->missing[CG_VOCAB_V1]);
}

Test(plan, memory_swap)
{
    struct ctl_settings s = unset();

    s.mem_swap_max = 512 * MiB;
    expect(CG_VOCAB_V2, &s,
           (struct want_step[]){{CG_H_MEMORY, "memory.swap.max", "max", "536870912"}}, 1);
    /* v1 without Memory.Max: memory+swap stays unlimited. */
    expect(CG_VOCAB_V1, &s, NULL, 0);
    /* With it: memsw = Max + SwapMax, after the limit (which stays below memsw). */
    s.mem_max = 256 * MiB;
    expect(CG_VOCAB_V1, &s,
           (struct want_step[]){{CG_H_MEMORY, "memory.limit_in_bytes", "-1", "268435456"},
                                {CG_H_MEMORY, "memory.memsw.limit_in_bytes", "-1", "805306368"}},
           2);
}

Test(plan, memsw_is_raised_before_the_limit_passes_it)
{
    struct ctl_settings cur, want = unset();
    struct ctl_plan p = {0};

    ctl_settings_defaults(&cur);
    cur.mem_max = 256 * MiB;
    cur.mem_swap_max = 0; /* memsw = 256M */
    want.mem_max = 512 * MiB;
    want.mem_swap_max = 0;
    ctl_diff(&cur, &want, CG_VOCAB_V1, &p);
    cr_assert_eq(p.n, 2);
    cr_assert_str_eq(p.s[0].file, "memory.memsw.limit_in_bytes");
    cr_assert_str_eq(p.s[1].file, "memory.limit_in_bytes");
}

Test(plan, pids_max)
{
    struct ctl_settings s = unset();

    s.pids_max = 100;
    expect(CG_VOCAB_V2, &s, (struct want_step[]){{CG_H_PIDS, "pids.max", "max", "100"}}, 1);
    expect(CG_VOCAB_V1, &s, (struct want_step[]){{CG_H_PIDS, "pids.max", "max", "100"}}, 1);
}

/* Every descriptor's setting, changed from its default, is planned on v2 into its file. */
Test(plan, every_setting_lands_in_its_v2_file)
{
    for (const struct ctl_key_desc *d = NULL; (d = ctl_key_next(d));) {
        struct ctl_settings s = unset();
        struct ctl_settings cur;
        struct ctl_plan p = {0};
        bool found = false;

        *ctl_key_field(d, &s) = d->def == CTL_MAX || d->def == 0 ? 65536 : d->def * 2;
        ctl_settings_defaults(&cur);
        ctl_diff(&cur, &s, CG_VOCAB_V2, &p);
        for (size_t i = 0; i < p.n; i++)
            found |= strcmp(p.s[i].file, d->file[CG_VOCAB_V2]) == 0;
        cr_assert(found, "%s.%s: no step on %s", d->section, d->key, d->file[CG_VOCAB_V2]);
    }
}

/* The warnings of a group not there yet: from the descriptors and the probed features. */
Test(plan, warnings_of_new_groups)
{
    const unsigned all = CTL_FEAT_MEMORY | CTL_FEAT_SWAP;
    struct ctl_settings s = unset();
    struct ctl_warnings w = {0};

    s.mem_high = 128 * MiB;
    s.mem_low = 0; /* the default: what v1 does anyway */
    ctl_warn_new(&s, CG_VOCAB_V2, all, &w);
    cr_assert_eq(w.n, 0);
    ctl_warn_new(&s, CG_VOCAB_V1, all, &w);
    cr_assert_eq(w.n, 1);
    cr_assert_eq(w.w[0].key, CTL_KEY_MEM_HIGH);

    s = unset();
    s.mem_swap_max = 0;
    s.mem_max = 256 * MiB;
    w.n = 0;
    ctl_warn_new(&s, CG_VOCAB_V1, all, &w);
    ctl_warn_new(&s, CG_VOCAB_V2, all, &w);
    cr_assert_eq(w.n, 0, "swap accounting on, a memory limit: nothing to say");
    ctl_warn_new(&s, CG_VOCAB_V2, CTL_FEAT_MEMORY, &w);
    cr_assert_eq(w.n, 1, "no swap accounting");
    cr_assert_eq(w.w[0].key, CTL_KEY_MEM_SWAP_MAX);
    ctl_warn_new(&s, CG_VOCAB_V1, 0, &w);
    cr_assert_eq(w.n, 1, "no memory controller: apply fails there, no swap warning");
    s.mem_max = CTL_MAX;
    ctl_warn_new(&s, CG_VOCAB_V1, all, &w);
    cr_assert_eq(w.n, 2, "v1 limits memory+swap together: no Max, no swap limit");
    cr_assert_eq(w.w[1].key, CTL_KEY_MEM_SWAP_MAX);
}

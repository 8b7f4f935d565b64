/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the usage counter descriptors and the sampler's use of them: no cgroupfs
 * needed. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting/sample-private.h"
#include "controllers/controller.h"

/* Every counter id has one descriptor, owned by the controller that lists it. */
Test(counters, one_descriptor_per_id)
{
    unsigned seen[_CTL_CTR_MAX] = {0};

    for (int i = 0; i < _CTL_MAX; i++)
        for (size_t j = 0; j < ctl_table[i]->n_ctrs; j++) {
            const struct ctl_ctr_desc *d = &ctl_table[i]->ctrs[j];
            cr_assert(d->id >= 0 && d->id < _CTL_CTR_MAX);
            cr_assert_eq(d->ctl, ctl_table[i]->id, "counter %d", d->id);
            cr_assert_eq(ctl_ctr_desc(d->id), d);
            seen[d->id]++;
        }
    for (int c = 0; c < _CTL_CTR_MAX; c++)
        cr_assert_eq(seen[c], 1, "counter %d has %u descriptors", c, seen[c]);
    cr_assert_null(ctl_ctr_desc(_CTL_CTR_MAX));
    cr_assert_null(ctl_ctr_desc(_CTL_CTR_INVALID));
}

/* A vocabulary a counter supports names its file and says where each value goes. */
Test(counters, a_file_for_each_supported_vocabulary)
{
    for (int c = 0; c < _CTL_CTR_MAX; c++) {
        const struct ctl_ctr_desc *d = ctl_ctr_desc((ctl_ctr)c);
        unsigned supported = 0;

        cr_assert(d->hier >= 0 && d->hier < _CG_H_MAX);
        for (int v = 0; v < _CG_VOCAB_MAX; v++) {
            const struct ctl_ctr_file *f = &d->file[v];
            if (f->form == CTL_CTR_NONE) {
                cr_assert_null(f->name, "counter %d vocab %d", c, v);
                cr_assert_not(f->hot);
                continue;
            }
            supported++;
            cr_assert_not_null(f->name, "counter %d vocab %d has no file", c, v);
            cr_assert(f->name[0]);
            for (int i = 0; i < CTL_CTR_FIELDS && (i == 0 || f->f[i].key); i++) {
                cr_assert_eq(f->form == CTL_CTR_NUMBER, f->f[i].key == NULL);
                cr_assert_lt(f->f[i].offset, sizeof(struct ctl_usage));
                cr_assert_eq(f->f[i].offset % sizeof(uint64_t), 0);
                cr_assert_geq(f->f[i].mult, 1);
            }
            if (f->form == CTL_CTR_NUMBER)
                cr_assert_null(f->f[1].key);
        }
        cr_assert_geq(supported, 1, "counter %d has no file anywhere", c);
    }
}

/* The sampler's ids are the descriptors' ids, and the ones its read rules name are the
 * counters those rules mean. */
Test(counters, sampler_ids_are_the_descriptors)
{
    struct ctl_usage u;

    cr_assert_eq(_C_MAX, _CTL_CTR_MAX);
    cr_assert_eq(ctl_ctr_desc((ctl_ctr)C_CPU_USAGE)->file[CG_VOCAB_V1].f[0].offset,
                 offsetof(struct ctl_usage, cpu_usage_ns));
    cr_assert_eq(ctl_ctr_desc((ctl_ctr)C_PIDS_CUR)->file[CG_VOCAB_V1].f[0].offset,
                 offsetof(struct ctl_usage, pids_current));
    cr_assert_eq(ctl_ctr_desc((ctl_ctr)C_FROZEN)->file[CG_VOCAB_V2].f[0].offset,
                 offsetof(struct ctl_usage, frozen));
    /* The idle fast path: the CPU total, pids current, memory current, frozen. */
    for (int v = 0; v < _CG_VOCAB_MAX; v++) {
        unsigned hot = 0;
        for (int c = 0; c < _C_MAX; c++)
            if (ctl_ctr_desc((ctl_ctr)c)->file[v].hot)
                hot |= 1u << c;
        cr_assert_eq(__builtin_popcount(hot), 4, "vocab %d", v);
        cr_assert(hot & (1u << C_PIDS_CUR));
        cr_assert(hot & (1u << C_FROZEN));
    }
    cr_assert(ctl_ctr_desc((ctl_ctr)C_CPU_USAGE)->file[CG_VOCAB_V1].hot);
    cr_assert(ctl_ctr_desc(CTL_CTR_CPU_STAT)->file[CG_VOCAB_V2].hot);
    ctl_usage_init(&u);
    ctl_ctr_parse(ctl_ctr_desc(CTL_CTR_CPU_STAT), CG_VOCAB_V2,
                  "usage_usec 7\nuser_usec 5\nsystem_usec 2\n", false, &u);
    cr_assert_eq(u.cpu_usage_ns, 7000);
    cr_assert_eq(u.cpu_user_ns, 5000);
    cr_assert_eq(u.cpu_system_ns, 2000);
    cr_assert_eq(u.cpu_throttled_ns, CTL_UNSET);
}

Test(counters, parse_rules)
{
    struct ctl_usage u;

    ctl_usage_init(&u);
    ctl_ctr_parse(ctl_ctr_desc(CTL_CTR_FROZEN), CG_VOCAB_V1, "FROZEN\n", false, &u);
    cr_assert_eq(u.frozen, 1);
    ctl_ctr_parse(ctl_ctr_desc(CTL_CTR_FROZEN), CG_VOCAB_V1, "FREEZING\n", false, &u);
    cr_assert_eq(u.frozen, 0);
    ctl_ctr_parse(ctl_ctr_desc(CTL_CTR_FROZEN), CG_VOCAB_V2, "populated 1\nfrozen 1\n", false, &u);
    cr_assert_eq(u.frozen, 1);
    ctl_ctr_parse(ctl_ctr_desc(CTL_CTR_PIDS_CUR), CG_VOCAB_V2, "max\n", false, &u);
    cr_assert_eq(u.pids_current, CTL_MAX);
    ctl_ctr_parse(ctl_ctr_desc(CTL_CTR_MEM_OOM), CG_VOCAB_V1, "oom_kill_disable 0\noom_kill 3\n",
                  false, &u);
    cr_assert_eq(u.mem_oom_kills, 3);
    ctl_ctr_parse(ctl_ctr_desc(CTL_CTR_MEM_OOM), CG_VOCAB_V2, "low 0\n", true, &u);
    cr_assert_eq(u.mem_oom_kills, 3);
    ctl_ctr_parse(ctl_ctr_desc(CTL_CTR_MEM_OOM), CG_VOCAB_V2, "low 0\n", false, &u);
    cr_assert_eq(u.mem_oom_kills, CTL_UNSET);
}

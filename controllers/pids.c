/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pids: the task limit and counts. The files are the same on v1 and v2: pids.max ("max"
 * = no limit), pids.current, and pids.peak (6.1+ on v2 and v1; absent before).
 */
#include <errno.h>
#include <stdio.h>

#include "controllers/ctl-internal.h"

static const struct ctl_key_desc pids_keys[] = {
    {
        .id = CTL_KEY_PIDS_MAX,
        .ctl = CTL_PIDS,
        .section = "Pids",
        .key = "Max",
        .unit = CTL_UNIT_COUNT,
        .min = 1,
        .max = 4194304, /* PID_MAX_LIMIT on 64-bit */
        .max_ok = true,
        .def = CTL_MAX,
        .offset = offsetof(struct ctl_settings, pids_max),
        .file = {"pids.max", "pids.max"},
    },
};

static int pids_read_settings(struct cg_group *g, struct ctl_settings *ret)
{
    return ctl_read_counter(cg_group_fd(g, CG_H_PIDS), "pids.max", &ret->pids_max);
}

/* pids.peak: 6.13+ on v2. */
static const struct ctl_ctr_desc pids_ctrs[] = {
    {.id = CTL_CTR_PIDS_CUR,
     .ctl = CTL_PIDS,
     .hier = CG_H_PIDS,
     .file = {[CG_VOCAB_V1] = {"pids.current", CTL_CTR_NUMBER, true, CTL_NUM(pids_current)},
              [CG_VOCAB_V2] = {"pids.current", CTL_CTR_NUMBER, true, CTL_NUM(pids_current)}}},
    {.id = CTL_CTR_PIDS_PEAK,
     .ctl = CTL_PIDS,
     .hier = CG_H_PIDS,
     .file = {[CG_VOCAB_V1] = {"pids.peak", CTL_CTR_NUMBER, false, CTL_NUM(pids_peak)},
              [CG_VOCAB_V2] = {"pids.peak", CTL_CTR_NUMBER, false, CTL_NUM(pids_peak)}}},
};

static int pids_read_usage(struct cg_group *g, struct ctl_usage *ret)
{
    enum cg_vocab v = cg_ctx_vocab(cg_group_ctx(g));
    int fd = cg_group_fd(g, CG_H_PIDS), r;

    r = ctl_read_counter(fd, pids_ctrs[0].file[v].name, &ret->pids_current);
    if (r < 0)
        return r;
    return ctl_read_counter(fd, pids_ctrs[1].file[v].name, &ret->pids_peak);
}

static void pids_diff(const struct ctl_settings *cur, const struct ctl_settings *want,
                      enum cg_vocab v, struct ctl_plan *ret)
{
    char a[32], b[32];

    if (want->pids_max == CTL_UNSET || want->pids_max == cur->pids_max)
        return;
    ctl_format_u64(cur->pids_max, a, sizeof(a));
    ctl_format_u64(want->pids_max, b, sizeof(b));
    ctl_plan_add(ret, CG_H_PIDS, pids_keys[0].file[v], a, b);
}

/* Reads pids.max, plans with pids_diff, writes the plan. */
static int pids_apply(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                      struct ctl_warnings *w, struct cg_err *e)
{
    struct ctl_raw raw = {.file = "pids.max"};
    struct ctl_settings cur;
    struct ctl_plan p = {0};
    int r;

    if (s->pids_max == CTL_UNSET)
        return 0;
    ctl_settings_init(&cur);
    r = ctl_read_raw(g, CG_H_PIDS, "pids", raw.file, raw.value, sizeof(raw.value), e);
    if (r < 0)
        return r;
    r = cg_parse_u64(raw.value, &cur.pids_max);
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), raw.file, "unexpected content '%s'", raw.value);
    pids_diff(&cur, s, cg_ctx_vocab(cg_group_ctx(g)), &p);
    return ctl_plan_write(g, &p, &raw, 1, t, e);
}

const struct ctl_controller ctl_pids = {
    .name = "pids",
    .id = CTL_PIDS,
    .diff = pids_diff,
    .apply = pids_apply,
    .read_settings = pids_read_settings,
    .read_usage = pids_read_usage,
    .keys = pids_keys,
    .n_keys = ARRAY_SIZE(pids_keys),
    .ctrs = pids_ctrs,
    .n_ctrs = ARRAY_SIZE(pids_ctrs),
};

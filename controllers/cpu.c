/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CPU: weight and bandwidth (quota per period), and usage.
 *   v2: cpu.weight, cpu.max "QUOTA PERIOD" ("max PERIOD"), cpu.stat (usec).
 *   v1: cpu.shares (weight*1024/100), cpu.cfs_period_us + cpu.cfs_quota_us (-1 = none),
 *       cpuacct.usage{,_user,_sys} (ns, in the cpuacct hierarchy, which may be a separate
 *       mount) and cpu.stat nr_periods/nr_throttled/throttled_time (ns).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/ctl-internal.h"

#define PERIOD_DEFAULT_USEC 100000

static const struct ctl_key_desc cpu_keys[] = {
    {
        .id = CTL_KEY_CPU_WEIGHT,
        .ctl = CTL_CPU,
        .section = "CPU",
        .key = "Weight",
        .unit = CTL_UNIT_COUNT,
        .min = CTL_WEIGHT_MIN,
        .max = CTL_WEIGHT_MAX,
        .def = CTL_WEIGHT_DEFAULT,
        .offset = offsetof(struct ctl_settings, cpu_weight),
        .file = {"cpu.shares", "cpu.weight"},
    },
    {
        .id = CTL_KEY_CPU_MAX,
        .ctl = CTL_CPU,
        .section = "CPU",
        .key = "Max",
        .unit = CTL_UNIT_CPU_SHARE,
        .min = 1,
        .max = 100000ull * 10000ull, /* 100000% = 1000 CPUs */
        .max_ok = true,
        .def = CTL_MAX,
        .offset = offsetof(struct ctl_settings, cpu_max_usec),
        .file = {"cpu.cfs_quota_us", "cpu.max"},
    },
    {
        .id = CTL_KEY_CPU_PERIOD,
        .ctl = CTL_CPU,
        .section = "CPU",
        .key = "Period",
        .unit = CTL_UNIT_DURATION,
        .min = 1000,    /* the kernel's min_cfs_quota_period */
        .max = 1000000, /* max_cfs_quota_period */
        .def = PERIOD_DEFAULT_USEC,
        .offset = offsetof(struct ctl_settings, cpu_period_usec),
        .file = {"cpu.cfs_period_us", "cpu.max"},
    },
};

int ctl_cpu_max_parse(const char *s, uint64_t *ret_quota, uint64_t *ret_period)
{
    char q[32];
    uint64_t quota, period;
    const char *sp = strchr(s, ' ');
    int r;

    if (!sp || (size_t)(sp - s) >= sizeof(q))
        return -EINVAL;
    memcpy(q, s, (size_t)(sp - s));
    q[sp - s] = '\0';
    r = cg_parse_u64(q, &quota);
    if (r < 0)
        return r;
    r = cg_parse_u64(sp + 1, &period);
    if (r < 0)
        return r;
    if (period == CTL_MAX)
        return -EINVAL;
    *ret_quota = quota;
    *ret_period = period;
    return 0;
}

int ctl_cpu_max_format(uint64_t quota, uint64_t period, char *buf, size_t size)
{
    int n;

    if (quota == CTL_UNSET || period == CTL_UNSET || period == CTL_MAX)
        return -EINVAL;
    if (quota == CTL_MAX)
        n = snprintf(buf, size, "max %llu", (unsigned long long)period);
    else
        n = snprintf(buf, size, "%llu %llu", (unsigned long long)quota, (unsigned long long)period);
    return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

int ctl_cfs_quota_parse(const char *s, uint64_t *ret)
{
    /* v1 shows "no quota" as -1; any negative value means the same to the kernel. */
    if (s[0] == '-') {
        if (strcmp(s, "-1") != 0)
            return -EINVAL;
        *ret = CTL_MAX;
        return 0;
    }
    return cg_parse_u64(s, ret);
}

static int read_u64_raw(struct cg_group *g, enum cg_hier h, const char *file, char *raw,
                        size_t size, uint64_t *ret, struct cg_err *e)
{
    int r = ctl_read_raw(g, h, "cpu", file, raw, size, e);

    if (r < 0)
        return r;
    r = cg_parse_u64(raw, ret);
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), file, "unexpected content '%s'", raw);
    return 0;
}

static int cpu_read_settings(struct cg_group *g, struct ctl_settings *ret)
{
    int fd = cg_group_fd(g, CG_H_CPU), r;
    uint64_t v, q, p;
    char buf[64];

    if (cg_ctx_is_v2(cg_group_ctx(g))) {
        r = ctl_read_counter(fd, "cpu.weight", &ret->cpu_weight);
        if (r < 0)
            return r;
        r = ctl_read_opt(fd, "cpu.max", buf, sizeof(buf));
        if (r <= 0)
            return r;
        r = ctl_cpu_max_parse(buf, &q, &p);
        if (r < 0)
            return r;
        ret->cpu_max_usec = q;
        ret->cpu_period_usec = p;
        return 0;
    }
    v = CTL_UNSET;
    r = ctl_read_counter(fd, "cpu.shares", &v);
    if (r < 0)
        return r;
    ret->cpu_weight = ctl_shares_to_weight(v);
    r = ctl_read_counter(fd, "cpu.cfs_period_us", &ret->cpu_period_usec);
    if (r < 0)
        return r;
    r = ctl_read_opt(fd, "cpu.cfs_quota_us", buf, sizeof(buf));
    if (r <= 0)
        return r;
    r = ctl_cfs_quota_parse(buf, &q);
    if (r < 0)
        return r;
    ret->cpu_max_usec = q;
    return 0;
}

/* v1 keeps user and system time in cpuacct; v2 has them in cpu.stat only. */
static const struct ctl_ctr_desc cpu_ctrs[] = {
    {.id = CTL_CTR_CPU_USER,
     .ctl = CTL_CPU,
     .hier = CG_H_CPUACCT,
     .file = {[CG_VOCAB_V1] = {"cpuacct.usage_user", CTL_CTR_NUMBER, false, CTL_NUM(cpu_user_ns)}}},
    {.id = CTL_CTR_CPU_SYS,
     .ctl = CTL_CPU,
     .hier = CG_H_CPUACCT,
     .file = {[CG_VOCAB_V1] = {"cpuacct.usage_sys", CTL_CTR_NUMBER, false,
                               CTL_NUM(cpu_system_ns)}}},
    {.id = CTL_CTR_CPU_USAGE,
     .ctl = CTL_CPU,
     .hier = CG_H_CPUACCT,
     .file = {[CG_VOCAB_V1] = {"cpuacct.usage", CTL_CTR_NUMBER, true, CTL_NUM(cpu_usage_ns)}}},
    {.id = CTL_CTR_CPU_STAT,
     .ctl = CTL_CPU,
     .hier = CG_H_CPU,
     .file = {[CG_VOCAB_V1] = {"cpu.stat",
                               CTL_CTR_KEYED,
                               false,
                               {CTL_KEY("nr_periods", cpu_nr_periods, 1),
                                CTL_KEY("nr_throttled", cpu_nr_throttled, 1),
                                CTL_KEY("throttled_time", cpu_throttled_ns, 1)}},
              [CG_VOCAB_V2] = {"cpu.stat",
                               CTL_CTR_KEYED,
                               true,
                               {CTL_KEY("nr_periods", cpu_nr_periods, 1),
                                CTL_KEY("nr_throttled", cpu_nr_throttled, 1),
                                CTL_KEY("usage_usec", cpu_usage_ns, 1000),
                                CTL_KEY("user_usec", cpu_user_ns, 1000),
                                CTL_KEY("system_usec", cpu_system_ns, 1000),
                                CTL_KEY("throttled_usec", cpu_throttled_ns, 1000)}}}},
};

static int cpu_read_usage(struct cg_group *g, struct ctl_usage *ret)
{
    enum cg_vocab v = cg_ctx_vocab(cg_group_ctx(g));
    const struct ctl_ctr_desc *stat_d = &cpu_ctrs[CTL_CTR_CPU_STAT - CTL_CTR_CPU_USER];
    _cleanup_free_ char *stat = NULL;
    int r;

    /* v2: cpu.stat's usage lines are there even when the cpu controller is off (4.15+);
     * the throttling lines only when it is on. */
    r = ctl_read_text(cg_group_fd(g, stat_d->hier), stat_d->file[v].name, &stat);
    if (r < 0)
        return r;
    if (stat)
        ctl_ctr_parse(stat_d, v, stat, true, ret);
    /* v1: the times in cpuacct's files (v2 has no files for them). */
    for (size_t i = 0; i < ARRAY_SIZE(cpu_ctrs) && r >= 0; i++) {
        const struct ctl_ctr_desc *d = &cpu_ctrs[i];
        if (d->file[v].form == CTL_CTR_NUMBER)
            r = ctl_read_counter(cg_group_fd(g, d->hier), d->file[v].name,
                                 (uint64_t *)((char *)ret + d->file[v].f[0].offset));
    }
    return r;
}

static void fmt_quota_v1(uint64_t q, char *buf, size_t size)
{
    if (q == CTL_MAX)
        snprintf(buf, size, "-1");
    else
        snprintf(buf, size, "%llu", (unsigned long long)q);
}

/* The quota and period wanted. A quota without a period is relative to the default period,
 * not whatever period an earlier policy left; a period without a quota keeps the quota. */
static void want_max(const struct ctl_settings *cur, const struct ctl_settings *want,
                     uint64_t *ret_q, uint64_t *ret_p)
{
    *ret_q = want->cpu_max_usec != CTL_UNSET ? want->cpu_max_usec : cur->cpu_max_usec;
    *ret_p = want->cpu_period_usec != CTL_UNSET
                 ? want->cpu_period_usec
                 : (want->cpu_max_usec != CTL_UNSET ? PERIOD_DEFAULT_USEC : cur->cpu_period_usec);
}

static void cpu_diff(const struct ctl_settings *cur, const struct ctl_settings *want,
                     enum cg_vocab v, struct ctl_plan *ret)
{
    const struct ctl_key_desc *kq = &cpu_keys[1], *kp = &cpu_keys[2];
    char a[32], b[32], c[32], d[32];
    uint64_t cq = cur->cpu_max_usec, cp = cur->cpu_period_usec, wq, wp;

    if (want->cpu_weight != CTL_UNSET) {
        uint64_t cw = v == CG_VOCAB_V2 ? cur->cpu_weight : ctl_weight_to_shares(cur->cpu_weight);
        uint64_t ww = v == CG_VOCAB_V2 ? want->cpu_weight : ctl_weight_to_shares(want->cpu_weight);

        ctl_format_u64(cw, a, sizeof(a));
        ctl_format_u64(ww, b, sizeof(b));
        if (cw != ww)
            ctl_plan_add(ret, CG_H_CPU, cpu_keys[0].file[v], a, b);
    }
    if (want->cpu_max_usec == CTL_UNSET && want->cpu_period_usec == CTL_UNSET)
        return;
    want_max(cur, want, &wq, &wp);
    if (v == CG_VOCAB_V2) {
        if ((wq != cq || wp != cp) && ctl_cpu_max_format(cq, cp, a, sizeof(a)) == 0 &&
            ctl_cpu_max_format(wq, wp, b, sizeof(b)) == 0)
            ctl_plan_add(ret, CG_H_CPU, kq->file[v], a, b);
        return;
    }
    fmt_quota_v1(cq, a, sizeof(a));
    fmt_quota_v1(wq, b, sizeof(b));
    ctl_format_u64(cp, c, sizeof(c));
    ctl_format_u64(wp, d, sizeof(d));
    /* v1 checks each write against the parent's quota/period ratio, so the intermediate
     * state must not exceed both the old and the new ratio: when the period grows, writing
     * it first only lowers the ratio; when it shrinks, the quota goes first. Rollback
     * replays in reverse and meets the same intermediate state. */
    if (wp > cp)
        ctl_plan_add(ret, CG_H_CPU, kp->file[v], c, d);
    if (wq != cq)
        ctl_plan_add(ret, CG_H_CPU, kq->file[v], a, b);
    if (wp < cp)
        ctl_plan_add(ret, CG_H_CPU, kp->file[v], c, d);
}

/* Reads the weight's file into cur (in weights: v1 shares that no weight maps to exactly
 * stay CTL_UNSET, so that the diff rewrites them). */
static int read_weight(struct cg_group *g, enum cg_vocab v, uint64_t weight, struct ctl_raw *raw,
                       struct ctl_settings *cur, struct cg_err *e)
{
    uint64_t x;
    int r;

    if (weight < CTL_WEIGHT_MIN || weight > CTL_WEIGHT_MAX)
        return cg_err_set(e, -ERANGE, cg_group_path(g), raw->file,
                          "CPU weight %llu is outside %d..%d", (unsigned long long)weight,
                          CTL_WEIGHT_MIN, CTL_WEIGHT_MAX);
    r = read_u64_raw(g, CG_H_CPU, raw->file, raw->value, sizeof(raw->value), &x, e);
    if (r < 0)
        return r;
    if (v == CG_VOCAB_V2)
        cur->cpu_weight = x;
    else {
        /* Compared in the kernel's unit: shares that round-trip to the same weight are
         * still rewritten when they differ from what the weight maps to. */
        cur->cpu_weight = ctl_shares_to_weight(x);
        if (ctl_weight_to_shares(cur->cpu_weight) != x)
            cur->cpu_weight = CTL_UNSET;
    }
    return 0;
}

/* Reads quota and period into cur: v2 cpu.max (raw[1]), v1 cfs_quota_us (raw[1]) and
 * cfs_period_us (raw[2]). */
static int read_max(struct cg_group *g, enum cg_vocab v, struct ctl_raw raw[3],
                    struct ctl_settings *cur, struct cg_err *e)
{
    int r;

    if (v == CG_VOCAB_V2) {
        r = ctl_read_raw(g, CG_H_CPU, "cpu", raw[1].file, raw[1].value, sizeof(raw[1].value), e);
        if (r < 0)
            return r;
        r = ctl_cpu_max_parse(raw[1].value, &cur->cpu_max_usec, &cur->cpu_period_usec);
        if (r < 0)
            return cg_err_set(e, r, cg_group_path(g), raw[1].file, "unexpected content '%s'",
                              raw[1].value);
        return 0;
    }
    r = read_u64_raw(g, CG_H_CPU, raw[2].file, raw[2].value, sizeof(raw[2].value),
                     &cur->cpu_period_usec, e);
    if (r < 0)
        return r;
    r = ctl_read_raw(g, CG_H_CPU, "cpu", raw[1].file, raw[1].value, sizeof(raw[1].value), e);
    if (r < 0)
        return r;
    r = ctl_cfs_quota_parse(raw[1].value, &cur->cpu_max_usec);
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), raw[1].file, "unexpected content '%s'",
                          raw[1].value);
    return 0;
}

/* Reads what the settings asked for need, plans with cpu_diff, writes the plan. */
static int cpu_apply(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                     struct ctl_warnings *w, struct cg_err *e)
{
    enum cg_vocab v = cg_ctx_vocab(cg_group_ctx(g));
    struct ctl_raw raw[3] = {{cpu_keys[0].file[v]}, {cpu_keys[1].file[v]}};
    struct ctl_settings cur;
    struct ctl_plan p = {0};
    uint64_t wq, wp;
    char buf[64];
    int r;

    if (v == CG_VOCAB_V1)
        raw[2].file = cpu_keys[2].file[v];
    ctl_settings_init(&cur);
    if (s->cpu_weight != CTL_UNSET && (r = read_weight(g, v, s->cpu_weight, &raw[0], &cur, e)) < 0)
        return r;
    if (s->cpu_max_usec != CTL_UNSET || s->cpu_period_usec != CTL_UNSET) {
        r = read_max(g, v, raw, &cur, e);
        if (r < 0)
            return r;
        want_max(&cur, s, &wq, &wp);
        if (v == CG_VOCAB_V1 && wp == CTL_MAX)
            return cg_err_set(e, -EINVAL, cg_group_path(g), raw[2].file, "period cannot be max");
        if (v == CG_VOCAB_V2 && (r = ctl_cpu_max_format(wq, wp, buf, sizeof(buf))) < 0)
            return cg_err_set(e, r, cg_group_path(g), raw[1].file, "invalid quota or period");
    }
    cpu_diff(&cur, s, v, &p);
    return ctl_plan_write(g, &p, raw, ARRAY_SIZE(raw), t, e);
}

const struct ctl_controller ctl_cpu = {
    .name = "cpu",
    .id = CTL_CPU,
    .diff = cpu_diff,
    .apply = cpu_apply,
    .read_settings = cpu_read_settings,
    .read_usage = cpu_read_usage,
    .keys = cpu_keys,
    .n_keys = ARRAY_SIZE(cpu_keys),
    .ctrs = cpu_ctrs,
    .n_ctrs = ARRAY_SIZE(cpu_ctrs),
};

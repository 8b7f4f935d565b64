/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cpuset: the CPUs and memory nodes a group's processes may use ([CPU] AllowedCPUs= and
 * AllowedMemoryNodes=, as systemd's keys of the same names).
 *   v2: cpuset.cpus, cpuset.mems (the "cpuset" controller enabled in subtree_control),
 *       within the parent's cpuset.cpus.effective and cpuset.mems.effective.
 *   v1: cpuset.cpus, cpuset.mems in the cpuset hierarchy, within the parent's
 *       cpuset.cpus and cpuset.mems (core gives a new group its parent's two values).
 * A key left out writes nothing: the group keeps what it inherited. Without the cpuset
 * hierarchy or controller a key that is set is an error at apply, never dropped: a
 * restriction that cannot be made must not look made.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controllers/ctl-internal.h"

static const struct ctl_key_desc cpuset_keys[] = {
    {
        .id = CTL_KEY_CPUSET_CPUS,
        .ctl = CTL_CPUSET,
        .section = "CPU",
        .key = "AllowedCPUs",
        .unit = CTL_UNIT_CPU_LIST,
        .min = 1,
        .def = CTL_UNSET, /* no restriction: nothing written, the group inherits */
        .offset = offsetof(struct ctl_settings, cpu_lists[0]),
        .file = {"cpuset.cpus", "cpuset.cpus"},
    },
    {
        .id = CTL_KEY_CPUSET_MEMS,
        .ctl = CTL_CPUSET,
        .section = "CPU",
        .key = "AllowedMemoryNodes",
        .unit = CTL_UNIT_CPU_LIST,
        .min = 1,
        .def = CTL_UNSET,
        .offset = offsetof(struct ctl_settings, cpu_lists[1]),
        .file = {"cpuset.mems", "cpuset.mems"},
    },
};

/* What the parent offers, per key and vocabulary, and what the numbers are. */
static const char *const parent_file[][_CG_VOCAB_MAX] = {
    {"../cpuset.cpus", "../cpuset.cpus.effective"},
    {"../cpuset.mems", "../cpuset.mems.effective"},
};
static const char *const what[] = {"CPUs", "memory nodes"};

/* Reads a list file of g (or of its parent: "../FILE") into *ret, and the raw value. */
static int read_list(struct cg_group *g, const char *file, char *raw, size_t size,
                     struct ctl_cpu_list *ret, struct cg_err *e)
{
    int r = ctl_read_raw(g, CG_H_CPUSET, "cpuset", file, raw, size, e);

    if (r < 0)
        return r;
    r = ctl_cpu_list_parse(raw, ret);
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), file, "unexpected content '%s'", raw);
    return 0;
}

static int cpuset_read_settings(struct cg_group *g, struct ctl_settings *ret)
{
    int fd = cg_group_fd(g, CG_H_CPUSET);

    for (size_t i = 0; i < ARRAY_SIZE(cpuset_keys); i++) {
        const struct ctl_key_desc *d = &cpuset_keys[i];
        enum cg_vocab v = cg_ctx_vocab(cg_group_ctx(g));
        char buf[CTL_VALUE_MAX];
        int r = ctl_read_opt(fd, d->file[v], buf, sizeof(buf));

        if (r < 0)
            return r;
        if (r > 0 && ctl_cpu_list_parse(buf, ctl_key_list(d, ret)) < 0)
            return -EINVAL;
    }
    return 0;
}

static void cpuset_diff(const struct ctl_settings *cur, const struct ctl_settings *want,
                        enum cg_vocab v, struct ctl_plan *ret)
{
    for (size_t i = 0; i < ARRAY_SIZE(cpuset_keys); i++) {
        const struct ctl_key_desc *d = &cpuset_keys[i];
        const struct ctl_cpu_list *c = ctl_key_list_get(d, cur), *w = ctl_key_list_get(d, want);
        char a[CTL_VALUE_MAX] = "", b[CTL_VALUE_MAX];

        if (w->set == CTL_UNSET || (c->set != CTL_UNSET && ctl_cpu_list_eq(c, w)))
            continue;
        if (c->set != CTL_UNSET)
            (void)ctl_cpu_list_format(c, a, sizeof(a));
        if (ctl_cpu_list_format(w, b, sizeof(b)) == 0)
            ctl_plan_add(ret, CG_H_CPUSET, d->file[v], a, b);
    }
}

/* Refuses a wanted list the parent does not offer, naming what is missing. */
static int check_parent(struct cg_group *g, size_t i, enum cg_vocab v,
                        const struct ctl_cpu_list *want, struct cg_err *e)
{
    const struct ctl_key_desc *d = &cpuset_keys[i];
    struct ctl_cpu_list parent, missing;
    char raw[CTL_VALUE_MAX], m[CTL_VALUE_MAX], w[CTL_VALUE_MAX];
    int r = read_list(g, parent_file[i][v], raw, sizeof(raw), &parent, e);

    if (r < 0)
        return r;
    if (!ctl_cpu_list_minus(want, &parent, &missing))
        return 0;
    (void)ctl_cpu_list_format(&missing, m, sizeof(m));
    (void)ctl_cpu_list_format(want, w, sizeof(w));
    return cg_err_set(e, -EINVAL, cg_group_path(g), d->file[v],
                      "%s.%s=%s: %s %s not available: the parent group's %s is '%s'", d->section,
                      d->key, w, what[i], m, parent_file[i][v] + 3, raw);
}

/* Reads what the settings ask for, checks it against the parent, plans, writes. */
static int cpuset_apply(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                        struct ctl_warnings *w, struct cg_err *e)
{
    enum cg_vocab v = cg_ctx_vocab(cg_group_ctx(g));
    struct ctl_raw raw[ARRAY_SIZE(cpuset_keys)] = {{NULL}};
    struct ctl_settings cur;
    struct ctl_plan p = {0};

    ctl_settings_init(&cur);
    for (size_t i = 0; i < ARRAY_SIZE(cpuset_keys); i++) {
        const struct ctl_key_desc *d = &cpuset_keys[i];
        const struct ctl_cpu_list *want = ctl_key_list_get(d, s);
        int r;

        if (want->set == CTL_UNSET)
            continue;
        raw[i].file = d->file[v];
        r = read_list(g, raw[i].file, raw[i].value, sizeof(raw[i].value), ctl_key_list(d, &cur), e);
        if (r < 0)
            return r;
        r = check_parent(g, i, v, want, e);
        if (r < 0)
            return r;
    }
    cpuset_diff(&cur, s, v, &p);
    return ctl_plan_write(g, &p, raw, ARRAY_SIZE(raw), t, e);
}

const struct ctl_controller ctl_cpuset = {
    .name = "cpuset",
    .id = CTL_CPUSET,
    .diff = cpuset_diff,
    .apply = cpuset_apply,
    .read_settings = cpuset_read_settings,
    .keys = cpuset_keys,
    .n_keys = ARRAY_SIZE(cpuset_keys),
};

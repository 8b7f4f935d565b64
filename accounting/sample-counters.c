/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounting/sample.h"
#include "accounting/sample-private.h"
#include "core/fileio.h"
#include "core/name.h"

const char *acct_kind_to_string(enum acct_kind k)
{
    static const char *const names[_ACCT_KIND_MAX] = {"class", "workload", "instance"};
    return k >= 0 && k < _ACCT_KIND_MAX ? names[k] : NULL;
}

int acct_group_from_path(const char *path, struct acct_group *ret)
{
    struct acct_group g = {.generation = 0, .cpu_limit_ucores = CTL_UNSET, .mem_limit = CTL_UNSET};
    char *parts[3] = {g.class_name, g.workload, g.instance};
    const char *p = path;
    size_t n = 0;

    if (!path || strlen(path) >= sizeof(g.path))
        return -EINVAL;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n >= 3 || len == 0 || len > CG_NAME_MAX)
            return -EINVAL;
        memcpy(parts[n], p, len);
        parts[n][len] = '\0';
        if (!cg_name_valid(parts[n]))
            return -EINVAL;
        n++;
        if (!slash)
            break;
        p = slash + 1;
    }
    strcpy(g.path, path);
    g.kind = (enum acct_kind)(n - 1);
    *ret = g;
    return 0;
}

/* ---- one-off reads (final records) ---- */

/* Reads one file through a fresh fd; -ENODEV when the group is gone. */
static int read_fresh(int dfd, const char *name, char *buf, size_t size)
{
    ssize_t n;
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

    if (fd < 0)
        return -errno;
    n = pread(fd, buf, size - 1, 0);
    if (n < 0)
        n = -errno;
    (void)close(fd);
    if (n < 0)
        return (int)n;
    buf[n] = '\0';
    return 0;
}

int acct_read_usage(struct cg_group *g, struct ctl_usage *ret)
{
    enum cg_vocab v = cg_ctx_vocab(cg_group_ctx(g));
    char buf[1024];

    ctl_usage_init(ret);
    for (int c = 0; c < _C_MAX; c++) {
        const struct ctl_ctr_desc *d = ctl_ctr_desc((ctl_ctr)c);
        const char *name = d->file[v].name;
        int dfd = cg_group_fd(g, d->hier), r;

        if (!name || dfd < 0)
            continue;
        r = read_fresh(dfd, name, buf, sizeof(buf));
        if (r == -ENODEV)
            return -ENODEV;
        if (r == -EMFILE || r == -ENFILE || r == -ENOMEM)
            return r;
        if (r < 0)
            continue; /* missing file: that counter stays unavailable */
        ctl_ctr_parse(d, v, buf, false, ret);
    }
    return 0;
}
static uint64_t read_num(int dfd, const char *file)
{
    char buf[64];

    if (dfd < 0 || cg_read_at(dfd, file, buf, sizeof(buf)) < 0)
        return CTL_UNSET;
    return ctl_ctr_num(buf);
}

/* The limits of a workload group, as reservation billing needs them. */
static void read_limits(struct cg_group *w, struct acct_group *ret)
{
    char buf[64];
    uint64_t quota = CTL_UNSET, period = CTL_UNSET, mem;

    if (cg_ctx_is_v2(cg_group_ctx(w))) {
        int dfd = cg_group_fd(w, CG_H_CPU);
        if (dfd >= 0 && cg_read_at(dfd, "cpu.max", buf, sizeof(buf)) >= 0) {
            char *sp = strchr(buf, ' ');
            quota = ctl_ctr_num(buf);
            period = sp ? ctl_ctr_num(sp + 1) : CTL_UNSET;
        }
        mem = read_num(cg_group_fd(w, CG_H_MEMORY), "memory.max");
    } else {
        int dfd = cg_group_fd(w, CG_H_CPU);
        if (dfd >= 0 && cg_read_at(dfd, "cpu.cfs_quota_us", buf, sizeof(buf)) >= 0)
            quota = buf[0] == '-' ? CTL_MAX : ctl_ctr_num(buf);
        period = read_num(dfd, "cpu.cfs_period_us");
        mem = read_num(cg_group_fd(w, CG_H_MEMORY), "memory.limit_in_bytes");
        /* v1 spells "no limit" as PAGE_COUNTER_MAX pages in bytes (about 2^63). */
        if (mem != CTL_UNSET && mem >= (UINT64_C(1) << 62))
            mem = CTL_MAX;
    }
    if (quota == CTL_MAX)
        ret->cpu_limit_ucores = CTL_MAX;
    else if (quota != CTL_UNSET && period != CTL_UNSET && period != CTL_MAX && period > 0)
        ret->cpu_limit_ucores = quota * 1000000 / period;
    ret->mem_limit = mem;
}

int acct_cg_generation(struct cg_group *g, uint64_t *ret)
{
    struct stat st;

    for (int h = 0; h < _CG_H_MAX; h++) {
        int fd = cg_group_fd(g, h);
        if (fd < 0)
            continue;
        if (fstat(fd, &st) < 0)
            return -errno;
        *ret = (uint64_t)st.st_ino;
        return 0;
    }
    return -ENODEV;
}

int acct_group_from_cg(struct cg_group *g, const char *account, struct acct_group *ret)
{
    struct acct_group ag;
    int r;

    r = acct_group_from_path(cg_group_path(g), &ag);
    if (r < 0)
        return r;
    r = acct_cg_generation(g, &ag.generation);
    if (r < 0)
        return r;
    if (account)
        snprintf(ag.account, sizeof(ag.account), "%s", account);
    if (ag.kind == ACCT_WORKLOAD) {
        read_limits(g, &ag);
    } else if (ag.kind == ACCT_INSTANCE) {
        _cleanup_(cg_group_freep) struct cg_group *w = NULL;
        if (cg_group_parent(g, &w) >= 0)
            read_limits(w, &ag);
    }
    *ret = ag;
    return 0;
}

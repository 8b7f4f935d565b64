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

/* The file of each counter (sample-private.h). */
const struct acct_ctr_file acct_ctr_files[_C_MAX] = {
    [C_CPU_USER] = {CG_H_CPUACCT, "cpuacct.usage_user", NULL},
    [C_CPU_SYS] = {CG_H_CPUACCT, "cpuacct.usage_sys", NULL},
    [C_CPU_USAGE] = {CG_H_CPUACCT, "cpuacct.usage", NULL},
    [C_CPU_STAT] = {CG_H_CPU, "cpu.stat", "cpu.stat"},
    [C_MEM_CUR] = {CG_H_MEMORY, "memory.usage_in_bytes", "memory.current"},
    [C_MEM_PEAK] = {CG_H_MEMORY, "memory.max_usage_in_bytes", "memory.peak"},
    [C_MEM_OOM] = {CG_H_MEMORY, "memory.oom_control", "memory.events"},
    [C_PIDS_CUR] = {CG_H_PIDS, "pids.current", "pids.current"},
    [C_PIDS_PEAK] = {CG_H_PIDS, "pids.peak", "pids.peak"},
    [C_FROZEN] = {CG_H_FREEZER, "freezer.state", "cgroup.events"},
};

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

/* Digits at p as u64; "max" as CTL_MAX; nothing parseable as CTL_UNSET. */
static uint64_t num_at(const char *p)
{
    uint64_t v = 0;
    const char *q = p;

    if (p[0] == 'm' && p[1] == 'a' && p[2] == 'x')
        return CTL_MAX;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (v > (UINT64_MAX - 9) / 10)
            return CTL_UNSET;
        v = v * 10 + (uint64_t)(*q - '0');
    }
    return q == p ? CTL_UNSET : v;
}

/* The value of "key value" in a flat keyed file, or CTL_UNSET. */
static uint64_t keyed(const char *text, const char *key, size_t klen)
{
    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return num_at(line + klen + 1);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return CTL_UNSET;
}

#define KEYED(text, key) keyed(text, key, sizeof(key) - 1)

static uint64_t usec_to_ns(uint64_t v)
{
    return v == CTL_UNSET || v == CTL_MAX ? v : v * 1000;
}

void acct_parse_ctr(enum ctr c, bool v2, const char *buf, struct ctl_usage *u)
{
    switch (c) {
    case C_CPU_USER:
        u->cpu_user_ns = num_at(buf);
        break;
    case C_CPU_SYS:
        u->cpu_system_ns = num_at(buf);
        break;
    case C_CPU_USAGE:
        u->cpu_usage_ns = num_at(buf);
        break;
    case C_CPU_STAT:
        u->cpu_nr_periods = KEYED(buf, "nr_periods");
        u->cpu_nr_throttled = KEYED(buf, "nr_throttled");
        if (v2) {
            u->cpu_usage_ns = usec_to_ns(KEYED(buf, "usage_usec"));
            u->cpu_user_ns = usec_to_ns(KEYED(buf, "user_usec"));
            u->cpu_system_ns = usec_to_ns(KEYED(buf, "system_usec"));
            u->cpu_throttled_ns = usec_to_ns(KEYED(buf, "throttled_usec"));
        } else {
            u->cpu_throttled_ns = KEYED(buf, "throttled_time");
        }
        break;
    case C_MEM_CUR:
        u->mem_current = num_at(buf);
        break;
    case C_MEM_PEAK:
        u->mem_peak = num_at(buf);
        break;
    case C_MEM_OOM:
        u->mem_oom_kills = KEYED(buf, "oom_kill");
        break;
    case C_PIDS_CUR:
        u->pids_current = num_at(buf);
        break;
    case C_PIDS_PEAK:
        u->pids_peak = num_at(buf);
        break;
    case C_FROZEN:
        if (v2)
            u->frozen = KEYED(buf, "frozen");
        else
            u->frozen = strncmp(buf, "FROZEN", 6) == 0;
        break;
    default:
        break;
    }
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
    bool v2 = cg_ctx_is_v2(cg_group_ctx(g));
    char buf[1024];

    ctl_usage_init(ret);
    for (int c = 0; c < _C_MAX; c++) {
        const char *name = v2 ? acct_ctr_files[c].v2 : acct_ctr_files[c].v1;
        int dfd = cg_group_fd(g, acct_ctr_files[c].h), r;

        if (!name || dfd < 0)
            continue;
        r = read_fresh(dfd, name, buf, sizeof(buf));
        if (r == -ENODEV)
            return -ENODEV;
        if (r == -EMFILE || r == -ENFILE || r == -ENOMEM)
            return r;
        if (r < 0)
            continue; /* missing file: that counter stays unavailable */
        acct_parse_ctr((enum ctr)c, v2, buf, ret);
    }
    return 0;
}
static uint64_t read_num(int dfd, const char *file)
{
    char buf[64];

    if (dfd < 0 || cg_read_at(dfd, file, buf, sizeof(buf)) < 0)
        return CTL_UNSET;
    return num_at(buf);
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
            quota = num_at(buf);
            period = sp ? num_at(sp + 1) : CTL_UNSET;
        }
        mem = read_num(cg_group_fd(w, CG_H_MEMORY), "memory.max");
    } else {
        int dfd = cg_group_fd(w, CG_H_CPU);
        if (dfd >= 0 && cg_read_at(dfd, "cpu.cfs_quota_us", buf, sizeof(buf)) >= 0)
            quota = buf[0] == '-' ? CTL_MAX : num_at(buf);
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

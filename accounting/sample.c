/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounting/sample.h"
#include "core/fileio.h"
#include "core/name.h"

enum ctr {
    C_CPU_USER,
    C_CPU_SYS,
    C_CPU_USAGE,
    C_CPU_STAT,
    C_MEM_CUR,
    C_MEM_PEAK,
    C_MEM_OOM,
    C_PIDS_CUR,
    C_PIDS_PEAK,
    C_FROZEN,
    _C_MAX,
};

/* v2 reads user/system time from cpu.stat, so it has no file for the first two. */
static const struct {
    enum cg_hier h;
    const char *v1, *v2;
} ctr_files[_C_MAX] = {
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

struct acct_sampler {
    struct cg_ctx *ctx;
    bool v2;
    acct_account_fn account_fn;
    void *userdata;
    size_t n, cap;
    struct acct_sample *smp; /* sorted by group path */
    int (*fds)[_C_MAX];
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

static void parse_ctr(enum ctr c, bool v2, const char *buf, struct ctl_usage *u)
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

/* Reads each open counter file with one pread; -ENODEV when the group is gone. */
static int read_ctrs(const int fd[_C_MAX], bool v2, struct ctl_usage *u)
{
    char buf[1024];

    ctl_usage_init(u);
    for (int c = 0; c < _C_MAX; c++) {
        ssize_t n;

        if (fd[c] < 0)
            continue;
        n = pread(fd[c], buf, sizeof(buf) - 1, 0);
        if (n < 0) {
            if (errno == ENODEV || errno == ENOENT)
                return -ENODEV;
            continue; /* that counter stays unavailable */
        }
        buf[n] = '\0';
        parse_ctr((enum ctr)c, v2, buf, u);
    }
    return 0;
}

static void close_ctrs(int fd[_C_MAX])
{
    for (int c = 0; c < _C_MAX; c++)
        if (fd[c] >= 0) {
            (void)close(fd[c]);
            fd[c] = -1;
        }
}

/* Missing files (controller not enabled, older kernel) stay -1: that counter is then
 * unavailable, not zero. Too many open files is an error: the caller must raise
 * RLIMIT_NOFILE for large trees. */
static int open_ctrs(struct cg_group *g, bool v2, int fd[_C_MAX])
{
    for (int c = 0; c < _C_MAX; c++) {
        const char *name = v2 ? ctr_files[c].v2 : ctr_files[c].v1;
        int dfd = cg_group_fd(g, ctr_files[c].h);

        fd[c] = -1;
        if (!name || dfd < 0)
            continue;
        fd[c] = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd[c] < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM)) {
            int r = -errno;
            close_ctrs(fd);
            return r;
        }
    }
    return 0;
}

int acct_read_usage(struct cg_group *g, struct ctl_usage *ret)
{
    bool v2 = cg_ctx_is_v2(g->ctx);
    int fd[_C_MAX];
    int r;

    r = open_ctrs(g, v2, fd);
    if (r < 0)
        return r;
    r = read_ctrs(fd, v2, ret);
    close_ctrs(fd);
    return r;
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

    if (cg_ctx_is_v2(w->ctx)) {
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

static int generation(struct cg_group *g, uint64_t *ret)
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

    r = acct_group_from_path(g->path, &ag);
    if (r < 0)
        return r;
    r = generation(g, &ag.generation);
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

int acct_sampler_new(struct cg_ctx *ctx, acct_account_fn account_fn, void *userdata,
                     struct acct_sampler **ret)
{
    struct acct_sampler *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    s->ctx = ctx;
    s->v2 = cg_ctx_is_v2(ctx);
    s->account_fn = account_fn;
    s->userdata = userdata;
    *ret = s;
    return 0;
}

static void sampler_clear(struct acct_sampler *s)
{
    for (size_t i = 0; i < s->n; i++)
        close_ctrs(s->fds[i]);
    free(s->smp);
    free(s->fds);
    s->smp = NULL;
    s->fds = NULL;
    s->n = s->cap = 0;
}

void acct_sampler_free(struct acct_sampler *s)
{
    if (!s)
        return;
    sampler_clear(s);
    free(s);
}

/* The scan builds a new table, taking over the fds of groups it already knew. */
struct scan {
    struct acct_sampler *s;
    struct acct_sampler old;
    size_t n, cap;
    struct acct_sample *smp;
    int (*fds)[_C_MAX];
};

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct acct_sample *)a)->group.path,
                  ((const struct acct_sample *)b)->group.path);
}

static int scan_add(struct scan *sc, struct cg_group *g, const struct acct_group *parent)
{
    struct acct_sample *old = NULL, key;
    struct acct_group ag;
    int r;

    r = acct_group_from_cg(g, NULL, &ag);
    if (r < 0)
        return r;
    if (ag.kind == ACCT_INSTANCE && parent) {
        ag.cpu_limit_ucores = parent->cpu_limit_ucores;
        ag.mem_limit = parent->mem_limit;
    }
    if (ag.kind != ACCT_CLASS && sc->s->account_fn) {
        const char *a = sc->s->account_fn(sc->s->userdata, ag.class_name, ag.workload);
        if (a)
            snprintf(ag.account, sizeof(ag.account), "%s", a);
    } else if (ag.kind != ACCT_CLASS && parent) {
        memcpy(ag.account, parent->account, sizeof(ag.account));
    }
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        struct acct_sample *smp = realloc(sc->smp, cap * sizeof(*smp));
        if (!smp)
            return -ENOMEM;
        sc->smp = smp;
        int(*fds)[_C_MAX] = realloc(sc->fds, cap * sizeof(*fds));
        if (!fds)
            return -ENOMEM;
        sc->fds = fds;
        sc->cap = cap;
    }
    strcpy(key.group.path, ag.path);
    if (sc->old.n)
        old = bsearch(&key, sc->old.smp, sc->old.n, sizeof(key), cmp_path);
    if (old && old->group.generation == ag.generation) {
        size_t i = (size_t)(old - sc->old.smp);
        memcpy(sc->fds[sc->n], sc->old.fds[i], sizeof(sc->fds[0]));
        for (int c = 0; c < _C_MAX; c++)
            sc->old.fds[i][c] = -1;
    } else {
        r = open_ctrs(g, sc->s->v2, sc->fds[sc->n]);
        if (r < 0)
            return r;
    }
    memset(&sc->smp[sc->n], 0, sizeof(sc->smp[0]));
    sc->smp[sc->n].group = ag;
    ctl_usage_init(&sc->smp[sc->n].usage);
    sc->n++;
    return 0;
}

/* Depth 0: classes, 1: workloads, 2: instances. A group removed while we walk is skipped. */
static int scan_walk(struct scan *sc, struct cg_group *g, int depth,
                     const struct acct_group *parent, struct cg_err *e)
{
    _cleanup_(cg_strv_freep) char **kids = NULL;
    int r;

    r = cg_group_children(g, &kids);
    if (r == -ENOENT || r == -ENODEV)
        return 0;
    if (r < 0)
        return cg_err_set(e, r, g->path, NULL, "cannot list groups");
    for (char **k = kids; *k; k++) {
        _cleanup_(cg_group_freep) struct cg_group *c = NULL;
        struct acct_group self;

        r = cg_group_child(g, *k, false, &c, NULL, NULL);
        if (r == -ENOENT)
            continue;
        if (r < 0)
            return cg_err_set(e, r, g->path, NULL, "cannot open group '%s'", *k);
        r = scan_add(sc, c, parent);
        if (r == -ENOENT || r == -ENODEV)
            continue;
        if (r < 0)
            return cg_err_set(e, r, c->path, NULL,
                              r == -EMFILE ? "too many open files (raise RLIMIT_NOFILE)"
                                           : "cannot open counters");
        self = sc->smp[sc->n - 1].group;
        if (depth < 2) {
            r = scan_walk(sc, c, depth + 1, &self, e);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static void scan_free(struct scan *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        close_ctrs(sc->fds[i]);
    free(sc->smp);
    free(sc->fds);
}

static int cmp_idx(const void *a, const void *b, void *arg)
{
    const struct acct_sample *smp = arg;
    return strcmp(smp[*(const size_t *)a].group.path, smp[*(const size_t *)b].group.path);
}

/* The walk visits "a/b" before "a-x"; lookups want strcmp order. */
static int scan_sort(struct scan *sc)
{
    size_t n = sc->n ? sc->n : 1;
    _cleanup_free_ size_t *idx = malloc(n * sizeof(*idx));
    struct acct_sample *smp = malloc(n * sizeof(*smp));
    int(*fds)[_C_MAX] = malloc(n * sizeof(*fds));

    if (!idx || !smp || !fds) {
        free(smp);
        free(fds);
        return -ENOMEM;
    }
    for (size_t i = 0; i < sc->n; i++)
        idx[i] = i;
    qsort_r(idx, sc->n, sizeof(*idx), cmp_idx, sc->smp);
    for (size_t i = 0; i < sc->n; i++) {
        smp[i] = sc->smp[idx[i]];
        memcpy(fds[i], sc->fds[idx[i]], sizeof(fds[0]));
    }
    free(sc->smp);
    free(sc->fds);
    sc->smp = smp;
    sc->fds = fds;
    sc->cap = n;
    return 0;
}

int acct_sampler_scan(struct acct_sampler *s, struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *root = NULL;
    struct scan sc = {.s = s};
    int r;

    sc.old = *s;
    r = cg_root_open(s->ctx, false, &root, e);
    if (r == -ENOENT) {
        sampler_clear(s);
        return 0;
    }
    if (r < 0)
        return r;
    r = scan_walk(&sc, root, 0, NULL, e);
    if (r < 0) {
        scan_free(&sc);
        return r;
    }
    r = scan_sort(&sc);
    if (r < 0) {
        scan_free(&sc);
        return r;
    }
    /* Groups that are gone (or re-created: new generation) close their old files. */
    sampler_clear(s);
    s->smp = sc.smp;
    s->fds = sc.fds;
    s->n = sc.n;
    s->cap = sc.cap;
    return (int)s->n;
}

int acct_sampler_read(struct acct_sampler *s, const struct acct_sample **ret, size_t *ret_n)
{
    size_t w = 0;

    for (size_t i = 0; i < s->n; i++) {
        struct acct_sample *x = &s->smp[i];
        x->t_ns = acct_now_ns();
        if (read_ctrs(s->fds[i], s->v2, &x->usage) == -ENODEV) {
            /* removed since the scan: its final record is run/remove's business */
            close_ctrs(s->fds[i]);
            continue;
        }
        if (w != i) {
            s->smp[w] = *x;
            memcpy(s->fds[w], s->fds[i], sizeof(s->fds[0]));
        }
        w++;
    }
    s->n = w;
    *ret = s->smp;
    *ret_n = s->n;
    return 0;
}

int acct_sample_once(struct acct_sampler *s, struct acct_ledger *l, size_t *ret_n, struct cg_err *e)
{
    const struct acct_sample *smp;
    size_t n, written = 0;
    int r;

    r = acct_sampler_scan(s, e);
    if (r < 0)
        return r;
    r = acct_sampler_read(s, &smp, &n);
    if (r < 0)
        return r;
    if (n > 0) {
        r = acct_ledger_write(l, smp, n, &written, e);
        if (r < 0)
            return r;
    }
    if (ret_n)
        *ret_n = written;
    return 0;
}

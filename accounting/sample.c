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
        const char *name = v2 ? ctr_files[c].v2 : ctr_files[c].v1;
        int dfd = cg_group_fd(g, ctr_files[c].h), r;

        if (!name || dfd < 0)
            continue;
        r = read_fresh(dfd, name, buf, sizeof(buf));
        if (r == -ENODEV)
            return -ENODEV;
        if (r == -EMFILE || r == -ENFILE || r == -ENOMEM)
            return r;
        if (r < 0)
            continue; /* missing file: that counter stays unavailable */
        parse_ctr((enum ctr)c, v2, buf, ret);
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

    r = acct_group_from_path(cg_group_path(g), &ag);
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

/* ---- the sampler ---- */

/* The files of the idle fast path (sample.h), read at every pass; the others only when
 * the group moved. On v1 the CPU total may be skipped too (parent rule, sample.h). */
#define FAST_V1   ((1u << C_CPU_USAGE) | (1u << C_PIDS_CUR) | (1u << C_MEM_CUR) | (1u << C_FROZEN))
#define FAST_V2   ((1u << C_CPU_STAT) | (1u << C_PIDS_CUR) | (1u << C_MEM_CUR) | (1u << C_FROZEN))
#define ALL_FILES ((1u << _C_MAX) - 1)
#define NO_PARENT UINT32_MAX

enum {
    G_HAVE = 1u << 0,      /* u holds a complete read */
    G_EMITTED = 1u << 1,   /* a row was handed out for this generation */
    G_HELD = 1u << 2,      /* a row at held_ns (content u) was held back */
    G_READ = 1u << 3,      /* read by the last pass */
    G_CPU_STILL = 1u << 4, /* its CPU total did not move between the last two passes */
    G_GONE = 1u << 5,      /* found removed: no longer read, forgotten at the next scan */
    G_TAKEN = 1u << 7,     /* (old table, during a scan) handed over to the new one */
};

/* One group: ~220 bytes plus its path. */
struct grp {
    char *path; /* owned */
    uint64_t generation;
    uint64_t cpu_limit, mem_limit;
    uint64_t t_ns;     /* of the last read */
    uint64_t held_ns;  /* G_HELD: time of the row held back */
    uint64_t quiet_ns; /* quiet rule: the last scheduled read of pids current, frozen */
    uint64_t start_ns; /* an instance's estimated start (acct_instance_start), at its scan */
    uint32_t parent;   /* index in the table, or NO_PARENT */
    uint32_t read_pass;
    uint16_t account; /* 1-based index in s->accounts, 0 none */
    uint16_t absent;  /* files known to be missing */
    uint8_t kind;
    uint8_t flags;
    int fd[_C_MAX]; /* kept open, or -1 (read on demand unless absent) */
    struct ctl_usage u;
};

/* A row for the ledger, before it is spelled out as a struct acct_sample. */
struct row {
    uint32_t g;
    uint64_t t_ns;
    struct ctl_usage u;
};

struct acct_sampler {
    struct cg_ctx *ctx;
    bool v2;
    acct_account_fn account_fn;
    void *userdata;
    struct cg_group *root; /* its dir fds serve on-demand reads */
    size_t n, cap;
    struct grp *g; /* sorted by path (strcmp): a parent precedes its descendants */
    char **accounts;
    size_t n_accounts;
    uint32_t pass;
    unsigned full_every;
    uint64_t (*clock)(void *);
    void *clock_data;
    size_t nfds;
    struct acct_sampler_stats st;
    size_t n_rows, cap_rows;
    struct row *rows;
    struct acct_sample *all; /* acct_sampler_read()'s result */
};

static uint64_t sampler_now(const struct acct_sampler *s)
{
    return s->clock ? s->clock(s->clock_data) : acct_now_ns();
}

static unsigned fast_mask(const struct acct_sampler *s)
{
    return s->v2 ? FAST_V2 : FAST_V1;
}

static void grp_close(struct acct_sampler *s, struct grp *g)
{
    for (int c = 0; c < _C_MAX; c++)
        if (g->fd[c] >= 0) {
            (void)close(g->fd[c]);
            g->fd[c] = -1;
            s->nfds--;
        }
}

static void grp_free(struct acct_sampler *s, struct grp *g)
{
    if (g->flags & G_TAKEN)
        return;
    grp_close(s, g);
    free(g->path);
    g->path = NULL;
}

/* Hands old's path and fds over to the new table. */
static void grp_take(struct grp *old)
{
    old->flags |= G_TAKEN;
    for (int c = 0; c < _C_MAX; c++)
        old->fd[c] = -1;
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
    s->full_every = ACCT_SAMPLER_FULL_EVERY;
    *ret = s;
    return 0;
}

void acct_sampler_set_full_every(struct acct_sampler *s, unsigned passes)
{
    s->full_every = passes ? passes : 1;
}

void acct_sampler_set_clock(struct acct_sampler *s, uint64_t (*now_ns)(void *userdata),
                            void *userdata)
{
    s->clock = now_ns;
    s->clock_data = userdata;
}

static void free_accounts(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

static void sampler_clear(struct acct_sampler *s)
{
    for (size_t i = 0; i < s->n; i++)
        grp_free(s, &s->g[i]);
    free(s->g);
    s->g = NULL;
    s->n = s->cap = 0;
    free_accounts(s->accounts, s->n_accounts);
    s->accounts = NULL;
    s->n_accounts = 0;
    free(s->all);
    s->all = NULL;
    s->n_rows = 0;
}

void acct_sampler_free(struct acct_sampler *s)
{
    if (!s)
        return;
    sampler_clear(s);
    free(s->rows);
    cg_group_free(s->root);
    free(s);
}

/* ---- the walk ---- */

struct scan {
    struct acct_sampler *s;
    size_t n, cap;
    struct grp *g;
    char **accounts;
    size_t n_accounts;
    size_t unopened, carried;
    bool budget_out; /* no more kept-open fds this walk */
    size_t budget;
};

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct grp *)a)->path, ((const struct grp *)b)->path);
}

/* The old table's entry for path, or NULL. */
static struct grp *old_find(struct acct_sampler *s, const char *path)
{
    struct grp key = {.path = (char *)path};
    return s->n ? bsearch(&key, s->g, s->n, sizeof(key), cmp_path) : NULL;
}

static int scan_grow(struct scan *sc)
{
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        struct grp *g = realloc(sc->g, cap * sizeof(*g));
        if (!g)
            return -ENOMEM;
        sc->g = g;
        sc->cap = cap;
    }
    return 0;
}

/* The account's index (1-based) in the walk's table, interned. */
static int intern_account(struct scan *sc, const char *a, uint16_t *ret)
{
    char **v;

    *ret = 0;
    if (!a || !a[0])
        return 0;
    for (size_t i = 0; i < sc->n_accounts; i++)
        if (strcmp(sc->accounts[i], a) == 0) {
            *ret = (uint16_t)(i + 1);
            return 0;
        }
    if (sc->n_accounts >= UINT16_MAX)
        return -E2BIG;
    v = realloc(sc->accounts, (sc->n_accounts + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    sc->accounts = v;
    v[sc->n_accounts] = strndup(a, 64);
    if (!v[sc->n_accounts])
        return -ENOMEM;
    *ret = (uint16_t)++sc->n_accounts;
    return 0;
}

/* Opens the files in mask through the group's dir fds while the budget allows. Missing
 * files are remembered as absent; running out of fds stops opening (the rest is read on
 * demand). */
static void open_files(struct scan *sc, struct grp *x, struct cg_group *g, unsigned mask)
{
    struct acct_sampler *s = sc->s;

    for (int c = 0; c < _C_MAX; c++) {
        const char *name = s->v2 ? ctr_files[c].v2 : ctr_files[c].v1;
        int dfd = g ? cg_group_fd(g, ctr_files[c].h) : -1, fd;

        if (!(mask & (1u << c)) || x->fd[c] >= 0 || (x->absent & (1u << c)))
            continue;
        if (!name || (g && dfd < 0)) {
            x->absent |= (uint16_t)(1u << c);
            continue;
        }
        if (sc->budget_out || s->nfds >= sc->budget) {
            sc->budget_out = true;
            return;
        }
        if (g)
            fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        else {
            char rel[256];
            dfd = cg_group_fd(s->root, ctr_files[c].h);
            if (dfd < 0 || snprintf(rel, sizeof(rel), "%s/%s", x->path, name) >= (int)sizeof(rel))
                continue;
            fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        }
        if (fd >= 0) {
            x->fd[c] = fd;
            s->nfds++;
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
            sc->budget_out = true;
            return;
        } else if (errno == ENOENT && g) {
            x->absent |= (uint16_t)(1u << c);
        }
    }
}

static int scan_add(struct scan *sc, struct cg_group *g, uint32_t parent)
{
    struct acct_sampler *s = sc->s;
    const struct grp *p;
    struct acct_group ag;
    struct grp *old, *x;
    int r;

    /* An instance takes its workload's limits from the walk (below): only its generation
     * is read here, not the workload's limit files once more per instance. */
    r = acct_group_from_path(cg_group_path(g), &ag);
    if (r >= 0 && (ag.kind != ACCT_INSTANCE || parent == NO_PARENT))
        r = acct_group_from_cg(g, NULL, &ag);
    else if (r >= 0)
        r = generation(g, &ag.generation);
    if (r < 0)
        return r;
    r = scan_grow(sc);
    if (r < 0)
        return r;
    p = parent == NO_PARENT ? NULL : &sc->g[parent]; /* after the realloc */
    x = &sc->g[sc->n];
    *x = (struct grp){.generation = ag.generation, .parent = parent, .kind = (uint8_t)ag.kind};
    for (int c = 0; c < _C_MAX; c++)
        x->fd[c] = -1;
    x->cpu_limit = ag.kind == ACCT_INSTANCE && p ? p->cpu_limit : ag.cpu_limit_ucores;
    x->mem_limit = ag.kind == ACCT_INSTANCE && p ? p->mem_limit : ag.mem_limit;
    if (ag.kind != ACCT_CLASS && s->account_fn)
        r = intern_account(sc, s->account_fn(s->userdata, ag.class_name, ag.workload), &x->account);
    else if (ag.kind != ACCT_CLASS && p)
        x->account = p->account;
    if (r < 0)
        return r;
    old = old_find(s, ag.path);
    if (old && !(old->flags & G_TAKEN) && old->generation == ag.generation) {
        /* known: keeps its fds, its last read and its held row */
        uint16_t account = x->account;
        uint64_t cl = x->cpu_limit, ml = x->mem_limit;
        *x = *old;
        x->parent = parent;
        x->account = account;
        x->cpu_limit = cl;
        x->mem_limit = ml;
        grp_take(old);
    } else {
        x->path = strdup(ag.path);
        if (!x->path)
            return -ENOMEM;
        if (ag.kind == ACCT_INSTANCE)
            x->start_ns = acct_instance_start(g, sampler_now(s));
        for (int c = 0; c < _C_MAX; c++)
            if (!(s->v2 ? ctr_files[c].v2 : ctr_files[c].v1) || cg_group_fd(g, ctr_files[c].h) < 0)
                x->absent |= (uint16_t)(1u << c);
    }
    open_files(sc, x, g, fast_mask(s));
    sc->n++;
    return 0;
}

/* A directory the walk could not open (out of fds or memory): the groups under it that
 * were known keep being sampled as they were. */
static void scan_carry(struct scan *sc, const char *path, bool self)
{
    struct acct_sampler *s = sc->s;
    size_t len = strlen(path);

    for (size_t i = 0; i < s->n; i++) {
        struct grp *o = &s->g[i];
        if ((o->flags & (G_TAKEN | G_GONE)) || strncmp(o->path, path, len) != 0 ||
            !(o->path[len] == '/' || (self && o->path[len] == '\0')))
            continue;
        if (scan_grow(sc) < 0)
            return;
        sc->g[sc->n] = *o;
        sc->g[sc->n].parent = NO_PARENT; /* fixed after the sort */
        sc->n++;
        sc->carried++;
        grp_take(o);
    }
}

static bool out_of_fds(int r)
{
    return r == -EMFILE || r == -ENFILE || r == -ENOMEM;
}

/* Depth 0: classes, 1: workloads, 2: instances. A group removed while we walk is skipped. */
static int scan_walk(struct scan *sc, struct cg_group *g, int depth, uint32_t parent,
                     struct cg_err *e)
{
    _cleanup_(cg_strv_freep) char **kids = NULL;
    int r;

    r = cg_group_children(g, &kids);
    if (r == -ENOENT || r == -ENODEV)
        return 0;
    if (out_of_fds(r)) {
        sc->unopened++;
        scan_carry(sc, cg_group_path(g), false);
        return 0;
    }
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), NULL, "cannot list groups");
    for (char **k = kids; *k; k++) {
        _cleanup_(cg_group_freep) struct cg_group *c = NULL;
        char path[256];

        r = cg_group_child(g, *k, false, &c, NULL, NULL);
        if (r == -ENOENT)
            continue;
        if (r >= 0)
            r = scan_add(sc, c, parent);
        if (r == -ENOENT || r == -ENODEV)
            continue;
        if (out_of_fds(r)) {
            snprintf(path, sizeof(path), "%s%s%s", cg_group_path(g), cg_group_path(g)[0] ? "/" : "",
                     *k);
            sc->unopened++;
            scan_carry(sc, path, true);
            continue;
        }
        if (r < 0)
            return cg_err_set(e, r, c ? cg_group_path(c) : cg_group_path(g), NULL,
                              "cannot open group '%s'", *k);
        if (depth < 2) {
            r = scan_walk(sc, c, depth + 1, (uint32_t)(sc->n - 1), e);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* A failed walk: what it took over from the old table goes back there. */
static void scan_free(struct scan *sc)
{
    struct acct_sampler *s = sc->s;

    for (size_t i = 0; i < sc->n; i++) {
        struct grp *x = &sc->g[i], *o = old_find(s, x->path);
        if (o && o->path == x->path && (o->flags & G_TAKEN)) {
            memcpy(o->fd, x->fd, sizeof(o->fd));
            o->flags &= (uint8_t)~G_TAKEN;
            continue;
        }
        grp_free(s, x);
    }
    free(sc->g);
    free_accounts(sc->accounts, sc->n_accounts);
}

/* The fds the sampler may keep open: RLIMIT_NOFILE less a reserve for everything else
 * the process opens (the walk's dir fds, the ledger, final reads, policies). */
static size_t fd_budget(void)
{
    struct rlimit rl;
    rlim_t cur, reserve;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 768;
    cur = rl.rlim_cur == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_cur;
    reserve = 256 + cur / 16;
    return cur > 2 * reserve ? (size_t)(cur - reserve) : (size_t)(cur / 2);
}

/* Sorts by path and fixes the parent indexes (a parent is the longest proper prefix at a
 * '/', and precedes its descendants in strcmp order). */
static int scan_sort(struct scan *sc)
{
    if (sc->n > 0) /* qsort's base must not be NULL, even for no elements */
        qsort(sc->g, sc->n, sizeof(*sc->g), cmp_path);
    for (size_t i = 0; i < sc->n; i++) {
        struct grp *x = &sc->g[i];
        const char *slash = strrchr(x->path, '/');
        x->parent = NO_PARENT;
        if (slash) {
            char pp[256];
            struct grp key = {.path = pp}, *p;
            snprintf(pp, sizeof(pp), "%.*s", (int)(slash - x->path), x->path);
            p = bsearch(&key, sc->g, i, sizeof(key), cmp_path);
            if (p)
                x->parent = (uint32_t)(p - sc->g);
        }
    }
    return 0;
}

int acct_sampler_scan(struct acct_sampler *s, struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *root = NULL;
    struct scan sc = {.s = s};
    int r;

    r = cg_root_open(s->ctx, false, &root, e);
    if (r == -ENOENT) {
        sampler_clear(s);
        cg_group_free(s->root);
        s->root = NULL;
        s->st = (struct acct_sampler_stats){0};
        return 0;
    }
    if (out_of_fds(r) && s->root) {
        /* cannot even open the root: keep sampling what is known */
        s->st.unopened = 1;
        s->st.carried = s->n;
        return (int)s->n;
    }
    if (r < 0)
        return r;
    sc.budget = fd_budget();
    r = scan_walk(&sc, root, 0, NO_PARENT, e);
    if (r < 0) {
        scan_free(&sc);
        return r;
    }
    scan_sort(&sc);
    /* Groups that are gone (or re-created: new generation) close their old files. */
    sampler_clear(s);
    cg_group_free(s->root);
    s->root = TAKE_PTR(root);
    s->g = sc.g;
    s->n = sc.n;
    s->cap = sc.cap;
    s->accounts = sc.accounts;
    s->n_accounts = sc.n_accounts;
    /* Room left: keep the other files open too (fast files of every group come first). */
    sc.budget_out = false;
    {
        size_t want = 0;
        for (size_t i = 0; i < s->n; i++)
            for (int c = 0; c < _C_MAX; c++)
                want += s->g[i].fd[c] < 0 && !(s->g[i].absent & (1u << c));
        if (s->nfds + want <= sc.budget) {
            for (size_t i = 0; i < s->n; i++)
                open_files(&sc, &s->g[i], NULL, ALL_FILES);
        } else {
            /* tight: only the fast files stay open, for as many groups as fit */
            for (size_t i = 0; i < s->n; i++)
                for (int c = 0; c < _C_MAX; c++)
                    if (!(fast_mask(s) & (1u << c)) && s->g[i].fd[c] >= 0) {
                        (void)close(s->g[i].fd[c]);
                        s->g[i].fd[c] = -1;
                        s->nfds--;
                    }
            for (size_t i = 0; i < s->n && !sc.budget_out; i++)
                open_files(&sc, &s->g[i], NULL, fast_mask(s));
        }
    }
    s->st.groups = s->n;
    s->st.unopened = sc.unopened;
    s->st.carried = sc.carried;
    s->st.fds = s->nfds;
    s->st.on_demand = 0;
    for (size_t i = 0; i < s->n; i++)
        for (int c = 0; c < _C_MAX; c++)
            if ((fast_mask(s) & (1u << c)) && s->g[i].fd[c] < 0 && !(s->g[i].absent & (1u << c))) {
                s->st.on_demand++;
                break;
            }
    return (int)s->n;
}

/* ---- reading ---- */

/* Reads counter c of group x into buf: through its kept-open fd, else by path from the
 * root. 0, -ENOENT (missing: unavailable), -ENODEV (the group is gone), -EMFILE (no fd
 * to read it with), other errors (unavailable). */
static int read_ctr(struct acct_sampler *s, struct grp *x, int c, char *buf, size_t size)
{
    const char *name;
    char rel[256];
    ssize_t n;
    int dfd, fd;

    if (x->absent & (1u << c))
        return -ENOENT;
    if (x->fd[c] >= 0) {
        s->st.reads++;
        n = pread(x->fd[c], buf, size - 1, 0);
        if (n < 0)
            return errno == ENODEV || errno == ENOENT ? -ENODEV : -errno;
        buf[n] = '\0';
        return 0;
    }
    name = s->v2 ? ctr_files[c].v2 : ctr_files[c].v1;
    dfd = s->root ? cg_group_fd(s->root, ctr_files[c].h) : -1;
    if (!name || dfd < 0)
        return -ENOENT;
    if (snprintf(rel, sizeof(rel), "%s/%s", x->path, name) >= (int)sizeof(rel))
        return -ENAMETOOLONG;
    fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        int r = -errno;
        struct stat st;
        if (r == -ENOENT) {
            /* the file, or the whole group? */
            if (fstatat(dfd, x->path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -ENODEV;
            x->absent |= (uint16_t)(1u << c);
        }
        return out_of_fds(r) ? -EMFILE : r;
    }
    s->st.reads++;
    n = pread(fd, buf, size - 1, 0);
    (void)close(fd);
    if (n < 0)
        return errno == ENODEV || errno == ENOENT ? -ENODEV : -errno;
    buf[n] = '\0';
    return 0;
}

/* A group read by path could have been removed and re-created between the walk and now:
 * its directory must still be the generation we know (else its values are not ours). */
static bool same_generation(struct acct_sampler *s, struct grp *x)
{
    struct stat st;

    for (int h = 0; h < _CG_H_MAX; h++) {
        int dfd = cg_group_fd(s->root, h);
        if (dfd < 0)
            continue;
        return fstatat(dfd, x->path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               (uint64_t)st.st_ino == x->generation;
    }
    return false;
}

/* Reads group i by the rule of sample.h into *u (starting from its last read), at time t.
 * 1: read, 0: could not be read this pass (out of fds), -ENODEV: gone. */
static int read_grp(struct acct_sampler *s, size_t i, uint64_t t, struct ctl_usage *u)
{
    struct grp *x = &s->g[i];
    const struct grp *p = x->parent == NO_PARENT ? NULL : &s->g[x->parent];
    bool have = x->flags & G_HAVE, full, cpu_known = false, by_path = false, quiet;
    const unsigned quiet_files = (1u << C_PIDS_CUR) | (1u << C_FROZEN);
    unsigned todo, done = 0;
    char buf[1024];

    full = !have || s->full_every <= 1 || (s->pass + i) % s->full_every == 0;
    *u = x->u;
    if (!have)
        ctl_usage_init(u);
    todo = full ? ALL_FILES : fast_mask(s);
    /* v1 parent rule: cpuacct.usage is hierarchical and only ever grows, so a parent whose
     * total did not move since the last pass, when this group was read too, means this
     * group's total did not move either. */
    if (!s->v2 && !full && p && (p->flags & G_READ) && p->read_pass == s->pass &&
        (p->flags & G_CPU_STILL) && x->read_pass + 1 == s->pass) {
        todo &= ~(1u << C_CPU_USAGE);
        cpu_known = true;
    }
    /* Quiet rule: a group whose CPU total stood still at the previous pass (read then) may
     * skip pids current and frozen, if it stands still at this one too (else it moved:
     * the second round reads them) and their scheduled read is not due. */
    quiet = !full && (x->flags & G_CPU_STILL) && x->read_pass + 1 == s->pass &&
            x->u.cpu_usage_ns != CTL_UNSET && t - x->quiet_ns < ACCT_SAMPLER_QUIET_NS;
    if (quiet)
        todo &= ~quiet_files;
    for (int round = 0; round < 2; round++) {
        for (int c = 0; c < _C_MAX; c++) {
            int r;
            if (!(todo & (1u << c)))
                continue;
            done |= 1u << c;
            by_path |= x->fd[c] < 0;
            r = read_ctr(s, x, c, buf, sizeof(buf));
            if (r == -ENODEV)
                return -ENODEV;
            if (r == -EMFILE)
                return 0;
            if (r < 0)
                continue; /* stays as it was: unavailable, or last known */
            parse_ctr((enum ctr)c, s->v2, buf, u);
        }
        if (round > 0 || full)
            break;
        todo = 0;
        if ((!cpu_known && u->cpu_usage_ns != x->u.cpu_usage_ns) ||
            u->pids_current != x->u.pids_current ||
            (u->mem_current != CTL_UNSET &&
             (x->u.mem_peak == CTL_UNSET || u->mem_current > x->u.mem_peak))) {
            /* Moved (or may have): the rest too. */
            full = true;
            todo = ALL_FILES & ~done;
            cpu_known = false;
        }
    }
    if (by_path && !same_generation(s, x))
        return -ENODEV;
    /* The CPU counters a full read refreshed; others keep their last read. */
    if (cpu_known || u->cpu_usage_ns == x->u.cpu_usage_ns)
        x->flags |= G_CPU_STILL;
    else
        x->flags &= (uint8_t)~G_CPU_STILL;
    if (!have) {
        x->flags &= (uint8_t)~G_CPU_STILL;
        /* staggered: the first quiet re-reads of a new table do not all fall on one pass */
        x->quiet_ns = t - (uint64_t)(i % 16) * (ACCT_SAMPLER_QUIET_NS / 16);
    } else if ((done & quiet_files) == quiet_files && t - x->quiet_ns >= ACCT_SAMPLER_QUIET_NS) {
        /* due (the phase stays: reads for other reasons only make them fresher) */
        x->quiet_ns = t;
    }
    return 1;
}

/* Every recorded value equal (nr_periods and nr_throttled are not recorded). */
static bool same_usage(const struct ctl_usage *a, const struct ctl_usage *b)
{
    return a->cpu_usage_ns == b->cpu_usage_ns && a->cpu_user_ns == b->cpu_user_ns &&
           a->cpu_system_ns == b->cpu_system_ns && a->cpu_throttled_ns == b->cpu_throttled_ns &&
           a->mem_current == b->mem_current && a->mem_peak == b->mem_peak &&
           a->mem_oom_kills == b->mem_oom_kills && a->pids_current == b->pids_current &&
           a->pids_peak == b->pids_peak && a->frozen == b->frozen;
}

static int push_row(struct acct_sampler *s, size_t i, uint64_t t_ns, const struct ctl_usage *u)
{
    if (s->n_rows == s->cap_rows) {
        size_t cap = s->cap_rows ? s->cap_rows * 2 : 256;
        struct row *r = realloc(s->rows, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        s->rows = r;
        s->cap_rows = cap;
    }
    s->rows[s->n_rows++] = (struct row){.g = (uint32_t)i, .t_ns = t_ns, .u = *u};
    return 0;
}

/* The hold rule (sample.h): which rows a pass hands to the ledger. */
static int select_rows(struct acct_sampler *s, size_t i, uint64_t t, const struct ctl_usage *u,
                       unsigned flags)
{
    struct grp *x = &s->g[i];
    bool same = (x->flags & G_EMITTED) && same_usage(u, &x->u);
    bool holdable = x->kind != ACCT_INSTANCE || u->pids_current == 0;
    int r;

    if (same && holdable && !(flags & ACCT_PASS_ALL)) {
        if ((x->flags & G_HELD) && x->held_ns / ACCT_MINUTE_NS != t / ACCT_MINUTE_NS) {
            /* the last row of its minute goes in: rollups attribute the same */
            r = push_row(s, i, x->held_ns, &x->u);
            if (r < 0)
                return r;
        }
        x->flags |= G_HELD;
        x->held_ns = t;
        s->st.held++;
        return 0;
    }
    if (x->flags & G_HELD) {
        r = push_row(s, i, x->held_ns, &x->u);
        if (r < 0)
            return r;
        x->flags &= (uint8_t)~G_HELD;
    }
    r = push_row(s, i, t, u);
    if (r < 0)
        return r;
    x->flags |= G_EMITTED;
    return 0;
}

int acct_sampler_pass(struct acct_sampler *s, unsigned flags, size_t *ret_rows)
{
    size_t w = 0;
    int r = 0;

    s->pass++;
    s->n_rows = 0;
    if (s->cap_rows > 4096) { /* after a big first pass: give the memory back */
        free(s->rows);
        s->rows = NULL;
        s->cap_rows = 0;
    }
    s->st.unsampled = s->st.held = s->st.reads = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct grp *x = &s->g[i];
        struct ctl_usage u;
        uint64_t t;
        int k;

        x->flags &= (uint8_t)~G_READ;
        if (x->flags & G_GONE)
            continue;
        t = sampler_now(s);
        k = read_grp(s, i, t, &u);
        if (k == 0) {
            s->st.unsampled++;
            continue;
        }
        if (k == -ENODEV) {
            /* removed since the scan: its final record is run/remove's business; it is
             * forgotten at the next scan (a held row is older than that final and would
             * be ignored) */
            grp_close(s, x);
            x->flags = (uint8_t)((x->flags & ~G_HELD) | G_GONE);
            continue;
        }
        if (flags & ACCT_PASS_ROWS && r >= 0)
            r = select_rows(s, i, t, &u, flags);
        x->u = u;
        x->t_ns = t;
        x->flags |= G_HAVE | G_READ;
        x->read_pass = s->pass;
        w++;
    }
    s->st.groups = s->n;
    s->st.read = w;
    if (ret_rows)
        *ret_rows = s->n_rows;
    return r;
}

/* Spells out group x as the ledger wants it. */
static void fill_sample(const struct acct_sampler *s, const struct grp *x, uint64_t t_ns,
                        const struct ctl_usage *u, struct acct_sample *ret)
{
    if (acct_group_from_path(x->path, &ret->group) < 0)
        memset(&ret->group, 0, sizeof(ret->group));
    ret->group.generation = x->generation;
    ret->group.cpu_limit_ucores = x->cpu_limit;
    ret->group.mem_limit = x->mem_limit;
    ret->group.start_ns = x->start_ns;
    if (x->account && x->account <= s->n_accounts)
        snprintf(ret->group.account, sizeof(ret->group.account), "%s", s->accounts[x->account - 1]);
    ret->t_ns = t_ns;
    ret->usage = *u;
}

size_t acct_sampler_rows(const struct acct_sampler *s, size_t from, struct acct_sample *buf,
                         size_t cap)
{
    size_t k = 0;

    for (size_t i = from; i < s->n_rows && k < cap; i++, k++) {
        const struct row *rw = &s->rows[i];
        fill_sample(s, &s->g[rw->g], rw->t_ns, &rw->u, &buf[k]);
    }
    return k;
}

int acct_sampler_take_held(struct acct_sampler *s, const char *path, struct acct_sample *ret)
{
    struct grp *x = old_find(s, path);

    if (!x || (x->flags & G_GONE) || !(x->flags & G_HELD))
        return 0;
    fill_sample(s, x, x->held_ns, &x->u, ret);
    x->flags &= (uint8_t)~G_HELD;
    return 1;
}

int acct_sampler_read(struct acct_sampler *s, const struct acct_sample **ret, size_t *ret_n)
{
    struct acct_sample *all;
    size_t k = 0;
    int r;

    r = acct_sampler_pass(s, 0, NULL);
    if (r < 0)
        return r;
    all = realloc(s->all, (s->n ? s->n : 1) * sizeof(*all));
    if (!all)
        return -ENOMEM;
    s->all = all;
    for (size_t i = 0; i < s->n; i++) {
        const struct grp *x = &s->g[i];
        if (x->flags & G_READ) {
            fill_sample(s, x, x->t_ns, &x->u, &all[k++]);
            s->g[i].flags &= (uint8_t)~G_HELD;
            s->g[i].flags |= G_EMITTED;
        }
    }
    *ret = all;
    *ret_n = k;
    return 0;
}

size_t acct_sampler_count(const struct acct_sampler *s)
{
    return s->n;
}

void acct_sampler_item(const struct acct_sampler *s, size_t i, struct acct_sampler_item *ret)
{
    const struct grp *x = &s->g[i];

    *ret = (struct acct_sampler_item){
        .path = x->path,
        .kind = (enum acct_kind)x->kind,
        .generation = x->generation,
        .t_ns = x->t_ns,
        .usage = &x->u,
        .read = (x->flags & G_READ) != 0,
    };
}

void acct_sampler_get(const struct acct_sampler *s, size_t i, struct acct_sample *ret)
{
    const struct grp *x = &s->g[i];
    fill_sample(s, x, x->t_ns, &x->u, ret);
}

void acct_sampler_stats(const struct acct_sampler *s, struct acct_sampler_stats *ret)
{
    *ret = s->st;
    ret->fds = s->nfds;
}

size_t acct_sampler_table_bytes(const struct acct_sampler *s)
{
    size_t b = sizeof(*s) + s->cap * sizeof(*s->g) + s->cap_rows * sizeof(*s->rows);

    for (size_t i = 0; i < s->n; i++)
        b += strlen(s->g[i].path) + 1;
    return b;
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

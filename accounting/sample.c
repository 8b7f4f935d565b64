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

/* ---- the sampler ---- */

uint64_t acct_sampler_now(const struct acct_sampler *s)
{
    return s->clock ? s->clock(s->clock_data) : acct_now_ns();
}

unsigned acct_sampler_fast_mask(const struct acct_sampler *s)
{
    return s->fast;
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

void acct_grp_free(struct acct_sampler *s, struct grp *g)
{
    if (g->flags & G_TAKEN)
        return;
    grp_close(s, g);
    free(g->path);
    g->path = NULL;
}

/* Hands old's path and fds over to the new table. */
void acct_grp_take(struct grp *old)
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
    s->vocab = cg_ctx_vocab(ctx);
    for (int c = 0; c < _C_MAX; c++) {
        s->ctr[c] = ctl_ctr_desc((ctl_ctr)c);
        if (acct_ctr_file(s, c)->hot)
            s->fast |= 1u << c;
    }
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

void acct_free_accounts(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

void acct_sampler_clear(struct acct_sampler *s)
{
    for (size_t i = 0; i < s->n; i++)
        acct_grp_free(s, &s->g[i]);
    free(s->g);
    s->g = NULL;
    s->n = s->cap = 0;
    acct_free_accounts(s->accounts, s->n_accounts);
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
    acct_sampler_clear(s);
    free(s->rows);
    cg_group_free(s->root);
    free(s);
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
    name = acct_ctr_file(s, c)->name;
    dfd = s->root ? cg_group_fd(s->root, s->ctr[c]->hier) : -1;
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
        return acct_out_of_fds(r) ? -EMFILE : r;
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
    todo = full ? ALL_FILES : acct_sampler_fast_mask(s);
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
            ctl_ctr_parse(s->ctr[c], s->vocab, buf, false, u);
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
        t = acct_sampler_now(s);
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
    struct grp *x = acct_grp_find(s, path);

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

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
#include "core/macro.h"
#include "core/name.h"

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
struct grp *acct_grp_find(struct acct_sampler *s, const char *path)
{
    struct grp key = {.path = (char *)path};
    return s->n ? bsearch(&key, s->g, s->n, sizeof(key), cmp_path) : NULL;
}

static int scan_grow(struct scan *sc)
{
    return GROW(sc->g, sc->cap, sc->n, 64);
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
        const char *name = acct_ctr_file(s, c)->name;
        int dfd = g ? cg_group_fd(g, s->ctr[c]->hier) : -1, fd;

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
            dfd = cg_group_fd(s->root, s->ctr[c]->hier);
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
        r = acct_cg_generation(g, &ag.generation);
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
    old = acct_grp_find(s, ag.path);
    if (old && !(old->flags & G_TAKEN) && old->generation == ag.generation) {
        /* known: keeps its fds, its last read and its held row */
        uint16_t account = x->account;
        uint64_t cl = x->cpu_limit, ml = x->mem_limit;
        *x = *old;
        x->parent = parent;
        x->account = account;
        x->cpu_limit = cl;
        x->mem_limit = ml;
        acct_grp_take(old);
    } else {
        x->path = strdup(ag.path);
        if (!x->path)
            return -ENOMEM;
        if (ag.kind == ACCT_INSTANCE)
            x->start_ns = acct_instance_start(g, acct_sampler_now(s));
        for (int c = 0; c < _C_MAX; c++)
            if (!acct_ctr_file(s, c)->name || cg_group_fd(g, s->ctr[c]->hier) < 0)
                x->absent |= (uint16_t)(1u << c);
    }
    open_files(sc, x, g, acct_sampler_fast_mask(s));
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
        acct_grp_take(o);
    }
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
    if (acct_out_of_fds(r)) {
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
        if (acct_out_of_fds(r)) {
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
        struct grp *x = &sc->g[i], *o = acct_grp_find(s, x->path);
        if (o && o->path == x->path && (o->flags & G_TAKEN)) {
            memcpy(o->fd, x->fd, sizeof(o->fd));
            o->flags &= (uint8_t)~G_TAKEN;
            continue;
        }
        acct_grp_free(s, x);
    }
    free(sc->g);
    acct_free_accounts(sc->accounts, sc->n_accounts);
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
        acct_sampler_clear(s);
        cg_group_free(s->root);
        s->root = NULL;
        s->st = (struct acct_sampler_stats){0};
        return 0;
    }
    if (acct_out_of_fds(r) && s->root) {
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
    acct_sampler_clear(s);
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
                    if (!(acct_sampler_fast_mask(s) & (1u << c)) && s->g[i].fd[c] >= 0) {
                        (void)close(s->g[i].fd[c]);
                        s->g[i].fd[c] = -1;
                        s->nfds--;
                    }
            for (size_t i = 0; i < s->n && !sc.budget_out; i++)
                open_files(&sc, &s->g[i], NULL, acct_sampler_fast_mask(s));
        }
    }
    s->st.groups = s->n;
    s->st.unopened = sc.unopened;
    s->st.carried = sc.carried;
    s->st.fds = s->nfds;
    s->st.on_demand = 0;
    for (size_t i = 0; i < s->n; i++)
        for (int c = 0; c < _C_MAX; c++)
            if ((acct_sampler_fast_mask(s) & (1u << c)) && s->g[i].fd[c] < 0 &&
                !(s->g[i].absent & (1u << c))) {
                s->st.on_demand++;
                break;
            }
    return (int)s->n;
}

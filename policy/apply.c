/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The forged handles of the dry-run and read-only passes reach into struct cg_group; the
 * plan stage that replaces them reads through core instead. */
#include "core/internal.h"
#include "core/macro.h"
#include "core/roots.h"
#include "policy/apply.h"
#include "policy/parallel.h"
#include "policy/units.h"

void pol_apply_result_free(struct pol_apply_result *r)
{
    if (!r)
        return;
    free(r->warnings);
    free(r->busy);
    memset(r, 0, sizeof(*r));
}

static int add_warning_named(struct pol_apply_result *res, const char *group, const char *key,
                             const char *msg)
{
    struct pol_warning *nw;

    /* The same class warning shows up once, not once per apply of each class. */
    for (size_t i = 0; i < res->n_warnings; i++)
        if (strcmp(res->warnings[i].group, group) == 0 &&
            strcmp(res->warnings[i].key, key ? key : "") == 0 &&
            strcmp(res->warnings[i].msg, msg) == 0)
            return 0;
    nw = realloc(res->warnings, (res->n_warnings + 1) * sizeof(*nw));
    if (!nw)
        return -ENOMEM;
    res->warnings = nw;
    nw = &res->warnings[res->n_warnings++];
    snprintf(nw->group, sizeof(nw->group), "%s", group);
    snprintf(nw->key, sizeof(nw->key), "%s", key ? key : "");
    snprintf(nw->msg, sizeof(nw->msg), "%s", msg);
    return 0;
}

/* A controller's warning, filed under its setting's policy name. */
static int add_warning(struct pol_apply_result *res, const char *group, const struct ctl_warning *w)
{
    char key[32];

    return add_warning_named(res, group, ctl_key_name(w->key, key, sizeof(key)), w->msg);
}

static int add_busy(struct pol_apply_result *res, const char *group)
{
    char(*nb)[256] = realloc(res->busy, (res->n_busy + 1) * sizeof(*nb));

    if (!nb)
        return -ENOMEM;
    res->busy = nb;
    snprintf(res->busy[res->n_busy++], 256, "%s", group);
    return 0;
}

/* A handle on a group that does not exist (yet): every fd is -1. The controllers see no
 * current values and record everything they would write; cg_txn_write accepts it only
 * in a dry run. */
static int phantom(struct cg_ctx *ctx, const char *parent, const char *name, struct cg_group **ret)
{
    struct cg_group *g = calloc(1, sizeof(*g));

    if (!g)
        return -ENOMEM;
    g->ctx = ctx;
    for (int h = 0; h < _CG_H_MAX; h++)
        g->fd[h] = -1;
    if (asprintf(&g->path, "%s%s%s", parent, parent[0] ? "/" : "", name) < 0) {
        free(g);
        return -ENOMEM;
    }
    *ret = g;
    return 0;
}

static bool is_phantom(const struct cg_group *g)
{
    for (int h = 0; h < _CG_H_MAX; h++)
        if (g->fd[h] >= 0)
            return false;
    return true;
}

/* Opens child `name` of parent, creating it through t unless t is a dry run. */
static int open_child(struct cg_group *parent, const char *name, struct cg_txn *t,
                      struct cg_group **ret, struct cg_err *e)
{
    struct cg_group *g = NULL;
    bool created = false;
    int r;

    if (!is_phantom(parent)) {
        r = cg_group_child(parent, name, false, &g, NULL, NULL);
        if (r == 0) {
            *ret = g;
            return 0;
        }
        if (r != -ENOENT)
            return cg_group_child(parent, name, false, ret, NULL, e); /* fills e */
    }
    if (t->dry_run) {
        r = phantom(cg_group_ctx(parent), cg_group_path(parent), name, &g);
        if (r < 0)
            return r;
        r = cg_txn_created(t, g);
    } else {
        r = cg_group_child(parent, name, true, &g, &created, e);
        if (r < 0)
            return r;
        r = created ? cg_txn_created(t, g) : 0;
    }
    if (r < 0) {
        cg_group_free(g);
        return r;
    }
    *ret = g;
    return 0;
}

typedef bool (*relevant_fn)(const void *owner, ctl_key key);

static bool class_relevant(const void *owner, ctl_key key)
{
    return pol_class_warning_relevant(owner, key);
}

static bool policy_relevant(const void *owner, ctl_key key)
{
    return pol_policy_warning_relevant(owner, key);
}

/* Warnings only: runs every controller's apply with a dry-run transaction on a stand-in
 * group that exists (the root's base, which corral only reads here), so that the
 * controllers can see which files this kernel offers; errors are ignored, the writes it
 * would make are thrown away, and the warnings are filed under `path`. */
static int warn_only(struct cg_group *standin, const char *path, const struct ctl_settings *s,
                     relevant_fn relevant, const void *owner, struct pol_apply_result *res)
{
    for (int i = 0; i < _CTL_MAX; i++) {
        struct ctl_warnings w = {0};
        struct cg_txn t;
        int r;

        if (!ctl_table[i]->apply)
            continue;
        cg_txn_init(&t, true);
        (void)ctl_table[i]->apply(standin, s, &t, &w, NULL);
        cg_txn_done(&t);
        for (size_t k = 0; k < w.n; k++) {
            if (!relevant(owner, w.w[k].key))
                continue;
            r = add_warning(res, path, &w.w[k]);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* Dry run of a group that does not exist yet: the controllers cannot read it, so the
 * plan lists the policy's values that differ from a new group's defaults, by policy key
 * (which kernel file holds them is known once the group exists). */
static int plan_new_group(struct cg_group *g, const struct ctl_settings *s, struct cg_txn *t,
                          struct cg_err *e)
{
    struct ctl_settings d;
    char buf[64];
    int r = 0;

    ctl_settings_defaults(&d);
#define PLAN(field, hier, key, ...)                                                                \
    do {                                                                                           \
        if (r == 0 && s->field != CTL_UNSET && s->field != d.field) {                              \
            __VA_ARGS__;                                                                           \
            r = cg_txn_write(t, g, hier, key, "", buf, e);                                         \
        }                                                                                          \
    } while (0)
    PLAN(cpu_weight, CG_H_CPU, "CPU.Weight",
         snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->cpu_weight));
    PLAN(cpu_max_usec, CG_H_CPU, "CPU.Max",
         if (s->cpu_max_usec == CTL_MAX) snprintf(buf, sizeof(buf), "max");
         else snprintf(buf, sizeof(buf), "%lluus per period", (unsigned long long)s->cpu_max_usec));
    PLAN(cpu_period_usec, CG_H_CPU, "CPU.Period",
         snprintf(buf, sizeof(buf), "%lluus", (unsigned long long)s->cpu_period_usec));
    PLAN(mem_max, CG_H_MEMORY, "Memory.Max", pol_format_size(s->mem_max, buf, sizeof(buf)));
    PLAN(mem_high, CG_H_MEMORY, "Memory.High", pol_format_size(s->mem_high, buf, sizeof(buf)));
    PLAN(mem_low, CG_H_MEMORY, "Memory.Low", pol_format_size(s->mem_low, buf, sizeof(buf)));
    PLAN(mem_swap_max, CG_H_MEMORY, "Memory.SwapMax",
         pol_format_size(s->mem_swap_max, buf, sizeof(buf)));
    PLAN(pids_max, CG_H_PIDS, "Pids.Max",
         if (s->pids_max == CTL_MAX) snprintf(buf, sizeof(buf), "max");
         else snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->pids_max));
#undef PLAN
    return r;
}

/* Files the controllers' warnings for group `path` that concern what owner asked for. */
static int file_warnings(struct pol_apply_result *res, const char *path,
                         const struct ctl_warnings *w, relevant_fn relevant, const void *owner)
{
    for (size_t i = 0; res && i < w->n; i++) {
        int r;

        if (!relevant(owner, w->w[i].key))
            continue;
        r = add_warning(res, path, &w->w[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int apply_group(struct cg_group *g, struct cg_group *standin, const struct ctl_settings *s,
                       struct cg_txn *t, relevant_fn relevant, const void *owner,
                       struct pol_apply_result *res, struct cg_err *e)
{
    struct ctl_warnings w = {0};
    int r;

    if (is_phantom(g)) {
        r = plan_new_group(g, s, t, e);
        if (r == 0 && res && standin)
            r = warn_only(standin, cg_group_path(g), s, relevant, owner, res);
        return r;
    }
    r = ctl_apply_all(g, s, t, &w, e);
    if (r < 0) {
        if (e && !e->group[0])
            snprintf(e->group, sizeof(e->group), "%s", cg_group_path(g));
        return r;
    }
    return file_warnings(res, cg_group_path(g), &w, relevant, owner);
}

int pol_used_classes(const struct pol_config *cfg, const struct pol_set *set,
                     const struct pol_class ***ret, size_t *ret_n)
{
    const struct pol_class **v = calloc(cfg->n_classes + 1, sizeof(*v));
    size_t n = 0;

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->n_classes; i++)
        for (size_t j = 0; j < set->n; j++)
            if (strcmp(set->p[j].class_name, cfg->classes[i].name) == 0) {
                v[n++] = &cfg->classes[i];
                break;
            }
    *ret = v;
    *ret_n = n;
    return 0;
}

static int cmp_policy_ptr(const void *a, const void *b)
{
    const struct pol_policy *x = *(const struct pol_policy *const *)a;
    const struct pol_policy *y = *(const struct pol_policy *const *)b;
    return strcmp(x->name, y->name);
}

/* The policies of one class, sorted by workload name. */
static int class_members(const struct pol_set *set, const char *cls, const struct pol_policy ***ret,
                         size_t *ret_n)
{
    const struct pol_policy **v = calloc(set->n + 1, sizeof(*v));
    size_t n = 0;

    if (!v)
        return -ENOMEM;
    for (size_t j = 0; j < set->n; j++)
        if (strcmp(set->p[j].class_name, cls) == 0)
            v[n++] = &set->p[j];
    qsort(v, n, sizeof(*v), cmp_policy_ptr);
    *ret = v;
    *ret_n = n;
    return 0;
}

static int cmp_name_policy(const void *key, const void *elem)
{
    return strcmp(key, (*(const struct pol_policy *const *)elem)->name);
}

/* Whether a policy of class cls names workload `name`; members is the class's policies
 * sorted by name (class_members), searched instead of the whole set. */
static bool workload_wanted(const struct pol_policy **members, size_t n_members, const char *name)
{
    return bsearch(name, members, n_members, sizeof(*members), cmp_name_policy) != NULL;
}

/* Another corral root there (core/roots.h): not corral's to remove, whatever its name. */
static int keep_root(struct pol_apply_result *res, const struct cg_group *g)
{
    return add_warning_named(res, g->path, "Root", "another corral root lies here: not removed");
}

static int prune_one(void *userdata, struct cg_group *g, struct cg_err *e)
{
    return cg_txn_remove(userdata, g, e);
}

/* Removes g and everything below it through t, deepest first, unless a process lives
 * anywhere in it (then it is reported and nothing of it is removed). */
static int prune_group(struct cg_group *g, struct cg_txn *t, struct pol_apply_result *res,
                       struct cg_err *e)
{
    int r;

    if (cg_group_overlaps_root(g))
        return keep_root(res, g);
    /* populated covers the whole subtree: when it is 0, nothing below holds a process. */
    r = cg_group_populated(g);
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(g), NULL,
                          "cannot tell whether the group holds processes");
    if (r > 0)
        return add_busy(res, cg_group_path(g));
    return cg_group_walk_post(g, prune_one, t, e);
}

/* A class no policy uses: its unnamed workloads go (busy ones are kept and reported),
 * then the class itself once nothing is left in it. */
static int prune_class(struct cg_group *cg, struct cg_txn *t, struct pol_apply_result *res,
                       struct cg_err *e)
{
    _cleanup_(cg_strv_freep) char **workloads = NULL;
    size_t busy_before = res->n_busy;
    int r;

    if (cg_group_overlaps_root(cg) == CG_ROOT_IN)
        return keep_root(res, cg);
    r = cg_group_children(cg, &workloads);
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(cg), NULL, "cannot list workload groups");
    for (char **w = workloads; *w; w++) {
        _cleanup_(cg_group_freep) struct cg_group *wg = NULL;
        r = cg_group_child(cg, *w, false, &wg, NULL, e);
        if (r < 0)
            return r;
        r = prune_group(wg, t, res, e);
        if (r < 0)
            return r;
    }
    if (res->n_busy > busy_before || cg_group_overlaps_root(cg))
        return 0;
    /* Processes placed in the class group itself (not by corral) keep it too. Its
     * children are gone by now (or, in a dry run, planned to go). */
    r = cg_group_populated(cg);
    if (r < 0)
        return cg_err_set(e, r, cg_group_path(cg), NULL,
                          "cannot tell whether the group holds processes");
    if (r > 0)
        return add_busy(res, cg_group_path(cg));
    return cg_txn_remove(t, cg, e);
}

static int prune(struct cg_group *root, const struct pol_set *set, const struct pol_class **used,
                 size_t n_used, struct cg_txn *t, struct pol_apply_result *res, struct cg_err *e)
{
    _cleanup_(cg_strv_freep) char **classes = NULL;
    int r;

    r = cg_roots_load_inside(cg_group_ctx(root), e);
    if (r < 0)
        return r;
    r = cg_group_children(root, &classes);
    if (r < 0)
        return cg_err_set(e, r, "", NULL, "cannot list class groups");
    for (char **c = classes; *c; c++) {
        _cleanup_(cg_group_freep) struct cg_group *cg = NULL;
        _cleanup_(cg_strv_freep) char **workloads = NULL;
        _cleanup_free_ const struct pol_policy **members = NULL;
        size_t n_members = 0;
        bool class_wanted = false;

        for (size_t i = 0; i < n_used; i++)
            class_wanted |= strcmp(used[i]->name, *c) == 0;
        r = cg_group_child(root, *c, false, &cg, NULL, e);
        if (r < 0)
            return r;
        if (!class_wanted) {
            r = prune_class(cg, t, res, e);
            if (r < 0)
                return r;
            continue;
        }
        r = class_members(set, *c, &members, &n_members);
        if (r < 0)
            return r;
        r = cg_group_children(cg, &workloads);
        if (r < 0)
            return cg_err_set(e, r, cg_group_path(cg), NULL, "cannot list workload groups");
        for (char **w = workloads; *w; w++) {
            _cleanup_(cg_group_freep) struct cg_group *wg = NULL;
            if (workload_wanted(members, n_members, *w))
                continue;
            r = cg_group_child(cg, *w, false, &wg, NULL, e);
            if (r < 0)
                return r;
            r = prune_group(wg, t, res, e);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int open_root(struct cg_ctx *ctx, struct cg_txn *t, struct cg_group **ret, struct cg_err *e)
{
    struct cg_group *root = NULL;
    int r;

    r = cg_root_open(ctx, false, &root, NULL);
    if (r == 0) {
        *ret = root;
        return 0;
    }
    if (r != -ENOENT)
        return cg_root_open(ctx, false, ret, e); /* fills e */
    if (t->dry_run)
        r = phantom(ctx, "", "", &root);
    else
        r = cg_root_open(ctx, true, &root, e);
    if (r < 0)
        return r;
    r = cg_txn_created(t, root);
    if (r < 0) {
        cg_group_free(root);
        return r;
    }
    *ret = root;
    return 0;
}

/*
 * The read-only pass. Proving that nothing differs means reading every value of every
 * workload from the kernel (a state file or timestamps cannot be trusted: kernfs keeps no
 * mtime on write, and anyone may write there), and that is almost all the time a no-op
 * apply takes. These reads are independent, so before the changes are made they run on a
 * few threads: each workload is checked as the sequential pass would check it (its
 * group must exist in every hierarchy, then every controller's apply runs in a dry-run
 * transaction of its own), and is marked clean when it exists and nothing would be
 * written. The sequential pass then skips the clean ones (filing their warnings) and
 * handles every other one exactly as without this pass, in the same order, with its own
 * fresh reads, writes, errors and rollback: nothing is written from a thread, and an
 * error met while checking only means "not clean", so what apply does, reports and
 * undoes does not depend on the threads. A value someone else changes between the two
 * passes is the same race as a change right after a sequential apply read it. (The class
 * groups' own values are written after their workloads were checked; no class value is
 * part of a workload's.) The pass runs only when there is more than one thread to run
 * it on: alone, it would only read everything twice.
 */

/* The group names below a directory, sorted (cg_children_at). */
struct dirlist {
    char **v; /* NULL-terminated */
    size_t n;
};

static void dirlist_done(struct dirlist *l)
{
    cg_strv_free(l->v);
    *l = (struct dirlist){0};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dirlist_read(int dfd, struct dirlist *ret)
{
    return cg_children_at(dfd, &ret->v, &ret->n);
}

static bool dirlist_has(const struct dirlist *l, const char *name)
{
    return l->n > 0 && bsearch(&name, l->v, l->n, sizeof(*l->v), cmp_str) != NULL;
}

/* A class group as the read-only pass sees it. In the hierarchies where the controllers
 * read, its workloads are opened. In the others nothing is read: there a workload's
 * handle gets `poison`, and whether its directory exists is looked up in the class
 * directory's listing, one listing per hierarchy instead of one open per workload. */
struct precheck_class {
    struct cg_group *g; /* opened in every hierarchy; NULL: not there, nothing is clean */
    int poison;         /* O_PATH fd of a regular file: any openat() below it fails */
    bool open_slot[_CG_H_MAX];
    struct dirlist list[_CG_H_MAX]; /* where !open_slot */
    int list_error[_CG_H_MAX];
};

struct precheck_item {
    const struct precheck_class *cls;
    const struct pol_policy *p;
    bool clean;
    struct ctl_warnings *w; /* a clean workload's warnings (malloc'ed), NULL when none */
};

/* The workloads of each used class, sorted by name, and what the read-only pass found. */
struct plan {
    size_t n_used;
    const struct pol_policy ***members; /* [n_used] */
    size_t *n_members;                  /* [n_used] */
    size_t total;
    struct precheck_class *cls;  /* [n_used], for the read-only pass */
    struct precheck_item *items; /* [total] in visiting order, NULL: every workload dirty */
    /* The listings to read, as (class, hierarchy) pairs; they run as the first items of
     * the parallel loop, and the workloads' listed hierarchies are checked after it. */
    size_t n_lists;
    struct {
        size_t cls;
        int h;
    } * lists; /* room for n_used * _CG_H_MAX */
};

/* Checks one workload in the hierarchies it is opened in. */
static void precheck_workload(struct precheck_item *it)
{
    const struct precheck_class *pc = it->cls;
    struct ctl_warnings w = {0};
    struct cg_err e = {0};
    struct cg_group g = {0};
    struct cg_txn t;
    char path[160];
    int r;

    if (!pc)
        return;
    snprintf(path, sizeof(path), "%s/%s", cg_group_path(pc->g), it->p->name);
    g.ctx = cg_group_ctx(pc->g);
    g.path = path;
    for (int h = 0; h < _CG_H_MAX; h++)
        g.fd[h] = -1;
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (pc->g->fd[h] < 0)
            continue;
        if (!pc->open_slot[h]) {
            g.fd[h] = pc->poison;
            continue;
        }
        g.fd[h] = openat(pc->g->fd[h], it->p->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (g.fd[h] < 0)
            goto out; /* missing, or not openable: not clean */
    }
    cg_txn_init(&t, true);
    r = ctl_apply_all(&g, &it->p->limits, &t, &w, &e);
    it->clean = r == 0 && t.n == 0;
    cg_txn_done(&t);
    if (it->clean && w.n > 0) {
        it->w = malloc(sizeof(w));
        if (it->w)
            *it->w = w;
        else
            it->clean = false; /* the sequential pass finds the warnings again */
    }
out:
    for (int h = 0; h < _CG_H_MAX; h++)
        if (g.fd[h] >= 0 && g.fd[h] != pc->poison)
            close(g.fd[h]);
}

static void precheck_one(void *arg, size_t i, unsigned worker)
{
    struct plan *pl = arg;

    (void)worker;
    if (i < pl->n_lists) {
        struct precheck_class *pc = &pl->cls[pl->lists[i].cls];
        int h = pl->lists[i].h;

        pc->list_error[h] = dirlist_read(pc->g->fd[h], &pc->list[h]);
        return;
    }
    precheck_workload(&pl->items[i - pl->n_lists]);
}

/* After the loop: a workload is clean only if it also exists in every listed hierarchy
 * (the sequential pass opens it in every hierarchy, and creates what is missing). */
static int precheck_finish(struct plan *pl)
{
    for (size_t k = 0; k < pl->total; k++) {
        struct precheck_item *it = &pl->items[k];

        for (int h = 0; it->clean && h < _CG_H_MAX; h++) {
            if (it->cls->g->fd[h] < 0 || it->cls->open_slot[h])
                continue;
            if (it->cls->list_error[h] == -ENOMEM)
                return -ENOMEM;
            it->clean = it->cls->list_error[h] == 0 && dirlist_has(&it->cls->list[h], it->p->name);
        }
        if (!it->clean)
            free(TAKE_PTR(it->w));
    }
    return 0;
}

static void precheck_class_done(struct precheck_class *pc)
{
    cg_group_free(pc->g);
    if (pc->poison >= 0)
        close(pc->poison);
    for (int h = 0; h < _CG_H_MAX; h++)
        dirlist_done(&pc->list[h]);
}

/* Opens class `name` for the read-only pass and queues its listings; pc->g stays NULL when
 * it is not there or cannot be prepared (its workloads are then simply not clean). */
static void precheck_class_open(struct cg_group *root, const char *name, size_t idx,
                                struct plan *pl)
{
    struct precheck_class *pc = &pl->cls[idx];
    struct cg_ctx *ctx = cg_group_ctx(root);
    size_t n_lists = pl->n_lists;

    if (cg_group_child(root, name, false, &pc->g, NULL, NULL) < 0) {
        pc->g = NULL;
        return;
    }
    for (int h = 0; h < _CG_H_MAX; h++) {
        int slot = cg_ctx_is_v2(ctx) ? 0 : ctx->sys.alias[h] >= 0 ? ctx->sys.alias[h] : h;

        if ((CTL_APPLY_HIERS & (1u << h)) && ctx->sys.mount[h])
            pc->open_slot[slot] = true;
    }
    for (int h = 0; h < _CG_H_MAX; h++) {
        if (pc->g->fd[h] < 0 || pc->open_slot[h])
            continue;
        if (pc->poison < 0)
            pc->poison = openat(pc->g->fd[h], "cgroup.procs", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (pc->poison < 0) {
            /* Then it is opened in every hierarchy, like any group. */
            for (int k = 0; k < _CG_H_MAX; k++)
                pc->open_slot[k] = true;
            return;
        }
        pl->lists[n_lists].cls = idx;
        pl->lists[n_lists].h = h;
        n_lists++;
    }
    pl->n_lists = n_lists;
}

static void plan_done(struct plan *pl)
{
    for (size_t i = 0; i < pl->n_used; i++) {
        if (pl->members)
            free(pl->members[i]);
        if (pl->cls)
            precheck_class_done(&pl->cls[i]);
    }
    for (size_t k = 0; pl->items && k < pl->total; k++)
        free(pl->items[k].w);
    free(pl->members);
    free(pl->n_members);
    free(pl->cls);
    free(pl->items);
    free(pl->lists);
}

static int plan_members(const struct pol_set *set, const struct pol_class **used, size_t n_used,
                        struct plan *pl)
{
    pl->n_used = n_used;
    pl->members = calloc(n_used + 1, sizeof(*pl->members));
    pl->n_members = calloc(n_used + 1, sizeof(*pl->n_members));
    if (!pl->members || !pl->n_members)
        return -ENOMEM;
    for (size_t i = 0; i < n_used; i++) {
        int r = class_members(set, used[i]->name, &pl->members[i], &pl->n_members[i]);
        if (r < 0)
            return r;
        pl->total += pl->n_members[i];
    }
    return 0;
}

/* Runs the read-only pass when it is worth it: more than one thread, and a root that
 * exists (otherwise every group is new). Any failure here only leaves the workloads
 * dirty, except running out of memory. */
static int plan_precheck(struct cg_ctx *ctx, const struct pol_class **used, unsigned threads,
                         struct plan *pl)
{
    _cleanup_(cg_group_freep) struct cg_group *root = NULL;
    size_t k = 0;

    threads = pol_parallel_threads(pl->total, threads, 16);
    if (threads < 2 || cg_root_open(ctx, false, &root, NULL) < 0)
        return 0;
    pl->cls = calloc(pl->n_used + 1, sizeof(*pl->cls));
    if (!pl->cls)
        return -ENOMEM;
    for (size_t i = 0; i < pl->n_used; i++)
        pl->cls[i].poison = -1;
    pl->items = calloc(pl->total + 1, sizeof(*pl->items));
    pl->lists = calloc(pl->n_used * _CG_H_MAX + 1, sizeof(*pl->lists));
    if (!pl->items || !pl->lists)
        return -ENOMEM;
    for (size_t i = 0; i < pl->n_used; i++) {
        precheck_class_open(root, used[i]->name, i, pl);
        for (size_t j = 0; j < pl->n_members[i]; j++, k++) {
            pl->items[k].cls = pl->cls[i].g ? &pl->cls[i] : NULL;
            pl->items[k].p = pl->members[i][j];
        }
    }
    (void)pol_parallel_for(pl->n_lists + pl->total, threads, 8, precheck_one, pl);
    return precheck_finish(pl);
}

static int apply_tree(struct cg_ctx *ctx, const struct pol_config *cfg, const struct pol_set *set,
                      bool prune_unused, unsigned threads, struct cg_txn *t,
                      struct pol_apply_result *res, struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *root = NULL, *standin = NULL;
    _cleanup_free_ const struct pol_class **used = NULL;
    _cleanup_(plan_done) struct plan pl = {0};
    size_t n_used = 0, k = 0;
    int r;

    r = pol_used_classes(cfg, set, &used, &n_used);
    if (r < 0)
        return r;
    if (n_used == 0 && !prune_unused)
        return 0;
    r = plan_members(set, used, n_used, &pl);
    if (r < 0)
        return r;
    r = plan_precheck(ctx, used, threads, &pl);
    if (r < 0)
        return r;
    r = open_root(ctx, t, &root, e);
    if (r < 0)
        return r;
    if (t->dry_run && cg_base_open(ctx, &standin, NULL) < 0)
        standin = NULL; /* no warnings for new groups then */
    for (size_t i = 0; i < n_used; i++) {
        _cleanup_(cg_group_freep) struct cg_group *cg = NULL;
        struct ctl_settings cs;

        r = open_child(root, used[i]->name, t, &cg, e);
        if (r < 0)
            return r;
        pol_class_settings(used[i], &cs);
        r = apply_group(cg, standin, &cs, t, class_relevant, used[i], res, e);
        if (r < 0)
            return r;
        for (size_t j = 0; j < pl.n_members[i]; j++, k++) {
            const struct pol_policy *p = pl.members[i][j];
            _cleanup_(cg_group_freep) struct cg_group *wg = NULL;

            if (pl.items && pl.items[k].clean) {
                char path[160];

                if (!pl.items[k].w)
                    continue;
                snprintf(path, sizeof(path), "%s/%s", cg_group_path(cg), p->name);
                r = file_warnings(res, path, pl.items[k].w, policy_relevant, p);
                if (r < 0)
                    return r;
                continue;
            }
            r = open_child(cg, p->name, t, &wg, e);
            if (r < 0)
                return r;
            r = apply_group(wg, standin, &p->limits, t, policy_relevant, p, res, e);
            if (r < 0)
                return r;
        }
    }
    if (prune_unused && !is_phantom(root))
        r = prune(root, set, used, n_used, t, res, e);
    return r;
}

int pol_apply_threads(struct cg_ctx *ctx, const struct pol_config *cfg, const struct pol_set *set,
                      bool prune_unused, unsigned threads, struct cg_txn *t,
                      struct pol_apply_result *res, struct cg_err *e)
{
    int r = apply_tree(ctx, cfg, set, prune_unused, threads, t, res, e);

    if (r < 0 && !t->dry_run) {
        int rr = cg_txn_rollback(t);
        if (rr < 0 && e)
            snprintf(e->detail + strlen(e->detail), sizeof(e->detail) - strlen(e->detail),
                     " (and rolling back failed too: %s)", strerror(-rr));
    }
    return r;
}

int pol_apply(struct cg_ctx *ctx, const struct pol_config *cfg, const struct pol_set *set,
              bool prune_unused, struct cg_txn *t, struct pol_apply_result *res, struct cg_err *e)
{
    return pol_apply_threads(ctx, cfg, set, prune_unused, 0, t, res, e);
}

int pol_warnings(struct cg_ctx *ctx, const struct pol_config *cfg, const struct pol_set *set,
                 struct pol_apply_result *res)
{
    _cleanup_(cg_group_freep) struct cg_group *standin = NULL;
    _cleanup_free_ const struct pol_class **used = NULL;
    size_t n_used = 0;
    int r;

    r = cg_base_open(ctx, &standin, NULL);
    if (r < 0)
        return r;
    r = pol_used_classes(cfg, set, &used, &n_used);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n_used; i++) {
        struct ctl_settings cs;

        pol_class_settings(used[i], &cs);
        r = warn_only(standin, used[i]->name, &cs, class_relevant, used[i], res);
        if (r < 0)
            return r;
    }
    for (size_t j = 0; j < set->n; j++) {
        char path[160];

        snprintf(path, sizeof(path), "%s/%s", set->p[j].class_name, set->p[j].name);
        r = warn_only(standin, path, &set->p[j].limits, policy_relevant, &set->p[j], res);
        if (r < 0)
            return r;
    }
    return 0;
}

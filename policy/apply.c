/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/macro.h"
#include "core/roots.h"
#include "policy/apply.h"
#include "policy/internal.h"

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

/* Opens child `name` of parent (at parent_path), creating it through t. In a dry run a
 * child that does not exist (or whose parent does not: parent NULL) is planned instead:
 * *ret is NULL, and the plan names the group by its path, *ret_path. */
static int open_child(struct cg_ctx *ctx, struct cg_group *parent, const char *parent_path,
                      const char *name, struct cg_txn *t, struct cg_group **ret, char **ret_path,
                      struct cg_err *e)
{
    _cleanup_free_ char *path = NULL;
    struct cg_group *g = NULL;
    bool created = false;
    int r;

    if (asprintf(&path, "%s%s%s", parent_path, parent_path[0] ? "/" : "", name) < 0)
        return -ENOMEM;
    if (parent) {
        r = cg_group_child(parent, name, false, &g, NULL, NULL);
        if (r == 0 && (t->dry_run || cg_group_complete(g)))
            goto done;
        if (r == 0) {
            /* Made before an optional hierarchy (cpuset) appeared: completed there, not
             * created (a rollback leaves the new, empty directories; they hold nothing). */
            cg_group_free(TAKE_PTR(g));
            r = cg_group_child(parent, name, true, &g, NULL, e);
            if (r < 0)
                return r;
            goto done;
        }
        if (r != -ENOENT)
            return cg_group_child(parent, name, false, ret, NULL, e); /* fills e */
    }
    if (t->dry_run)
        r = cg_txn_plan(t, ctx, CG_TXN_MKDIR, path, 0, NULL, NULL);
    else {
        r = cg_group_child(parent, name, true, &g, &created, e);
        if (r < 0)
            return r;
        r = created ? cg_txn_created(t, g) : 0;
    }
    if (r < 0) {
        cg_group_free(g);
        return r;
    }
done:
    *ret = g;
    *ret_path = TAKE_PTR(path);
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

/* What this system offers beyond its vocabulary (swap accounting), for the warnings of
 * groups not there yet: probed once on the root's base, which corral only reads here; a
 * negative errno when it cannot be opened (no such warnings then). */
static int probe_features(struct cg_ctx *ctx)
{
    _cleanup_(cg_group_freep) struct cg_group *base = NULL;
    int r = cg_base_open(ctx, &base, NULL);

    return r < 0 ? r : (int)ctl_probe(base);
}

/* Dry run of a group that does not exist yet: it will hold the descriptors' defaults, so
 * its plan is the diff from them to s, in this system's file vocabulary. */
static int plan_new_group(struct cg_ctx *ctx, const char *path, const struct ctl_settings *s,
                          struct cg_txn *t)
{
    struct ctl_settings d;
    struct ctl_plan p = {0};
    int r = 0;

    ctl_settings_defaults(&d);
    ctl_diff(&d, s, cg_ctx_vocab(ctx), &p);
    for (size_t i = 0; r == 0 && i < p.n; i++)
        r = cg_txn_plan(t, ctx, CG_TXN_WRITE, path, p.s[i].hier, p.s[i].file, p.s[i].new_value);
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

/* The warnings a group not there yet would get, filed under path: from the descriptors
 * and the probed features, without touching a group. */
static int warn_new(struct cg_ctx *ctx, int features, const char *path,
                    const struct ctl_settings *s, relevant_fn relevant, const void *owner,
                    struct pol_apply_result *res)
{
    struct ctl_warnings w = {0};

    if (features < 0)
        return 0;
    ctl_warn_new(s, cg_ctx_vocab(ctx), (unsigned)features, &w);
    return file_warnings(res, path, &w, relevant, owner);
}

/* Applies s to g, or plans it for a group not there yet (g NULL, dry run) at path. */
static int apply_group(struct cg_ctx *ctx, struct cg_group *g, const char *path, int features,
                       const struct ctl_settings *s, struct cg_txn *t, relevant_fn relevant,
                       const void *owner, struct pol_apply_result *res, struct cg_err *e)
{
    struct ctl_warnings w = {0};
    int r;

    if (!g) {
        r = plan_new_group(ctx, path, s, t);
        if (r == 0)
            r = warn_new(ctx, features, path, s, relevant, owner, res);
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
    return add_warning_named(res, cg_group_path(g), "Root",
                             "another corral root lies here: not removed");
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

/* Opens the root, creating it through t; in a dry run a missing root is planned (*ret
 * NULL). */
static int open_root(struct cg_ctx *ctx, struct cg_txn *t, struct cg_group **ret, struct cg_err *e)
{
    struct cg_group *root = NULL;
    int r;

    r = cg_root_open(ctx, false, &root, NULL);
    if (r == 0 && !t->dry_run && !cg_group_complete(root)) {
        cg_group_free(TAKE_PTR(root)); /* made before cpuset appeared: completed */
        return cg_root_open(ctx, true, ret, e);
    }
    if (r == 0 || r != -ENOENT) {
        if (r < 0)
            return cg_root_open(ctx, false, ret, e); /* fills e */
        *ret = root;
        return 0;
    }
    *ret = NULL;
    if (t->dry_run)
        return cg_txn_plan(t, ctx, CG_TXN_MKDIR, "", 0, NULL, NULL);
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

/* The workloads of each used class, sorted by name, in visiting order, and what the
 * read-only pass found. */
struct plan {
    size_t n_used;
    const struct pol_policy ***members; /* [n_used] */
    size_t *n_members;                  /* [n_used] */
    size_t total;
    struct pol_precheck_item *items; /* [total] */
};

static void plan_done(struct plan *pl)
{
    for (size_t i = 0; pl->members && i < pl->n_used; i++)
        free(pl->members[i]);
    for (size_t k = 0; pl->items && k < pl->total; k++)
        free(pl->items[k].w);
    free(pl->members);
    free(pl->n_members);
    free(pl->items);
}

static int plan_members(const struct pol_set *set, const struct pol_class **used, size_t n_used,
                        struct plan *pl)
{
    size_t k = 0;

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
    pl->items = calloc(pl->total + 1, sizeof(*pl->items));
    if (!pl->items)
        return -ENOMEM;
    for (size_t i = 0; i < n_used; i++)
        for (size_t j = 0; j < pl->n_members[i]; j++, k++)
            pl->items[k] = (struct pol_precheck_item){.cls = i, .p = pl->members[i][j]};
    return 0;
}

/* The workloads of class i (group cg at path cpath, NULL when planned), from item *k on. */
static int apply_workloads(struct cg_ctx *ctx, struct plan *pl, size_t i, struct cg_group *cg,
                           const char *cpath, int features, size_t *k, struct cg_txn *t,
                           struct pol_apply_result *res, struct cg_err *e)
{
    for (size_t j = 0; j < pl->n_members[i]; j++, (*k)++) {
        const struct pol_precheck_item *it = &pl->items[*k];
        _cleanup_(cg_group_freep) struct cg_group *wg = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (it->clean) {
            if (!it->w)
                continue;
            if (asprintf(&path, "%s/%s", cpath, it->p->name) < 0)
                return -ENOMEM;
            r = file_warnings(res, path, it->w, policy_relevant, it->p);
        } else {
            r = open_child(ctx, cg, cpath, it->p->name, t, &wg, &path, e);
            if (r == 0)
                r = apply_group(ctx, wg, path, features, &it->p->limits, t, policy_relevant, it->p,
                                res, e);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

static int apply_tree(struct cg_ctx *ctx, const struct pol_config *cfg, const struct pol_set *set,
                      bool prune_unused, unsigned threads, struct cg_txn *t,
                      struct pol_apply_result *res, struct cg_err *e)
{
    _cleanup_(cg_group_freep) struct cg_group *root = NULL;
    _cleanup_free_ const struct pol_class **used = NULL;
    _cleanup_(plan_done) struct plan pl = {0};
    size_t n_used = 0, k = 0;
    int features = t->dry_run ? probe_features(ctx) : -1, r;

    r = pol_used_classes(cfg, set, &used, &n_used);
    if (r < 0)
        return r;
    if (n_used == 0 && !prune_unused)
        return 0;
    r = plan_members(set, used, n_used, &pl);
    if (r == 0)
        r = pol_precheck(ctx, used, n_used, pl.items, pl.total, threads);
    if (r == 0)
        r = open_root(ctx, t, &root, e);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n_used; i++) {
        _cleanup_(cg_group_freep) struct cg_group *cg = NULL;
        _cleanup_free_ char *cpath = NULL;
        struct ctl_settings cs;

        r = open_child(ctx, root, "", used[i]->name, t, &cg, &cpath, e);
        if (r < 0)
            return r;
        pol_class_settings(used[i], &cs);
        r = apply_group(ctx, cg, cpath, features, &cs, t, class_relevant, used[i], res, e);
        if (r == 0)
            r = apply_workloads(ctx, &pl, i, cg, cpath, features, &k, t, res, e);
        if (r < 0)
            return r;
    }
    if (prune_unused && root)
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
    _cleanup_free_ const struct pol_class **used = NULL;
    int features = probe_features(ctx), r;
    size_t n_used = 0;

    if (features < 0)
        return features;
    r = pol_used_classes(cfg, set, &used, &n_used);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n_used; i++) {
        struct ctl_settings cs;

        pol_class_settings(used[i], &cs);
        r = warn_new(ctx, features, used[i]->name, &cs, class_relevant, used[i], res);
        if (r < 0)
            return r;
    }
    for (size_t j = 0; j < set->n; j++) {
        char path[160];

        snprintf(path, sizeof(path), "%s/%s", set->p[j].class_name, set->p[j].name);
        r = warn_new(ctx, features, path, &set->p[j].limits, policy_relevant, &set->p[j], res);
        if (r < 0)
            return r;
    }
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The read-only pass of apply. Proving that nothing differs means reading every value of
 * every workload from the kernel (a state file or timestamps cannot be trusted: kernfs
 * keeps no mtime on write, and anyone may write there), and that is almost all the time a
 * no-op apply takes. These reads are independent, so before the changes are made they run
 * on a few threads: each workload is checked as the sequential pass would check it (its
 * group must exist in every hierarchy, then every controller's apply runs in a dry-run
 * transaction of its own), and is marked clean when it exists and nothing would be
 * written. The sequential pass then skips the clean ones (filing their warnings) and
 * handles every other one exactly as without this pass, in the same order, with its own
 * fresh reads, writes, errors and rollback: nothing is written from a thread, and an error
 * met while checking only means "not clean", so what apply does, reports and undoes does
 * not depend on the threads. A value someone else changes between the two passes is the
 * same race as a change right after a sequential apply read it. (The class groups' own
 * values are written after their workloads were checked; no class value is part of a
 * workload's.) The pass runs only when there is more than one thread to run it on: alone,
 * it would only read everything twice.
 *
 * Descriptors: one open group per class, and one per thread for the workload it checks
 * (opened, checked, closed), whatever the number of workloads.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/macro.h"
#include "policy/internal.h"
#include "policy/parallel.h"

struct precheck {
    struct cg_group **cls; /* [n_used]; NULL: the class is not there, nothing is clean */
    struct pol_precheck_item *items;
};

static void precheck_one(void *arg, size_t i, unsigned worker)
{
    struct precheck *pc = arg;
    struct pol_precheck_item *it = &pc->items[i];
    _cleanup_(cg_group_freep) struct cg_group *g = NULL;
    struct ctl_warnings w = {0};
    struct cg_err e = {0};
    struct cg_txn t;
    int r;

    (void)worker;
    if (!pc->cls[it->cls] ||
        cg_group_child(pc->cls[it->cls], it->p->name, false, &g, NULL, NULL) < 0)
        return; /* missing, or not openable: not clean */
    cg_txn_init(&t, true);
    r = ctl_apply_all(g, &it->p->limits, &t, &w, &e);
    it->clean = r == 0 && t.n == 0;
    cg_txn_done(&t);
    if (it->clean && w.n > 0) {
        it->w = malloc(sizeof(w));
        if (it->w)
            *it->w = w;
        else
            it->clean = false; /* the sequential pass finds the warnings again */
    }
}

int pol_precheck(struct cg_ctx *ctx, const struct pol_class **used, size_t n_used,
                 struct pol_precheck_item *items, size_t n, unsigned threads)
{
    _cleanup_(cg_group_freep) struct cg_group *root = NULL;
    struct precheck pc = {.items = items};

    threads = pol_parallel_threads(n, threads, 16);
    if (threads < 2 || cg_root_open(ctx, false, &root, NULL) < 0)
        return 0;
    pc.cls = calloc(n_used + 1, sizeof(*pc.cls));
    if (!pc.cls)
        return -ENOMEM;
    for (size_t i = 0; i < n_used; i++)
        if (cg_group_child(root, used[i]->name, false, &pc.cls[i], NULL, NULL) < 0)
            pc.cls[i] = NULL;
    (void)pol_parallel_for(n, threads, 8, precheck_one, &pc);
    for (size_t i = 0; i < n_used; i++)
        cg_group_free(pc.cls[i]);
    free(pc.cls);
    return 0;
}

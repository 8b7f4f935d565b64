/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ledger above the store seam (store.h): which rows are taken, and the delta rule. */
#include <errno.h>
#include <stdlib.h>

#include "accounting/delta.h"
#include "accounting/store.h"

int acct_ledger_open(const char *path, unsigned flags, struct acct_ledger **ret, struct cg_err *e)
{
    struct acct_ledger *l = calloc(1, sizeof(*l));
    int r;

    if (!l)
        return -ENOMEM;
    l->ops = &acct_sqlite_store;
    r = l->ops->open(path, flags, &l->s, e);
    if (r < 0) {
        free(l);
        return r;
    }
    *ret = l;
    return 0;
}

void acct_ledger_close(struct acct_ledger *l)
{
    if (!l)
        return;
    l->ops->close(l->s);
    free(l);
}

const char *acct_ledger_path(const struct acct_ledger *l)
{
    return l->ops->path(l->s);
}

int acct_ledger_check(struct acct_ledger *l, struct cg_err *e)
{
    return l->ops->check(l->s, e);
}

/* One row through the delta rule; f is set for a final record. Returns 1 if added, 0 if
 * ignored (duplicate, late, or after the final record), or a negative errno. */
static int add_row(struct acct_ledger *l, const struct acct_group *g, const struct ctl_usage *u,
                   uint64_t t_ns, const struct acct_final *f)
{
    struct acct_store_row row = {.g = g, .u = u, .t_ns = t_ns, .f = f};
    struct acct_state prev;
    uint64_t gstart = 0;
    bool prev_final = false;
    int64_t id;
    int r, have;

    r = l->ops->group(l->s, g, t_ns, f ? f->start_ns : 0, &id, &gstart);
    if (r < 0)
        return r;
    have = l->ops->last(l->s, id, &prev, &prev_final);
    if (have < 0)
        return have;
    if (!acct_row_admit(have ? &prev : NULL, prev_final, f != NULL, &row.t_ns))
        return 0;
    acct_delta_step(have ? &prev : NULL, gstart, row.t_ns, u, g->cpu_limit_ucores, g->mem_limit,
                    &row.state, &row.delta);
    return l->ops->put_row(l->s, id, &row);
}

int acct_ledger_write(struct acct_ledger *l, const struct acct_sample *s, size_t n,
                      size_t *ret_written, struct cg_err *e)
{
    size_t written = 0;
    int r;

    r = l->ops->begin(l->s, e);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n && r >= 0; i++) {
        r = add_row(l, &s[i].group, &s[i].usage, s[i].t_ns, NULL);
        if (r > 0)
            written++;
    }
    r = l->ops->commit(l->s, r, n, e, "write samples");
    if (r < 0)
        return r;
    if (ret_written)
        *ret_written = written;
    return 0;
}

int acct_record_end(struct acct_ledger *l, const struct acct_group *g, const struct ctl_usage *u,
                    const struct acct_final *f, struct cg_err *e)
{
    int r;

    r = l->ops->begin(l->s, e);
    if (r < 0)
        return r;
    r = add_row(l, g, u, f->end_ns, f);
    return l->ops->commit(l->s, r, 1, e, "write final record");
}

int acct_record_final(struct acct_ledger *l, const struct acct_group *g, const struct ctl_usage *u,
                      uint64_t start_ns, uint64_t end_ns, struct cg_err *e)
{
    const struct acct_final f = {
        .start_ns = start_ns, .end_ns = end_ns, .exit_status = ACCT_EXIT_UNKNOWN};

    return acct_record_end(l, g, u, &f, e);
}

int acct_record_event(struct acct_ledger *l, const struct acct_group *g, enum acct_event ev,
                      uint64_t t_ns, struct cg_err *e)
{
    uint64_t gstart;
    int64_t id;
    int r;

    if (ev < 0 || ev >= _ACCT_EVENT_MAX)
        return -EINVAL;
    r = l->ops->begin(l->s, e);
    if (r < 0)
        return r;
    r = l->ops->group(l->s, g, t_ns, 0, &id, &gstart);
    if (r >= 0)
        r = l->ops->put_event(l->s, id, t_ns, ev);
    return l->ops->commit(l->s, r, 1, e, "write event");
}

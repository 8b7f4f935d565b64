/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by report.c (rows and cost), report-sql.c (reading the ledger) and
 * report-life.c (wall and frozen time) only. */

#include "accounting/store.h"
#include "accounting/report.h"

/* The figures a part carries. The first RP_ADDITIVE add up; RP_PEAK is a maximum. */
enum rp_col {
    RP_CPU_USER,
    RP_CPU_SYS,
    RP_MEM,
    RP_OOM,
    RP_THROTTLED,
    RP_CPU_RES,
    RP_MEM_RES,
    RP_WALL,
    RP_FROZEN,
    RP_ADDITIVE,
    RP_PEAK = RP_ADDITIVE,
    _RP_MAX,
};

/* One instance generation the report looks at. */
struct rp_inst {
    int64_t id;
    char *path; /* class/workload/instance */
    char *workload, *name, *account, *policy;
    uint64_t start_ns, end_ns; /* its life [start, end) */
    bool running;              /* end is its latest observation, not a final record */
    int exit_status;
    size_t key, pair; /* its row key and (key, account) pair (report.c) */
};

/* What one instance contributed to one bucket. */
struct rp_part {
    int64_t gid;
    size_t bucket;
    uint64_t v[_RP_MAX];
    size_t inst, key, pair; /* resolved by report.c once every part is in */
};

/* What one (key, account) was billed before the report's range. */
struct rp_prefix {
    char *key, *account;
    uint64_t cpu_ns, mem_bs;
};

struct rp_ctx {
    struct acct_ledger *l;
    const struct acct_report_opts *o; /* from_ns resolved */
    bool from_first;                  /* from is the ledger's first observation */
    struct cg_err *e;
    uint64_t *edges; /* bucket i is [edges[i], edges[i + 1]) */
    size_t nb;
    struct rp_inst *inst; /* sorted by id */
    size_t n_inst, cap_inst;
    struct rp_part *parts;
    size_t n_parts, cap_parts;
    struct rp_prefix *prefix;
    size_t n_prefix;
};

/* report.c: small helpers. */
/* Makes room in *v (elements of size bytes, *cap of them) for an element at index n. */
int rp_grow(void **v, size_t *cap, size_t n, size_t size);
#define RP_GROW(v, cap, n) rp_grow((void **)&(v), &(cap), (n), sizeof(*(v)))
/* The first i in [0, n) for which below(ctx, i) is false; below must hold for a prefix. */
size_t rp_bisect(size_t n, bool (*below)(const void *ctx, size_t i), const void *ctx);

/* The store's queries (store.h; SQLite: report-sql.c). */
/* The ledger's first observation (an instance's start or a sample); 0 when it is empty. */
static inline int rp_first_ns(struct rp_ctx *c, uint64_t *ret)
{
    return c->l->ops->queries->first_ns(c, ret);
}
/* The instances whose life can meet [from, to), sorted by id. */
static inline int rp_load_instances(struct rp_ctx *c)
{
    return c->l->ops->queries->load_instances(c);
}
/* The index of instance gid, loaded from the ledger if it is not yet; -ENOENT if it is
 * not an instance of the ledger. */
static inline int rp_instance(struct rp_ctx *c, int64_t gid, size_t *ret)
{
    return c->l->ops->queries->instance(c, gid, ret);
}
/* Adds the usage parts (sample resolution) of every bucket. */
static inline int rp_usage(struct rp_ctx *c)
{
    return c->l->ops->queries->usage(c);
}
/* What every (key, account) was billed before from (opts.billing decides what). */
static inline int rp_load_prefix(struct rp_ctx *c)
{
    return c->l->ops->queries->load_prefix(c);
}
/* report.c: adds part p (copied). */
int rp_add_part(struct rp_ctx *c, const struct rp_part *p);

/* One freeze/thaw event, or a generation's first observation (rp_load_events). */
struct rp_event {
    int64_t gid;
    char *path;
    uint64_t t_ns;
    int what; /* RP_EV_FREEZE, RP_EV_THAW, RP_EV_SEEN */
};
enum { RP_EV_FREEZE, RP_EV_THAW, RP_EV_SEEN };
/* Every freeze and thaw event, and the first observation of every generation of each
 * path that has events; sorted by (path, gid, t). */
static inline int rp_load_events(struct rp_ctx *c, struct rp_event **ret, size_t *ret_n)
{
    return c->l->ops->queries->load_events(c, ret, ret_n);
}
/* report-sql.c */
void rp_events_free(struct rp_event *ev, size_t n);

/* report-life.c: the wall and frozen parts of every instance, from its life and ev. */
int rp_life(struct rp_ctx *c, const struct rp_event *ev, size_t n_ev);

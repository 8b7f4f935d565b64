/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Exact wall and frozen time of each instance, per bucket (report.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/report-private.h"

struct iv {
    uint64_t a, b; /* [a, b) */
};

/* The frozen intervals of one group generation. */
struct gen {
    int64_t gid;
    const char *path; /* in the events */
    struct iv *iv;
    size_t n;
};

static int iv_push(struct iv **v, size_t *n, size_t *cap, uint64_t a, uint64_t b)
{
    if (RP_GROW(*v, *cap, *n) < 0)
        return -ENOMEM;
    (*v)[(*n)++] = (struct iv){a, b};
    return 0;
}

/* When a generation other than gid of the path in ev[lo..hi) first appears after t. */
static uint64_t next_generation(const struct rp_event *ev, size_t lo, size_t hi, int64_t gid,
                                uint64_t t)
{
    uint64_t best = UINT64_MAX;

    for (size_t i = lo; i < hi; i++)
        if (ev[i].what == RP_EV_SEEN && ev[i].gid != gid && ev[i].t_ns > t && ev[i].t_ns < best)
            best = ev[i].t_ns;
    return best;
}

/* A freeze lasts until the next thaw of its generation, else until a later generation of
 * its path appears, else for ever (the instance's life cuts it). ev[lo..hi) is one path,
 * sorted by (gid, t); [glo, ghi) one generation of it. */
static int gen_intervals(const struct rp_event *ev, size_t lo, size_t hi, size_t glo, size_t ghi,
                         struct gen *g)
{
    size_t cap = 0;
    bool open = false;
    uint64_t since = 0;
    int r = 0;

    *g = (struct gen){.gid = ev[glo].gid, .path = ev[glo].path};
    for (size_t i = glo; i < ghi && r >= 0; i++) {
        if (ev[i].what == RP_EV_FREEZE && !open) {
            open = true;
            since = ev[i].t_ns;
        } else if (ev[i].what == RP_EV_THAW && open) {
            open = false;
            r = iv_push(&g->iv, &g->n, &cap, since, ev[i].t_ns);
        }
    }
    if (r >= 0 && open)
        r = iv_push(&g->iv, &g->n, &cap, since, next_generation(ev, lo, hi, g->gid, since));
    return r;
}

static void gens_free(struct gen *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(g[i].iv);
    free(g);
}

static int build_gens(const struct rp_event *ev, size_t n_ev, struct gen **ret, size_t *ret_n)
{
    struct gen *g = NULL;
    size_t n = 0;
    int r = 0;

    if (n_ev > 0 && !(g = calloc(n_ev, sizeof(*g))))
        return -ENOMEM;
    for (size_t lo = 0, hi; r >= 0 && lo < n_ev; lo = hi) {
        for (hi = lo; hi < n_ev && strcmp(ev[hi].path, ev[lo].path) == 0;)
            hi++;
        for (size_t glo = lo, ghi; r >= 0 && glo < hi; glo = ghi) {
            for (ghi = glo; ghi < hi && ev[ghi].gid == ev[glo].gid;)
                ghi++;
            r = gen_intervals(ev, lo, hi, glo, ghi, &g[n]);
            if (r >= 0 && g[n].n == 0)
                free(g[n].iv);
            else if (r >= 0)
                n++;
        }
    }
    if (r < 0) {
        gens_free(g, n);
        return r;
    }
    *ret = g;
    *ret_n = n;
    return 0;
}

/* Appends the intervals of the generations of path (of generation gid only, if >= 0). */
static int collect(const struct gen *g, size_t n, const char *path, size_t len, int64_t gid,
                   struct iv **v, size_t *nv, size_t *cap)
{
    int r = 0;

    for (size_t i = 0; i < n && r >= 0; i++) {
        if (strlen(g[i].path) != len || strncmp(g[i].path, path, len) != 0)
            continue;
        if (gid >= 0 && g[i].gid != gid)
            continue;
        for (size_t k = 0; k < g[i].n && r >= 0; k++)
            r = iv_push(v, nv, cap, g[i].iv[k].a, g[i].iv[k].b);
    }
    return r;
}

static int cmp_iv(const void *a, const void *b)
{
    const struct iv *x = a, *y = b;
    return x->a < y->a ? -1 : x->a > y->a;
}

/* Sorts, merges and clips to [lo, hi): the union, as disjoint sorted intervals. */
static size_t merge(struct iv *v, size_t n, uint64_t lo, uint64_t hi)
{
    size_t k = 0;

    if (n > 0)
        qsort(v, n, sizeof(*v), cmp_iv);
    for (size_t i = 0; i < n; i++) {
        uint64_t a = v[i].a > lo ? v[i].a : lo, b = v[i].b < hi ? v[i].b : hi;
        if (a >= b)
            continue;
        if (k > 0 && a <= v[k - 1].b) {
            if (b > v[k - 1].b)
                v[k - 1].b = b;
        } else {
            v[k++] = (struct iv){a, b};
        }
    }
    return k;
}

static uint64_t overlap(const struct iv *v, size_t n, uint64_t lo, uint64_t hi)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t a = v[i].a > lo ? v[i].a : lo, b = v[i].b < hi ? v[i].b : hi;
        if (a < b)
            sum += b - a;
    }
    return sum;
}

/* The frozen intervals of instance x, within its life: its own, its workload's and its
 * class's (a freeze of an ancestor freezes it). */
static int frozen_of(const struct rp_inst *x, const struct gen *g, size_t n, struct iv **ret,
                     size_t *ret_n)
{
    const char *slash1 = strchr(x->path, '/'), *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
    struct iv *v = NULL;
    size_t nv = 0, cap = 0;
    int r;

    r = collect(g, n, x->path, strlen(x->path), x->id, &v, &nv, &cap);
    if (r >= 0 && slash2)
        r = collect(g, n, x->path, (size_t)(slash2 - x->path), -1, &v, &nv, &cap);
    if (r >= 0 && slash1)
        r = collect(g, n, x->path, (size_t)(slash1 - x->path), -1, &v, &nv, &cap);
    if (r < 0) {
        free(v);
        return r;
    }
    *ret = v;
    *ret_n = merge(v, nv, x->start_ns, x->end_ns);
    return 0;
}

struct bucket_below {
    const struct rp_ctx *c;
    uint64_t t;
};

static bool bucket_below(const void *ctx, size_t i)
{
    const struct bucket_below *x = ctx;
    return x->c->edges[i + 1] <= x->t;
}

/* The first bucket that ends after t. */
static size_t bucket_at(const struct rp_ctx *c, uint64_t t)
{
    const struct bucket_below x = {c, t};
    return rp_bisect(c->nb, bucket_below, &x);
}

int rp_life(struct rp_ctx *c, const struct rp_event *ev, size_t n_ev)
{
    struct gen *g = NULL;
    size_t ng = 0, n_inst = c->n_inst;
    int r;

    r = build_gens(ev, n_ev, &g, &ng);
    for (size_t i = 0; r >= 0 && i < n_inst; i++) {
        const struct rp_inst *x = &c->inst[i];
        _cleanup_free_ struct iv *fz = NULL;
        size_t nf = 0;

        if (x->end_ns <= c->edges[0] || x->start_ns >= c->edges[c->nb])
            continue;
        r = frozen_of(x, g, ng, &fz, &nf);
        for (size_t b = bucket_at(c, x->start_ns); r >= 0 && b < c->nb; b++) {
            uint64_t lo = c->edges[b] > x->start_ns ? c->edges[b] : x->start_ns;
            uint64_t hi = c->edges[b + 1] < x->end_ns ? c->edges[b + 1] : x->end_ns;
            struct rp_part p = {.gid = x->id, .bucket = b};

            if (lo >= hi)
                break;
            p.v[RP_WALL] = hi - lo;
            p.v[RP_FROZEN] = overlap(fz, nf, lo, hi);
            r = rp_add_part(c, &p);
        }
    }
    gens_free(g, ng);
    return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A report's rows and their cost, from the parts report-sql.c and report-life.c read. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/money.h"
#include "accounting/report-private.h"

static const char *const by_names[_ACCT_BY_MAX] = {"account", "workload", "instance"};
static const char *const bill_names[_ACCT_BILL_MAX] = {"usage", "reservation", "none"};
static const char *const fmt_names[_ACCT_FMT_MAX] = {"table", "csv", "json"};

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return -EINVAL;
}

const char *acct_by_to_string(enum acct_by b)
{
    return b >= 0 && b < _ACCT_BY_MAX ? by_names[b] : NULL;
}
enum acct_by acct_by_from_string(const char *s)
{
    return (enum acct_by)lookup(by_names, _ACCT_BY_MAX, s);
}
const char *acct_billing_to_string(enum acct_billing b)
{
    return b >= 0 && b < _ACCT_BILL_MAX ? bill_names[b] : NULL;
}
enum acct_billing acct_billing_from_string(const char *s)
{
    return (enum acct_billing)lookup(bill_names, _ACCT_BILL_MAX, s);
}
const char *acct_format_to_string(enum acct_format f)
{
    return f >= 0 && f < _ACCT_FMT_MAX ? fmt_names[f] : NULL;
}
enum acct_format acct_format_from_string(const char *s)
{
    return (enum acct_format)lookup(fmt_names, _ACCT_FMT_MAX, s);
}

static void row_free(struct acct_report_row *row)
{
    free(row->key);
    free(row->policy);
    for (size_t i = 0; i < row->n_bills; i++)
        free(row->bills[i].account);
    free(row->bills);
}

void acct_report_free(struct acct_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        row_free(&r->rows[i]);
    free(r->rows);
    for (size_t i = 0; i < r->n_multipliers; i++)
        free(r->multipliers[i].account);
    free(r->multipliers);
    free(r->zone);
    free(r);
}

int rp_grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t c = *cap ? *cap : 16;
    void *nv;

    if (n < *cap)
        return 0;
    while (c <= n)
        c *= 2;
    nv = realloc(*v, c * size);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = c;
    return 0;
}

size_t rp_bisect(size_t n, bool (*below)(const void *ctx, size_t i), const void *ctx)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (below(ctx, mid))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- keys and (key, account) pairs ---- */

/* One (key, account): what it was billed so far, for cumulative rounding (money.h). */
struct pair {
    size_t key;
    const char *account;
    uint64_t ppm;
    uint64_t cpu_ns, mem_bs; /* billed before the row being made */
};

struct build {
    struct rp_ctx *c;
    struct acct_report *rep;
    const struct acct_rates *rates;
    char **keys; /* sorted, distinct */
    size_t n_keys;
    struct pair *pairs; /* sorted by (key, account) */
    size_t n_pairs;
    struct acct_cost *key_cost; /* C(t) of each key before the row being made */
    bool *seen;                 /* instances counted in the total */
};

static char *key_of(const struct rp_inst *x, enum acct_by by)
{
    char *k = NULL;

    if (by == ACCT_BY_INSTANCE)
        return asprintf(&k, "%s/%s", x->workload, x->name) < 0 ? NULL : k;
    return strdup(by == ACCT_BY_ACCOUNT ? x->account : x->workload);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The index of key s, or n_keys. */
static size_t key_index(const struct build *b, const char *s)
{
    char *const *k = bsearch(&s, b->keys, b->n_keys, sizeof(*b->keys), cmp_str);
    return k ? (size_t)(k - b->keys) : b->n_keys;
}

static int make_keys(struct build *b)
{
    struct rp_ctx *c = b->c;
    size_t n = 0;

    b->keys = calloc(c->n_inst + 1, sizeof(*b->keys));
    if (!b->keys)
        return -ENOMEM;
    for (size_t i = 0; i < c->n_inst; i++)
        if (!(b->keys[i] = key_of(&c->inst[i], c->o->by)))
            return -ENOMEM;
    b->n_keys = c->n_inst;
    if (b->n_keys > 0)
        qsort(b->keys, b->n_keys, sizeof(*b->keys), cmp_str);
    for (size_t i = 0; i < b->n_keys; i++) {
        if (n > 0 && strcmp(b->keys[n - 1], b->keys[i]) == 0)
            free(b->keys[i]);
        else
            b->keys[n++] = b->keys[i];
    }
    b->n_keys = n;
    for (size_t i = 0; i < c->n_inst; i++) {
        _cleanup_free_ char *k = key_of(&c->inst[i], c->o->by);
        if (!k)
            return -ENOMEM;
        c->inst[i].key = key_index(b, k);
    }
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;

    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return strcmp(x->account, y->account);
}

static size_t pair_index(const struct build *b, size_t key, const char *account)
{
    struct pair k = {.key = key, .account = account};
    struct pair *p = bsearch(&k, b->pairs, b->n_pairs, sizeof(k), cmp_pair);
    return p ? (size_t)(p - b->pairs) : b->n_pairs;
}

/* Every (key, account) of the instances and of what the keys were billed before. */
static int make_pairs(struct build *b)
{
    struct rp_ctx *c = b->c;
    size_t n = 0;

    b->pairs = calloc(c->n_inst + c->n_prefix + 1, sizeof(*b->pairs));
    if (!b->pairs)
        return -ENOMEM;
    for (size_t i = 0; i < c->n_inst; i++)
        b->pairs[n++] = (struct pair){.key = c->inst[i].key, .account = c->inst[i].account};
    for (size_t i = 0; i < c->n_prefix; i++) {
        size_t k = key_index(b, c->prefix[i].key);
        if (k < b->n_keys)
            b->pairs[n++] =
                (struct pair){k, c->prefix[i].account, 0, c->prefix[i].cpu_ns, c->prefix[i].mem_bs};
    }
    if (n > 0)
        qsort(b->pairs, n, sizeof(*b->pairs), cmp_pair);
    b->n_pairs = 0;
    for (size_t i = 0; i < n; i++) {
        struct pair *last = b->n_pairs ? &b->pairs[b->n_pairs - 1] : NULL;
        if (last && cmp_pair(last, &b->pairs[i]) == 0) {
            last->cpu_ns += b->pairs[i].cpu_ns;
            last->mem_bs += b->pairs[i].mem_bs;
        } else {
            b->pairs[b->n_pairs++] = b->pairs[i];
        }
    }
    b->key_cost = calloc(b->n_keys + 1, sizeof(*b->key_cost));
    if (!b->key_cost)
        return -ENOMEM;
    for (size_t i = 0; i < b->n_pairs; i++) {
        struct pair *p = &b->pairs[i];
        p->ppm = acct_rates_multiplier(b->rates, p->account);
        acct_cost_add(&b->key_cost[p->key], p->cpu_ns, p->mem_bs, b->rep->cpu_core_hour_micro,
                      b->rep->mem_gib_hour_micro, p->ppm);
    }
    for (size_t i = 0; i < c->n_inst; i++)
        c->inst[i].pair = pair_index(b, c->inst[i].key, c->inst[i].account);
    return 0;
}

static void build_done(struct build *b)
{
    for (size_t i = 0; i < b->n_keys; i++)
        free(b->keys[i]);
    free(b->keys);
    free(b->pairs);
    free(b->key_cost);
    free(b->seen);
}

/* ---- rows ---- */

/* Every part gets its instance, key and pair; instances not yet loaded are loaded first. */
static int resolve(struct build *b)
{
    struct rp_ctx *c = b->c;
    size_t k;
    int r;

    for (size_t i = 0; i < c->n_parts; i++) {
        r = rp_instance(c, c->parts[i].gid, &k);
        if (r < 0)
            return r;
    }
    return 0;
}

static void assign(struct build *b)
{
    struct rp_ctx *c = b->c;

    for (size_t i = 0; i < c->n_parts; i++) {
        struct rp_part *p = &c->parts[i];
        (void)rp_instance(c, p->gid, &p->inst); /* all loaded: a lookup */
        p->key = c->inst[p->inst].key;
        p->pair = c->inst[p->inst].pair;
    }
}

static int cmp_part(const void *a, const void *b)
{
    const struct rp_part *x = a, *y = b;

    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->pair != y->pair)
        return x->pair < y->pair ? -1 : 1;
    return x->inst < y->inst ? -1 : x->inst > y->inst;
}

static void billed(const struct build *b, const uint64_t *v, uint64_t *cpu, uint64_t *mem)
{
    bool res = b->c->o->billing == ACCT_BILL_RESERVATION;

    *cpu = res ? v[RP_CPU_RES] : v[RP_CPU_USER] + v[RP_CPU_SYS];
    *mem = res ? v[RP_MEM_RES] : v[RP_MEM];
}

static void add_values(struct acct_report_row *row, const uint64_t *v)
{
    row->cpu_user_ns += v[RP_CPU_USER];
    row->cpu_system_ns += v[RP_CPU_SYS];
    row->mem_bs += v[RP_MEM];
    row->oom_kills += v[RP_OOM];
    row->throttled_ns += v[RP_THROTTLED];
    row->wall_ns += v[RP_WALL];
    row->frozen_ns += v[RP_FROZEN];
    if (v[RP_PEAK] > row->mem_peak)
        row->mem_peak = v[RP_PEAK];
}

static void add_row(struct acct_report_row *to, const struct acct_report_row *u)
{
    const uint64_t v[_RP_MAX] = {
        [RP_CPU_USER] = u->cpu_user_ns, [RP_CPU_SYS] = u->cpu_system_ns,  [RP_MEM] = u->mem_bs,
        [RP_OOM] = u->oom_kills,        [RP_THROTTLED] = u->throttled_ns, [RP_WALL] = u->wall_ns,
        [RP_FROZEN] = u->frozen_ns,     [RP_PEAK] = u->mem_peak};

    add_values(to, v);
    to->cpu_billed_ns += u->cpu_billed_ns;
    to->mem_billed_bs += u->mem_billed_bs;
}

/* The instance columns of a row: its latest generation's. */
static int row_instance(struct acct_report_row *row, const struct rp_inst *x, bool first)
{
    if (!first && x->start_ns < row->start_ns)
        return 0;
    free(row->policy);
    row->policy = NULL;
    if (x->policy && !(row->policy = strdup(x->policy)))
        return -ENOMEM;
    row->start_ns = x->start_ns;
    row->end_ns = x->end_ns;
    row->running = x->running;
    row->exit_status = x->exit_status;
    return 0;
}

struct pair_below {
    const struct build *b;
    size_t key;
};

static bool pair_below(const void *ctx, size_t i)
{
    const struct pair_below *x = ctx;
    return x->b->pairs[i].key < x->key;
}

/* The first pair of key (pairs are sorted by key). */
static size_t first_pair(const struct build *b, size_t key)
{
    const struct pair_below x = {b, key};
    return rp_bisect(b->n_pairs, pair_below, &x);
}

/* The bills of one row: every pair of its key, with what it was billed before the row and
 * in it (cpu[], mem[] from the key's first pair on); then the pairs' and the key's running
 * sums move past the row. */
static int row_cost(struct build *b, struct acct_report_row *row, size_t key, const uint64_t *cpu,
                    const uint64_t *mem)
{
    size_t lo = first_pair(b, key), hi;
    struct acct_cost after = b->key_cost[key];
    int r;

    for (hi = lo; hi < b->n_pairs && b->pairs[hi].key == key;)
        hi++;
    row->bills = calloc(hi - lo + 1, sizeof(*row->bills));
    if (!row->bills)
        return -ENOMEM;
    for (size_t i = lo; i < hi; i++) {
        struct pair *p = &b->pairs[i];
        struct acct_report_bill *bl = &row->bills[row->n_bills++];
        *bl = (struct acct_report_bill){strdup(p->account), p->ppm,    cpu[i - lo],
                                        mem[i - lo],        p->cpu_ns, p->mem_bs};
        if (!bl->account)
            return -ENOMEM;
        acct_cost_add(&after, cpu[i - lo], mem[i - lo], b->rep->cpu_core_hour_micro,
                      b->rep->mem_gib_hour_micro, p->ppm);
        p->cpu_ns += cpu[i - lo];
        p->mem_bs += mem[i - lo];
    }
    r = acct_cost_window(&b->key_cost[key], &after, &row->cost_micro);
    b->key_cost[key] = after;
    return r;
}

/* One row from parts [lo, hi) of one (bucket, key). */
static int make_row(struct build *b, const struct rp_part *parts, size_t lo, size_t hi,
                    struct acct_report_row *row)
{
    struct rp_ctx *c = b->c;
    const size_t key = parts[lo].key, p0 = first_pair(b, key);
    _cleanup_free_ uint64_t *cpu = calloc(b->n_pairs - p0 + 1, sizeof(*cpu));
    _cleanup_free_ uint64_t *mem = calloc(b->n_pairs - p0 + 1, sizeof(*mem));
    int r;

    if (!cpu || !mem || !(row->key = strdup(b->keys[key])))
        return -ENOMEM;
    row->from_ns = c->edges[parts[lo].bucket];
    row->to_ns = c->edges[parts[lo].bucket + 1];
    row->exit_status = ACCT_EXIT_UNKNOWN;
    for (size_t i = lo; i < hi; i++) {
        const struct rp_part *p = &parts[i];
        uint64_t pc, pm;
        add_values(row, p->v);
        billed(b, p->v, &pc, &pm);
        row->cpu_billed_ns += pc;
        row->mem_billed_bs += pm;
        cpu[p->pair - p0] += pc;
        mem[p->pair - p0] += pm;
        if (i > lo && p->inst == parts[i - 1].inst)
            continue;
        b->seen[p->inst] = true;
        if (c->o->by == ACCT_BY_INSTANCE) {
            r = row_instance(row, &c->inst[p->inst], row->instances == 0);
            if (r < 0)
                return r;
        }
        row->instances++;
    }
    if (c->o->billing == ACCT_BILL_NONE)
        return 0;
    return row_cost(b, row, key, cpu, mem);
}

static int make_rows(struct build *b)
{
    struct rp_ctx *c = b->c;
    struct acct_report *rep = b->rep;
    int r;

    if (c->n_parts > 0)
        qsort(c->parts, c->n_parts, sizeof(*c->parts), cmp_part);
    rep->rows = calloc(c->n_parts + 1, sizeof(*rep->rows));
    b->seen = calloc(c->n_inst + 1, sizeof(*b->seen));
    if (!rep->rows || !b->seen)
        return -ENOMEM;
    for (size_t lo = 0, hi; lo < c->n_parts; lo = hi) {
        struct acct_report_row *row = &rep->rows[rep->n++];
        for (hi = lo; hi < c->n_parts && c->parts[hi].bucket == c->parts[lo].bucket &&
                      c->parts[hi].key == c->parts[lo].key;)
            hi++;
        r = make_row(b, c->parts, lo, hi, row);
        if (r < 0)
            return r == -ERANGE ? cg_err_set(c->e, r, NULL, NULL, "cost of '%s' is out of range",
                                             row->key ? row->key : "?")
                                : r;
        add_row(&rep->total, row);
        if (__builtin_add_overflow(rep->total.cost_micro, row->cost_micro, &rep->total.cost_micro))
            return cg_err_set(c->e, -ERANGE, NULL, NULL, "total cost is out of range");
    }
    for (size_t i = 0; i < c->n_inst; i++)
        rep->total.instances += b->seen[i];
    return 0;
}

/* ---- the report ---- */

static int copy_rates(struct acct_report *rep, const struct acct_rates *rates)
{
    if (!rates || rep->opts.billing == ACCT_BILL_NONE)
        return 0;
    snprintf(rep->currency, sizeof(rep->currency), "%s", rates->currency);
    rep->cpu_core_hour_micro = rates->cpu_core_hour_micro;
    rep->mem_gib_hour_micro = rates->mem_gib_hour_micro;
    rep->multipliers = calloc(rates->n_multipliers + 1, sizeof(*rep->multipliers));
    if (!rep->multipliers)
        return -ENOMEM;
    for (size_t i = 0; i < rates->n_multipliers; i++) {
        struct acct_report_multiplier *m = &rep->multipliers[rep->n_multipliers++];
        m->ppm = rates->multipliers[i].ppm;
        if (!(m->account = strdup(rates->multipliers[i].account)))
            return -ENOMEM;
    }
    return 0;
}

/* Everything the rows are made of: instances, usage, lives, what was billed before. */
static int gather(struct rp_ctx *c)
{
    struct rp_event *ev = NULL;
    size_t n_ev = 0;
    int r;

    r = acct_buckets(c->o->from_ns, c->o->to_ns, c->o->per, c->o->local, &c->edges, &c->nb);
    if (r < 0)
        return r;
    r = rp_load_instances(c);
    if (r >= 0)
        r = rp_usage(c);
    if (r >= 0)
        r = rp_load_events(c, &ev, &n_ev);
    if (r >= 0)
        r = rp_life(c, ev, n_ev);
    rp_events_free(ev, n_ev);
    /* from the ledger's first observation, nothing was billed before */
    if (r >= 0 && c->o->billing != ACCT_BILL_NONE && !c->from_first)
        r = rp_load_prefix(c);
    return r;
}

static void ctx_done(struct rp_ctx *c)
{
    for (size_t i = 0; i < c->n_inst; i++) {
        free(c->inst[i].path);
        free(c->inst[i].workload);
        free(c->inst[i].name);
        free(c->inst[i].account);
        free(c->inst[i].policy);
    }
    free(c->inst);
    free(c->parts);
    for (size_t i = 0; i < c->n_prefix; i++) {
        free(c->prefix[i].key);
        free(c->prefix[i].account);
    }
    free(c->prefix);
    free(c->edges);
}

static int build(struct rp_ctx *c, struct acct_report *rep, const struct acct_rates *rates)
{
    struct build b = {.c = c, .rep = rep, .rates = rates};
    int r;

    r = gather(c);
    if (r >= 0)
        r = resolve(&b);
    if (r >= 0)
        r = make_keys(&b);
    if (r >= 0)
        r = make_pairs(&b);
    if (r >= 0) {
        assign(&b);
        r = make_rows(&b);
    }
    build_done(&b);
    return r;
}

int acct_report_build(struct acct_ledger *l, const struct acct_report_opts *o,
                      struct acct_report **ret, struct cg_err *e)
{
    _cleanup_(acct_report_freep) struct acct_report *rep = NULL;
    struct rp_ctx c = {.l = l, .e = e};
    int r;

    if (o->by < 0 || o->by >= _ACCT_BY_MAX || o->billing < 0 || o->billing >= _ACCT_BILL_MAX ||
        o->per < 0 || o->per >= _ACCT_PER_MAX)
        return cg_err_set(e, -EINVAL, NULL, NULL, "invalid report options");
    if ((o->from_ns && o->from_ns > o->to_ns) || o->to_ns > (uint64_t)INT64_MAX)
        return cg_err_set(e, -EINVAL, NULL, NULL, "empty or invalid time range");
    rep = calloc(1, sizeof(*rep));
    if (!rep || !(rep->zone = acct_zone_name(o->local)))
        return -ENOMEM;
    rep->opts = *o;
    rep->opts.rates = NULL;
    rep->total.exit_status = ACCT_EXIT_UNKNOWN;
    r = copy_rates(rep, o->rates);
    if (r < 0)
        return r;
    c.o = &rep->opts;
    c.from_first = o->from_ns == 0;
    if (rep->opts.from_ns == 0) {
        r = rp_first_ns(&c, &rep->opts.from_ns);
        if (r < 0)
            return r;
        if (rep->opts.from_ns == 0 || rep->opts.from_ns > rep->opts.to_ns)
            rep->opts.from_ns = rep->opts.to_ns; /* nothing in the ledger before to */
    }
    rep->total.from_ns = rep->opts.from_ns;
    rep->total.to_ns = rep->opts.to_ns;
    if (rep->opts.from_ns < rep->opts.to_ns) {
        r = build(&c, rep, o->rates);
        ctx_done(&c);
        if (r < 0)
            return r;
    }
    *ret = TAKE_PTR(rep);
    return 0;
}

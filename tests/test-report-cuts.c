/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The union identity of reports (report.h), as a property: a ledger built through the
 * accounting API (overlapping instances sampled at irregular times, final records and
 * running instances, a re-created instance, freezes and thaws of instances, workloads and
 * classes, a workload frozen until a new generation of it appears), then 1,000 random
 * cuts: the reports of [a, b) and [b, c) add up to the report of [a, c) exactly in every
 * additive column and the cost, the peak is the larger one, and each instance's wall and
 * frozen time equal what the generator knows of its life and freezes (so never exceed the
 * overlap of its life with the window). Needs no cgroups.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/ledger.h"
#include "accounting/report.h"

#define NS  1000000000ull
#define MIN (60 * NS)
#define HR  (3600 * NS)
#define MIB (1ull << 20)

static char dir[64], path[128];
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(uint64_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return n ? rng % n : 0;
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/corral-cuts-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ledger.db", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)system(cmd);
}

TestSuite(cuts, .init = setup, .fini = teardown, .timeout = 600);

/* What the generator knows: each instance generation's life and each group's freezes. */
struct freeze {
    char path[64];
    uint64_t gen;  /* an instance's freeze is its generation's */
    uint64_t a, b; /* [a, b) */
};

struct inst {
    char path[64];
    uint64_t gen, start, end; /* life [start, end) */
};

static struct inst insts[32];
static size_t n_insts;
static struct freeze frz[32];
static size_t n_frz;

#define T0 (1790000000ull * NS + 777) /* 800 s past an hour, and some ns */

static struct acct_group grp(const char *p, uint64_t gen, uint64_t start)
{
    struct acct_group g;
    const char *w = strchr(p, '/');

    cr_assert_eq(acct_group_from_path(p, &g), 0, "%s", p);
    g.generation = gen;
    g.start_ns = start;
    snprintf(g.account, sizeof(g.account), "%s", w && w[2] == '2' ? "team-b" : "team-a");
    g.cpu_limit_ucores = w && w[2] == '2' ? 500000 : CTL_MAX;
    g.mem_limit = w && w[2] == '2' ? 64 * MIB : CTL_MAX;
    return g;
}

static void event(struct acct_ledger *l, const char *p, uint64_t gen, bool freeze, uint64_t t)
{
    struct acct_group g = grp(p, gen, t);
    struct cg_err e = {0};

    cr_assert_eq(acct_record_event(l, &g, freeze ? ACCT_EVENT_FREEZE : ACCT_EVENT_THAW, t, &e), 0,
                 "%s", e.detail);
}

static void freeze_for(struct acct_ledger *l, const char *p, uint64_t gen, uint64_t a, uint64_t b,
                       bool thaw)
{
    event(l, p, gen, true, a);
    if (thaw)
        event(l, p, gen, false, b);
    frz[n_frz] = (struct freeze){.gen = gen, .a = a, .b = b};
    snprintf(frz[n_frz++].path, sizeof(frz[0].path), "%s", p);
}

/* An instance sampled every 3..50 s over its life; final record or still running. Its
 * first row is a freeze event when frozen_first. Returns its life's end. */
static void instance(struct acct_ledger *l, const char *p, uint64_t gen, uint64_t start,
                     uint64_t len, bool final, bool frozen_first)
{
    struct acct_sample s = {.group = grp(p, gen, start)};
    struct cg_err e = {0};
    uint64_t t = start, user = 0, last = start;
    struct inst *x = &insts[n_insts++];

    if (frozen_first)
        freeze_for(l, p, gen, start, start + 20 * NS + rnd(NS), true);
    ctl_usage_init(&s.usage);
    for (;;) {
        t += 3 * NS + rnd(47 * NS);
        if (t >= start + len)
            break;
        user += rnd(2 * NS);
        s.t_ns = t;
        s.usage.cpu_user_ns = user;
        s.usage.cpu_system_ns = user / 7;
        s.usage.mem_current = (1 + rnd(90)) * MIB;
        s.usage.mem_peak = 100 * MIB + rnd(50) * MIB;
        s.usage.mem_oom_kills = user / (50 * NS);
        s.usage.cpu_throttled_ns = user / 3;
        cr_assert_eq(acct_ledger_write(l, &s, 1, NULL, &e), 0, "%s", e.detail);
        last = t;
    }
    if (final) {
        last = start + len;
        s.usage.cpu_user_ns = user + rnd(NS);
        cr_assert_eq(acct_record_final(l, &s.group, &s.usage, start, last, &e), 0, "%s", e.detail);
    }
    *x = (struct inst){.gen = gen, .start = start, .end = last};
    snprintf(x->path, sizeof(x->path), "%s", p);
}

/* The ledger: three workloads in two classes, four instances each plus a re-created one. */
static void fill(void)
{
    struct acct_ledger *l = NULL;
    struct cg_err e = {0};
    static const char *const wl[] = {"high/w1", "high/w2", "batch/w3"};
    char p[64];

    cr_assert_eq(acct_ledger_open(path, 0, &l, &e), 0, "%s", e.detail);
    for (int w = 0; w < 3; w++)
        for (int i = 0; i < 4; i++) {
            uint64_t start = T0 + rnd(4 * HR), len = MIN + rnd(2 * HR);
            snprintf(p, sizeof(p), "%s/run-%d", wl[w], i);
            instance(l, p, 100 + 10 * (uint64_t)w + (uint64_t)i, start, len, i % 3 != 2, i == 1);
            if (i == 3) /* frozen for a while in the middle of its life */
                freeze_for(l, p, 100 + 10 * (uint64_t)w + (uint64_t)i, start + len / 3,
                           start + len / 2, true);
        }
    /* high/w1/run-0 again: a new generation of the same path */
    instance(l, "high/w1/run-0", 900, T0 + 5 * HR, 30 * MIN, false, false);
    freeze_for(l, "high/w1", 1, T0 + HR, T0 + HR + 20 * MIN + 5, true);
    /* overlapping w1's freeze: counted once */
    freeze_for(l, "high", 5, T0 + HR + 10 * MIN, T0 + HR + 40 * MIN + 3, true);
    freeze_for(l, "batch", 2, T0 + 3 * HR + 30 * MIN, T0 + 3 * HR + 45 * MIN, true);
    /* w3 frozen, never thawed: until its next generation appears */
    freeze_for(l, "batch/w3", 3, T0 + 2 * HR, T0 + 3 * HR + 7, false);
    {
        struct acct_sample s = {.group = grp("batch/w3", 4, 0), .t_ns = T0 + 3 * HR + 7};
        ctl_usage_init(&s.usage);
        cr_assert_eq(acct_ledger_write(l, &s, 1, NULL, &e), 0, "%s", e.detail);
    }
    acct_ledger_close(l);
}

static uint64_t overlap(uint64_t a, uint64_t b, uint64_t lo, uint64_t hi)
{
    a = a > lo ? a : lo;
    b = b < hi ? b : hi;
    return a < b ? b - a : 0;
}

/* Whether freeze f applies to instance x: its own (same generation), or its workload's or
 * class's (any generation: the generator ends those itself). */
static bool applies(const struct freeze *f, const struct inst *x)
{
    size_t len = strlen(f->path);

    if (strcmp(f->path, x->path) == 0)
        return f->gen == x->gen;
    return strncmp(x->path, f->path, len) == 0 && x->path[len] == '/';
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Frozen time of instance x in [lo, hi), from what the generator did: cut its life in the
 * window at every edge of the freezes that apply, and add the pieces a freeze covers. */
static uint64_t frozen_model(const struct inst *x, uint64_t lo, uint64_t hi)
{
    uint64_t pts[2 * 32 + 2], sum = 0;
    size_t n = 0;

    lo = lo > x->start ? lo : x->start;
    hi = hi < x->end ? hi : x->end;
    if (lo >= hi)
        return 0;
    pts[n++] = lo;
    pts[n++] = hi;
    for (size_t i = 0; i < n_frz; i++)
        if (applies(&frz[i], x)) {
            if (frz[i].a > lo && frz[i].a < hi)
                pts[n++] = frz[i].a;
            if (frz[i].b > lo && frz[i].b < hi)
                pts[n++] = frz[i].b;
        }
    qsort(pts, n, sizeof(*pts), cmp_u64);
    for (size_t i = 0; i + 1 < n; i++)
        for (size_t k = 0; k < n_frz; k++)
            if (applies(&frz[k], x) && frz[k].a <= pts[i] && frz[k].b >= pts[i + 1]) {
                sum += pts[i + 1] - pts[i];
                break;
            }
    return sum;
}

static struct acct_report *report(struct acct_ledger *l, uint64_t from, uint64_t to,
                                  enum acct_by by, enum acct_billing bill, enum acct_per per)
{
    static struct {
        char account[65];
        uint64_t ppm;
    } mult[] = {{"team-a", 1250000}, {"team-b", 333333}};
    static struct acct_rates rates = {
        .currency = "EUR", .cpu_core_hour_micro = 40001, .mem_gib_hour_micro = 5003};
    struct acct_report_opts o = {
        .from_ns = from, .to_ns = to, .by = by, .billing = bill, .per = per, .rates = &rates};
    struct acct_report *r = NULL;
    struct cg_err e = {0};

    rates.multipliers = (void *)mult;
    rates.n_multipliers = 2;
    cr_assert_eq(acct_report_build(l, &o, &r, &e), 0, "%s", e.detail);
    return r;
}

static const struct acct_report_row *find(const struct acct_report *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].key, key) == 0)
            return &r->rows[i];
    return NULL;
}

#define ADDITIVE(X)                                                                                \
    X(cpu_user_ns)                                                                                 \
    X(cpu_system_ns)                                                                               \
    X(cpu_billed_ns)                                                                               \
    X(mem_bs) X(mem_billed_bs) X(oom_kills) X(throttled_ns) X(wall_ns) X(frozen_ns) X(cost_micro)

/* u = x + y for every additive column; the peak the larger; instances between. */
static void expect_sum(const struct acct_report_row *u, const struct acct_report_row *x,
                       const struct acct_report_row *y, const char *what)
{
    static const struct acct_report_row zero;

    x = x ? x : &zero;
    y = y ? y : &zero;
#define CHECK(f)                                                                                   \
    cr_expect_eq(u->f, x->f + y->f, "%s: " #f " %llu != %llu + %llu", what,                        \
                 (unsigned long long)u->f, (unsigned long long)x->f, (unsigned long long)y->f);
    ADDITIVE(CHECK)
#undef CHECK
    cr_expect_eq(u->mem_peak, x->mem_peak > y->mem_peak ? x->mem_peak : y->mem_peak, "%s peak",
                 what);
    cr_expect(u->instances <= x->instances + y->instances &&
                  u->instances >= (x->instances > y->instances ? x->instances : y->instances),
              "%s instances %llu vs %llu, %llu", what, (unsigned long long)u->instances,
              (unsigned long long)x->instances, (unsigned long long)y->instances);
}

/* Wall and frozen of every instance row equal the generator's, in window [lo, hi). */
static void expect_lives(const struct acct_report *r, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < n_insts; i++) {
        const struct inst *x = &insts[i];
        const char *key = strchr(x->path, '/') + 1;
        const struct acct_report_row *row = find(r, key);
        uint64_t wall = 0, fz = 0;

        if (i > 0 && strcmp(insts[i - 1].path, x->path) == 0)
            continue; /* counted with the key's first generation */
        for (size_t k = 0; k < n_insts; k++)
            if (strcmp(insts[k].path, x->path) == 0) {
                wall += overlap(insts[k].start, insts[k].end, lo, hi);
                fz += frozen_model(&insts[k], lo, hi);
            }
        cr_expect_eq(row ? row->wall_ns : 0, wall, "%s wall in [%llu, %llu)", key,
                     (unsigned long long)lo, (unsigned long long)hi);
        cr_expect_eq(row ? row->frozen_ns : 0, fz, "%s frozen in [%llu, %llu)", key,
                     (unsigned long long)lo, (unsigned long long)hi);
        if (row)
            cr_expect_leq(row->frozen_ns, row->wall_ns, "%s", key);
    }
}

static void expect_union(struct acct_ledger *l, uint64_t a, uint64_t b, uint64_t c, enum acct_by by,
                         enum acct_billing bill)
{
    struct acct_report *u = report(l, a, c, by, bill, ACCT_PER_NONE);
    struct acct_report *x = report(l, a, b, by, bill, ACCT_PER_NONE);
    struct acct_report *y = report(l, b, c, by, bill, ACCT_PER_NONE);
    char what[160];

    for (size_t i = 0; i < u->n; i++) {
        snprintf(what, sizeof(what), "%s [%llu, %llu, %llu) by %s, %s", u->rows[i].key,
                 (unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
                 acct_by_to_string(by), acct_billing_to_string(bill));
        expect_sum(&u->rows[i], find(x, u->rows[i].key), find(y, u->rows[i].key), what);
    }
    for (size_t i = 0; i < x->n; i++)
        cr_expect_not_null(find(u, x->rows[i].key), "%s only in a part", x->rows[i].key);
    for (size_t i = 0; i < y->n; i++)
        cr_expect_not_null(find(u, y->rows[i].key), "%s only in a part", y->rows[i].key);
    expect_sum(&u->total, &x->total, &y->total, "total");
    if (by == ACCT_BY_INSTANCE) {
        expect_lives(x, a, b);
        expect_lives(y, b, c);
    }
    acct_report_free(u);
    acct_report_free(x);
    acct_report_free(y);
}

Test(cuts, union_identity_on_1000_random_cuts)
{
    struct acct_ledger *l = NULL;
    struct cg_err e = {0};
    const uint64_t a0 = T0 - 10 * MIN, c0 = T0 + 7 * HR;

    fill();
    cr_assert_eq(acct_ledger_open(path, ACCT_LEDGER_READONLY, &l, &e), 0, "%s", e.detail);
    {
        /* the ledger has what the identity is about */
        struct acct_report *r = report(l, a0, c0, ACCT_BY_INSTANCE, ACCT_BILL_USAGE, 0);
        cr_assert_eq(r->n, 12);
        cr_assert_eq(r->total.instances, 13);
        cr_assert_gt(r->total.frozen_ns, 30 * MIN, "workload, class and instance freezes: %llu",
                     (unsigned long long)r->total.frozen_ns);
        cr_assert_gt(r->total.cost_micro, 1000);
        cr_assert_gt(r->total.oom_kills, 0);
        expect_lives(r, a0, c0);
        acct_report_free(r);
    }
    for (int k = 0; k < 1000; k++) {
        uint64_t a = a0, b, c = c0;
        if (k % 2) { /* a sub-range too */
            a = a0 + rnd(c0 - a0);
            c = a + 1 + rnd(c0 - a);
        }
        b = a + 1 + rnd(c - a - 1);
        if (k % 5 == 1)
            b = b / MIN * MIN; /* where samples and rollups meet */
        if (k % 7 == 2)
            b = b / HR * HR;
        if (b <= a || b >= c)
            continue;
        expect_union(l, a, b, c, (enum acct_by)(k % _ACCT_BY_MAX),
                     k % 4 == 3 ? ACCT_BILL_RESERVATION : ACCT_BILL_USAGE);
    }
    acct_ledger_close(l);
}

/* A report per bucket adds up to the report of the whole range, key by key. */
Test(cuts, buckets_add_up_to_the_range)
{
    struct acct_ledger *l = NULL;
    struct cg_err e = {0};
    const uint64_t a = T0 - 10 * MIN + 3, c = T0 + 7 * HR - 11;

    fill();
    cr_assert_eq(acct_ledger_open(path, ACCT_LEDGER_READONLY, &l, &e), 0, "%s", e.detail);
    for (int per = ACCT_PER_HOUR; per < _ACCT_PER_MAX; per++)
        for (int by = 0; by < _ACCT_BY_MAX; by++) {
            struct acct_report *u = report(l, a, c, by, ACCT_BILL_USAGE, ACCT_PER_NONE);
            struct acct_report *p = report(l, a, c, by, ACCT_BILL_USAGE, (enum acct_per)per);
            for (size_t i = 0; i < u->n; i++) {
                struct acct_report_row sum = {0};
                const struct acct_report_row *row = &u->rows[i];
                for (size_t j = 0; j < p->n; j++) {
                    const struct acct_report_row *x = &p->rows[j];
                    if (strcmp(x->key, row->key) != 0)
                        continue;
                    cr_expect(x->from_ns >= a && x->to_ns <= c && x->from_ns < x->to_ns);
#define ADD(f) sum.f += x->f;
                    ADDITIVE(ADD)
#undef ADD
                }
#define SAME(f) cr_expect_eq(sum.f, row->f, "%s per %s: " #f, row->key, acct_per_to_string(per));
                ADDITIVE(SAME)
#undef SAME
            }
            cr_expect_eq(p->total.cost_micro, u->total.cost_micro);
            acct_report_free(u);
            acct_report_free(p);
        }
    acct_ledger_close(l);
}

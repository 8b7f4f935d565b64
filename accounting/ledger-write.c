/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ledger's writes: groups, samples and their rollups, final records, events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/delta.h"
#include "accounting/ledger-private.h"

enum {
    ST_INS_GROUP,
    ST_SEL_GROUP,
    ST_LAST,
    ST_INS_SAMPLE,
    ST_ROLLUP,
    ST_END,
    ST_EVENT,
    _ST_MAX,
};

_Static_assert(_ST_MAX <= sizeof(((struct acct_store *)0)->st) / sizeof(sqlite3_stmt *),
               "struct acct_store: room for the statements");

static const char *const stmt_sql[_ST_MAX] = {
    [ST_INS_GROUP] = "INSERT OR IGNORE INTO groups (path, generation, kind, class, workload,"
                     " instance, account, start_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_SEL_GROUP] = "SELECT id, start_ns FROM groups WHERE path = ?1 AND generation = ?2",
    [ST_LAST] = "SELECT t_ns, final, cpu_user_ns, cpu_system_ns, oom_kills, throttled_ns,"
                " mem_integral_bs, mem_current, frozen FROM samples WHERE group_id = ?1"
                " ORDER BY t_ns DESC LIMIT 1",
    [ST_INS_SAMPLE] =
        "INSERT OR IGNORE INTO samples VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
        " ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
    [ST_ROLLUP] = "INSERT INTO rollup_hour VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                  " ?11, ?12) ON CONFLICT (group_id, hour) DO UPDATE" ROLLUP_ACCUMULATE,
    [ST_END] = "UPDATE groups SET end_ns = ?2, start_ns = coalesce(?3, start_ns), exit_status = ?4,"
               " policy = ?5 WHERE id = ?1",
    [ST_EVENT] = "INSERT OR IGNORE INTO events VALUES (?1, ?2, ?3)",
};

int acct_ledger_prepare(struct acct_store *l, struct cg_err *e)
{
    for (int i = 0; i < _ST_MAX; i++) {
        int rc =
            sqlite3_prepare_v3(l->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &l->st[i], NULL);
        if (rc != SQLITE_OK)
            return acct_sql_err(l, e, acct_sql_errno(l->db, rc), "prepare");
    }
    return 0;
}

static void bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
    if (v >= (uint64_t)INT64_MAX)
        (void)sqlite3_bind_null(st, i);
    else
        (void)sqlite3_bind_int64(st, i, (int64_t)v);
}

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? CTL_UNSET
                                                     : (uint64_t)sqlite3_column_int64(st, i);
}

static int step_done(struct acct_store *l, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_DONE ? 0 : acct_sql_errno(l->db, rc);

    (void)sqlite3_reset(st);
    return r < 0 ? r : 0;
}

static const char *group_account(const struct acct_group *g)
{
    return g->account[0] ? g->account : g->workload[0] ? g->workload : g->class_name;
}

/* Looks the group generation up: 1 and its row filled, 0 if absent, or a negative errno. */
static int find_group(struct acct_store *l, const struct acct_group *g, int64_t *ret_id,
                      uint64_t *ret_start)
{
    sqlite3_stmt *st = l->st[ST_SEL_GROUP];
    int rc, r = 0;

    (void)sqlite3_bind_text(st, 1, g->path, -1, SQLITE_STATIC);
    bind_u64(st, 2, g->generation);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ret_id = sqlite3_column_int64(st, 0);
        *ret_start = col_u64(st, 1) == CTL_UNSET ? 0 : col_u64(st, 1);
        r = 1;
    } else if (rc != SQLITE_DONE) {
        r = acct_sql_errno(l->db, rc);
    }
    (void)sqlite3_reset(st);
    return r;
}

/* The start a group's first row gives it (ledger.h): an instance's exact start, else its
 * writer's estimate, else the row's own time; never after the row. Other groups: none. */
static uint64_t first_start(const struct acct_group *g, uint64_t exact_ns, uint64_t t_ns)
{
    uint64_t s = exact_ns ? exact_ns : g->start_ns ? g->start_ns : t_ns;

    if (g->kind != ACCT_INSTANCE)
        return exact_ns ? exact_ns : CTL_UNSET;
    return s < t_ns ? s : t_ns;
}

/* The group generation's row id, created if new (its first row is at t_ns). Looked up
 * first, so a known group (the common case) costs one index lookup; all inside the write
 * transaction. */
int acct_sqlite_group(struct acct_store *l, const struct acct_group *g, uint64_t t_ns,
                      uint64_t exact_start, int64_t *ret_id, uint64_t *ret_start)
{
    sqlite3_stmt *st = l->st[ST_INS_GROUP];
    int r;

    r = find_group(l, g, ret_id, ret_start);
    if (r != 0)
        return r < 0 ? r : 0;
    (void)sqlite3_bind_text(st, 1, g->path, -1, SQLITE_STATIC);
    bind_u64(st, 2, g->generation);
    (void)sqlite3_bind_text(st, 3, acct_kind_to_string(g->kind), -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(st, 4, g->class_name, -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(st, 5, g->workload, -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(st, 6, g->instance, -1, SQLITE_STATIC);
    (void)sqlite3_bind_text(st, 7, group_account(g), -1, SQLITE_STATIC);
    bind_u64(st, 8, first_start(g, exact_start, t_ns));
    r = step_done(l, st);
    if (r < 0)
        return r;
    r = find_group(l, g, ret_id, ret_start);
    return r < 0 ? r : r == 0 ? -EIO : 0;
}

/* The generation's latest row: 1 and *ret filled, or 0 if it has none. */
int acct_sqlite_last(struct acct_store *l, int64_t id, struct acct_state *ret, bool *ret_final)
{
    sqlite3_stmt *st = l->st[ST_LAST];
    int rc, r = 0;

    (void)sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ret->t_ns = (uint64_t)sqlite3_column_int64(st, 0);
        *ret_final = sqlite3_column_int(st, 1) != 0;
        ret->cpu_user_ns = col_u64(st, 2) == CTL_UNSET ? 0 : col_u64(st, 2);
        ret->cpu_system_ns = col_u64(st, 3) == CTL_UNSET ? 0 : col_u64(st, 3);
        ret->oom_kills = col_u64(st, 4) == CTL_UNSET ? 0 : col_u64(st, 4);
        ret->throttled_ns = col_u64(st, 5) == CTL_UNSET ? 0 : col_u64(st, 5);
        ret->mem_integral_bs = col_u64(st, 6);
        ret->mem_current = col_u64(st, 7);
        ret->frozen = col_u64(st, 8);
        r = 1;
    } else if (rc != SQLITE_DONE) {
        r = acct_sql_errno(l->db, rc);
    }
    (void)sqlite3_reset(st);
    return r;
}

static uint64_t avail(uint64_t accounted, uint64_t raw)
{
    return raw == CTL_UNSET ? CTL_UNSET : accounted;
}

/* The sample row of group id at t_ns: 1 if added, 0 if it was there already. */
static int insert_sample(struct acct_store *l, int64_t id, uint64_t t_ns, bool final,
                         const struct acct_group *g, const struct ctl_usage *u,
                         const struct acct_state *s, const struct acct_delta *d)
{
    sqlite3_stmt *st;
    int r;

    st = l->st[ST_INS_SAMPLE];
    (void)sqlite3_bind_int64(st, 1, id);
    bind_u64(st, 2, t_ns);
    (void)sqlite3_bind_int(st, 3, final);
    bind_u64(st, 4, avail(s->cpu_user_ns, u->cpu_user_ns));
    bind_u64(st, 5, avail(s->cpu_system_ns, u->cpu_system_ns));
    bind_u64(st, 6, avail(s->oom_kills, u->mem_oom_kills));
    bind_u64(st, 7, avail(s->throttled_ns, u->cpu_throttled_ns));
    bind_u64(st, 8, s->mem_integral_bs);
    bind_u64(st, 9, u->mem_current);
    bind_u64(st, 10, u->mem_peak);
    bind_u64(st, 11, u->pids_current);
    bind_u64(st, 12, u->pids_peak);
    bind_u64(st, 13, u->frozen);
    bind_u64(st, 14, g->cpu_limit_ucores);
    bind_u64(st, 15, g->mem_limit);
    bind_u64(st, 16, d->cpu_user_ns);
    bind_u64(st, 17, d->cpu_system_ns);
    bind_u64(st, 18, d->mem_bs);
    bind_u64(st, 19, d->oom_kills);
    bind_u64(st, 20, d->throttled_ns);
    bind_u64(st, 21, d->wall_ns);
    bind_u64(st, 22, d->frozen_ns);
    bind_u64(st, 23, d->cpu_reserved_ns);
    bind_u64(st, 24, d->mem_reserved_bs);
    r = step_done(l, st);
    if (r < 0)
        return r;
    return sqlite3_changes(l->db) > 0;
}

static int add_rollup(struct acct_store *l, int64_t id, uint64_t t_ns, const struct ctl_usage *u,
                      const struct acct_delta *d)
{
    sqlite3_stmt *st;

    /* The hour's rollup row; the minute's is kept by the schema's trigger (migration 1). */
    st = l->st[ST_ROLLUP];
    (void)sqlite3_bind_int64(st, 1, id);
    bind_u64(st, 2, t_ns / ACCT_HOUR_NS);
    bind_u64(st, 3, d->cpu_user_ns);
    bind_u64(st, 4, d->cpu_system_ns);
    bind_u64(st, 5, d->mem_bs);
    bind_u64(st, 6, d->oom_kills);
    bind_u64(st, 7, d->throttled_ns);
    bind_u64(st, 8, d->wall_ns);
    bind_u64(st, 9, d->frozen_ns);
    bind_u64(st, 10, d->cpu_reserved_ns);
    bind_u64(st, 11, d->mem_reserved_bs);
    bind_u64(st, 12, u->mem_peak >= (uint64_t)INT64_MAX ? 0 : u->mem_peak);
    return step_done(l, st);
}

/* The group's end, from its final record. */
static int end_group(struct acct_store *l, int64_t id, uint64_t t_ns, const struct acct_final *f)
{
    const uint64_t start_ns = f->start_ns;
    sqlite3_stmt *st;

    st = l->st[ST_END];
    (void)sqlite3_bind_int64(st, 1, id);
    bind_u64(st, 2, t_ns);
    bind_u64(st, 3, start_ns && start_ns <= t_ns ? start_ns : CTL_UNSET);
    if (f->exit_status >= 0)
        (void)sqlite3_bind_int(st, 4, f->exit_status);
    else
        (void)sqlite3_bind_null(st, 4);
    if (f->policy)
        (void)sqlite3_bind_text(st, 5, f->policy, -1, SQLITE_STATIC);
    else
        (void)sqlite3_bind_null(st, 5);
    return step_done(l, st);
}

int acct_sqlite_put_row(struct acct_store *l, int64_t id, const struct acct_store_row *row)
{
    int r;

    r = insert_sample(l, id, row->t_ns, row->f != NULL, row->g, row->u, &row->state, &row->delta);
    if (r <= 0)
        return r;
    r = add_rollup(l, id, row->t_ns, row->u, &row->delta);
    if (r >= 0 && row->f)
        r = end_group(l, id, row->t_ns, row->f);
    return r < 0 ? r : 1;
}

int acct_sqlite_put_event(struct acct_store *l, int64_t id, uint64_t t_ns, enum acct_event ev)
{
    sqlite3_stmt *st = l->st[ST_EVENT];

    (void)sqlite3_bind_int64(st, 1, id);
    bind_u64(st, 2, t_ns);
    (void)sqlite3_bind_text(st, 3, ev == ACCT_EVENT_FREEZE ? "freeze" : "thaw", -1, SQLITE_STATIC);
    return step_done(l, st);
}

int acct_sqlite_begin(struct acct_store *l, struct cg_err *e)
{
    if (l->readonly)
        return cg_err_set(e, -EROFS, NULL, NULL, "ledger '%s' was opened read-only", l->path);
    return acct_sql_exec(l, "BEGIN IMMEDIATE", e, "begin");
}

int acct_sqlite_commit(struct acct_store *l, int r, size_t n, struct cg_err *e, const char *what)
{
    if (r >= 0) {
        int rc = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        r = acct_sql_errno(l->db, rc);
    }
    {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s: %zu record%s not written", what, n, n == 1 ? "" : "s");
        (void)acct_sql_err(l, e, r, msg);
    }
    (void)sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

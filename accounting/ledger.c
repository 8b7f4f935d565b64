/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounting/delta.h"
#include "accounting/ledger-private.h"

_Static_assert(ACCT_HOUR_NS % ACCT_MINUTE_NS == 0, "minutes tile hours");

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

_Static_assert(_ST_MAX <= sizeof(((struct acct_ledger *)0)->st) / sizeof(sqlite3_stmt *),
               "struct acct_ledger: room for the statements");

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

uint64_t acct_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int acct_sql_errno(sqlite3 *db, int rc)
{
    int sys = db ? sqlite3_system_errno(db) : 0;

    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return sys == EACCES || sys == EPERM ? -EACCES : -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return sys > 0 ? -sys : -ENOENT;
    case SQLITE_IOERR:
        return sys == ENOSPC || sys == EDQUOT ? -ENOSPC : sys > 0 ? -sys : -EIO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EBADMSG;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    default:
        return -EIO;
    }
}

int acct_sql_err(struct acct_ledger *l, struct cg_err *e, int r, const char *what)
{
    const char *hint = r == -ENOSPC    ? " (disk full)"
                       : r == -EROFS   ? " (read-only)"
                       : r == -EACCES  ? " (permission denied)"
                       : r == -EBADMSG ? " (not a corral ledger, or corrupted)"
                                       : "";
    return cg_err_set(e, r, NULL, NULL, "ledger '%s': %s: %s%s", l->path, what,
                      l->db ? sqlite3_errmsg(l->db) : "cannot open", hint);
}

int acct_sql_exec(struct acct_ledger *l, const char *sql, struct cg_err *e, const char *what)
{
    int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return acct_sql_err(l, e, acct_sql_errno(l->db, rc), what);
    return 0;
}

static int ensure_dir(const char *path, struct cg_err *e)
{
    _cleanup_free_ char *dir = strdup(path);
    char *slash;

    if (!dir)
        return -ENOMEM;
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return cg_err_set(e, -errno, NULL, NULL, "ledger directory '%s' cannot be created%s", dir,
                          errno == ENOENT ? " (its parent does not exist)" : "");
    return 0;
}

/* Why a ledger cannot be written: the file's or its directory's access(W_OK) errno. */
static int not_writable(const char *path)
{
    _cleanup_free_ char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;

    if (access(path, W_OK) < 0 && errno != ENOENT)
        return -errno;
    if (slash) {
        *slash = '\0';
        if (access(slash == dir ? "/" : dir, W_OK) < 0)
            return -errno;
    }
    return -EROFS;
}

/* ACCT_LEDGER_SHORT_LIVED: a WAL left longer than ACCT_LEDGER_SHORT_WAL_PAGES by earlier
 * short-lived writers is folded into the database and truncated now, without waiting
 * (no busy handler: when a reader or writer is in the way, a later opener folds it). The
 * size of the file decides: SQLite's own checkpoints (corrald's) start the WAL over
 * without shrinking it, so while corrald runs this folds more often than needed (in the
 * thread that opens the ledger beside the run). The bound counts SQLite's default
 * 4096-byte pages, which the ledger uses. */
/* How long a writer waits for another one (corrald's pass, a concurrent run). */
#define LEDGER_BUSY_MS 5000

static void fold_wal(struct acct_ledger *l)
{
    _cleanup_free_ char *wal = NULL;
    struct stat st;

    if (asprintf(&wal, "%s-wal", l->path) < 0 || stat(wal, &st) < 0)
        return;
    if (st.st_size <= (off_t)ACCT_LEDGER_SHORT_WAL_PAGES * 4096)
        return;
    (void)sqlite3_busy_timeout(l->db, 0);
    (void)sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    (void)sqlite3_busy_timeout(l->db, LEDGER_BUSY_MS);
}

int acct_ledger_open(const char *path, unsigned flags, struct acct_ledger **ret, struct cg_err *e)
{
    _cleanup_free_ char *uri = NULL;
    struct acct_ledger *l;
    bool immutable = false;
    int oflags, rc, r;

    if (!path || !*path)
        return cg_err_set(e, -EINVAL, NULL, NULL, "no ledger path given");
    l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->readonly = flags & ACCT_LEDGER_READONLY;
    l->path = strdup(path);
    if (!l->path) {
        free(l);
        return -ENOMEM;
    }
    r = acct_ledger_files_check(path, l->readonly, &immutable, e);
    if (r < 0)
        goto fail;
    if (l->readonly) {
        oflags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
        uri = acct_ledger_uri(path, immutable);
        if (!uri) {
            r = -ENOMEM;
            goto fail;
        }
    } else {
        r = ensure_dir(path, e);
        if (r < 0)
            goto fail;
        oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    }
    /* SQLite's unix VFS opens its files with O_CLOEXEC itself. NOMUTEX: a ledger handle
     * is used by one thread at a time. NOFOLLOW: the ledger path must not be a symlink. */
    oflags |= SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE;
    if (!l->readonly && (flags & ACCT_LEDGER_SHORT_LIVED)) {
        r = acct_ledger_vfs_new(&l->vfs);
        if (r < 0)
            goto fail;
    }
    rc = sqlite3_open_v2(uri ? uri : path, &l->db, oflags, acct_ledger_vfs_name(l->vfs));
    if (rc != SQLITE_OK) {
        r = acct_sql_errno(l->db, rc);
        if (!l->readonly && (r == -ENOENT || r == -EIO))
            r = not_writable(path);
        r = acct_sql_err(l, e, r, "open");
        goto fail;
    }
    (void)sqlite3_busy_timeout(l->db,
                               flags & ACCT_LEDGER_NOWAIT ? ACCT_LEDGER_NOWAIT_MS : LEDGER_BUSY_MS);
    /* SQLite quietly opens a file it cannot write read-only; say so now, not at the
     * first write. */
    if (!l->readonly && sqlite3_db_readonly(l->db, "main") == 1) {
        r = not_writable(path);
        r = cg_err_set(e, r, NULL, NULL, "ledger '%s' is not writable", path);
        goto fail;
    }
    if (!l->readonly) {
        r = acct_sql_exec(l, "PRAGMA journal_mode = WAL", e, "enable WAL");
        if (r == -ENOENT || r == -EIO) /* cannot create the -wal/-shm files */
            r = cg_err_set(e, not_writable(path), NULL, NULL,
                           "ledger '%s': cannot create its WAL files", path);
        if (r < 0)
            goto fail;
    }
    if (!l->readonly && (flags & ACCT_LEDGER_SHORT_LIVED))
        (void)sqlite3_db_config(l->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    r = acct_sql_exec(l, "PRAGMA synchronous = FULL", e, "open");
    if (r < 0)
        goto fail;
    r = acct_ledger_migrate(l, e);
    if (r < 0)
        goto fail;
    if (!l->readonly && (flags & ACCT_LEDGER_SHORT_LIVED))
        fold_wal(l);
    if (!l->readonly)
        for (int i = 0; i < _ST_MAX; i++) {
            rc = sqlite3_prepare_v3(l->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &l->st[i],
                                    NULL);
            if (rc != SQLITE_OK) {
                r = acct_sql_err(l, e, acct_sql_errno(l->db, rc), "prepare");
                goto fail;
            }
        }
    *ret = l;
    return 0;
fail:
    acct_ledger_close(l);
    return r;
}

void acct_ledger_close(struct acct_ledger *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(l->st); i++)
        (void)sqlite3_finalize(l->st[i]);
    (void)sqlite3_close_v2(l->db);
    acct_ledger_vfs_free(l->vfs);
    free(l->path);
    free(l);
}

const char *acct_ledger_path(const struct acct_ledger *l)
{
    return l->path;
}

int acct_ledger_check(struct acct_ledger *l, struct cg_err *e)
{
    sqlite3_stmt *st = NULL;
    int rc, r = 0;

    rc = sqlite3_prepare_v2(l->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        if (!msg || strcmp(msg, "ok") != 0)
            r = cg_err_set(e, -EBADMSG, NULL, NULL, "ledger '%s': integrity check: %s", l->path,
                           msg ? msg : "?");
    } else {
        r = acct_sql_err(l, e, acct_sql_errno(l->db, rc), "integrity check");
    }
    (void)sqlite3_finalize(st);
    return r;
}

/* SQLite integers are signed 64-bit: counters never get near 2^63; CTL_UNSET/CTL_MAX
 * (and anything that large) is stored as NULL. */
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

static int step_done(struct acct_ledger *l, sqlite3_stmt *st)
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
static int find_group(struct acct_ledger *l, const struct acct_group *g, int64_t *ret_id,
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
static int group_id(struct acct_ledger *l, const struct acct_group *g, uint64_t t_ns,
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
static int last_state(struct acct_ledger *l, int64_t id, struct acct_state *ret, bool *ret_final)
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

/* One row through the delta rule; f is set for a final record. Returns 1 if added, 0 if
 * ignored (duplicate, late, or after the final record), or a negative errno. */
static int add_row(struct acct_ledger *l, const struct acct_group *g, const struct ctl_usage *u,
                   uint64_t t_ns, const struct acct_final *f)
{
    const bool final = f != NULL;
    const uint64_t start_ns = f ? f->start_ns : 0;
    struct acct_state prev, s;
    struct acct_delta d;
    sqlite3_stmt *st;
    uint64_t gstart = 0;
    bool prev_final = false;
    int64_t id;
    int r, have;

    r = group_id(l, g, t_ns, start_ns, &id, &gstart);
    if (r < 0)
        return r;
    have = last_state(l, id, &prev, &prev_final);
    if (have < 0)
        return have;
    if (have && prev_final)
        return 0;
    if (have && prev.t_ns >= t_ns) {
        if (!final)
            return 0;
        t_ns = prev.t_ns + 1; /* never lose a final to a racing sample's timestamp */
    }
    acct_delta_step(have ? &prev : NULL, gstart, t_ns, u, g->cpu_limit_ucores, g->mem_limit, &s,
                    &d);

    st = l->st[ST_INS_SAMPLE];
    (void)sqlite3_bind_int64(st, 1, id);
    bind_u64(st, 2, t_ns);
    (void)sqlite3_bind_int(st, 3, final);
    bind_u64(st, 4, avail(s.cpu_user_ns, u->cpu_user_ns));
    bind_u64(st, 5, avail(s.cpu_system_ns, u->cpu_system_ns));
    bind_u64(st, 6, avail(s.oom_kills, u->mem_oom_kills));
    bind_u64(st, 7, avail(s.throttled_ns, u->cpu_throttled_ns));
    bind_u64(st, 8, s.mem_integral_bs);
    bind_u64(st, 9, u->mem_current);
    bind_u64(st, 10, u->mem_peak);
    bind_u64(st, 11, u->pids_current);
    bind_u64(st, 12, u->pids_peak);
    bind_u64(st, 13, u->frozen);
    bind_u64(st, 14, g->cpu_limit_ucores);
    bind_u64(st, 15, g->mem_limit);
    bind_u64(st, 16, d.cpu_user_ns);
    bind_u64(st, 17, d.cpu_system_ns);
    bind_u64(st, 18, d.mem_bs);
    bind_u64(st, 19, d.oom_kills);
    bind_u64(st, 20, d.throttled_ns);
    bind_u64(st, 21, d.wall_ns);
    bind_u64(st, 22, d.frozen_ns);
    bind_u64(st, 23, d.cpu_reserved_ns);
    bind_u64(st, 24, d.mem_reserved_bs);
    r = step_done(l, st);
    if (r < 0)
        return r;
    if (sqlite3_changes(l->db) == 0)
        return 0;

    /* The hour's rollup row; the minute's is kept by the schema's trigger (migration 1). */
    st = l->st[ST_ROLLUP];
    (void)sqlite3_bind_int64(st, 1, id);
    bind_u64(st, 2, t_ns / ACCT_HOUR_NS);
    bind_u64(st, 3, d.cpu_user_ns);
    bind_u64(st, 4, d.cpu_system_ns);
    bind_u64(st, 5, d.mem_bs);
    bind_u64(st, 6, d.oom_kills);
    bind_u64(st, 7, d.throttled_ns);
    bind_u64(st, 8, d.wall_ns);
    bind_u64(st, 9, d.frozen_ns);
    bind_u64(st, 10, d.cpu_reserved_ns);
    bind_u64(st, 11, d.mem_reserved_bs);
    bind_u64(st, 12, u->mem_peak >= (uint64_t)INT64_MAX ? 0 : u->mem_peak);
    r = step_done(l, st);
    if (r < 0)
        return r;
    if (final) {
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
        r = step_done(l, st);
        if (r < 0)
            return r;
    }
    return 1;
}

static int begin(struct acct_ledger *l, struct cg_err *e)
{
    if (l->readonly)
        return cg_err_set(e, -EROFS, NULL, NULL, "ledger '%s' was opened read-only", l->path);
    return acct_sql_exec(l, "BEGIN IMMEDIATE", e, "begin");
}

static int commit(struct acct_ledger *l, int r, size_t n, struct cg_err *e, const char *what)
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

int acct_ledger_write(struct acct_ledger *l, const struct acct_sample *s, size_t n,
                      size_t *ret_written, struct cg_err *e)
{
    size_t written = 0;
    int r;

    r = begin(l, e);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n && r >= 0; i++) {
        r = add_row(l, &s[i].group, &s[i].usage, s[i].t_ns, NULL);
        if (r > 0)
            written++;
    }
    r = commit(l, r, n, e, "write samples");
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

    r = begin(l, e);
    if (r < 0)
        return r;
    r = add_row(l, g, u, f->end_ns, f);
    return commit(l, r, 1, e, "write final record");
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
    sqlite3_stmt *st = l->st[ST_EVENT];
    uint64_t gstart;
    int64_t id;
    int r;

    if (ev < 0 || ev >= _ACCT_EVENT_MAX)
        return -EINVAL;
    r = begin(l, e);
    if (r < 0)
        return r;
    r = group_id(l, g, t_ns, 0, &id, &gstart);
    if (r >= 0) {
        (void)sqlite3_bind_int64(st, 1, id);
        bind_u64(st, 2, t_ns);
        (void)sqlite3_bind_text(st, 3, ev == ACCT_EVENT_FREEZE ? "freeze" : "thaw", -1,
                                SQLITE_STATIC);
        r = step_done(l, st);
    }
    return commit(l, r, 1, e, "write event");
}

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

int acct_sql_err(struct acct_store *l, struct cg_err *e, int r, const char *what)
{
    const char *hint = r == -ENOSPC    ? " (disk full)"
                       : r == -EROFS   ? " (read-only)"
                       : r == -EACCES  ? " (permission denied)"
                       : r == -EBADMSG ? " (not a corral ledger, or corrupted)"
                                       : "";
    return cg_err_set(e, r, NULL, NULL, "ledger '%s': %s: %s%s", l->path, what,
                      l->db ? sqlite3_errmsg(l->db) : "cannot open", hint);
}

int acct_sql_exec(struct acct_store *l, const char *sql, struct cg_err *e, const char *what)
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

static void fold_wal(struct acct_store *l)
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

/* Opens l->db for l->path: a reader by URI (read-only, immutable on a read-only medium),
 * a writer creating the file and its directory. */
static int open_db(struct acct_store *l, unsigned flags, struct cg_err *e)
{
    _cleanup_free_ char *uri = NULL;
    bool immutable = false;
    int oflags, rc, r;

    r = acct_ledger_files_check(l->path, l->readonly, &immutable, e);
    if (r < 0)
        return r;
    if (l->readonly) {
        oflags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
        uri = acct_ledger_uri(l->path, immutable);
        if (!uri)
            return -ENOMEM;
    } else {
        r = ensure_dir(l->path, e);
        if (r < 0)
            return r;
        oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    }
    /* SQLite's unix VFS opens its files with O_CLOEXEC itself. NOMUTEX: a ledger handle
     * is used by one thread at a time. NOFOLLOW: the ledger path must not be a symlink. */
    oflags |= SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE;
    if (!l->readonly && (flags & ACCT_LEDGER_SHORT_LIVED)) {
        r = acct_ledger_vfs_new(&l->vfs);
        if (r < 0)
            return r;
    }
    rc = sqlite3_open_v2(uri ? uri : l->path, &l->db, oflags, acct_ledger_vfs_name(l->vfs));
    if (rc != SQLITE_OK) {
        r = acct_sql_errno(l->db, rc);
        if (!l->readonly && (r == -ENOENT || r == -EIO))
            r = not_writable(l->path);
        return acct_sql_err(l, e, r, "open");
    }
    (void)sqlite3_busy_timeout(l->db,
                               flags & ACCT_LEDGER_NOWAIT ? ACCT_LEDGER_NOWAIT_MS : LEDGER_BUSY_MS);
    return 0;
}

/* A writer's database: writable now (SQLite quietly opens a file it cannot write
 * read-only; say so now, not at the first write), in WAL mode. */
static int setup_writer(struct acct_store *l, unsigned flags, struct cg_err *e)
{
    int r;

    if (sqlite3_db_readonly(l->db, "main") == 1) {
        r = not_writable(l->path);
        return cg_err_set(e, r, NULL, NULL, "ledger '%s' is not writable", l->path);
    }
    r = acct_sql_exec(l, "PRAGMA journal_mode = WAL", e, "enable WAL");
    if (r == -ENOENT || r == -EIO) /* cannot create the -wal/-shm files */
        r = cg_err_set(e, not_writable(l->path), NULL, NULL,
                       "ledger '%s': cannot create its WAL files", l->path);
    if (r < 0)
        return r;
    if (flags & ACCT_LEDGER_SHORT_LIVED)
        (void)sqlite3_db_config(l->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    return 0;
}

static void sqlite_close(struct acct_store *l);

static int sqlite_open(const char *path, unsigned flags, struct acct_store **ret, struct cg_err *e)
{
    struct acct_store *l;
    int r;

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
    r = open_db(l, flags, e);
    if (r >= 0 && !l->readonly)
        r = setup_writer(l, flags, e);
    if (r >= 0)
        r = acct_sql_exec(l, "PRAGMA synchronous = FULL", e, "open");
    if (r >= 0)
        r = acct_ledger_migrate(l, e);
    if (r >= 0 && !l->readonly && (flags & ACCT_LEDGER_SHORT_LIVED))
        fold_wal(l);
    if (r >= 0 && !l->readonly)
        r = acct_ledger_prepare(l, e);
    if (r < 0) {
        sqlite_close(l);
        return r;
    }
    *ret = l;
    return 0;
}

static void sqlite_close(struct acct_store *l)
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

static const char *sqlite_path(const struct acct_store *l)
{
    return l->path;
}

static int sqlite_check(struct acct_store *l, struct cg_err *e)
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

const struct acct_store_ops acct_sqlite_store = {
    .open = sqlite_open,
    .close = sqlite_close,
    .path = sqlite_path,
    .check = sqlite_check,
    .begin = acct_sqlite_begin,
    .commit = acct_sqlite_commit,
    .group = acct_sqlite_group,
    .last = acct_sqlite_last,
    .put_row = acct_sqlite_put_row,
    .put_event = acct_sqlite_put_event,
    .queries = &acct_sqlite_queries,
};

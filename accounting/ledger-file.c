/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What acct_ledger_open checks of the ledger's files before SQLite opens them: SQLite
 * opens by path, blocking, and would wait forever on a FIFO (or do anything a device does
 * on open), and its refusal of a symlink reads "File exists". Each file is looked at with
 * lstat() (which never blocks) and must be a regular file when it exists; the medium is
 * asked whether it is read-only, so a report opens an intact ledger there as immutable
 * (SQLite then takes no lock and needs no -shm file, which it could not create).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "accounting/ledger-private.h"
#include "core/fileio.h"

/* One of the ledger's files: missing is fine (-ENOENT, nothing said), else a regular file. */
static int check_one(const char *path, const char *what, off_t *ret_size, struct cg_err *e)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? -ENOENT
                               : cg_err_set(e, -errno, NULL, NULL, "ledger %s'%s'", what, path);
    if (S_ISLNK(st.st_mode))
        return cg_err_whole(e, cg_err_set(e, -ELOOP, NULL, NULL,
                                          "ledger %s'%s' is a symbolic link: the ledger is "
                                          "opened only as a regular file (give its real path)",
                                          what, path));
    if (!S_ISREG(st.st_mode))
        return cg_err_whole(e, cg_err_set(e, -ENXIO, NULL, NULL,
                                          "ledger %s'%s' is not a regular file (%s)", what, path,
                                          cg_file_type(st.st_mode)));
    if (ret_size)
        *ret_size = st.st_size;
    return 0;
}

int acct_ledger_files_check(const char *path, bool readonly, bool *ret_immutable, struct cg_err *e)
{
    static const char *const side[] = {"-wal", "-shm"};
    _cleanup_free_ char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    struct statvfs vfs;
    off_t wal_size = 0;
    int r;

    if (!dir)
        return -ENOMEM;
    r = check_one(path, "", NULL, e);
    if (r == -ENOENT && readonly)
        return cg_err_set(e, -ENOENT, NULL, NULL, "ledger '%s'", path);
    if (r < 0 && r != -ENOENT)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(side); i++) {
        _cleanup_free_ char *p = NULL;
        int q;

        if (asprintf(&p, "%s%s", path, side[i]) < 0)
            return -ENOMEM;
        q = check_one(p, i == 0 ? "WAL " : "shared-memory file ", i == 0 ? &wal_size : NULL, e);
        if (q < 0 && q != -ENOENT)
            return q;
    }
    /* On a read-only medium nobody can be writing: immutable is exact, unless a WAL was
     * left with commits in it (then SQLite must read it, and says if it cannot). */
    if (slash)
        *slash = '\0';
    *ret_immutable = readonly && wal_size == 0 &&
                     statvfs(slash ? (slash == dir ? "/" : dir) : ".", &vfs) == 0 &&
                     (vfs.f_flag & ST_RDONLY);
    return 0;
}

char *acct_ledger_uri(const char *path, bool immutable)
{
    size_t n = strlen(path), k = 0;
    char *uri = malloc(n * 3 + 32);

    if (!uri)
        return NULL;
    k += (size_t)sprintf(uri, "file:");
    /* RFC 3986 escapes of what a URI path cannot hold as it is. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%' || c == '?' || c == '#' || c <= 0x20 || c >= 0x7f)
            k += (size_t)sprintf(uri + k, "%%%02X", c);
        else
            uri[k++] = (char)c;
    }
    sprintf(uri + k, "?mode=ro%s", immutable ? "&immutable=1" : "");
    return uri;
}

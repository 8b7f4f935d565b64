/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Policies tell a root process what to create and whom to run as, so, as sudo does for
 * sudoers, a root corral refuses files and directories that someone other than root could
 * have written.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/macro.h"
#include "policy/internal.h"

#define POL_FILE_MAX (1u << 20)

/* The check on what fstat() reported. A file root owns that only root can write passes
 * whoever runs corral, so geteuid() is asked only when the file would be refused. */
static int check_trusted_st(const struct stat *st, const char *path, bool is_dir,
                            struct pol_diags *diags)
{
    int r;

    if (st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH)))
        return 0;
    if (geteuid() != 0)
        return 0;
    if (st->st_uid != 0) {
        r = pol_diag_add(diags, path, 0,
                         "refusing %s owned by uid %u: corral runs as root and trusts only "
                         "what root owns (chown root)",
                         is_dir ? "a directory" : "a file", (unsigned)st->st_uid);
        return r < 0 ? r : -EPERM;
    }
    r = pol_diag_add(diags, path, 0,
                     "refusing %s writable by %s (mode %04o): anyone who can write it "
                     "could make root run anything (chmod go-w)",
                     is_dir ? "a directory" : "a file",
                     (st->st_mode & S_IWGRP) && (st->st_mode & S_IWOTH) ? "group and others"
                     : (st->st_mode & S_IWGRP)                          ? "group"
                                                                        : "others",
                     (unsigned)(st->st_mode & 07777));
    return r < 0 ? r : -EPERM;
}

int pol_check_trusted_fd(int fd, const char *path, bool is_dir, struct pol_diags *diags)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return negative_errno();
    return check_trusted_st(&st, path, is_dir, diags);
}

int pol_read_trusted(const char *path, char **ret_text, size_t *ret_len, struct pol_diags *diags)
{
    return pol_read_trusted_at(AT_FDCWD, path, path, ret_text, ret_len, diags);
}

/* Opens name without blocking (a FIFO would wait for a writer, a device could do anything
 * on a blocking open) and, in a directory (dirfd), without leaving it through a symlink:
 * openat2(RESOLVE_BENEATH) follows a link to a file beside it and refuses one that leads
 * out (-EXDEV); kernels before 5.6 refuse every link (O_NOFOLLOW, -ELOOP). */
static int open_nonblock(int dirfd, const char *name)
{
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, fd;

    if (dirfd != AT_FDCWD) {
        struct open_how how = {
            .flags = (uint64_t)flags,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };

        fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
            return fd < 0 ? negative_errno() : fd;
        flags |= O_NOFOLLOW; /* no openat2 (or a seccomp filter refuses it) */
    }
    fd = openat(dirfd, name, flags);
    return fd < 0 ? negative_errno() : fd;
}

int pol_read_trusted_at(int dirfd, const char *name, const char *path, char **ret_text,
                        size_t *ret_len, struct pol_diags *diags)
{
    /* Directory entries that are not files may be skipped rather than fail the set. */
    struct pol_diags *skip = dirfd != AT_FDCWD && diags->skipped ? diags->skipped : diags;
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *buf = NULL;
    struct stat st;
    size_t n = 0;
    int r;

    fd = open_nonblock(dirfd, name);
    if (fd == -EXDEV || fd == -ELOOP) {
        r = pol_diag_add(skip, path, 0, "a symbolic link %s: not followed",
                         fd == -EXDEV ? "that leads out of the policy directory"
                                      : "(policies in a directory are read only as files)");
        return r < 0 ? r : -ENXIO;
    }
    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0)
        return negative_errno();
    if (!S_ISREG(st.st_mode)) {
        r = pol_diag_add(skip, path, 0, "not a regular file (%s)", cg_file_type(st.st_mode));
        return r < 0 ? r : -ENXIO;
    }
    r = check_trusted_st(&st, path, false, diags);
    if (r < 0)
        return r;
    if (st.st_size > POL_FILE_MAX) {
        r = pol_diag_add(diags, path, 0, "file too large (at most %u bytes)", POL_FILE_MAX);
        return r < 0 ? r : -EFBIG;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return -ENOMEM;
    /* Never more than fstat said: a file that grows meanwhile is read as it was. */
    while (n < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return negative_errno();
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0'; /* a NUL byte inside is reported by the parser, with its line */
    *ret_text = TAKE_PTR(buf);
    *ret_len = n;
    return 0;
}

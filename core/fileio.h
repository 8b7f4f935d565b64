/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Small helpers for cgroupfs files, always relative to a directory fd, never following
 * symlinks, always O_CLOEXEC. Numbers: "max" (v2) parses as UINT64_MAX.
 */

/* "a FIFO", "a directory", "a socket", ... for messages about a file that is not a
 * regular one. */
const char *cg_file_type(mode_t mode);

/* Writes value (no newline needed) in one write(2); returns 0 or -errno from the kernel. */
int cg_write_at(int dirfd, const char *file, const char *value);

/* Reads at most size-1 bytes, NUL-terminates, strips one trailing newline; returns length. */
int cg_read_at(int dirfd, const char *file, char *buf, size_t size);

/* Reads a whole file into a malloc'ed string (any size). */
int cg_read_all_at(int dirfd, const char *file, char **ret);

/* pread(fd, ..., 0) of a kept-open file into buf; same contract as cg_read_at. */
int cg_pread(int fd, char *buf, size_t size);

/* Parses a decimal u64 or "max"; trailing newline allowed. -EINVAL otherwise, -ERANGE on overflow.
 */
int cg_parse_u64(const char *s, uint64_t *ret);

/* Reads a file holding one u64 (or "max"). */
int cg_read_u64_at(int dirfd, const char *file, uint64_t *ret);

/* Finds "key value" in a flat keyed file's text ("usage_usec 12\nuser_usec 3\n"). -ENODATA if
 * absent. */
int cg_keyed_u64(const char *text, const char *key, uint64_t *ret);

/* Opens a relative path beneath dirfd one component at a time with O_NOFOLLOW, so a symlink
 * anywhere on the way is refused with -ELOOP (or -ENOTDIR). With mode != 0, missing
 * components are created with mkdirat(mode); *ret_created (optional) tells whether the last
 * one was. Returns an O_DIRECTORY|O_CLOEXEC fd. An empty path reopens dirfd itself. */
int cg_open_beneath(int dirfd, const char *path, unsigned mode, bool *ret_created);

/* Reads a pid list file (cgroup.procs). *ret is malloc'ed, possibly NULL when empty. */
int cg_read_pids_at(int dirfd, const char *file, pid_t **ret, size_t *ret_n);

/* Writes the whole buffer to fd; returns 0 or -errno. */
int cg_write_full(int fd, const void *buf, size_t len);

/* Calls fn on dfd and then on every directory below it (pre-order), each opened without
 * following symlinks, at most max_depth levels down. fn returns < 0 to stop with that
 * error, > 0 to stop the walk early without one, 0 to go on. Entries that vanish during
 * the walk are skipped. Returns fn's error, or 0. */
int cg_walk_dirs(int dfd, int (*fn)(int dfd, void *userdata), void *userdata, unsigned max_depth);

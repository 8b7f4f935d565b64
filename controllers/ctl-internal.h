/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared by the controller files and the conversion unit tests; not part of the
 * controllers' interface. The pure conversions are declared here so that
 * tests/test-conversions.c can check them without a cgroupfs.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "controllers/controller.h"
#include "core/fileio.h"

/* cpu.c: v2 cpu.max is "QUOTA PERIOD" or "max PERIOD"; v1 cpu.cfs_quota_us is -1 for none. */
int ctl_cpu_max_parse(const char *s, uint64_t *ret_quota, uint64_t *ret_period);
int ctl_cpu_max_format(uint64_t quota, uint64_t period, char *buf, size_t size);
int ctl_cfs_quota_parse(const char *s, uint64_t *ret);

/* memory.c. The kernel keeps whole pages (page_counter), so a limit reads back rounded
 * down to the page size: round first, and compare and report the rounded value. */
uint64_t ctl_mem_round(uint64_t bytes, uint64_t page_size);
/* "No limit" is PAGE_COUNTER_MAX pages (v1 shows 9223372036854771712 with 4 KiB pages; v2
 * shows "max", and turns any larger request into it);
 * anything at or above LONG_MAX rounded down to pages is CTL_MAX. */
uint64_t ctl_mem_normalise(uint64_t raw, uint64_t page_size);
/* Parses a memory file's value ("max", a number, or v1's "-1") into bytes or CTL_MAX. */
int ctl_mem_parse(const char *raw, bool v2, uint64_t page_size, uint64_t *ret);
/* The value to write: "max" (v2) or "-1" (v1) for CTL_MAX, else the decimal bytes. */
void ctl_mem_format(uint64_t bytes, bool v2, char *buf, size_t size);
/* v1 memory.memsw.limit_in_bytes for a memory limit plus a swap allowance (saturating). */
uint64_t ctl_memsw_sum(uint64_t mem_max, uint64_t swap_max);
/* v1 needs limit_in_bytes <= memsw.limit_in_bytes after every single write: when the new
 * memory limit exceeds the current memsw limit, memsw must be raised first. */
bool ctl_memsw_first(uint64_t new_limit, uint64_t cur_memsw);

/* A counter's field in struct ctl_usage, for its descriptor: a number, a key of a keyed
 * file (times mult), a state word. */
/* clang-format off */
#define CTL_U(field)            offsetof(struct ctl_usage, field)
#define CTL_NUM(field)          {{NULL, CTL_U(field), 1}}
#define CTL_KEY(key, field, mu) {key, CTL_U(field), mu}
/* clang-format on */

/* Formats a count or CTL_MAX ("max"). */
static inline void ctl_format_u64(uint64_t v, char *buf, size_t size)
{
    if (v == CTL_MAX)
        snprintf(buf, size, "max");
    else
        snprintf(buf, size, "%llu", (unsigned long long)v);
}

/* Why a controller file could not be used: the hierarchy is absent or the group exists
 * without the controller (-ENODEV), or the group itself is gone (-ENOENT). */
static inline int ctl_file_error(struct cg_group *g, enum cg_hier h, const char *ctl,
                                 const char *file, int r, struct cg_err *e)
{
    int fd = cg_group_fd(g, h);

    if (fd < 0 && cg_ctx_has(cg_group_ctx(g), h))
        return cg_err_set(e, -ENODEV, cg_group_path(g), file,
                          "the group has no %s directory yet (made before that hierarchy was"
                          " mounted): corral apply makes it",
                          ctl);
    if (fd < 0)
        return cg_err_set(e, -ENODEV, cg_group_path(g), file,
                          "missing controller '%s': its hierarchy is not mounted", ctl);
    if (r == -ENOENT) {
        if (faccessat(fd, "cgroup.procs", F_OK, 0) < 0)
            return cg_err_set(e, -ENOENT, cg_group_path(g), file, "the group no longer exists");
        return cg_err_set(e, -ENODEV, cg_group_path(g), file,
                          "missing controller '%s' (not enabled for this group)", ctl);
    }
    return cg_err_set(e, r, cg_group_path(g), file, "cannot read");
}

/* Reads the raw value of a controller file, as the kernel shows it (kept for rollback). */
static inline int ctl_read_raw(struct cg_group *g, enum cg_hier h, const char *ctl,
                               const char *file, char *buf, size_t size, struct cg_err *e)
{
    int fd = cg_group_fd(g, h), r;

    if (fd < 0)
        return ctl_file_error(g, h, ctl, file, -ENODEV, e);
    r = cg_read_at(fd, file, buf, size);
    if (r < 0)
        return ctl_file_error(g, h, ctl, file, r, e);
    return 0;
}

/* Reads an optional counter (a u64, or "max") into *field. A file this kernel or group
 * lacks leaves *field alone (CTL_UNSET); a group that is gone is -ENOENT. */
static inline int ctl_read_counter(int dirfd, const char *file, uint64_t *field)
{
    uint64_t v;
    int r;

    if (dirfd < 0)
        return 0;
    r = cg_read_u64_at(dirfd, file, &v);
    if (r == -ENOENT)
        return faccessat(dirfd, "cgroup.procs", F_OK, 0) < 0 ? -ENOENT : 0;
    if (r < 0)
        return r;
    *field = v;
    return 0;
}

/* Reads a file if this kernel and group have it: 1 when read, 0 when it is absent, -ENOENT
 * when the group is gone. */
static inline int ctl_read_opt(int dirfd, const char *file, char *buf, size_t size)
{
    int r;

    if (dirfd < 0)
        return 0;
    r = cg_read_at(dirfd, file, buf, size);
    if (r == -ENOENT)
        return faccessat(dirfd, "cgroup.procs", F_OK, 0) < 0 ? -ENOENT : 0;
    return r < 0 ? r : 1;
}

/* Reads a whole (keyed) file; a file this kernel or group lacks gives *ret = NULL and 0,
 * a group that is gone -ENOENT. */
static inline int ctl_read_text(int dirfd, const char *file, char **ret)
{
    int r;

    *ret = NULL;
    if (dirfd < 0)
        return 0;
    r = cg_read_all_at(dirfd, file, ret);
    if (r == -ENOENT)
        return faccessat(dirfd, "cgroup.procs", F_OK, 0) < 0 ? -ENOENT : 0;
    return r < 0 ? r : 0;
}

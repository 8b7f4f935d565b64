/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Error contract of the corral libraries:
 *   - every fallible function returns int: >= 0 on success, a negative errno on failure;
 *   - output parameters are named ret_* and are untouched on failure;
 *   - where a user needs to know which group, file or input line failed, the function
 *     also takes a `struct cg_err *` (may be NULL) that it fills on failure.
 * Libraries never print except at debug level, and never exit.
 */

#include <stdbool.h>
#include <stddef.h>

#include "core/macro.h"

struct cg_err {
    int error;        /* negative errno, 0 when nothing failed */
    char group[256];  /* group path relative to the corral root, or "" */
    char file[64];    /* cgroupfs file name, or "" */
    char detail[512]; /* human text, or "" */
    bool whole;       /* detail says why in full: no strerror() after it (cg_err_whole) */
};

/* Marks e's detail as the whole story (an errno's text would mislead: "Protocol error"
 * for a ledger of a newer schema); returns r. */
static inline int cg_err_whole(struct cg_err *e, int r)
{
    if (e)
        e->whole = true;
    return r;
}

/* Fills *e (if e is not NULL) and returns r, so callers can `return cg_err_set(...)`. */
int cg_err_set(struct cg_err *e, int r, const char *group, const char *file, const char *fmt, ...)
    _printf_(5, 6);

/* Formats "group 'G': file 'F': detail: strerror" leaving out empty parts; strerror is
 * left out too when the detail is whole or already ends with it. */
const char *cg_err_format(const struct cg_err *e, char *buf, size_t size);

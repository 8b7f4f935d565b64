/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

int cg_err_set(struct cg_err *e, int r, const char *group, const char *file, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return r;
    e->error = r;
    snprintf(e->group, sizeof(e->group), "%s", group ? group : "");
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    e->detail[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
        va_end(ap);
    }
    return r;
}

const char *cg_err_format(const struct cg_err *e, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
#define APPEND(...)                                                                                \
    do {                                                                                           \
        if (n < size) {                                                                            \
            int w_ = snprintf(buf + n, size - n, __VA_ARGS__);                                     \
            if (w_ > 0)                                                                            \
                n += (size_t)w_;                                                                   \
        }                                                                                          \
    } while (0)
    if (e->group[0])
        APPEND("group '%s': ", e->group);
    if (e->file[0])
        APPEND("file '%s': ", e->file);
    if (e->detail[0])
        APPEND("%s", e->detail);
    if (e->error < 0)
        APPEND("%s%s", e->detail[0] ? ": " : "", strerror(-e->error));
#undef APPEND
    if (n > 0 && n < size && buf[n - 1] == ' ' && n >= 2 && buf[n - 2] == ':')
        buf[n - 2] = '\0';
    return buf;
}

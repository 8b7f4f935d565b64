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
    e->whole = false;
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

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return k > 0 && n >= k && strcmp(s + n - k, tail) == 0;
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
    if (e->error < 0 && !e->whole && !ends_with(e->detail, strerror(-e->error)))
        APPEND("%s%s", e->detail[0] ? ": " : "", strerror(-e->error));
#undef APPEND
    if (n > 0 && n < size && buf[n - 1] == ' ' && n >= 2 && buf[n - 2] == ':')
        buf[n - 2] = '\0';
    return buf;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/name.h"

#define NAME_RULE "names are [a-z0-9_-]{1,64}"

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool cg_name_valid(const char *name)
{
    size_t n = 0;

    if (!name)
        return false;
    for (; name[n]; n++) {
        if (n >= CG_NAME_MAX || !name_char(name[n]))
            return false;
    }
    return n > 0;
}

int cg_name_check(const char *what, const char *name, struct cg_err *e)
{
    size_t n = name ? strlen(name) : 0;
    char shown[8];

    if (n == 0)
        return cg_err_set(e, -EINVAL, NULL, NULL, "invalid %s '': it is empty (" NAME_RULE ")",
                          what);
    if (n > CG_NAME_MAX)
        return cg_err_set(e, -ENAMETOOLONG, NULL, NULL,
                          "invalid %s '%.*s...': %zu characters, at most %d (" NAME_RULE ")", what,
                          16, name, n, CG_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (name_char((char)c))
            continue;
        if (c >= 0x20 && c < 0x7f)
            snprintf(shown, sizeof(shown), "'%c'", c);
        else
            snprintf(shown, sizeof(shown), "\\x%02x", c);
        return cg_err_set(e, -EINVAL, NULL, NULL,
                          "invalid %s: character %zu is %s, which is not a-z, 0-9, '_' or '-' "
                          "(" NAME_RULE ")",
                          what, i + 1, shown);
    }
    return 0;
}

int cg_path_validate(const char *path, struct cg_err *e)
{
    const char *p = path, *slash;
    char comp[CG_NAME_MAX + 2];

    if (!path || !*path)
        return cg_err_set(e, -EINVAL, path, NULL, "empty group path");
    if (strlen(path) > 4 * (CG_NAME_MAX + 1))
        return cg_err_set(e, -ENAMETOOLONG, NULL, NULL, "group path too long (at most 4 levels)");
    for (;;) {
        size_t len;
        slash = strchr(p, '/');
        len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0)
            return cg_err_set(e, -EINVAL, path, NULL, "empty component in group path");
        if (len > CG_NAME_MAX)
            return cg_err_set(e, -ENAMETOOLONG, path, NULL, "component longer than %d characters",
                              CG_NAME_MAX);
        memcpy(comp, p, len);
        comp[len] = '\0';
        if (!cg_name_valid(comp))
            return cg_err_set(e, -EINVAL, path, NULL, "invalid name '%s': " NAME_RULE, comp);
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

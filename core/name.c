/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "core/name.h"

bool cg_name_valid(const char *name)
{
    size_t n = 0;

    if (!name)
        return false;
    for (; name[n]; n++) {
        char c = name[n];
        if (n >= CG_NAME_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
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
            return cg_err_set(e, -EINVAL, path, NULL,
                              "invalid name '%s': names are [a-z0-9_-]{1,64}", comp);
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

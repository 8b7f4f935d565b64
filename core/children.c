/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listing a group's child groups: only valid corral names, sorted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cgroup.h"
#include "core/internal.h"
#include "core/name.h"

void cg_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cg_group_children(struct cg_group *g, char ***ret)
{
    int fd = -1;

    for (int h = 0; h < _CG_H_MAX && fd < 0; h++)
        if (cg_slot(g->ctx, h))
            fd = g->fd[h];
    if (fd < 0)
        return -ENODEV;
    return cg_children_at(fd, ret, NULL);
}

int cg_children_at(int dfd, char ***ret, size_t *ret_n)
{
    int fd;
    DIR *d;
    struct dirent *de;
    char **v = NULL;
    size_t n = 0, cap = 0;

    /* A fresh open for the listing: dfd may be O_PATH, and its offset is not ours. */
    fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (!d) {
        int r = -errno;
        close(fd);
        return r;
    }
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || !cg_name_valid(de->d_name))
            continue;
        if (n + 2 > cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **nv = realloc(v, nc * sizeof(char *));
            if (!nv)
                goto oom;
            v = nv;
            cap = nc;
        }
        v[n] = strdup(de->d_name);
        if (!v[n])
            goto oom;
        v[++n] = NULL;
    }
    closedir(d);
    if (!v) {
        v = calloc(1, sizeof(char *));
        if (!v)
            return -ENOMEM;
    }
    qsort(v, n, sizeof(char *), cmp_str);
    *ret = v;
    if (ret_n)
        *ret_n = n;
    return 0;
oom:
    closedir(d);
    cg_strv_free(v);
    return -ENOMEM;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/hierarchy.h"
#include "core/log.h"
#include "core/macro.h"

static const char *const mode_names[_CG_MODE_MAX] = {
    [CG_MODE_V1] = "v1",
    [CG_MODE_HYBRID] = "hybrid",
    [CG_MODE_V2] = "v2",
};

static const char *const hier_names[_CG_H_MAX] = {
    [CG_H_CPU] = "cpu",   [CG_H_CPUACCT] = "cpuacct", [CG_H_MEMORY] = "memory",
    [CG_H_PIDS] = "pids", [CG_H_FREEZER] = "freezer",
};

const char *cg_mode_to_string(enum cg_mode m)
{
    return (m >= 0 && m < _CG_MODE_MAX) ? mode_names[m] : "unknown";
}

const char *cg_hier_to_string(enum cg_hier h)
{
    return (h >= 0 && h < _CG_H_MAX) ? hier_names[h] : "unknown";
}

void cg_sysinfo_done(struct cg_sysinfo *s)
{
    for (int h = 0; h < _CG_H_MAX; h++) {
        free(s->mount[h]);
        free(s->own[h]);
        s->mount[h] = s->own[h] = NULL;
    }
}

static bool is_cgroup2(const char *path)
{
    struct statfs sfs;
    return statfs(path, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* The v2 line of /proc/self/cgroup ("0::/path"). libcgroup 2.0.2 does not report it for
 * controllers on the unified hierarchy reliably, so read it directly. */
static int own_unified_path(char **ret)
{
    _cleanup_free_ char *text = NULL;
    char *line, *save = NULL;
    int r;

    r = cg_read_all_at(AT_FDCWD, "/proc/self/cgroup", &text);
    if (r < 0)
        return r;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "0::", 3) == 0) {
            char *p = strdup(line + 3);
            if (!p)
                return -ENOMEM;
            *ret = p;
            return 0;
        }
    }
    return -ENODATA;
}

static int discover_v2(struct cg_sysinfo *s, const char *mnt)
{
    _cleanup_free_ char *own = NULL;
    int r;

    r = own_unified_path(&own);
    if (r < 0)
        return r;
    for (int h = 0; h < _CG_H_MAX; h++) {
        s->mount[h] = strdup(mnt);
        s->own[h] = strdup(own);
        s->alias[h] = h == 0 ? -1 : 0;
        if (!s->mount[h] || !s->own[h])
            return -ENOMEM;
    }
    s->mode = CG_MODE_V2;
    return 0;
}

static int discover_v1(struct cg_sysinfo *s)
{
    bool any = false;
    int r;

    r = cgroup_init();
    if (r != 0) {
        cg_debug("cgroup_init: %s", cgroup_strerror(r));
        return -ENODEV;
    }
    for (int h = 0; h < _CG_H_MAX; h++) {
        char *mnt = NULL, *own = NULL;

        s->alias[h] = -1;
        if (cgroup_get_subsys_mount_point(hier_names[h], &mnt) != 0 || !mnt) {
            cg_debug("hierarchy %s is not mounted", hier_names[h]);
            continue;
        }
        if (is_cgroup2(mnt)) {
            /* A controller bound to the unified tree in a hybrid layout: corral uses
             * v1 semantics only, so treat it as absent (reported by the controllers). */
            free(mnt);
            continue;
        }
        if (cgroup_get_current_controller_path(getpid(), hier_names[h], &own) != 0 || !own) {
            free(mnt);
            continue;
        }
        s->mount[h] = mnt;
        s->own[h] = own;
        for (int a = 0; a < h; a++)
            if (s->mount[a] && strcmp(s->mount[a], mnt) == 0) {
                s->alias[h] = a;
                break;
            }
        any = true;
    }
    if (!any)
        return -ENODEV;
    /* Hybrid: v1 controllers plus the v2 tree systemd mounts at its usual place. */
    s->mode = is_cgroup2("/sys/fs/cgroup/unified") ? CG_MODE_HYBRID : CG_MODE_V1;
    return 0;
}

int cg_sysinfo_discover(struct cg_sysinfo *ret)
{
    struct cg_sysinfo s = {0};
    int r;

    if (is_cgroup2("/sys/fs/cgroup"))
        r = discover_v2(&s, "/sys/fs/cgroup");
    else
        r = discover_v1(&s);
    if (r < 0) {
        cg_sysinfo_done(&s);
        return r;
    }
    *ret = s;
    return 0;
}

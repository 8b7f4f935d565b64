/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

static const struct cg_hier_info hiers[_CG_H_MAX] = {
    [CG_H_CPU] = {"cpu", "cpu", "cpu"},
    [CG_H_CPUACCT] = {"cpuacct", "cpuacct", NULL},
    [CG_H_MEMORY] = {"memory", "memory", "memory"},
    [CG_H_PIDS] = {"pids", "pids", "pids"},
    [CG_H_FREEZER] = {"freezer", "freezer", NULL},
    [CG_H_CPUSET] = {"cpuset", "cpuset", "cpuset", true},
};

const struct cg_hier_info *cg_hier_info(enum cg_hier h)
{
    return &hiers[h];
}

const char *cg_mode_to_string(enum cg_mode m)
{
    return (m >= 0 && m < _CG_MODE_MAX) ? mode_names[m] : "unknown";
}

const char *cg_hier_to_string(enum cg_hier h)
{
    return (h >= 0 && h < _CG_H_MAX) ? hiers[h].name : "unknown";
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

/* Undoes the octal escapes of /proc/self/mountinfo ("\040" for a space) in place. */
static void unescape_octal(char *p)
{
    char *w = p;

    for (; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *w++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
            p += 3;
        } else
            *w++ = *p;
    }
    *w = '\0';
}

/* Whether the comma-separated list has `name` as one of its items. */
static bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len;
        p += *p == ',';
    }
    return false;
}

/*
 * One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SRC SUPEROPTS".
 * For a v1 cgroup mount the super options name its controllers. The first mount of each
 * hierarchy wins, except that a mount of the whole hierarchy (ROOT "/") replaces one of
 * a part of it; root[h] is the part the chosen mount shows.
 */
static void mountinfo_line(char *line, char *mount[_CG_H_MAX], char *root[_CG_H_MAX])
{
    char *field[5], *tail, *save = NULL, *fstype, *superopts;
    int n = 0;

    tail = strstr(line, " - ");
    if (!tail)
        return;
    *tail = '\0';
    tail += 3;
    for (char *f = strtok_r(line, " ", &save); f && n < 5; f = strtok_r(NULL, " ", &save))
        field[n++] = f;
    fstype = strtok_r(tail, " ", &save);
    (void)strtok_r(NULL, " ", &save); /* source */
    superopts = strtok_r(NULL, " ", &save);
    if (n < 5 || !fstype || !superopts || strcmp(fstype, "cgroup") != 0)
        return;
    /* Once per line: co-mounted controllers ("cpu,cpuacct") share these strings. */
    unescape_octal(field[3]);
    unescape_octal(field[4]);
    for (int h = 0; h < _CG_H_MAX; h++)
        if (hiers[h].v1_mount && list_has(superopts, hiers[h].v1_mount) &&
            (!mount[h] || (strcmp(root[h], "/") != 0 && strcmp(field[3], "/") == 0))) {
            mount[h] = field[4];
            root[h] = field[3];
        }
}

/* The caller's path in hierarchy `name` from /proc/self/cgroup ("ID:CONTROLLERS:PATH"); a
 * NULL name asks for the v2 line ("0::PATH"). The path ends at a newline or the end. */
static const char *own_path(char *text, const char *name)
{
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n'), *c1 = strchr(line, ':'), *c2;

        if (nl)
            *nl = '\0';
        c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) {
            *c2 = '\0';
            bool match = name ? list_has(c1 + 1, name) : strcmp(line, "0:") == 0;
            *c2 = ':';
            if (match) {
                if (nl)
                    *nl = '\n';
                return c2 + 1;
            }
        }
        if (nl)
            *nl = '\n';
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* The caller's cgroup on the v2 tree: the "0::/path" line of /proc/self/cgroup. */
static int own_unified_path(char **ret)
{
    _cleanup_free_ char *text = NULL;
    const char *own;
    int r;

    r = cg_read_all_at(AT_FDCWD, "/proc/self/cgroup", &text);
    if (r < 0)
        return r;
    own = own_path(text, NULL);
    if (!own)
        return -ENODATA;
    *ret = strndup(own, strcspn(own, "\n"));
    return *ret ? 0 : -ENOMEM;
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

/*
 * v1 and hybrid. The mounts come from /proc/self/mountinfo and the caller's cgroups from
 * /proc/self/cgroup, one read each. (libcgroup's cgroup_init gives the same answer, which
 * tests/test-core.c checks, but it clears 1.2 MB of tables first: half a millisecond of
 * every `corral run`, a tenth of its time.) A mount that shows only part of a hierarchy
 * (ROOT other than "/", as in some containers) is used when the caller's cgroup lies
 * inside that part, and its paths are taken relative to it.
 */
int cg_sysinfo_parse_v1(char *mi, char *pc, struct cg_sysinfo *s)
{
    char *mount[_CG_H_MAX] = {NULL}, *root[_CG_H_MAX] = {NULL}, *save = NULL;
    bool any = false;

    for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        mountinfo_line(line, mount, root);
    for (int h = 0; h < _CG_H_MAX; h++) {
        const char *own, *nl;
        size_t rl, ol;

        s->alias[h] = -1;
        if (!mount[h]) {
            cg_debug("hierarchy %s is not mounted", hiers[h].name);
            continue;
        }
        own = hiers[h].v1_mount ? own_path(pc, hiers[h].v1_mount) : NULL;
        if (!own)
            continue;
        nl = strchrnul(own, '\n');
        ol = (size_t)(nl - own);
        rl = strcmp(root[h], "/") == 0 ? 0 : strlen(root[h]);
        if (rl && (ol < rl || strncmp(own, root[h], rl) != 0 || (ol > rl && own[rl] != '/'))) {
            cg_debug("hierarchy %s: own cgroup %.*s is outside the mounted part %s", hiers[h].name,
                     (int)ol, own, root[h]);
            continue;
        }
        s->mount[h] = strdup(mount[h]);
        s->own[h] = ol == rl ? strdup("/") : strndup(own + rl, ol - rl);
        if (!s->mount[h] || !s->own[h])
            return -ENOMEM;
        for (int a = 0; a < h; a++)
            if (s->mount[a] && strcmp(s->mount[a], s->mount[h]) == 0) {
                s->alias[h] = a;
                break;
            }
        any = true;
    }
    s->mode = CG_MODE_V1;
    return any ? 0 : -ENODEV;
}

static int discover_v1(struct cg_sysinfo *s)
{
    _cleanup_free_ char *mi = NULL, *pc = NULL;
    int r;

    r = cg_read_all_at(AT_FDCWD, "/proc/self/mountinfo", &mi);
    if (r >= 0)
        r = cg_read_all_at(AT_FDCWD, "/proc/self/cgroup", &pc);
    if (r >= 0)
        r = cg_sysinfo_parse_v1(mi, pc, s);
    if (r < 0)
        return r;
    /* Hybrid: v1 controllers plus the v2 tree systemd mounts at its usual place. */
    if (is_cgroup2("/sys/fs/cgroup/unified"))
        s->mode = CG_MODE_HYBRID;
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

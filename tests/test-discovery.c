/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of v1 discovery on given /proc texts (core/hierarchy.c). The real machine's
 * discovery is checked against libcgroup's in test-core. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hierarchy.h"

static int parse(const char *mi, const char *pc, struct cg_sysinfo *s)
{
    char *m = strdup(mi), *p = strdup(pc);
    int r;

    cr_assert(m && p);
    memset(s, 0, sizeof(*s));
    r = cg_sysinfo_parse_v1(m, p, s);
    free(m);
    free(p);
    return r;
}

#define LINE(id, root, mnt, opts)                                                                  \
#id " 31 0:" #id " " root " " mnt " rw,relatime - cgroup cgroup " opts "\n"

Test(discovery, separate_and_comounted_hierarchies)
{
    struct cg_sysinfo s;
    const char *mi = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n" LINE(
        32, "/", "/sys/fs/cgroup/cpu,cpuacct", "rw,cpu,cpuacct")
        LINE(35, "/", "/sys/fs/cgroup/memory", "rw,memory")
            LINE(39, "/", "/sys/fs/cgroup/pids", "rw,pids")
                LINE(40, "/", "/sys/fs/cgroup/systemd",
                     "rw,xattr,name=systemd") "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 "
                                              "cgroup2 rw\n";
    const char *pc = "12:name=systemd:/x\n4:memory:/a/b\n3:pids:/\n2:cpu,cpuacct:/c\n0::/\n";

    cr_assert_eq(parse(mi, pc, &s), 0);
    cr_expect_str_eq(s.mount[CG_H_CPU], "/sys/fs/cgroup/cpu,cpuacct");
    cr_expect_str_eq(s.mount[CG_H_CPUACCT], "/sys/fs/cgroup/cpu,cpuacct");
    cr_expect_eq(s.alias[CG_H_CPU], -1);
    cr_expect_eq(s.alias[CG_H_CPUACCT], CG_H_CPU, "co-mounted: one directory");
    cr_expect_str_eq(s.own[CG_H_CPUACCT], "/c");
    cr_expect_str_eq(s.own[CG_H_MEMORY], "/a/b");
    cr_expect_str_eq(s.own[CG_H_PIDS], "/");
    cr_expect_null(s.mount[CG_H_FREEZER], "not mounted: absent");
    cr_expect_eq(s.mode, CG_MODE_V1);
    cg_sysinfo_done(&s);
}

Test(discovery, escaped_mount_point_decoded_once)
{
    struct cg_sysinfo s;
    /* a mount point "/cg\ x" (a backslash, then an escaped space) of cpu and cpuacct */
    const char *mi = LINE(32, "/", "/cg\\134\\040x", "rw,cpu,cpuacct");
    const char *pc = "2:cpu,cpuacct:/\n";

    cr_assert_eq(parse(mi, pc, &s), 0);
    cr_expect_str_eq(s.mount[CG_H_CPU], "/cg\\ x");
    cr_expect_str_eq(s.mount[CG_H_CPUACCT], "/cg\\ x");
    cg_sysinfo_done(&s);
}

Test(discovery, partial_mount_paths_relative_and_whole_mount_preferred)
{
    struct cg_sysinfo s;
    /* memory shows only /outer (as in a container); pids is first mounted partly, then
     * whole; freezer shows a part that does not hold us */
    const char *mi = LINE(35, "/outer", "/sys/fs/cgroup/memory", "rw,memory")
        LINE(39, "/other", "/mnt/pids-part", "rw,pids")
            LINE(40, "/", "/sys/fs/cgroup/pids", "rw,pids")
                LINE(41, "/elsewhere", "/sys/fs/cgroup/freezer", "rw,freezer");
    const char *pc = "4:memory:/outer/me\n3:pids:/p\n5:freezer:/f\n";

    cr_assert_eq(parse(mi, pc, &s), 0);
    cr_expect_str_eq(s.own[CG_H_MEMORY], "/me", "relative to the mounted part");
    cr_expect_str_eq(s.mount[CG_H_PIDS], "/sys/fs/cgroup/pids", "the whole mount wins");
    cr_expect_str_eq(s.own[CG_H_PIDS], "/p");
    cr_expect_null(s.mount[CG_H_FREEZER], "our cgroup is outside the mounted part");
    cg_sysinfo_done(&s);
}

Test(discovery, nothing_usable)
{
    struct cg_sysinfo s;

    cr_expect_eq(parse("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/\n", &s),
                 -ENODEV);
    cg_sysinfo_done(&s);
}

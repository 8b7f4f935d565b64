/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * What the running system has: pure cgroup v2, hybrid (v1 controllers plus a v2 mount
 * that carries none of ours), or legacy v1 only. corral speaks of six hierarchies; on
 * v2 they are all the one unified tree.
 */
enum cg_mode {
    CG_MODE_V1,
    CG_MODE_HYBRID,
    CG_MODE_V2,
    _CG_MODE_MAX,
};

/* Which file names and value forms a group's files use: a table of files per controller is
 * indexed by it (cpu.shares | cpu.weight), so callers never branch on the version. */
enum cg_vocab {
    CG_VOCAB_V1,
    CG_VOCAB_V2,
    _CG_VOCAB_MAX,
};

enum cg_hier {
    CG_H_CPU,
    CG_H_CPUACCT,
    CG_H_MEMORY,
    CG_H_PIDS,
    CG_H_FREEZER,
    CG_H_CPUSET, /* optional: a system without it works, its settings cannot be applied */
    _CG_H_MAX,
};

/*
 * The one table of hierarchies: discovery and both cgroupfs managers iterate it instead of
 * naming controllers themselves. A hierarchy to come (io/blkio, cpuset) is one more enum
 * value and one more row.
 */
struct cg_hier_info {
    const char *name; /* corral's name for it: logs and errors */
    /* v1: the controller a cgroup mount names in its super options (NULL: none). Two
     * hierarchies found on the same mount (e.g. "cpu,cpuacct") are aliases: the later
     * one shares the earlier's directory (struct cg_sysinfo, alias). */
    const char *v1_mount;
    /* v2: the controller enabled in cgroup.subtree_control, or NULL when the v2 tree has
     * it without one (cpuacct: cpu.stat is always there; freezer: cgroup.freeze). On v2
     * every hierarchy is an alias of the first. */
    const char *v2_controller;
    /* A hierarchy added after groups may already exist (cpuset): a group made before it
     * opens without its directory there (fd -1, nothing to read or place) until the next
     * apply creates it, and the root's id (core/roots.h) does not depend on it. */
    bool optional;
};

const struct cg_hier_info *cg_hier_info(enum cg_hier h);

struct cg_sysinfo {
    enum cg_mode mode;
    /* v1: mount point of each hierarchy (NULL when not mounted); v2: all the same. */
    char *mount[_CG_H_MAX];
    /* The caller's own cgroup in each hierarchy, absolute within it ("/" at the top). */
    char *own[_CG_H_MAX];
    /* v1: index of an earlier hierarchy mounted at the same place (e.g. "cpu,cpuacct"),
     * else -1. Such an alias shares the directory and is never created or removed twice. */
    int alias[_CG_H_MAX];
};

const char *cg_mode_to_string(enum cg_mode m);
const char *cg_hier_to_string(enum cg_hier h);

/* Discovers the cgroup layout from /proc/self/mountinfo, /proc/self/cgroup and statfs. */
int cg_sysinfo_discover(struct cg_sysinfo *ret);
void cg_sysinfo_done(struct cg_sysinfo *s);

/* The v1 part of discovery on given texts of /proc/self/mountinfo and /proc/self/cgroup
 * (both modified): fills mount, own and alias of *s (which must start zeroed; free with
 * cg_sysinfo_done) and sets mode to CG_MODE_V1. -ENODEV when no hierarchy of corral's is
 * usable. */
int cg_sysinfo_parse_v1(char *mountinfo, char *proc_cgroup, struct cg_sysinfo *s);

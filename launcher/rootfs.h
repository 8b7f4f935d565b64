/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Filesystem isolation of a workload: its own root, overlay layers, a private /tmp and bind
 * mounts, all inside a mount namespace of its own so nothing propagates back to the host.
 *
 * Two modes, chosen by the configuration:
 *
 *   root mode (root_directory or layers set): a new root is built and entered with
 *     pivot_root(2); the old root is detached, so no host path stays reachable by name.
 *     The new root gets a fresh /proc, a minimal /dev (null zero full random urandom tty,
 *     pts, shm, ptmx) and a read-only /sys. Mount points missing in the tree (proc, dev,
 *     sys, tmp, var/tmp, bind targets) are created in it: in RootDirectory itself, or in
 *     the overlay's writable layer.
 *
 *   host mode (neither set): the host's tree is kept, and only PrivateTmp, the binds and
 *     the read-only paths are applied on it (in the private namespace). Mount points must
 *     exist: nothing is ever created on the host. /proc is left to the launcher's init.
 *
 * What launch_fs_enter does not do, and the caller must: close or mark close-on-exec every
 * fd above 2 before exec (an inherited fd on a host directory would reach the host through
 * fchdir/openat, whatever the root is), and run the workload in a PID namespace of its own
 * (enforced in root mode: a /proc of the host's PID namespace would expose every host
 * process's root through /proc/PID/root).
 */

#include <stdbool.h>

#include "core/error.h"
#include "policy/policy.h"

/* The configuration is struct pol_fs ([Filesystem] of a policy, policy/policy.h): plain
 * data that the policy parser fills and pol_fs_free() frees. */
#define LAUNCH_FS_LAYERS_MAX POL_FS_LAYERS_MAX

/* True when fs asks for anything at all (the launcher may skip launch_fs_enter otherwise). */
bool launch_fs_wanted(const struct pol_fs *fs);

/* One problem found by launch_fs_check. Strings are valid during the callback only. */
struct launch_fs_problem {
    const char *key;    /* policy key: "RootDirectory", "Layers", "Writable", ... */
    const char *value;  /* the offending value (one layer, one bind spec, ...) */
    int error;          /* negative errno: -ENOENT, -ENOTDIR, -EPERM, -ELOOP, -ENODEV, ... */
    const char *reason; /* human text, without the key or the value */
};

typedef void (*launch_fs_problem_fn)(const struct launch_fs_problem *p, void *userdata);

/*
 * Check-time validation (`corral check`), no mount done: exclusive or missing keys, root or
 * layer or writable dir missing, not a directory, not canonical (a symlink on the way:
 * -ELOOP), writable by others while running as root (-EPERM), a bind source missing,
 * relative paths, and overlayfs unknown to the kernel (-ENODEV). Calls report (may be
 * NULL) once per problem; returns 0 when there is none, else the error of the first.
 */
int launch_fs_check(const struct pol_fs *fs, launch_fs_problem_fn report, void *userdata);

/*
 * Check-time validation of [Process] WorkingDirectory= (key "WorkingDirectory"): that it
 * exists and is a directory as the workload will see it: on the host, inside
 * RootDirectory=, under a bind's source, or refused inside PrivateTmp's empty /tmp. With
 * Layers= it is known only once mounted (run names the path if the change fails).
 */
int launch_workdir_check(const struct pol_policy *p, launch_fs_problem_fn report, void *userdata);

/*
 * Builds and enters the workload's filesystem. Call in the child, single-threaded, as root
 * (CAP_SYS_ADMIN), before dropping privileges; in root mode inside a PID namespace of its
 * own. It first unshares a mount namespace of its own and makes every mount in it private
 * (MS_REC|MS_PRIVATE), so whatever happens next, nothing reaches the caller's namespace.
 * It does not call malloc (usable in a raw clone), and leaves no fd open.
 *
 * Returns 0, the cwd then being "/", or a negative errno with e->detail telling the step
 * and the path ("BindPaths=/srv/data:/data: target /data"). On failure the process's
 * mounts are in an undefined state: _exit().
 */
int launch_fs_enter(const struct pol_fs *fs, struct cg_err *e);

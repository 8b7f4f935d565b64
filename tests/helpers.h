/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Test helpers. Integration tests run on the real cgroupfs, as root, under a root nested
 * beneath the test process's own cgroup: ./corral-test-<runner pid>-<worker pid>. Each
 * test's .fini removes its root; a report hook in the runner process removes any such
 * root left by a test that crashed, so no test group survives the binary, pass or fail.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "core/cgroup.h"

/* Skips the calling test (cr_skip_test) unless running as root with a usable cgroupfs. */
void th_require_cgroups(void);
/* Skips unless the running system is cgroup v2 (or v1/hybrid). */
void th_require_v2(void);
void th_require_v1(void);

/* The test's root argument ("./corral-test-R-W") and a context bound to it (created on
 * first use; freed by th_teardown). */
const char *th_root_arg(void);
struct cg_ctx *th_ctx(void);

/* Criterion .init/.fini for integration suites. */
void th_setup(void);
void th_teardown(void);

/* Forks a child that waits on a pipe; returns its pid. th_release() lets it go on to run
 * fn(arg) and _exit with its result. Used to place a process before it does anything. */
pid_t th_fork_held(int (*fn)(void *), void *arg, int *ret_release_fd);
void th_release(int release_fd);

/* Kills and reaps a child started by the helpers. */
void th_kill_wait(pid_t pid);

/* Reads /proc/PID/cgroup and returns the path in hierarchy `controller` ("cpu", "memory"
 * ..., or "" for the v2 line), malloc'ed, or NULL. */
char *th_proc_cgroup(pid_t pid, const char *controller);

/* Absolute cgroupfs directory of group `path` (relative to the test root) in hierarchy h.
 * Owned by the helpers (freed at teardown): do not free it. */
char *th_group_dir(enum cg_hier h, const char *path);

/* The kernel's file `file` of group `grp` in hierarchy h, read by absolute path; a
 * malloc'ed string without the trailing newline, or NULL if it does not exist. */
char *th_kread(enum cg_hier h, const char *grp, const char *file);

/* Asserts that the kernel reports exactly `want` in that file. */
void th_assert_file(enum cg_hier h, const char *grp, const char *file, const char *want);

/* Total CPU time (utime+stime, ns) of a process from /proc/PID/stat; 0 on error. */
unsigned long long th_proc_cpu_ns(pid_t pid);

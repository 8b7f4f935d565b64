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

/*
 * The fixture of suites that run the built binaries: a temporary directory (0755) with an
 * empty corral.conf "none.conf" in it, the paths of corral and corrald, and children to
 * kill and reap at the end. th_env_setup is the suite's .init (with th_setup), and
 * th_env_teardown its .fini (with th_teardown); paths are "" without CORRAL_BUILD_ROOT.
 */
struct th_env {
    char tmpdir[64];
    char corral[512], corrald[512];
    pid_t kids[4];
};
void th_env_setup(struct th_env *env, const char *tag);
void th_env_teardown(struct th_env *env);
/* Writes DIR (made 0755 under env->tmpdir) with the n policies NAMES[i].policy. */
void th_env_policies(const struct th_env *env, const char *dir, const char *const *names,
                     const char *const *texts, size_t n);
bool th_dir_exists(const char *path);
/* "corral --root ROOT --policy-dir TMP/DIR --config TMP/none.conf --ledger TMP/ledger.db"
 * and the rest, through the shell (th_sh); its exit status. */
#define TH_ENV_CORRAL(env, root, dir, fmt, ...)                                                    \
    th_sh("%s --root '%s' --policy-dir %s/%s --config %s/none.conf --ledger %s/ledger.db " fmt,    \
          (env)->corral, root, (env)->tmpdir, dir, (env)->tmpdir, (env)->tmpdir, ##__VA_ARGS__)
/* The file `name` of env's directory, as th_slurp reads it. */
char *th_env_read(const struct th_env *env, const char *name);

/* th_require_cgroups, then skips unless the built binary at path (may be "") is there;
 * makes the test's context (so .fini removes the root whatever made it). */
void th_require_binary(const char *path);
/* Runs the formatted command through /bin/sh; asserts it exited, returns its status. */
int th_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same in the background: returns the shell's pid (th_wait_child, th_kill_wait). */
pid_t th_sh_bg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fresh directory /tmp/corral-TAG-XXXXXX, mode 0755 whatever the umask, into buf. */
void th_mkdtemp(char *buf, size_t size, const char *tag);
/* Removes such a directory and everything in it; nothing when dir is "". */
void th_rmtree(const char *dir);
/* A whole file as a malloc'ed string; "" (malloc'ed) when it cannot be read. */
char *th_slurp(const char *path);
/* Writes text to path, created or truncated, then sets mode. */
void th_write_file(const char *path, const char *text, mode_t mode);
/* Waits up to `seconds` for the child *pid to end, polling: true when it did, with its
 * status in *ret_status (optional) and *pid set to -1. */
bool th_wait_child(pid_t *pid, int *ret_status, int seconds);

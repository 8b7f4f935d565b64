/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * corral's runtime directory and its locks.
 *
 * The runtime directory is $CORRAL_RUNTIME_DIR, else /run/corral: like the cgroups it
 * describes, it is gone after a reboot. corral creates it and its subdirectories 0755
 * and refuses one that is a symlink, not owned by root (or the caller), or writable by
 * group or others: what is in it decides what corral may remove.
 *
 * A lock is flock(2) on a file in its "lock" subdirectory, opened O_NOFOLLOW|O_CLOEXEC.
 * Its holder writes "PID WHAT" into the file once it has the lock, so that a waiter that
 * gives up can say who holds it. A waiter polls with LOCK_NB and sleeps on inotify between
 * attempts (a holder touches the file when it lets go), so it takes the lock as soon as it
 * is free and gives up at its deadline; a lock held by a daemon (WHAT is CG_LOCK_DAEMON) is
 * not waited for, since a daemon holds it for as long as it runs.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

struct cg_ctx;

#define CG_RUNTIME_DIR_DEFAULT "/run/corral"
#define CG_LOCK_DAEMON         "corrald"
/* What a writer waits for the root's lock unless told otherwise (--lock-timeout). */
#define CG_LOCK_TIMEOUT_DEFAULT_USEC (10 * 1000000ULL)

/* Opens subdirectory sub of the runtime directory (O_PATH is not enough for a listing:
 * the fd is O_RDONLY|O_DIRECTORY). With create, makes what is missing (0755). -ENOENT
 * when missing without create; -EPERM (with e) for a directory that cannot be trusted. */
int cg_runtime_open(const char *sub, bool create, int *ret_fd, struct cg_err *e);

struct cg_lock;

struct cg_lock_holder {
    pid_t pid;      /* 0 when the file says nothing (yet) */
    char what[128]; /* "corral apply", "corrald", ... */
};

/*
 * Takes the lock `name` in the directory dirfd, waiting up to timeout_usec (0: one
 * attempt). who ("corral apply") goes into the file with our pid. On -ETIMEDOUT, or
 * -EBUSY when a daemon holds it, *ret_holder (optional) says who holds it.
 */
int cg_lock_take(int dirfd, const char *name, const char *who, uint64_t timeout_usec,
                 struct cg_lock **ret, struct cg_lock_holder *ret_holder);
/* Lets go (and wakes the waiters) and frees l; NULL is fine. */
void cg_lock_release(struct cg_lock *l);
DEFINE_POINTER_CLEANUP(struct cg_lock, cg_lock_release)

/* Who holds (or last held) the lock of ctx's root; -ENOENT when nobody ever took it. */
int cg_root_lock_holder(struct cg_ctx *ctx, struct cg_lock_holder *ret);

/*
 * The one-writer lock of ctx's root (lock/<root id>). -ETIMEDOUT after timeout_usec, or
 * -EBUSY at once when corrald holds it; e->detail names the holder and *ret_holder
 * (optional) holds it.
 */
int cg_root_lock(struct cg_ctx *ctx, const char *who, uint64_t timeout_usec, struct cg_lock **ret,
                 struct cg_lock_holder *ret_holder, struct cg_err *e);

/* Removes the root's lock file if nobody holds it (for a root that is gone). */
void cg_root_lock_forget(struct cg_ctx *ctx);

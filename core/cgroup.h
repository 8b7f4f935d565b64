/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The corral root, its groups, and the backend that manages them.
 *
 * A struct cg_ctx is made once per process: it discovers the layout, picks the backend
 * (v2, or v1/hybrid) once, and resolves the root. A struct cg_group is an open group: it
 * keeps one directory fd per hierarchy (one in all on v2) for as long as it lives, and
 * every file operation goes through those fds with openat(), never through string paths.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/hierarchy.h"

struct cg_ctx;
struct cg_group;

/*
 * Placement of a process that does not exist yet, prepared by the parent before (or, with
 * CG_PLACE_SELF, while) it creates the child. How is fixed per manager:
 *  - CG_PLACE_CLONE: the child is created inside the group (cgroup v2: clone3() with
 *    CLONE_INTO_CGROUP and clone_fd). The group must exist before the clone.
 *  - CG_PLACE_SELF: the child moves itself by writing "0" to each fd of self[] (cgroup
 *    v1: the group's "tasks" files, see cg_self_attach). The fds may be handed to a child
 *    cloned before the group existed, so the group can be made while the kernel builds
 *    the child's namespaces.
 * Either way a process that exists already is placed with cg_group_attach (by pid).
 * Unused fds are -1; cg_place_close closes what cg_group_place_prepare opened.
 */
enum cg_place_how {
    CG_PLACE_CLONE,
    CG_PLACE_SELF,
};

struct cg_place {
    int clone_fd;
    int self[_CG_H_MAX];
};

/*
 * The manager of the tree: the one place that knows how groups are made, entered,
 * emptied and removed. The cgroupfs managers (v1/hybrid and v2) are chosen once by
 * cg_ctx_new from the discovered mode; a manager that works through another owner of
 * the tree (systemd transient units) fits behind the same table. Every op returns 0 or
 * a negative errno and fills e (when given) with the group and file that failed; none
 * exits or logs for the caller.
 */
struct cg_backend {
    const char *name;
    /* How a child-to-be is placed (see cg_place above). */
    enum cg_place_how place_how;
    /* The file names and value forms of the groups' files (cg_ctx_vocab). */
    enum cg_vocab vocab;
    /* The file of a group whose modification (inotify IN_MODIFY) tells that populated
     * changed, or NULL when the manager has none (v1). */
    const char *events_file;
    /* The leaf prepare_base moves the caller into when the root nests under the caller's
     * own group (v2: CG_V2_LEAF, core/internal.h), or NULL when it needs none. A caller
     * already in it nests beside it. */
    const char *self_leaf;
    /* Makes the root usable (v2: moves the caller into a leaf, enables controllers).
     * Idempotent. */
    int (*prepare_base)(struct cg_ctx *ctx, struct cg_err *e);
    /* Creates (or opens) child `name` of parent in every hierarchy; *ret_created says
     * whether it was made now. On failure nothing that this call made is left behind and
     * child holds no fds. */
    int (*create)(struct cg_group *parent, const char *name, bool *ret_created,
                  struct cg_group *child, struct cg_err *e);
    /* Moves existing process pid (all its threads) into g in every hierarchy. -EBUSY on
     * v2 when g has children (no internal processes); -ESRCH when pid is gone. */
    int (*attach)(struct cg_group *g, pid_t pid, struct cg_err *e);
    /* Fills p (all fds -1 first) for a child-to-be to enter g, the way place_how says. The
     * fds are the caller's, CLOEXEC, and stay valid if g is freed. */
    int (*place_prepare)(struct cg_group *g, struct cg_place *p, struct cg_err *e);
    /* Direct member processes (v1: the union over hierarchies), sorted, no duplicates. */
    int (*pids)(struct cg_group *g, pid_t **ret, size_t *ret_n);
    /* 1 when any process lives in the group or below, 0 when none, negative on error. */
    int (*populated)(struct cg_group *g);
    /* SIGKILLs every process in the group and below and waits until it is empty (a
     * frozen group is thawed first); -ETIME or the like when it does not empty. */
    int (*kill)(struct cg_group *g, struct cg_err *e);
    /* Removes the group's directories; it must be empty and have no children (-EBUSY). */
    int (*remove)(struct cg_group *g, struct cg_err *e);
};

extern const struct cg_backend cg_backend_v1;
extern const struct cg_backend cg_backend_v2;

struct cg_ctx {
    struct cg_sysinfo sys;
    const struct cg_backend *be;
    /* The root as given (e.g. "corral", "/a/b", "./corral-test-1") and, per hierarchy,
     * its absolute path inside that hierarchy. */
    char *root_arg;
    char *root_path[_CG_H_MAX];
    /* The part of root_path that corral owns and may create or remove ("corral-test-1"),
     * and what it sits in (the caller's cgroup for "./", the hierarchy root otherwise). */
    char *root_rel;
    char *base_path[_CG_H_MAX];
    /* The root, once opened: later cg_root_open() calls hand out duplicates of its fds
     * instead of walking every hierarchy from its mount again (after checking it still
     * exists, so a root removed and re-created behind a long-lived process is reopened). */
    struct cg_group *root_cache;
    /* core/roots.h: the root's id (computed once) and the other roots found inside it
     * (cg_roots_load_inside), paths relative to the root. */
    char *root_id;
    char **roots_inside;
};

/* Discovers the system and resolves root (NULL: $CORRAL_ROOT, else "corral"; an empty
 * root, given or in the environment, is -EINVAL). Touches nothing. */
int cg_ctx_new(const char *root, struct cg_ctx **ret, struct cg_err *e);
void cg_ctx_free(struct cg_ctx *ctx);
DEFINE_POINTER_CLEANUP(struct cg_ctx, cg_ctx_free)

bool cg_ctx_is_v2(const struct cg_ctx *ctx);
/* How the context's manager places a child-to-be (cg_place). Callers decide by this, not
 * by the cgroup version, whether the group must exist before the clone. */
enum cg_place_how cg_ctx_place_how(const struct cg_ctx *ctx);
/* The file vocabulary of the running cgroup version (hybrid speaks v1's). */
enum cg_vocab cg_ctx_vocab(const struct cg_ctx *ctx);
/* The file whose change signals a change of populated (v2: "cgroup.events"), or NULL when
 * the manager offers none and populated must be polled. */
const char *cg_ctx_events_file(const struct cg_ctx *ctx);
/* The hierarchy whose directory hierarchy h uses: h itself, the one it is co-mounted with
 * on v1 ("cpu,cpuacct"), the first on v2; -1 when h is missing. Index of cg_group_fd's fd. */
int cg_ctx_slot_of(const struct cg_ctx *ctx, enum cg_hier h);
/* Whether hierarchy h exists here (always true on v2 for the ones in cgroup.controllers). */
bool cg_ctx_has(const struct cg_ctx *ctx, enum cg_hier h);

/* Opens what the root sits in: the caller's own cgroup for "./" roots (its parent when the
 * caller sits in corral's v2 leaf), the hierarchy root otherwise. Never created. */
int cg_base_open(struct cg_ctx *ctx, struct cg_group **ret, struct cg_err *e);

/* Opens the corral root; with create, creates it (and prepares the base) if missing. */
int cg_root_open(struct cg_ctx *ctx, bool create, struct cg_group **ret, struct cg_err *e);

/* Whether g has its directory in every hierarchy the context has: false for a group made
 * before an optional hierarchy (cpuset) appeared, which opens with none there until an
 * apply (or any create) makes it. */
bool cg_group_complete(const struct cg_group *g);

/* Opens group `path` (relative to the root, validated); with create, creates every
 * missing level. ret_created (optional) tells whether the last level was created. */
int cg_group_open(struct cg_ctx *ctx, const char *path, bool create, struct cg_group **ret,
                  bool *ret_created, struct cg_err *e);
/* Opens or creates a direct child of an open group. */
int cg_group_child(struct cg_group *parent, const char *name, bool create, struct cg_group **ret,
                   bool *ret_created, struct cg_err *e);
void cg_group_free(struct cg_group *g);
/* A second handle on the same group (fds duplicated), or on its parent (not above the root's base).
 */
int cg_group_dup(const struct cg_group *g, struct cg_group **ret);
int cg_group_parent(const struct cg_group *g, struct cg_group **ret);
DEFINE_POINTER_CLEANUP(struct cg_group, cg_group_free)

/* The directory fd for hierarchy h, or -1 (v2: the one fd). */
int cg_group_fd(const struct cg_group *g, enum cg_hier h);
/* The group's path relative to the corral root ("" for the root itself) and its context. */
const char *cg_group_path(const struct cg_group *g);
struct cg_ctx *cg_group_ctx(const struct cg_group *g);

int cg_group_write(struct cg_group *g, enum cg_hier h, const char *file, const char *value,
                   struct cg_err *e);
int cg_group_read(struct cg_group *g, enum cg_hier h, const char *file, char *buf, size_t size);

int cg_group_attach(struct cg_group *g, pid_t pid, struct cg_err *e);

/* Prepares the placement of a child-to-be into g (struct cg_place above), through the
 * context's manager; on failure p holds no fds. cg_place_close closes them and resets p
 * (all -1), as does cg_place_init. */
int cg_group_place_prepare(struct cg_group *g, struct cg_place *p, struct cg_err *e);
void cg_place_init(struct cg_place *p);
void cg_place_close(struct cg_place *p);

/*
 * Self-placement, v1 only: a single-threaded process moves itself by writing "0" to the
 * group's "tasks" file. The kernel then needs neither the global threadgroup lock nor the
 * RCU grace period that taking it for writing costs, which writing another pid to
 * cgroup.procs does (13-15 ms on the first move after a pause, on this project's machines;
 * about 30 us this way). cg_group_open_self_attach opens those files write-only (the
 * kernel checks the opener's credentials) into fds[h], -1 where a hierarchy is missing;
 * -EOPNOTSUPP on v2, which places through clone3(CLONE_INTO_CGROUP) instead.
 * cg_self_attach runs in the process that moves: write(2) only, no allocation; on failure
 * it returns -errno and the failed hierarchy in *ret_h.
 */
int cg_group_open_self_attach(struct cg_group *g, int fds[_CG_H_MAX], struct cg_err *e);
int cg_self_attach(const int fds[_CG_H_MAX], int *ret_h);
void cg_self_attach_close(int fds[_CG_H_MAX]);
int cg_group_pids(struct cg_group *g, pid_t **ret, size_t *ret_n);
int cg_group_populated(struct cg_group *g);
int cg_group_kill(struct cg_group *g, struct cg_err *e);

/* Child group names (only valid corral names; anything else is not ours and is skipped),
 * sorted. *ret is a NULL-terminated malloc'ed array. */
int cg_group_children(struct cg_group *g, char ***ret);
/* The same for the directory dfd of one hierarchy (O_PATH will do); *ret_n (optional) is
 * the number of names. */
int cg_children_at(int dfd, char ***ret, size_t *ret_n);
void cg_strv_free(char **v);
DEFINE_POINTER_CLEANUP(char *, cg_strv_free)

/*
 * Ends of a group's life are serialised between processes with flock(2) on its
 * directory (the first hierarchy's): `corral remove` holds the lock of every group it
 * removes from before it kills until after its rmdir, and `corral run` takes its
 * instance's once the command has exited, before it reads the final usage. Whoever comes
 * second finds the group gone instead of racing the first through kill, record and
 * rmdir. cg_group_lock waits for the lock; it returns the fd that holds it (close it to
 * release), or -ENOENT, with the lock released, when the group was removed meanwhile.
 */
int cg_group_lock(struct cg_group *g, int *ret_fd);

/* Removes an empty leaf group. -EBUSY if it still holds processes or children. */
int cg_group_remove(struct cg_group *g, struct cg_err *e);

/* Called for a group of a walk; a negative return stops it. */
typedef int (*cg_group_visit_fn)(void *userdata, struct cg_group *g, struct cg_err *e);

/* Visits every group below g and then g itself, deepest first. */
int cg_group_walk_post(struct cg_group *g, cg_group_visit_fn fn, void *userdata, struct cg_err *e);

/* Removes the group and every group below it, deepest first. With kill, kills processes
 * first; without, refuses with -EBUSY (nothing removed) if any process lives there. A
 * group that is or holds another corral root (core/roots.h) is refused with -EBUSY.
 * before_remove (optional) is called once on the emptied group before any directory
 * goes; if it fails, nothing is removed. */
int cg_group_remove_tree(struct cg_ctx *ctx, const char *path, bool kill,
                         cg_group_visit_fn before_remove, void *userdata, struct cg_err *e);

/* Removes the whole corral root (kills what runs there), its registry entry and its lock
 * file. For tests and the demo. Missing root is not an error. */
int cg_root_destroy(struct cg_ctx *ctx, struct cg_err *e);

/* Resolves a user's TARGET to a group path relative to the root: "class/workload[/instance]"
 * as is, or "workload[/instance]" by finding the one class that holds that workload.
 * -ENOENT when no group matches, -EINVAL for a malformed target. */
int cg_resolve_target(struct cg_ctx *ctx, const char *target, char **ret_path, struct cg_err *e);

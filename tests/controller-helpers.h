/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the controllers' integration suites share: groups under the test root, applying
 * one controller, and child processes that run, or hold memory, in a group. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "controllers/controller.h"
#include "core/txn.h"

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)

/* Shared with the children (MAP_SHARED): a busy loop's counter, a toucher's ready flag. */
struct shared {
    volatile uint64_t counter;
    volatile int ready;
};
struct shared *shared_new(void);

/* Creates group path under the test root (asserts). */
struct cg_group *mkgroup(const char *path);
void skip_unless_file(enum cg_hier h, const char *grp, const char *file);
/* c's apply on g in a fresh transaction t (not committed). */
int apply(const struct ctl_controller *c, struct cg_group *g, const struct ctl_settings *s,
          struct cg_txn *t, struct ctl_warnings *w, struct cg_err *e);
/* Applies and commits (forgets the transaction); asserts success; the writes made. */
unsigned apply_ok(const struct ctl_controller *c, struct cg_group *g, const struct ctl_settings *s);
bool v2(void);

/* Children: busy spins on the counter; toucher locks 32 MiB and sets ready. */
int busy(void *arg);
int toucher(void *arg);
void wait_ready(struct shared *s);
/* Starts fn in group path and returns its pid once it runs there. */
pid_t start_in(const char *path, int (*fn)(void *), struct shared *s);
void sleep_ms(long ms);

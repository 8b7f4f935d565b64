/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the policy engine's integration suites share: a private policy directory (pdir),
 * made and removed by policy_setup/policy_teardown (with the test root, tests/helpers.h),
 * loading and applying it, and reading the kernel's files behind apply's back.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "core/txn.h"
#include "policy/apply.h"
#include "policy/policy.h"

extern char pdir[64];

void policy_setup(void);
void policy_teardown(void);

bool v2(void);
/* Writes pdir/name (0644); NULL text removes it. */
void put(const char *name, const char *text);

struct loaded {
    struct pol_config cfg;
    struct pol_set set;
    struct pol_diags diags;
};
/* Loads pdir, with conf as its corral.conf when not NULL. */
void load(struct loaded *l, const char *conf);
void unload(struct loaded *l);
/* Loads and applies pdir; returns the writes made; asserts success. */
unsigned apply_ok(const char *conf, struct pol_apply_result *res);

bool group_exists(const char *grp);
bool root_exists(void);

/* A policy that sets every key, and a corral.conf with two classes. */
extern const char web_policy[];
extern const char config[];

/* Writes value the way a program does (open O_WRONLY, one write, no O_TRUNC), which on
 * kernfs leaves the file's mtime as it was: apply must not trust timestamps. */
void kwrite_behind(enum cg_hier h, const char *grp, const char *file, const char *value);

/* Starts a process holding mib MiB it cannot give back in group path (created), once its
 * memory is charged. */
pid_t start_hog(const char *path, unsigned mib);

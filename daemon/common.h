/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What corral and corrald share: the exit codes, the global options and their
 * environment variables, and the opening of what both work on (the cgroup context,
 * corral.conf and the policies, the ledger). Nothing here prints: errors come back as
 * negative errnos with a struct cg_err, and each program says them its own way.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (DESIGN.md). A child's own status goes through `run`. */
enum {
    EXIT_OK = 0,
    EXIT_INVALID = 1, /* invalid input or policy */
    EXIT_USAGE = 2,   /* usage error */
    EXIT_SYSTEM = 3,  /* cgroupfs, permissions, ledger */
    EXIT_TIMEOUT = 4,
};

/* Maps a negative errno to the exit code: -EINVAL and friends -> 1, -ETIMEDOUT -> 4,
 * anything else -> 3. */
int corral_exit_code(int r);

/* The global options of both programs. */
struct corral_paths {
    const char *root;       /* --root, $CORRAL_ROOT (cg_ctx_new), default "corral" */
    const char *config;     /* --config, $CORRAL_CONFIG, default /etc/corral/corral.conf */
    const char *policy_dir; /* --policy-dir, $CORRAL_POLICY_DIR, default /etc/corral/policies.d */
    const char *ledger;     /* --ledger, $CORRAL_LEDGER, default /var/lib/corral/ledger.db */
    bool config_given;      /* --config or $CORRAL_CONFIG: then a missing file is an error */
    uint64_t lock_timeout_usec; /* --lock-timeout, $CORRAL_LOCK_TIMEOUT, default 10 s */
};

/* The defaults and the environment. A $CORRAL_LOCK_TIMEOUT that is not a duration is
 * -EINVAL, with *ret filled otherwise. */
int corral_paths_from_env(struct corral_paths *ret);

/* --lock-timeout's and $CORRAL_LOCK_TIMEOUT's value ("10s", "500ms", "0"): 0 or -EINVAL. */
int corral_parse_lock_timeout(const char *s, uint64_t *ret);

/* The Account= of workload in set (NULL: no set), or NULL when it names none. */
struct pol_set;
const char *corral_account(const struct pol_set *set, const char *workload);

/* The opening of what both programs work on, with the paths of p. */
struct cg_ctx;
struct cg_err;
struct pol_config;
struct pol_diags;
struct acct_ledger;
/* The system's hierarchies and the root (cg_ctx_new). */
int corral_ctx_open(const struct corral_paths *p, struct cg_ctx **ret, struct cg_err *e);
/* corral.conf and the policies: the given files, or every *.policy of the policy dir
 * (pol_load_all). The problems are in diags; the set is usable only when diags->n == 0. */
int corral_load_policies(const struct corral_paths *p, char *const *files, size_t n_files,
                         struct pol_config *cfg, struct pol_set *set, struct pol_diags *diags);
/* The ledger, with acct_ledger_open's flags. */
int corral_ledger_open(const struct corral_paths *p, unsigned flags, struct acct_ledger **ret,
                       struct cg_err *e);

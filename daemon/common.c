/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/ledger.h"
#include "config.h"
#include "core/cgroup.h"
#include "core/lock.h"
#include "daemon/common.h"
#include "policy/policy.h"
#include "policy/units.h"

int corral_exit_code(int r)
{
    switch (r) {
    case 0:
        return EXIT_OK;
    case -EINVAL:
    case -ENAMETOOLONG:
    case -ERANGE:
    case -ENOENT:
    case -ESRCH:
        return EXIT_INVALID;
    case -ETIMEDOUT:
        return EXIT_TIMEOUT;
    default:
        return EXIT_SYSTEM;
    }
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

int corral_paths_from_env(struct corral_paths *ret)
{
    const char *lt = getenv("CORRAL_LOCK_TIMEOUT");
    const char *cf = getenv("CORRAL_CONFIG");

    *ret = (struct corral_paths){
        .root = NULL, /* cg_ctx_new: $CORRAL_ROOT, else "corral"; empty is refused */
        .config = env_or("CORRAL_CONFIG", CORRAL_DEFAULT_CONFIG),
        .policy_dir = env_or("CORRAL_POLICY_DIR", CORRAL_DEFAULT_POLICY_DIR),
        .ledger = env_or("CORRAL_LEDGER", CORRAL_DEFAULT_LEDGER),
        .config_given = cf && *cf,
        .lock_timeout_usec = CG_LOCK_TIMEOUT_DEFAULT_USEC,
    };
    if (lt && *lt && corral_parse_lock_timeout(lt, &ret->lock_timeout_usec) < 0)
        return -EINVAL;
    return 0;
}

int corral_parse_lock_timeout(const char *s, uint64_t *ret)
{
    if (s && strcmp(s, "0") == 0) {
        *ret = 0;
        return 0;
    }
    return pol_parse_duration(s, ret) < 0 ? -EINVAL : 0;
}

const char *corral_account(const struct pol_set *set, const char *workload)
{
    const struct pol_policy *p = set ? pol_set_find(set, workload) : NULL;

    return p && p->account[0] ? p->account : NULL;
}

int corral_ctx_open(const struct corral_paths *p, struct cg_ctx **ret, struct cg_err *e)
{
    return cg_ctx_new(p->root, ret, e);
}

int corral_load_policies(const struct corral_paths *p, char *const *files, size_t n_files,
                         struct pol_config *cfg, struct pol_set *set, struct pol_diags *diags)
{
    return pol_load_all(p->config, p->config_given, p->policy_dir, files, n_files, cfg, set, diags);
}

int corral_ledger_open(const struct corral_paths *p, unsigned flags, struct acct_ledger **ret,
                       struct cg_err *e)
{
    return acct_ledger_open(p->ledger, flags, ret, e);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The workload's environment, built in the parent. Passed through by default; with
 * Environment=clear only a default PATH is kept. With User= the identity variables
 * (USER, LOGNAME, HOME, SHELL) always describe the new user, as runuser(1) does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/env.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const char *launch_env_path(char *const *env)
{
    for (char *const *p = env; p && *p; p++)
        if (strncmp(*p, "PATH=", 5) == 0)
            return *p + 5;
    return DEFAULT_PATH + 5;
}

static const char *const identity[] = {"USER=", "LOGNAME=", "HOME=", "SHELL="};

static bool is_identity(const char *kv)
{
    for (size_t i = 0; i < ARRAY_SIZE(identity); i++)
        if (strncmp(kv, identity[i], strlen(identity[i])) == 0)
            return true;
    return false;
}

void launch_env_free(char **env)
{
    if (!env)
        return;
    for (char **p = env; *p; p++)
        free(*p);
    free(env);
}

int launch_env_build(char *const *base, bool clear, const struct launch_creds *c, char ***ret)
{
    size_t n = 0, k = 0;
    char **v;

    if (!clear)
        for (char *const *p = base; p && *p; p++)
            n++;
    v = calloc(n + 6, sizeof(char *));
    if (!v)
        return -ENOMEM;
    if (clear) {
        v[k] = strdup(DEFAULT_PATH);
        if (!v[k++])
            goto oom;
    } else
        for (char *const *p = base; p && *p; p++) {
            if (c->set_user && is_identity(*p))
                continue;
            v[k] = strdup(*p);
            if (!v[k++])
                goto oom;
        }
    if (c->set_user) {
        const char *vals[] = {c->user, c->user, c->home, c->shell};
        for (size_t i = 0; i < ARRAY_SIZE(identity); i++) {
            if (asprintf(&v[k], "%s%s", identity[i], vals[i]) < 0) {
                v[k] = NULL;
                goto oom;
            }
            k++;
        }
    }
    v[k] = NULL;
    *ret = v;
    return 0;
oom:
    launch_env_free(v);
    return -ENOMEM;
}

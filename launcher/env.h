/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "launcher/internal.h"

/* A NULL-terminated malloc'ed environment for the workload (see env.c). */
int launch_env_build(char *const *base, bool clear, const struct launch_creds *c, char ***ret);
void launch_env_free(char **env);
/* The value of PATH in env, or the default search path. */
const char *launch_env_path(char *const *env);

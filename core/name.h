/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "core/error.h"

#define CG_NAME_MAX 64

/* A group name at one level: [a-z0-9_-]{1,64}. "." and ".." can never match. */
bool cg_name_valid(const char *name);

/* 0 when name is valid; else -EINVAL (-ENAMETOOLONG when too long) with e->detail
 * saying which rule it broke, as "invalid WHAT 'NAME': REASON (names are
 * [a-z0-9_-]{1,64})", the first offending character shown as \xNN when not printable. */
int cg_name_check(const char *what, const char *name, struct cg_err *e);

/* A relative group path: one or more valid names separated by single '/'. No leading or
 * trailing '/', no empty component. Fills e with the offending component. */
int cg_path_validate(const char *path, struct cg_err *e);

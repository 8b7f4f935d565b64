/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Text for machine-readable output. JSON must be valid UTF-8, but file names, user
 * names and command lines are bytes: each byte that is not part of a valid UTF-8
 * sequence is written as the four characters "\xNN" (as systemd's cescape does), so
 * nothing is lost and the output always parses. jansson builds and writes every JSON
 * document of corral; cg_json_str is how a C string enters one.
 */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Whether s (NUL-terminated) is valid UTF-8: no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
bool cg_utf8_valid(const char *s);

/* A malloc'ed copy of s with every invalid byte escaped as "\xNN" (valid input is
 * copied as it is). NULL on allocation failure. */
char *cg_utf8_escape(const char *s);

/* A new JSON string of s, escaped as above; JSON null for a NULL s. NULL only when out
 * of memory. */
json_t *cg_json_str(const char *s);

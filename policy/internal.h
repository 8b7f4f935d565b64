/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the policy module's own files; not part of its interface. */

#include <stddef.h>

#include "policy/policy.h"

/* One key=value as inih hands it over, with the line it came from. */
typedef void (*pol_ini_fn)(void *user, const char *section, const char *key, const char *value,
                           unsigned line);

/* A section header met while reading; returns false when the section is unknown (the
 * callback reports it). */
typedef bool (*pol_ini_section_fn)(void *user, const char *section, unsigned line);

/*
 * Runs inih over text, with what inih itself does not give: the line of every key,
 * every syntax error (not only the first), whole-line comments only (a ';' after
 * whitespace inside a value is reported rather than silently cut off), duplicate keys
 * within a section, over-long lines, and leading whitespace treated as indentation
 * rather than as a continuation line.
 */
int pol_ini_parse(const char *file, const char *text, size_t len, pol_ini_section_fn on_section,
                  pol_ini_fn on_key, void *user, struct pol_diags *diags);

/*
 * Reads a whole file (at most 1 MiB) that corral trusts to tell it what to do. When
 * running as root it must be owned by root and not writable by group or others, like
 * sudo requires of sudoers; the refusal goes to diags (returns -EPERM). -ENOENT when it
 * does not exist (no diag: the caller decides whether that matters).
 */
int pol_read_trusted(const char *path, char **ret_text, size_t *ret_len, struct pol_diags *diags);
/* The same for `name` relative to the directory dirfd (AT_FDCWD: as pol_read_trusted);
 * path is what messages call the file. Saves looking up the directory again for each of
 * its files. */
int pol_read_trusted_at(int dirfd, const char *name, const char *path, char **ret_text,
                        size_t *ret_len, struct pol_diags *diags);

/* The same ownership and mode check for a directory fd (or file fd). */
int pol_check_trusted_fd(int fd, const char *path, bool is_dir, struct pol_diags *diags);

/* "Section.Key" of a ctl warning key that a policy wrote -> enum pol_key bit (0 unknown). */
unsigned pol_key_from_warning(const char *key);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the parsing suites share: a private directory (dir) made and removed by
 * parse_setup/parse_teardown, files written into it, and checks of diagnostics. */

#include <stdbool.h>

#include "policy/policy.h"

extern char dir[64];

void parse_setup(void);
void parse_teardown(void);

/* Writes dir/name (0644); the path is freed at teardown. */
char *put(const char *name, const char *text);
/* Whether a diagnostic for file at line contains needle. */
bool has(const struct pol_diags *d, const char *file, unsigned line, const char *needle);
void dump(const struct pol_diags *d);
#define EXPECT_DIAG(d, file, line, needle)                                                         \
    do {                                                                                           \
        if (!has(d, file, line, needle))                                                           \
            dump(d);                                                                               \
        cr_expect(has(d, file, line, needle), "no diagnostic %s:%u containing '%s'", file,         \
                  (unsigned)(line), needle);                                                       \
    } while (0)
int parse(const char *file, const char *text, struct pol_policy *p, struct pol_diags *d);
/* Loads dir as a set with the built-in classes. */
void load_set(struct pol_config *cfg, struct pol_set *set, struct pol_diags *d);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the parsing suites (test-policy-parse, test-policy-load) share. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/parse-helpers.h"

char dir[64];

void parse_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/corral-parse-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    (void)chmod(dir, 0755);
}

/* Paths handed out by put(), freed at teardown (LeakSanitizer runs the suite too). */
char *made[64];
size_t n_made;

void parse_teardown(void)
{
    char cmd[128];
    while (n_made > 0)
        free(made[--n_made]);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)system(cmd);
}

char *put(const char *name, const char *text)
{
    char *path;
    FILE *f;

    cr_assert_geq(asprintf(&path, "%s/%s", dir, name), 0);
    f = fopen(path, "we");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0644);
    cr_assert_lt(n_made, sizeof(made) / sizeof(made[0]));
    made[n_made++] = path;
    return path;
}

/* Finds a diagnostic for file at line whose message contains needle. */
bool has(const struct pol_diags *d, const char *file, unsigned line, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->d[i].file, file) && d->d[i].line == line && strstr(d->d[i].msg, needle))
            return true;
    return false;
}

void dump(const struct pol_diags *d)
{
    char buf[1024];
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "  %s\n", pol_diag_format(&d->d[i], buf, sizeof(buf)));
}

int parse(const char *file, const char *text, struct pol_policy *p, struct pol_diags *d)
{
    return pol_policy_parse_text(file, text, strlen(text), p, d);
}

void load_set(struct pol_config *cfg, struct pol_set *set, struct pol_diags *d)
{
    cr_assert_eq(pol_config_builtin(cfg), 0);
    cr_assert_eq(pol_set_load(dir, NULL, 0, cfg, set, d), 0);
    pol_diags_sort(d);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests: group names and paths, number and keyed-file parsing. No cgroupfs needed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fileio.h"
#include "core/name.h"

Test(name, valid_names)
{
    cr_assert(cg_name_valid("web"));
    cr_assert(cg_name_valid("run-123_a"));
    cr_assert(cg_name_valid("0"));
    char n64[65];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    cr_assert(cg_name_valid(n64));
}

Test(name, invalid_names)
{
    char n65[66];
    memset(n65, 'a', 65);
    n65[65] = '\0';
    cr_assert_not(cg_name_valid(""));
    cr_assert_not(cg_name_valid(NULL));
    cr_assert_not(cg_name_valid("."));
    cr_assert_not(cg_name_valid(".."));
    cr_assert_not(cg_name_valid("a/b"));
    cr_assert_not(cg_name_valid("Web"));
    cr_assert_not(cg_name_valid("a b"));
    cr_assert_not(cg_name_valid("a.b"));
    cr_assert_not(cg_name_valid(n65));
}

Test(name, check_says_which_rule_was_broken)
{
    char n65[66];
    struct cg_err e = {0};

    memset(n65, 'a', 65);
    n65[65] = '\0';
    cr_assert_eq(cg_name_check("instance name", "run-1_a", &e), 0);
    cr_assert_eq(cg_name_check("instance name", "", &e), -EINVAL);
    cr_assert(strstr(e.detail, "it is empty"), "%s", e.detail);
    cr_assert_eq(cg_name_check("instance name", NULL, &e), -EINVAL);
    cr_assert_eq(cg_name_check("instance name", n65, &e), -ENAMETOOLONG);
    cr_assert(strstr(e.detail, "65 characters, at most 64"), "%s", e.detail);
    cr_assert_eq(cg_name_check("instance name", "wEb", &e), -EINVAL);
    cr_assert(strstr(e.detail, "invalid instance name: character 2 is 'E'"), "%s", e.detail);
    cr_assert_eq(cg_name_check("instance name", "a\001", &e), -EINVAL);
    cr_assert(strstr(e.detail, "character 2 is \\x01"), "%s", e.detail);
    cr_assert(strstr(e.detail, "[a-z0-9_-]{1,64}"), "%s", e.detail);
}

Test(name, paths)
{
    struct cg_err e = {0};

    cr_assert_eq(cg_path_validate("high/web/run-1", &e), 0);
    cr_assert_eq(cg_path_validate("../x", &e), -EINVAL);
    cr_assert_str_eq(e.group, "../x");
    cr_assert(strstr(e.detail, "'..'") != NULL, "detail: %s", e.detail);
    cr_assert_eq(cg_path_validate("a//b", &e), -EINVAL);
    cr_assert_eq(cg_path_validate("/a", &e), -EINVAL);
    cr_assert_eq(cg_path_validate("a/", &e), -EINVAL);
    cr_assert_eq(cg_path_validate("", &e), -EINVAL);
    cr_assert_eq(cg_path_validate("a/./b", &e), -EINVAL);
}

Test(fileio, parse_u64)
{
    uint64_t v = 0;

    cr_assert_eq(cg_parse_u64("2147483648\n", &v), 0);
    cr_assert_eq(v, 2147483648ULL);
    cr_assert_eq(cg_parse_u64("max", &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(cg_parse_u64("-1", &v), -EINVAL);
    cr_assert_eq(cg_parse_u64("12x", &v), -EINVAL);
    cr_assert_eq(cg_parse_u64("", &v), -EINVAL);
    cr_assert_eq(cg_parse_u64("99999999999999999999999", &v), -ERANGE);
}

Test(fileio, keyed)
{
    uint64_t v = 0;
    const char *text = "usage_usec 1200\nuser_usec 800\nsystem_usec 400\nnr_periods 0\n";

    cr_assert_eq(cg_keyed_u64(text, "user_usec", &v), 0);
    cr_assert_eq(v, 800);
    cr_assert_eq(cg_keyed_u64(text, "usage_usec", &v), 0);
    cr_assert_eq(v, 1200);
    cr_assert_eq(cg_keyed_u64(text, "usec", &v), -ENODATA);
    cr_assert_eq(cg_keyed_u64("populated 0\nfrozen 1\n", "frozen", &v), 0);
    cr_assert_eq(v, 1);
}

/* A symlink planted anywhere on the way is refused (a fake tree stands in for cgroupfs,
 * which does not let anyone create symlinks; the walk is the same code). */
Test(fileio, open_beneath_refuses_symlinks)
{
    char tmpl[] = "/tmp/corral-name-XXXXXX";
    char *dir = mkdtemp(tmpl), p[256];
    int dfd, fd;

    cr_assert_not_null(dir);
    snprintf(p, sizeof(p), "%s/a", dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/a/link", dir);
    cr_assert_eq(symlink("/etc", p), 0);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);

    fd = cg_open_beneath(dfd, "a", 0, NULL);
    cr_assert_geq(fd, 0);
    close(fd);
    /* O_NOFOLLOW|O_DIRECTORY on a symlink: ELOOP or ENOTDIR depending on the kernel */
    int r = cg_open_beneath(dfd, "a/link", 0, NULL);
    cr_assert(r == -ELOOP || r == -ENOTDIR, "symlink followed (%d)", r);
    r = cg_open_beneath(dfd, "a/link/x", 0755, NULL);
    cr_assert(r == -ELOOP || r == -ENOTDIR, "symlink followed (%d)", r);
    cr_assert_eq(cg_open_beneath(dfd, "a/../a", 0, NULL), -EPERM);

    bool created = false;
    fd = cg_open_beneath(dfd, "a/b/c", 0755, &created);
    cr_assert_geq(fd, 0);
    cr_assert(created);
    close(fd);
    close(dfd);
    snprintf(p, sizeof(p), "rm -rf '%s'", dir);
    cr_assert_eq(system(p), 0);
}

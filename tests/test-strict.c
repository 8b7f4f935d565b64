/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of what the policy reader refuses that inih would accept, and of what it
 * must never do with hostile input: block on a FIFO, follow a symlink out of the policy
 * directory, echo a whole line, or take more than linear time. Also the values the kernel
 * would store as something else (memory below a page, ids out of range). Files live in a
 * private temporary directory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"
#include "policy/units.h"

static char dir[64], pdir[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/corral-strict-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chmod(dir, 0755), 0);
    snprintf(pdir, sizeof(pdir), "%s/policies.d", dir);
    cr_assert_eq(mkdir(pdir, 0755), 0);
    cr_assert_eq(chmod(pdir, 0755), 0);
    /* A read that blocks fails the test instead of hanging it. */
    alarm(20);
}

static void teardown(void)
{
    char cmd[128];

    alarm(0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)system(cmd);
}

TestSuite(strict, .init = setup, .fini = teardown, .timeout = 60);

/* Writes a string literal, byte for byte, without its NUL. */
#define PUT(path, lit) put_raw(path, lit, sizeof(lit) - 1)

static void put_raw(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "we");

    cr_assert_not_null(f, "%s: %m", path);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, 0644), 0);
}

static bool has(const struct pol_diags *d, unsigned line, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->d[i].line == line && strstr(d->d[i].msg, needle))
            return true;
    return false;
}

static void dump(const struct pol_diags *d)
{
    char buf[600];

    for (size_t i = 0; i < d->n; i++)
        cr_log_info("  %s", pol_diag_format(&d->d[i], buf, sizeof(buf)));
}

#define EXPECT(d, line, needle)                                                                    \
    do {                                                                                           \
        if (!has(d, line, needle))                                                                 \
            dump(d);                                                                               \
        cr_expect(has(d, line, needle), "no diagnostic at line %u containing '%s'",                \
                  (unsigned)(line), needle);                                                       \
    } while (0)

static int parse_len(const char *text, size_t len, struct pol_policy *p, struct pol_diags *d)
{
    return pol_policy_parse_text("t.policy", text, len, p, d);
}

static int parse(const char *text, struct pol_policy *p, struct pol_diags *d)
{
    return parse_len(text, strlen(text), p, d);
}

Test(strict, bom_is_refused_and_the_line_still_checked)
{
    struct pol_diags d = {0};
    struct pol_policy p;

    cr_assert_eq(parse("\xef\xbb\xbf[Bogus]\nX=1\n", &p, &d), 0);
    EXPECT(&d, 1, "byte order mark");
    EXPECT(&d, 1, "unknown section [Bogus]");
    pol_policy_done(&p);
    pol_diags_free(&d);
}

Test(strict, what_inih_would_accept_is_refused_with_its_line)
{
    static const char text[] = "[Workload] junk\n"      /* 1 */
                               "[CPU]\n"                /* 2 */
                               "Weight: 100\n"          /* 3 */
                               "Max=50% ; half a CPU\n" /* 4 */
                               "We ight=3\n"            /* 5 */
                               "=3\n"                   /* 6 */
                               "[Memory]x\n"            /* 7 */
                               "[Mem\x01ory]\n"         /* 8 */
                               "[]\n"                   /* 9 */
                               "[Pids]\n"               /* 10 */
                               "Max=5\n"                /* 11 */
                               "  Max=6\n";             /* 12: indented, a duplicate */
    struct pol_diags d = {0};
    struct pol_policy p;

    cr_assert_eq(parse(text, &p, &d), 0);
    EXPECT(&d, 1, "text after the section header's ']'");
    EXPECT(&d, 3, "':' is not a delimiter");
    EXPECT(&d, 4, "comments must be whole lines");
    EXPECT(&d, 5, "a key is made of letters");
    EXPECT(&d, 6, "a key is missing");
    EXPECT(&d, 7, "text after the section header's ']'");
    EXPECT(&d, 8, "not printable ASCII");
    EXPECT(&d, 9, "section name empty");
    EXPECT(&d, 12, "duplicate key 'Max' in [Pids] (first set on line 11)");
    cr_expect_eq(d.n, 9, "one problem per bad line, nothing else (%zu)", d.n);
    pol_policy_done(&p);
    pol_diags_free(&d);
}

Test(strict, nul_bytes_and_long_lines_are_reported_per_line)
{
    static const char text[] = "[CPU]\nWeight=1\0"
                               "00\n[Pids]\nMax=5\n";
    char big[512];
    struct pol_diags d = {0};
    struct pol_policy p;

    cr_assert_eq(parse_len(text, sizeof(text) - 1, &p, &d), 0);
    EXPECT(&d, 2, "a NUL byte at column 9");
    cr_expect_eq(d.n, 1);
    cr_expect_eq(p.limits.pids_max, 5, "the lines after it are still read");
    pol_policy_done(&p);
    pol_diags_free(&d);

    memset(big, 'x', sizeof(big));
    memcpy(big, "[CPU]\nWeight=", 13);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(parse(big, &p, &d), 0);
    EXPECT(&d, 2, "line too long");
    pol_policy_done(&p);
    pol_diags_free(&d);
}

Test(strict, corral_conf_is_as_strict_as_a_policy)
{
    char path[256];
    struct pol_diags d = {0};
    struct pol_config c;

    snprintf(path, sizeof(path), "%s/corral.conf", dir);
    PUT(path, "\xef\xbb\xbf[Bogus]\nX=1\n[Accounting]\nInterval: 5s\n");
    cr_assert_eq(pol_config_load(path, true, &c, &d), 0);
    EXPECT(&d, 1, "byte order mark");
    EXPECT(&d, 1, "unknown section [Bogus]");
    EXPECT(&d, 4, "':' is not a delimiter");
    pol_config_free(&c);
    pol_diags_free(&d);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 10,000 bad lines of every kind: one pass, linear, well under a second. */
Test(strict, ten_thousand_bad_lines_in_under_a_second)
{
    static const char *const kinds[] = {"no delimiter here", "Weight: 3",   "[CPU] x",
                                        "Bogus=1",           "Weight=nope", "Max=1 ; c"};
    enum { LINES = 10000 };
    size_t cap = (size_t)LINES * 24 + 16, len = 0;
    char *text = malloc(cap);
    struct pol_diags d = {0};
    struct pol_policy p;
    double t0, dt;
    char want[64];

    cr_assert_not_null(text);
    len += (size_t)snprintf(text, cap, "[CPU]\n");
    for (unsigned i = 1; i < LINES; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s\n", kinds[i % 6]);
    t0 = now_s();
    cr_assert_eq(parse_len(text, len, &p, &d), 0);
    pol_diags_sort(&d);
    dt = now_s() - t0;
    cr_log_info("10,000 lines, %zu diagnostics kept: %.3f s", d.n, dt);
    cr_expect_lt(dt, 1.0, "checking 10,000 bad lines took %.3f s", dt);
    /* Every line after the first is bad (Weight= is set once, then a duplicate); the
     * first POL_DIAGS_PER_FILE are kept, the rest counted. */
    cr_expect_eq(d.n, POL_DIAGS_PER_FILE + 1);
    snprintf(want, sizeof(want), "%u problems; only the first %u are shown", LINES - 1,
             POL_DIAGS_PER_FILE);
    EXPECT(&d, 0, want);
    EXPECT(&d, 2, "':' is not a delimiter");
    EXPECT(&d, 3, "text after the section header's ']'");
    EXPECT(&d, 7, "syntax error: expected [Section]");
    pol_policy_done(&p);
    pol_diags_free(&d);
    free(text);
}

Test(strict, sorting_many_diagnostics_is_fast_and_stable)
{
    enum { N = 20000 };
    struct pol_diags d = {0};
    double t0, dt;

    for (unsigned i = 0; i < N; i++)
        cr_assert_eq(pol_diag_add(&d, i % 2 ? "b" : "a", N - i / 2, "%u", i), 0);
    t0 = now_s();
    pol_diags_sort(&d);
    dt = now_s() - t0;
    cr_expect_lt(dt, 1.0, "sorting %d diagnostics took %.3f s", N, dt);
    for (size_t i = 1; i < d.n; i++) {
        int c = strcmp(d.d[i - 1].file, d.d[i].file);
        cr_assert(c < 0 || (c == 0 && d.d[i - 1].line <= d.d[i].line), "out of order at %zu", i);
    }
    pol_diags_free(&d);
}

Test(strict, values_are_quoted_as_short_escaped_excerpts)
{
    char text[256], ex[POL_EXCERPT_SIZE];
    struct pol_diags d = {0};
    struct pol_policy p;

    snprintf(text, sizeof(text), "[CPU]\nWeight=%s\x1b[31m%s\n",
             "0123456789012345678901234567890123456789", "0123456789012345678901234567890");
    cr_assert_eq(parse(text, &p, &d), 0);
    cr_assert_eq(d.n, 1);
    cr_expect(strstr(d.d[0].msg, "\\x1b[31m") != NULL, "%s", d.d[0].msg);
    cr_expect(strstr(d.d[0].msg, "...'") != NULL, "cut: %s", d.d[0].msg);
    cr_expect(strchr(d.d[0].msg, '\x1b') == NULL, "no raw escape: %s", d.d[0].msg);
    pol_policy_done(&p);
    pol_diags_free(&d);
    cr_expect_str_eq(pol_excerpt("a'b\\c\xc3\xa9", ex), "a\\x27b\\x5cc\\xc3\\xa9");
}

Test(strict, special_files_are_refused_at_once)
{
    char fifo[256], path[256], *files[1];
    struct pol_diags d = {0};
    struct pol_config c;
    struct acct_rates rates;
    struct pol_set s;

    snprintf(fifo, sizeof(fifo), "%s/x.policy", pdir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    cr_assert_eq(pol_set_load(pdir, NULL, 0, NULL, &s, &d), 0);
    EXPECT(&d, 0, "not a regular file (a FIFO)");
    pol_set_free(&s);
    pol_diags_free(&d);

    files[0] = fifo;
    cr_assert_eq(pol_set_load(NULL, files, 1, NULL, &s, &d), 0);
    EXPECT(&d, 0, "not a regular file (a FIFO)");
    pol_set_free(&s);
    pol_diags_free(&d);

    cr_assert_eq(pol_config_load(fifo, true, &c, &d), 0);
    EXPECT(&d, 0, "not a regular file (a FIFO)");
    pol_config_free(&c);
    pol_diags_free(&d);
    cr_assert_eq(pol_rates_load(fifo, &rates, &d), 0);
    EXPECT(&d, 0, "not a regular file (a FIFO)");
    pol_rates_done(&rates);
    pol_diags_free(&d);

    /* A directory named like a policy is no policy either. */
    cr_assert_eq(unlink(fifo), 0);
    snprintf(path, sizeof(path), "%s/d.policy", pdir);
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_assert_eq(pol_set_load(pdir, NULL, 0, NULL, &s, &d), 0);
    EXPECT(&d, 0, "not a regular file (a directory)");
    pol_set_free(&s);
    pol_diags_free(&d);
}

Test(strict, a_daemon_skips_special_files_and_loads_the_rest)
{
    char path[256];
    struct pol_diags d = {0}, skipped = {0};
    struct pol_set s;

    snprintf(path, sizeof(path), "%s/x.policy", pdir);
    cr_assert_eq(mkfifo(path, 0644), 0);
    snprintf(path, sizeof(path), "%s/web.policy", pdir);
    PUT(path, "[CPU]\nWeight=200\n");
    d.skipped = &skipped;
    cr_assert_eq(pol_set_load(pdir, NULL, 0, NULL, &s, &d), 0);
    cr_expect_eq(d.n, 0);
    cr_expect_eq(skipped.n, 1);
    cr_expect(has(&skipped, 0, "not a regular file"));
    cr_expect_eq(s.n, 1);
    cr_expect_str_eq(s.p[0].name, "web");
    pol_set_free(&s);
    pol_diags_free(&d);
    pol_diags_free(&skipped);
}

Test(strict, symlinks_out_of_the_directory_are_not_followed)
{
    char secret[256], link[256], inside[256], target[256];
    struct pol_diags d = {0};
    struct pol_set s;

    /* Something that is not a policy, whose text must not show in any message. */
    snprintf(secret, sizeof(secret), "%s/secret", dir);
    PUT(secret, "[Workload]\nName=Top-Secret-Value\n");
    snprintf(link, sizeof(link), "%s/x.policy", pdir);
    cr_assert_eq(symlink(secret, link), 0);
    /* A link to a file beside it in the directory is fine. */
    snprintf(target, sizeof(target), "%s/real.conf-part", pdir);
    PUT(target, "[CPU]\nWeight=300\n");
    snprintf(inside, sizeof(inside), "%s/y.policy", pdir);
    cr_assert_eq(symlink("real.conf-part", inside), 0);

    cr_assert_eq(pol_set_load(pdir, NULL, 0, NULL, &s, &d), 0);
    EXPECT(&d, 0, "symbolic link that leads out of the policy directory");
    cr_expect_eq(d.n, 1);
    for (size_t i = 0; i < d.n; i++)
        cr_expect(strstr(d.d[i].msg, "Secret") == NULL, "echoed: %s", d.d[i].msg);
    cr_expect_eq(s.n, 1);
    cr_expect_eq(s.n ? s.p[0].limits.cpu_weight : 0, 300);
    pol_set_free(&s);
    pol_diags_free(&d);
}

Test(strict, user_and_group_ids_in_range)
{
    static const struct {
        const char *text;
        const char *needle; /* NULL: valid */
    } cases[] = {
        {"[Process]\nUser=12345\n", NULL},
        {"[Process]\nUser=0\nGroup=54321\n", NULL},
        {"[Process]\nUser=4294967294\n", NULL},
        {"[Process]\nUser=4294967295\n", "a numeric id must be from 0 to 4294967294"},
        {"[Process]\nUser=99999999999999999999\n", "a numeric id must be from 0"},
        {"[Process]\nGroup=4294967295\n", "Process.Group='4294967295': a numeric id"},
        {"[Process]\nUser=no-such-user-corral\n", "no such user on this system"},
    };
    uint32_t id;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pol_diags d = {0};
        struct pol_policy p;
        int r = parse(cases[i].text, &p, &d);

        if (!cases[i].needle)
            cr_expect_eq(r, 1, "%s", cases[i].text);
        else
            EXPECT(&d, 2, cases[i].needle);
        pol_policy_done(&p);
        pol_diags_free(&d);
    }
    cr_expect_eq(pol_parse_id("4294967294", &id), 0);
    cr_expect_eq(id, 4294967294u);
    cr_expect_eq(pol_parse_id("4294967295", &id), -ERANGE);
    cr_expect_eq(pol_parse_id("12a", &id), -EINVAL);
    cr_expect_eq(pol_parse_id("", &id), -EINVAL);
}

Test(strict, memory_below_a_page_is_refused_and_the_rest_rounded_to_pages)
{
    static const char *const refused[] = {"[Memory]\nMax=1\n",     "[Memory]\nMax=1.5K\n",
                                          "[Memory]\nMax=4095\n",  "[Memory]\nMax=0\n",
                                          "[Memory]\nHigh=100\n",  "[Memory]\nLow=1\n",
                                          "[Memory]\nSwapMax=2K\n"};
    uint64_t page = pol_page_size();
    struct pol_diags d = {0};
    struct pol_policy p;
    char text[128];

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        cr_expect_eq(parse(refused[i], &p, &d), 0, "%s", refused[i]);
        EXPECT(&d, 2, "below one page");
        pol_policy_done(&p);
        pol_diags_free(&d);
    }
    /* 0 is "none" for Low and SwapMax; a non-multiple is rounded down as the kernel does. */
    snprintf(text, sizeof(text), "[Memory]\nMax=%llu\nLow=0\nSwapMax=0\n",
             (unsigned long long)(3 * page + 17));
    cr_assert_eq(parse(text, &p, &d), 1);
    cr_expect_eq(p.limits.mem_max, 3 * page);
    cr_expect_eq(p.limits.mem_low, 0);
    cr_expect_eq(p.limits.mem_swap_max, 0);
    pol_policy_done(&p);
    pol_diags_free(&d);
}

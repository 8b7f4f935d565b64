/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the policy module's own files; not part of its interface. */

#include <stddef.h>

#include "policy/policy.h"

/* pol_excerpt() into a buffer of the enclosing expression: for a value quoted in a
 * message (each use its own buffer, alive until the end of the full expression's block). */
#define POL_X(s) pol_excerpt((s), (char[POL_EXCERPT_SIZE]){0})

/* One key=value as inih hands it over, with the line it came from. */
typedef void (*pol_ini_fn)(void *user, const char *section, const char *key, const char *value,
                           unsigned line);

/* A section header met while reading; returns false when the section is unknown (the
 * callback reports it). */
typedef bool (*pol_ini_section_fn)(void *user, const char *section, unsigned line);

/*
 * Runs inih over text, with what inih itself does not give: the line of every key, every
 * line that breaks corral's rules (not only the first syntax error), in one linear pass.
 * Refused: a UTF-8 byte order mark, NUL bytes, lines over inih's limit, text after a
 * section header's ']', ':' as the delimiter, keys other than [A-Za-z0-9_.-], inline
 * comments (a ';' after whitespace in a value), duplicate keys within a section, keys
 * outside a section. Leading whitespace is indentation, never a continuation line. At
 * most POL_DIAGS_PER_FILE problems are kept, then one line says how many there were.
 */
int pol_ini_parse(const char *file, const char *text, size_t len, pol_ini_section_fn on_section,
                  pol_ini_fn on_key, void *user, struct pol_diags *diags);

/*
 * Reads a whole file (at most 1 MiB) that corral trusts to tell it what to do. It is
 * opened without blocking and must be a regular file (else "not a regular file", -ENXIO:
 * a FIFO, socket, device or directory is never read). When running as root it must be
 * owned by root and not writable by group or others, like sudo requires of sudoers; the
 * refusal goes to diags (returns -EPERM). -ENOENT when it does not exist (no diag: the
 * caller decides whether that matters). NUL bytes are left for the parser to report.
 */
int pol_read_trusted(const char *path, char **ret_text, size_t *ret_len, struct pol_diags *diags);
/* The same for `name` inside the directory dirfd (AT_FDCWD: as pol_read_trusted); path is
 * what messages call the file. In a directory, a symlink is followed only to a file
 * beside it (never out of the directory: -ENXIO with a diag), and an entry that is not a
 * file is reported to diags->skipped when that is set. */
int pol_read_trusted_at(int dirfd, const char *name, const char *path, char **ret_text,
                        size_t *ret_len, struct pol_diags *diags);

/* The same ownership and mode check for a directory fd (or file fd). */
int pol_check_trusted_fd(int fd, const char *path, bool is_dir, struct pol_diags *diags);

/* Parses v, the value of cgroup setting d, into *ret (in d's unit; a CPU share in ppm). On
 * a bad value returns -EINVAL with the whole message ("CPU.Weight='x': expected ...") in
 * msg. policy/desc.c. */
int pol_setting_parse(const struct ctl_key_desc *d, const char *v, uint64_t *ret, char *msg,
                      size_t size);
/* The same for a CTL_UNIT_CPU_LIST setting, into *ret. */
int pol_setting_parse_list(const struct ctl_key_desc *d, const char *v, struct ctl_cpu_list *ret,
                           char *msg, size_t size);

/* The state of parsing one policy file (policy/parse.c, and parse-fs.c for [Filesystem]). */
struct pol_pstate {
    const char *file;
    struct pol_policy *p;
    struct pol_diags *d;
    int error;
    uint64_t cpu_ppm;
    unsigned line[_CTL_KEY_MAX]; /* where each cgroup setting was written */
    unsigned line_hostname;
};

/* Files a problem at line of the file being parsed. */
void pol_bad(struct pol_pstate *st, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The [Filesystem] keys, and the rules between them once the file is read (parse-fs.c). */
void pol_k_root_directory(struct pol_pstate *st, const char *v, unsigned line);
void pol_k_layers(struct pol_pstate *st, const char *v, unsigned line);
void pol_k_writable(struct pol_pstate *st, const char *v, unsigned line);
void pol_k_private_tmp(struct pol_pstate *st, const char *v, unsigned line);
void pol_k_read_only_paths(struct pol_pstate *st, const char *v, unsigned line);
void pol_k_bind_paths(struct pol_pstate *st, const char *v, unsigned line);
void pol_k_bind_ro_paths(struct pol_pstate *st, const char *v, unsigned line);
void pol_finish_fs(struct pol_pstate *st);

/* A workload as apply's read-only pass found it (policy/plan-precheck.c). */
struct pol_precheck_item {
    size_t cls; /* index into the used classes */
    const struct pol_policy *p;
    bool clean;             /* exists, and applying it would write nothing */
    struct ctl_warnings *w; /* a clean workload's warnings (malloc'ed), NULL when none */
};

/* Checks items[0..n) on a few threads when that is worth it (more than one thread, and a
 * root that exists); otherwise leaves every item dirty. Only reads. */
int pol_precheck(struct cg_ctx *ctx, const struct pol_class **used, size_t n_used,
                 struct pol_precheck_item *items, size_t n, unsigned threads);

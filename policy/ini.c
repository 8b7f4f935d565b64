/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inih, with line numbers and corral's stricter rules. Debian's libinih is built without
 * INI_HANDLER_LINENO, so the handler cannot be told the line; instead we feed inih through
 * ini_parse_stream() with a reader over the in-memory text, and the reader knows which line
 * it handed over last (inih calls the handler for a line before it reads the next one).
 *
 * inih accepts more than corral's format (a BOM, ':' as a delimiter, inline comments,
 * junk after a section header, continuation lines) and reports only the first syntax
 * error. So the reader checks every line first, in one pass: a line that breaks a rule is
 * reported with its line number and handed to inih as an empty line. inih then only ever
 * sees well-formed lines, and tokenizes them; each line is looked at a bounded number of
 * times, so the cost is linear in the size of the file whatever it holds.
 *
 * inih's runtime switches (ini_allow_inline_comments and friends) are process-wide
 * globals; we leave them alone and enforce our rules in the reader instead.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/macro.h"
#include "policy/internal.h"

#define SECTION_NAME_MAX 127

struct seen_key {
    char *id; /* "section\nkey" */
    unsigned line;
};

struct reader {
    const char *file;
    const char *text, *pos, *end;
    unsigned line; /* of the line handed over last */
    struct pol_diags *diags;
    pol_ini_section_fn on_section;
    pol_ini_fn on_key;
    void *user;
    /* Keys met so far, in an open-addressing hash table (duplicates in one look-up). */
    struct seen_key *seen;
    size_t n_seen, cap_seen; /* cap_seen: a power of two, or 0 */
    int error;               /* -ENOMEM met in a callback */
};

static void diag(struct reader *rd, unsigned line, const char *fmt, ...) _printf_(3, 4);

static void diag(struct reader *rd, unsigned line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (pol_diag_addv(rd->diags, rd->file, line, fmt, ap) < 0)
        rd->error = -ENOMEM;
    va_end(ap);
}

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* "[Name]": nothing after the ']', no brackets inside, printable ASCII. Reports and returns
 * false otherwise; on success tells on_section (inih only tells about sections that hold
 * keys). */
static bool check_section(struct reader *rd, const char *s, size_t len)
{
    char name[SECTION_NAME_MAX + 1];
    const char *close = memchr(s, ']', len);
    size_t n;

    if (!close) {
        diag(rd, rd->line, "%s", "syntax error: a section header without its closing ']'");
        return false;
    }
    if (close != s + len - 1) {
        diag(rd, rd->line, "%s",
             "syntax error: text after the section header's ']' (comments are whole lines)");
        return false;
    }
    n = (size_t)(close - s - 1);
    if (n == 0 || n > SECTION_NAME_MAX) {
        diag(rd, rd->line, "syntax error: section name %s", n ? "too long" : "empty");
        return false;
    }
    for (size_t i = 1; i <= n; i++)
        if (s[i] == '[' || (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
            diag(
                rd, rd->line, "%s",
                "syntax error: a section name with '[' or a character that is not printable ASCII");
            return false;
        }
    memcpy(name, s + 1, n);
    name[n] = '\0';
    (void)rd->on_section(rd->user, name, rd->line);
    return true;
}

/* Key=Value: the key made of [A-Za-z0-9_.-] (spaces around '=' are fine), no ':' as the
 * delimiter, no inline comment in the value. */
static bool check_key_line(struct reader *rd, const char *s, size_t len)
{
    const char *eq = memchr(s, '=', len);
    size_t klen = eq ? (size_t)(eq - s) : len;

    if (memchr(s, ':', klen)) {
        diag(rd, rd->line, "%s", "syntax error: ':' is not a delimiter, write Key=Value");
        return false;
    }
    if (!eq) {
        diag(rd, rd->line, "%s", "syntax error: expected [Section], Key=Value or a comment");
        return false;
    }
    while (klen > 0 && (s[klen - 1] == ' ' || s[klen - 1] == '\t'))
        klen--;
    if (klen == 0) {
        diag(rd, rd->line, "%s", "syntax error: a key is missing before '='");
        return false;
    }
    for (size_t i = 0; i < klen; i++)
        if (!is_key_char(s[i])) {
            diag(rd, rd->line, "%s",
                 "syntax error: a key is made of letters, digits, '_', '-' and '.'");
            return false;
        }
    for (size_t i = klen + 1; i < len; i++)
        if (s[i] == ';' && (s[i - 1] == ' ' || s[i - 1] == '\t')) {
            diag(rd, rd->line, "%s",
                 "comments must be whole lines starting with # or ; (found ';' after "
                 "whitespace in a value)");
            return false;
        }
    return true;
}

/* Whether the line s (len bytes, the raw line without its newline) follows the rules;
 * *s and *len are narrowed to what inih is to see. */
static bool check_line(struct reader *rd, const char **s, size_t *len, int num)
{
    if (memchr(*s, '\0', *len)) {
        diag(rd, rd->line, "a NUL byte at column %zu (not a text file?)",
             (size_t)((const char *)memchr(*s, '\0', *len) - *s) + 1);
        return false;
    }
    if (rd->line == 1 && *len >= 3 && memcmp(*s, "\xef\xbb\xbf", 3) == 0) {
        /* Reported, then the rest of the line is checked as if it were not there. */
        diag(rd, 1, "%s", "the file starts with a UTF-8 byte order mark: save it without one");
        *s += 3;
        *len -= 3;
    }
    /* Indentation is only indentation: inih would take an indented line as the
     * continuation of the previous value. */
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == '\r' || (*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
    if (*len + 2 > (size_t)num) {
        diag(rd, rd->line, "line too long (at most %d characters)", num - 2);
        return false;
    }
    if (*len == 0 || **s == '#' || **s == ';')
        return false; /* empty, or a comment: nothing for inih either */
    if (**s == '[')
        return check_section(rd, *s, *len);
    return check_key_line(rd, *s, *len);
}

static char *reader_fn(char *str, int num, void *stream)
{
    struct reader *rd = stream;
    const char *nl, *s;
    size_t len;

    if (rd->pos >= rd->end)
        return NULL;
    nl = memchr(rd->pos, '\n', (size_t)(rd->end - rd->pos));
    s = rd->pos;
    len = nl ? (size_t)(nl - s) : (size_t)(rd->end - s);
    rd->pos = nl ? nl + 1 : rd->end;
    rd->line++;
    if (!check_line(rd, &s, &len, num)) {
        strcpy(str, "\n");
        return str;
    }
    memcpy(str, s, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
}

static size_t hash_id(const char *s)
{
    size_t h = 14695981039346656037ull; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot of id: where it is, or the empty one where it would go. */
static struct seen_key *seen_slot(struct reader *rd, const char *id)
{
    size_t mask = rd->cap_seen - 1, i = hash_id(id) & mask;

    while (rd->seen[i].id && strcmp(rd->seen[i].id, id) != 0)
        i = (i + 1) & mask;
    return &rd->seen[i];
}

static int seen_grow(struct reader *rd)
{
    struct seen_key *old = rd->seen;
    size_t old_cap = rd->cap_seen, cap = old_cap ? old_cap * 2 : 64;

    rd->seen = calloc(cap, sizeof(*rd->seen));
    if (!rd->seen) {
        rd->seen = old;
        return -ENOMEM;
    }
    rd->cap_seen = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].id)
            *seen_slot(rd, old[i].id) = old[i];
    free(old);
    return 0;
}

/* Returns the line where section.key was first set, 0 if never (and remembers it now). */
static unsigned seen_before(struct reader *rd, const char *section, const char *key)
{
    _cleanup_free_ char *id = NULL;
    struct seen_key *k;

    if (asprintf(&id, "%s\n%s", section, key) < 0 ||
        ((rd->n_seen + 1) * 2 > rd->cap_seen && seen_grow(rd) < 0)) {
        rd->error = -ENOMEM;
        return 0;
    }
    k = seen_slot(rd, id);
    if (k->id)
        return k->line;
    k->id = TAKE_PTR(id);
    k->line = rd->line;
    rd->n_seen++;
    return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct reader *rd = user;
    char ek[POL_EXCERPT_SIZE], es[POL_EXCERPT_SIZE];
    unsigned first;

    if (!section[0]) {
        diag(rd, rd->line, "key '%s' outside any section", pol_excerpt(name, ek));
        return 1;
    }
    first = seen_before(rd, section, name);
    if (first) {
        diag(rd, rd->line, "duplicate key '%s' in [%s] (first set on line %u)",
             pol_excerpt(name, ek), pol_excerpt(section, es), first);
        return 1;
    }
    if (rd->error == 0)
        rd->on_key(rd->user, section, name, value, rd->line);
    return 1;
}

int pol_ini_parse(const char *file, const char *text, size_t len, pol_ini_section_fn on_section,
                  pol_ini_fn on_key, void *user, struct pol_diags *diags)
{
    struct reader rd = {
        .file = file,
        .text = text,
        .pos = text,
        .end = text + len,
        .diags = diags,
        .on_section = on_section,
        .on_key = on_key,
        .user = user,
    };
    size_t limit = diags->limit, dropped = diags->dropped, start = diags->n;
    int r;

    /* Problems beyond POL_DIAGS_PER_FILE of this file are counted, not kept. */
    if (!limit || limit > diags->n + POL_DIAGS_PER_FILE)
        diags->limit = diags->n + POL_DIAGS_PER_FILE;
    r = ini_parse_stream(reader_fn, &rd, handler, &rd);
    /* Every line inih could refuse was refused above; should one get through, it is still
     * an error (inih names the first). */
    if (r > 0)
        diag(&rd, (unsigned)r, "%s", "syntax error: expected [Section], Key=Value or a comment");
    diags->limit = limit;
    if (diags->dropped > dropped && rd.error == 0 &&
        pol_diag_add(diags, file, 0, "%zu problems; only the first %zu are shown",
                     diags->n - start + diags->dropped - dropped, diags->n - start) < 0)
        rd.error = -ENOMEM;
    diags->dropped = dropped;
    r = rd.error < 0 ? rd.error : (r < 0 ? (r == -2 ? -ENOMEM : -EIO) : 0);
    for (size_t i = 0; i < rd.cap_seen; i++)
        free(rd.seen[i].id);
    free(rd.seen);
    return r;
}

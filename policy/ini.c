/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inih, with line numbers. Debian's libinih is built without INI_HANDLER_LINENO, so the
 * handler cannot be told the line; instead we feed inih through ini_parse_stream() with a
 * reader over the in-memory text, and the reader knows which line it handed over last
 * (inih calls the handler for a line before it reads the next one).
 *
 * inih reports only the first syntax error of a stream. To report all of them, we run it
 * once per syntax error with a handler that does nothing, blanking each bad line it
 * names, and then once more with the real handler.
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

struct seen_key {
    char *section;
    char *key;
    unsigned line;
};

struct reader {
    const char *file;
    const char *text, *pos, *end;
    unsigned line;   /* of the line handed over last */
    unsigned *blank; /* lines to hand over as empty (syntax errors found) */
    size_t n_blank;
    bool final; /* last pass: report, call back */
    struct pol_diags *diags;
    pol_ini_section_fn on_section;
    pol_ini_fn on_key;
    void *user;
    struct seen_key *seen;
    size_t n_seen, cap_seen;
    int error; /* -ENOMEM met in a callback */
};

static bool is_blanked(const struct reader *rd, unsigned line)
{
    for (size_t i = 0; i < rd->n_blank; i++)
        if (rd->blank[i] == line)
            return true;
    return false;
}

static void diag(struct reader *rd, unsigned line, const char *fmt, ...) _printf_(3, 4);

static void diag(struct reader *rd, unsigned line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (pol_diag_addv(rd->diags, rd->file, line, fmt, ap) < 0)
        rd->error = -ENOMEM;
    va_end(ap);
}

/* Reports "[Name]" lines to on_section (inih only tells about sections that hold keys). */
static void check_section(struct reader *rd, const char *s, size_t len)
{
    char name[128];
    const char *close = memchr(s, ']', len);

    if (!close)
        return; /* inih reports it as a syntax error */
    if ((size_t)(close - s - 1) >= sizeof(name)) {
        diag(rd, rd->line, "%s", "section name too long");
        return;
    }
    memcpy(name, s + 1, (size_t)(close - s - 1));
    name[close - s - 1] = '\0';
    (void)rd->on_section(rd->user, name, rd->line);
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

    /* Indentation is only indentation: inih would take an indented line as the
     * continuation of the previous value. */
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;

    if (is_blanked(rd, rd->line)) {
        strcpy(str, "\n");
        return str;
    }
    if (len + 2 > (size_t)num) {
        if (rd->final) {
            diag(rd, rd->line, "line too long (at most %d characters)", num - 2);
        }
        strcpy(str, "\n");
        return str;
    }
    if (rd->final && len > 0 && *s != '#' && *s != ';') {
        if (*s == '[')
            check_section(rd, s, len);
        for (size_t i = 1; i < len; i++)
            if (s[i] == ';' && (s[i - 1] == ' ' || s[i - 1] == '\t')) {
                diag(rd, rd->line, "%s",
                     "comments must be whole lines starting with # or ; (found ';' after "
                     "whitespace in a value)");
                break;
            }
    }
    memcpy(str, s, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
}

static int handler_noop(void *user, const char *section, const char *name, const char *value)
{
    return 1;
}

static int handler_real(void *user, const char *section, const char *name, const char *value)
{
    struct reader *rd = user;
    struct seen_key *k;

    if (!section[0]) {
        diag(rd, rd->line, "key '%s' outside any section", name);
        return 1;
    }
    for (size_t i = 0; i < rd->n_seen; i++)
        if (strcmp(rd->seen[i].section, section) == 0 && strcmp(rd->seen[i].key, name) == 0) {
            diag(rd, rd->line, "duplicate key '%s' in [%s] (first set on line %u)", name, section,
                 rd->seen[i].line);
            return 1;
        }
    if (rd->n_seen == rd->cap_seen) {
        size_t nc = rd->cap_seen ? rd->cap_seen * 2 : 16;
        struct seen_key *ns = realloc(rd->seen, nc * sizeof(*ns));
        if (!ns) {
            rd->error = -ENOMEM;
            return 1;
        }
        rd->seen = ns;
        rd->cap_seen = nc;
    }
    k = &rd->seen[rd->n_seen];
    k->section = strdup(section);
    k->key = strdup(name);
    k->line = rd->line;
    if (!k->section || !k->key) {
        free(k->section);
        free(k->key);
        rd->error = -ENOMEM;
        return 1;
    }
    rd->n_seen++;
    rd->on_key(rd->user, section, name, value, rd->line);
    return 1;
}

static void rewind_reader(struct reader *rd)
{
    rd->pos = rd->text;
    rd->line = 0;
}

int pol_ini_parse(const char *file, const char *text, size_t len, pol_ini_section_fn on_section,
                  pol_ini_fn on_key, void *user, struct pol_diags *diags)
{
    struct reader rd = {
        .file = file,
        .text = text,
        .end = text + len,
        .diags = diags,
        .on_section = on_section,
        .on_key = on_key,
        .user = user,
    };
    unsigned lines = 1;
    int r;

    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    rd.blank = calloc(lines, sizeof(unsigned));
    if (!rd.blank)
        return -ENOMEM;

    /* Syntax passes: each finds the next bad line (inih returns only the first). */
    for (;;) {
        rewind_reader(&rd);
        r = ini_parse_stream(reader_fn, &rd, handler_noop, &rd);
        if (r <= 0 || rd.n_blank >= lines)
            break;
        if (pol_diag_add(diags, file, (unsigned)r,
                         "syntax error: expected [Section], Key=Value or a comment") < 0) {
            r = -ENOMEM;
            goto out;
        }
        rd.blank[rd.n_blank++] = (unsigned)r;
    }
    if (r < 0) {
        r = r == -2 ? -ENOMEM : -EIO;
        goto out;
    }

    rd.final = true;
    rewind_reader(&rd);
    r = ini_parse_stream(reader_fn, &rd, handler_real, &rd);
    r = rd.error < 0 ? rd.error : (r < 0 ? -EIO : 0);
out:
    for (size_t i = 0; i < rd.n_seen; i++) {
        free(rd.seen[i].section);
        free(rd.seen[i].key);
    }
    free(rd.seen);
    free(rd.blank);
    return r;
}

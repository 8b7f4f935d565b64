/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the byte at p does not start
 * one (RFC 3629: shortest form only, no surrogates, at most U+10FFFF). */
static size_t seq_len(const unsigned char *p)
{
    unsigned char c = p[0];
    uint32_t cp;
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool cg_utf8_valid(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = seq_len(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

char *cg_utf8_escape(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out, *o;

    /* at most four characters out for each byte in */
    out = malloc(strlen(s) * 4 + 1);
    if (!out)
        return NULL;
    for (o = out; *p;) {
        size_t n = seq_len(p);
        if (n == 0) {
            o += sprintf(o, "\\x%02x", *p++);
            continue;
        }
        memcpy(o, p, n);
        o += n;
        p += n;
    }
    *o = '\0';
    return out;
}

json_t *cg_json_str(const char *s)
{
    json_t *j;
    char *esc;

    if (!s)
        return json_null();
    if (cg_utf8_valid(s))
        return json_string_nocheck(s);
    esc = cg_utf8_escape(s);
    if (!esc)
        return NULL;
    j = json_string_nocheck(esc);
    free(esc);
    return j;
}

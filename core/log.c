/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"

void cg_debug(const char *fmt, ...)
{
    const char *v = getenv("CORRAL_DEBUG");
    va_list ap;

    if (!v || v[0] == '\0' || v[0] == '0')
        return;
    va_start(ap, fmt);
    fputs("corral-debug: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

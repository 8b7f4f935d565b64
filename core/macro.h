/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A small subset of the cleanup idiom: variables marked with these attributes are
 * released when they go out of scope, and TAKE_PTR()/TAKE_FD() hand ownership on.
 */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
    free(*(void **)p);
}

/* Closes *fd if open and sets it to -1, so that a second closep() of the same variable
 * cannot close an fd that a later open (in this thread or another) got the number of. */
static inline void closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        (void)close(*fd);
        errno = saved;
        *fd = -1;
    }
}

#define _cleanup_(f)    __attribute__((cleanup(f)))
#define _cleanup_free_  _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _unused_        __attribute__((unused))
#define _printf_(a, b)  __attribute__((format(printf, a, b)))
#define _warn_unused_   __attribute__((warn_unused_result))

#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) _ptr_ = (p);                                                                 \
        (p) = NULL;                                                                                \
        _ptr_;                                                                                     \
    })

#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int _fd_ = (fd);                                                                           \
        (fd) = -1;                                                                                 \
        _fd_;                                                                                      \
    })

/* Declares a cleanup helper "namep" that calls "name" on a pointer to a pointer. */
#define DEFINE_POINTER_CLEANUP(type, func)                                                         \
    static inline void func##p(type **p)                                                           \
    {                                                                                              \
        if (*p)                                                                                    \
            func(*p);                                                                              \
    }

static inline int negative_errno(void)
{
    return errno > 0 ? -errno : -EIO;
}

/* Makes room for one more element in a growable array: when n has reached *cap, doubles
 * *cap (starting at `first`) and reallocates *v. 0, or -ENOMEM with *v and *cap as they
 * were. Use through GROW(). */
static inline int grow_array(void **v, size_t *cap, size_t n, size_t size, size_t first)
{
    size_t nc;
    void *nv;

    if (n < *cap)
        return 0;
    nc = *cap ? *cap * 2 : first;
    nv = realloc(*v, nc * size);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = nc;
    return 0;
}

#define GROW(v, cap, n, first) grow_array((void **)&(v), &(cap), (n), sizeof(*(v)), (first))

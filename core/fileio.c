/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/macro.h"

int cg_write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cg_write_at(int dirfd, const char *file, const char *value)
{
    _cleanup_close_ int fd = -1;
    ssize_t n;

    fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return -errno;
    /* cgroupfs takes one value per write(2); a short write is an error, not a retry. */
    do {
        n = write(fd, value, strlen(value));
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t)n != strlen(value))
        return -EIO;
    return 0;
}

static int strip_newline(char *buf, ssize_t n)
{
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return (int)n;
}

int cg_pread(int fd, char *buf, size_t size)
{
    ssize_t n;

    if (size == 0)
        return -EINVAL;
    do {
        n = pread(fd, buf, size - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return strip_newline(buf, n);
}

int cg_read_at(int dirfd, const char *file, char *buf, size_t size)
{
    _cleanup_close_ int fd = -1;

    fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return -errno;
    return cg_pread(fd, buf, size);
}

int cg_read_all_at(int dirfd, const char *file, char **ret)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0, cap = 4096;

    fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return -errno;
    buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                return -ENOMEM;
            buf = nb;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *ret = TAKE_PTR(buf);
    return (int)(len > INT_MAX ? INT_MAX : len);
}

int cg_parse_u64(const char *s, uint64_t *ret)
{
    unsigned long long v;
    char *end;

    if (!s || !*s)
        return -EINVAL;
    if (strcmp(s, "max") == 0 || strcmp(s, "max\n") == 0) {
        *ret = UINT64_MAX;
        return 0;
    }
    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (*end == '\n')
        end++;
    if (*end != '\0')
        return -EINVAL;
    *ret = (uint64_t)v;
    return 0;
}

int cg_read_u64_at(int dirfd, const char *file, uint64_t *ret)
{
    char buf[64];
    int r;

    r = cg_read_at(dirfd, file, buf, sizeof(buf));
    if (r < 0)
        return r;
    return cg_parse_u64(buf, ret);
}

int cg_keyed_u64(const char *text, const char *key, uint64_t *ret)
{
    size_t kl = strlen(key);
    const char *p = text;

    while (p && *p) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
            char num[32];
            size_t i = 0;
            const char *q = p + kl + 1;
            while (*q && *q != '\n' && i < sizeof(num) - 1)
                num[i++] = *q++;
            num[i] = '\0';
            return cg_parse_u64(num, ret);
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -ENODATA;
}

int cg_open_beneath(int dirfd, const char *path, unsigned mode, bool *ret_created)
{
    _cleanup_close_ int cur = -1;
    _cleanup_free_ char *copy = NULL;
    bool created = false;
    char *save = NULL, *comp;

    cur = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return -errno;
    copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        int next;

        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0)
            return -EPERM;
        created = false;
        if (mode != 0) {
            if (mkdirat(cur, comp, mode) == 0)
                created = true;
            else if (errno != EEXIST)
                return -errno;
        }
        next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            return -errno;
        closep(&cur);
        cur = next;
    }
    if (ret_created)
        *ret_created = created;
    return TAKE_FD(cur);
}

int cg_read_pids_at(int dirfd, const char *file, pid_t **ret, size_t *ret_n)
{
    _cleanup_free_ char *text = NULL;
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0, cap = 0;
    char *p, *save = NULL;
    int r;

    r = cg_read_all_at(dirfd, file, &text);
    if (r < 0)
        return r;
    for (p = strtok_r(text, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
        long v = strtol(p, NULL, 10);
        if (v <= 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            pid_t *np = realloc(pids, nc * sizeof(pid_t));
            if (!np)
                return -ENOMEM;
            pids = np;
            cap = nc;
        }
        pids[n++] = (pid_t)v;
    }
    *ret = TAKE_PTR(pids);
    *ret_n = n;
    return 0;
}

static int walk_dirs(int dfd, int (*fn)(int, void *), void *userdata, unsigned depth_left)
{
    struct dirent *de;
    DIR *d;
    int fd, r;

    r = fn(dfd, userdata);
    if (r != 0 || depth_left == 0)
        return r;
    /* A fresh open for the listing: dfd's own offset is left alone. */
    fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    d = fdopendir(fd);
    if (!d) {
        r = -errno;
        close(fd);
        return r;
    }
    while (r == 0 && (de = readdir(d))) {
        _cleanup_close_ int cfd = -1;

        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd < 0)
            continue; /* removed meanwhile, or not ours to follow */
        r = walk_dirs(cfd, fn, userdata, depth_left - 1);
    }
    closedir(d);
    return r;
}

int cg_walk_dirs(int dfd, int (*fn)(int dfd, void *userdata), void *userdata, unsigned max_depth)
{
    int r = walk_dirs(dfd, fn, userdata, max_depth);
    return r < 0 ? r : 0;
}

const char *cg_file_type(mode_t m)
{
    return S_ISREG(m)    ? "a regular file"
           : S_ISDIR(m)  ? "a directory"
           : S_ISLNK(m)  ? "a symbolic link"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
                         : "of an unknown type";
}

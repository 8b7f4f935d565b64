/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Privileges, in two phases (after bubblewrap):
 *   resolve (parent): names to ids through NSS, while the parent is still a normal
 *           process with its own network and files;
 *   apply (child):    setgroups -> setresgid -> setresuid, in that order (once the uid is
 *           dropped the others are no longer allowed), each one read back and verified.
 *
 * The child makes these as raw system calls, which change the calling thread's
 * credentials only. glibc's wrappers change those of every thread of the process, by
 * signalling each one it knows of and waiting for it: in a child cloned while the parent
 * had a second thread, glibc still lists that thread (of the parent), and the wait never
 * ends. The child is single-threaded, so the raw calls change the whole process.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher/internal.h"

static int parse_id(const char *s, unsigned *ret)
{
    char *end;
    unsigned long v;

    if (!*s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v >= (unsigned long)(unsigned)-1)
        return -EINVAL;
    *ret = (unsigned)v;
    return 0;
}

static int lookup_user(const char *name, struct launch_creds *c, struct cg_err *e)
{
    char buf[4096];
    struct passwd pw, *res = NULL;
    unsigned id;
    int r;

    r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
    if (!res && parse_id(name, &id) == 0)
        r = getpwuid_r(id, &pw, buf, sizeof(buf), &res);
    if (!res)
        return cg_err_set(e, r > 0 ? -r : -ESRCH, NULL, NULL, "user '%s' does not exist", name);
    c->uid = pw.pw_uid;
    c->gid = pw.pw_gid;
    c->user = strdup(pw.pw_name);
    c->home = strdup(pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/");
    c->shell = strdup(pw.pw_shell && *pw.pw_shell ? pw.pw_shell : "/bin/sh");
    if (!c->user || !c->home || !c->shell)
        return -ENOMEM;
    return 0;
}

static int lookup_group(const char *name, gid_t *ret, struct cg_err *e)
{
    char buf[4096];
    struct group gr, *res = NULL;
    unsigned id;
    int r;

    r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
    if (res) {
        *ret = gr.gr_gid;
        return 0;
    }
    if (parse_id(name, &id) == 0) {
        *ret = id;
        return 0;
    }
    return cg_err_set(e, r > 0 ? -r : -ESRCH, NULL, NULL, "group '%s' does not exist", name);
}

void launch_creds_done(struct launch_creds *c)
{
    free(c->groups);
    free(c->user);
    free(c->home);
    free(c->shell);
    *c = (struct launch_creds){0};
}

int launch_creds_resolve(const struct pol_policy *p, struct launch_creds *ret, struct cg_err *e)
{
    struct launch_creds c = {0};
    int r;

    if (p->user[0]) {
        int n = 16;

        r = lookup_user(p->user, &c, e);
        if (r < 0)
            goto fail;
        c.set_user = true;
        /* Supplementary groups as initgroups(3) would set them. */
        for (;;) {
            gid_t *g = realloc(c.groups, (size_t)n * sizeof(gid_t));
            int want = n;
            if (!g) {
                r = -ENOMEM;
                goto fail;
            }
            c.groups = g;
            if (getgrouplist(c.user, c.gid, c.groups, &want) >= 0) {
                c.ngroups = (size_t)want;
                break;
            }
            if (want <= n || want > 65536) {
                r = cg_err_set(e, -EINVAL, NULL, NULL, "cannot list the groups of '%s'", c.user);
                goto fail;
            }
            n = want;
        }
    }
    if (p->group[0]) {
        r = lookup_group(p->group, &c.gid, e);
        if (r < 0)
            goto fail;
    }
    c.change = p->user[0] || p->group[0];
    *ret = c;
    return 0;
fail:
    launch_creds_done(&c);
    return r;
}

static bool same_groups(const struct launch_creds *c)
{
    gid_t now[256];
    int n = getgroups((int)(sizeof(now) / sizeof(now[0])), now);

    if (n < 0 || (size_t)n != c->ngroups)
        return false;
    for (size_t i = 0; i < c->ngroups; i++) {
        bool found = false;
        for (int j = 0; j < n && !found; j++)
            found = now[j] == c->groups[i];
        if (!found)
            return false;
    }
    return true;
}

enum launch_stage launch_creds_apply(const struct launch_creds *c)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;

    if (!c->change)
        return LAUNCH_STAGE_NONE;
    if (syscall(SYS_setgroups, c->ngroups, c->groups) < 0)
        return LAUNCH_STAGE_SETGROUPS;
    if (!same_groups(c)) {
        errno = EPERM;
        return LAUNCH_STAGE_SETGROUPS;
    }
    if (syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0)
        return LAUNCH_STAGE_SETGID;
    if (getresgid(&rg, &eg, &sg) < 0 || rg != c->gid || eg != c->gid || sg != c->gid) {
        errno = EPERM;
        return LAUNCH_STAGE_SETGID;
    }
    if (!c->set_user)
        return LAUNCH_STAGE_NONE;
    if (syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0)
        return LAUNCH_STAGE_SETUID;
    if (getresuid(&ru, &eu, &su) < 0 || ru != c->uid || eu != c->uid || su != c->uid) {
        errno = EPERM;
        return LAUNCH_STAGE_SETUID;
    }
    /* A dropped root must not be able to come back. */
    if (c->uid != 0 && syscall(SYS_setresuid, 0, 0, 0) == 0) {
        errno = EPERM;
        return LAUNCH_STAGE_SETUID;
    }
    return LAUNCH_STAGE_NONE;
}

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

/* Why a user or group `name` was not found: numeric is pol_parse_id's result, r that of
 * the getpw/getgr call (0 or an errno: the database could not be read). -ESRCH, but said
 * in words ("No such process" would mislead). */
static int not_found(struct cg_err *e, const char *what, const char *name, int numeric, int r)
{
    if (r > 0 && r != ENOENT && r != ESRCH)
        return cg_err_set(e, -r, NULL, NULL, "%s '%s': cannot read the %s database", what, name,
                          what);
    if (numeric == -ERANGE)
        return cg_err_whole(e, cg_err_set(e, -ESRCH, NULL, NULL,
                                          "%s id '%s' is out of range (0 to %u)", what, name,
                                          POL_ID_MAX));
    return cg_err_whole(
        e, cg_err_set(e, -ESRCH, NULL, NULL, "%s '%s' does not exist on this system", what, name));
}

/* User= and Group= take a name or a numeric id (pol_parse_id, the parser's own rule). A
 * name is looked up first (a name may be all digits); a numeric id with no entry in the
 * user database is used as it is, as container runtimes do: it needs none to run. */
static int lookup_user(const char *name, struct launch_creds *c, struct cg_err *e)
{
    char buf[4096];
    struct passwd pw, *res = NULL;
    uint32_t id;
    int r, numeric;

    r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
    numeric = pol_parse_id(name, &id);
    if (!res && numeric == 0)
        r = getpwuid_r(id, &pw, buf, sizeof(buf), &res);
    if (!res && numeric == 0) {
        /* No entry: that uid, the group of the same number, and nothing else. */
        c->uid = id;
        c->gid = id;
        c->synthetic = true;
        c->user = strdup(name);
        c->home = strdup("/");
        c->shell = strdup("/bin/sh");
    } else if (!res) {
        return not_found(e, "user", name, numeric, r);
    } else {
        c->uid = pw.pw_uid;
        c->gid = pw.pw_gid;
        c->user = strdup(pw.pw_name);
        c->home = strdup(pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/");
        c->shell = strdup(pw.pw_shell && *pw.pw_shell ? pw.pw_shell : "/bin/sh");
    }
    if (!c->user || !c->home || !c->shell)
        return -ENOMEM;
    return 0;
}

static int lookup_group(const char *name, gid_t *ret, struct cg_err *e)
{
    char buf[4096];
    struct group gr, *res = NULL;
    uint32_t id;
    int r, numeric;

    r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
    if (res) {
        *ret = gr.gr_gid;
        return 0;
    }
    numeric = pol_parse_id(name, &id);
    if (numeric == 0) {
        *ret = id;
        return 0;
    }
    return not_found(e, "group", name, numeric, r);
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
        /* Supplementary groups as initgroups(3) would set them (a uid with no entry has
         * only its own group). */
        if (c.synthetic) {
            c.groups = malloc(sizeof(gid_t));
            if (!c.groups) {
                r = -ENOMEM;
                goto fail;
            }
            c.groups[0] = c.gid;
            c.ngroups = 1;
        }
        while (!c.synthetic) {
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
        if (c.synthetic)
            c.groups[0] = c.gid;
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

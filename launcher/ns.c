/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Child side of the namespaces the clone created: only system calls here. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/internal.h"

void launch_ns_plan(struct launch_child *c)
{
    struct stat st;
    bool root = c->creds && c->creds->set_user ? c->creds->uid == 0 : geteuid() == 0;

    if (stat("/proc/self/ns/mnt", &st) == 0) {
        c->caller_mnt_ns.dev = st.st_dev;
        c->caller_mnt_ns.ino = st.st_ino;
    }
    c->cgroupfs_ro = true;
    if ((c->clone_ns & CLONE_NEWNS) || c->fs)
        return; /* a namespace of its own already (launch_fs_enter makes one) */
    if (!root) {
        c->cgroupfs_ro = false;
        return;
    }
    /* Its own namespace, following the host's mounts: only its own stay its own. */
    c->clone_ns |= CLONE_NEWNS;
    c->mounts_slave = true;
}

int launch_ns_mounts_private(bool slave)
{
    /* A new mount namespace still shares propagation with the host (systemd makes / shared),
     * so our /proc mount would leak out. Cut propagation first; a slave still receives
     * what the host mounts later. */
    if (mount(NULL, "/", NULL, MS_REC | (slave ? MS_SLAVE : MS_PRIVATE), NULL) < 0)
        return -errno;
    return 0;
}

int launch_ns_mount_proc(void)
{
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return -errno;
    return 0;
}

int launch_ns_loopback_up(void)
{
    struct ifreq ifr;
    int fd, r = 0;

    /* A new network namespace has lo, down. */
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        r = -errno;
    else if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
            r = -errno;
    }
    (void)close(fd);
    return r;
}

int launch_ns_hostname(const char *name)
{
    if (sethostname(name, strlen(name)) < 0)
        return -errno;
    return 0;
}

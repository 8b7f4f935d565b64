/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* When an instance started, as a writer that was not there estimates it (ledger.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounting/sample.h"
#include "core/fileio.h"

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Field 22 of /proc/PID/stat: the start time in clock ticks since boot (CLOCK_BOOTTIME).
 * The comm field (2) may hold spaces and parentheses, so the fields are counted from the
 * last ')'. 0 when the process is gone or the line cannot be read. */
static uint64_t start_ticks(pid_t pid)
{
    char path[32], buf[1024], *p;
    unsigned long long v;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    (void)close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    p = strrchr(buf, ')');
    /* after ") ": field 3 (state) ... field 22 is the 20th */
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p + 1, "%llu", &v) != 1)
        return 0;
    return v;
}

uint64_t acct_instance_start(struct cg_group *g, uint64_t first_seen_ns)
{
    _cleanup_free_ pid_t *pids = NULL;
    uint64_t best = 0, rt, bt, tick_ns;
    long hz = sysconf(_SC_CLK_TCK);
    size_t n = 0;
    int dfd = -1;

    for (int h = 0; h < _CG_H_MAX && dfd < 0; h++)
        dfd = cg_group_fd(g, (enum cg_hier)h);
    if (dfd < 0 || hz <= 0 || cg_read_pids_at(dfd, "cgroup.procs", &pids, &n) < 0)
        return first_seen_ns;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = start_ticks(pids[i]);
        if (t > 0 && (best == 0 || t < best))
            best = t;
    }
    if (best == 0)
        return first_seen_ns;
    /* Boot time from the two clocks read together, not /proc/stat's btime (whole
     * seconds). The kernel truncates the start to a tick: the middle of it is nearest. */
    rt = clock_ns(CLOCK_REALTIME);
    bt = clock_ns(CLOCK_BOOTTIME);
    tick_ns = 1000000000u / (uint64_t)hz;
    best = best * tick_ns + tick_ns / 2;
    if (rt < bt || best > bt)
        return first_seen_ns;
    best += rt - bt;
    return best < first_seen_ns ? best : first_seen_ns;
}

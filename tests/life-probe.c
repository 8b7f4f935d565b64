/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * life-probe STOP: a workload that measures its own life and the pauses it cannot see, for
 * the report tests. At once it prints a line: its CLOCK_REALTIME start (ns), and when the
 * kernel created it (/proc/self/stat's start time, in clock ticks since boot, taken to
 * CLOCK_REALTIME through CLOCK_BOOTTIME, the middle of its tick). Then it wakes every 2 ms
 * on CLOCK_MONOTONIC, which goes on while a task is frozen: a wakeup more than 300 ms
 * after the previous one is a pause. Once the file STOP exists it prints "START END LATE"
 * (LATE: the most any other wakeup came late, in ns: how promptly the machine ran it) and
 * a line "GAP_START GAP_END" per pause (CLOCK_REALTIME ns, from the monotonic clock and
 * the offset of the two at start), and exits 0. It writes nothing to disk: its end is as
 * close to its exit as it can be.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_GAPS 64

static uint64_t ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* When the kernel created this process, as CLOCK_REALTIME ns; 0 if unknown. */
static uint64_t created(void)
{
    unsigned long long ticks = 0;
    char buf[1024], *p;
    FILE *f = fopen("/proc/self/stat", "re");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    uint64_t tick = 1000000000u / (uint64_t)sysconf(_SC_CLK_TCK);

    if (f)
        fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    /* after ") " come fields 3 (state), 4, ...; the start time is field 22 */
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d"
                     " %*d %*d %llu",
                     &ticks) != 1)
        return 0;
    return ticks * tick + tick / 2 + (ns(CLOCK_REALTIME) - ns(CLOCK_BOOTTIME));
}

int main(int argc, char **argv)
{
    const uint64_t mono0 = ns(CLOCK_MONOTONIC), real0 = ns(CLOCK_REALTIME);
    const struct timespec tick = {0, 2000000};
    uint64_t gaps[MAX_GAPS][2], prev = mono0, now, late = 0;
    size_t n = 0;

    if (argc != 2)
        return 2;
    if (printf("%llu %llu\n", (unsigned long long)real0, (unsigned long long)created()) < 0 ||
        fflush(stdout) != 0)
        return 3;
    for (;;) {
        (void)nanosleep(&tick, NULL);
        now = ns(CLOCK_MONOTONIC);
        if (now - prev > 300000000u && n < MAX_GAPS) {
            gaps[n][0] = prev;
            gaps[n++][1] = now;
        } else if (now - prev > 2000000u && now - prev - 2000000u > late) {
            late = now - prev - 2000000u;
        }
        prev = now;
        if (access(argv[1], F_OK) == 0)
            break;
    }
    now = ns(CLOCK_MONOTONIC);
    printf("%llu %llu %llu\n", (unsigned long long)real0,
           (unsigned long long)(real0 + (now - mono0)), (unsigned long long)late);
    for (size_t i = 0; i < n; i++)
        printf("%llu %llu\n", (unsigned long long)(real0 + (gaps[i][0] - mono0)),
               (unsigned long long)(real0 + (gaps[i][1] - mono0)));
    return fflush(stdout) == 0 ? 0 : 3;
}

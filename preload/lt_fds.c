/*
 * The descriptors the shim opens, for a moment only (the ring's memfd and the socket until HELLO is sent; the
 * child's pair across fork): each goes to a high number at once, out of the way of a program that expects
 * its next open to return the lowest free number, and never onto 0, 1 or 2 when the program was started with
 * one of those closed (every message written there would go into it). After HELLO the shim holds none.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lt_fds.h"

/* Where kept descriptors go: above what programs usually use, below the common 1024 soft limit. */
#define LT_HIGH_FD 900

int lt_fd_move_high(int fd) {
    if (fd < 0) return fd;
    struct rlimit limit;
    int floor = LT_HIGH_FD;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur <= (rlim_t)floor)
        floor = (int)(limit.rlim_cur * 3 / 4);
    /* At least above the standard streams: a program started with them closed would otherwise have our
     * memfd or socket on descriptor 2, and every message written there would go into it. */
    if (floor < 3) floor = 3;
    if (fd >= floor) return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, floor);
    if (high < 0) return fd;
    close(fd);
    return high;
}

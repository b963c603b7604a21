/*
 * The shim's own file descriptors, kept apart from the program's.
 *
 * A program may close any descriptor (close_range(3, ~0U), closefrom, a daemon closing everything) and get
 * the same number back for a file of its own. So the shim moves each descriptor it keeps to a high number
 * (out of the way of programs that expect their next open to return a low one), remembers which file it is
 * (device and inode), and checks that identity before every use: it never reads, writes or closes a
 * descriptor that is no longer its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lt_internal.h"

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

int lt_fd_adopt(int fd, struct lt_owned_fd *owned) {
    owned->fd = -1;
    if (fd < 0) return -1;
    fd = lt_fd_move_high(fd);
    struct stat status;
    if (fstat(fd, &status) != 0) {
        close(fd);
        return -1;
    }
    owned->dev = (uint64_t)status.st_dev;
    owned->ino = (uint64_t)status.st_ino;
    owned->fd = fd;
    return 0;
}

int lt_fd_ours(const struct lt_owned_fd *owned) {
    if (owned->fd < 0) return 0;
    struct stat status;
    if (fstat(owned->fd, &status) != 0) return 0;
    return (uint64_t)status.st_dev == owned->dev && (uint64_t)status.st_ino == owned->ino;
}

void lt_fd_release(struct lt_owned_fd *owned) {
    if (lt_fd_ours(owned)) close(owned->fd);
    owned->fd = -1;
}

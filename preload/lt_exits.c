/*
 * Ways out that glibc takes through its internal _exit, which the exported _exit never sees, so the stream
 * would end without FINAL (an incomplete trace, exit status unknown):
 *   - daemon(): its parent leaves with the internal _exit(0). Done here the same way glibc does it, with a fork
 *     and our own _exit, so the parent's trace ends cleanly and the daemon gets a stream of its own.
 *   - quick_exit(): runs the at_quick_exit handlers, then the internal _exit, and no destructors. The status
 *     is noted here; an at_quick_exit handler registered at the start of main (lt_engine.c) ends the stream
 *     after the program's own handlers.
 */
#include <fcntl.h>
#include <paths.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lt_internal.h"

int lt_replacement_daemon(int nochdir, int noclose) {
    pid_t child = fork();
    if (child < 0) return -1;
    if (child > 0) lt_replacement_exit_now(0);
    if (setsid() < 0) return -1;
    if (!nochdir && chdir("/") != 0) return -1;
    if (!noclose) {
        /* As glibc does: only onto a real /dev/null. */
        int fd = open(_PATH_DEVNULL, O_RDWR);
        struct stat status;
        if (fd < 0) return -1;
        if (fstat(fd, &status) != 0 || !S_ISCHR(status.st_mode) || status.st_rdev != makedev(1, 3)) {
            close(fd);
            return -1;
        }
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) close(fd);
    }
    return 0;
}

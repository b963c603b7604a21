/*
 * The ways out of a process, and the start of main, which is where the shim learns of most of them.
 *
 * exit() only notes the status: it runs the destructors, and ours (lt_lifecycle.c) ends the stream after the
 * program's. _exit and _Exit end the stream at once. Returning from main, glibc calls its internal exit,
 * which our exported exit never sees: an on_exit handler registered at the start of main (the shim
 * interposes __libc_start_main) runs before the loader's exit handler (registered before main), and so
 * before our destructor ends the stream, on every path through exit: return from main, exit() called inside
 * the C library (error(), ...), and the program's own exit().
 *
 * Ways out that glibc takes through its internal _exit, which the exported _exit never sees, so the stream
 * would end without FINAL (an incomplete trace, exit status unknown):
 *   - daemon(): its parent leaves with the internal _exit(0). Done here the same way glibc does it, with a fork
 *     and our own _exit, so the parent's trace ends cleanly and the daemon gets a stream of its own.
 *   - quick_exit(): runs the at_quick_exit handlers, then the internal _exit, and no destructors. The status
 *     is noted here; an at_quick_exit handler registered at the start of main ends the stream after the
 *     program's own handlers.
 */
#include <fcntl.h>
#include <paths.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lt_exits.h"
#include "lt_lifecycle.h"
#include "lt_real.h"
#include "lt_shutdown.h"
#include "lt_state.h"

void lt_replacement_exit_now(int status) {
    lt_shutdown((uint64_t)(unsigned)status & 0xff);
    if (!atomic_load(&lt_real_ready)) lt_resolve_real();
    lt_real.exit_now(status);
    __builtin_unreachable();
}

static lt_main_fn lt_program_main;

static void lt_note_exit_status(int status, void *unused) {
    (void)unused;
    atomic_store(&lt_exit_status, (uint64_t)(unsigned)status & 0xff);
}

/* quick_exit runs no destructors: ours ends the stream after the program's own at_quick_exit handlers. */
static void lt_on_quick_exit(void) { lt_shutdown(atomic_load(&lt_exit_status)); }

static int lt_main_wrapper(int argc, char **argv, char **envp) {
    on_exit(lt_note_exit_status, NULL);
    at_quick_exit(lt_on_quick_exit);
    return lt_program_main(argc, argv, envp);
}

void lt_replacement_quick_exit(int status) {
    atomic_store(&lt_exit_status, (uint64_t)(unsigned)status & 0xff);
    if (!atomic_load(&lt_real_ready)) lt_init();
    lt_real.quick_exit(status);
    __builtin_unreachable();
}

int lt_replacement_libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                                   void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
    if (!atomic_load(&lt_real_ready)) lt_init();
    if (!atomic_load(&lt_real_ready)) lt_resolve_real();
    lt_program_main = main;
    return lt_real.start_main(lt_main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

void lt_replacement_exit(int status) {
    /* Only remember the status: exit() runs the destructors, and ours ends tracking after the program's. */
    atomic_store(&lt_exit_status, (uint64_t)(unsigned)status & 0xff);
    if (!atomic_load(&lt_real_ready)) lt_init();
    lt_real.exit(status);
    __builtin_unreachable();
}

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

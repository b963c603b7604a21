/*
 * Fatal signals: a program that crashes (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS) or aborts ends its stream
 * with FINAL and exit status 128 + N, then dies of the same signal as it would have without the shim.
 *
 * A handler is installed only where the action is still the default, so a signal the program's parent made
 * ignored stays ignored, and a program that installs its own handler later simply replaces ours. Signals
 * that programs commonly handle themselves (SIGINT, SIGTERM, SIGHUP) are left alone: a handler there changes
 * what programs see (CPython, for one, installs its KeyboardInterrupt handler only over the default action).
 * A process killed by them still leaves every published record readable; its trace is only marked incomplete.
 *
 * The handler is async-signal-safe: atomics, the ring, nanosleep and write(2); no lock, no allocation.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>

#include "lt_internal.h"

static const int lt_fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS};

static void lt_on_fatal_signal(int signal_number) {
    int saved = errno;
    lt_shutdown_without_waiting(128u + (unsigned)signal_number);
    /* SA_RESETHAND restored the default action, and the signal is blocked while this runs: raised again, it
     * is delivered as soon as we return (after a fault, with the faulting context restored), and fatal. */
    raise(signal_number);
    errno = saved;
}

void lt_signals_install(void) {
    for (size_t i = 0; i < sizeof lt_fatal_signals / sizeof lt_fatal_signals[0]; i++) {
        struct sigaction current;
        if (sigaction(lt_fatal_signals[i], NULL, &current) != 0) continue;
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler != SIG_DFL) continue;
        struct sigaction action = {0};
        action.sa_handler = lt_on_fatal_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESETHAND | SA_ONSTACK | SA_RESTART;
        sigaction(lt_fatal_signals[i], &action, NULL);
    }
}

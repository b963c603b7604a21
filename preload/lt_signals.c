/*
 * Fatal signals: a program that aborts (SIGABRT), or dies of SIGILL, SIGFPE or SIGSYS, ends its stream with
 * FINAL and exit status 128 + N, then dies of the same signal as it would have without the shim.
 *
 * A handler is installed only where the action is still the default (no handler, SA_SIGINFO or not, and not
 * ignored), so a signal the program's parent made ignored stays ignored, and a program that installs its own
 * handler later simply replaces ours. Signals whose default action programs look at before installing their
 * own are left alone, because our handler would change what they do:
 *   - SIGSEGV and SIGBUS: Rust installs its stack-overflow handler (and message) only over the default.
 *   - SIGINT, SIGTERM, SIGHUP: CPython installs its KeyboardInterrupt handler only over the default.
 * A process killed by those still leaves every published record readable; its trace is only marked
 * incomplete (and `leaktrack record` knows its exit status anyway).
 *
 * The handler is async-signal-safe: atomics, the ring, nanosleep, sigaction and write(2); no lock, no
 * allocation.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>

#include "lt_shutdown.h"
#include "lt_signals.h"

static const int lt_fatal_signals[] = {SIGABRT, SIGILL, SIGFPE, SIGSYS};

static void lt_on_fatal_signal(int signal_number) {
    int saved = errno;
    lt_shutdown_without_waiting(128u + (unsigned)signal_number);
    /* Back to the default action, explicitly: a program's own handler may have called ours as its "previous
     * handler", and SA_RESETHAND only resets ours when the kernel delivers to it. The signal is blocked while
     * a handler runs, so raised again it is delivered as soon as the handlers return, and fatal. */
    struct sigaction default_action = {0};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    sigaction(signal_number, &default_action, NULL);
    raise(signal_number);
    errno = saved;
}

void lt_signals_install(void) {
    for (size_t i = 0; i < sizeof lt_fatal_signals / sizeof lt_fatal_signals[0]; i++) {
        struct sigaction current;
        if (sigaction(lt_fatal_signals[i], NULL, &current) != 0) continue;
        if ((current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL) continue;
        struct sigaction action = {0};
        action.sa_handler = lt_on_fatal_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESETHAND | SA_ONSTACK | SA_RESTART;
        sigaction(lt_fatal_signals[i], &action, NULL);
    }
}

/*
 * Lifecycle: start-up and fork. The states are lt_state.c's; the end of the stream is lt_shutdown.c's.
 *
 * The first hook call (often before our constructor runs) or the constructor starts initialization: the real
 * functions (dlsym(RTLD_NEXT, ...), with the bootstrap arena serving the calls dlsym makes), the
 * configuration, the ring and the stack table (mmap), the fork and fatal-signal handlers, and the link to the
 * collector (HELLO). Fork children restart tracking on a connection of their own, prepared by the parent.
 * The destructor ends the stream, after the program's own destructors.
 */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_base.h"
#include "lt_config.h"
#include "lt_diag.h"
#include "lt_lifecycle.h"
#include "lt_link.h"
#include "lt_modules.h"
#include "lt_real.h"
#include "lt_sampler.h"
#include "lt_shm.h"
#include "lt_shutdown.h"
#include "lt_signals.h"
#include "lt_stacks.h"
#include "lt_state.h"
#include "lt_threads.h"
#include "lt_unwind.h"

/* The state when this thread last called fork, for the handlers (the child's copy of lt_state is wiped). */
static LT_TLS int lt_forking_state;

/* fork: the child gets a stream of its own. Its ring and its connection are made here, in the parent, so
 * that the child only maps and announces them: no round trip to the collector per fork, and the collector
 * has the child's connection in its queue before the parent can exit. */
static void lt_fork_prepare(void) {
    lt_forking_state = atomic_load(&lt_state);
    if (lt_forking_state != LT_ENABLED) return;
    uint8_t was_internal = lt_self.internal;
    lt_self.internal = 1;
    lt_link_prepare_fork();
    lt_self.internal = was_internal;
    lt_modules_lock_for_fork();
}

static void lt_fork_parent(void) {
    if (lt_forking_state != LT_ENABLED) return;
    lt_modules_unlock_after_fork();
    lt_link_fork_parent();
}

static void lt_fork_child(void) {
    if (lt_forking_state != LT_ENABLED) {
        atomic_store(&lt_state, LT_DISABLED);
        return;
    }
    lt_modules_unlock_after_fork();
    uint8_t was_internal = lt_self.internal;
    lt_self.internal = 1;   /* the link's start-up allocations are the shim's, not the program's */
    lt_self.claimed_at = 0; /* positions start again in the child's own ring */
    atomic_store(&lt_state, LT_INITIALIZING);
    int stacks = lt_stacks_reset_after_fork();
    lt_modules_reset_after_fork();
    lt_threads_reset_after_fork(); /* the forking thread gets an ordinal of the child's stream, and its THREAD */
    memset(&lt_counters, 0, sizeof lt_counters);
    atomic_store(&lt_exit_status, LT_EXIT_UNKNOWN);
    lt_stream_pid = getpid();
    if (stacks != 0 || lt_link_fork_child() != 0) {
        atomic_store(&lt_state, LT_DISABLED);
        lt_diag("the fork child cannot reach the collector; it runs untracked", NULL);
    } else {
        atomic_store(&lt_state, LT_ENABLED);
    }
    lt_self.internal = was_internal;
}

LT_NOINLINE void lt_init(void) {
    int expected = LT_UNINITIALIZED;
    if (!atomic_compare_exchange_strong(&lt_state, &expected, LT_INITIALIZING)) return;
    lt_self.internal = 1; /* everything allocated while starting is the shim's own */
    lt_resolve_real();
    lt_resolve_real_exec();
    lt_config_load();
    if (lt_config.disabled) {
        atomic_store(&lt_state, LT_DISABLED);
        lt_self.internal = 0;
        return;
    }
    uintptr_t lo, hi;
    int ring_fd = lt_ring_create(lt_config.ring_log2);
    if (ring_fd < 0 || lt_ring_map(ring_fd, lt_config.ring_log2) != 0 || lt_stacks_init(lt_config.stack_slots) != 0 ||
        lt_unwind_init() != 0) {
        if (ring_fd >= 0) close(ring_fd);
        lt_diag("cannot create the shared event ring (memfd_create, mmap); the program runs untracked", NULL);
        atomic_store(&lt_state, LT_DISABLED);
        lt_self.internal = 0;
        return;
    }
    if (lt_modules_object_range((const void *)lt_init, &lo, &hi) == 0) lt_stacks_set_self_range(lo, hi);
    pthread_atfork(lt_fork_prepare, lt_fork_parent, lt_fork_child);
    lt_signals_install();
    lt_sampler_start();
    lt_stream_pid = getpid();
    /* Where the kernel cannot wipe the page (before 4.14), a child made without fork's handlers is not
     * detected; every other fork is. */
    madvise(&lt_state_page, sizeof lt_state_page, MADV_WIPEONFORK);
    lt_started = 1;
    atomic_store(&lt_state, LT_ENABLED);
    if (lt_link_start(ring_fd) != 0) lt_disable(NULL); /* lt_link_start said why */
    lt_self.internal = 0;
}

/* The C unit tests (preload/tests) start and end tracking themselves, each in a process of its own. */
#ifndef LT_TESTING
__attribute__((constructor)) static void lt_constructor(void) { lt_init(); }

__attribute__((destructor)) static void lt_destructor(void) { lt_shutdown(atomic_load(&lt_exit_status)); }
#endif

/*
 * The shim's state: what every other room reads, and that depends on nothing but the messages.
 *
 * Lifecycle is one atomic state: UNINITIALIZED -> INITIALIZING -> ENABLED -> STOPPING -> DISABLED.
 * The first hook call (often before our constructor runs) or the constructor starts initialization
 * (lt_lifecycle.c); fork children restart tracking on a connection of their own; exit, _exit and the
 * destructor end it with a FINAL record and a flush (lt_shutdown.c). Anything that finds the collector gone
 * switches tracking off here, with lt_disable.
 *
 * A hook reads the state with one relaxed load and the per-thread flags with one TLS access; the loss
 * counters are touched only on rare events and travel in FINAL, so what is lost is counted, never silent.
 */
#include "leaktrack_wire.h"
#include "lt_base.h"
#include "lt_diag.h"
#include "lt_state.h"

struct lt_state_page lt_state_page __attribute__((aligned(4096)));
int lt_started;
pid_t lt_stream_pid;
_Atomic uint64_t lt_exit_status = LT_EXIT_UNKNOWN;
struct lt_counters lt_counters;
LT_TLS struct lt_thread_state lt_self;

void lt_disable(const char *why) {
    int state = atomic_load(&lt_state);
    while (state == LT_ENABLED || state == LT_STOPPING) {
        if (atomic_compare_exchange_weak(&lt_state, &state, LT_DISABLED)) {
            if (why != NULL) lt_diag(why, NULL);
            return;
        }
    }
}

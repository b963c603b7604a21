/*
 * Ending the stream: ENABLED -> STOPPING -> DISABLED, once, in the process the stream belongs to. FINAL goes
 * into the ring with the loss counters and the exit status; then either the shim waits (bounded) for the
 * collector to confirm it has stored the trace (exit, _exit, the destructor), or, when the image is about to
 * vanish (exec, a fatal signal), it only wakes the collector, which reads the rest from its own mapping.
 * Async-signal-safe: a fatal signal's handler ends the stream through here.
 */
#include <unistd.h>

#include "lt_collector.h"
#include "lt_records.h"
#include "lt_shutdown.h"
#include "lt_state.h"

/* Ends the stream once, in this process only (never from a vfork child, which has another pid). */
static void lt_stop(uint64_t exit_status, int vanishing) {
    if (atomic_load(&lt_state) != LT_ENABLED || getpid() != lt_stream_pid) return;
    int expected = LT_ENABLED;
    if (!atomic_compare_exchange_strong(&lt_state, &expected, LT_STOPPING)) return;
    uint8_t was_internal = lt_self.internal;
    lt_self.internal = 1;
    /* Vanishing (exec, a fatal signal): the collector holds the ring's memfd (or has it queued with HELLO)
     * and reads the rest from its own mapping; nothing to wait for. */
    if (lt_record_final(exit_status) != UINT64_MAX) {
        if (vanishing) {
            lt_collector_wake();
        } else {
            lt_collector_finish();
        }
    }
    expected = LT_STOPPING;
    atomic_compare_exchange_strong(&lt_state, &expected, LT_DISABLED);
    lt_self.internal = was_internal;
}

void lt_shutdown(uint64_t exit_status) { lt_stop(exit_status, 0); }

void lt_shutdown_without_waiting(uint64_t exit_status) { lt_stop(exit_status, 1); }

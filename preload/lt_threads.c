/*
 * Thread ordinals. A thread is given the next ordinal of its stream (an atomic counter) at its first traced
 * allocation, and its THREAD record (ordinal, tid, name) is written right then, before the record that
 * carries the ordinal first: two system calls (gettid, prctl(PR_GET_NAME)) per thread and stream, and after
 * that one TLS load per event. Ordinals are dense from 1; a thread beyond the 65534 a stream can name is
 * LT_THREAD_MANY, without a record. A fork child's stream numbers its threads afresh (lt_lifecycle.c calls
 * lt_threads_reset_after_fork); an exec'd image starts with a counter and TLS of its own anyway.
 *
 * Re-entrancy: a signal handler that allocates may interrupt the assignment on the same thread. While it is
 * under way (`lt_self.naming`), such a handler's allocation is recorded with thread LT_THREAD_UNKNOWN
 * rather than with an ordinal whose THREAD record is not written yet; and a handler that came in before the
 * flag was raised has done the whole assignment itself, which the check after raising it finds. So a thread
 * gets one ordinal and one THREAD record, with no lock: only this thread writes its TLS.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_base.h"
#include "lt_records.h"
#include "lt_threads.h"

/* The last ordinal handed out in this stream; it stops growing once past the ordinals a stream can name. */
static _Atomic uint32_t lt_threads_last;

LT_NOINLINE uint16_t lt_threads_assign(void) {
    struct lt_thread_state *self = &lt_self;
    if (self->naming) return LT_THREAD_UNKNOWN;
    self->naming = 1;
    atomic_signal_fence(memory_order_seq_cst);
    uint16_t ordinal = self->ordinal;
    if (ordinal == 0) {
        uint32_t n = LT_THREAD_MANY;
        if (atomic_load_explicit(&lt_threads_last, memory_order_relaxed) < LT_THREAD_MANY - 1)
            n = atomic_fetch_add_explicit(&lt_threads_last, 1, memory_order_relaxed) + 1;
        if (n >= LT_THREAD_MANY) {
            ordinal = LT_THREAD_MANY;
        } else {
            ordinal = (uint16_t)n;
            char name[LT_THREAD_NAME_SIZE] = {0};
            prctl(PR_GET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
            name[LT_THREAD_NAME_SIZE - 1] = '\0';
            lt_record_thread(n, (uint32_t)syscall(SYS_gettid), name);
        }
        self->ordinal = ordinal;
    }
    atomic_signal_fence(memory_order_seq_cst);
    self->naming = 0;
    return ordinal;
}

void lt_threads_reset_after_fork(void) {
    atomic_store(&lt_threads_last, 0);
    lt_self.ordinal = 0;
    lt_self.naming = 0;
}

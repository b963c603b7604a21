/* Thread ordinals (lt_threads.c): the small number ALLOC and REALLOC_END carry for the allocating thread, and
 * the THREAD record that names it, once per thread and stream. */
#ifndef LT_THREADS_H
#define LT_THREADS_H

#include <stdint.h>

#include "lt_base.h"
#include "lt_state.h"

/* Gives this thread its ordinal and writes its THREAD record (the slow path of lt_thread_current). */
uint16_t lt_threads_assign(void);

/* The ordinal for a record of an allocation this thread made: one TLS load, but for the thread's first. */
static inline uint16_t lt_thread_current(void) {
    /* lt_self.ordinal: 0 until the thread first allocates while tracked, then 1.. or LT_THREAD_MANY. It sits
     * in the thread state the hook has just read, so this costs no TLS access of its own. */
    uint16_t ordinal = lt_self.ordinal;
    if (LT_UNLIKELY(ordinal == 0)) ordinal = lt_threads_assign();
    return ordinal;
}

/* In a fork child, whose stream is new: ordinals start again at 1, the forking thread's (the only thread
 * left) included. */
void lt_threads_reset_after_fork(void);

#endif /* LT_THREADS_H */

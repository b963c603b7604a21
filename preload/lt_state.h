/* The shim's state, at the bottom of every other room (lt_state.c): the lifecycle state, the loss counters,
 * the per-thread flags, and the one way to switch tracking off. */
#ifndef LT_STATE_H
#define LT_STATE_H

#include <sys/types.h>

#include "lt_base.h"

enum lt_lifecycle {
    LT_UNINITIALIZED = 0,
    LT_INITIALIZING = 1,
    LT_ENABLED = 2,
    LT_STOPPING = 3,
    LT_DISABLED = 4,
};

/* The lifecycle state lives alone in a page that every fork wipes (MADV_WIPEONFORK): a child made without
 * fork's handlers (_Fork, a raw clone or fork system call) reads 0 there, and so never writes into its
 * parent's ring. */
struct lt_state_page {
    _Atomic int state;
    char rest[4096 - sizeof(_Atomic int)];
};
extern LT_HIDDEN struct lt_state_page lt_state_page;
#define lt_state (lt_state_page.state)

/* Set once tracking has started in this image; unlike lt_state, a fork does not wipe it. */
extern LT_HIDDEN int lt_started;
/* The process the current stream belongs to. A vfork child shares our memory but is another process: it
 * must not end the parent's stream when it calls _exit. */
extern LT_HIDDEN pid_t lt_stream_pid;
/* The status passed to exit, _exit or quick_exit, or returned from main; LT_EXIT_UNKNOWN until then. */
extern LT_HIDDEN _Atomic uint64_t lt_exit_status;

/* Rare events only: a shared counter per allocation would be a contended cache line. FINAL carries them. */
struct lt_counters {
    _Atomic uint64_t no_stack;
    _Atomic uint64_t stacks_dropped;
    _Atomic uint64_t bootstrap_allocs;
    _Atomic uint64_t failed_allocs;
    _Atomic uint64_t skipped_words;
    _Atomic uint64_t samples_refused; /* sampled blocks the table of sampled blocks had no room for */
};
extern LT_HIDDEN struct lt_counters lt_counters;

/* Per-thread state: one TLS load per hook.
 *
 * Re-entrancy: a hook can be entered again on the same thread in two ways. The shim itself allocates
 * (libunwind on its first use in a thread; pthread and the loader inside it): that happens only inside
 * the `critical` parts, and such allocations are recorded without a stack. Or a signal handler that
 * allocates interrupts a hook: that allocation is the program's and gets its own stack, in the second slot
 * (`depth` counts the hooks in progress; deeper nesting is recorded without a stack). */
#define LT_MAX_NESTING 2
struct lt_thread_state {
    uint8_t depth;       /* hooks in progress on this thread */
    uint8_t critical;    /* inside a part of the shim that must not be re-entered: libunwind, the module lock */
    uint8_t internal;    /* the shim starting or forking: its calls pass straight through, never recorded */
    uint8_t claiming;    /* ring claims made but not yet published (see lt_ring_claim) */
    uint8_t naming;      /* this thread's ordinal is being given (lt_threads.c) */
    uint16_t ordinal;    /* this thread's ordinal in the stream (lt_threads.h): in the padding, beside the rest */
    uint64_t claimed_at; /* the position of the oldest of them (until stored, the one before: never newer) */
    const void *hook_frame[LT_MAX_NESTING]; /* each hook's frame (frame pointer): unwinding starts there */
    uint64_t sample_left;                   /* sampling: bytes to allocate before the next sampled one (lt_sampler.h) */
    uint64_t sample_rng;                    /* sampling: this thread's generator state; 0 until seeded */
};
extern LT_HIDDEN LT_TLS struct lt_thread_state lt_self;

/* Switches tracking off for good with one message (collector gone, ring stuck); NULL: no message. */
void lt_disable(const char *why);

#endif /* LT_STATE_H */

/* The fast unwinder (lt_unwind.c): cached .eh_frame rules and a replay of the thread's last walk, with
 * libunwind as its caller's fallback. */
#ifndef LT_UNWIND_H
#define LT_UNWIND_H

int lt_unwind_init(void);
/* The calling thread's return addresses, innermost first, as unw_backtrace gives them; -1 when a frame
 * needs more than this unwinder follows (the caller then uses libunwind). With `frame`, the frame-pointer
 * frame of a function on the current stack (push rbp; mov rsp, rbp), the walk starts at that function's
 * return address and skips everything below it. */
int lt_unwind_backtrace(const void *frame, void **frames, int max);
/* Forgets every cached rule, and every thread's last walk: after dlclose, the same code addresses may belong
 * to other code. */
void lt_unwind_forget(void);

#ifdef LT_TESTING
#include <stdint.h>
/* Tests only: the same walk without the thread's last walk (neither replaying it nor keeping this one). */
int lt_unwind_backtrace_alone_for_testing(const void *frame, void **frames, int max);
/* Tests only: this thread's replays of its last walk so far, the frames they gave, and how many stopped before
 * the end of the last walk (a word that differed, or the frame limit). */
struct lt_unwind_replays {
    uint64_t replays, frames, cut_short;
};
struct lt_unwind_replays lt_unwind_replays_for_testing(void);
#endif

#endif /* LT_UNWIND_H */

/*
 * What every part of the shim shares: branch hints, static TLS, and hidden visibility for the shim's own
 * data.
 *
 * The shim is split into rooms, one file and one small header each. A file includes the headers of the rooms
 * it uses and no others, and each room uses only rooms below it in this list (docs/DESIGN.md draws the arrows):
 *
 *   lt_exports.c                          the exported symbols: one-line forwarders
 *   lt_hooks, lt_exits, lt_exec           the lt_replacement_* functions
 *   lt_lifecycle                          start-up, fork, constructor and destructor
 *   lt_signals                            fatal signals
 *   lt_shutdown                           ending the stream: FINAL, the wait for the collector
 *   lt_link, lt_spawn                     HELLO on the collector's socket; bare mode's own collector
 *   lt_stacks, lt_unwind                  stack capture and the stack table; the fast unwinder
 *   lt_threads                            thread ordinals and their THREAD records
 *   lt_sampler                            which allocations a sampled stream records; the filter of sampled blocks
 *   lt_modules                            module snapshots
 *   lt_records                            encoding each record into the ring
 *   lt_ring                               claiming and publishing ring space, back-pressure
 *   lt_collector, lt_socket               the collector's liveness; connections of a moment
 *   lt_shm                                the ring's shared memory and its header words
 *   lt_bootstrap                          the arena for allocations made before the real allocator is known
 *   lt_state                              lifecycle state, counters, per-thread flags, lt_disable
 *   lt_real, lt_config, lt_diag, lt_fds   the real functions, LEAKTRACK_*, messages, descriptors
 *
 * Nothing here is exported from libleaktrack.so (built with -fvisibility=hidden); the only exported symbols
 * are the forwarders in lt_exports.c.
 */
#ifndef LT_BASE_H
#define LT_BASE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LT_LIKELY(x)   __builtin_expect(!!(x), 1)
#define LT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LT_NOINLINE    __attribute__((noinline))
#define LT_TLS         __thread __attribute__((tls_model("initial-exec")))

/* On the declarations of the shim's data shared between files: -fvisibility=hidden covers definitions only,
 * and a declaration the compiler does not know to be hidden is reached through the GOT. The C unit tests
 * (preload/tests, built with LT_TESTING) link against a library that shows its insides. */
#ifdef LT_TESTING
#define LT_HIDDEN
#else
#define LT_HIDDEN __attribute__((visibility("hidden")))
#endif

#endif /* LT_BASE_H */

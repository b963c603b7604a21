/* The collector as the shim sees it (lt_collector.c): whether it still reads this stream, waking it, and
 * waiting for its DONE at exit. */
#ifndef LT_COLLECTOR_H
#define LT_COLLECTOR_H

/* HELLO went out on the collector's socket at `socket_path` (a buffer that lives as long as the process):
 * a collector will read this stream, and from now on its liveness is watched. */
void lt_collector_attached(const char *socket_path);
/* No HELLO of this stream is out (a fork child, before it sends its own). */
void lt_collector_detached(void);
/* Whether a collector reads this stream: HELLO went out and the collector is not known to be lost. */
int lt_collector_reads(void);
/* Wakes the collector if it sleeps (FINAL is out, or a producer waits for space). Async-signal-safe. */
void lt_collector_wake(void);
/* Whether the collector is gone: its process no longer exists, or it never answered, or went silent. */
int lt_collector_gone(void);
/* Marks the collector as gone for good. */
void lt_collector_lost(void);
/* After FINAL: wakes the collector and waits (bounded by LEAKTRACK_EXIT_TIMEOUT) until it has stored the
 * trace. */
void lt_collector_finish(void);

#endif /* LT_COLLECTOR_H */

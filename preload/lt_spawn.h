/* Bare mode: a collector of our own (lt_spawn.c). */
#ifndef LT_SPAWN_H
#define LT_SPAWN_H

#include <stddef.h>

/* Starts `leaktrack collect` on a new private socket, whose path goes to `path`, and returns a connection to
 * it (the connection waits in the listener's backlog until the collector runs); -1 (said why) on failure. */
int lt_spawn_collector(char *path, size_t size);

#endif /* LT_SPAWN_H */

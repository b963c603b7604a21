/* Connections of a moment to the collector's Unix socket (lt_socket.c). */
#ifndef LT_SOCKET_H
#define LT_SOCKET_H

#include <stddef.h>

/* A connection to the collector's socket at `path` (a full queue gets 2 s); -1 on failure. */
int lt_connect(const char *path);
/* Whether anything listens on the socket at `path` (connected, or its queue is full): 1, or 0 if not. Out of
 * descriptors, it says 1: nothing is known about the collector then. */
int lt_socket_listening(const char *path);
/* Sends `bytes` from `data` on fd, with `attach_fd` (unless -1) as SCM_RIGHTS on the first part and the
 * sender's credentials (SO_PASSCRED); 0, or -1. */
int lt_socket_send(int fd, const void *data, size_t bytes, int attach_fd);

#endif /* LT_SOCKET_H */

// Linux calls the Swift Glibc module does not expose (they need _GNU_SOURCE).
#ifndef LEAKTRACK_SYSTEM_H
#define LEAKTRACK_SYSTEM_H

#include <sys/types.h>

/// accept4(fd, NULL, NULL, SOCK_CLOEXEC).
int lt_accept_cloexec(int listener);
/// The uid of the process at the other end of a Unix socket (SO_PEERCRED); -1 on error.
int lt_peer_uid(int fd, uid_t *uid);

#endif

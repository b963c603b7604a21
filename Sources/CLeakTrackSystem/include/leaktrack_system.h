// Linux calls the Swift Glibc module does not expose (they need _GNU_SOURCE).
#ifndef LEAKTRACK_SYSTEM_H
#define LEAKTRACK_SYSTEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// accept4(fd, NULL, NULL, SOCK_CLOEXEC).
int lt_accept_cloexec(int listener);
/// The uid of the process at the other end of a Unix socket (SO_PEERCRED); -1 on error.
int lt_peer_uid(int fd, uid_t *uid);

/// recvmsg into `buffer`; a descriptor passed with SCM_RIGHTS is stored in *received_fd if that is still -1
/// (any other is closed), the sender's pid (SCM_CREDENTIALS, in our pid namespace) in *sender_pid if that is
/// still <= 0, and *control_truncated set when descriptors were dropped (we are out of descriptors). Returns
/// what recvmsg returned.
long lt_receive(int fd, void *buffer, size_t size, int *received_fd, int *sender_pid, int *control_truncated);
/// SO_PASSCRED: messages received on fd carry their sender's credentials.
int lt_pass_credentials(int fd);
/// pidfd_open(pid, 0): a descriptor that becomes readable when the process exits; -1 where unsupported.
int lt_pidfd_open(int pid);
/// The inode of our pid namespace (0 if unknown).
uint64_t lt_pid_namespace(void);
/// Raises the soft limit on open descriptors to the hard limit (one descriptor per traced process).
void lt_raise_descriptor_limit(void);
/// The soft limit on open descriptors.
long lt_descriptor_limit(void);
/// FUTEX_WAIT on the 32-bit word at base + offset (shared between processes), up to timeout_ms.
int lt_futex_wait(void *base, size_t offset, uint32_t expected, int timeout_ms);
/// FUTEX_WAKE every waiter on the word at base + offset.
void lt_futex_wake(void *base, size_t offset);
/// Atomic add (release) to a 64-bit word in the shared ring's header.
void lt_shared_add(void *base, size_t offset, uint64_t value);

/// Whether the memfd is sealed against shrinking (a traced process could otherwise truncate the ring under our
/// mapping and kill us with SIGBUS).
int lt_ring_is_sealed(int fd);
/// Whether process `pid` maps the file (dev, ino): 1 yes, 0 no, -1 its maps cannot be read.
int lt_process_maps_file(int pid, uint64_t dev, uint64_t ino);

/// Acquire load / release store of a 64-bit word in the shared ring's header.
uint64_t lt_shared_load(const void *base, size_t offset);
void lt_shared_store(void *base, size_t offset, uint64_t value);
/// How far from `read` the ring holds published records (see leaktrack_wire.h), up to `limit` words and never
/// more than the ring's capacity; UINT64_MAX if a published record claims to be longer than the ring.
uint64_t lt_shared_published_end(const void *words, uint64_t mask, uint64_t read, uint64_t write, uint64_t limit);
/// The first position after `read` (and before `write`) that holds a published record header; `write` if none.
uint64_t lt_shared_next_published(const void *words, uint64_t mask, uint64_t read, uint64_t write);

/// SIGTERM, SIGINT and SIGHUP only set a flag (a Swift closure cannot be a signal handler: globals are
/// initialized lazily, which is not async-signal-safe).
void lt_install_stop_handlers(void);
/// Whether one of those signals has arrived.
int lt_stop_requested(void);

#endif

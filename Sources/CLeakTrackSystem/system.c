#define _GNU_SOURCE
#include "leaktrack_system.h"
#include "leaktrack_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int lt_accept_cloexec(int listener) { return accept4(listener, NULL, NULL, SOCK_CLOEXEC); }

int lt_peer_uid(int fd, uid_t *uid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *uid = credentials.uid;
    return 0;
}

long lt_receive(int fd, void *buffer, size_t size, int *received_fd, int *sender_pid, int *control_truncated) {
    struct iovec iov = {.iov_base = buffer, .iov_len = size};
    union {
        char buffer[CMSG_SPACE(sizeof(int) * 8) + CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
    ssize_t got = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (got < 0) return -1;
    if (msg.msg_flags & MSG_CTRUNC) *control_truncated = 1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred credentials;
            memcpy(&credentials, CMSG_DATA(c), sizeof credentials);
            if (*sender_pid <= 0) *sender_pid = credentials.pid;
            continue;
        }
        if (c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int passed;
            memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
            if (*received_fd < 0) {
                *received_fd = passed;
            } else {
                close(passed);
            }
        }
    }
    return got;
}

int lt_pass_credentials(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
}

int lt_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

uint64_t lt_pid_namespace(void) {
    struct stat status;
    return stat("/proc/self/ns/pid", &status) == 0 ? (uint64_t)status.st_ino : 0;
}

void lt_raise_descriptor_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
}

long lt_descriptor_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
    return limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > (1 << 30) ? (1 << 30) : (long)limit.rlim_cur;
}

int lt_futex_wait(void *base, size_t offset, uint32_t expected, int timeout_ms) {
    struct timespec timeout = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
    return (int)syscall(SYS_futex, (uint32_t *)((char *)base + offset), FUTEX_WAIT, expected, &timeout, NULL, 0);
}

void lt_futex_wake(void *base, size_t offset) {
    syscall(SYS_futex, (uint32_t *)((char *)base + offset), FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void lt_shared_add(void *base, size_t offset, uint64_t value) {
    __atomic_fetch_add((uint64_t *)((char *)base + offset), value, __ATOMIC_RELEASE);
}

int lt_ring_is_sealed(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    return seals >= 0 && (seals & F_SEAL_SHRINK) != 0;
}

/* Scans /proc/PID/maps line by line (in a fixed buffer: a process can have a million mappings) for a
 * mapping of the file with this device and inode. */
int lt_process_maps_file(int pid, uint64_t dev, uint64_t ino) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char wanted_dev[32], wanted_ino[32];
    snprintf(wanted_dev, sizeof wanted_dev, "%02x:%02x", major((dev_t)dev), minor((dev_t)dev));
    snprintf(wanted_ino, sizeof wanted_ino, "%llu", (unsigned long long)ino);
    size_t dev_len = strlen(wanted_dev), ino_len = strlen(wanted_ino);
    static __thread char buffer[65536];
    size_t used = 0;
    int found = 0, failed = 0;
    for (;;) {
        ssize_t got = read(fd, buffer + used, sizeof buffer - used);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) failed = 1;
        if (got <= 0) break;
        used += (size_t)got;
        size_t start = 0;
        for (;;) {
            char *newline = memchr(buffer + start, '\n', used - start);
            if (newline == NULL) break;
            /* address perms offset dev inode [path] */
            char *field = buffer + start;
            for (int skip = 0; skip < 3 && field < newline; skip++) {
                field = memchr(field, ' ', (size_t)(newline - field));
                if (field == NULL) break;
                field++;
            }
            if (field != NULL && field + dev_len + 1 + ino_len <= newline && memcmp(field, wanted_dev, dev_len) == 0 &&
                field[dev_len] == ' ' && memcmp(field + dev_len + 1, wanted_ino, ino_len) == 0 &&
                (field + dev_len + 1 + ino_len == newline || field[dev_len + 1 + ino_len] == ' '))
                found = 1;
            start = (size_t)(newline - buffer) + 1;
        }
        if (found) break;
        if (start == 0 && used == sizeof buffer) used = 0; /* a line longer than the buffer: not ours */
        memmove(buffer, buffer + start, used - start);
        used -= start;
    }
    close(fd);
    if (found) return 1;
    return failed ? -1 : 0;
}

/* The consumer side of the shared ring's protocol (the producer side is preload/lt_ring.c). */

static uint64_t lt_header_at(const void *words, uint64_t mask, uint64_t pos) {
    return __atomic_load_n((const uint64_t *)words + (pos & mask), __ATOMIC_ACQUIRE);
}

static int lt_is_published(uint64_t header, uint64_t pos) {
    return lt_header_tag(header) == lt_tag(pos) && lt_header_words(header) != 0 && lt_header_type(header) != 0;
}

uint64_t lt_shared_load(const void *base, size_t offset) {
    return __atomic_load_n((const uint64_t *)((const char *)base + offset), __ATOMIC_ACQUIRE);
}

void lt_shared_store(void *base, size_t offset, uint64_t value) {
    __atomic_store_n((uint64_t *)((char *)base + offset), value, __ATOMIC_RELEASE);
}

uint64_t lt_shared_published_end(const void *words, uint64_t mask, uint64_t read, uint64_t write, uint64_t limit) {
    /* Never more than the ring holds: the records are copied out of it, and a record the traced process
     * claims to be longer than its ring (or headers it rewrites while we look) must not take the copy past
     * the mapping. */
    if (limit > mask + 1) limit = mask + 1;
    uint64_t end = read;
    while (end < write && end - read < limit) {
        uint64_t header = lt_header_at(words, mask, end);
        if (!lt_is_published(header, end)) break;
        uint64_t length = lt_header_words(header);
        if (length > mask + 1) return UINT64_MAX;
        if (end + length > write || end + length - read > limit) break;
        end += length;
    }
    return end;
}

uint64_t lt_shared_next_published(const void *words, uint64_t mask, uint64_t read, uint64_t write) {
    for (uint64_t pos = read + 1; pos < write && pos - read <= mask; pos++) {
        if (lt_is_published(lt_header_at(words, mask, pos), pos)) return pos;
    }
    return write;
}

static volatile sig_atomic_t lt_stop_flag;

static void lt_on_stop_signal(int signal_number) {
    (void)signal_number;
    lt_stop_flag = 1;
}

void lt_install_stop_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = lt_on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}

int lt_stop_requested(void) { return lt_stop_flag != 0; }

/*
 * The link to the collector: HELLO, the collector's liveness, fork's new link, and the end of the stream.
 *
 * The records never touch a socket: they go into the shared ring, which the collector maps. The socket
 * carries one message, HELLO, with the ring's memfd and the sender's credentials attached, and the shim
 * closes it right after, together with the memfd. From then on the shim holds no descriptor at all: a
 * program that closes every descriptor (close_range, a daemon), reuses their numbers or runs out of them
 * cannot disturb the link, and the link cannot disturb the program's files. Everything the shim waits for
 * is a word the collector writes into the ring's header (see leaktrack_wire.h), waited on with a futex.
 *
 * HELLO is sent before the program runs on (and, for a fork child, before fork returns, over a connection
 * the parent made), so the memfd is in the collector's queue from the start: whatever happens to the
 * process afterwards (exec, a crash, SIGKILL), the collector reads every published record.
 *
 * There is no thread of the shim's in the program. The collector samples the process's memory itself; the
 * collector's death is noticed where it matters, by a producer waiting for ring space or by the exit waiting
 * for the collector, which then switch tracking off with one message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "lt_internal.h"

/* A collector that has not answered HELLO for this long while its socket still listens (it may serve as many
 * streams as it can, this one waiting in its queue), or has shown no sign of life for this long since it
 * answered, is gone (the beat stops only if it died or was stopped, e.g. under a debugger). */
#define LT_UNANSWERED_NS (60ull * 1000000000ull)
#define LT_SILENT_NS (30ull * 1000000000ull)

static char lt_link_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static _Atomic int lt_link_up;       /* HELLO went out: a collector will read this stream */
static _Atomic int lt_lost;          /* the collector is known to have stopped reading */
static _Atomic uint64_t lt_link_started_ns;
static _Atomic uint64_t lt_last_beat, lt_last_beat_ns; /* the collector's beat as last seen, and when */
static _Atomic uint64_t lt_last_probe_ns;              /* when we last looked for an unanswering collector */

/* Made by the parent in fork's prepare handler for the child about to be born, in the forking thread (the
 * child inherits that thread's TLS). */
struct lt_fork_link {
    int ring_fd;
    int socket_fd;
};
static LT_TLS struct lt_fork_link lt_fork_link = {.ring_fd = -1, .socket_fd = -1};

/* ---------------------------------------------------------------------------------------------------- */
/* HELLO */

/* Connects to the collector's socket. Never blocks for long: a collector whose queue is full (it is slow
 * to accept, or serves as many streams as it can) gets `patience_ms`, then the connection fails. With
 * patience 0 it is a probe: 1 if something listens there (connected, or its queue is full), 0 if not. */
static int lt_connect_within(const char *path, uint32_t patience_ms, int probe) {
    int fd = lt_fd_move_high(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd < 0) return probe ? 1 : -1; /* out of descriptors: say nothing about the collector */
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strnlen(path, sizeof addr.sun_path - 1);
    memcpy(addr.sun_path, path, len);
    for (uint32_t waited = 0;;) {
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN && probe) {
            close(fd);
            return 1;
        }
        if (errno != EAGAIN || waited >= patience_ms) {
            close(fd);
            return probe ? 0 : -1;
        }
        lt_sleep_ns(1000000);
        waited++;
    }
    if (probe) {
        close(fd);
        return 1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK); /* HELLO is sent whole */
    return fd;
}

int lt_connect(const char *path) { return lt_connect_within(path, 2000, 0); }

/* Sends `bytes` from `data` on fd, with `attach_fd` as SCM_RIGHTS on the first part; SO_PASSCRED makes the
 * kernel attach our credentials, which the collector trusts over the pid written in HELLO. */
static int lt_send_all(int fd, const void *data, size_t bytes, int attach_fd) {
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    const char *at = data;
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    while (bytes > 0) {
        struct iovec iov = {.iov_base = (void *)at, .iov_len = bytes};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (attach_fd >= 0) {
            memset(&control, 0, sizeof control);
            msg.msg_control = control.buffer;
            msg.msg_controllen = sizeof control.buffer;
            struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cmsg), &attach_fd, sizeof(int));
        }
        ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        attach_fd = -1;
        at += sent;
        bytes -= (size_t)sent;
    }
    return 0;
}

static int lt_send_hello(int socket_fd, int ring_fd, int forked) {
    char exe[LT_MAX_PATH];
    uint32_t exe_len = lt_executable_path(exe, sizeof exe);
    static char cmdline[LT_MAX_CMDLINE];
    uint32_t cmdline_len = 0;
    /* A descriptor of a moment, in a thread the program cannot be running in yet (start-up, or the fork
     * child's handler). */
    int fd = lt_fd_move_high(open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC));
    if (fd >= 0) {
        ssize_t got;
        while (cmdline_len < sizeof cmdline &&
               (got = read(fd, cmdline + cmdline_len, sizeof cmdline - cmdline_len)) != 0) {
            if (got < 0) {
                if (errno == EINTR) continue;
                break;
            }
            cmdline_len += (uint32_t)got;
        }
        close(fd);
    }
    if (cmdline_len > 0 && cmdline[cmdline_len - 1] == '\0') cmdline_len--;

    static uint64_t words[(sizeof(struct lt_hello) + LT_MAX_PATH + LT_MAX_CMDLINE) / 8 + 2];
    memset(words, 0, sizeof words);
    struct lt_hello *hello = (struct lt_hello *)words;
    uint32_t total = sizeof *hello / 8 + lt_words_for_bytes(exe_len) + lt_words_for_bytes(cmdline_len);
    hello->header = lt_header_make(LT_REC_HELLO, total, 0);
    memcpy(hello->magic, LT_WIRE_MAGIC, LT_WIRE_MAGIC_SIZE);
    hello->version = LT_WIRE_VERSION;
    hello->pointer_size = sizeof(void *);
    hello->little_endian = 1;
    hello->flags = forked ? LT_HELLO_FORKED : 0;
    hello->pid = (uint32_t)getpid();
    hello->ppid = (uint32_t)getppid();
    hello->realtime_ns = lt_realtime_ns();
    hello->monotonic_ns = lt_monotonic_ns();
    hello->max_depth = lt_config.depth;
    hello->exe_len = exe_len;
    hello->cmdline_len = cmdline_len;
    hello->ring_log2 = lt_ring.log2;
    unsigned char *tail = (unsigned char *)(hello + 1);
    memcpy(tail, exe, exe_len);
    memcpy(tail + lt_words_for_bytes(exe_len) * 8, cmdline, cmdline_len);
    return lt_send_all(socket_fd, words, (size_t)total * 8, ring_fd);
}

/* Sends HELLO with the ring's memfd on `socket_fd`, and closes both: the shim keeps no descriptor. */
static int lt_link_announce(int socket_fd, int ring_fd, int forked) {
    int sent = lt_send_hello(socket_fd, ring_fd, forked);
    close(ring_fd);
    close(socket_fd);
    if (sent != 0) return -1;
    uint64_t now = lt_monotonic_ns();
    atomic_store(&lt_link_started_ns, now);
    atomic_store(&lt_last_beat, 0);
    atomic_store(&lt_last_beat_ns, now);
    atomic_store(&lt_lost, 0);
    atomic_store(&lt_link_up, 1);
    return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* the collector's liveness */

static long lt_futex(_Atomic uint64_t *word, int op, uint32_t value, const struct timespec *timeout) {
    /* The low half of the little-endian word: the counters and states that matter fit in it. */
    return syscall(SYS_futex, (uint32_t *)(void *)word, op, value, timeout, NULL, 0);
}

void lt_link_wake_collector(void) {
    atomic_fetch_add_explicit(lt_ring.wake, 1, memory_order_release);
    lt_futex(lt_ring.wake, FUTEX_WAKE, INT_MAX, NULL);
}

/* The inode of our pid namespace: the collector's pid means the same to us only if it is in the same one. */
static uint64_t lt_pid_namespace(void) {
    struct stat status;
    return stat("/proc/self/ns/pid", &status) == 0 ? (uint64_t)status.st_ino : 0;
}

int lt_link_collector_gone(void) {
    if (atomic_load(&lt_lost)) return 1;
    if (!atomic_load(&lt_link_up)) return 0;
    uint64_t now = lt_monotonic_ns();
    uint64_t state = atomic_load_explicit(lt_ring.collector_state, memory_order_acquire);
    uint64_t started = atomic_load(&lt_link_started_ns);
    if (state == 0) {
        /* Not answered yet: gone if nothing listens on its socket any more (it died, or never started), looked
         * at every 100 ms with a connection of a moment. */
        uint64_t probed = atomic_load(&lt_last_probe_ns);
        if (now > probed && now - probed > 100000000u) {
            atomic_store(&lt_last_probe_ns, now);
            if (lt_link_path[0] != '\0' && !lt_connect_within(lt_link_path, 0, 1)) return 1;
        }
        return now > started && now - started > LT_UNANSWERED_NS;
    }
    /* Done with this stream while we still wait for it to read (space for a record, FINAL included): the
     * collector gave up on it (a damaged record). lt_link_finish looks for DONE before asking. */
    if (state == LT_ACK_DONE) return 1;
    uint64_t pid = atomic_load_explicit(lt_ring.collector_pid, memory_order_acquire);
    uint64_t namespace = atomic_load_explicit(lt_ring.collector_pidns, memory_order_acquire);
    if (pid != 0 && pid < (1u << 31) && namespace != 0 && namespace == lt_pid_namespace() &&
        kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 1;
    uint64_t beat = atomic_load_explicit(lt_ring.collector_beat, memory_order_acquire);
    if (beat != atomic_load(&lt_last_beat)) {
        atomic_store(&lt_last_beat, beat);
        atomic_store(&lt_last_beat_ns, now);
        return 0;
    }
    /* Another thread, or a signal handler on this one, may have seen a beat after our `now`. */
    uint64_t since = atomic_load(&lt_last_beat_ns);
    return now > since && now - since > LT_SILENT_NS;
}

void lt_link_collector_lost(void) { atomic_store(&lt_lost, 1); }

/* ---------------------------------------------------------------------------------------------------- */
/* start, fork, end */

int lt_link_start(int ring_fd) {
    int socket_fd;
    if (lt_config.socket_path != NULL) {
        memcpy(lt_link_path, lt_config.socket_path, strnlen(lt_config.socket_path, sizeof lt_link_path - 1));
        socket_fd = lt_connect(lt_link_path);
        if (socket_fd < 0)
            lt_diag("cannot connect to the collector at LEAKTRACK_SOCKET=", lt_link_path, "; the program runs untracked", NULL);
    } else {
        socket_fd = lt_spawn_collector(lt_link_path, sizeof lt_link_path);
    }
    if (socket_fd < 0) {
        close(ring_fd);
        lt_link_collector_lost();
        return -1;
    }
    if (lt_link_announce(socket_fd, ring_fd, 0) != 0) {
        lt_diag("cannot send the stream's start to the collector; the program runs untracked", NULL);
        lt_link_collector_lost();
        return -1;
    }
    return 0;
}

void lt_link_prepare_fork(void) {
    lt_fork_link.ring_fd = -1;
    lt_fork_link.socket_fd = -1;
    if (!atomic_load(&lt_link_up) || atomic_load(&lt_lost)) return;
    lt_fork_link.ring_fd = lt_ring_create(lt_ring.log2);
    lt_fork_link.socket_fd = lt_connect(lt_link_path);
}

void lt_link_fork_parent(void) {
    /* Just made by this thread, and only the fork handlers ran since: still ours. */
    if (lt_fork_link.ring_fd >= 0) close(lt_fork_link.ring_fd);
    if (lt_fork_link.socket_fd >= 0) close(lt_fork_link.socket_fd);
    lt_fork_link.ring_fd = lt_fork_link.socket_fd = -1;
}

int lt_link_fork_child(void) {
    struct lt_fork_link prepared = lt_fork_link;
    lt_fork_link.ring_fd = lt_fork_link.socket_fd = -1;
    atomic_store(&lt_link_up, 0);
    if (prepared.ring_fd < 0 || prepared.socket_fd < 0 || lt_ring_map(prepared.ring_fd, lt_ring.log2) != 0) {
        if (prepared.ring_fd >= 0) close(prepared.ring_fd);
        if (prepared.socket_fd >= 0) close(prepared.socket_fd);
        return -1;
    }
    return lt_link_announce(prepared.socket_fd, prepared.ring_fd, 1);
}

void lt_link_finish(void) {
    if (!atomic_load(&lt_link_up)) return;
    lt_link_wake_collector();
    uint64_t deadline = lt_monotonic_ns() + (uint64_t)lt_config.exit_timeout_ms * 1000000u;
    for (;;) {
        uint64_t state = atomic_load_explicit(lt_ring.collector_state, memory_order_acquire);
        if (state == LT_ACK_DONE) return;
        if (lt_link_collector_gone()) {
            /* DONE may have come in just now: that is what "gone" saw. */
            if (atomic_load_explicit(lt_ring.collector_state, memory_order_acquire) == LT_ACK_DONE) return;
            if (!atomic_load(&lt_lost)) lt_diag("the collector went away before it stored the trace", NULL);
            return;
        }
        if (lt_monotonic_ns() >= deadline) {
            lt_diag("the collector did not confirm the trace within LEAKTRACK_EXIT_TIMEOUT", NULL);
            return;
        }
        struct timespec timeout = {0, 20 * 1000000};
        lt_futex(lt_ring.collector_state, FUTEX_WAIT, (uint32_t)state, &timeout);
    }
}

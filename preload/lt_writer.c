/*
 * The link to the collector: the connection, HELLO, the helper thread, and the end of the stream.
 *
 * The records themselves never touch the socket: they go into the shared ring, which the collector maps.
 * The socket carries HELLO (with the ring's memfd attached) and one-byte wake-ups; everything the shim waits
 * for (the collector has mapped the ring; the collector has stored the trace) is a word the collector writes
 * into the ring's header. So a program that closes the shim's socket (close_range, a daemon closing every
 * descriptor) or puts a file of its own on its number loses nothing: the shim stops touching that number,
 * and the collector, which sees the socket close while the process still maps the ring, keeps reading.
 *
 * HELLO is sent before the program runs on (and, for a fork child, by the parent before fork), so the memfd
 * is in the collector's queue from the start: whatever happens to the process afterwards (exec, a crash,
 * SIGKILL), the collector reads every published record.
 *
 * The helper thread, with every signal blocked and its own allocations passing straight through the hooks,
 * adds a TICK record (clock and memory) every 100 ms and watches for the collector going away; then it
 * switches tracking off with one message and empties the ring for a while, so no producer stays blocked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lt_internal.h"

#define LT_TICK_NS (100ull * 1000000ull) /* a memory sample every 100 ms */
#define LT_WATCH_MS 20                   /* how often the helper thread looks at the collector */
#define LT_HELLO_ACK_TIMEOUT_MS 15000

static struct lt_owned_fd lt_link = {.fd = -1}; /* the connection to the collector */
static char lt_link_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static _Atomic int lt_link_up;         /* HELLO went out: the collector will read this stream */
static _Atomic int lt_lost;            /* the collector is known to have stopped reading */

/* Made by the parent in fork's prepare handler for the child about to be born, in the forking thread (the
 * child inherits that thread's TLS). */
struct lt_fork_link {
    int ring_fd;
    int socket_fd;
};
static LT_TLS struct lt_fork_link lt_fork_link = {.ring_fd = -1, .socket_fd = -1};

/* ---------------------------------------------------------------------------------------------------- */
/* socket helpers */

static int lt_connect(const char *path) {
    int fd = lt_fd_move_high(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd < 0) return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strnlen(path, sizeof addr.sun_path - 1);
    memcpy(addr.sun_path, path, len);
    while (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (errno == EINTR) continue;
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends `bytes` from `data` on fd with `attach_fd` as SCM_RIGHTS on the first part. */
static int lt_send_all(int fd, const void *data, size_t bytes, int attach_fd) {
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

/* What the collector's end of the socket says now: 1 if it has closed (or the socket failed), else 0.
 * Waits up to timeout_ms for something to happen; wake-up bytes are read and dropped (what they announce is
 * in the ring's header). Never touches a descriptor that is no longer ours. */
static int lt_socket_closed(int timeout_ms) {
    if (!lt_fd_ours(&lt_link)) return -1;
    struct pollfd p = {.fd = lt_link.fd, .events = POLLIN};
    int ready = poll(&p, 1, timeout_ms);
    if (ready <= 0) return 0;
    if (p.revents & (POLLERR | POLLNVAL)) return 1;
    char bytes[64];
    ssize_t got = recv(lt_link.fd, bytes, sizeof bytes, MSG_DONTWAIT);
    if (got == 0) return 1;
    if (got < 0) return errno != EAGAIN && errno != EINTR;
    return 0;
}

/* Whether the collector is gone, judged without the socket: its pid (written into the ring's header) no
 * longer exists. */
static int lt_collector_process_gone(void) {
    uint64_t pid = atomic_load_explicit(lt_ring.collector_pid, memory_order_acquire);
    return pid != 0 && pid < (1u << 31) && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Waits until the collector's state word says `state`. 0: it does; -1: the collector went away first;
 * -2: timeout. Uses the socket while it is ours, sleeps and looks at the collector's pid once it is not. */
static int lt_wait_collector(uint64_t state, uint32_t timeout_ms) {
    uint64_t deadline = lt_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
    for (uint32_t round = 0;; round++) {
        if (atomic_load_explicit(lt_ring.collector_state, memory_order_acquire) == state) return 0;
        if (atomic_load(&lt_lost)) return -1;
        if (lt_monotonic_ns() >= deadline) return -2;
        int closed = lt_socket_closed(2);
        if (closed > 0) return atomic_load_explicit(lt_ring.collector_state, memory_order_acquire) == state ? 0 : -1;
        if (closed < 0) {
            lt_sleep_ns(1000000);
            if (round % 64 == 0 && lt_collector_process_gone()) return -1;
        }
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* HELLO */

static int lt_send_hello(int forked, int ring_fd) {
    char exe[LT_MAX_PATH];
    uint32_t exe_len = lt_executable_path(exe, sizeof exe);
    static char cmdline[LT_MAX_CMDLINE];
    uint32_t cmdline_len = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
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
    return lt_send_all(lt_link.fd, words, (size_t)total * 8, ring_fd);
}

/* ---------------------------------------------------------------------------------------------------- */
/* the helper thread */

static uint64_t lt_read_statm_field(const char *text, int field) {
    uint64_t value = 0;
    for (int f = 0; f < field && *text; text++)
        if (*text == ' ') f++;
    for (; *text >= '0' && *text <= '9'; text++) value = value * 10 + (uint64_t)(*text - '0');
    return value;
}

/* Adds a TICK record to the ring, unless it is full (a sample can be skipped; the program must not wait). */
static void lt_emit_tick(void) {
    uint64_t vm = 0, rss = 0;
    char text[128] = {0};
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got = read(fd, text, sizeof text - 1);
        close(fd);
        if (got > 0) {
            uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
            vm = lt_read_statm_field(text, 0) * page;
            rss = lt_read_statm_field(text, 1) * page;
        }
    }
    uint64_t pos = lt_ring_try_claim(4);
    if (pos == UINT64_MAX) return;
    lt_ring_put(pos, 1, lt_monotonic_ns());
    lt_ring_put(pos, 2, rss);
    lt_ring_put(pos, 3, vm);
    lt_ring_publish(pos, LT_REC_TICK, 4);
}

/* Throws away everything claimed so far, so that no producer stays blocked on a ring nobody reads. */
static void lt_discard_ring(void) {
    atomic_store_explicit(lt_ring.read, atomic_load_explicit(lt_ring.write, memory_order_acquire), memory_order_release);
}

void lt_link_collector_lost(void) { atomic_store(&lt_lost, 1); }

static void *lt_helper_main(void *arg) {
    (void)arg; /* pthread's signature; the link is in the statics */
    lt_self.internal = 1;
    if (lt_wait_collector(LT_ACK_HELLO, LT_HELLO_ACK_TIMEOUT_MS) != 0 &&
        atomic_load_explicit(lt_ring.collector_state, memory_order_acquire) != LT_ACK_DONE) {
        lt_link_collector_lost();
        lt_disable("the collector did not answer; the program runs untracked");
    }
    uint64_t last_tick = 0;
    for (uint32_t round = 0; !atomic_load(&lt_lost); round++) {
        /* Stopped (FINAL is out): the exiting thread waits for the collector itself. */
        if (atomic_load(&lt_state) != LT_ENABLED) return NULL;
        int closed = lt_socket_closed(LT_WATCH_MS);
        if (closed < 0) {
            /* The program took our socket away: go on over the shared ring alone. */
            lt_sleep_ns(LT_WATCH_MS * 1000000ull);
            if (round % 25 == 0 && lt_collector_process_gone()) closed = 1;
        }
        if (closed > 0 && atomic_load(&lt_state) == LT_ENABLED) {
            lt_link_collector_lost();
            lt_disable("lost the connection to the collector; the program continues untracked");
            break;
        }
        uint64_t now = lt_monotonic_ns();
        if (now - last_tick >= LT_TICK_NS && atomic_load(&lt_state) == LT_ENABLED) {
            last_tick = now;
            lt_emit_tick();
        }
    }
    /* Tracking is off and nobody reads the ring: release whatever producers were mid-claim, a few times
     * over a second, and end. */
    for (int round = 0; round < 50; round++) {
        lt_discard_ring();
        lt_sleep_ns(20000000);
    }
    lt_fd_release(&lt_link);
    return NULL;
}

static int lt_start_helper(void) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, lt_helper_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------------------------------------- */
/* start, fork, end */

/* Adopts `socket_fd` as the link, sends HELLO with `ring_fd` (closed here either way), starts the helper. */
static int lt_link_announce(int socket_fd, int ring_fd, int forked) {
    int ok = lt_fd_adopt(socket_fd, &lt_link) == 0 && lt_send_hello(forked, ring_fd) == 0;
    close(ring_fd);
    if (!ok) {
        lt_fd_release(&lt_link);
        return -1;
    }
    atomic_store(&lt_link_up, 1);
    if (lt_start_helper() != 0) {
        /* Without the helper nothing samples memory or watches the collector; the records still flow. */
        lt_diag("cannot start the helper thread; the trace has no memory samples", NULL);
    }
    return 0;
}

static void lt_link_failed(void) {
    lt_link_collector_lost();
    lt_discard_ring();
}

int lt_link_start(int ring_fd) {
    int socket_fd;
    if (lt_config.socket_path != NULL) {
        memcpy(lt_link_path, lt_config.socket_path, strnlen(lt_config.socket_path, sizeof lt_link_path - 1));
        socket_fd = lt_connect(lt_link_path);
        if (socket_fd < 0) {
            lt_diag("cannot connect to the collector at LEAKTRACK_SOCKET=", lt_link_path, "; the program runs untracked", NULL);
        }
    } else {
        socket_fd = lt_spawn_collector(lt_link_path, sizeof lt_link_path);
    }
    if (socket_fd < 0) {
        close(ring_fd);
        lt_link_failed();
        return -1;
    }
    if (lt_link_announce(socket_fd, ring_fd, 0) != 0) {
        lt_diag("cannot send the stream's start to the collector; the program runs untracked", NULL);
        lt_link_failed();
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
    /* The parent's connection belongs to the parent's stream: forget it (closing our copy only if it is
     * still ours; the program may have put a file of its own on that number). */
    lt_fd_release(&lt_link);
    atomic_store(&lt_link_up, 0);
    atomic_store(&lt_lost, 0);
    if (prepared.ring_fd < 0 || prepared.socket_fd < 0 || lt_ring_map(prepared.ring_fd, lt_ring.log2) != 0) {
        if (prepared.ring_fd >= 0) close(prepared.ring_fd);
        if (prepared.socket_fd >= 0) close(prepared.socket_fd);
        return -1;
    }
    return lt_link_announce(prepared.socket_fd, prepared.ring_fd, 1);
}

void lt_link_finish(void) {
    if (!atomic_load(&lt_link_up)) return;
    if (lt_fd_ours(&lt_link)) {
        char wake = LT_WAKE;
        ssize_t ignored = send(lt_link.fd, &wake, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)ignored;
    }
    int result = lt_wait_collector(LT_ACK_DONE, lt_config.exit_timeout_ms);
    if (result == -2) lt_diag("the collector did not confirm the trace within LEAKTRACK_EXIT_TIMEOUT", NULL);
    if (result == -1 && !atomic_load(&lt_lost)) lt_diag("the collector went away before it stored the trace", NULL);
}

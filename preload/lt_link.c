/*
 * The link to the collector: HELLO, for this process and for each fork child.
 *
 * The records never touch a socket: they go into the shared ring, which the collector maps. The socket
 * carries one message, HELLO, with the ring's memfd and the sender's credentials attached, and the shim
 * closes it right after, together with the memfd. From then on the shim holds no descriptor at all: a
 * program that closes every descriptor (close_range, a daemon), reuses their numbers or runs out of them
 * cannot disturb the link, and the link cannot disturb the program's files. Everything the shim waits for
 * afterwards is a word the collector writes into the ring's header (lt_collector.c).
 *
 * HELLO is sent before the program runs on (and, for a fork child, before fork returns, over a connection
 * the parent made), so the memfd is in the collector's queue from the start: whatever happens to the
 * process afterwards (exec, a crash, SIGKILL), the collector reads every published record.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_base.h"
#include "lt_collector.h"
#include "lt_config.h"
#include "lt_diag.h"
#include "lt_fds.h"
#include "lt_link.h"
#include "lt_modules.h"
#include "lt_records.h"
#include "lt_shm.h"
#include "lt_socket.h"
#include "lt_spawn.h"

static char lt_link_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* Made by the parent in fork's prepare handler for the child about to be born, in the forking thread (the
 * child inherits that thread's TLS). */
struct lt_fork_link {
    int ring_fd;
    int socket_fd;
};
static LT_TLS struct lt_fork_link lt_fork_link = {.ring_fd = -1, .socket_fd = -1};

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

    static uint64_t words[LT_HELLO_MAX_WORDS];
    uint32_t total = lt_record_hello(words, forked, lt_config.depth, lt_ring.log2, lt_config.sample_bytes, exe, exe_len,
                                     cmdline, cmdline_len);
    return lt_socket_send(socket_fd, words, (size_t)total * 8, ring_fd);
}

/* Sends HELLO with the ring's memfd on `socket_fd`, and closes both: the shim keeps no descriptor. */
static int lt_link_announce(int socket_fd, int ring_fd, int forked) {
    int sent = lt_send_hello(socket_fd, ring_fd, forked);
    close(ring_fd);
    close(socket_fd);
    if (sent != 0) return -1;
    lt_collector_attached(lt_link_path);
    return 0;
}

int lt_link_start(int ring_fd) {
    int socket_fd;
    if (lt_config.socket_path != NULL) {
        memcpy(lt_link_path, lt_config.socket_path, strnlen(lt_config.socket_path, sizeof lt_link_path - 1));
        socket_fd = lt_connect(lt_link_path);
        if (socket_fd < 0)
            lt_diag("cannot connect to the collector at LEAKTRACK_SOCKET=", lt_link_path,
                    "; the program runs untracked", NULL);
    } else {
        socket_fd = lt_spawn_collector(lt_link_path, sizeof lt_link_path);
    }
    if (socket_fd < 0) {
        close(ring_fd);
        lt_collector_lost();
        return -1;
    }
    if (lt_link_announce(socket_fd, ring_fd, 0) != 0) {
        lt_diag("cannot send the stream's start to the collector; the program runs untracked", NULL);
        lt_collector_lost();
        return -1;
    }
    return 0;
}

void lt_link_prepare_fork(void) {
    lt_fork_link.ring_fd = -1;
    lt_fork_link.socket_fd = -1;
    if (!lt_collector_reads()) return;
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
    lt_collector_detached();
    if (prepared.ring_fd < 0 || prepared.socket_fd < 0 || lt_ring_map(prepared.ring_fd, lt_ring.log2) != 0) {
        if (prepared.ring_fd >= 0) close(prepared.ring_fd);
        if (prepared.socket_fd >= 0) close(prepared.socket_fd);
        return -1;
    }
    return lt_link_announce(prepared.socket_fd, prepared.ring_fd, 1);
}

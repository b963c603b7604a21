/*
 * Connections of a moment to the collector's Unix socket: the one that carries HELLO (made while the shim
 * starts, or by fork's prepare handler for the child), and the probes that ask whether anything still listens
 * there. Every descriptor goes to a high number at once (lt_fds.c) and is closed before the shim returns to
 * the program.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lt_diag.h"
#include "lt_fds.h"
#include "lt_socket.h"

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

int lt_socket_listening(const char *path) { return lt_connect_within(path, 0, 1); }

/* SO_PASSCRED makes the kernel attach our credentials, which the collector trusts over the pid written in
 * HELLO. */
int lt_socket_send(int fd, const void *data, size_t bytes, int attach_fd) {
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

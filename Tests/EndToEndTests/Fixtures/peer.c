/* Run under `leaktrack record`: looks at the collector's socket from inside the traced program.
 *   peer modes    prints the permissions of the socket's directory and of the socket
 *   peer garbage  opens a second connection, sends bytes that are no leaktrack stream, then leaks 123 bytes
 *                 from after_garbage() on its own, real connection
 *   peer unsealed opens a second connection with a well-formed HELLO whose ring is a memfd without seals,
 *                 truncates that ring to 0 bytes (which would kill a collector that mapped it with SIGBUS), then
 *                 leaks 123 bytes from after_garbage() on its own connection
 *   peer liar     the same with a properly sealed ring, but a HELLO that names the collector's pid (our parent
 *                 under `leaktrack record`) as the traced process, then hangs up
 *   peer old      a sealed ring with a HELLO of wire format 1, which the collector refuses: prints "answered"
 *                 if it says DONE in the ring's header within 5 s (so a shim would not wait), else "silent" */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "leaktrack_wire.h"

static void *volatile keep;
__attribute__((noinline)) static void after_garbage(void) { keep = malloc(123); }

int main(int argc, char **argv) {
    const char *path = getenv("LEAKTRACK_SOCKET");
    if (path == NULL || argc < 2) return 2;
    if (strcmp(argv[1], "modes") == 0) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", path);
        struct stat dir, sock;
        if (stat(dirname(copy), &dir) != 0 || stat(path, &sock) != 0) return 3;
        printf("%o %o\n", dir.st_mode & 0777, sock.st_mode & 0777);
        return 0;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) return 4;
    int liar = strcmp(argv[1], "liar") == 0, old = strcmp(argv[1], "old") == 0;
    if (strcmp(argv[1], "unsealed") == 0 || liar || old) {
        int ring = memfd_create("hostile-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (ring < 0 || ftruncate(ring, LT_RING_HEADER_BYTES + (8u << LT_RING_MIN_LOG2)) != 0) return 6;
        if ((liar || old) && fcntl(ring, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) return 9;
        /* A HELLO of format 1 has the shorter fixed part of formats before 4. */
        uint32_t hello_bytes = old ? LT_HELLO_V3_BYTES : (uint32_t)sizeof(struct lt_hello);
        struct lt_hello hello = {.header = lt_header_make(LT_REC_HELLO, hello_bytes / 8, 0),
                                 .version = old ? 1 : LT_WIRE_VERSION,
                                 .pointer_size = 8,
                                 .little_endian = 1,
                                 .pid = liar ? (uint32_t)getppid() : (uint32_t)getpid(),
                                 .ring_log2 = LT_RING_MIN_LOG2};
        memcpy(hello.magic, LT_WIRE_MAGIC, LT_WIRE_MAGIC_SIZE);
        union {
            char buffer[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control = {0};
        struct iovec iov = {.iov_base = &hello, .iov_len = hello_bytes};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &ring, sizeof ring);
        if (sendmsg(fd, &msg, 0) != (ssize_t)hello_bytes) return 7;
        if (old) {
            volatile uint64_t *header = mmap(NULL, LT_RING_HEADER_BYTES, PROT_READ, MAP_SHARED, ring, 0);
            if (header == MAP_FAILED) return 10;
            int answered = 0;
            for (int i = 0; i < 500 && !answered; i++, usleep(10000))
                answered = header[LT_RING_OFFSET_COLLECTOR_STATE / 8] == LT_ACK_DONE;
            printf("%s\n", answered ? "answered" : "silent");
            close(ring);
            close(fd);
            after_garbage();
            return 0;
        }
        usleep(100000);
        if (!liar && ftruncate(ring, 0) != 0) return 8;
        usleep(200000);
        close(ring);
        close(fd);
        after_garbage();
        return 0;
    }
    static const char garbage[] = "GET / HTTP/1.1\r\nHost: not-a-leaktrack-stream\r\n\r\n0123456789abcdef0123456789";
    if (write(fd, garbage, sizeof garbage) < 0) return 5;
    close(fd);
    after_garbage();
    return 0;
}

/* Connects to the Unix socket at argv[1] and says how that went: "connected", or the errno's name. For
 * checking that another user cannot reach a control socket. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0) {
        puts("connected");
        return 0;
    }
    puts(errno == EACCES ? "EACCES" : strerror(errno));
    return 1;
}

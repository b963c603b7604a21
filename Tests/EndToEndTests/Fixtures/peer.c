/* Run under `leaktrack record`: looks at the collector's socket from inside the traced program.
 *   peer modes    prints the permissions of the socket's directory and of the socket
 *   peer garbage  opens a second connection, sends bytes that are no leaktrack stream, then leaks 123 bytes
 *                 from after_garbage() on its own, real connection */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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
    static const char garbage[] = "GET / HTTP/1.1\r\nHost: not-a-leaktrack-stream\r\n\r\n0123456789abcdef0123456789";
    if (write(fd, garbage, sizeof garbage) < 0) return 5;
    close(fd);
    after_garbage();
    return 0;
}

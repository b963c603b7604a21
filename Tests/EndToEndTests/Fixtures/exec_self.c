/* Leaks once, then execs itself (same pid, same program name) and leaks again: two images, two traces, and
 * neither may replace the other. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile kept;

__attribute__((noinline)) static void first_image(void) { kept = malloc(111); }
__attribute__((noinline)) static void second_image(void) { kept = malloc(222); }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "again") == 0) {
        second_image();
        return 0;
    }
    first_image();
    execl(argv[0], argv[0], "again", (char *)NULL);
    return 1;
}

/* Grows its heap, and its resident memory, in steps: STEPS blocks of MIB MiB (arguments 1 and 2), each touched
 * page by page, one every 400 ms, then exits holding them. For the threshold snapshot rules. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 6;
    size_t size = (size_t)(argc > 2 ? atoi(argv[2]) : 4) << 20;
    for (int i = 0; i < steps; i++) {
        char *block = malloc(size);
        if (block) memset(block, 1, size);
        usleep(400000);
    }
    return 0;
}

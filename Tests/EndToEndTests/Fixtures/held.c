// Holds ten 4 KiB blocks until the file named by argv[1] appears, then frees them: a server whose state a
// live snapshot must see while it runs.
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) void *hold_block(size_t size) { return malloc(size); }

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    void *blocks[10];
    for (int i = 0; i < 10; i++) blocks[i] = hold_block(4096);
    for (int waited = 0; access(argv[1], F_OK) != 0 && waited < 6000; waited++) usleep(10000);
    for (int i = 0; i < 10; i++) free(blocks[i]);
    return 0;
}

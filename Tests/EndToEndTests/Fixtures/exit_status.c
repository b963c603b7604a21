#include <stdlib.h>

int main(void) {
    static void *volatile keep;
    keep = malloc(77);
    exit(3);
}

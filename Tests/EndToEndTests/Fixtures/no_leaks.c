/* Allocates and frees through several functions and prints with stdio: must report zero leaks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char *words[100];
    for (int i = 0; i < 100; i++) {
        words[i] = malloc(32);
        snprintf(words[i], 32, "word %d", i);
    }
    char *joined = calloc(1, 4096);
    for (int i = 0; i < 100; i++) {
        joined = realloc(joined, strlen(joined) + 40);
        strcat(joined, words[i]);
        free(words[i]);
    }
    char *copy = strdup(joined);
    printf("%zu\n", strlen(copy));
    free(copy);
    free(joined);
    return 0;
}

#define _GNU_SOURCE
/* Loads one library, leaks through it, unloads it, then does the same with another: the second usually
 * lands at the first one's address. Prints both load addresses. */
#include <dlfcn.h>
#include <stdio.h>

static int use(const char *path, const char *symbol) {
    void *handle = dlopen(path, RTLD_NOW);
    if (handle == NULL) return 1;
    void (*leak)(void) = (void (*)(void))dlsym(handle, symbol);
    if (leak == NULL) return 1;
    leak();
    Dl_info info;
    dladdr((void *)leak, &info);
    printf("%s %p\n", symbol, info.dli_fbase);
    dlclose(handle);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    return use(argv[1], "leak_a") + use(argv[2], "leak_b");
}

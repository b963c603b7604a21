/* Leaks in the main executable, in a linked shared library and in a dlopen'ed plugin that is dlclose'd
 * before exit. */
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

void linked_leak(void);

__attribute__((noinline)) void main_leak(void) {
    static void *volatile keep;
    keep = malloc(555);
}

int main(int argc, char **argv) {
    (void)argc;
    main_leak();
    linked_leak();
    linked_leak();
    void *plugin = dlopen(argv[1], RTLD_NOW);
    if (plugin == NULL) return 10;
    void (*leak)(void) = (void (*)(void))dlsym(plugin, "plugin_leak");
    if (leak == NULL) return 11;
    leak();
    dlclose(plugin);
    return 0;
}

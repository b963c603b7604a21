/* Module map snapshots from dl_iterate_phdr (lt_modules.c). */
#ifndef LT_MODULES_H
#define LT_MODULES_H

#include <stdint.h>

/* Emits a module snapshot if the loader's object list changed since the last one. Called before a new
 * stack is emitted, so the collector always knows the modules a stack's frames point into. */
void lt_modules_refresh(void);
void lt_modules_reset_after_fork(void);
void lt_modules_lock_for_fork(void);
void lt_modules_unlock_after_fork(void);
/* Finds the [lo, hi) address range of the object that contains `address`; 0 on success. */
int lt_modules_object_range(const void *address, uintptr_t *lo, uintptr_t *hi);
/* Writes the main executable's path into buf (NUL-terminated); returns its length. */
uint32_t lt_executable_path(char *buf, uint32_t size);

#endif /* LT_MODULES_H */
